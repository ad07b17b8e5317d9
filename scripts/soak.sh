#!/usr/bin/env bash
# Soak: `icac-ledger serve` under a mixed load (filings, shares, status changes, case
# reads, case lists and histories, intake queue reads, public reports) at a fixed rate
# for SOAK_SECONDS, sampling the server's RSS every SOAK_SAMPLE_SECONDS into a CSV.
#
# Fails (exit 1) if the server's RSS at the end exceeds its RSS after warm-up by more
# than SOAK_MAX_GROWTH_MIB, if any request failed, or if `verify` does not pass.
# Warm-up is the first 10 % of the run (at least one sample); "after warm-up" is the
# highest RSS sampled in the next 10 %, "at the end" the highest in the last 10 %.
#
# Not part of CI. Everything it makes goes under SOAK_OUT/<timestamp>/ (the database,
# key, server log, rss.csv, load.json, summary.txt).
#
#   scripts/soak.sh                                  # one hour on SQLite
#   SOAK_SECONDS=300 scripts/soak.sh                 # five minutes
#   SOAK_DB=postgres SOAK_SECONDS=300 scripts/soak.sh
set -euo pipefail
cd "$(dirname "$0")/.."

SOAK_SECONDS=${SOAK_SECONDS:-3600}
# Half the HTTP benchmark's rate (docs/PERFORMANCE.md, "HTTP"); set it to half of what
# `bench http` measures on the machine the soak runs on.
SOAK_RATE=${SOAK_RATE:-400}
SOAK_CONNECTIONS=${SOAK_CONNECTIONS:-32}
SOAK_SAMPLE_SECONDS=${SOAK_SAMPLE_SECONDS:-10}
SOAK_MAX_GROWTH_MIB=${SOAK_MAX_GROWTH_MIB:-64}
SOAK_DB=${SOAK_DB:-sqlite}                 # sqlite, or postgres (a fresh database on PG_ADMIN_URL)
PG_ADMIN_URL=${PG_ADMIN_URL:-${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}}
SOAK_OUT=${SOAK_OUT:-target/soak}
BIN=${ICAC_BIN:-target/release/icac-ledger}

log() { printf '==> %s\n' "$*" >&2; }

if [[ ! -x $BIN ]]; then
    log "building $BIN"
    cargo build --release -p icac-ledger --locked --features bench
fi

work="$SOAK_OUT/$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$work"
work=$(cd "$work" && pwd)
export ICAC_LEDGER_KEY="$work/soak.key"
export ICAC_LEDGER_ID=ct-icac-soak
pg_db=""
case "$SOAK_DB" in
    sqlite) export ICAC_LEDGER_DB="sqlite://$work/soak.db" ;;
    postgres)
        pg_db="icac_soak_$$"
        psql "$PG_ADMIN_URL" -qc "CREATE DATABASE $pg_db" >/dev/null
        export ICAC_LEDGER_DB="${PG_ADMIN_URL%/*}/$pg_db"
        ;;
    *) echo "SOAK_DB must be sqlite or postgres" >&2; exit 2 ;;
esac

server_pid=""
sampler_pid=""
cleanup() {
    [[ -n $sampler_pid ]] && kill "$sampler_pid" 2>/dev/null || true
    if [[ -n $server_pid ]] && kill -0 "$server_pid" 2>/dev/null; then
        kill -TERM "$server_pid" 2>/dev/null || true
        wait "$server_pid" 2>/dev/null || true
    fi
    if [[ -n $pg_db ]]; then
        psql "$PG_ADMIN_URL" -qc "DROP DATABASE IF EXISTS $pg_db WITH (FORCE)" >/dev/null || true
    fi
}
trap cleanup EXIT

"$BIN" init >"$work/init.log"
issue() { "$BIN" tokens issue --role "$1" --name soak 2>/dev/null; }
admin=$(issue admin)
investigator=$(issue investigator)
auditor=$(issue auditor)

# Public reports are rate-limited per address; the soak sends them all from loopback.
"$BIN" serve --addr 127.0.0.1:0 --hotline "Soak tip line=1-800-555-0100" --public-reports-per-10min 1000000000 \
    >"$work/serve.out" 2>"$work/serve.log" &
