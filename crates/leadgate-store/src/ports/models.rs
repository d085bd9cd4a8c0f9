//! Scoring models, lead definitions, trained likelihood models, and which are in force.

use crate::Result;
use async_trait::async_trait;
use leadgate_core::Timestamp;
use leadgate_core::definition::Definition;
use leadgate_core::likelihood::TrainedModel;
use leadgate_core::model::Activation;
use leadgate_core::scoring::ModelVersion;

#[async_trait]
pub trait ModelReads: Send + Sync {
    // Scoring models and lead definitions.
    /// A version of a model (`None`: its latest).
    async fn scoring_model(&self, name: &str, version: Option<i64>) -> Result<Option<ModelVersion>>;

    /// The latest version of every model.
    async fn scoring_models(&self) -> Result<Vec<ModelVersion>>;

    /// A version of a definition (`None`: its latest).
    async fn definition(&self, name: &str, version: Option<i64>) -> Result<Option<Definition>>;

    /// Every version of a definition, oldest first.
    async fn definition_versions(&self, name: &str) -> Result<Vec<Definition>>;

    /// The latest version of every definition.
    async fn definitions(&self) -> Result<Vec<Definition>>;

    /// What is active of a kind (`scoring`, `definition`).
    async fn activations(&self, kind: &str) -> Result<Vec<Activation>>;

    /// A trained likelihood model (`None`: the latest, the one in force) with its
    /// predictor as JSON.
    async fn likelihood_model(&self, version: Option<i64>) -> Result<Option<(TrainedModel, String)>>;

    /// The version of the latest trained likelihood model, without reading it.
    async fn latest_likelihood_version(&self) -> Result<Option<i64>>;
}

#[async_trait]
pub trait ModelWrites: Send {
    /// Keeps a trained likelihood model under the next version, which it returns.
    async fn insert_likelihood_model(&mut self, model: &TrainedModel, predictor: &str) -> Result<i64>;

    /// The next version number of a model: one more than its highest. Two transactions
    /// that take the same number cannot both save it (name and version are the key):
    /// the second fails.
    async fn next_model_version(&mut self, name: &str) -> Result<i64>;

    async fn insert_scoring_model(&mut self, model: &ModelVersion) -> Result<()>;

    async fn next_definition_version(&mut self, name: &str) -> Result<i64>;

    async fn insert_definition(&mut self, definition: &Definition) -> Result<()>;

    /// Makes `activation` the active one of its kind and name, or, with no version,
    /// deactivates it; either way the change is logged.
    async fn activate(&mut self, activation: &Activation) -> Result<()>;

    async fn deactivate(&mut self, kind: &str, name: &str, at: Timestamp, actor: &str) -> Result<bool>;
}
