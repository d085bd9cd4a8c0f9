#!/usr/bin/env bash
# CSV import benchmark of leadgate: `leadgate import` of a generated file of N contacts
# into an empty database (wall time and peak memory), the same import again (everything
# unchanged: the re-import path), and `leadgate duplicates` over the imported contacts.
#
#   bench/import.sh                   # SQLite, 1,000,000 rows
#   bench/import.sh 100000            # smaller (or ROWS=100000 bench/import.sh)
#   LEADGATE_BENCH_PG_URL=postgres://postgres@127.0.0.1:5432/test bench/import.sh
#                                     # also PostgreSQL, in a fresh schema dropped afterwards
#
# Targets (1,000,000 rows, SQLite): import <= 30 s with peak memory <= 300 MB;
# re-import <= 15 s; duplicate detection over 1,000,000 contacts <= 30 s.
#
# The file (bench/gen-contacts.awk) is deterministic: ~100,000 company domains, ~3 %
# gmail.com addresses, ~1 % of rows the same person again under a variant address
# (+tag, jsmith for john.smith, smith.john), dates 2024-2026, ~30 % with an MQL date.
# Needs: awk, GNU time (/usr/bin/time; apt-get install -y time), psql for PostgreSQL.
# Prints figures only; it asserts nothing. Results go in docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROWS="${1:-${ROWS:-1000000}}"
PG_URL="${LEADGATE_BENCH_PG_URL:-}"
WORK="$(mktemp -d)"
SCHEMA="bench_import_$$"
cleanup() {
    if [ -n "$PG_URL" ]; then
        psql "$PG_URL" -qAtc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ ! -x /usr/bin/time ]; then
    if [ "$(id -u)" = 0 ]; then apt-get install -y -q time >/dev/null; else
        echo "needs GNU time: apt-get install -y time" >&2; exit 1; fi
fi

cargo build --release -q -p leadgate
BIN=target/release/leadgate
export LEADGATE_LOG=warn
# The data dir or URL is given on each command line; none may come from the environment.
unset LEADGATE_DATABASE_URL LEADGATE_DATA_DIR

echo "== generating $ROWS rows"
CSV="$WORK/contacts.csv"
start=$(date +%s%N)
awk -v rows="$ROWS" -f bench/gen-contacts.awk > "$CSV"
echo "generated $CSV ($(( $(stat -c %s "$CSV") / 1000000 )) MB) in $(( ($(date +%s%N) - start) / 1000000 )) ms"

MAP="$WORK/contacts.toml"
cat > "$MAP" <<'TOML'
# Mapping of the file bench/gen-contacts.awk writes.
[contact]
email = "Email"
first_name = "First Name"
last_name = "Last Name"
company = "Company"
title = "Job Title"
country = "Country"
phone = "Phone"
created_at = "Create Date"

[response]
at = "Create Date"
channel = { column = "Lead Source", map = { "Trade Show" = "event", "LinkedIn" = "social", "Email" = "email_newsletter" }, unmapped = "keep" }
action = { value = "form_fill" }

[[stage]]
stage = { value = "mql" }
at = "Lifecycle Stage Date"
TOML

# GNU time's figures for the last measure: WALL (s), RSS (MB), RC.
measure() { # name, command...
    local name="$1"; shift
    sync
    RC=0
    /usr/bin/time -v -o "$WORK/$name.time" "$@" > "$WORK/$name.out" 2> "$WORK/$name.err" || RC=$?
    WALL=$(awk -F': ' '/Elapsed \(wall clock\)/ { n = split($2, p, ":"); s = 0
        for (i = 1; i <= n; i++) s = s * 60 + p[i]; printf "%.1f", s }' "$WORK/$name.time")
    RSS=$(awk -F': ' '/Maximum resident set size/ { printf "%.0f", $2 / 1024 }' "$WORK/$name.time")
    if [ "$RC" != 0 ]; then
        echo "!! $name exited with $RC:"
        grep -v '^Command exited' "$WORK/$name.err" | tail -20 | sed 's/^/   /'
    fi
}

SUMMARY="$WORK/summary"
row() { # backend, step, wall, rss, target, note
    printf '%-9s %-22s %9s %9s   %-24s %s\n' "$@" >> "$SUMMARY"
}

