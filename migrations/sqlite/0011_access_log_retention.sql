-- icac-ledger schema 11 (SQLite): the access log cannot be changed (CJIS AU-9), and its
-- oldest entries leave it only through the retention purge (CJIS AU-11), which first
-- records an anchor: the last purged entry's sequence number and hash, from which
-- verification continues. Only a prefix of the log up to the anchor can be deleted, and
-- the anchor only moves forward, to an entry the log holds.

CREATE TABLE access_log_anchors (
    ledger_id TEXT    NOT NULL PRIMARY KEY,
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    hash      TEXT    NOT NULL,
    purged_at TEXT    NOT NULL
) STRICT;

CREATE TRIGGER access_log_no_update BEFORE UPDATE ON access_log
BEGIN
    SELECT RAISE(ABORT, 'access_log is append-only');
END;

CREATE TRIGGER access_log_purge_only BEFORE DELETE ON access_log
WHEN OLD.seq > COALESCE((SELECT seq FROM access_log_anchors WHERE ledger_id = OLD.ledger_id), 0)
BEGIN
    SELECT RAISE(ABORT, 'access_log entries are deleted only up to the retention anchor');
END;

CREATE TRIGGER access_log_anchor_names_an_entry BEFORE INSERT ON access_log_anchors
WHEN NEW.hash IS NOT (SELECT hash FROM access_log WHERE ledger_id = NEW.ledger_id AND seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'a retention anchor must name an entry of the access log by its hash');
END;

CREATE TRIGGER access_log_anchor_moves_forward BEFORE UPDATE ON access_log_anchors
WHEN NEW.seq <= OLD.seq
  OR NEW.ledger_id IS NOT OLD.ledger_id
  OR NEW.hash IS NOT (SELECT hash FROM access_log WHERE ledger_id = NEW.ledger_id AND seq = NEW.seq)
BEGIN
    SELECT RAISE(ABORT, 'a retention anchor only moves forward, to an entry of the access log');
END;

CREATE TRIGGER access_log_anchor_no_delete BEFORE DELETE ON access_log_anchors
BEGIN
    SELECT RAISE(ABORT, 'a retention anchor is never deleted');
END;
