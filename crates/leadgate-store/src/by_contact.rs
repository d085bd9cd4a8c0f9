//! A batch's rows grouped by the contact they belong to.

use crate::Contacts;
use uuid::Uuid;

/// Rows of a batch of contacts grouped by contact, each group in its rows' order, and
/// looked up by contact. The rows of a batch arrive sorted by contact (the indexes by
/// contact give them so), which the stable sort that groups them finds in one pass;
/// each group then gets a vector of its own exact size, rather than one grown row by
/// row as rows are filed under their contact in a map.
#[derive(Debug, Clone, PartialEq)]
pub struct ByContact<T> {
    /// Sorted by contact, one group per contact.
    groups: Vec<(Uuid, Vec<T>)>,
}

impl<T> Default for ByContact<T> {
    fn default() -> Self {
        Self { groups: Vec::new() }
    }
}

impl<T> ByContact<T> {
    /// `rows` grouped by contact, each group in the rows' order.
    pub fn new(rows: impl IntoIterator<Item = (Uuid, T)>) -> Self {
        Self::of_rows(rows.into_iter().collect(), |_| true)
    }

    /// The rows that belong to `contacts` (see [`Contacts::holds`]), grouped, each
    /// group in the rows' order.
    pub(crate) fn of(rows: Vec<(Uuid, T)>, contacts: Contacts<'_>) -> Self {
        Self::of_rows(rows, |c| contacts.holds(c))
    }

    /// Groups made already, sorted by contact, one a contact; those of contacts not
    /// in `contacts` and those without rows left out.
    pub(crate) fn of_groups(mut groups: Vec<(Uuid, Vec<T>)>, contacts: Contacts<'_>) -> Self {
        debug_assert!(groups.is_sorted_by_key(|(c, _)| *c), "groups sorted by contact");
        groups.retain(|(c, rows)| !rows.is_empty() && contacts.holds(c));
        Self { groups }
    }

    /// The rows that belong to `contacts`, grouped, each contact's oldest first: by
    /// time, then in the order they were written (the middle of each row: its row
    /// number, or its time-ordered id). Read by contact, rows arrive sorted but for
    /// ties in time, which the sort finds in one pass.
    pub(crate) fn oldest_first<W: Ord>(
        mut rows: Vec<(Uuid, W, T)>,
        contacts: Contacts<'_>,
        at: impl Fn(&T) -> leadgate_core::Timestamp,
    ) -> Self {
        let order = |(c, w, row): &(Uuid, W, T), (d, v, other): &(Uuid, W, T)| {
            (c.as_u128(), at(row), w).cmp(&(d.as_u128(), at(other), v))
        };
        // Checked first: most often they are in order, and a stable sort of large rows
        // takes a buffer of half of them from fresh memory (which the kernel zeroes)
        // even to find that out.
        if !rows.is_sorted_by(|a, b| order(a, b).is_le()) {
            rows.sort_by(order);
        }
        Self::of_sorted(rows, |(c, _, _)| *c, |(_, _, row)| row, |c| contacts.holds(c))
    }

    fn of_rows(mut rows: Vec<(Uuid, T)>, keep: impl Fn(&Uuid) -> bool) -> Self {
        // Compared as the integers their bytes spell (the same order as the ids'),
        // which costs one comparison of two numbers rather than a call to compare bytes.
        // Stable: each contact's rows keep their order.
        if !rows.is_sorted_by_key(|(c, _)| c.as_u128()) {
            rows.sort_by_key(|(c, _)| c.as_u128());
        }
        Self::of_sorted(rows, |(c, _)| *c, |(_, row)| row, keep)
    }

    /// `rows`, sorted by `contact`, grouped, each made into what its group holds as it
    /// is moved there (a row is moved once: a batch's rows are many, and some large);
    /// the groups of contacts `keep` refuses left out.
    fn of_sorted<R>(
        rows: Vec<R>,
        contact: impl Fn(&R) -> Uuid,
        into: impl FnMut(R) -> T,
        keep: impl Fn(&Uuid) -> bool,
    ) -> Self {
        let mut sizes: Vec<(Uuid, usize)> = Vec::new();
        for row in &rows {
            let c = contact(row);
            match sizes.last_mut() {
                Some((last, n)) if *last == c => *n += 1,
                _ => sizes.push((c, 1)),
            }
        }
        let mut rows = rows.into_iter().map(into);
        let mut groups = Vec::with_capacity(sizes.len());
        for (c, n) in sizes {
            let group = rows.by_ref().take(n);
            if keep(&c) {
                // `take` of an iterator of known length: collected into a vector of that size.
                groups.push((c, group.collect()));
            } else {
                group.for_each(drop);
            }
        }
        Self { groups }
    }

