//! What one imported row does to its contact: the pure decision, applied by the import
//! use case for many rows in one transaction.
//!
//! - A row names a contact that exists (by email or external id) or creates one.
//! - Re-importing the same row changes nothing: responses, stage changes and events the
//!   contact already has are recognised (same time and kind) and not added again.
//! - A changed row updates the fields it maps, and the plan lists what changed. Blank
//!   cells never erase what is known, and a do-not-contact flag is never lifted by a
//!   file: that takes a person.
//! - History keeps the file's timestamps. The contact's stage is the one its latest
//!   stage change (by time) leads to, so rows may arrive in any order.

use super::row::{ImportRow, ResponseDraft, StageDraft};
use crate::lifecycle::{self, Actor, Cause, CauseKind, Stage, StageChange};
use crate::model::{Contact, Response};
use crate::response::{Direction, ObtainedVia, channel_direction};
use crate::{Email, NewEvent, Timestamp};
use serde_json::{Map, Value, json};
use uuid::Uuid;

/// What a contact already has, as far as an import needs to know.
#[derive(Debug, Clone, PartialEq)]
pub struct Known {
    pub contact: Contact,
    /// `(at, action, channel)` of each response.
    pub responses: Vec<(Timestamp, String, Option<String>)>,
    /// `(to, at)` of each stage change.
    pub stages: Vec<(Stage, Timestamp)>,
    /// `(kind, at, url)` of each event, when the mapping imports events.
    pub events: Vec<(String, Timestamp, Option<String>)>,
}

impl Known {
    pub fn new(contact: Contact) -> Self {
        Self { contact, responses: Vec::new(), stages: Vec::new(), events: Vec::new() }
    }
}

/// Everything to write for one row.
#[derive(Debug, Clone, PartialEq)]
pub struct RowPlan {
    pub contact: Contact,
    pub is_new: bool,
    /// For an existing contact, each changed field: `{"field": {"from": …, "to": …}}`.
    pub changes: Map<String, Value>,
    pub responses: Vec<Response>,
    pub stage_changes: Vec<StageChange>,
    pub events: Vec<NewEvent>,
}

impl RowPlan {
    /// Whether applying the plan writes anything.
    pub fn is_noop(&self) -> bool {
        !self.is_new
            && self.changes.is_empty()
            && self.responses.is_empty()
            && self.stage_changes.is_empty()
            && self.events.is_empty()
    }

    /// Splits the plan into the contact as it stands after it, with what it now has
    /// (for a later row of the same file naming the same person), and the records to
    /// write.
    pub fn settle(self, before: Option<Known>) -> (Known, NewRecords) {
        let RowPlan { contact, changes, responses, stage_changes, events, .. } = self;
        let mut k = match before {
            Some(k) => Known { contact, ..k },
            None => Known::new(contact),
        };
        k.responses.extend(responses.iter().map(|r| (r.at, r.action.clone(), r.channel.clone())));
        k.stages.extend(stage_changes.iter().map(|s| (s.to, s.at)));
        k.events.extend(events.iter().map(|e| (e.kind.to_string(), e.at, e.url.clone())));
        (k, NewRecords { changes, responses, stage_changes, events })
    }
}

/// What a planned row adds: the changed fields and the new history.
#[derive(Debug, Clone, PartialEq)]
pub struct NewRecords {
    pub changes: Map<String, Value>,
    pub responses: Vec<Response>,
    pub stage_changes: Vec<StageChange>,
    pub events: Vec<NewEvent>,
}

/// The caller's choices, so that planning stays deterministic.
pub struct Stamp<'a> {
    pub now: Timestamp,
    /// The account the row's company domain (or email domain) belongs to.
    pub account_id: Option<Uuid>,
    /// Names the import in the history it writes (`import <id>`).
    pub import_label: &'a str,
    pub actor: &'a Actor,
    /// Makes a new id (contacts, responses).
    pub new_id: &'a mut dyn FnMut() -> Uuid,
}

