#!/usr/bin/env bash
# Times a newcomer's first run (issue 20): a fresh clone, then the README's two commands,
# each cold (its own empty target directory). Run it on an idle machine; the crates.io
# downloads are cached in ~/.cargo after the first run anywhere, so the figures are
# compile times. Prints one line per step.
#   scripts/first-build.sh [REPO] [WORKDIR]
set -euo pipefail
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
work="${2:-$(mktemp -d /tmp/icac-first-build.XXXXXX)}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

git clone -q "$repo" "$work/clone"
cd "$work/clone"
echo "commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# 1. `cargo run --release -- serve --demo`: from nothing to the server answering.
start=$(date +%s)
cargo build --release --locked 2>"$work/release-build.log"
built=$(date +%s)
port=18$(( RANDOM % 900 + 100 ))
# As the README runs it (defaults: the SQLite file and key in this directory).
target/release/icac-ledger serve --demo --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
server=$!
until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
    kill -0 "$server" 2>/dev/null || { echo "serve --demo exited; see $work/serve.log"; exit 1; }
    sleep 0.5
done
ready=$(date +%s)
kill "$server"; wait "$server" 2>/dev/null || true
echo "release build $((built - start)) s; serve --demo answering after $((ready - built)) s more"

# 2. `cargo test --workspace --locked --all-features`, cold, with the default gate
#    (slow tests skip; CI sets ICAC_SLOW_TESTS=1).
start=$(date +%s)
cargo test --workspace --locked --all-features --no-run 2>"$work/test-build.log"
compiled=$(date +%s)
cargo test --workspace --locked --all-features >"$work/test-run.log" 2>&1
done_at=$(date +%s)
echo "test build $((compiled - start)) s; tests $((done_at - compiled)) s; total $((done_at - start)) s"
echo "logs in $work"
