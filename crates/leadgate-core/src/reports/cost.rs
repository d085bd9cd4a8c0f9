//! Cost and return: what each stage's contacts cost, and what the won ones brought
//! back, by what the money was spent on.
//!
//! Spend and contacts meet in groups: a spend entry counts in the group of its own
//! values (its channel, vendor, …) as a contact counts in the group of its first
//! response's, so spend recorded against no campaign meets the contacts of no campaign.
//! Of an entry, only the part of its period that falls in the report's counts.

use super::funnel::{FUNNEL, Path};
use super::{Excluded, GroupedTally, Grouping, Selection, TooManyGroups, group_cells, group_header};
use crate::lifecycle::Stage;
use crate::spend::{SPEND_GROUPINGS, Spend};
use serde::Serialize;
use std::collections::BTreeMap;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CostStage {
    pub stage: Stage,
    /// Contacts that reached this stage or one after it.
    pub count: u64,
    /// The group's spend over `count`, to the nearest minor unit; `null` where no
    /// contact reached the stage.
    pub cost_per: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CostGroup {
    /// Each grouping's value (`null`: spend and contacts without one).
    #[schema(value_type = Object)]
    pub group: BTreeMap<Grouping, Option<String>>,
    /// Spend within the period, minor units.
    pub spend: i64,
    /// The deal values of the group's contacts that became customers, minor units.
    pub value_won: i64,
    /// `value_won` over `spend`; `null` without spend.
    pub return_on_spend: Option<f64>,
    pub stages: Vec<CostStage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cost {
    #[serde(flatten)]
    pub selection: Selection,
    pub group_by: Vec<Grouping>,
    /// The workspace's currency, of every amount.
    pub currency: String,
    /// Largest first (by contacts that entered), then by the groupings' values.
    pub groups: Vec<CostGroup>,
    pub totals: CostGroup,
    pub excluded: Excluded,
}

#[derive(Default)]
struct Tally {
    counts: [u64; FUNNEL.len()],
    spend: i64,
    value_won: i64,
}

impl Tally {
    fn add(&mut self, p: &Path) {
        for (k, at) in p.reached.iter().enumerate() {
            if at.is_none() {
                break;
            }
            self.counts[k] += 1;
        }
        self.value_won = self.value_won.saturating_add(p.value_won.unwrap_or(0));
    }

    fn group(self, group: BTreeMap<Grouping, Option<String>>) -> CostGroup {
        let spend = self.spend;
        CostGroup {
            group,
            spend,
            value_won: self.value_won,
            return_on_spend: (spend > 0).then(|| self.value_won as f64 / spend as f64),
            stages: FUNNEL
                .iter()
                .zip(self.counts)
                .map(|(&stage, count)| CostStage { stage, count, cost_per: per(spend, count) })
                .collect(),
        }
    }
}

/// `spend` over `count` to the nearest minor unit (halves up).
fn per(spend: i64, count: u64) -> Option<i64> {
    (count > 0).then(|| ((i128::from(spend) * 2 + i128::from(count)) / (i128::from(count) * 2)) as i64)
}

/// A cost report being counted, a path at a time.
pub struct CostTally(GroupedTally<Tally>);

/// Cost is grouped only by what spend is recorded against.
pub fn check_groupings(group_by: &[Grouping]) -> Result<(), String> {
    match group_by.iter().find(|g| !SPEND_GROUPINGS.contains(g)) {
        None => Ok(()),
        Some(g) => {
            let names: Vec<&str> = SPEND_GROUPINGS.iter().map(|g| g.as_str()).collect();
            Err(format!("cost is grouped by what spend is recorded against ({}), not by {g}", names.join(", ")))
        }
    }
}

impl Cost {
    /// Counting the paths that `selection` selects, grouped by `group_by` (which
    /// [`check_groupings`] has allowed).
    pub fn tally(selection: Selection, group_by: &[Grouping]) -> CostTally {
        CostTally(GroupedTally::new(selection, group_by))
    }

    /// The cost report of `paths` and `spend`.
    pub fn of<'p>(
        paths: impl IntoIterator<Item = &'p Path>,
        spend: &[Spend],
        selection: Selection,
        group_by: &[Grouping],
        currency: &str,
    ) -> Result<Cost, TooManyGroups> {
        let mut tally = Self::tally(selection, group_by);
        paths.into_iter().for_each(|p| tally.add(p));
        tally.finish(spend, currency)
    }

    /// One row per group and stage (the totals' last).
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = group_header(&self.group_by);
        header.extend(
            ["stage", "count", "cost_per", "spend", "value_won", "return_on_spend", "currency"].map(str::to_owned),
        );
        let rows = self
            .groups
            .iter()
            .map(|g| (g, false))
            .chain(std::iter::once((&self.totals, true)))
            .flat_map(|(g, total)| {
                g.stages.iter().map(move |s| {
                    let mut row = group_cells(&self.group_by, &g.group, total);
                    row.extend([
                        s.stage.as_str().to_owned(),
                        s.count.to_string(),
                        s.cost_per.map(|c| c.to_string()).unwrap_or_default(),
                        g.spend.to_string(),
                        g.value_won.to_string(),
                        g.return_on_spend.map(|r| r.to_string()).unwrap_or_default(),
                        self.currency.clone(),
                    ]);
                    row
                })
            })
            .collect();
        (header, rows)
    }
}

impl CostTally {
    pub fn add(&mut self, p: &Path) {
        self.0.add(p, Tally::add);
    }

