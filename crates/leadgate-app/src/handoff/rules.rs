//! The routing rules: versions saved by `PUT /v1/routing`, the one in force, and the
//! built-in set used until one is saved.

use super::{Handoff, Queues};
use crate::qualification::assess::{FactsRead, Reads};
use crate::{App, AppError, ErrorCode};
use leadgate_core::Timestamp;
use leadgate_core::expr::EventsRead;
use leadgate_core::handoff::people::User;
use leadgate_core::handoff::people::{MARKET_RESPONSE, SALES_DEVELOPMENT};
use leadgate_core::handoff::routing::{RoutingError, RoutingRuleSpec, RuleSet, RuleSetSpec, Strategy};
use leadgate_core::lifecycle::{Actor, Stage};
use leadgate_store::handoff::StoredRules;
use leadgate_store::{Store, StoreError, StoredParts};
use serde::Serialize;
use std::sync::Arc;

/// The rules in force, compiled, and what routing reads of a contact for them.
pub(crate) struct RulesInForce {
    pub(crate) spec: RuleSetSpec,
    pub(crate) set: RuleSet,
    pub(crate) facts: FactsRead,
    pub(crate) saved: Option<(Timestamp, String)>,
}

/// The rule set as `GET /v1/routing` shows it.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct RoutingView {
    /// 0 for the built-in set, in force until a set is saved.
    pub version: i64,
    #[serde(flatten)]
    pub rules: RuleSetSpec,
    pub saved_at: Option<Timestamp>,
    pub saved_by: Option<String>,
}

/// The built-in rules: outbound list entries go to Sales Development as they arrive,
/// by territory then in turn; every contact reaching mql goes to Market Response, to
/// its account's owner, by territory, or in turn.
pub fn builtin_rules() -> RuleSetSpec {
    RuleSetSpec {
        rules: vec![
            RoutingRuleSpec {
                name: "outbound lists".into(),
                when: "contact.direction == \"outbound\" && contact.stage == \"suspect\"".into(),
                queue: SALES_DEVELOPMENT.into(),
                assign: vec![Strategy::AccountOwner, Strategy::Territory, Strategy::RoundRobin],
                weight: 1,
                at_any_stage: true,
            },
            RoutingRuleSpec {
                name: "inbound".into(),
                when: "true".into(),
                queue: MARKET_RESPONSE.into(),
                assign: vec![Strategy::AccountOwner, Strategy::Territory, Strategy::RoundRobin],
                weight: 1,
                at_any_stage: false,
            },
        ],
        fallback_queue: MARKET_RESPONSE.into(),
        stages: vec![Stage::Mql],
    }
}

fn compile(spec: &RuleSetSpec, version: i64, queues: &Queues, users: &[User]) -> Result<RuleSet, RoutingError> {
    spec.compile(
        version,
        |name| queues.named(name).map(|s| s.queue.id),
        |email| users.iter().find(|u| u.email.eq_ignore_ascii_case(email)).map(|u| u.id),
    )
}

pub(crate) fn in_force(spec: RuleSetSpec, set: RuleSet, saved: Option<(Timestamp, String)>) -> RulesInForce {
    let expressions = set.rules.iter().map(|r| &r.when);
    let events = expressions
        .clone()
        .fold(EventsRead { last_activity: true, ..EventsRead::default() }, |read, e| read.and(e.events_read()));
    let facts = FactsRead { reads: Reads::of_expressions(expressions), stored: StoredParts::WithAssessment, events };
    RulesInForce { spec, set, facts, saved }
}

fn refused(e: RoutingError) -> AppError {
    AppError::new(ErrorCode::InvalidRouting, e.message).field(e.field)
}

