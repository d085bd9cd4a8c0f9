//! SQL helpers that do not depend on the database: how many rows a statement takes,
//! what new contacts' rows are packed with, statements both databases run as they are.
//! The code that runs SQL is in `adapter`, compiled once for each database.

/// Splits `n` rows into statement sizes drawn from a fixed set (1,024 and the powers of
/// two below it), so that each size's statement is prepared once and then reused: group
/// commits have every possible size, and re-parsing a large INSERT each time would cost
/// more than executing it. (1,024 rows of up to 17 columns stay under both databases'
/// parameter limits: 32,766 on SQLite, 65,535 on PostgreSQL.)
/// `items` cut into slices of [`statement_sizes`].
pub(crate) fn statement_chunks<T>(items: &[T]) -> impl Iterator<Item = &[T]> {
    let mut rest = items;
    statement_sizes(items.len()).map(move |size| {
        let (chunk, tail) = rest.split_at(size);
        rest = tail;
        chunk
    })
}

pub(crate) fn statement_sizes(mut n: usize) -> impl Iterator<Item = usize> {
    const MAX: usize = 1_024;
    std::iter::from_fn(move || {
        if n == 0 {
            return None;
        }
        let size = if n >= MAX { MAX } else { 1 << (usize::BITS - 1 - n.leading_zeros()) };
        n -= size;
        Some(size)
    })
}

/// The statements that read `select` (ending in `WHERE ` or `AND `, with `lead`
/// numbered parameters of its own) for `contacts` by `column`, then `tail`: each
/// statement's SQL, numbered parameters after the lead, and the ids it binds. A list
/// of ids takes statements of the sizes of [`statement_chunks`]; a run of ids, one
/// statement over the range from its first to its last.
pub(crate) fn statements(
    select: &str,
    column: &str,
    lead: usize,
    contacts: crate::Contacts<'_>,
    tail: &str,
) -> Vec<(String, Vec<uuid::Uuid>)> {
    let sql = |parameters: &str| format!("{select}{column}{parameters}{tail}");
    match contacts {
        crate::Contacts::Run([]) => Vec::new(),
        crate::Contacts::Run(ids) => {
            let range = format!(" BETWEEN ${} AND ${}", lead + 1, lead + 2);
            vec![(sql(&range), vec![ids[0], ids[ids.len() - 1]])]
        }
        crate::Contacts::Ids(ids) => statement_chunks(ids)
            .map(|chunk| {
                let list: Vec<String> = (0..chunk.len()).map(|i| format!("${}", lead + i + 1)).collect();
                (sql(&format!(" IN ({})", list.join(", "))), chunk.to_vec())
            })
            .collect(),
    }
}

/// The pack rows of a batch of contacts (`statements`' `select`, `column` and `tail`),
/// each contact's together and in order.
pub(crate) const PACK_ROWS: (&str, &str, &str) =
    ("SELECT contact_id, events FROM event_packs WHERE ", "contact_id", " ORDER BY contact_id, seq");

/// What new contacts' rows are written with: the stage changes and responses recorded
/// with them, packed (`crate::stage_steps`, `crate::responses_brief`).
#[derive(Debug, Default)]
pub(crate) struct Packed {
    pub(crate) stage_steps: Vec<u8>,
    pub(crate) responses: Vec<u8>,
}

impl Packed {
    /// Of the contacts `new`, what their rows keep of `changes` and `responses`.
    pub(crate) fn of_new(
        new: &std::collections::HashSet<uuid::Uuid>,
        changes: &[leadgate_core::lifecycle::StageChange],
        responses: &[leadgate_core::model::Response],
    ) -> std::collections::HashMap<uuid::Uuid, Packed> {
        let mut packed: std::collections::HashMap<uuid::Uuid, Packed> = std::collections::HashMap::new();
        for c in changes.iter().filter(|c| new.contains(&c.contact_id)) {
            encode_step(&mut packed.entry(c.contact_id).or_default().stage_steps, c);
        }
        for r in responses.iter().filter(|r| new.contains(&r.contact_id) && counts(r)) {
            crate::responses_brief::encode(&mut packed.entry(r.contact_id).or_default().responses, r);
        }
        packed
    }
}

