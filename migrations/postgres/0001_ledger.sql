-- icac-ledger schema 1 (PostgreSQL): the append-only event ledger and its checkpoints.
-- Follows postgres-es naming (aggregate_type, aggregate_id, sequence, event_type,
-- event_version); the event itself lives in `canonical`, the exact RFC 8785 bytes that
-- were hashed. jsonb would rewrite them, so the other columns are copies for indexing
-- that `verify` checks against the canonical bytes.

CREATE TABLE ledger_events (
    ledger_id      text   NOT NULL,
    position       bigint NOT NULL CHECK (position >= 1),
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    sequence       bigint NOT NULL CHECK (sequence >= 1),
    event_type     text   NOT NULL,
    event_version  text   NOT NULL,
    recorded_at    text   NOT NULL,
    prev_hash      bytea  NOT NULL CHECK (length(prev_hash) = 32),
    hash           bytea  NOT NULL CHECK (length(hash) = 32),
    key_id         text   NOT NULL,
    signature      bytea  NOT NULL CHECK (length(signature) = 64),
    canonical      bytea  NOT NULL,
    PRIMARY KEY (ledger_id, position),
    -- Two events can never claim the same predecessor: the chain cannot fork.
    UNIQUE (ledger_id, prev_hash),
    UNIQUE (ledger_id, aggregate_type, aggregate_id, sequence)
);

-- No index on recorded_at: nothing filters on it, and on PostgreSQL an index that
-- shares the ledger_id prefix lured plans for the chain check into scanning the ledger.

-- Each INSERT must extend the chain: its rows are contiguous and linked to each other,
-- and its first row's prev_hash is the hash at position - 1 (32 zero bytes at position
-- 1). This holds even for a writer that bypasses the application. The check runs once
-- per statement (a batch of many events is one statement) with a single keyed lookup,
-- planned with its actual values, so its cost does not grow with the ledger. Stream
-- sequences are guarded by the unique constraint and checked by `verify`.
CREATE FUNCTION ledger_events_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    bad record;
    head record;
    expected bytea;
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
    RETURN NULL;
END $$;

CREATE TRIGGER ledger_events_link AFTER INSERT ON ledger_events
    REFERENCING NEW TABLE AS new_rows
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_events_link();

CREATE TABLE ledger_checkpoints (
    ledger_id   text   NOT NULL,
    size        bigint NOT NULL CHECK (size >= 0),
    root        bytea  NOT NULL CHECK (length(root) = 32),
    head        bytea  NOT NULL CHECK (length(head) = 32),
    created_at  text   NOT NULL,
    key_id      text   NOT NULL,
    note        text   NOT NULL,
    PRIMARY KEY (ledger_id, size)
);

CREATE FUNCTION ledger_reject_change() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION '% is append-only: % is not allowed', TG_TABLE_NAME, TG_OP
        USING ERRCODE = 'insufficient_privilege';
END $$;

CREATE TRIGGER ledger_events_append_only BEFORE UPDATE OR DELETE ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_events_no_truncate BEFORE TRUNCATE ON ledger_events
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_checkpoints_append_only BEFORE UPDATE OR DELETE ON ledger_checkpoints
    FOR EACH ROW EXECUTE FUNCTION ledger_reject_change();
CREATE TRIGGER ledger_checkpoints_no_truncate BEFORE TRUNCATE ON ledger_checkpoints
    FOR EACH STATEMENT EXECUTE FUNCTION ledger_reject_change();

-- For people reading the ledger in psql: the canonical bytes as JSON.
CREATE VIEW ledger_events_readable AS
    SELECT ledger_id, position, aggregate_type, aggregate_id, sequence, event_type,
           recorded_at, encode(hash, 'hex') AS hash, key_id,
           convert_from(canonical, 'UTF8')::jsonb AS record
      FROM ledger_events;
