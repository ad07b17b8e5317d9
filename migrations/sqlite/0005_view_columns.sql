-- icac-ledger schema 5 (SQLite): the columns the case list, the 14-day filters and
-- the intake queue read, so the server pages them in SQL instead of holding every view
-- in memory (docs/ARCHITECTURE.md, "Read side").
--
-- View tables are derived data. This migration empties all of them (every ledger in
-- the database) and forgets the positions they reflected: the server folds them again
-- from the ledger when it next starts, or `icac-ledger projections rebuild` does it
-- faster. A rebuild keeps these tables, indexes and triggers as this file makes them
-- (it carries no DDL of its own: `src/storage/sql/`); `tests/schema.rs` checks it.

DELETE FROM projection_positions;
DELETE FROM operation_views;
DELETE FROM unit_views;

DROP TABLE case_views;
CREATE TABLE case_views (
    ledger_id           TEXT    NOT NULL,
    view_id             TEXT    NOT NULL,
    version             INTEGER NOT NULL CHECK (version >= 1),
    payload             TEXT    NOT NULL,
    -- Copies of what the payload says, for lists and filters:
    reporting_unit      TEXT    NOT NULL,
    -- Connecticut dates as days since 1970-01-01, so SQL can add the 14 days.
    received_day        INTEGER NOT NULL,
    -- When the form was filed (or the case merged): the clock's stop; NULL if not yet.
    filed_day           INTEGER,
    opened_by_complaint INTEGER NOT NULL CHECK (opened_by_complaint IN (0, 1)),
    PRIMARY KEY (ledger_id, view_id)
) STRICT;
-- The case list: newest first, ties by case id in byte order (BINARY collation).
CREATE INDEX case_views_by_received ON case_views (ledger_id, received_day DESC, view_id);
CREATE INDEX case_views_by_unit ON case_views (ledger_id, reporting_unit, received_day DESC, view_id);

DROP TABLE public_report_views;
CREATE TABLE public_report_views (
    ledger_id      TEXT    NOT NULL,
    view_id        TEXT    NOT NULL,
    version        INTEGER NOT NULL CHECK (version >= 1),
    payload        TEXT    NOT NULL,
    -- Still in the intake queue (received or triaged).
    open           INTEGER NOT NULL CHECK (open IN (0, 1)),
    -- When it was received: whole seconds since 1970 and the nanoseconds after them.
    received_at_s  INTEGER NOT NULL,
    received_at_ns INTEGER NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
) STRICT;
-- The intake queue: open reports, oldest first.
CREATE INDEX public_report_views_queue ON public_report_views (ledger_id, open, received_at_s, received_at_ns, view_id);

-- Counts of view rows that lists report as totals ('cases:<ORI>' per reporting unit,
-- 'public_reports', 'public_reports_open'), kept by triggers whichever process writes
-- the views, so a total is a few rows read instead of a count over every case. A
-- rebuild rewrites its ledger's rows in these tables and recounts its ledger.
CREATE TABLE view_counts (
    ledger_id TEXT    NOT NULL,
    counter   TEXT    NOT NULL,
    n         INTEGER NOT NULL,
    PRIMARY KEY (ledger_id, counter)
) STRICT;

CREATE TRIGGER case_views_counted AFTER INSERT ON case_views BEGIN
    INSERT OR IGNORE INTO view_counts (ledger_id, counter, n) VALUES (NEW.ledger_id, 'cases:' || NEW.reporting_unit, 0);
    UPDATE view_counts SET n = n + 1 WHERE ledger_id = NEW.ledger_id AND counter = 'cases:' || NEW.reporting_unit;
END;
CREATE TRIGGER case_views_uncounted AFTER DELETE ON case_views BEGIN
    UPDATE view_counts SET n = n - 1 WHERE ledger_id = OLD.ledger_id AND counter = 'cases:' || OLD.reporting_unit;
END;
CREATE TRIGGER case_views_recounted AFTER UPDATE OF reporting_unit ON case_views
    WHEN OLD.reporting_unit IS NOT NEW.reporting_unit BEGIN
    UPDATE view_counts SET n = n - 1 WHERE ledger_id = OLD.ledger_id AND counter = 'cases:' || OLD.reporting_unit;
    INSERT OR IGNORE INTO view_counts (ledger_id, counter, n) VALUES (NEW.ledger_id, 'cases:' || NEW.reporting_unit, 0);
    UPDATE view_counts SET n = n + 1 WHERE ledger_id = NEW.ledger_id AND counter = 'cases:' || NEW.reporting_unit;
END;
CREATE TRIGGER public_report_views_counted AFTER INSERT ON public_report_views BEGIN
    INSERT OR IGNORE INTO view_counts (ledger_id, counter, n) VALUES (NEW.ledger_id, 'public_reports', 0), (NEW.ledger_id, 'public_reports_open', 0);
    UPDATE view_counts SET n = n + 1 WHERE ledger_id = NEW.ledger_id AND counter = 'public_reports';
    UPDATE view_counts SET n = n + NEW.open WHERE ledger_id = NEW.ledger_id AND counter = 'public_reports_open';
END;
CREATE TRIGGER public_report_views_uncounted AFTER DELETE ON public_report_views BEGIN
    UPDATE view_counts SET n = n - 1 WHERE ledger_id = OLD.ledger_id AND counter = 'public_reports';
    UPDATE view_counts SET n = n - OLD.open WHERE ledger_id = OLD.ledger_id AND counter = 'public_reports_open';
END;
CREATE TRIGGER public_report_views_recounted AFTER UPDATE OF open ON public_report_views
    WHEN OLD.open <> NEW.open BEGIN
    UPDATE view_counts SET n = n - OLD.open + NEW.open WHERE ledger_id = NEW.ledger_id AND counter = 'public_reports_open';
END;
