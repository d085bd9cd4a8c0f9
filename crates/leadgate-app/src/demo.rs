//! Realistic, deterministic demo data: inbound and outbound contacts over the twelve
//! months before a day, arriving through channels that convert very differently, with
//! full stage histories (including rejections sent to nurture that later closed) and
//! activity events.
//!
//! The same `(contacts, seed, day)` always gives the same data: every random choice
//! comes from a seeded generator, ids included. All addresses use the reserved
//! `.example` domain, so demo data can never email a real person.

use crate::AppError;
use crate::ErrorCode;
use leadgate_core::consent::ConsentRecord;
use leadgate_core::model::{Account, Contact, Response};
use leadgate_core::reports::Month;
use leadgate_core::spend::{DEFAULT_CURRENCY, Spend, SpendDraft};
use leadgate_core::time::MICROS_PER_DAY;
use leadgate_core::{CauseKind, Direction, Ident, NewEvent, Stage, StageChange, Timestamp};
use leadgate_store::{Bulk, Store};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use serde_json::{Map, json};
use std::sync::Arc;
use uuid::Uuid;

/// Contacts generated and written per transaction.
const CHUNK: usize = 10_000;

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Summary {
    pub contacts: usize,
    pub accounts: usize,
    pub responses: usize,
    pub stage_changes: usize,
    pub events: usize,
    pub consents: usize,
    pub spend_entries: usize,
    /// The people, queues and answers of the hand-off.
    pub handoff: crate::handoff::DemoHandoff,
}

struct Channel {
    name: &'static str,
    direction: Direction,
    weight: u32,
    /// How much better than average its contacts convert.
    quality: f64,
}

const CHANNELS: &[Channel] = &[
    Channel { name: "organic_search", direction: Direction::Inbound, weight: 30, quality: 1.3 },
    Channel { name: "paid_search", direction: Direction::Inbound, weight: 20, quality: 0.9 },
    Channel { name: "referral", direction: Direction::Inbound, weight: 10, quality: 1.8 },
    Channel { name: "word_of_mouth", direction: Direction::Inbound, weight: 6, quality: 2.0 },
    Channel { name: "social", direction: Direction::Inbound, weight: 12, quality: 0.6 },
    Channel { name: "email_newsletter", direction: Direction::Inbound, weight: 8, quality: 1.0 },
    Channel { name: "event", direction: Direction::Inbound, weight: 6, quality: 1.2 },
    Channel { name: "display", direction: Direction::Inbound, weight: 5, quality: 0.4 },
    Channel { name: "pr", direction: Direction::Inbound, weight: 3, quality: 1.0 },
    Channel { name: "purchased_list", direction: Direction::Outbound, weight: 40, quality: 0.5 },
    Channel { name: "cold_outreach", direction: Direction::Outbound, weight: 30, quality: 0.7 },
    Channel { name: "pay_per_lead", direction: Direction::Outbound, weight: 20, quality: 0.3 },
    Channel { name: "market_development", direction: Direction::Outbound, weight: 10, quality: 0.8 },
];

/// What a contact of each paid channel costs, in cents: clicks, lists, leads bought,
/// stands at events.
const PAID: &[(&str, i64)] = &[
    ("paid_search", 4_000),
    ("display", 2_500),
    ("social", 1_200),
    ("event", 9_000),
    ("purchased_list", 150),
    ("pay_per_lead", 3_500),
];

struct Offer {
    name: &'static str,
    action: &'static str,
    /// Relevant assets attract buyers; generic giveaways attract everyone.
    relevance: f64,
}

const OFFERS: &[Offer] = &[
    Offer { name: "CRM buyer's guide", action: "download", relevance: 1.3 },
    Offer { name: "Pipeline ROI calculator", action: "form_fill", relevance: 1.2 },
    Offer { name: "Webinar: lead hand-off that works", action: "registration", relevance: 1.0 },
    Offer { name: "Product demo", action: "demo_request", relevance: 1.6 },
    Offer { name: "Win a trip to Lisbon", action: "form_fill", relevance: 0.4 },
];

