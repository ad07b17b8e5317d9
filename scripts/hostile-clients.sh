#!/usr/bin/env bash
# Issue 14's hostile clients, including the slow full-size flood (100,000 invalid public
# reports from distinct loopback addresses) that the default test run skips.
# Needs PostgreSQL as for the rest of the suite (DATABASE_URL) and `ulimit -n` of at
# least 4,096 in this shell (the test itself holds 1,100 sockets; the server runs under
# 1,024).
set -euo pipefail
cd "$(dirname "$0")/.."
export DATABASE_URL=${DATABASE_URL:-postgres://postgres@127.0.0.1:5432/postgres}
ICAC_SLOW_TESTS=1 cargo test --locked --all-features --test it -- http_connections::
cargo test --locked --all-features --test it -- --include-ignored http_hostile::
