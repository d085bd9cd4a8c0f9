//! Cohorts: contacts by the month they entered the funnel, and for each month after,
//! how many of them had reached each stage by the end of it.

use super::funnel::{FUNNEL, Path};
use super::{Excluded, Month, Selection, Verdict};
use crate::Timestamp;
use crate::lifecycle::Stage;
use serde::Serialize;
use std::collections::BTreeMap;

/// The months after entry a cohort is followed for: two years, the length of the
/// longest B2B buying cycles.
pub const MONTHS_AFTER_MAX: usize = 24;

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cohorts {
    #[serde(flatten)]
    pub selection: Selection,
    /// Oldest first.
    pub cohorts: Vec<Cohort>,
    pub excluded: Excluded,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct Cohort {
    /// The month of entry, `2026-01`.
    #[schema(value_type = String)]
    pub month: Month,
    /// Contacts that entered that month.
    pub contacts: u64,
    /// Each stage after the first, prospect to customer.
    pub stages: Vec<CohortStage>,
}

#[derive(Debug, Clone, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CohortStage {
    pub stage: Stage,
    /// By month after entry (0: the month of entry itself), up to the current month or
    /// [`MONTHS_AFTER_MAX`]: how many had reached the stage by the end of that month.
    pub by_month: Vec<CohortCell>,
}

#[derive(Debug, Clone, Copy, PartialEq, Serialize, utoipa::ToSchema)]
pub struct CohortCell {
    pub months_after: u32,
    pub reached: u64,
    /// `reached` over the cohort's contacts.
    pub share: f64,
}

/// One cohort while paths are counted: its contacts, and per stage how many reached it
/// in each month after entry (a stage reached later than followed is not counted).
#[derive(Default)]
struct Tally {
    contacts: u64,
    reached_in: [[u64; MONTHS_AFTER_MAX + 1]; FUNNEL.len()],
}

/// Cohorts being counted, a path at a time.
pub struct CohortsTally {
    selection: Selection,
    now: Month,
    cohorts: BTreeMap<Month, Tally>,
    excluded: Excluded,
}

impl CohortsTally {
    pub fn add(&mut self, p: &Path) {
        match self.selection.verdict(p) {
            Verdict::Unselected => return,
            Verdict::Excluded => return self.excluded.add(),
            Verdict::Counted => {}
        }
        let entered = Month::of(p.entered_at);
        let tally = self.cohorts.entry(entered).or_default();
        tally.contacts += 1;
        for k in 1..FUNNEL.len() {
            let Some(after) = p.months_to_reach(k) else { break };
            // Reached later than a cohort is followed: not counted.
            if let Some(n) = tally.reached_in[k].get_mut(after as usize) {
                *n += 1;
            }
        }
    }

    pub fn finish(self) -> Cohorts {
        let now = self.now;
        let cohorts = self
            .cohorts
            .into_iter()
            .map(|(month, tally)| {
                let followed = (now.0 - month.0).clamp(0, MONTHS_AFTER_MAX as i32) as usize;
                let stages = (1..FUNNEL.len())
                    .map(|k| {
                        let mut reached = 0;
                        let by_month = (0..=followed)
                            .map(|after| {
                                reached += tally.reached_in[k][after];
                                CohortCell {
                                    months_after: after as u32,
                                    reached,
                                    share: reached as f64 / tally.contacts as f64,
                                }
                            })
                            .collect();
                        CohortStage { stage: FUNNEL[k], by_month }
                    })
                    .collect();
                Cohort { month, contacts: tally.contacts, stages }
            })
            .collect();
        Cohorts { selection: self.selection, cohorts, excluded: self.excluded }
    }
}

impl Cohorts {
    /// Counting the paths `selection` selects, followed up to the month of `now`.
    pub fn tally(selection: Selection, now: Timestamp) -> CohortsTally {
        CohortsTally { selection, now: Month::of(now), cohorts: BTreeMap::new(), excluded: Excluded::default() }
    }

