-- What a contact's scores say apart from the passage of time (`ContactScores::digest`
-- in leadgate-core): scores assessed again and found as they were (a rescore that finds
-- a contact as it was, its engagement only decayed) are not written again, nor
-- announced on the change feed. Rows written before have none: their next write counts
-- as a change.
ALTER TABLE contact_scores ADD COLUMN digest BIGINT;
