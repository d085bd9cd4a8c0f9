//! A cell of a report: the contacts behind one of its numbers, so that every count can
//! be opened and checked contact by contact.

use super::funnel::{FUNNEL, Path};
use super::{Grouping, Month, Selection, Verdict};
use crate::lifecycle::Stage;

/// Which number: a stage of one group of a waterfall, or a stage of one cohort by some
/// month after entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cell {
    Waterfall { group_by: Vec<Grouping>, group: Vec<Option<String>>, stage: usize },
    Cohort { month: Month, stage: usize, months_after: u32 },
}

/// Why a cell cannot be one of the report's.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CellError {
    #[error("{0} is not a stage of the funnel (suspect, prospect, mql, sal, sql, opportunity, customer)")]
    NotInFunnel(Stage),
}

/// The position of `stage` in [`FUNNEL`].
pub fn funnel_stage(stage: Stage) -> Result<usize, CellError> {
    FUNNEL.iter().position(|s| *s == stage).ok_or(CellError::NotInFunnel(stage))
}

impl Cell {
    /// Whether `p` is one of the contacts the cell's number counts.
    pub fn holds(&self, selection: &Selection, p: &Path) -> bool {
        if selection.verdict(p) != Verdict::Counted {
            return false;
        }
        match self {
            Cell::Waterfall { group_by, group, stage } => {
                p.reached[*stage].is_some() && group_by.iter().zip(group).all(|(g, v)| p.group(*g) == v.as_deref())
            }
            Cell::Cohort { month, stage, months_after } => {
                Month::of(p.entered_at) == *month && p.months_to_reach(*stage).is_some_and(|m| m <= *months_after)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Timestamp;
    use crate::lifecycle::StageStep;
    use crate::model::Contact;
    use crate::reports::cohorts::Cohorts;
    use crate::reports::waterfall::Waterfall;
    use crate::response::Direction;
    use uuid::Uuid;

    fn at(s: &str) -> Timestamp {
        Timestamp::parse_rfc3339(&format!("{s}T12:00:00Z")).unwrap()
    }

    /// Contacts of two channels over three months, reaching various stages.
    fn paths() -> Vec<Path> {
        let stages = [Stage::Prospect, Stage::Mql, Stage::Sql, Stage::Customer];
        (0..60u128)
            .map(|n| {
                let channel = if n % 3 == 0 { "webinar" } else { "paid_search" };
                let entered = format!("2026-0{}-1{}", 1 + n % 3, n % 9);
                let mut steps = vec![];
                for (i, stage) in stages.iter().enumerate().take(1 + (n % 5) as usize) {
                    steps.push(StageStep {
                        to: *stage,
                        at: at(&format!("2026-0{}-2{}", 1 + (n % 3) as usize + i, n % 8)),
                        value: None,
                    });
                }
                let now = steps.last().map_or(Stage::Suspect, |s| s.to);
                let now = if n % 11 == 0 { Stage::Disqualified } else { now };
                let c =
                    Contact::new(Uuid::from_u128(n), None, Direction::Inbound, Some(channel.into()), now, at(&entered));
                Path::of(&c, None, &steps)
            })
            .collect()
    }

    #[test]
    fn every_number_of_a_waterfall_and_of_cohorts_is_the_count_of_its_cell() {
        let paths = paths();
        let selection = Selection::default();
        let group_by = [Grouping::Channel];
        let w = Waterfall::of(&paths, selection, &group_by).unwrap();
        for g in &w.groups {
            for (k, s) in g.stages.iter().enumerate() {
                let cell = Cell::Waterfall {
                    group_by: group_by.to_vec(),
                    group: vec![g.group[&Grouping::Channel].clone()],
                    stage: k,
                };
                assert_eq!(paths.iter().filter(|p| cell.holds(&selection, p)).count() as u64, s.count);
            }
        }
        let mut t = Cohorts::tally(selection, at("2026-09-01"));
        paths.iter().for_each(|p| t.add(p));
        for c in &t.finish().cohorts {
            for s in &c.stages {
                for m in &s.by_month {
                    let cell = Cell::Cohort {
                        month: c.month,
                        stage: funnel_stage(s.stage).unwrap(),
                        months_after: m.months_after,
                    };
                    assert_eq!(paths.iter().filter(|p| cell.holds(&selection, p)).count() as u64, m.reached);
                }
            }
        }
        assert_eq!(funnel_stage(Stage::Nurture), Err(CellError::NotInFunnel(Stage::Nurture)));
    }
}