CHECK=$(( ROWS < 1000 ? ROWS : 1000 ))
# Check the mapping on the first 1,000 rows (a scratch SQLite database) before timing.
echo "== checking the mapping on $CHECK rows"
head -n $(( CHECK + 1 )) "$CSV" > "$WORK/check.csv"
"$BIN" --data-dir "$WORK/check-data" import "$WORK/check.csv" --mapping "$MAP" \
    > "$WORK/check.out" 2> "$WORK/check.err" || true
cat "$WORK/check.out" "$WORK/check.err" | grep -v '^import ' | sed 's/^/   /'
if ! grep -q "^imported $CHECK of $CHECK rows" "$WORK/check.out"; then
    echo "the mapping does not import every row: fix it before timing (see above)" >&2
    exit 1
fi
rm -rf "$WORK/check-data" "$WORK/check.csv"

bench() { # backend, global options...
    local backend="$1"; shift
    local line
    target() { if [ "$backend" = sqlite ]; then echo "$1"; else echo "-"; fi; }
    echo "== $backend: import $ROWS rows into an empty database"
    measure "$backend-import" "$BIN" "$@" import "$CSV" --mapping "$MAP"
    line=$(grep -m1 -E '^(imported|would import)' "$WORK/$backend-import.out" || echo "no summary line")
    echo "   $line"
    echo "   wall $WALL s, peak RSS $RSS MB"
    row "$backend" import "$WALL" "$RSS" "$(target "<= 30 s, <= 300 MB")" "rc $RC"

    echo "== $backend: the same import again (nothing changed)"
    measure "$backend-reimport" "$BIN" "$@" import "$CSV" --mapping "$MAP"
    line=$(grep -m1 -E '^(imported|would import)' "$WORK/$backend-reimport.out" || echo "no summary line")
    echo "   $line"
    echo "   wall $WALL s, peak RSS $RSS MB"
    row "$backend" re-import "$WALL" "$RSS" "$(target "<= 15 s")" "rc $RC"

    echo "== $backend: duplicates --limit 10"
    measure "$backend-duplicates" "$BIN" "$@" duplicates --limit 10
    line=$(grep -m1 'likely duplicate pairs' "$WORK/$backend-duplicates.err" || echo "no pair count")
    sed 's/^/   /' "$WORK/$backend-duplicates.out" | cut -c1-160 | head -5
    echo "   $line"
    echo "   wall $WALL s, peak RSS $RSS MB"
    row "$backend" duplicates "$WALL" "$RSS" "$(target "<= 30 s")" "$(awk '{print $1 " pairs"}' <<<"$line")"
}

bench sqlite --data-dir "$WORK/data"
echo "   database: $(du -sm "$WORK/data" | cut -f1) MB on disk"

if [ -n "$PG_URL" ]; then
    psql "$PG_URL" -qAtc "CREATE SCHEMA $SCHEMA" >/dev/null
    sep='?'; case "$PG_URL" in *'?'*) sep='&' ;; esac
    # The same way the tests reach a fresh schema (crates/leadgate-store/src/testing.rs).
    SCHEMA_URL="$PG_URL${sep}options=-c%20search_path%3D$SCHEMA&application_name=$SCHEMA"
    bench postgres --database-url "$SCHEMA_URL"
    echo "   schema $SCHEMA: $(psql "$PG_URL" -qAtc "SELECT pg_size_pretty(sum(pg_total_relation_size(c.oid)))
        FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
        WHERE n.nspname = '$SCHEMA' AND c.relkind IN ('r', 'm')") (dropped at exit)"
fi

echo
echo "== summary: $ROWS rows, $(nproc) cores, $(git rev-parse --short HEAD 2>/dev/null || echo '?')$(git diff --quiet HEAD 2>/dev/null || echo '+changes')"
printf '%-9s %-22s %9s %9s   %-24s %s\n' backend step "wall s" "RSS MB" "target (1M rows)" note
cat "$SUMMARY"
[ -n "$PG_URL" ] && echo "(PostgreSQL: RSS is leadgate's own; the server's memory is not counted)"
echo
echo "reproduce: bench/import.sh $ROWS${PG_URL:+   # with LEADGATE_BENCH_PG_URL=$PG_URL}"
echo "   the file alone: awk -v rows=$ROWS -f bench/gen-contacts.awk > contacts.csv"
