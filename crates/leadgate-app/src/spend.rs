//! Spend entries, and the workspace's currency they and deal values are counted in.

use crate::error::{date, invalid};
use crate::{App, AppError, ErrorCode};
use leadgate_core::Actor;
use leadgate_core::Timestamp;
use leadgate_core::import::value::{parse_amount, parse_number};
use leadgate_core::spend::{DEFAULT_CURRENCY, Spend, SpendDraft, currency};
use leadgate_store::{Store, StoreError, Tx};
use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// The setting that holds the workspace's currency.
pub(crate) const CURRENCY: &str = "currency";

/// Entries one request or file records at most: a year of daily spend on a few hundred
/// campaigns. More is a mistake (a file of something else), or an import to split.
pub const ENTRIES_MAX: usize = 100_000;

/// A spend entry as the API and CSV files give it.
#[derive(Debug, Clone, Default, Deserialize, utoipa::ToSchema)]
#[serde(deny_unknown_fields)]
pub struct SpendInput {
    /// Minor units (cents), 0 or more.
    pub amount: Option<i64>,
    /// Three letters; default: the workspace's currency.
    pub currency: Option<String>,
    /// For another currency: what one of it is worth in the workspace's.
    pub rate: Option<f64>,
    /// The first day of the period (`2026-03-01`, or RFC 3339), inclusive.
    pub from: Option<String>,
    /// The day after its last (`2026-04-01` for March), exclusive.
    pub to: Option<String>,
    /// Instead of `from` and `to`: a whole month, `2026-03`.
    pub month: Option<String>,
    /// `inbound` or `outbound`; default: what the channel implies.
    pub direction: Option<String>,
    pub channel: Option<String>,
    pub vendor: Option<String>,
    pub campaign: Option<String>,
    pub offer: Option<String>,
    pub note: Option<String>,
}

impl SpendInput {
    fn draft(self) -> Result<SpendDraft, AppError> {
        let (from, to) = match (self.month.as_deref().map(str::trim).filter(|m| !m.is_empty()), &self.from, &self.to) {
            (Some(_), Some(_), _) | (Some(_), _, Some(_)) => {
                return Err(invalid(ErrorCode::InvalidValue, "month", "give month, or from and to, not both"));
            }
            (Some(m), _, _) => {
                let month: leadgate_core::reports::Month =
                    m.parse().map_err(|e: String| invalid(ErrorCode::InvalidValue, "month", e))?;
                (Some(month.start()), Some(leadgate_core::reports::Month(month.0 + 1).start()))
            }
            (None, from, to) => (
                from.as_deref().filter(|s| !s.trim().is_empty()).map(|s| date(s, "from")).transpose()?,
                to.as_deref().filter(|s| !s.trim().is_empty()).map(|s| date(s, "to")).transpose()?,
            ),
        };
        Ok(SpendDraft {
            amount: self.amount,
            currency: self.currency.filter(|c| !c.trim().is_empty()),
            rate: self.rate,
            from,
            to,
            direction: self.direction,
            channel: self.channel,
            vendor: self.vendor,
            campaign: self.campaign,
            offer: self.offer,
            note: self.note,
        })
    }
}

/// The workspace's settings.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Settings {
    /// The currency of spend and deal values (three letters).
    pub currency: String,
    /// The reason codes Sales may give when rejecting a contact handed over.
    pub rejection_reasons: Vec<String>,
}

/// A page of spend entries, in the order they were recorded.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct SpendPage {
    pub currency: String,
    pub entries: Vec<Spend>,
    /// Give it as `after` for the next page; `null` on the last.
    pub next_after: Option<Uuid>,
}

/// Which entries a page lists.
#[derive(Debug, Clone, Default, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SpendQuery {
    /// Entries whose period reaches past this date…
    pub from: Option<String>,
    /// …and starts before this one.
    pub to: Option<String>,
    /// The `next_after` of the page before.
    pub after: Option<Uuid>,
    /// From 1 to 1,000, default 100.
    pub limit: Option<i64>,
}

impl App {
    /// The workspace's currency: as set, or [`DEFAULT_CURRENCY`].
    pub async fn currency(&self) -> Result<String, AppError> {
        Ok(self.store.setting(CURRENCY).await?.unwrap_or_else(|| DEFAULT_CURRENCY.to_owned()))
    }

    pub async fn settings(&self) -> Result<Settings, AppError> {
        Ok(Settings { currency: self.currency().await?, rejection_reasons: self.rejection_reasons().await? })
    }