const FIRST: &[&str] = &[
    "ann", "bob", "carla", "david", "elena", "farid", "grace", "hugo", "ines", "jonas", "kira", "liam", "maya", "nils",
    "olga", "pedro", "quinn", "rosa", "sam", "tara", "umar", "vera", "wen", "xavier", "yara", "zoe", "amir", "bea",
    "chen", "dora", "emil", "fatima", "gus", "hana", "ivan", "julia", "kofi", "lena", "marco", "nora", "omar", "priya",
    "ravi", "sofia", "tom", "ulla", "victor", "wanda",
];
const LAST: &[&str] = &[
    "lee", "smith", "garcia", "müller", "rossi", "kim", "nguyen", "silva", "novak", "kowalski", "dubois", "jansen",
    "okafor", "haddad", "tanaka", "ivanova", "larsen", "moreau", "costa", "fischer", "patel", "schmidt", "brown",
    "lopez", "hansen", "weber", "ali", "meyer", "khan", "berg",
];
const WORDS_A: &[&str] = &[
    "bright", "north", "blue", "silver", "rapid", "green", "iron", "clear", "summit", "harbor", "pioneer", "vertex",
    "lumen", "atlas", "cedar", "delta", "ember", "falcon", "granite", "horizon",
];
const WORDS_B: &[&str] = &[
    "logistics",
    "analytics",
    "health",
    "robotics",
    "foods",
    "energy",
    "capital",
    "software",
    "labs",
    "systems",
    "media",
    "retail",
    "works",
    "networks",
    "bio",
    "motors",
    "finance",
    "studio",
    "cloud",
    "freight",
];
const INDUSTRIES: &[&str] =
    &["software", "manufacturing", "logistics", "healthcare", "retail", "financial services", "education", "energy"];
const TITLES: &[&str] = &[
    "Marketing Manager",
    "Head of Sales",
    "VP Marketing",
    "CEO",
    "CTO",
    "Operations Director",
    "Sales Rep",
    "Analyst",
    "Procurement Lead",
    "Founder",
    "IT Manager",
    "Student",
];
const COUNTRIES: &[&str] = &["DE", "FR", "GB", "US", "NL", "ES", "IT", "PL", "SE", "BR"];
/// Rejections as Sales gives them: a reason code, then a note.
const REJECTIONS: &[&str] = &[
    "not_ready: wants to wait a quarter",
    "no_need: wrong kind of company",
    "no_budget: none this year",
    "no_need: too small",
];
const LOSSES: &[&str] = &["lost: price", "lost: chose a competitor", "lost: no decision"];
const EVENT_KINDS: &[(&str, u32)] = &[
    ("page_view", 55),
    ("email_open", 20),
    ("email_click", 8),
    ("download", 6),
    ("pricing_view", 7),
    ("webinar_attended", 4),
];

/// Generates and writes `contacts` demo contacts, calling `progress` with each written
/// chunk's size. `now` anchors the twelve months (at the start of its day).
pub async fn load(
    store: Arc<dyn Store>,
    contacts: usize,
    seed: u64,
    activity: u32,
    now: Timestamp,
    mut progress: impl FnMut(usize),
) -> Result<Summary, AppError> {
    let end = Timestamp(now.0 - now.0.rem_euclid(MICROS_PER_DAY));
    let world = Arc::new(World::new(contacts, seed, activity, end));
    // Accounts go into the first chunk's transaction: an interrupted load leaves either
    // nothing or some contacts (which `demo` then refuses to add to), never orphans.
    let mut accounts = Some(world.accounts());
    let mut summary = Summary { accounts: accounts.as_ref().map_or(0, Vec::len), ..Summary::default() };

    // Generation (CPU) on a blocking thread overlaps with writing (database).
    let (tx, mut rx) = tokio::sync::mpsc::channel::<Bulk>(2);
    let producer = {
        let world = world.clone();
        tokio::task::spawn_blocking(move || {
            for start in (0..contacts).step_by(CHUNK) {
                let bulk = world.chunk(start, (start + CHUNK).min(contacts));
                if tx.blocking_send(bulk).is_err() {
                    return;
                }
            }
        })
    };
    let mut arrivals = std::collections::BTreeMap::<(String, Month), u64>::new();
    while let Some(mut bulk) = rx.recv().await {
        if let Some(first) = accounts.take() {
            bulk.accounts = first;
        }
        for c in &bulk.contacts {
            if let Some(channel) = &c.channel {
                *arrivals.entry((channel.clone(), Month::of(c.created_at))).or_default() += 1;
            }
        }
        store.bulk_load(&bulk).await?;
        summary.contacts += bulk.contacts.len();
        summary.responses += bulk.responses.len();
        summary.stage_changes += bulk.stage_changes.len();
        summary.events += bulk.events.len();
        summary.consents += bulk.consents.len();
        progress(bulk.contacts.len());
    }
    producer.await.map_err(|e| AppError::new(ErrorCode::Internal, e.to_string()))?;
    // In the workspace's currency, whatever it was set to before.
    let mut tx = store.begin().await?;
    let currency = tx.claim_setting(crate::spend::CURRENCY, DEFAULT_CURRENCY, end, "system").await?;
    let spend = world.spend(&arrivals, &currency);
    tx.insert_spend(&spend).await?;
    tx.commit().await?;
    summary.spend_entries = spend.len();
    store.refresh_statistics().await?;
    Ok(summary)
}

