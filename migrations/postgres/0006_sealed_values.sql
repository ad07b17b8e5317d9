-- icac-ledger schema 6 (PostgreSQL): personal values sealed out of the chain (format
-- version 2, docs/LEDGER_FORMAT.md section 12). The chain holds a salted commitment;
-- this table holds the value and its salt, so erasing a row erases the value while
-- every hash, signature and proof stays valid. Rows are written in the same statement
-- as their event and deleted only by an erasure, in the same statement as its event.
-- No index covers `value` or `salt`: an index would keep copies of them.

CREATE TABLE sealed_values (
    ledger_id      text   NOT NULL,
    commitment     bytea  NOT NULL CHECK (length(commitment) = 32),
    position       bigint NOT NULL CHECK (position >= 1),
    aggregate_type text   NOT NULL,
    aggregate_id   text   NOT NULL,
    path           text   NOT NULL,
    salt           bytea  NOT NULL CHECK (length(salt) = 32),
    value          bytea  NOT NULL,
    PRIMARY KEY (ledger_id, commitment)
);
CREATE INDEX sealed_values_stream ON sealed_values (ledger_id, aggregate_type, aggregate_id);
CREATE INDEX sealed_values_position ON sealed_values (ledger_id, position);
-- Sealed values never go through TOAST compression (a compressed copy could outlive
-- the row in ways an operator cannot see) and are never updated.
ALTER TABLE sealed_values ALTER COLUMN value SET STORAGE EXTERNAL;
-- ANALYZE would copy sample values and salts into pg_statistic, where an erasure
-- cannot reach them: collect no statistics on these columns.
ALTER TABLE sealed_values ALTER COLUMN value SET STATISTICS 0;
ALTER TABLE sealed_values ALTER COLUMN salt SET STATISTICS 0;
ALTER TABLE sealed_values ALTER COLUMN path SET STATISTICS 0;

CREATE FUNCTION sealed_values_immutable() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    RAISE EXCEPTION 'sealed values are never updated (erase deletes them)'
        USING ERRCODE = 'restrict_violation';
END $$;
CREATE TRIGGER sealed_values_no_update BEFORE UPDATE ON sealed_values
    FOR EACH ROW EXECUTE FUNCTION sealed_values_immutable();
