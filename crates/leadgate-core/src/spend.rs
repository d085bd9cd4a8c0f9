//! Spend: what was paid to bring contacts in, for a period, against a channel, vendor,
//! campaign or offer — the cost side of the cost report.
//!
//! Amounts are whole minor units (cents) of the workspace's one currency. An entry in
//! another currency is converted when it is recorded, at the rate its recorder gives,
//! and keeps what was given beside the converted amount.

use crate::ident::Ident;
use crate::reports::{Grouping, Period};
use crate::response::{Direction, channel_direction};
use crate::time::MICROS_PER_DAY;
use crate::{ErrorCode, FieldError, Timestamp};
use serde::Serialize;
use uuid::Uuid;

/// The workspace's currency until one is set.
pub const DEFAULT_CURRENCY: &str = "USD";

/// The largest amount an entry holds: ten trillion in minor units, far above any
/// budget, and far below where sums of many entries could overflow.
pub const AMOUNT_MAX: i64 = 10_000_000_000_000;

/// The longest period one entry covers.
pub const PERIOD_MAX_DAYS: i64 = 5 * 366;

/// Text fields (vendor, campaign, offer, note) are at most this long.
pub const TEXT_MAX: usize = 200;

/// An ISO 4217 code's shape: three letters, upper-cased.
pub fn currency(s: &str, field: &str) -> Result<String, FieldError> {
    let c = s.trim().to_ascii_uppercase();
    if c.len() == 3 && c.bytes().all(|b| b.is_ascii_uppercase()) {
        Ok(c)
    } else {
        Err(FieldError::new(
            ErrorCode::InvalidValue,
            field,
            format!("{field} must be a three-letter currency code such as EUR or USD, not {s:?}"),
        ))
    }
}

/// A spend entry as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Spend {
    pub id: Uuid,
    /// In minor units of the workspace's currency.
    pub amount: i64,
    /// What was given: the currency…
    pub currency_given: String,
    /// …its amount in minor units…
    pub amount_given: i64,
    /// …and the rate that converted it (none: given in the workspace's currency).
    pub rate: Option<f64>,
    /// The period the money was spent over: from (inclusive) to (exclusive).
    pub from: Timestamp,
    pub to: Timestamp,
    /// Given, or implied by the channel as for contacts (none: neither).
    pub direction: Option<Direction>,
    pub channel: Option<String>,
    pub vendor: Option<String>,
    pub campaign: Option<String>,
    pub offer: Option<String>,
    pub note: Option<String>,
    pub recorded_at: Timestamp,
    pub recorded_by: String,
}

/// A spend entry as a person gives it, its fields not yet read.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct SpendDraft {
    pub amount: Option<i64>,
    pub currency: Option<String>,
    pub rate: Option<f64>,
    pub from: Option<Timestamp>,
    pub to: Option<Timestamp>,
    pub direction: Option<String>,
    pub channel: Option<String>,
    pub vendor: Option<String>,
    pub campaign: Option<String>,
    pub offer: Option<String>,
    pub note: Option<String>,
}

