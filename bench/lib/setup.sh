# Sourced by a bench script, from the repository's root, after it sets NAME (a word for
# its PostgreSQL schema) and PORT: a work folder removed at exit, the leadgate binary
# ($BIN, a release build unless given), and its database, SQLite in the work folder or,
# with LEADGATE_BENCH_PG_URL, a fresh PostgreSQL schema dropped at exit. Then
# `start_server` starts `leadgate serve` on PORT (SERVER, stopped at exit) and waits
# until it answers.
WORK="$(mktemp -d)"
PG_URL="${LEADGATE_BENCH_PG_URL:-}"
SCHEMA="bench_${NAME}_$$"
cleanup() {
    # Only a server this script started: `kill 0` would stop the caller's whole
    # process group (a pipe into `tee`, say).
    if [ -n "${SERVER:-}" ]; then kill "$SERVER" 2>/dev/null || true; fi
    if [ -n "$PG_URL" ]; then
        psql "$PG_URL" -qAtc "DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
if [ -z "${BIN:-}" ]; then
    cargo build --release -q -p leadgate
    BIN=target/release/leadgate
fi
export LEADGATE_LOG=warn LEADGATE_DATA_DIR="$WORK/data"
unset LEADGATE_DATABASE_URL
if [ -n "$PG_URL" ]; then
    psql "$PG_URL" -qAtc "CREATE SCHEMA $SCHEMA" >/dev/null
    sep='?'; case "$PG_URL" in *'?'*) sep='&' ;; esac
    export LEADGATE_DATABASE_URL="$PG_URL${sep}options=-c%20search_path%3D$SCHEMA&application_name=$SCHEMA"
    echo "== PostgreSQL, schema $SCHEMA"
fi

start_server() {
    "$BIN" serve --listen "127.0.0.1:$PORT" > "$WORK/serve.log" 2>&1 &
    SERVER=$!
    for _ in $(seq 50); do curl -sf "http://127.0.0.1:$PORT/healthz" >/dev/null && break; sleep 0.2; done
}
