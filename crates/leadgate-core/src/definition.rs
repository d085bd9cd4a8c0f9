//! Lead definitions: the rule that makes a contact a lead, written as an expression.
//!
//! Marketing's definition (`kind = "mql"`) makes a `prospect` (or a nurtured contact
//! coming back) an `mql`; the one Sales writes (`kind = "sql"`) makes a `sal` an `sql`;
//! junk rules (`kind = "junk"`) send a contact nobody has worked yet to
//! `disqualified`. Definitions are versioned: saving one makes a new version, and a
//! version moves contacts only while it is the active one. Every move records the
//! definition's `name@version` as its cause.

use crate::expr::facts::Bindings;
use crate::expr::{ExprError, Expression, Scope, Type};
use crate::lifecycle::{self, Actor, Cause, CauseKind, Stage, StageChange};
use crate::{Timestamp, ident::truncate};
use serde::{Deserialize, Serialize};

pub const MAX_NOTE: usize = 2_000;
const MAX_NAME: usize = 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "lowercase")]
pub enum DefinitionKind {
    /// Junk is looked at first: a bot is thrown out before it can qualify.
    Junk,
    Mql,
    Sql,
}

impl DefinitionKind {
    pub fn as_str(self) -> &'static str {
        match self {
            DefinitionKind::Junk => "junk",
            DefinitionKind::Mql => "mql",
            DefinitionKind::Sql => "sql",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Junk, Self::Mql, Self::Sql].into_iter().find(|k| k.as_str() == s.trim())
    }

    /// The stages a definition of this kind moves contacts from.
    pub fn from_stages(self) -> &'static [Stage] {
        match self {
            DefinitionKind::Mql => &[Stage::Prospect, Stage::Nurture],
            DefinitionKind::Sql => &[Stage::Sal],
            DefinitionKind::Junk => &[Stage::Suspect, Stage::Prospect, Stage::Nurture],
        }
    }

    /// The stage it moves them to.
    pub fn to(self) -> Stage {
        match self {
            DefinitionKind::Mql => Stage::Mql,
            DefinitionKind::Sql => Stage::Sql,
            DefinitionKind::Junk => Stage::Disqualified,
        }
    }
}

/// One version of a definition, as stored.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Definition {
    pub name: String,
    pub version: i64,
    pub kind: DefinitionKind,
    pub expression: String,
    pub note: Option<String>,
    pub author: String,
    pub created_at: Timestamp,
}

impl Definition {
    /// `name@version`, as stage changes record it.
    pub fn label(&self) -> String {
        format!("{}@{}", self.name, self.version)
    }

    pub fn compile(&self) -> Result<Expression, ExprError> {
        compile_expression(&self.expression)
    }
}

/// Definitions are boolean expressions over a contact.
pub fn compile_expression(source: &str) -> Result<Expression, ExprError> {
    Expression::compile(source, Scope::Contact, &Type::Bool)
}

/// Why a definition name is not one: names are what people and causes refer to.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= MAX_NAME
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "{:?} is not a definition name: 1 to {MAX_NAME} lower-case letters, digits, '_' or '-'",
            truncate(name, 80)
        ))
    }
}

/// A definition ready to run: its version and compiled expression.
#[derive(Debug, Clone)]
pub struct Active {
    pub definition: Definition,
    pub expression: Expression,
}

/// A definition that could not be evaluated for a contact.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct DefinitionFailure {
    pub definition: String,
    pub message: String,
}

/// The stage change the active definitions make to a contact at `stage`, if any:
/// junk first, then the definition for the contact's stage; among definitions of one
/// kind, the first by name that holds. Failures are returned beside it.
pub fn apply(
    active: &[Active],
    contact_id: uuid::Uuid,
    stage: Stage,
    bound: &Bindings<'_>,
    actor: &Actor,
    at: Timestamp,
) -> (Option<StageChange>, Vec<DefinitionFailure>) {
    let mut failures = Vec::new();
    let mut ordered: Vec<&Active> =
        active.iter().filter(|a| a.definition.kind.from_stages().contains(&stage)).collect();
    ordered.sort_by(|a, b| (a.definition.kind, &a.definition.name).cmp(&(b.definition.kind, &b.definition.name)));
    for a in ordered {
        match a.expression.test(bound) {
            Ok(true) => {
                let cause = Cause::new(CauseKind::Definition, a.definition.label());
                if let Ok(change) =
                    lifecycle::transition(contact_id, Some(stage), a.definition.kind.to(), cause, actor, at)
                {
                    return (Some(change), failures);
                }
            }
            Ok(false) => {}
            Err(e) => failures.push(DefinitionFailure { definition: a.definition.label(), message: e.0 }),
        }
    }
    (None, failures)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::expr::tests::{NOW, ann};

    fn active(name: &str, kind: DefinitionKind, expression: &str) -> Active {
        let definition = Definition {
            name: name.into(),
            version: 3,
            kind,
            expression: expression.into(),
            note: None,
            author: "user:sales-lead".into(),
            created_at: NOW,
        };
        Active { expression: definition.compile().unwrap(), definition }
    }

    #[test]
    fn an_active_definition_moves_the_contacts_of_its_stage_and_says_which_version() {
        let facts = ann();
        let bound = facts.bind();
        let defs = [
            active("marketing", DefinitionKind::Mql, "engagement.visits_30d >= 3 && contact.title != ''"),
            active("sales", DefinitionKind::Sql, "qualification.budget == 'confirmed'"),
        ];
        let (change, failures) = apply(&defs, facts.contact.id, Stage::Prospect, &bound, &Actor::System, NOW);
        let change = change.expect("Ann qualifies");
        assert_eq!((change.from, change.to), (Some(Stage::Prospect), Stage::Mql));
        assert_eq!((change.cause, change.detail.as_str()), (CauseKind::Definition, "marketing@3"));
        assert!(failures.is_empty());
        // Sales' definition is for accepted leads only.
        let (change, _) = apply(&defs[1..], facts.contact.id, Stage::Prospect, &bound, &Actor::System, NOW);
        assert_eq!(change, None);
        let (change, _) = apply(&defs, facts.contact.id, Stage::Sal, &bound, &Actor::System, NOW);
        assert_eq!(change.map(|c| (c.to, c.detail)), Some((Stage::Sql, "sales@3".into())));
        // Nothing moves a customer.
        assert_eq!(apply(&defs, facts.contact.id, Stage::Customer, &bound, &Actor::System, NOW).0, None);
    }

    #[test]
    fn junk_is_thrown_out_before_it_can_qualify_and_failures_are_reported() {
        let facts = ann();
        let bound = facts.bind();
        let defs = [
            active("marketing", DefinitionKind::Mql, "true"),
            active("bots", DefinitionKind::Junk, "contact.domain == 'acme.example'"),
            active("a-broken", DefinitionKind::Junk, "contact.custom.nope == 1"),
        ];
        let (change, failures) = apply(&defs, facts.contact.id, Stage::Prospect, &bound, &Actor::System, NOW);
        assert_eq!(change.map(|c| (c.to, c.detail)), Some((Stage::Disqualified, "bots@3".into())));
        assert_eq!(failures.len(), 1);
        assert_eq!(failures[0].definition, "a-broken@3");
    }

    #[test]
    fn names_are_checked() {
        assert!(check_name("mql-2026").is_ok());
        for bad in ["", "Marketing", "with space", "über", &"x".repeat(61)] {
            assert!(check_name(bad).is_err(), "{bad}");
        }
        assert_eq!(DefinitionKind::parse("sql"), Some(DefinitionKind::Sql));
        assert_eq!(DefinitionKind::parse("lead"), None);
    }
}