impl SpendDraft {
    /// The entry, in `workspace` currency, or the first field that is wrong.
    pub fn read(
        self,
        workspace: &str,
        id: Uuid,
        recorded_at: Timestamp,
        recorded_by: &str,
    ) -> Result<Spend, FieldError> {
        let wrong = |field: &str, message: String| FieldError::new(ErrorCode::InvalidValue, field, message);
        let amount_given = self.amount.ok_or_else(|| {
            FieldError::new(ErrorCode::MissingField, "amount", "amount is required (minor units, e.g. cents)")
        })?;
        if amount_given < 0 {
            return Err(wrong("amount", format!("amount is negative ({amount_given}): spend is 0 or more")));
        }
        if amount_given > AMOUNT_MAX {
            return Err(wrong("amount", format!("amount is more than {AMOUNT_MAX} minor units")));
        }
        let given = match self.currency.as_deref() {
            Some(c) => currency(c, "currency")?,
            None => workspace.to_owned(),
        };
        let amount = match (given == workspace, self.rate) {
            (true, None) => amount_given,
            (true, Some(_)) => {
                return Err(wrong("rate", format!("rate is for spend in a currency other than {workspace}")));
            }
            (false, None) => {
                return Err(FieldError::new(
                    ErrorCode::CurrencyMismatch,
                    "currency",
                    format!(
                        "the spend is in {given} but the workspace counts in {workspace}: give `rate`, \
                         what one {given} is worth in {workspace}"
                    ),
                ));
            }
            (false, Some(rate)) if !(rate.is_finite() && rate > 0.0 && rate < 1e6) => {
                return Err(wrong("rate", format!("rate must be a positive number below a million, not {rate}")));
            }
            (false, Some(rate)) => (amount_given as f64 * rate).round() as i64,
        };
        if amount > AMOUNT_MAX {
            return Err(wrong("amount", format!("amount converted is more than {AMOUNT_MAX} minor units")));
        }
        let from = self.from.ok_or_else(|| {
            FieldError::new(ErrorCode::MissingField, "from", "from is required: the day the spend's period starts")
        })?;
        let to = self.to.ok_or_else(|| {
            FieldError::new(ErrorCode::MissingField, "to", "to is required: the day after the spend's period ends")
        })?;
        if to <= from {
            return Err(wrong(
                "to",
                format!(
                    "the period must end after it starts ({} to {}); `to` is exclusive: March is \
                     from 2026-03-01 to 2026-04-01",
                    from.to_rfc3339(),
                    to.to_rfc3339()
                ),
            ));
        }
        if (to.0 - from.0) / MICROS_PER_DAY > PERIOD_MAX_DAYS {
            return Err(wrong("to", format!("one entry covers at most {PERIOD_MAX_DAYS} days; split it")));
        }
        let channel = self
            .channel
            .as_deref()
            .map(str::trim)
            .filter(|c| !c.is_empty())
            .map(|c| Ident::field(c, "channel", "channel"))
            .transpose()?;
        let direction = match self.direction.as_deref().map(str::trim).filter(|d| !d.is_empty()) {
            Some(d) => Some(
                Direction::parse(d)
                    .ok_or_else(|| wrong("direction", format!("direction must be inbound or outbound, not {d:?}")))?,
            ),
            None => channel.as_ref().map(|c| channel_direction(Some(c))),
        };
        let text = |v: Option<String>, field: &str| -> Result<Option<String>, FieldError> {
            let v = v.map(|s| s.trim().to_owned()).filter(|s| !s.is_empty());
            match v {
                Some(s) if s.chars().count() > TEXT_MAX => Err(FieldError::new(
                    ErrorCode::TooLong,
                    field,
                    format!("{field} is longer than {TEXT_MAX} characters"),
                )),
                Some(s) if crate::inquiry::has_control_chars(&s) => {
                    Err(wrong(field, format!("{field} contains control characters")))
                }
                v => Ok(v),
            }
        };
        Ok(Spend {
            id,
            amount,
            currency_given: given,
            amount_given,
            rate: self.rate,
            from,
            to,
            direction,
            channel: channel.map(|c| c.as_str().to_owned()),
            vendor: text(self.vendor, "vendor")?,
            campaign: text(self.campaign, "campaign")?,
            offer: text(self.offer, "offer")?,
            note: text(self.note, "note")?,
            recorded_at,
            recorded_by: recorded_by.to_owned(),
        })
    }
}

/// What spend can be recorded against, and so what the cost report groups by.
pub const SPEND_GROUPINGS: [Grouping; 5] =
    [Grouping::Direction, Grouping::Channel, Grouping::Vendor, Grouping::Campaign, Grouping::Offer];

impl Spend {
    /// The part of the amount spent within `period`, in proportion to the time of the
    /// entry's period that falls in it, rounded to the nearest minor unit (a March
    /// spend of 3,100 counts 1,700 from March 15).
    pub fn within(&self, period: &Period) -> i64 {
        let from = period.from.map_or(self.from, |f| f.max(self.from));
        let to = period.to.map_or(self.to, |t| t.min(self.to));
        if to <= from {
            return 0;
        }
        let (part, whole) = (i128::from(to.0 - from.0), i128::from(self.to.0 - self.from.0));
        if part == whole {
            return self.amount;
        }
        ((i128::from(self.amount) * part * 2 + whole) / (whole * 2)) as i64
    }

