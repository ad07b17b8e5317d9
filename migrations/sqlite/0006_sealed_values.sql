-- icac-ledger schema 6 (SQLite): personal values sealed out of the chain (format
-- version 2, docs/LEDGER_FORMAT.md section 12). The chain holds a salted commitment;
-- this table holds the value and its salt, so erasing a row erases the value while
-- every hash, signature and proof stays valid. Rows are written in the same transaction
-- as their event and deleted only by an erasure, in the same transaction as its event;
-- connections run with secure_delete on, so a deleted value is overwritten in the file.
-- No index covers `value` or `salt`: an index would keep copies of them.

CREATE TABLE sealed_values (
    ledger_id      TEXT    NOT NULL,
    commitment     BLOB    NOT NULL CHECK (length(commitment) = 32),
    position       INTEGER NOT NULL CHECK (position >= 1),
    aggregate_type TEXT    NOT NULL,
    aggregate_id   TEXT    NOT NULL,
    path           TEXT    NOT NULL,
    salt           BLOB    NOT NULL CHECK (length(salt) = 32),
    value          BLOB    NOT NULL,
    PRIMARY KEY (ledger_id, commitment)
) STRICT;
CREATE INDEX sealed_values_stream ON sealed_values (ledger_id, aggregate_type, aggregate_id);
CREATE INDEX sealed_values_position ON sealed_values (ledger_id, position);

CREATE TRIGGER sealed_values_no_update BEFORE UPDATE ON sealed_values
BEGIN
    SELECT RAISE(ABORT, 'sealed values are never updated (erase deletes them)');
END;
