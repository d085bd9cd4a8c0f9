//! "Rejected, then won".

use super::{ReportQuery, listed_contacts, report_parts, walk};
use crate::error::invalid;
use crate::{App, AppError, ErrorCode};
use leadgate_core::reports::rejected::{RejectedThenWon, Rejection, WonBack};
use leadgate_store::{Contacts, Details};
use std::collections::HashMap;
use uuid::Uuid;

impl App {
    /// Contacts rejected in the period, what each month's became, and those won back.
    pub async fn rejected_then_won(&self, query: &ReportQuery) -> Result<RejectedThenWon, AppError> {
        let (selection, group_by) = query.read()?;
        if !group_by.is_empty() {
            return Err(invalid(
                ErrorCode::InvalidValue,
                "group_by",
                "rejected, then won is grouped by month of rejection alone; leave out group_by (select with direction)",
            ));
        }
        let _ration = self.ration(crate::HeavyWork::Report)?;
        let mut tally = RejectedThenWon::tally(selection.period, selection.direction);
        // What each won-back contact did in between, counted while its responses are in hand.
        let mut responses_between = HashMap::new();
        walk(self.store.as_ref(), report_parts(), rejection, |found| {
            if let Some((r, responses)) = found {
                tally.add(&r);
                if r.won.is_some() {
                    responses_between.insert(r.contact_id, responses);
                }
            }
        })
        .await?;
        let listed = tally.listed().to_vec();
        let ids: Vec<Uuid> = listed.iter().map(|r| r.contact_id).collect();
        let people = listed_contacts(self.store.as_ref(), &ids, Details::NONE.with("email")).await?;
        let histories = self.store.stage_histories_of(Contacts::Ids(&ids)).await?;
        let since = listed.iter().map(|r| r.at).min().unwrap_or(leadgate_core::Timestamp(0));
        let events = self.store.events_of(Contacts::Ids(&ids), since, None, false).await?;
        Ok(tally.finish(|r| {
            let won = r.won.expect("only contacts won back are listed");
            let reason = histories
                .get(&r.contact_id)
                .iter()
                .find(|c| c.to == r.to && c.at == r.at)
                .and_then(|c| c.reason())
                .map(str::to_owned);
            let between = |at: leadgate_core::Timestamp| at > r.at && at <= won.at;
            WonBack {
                contact_id: r.contact_id,
                email: people.get(&r.contact_id).and_then(|c| c.email.clone()),
                rejected_at: r.at,
                rejected_to: r.to,
                reason,
                won_at: won.at,
                won_stage: won.stage,
                days_between: r.days_to_win().unwrap_or_default(),
                value: won.value,
                responses_between: responses_between.get(&r.contact_id).copied().unwrap_or(0),
                events_between: events.get(&r.contact_id).iter().filter(|e| between(e.at)).count() as u64,
            }
        }))
    }
}

/// A contact's first rejection, if any, with the responses it made between that and
/// its win.
fn rejection(s: leadgate_store::ContactSnapshot) -> Option<(Rejection, u64)> {
    let c = &s.contact;
    let r = Rejection::of(c.id, c.direction, c.stage, &s.stage_steps)?;
    let responses = r.won.map_or(0, |w| s.responses.iter().filter(|x| x.at > r.at && x.at <= w.at).count() as u64);
    Some((r, responses))
}
