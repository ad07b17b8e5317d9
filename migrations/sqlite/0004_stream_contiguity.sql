-- icac-ledger schema 4 (SQLite): nothing to change. The PostgreSQL dialect's chain
-- guard now also keeps stream sequences contiguous; here the per-row trigger
-- `ledger_events_sequence` (schema 1) always has. Kept so both dialects share versions.
SELECT 1;
