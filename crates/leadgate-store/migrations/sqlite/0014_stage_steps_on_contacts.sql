-- Each contact's stage steps (when it reached which stage, for what value) packed on
-- its own row, so that a read of many contacts with where they went (a backtest,
-- training) reads one row a contact: see `src/stage_steps.rs` for the format. Filled
-- here from the stage changes already stored, with the same expression the store
-- packs a contact's steps anew with (`PACK_STAGE_STEPS` in `src/sqlite.rs`).
ALTER TABLE contacts ADD COLUMN stage_steps BLOB NOT NULL DEFAULT x'';

UPDATE contacts SET stage_steps = packed.steps
FROM (
    SELECT contact_id, unhex(group_concat(
            printf('%016x%08x', at, length(CAST(to_stage AS BLOB))) || hex(to_stage)
                || CASE WHEN value IS NULL THEN '00' ELSE '01' || printf('%016x', value) END,
            '' ORDER BY at, id)) AS steps
    FROM stage_changes GROUP BY contact_id
) AS packed
WHERE packed.contact_id = contacts.id;
