#!/usr/bin/env bash
# Times a newcomer's first run (issue 20): a fresh clone, then the README's two commands.
# Run it on an idle machine; the crates.io downloads are cached in ~/.cargo after the
# first run anywhere, so the figures are compile times. Prints one line per step:
#   1. `cargo run -- serve --demo` from an empty target directory, to the server answering;
#   2. the README's test command right after it, in the same target directory (what a
#      newcomer who runs both sees);
#   3. the test command again from an empty target directory (a cold `cargo test`);
#   4. with --release, also the production build (`cargo build --release`) from empty.
#   scripts/first-build.sh [--release] [REPO] [WORKDIR]
set -euo pipefail
release=no
if [ "${1:-}" = "--release" ]; then release=yes; shift; fi
repo="${1:-$(cd "$(dirname "$0")/.." && pwd)}"
work="${2:-$(mktemp -d /tmp/icac-first-build.XXXXXX)}"
export DATABASE_URL="${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}"

git clone -q "$repo" "$work/clone"
cd "$work/clone"
echo "commit $(git rev-parse --short HEAD), load $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# Waits for `serve --demo` (run as the README runs it: the SQLite file and key in this
# directory) to answer, and prints the seconds it took.
serve_ready() {
    local bin="$1" port=18$(( RANDOM % 900 + 100 )) start server
    start=$(date +%s)
    "$bin" serve --demo --addr "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
    server=$!
    until curl -fsS "http://127.0.0.1:$port/healthz" >/dev/null 2>&1; do
        kill -0 "$server" 2>/dev/null || { echo "serve --demo exited; see $work/serve.log"; exit 1; }
        sleep 0.2
    done
    kill "$server"; wait "$server" 2>/dev/null || true
    rm -f icac-ledger.db* icac-ledger.key
    echo $(( $(date +%s) - start ))
}

tests() {
    local start compiled done_at
    start=$(date +%s)
    cargo test --workspace --locked --all-features --no-run 2>"$work/test-build-$1.log"
    compiled=$(date +%s)
    cargo test --workspace --locked --all-features >"$work/test-run-$1.log" 2>&1
    done_at=$(date +%s)
    echo "$1: test build $((compiled - start)) s; tests $((done_at - compiled)) s; total $((done_at - start)) s"
}

start=$(date +%s)
cargo build --locked 2>"$work/build.log"
built=$(date +%s)
echo "1. cargo run -- serve --demo: build $((built - start)) s; answering after $(serve_ready target/debug/icac-ledger) s more"
tests "2. after the first command"
rm -rf target
tests "3. cold"
if [ "$release" = yes ]; then
    rm -rf target
    start=$(date +%s)
    cargo build --release --locked 2>"$work/release-build.log"
    built=$(date +%s)
    echo "4. cargo build --release: $((built - start)) s; serve --demo answering after $(serve_ready target/release/icac-ledger) s more"
fi
echo "logs in $work"
