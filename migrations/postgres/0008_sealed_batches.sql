-- icac-ledger schema 8 (PostgreSQL): the sealed store keeps one row per committed batch
-- instead of one per value. A row per value cost a heap tuple and three index entries
-- under a random key each (about 529 bytes of WAL per value, docs/PERFORMANCE.md); a
-- row per batch costs one tuple and one entry under an increasing key. `openings` is
-- the packed form of src/storage/sealed_pack.rs. An erasure rewrites the rows it
-- touches without the erased openings, in the same transaction as its event, and
-- deletes a row left empty. The rows of schema 6 are repacked by the migration itself
-- (src/storage/migrate.rs), one row per event, and `sealed_values` is dropped.
-- No index covers `openings`: an index would keep copies of the values.

CREATE TABLE sealed_batches (
    ledger_id      text   NOT NULL,
    first_position bigint NOT NULL CHECK (first_position >= 1),
    last_position  bigint NOT NULL CHECK (last_position >= first_position),
    openings       bytea  NOT NULL CHECK (length(openings) > 1),
    PRIMARY KEY (ledger_id, first_position)
);
-- Never compressed (a compressed copy is one more place a value lives), and no
-- statistics (ANALYZE would copy samples into pg_statistic, out of an erasure's reach).
ALTER TABLE sealed_batches ALTER COLUMN openings SET STORAGE EXTERNAL;
ALTER TABLE sealed_batches ALTER COLUMN openings SET STATISTICS 0;

-- A row only ever loses openings: its ledger and positions never change, and it
-- never grows.
CREATE FUNCTION sealed_batches_shrink_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF NEW.ledger_id <> OLD.ledger_id OR NEW.first_position <> OLD.first_position
       OR NEW.last_position <> OLD.last_position
       OR length(NEW.openings) >= length(OLD.openings) THEN
        RAISE EXCEPTION 'a sealed batch only loses values, to an erasure'
            USING ERRCODE = 'restrict_violation';
    END IF;
    RETURN NEW;
END $$;
CREATE TRIGGER sealed_batches_shrink_only BEFORE UPDATE ON sealed_batches
    FOR EACH ROW EXECUTE FUNCTION sealed_batches_shrink_only();

-- schema 6's table loses its guard here and is dropped once repacked.
DROP TRIGGER sealed_values_no_update ON sealed_values;
DROP FUNCTION sealed_values_immutable();