    /// The same numbers as a table: a row per cohort, stage and month after entry.
    pub fn table(&self) -> (Vec<String>, Vec<Vec<String>>) {
        let header = ["month", "contacts", "stage", "months_after", "reached", "share"].map(str::to_owned).to_vec();
        let rows = self
            .cohorts
            .iter()
            .flat_map(|c| {
                c.stages.iter().flat_map(move |s| {
                    s.by_month.iter().map(move |cell| {
                        vec![
                            c.month.to_string(),
                            c.contacts.to_string(),
                            s.stage.to_string(),
                            cell.months_after.to_string(),
                            cell.reached.to_string(),
                            cell.share.to_string(),
                        ]
                    })
                })
            })
            .collect();
        (header, rows)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::lifecycle::StageStep;
    use crate::model::Contact;
    use crate::reports::Period;
    use crate::response::Direction;
    use uuid::Uuid;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(&format!("{s}T12:00:00Z")).unwrap()
    }

    fn path(n: u128, entered: &str, steps: &[(Stage, &str)], now: Stage) -> Path {
        let c = Contact::new(Uuid::from_u128(n), None, Direction::Inbound, None, now, at(entered));
        let steps: Vec<StageStep> = steps.iter().map(|(to, d)| StageStep { to: *to, at: at(d), value: None }).collect();
        Path::of(&c, None, &steps)
    }

    fn cohorts(paths: &[Path], selection: Selection) -> Cohorts {
        let mut t = Cohorts::tally(selection, at("2026-04-10"));
        paths.iter().for_each(|p| t.add(p));
        t.finish()
    }

    #[test]
    fn a_cohort_shows_the_share_that_reached_each_stage_by_each_month_after_entry() {
        use Stage::*;
        let paths = [
            path(1, "2026-01-05", &[(Prospect, "2026-01-05"), (Mql, "2026-01-20"), (Customer, "2026-03-02")], Customer),
            path(2, "2026-01-25", &[(Prospect, "2026-01-25"), (Mql, "2026-02-10")], Mql),
            path(3, "2026-01-30", &[(Prospect, "2026-01-30")], Prospect),
            path(4, "2026-01-31", &[(Prospect, "2026-01-31"), (Disqualified, "2026-02-01")], Disqualified),
            path(5, "2026-03-15", &[(Prospect, "2026-03-15"), (Mql, "2026-03-16")], Mql),
        ];
        let c = cohorts(&paths, Selection::default());
        assert_eq!(c.excluded.disqualified, 1);
        let months: Vec<String> = c.cohorts.iter().map(|c| c.month.to_string()).collect();
        assert_eq!(months, ["2026-01", "2026-03"]);
        let jan = &c.cohorts[0];
        assert_eq!(jan.contacts, 3);
        let mql = jan.stages.iter().find(|s| s.stage == Mql).unwrap();
        // January to April: four months followed, the current one included.
        let reached: Vec<u64> = mql.by_month.iter().map(|m| m.reached).collect();
        assert_eq!(reached, [1, 2, 2, 2]);
        assert_eq!(mql.by_month[1].share, 2.0 / 3.0);
        let customer = jan.stages.iter().find(|s| s.stage == Customer).unwrap();
        assert_eq!(customer.by_month.iter().map(|m| m.reached).collect::<Vec<_>>(), [0, 0, 1, 1]);
        // Sal and sql were skipped on the way to customer: passed in March.
        assert_eq!(jan.stages.iter().find(|s| s.stage == Sal).unwrap().by_month[2].reached, 1);
        assert_eq!(c.cohorts[1].stages[1].by_month.len(), 2, "March is followed to April");
        let (header, rows) = c.table();
        assert_eq!(header[..3], ["month", "contacts", "stage"]);
        assert_eq!(rows.len(), 6 * 4 + 6 * 2);
        assert_eq!(rows[0], ["2026-01", "3", "prospect", "0", "3", "1"]);
    }

    #[test]
    fn a_period_selects_cohorts_by_entry_and_none_leaves_an_empty_report() {
        let paths = [path(1, "2026-01-05", &[(Stage::Prospect, "2026-01-05")], Stage::Prospect)];
        let feb = Period::new(Some(at("2026-02-01")), Some(at("2026-03-01"))).unwrap();
        let c = cohorts(&paths, Selection { period: feb, direction: None });
        assert!(c.cohorts.is_empty());
        assert!(c.table().1.is_empty());
    }
}
