-- icac-ledger schema 8 (SQLite): the sealed store keeps one row per committed batch
-- instead of one per value (see the PostgreSQL twin of this file for why). `openings`
-- is the packed form of src/storage/sealed_pack.rs. An erasure rewrites the rows it
-- touches without the erased openings, in the same transaction as its event; with
-- secure_delete on, the old bytes are overwritten in the file. The rows of schema 6 are
-- repacked by the migration itself (src/storage/migrate.rs) and `sealed_values` is
-- dropped. No index covers `openings`: an index would keep copies of the values.

CREATE TABLE sealed_batches (
    ledger_id      TEXT    NOT NULL,
    first_position INTEGER NOT NULL CHECK (first_position >= 1),
    last_position  INTEGER NOT NULL CHECK (last_position >= first_position),
    openings       BLOB    NOT NULL CHECK (length(openings) > 1),
    PRIMARY KEY (ledger_id, first_position)
) STRICT;

-- A row only ever loses openings: its ledger and positions never change, and it
-- never grows.
CREATE TRIGGER sealed_batches_shrink_only BEFORE UPDATE ON sealed_batches
WHEN NEW.ledger_id IS NOT OLD.ledger_id OR NEW.first_position IS NOT OLD.first_position
  OR NEW.last_position IS NOT OLD.last_position
  OR length(NEW.openings) >= length(OLD.openings)
BEGIN
    SELECT RAISE(ABORT, 'a sealed batch only loses values, to an erasure');
END;

-- schema 6's table loses its guard here and is dropped once repacked.
DROP TRIGGER sealed_values_no_update;
