#!/usr/bin/env bash
# Schema-driven fuzzing of the HTTP API with schemathesis, against /v1/openapi.json.
#
#   scripts/schemathesis.sh [--postgres] [--seconds N] [--seed N] [--bin PATH]
#
# Builds the release binary, starts `icac-ledger serve` on a free loopback port over a
# fresh SQLite file (--postgres: a fresh PostgreSQL database on 127.0.0.1:5432, or
# $ICAC_FUZZ_PG_URL's server), loads a small demo year so ids exist, issues a token for
# every role, then runs schemathesis over every operation as each role and with no
# token: every check (server errors, status codes, content types, response schemas and
# headers, negative data rejected, positive data accepted, auth enforced, ...), in every
# phase (examples, coverage, fuzzing, stateful), positive and negative data.
#
# Rejected requests must change nothing. Two independent measurements:
#   * per request: the hook `rejected_request_changes_nothing` (scripts/schemathesis/
#     hooks.py) reads the ledger size before each request and again after any 4xx; one
#     worker, so nothing else writes in between;
#   * per phase: a negative-only run per role (every request carries data the schema
#     forbids) must leave the ledger head (size and hash) exactly as it was.
# Any 5xx or panic in the server's request log fails the run too. At the end the server
# is stopped and `icac-ledger verify` must find the chain intact.
#
# Exit status: 0 when every run passed, 1 on any failure. Time: about 7 x 2 x (N + 5)
# seconds (N = --seconds, default 12) plus the build. Python: a venv in .venv-st
# (git-ignored) with the pinned schemathesis, created on first use. Logs and JUnit
# reports: target/schemathesis/<backend>/. See docs/API.md.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD

BIN=
SECONDS_PER_RUN=12
SEED=29
BACKEND=sqlite
while [ $# -gt 0 ]; do
    case "$1" in
        --postgres) BACKEND=postgres ;;
        --seconds) SECONDS_PER_RUN=$2; shift ;;
        --seed) SEED=$2; shift ;;
        --bin) BIN=$(realpath "$2"); shift ;;
        -h|--help) sed -n '2,28p' "$0"; exit 0 ;;
        *) echo "unknown argument: $1" >&2; exit 2 ;;
    esac
    shift
done

SCHEMATHESIS_VERSION=4.32.5
log() { printf '==> %s\n' "$*" >&2; }

if [ -z "$BIN" ]; then
    log "building the release binary"
    cargo build --release --locked -p icac-ledger --bin icac-ledger >&2
    BIN=$ROOT/target/release/icac-ledger
fi

VENV=$ROOT/.venv-st
if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
    log "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install -q "schemathesis==$SCHEMATHESIS_VERSION"
fi

