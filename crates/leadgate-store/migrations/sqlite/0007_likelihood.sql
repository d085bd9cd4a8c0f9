-- The predictive score: every trained model, the latest in force. `options` are what it
-- was trained for (target, horizon, exclusions), `evaluation` its cross-validated
-- figures, `predictor` the encoding and trees as JSON.
CREATE TABLE likelihood_models (
    version     INTEGER PRIMARY KEY NOT NULL,
    options     TEXT NOT NULL,
    evaluation  TEXT NOT NULL,
    predictor   TEXT NOT NULL,
    author      TEXT NOT NULL,
    trained_at  INTEGER NOT NULL
);
