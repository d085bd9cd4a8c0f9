//! [`crate::ports::AccessReads`] and [`crate::ports::AccessWrites`].

use super::*;

#[async_trait]
impl AccessReads for SqlStore {
    async fn form_by_key(&self, key: &str) -> Result<Option<Form>> {
        let row: Option<FormRow> = sqlx::query_as(
            "SELECT id, key, name, channel, offer, campaign, allowed_origins, thank_you_url, created_at \
             FROM forms WHERE key = $1",
        )
        .bind(key)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(Form::from))
    }

    async fn api_key_by_hash(&self, hash: &[u8]) -> Result<Option<ApiKey>> {
        let row: Option<ApiKeyRow> = sqlx::query_as(&format!("SELECT {API_KEY_COLUMNS} WHERE k.key_hash = $1"))
            .bind(hash)
            .fetch_optional(&self.read)
            .await?;
        row.map(ApiKey::try_from).transpose()
    }

    async fn api_keys(&self) -> Result<Vec<ApiKey>> {
        let rows: Vec<ApiKeyRow> =
            sqlx::query_as(&format!("SELECT {API_KEY_COLUMNS} ORDER BY k.created_at")).fetch_all(&self.read).await?;
        rows.into_iter().map(ApiKey::try_from).collect()
    }
}

#[async_trait]
impl AccessWrites for SqlTx {
    async fn insert_form(&mut self, f: &Form) -> Result<()> {
        sqlx::query(
            "INSERT INTO forms (id, key, name, channel, offer, campaign, allowed_origins, thank_you_url, \
             created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)",
        )
        .bind(f.id)
        .bind(f.key.as_str())
        .bind(f.name.as_str())
        .bind(f.channel.as_deref())
        .bind(f.offer.as_deref())
        .bind(f.campaign.as_deref())
        .bind(Json(&f.allowed_origins))
        .bind(f.thank_you_url.as_deref())
        .bind(f.created_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn insert_api_key(&mut self, k: &ApiKey) -> Result<()> {
        sqlx::query(
            "INSERT INTO api_keys (id, name, role, key_hash, created_at, revoked_at, user_id) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(k.id)
        .bind(k.name.as_str())
        .bind(k.role.as_str())
        .bind(k.key_hash.as_slice())
        .bind(k.created_at.0)
        .bind(k.revoked_at.map(|t| t.0))
        .bind(k.user.as_ref().map(|u| u.id))
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn revoke_api_key(&mut self, id: Uuid, at: Timestamp) -> Result<bool> {
        let done = sqlx::query("UPDATE api_keys SET revoked_at = $2 WHERE id = $1 AND revoked_at IS NULL")
            .bind(id)
            .bind(at.0)
            .execute(&mut *self.tx)
            .await?;
        Ok(done.rows_affected() == 1)
    }
}