/// Plans `row` for `known`, the contact it names (if any).
pub fn plan_row(known: Option<&Known>, row: &ImportRow, stamp: Stamp<'_>) -> RowPlan {
    let Stamp { now, account_id, import_label, actor, new_id } = stamp;
    let response_channel = row.channel.as_ref().or_else(|| row.response.as_ref().and_then(|r| r.channel.as_ref()));
    let direction = row
        .direction
        .or_else(|| row.response.as_ref().and_then(|r| r.direction))
        .or_else(|| response_channel.map(|c| channel_direction(Some(c))))
        .unwrap_or(Direction::Outbound);
    let first_at = [row.created_at, row.response.as_ref().and_then(|r| r.at)]
        .into_iter()
        .chain(row.stages.iter().map(|s| s.at))
        .flatten()
        .min();

    let mut changes = Map::new();
    let (mut contact, is_new) = match known {
        Some(k) => (k.contact.clone(), false),
        None => {
            let email = row.email.as_ref().map(Email::to_string);
            let channel = response_channel.map(|c| c.to_string());
            // A creation time the file states is believed; else the earliest time it gives.
            let created = row.created_at.or(first_at).unwrap_or(now);
            let id = row.id.unwrap_or_else(&mut *new_id);
            (Contact::new(id, email, direction, channel, Stage::Suspect, created), true)
        }
    };

    // Fields: a value in the file replaces what is known; a blank changes nothing.
    {
        let mut set = |name: &str, slot: &mut Option<String>, new: &Option<String>| {
            if let Some(new) = new
                && slot.as_deref() != Some(new.as_str())
            {
                if !is_new {
                    changes.insert(name.into(), json!({"from": slot, "to": new}));
                }
                *slot = Some(new.clone());
            }
        };
        set("email", &mut contact.email, &row.email.as_ref().map(Email::to_string));
        set("first_name", &mut contact.first_name, &row.first_name);
        set("last_name", &mut contact.last_name, &row.last_name);
        set("company", &mut contact.company, &row.company);
        set("title", &mut contact.title, &row.title);
        set("phone", &mut contact.phone, &row.phone);
        set("country", &mut contact.country, &row.country);
        set("owner", &mut contact.owner, &row.owner);
        set("channel", &mut contact.channel, &row.channel.as_ref().map(|c| c.to_string()));
    }
    if !is_new
        && let Some(d) = row.direction
        && d != contact.direction
    {
        changes.insert("direction".into(), json!({"from": contact.direction, "to": d}));
        contact.direction = d;
    }
    for (name, flag, slot) in [
        ("do_not_email", row.do_not_email, &mut contact.do_not_email),
        ("do_not_call", row.do_not_call, &mut contact.do_not_call),
    ] {
        // Only ever made more restrictive by a file.
        if flag == Some(true) && !*slot {
            if !is_new {
                changes.insert(name.into(), json!({"from": false, "to": true}));
            }
            *slot = true;
        }
    }
    for (key, value) in &row.custom {
        if contact.custom.get(key) != Some(value) {
            if !is_new {
                changes.insert(format!("custom.{key}"), json!({"from": contact.custom.get(key), "to": value}));
            }
            contact.custom.insert(key.clone(), value.clone());
        }
    }
    if contact.account_id.is_none() && account_id.is_some() {
        if !is_new {
            changes.insert("account_id".into(), json!({"from": null, "to": account_id}));
        }
        contact.account_id = account_id;
    }

    // History.
    let mut history: Vec<(Stage, Timestamp)> = known.map(|k| k.stages.clone()).unwrap_or_default();
    let mut stage_changes = Vec::new();
    let mut responses = Vec::new();
    if let Some(r) = &row.response {
        let at = r.at.unwrap_or(now);
        let action = r.action.as_ref().map_or("list_entry", |a| a.as_str()).to_owned();
        let channel = r.channel.as_ref().map(|c| c.to_string());
        let seen = known.is_some_and(|k| {
            k.responses.iter().any(|(t, a, c)| (r.at.is_none() || *t == at) && *a == action && *c == channel)
        });
        if !seen {
            responses.push(response(&contact, r, at, action, channel, direction, new_id()));
        }
    }
    // A file that gives a stage at the contact's first moment says how it arrived
    // (a leadgate export's `arrived_as`, HubSpot's "Became a Lead Date"); otherwise how
    // it arrived is read from its first response: on a list, or by acting.
    let arrival_given = row.stages.iter().any(|s| s.at == Some(contact.created_at));
    if is_new && !arrival_given {
        let inquiry = responses.first().is_some_and(|r| r.action != "list_entry");
        let (to, kind) =
            if inquiry { (Stage::Prospect, CauseKind::Inquiry) } else { (Stage::Suspect, CauseKind::ListEntry) };
        let cause = Cause::new(kind, import_label);
        if let Ok(change) = lifecycle::transition(contact.id, None, to, cause, actor, contact.created_at) {
            history.push((change.to, change.at));
            stage_changes.push(change);
        }
    }
    // A stage the row does not date, when the row dates a stage that follows it (a
    // deal's opportunity and its close), had happened by then: it takes that date,
    // and is otherwise still treated as undated (recorded once, never going back).
    let drafts: Vec<(StageDraft, bool)> = row
        .stages
        .iter()
        .map(|d| {
            let borrowed = d.at.is_none().then(|| dated_after(&row.stages, d.stage)).flatten();
            (StageDraft { at: d.at.or(borrowed), ..d.clone() }, d.at.is_none())
        })
        .collect();
    let mut drafts: Vec<_> = drafts.iter().collect();
    // The arrival first (it is the contact's first recorded change), then by time.
    drafts.sort_by_key(|(s, _)| (!(is_new && arrival_given && s.at == Some(contact.created_at)), s.at.unwrap_or(now)));
    for (draft, undated) in drafts {
        let at = draft.at.unwrap_or(now);
        let seen = history.iter().any(|(to, t)| *to == draft.stage && (*undated || *t == at));
        if seen || (*undated && undated_goes_back(latest(&history).map(|(s, _)| s), draft.stage)) {
            continue;
        }
        // A customer's later deals, open, lost or won, neither take it back nor win it
        // again: it is won once.
        let won_by_then = history.iter().any(|(to, t)| *to == Stage::Customer && *t <= at);
        if won_by_then && matches!(draft.stage, Stage::Opportunity | Stage::Lost | Stage::Customer) {
            continue;
        }
        let from = stage_at(&history, at);
        let detail = match &draft.reason {
            Some(reason) => format!("{import_label}: {reason}"),
            None => import_label.to_owned(),
        };
        let cause = Cause::new(CauseKind::Import, detail);
        if let Ok(mut change) = lifecycle::transition(contact.id, from, draft.stage, cause, actor, at) {
            change.value = draft.value;
            history.push((change.to, change.at));
            stage_changes.push(change);
        }
    }
    // The stage is where the latest change led, except that an imported change further
    // down the main path wins even when dated earlier: files disagree about dates
    // (a deal won two days before the lead's recorded first contact) far more often
    // than buyers walk back up the funnel. Not when the row ends off the path (a deal
    // lost after it was an opportunity): then the latest change stands.
    let imported = || stage_changes.iter().filter(|c| c.cause == CauseKind::Import);
    let row_ends_on_path = imported().max_by_key(|c| c.at).is_none_or(|c| c.to.rank().is_some());
    let furthest = imported().filter(|_| row_ends_on_path).max_by_key(|c| (c.to.rank(), c.at));
    let current = match (latest(&history), furthest) {
        (Some((stage, _)), Some(f)) if f.to.is_after(stage) => Some((f.to, f.at)),
        (l, _) => l,
    };
    // A row that adds no stage change leaves the stage alone (re-importing a file
    // changes nothing).
    if !stage_changes.is_empty()
        && let Some((stage, at)) = current
        && (stage != contact.stage || at != contact.stage_at)
    {
        if !is_new && stage != contact.stage {
            changes.insert("stage".into(), json!({"from": contact.stage, "to": stage}));
        }
        contact.stage = stage;
        contact.stage_at = at;
    }

    let mut events = Vec::new();
    for e in &row.events {
        let at = e.at.unwrap_or(now);
        let seen = known.is_some_and(|k| {
            k.events
                .iter()
                .any(|(kind, t, url)| kind == e.kind.as_str() && (e.at.is_none() || *t == at) && *url == e.url)
        }) || events.iter().any(|n: &NewEvent| n.kind == e.kind && n.at == at && n.url == e.url);
        if !seen {
            events.push(NewEvent {
                contact_id: Some(contact.id),
                email: None,
                visitor_id: None,
                kind: e.kind.clone(),
                at,
                url: e.url.clone(),
                props: Value::Object(e.props.clone()),
            });
        }
    }

    let mut plan = RowPlan { is_new, changes, responses, stage_changes, events, contact };
    if !plan.is_noop() {
        plan.contact.updated_at = now;
    }
    plan
}

