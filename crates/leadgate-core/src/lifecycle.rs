//! The lifecycle of a contact and the one function that decides which moves are allowed.
//!
//! Main path: `suspect → prospect → mql → sal → sql → opportunity → customer`.
//! Side stages: `nurture` (not ready now; may re-enter the main path), `lost`, and
//! `disqualified` (junk, kept for audit, excluded from funnel counts).
//!
//! Automatic causes (an inquiry, a lead definition, a sales decision, an outcome) may
//! only move a contact the way that cause naturally moves it. A person (a manual cause)
//! may make any move, including backwards (recycling), but must give a reason. Imported
//! history is taken as it happened.

use crate::Timestamp;
use crate::ident::truncate;
use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, PartialOrd, Ord, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Stage {
    Suspect,
    Prospect,
    Mql,
    Sal,
    Sql,
    Opportunity,
    Customer,
    Nurture,
    Lost,
    Disqualified,
}

impl Stage {
    pub const ALL: [Stage; 10] = [
        Stage::Suspect,
        Stage::Prospect,
        Stage::Mql,
        Stage::Sal,
        Stage::Sql,
        Stage::Opportunity,
        Stage::Customer,
        Stage::Nurture,
        Stage::Lost,
        Stage::Disqualified,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Stage::Suspect => "suspect",
            Stage::Prospect => "prospect",
            Stage::Mql => "mql",
            Stage::Sal => "sal",
            Stage::Sql => "sql",
            Stage::Opportunity => "opportunity",
            Stage::Customer => "customer",
            Stage::Nurture => "nurture",
            Stage::Lost => "lost",
            Stage::Disqualified => "disqualified",
        }
    }

    /// The stage named exactly `name`, as [`Self::as_str`] gives it: how stored stages
    /// are read, millions at a time, where parsing (trimmed, in any case) compared the
    /// name with each stage's in turn.
    pub fn from_name(name: &str) -> Option<Stage> {
        Some(match name {
            "suspect" => Stage::Suspect,
            "prospect" => Stage::Prospect,
            "mql" => Stage::Mql,
            "sal" => Stage::Sal,
            "sql" => Stage::Sql,
            "opportunity" => Stage::Opportunity,
            "customer" => Stage::Customer,
            "nurture" => Stage::Nurture,
            "lost" => Stage::Lost,
            "disqualified" => Stage::Disqualified,
            _ => return None,
        })
    }

    /// Position on the main path (0 = suspect … 6 = customer); `None` for side stages.
    pub fn rank(self) -> Option<u8> {
        match self {
            Stage::Suspect => Some(0),
            Stage::Prospect => Some(1),
            Stage::Mql => Some(2),
            Stage::Sal => Some(3),
            Stage::Sql => Some(4),
            Stage::Opportunity => Some(5),
            Stage::Customer => Some(6),
            Stage::Nurture | Stage::Lost | Stage::Disqualified => None,
        }
    }

    /// Whether a move to `self` may carry a deal value: the outcomes of a deal.
    pub fn takes_value(self) -> bool {
        matches!(self, Stage::Opportunity | Stage::Customer | Stage::Lost)
    }

    /// Whether `self` lies strictly further along the main path than `other`.
    pub fn is_after(self, other: Stage) -> bool {
        matches!((self.rank(), other.rank()), (Some(a), Some(b)) if a > b)
    }
}

impl fmt::Display for Stage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl FromStr for Stage {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let name = s.trim();
        Stage::ALL.into_iter().find(|st| st.as_str().eq_ignore_ascii_case(name)).ok_or_else(|| {
            let names: Vec<_> = Stage::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown stage {:?}; stages are {}", truncate(s, 40), names.join(", "))
        })
    }
}

/// What made a stage change happen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum CauseKind {
    /// The contact made an inquiry (filled a form, called, downloaded…).
    Inquiry,
    /// The contact arrived on a list without acting.
    ListEntry,
    /// The junk filter recognised a bot, a job applicant or a vendor soliciting us.
    Junk,
    /// A lead definition matched (detail: `name@version`).
    Definition,
    /// Sales accepted a handed-over lead.
    Acceptance,
    /// Sales rejected a handed-over lead (detail: reason); it goes to nurture.
    Rejection,
    /// A deal outcome: opportunity opened, won or lost.
    Outcome,
    /// History brought in from another system.
    Import,
    /// A person moved it by hand (detail: their reason).
    Manual,
}