/// Whether a response counts as something the contact did: one judged junk says nothing
/// of the person it names, so it is kept (in the contact's timeline, and its raw body
/// in the inbox) but neither packed in brief on the contact's row nor read with it for
/// an assessment (`crate::HistoryReads::responses_of`): what the sender made up cannot qualify them.
pub(crate) fn counts(r: &leadgate_core::model::Response) -> bool {
    r.junk.is_none()
}

/// A stage change's record in its contact's packed stage steps.
pub(crate) fn encode_step(pack: &mut Vec<u8>, c: &leadgate_core::lifecycle::StageChange) {
    let step = leadgate_core::lifecycle::StageStep { to: c.to, at: c.at, value: c.value };
    crate::stage_steps::encode(pack, &step);
}

/// `records` encoded, each contact's together in the order given, the contacts sorted.
pub(crate) fn packs_by_contact<'r, T: 'r>(
    records: impl Iterator<Item = &'r T>,
    contact: impl Fn(&T) -> uuid::Uuid,
    encode: impl Fn(&mut Vec<u8>, &T),
) -> Vec<(uuid::Uuid, Vec<u8>)> {
    let mut by_contact: Vec<&T> = records.collect();
    // Stable: each contact's records in the order they were recorded.
    by_contact.sort_by_key(|r| contact(r));
    let mut packs: Vec<(uuid::Uuid, Vec<u8>)> = Vec::new();
    for r in by_contact {
        let c = contact(r);
        match packs.last_mut() {
            Some((last, bytes)) if *last == c => encode(bytes, r),
            _ => {
                let mut bytes = Vec::new();
                encode(&mut bytes, r);
                packs.push((c, bytes));
            }
        }
    }
    packs
}

/// How many contacts are live (not merged): counted from the index of live contacts.
pub(crate) const COUNT_LIVE_CONTACTS: &str = "SELECT COUNT(*) FROM contacts WHERE merged_into IS NULL";

/// Writes a contact's scores over those it had, unless they say what they said: when the
/// digest is the one written before (`ContactScores::digest`: the same scores, time
/// passing aside), the row is left as it is, and the statement changes no row. The same
/// statement on both backends, a row at a time (SQLite's large batches, which count the
/// rows changed) or a chunk of rows at a time (with `RETURNING contact_id`).
pub(crate) const UPSERT_SCORES: (&str, &str) = (
    "INSERT INTO contact_scores (contact_id, model, fit, engagement, funnel_position, pain, assessment, as_of, \
     likelihood, likelihood_factors, likelihood_model, digest) ",
    " ON CONFLICT (contact_id) DO UPDATE SET model = excluded.model, fit = excluded.fit, \
     engagement = excluded.engagement, funnel_position = excluded.funnel_position, \
     pain = excluded.pain, assessment = excluded.assessment, as_of = excluded.as_of, \
     likelihood = excluded.likelihood, likelihood_factors = excluded.likelihood_factors, \
     likelihood_model = excluded.likelihood_model, digest = excluded.digest WHERE contact_scores.digest IS DISTINCT FROM excluded.digest",
);

#[cfg(test)]
mod tests {
    #[test]
    fn statement_sizes_cover_every_row_once_with_few_shapes() {
        for n in [0, 1, 2, 3, 64, 70, 255, 256, 257, 1_000, 1_025, 20_000] {
            let sizes: Vec<_> = super::statement_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| s.is_power_of_two() && *s <= 1_024), "{sizes:?}");
        }
        assert_eq!(super::statement_sizes(70).collect::<Vec<_>>(), [64, 4, 2]);
        let rows: Vec<u32> = (0..2_500).collect();
        assert_eq!(super::statement_chunks(&rows).flatten().copied().collect::<Vec<_>>(), rows);
    }
}
