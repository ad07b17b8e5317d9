-- icac-ledger schema 11 (PostgreSQL): the access log cannot be changed (CJIS AU-9), and
-- its oldest entries leave it only through the retention purge (CJIS AU-11), which first
-- records an anchor: the last purged entry's sequence number and hash, from which
-- verification continues. Only a prefix of the log up to the anchor can be deleted, and
-- the anchor only moves forward, to an entry the log holds. The service's role gets no
-- UPDATE or DELETE here at all (docs/OPERATIONS.md); the purge runs as the owner.

CREATE TABLE access_log_anchors (
    ledger_id text   NOT NULL PRIMARY KEY,
    seq       bigint NOT NULL CHECK (seq >= 1),
    hash      text   NOT NULL,
    purged_at text   NOT NULL
);

CREATE FUNCTION access_log_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'UPDATE' THEN
        RAISE EXCEPTION 'access_log is append-only' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'access_log is never truncated' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF OLD.seq > COALESCE((SELECT seq FROM access_log_anchors WHERE ledger_id = OLD.ledger_id), 0) THEN
        RAISE EXCEPTION 'access_log entries are deleted only up to the retention anchor'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN OLD;
END $$;

CREATE TRIGGER access_log_guard BEFORE UPDATE OR DELETE ON access_log
    FOR EACH ROW EXECUTE FUNCTION access_log_guard();
CREATE TRIGGER access_log_no_truncate BEFORE TRUNCATE ON access_log
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_guard();

CREATE FUNCTION access_log_anchor_guard() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP = 'DELETE' OR TG_OP = 'TRUNCATE' THEN
        RAISE EXCEPTION 'a retention anchor is never deleted' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF TG_OP = 'UPDATE' AND (NEW.seq <= OLD.seq OR NEW.ledger_id <> OLD.ledger_id) THEN
        RAISE EXCEPTION 'a retention anchor only moves forward' USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    IF NEW.hash IS DISTINCT FROM (SELECT hash FROM access_log WHERE ledger_id = NEW.ledger_id AND seq = NEW.seq) THEN
        RAISE EXCEPTION 'a retention anchor must name an entry of the access log by its hash'
            USING ERRCODE = 'integrity_constraint_violation';
    END IF;
    RETURN NEW;
END $$;

CREATE TRIGGER access_log_anchor_guard BEFORE INSERT OR UPDATE OR DELETE ON access_log_anchors
    FOR EACH ROW EXECUTE FUNCTION access_log_anchor_guard();
CREATE TRIGGER access_log_anchor_no_truncate BEFORE TRUNCATE ON access_log_anchors
    FOR EACH STATEMENT EXECUTE FUNCTION access_log_anchor_guard();