impl CauseKind {
    pub fn as_str(self) -> &'static str {
        match self {
            CauseKind::Inquiry => "inquiry",
            CauseKind::ListEntry => "list_entry",
            CauseKind::Junk => "junk",
            CauseKind::Definition => "definition",
            CauseKind::Acceptance => "acceptance",
            CauseKind::Rejection => "rejection",
            CauseKind::Outcome => "outcome",
            CauseKind::Import => "import",
            CauseKind::Manual => "manual",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        use CauseKind::*;
        [Inquiry, ListEntry, Junk, Definition, Acceptance, Rejection, Outcome, Import, Manual]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Cause {
    pub kind: CauseKind,
    /// The reason, definition `name@version`, response id or import source.
    pub detail: String,
}

impl Cause {
    pub fn new(kind: CauseKind, detail: impl Into<String>) -> Self {
        Self { kind, detail: detail.into() }
    }
}

/// Who made a change: the system itself, an API key, or a signed-in user.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    System,
    /// Someone running the `leadgate` command on the server.
    Operator,
    ApiKey(String),
    User(String),
}

impl Actor {
    /// `system`, `operator`, `api_key:<name>` or `user:<name>`.
    pub fn label(&self) -> String {
        match self {
            Actor::System => "system".into(),
            Actor::Operator => "operator".into(),
            Actor::ApiKey(n) => format!("api_key:{n}"),
            Actor::User(n) => format!("user:{n}"),
        }
    }
}

/// One recorded move of a contact between stages.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct StageChange {
    pub contact_id: Uuid,
    /// `null` for the first.
    pub from: Option<Stage>,
    pub to: Stage,
    pub at: Timestamp,
    pub cause: CauseKind,
    /// What caused it, e.g. `response 0193…` or a manual change's reason.
    pub detail: String,
    /// `system`, `api_key:<name>` or `user:<name>`.
    pub actor: String,
    /// The deal value of an outcome (opportunity, customer, lost), in minor units.
    pub value: Option<i64>,
}

impl StageChange {
    /// The reason given for it: a manual change's, or, of an import's (`import 019…:
    /// Bad Timing`), what follows the import's label; none where none was given.
    pub fn reason(&self) -> Option<&str> {
        let reason = match self.cause {
            CauseKind::Import => self.detail.split_once(": ").map(|(_, reason)| reason),
            _ => Some(self.detail.as_str()),
        };
        reason.map(str::trim).filter(|r| !r.is_empty())
    }

    /// The import that made it (`import 019…`), for a change an import made.
    pub fn import_label(&self) -> Option<&str> {
        (self.cause == CauseKind::Import)
            .then(|| self.detail.split_once(": ").map_or(self.detail.as_str(), |(import, _reason)| import))
    }
}

/// Where a contact went, when, and for what value: what reading its history (a
/// backtest, the likelihood model's outcomes) needs of a stage change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StageStep {
    pub to: Stage,
    pub at: Timestamp,
    pub value: Option<i64>,
}

/// The value won by `steps`: the largest deal value of their moves to customer. The
/// largest, not the sum: a deal moved to customer, back, and to customer again (a
/// correction) is won once.
pub fn value_won<'a>(steps: impl IntoIterator<Item = &'a StageStep>) -> Option<i64> {
    steps.into_iter().filter(|s| s.to == Stage::Customer).filter_map(|s| s.value).max()
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    #[error("the contact is already at stage {0}")]
    NoChange(Stage),
    #[error("a manual stage change needs a reason")]
    ReasonRequired,
    #[error("the reason is longer than {REASON_MAX} characters")]
    ReasonTooLong,
    #[error("the reason contains control characters")]
    ReasonInvalid,
    #[error("{cause} cannot move a contact from {from} to {to}")]
    NotAllowed { cause: &'static str, from: String, to: Stage },
}

pub const REASON_MAX: usize = 1_000;

/// Why a deal value cannot go with a stage change.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ValueError {
    #[error("a value goes only with opportunity, customer or lost, not with {0}")]
    NotAnOutcome(Stage),
    #[error("the value is negative: give the deal's amount in minor units (cents), 0 or more")]
    Negative,
}

