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

-- Each new row must extend the chain: its prev_hash is the hash at position - 1 (or 32
-- zero bytes at position 1), and its stream sequence follows the stream's previous one.
-- This holds even for a writer that bypasses the application.
CREATE FUNCTION ledger_events_link() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE
    expected bytea;
BEGIN
    IF NEW.position = 1 THEN
        expected := decode(repeat('00', 32), 'hex');
    ELSE
        SELECT hash INTO expected FROM ledger_events
         WHERE ledger_id = NEW.ledger_id AND position = NEW.position - 1;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'ledger %: position % does not follow the chain head', NEW.ledger_id, NEW.position
                USING ERRCODE = 'integrity_constraint_violation';
        END IF;
    END IF;
    IF NEW.prev_hash IS DISTINCT FROM expected THEN
        RAISE EXCEPTION 'ledger %: prev_hash of position % does not link to the previous event', NEW.ledger_id, NEW.position
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.sequence > 1 AND NOT EXISTS (
        SELECT 1 FROM ledger_events
         WHERE ledger_id = NEW.ledger_id AND aggregate_type = NEW.aggregate_type
           AND aggregate_id = NEW.aggregate_id AND sequence = NEW.sequence - 1) THEN
        RAISE EXCEPTION 'ledger %: stream %/% sequence % skips a number', NEW.ledger_id, NEW.aggregate_type, NEW.aggregate_id, NEW.sequence
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER ledger_events_link BEFORE INSERT ON ledger_events
    FOR EACH ROW EXECUTE FUNCTION ledger_events_link();

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