    /// Sets the workspace's currency; refused once spend is recorded in another (its
    /// amounts would silently change meaning).
    pub async fn set_currency(&self, code: &str, actor: &Actor) -> Result<Settings, AppError> {
        let code = currency(code, "currency")?;
        let (now, by) = (self.now(), actor.label());
        let store = self.store.as_ref();
        crate::retry::on_contention("setting the currency", || set_currency_in(store, &code, now, &by)).await??;
        self.settings().await
    }

    /// Records entries, all or none; the first wrong one is named by its place (`[3]`,
    /// or the CSV line).
    pub async fn record_spend(
        &self,
        entries: Vec<(String, SpendInput)>,
        actor: &Actor,
    ) -> Result<Vec<Spend>, AppError> {
        if entries.is_empty() {
            return Err(AppError::new(ErrorCode::EmptyBatch, "no spend entries were given"));
        }
        if entries.len() > ENTRIES_MAX {
            return Err(AppError::new(
                ErrorCode::BatchTooLarge,
                format!("{} entries; at most {ENTRIES_MAX} are recorded at once", entries.len()),
            ));
        }
        let drafts = entries
            .into_iter()
            .map(|(place, input)| input.draft().map(|d| (place.clone(), d)).map_err(|e| within(e, &place)))
            .collect::<Result<Vec<_>, AppError>>()?;
        let (now, by) = (self.now(), actor.label());
        let ids: Vec<Uuid> = drafts.iter().map(|_| Uuid::now_v7()).collect();
        let store = self.store.as_ref();
        let recorded = crate::retry::on_contention("recording spend", || record_in(store, &drafts, &ids, now, &by));
        recorded.await?
    }

    /// Spend entries from a CSV file with a header naming [`SpendInput`]'s fields (any
    /// order, any case; columns left out are empty), each named by its line. A file's
    /// `amount` is money as import files write it (`1200.50`), not minor units.
    pub fn spend_csv(bytes: &[u8]) -> Result<Vec<(String, SpendInput)>, AppError> {
        let text = std::str::from_utf8(bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(bytes))
            .map_err(|_| AppError::new(ErrorCode::NotUtf8, "the spend file is not UTF-8 text"))?;
        let mut reader = csv::ReaderBuilder::new().trim(csv::Trim::All).from_reader(text.as_bytes());
        let header: Vec<String> = reader
            .headers()
            .map_err(|e| AppError::new(ErrorCode::NotCsv, format!("the spend file's header cannot be read: {e}")))?
            .iter()
            .map(|h| h.to_ascii_lowercase())
            .collect();
        const COLUMNS: [&str; 12] = [
            "amount",
            "currency",
            "rate",
            "from",
            "to",
            "month",
            "direction",
            "channel",
            "vendor",
            "campaign",
            "offer",
            "note",
        ];
        for (i, name) in header.iter().enumerate() {
            if !COLUMNS.contains(&name.as_str()) {
                return Err(invalid(
                    ErrorCode::UnknownField,
                    name,
                    format!("the spend file has a column {name:?}; its columns are some of: {}", COLUMNS.join(", ")),
                ));
            }
            if header[..i].contains(name) {
                return Err(invalid(ErrorCode::InvalidValue, name, format!("the spend file has two {name:?} columns")));
            }
        }
        if !header.iter().any(|h| h == "amount") {
            return Err(invalid(ErrorCode::MissingField, "amount", "the spend file has no amount column"));
        }
        let mut entries = Vec::new();
        for record in reader.records() {
            let record = record.map_err(|e| AppError::new(ErrorCode::NotCsv, format!("the spend file: {e}")))?;
            // The line the row starts on, as an editor shows it (a quoted cell may span lines).
            let line = format!("line {}", record.position().map_or(0, |p| p.line()));
            let text = |name: &str| {
                header.iter().position(|h| h == name).and_then(|i| record.get(i)).filter(|v| !v.is_empty())
            };
            let amount = text("amount")
                .map(|a| {
                    parse_amount(a).ok_or_else(|| {
                        invalid(
                            ErrorCode::InvalidValue,
                            "amount",
                            format!("amount must be an amount of money such as 1200 or 1200.50, not {a:?}"),
                        )
                        .within(&line)
                    })
                })
                .transpose()?;
            let rate = text("rate")
                .map(|r| {
                    parse_number(r).ok_or_else(|| {
                        invalid(ErrorCode::InvalidValue, "rate", format!("rate must be a number, not {r:?}"))
                            .within(&line)
                    })
                })
                .transpose()?;
            let owned = |name: &str| text(name).map(str::to_owned);
            let input = SpendInput {
                amount,
                currency: owned("currency"),
                rate,
                from: owned("from"),
                to: owned("to"),
                month: owned("month"),
                direction: owned("direction"),
                channel: owned("channel"),
                vendor: owned("vendor"),
                campaign: owned("campaign"),
                offer: owned("offer"),
                note: owned("note"),
            };
            entries.push((line, input));
            if entries.len() > ENTRIES_MAX {
                break;
            }
        }
        Ok(entries)
    }

