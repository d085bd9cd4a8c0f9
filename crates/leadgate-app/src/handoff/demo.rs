//! The demo's people: teams, users with territories and capacities, routing rules, the
//! contacts at mql handed over when they reached it (so that some clocks have run out),
//! and a few accepted and rejected with reasons.

use super::people::{TeamInput, UserInput};
use crate::{App, AppError};
use leadgate_core::Timestamp;
use leadgate_core::handoff::acceptance::DEFAULT_REASONS;
use leadgate_core::handoff::calendar::{CalendarSpec, SlaSpec};
use leadgate_core::handoff::people::{Escalation, MARKET_RESPONSE, SALES_DEVELOPMENT, UserRole};
use leadgate_core::handoff::routing::{RoutingRuleSpec, Strategy};
use leadgate_core::lifecycle::{Actor, Stage};
use leadgate_core::model::ContactFilter;
use leadgate_core::response::Direction;
use std::collections::HashMap;
use uuid::Uuid;

/// What the demo's hand-off holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct DemoHandoff {
    pub users: usize,
    pub handed_over: usize,
    pub accepted: usize,
    pub rejected: usize,
    pub breached: u64,
}

const ENTERPRISE: &str = "Enterprise";
/// Contacts handed over at once.
const PAGE: i64 = 2_000;
/// How far back the demo hands contacts at mql over as of when they got there.
const RECENT_DAYS: i64 = 14;

fn user(name: &str, role: UserRole, team: Option<&str>, capacity: i64, territories: &[&str]) -> UserInput {
    let email = format!("{}@leadgate.example", name.to_lowercase());
    UserInput {
        name: name.to_owned(),
        email,
        role,
        team: team.map(str::to_owned),
        capacity: Some(capacity),
        territories: territories.iter().map(|t| t.to_string()).collect(),
        accounts: vec![],
        away_until: None,
    }
}

impl App {
    /// Creates the demo's teams, people and rules, hands over the contacts at mql as of
    /// when they reached it, answers some, and sweeps the clocks.
    pub(crate) async fn load_demo_handoff(&self, seed: u64) -> Result<DemoHandoff, AppError> {
        let now = self.now();
        let enterprise = TeamInput {
            name: ENTERPRISE.into(),
            direction: Some(Direction::Inbound),
            sla: Some(SlaSpec::BusinessHours(2.0)),
            calendar: Some(CalendarSpec {
                time_zone: "Europe/Berlin".into(),
                hours: ["mon", "tue", "wed", "thu", "fri"]
                    .iter()
                    .map(|d| (d.to_string(), "08:00-18:00".to_string()))
                    .collect(),
                holidays: vec!["2026-12-24".into(), "2026-12-25".into(), "2026-12-26".into(), "2027-01-01".into()],
            }),
            escalation: Some(Escalation::Manager),
        };
        self.create_team(&enterprise).await?;
        let mut away = user("Sam", UserRole::Sdr, Some(SALES_DEVELOPMENT), 60, &["GB", "US"]);
        away.away_until = Some(Timestamp(now.0 + 7 * leadgate_core::time::MICROS_PER_DAY).to_rfc3339());
        let filter = ContactFilter { stage: Some(Stage::Mql), ..ContactFilter::default() };
        let mut owner = user("Tara", UserRole::Seller, Some(ENTERPRISE), 15, &[]);
        // The companies of the first three contacts at mql with one are hers.
        for c in self.store.contacts(&filter, None, PAGE).await? {
            let domain =
                c.account_id.and(c.email.as_deref()).and_then(|e| e.rsplit_once('@')).map(|(_, d)| d.to_owned());
            if let Some(d) = domain.filter(|d| !owner.accounts.contains(d)) {
                owner.accounts.push(d);
            }
            if owner.accounts.len() == 3 {
                break;
            }
        }
        let people = [
            user("Mia", UserRole::Qualifier, Some(MARKET_RESPONSE), 40, &["DE", "NL", "PL"]),
            user("Noah", UserRole::Qualifier, Some(MARKET_RESPONSE), 40, &["FR", "ES", "IT"]),
            user("Olivia", UserRole::Qualifier, Some(MARKET_RESPONSE), 40, &["GB", "US", "SE", "BR"]),
            user("Paul", UserRole::Manager, Some(MARKET_RESPONSE), 20, &[]),
            user("Quinn", UserRole::Sdr, Some(SALES_DEVELOPMENT), 60, &["DE", "NL", "PL", "SE"]),
            user("Rosa", UserRole::Sdr, Some(SALES_DEVELOPMENT), 60, &["FR", "ES", "IT", "BR"]),
            away,
            owner,
            user("Uma", UserRole::Seller, Some(ENTERPRISE), 15, &[]),
            user("Victor", UserRole::Manager, Some(ENTERPRISE), 10, &[]),
            user("Wendy", UserRole::Admin, None, 1, &[]),
        ];
        for p in &people {
            self.create_user(p).await?;
        }
        // The built-in rules, with senior buyers sent to Enterprise before the rest.
        let mut rules = super::builtin_rules();
        let senior = RoutingRuleSpec {
            name: "senior buyers".into(),
            when: "contact.title in [\"CEO\", \"CTO\", \"VP Marketing\", \"Head of Sales\"]".into(),
            queue: ENTERPRISE.into(),
            assign: vec![Strategy::AccountOwner, Strategy::RoundRobin],
            weight: 2,
            at_any_stage: false,
        };
        rules.rules.insert(1, senior);
        self.save_routing_rules(&rules, &Actor::Operator).await?;

        // The contacts that reached mql in the last fortnight, handed over when they got
        // there; the server hands the others over as it starts, their clocks fresh.
        let since = Timestamp(now.0 - RECENT_DAYS * leadgate_core::time::MICROS_PER_DAY);
        let (mut after, mut handed_over) = (None, 0);
        loop {
            let page = self.store.contacts(&filter, after, PAGE).await?;
            let Some(last) = page.last() else { break };
            after = Some(last.id);
            let recent: Vec<_> = page.iter().filter(|c| c.stage_at >= since).collect();
            let queued: HashMap<Uuid, Timestamp> = recent.iter().map(|c| (c.id, c.stage_at)).collect();
            let ids: Vec<Uuid> = recent.iter().map(|c| c.id).collect();
            self.hand_over_at(&ids, &queued).await?;
            handed_over += ids.len();
        }
        // The most recent few, answered by whoever holds them.
        let items = self.store.latest_items(400).await?;
        let users = self.store.users().await?;
        let (mut accepted, mut rejected) = (0, 0);
        // A quarter of them, at most 24: the rest wait, most past their SLA.
        let answer = (handed_over / 4).min(24);
        for (i, item) in items.iter().filter(|i| i.assignee_id.is_some()).enumerate().take(answer) {
            let Some(who) = users.iter().find(|u| Some(u.id) == item.assignee_id) else { continue };
            let actor = Actor::User(who.email.clone());
            if i % 2 == 0 {
                self.accept(item.contact_id, &Default::default(), &actor).await?;
                accepted += 1;
            } else {
                let reason = DEFAULT_REASONS[(i / 2 + seed as usize) % DEFAULT_REASONS.len()];
                let input = super::RejectInput { reason: Some(reason.into()), note: Some("from the demo".into()) };
                self.reject(item.contact_id, &input, &actor).await?;
                rejected += 1;
            }
        }
        let breached = self.sweep_sla().await?.breached;
        Ok(DemoHandoff { users: people.len(), handed_over, accepted, rejected, breached })
    }
}
