#!/usr/bin/env bash
# Likelihood benchmark of leadgate: how well calibrated and how well ranked its
# likelihoods are on public histories, beside scikit-learn on the same rows and folds.
# For X Education (9,240 leads, sales team's columns excluded) and Olist (8,000 MQLs, of
# which 842 closed, 838 within the default 365-day horizon; the deal columns, filled in
# only for won deals, excluded):
# `leadgate model train` (cross-validated ROC AUC, Brier, reliability table), then
# `leadgate model examples` writes the rows and folds it learned from and
# bench/lib/sklearn_baseline.py cross-validates HistGradientBoosting and logistic
# regression on them.
#
#   bench/likelihood.sh
#   BIN=target/release/leadgate bench/likelihood.sh   # a build already made
#
# Targets (issue: calibrated likelihood): mean predicted within 10 % of the observed
# rate, every decile within 0.05 of its rate, Brier <= HistGradientBoosting + 0.005,
# ROC AUC >= the best scikit-learn baseline.
# Needs: python3 with scikit-learn and pandas (pip install scikit-learn pandas).
# Prints figures only; it asserts nothing. Results go in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
DATA="${DATA:-../shared/data}"
WORK="$(mktemp -d)"
trap 'rm -rf "$WORK"' EXIT
if [ -z "${BIN:-}" ]; then
    # The build leadgate is deployed with (Cargo.toml's `production` profile).
    cargo build --profile production -q -p leadgate
    BIN=target/production/leadgate
fi
export LEADGATE_LOG=warn
unset LEADGATE_DATABASE_URL

# one NAME EXCLUDE IMPORT... : a fresh database, the imports, training, then scikit-learn.
one() {
    local name="$1" exclude="$2"
    shift 2
    export LEADGATE_DATA_DIR="$WORK/$name"
    echo "== $name"
    while [ $# -gt 0 ]; do
        "$BIN" import "$1" --mapping "$2" > /dev/null
        shift 2
    done
    "$BIN" model train --exclude "$exclude"
    "$BIN" model examples --exclude "$exclude" --raw --out "$WORK/$name.csv"
    python3 bench/lib/sklearn_baseline.py "$WORK/$name.csv"
}

one xeducation 'custom.sales_*,custom.lead_number' \
    "$DATA/xeducation/Leads.csv" examples/xeducation.toml
one olist 'custom.*' \
    "$DATA/olist/olist_marketing_qualified_leads_dataset.csv" examples/olist-mqls.toml \
    "$DATA/olist/olist_closed_deals_dataset.csv" examples/olist-closed-deals.toml