struct World {
    seed: u64,
    contacts: usize,
    /// Times the default activity (about two events a contact).
    activity: u32,
    end: Timestamp,
    start: Timestamp,
    accounts: usize,
}

fn pick<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T]) -> &'a T {
    &items[rng.random_range(0..items.len())]
}

fn weighted<'a, T>(rng: &mut ChaCha8Rng, items: &'a [T], weight: impl Fn(&T) -> u32) -> &'a T {
    let total: u32 = items.iter().map(&weight).sum();
    let mut x = rng.random_range(0..total);
    for it in items {
        let w = weight(it);
        if x < w {
            return it;
        }
        x -= w;
    }
    &items[items.len() - 1]
}

fn id_at(rng: &mut ChaCha8Rng, at: Timestamp) -> Uuid {
    let bytes: [u8; 10] = rng.random();
    uuid::Builder::from_unix_timestamp_millis((at.0 / 1_000).max(0) as u64, &bytes).into_uuid()
}

fn days(rng: &mut ChaCha8Rng, lo: i64, hi: i64) -> i64 {
    rng.random_range(lo * MICROS_PER_DAY..=hi * MICROS_PER_DAY)
}

fn capitalise(s: &str) -> String {
    let mut c = s.chars();
    c.next().map(|f| f.to_uppercase().collect::<String>() + c.as_str()).unwrap_or_default()
}

impl World {
    fn new(contacts: usize, seed: u64, activity: u32, end: Timestamp) -> Self {
        Self {
            seed,
            contacts,
            activity: activity.max(1),
            end,
            start: Timestamp(end.0 - 365 * MICROS_PER_DAY),
            accounts: (contacts / 6).max(1),
        }
    }

