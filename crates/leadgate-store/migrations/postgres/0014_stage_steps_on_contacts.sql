-- Each contact's stage steps (when it reached which stage, for what value) packed on
-- its own row, so that a read of many contacts with where they went (a backtest,
-- training) reads one row a contact: see `src/stage_steps.rs` for the format. Filled
-- here from the stage changes already stored, with the same expression the store
-- packs a contact's steps anew with (`PACK_STAGE_STEPS` in `src/postgres.rs`).
ALTER TABLE contacts ADD COLUMN stage_steps BYTEA NOT NULL DEFAULT ''::bytea;

UPDATE contacts SET stage_steps = packed.steps
FROM (
    SELECT contact_id, string_agg(
            int8send(at) || int4send(octet_length(to_stage)) || convert_to(to_stage, 'UTF8')
                || CASE WHEN value IS NULL THEN decode('00', 'hex') ELSE decode('01', 'hex') || int8send(value) END,
            ''::bytea ORDER BY at, id) AS steps
    FROM stage_changes GROUP BY contact_id
) AS packed
WHERE packed.contact_id = contacts.id;