    /// The report, with `spend` (every entry; those of another direction, or outside
    /// the period, count nothing) in `currency`.
    pub fn finish(mut self, spend: &[Spend], currency: &str) -> Result<Cost, TooManyGroups> {
        for entry in spend {
            // Under a direction, spend of no direction (no channel, none given) is not
            // that direction's.
            if self.0.selection.direction.is_some_and(|d| entry.direction != Some(d)) {
                continue;
            }
            let amount = entry.within(&self.0.selection.period);
            if amount == 0 {
                continue;
            }
            let add = |t: &mut Tally| t.spend = t.spend.saturating_add(amount);
            add(&mut self.0.totals);
            self.0.in_group(|g| entry.group(g), add);
        }
        let GroupedTally { selection, group_by, totals, groups, excluded } = self.0;
        let groups = groups.ordered(|t| t.counts[0])?;
        Ok(Cost {
            selection,
            currency: currency.to_owned(),
            groups: groups
                .into_iter()
                .map(|(values, tally)| tally.group(group_by.iter().copied().zip(values).collect()))
                .collect(),
            group_by,
            totals: totals.group(BTreeMap::new()),
            excluded,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::reports::Period;
    use crate::response::Direction;
    use crate::spend::SpendDraft;
    use crate::time::MICROS_PER_DAY;
    use uuid::Uuid;

    fn day(d: i64) -> Timestamp {
        Timestamp(d * MICROS_PER_DAY)
    }

    fn path(id: u128, channel: &str, direction: Direction, reached: usize, value_won: Option<i64>) -> Path {
        let mut groups: [Option<std::sync::Arc<str>>; Grouping::ALL.len()] = Default::default();
        groups[Grouping::Direction.index()] = Some(direction.as_str().into());
        groups[Grouping::Channel.index()] = Some(channel.into());
        let mut at = [None; FUNNEL.len()];
        at.iter_mut().take(reached).enumerate().for_each(|(k, a)| *a = Some(day(k as i64)));
        Path {
            contact_id: Uuid::from_u128(id),
            entered_at: day(0),
            groups,
            reached: at,
            disqualified: false,
            value_won,
        }
    }

    fn spend(amount: i64, channel: Option<&str>, from: i64, to: i64) -> Spend {
        SpendDraft {
            amount: Some(amount),
            channel: channel.map(str::to_owned),
            from: Some(day(from)),
            to: Some(day(to)),
            ..SpendDraft::default()
        }
        .read("EUR", Uuid::nil(), day(0), "test")
        .unwrap()
    }

    #[test]
    fn spend_meets_the_contacts_of_its_group_and_a_stage_nobody_reached_has_no_cost() {
        let paths = [
            path(1, "paid_search", Direction::Inbound, 7, Some(50_000)),
            path(2, "paid_search", Direction::Inbound, 3, None),
            path(3, "paid_search", Direction::Inbound, 2, None),
            path(4, "organic_search", Direction::Inbound, 7, Some(20_000)),
            path(5, "purchased_list", Direction::Outbound, 1, None),
        ];
        let entries = [
            spend(30_000, Some("paid_search"), 0, 30),
            spend(1_000, Some("purchased_list"), 0, 30),
            spend(500, Some("display"), 0, 30),
            spend(999, None, 0, 30),
        ];
        let c = Cost::of(&paths, &entries, Selection::default(), &[Grouping::Channel], "EUR").unwrap();
        let group = |name: Option<&str>| {
            c.groups.iter().find(|g| g.group[&Grouping::Channel].as_deref() == name).expect("the group is there")
        };
        let paid = group(Some("paid_search"));
        assert_eq!((paid.spend, paid.value_won, paid.return_on_spend), (30_000, 50_000, Some(50_000.0 / 30_000.0)));
        let per: Vec<Option<i64>> = paid.stages.iter().map(|s| s.cost_per).collect();
        assert_eq!(
            per,
            [Some(10_000), Some(10_000), Some(15_000), Some(30_000), Some(30_000), Some(30_000), Some(30_000)]
        );
        let organic = group(Some("organic_search"));
        assert_eq!((organic.spend, organic.return_on_spend, organic.stages[6].cost_per), (0, None, Some(0)));
        let display = group(Some("display"));
        assert_eq!(display.stages.iter().map(|s| (s.count, s.cost_per)).collect::<Vec<_>>(), vec![(0, None); 7]);
        assert_eq!(group(None).spend, 999, "spend against no channel meets contacts of no channel");
        assert_eq!(c.totals.spend, 32_499);
        assert_eq!(c.groups.iter().map(|g| g.spend).sum::<i64>(), c.totals.spend);
        assert_eq!(c.totals.value_won, 70_000);
        assert_eq!(c.totals.stages[0].cost_per, Some(6_500), "32,499 over 5 contacts, to the nearest cent");
    }

    #[test]
    fn a_period_takes_its_share_of_spend_and_a_direction_only_its_own() {
        let paths = [path(1, "purchased_list", Direction::Outbound, 2, None)];
        let entries = [spend(3_000, Some("purchased_list"), 0, 30), spend(3_000, Some("paid_search"), 0, 30)];
        let outbound = Selection {
            period: Period::new(Some(day(0)), Some(day(15))).unwrap(),
            direction: Some(Direction::Outbound),
        };
        let c = Cost::of(&paths, &entries, outbound, &[], "EUR").unwrap();
        assert_eq!(c.totals.spend, 1_500);
        assert_eq!(c.totals.stages[1].cost_per, Some(1_500), "cost per prospect");
        assert!(check_groupings(&[Grouping::Channel, Grouping::Offer]).is_ok());
        assert!(check_groupings(&[Grouping::Owner]).unwrap_err().contains("not by owner"));
    }
}
