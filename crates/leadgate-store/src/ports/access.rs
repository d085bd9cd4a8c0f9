//! Who may do what: forms (the public capture endpoints) and API keys.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::model::ApiKey;
use leadgate_core::model::Form;
use uuid::Uuid;

#[async_trait]
pub trait AccessReads: Send + Sync {
    async fn form_by_key(&self, key: &str) -> Result<Option<Form>>;

    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKey>>;

    async fn api_keys(&self) -> Result<Vec<ApiKey>>;
}

#[async_trait]
pub trait AccessWrites: Send {
    async fn insert_form(&mut self, form: &Form) -> Result<()>;

    async fn insert_api_key(&mut self, key: &ApiKey) -> Result<()>;

    /// Marks a key revoked; `false` if there is no such key or it was already revoked.
    async fn revoke_api_key(&mut self, id: Uuid, at: Timestamp) -> Result<bool>;
}