    /// Its value for a grouping (none: not recorded against one).
    pub fn group(&self, g: Grouping) -> Option<&str> {
        match g {
            Grouping::Direction => self.direction.map(Direction::as_str),
            Grouping::Channel => self.channel.as_deref(),
            Grouping::Vendor => self.vendor.as_deref(),
            Grouping::Campaign => self.campaign.as_deref(),
            Grouping::Offer => self.offer.as_deref(),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn day(d: i64) -> Timestamp {
        Timestamp(d * MICROS_PER_DAY)
    }

    fn draft(amount: i64) -> SpendDraft {
        SpendDraft { amount: Some(amount), from: Some(day(0)), to: Some(day(31)), ..SpendDraft::default() }
    }

    fn read(d: SpendDraft) -> Result<Spend, FieldError> {
        d.read("EUR", Uuid::nil(), day(40), "test")
    }

    #[test]
    fn spend_in_another_currency_needs_a_rate_and_is_converted_to_the_workspace_currency() {
        let usd = SpendDraft { currency: Some("usd".into()), ..draft(10_000) };
        let refused = read(usd.clone()).unwrap_err();
        assert_eq!((refused.code, refused.field.as_deref()), (ErrorCode::CurrencyMismatch, Some("currency")));
        assert!(refused.message.contains("USD") && refused.message.contains("EUR"), "{}", refused.message);
        let s = read(SpendDraft { rate: Some(0.92), ..usd }).unwrap();
        assert_eq!((s.amount, s.amount_given, s.currency_given.as_str()), (9_200, 10_000, "USD"));
        let same = read(SpendDraft { rate: Some(2.0), ..draft(5) }).unwrap_err();
        assert_eq!(same.field.as_deref(), Some("rate"), "a rate for the workspace's own currency is a mistake");
        for rate in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let d = SpendDraft { currency: Some("GBP".into()), rate: Some(rate), ..draft(5) };
            assert_eq!(read(d).unwrap_err().field.as_deref(), Some("rate"), "{rate}");
        }
        assert_eq!(
            read(SpendDraft { currency: Some("EURO".into()), ..draft(5) }).unwrap_err().field.as_deref(),
            Some("currency")
        );
    }

    #[test]
    fn a_negative_amount_an_empty_period_or_a_bad_name_is_refused_naming_the_field() {
        let field = |d: SpendDraft| read(d).unwrap_err().field.unwrap_or_default();
        assert_eq!(field(draft(-1)), "amount");
        assert_eq!(field(SpendDraft { amount: None, ..draft(0) }), "amount");
        assert_eq!(field(SpendDraft { to: Some(day(0)), ..draft(1) }), "to");
        assert_eq!(field(SpendDraft { to: Some(day(4000)), ..draft(1) }), "to");
        assert_eq!(field(SpendDraft { channel: Some("<script>".into()), ..draft(1) }), "channel");
        assert_eq!(field(SpendDraft { direction: Some("sideways".into()), ..draft(1) }), "direction");
        assert_eq!(field(SpendDraft { campaign: Some("x".repeat(201)), ..draft(1) }), "campaign");
        assert_eq!(read(draft(0)).unwrap().amount, 0, "a free campaign is spend of nothing");
    }

    #[test]
    fn the_direction_is_given_or_implied_by_the_channel() {
        let s = read(SpendDraft { channel: Some("Purchased List".into()), ..draft(1) }).unwrap();
        assert_eq!((s.channel.as_deref(), s.direction), (Some("purchased_list"), Some(Direction::Outbound)));
        let s =
            read(SpendDraft { channel: Some("paid_search".into()), direction: Some("outbound".into()), ..draft(1) })
                .unwrap();
        assert_eq!(s.direction, Some(Direction::Outbound));
        assert_eq!(read(draft(1)).unwrap().direction, None);
    }

    #[test]
    fn spend_counts_in_a_period_in_proportion_to_the_time_that_falls_in_it() {
        let s = read(draft(3_100)).unwrap();
        let within = |from: Option<i64>, to: Option<i64>| s.within(&Period::new(from.map(day), to.map(day)).unwrap());
        assert_eq!(within(None, None), 3_100);
        assert_eq!(within(Some(14), None), 1_700);
        assert_eq!(within(Some(-100), Some(100)), 3_100);
        assert_eq!(within(Some(31), Some(60)), 0);
        assert_eq!(within(Some(0), Some(1)), 100);
        let odd = read(SpendDraft { to: Some(day(3)), ..draft(100) }).unwrap();
        let parts: i64 = (0..3).map(|d| odd.within(&Period::new(Some(day(d)), Some(day(d + 1))).unwrap())).sum();
        assert_eq!(parts, 99, "each third rounds to the nearest cent: 33 + 33 + 33");
    }
}
