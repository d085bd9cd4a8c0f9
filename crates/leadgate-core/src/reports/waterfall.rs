//! The demand waterfall: how many contacts reached each stage of the funnel, the
//! conversion between stages, and how long they took, by group.

use super::funnel::{FUNNEL, Path};
use super::{Excluded, GroupedTally, Grouping, Selection, TooManyGroups, group_cells, group_header};
use crate::lifecycle::Stage;
use crate::time::MICROS_PER_DAY;
use serde::Serialize;
use std::collections::BTreeMap;

/// One stage's figures in a group.
#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct StageFigures {
    pub stage: Stage,
    /// Contacts that reached this stage or one after it.
    pub count: u64,
    /// `count` over the previous stage's; `null` for the first stage and where the
    /// previous stage has no contacts.
    pub conversion_from_previous: Option<f64>,
    /// `count` over the first stage's; `null` where the first stage has no contacts.
    pub conversion_from_first: Option<f64>,
    /// Days from reaching the previous stage to reaching this one, of the contacts that
    /// reached this one; `null` for the first stage and where none did.
    pub median_days_from_previous: Option<f64>,
    pub p90_days_from_previous: Option<f64>,
    /// Days from entering the funnel to reaching this stage.
    pub median_days_from_first: Option<f64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct WaterfallGroup {
    /// Each grouping's value (`null`: contacts without one, such as no vendor).
    #[schema(value_type = Object)]
    pub group: BTreeMap<Grouping, Option<String>>,
    pub stages: Vec<StageFigures>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Waterfall {
    #[serde(flatten)]
    pub selection: Selection,
    pub group_by: Vec<Grouping>,
    /// Largest first (by contacts that entered), then by the groupings' values.
    pub groups: Vec<WaterfallGroup>,
    /// Every contact of the selection, ungrouped.
    pub totals: WaterfallGroup,
    pub excluded: Excluded,
}

/// What a group gathers while the paths are read.
#[derive(Default)]
struct Tally {
    counts: [u64; FUNNEL.len()],
    days_from_previous: [Vec<f64>; FUNNEL.len()],
    days_from_first: [Vec<f64>; FUNNEL.len()],
}

impl Tally {
    fn add(&mut self, p: &Path) {
        let first = p.reached[0];
        for (k, at) in p.reached.iter().enumerate() {
            let Some(at) = *at else { break };
            self.counts[k] += 1;
            if k > 0 {
                let days = |from: Option<crate::Timestamp>| from.map(|f| (at.0 - f.0) as f64 / MICROS_PER_DAY as f64);
                self.days_from_previous[k].extend(days(p.reached[k - 1]));
                self.days_from_first[k].extend(days(first));
            }
        }
    }

    fn figures(mut self) -> Vec<StageFigures> {
        let ratio = |n: u64, d: u64| (d > 0).then(|| n as f64 / d as f64);
        (0..FUNNEL.len())
            .map(|k| {
                let previous = &mut self.days_from_previous[k];
                StageFigures {
                    stage: FUNNEL[k],
                    count: self.counts[k],
                    conversion_from_previous: if k == 0 { None } else { ratio(self.counts[k], self.counts[k - 1]) },
                    conversion_from_first: if k == 0 { None } else { ratio(self.counts[k], self.counts[0]) },
                    median_days_from_previous: median(previous),
                    p90_days_from_previous: quantile(previous, 0.9),
                    median_days_from_first: median(&mut self.days_from_first[k]),
                }
            })
            .collect()
    }
}

/// The value that would stand at `k` were `values` sorted; reorders them around it
/// (a selection, linear: a million days need no sort).
fn nth(values: &mut [f64], k: usize) -> f64 {
    *values.select_nth_unstable_by(k, f64::total_cmp).1
}

/// The middle value, or the mean of the two middle ones; of values in any order, which
/// it reorders.
pub fn median(values: &mut [f64]) -> Option<f64> {
    let n = values.len();
    match n {
        0 => None,
        _ if n % 2 == 1 => Some(nth(values, n / 2)),
        _ => {
            let upper = nth(values, n / 2);
            // Everything before the upper middle is at or below it; the lower middle is
            // the largest of those.
            let lower = values[..n / 2].iter().copied().max_by(f64::total_cmp).expect("n is at least 2");
            Some((lower + upper) / 2.0)
        }
    }
}

/// The nearest-rank quantile `q`: the smallest value with at least a share `q` of them
/// at or below it; of values in any order, which it reorders.
pub fn quantile(values: &mut [f64], q: f64) -> Option<f64> {
    let n = values.len();
    (n > 0).then(|| nth(values, ((q * n as f64).ceil() as usize).clamp(1, n) - 1))
}

/// A waterfall being counted, a path at a time: a walk over every contact need not
/// hold them all.
pub struct WaterfallTally(GroupedTally<Tally>);

impl WaterfallTally {
    pub fn add(&mut self, p: &Path) {
        self.0.add(p, Tally::add);
    }

    pub fn finish(self) -> Result<Waterfall, TooManyGroups> {
        let GroupedTally { selection, group_by, totals, groups, excluded } = self.0;
        let groups = groups.ordered(|t| t.counts[0])?;
        Ok(Waterfall {
            selection,
            groups: groups
                .into_iter()
                .map(|(values, tally)| WaterfallGroup {
                    group: group_by.iter().copied().zip(values).collect(),
                    stages: tally.figures(),
                })
                .collect(),
            group_by,
            totals: WaterfallGroup { group: BTreeMap::new(), stages: totals.figures() },
            excluded,
        })
    }
}

impl Waterfall {
    /// Counting the paths that `selection` selects, grouped by `group_by`.
    pub fn tally(selection: Selection, group_by: &[Grouping]) -> WaterfallTally {
        WaterfallTally(GroupedTally::new(selection, group_by))
    }

    /// The waterfall of the `paths` that `selection` selects, grouped by `group_by`.
    pub fn of<'p>(
        paths: impl IntoIterator<Item = &'p Path>,
        selection: Selection,
        group_by: &[Grouping],
    ) -> Result<Waterfall, TooManyGroups> {
        let mut tally = Self::tally(selection, group_by);
        paths.into_iter().for_each(|p| tally.add(p));
        tally.finish()
    }

    /// The same numbers as a table: one row per group and stage (the totals' rows,
    /// with empty groups, last), a column per grouping then per figure.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let mut header = group_header(&self.group_by);
        header.extend(
            [
                "stage",
                "count",
                "conversion_from_previous",
                "conversion_from_first",
                "median_days_from_previous",
                "p90_days_from_previous",
                "median_days_from_first",
            ]
            .map(str::to_owned),
        );
        let number = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let rows = self
            .groups
            .iter()
            .map(|g| (g, false))
            .chain(std::iter::once((&self.totals, true)))
            .flat_map(|(g, total)| {
                let values = group_cells(&self.group_by, &g.group, total);
                g.stages.iter().map(move |s| {
                    let mut row = values.clone();
                    row.extend([
                        s.stage.to_string(),
                        s.count.to_string(),
                        number(s.conversion_from_previous),
                        number(s.conversion_from_first),
                        number(s.median_days_from_previous),
                        number(s.p90_days_from_previous),
                        number(s.median_days_from_first),
                    ]);
                    row
                })
            })
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::lifecycle::StageStep;
    use crate::model::Contact;
    use crate::reports::Period;
    use crate::response::Direction;
    use uuid::Uuid;

    fn day(d: i64) -> Timestamp {
        Timestamp(d * MICROS_PER_DAY)
    }

    fn path(n: u128, direction: Direction, channel: &str, steps: &[(Stage, i64)], now: Stage) -> Path {
        let c = Contact::new(Uuid::from_u128(n), None, direction, Some(channel.to_owned()), now, day(0));
        let steps: Vec<StageStep> =
            steps.iter().map(|(to, d)| StageStep { to: *to, at: day(*d), value: None }).collect();
        Path::of(&c, None, &steps)
    }

    fn paths() -> Vec<Path> {
        use Direction::*;
        use Stage::*;
        vec![
            path(1, Inbound, "organic_search", &[(Prospect, 0), (Mql, 2), (Sql, 10), (Customer, 30)], Customer),
            path(2, Inbound, "organic_search", &[(Prospect, 0), (Mql, 4)], Mql),
            path(3, Inbound, "organic_search", &[(Prospect, 0)], Prospect),
            path(4, Outbound, "email", &[(Suspect, 0), (Mql, 6), (Nurture, 7), (Mql, 60)], Mql),
            path(5, Outbound, "email", &[(Suspect, 0), (Disqualified, 1)], Disqualified),
        ]
    }

    #[test]
    fn counts_conversions_and_days_follow_the_rules_and_groups_add_up_to_the_totals() {
        let paths = paths();
        let w = Waterfall::of(&paths, Selection::default(), &[Grouping::Channel]).unwrap();
        assert_eq!(w.excluded.disqualified, 1);
        let counts = |g: &WaterfallGroup| g.stages.iter().map(|s| s.count).collect::<Vec<_>>();
        assert_eq!(counts(&w.totals), [4, 4, 3, 1, 1, 1, 1]);
        assert_eq!(w.groups[0].group[&Grouping::Channel].as_deref(), Some("organic_search"));
        assert_eq!(counts(&w.groups[0]), [3, 3, 2, 1, 1, 1, 1]);
        assert_eq!(counts(&w.groups[1]), [1, 1, 1, 0, 0, 0, 0], "recycled through nurture, counted once");
        for k in 0..FUNNEL.len() {
            assert_eq!(w.groups.iter().map(|g| g.stages[k].count).sum::<u64>(), w.totals.stages[k].count);
        }
        let mql = &w.totals.stages[2];
        assert_eq!(mql.conversion_from_previous, Some(0.75));
        assert_eq!(mql.conversion_from_first, Some(0.75));
        // Days from prospect to mql: 2, 4, and 0 for the outbound one, which skipped
        // prospect (it passed prospect on reaching mql, the days going to prospect);
        // from entering: 2, 4 and 6 (the first time the outbound one got there, not its
        // return from nurture).
        assert_eq!((mql.median_days_from_previous, mql.p90_days_from_previous), (Some(2.0), Some(4.0)));
        assert_eq!(mql.median_days_from_first, Some(4.0));
        // Sal was skipped: passed at sql, 10 days in.
        assert_eq!(w.totals.stages[3].median_days_from_first, Some(10.0));
        assert_eq!(w.totals.stages[3].median_days_from_previous, Some(8.0));
        assert_eq!(w.totals.stages[0].conversion_from_previous, None);
    }

    #[test]
    fn an_empty_selection_shows_zeros_and_no_ratio_rather_than_a_division_by_zero() {
        let paths = paths();
        let nobody = Selection { period: Period::new(Some(day(100)), Some(day(200))).unwrap(), direction: None };
        let w = Waterfall::of(&paths, nobody, &[Grouping::Channel]).unwrap();
        assert!(w.groups.is_empty());
        assert!(w.totals.stages.iter().all(|s| s.count == 0
            && s.conversion_from_previous.is_none()
            && s.conversion_from_first.is_none()
            && s.median_days_from_previous.is_none()));
        let table = w.table();
        assert_eq!(table.1.len(), FUNNEL.len(), "the totals' rows alone");
    }

    #[test]
    fn a_direction_selects_its_contacts_and_two_groupings_split_them() {
        let paths = paths();
        let outbound = Selection { direction: Some(Direction::Outbound), ..Selection::default() };
        let w = Waterfall::of(&paths, outbound, &[Grouping::Direction, Grouping::Channel]).unwrap();
        assert_eq!((w.totals.stages[0].count, w.excluded.disqualified), (1, 1));
        assert_eq!(w.groups.len(), 1);
        assert_eq!(w.groups[0].group[&Grouping::Direction].as_deref(), Some("outbound"));
        let (header, rows) = w.table();
        assert_eq!(&header[..4], ["scope", "direction", "channel", "stage"]);
        assert_eq!(&rows[0][..5], ["group", "outbound", "email", "suspect", "1"]);
        assert_eq!(&rows.last().unwrap()[..4], ["total", "", "", "customer"]);
    }

    #[test]
    fn grouping_by_something_near_unique_is_refused_rather_than_filling_the_memory() {
        let many: Vec<Path> = (0..=crate::reports::GROUPS_MAX as u128)
            .map(|n| path(n, Direction::Inbound, &format!("campaign-{n}"), &[(Stage::Prospect, 0)], Stage::Prospect))
            .collect();
        assert_eq!(
            Waterfall::of(&many, Selection::default(), &[Grouping::Channel]),
            Err(crate::reports::TooManyGroups)
        );
        assert!(Waterfall::of(&many[1..], Selection::default(), &[Grouping::Channel]).is_ok(), "exactly the most");
    }

    #[test]
    fn medians_and_quantiles_of_known_values_in_any_order() {
        assert_eq!(median(&mut [10.0, 2.0, 3.0, 1.0]), Some(2.5));
        assert_eq!(median(&mut [3.0, 1.0, 2.0]), Some(2.0));
        assert_eq!(median(&mut []), None);
        let mut ten: Vec<f64> = (1..=10).rev().map(f64::from).collect();
        assert_eq!(quantile(&mut ten, 0.9), Some(9.0));
        assert_eq!(quantile(&mut [5.0], 0.9), Some(5.0));
        // Against a sort, over many orders and sizes (ties included).
        for n in 1..40u64 {
            let mut values: Vec<f64> = (0..n).map(|i| ((i * 7_919 + n) % 13) as f64 / 2.0).collect();
            let mut sorted = values.clone();
            sorted.sort_by(f64::total_cmp);
            let m = n as usize;
            let middle = if m % 2 == 1 { sorted[m / 2] } else { (sorted[m / 2 - 1] + sorted[m / 2]) / 2.0 };
            let p90 = sorted[((0.9 * n as f64).ceil() as usize).clamp(1, m) - 1];
            assert_eq!((median(&mut values), quantile(&mut values, 0.9)), (Some(middle), Some(p90)), "{n}");
        }
    }
}
