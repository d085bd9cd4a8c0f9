-- The ids of live (not merged) contacts, in id order: what a walk over every contact
-- (a rescore, a backtest, training) reads a batch at a time. Without it each batch's
-- ids were found by reading the contacts' rows themselves, the whole table once per
-- walk.
CREATE INDEX contacts_live ON contacts (id) WHERE merged_into IS NULL;
