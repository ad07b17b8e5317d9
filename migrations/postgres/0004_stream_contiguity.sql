-- icac-ledger schema 4 (PostgreSQL): the chain guard also keeps stream sequences
-- contiguous, as the SQLite dialect's per-row trigger always has.
--
-- Why: the writer seals a batch against the head and stream versions it remembers from
-- its own last commit, and sends it as one INSERT with no prior reads. That is only safe
-- if the database refuses every row that would not have passed the checks the writer
-- skipped: a position already taken (primary key), a prev_hash that does not link (this
-- trigger), and a stream sequence that is taken (unique constraint) or that skips a
-- number (this trigger). A refused batch is retried under the advisory lock with fresh
-- reads, so a stale memory costs one retry and never a wrong row.
CREATE OR REPLACE FUNCTION ledger_events_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    head record;
    expected bytea;
    gap_ledger text;
    gap_position bigint;
BEGIN
    SELECT r.ledger_id, r.position INTO bad
      FROM (SELECT ledger_id, position, prev_hash,
                   lag(hash) OVER w AS prev_row_hash, lag(position) OVER w AS prev_row_position
              FROM new_rows
            WINDOW w AS (PARTITION BY ledger_id ORDER BY position)) r
     WHERE r.prev_row_position IS NOT NULL
       AND (r.prev_row_position <> r.position - 1 OR r.prev_row_hash <> r.prev_hash)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger %: prev_hash of position % does not link to the previous event', bad.ledger_id, bad.position
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    FOR head IN SELECT DISTINCT ON (ledger_id) ledger_id, position, prev_hash
                  FROM new_rows ORDER BY ledger_id, position LOOP
        IF head.position = 1 THEN
            expected := decode(repeat('00', 32), 'hex');
        ELSE
            expected := NULL;
            EXECUTE 'SELECT hash FROM ledger_events WHERE ledger_id = $1 AND position = $2'
               INTO expected USING head.ledger_id, head.position - 1;
        END IF;
        IF expected IS DISTINCT FROM head.prev_hash THEN
            RAISE EXCEPTION 'ledger %: prev_hash of position % does not link to the previous event', head.ledger_id, head.position
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END LOOP;
    -- The table already holds this statement's rows, so a predecessor inside the batch
    -- is found like one committed earlier. EXECUTE plans it afresh each time: a plan
    -- cached while the table was small probes the (ledger_id, prev_hash) index by its
    -- ledger_id prefix alone, which scans the whole ledger once it has grown.
    EXECUTE 'SELECT n.ledger_id, n.position
               FROM new_rows n
              WHERE n.sequence > 1
                AND NOT EXISTS (SELECT 1 FROM ledger_events e
                                 WHERE e.ledger_id = n.ledger_id
                                   AND e.aggregate_type = n.aggregate_type
                                   AND e.aggregate_id = n.aggregate_id
                                   AND e.sequence = n.sequence - 1)
              LIMIT 1' INTO gap_ledger, gap_position;
    IF gap_position IS NOT NULL THEN
        RAISE EXCEPTION 'ledger %: stream sequence of position % skips a number', gap_ledger, gap_position
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NULL;
END $$;