    /// A month's spend on each paid channel: what a contact of it costs, times those
    /// that arrived through it that month, give or take a tenth.
    fn spend(&self, arrivals: &std::collections::BTreeMap<(String, Month), u64>, currency: &str) -> Vec<Spend> {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0x5_9E4D);
        let mut entries = Vec::new();
        for ((channel, month), n) in arrivals {
            let Some((_, per_contact)) = PAID.iter().find(|(name, _)| name == channel) else { continue };
            let amount = (*n as f64 * *per_contact as f64 * rng.random_range(0.9..1.1)).round() as i64;
            let to = Month(month.0 + 1).start().min(self.end);
            let draft = SpendDraft {
                amount: Some(amount),
                from: Some(month.start().max(self.start)),
                to: Some(to),
                channel: Some(channel.clone()),
                note: Some(format!("{channel} {month}")),
                ..SpendDraft::default()
            };
            let id = id_at(&mut rng, to);
            entries.push(draft.read(currency, id, to, "system").expect("demo spend is valid"));
        }
        entries
    }

    fn domain(&self, i: usize) -> (String, String) {
        let a = WORDS_A[i % WORDS_A.len()];
        let b = WORDS_B[(i / WORDS_A.len()) % WORDS_B.len()];
        let n = i / (WORDS_A.len() * WORDS_B.len());
        let suffix = if n == 0 { String::new() } else { n.to_string() };
        let name = format!("{} {}", capitalise(a), capitalise(b));
        (format!("{a}{b}{suffix}.example"), if n == 0 { name } else { format!("{name} {n}") })
    }

    fn accounts(&self) -> Vec<Account> {
        (0..self.accounts)
            .map(|i| {
                let (domain, name) = self.domain(i);
                Account { id: self.account_id(i), domain, name: Some(name), created_at: self.start }
            })
            .collect()
    }

    /// The id of account `i`, derived from the seed alone so that every chunk (each
    /// generated on its own) agrees with the account list.
    fn account_id(&self, i: usize) -> Uuid {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed ^ 0xACC0_0000 ^ ((i as u64) << 20));
        id_at(&mut rng, self.start)
    }

    fn chunk(&self, from: usize, to: usize) -> Bulk {
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) ^ from as u64);
        let mut bulk = Bulk::default();
        for i in from..to {
            self.contact(i, &mut rng, &mut bulk);
        }
        bulk
    }

    fn contact(&self, i: usize, rng: &mut ChaCha8Rng, bulk: &mut Bulk) {
        // Contacts arrive in time order, spread evenly over the year with jitter.
        let slot = (self.end.0 - self.start.0) / self.contacts.max(1) as i64;
        let created = Timestamp(self.start.0 + slot * i as i64 + rng.random_range(0..slot.max(1)));
        let outbound = rng.random_bool(0.45);
        let channels: Vec<&Channel> = CHANNELS
            .iter()
            .filter(|c| c.direction == if outbound { Direction::Outbound } else { Direction::Inbound })
            .collect();
        let channel = *weighted(rng, &channels, |c| c.weight);
        let account_index = rng.random_range(0..self.accounts);
        let (domain, company) = self.domain(account_index);
        let (first, last) = (*pick(rng, FIRST), *pick(rng, LAST));
        let id = id_at(rng, created);
        let mut custom = Map::new();
        custom.insert("employees".into(), json!(rng.random_range(5..5_000)));
        custom.insert("industry".into(), json!(pick(rng, INDUSTRIES)));
        let mut contact = Contact {
            id,
            email: Some(format!("{}.{}{}@{domain}", ascii(first), ascii(last), i)),
            first_name: Some(capitalise(first)),
            last_name: Some(capitalise(last)),
            company: Some(company),
            title: Some((*pick(rng, TITLES)).to_owned()),
            phone: None,
            country: Some((*pick(rng, COUNTRIES)).to_owned()),
            account_id: Some(self.account_id(account_index)),
            direction: channel.direction,
            channel: Some(channel.name.to_owned()),
            stage: Stage::Suspect,
            stage_at: created,
            owner: None,
            do_not_email: false,
            do_not_call: false,
            custom,
            created_at: created,
            updated_at: created,
            merged_into: None,
        };

        let offer = pick(rng, OFFERS);
        let (action, obtained_via, offer_name, relevance) = if outbound {
            let via = match channel.name {
                "pay_per_lead" => *pick(rng, &["third_party_form", "competitor_list"]),
                "purchased_list" => *pick(rng, &["category_list", "list_import"]),
                _ => "list_import",
            };
            ("list_entry", via, None, 1.0)
        } else {
            (offer.action, "own_form", Some(offer.name), offer.relevance)
        };
        let vendor = (channel.name == "pay_per_lead").then(|| (*pick(rng, &["LeadVault", "B2B Data Co"])).to_owned());
        let response = |rng: &mut ChaCha8Rng, at: Timestamp, action: &str, via: &str, offer: Option<&str>| Response {
            id: id_at(rng, at),
            contact_id: id,
            at,
            direction: channel.direction,
            channel: Some(channel.name.to_owned()),
            campaign: Some(format!("{}-{}", channel.name, at.to_rfc3339().get(..7).unwrap_or("x"))),
            placement: None,
            referrer: None,
            vendor: vendor.clone(),
            action: action.to_owned(),
            obtained_via: via.to_owned(),
            offer: offer.map(str::to_owned),
            form_id: None,
            message: None,
            fields: Map::new(),
            contact_fields: Map::new(),
            junk: None,
            inbox_id: None,
        };
        bulk.responses.push(response(rng, created, action, obtained_via, offer_name));

        let mut path = Path { contact_id: id, at: created, stage: None, changes: Vec::new() };
        let q = channel.quality * relevance;
        let p = |base: f64| (base * q).min(0.95);
        if outbound {
            path.go(Stage::Suspect, CauseKind::ListEntry, "list entry", 0);
            // Some suspects answer the outreach: that is their first inquiry.
            if rng.random_bool(p(0.25)) {
                let d = days(rng, 2, 60);
                if path.fits(self.end, d) {
                    path.go(Stage::Prospect, CauseKind::Inquiry, "replied to outreach", d);
                    bulk.responses.push(response(rng, path.at, "contact_request", "logged", None));
                }
            }
        } else if rng.random_bool(0.02) {
            path.go(Stage::Disqualified, CauseKind::Junk, "job_application: mentions \"my cv\"", 0);
        } else {
            path.go(Stage::Prospect, CauseKind::Inquiry, "form", 0);
        }
        if path.stage == Some(Stage::Prospect) {
            self.funnel(rng, &mut path, q);
        }
        if let Some(last) = path.changes.last() {
            contact.stage = last.to;
            contact.stage_at = last.at;
            contact.updated_at = last.at;
        }
        // Activity: more for contacts that went further.
        let depth = path.changes.len() as u32;
        let n_events = rng.random_range(0..=(2 + depth) * self.activity);
        let horizon = (path.at.0 + 30 * MICROS_PER_DAY).min(self.end.0);
        for _ in 0..n_events {
            let at = Timestamp(rng.random_range(created.0..=horizon.max(created.0)));
            let kind = weighted(rng, EVENT_KINDS, |k| k.1).0;
            bulk.events.push(NewEvent {
                contact_id: Some(id),
                email: None,
                visitor_id: None,
                kind: Ident::parse(kind).expect("valid kind"),
                at,
                url: Some(format!(
                    "https://www.leadgate.example/{}",
                    if kind == "pricing_view" { "pricing" } else { "blog" }
                )),
                props: json!({}),
            });
        }
        bulk.stage_changes.extend(path.changes);
        self.consent(&mut contact, bulk);
        bulk.contacts.push(contact);
    }

    /// Consent, for some of those who came to us: a newsletter confirmed by a double
    /// opt-in, which some later withdraw, some of them asking not to be emailed at all.
    /// Drawn apart from the rest, so that the rest of a contact is what it always was.
    fn consent(&self, contact: &mut Contact, bulk: &mut Bulk) {
        let mut rng = ChaCha8Rng::seed_from_u64(contact.id.as_u128() as u64 ^ self.seed);
        if contact.direction != Direction::Inbound || !rng.random_bool(0.3) {
            return;
        }
        let record = |at: Timestamp, granted: bool, source: &str| ConsentRecord {
            contact_id: contact.id,
            purpose: "newsletter".into(),
            granted,
            source: source.into(),
            at,
            actor: "system".into(),
            reason: None,
        };
        let confirmed = Timestamp(contact.created_at.0 + rng.random_range(60..86_400) * 1_000_000);
        if confirmed >= self.end {
            return;
        }
        bulk.consents.push(record(confirmed, true, "double opt-in email"));
        if rng.random_bool(0.12) {
            let left = Timestamp(confirmed.0 + rng.random_range(1..120) * MICROS_PER_DAY);
            if left < self.end {
                bulk.consents.push(record(left, false, "unsubscribe link"));
                contact.do_not_email = rng.random_bool(0.3);
            }
        }
    }

    /// From prospect onwards: qualification, hand-off, acceptance or rejection to
    /// nurture (from which some come back), opportunity, and won or lost.
    fn funnel(&self, rng: &mut ChaCha8Rng, path: &mut Path, q: f64) {
        let mut q = q;
        let mut recycled = false;
        let p = |q: f64, base: f64| (base * q).clamp(0.01, 0.95);
        loop {
            let d = days(rng, 1, 20);
            if !rng.random_bool(p(q, 0.45)) || !path.fits(self.end, d) {
                return;
            }
            path.go(Stage::Mql, CauseKind::Definition, "mql@1", d);
            let d = days(rng, 0, 3);
            if !rng.random_bool(0.8) || !path.fits(self.end, d) {
                return;
            }
            path.go(Stage::Sal, CauseKind::Acceptance, "accepted", d);
            let d = days(rng, 2, 20);
            if !path.fits(self.end, d) {
                return;
            }
            if rng.random_bool(p(q, 0.55)) {
                path.go(Stage::Sql, CauseKind::Definition, "sql@1", d);
                break;
            }
            path.go(Stage::Nurture, CauseKind::Rejection, pick::<&str>(rng, REJECTIONS), d);
            // Nurtured leads sometimes come back months later, readier to buy: the
            // evidence "rejected, then won" shows.
            let d = days(rng, 30, 150);
            if recycled || !rng.random_bool(0.4) || !path.fits(self.end, d) {
                return;
            }
            recycled = true;
            q *= 2.0;
            path.at = path.at.plus_micros(d);
            path.stage = Some(Stage::Nurture);
        }
        let d = days(rng, 3, 30);
        if !rng.random_bool(0.6) || !path.fits(self.end, d) {
            return;
        }
        path.go(Stage::Opportunity, CauseKind::Outcome, "opportunity opened", d);
        let d = days(rng, 15, 90);
        if !path.fits(self.end, d) {
            return;
        }
        if rng.random_bool(p(q, 0.35)) {
            let value = rng.random_range(5..250) * 1_000;
            path.go(Stage::Customer, CauseKind::Outcome, &format!("won: {value}"), d);
            // The deal's value, in minor units, for the cost report's return on spend.
            path.changes.last_mut().expect("just added").value = Some(value * 100);
        } else {
            path.go(Stage::Lost, CauseKind::Outcome, pick::<&str>(rng, LOSSES), d);
        }
    }
}

