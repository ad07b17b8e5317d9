#!/usr/bin/env bash
# Same-run A/B for issue 20: bench verify (SQLite, 100k events, a ledger per binary) and
# bench append (64 writers x 200, PostgreSQL and the postgres-es baseline), alternating.
# Put the two release binaries (built with --features bench) at $DIR/bin-base and
# $DIR/bin-new first.
DIR="${DIR:-/tmp/ab20}"
cd "$DIR"
export DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres
for round in 1 2; do
  for b in base new; do
    echo "== verify $b round $round $(date -u +%H:%M:%S)"
    ./bin-$b --db sqlite://$DIR/$b.db --key $DIR/$b.pem bench verify --events 100000 | grep -E "ratio|CPU per item|load"
    echo "== append $b round $round $(date -u +%H:%M:%S)"
    ./bin-$b bench append --writers 64 --per-writer 200 --no-sqlite 2>&1 | grep -vE "^\s*$" | tail -12
  done
done
