//! Forms and API keys: what an administrator sets up.

use crate::ErrorCode;
use crate::error::invalid;
use crate::{App, AppError};
use leadgate_core::access::{api_key_from_bytes, api_key_hash};
use leadgate_core::ident::truncate;
use leadgate_core::model::{ApiKey, Form};
use leadgate_core::{Ident, Permission, Role};
use rand::RngCore;
use serde::Deserialize;
use std::collections::HashMap;
use std::sync::RwLock;
use std::time::{Duration, Instant};
use uuid::Uuid;

/// A web form to create; unknown fields are refused with `invalid_field`.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct FormInput {
    /// Trimmed; 1–200 characters (blank: `missing_field`).
    pub name: String,
    /// An identifier (e.g. `paid_search`): the default channel of responses from this form.
    pub channel: Option<String>,
    /// At most 200 characters: the default offer (the *why*).
    pub offer: Option<String>,
    /// At most 200 characters: the default campaign.
    pub campaign: Option<String>,
    /// Browser origins allowed to post: `http://` or `https://`, host, optional port, no
    /// path; a trailing `/` is dropped and the value lower-cased. Empty: any origin.
    #[serde(default)]
    pub allowed_origins: Vec<String>,
    /// Where a browser that posted the form as a plain HTML form is sent afterwards
    /// (`303 See Other`): an absolute `http(s)://` URL of at most 2,048 characters
    /// (else `invalid_url`). Without it the browser gets a small thank-you page.
    pub thank_you_url: Option<String>,
}

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

fn optional_text(v: &Option<String>, field: &str, max: usize) -> Result<Option<String>, AppError> {
    let v = v.as_deref().map(str::trim).filter(|s| !s.is_empty());
    if v.is_some_and(|s| s.chars().count() > max) {
        return Err(invalid(ErrorCode::TooLong, field, format!("{field} is longer than {max} characters")));
    }
    if v.is_some_and(leadgate_core::inquiry::has_control_chars) {
        return Err(invalid(ErrorCode::InvalidValue, field, format!("{field} contains control characters")));
    }
    Ok(v.map(str::to_owned))
}

/// `scheme://host[:port]`, lower-cased, as browsers send in `Origin`.
fn parse_origin(s: &str) -> Option<String> {
    let s = s.trim().trim_end_matches('/').to_ascii_lowercase();
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"))?;
    let ok = !rest.is_empty() && rest.chars().all(|c| c.is_ascii_alphanumeric() || ".-:[]".contains(c));
    ok.then_some(s)
}

/// An absolute `http(s)://host/…` URL of at most 2,048 characters, without spaces or
/// control characters: a browser is sent there.
fn parse_thank_you_url(s: &str) -> Option<String> {
    let s = s.trim();
    let rest = s.strip_prefix("https://").or_else(|| s.strip_prefix("http://"))?;
    let host = rest.split(['/', '?', '#']).next().unwrap_or_default();
    let ok = !host.is_empty()
        && s.len() <= 2_048
        && !s.chars().any(|c| c.is_control() || c.is_whitespace() || c == '"' || c == '<' || c == '>' || c == '\\');
    ok.then(|| s.to_owned())
}

fn random_hex<const N: usize>() -> [u8; N] {
    let mut bytes = [0u8; N];
    rand::rng().fill_bytes(&mut bytes);
    bytes
}

impl App {
    pub async fn create_form(&self, input: FormInput) -> Result<Form, AppError> {
        let name = optional_text(&Some(input.name), "name", 200)?
            .ok_or_else(|| invalid(ErrorCode::MissingField, "name", "name is required"))?;
        let channel = match input.channel.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
            Some(c) => Some(Ident::field(c, "channel", "channel").map_err(AppError::from)?.to_string()),
            None => None,
        };
        let mut origins = Vec::new();
        for (i, o) in input.allowed_origins.iter().enumerate() {
            origins.push(parse_origin(o).ok_or_else(|| {
                invalid(
                    ErrorCode::InvalidOrigin,
                    &format!("allowed_origins[{i}]"),
                    format!("{:?} is not an origin such as https://www.example.com", truncate(o, 80)),
                )
            })?);
        }
        let form = Form {
            id: Uuid::now_v7(),
            key: format!("f_{}", hex::encode(random_hex::<12>())),
            name,
            channel,
            offer: optional_text(&input.offer, "offer", 200)?,
            campaign: optional_text(&input.campaign, "campaign", 200)?,
            allowed_origins: origins,
            thank_you_url: match input.thank_you_url.as_deref().map(str::trim).filter(|s| !s.is_empty()) {
                Some(url) => Some(parse_thank_you_url(url).ok_or_else(|| {
                    invalid(
                        ErrorCode::InvalidUrl,
                        "thank_you_url",
                        format!(
                            "{:?} is not an http:// or https:// URL such as https://www.example.com/thanks",
                            truncate(url, 80)
                        ),
                    )
                })?),
                None => None,
            },
            created_at: self.now(),
        };
        let mut tx = self.store.begin().await?;
        tx.insert_form(&form).await?;
        tx.commit().await?;
        Ok(form)
    }

    pub async fn create_api_key(&self, name: &str, role: Role) -> Result<NewApiKey, AppError> {
        let name = optional_text(&Some(name.to_owned()), "name", 100)?
            .ok_or_else(|| invalid(ErrorCode::MissingField, "name", "a key needs a name"))?;
        let secret = api_key_from_bytes(&random_hex::<32>());
        let key = ApiKey {
            id: Uuid::now_v7(),
            name,
            role,
            key_hash: api_key_hash(&secret),
            created_at: self.now(),
            revoked_at: None,
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
