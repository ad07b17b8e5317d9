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

CREATE INDEX ledger_events_recorded_at ON ledger_events (ledger_id, recorded_at);

-- Each inserted row must extend the chain: its prev_hash is the hash at position - 1 (or
-- 32 zero bytes at position 1), and its stream sequence follows the stream's previous one.
-- This holds even for a writer that bypasses the application.
--
-- The check runs once per INSERT statement over its transition table (a batch of many
-- events is one statement), after the rows are in place so that rows inserted together
-- can vouch for each other. Plans are made for each call: a plan cached while the
-- table was empty can pick an index that turns each lookup into a scan of the ledger.
CREATE FUNCTION ledger_events_link() RETURNS trigger LANGUAGE plpgsql
SET plan_cache_mode = force_custom_plan AS $$
DECLARE
    bad record;
BEGIN
    SELECT n.ledger_id, n.position INTO bad
      FROM new_rows n
      LEFT JOIN ledger_events p
        ON p.ledger_id = n.ledger_id AND p.position = n.position - 1
     WHERE NOT ((n.position = 1 AND n.prev_hash = decode(repeat('00', 32), 'hex'))
                OR p.hash IS NOT DISTINCT FROM n.prev_hash AND p.position IS NOT NULL)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger %: prev_hash of position % does not link to the previous event', bad.ledger_id, bad.position
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    SELECT n.ledger_id, n.aggregate_type, n.aggregate_id, n.sequence INTO bad
      FROM new_rows n
     WHERE n.sequence > 1 AND NOT EXISTS (
           SELECT 1 FROM ledger_events e
            WHERE e.ledger_id = n.ledger_id AND e.aggregate_type = n.aggregate_type
              AND e.aggregate_id = n.aggregate_id AND e.sequence = n.sequence - 1)
     LIMIT 1;
    IF FOUND THEN
        RAISE EXCEPTION 'ledger %: stream %/% sequence % skips a number', bad.ledger_id, bad.aggregate_type, bad.aggregate_id, bad.sequence
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
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