/// The stage history being built for one contact.
struct Path {
    contact_id: Uuid,
    at: Timestamp,
    stage: Option<Stage>,
    changes: Vec<StageChange>,
}

impl Path {
    fn fits(&self, end: Timestamp, d: i64) -> bool {
        self.at.0 + d < end.0
    }

    fn go(&mut self, to: Stage, cause: CauseKind, detail: &str, after: i64) {
        self.at = self.at.plus_micros(after);
        self.changes.push(StageChange {
            contact_id: self.contact_id,
            from: self.stage,
            to,
            at: self.at,
            cause,
            detail: detail.to_owned(),
            actor: "system".to_owned(),
            value: None,
        });
        self.stage = Some(to);
    }
}

fn ascii(s: &str) -> String {
    s.replace('ü', "ue")
}

impl crate::App {
    /// Loads `contacts` demo contacts ([`load`]) as of now.
    pub async fn load_demo(
        &self,
        contacts: usize,
        seed: u64,
        activity: u32,
        progress: impl FnMut(usize),
    ) -> Result<Summary, AppError> {
        let mut summary = load(self.store().clone(), contacts, seed, activity, self.now(), progress).await?;
        summary.handoff = self.load_demo_handoff(seed).await?;
        Ok(summary)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use leadgate_core::lifecycle::{self, Actor, Cause};
    use std::collections::{HashMap, HashSet};

    const DAY: Timestamp = Timestamp(1_790_000_000_000_000);

    fn generate(n: usize, seed: u64) -> Bulk {
        World::new(n, seed, 1, DAY).chunk(0, n)
    }

    #[test]
    fn the_same_seed_gives_the_same_data() {
        let (a, b) = (generate(300, 7), generate(300, 7));
        assert_eq!(a.contacts, b.contacts);
        assert_eq!(a.stage_changes, b.stage_changes);
        assert_ne!(generate(300, 8).contacts, a.contacts);
    }

    #[test]
    fn more_activity_gives_as_many_contacts_more_events() {
        let usual = World::new(2_000, 5, 1, DAY).chunk(0, 2_000);
        let busy = World::new(2_000, 5, 5, DAY).chunk(0, 2_000);
        assert_eq!(usual.contacts.len(), busy.contacts.len());
        let ratio = busy.events.len() as f64 / usual.events.len() as f64;
        assert!((4.0..6.5).contains(&ratio), "{} events against {}", busy.events.len(), usual.events.len());
    }

    #[test]
    fn every_generated_history_obeys_the_lifecycle_rules_and_ends_at_the_contacts_stage() {
        let world = World::new(3_000, 1, 1, DAY);
        let bulk = world.chunk(0, 3_000);
        let account_ids: HashSet<_> = world.accounts().iter().map(|a| a.id).collect();
        let mut last: HashMap<Uuid, &StageChange> = HashMap::new();
        for c in &bulk.stage_changes {
            let prev = last.get(&c.contact_id).map(|p| p.to);
            assert_eq!(c.from, prev, "history is a chain");
            let cause = Cause::new(c.cause, c.detail.clone());
            lifecycle::transition(c.contact_id, c.from, c.to, cause, &Actor::System, c.at)
                .unwrap_or_else(|e| panic!("{c:?}: {e}"));
            assert!(c.at < DAY, "nothing happens after the anchor day");
            last.insert(c.contact_id, c);
        }
        for contact in &bulk.contacts {
            assert_eq!(Some(contact.stage), last.get(&contact.id).map(|c| c.to));
            assert!(account_ids.contains(&contact.account_id.unwrap()), "every account exists");
            assert!(contact.email.as_deref().unwrap().ends_with(".example"));
        }
        let emails: HashSet<_> = bulk.contacts.iter().map(|c| c.email.clone()).collect();
        assert_eq!(emails.len(), bulk.contacts.len(), "emails are unique");
    }

    #[test]
    fn channels_convert_differently_and_both_directions_appear() {
        let bulk = generate(20_000, 3);
        let rate = |channel: &str| {
            let of: Vec<_> = bulk.contacts.iter().filter(|c| c.channel.as_deref() == Some(channel)).collect();
            let won = of.iter().filter(|c| c.stage == Stage::Customer).count();
            won as f64 / of.len().max(1) as f64
        };
        assert!(
            rate("referral") > 2.0 * rate("display"),
            "referral {} vs display {}",
            rate("referral"),
            rate("display")
        );
        assert!(rate("organic_search") > rate("pay_per_lead"));
        let outbound = bulk.contacts.iter().filter(|c| c.direction == Direction::Outbound).count();
        assert!((7_000..11_000).contains(&outbound), "{outbound} outbound of 20000");
        let rejected_then_won = bulk
            .contacts
            .iter()
            .filter(|c| c.stage == Stage::Customer)
            .filter(|c| bulk.stage_changes.iter().any(|s| s.contact_id == c.id && s.to == Stage::Nurture))
            .count();
        assert!(rejected_then_won > 0, "some rejected leads later closed");
    }

    #[test]
    fn some_who_came_to_us_confirmed_the_newsletter_and_some_withdrew() {
        let bulk = generate(5_000, 3);
        let by_id: HashMap<Uuid, &Contact> = bulk.contacts.iter().map(|c| (c.id, c)).collect();
        let granted = bulk.consents.iter().filter(|r| r.granted).count();
        let withdrawn: Vec<_> = bulk.consents.iter().filter(|r| !r.granted).collect();
        assert!((500..1_200).contains(&granted), "{granted} confirmed of 5000");
        assert!(!withdrawn.is_empty() && withdrawn.len() < granted / 5, "{} withdrew", withdrawn.len());
        for r in &bulk.consents {
            let c = by_id[&r.contact_id];
            assert_eq!(c.direction, Direction::Inbound, "only those who came to us");
            assert!(r.at > c.created_at && r.at < DAY, "after they came, before the anchor day");
        }
        let unreachable = bulk.contacts.iter().filter(|c| c.do_not_email).collect::<Vec<_>>();
        assert!(!unreachable.is_empty());
        assert!(unreachable.iter().all(|c| withdrawn.iter().any(|r| r.contact_id == c.id)), "only those who withdrew");
    }
}