/// Checks a deal value (minor units) given with a move to `to`.
pub fn check_value(to: Stage, value: Option<i64>) -> Result<(), ValueError> {
    match value {
        None => Ok(()),
        Some(_) if !to.takes_value() => Err(ValueError::NotAnOutcome(to)),
        Some(v) if v < 0 => Err(ValueError::Negative),
        Some(_) => Ok(()),
    }
}

/// Decides whether `cause` may move a contact from `from` (`None`: a new contact) to
/// `to`, and if so returns the change to record. This is the only place that knows the
/// rules; every stage change in leadgate goes through it.
pub fn transition(
    contact_id: Uuid,
    from: Option<Stage>,
    to: Stage,
    cause: Cause,
    actor: &Actor,
    at: Timestamp,
) -> Result<StageChange, TransitionError> {
    use Stage::*;
    if from == Some(to) {
        return Err(TransitionError::NoChange(to));
    }
    let detail = cause.detail.trim().to_owned();
    if detail.chars().count() > REASON_MAX {
        return Err(TransitionError::ReasonTooLong);
    }
    if crate::inquiry::has_control_chars(&detail) {
        return Err(TransitionError::ReasonInvalid);
    }
    let forward = match from {
        None => true,
        Some(f) => to.is_after(f),
    };
    let allowed = match cause.kind {
        CauseKind::Manual => {
            if detail.is_empty() {
                return Err(TransitionError::ReasonRequired);
            }
            true
        }
        CauseKind::Import => true,
        CauseKind::ListEntry => from.is_none() && to == Suspect,
        CauseKind::Inquiry => matches!(from, None | Some(Suspect)) && to == Prospect,
        CauseKind::Junk => matches!(from, None | Some(Suspect) | Some(Prospect)) && to == Disqualified,
        CauseKind::Definition => match to {
            // Junk definitions may only throw out what nobody has worked yet.
            Disqualified => matches!(from, None | Some(Suspect) | Some(Prospect) | Some(Nurture)),
            Nurture | Lost => false,
            // Forward on the main path, or re-entry from nurture and lost.
            _ => forward || matches!(from, Some(Nurture) | Some(Lost)),
        },
        CauseKind::Acceptance => from == Some(Mql) && to == Sal,
        CauseKind::Rejection => matches!(from, Some(Mql) | Some(Sal) | Some(Sql)) && to == Nurture,
        CauseKind::Outcome => match to {
            Opportunity | Customer => forward && from.is_some_and(|f| f.rank().is_some()),
            Lost => matches!(from, Some(Sql) | Some(Opportunity)),
            _ => false,
        },
    };
    if !allowed {
        return Err(TransitionError::NotAllowed {
            cause: cause.kind.as_str(),
            from: from.map_or_else(|| "(new contact)".to_owned(), |s| s.to_string()),
            to,
        });
    }
    Ok(StageChange { contact_id, from, to, at, cause: cause.kind, detail, actor: actor.label(), value: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_change_says_its_reason_without_the_import_that_made_it() {
        let change = |cause: CauseKind, detail: &str| StageChange {
            contact_id: Uuid::nil(),
            from: None,
            to: Stage::Nurture,
            at: Timestamp(0),
            cause,
            detail: detail.into(),
            actor: "system".into(),
            value: None,
        };
        let imported = change(CauseKind::Import, "import 019a: Bad Timing");
        assert_eq!((imported.reason(), imported.import_label()), (Some("Bad Timing"), Some("import 019a")));
        assert_eq!(change(CauseKind::Import, "import 019a").reason(), None);
        assert_eq!(change(CauseKind::Manual, "not ready: budget").reason(), Some("not ready: budget"));
        assert_eq!(change(CauseKind::Manual, "").reason(), None);
        assert_eq!(change(CauseKind::Manual, "x").import_label(), None);
    }

    #[test]
    fn a_deal_value_goes_with_outcomes_only_and_is_never_negative() {
        for stage in [Stage::Opportunity, Stage::Customer, Stage::Lost] {
            assert_eq!(check_value(stage, Some(120_000)), Ok(()));
            assert_eq!(check_value(stage, Some(0)), Ok(()), "a deal of nothing is a deal");
            assert_eq!(check_value(stage, Some(-1)), Err(ValueError::Negative));
        }
        for stage in [Stage::Mql, Stage::Sql, Stage::Nurture, Stage::Disqualified] {
            assert_eq!(check_value(stage, Some(5)), Err(ValueError::NotAnOutcome(stage)));
            assert_eq!(check_value(stage, None), Ok(()));
        }
    }
    use proptest::prelude::*;

    fn try_move(from: Option<Stage>, to: Stage, kind: CauseKind, detail: &str) -> Result<StageChange, TransitionError> {
        transition(Uuid::nil(), from, to, Cause::new(kind, detail), &Actor::System, Timestamp(0))
    }

    /// The change a move records: from, to, cause and detail.
    fn moved(change: Result<StageChange, TransitionError>) -> (Option<Stage>, Stage, CauseKind, String) {
        let c = change.expect("the move is allowed");
        (c.from, c.to, c.cause, c.detail)
    }

    /// The refusal of a move the rules do not allow, as the API names it.
    fn not_allowed(cause: CauseKind, from: Option<Stage>, to: Stage) -> Result<StageChange, TransitionError> {
        let from = from.map_or_else(|| "(new contact)".to_owned(), |s| s.to_string());
        Err(TransitionError::NotAllowed { cause: cause.as_str(), from, to })
    }

    #[test]
    fn an_inquiry_makes_a_suspect_or_a_new_contact_a_prospect_only() {
        use Stage::*;
        let inquiry = CauseKind::Inquiry;
        assert_eq!(moved(try_move(None, Prospect, inquiry, "r1")), (None, Prospect, inquiry, "r1".into()));
        assert_eq!(
            moved(try_move(Some(Suspect), Prospect, inquiry, "r2")),
            (Some(Suspect), Prospect, inquiry, "r2".into())
        );
        assert_eq!(try_move(Some(Customer), Prospect, inquiry, "r1"), not_allowed(inquiry, Some(Customer), Prospect));
        assert_eq!(try_move(Some(Nurture), Prospect, inquiry, "r1"), not_allowed(inquiry, Some(Nurture), Prospect));
        assert_eq!(try_move(None, Mql, inquiry, "r1"), not_allowed(inquiry, None, Mql));
    }

    #[test]
    fn a_manual_move_needs_a_reason_and_may_go_backwards() {
        assert_eq!(
            try_move(Some(Stage::Sql), Stage::Prospect, CauseKind::Manual, "  "),
            Err(TransitionError::ReasonRequired)
        );
        let c = try_move(Some(Stage::Sql), Stage::Prospect, CauseKind::Manual, " budget frozen ").unwrap();
        assert_eq!(c.detail, "budget frozen");
        assert_eq!((c.from, c.to, c.cause), (Some(Stage::Sql), Stage::Prospect, CauseKind::Manual));
        assert_eq!(
            try_move(Some(Stage::Sql), Stage::Prospect, CauseKind::Manual, &"x".repeat(REASON_MAX + 1)),
            Err(TransitionError::ReasonTooLong)
        );
        assert_eq!(
            try_move(Some(Stage::Sql), Stage::Prospect, CauseKind::Manual, "a\u{7}b"),
            Err(TransitionError::ReasonInvalid)
        );
    }

    #[test]
    fn rejection_sends_to_nurture_never_elsewhere() {
        use Stage::*;
        let rejection = CauseKind::Rejection;
        assert_eq!(
            moved(try_move(Some(Mql), Nurture, rejection, "not ready")),
            (Some(Mql), Nurture, rejection, "not ready".into())
        );
        assert_eq!(try_move(Some(Mql), Disqualified, rejection, "x"), not_allowed(rejection, Some(Mql), Disqualified));
        assert_eq!(try_move(Some(Mql), Lost, rejection, "x"), not_allowed(rejection, Some(Mql), Lost));
        assert_eq!(try_move(Some(Prospect), Nurture, rejection, "x"), not_allowed(rejection, Some(Prospect), Nurture));
    }

    #[test]
    fn junk_never_throws_out_a_worked_contact() {
        use Stage::*;
        let (junk, definition) = (CauseKind::Junk, CauseKind::Definition);
        assert_eq!(
            moved(try_move(None, Disqualified, junk, "honeypot")),
            (None, Disqualified, junk, "honeypot".into())
        );
        assert_eq!(
            try_move(Some(Customer), Disqualified, junk, "bot"),
            not_allowed(junk, Some(Customer), Disqualified)
        );
        assert_eq!(
            try_move(Some(Sal), Disqualified, definition, "junk@1"),
            not_allowed(definition, Some(Sal), Disqualified)
        );
        assert_eq!(
            moved(try_move(Some(Nurture), Disqualified, definition, "junk@1")),
            (Some(Nurture), Disqualified, definition, "junk@1".into())
        );
    }

    #[test]
    fn the_same_stage_is_no_change() {
        assert_eq!(
            try_move(Some(Stage::Mql), Stage::Mql, CauseKind::Manual, "again"),
            Err(TransitionError::NoChange(Stage::Mql))
        );
    }

    #[test]
    fn stage_names_parse_and_unknown_names_list_the_valid_ones() {
        assert_eq!("MQL".parse::<Stage>(), Ok(Stage::Mql));
        let err = "hot".parse::<Stage>().unwrap_err();
        assert!(err.contains("suspect") && err.contains("disqualified"), "{err}");
        // Named exactly, as stored: every stage by its own name, nothing else.
        assert!(Stage::ALL.into_iter().all(|s| Stage::from_name(s.as_str()) == Some(s)));
        assert_eq!((Stage::from_name("MQL"), Stage::from_name(" mql"), Stage::from_name("hot")), (None, None, None));
    }

    fn any_stage() -> impl Strategy<Value = Stage> {
        prop::sample::select(Stage::ALL.to_vec())
    }
    fn any_cause() -> impl Strategy<Value = CauseKind> {
        use CauseKind::*;
        prop::sample::select(vec![Inquiry, ListEntry, Junk, Definition, Acceptance, Rejection, Outcome, Import, Manual])
    }

    proptest! {
        #[test]
        fn automatic_causes_never_move_backwards_on_the_main_path(
            from in any_stage(), to in any_stage(), kind in any_cause(), detail in "[a-z ]{0,12}"
        ) {
            if let Ok(change) = try_move(Some(from), to, kind, &detail) {
                prop_assert_ne!(change.from, Some(change.to));
                if !matches!(kind, CauseKind::Manual | CauseKind::Import) {
                    prop_assert!(!from.is_after(to), "{kind:?} moved {from} back to {to}");
                }
                if kind == CauseKind::Manual {
                    prop_assert!(!change.detail.is_empty());
                }
            }
        }

        /// The stage a contact's recorded history gives at any moment (what a backtest
        /// rebuilds, `History::as_of`) is the stage the contact was at then, changes at
        /// the same instant included; a refused move changes nothing and says which
        /// move it refused.
        #[test]
        fn the_recorded_history_gives_the_stage_the_contact_was_at_at_any_moment(
            steps in prop::collection::vec((any_stage(), any_cause(), "[a-z]{1,8}", 0i64..3), 1..40),
            probes in prop::collection::vec(0i64..150, 1..20),
        ) {
            use crate::backtest::History;
            use crate::model::Contact;
            let mut current: Option<Stage> = None;
            let mut at = 10;
            // The stage after each moment something was tried: (moment, stage).
            let mut lived: Vec<(i64, Option<Stage>)> = Vec::new();
            let mut history = Vec::new();
            for (to, kind, detail, gap) in steps {
                at += gap;
                match transition(Uuid::nil(), current, to, Cause::new(kind, &detail), &Actor::System, Timestamp(at)) {
                    Ok(change) => {
                        prop_assert_eq!(change.from, current);
                        current = Some(change.to);
                        history.push(StageStep { to: change.to, at: change.at, value: None });
                    }
                    Err(TransitionError::NotAllowed { cause, to: refused, .. }) => {
                        prop_assert_eq!((cause, refused), (kind.as_str(), to));
                    }
                    Err(TransitionError::NoChange(stage)) => prop_assert_eq!(Some(stage), current),
                    Err(e) => prop_assert!(false, "unexpected refusal {e:?}"),
                }
                lived.push((at, current));
            }
            let Some(first) = history.first().map(|s| s.at) else { return Ok(()) };
            for probe in probes {
                let expected = lived.iter().rev().find(|(t, _)| *t <= probe).and_then(|(_, s)| *s);
                let contact = Contact::new(Uuid::nil(), None, crate::Direction::Inbound, None, Stage::Suspect, first);
                let past = History {
                    contact,
                    account: None,
                    qualification: Default::default(),
                    responses: vec![],
                    events: vec![],
                    last_event: None,
                    stages: history.clone(),
                    changes: vec![],
                }
                .as_of(Timestamp(probe));
                prop_assert_eq!(past.map(|f| f.contact.stage), expected, "at {}", probe);
            }
        }
    }
}