impl Handoff {
    /// Compiles `spec` against the queues and users there are: a queue another server
    /// created since this one read them is looked for again before it is refused.
    async fn compile(
        &self,
        store: &dyn Store,
        spec: &RuleSetSpec,
        version: i64,
    ) -> Result<Result<RuleSet, RoutingError>, AppError> {
        let users = store.users().await?;
        let queues = self.queues(store, None).await?;
        match compile(spec, version, &queues, &users) {
            Err(e) if e.unknown => {
                self.forget_queues();
                let queues = self.queues(store, None).await?;
                Ok(compile(spec, version, &queues, &users))
            }
            compiled => Ok(compiled),
        }
    }

    /// The rules in force: the latest version saved (read again when another server
    /// saved a newer one), or the built-in set.
    pub(crate) async fn rules(&self, store: &dyn Store) -> Result<Arc<RulesInForce>, AppError> {
        let stored = store.routing_rules().await?;
        let version = stored.as_ref().map_or(0, |s| s.version);
        if let Some(known) = self.rules.lock().unwrap_or_else(|e| e.into_inner()).clone()
            && known.set.version == version
        {
            return Ok(known);
        }
        let rules = match stored {
            None => {
                let spec = builtin_rules();
                let set = self.compile(store, &spec, 0).await?.map_err(|e| {
                    AppError::new(ErrorCode::Internal, format!("the built-in routing rules do not compile: {e}"))
                })?;
                in_force(spec, set, None)
            }
            Some(StoredRules { version, spec, created_at, created_by }) => {
                let spec: RuleSetSpec = serde_json::from_value(spec)
                    .map_err(|e| AppError::new(ErrorCode::Internal, format!("routing rules v{version}: {e}")))?;
                let set = self.compile(store, &spec, version).await?.map_err(|e| {
                    AppError::new(ErrorCode::Internal, format!("routing rules v{version} no longer compile: {e}"))
                })?;
                in_force(spec, set, Some((created_at, created_by)))
            }
        };
        let rules = Arc::new(rules);
        *self.rules.lock().unwrap_or_else(|e| e.into_inner()) = Some(rules.clone());
        Ok(rules)
    }
}

impl App {
    /// The routing rules in force.
    pub async fn routing_rules(&self) -> Result<RoutingView, AppError> {
        let rules = self.handoff.rules(self.store.as_ref()).await?;
        Ok(RoutingView {
            version: rules.set.version,
            rules: rules.spec.clone(),
            saved_at: rules.saved.as_ref().map(|s| s.0),
            saved_by: rules.saved.as_ref().map(|s| s.1.clone()),
        })
    }

    /// Checks a rule set as [`App::save_routing_rules`] would, without saving it.
    pub(crate) async fn check_routing_rules(&self, spec: &RuleSetSpec) -> Result<RuleSet, AppError> {
        self.handoff.compile(self.store.as_ref(), spec, 0).await?.map_err(refused)
    }

    /// Saves a new version of the routing rules, in force from now on.
    pub async fn save_routing_rules(&self, spec: &RuleSetSpec, actor: &Actor) -> Result<RoutingView, AppError> {
        self.check_routing_rules(spec).await?;
        let spec_json = serde_json::to_value(spec).map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
        let now = self.now();
        // Two saved at once: the later takes the next version.
        for _ in 0..crate::retry::ATTEMPTS {
            let version = self.store.routing_rules().await?.map_or(0, |s| s.version) + 1;
            let stored = StoredRules { version, spec: spec_json.clone(), created_at: now, created_by: actor.label() };
            let mut tx = self.store.begin().await?;
            let entry = leadgate_core::erasure::AuditEntry {
                at: now,
                actor: actor.label(),
                action: "routing.saved".into(),
                contact_id: None,
                detail: format!("version {version}, {} rules", spec.rules.len()),
            };
            let saved = async {
                tx.insert_routing_rules(&stored).await?;
                tx.insert_audit_entries(&[entry]).await
            }
            .await;
            match crate::finish(tx, saved).await {
                Ok(()) => return self.routing_rules().await,
                Err(StoreError::Conflict(_)) => continue,
                Err(e) => return Err(e.into()),
            }
        }
        Err(AppError::new(ErrorCode::Conflict, "the routing rules were saved by someone else meanwhile; try again"))
    }
}
