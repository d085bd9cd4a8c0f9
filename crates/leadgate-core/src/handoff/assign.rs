//! Which person of a team takes the next piece of work: round robin, fair over time,
//! skipping people who are away or whose capacity the work would exceed.
//!
//! Each person keeps the turn they last took; the next piece goes to the available
//! person whose turn is oldest, and they take the newest turn. Three people with no
//! turns yet take thirty contacts ten each, in rotation. Ties (people who never took a
//! turn) are broken by a hash of the piece of work, so that they do not always go to the
//! same person; someone back from holiday takes the next piece, then waits their turn
//! like everyone else instead of being flooded.

use crate::Timestamp;
use uuid::Uuid;

/// A person who may be given work, as the rotation sees them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    pub user_id: Uuid,
    /// The most open work they hold at once, in weight (an item weighs 1 unless its
    /// routing rule says otherwise).
    pub capacity: i64,
    /// The weight of the open work they hold.
    pub load: i64,
    /// Away until then (holiday, sick leave): no new work.
    pub away_until: Option<Timestamp>,
    /// The turn they last took in their team's rotation (0: never).
    pub turn: i64,
    /// Countries or regions they cover, normalised ([`territory_key`]).
    pub territories: Vec<String>,
    /// Whether they take turns: qualifiers, SDRs and sellers do; managers and admins
    /// are given work only as account owners or by escalation.
    pub in_rotation: bool,
}

impl Candidate {
    /// Whether they can take work of `weight` at `now`.
    pub fn available(&self, weight: i64, now: Timestamp) -> bool {
        self.away_until.is_none_or(|until| until <= now) && self.load + weight <= self.capacity
    }

    /// Whether they cover the territory `key`.
    pub fn covers(&self, key: &str) -> bool {
        self.territories.iter().any(|t| t == key)
    }
}

/// The person whose turn it is among `candidates` for work of `weight` (an index into
/// `candidates`), when anyone is available; `tie` (the work's id) breaks ties.
pub fn next_in_turn(candidates: &[Candidate], weight: i64, now: Timestamp, tie: Uuid) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .filter(|(_, c)| c.in_rotation && c.available(weight, now))
        .min_by_key(|(_, c)| (c.turn, mix(tie, c.user_id)))
        .map(|(i, _)| i)
}

/// Gives `candidates[chosen]` work of `weight`: their load grows and they take the turn
/// after every turn of `candidates` (the team).
pub fn take_turn(candidates: &mut [Candidate], chosen: usize, weight: i64) {
    let newest = candidates.iter().map(|c| c.turn).max().unwrap_or(0);
    let c = &mut candidates[chosen];
    c.turn = newest + 1;
    c.load += weight;
}

/// A stable hash of two ids, to order people who tie differently for each piece of work.
fn mix(a: Uuid, b: Uuid) -> u64 {
    xxhash_rust::xxh3::xxh3_64(&[a.as_bytes().as_slice(), b.as_bytes().as_slice()].concat())
}

/// A territory as compared: trimmed, in lower case (`DE`, `de ` and `De` are one).
pub fn territory_key(name: &str) -> String {
    name.trim().to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::HashMap;

    fn person(n: u128, capacity: i64) -> Candidate {
        Candidate {
            user_id: Uuid::from_u128(n),
            capacity,
            load: 0,
            away_until: None,
            turn: 0,
            territories: vec![],
            in_rotation: true,
        }
    }

    /// Routes `pieces` pieces of `weight` to `team`, returning how many each took.
    fn route(team: &mut [Candidate], pieces: u128, weight: i64, now: Timestamp) -> HashMap<Uuid, usize> {
        let mut taken = HashMap::new();
        for n in 0..pieces {
            if let Some(i) = next_in_turn(team, weight, now, Uuid::from_u128(1_000 + n)) {
                take_turn(team, i, weight);
                *taken.entry(team[i].user_id).or_default() += 1;
            }
        }
        taken
    }

    #[test]
    fn thirty_contacts_over_three_people_are_ten_each() {
        let mut team = vec![person(1, 100), person(2, 100), person(3, 100)];
        let taken = route(&mut team, 30, 1, Timestamp(0));
        assert_eq!(taken.values().copied().collect::<Vec<_>>(), vec![10, 10, 10]);
    }

    #[test]
    fn ties_do_not_always_go_to_the_same_person() {
        // A fresh team, again and again: who takes the first piece varies.
        let firsts: std::collections::HashSet<Uuid> = (0..30u128)
            .map(|n| {
                let team = [person(1, 5), person(2, 5), person(3, 5)];
                team[next_in_turn(&team, 1, Timestamp(0), Uuid::from_u128(n)).unwrap()].user_id
            })
            .collect();
        assert_eq!(firsts.len(), 3, "every person took a first piece at some point");
    }

    #[test]
    fn people_away_or_at_capacity_are_skipped() {
        let now = Timestamp(1_000);
        let mut team = vec![person(1, 100), person(2, 100), person(3, 2)];
        team[0].away_until = Some(Timestamp(2_000));
        let taken = route(&mut team, 10, 1, now);
        assert_eq!(taken.get(&Uuid::from_u128(1)), None, "away");
        assert_eq!(taken[&Uuid::from_u128(3)], 2, "capacity 2 holds two");
        assert_eq!(taken[&Uuid::from_u128(2)], 8);
        // Back from holiday: the next piece is theirs, then the rotation goes on.
        let later = Timestamp(3_000);
        let taken = route(&mut team[..2], 2, 1, later);
        assert_eq!((taken[&Uuid::from_u128(1)], taken[&Uuid::from_u128(2)]), (1, 1));
        // Nobody available: nobody is chosen; nor is a manager, who takes no turns.
        let full = [Candidate { load: 2, ..person(4, 2) }, Candidate { in_rotation: false, ..person(5, 9) }];
        assert_eq!(next_in_turn(&full, 1, now, Uuid::nil()), None);
    }

    #[test]
    fn capacity_is_counted_in_weight() {
        // Capacity 6, items of weight 2: three items, then no more.
        let mut team = vec![person(1, 6)];
        assert_eq!(route(&mut team, 5, 2, Timestamp(0))[&Uuid::from_u128(1)], 3);
        assert_eq!(team[0].load, 6);
    }
}