WORK=$(mktemp -d "${TMPDIR:-/tmp}/icac-fuzz.XXXXXX")
SERVER_PID=
PG_DB=
cleanup() {
    if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    if [ -n "$PG_DB" ]; then
        psql -q -h 127.0.0.1 -U postgres -d postgres -c "DROP DATABASE IF EXISTS \"$PG_DB\"" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT

if [ "$BACKEND" = postgres ]; then
    PG_DB="icac_fuzz_$$_$(date +%s)"
    PG_SERVER=${ICAC_FUZZ_PG_URL:-postgres://postgres@127.0.0.1:5432}
    psql -q "$PG_SERVER/postgres" -c "CREATE DATABASE \"$PG_DB\"" >/dev/null
    export ICAC_LEDGER_DB="$PG_SERVER/$PG_DB"
else
    export ICAC_LEDGER_DB="sqlite://$WORK/ledger.db"
fi
export ICAC_LEDGER_KEY=$WORK/ledger.key
export ICAC_LEDGER_ID=ct-icac

log "seeding a fresh $BACKEND ledger with a small demo year"
"$BIN" demo --cases 40 --seed 7 >/dev/null 2>"$WORK/demo.log"

declare -A TOKEN
ROLES="unit_reporter investigator supervisor auditor report_author admin"
for role in $ROLES; do
    unit=()
    [ "$role" = unit_reporter ] && unit=(--unit CT0006400)
    TOKEN[$role]=$("$BIN" tokens issue --role "$role" "${unit[@]}" --name "fuzz $role" 2>/dev/null)
done

PORT=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')
BASE="http://127.0.0.1:$PORT"
log "starting the server on $BASE"
# The checkpointer is set far off so that it does not write while a phase is measured.
ICAC_LOG=info "$BIN" serve --addr "127.0.0.1:$PORT" --hotline "Fuzz tip line=1-800-555-0100" --checkpoint-every-events 1000000000 \
    --checkpoint-every-secs 86400 >"$WORK/server.log" 2>&1 &
SERVER_PID=$!
for _ in $(seq 1 100); do
    curl -fsS "$BASE/readyz" >/dev/null 2>&1 && break
    kill -0 "$SERVER_PID" 2>/dev/null || { cat "$WORK/server.log" >&2; exit 1; }
    sleep 0.2
done

api() { curl -fsS -H "Authorization: Bearer ${TOKEN[$1]}" "$BASE$2"; }
head_of() { api auditor /v1/ledger/status | python3 -c 'import json,sys; d=json.load(sys.stdin); print(d["size"], d["head"])'; }

# Ids that exist, so that fuzzed bodies reach the commands behind the 404 checks; the
# generated (mostly unknown) ids are still used for the rest of the cases.
ids() { python3 -c "import json,sys; d=json.load(sys.stdin); print(json.dumps(sorted({x['$2'] for x in d['$1']})[:$3]))"; }
CASES=$(api investigator '/v1/cases?limit=500' | ids cases case_id 25)
OWN_CASES=$(api unit_reporter '/v1/cases?limit=500' | ids cases case_id 10)
UNITS=$(api admin /v1/units | ids units ori 40)
OPERATIONS=$(api investigator /v1/operations | ids operations operation_id 10)
# Public reports in every stage the fuzzer can act on: received ones from the hotline.
RECEIPTS=$(for _ in 1 2 3 4 5 6; do
    curl -fsS -H "Authorization: Bearer ${TOKEN[investigator]}" -H 'Content-Type: application/json' \
        -d '{"channel":"hotline"}' "$BASE/v1/public-reports"; echo
done | python3 -c 'import json,sys; print(json.dumps([json.loads(l)["receipt_number"] for l in sys.stdin if l.strip()]))')
# Spare tokens for the admin's revocations: the fuzzers' own tokens must survive.
TOKEN_IDS=$(for i in 1 2 3; do
    "$BIN" tokens issue --role report_author --name "spare $i" 2>/dev/null | cut -d_ -f2
done | python3 -c 'import json,sys; print(json.dumps(sys.stdin.read().split()))')

cat >"$WORK/schemathesis.toml" <<EOF
# Generated by scripts/schemathesis.sh for one run.
[dictionaries]
case_ids = { values = $(python3 -c "import json; print(json.dumps(json.loads('$CASES') + json.loads('$OWN_CASES')))") }
units = { values = $UNITS }
operation_ids = { values = $OPERATIONS }
receipts = { values = $RECEIPTS }
token_ids = { values = $TOKEN_IDS }
referral_numbers = { values = ["1", "2"] }

[parameters]
"path.case_id" = { dictionary = "case_ids", probability = 0.7 }
"path.ori" = { dictionary = "units", probability = 0.7 }
"path.operation_id" = { dictionary = "operation_ids", probability = 0.7 }
"path.receipt" = { dictionary = "receipts", probability = 0.7 }
"path.token_id" = { dictionary = "token_ids", probability = 0.3 }
"path.number" = { dictionary = "referral_numbers", probability = 0.7 }
"query.unit" = { dictionary = "units", probability = 0.5 }
"body.reporting_unit" = { dictionary = "units", probability = 0.6 }
"body.arresting_unit" = { dictionary = "units", probability = 0.6 }
"body.lead_unit" = { dictionary = "units", probability = 0.6 }
"body.unit" = { dictionary = "units", probability = 0.6 }
"body.operation_id" = { dictionary = "operation_ids", probability = 0.3 }

[generation]
database = "none"

[checks.positive_data_acceptance]
# 422 with type rejected-by-rule: a well-formed command the ledger's rules refuse (a
# status transition from the wrong state, a second arrest date before the first, ...);
# the schema describes shapes, not the case's state. 409: already exists.
expected-statuses = ["2xx", "401", "403", "404", "409", "422", "429"]
EOF

export ICAC_FUZZ_BASE=$BASE
export ICAC_FUZZ_AUDITOR_TOKEN=${TOKEN[auditor]}
export PYTHONPATH="$ROOT/scripts/schemathesis${PYTHONPATH:+:$PYTHONPATH}"
export SCHEMATHESIS_HOOKS=hooks

FAILED=()
LOGS=$ROOT/target/schemathesis/$BACKEND
rm -rf "$LOGS"
mkdir -p "$LOGS"
run_schemathesis() { # name mode phases [auth header args...]
    local name=$1 mode=$2 phases=$3
    shift 3
    log "schemathesis: $name ($mode data; $phases)"
    if ! (cd "$WORK" && "$VENV/bin/schemathesis" --config-file "$WORK/schemathesis.toml" run "$BASE/v1/openapi.json" \
        --checks all --mode "$mode" --phases "$phases" --workers 1 --seed "$SEED" \
        --max-time "$SECONDS_PER_RUN" --max-failures 20 --continue-on-failure \
        --suppress-health-check all --generation-with-security-parameters false \
        --request-timeout 30 -H "Connection: close" "$@" \
        --report junit --report-dir "$LOGS/report-$name-$mode" \
        --no-color) >"$LOGS/$name-$mode.log" 2>&1; then
        FAILED+=("$name/$mode")
        cat "$LOGS/$name-$mode.log"
    fi
    grep -E "generated|passed|failed" "$LOGS/$name-$mode.log" | sed 's/^/    /' >&2 || true
}

read -r SIZE0 HEAD0 < <(head_of)
log "ledger before: $SIZE0 events, head $HEAD0"
for who in anonymous $ROLES; do
    auth=()
    [ "$who" = anonymous ] || auth=(-H "Authorization: Bearer ${TOKEN[$who]}")
    read -r size_a head_a < <(head_of)
    run_schemathesis "$who" negative "examples,coverage,fuzzing" "${auth[@]}"
    read -r size_b head_b < <(head_of)
    if [ "$size_a $head_a" != "$size_b $head_b" ]; then
        log "FAIL: negative-only run as $who changed the ledger: $size_a $head_a -> $size_b $head_b"
        FAILED+=("$who/negative-changed-ledger")
    else
        log "negative-only run as $who left the ledger at $size_b events, head unchanged"
    fi
    run_schemathesis "$who" all "examples,coverage,fuzzing,stateful" "${auth[@]}"
done
read -r SIZE1 HEAD1 < <(head_of)
log "ledger after: $SIZE1 events (+$((SIZE1 - SIZE0)) from accepted requests), head $HEAD1"

# Without colours, so that the fields can be matched.
sed 's/\x1b\[[0-9;]*m//g' "$WORK/server.log" >"$LOGS/server.log"
# Every request is logged with its status: a 5xx anywhere (also in the checks' own
# probes, which schemathesis does not judge) fails the run.
if grep -E 'status=5[0-9][0-9]' "$LOGS/server.log" >&2; then
    log "FAIL: the server answered 5xx (above)"
    FAILED+=("server-5xx")
fi
if grep -q "panicked" "$LOGS/server.log"; then
    log "FAIL: the server panicked"
    grep -n "panicked" "$LOGS/server.log" >&2
    FAILED+=("server-panic")
fi
kill "$SERVER_PID"
wait "$SERVER_PID" || true
SERVER_PID=
if ! "$BIN" verify >"$WORK/verify.log" 2>&1; then
    cat "$WORK/verify.log" >&2
    FAILED+=("verify")
else
    log "verify: $(tail -n 1 "$WORK/verify.log")"
fi

if [ ${#FAILED[@]} -gt 0 ]; then
    log "FAILED: ${FAILED[*]} (logs in $LOGS)"
    exit 1
fi
log "schemathesis: no failures ($BACKEND, ${SECONDS_PER_RUN}s per run, seed $SEED)"