server_pid=$!
base=""
for _ in $(seq 1 600); do
    base=$(sed -n 's|.* on \(http://[0-9.:]*\)/.*|\1|p' "$work/serve.out" | head -1)
    [[ -n $base ]] && break
    kill -0 "$server_pid" 2>/dev/null || { cat "$work/serve.log" >&2; exit 1; }
    sleep 0.1
done
[[ -n $base ]] || { echo "serve did not start" >&2; exit 1; }
log "server pid $server_pid at $base; database $SOAK_DB; output in $work"

curl -sf -H "Authorization: Bearer $admin" -H 'Content-Type: application/json' \
    -d '{"ori":"CT0006400","name":"Hartford Police Department","kind":"municipal_police","town":"Hartford"}' \
    "$base/v1/units" >/dev/null

rss_kib() { awk '/^VmRSS:/ {print $2}' "/proc/$server_pid/status"; }
events() {
    curl -s -m 5 -H "Authorization: Bearer $auditor" "$base/v1/ledger/status" | jq -r '.size // ""'
}
start=$(date +%s)
echo "seconds,rss_kib,events" >"$work/rss.csv"
(
    while kill -0 "$server_pid" 2>/dev/null; do
        echo "$(( $(date +%s) - start )),$(rss_kib),$(events)" >>"$work/rss.csv"
        sleep "$SOAK_SAMPLE_SECONDS"
    done
) &
sampler_pid=$!

log "mixed load: $SOAK_RATE req/s on $SOAK_CONNECTIONS connections for $SOAK_SECONDS s"
load_status=0
ICAC_LOAD_TOKEN="$investigator" "$BIN" bench load --url "$base" --rate "$SOAK_RATE" \
    --connections "$SOAK_CONNECTIONS" --seconds "$SOAK_SECONDS" --report-every 60 \
    >"$work/load.json" || load_status=$?
echo "$(( $(date +%s) - start )),$(rss_kib),$(events)" >>"$work/rss.csv"
kill "$sampler_pid" 2>/dev/null || true
sampler_pid=""
kill -TERM "$server_pid"
wait "$server_pid" || true
server_pid=""

verify_status=0
"$BIN" verify >"$work/verify.txt" 2>&1 || verify_status=$?

summary=$(awk -F, -v max="$SOAK_MAX_GROWTH_MIB" '
    NR == 1 { next }
    { t[n] = $1; r[n] = $2; e[n] = $3; n++ }
    END {
        w = int(n / 10); if (w < 1) w = 1
        base = 0; for (i = w; i < 2 * w && i < n; i++) if (r[i] > base) base = r[i]
        last = 0; for (i = n - w; i < n; i++) if (r[i] > last) last = r[i]
        peak = 0; for (i = 0; i < n; i++) if (r[i] > peak) peak = r[i]
        growth = (last - base) / 1024
        printf "samples %d; RSS after warm-up %.1f MiB (t=%ss), at the end %.1f MiB, peak %.1f MiB; growth %.1f MiB (bound %d MiB); events %s -> %s\n", \
            n, base / 1024, t[w], last / 1024, peak / 1024, growth, max, e[w], e[n - 1]
        if (growth > max) exit 1
        exit 0
    }' "$work/rss.csv") && memory_ok=1 || memory_ok=0

requests=$(jq -r .requests "$work/load.json" 2>/dev/null || echo 0)
errors=$(jq -r .errors "$work/load.json" 2>/dev/null || echo "?")
{
    echo "soak: $SOAK_SECONDS s at $SOAK_RATE req/s on $SOAK_DB, $SOAK_CONNECTIONS connections"
    echo "load: $(cat "$work/load.json" 2>/dev/null)"
    echo "memory: $summary"
    echo "verify: $(tail -1 "$work/verify.txt")"
    echo "load average at the end: $(cut -d' ' -f1-3 /proc/loadavg)"
} | tee "$work/summary.txt"

status=0
[[ $memory_ok == 1 ]] || { echo "FAIL: RSS grew by more than $SOAK_MAX_GROWTH_MIB MiB" >&2; status=1; }
[[ $load_status == 0 && $errors == 0 && $requests != 0 ]] || { echo "FAIL: the load had errors ($errors of $requests) or did not run" >&2; status=1; }
[[ $verify_status == 0 ]] || { echo "FAIL: verify exited $verify_status" >&2; status=1; }
[[ $status == 0 ]] && echo "PASS" >&2
exit $status
