//! [`crate::ports::ModelReads`] and [`crate::ports::ModelWrites`].

use super::*;

#[async_trait]
impl ModelReads for SqlStore {
    async fn scoring_model(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<leadgate_core::scoring::ModelVersion>> {
        let row: Option<ModelRow> = sqlx::query_as(
            "SELECT name, version, spec, source, author, created_at FROM scoring_models \
             WHERE name = $1 AND ($2 IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(Into::into))
    }

    async fn scoring_models(&self) -> Result<Vec<leadgate_core::scoring::ModelVersion>> {
        let rows: Vec<ModelRow> = sqlx::query_as(
            "SELECT m.name, m.version, m.spec, m.source, m.author, m.created_at FROM scoring_models m \
             WHERE m.version = (SELECT max(version) FROM scoring_models l WHERE l.name = m.name) ORDER BY m.name",
        )
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn definition(
        &self,
        name: &str,
        version: Option<i64>,
    ) -> Result<Option<leadgate_core::definition::Definition>> {
        let row: Option<DefinitionRow> = sqlx::query_as(
            "SELECT name, version, kind, expression, note, author, created_at FROM definitions \
             WHERE name = $1 AND ($2 IS NULL OR version = $2) ORDER BY version DESC LIMIT 1",
        )
        .bind(name)
        .bind(version)
        .fetch_optional(&self.read)
        .await?;
        row.map(TryInto::try_into).transpose()
    }

    async fn definition_versions(&self, name: &str) -> Result<Vec<leadgate_core::definition::Definition>> {
        let rows: Vec<DefinitionRow> = sqlx::query_as(
            "SELECT name, version, kind, expression, note, author, created_at FROM definitions \
             WHERE name = $1 ORDER BY version",
        )
        .bind(name)
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn definitions(&self) -> Result<Vec<leadgate_core::definition::Definition>> {
        let rows: Vec<DefinitionRow> = sqlx::query_as(
            "SELECT d.name, d.version, d.kind, d.expression, d.note, d.author, d.created_at FROM definitions d \
             WHERE d.version = (SELECT max(version) FROM definitions l WHERE l.name = d.name) ORDER BY d.name",
        )
        .fetch_all(&self.read)
        .await?;
        rows.into_iter().map(TryInto::try_into).collect()
    }

    async fn activations(&self, kind: &str) -> Result<Vec<leadgate_core::model::Activation>> {
        let rows: Vec<ActivationRow> = sqlx::query_as(
            "SELECT kind, name, target, version, at, actor FROM activations WHERE kind = $1 ORDER BY name",
        )
        .bind(kind)
        .fetch_all(&self.read)
        .await?;
        Ok(rows.into_iter().map(Into::into).collect())
    }

    async fn likelihood_model(
        &self,
        version: Option<i64>,
    ) -> Result<Option<(leadgate_core::likelihood::TrainedModel, String)>> {
        let row: Option<LikelihoodModelRow> = sqlx::query_as(
            "SELECT version, options, evaluation, predictor, author, trained_at FROM likelihood_models \
             WHERE ($1 IS NULL OR version = $1) ORDER BY version DESC LIMIT 1",
        )
        .bind(version)
        .fetch_optional(&self.read)
        .await?;
        Ok(row.map(Into::into))
    }

    async fn latest_likelihood_version(&self) -> Result<Option<i64>> {
        let (v,): (Option<i64>,) =
            sqlx::query_as("SELECT max(version) FROM likelihood_models").fetch_one(&self.read).await?;
        Ok(v)
    }
}

#[async_trait]
impl ModelWrites for SqlTx {
    async fn insert_likelihood_model(
        &mut self,
        m: &leadgate_core::likelihood::TrainedModel,
        predictor: &str,
    ) -> Result<i64> {
        let version = self.next_version("SELECT max(version) FROM likelihood_models", None).await?;
        sqlx::query(
            "INSERT INTO likelihood_models (version, options, evaluation, predictor, author, trained_at) \
             VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(version)
        .bind(Json(&m.options))
        .bind(Json(&m.evaluation))
        .bind(predictor)
        .bind(m.author.as_str())
        .bind(m.trained_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(version)
    }

    async fn next_model_version(&mut self, name: &str) -> Result<i64> {
        self.next_version("SELECT max(version) FROM scoring_models WHERE name = $1", Some(name)).await
    }

    async fn insert_scoring_model(&mut self, m: &leadgate_core::scoring::ModelVersion) -> Result<()> {
        sqlx::query(
            "INSERT INTO scoring_models (name, version, spec, source, author, created_at) VALUES ($1, $2, $3, $4, $5, $6)",
        )
        .bind(m.name.as_str())
        .bind(m.version)
        .bind(Json(&m.spec))
        .bind(m.source.as_str())
        .bind(m.author.as_str())
        .bind(m.created_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn next_definition_version(&mut self, name: &str) -> Result<i64> {
        self.next_version("SELECT max(version) FROM definitions WHERE name = $1", Some(name)).await
    }

    async fn insert_definition(&mut self, d: &leadgate_core::definition::Definition) -> Result<()> {
        sqlx::query(
            "INSERT INTO definitions (name, version, kind, expression, note, author, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6, $7)",
        )
        .bind(d.name.as_str())
        .bind(d.version)
        .bind(d.kind.as_str())
        .bind(d.expression.as_str())
        .bind(d.note.as_deref())
        .bind(d.author.as_str())
        .bind(d.created_at.0)
        .execute(&mut *self.tx)
        .await?;
        Ok(())
    }

    async fn activate(&mut self, a: &leadgate_core::model::Activation) -> Result<()> {
        sqlx::query(
            "INSERT INTO activations (kind, name, target, version, at, actor) VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (kind, name) DO UPDATE SET target = excluded.target, version = excluded.version, \
             at = excluded.at, actor = excluded.actor",
        )
        .bind(a.kind.as_str())
        .bind(a.name.as_str())
        .bind(a.target.as_str())
        .bind(a.version)
        .bind(a.at.0)
        .bind(a.actor.as_str())
        .execute(&mut *self.tx)
        .await?;
        sqlx::query("INSERT INTO activation_log (kind, target, version, at, actor) VALUES ($1, $2, $3, $4, $5)")
            .bind(a.kind.as_str())
            .bind(a.target.as_str())
            .bind(a.version)
            .bind(a.at.0)
            .bind(a.actor.as_str())
            .execute(&mut *self.tx)
            .await?;
        Ok(())
    }

    async fn deactivate(&mut self, kind: &str, name: &str, at: Timestamp, actor: &str) -> Result<bool> {
        let done = sqlx::query("DELETE FROM activations WHERE kind = $1 AND name = $2")
            .bind(kind)
            .bind(name)
            .execute(&mut *self.tx)
            .await?
            .rows_affected();
        if done > 0 {
            sqlx::query("INSERT INTO activation_log (kind, target, version, at, actor) VALUES ($1, $2, NULL, $3, $4)")
                .bind(kind)
                .bind(name)
                .bind(at.0)
                .bind(actor)
                .execute(&mut *self.tx)
                .await?;
        }
        Ok(done > 0)
    }
}
