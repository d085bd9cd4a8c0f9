-- Which likelihood model (`likelihood@version`) made a contact's likelihood, shown
-- beside the scoring model. Rows written before have none; the digest's format
-- changed with it, so the next rescore writes every contact's scores once more.
ALTER TABLE contact_scores ADD COLUMN likelihood_model TEXT;
