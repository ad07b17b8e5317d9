-- icac-ledger schema 1 (SQLite): the same ledger as the PostgreSQL dialect.
-- See migrations/postgres/0001_ledger.sql for why the columns are what they are.

CREATE TABLE ledger_events (
    ledger_id      TEXT    NOT NULL,
    position       INTEGER NOT NULL CHECK (position >= 1),
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    sequence       INTEGER NOT NULL CHECK (sequence >= 1),
    event_type     TEXT    NOT NULL,
    event_version  TEXT    NOT NULL,
    recorded_at    TEXT    NOT NULL,
    prev_hash      BLOB    NOT NULL CHECK (length(prev_hash) = 32),
    hash           BLOB    NOT NULL CHECK (length(hash) = 32),
    key_id         TEXT    NOT NULL,
    signature      BLOB    NOT NULL CHECK (length(signature) = 64),
    canonical      BLOB    NOT NULL,
    PRIMARY KEY (ledger_id, position),
    UNIQUE (ledger_id, prev_hash),
    UNIQUE (ledger_id, aggregate_type, aggregate_id, sequence)
) STRICT;

-- No index on recorded_at: nothing filters on it, and on PostgreSQL an index that
-- shares the ledger_id prefix lured plans for the chain check into scanning the ledger.

-- `IS` rather than `=` so that a missing predecessor (NULL) counts as a mismatch.
CREATE TRIGGER ledger_events_link BEFORE INSERT ON ledger_events
WHEN NOT (
    (NEW.position = 1 AND NEW.prev_hash IS zeroblob(32))
    OR NEW.prev_hash IS (SELECT hash FROM ledger_events
                          WHERE ledger_id = NEW.ledger_id AND position = NEW.position - 1)
)
BEGIN
    SELECT RAISE(ABORT, 'ledger_events: prev_hash does not link to the previous position');
END;

CREATE TRIGGER ledger_events_sequence BEFORE INSERT ON ledger_events
WHEN NEW.sequence > 1 AND NOT EXISTS (
    SELECT 1 FROM ledger_events
     WHERE ledger_id = NEW.ledger_id AND aggregate_type = NEW.aggregate_type
       AND aggregate_id = NEW.aggregate_id AND sequence = NEW.sequence - 1)
BEGIN
    SELECT RAISE(ABORT, 'ledger_events: stream sequence skips a number');
END;

CREATE TRIGGER ledger_events_no_update BEFORE UPDATE ON ledger_events
BEGIN
    SELECT RAISE(ABORT, 'ledger_events is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER ledger_events_no_delete BEFORE DELETE ON ledger_events
BEGIN
    SELECT RAISE(ABORT, 'ledger_events is append-only: DELETE is not allowed');
END;

CREATE TABLE ledger_checkpoints (
    ledger_id   TEXT    NOT NULL,
    size        INTEGER NOT NULL CHECK (size >= 0),
    root        BLOB    NOT NULL CHECK (length(root) = 32),
    head        BLOB    NOT NULL CHECK (length(head) = 32),
    created_at  TEXT    NOT NULL,
    key_id      TEXT    NOT NULL,
    note        TEXT    NOT NULL,
    PRIMARY KEY (ledger_id, size)
) STRICT;

CREATE TRIGGER ledger_checkpoints_no_update BEFORE UPDATE ON ledger_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'ledger_checkpoints is append-only: UPDATE is not allowed');
END;

CREATE TRIGGER ledger_checkpoints_no_delete BEFORE DELETE ON ledger_checkpoints
BEGIN
    SELECT RAISE(ABORT, 'ledger_checkpoints is append-only: DELETE is not allowed');
END;
