//! API keys: creating, revoking and listing them, and who a request's key says it is.

use crate::ErrorCode;
use crate::error::{invalid, optional_text};
use crate::{App, AppError};
use leadgate_core::access::{api_key_from_bytes, api_key_hash};
use leadgate_core::model::ApiKey;
use leadgate_core::{Permission, Role};
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A key just created: the secret is shown once and never stored.
#[derive(Debug, Clone)]
pub struct NewApiKey {
    pub key: ApiKey,
    pub secret: String,
}

/// Recently verified keys, so that a busy integration does not cost a database read per
/// request. Entries expire quickly so that a revoked key stops working soon.
#[derive(Default)]
pub(crate) struct KeyCache(RwLock<HashMap<Vec<u8>, (ApiKey, Instant)>>);

const KEY_CACHE_TTL: Duration = Duration::from_secs(30);
const KEY_CACHE_MAX: usize = 10_000;

impl App {
    pub async fn create_api_key(&self, name: &str, role: Role) -> Result<NewApiKey, AppError> {
        let name = optional_text(&Some(name.to_owned()), "name", 100)?
            .ok_or_else(|| invalid(ErrorCode::MissingField, "name", "a key needs a name"))?;
        let secret = api_key_from_bytes(&crate::random_bytes::<32>());
        let key = ApiKey {
            id: Uuid::now_v7(),
            name,
            role,
            key_hash: api_key_hash(&secret),
            created_at: self.now(),
            revoked_at: None,
            user: None,
        };
        let mut tx = self.store.begin().await?;
        tx.insert_api_key(&key).await?;
        tx.commit().await?;
        Ok(NewApiKey { key, secret })
    }

    /// Revokes a key. This process forgets it at once; other processes (running
    /// servers, when revoked from the CLI) within the key cache's lifetime (30 s).
    pub async fn revoke_api_key(&self, id: Uuid) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        if !tx.revoke_api_key(id, self.now()).await? {
            return Err(AppError::new(ErrorCode::UnknownApiKey, format!("no active API key {id}")));
        }
        tx.commit().await?;
        self.keys.0.write().expect("key cache lock").retain(|_, (k, _)| k.id != id);
        Ok(())
    }

    pub async fn api_keys(&self) -> Result<Vec<ApiKey>, AppError> {
        Ok(self.store.api_keys().await?)
    }

    /// The key a request presented, if it is valid and not revoked.
    pub async fn authenticate(&self, secret: Option<&str>) -> Result<ApiKey, AppError> {
        let unauthenticated = |m: &str| AppError::new(ErrorCode::Unauthenticated, m);
        let secret = secret
            .map(str::trim)
            .filter(|s| !s.is_empty())
            .ok_or_else(|| unauthenticated("an API key is required: send it as 'Authorization: Bearer <key>'"))?;
        let hash = api_key_hash(secret);
        if let Some((key, at)) = self.keys.0.read().expect("key cache lock").get(&hash)
            && at.elapsed() < KEY_CACHE_TTL
        {
            return Ok(key.clone());
        }
        let key = self
            .store
            .api_key_by_hash(&hash)
            .await?
            .filter(|k| k.revoked_at.is_none())
            .ok_or_else(|| unauthenticated("the API key is not valid"))?;
        let mut cache = self.keys.0.write().expect("key cache lock");
        if cache.len() >= KEY_CACHE_MAX {
            cache.clear();
        }
        cache.insert(hash, (key.clone(), Instant::now()));
        Ok(key)
    }

    /// Refuses unless `key`'s role allows `p`.
    pub fn authorize(&self, key: &ApiKey, p: Permission) -> Result<(), AppError> {
        if key.role.can(p) {
            Ok(())
        } else {
            Err(AppError::new(ErrorCode::Forbidden, format!("the {} role may not {}", key.role, p.action())))
        }
    }
}