/// The stage a contact was at, at `at`, by `history` (the last change at or before it).
/// Whether a stage the file does not date would take a contact back: down the main
/// path, or a customer off it. Such a value is stale (an older export, a status left
/// from before the deal) more often than news, and it is not applied.
fn undated_goes_back(now: Option<Stage>, to: Stage) -> bool {
    now.is_some_and(|now| now.is_after(to) || (now == Stage::Customer && to.rank().is_none()))
}

/// The earliest date `stages` give a stage that follows `stage`: one further down the
/// main path, or a deal lost after it.
fn dated_after(stages: &[StageDraft], stage: Stage) -> Option<Timestamp> {
    let follows = |to: Stage| to.is_after(stage) || (to == Stage::Lost && stage.rank().is_some());
    stages.iter().filter(|d| follows(d.stage)).filter_map(|d| d.at).min()
}

fn stage_at(history: &[(Stage, Timestamp)], at: Timestamp) -> Option<Stage> {
    history.iter().enumerate().filter(|(_, (_, t))| *t <= at).max_by_key(|(i, (_, t))| (*t, *i)).map(|(_, (s, _))| *s)
}

fn latest(history: &[(Stage, Timestamp)]) -> Option<(Stage, Timestamp)> {
    history.iter().enumerate().max_by_key(|(i, (_, t))| (*t, *i)).map(|(_, h)| *h)
}

fn response(
    contact: &Contact,
    r: &ResponseDraft,
    at: Timestamp,
    action: String,
    channel: Option<String>,
    contact_direction: Direction,
    id: Uuid,
) -> Response {
    let direction = r.direction.unwrap_or_else(|| match &r.channel {
        Some(c) => channel_direction(Some(c)),
        None => contact_direction,
    });
    Response {
        id,
        contact_id: contact.id,
        at,
        direction,
        channel,
        campaign: r.campaign.clone(),
        placement: r.placement.clone(),
        referrer: r.referrer.clone(),
        vendor: r.vendor.clone(),
        action,
        obtained_via: r.obtained_via.unwrap_or(ObtainedVia::ListImport).as_str().to_owned(),
        offer: r.offer.clone(),
        form_id: None,
        message: r.message.clone(),
        fields: r.fields.clone(),
        contact_fields: r.contact_fields.clone(),
        junk: None,
        inbox_id: None,
    }
}
