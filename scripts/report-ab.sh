#!/usr/bin/env bash
# Times `report annual` with two builds of icac-ledger, alternating, on the same ledger,
# so both see the same machine load; then checks their outputs are byte-identical.
#
#   BASE=/path/to/old/icac-ledger NEW=target/release/icac-ledger \
#   DB='postgres://postgres@127.0.0.1:5432/icac_proj_1m?sslmode=disable' KEY=pg1m.key \
#   ROUNDS=2 scripts/report-ab.sh
#
# Build the old binary from a worktree: `git worktree add /tmp/base <commit>` and
# `cargo build --release --locked --features bench` there.
set -euo pipefail
: "${BASE:?path of the baseline icac-ledger binary}"
NEW=${NEW:-target/release/icac-ledger}
: "${DB:?database URL of a ledger made with bench generate}"
: "${KEY:?its key file}"
ROUNDS=${ROUNDS:-3}
FROM=${FROM:-2024-07-01}
TO=${TO:-2025-06-30}
FORMAT=${FORMAT:-json}
out=$(mktemp -d)
trap 'rm -rf "$out"' EXIT
for _ in $(seq "$ROUNDS"); do
  for which in base new; do
    bin=$BASE
    [ "$which" = new ] && bin=$NEW
    /usr/bin/time -f "$which %e s wall, %U s user, %S s sys, peak RSS %M KiB" \
      "$bin" --db "$DB" --key "$KEY" report annual --from "$FROM" --to "$TO" \
      --format "$FORMAT" --out "$out/$which.$FORMAT" 2>&1 | grep -v '^wrote '
  done
done
uptime
cmp "$out/base.$FORMAT" "$out/new.$FORMAT" && echo "outputs byte-identical"