    /// The rows of `contact`, taken out: none are left for it afterwards.
    pub fn take(&mut self, contact: &Uuid) -> Vec<T> {
        match self.find(contact) {
            Ok(i) => std::mem::take(&mut self.groups[i].1),
            Err(_) => Vec::new(),
        }
    }

    /// The rows of `contact`.
    pub fn get(&self, contact: &Uuid) -> &[T] {
        match self.find(contact) {
            Ok(i) => &self.groups[i].1,
            Err(_) => &[],
        }
    }

    /// Where `contact`'s group is, or would be.
    fn find(&self, contact: &Uuid) -> Result<usize, usize> {
        crate::search_by_id(&self.groups, contact, |(c, _)| c)
    }

    /// Each contact with rows, in id order, and its rows.
    pub fn iter(&self) -> impl Iterator<Item = (Uuid, &[T])> {
        self.groups.iter().map(|(c, g)| (*c, g.as_slice()))
    }

    /// Every row with its contact, contact by contact.
    pub fn into_rows(self) -> impl Iterator<Item = (Uuid, T)> {
        self.groups.into_iter().flat_map(|(c, g)| g.into_iter().map(move |row| (c, row)))
    }

    /// Whether no contact has a row.
    pub fn is_empty(&self) -> bool {
        self.groups.iter().all(|(_, g)| g.is_empty())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_in_any_order_are_grouped_by_contact_each_group_in_their_order() {
        let (a, b, c) = (Uuid::from_u128(1), Uuid::from_u128(2), Uuid::from_u128(3));
        let mut grouped = ByContact::new([(b, 1), (a, 2), (b, 3), (c, 4), (a, 5)]);
        assert_eq!(
            grouped.iter().map(|(c, g)| (c, g.to_vec())).collect::<Vec<_>>(),
            [(a, vec![2, 5]), (b, vec![1, 3]), (c, vec![4])]
        );
        assert_eq!(grouped.get(&b), [1, 3]);
        assert_eq!(grouped.take(&a), [2, 5]);
        assert!(grouped.take(&a).is_empty(), "taken once");
        assert!(grouped.get(&Uuid::from_u128(9)).is_empty());
        assert_eq!(grouped.into_rows().collect::<Vec<_>>(), [(b, 1), (b, 3), (c, 4)]);
    }

    #[test]
    fn a_run_keeps_only_its_own_contacts() {
        let ids = [Uuid::from_u128(1), Uuid::from_u128(3)];
        let rows = vec![(ids[0], 'a'), (ids[0], 'b'), (Uuid::from_u128(2), 'x'), (ids[1], 'c')];
        let grouped = ByContact::of(rows, Contacts::Run(&ids));
        assert!(grouped.get(&Uuid::from_u128(2)).is_empty(), "a merged contact within the range");
        assert_eq!(grouped.get(&ids[0]), ['a', 'b']);
        assert_eq!(grouped.get(&ids[1]), ['c']);
    }

    #[test]
    fn each_contact_s_rows_come_oldest_first_ties_in_the_order_written() {
        let (a, b) = (Uuid::from_u128(1), Uuid::from_u128(2));
        let at = |t: &(i64, char)| leadgate_core::Timestamp(t.0);
        let rows = vec![(b, 2, (5, 'z')), (a, 7, (3, 'c')), (a, 1, (3, 'b')), (a, 9, (1, 'a'))];
        let grouped = ByContact::oldest_first(rows, Contacts::Ids(&[a, b]), at);
        assert_eq!(grouped.get(&a), [(1, 'a'), (3, 'b'), (3, 'c')]);
        assert_eq!(grouped.get(&b), [(5, 'z')]);
    }
}