    pub async fn spend_page(&self, q: &SpendQuery) -> Result<SpendPage, AppError> {
        let from = q.from.as_deref().map(|s| date(s, "from")).transpose()?;
        let to = q.to.as_deref().map(|s| date(s, "to")).transpose()?;
        let limit = q.limit.unwrap_or(100);
        if !(1..=1_000).contains(&limit) {
            return Err(invalid(ErrorCode::InvalidLimit, "limit", format!("limit must be 1 to 1000, not {limit}")));
        }
        let mut entries = self.store.spend_entries(from, to, q.after, limit + 1).await?;
        let more = entries.len() as i64 > limit;
        entries.truncate(limit as usize);
        let next_after = if more { entries.last().map(|e| e.id) } else { None };
        Ok(SpendPage { currency: self.currency().await?, entries, next_after })
    }

    /// Every entry that overlaps the period (for a report).
    pub(crate) async fn spend_within(&self, period: &leadgate_core::reports::Period) -> Result<Vec<Spend>, AppError> {
        let mut all = Vec::new();
        let mut after = None;
        loop {
            let page = self.store.spend_entries(period.from, period.to, after, 10_000).await?;
            after = page.last().map(|e| e.id);
            let last = page.len() < 10_000;
            all.extend(page);
            if last {
                return Ok(all);
            }
        }
    }

    pub async fn delete_spend(&self, id: Uuid) -> Result<(), AppError> {
        let mut tx = self.store.begin().await?;
        let result = tx.delete_spend(id).await.map_err(AppError::from).and_then(|found| {
            if found { Ok(()) } else { Err(AppError::new(ErrorCode::UnknownSpend, format!("no spend entry {id}"))) }
        });
        crate::finish(tx, result).await
    }
}

/// Sets the currency in a transaction of its own: refused (the inner error) when spend
/// is recorded in the one before.
async fn set_currency_in(
    store: &dyn Store,
    code: &str,
    now: Timestamp,
    by: &str,
) -> Result<Result<(), AppError>, StoreError> {
    let mut tx = store.begin().await?;
    let was = match tx.claim_setting(CURRENCY, DEFAULT_CURRENCY, now, by).await {
        Ok(was) => was,
        Err(e) => return rolled_back(tx, Err(e)).await,
    };
    let spent = match tx.any_spend().await {
        Ok(spent) => spent,
        Err(e) => return rolled_back(tx, Err(e)).await,
    };
    if was != code && spent {
        let refused = AppError::new(
            ErrorCode::CurrencyInUse,
            format!("spend is recorded in {was}; the currency cannot change under it (delete the entries first, or keep {was})"),
        )
        .field("currency");
        return rolled_back(tx, Ok(Err(refused))).await;
    }
    match tx.set_setting(CURRENCY, code, now, by).await {
        Ok(()) => tx.commit().await.map(|_| Ok(())),
        Err(e) => rolled_back(tx, Err(e)).await,
    }
}

/// Records `drafts` in a transaction of its own, in the workspace's currency as it is
/// then: refused (the inner error) when one cannot be.
async fn record_in(
    store: &dyn Store,
    drafts: &[(String, SpendDraft)],
    ids: &[Uuid],
    now: Timestamp,
    by: &str,
) -> Result<Result<Vec<Spend>, AppError>, StoreError> {
    let mut tx = store.begin().await?;
    let workspace = match tx.claim_setting(CURRENCY, DEFAULT_CURRENCY, now, by).await {
        Ok(c) => c,
        Err(e) => return rolled_back(tx, Err(e)).await,
    };
    let read: Result<Vec<Spend>, AppError> = drafts
        .iter()
        .zip(ids)
        .map(|((place, d), id)| d.clone().read(&workspace, *id, now, by).map_err(|e| within(e.into(), place)))
        .collect();
    let entries = match read {
        Ok(entries) => entries,
        Err(refused) => return rolled_back(tx, Ok(Err(refused))).await,
    };
    match tx.insert_spend(&entries).await {
        Ok(()) => tx.commit().await.map(|_| Ok(entries)),
        Err(e) => rolled_back(tx, Err(e)).await,
    }
}

/// An entry's error, named by its place (none for the one entry of a request).
fn within(e: AppError, place: &str) -> AppError {
    if place.is_empty() { e } else { e.within(place) }
}

/// `result`, once the transaction is rolled back.
async fn rolled_back<T>(tx: Box<dyn Tx>, result: Result<T, StoreError>) -> Result<T, StoreError> {
    let _ = tx.rollback().await;
    result
}
