-- icac-ledger schema 5 (PostgreSQL): the columns the case list, the 14-day filters and
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
    ledger_id           text     NOT NULL,
    view_id             text     NOT NULL,
    version             bigint   NOT NULL CHECK (version >= 1),
    payload             json     NOT NULL,
    -- Copies of what the payload says, for lists and filters:
    reporting_unit      text     NOT NULL,
    -- Connecticut dates as days since 1970-01-01, so SQL can add the 14 days.
    received_day        bigint   NOT NULL,
    -- When the form was filed (or the case merged): the clock's stop; NULL if not yet.
    filed_day           bigint,
    opened_by_complaint smallint NOT NULL CHECK (opened_by_complaint IN (0, 1)),
    CONSTRAINT case_views_pkey PRIMARY KEY (ledger_id, view_id)
);
-- The case list: newest first, ties by case id in byte order (as Rust sorts).
CREATE INDEX case_views_by_received ON case_views (ledger_id, received_day DESC, view_id COLLATE "C");
CREATE INDEX case_views_by_unit ON case_views (ledger_id, reporting_unit, received_day DESC, view_id COLLATE "C");

DROP TABLE public_report_views;
CREATE TABLE public_report_views (
    ledger_id      text     NOT NULL,
    view_id        text     NOT NULL,
    version        bigint   NOT NULL CHECK (version >= 1),
    payload        json     NOT NULL,
    -- Still in the intake queue (received or triaged).
    open           smallint NOT NULL CHECK (open IN (0, 1)),
    -- When it was received: whole seconds since 1970 and the nanoseconds after them.
    received_at_s  bigint   NOT NULL,
    received_at_ns integer  NOT NULL,
    CONSTRAINT public_report_views_pkey PRIMARY KEY (ledger_id, view_id)
);
-- The intake queue: open reports, oldest first.
CREATE INDEX public_report_views_queue ON public_report_views (ledger_id, open, received_at_s, received_at_ns, view_id COLLATE "C");

-- Counts of view rows that lists report as totals ('cases:<ORI>' per reporting unit,
-- 'public_reports', 'public_reports_open'), kept by triggers whichever process writes
-- the views, so a total is a few rows read instead of a count over every case. A
-- rebuild recounts its ledger and recreates these triggers, read from the catalog, on
-- the tables it swaps in.
CREATE TABLE view_counts (
    ledger_id text   NOT NULL,
    counter   text   NOT NULL,
    n         bigint NOT NULL,
    PRIMARY KEY (ledger_id, counter)
);

CREATE FUNCTION view_counts_add(l text, c text, d bigint) RETURNS void LANGUAGE sql AS $$
    INSERT INTO view_counts (ledger_id, counter, n) VALUES (l, c, d)
    ON CONFLICT (ledger_id, counter) DO UPDATE SET n = view_counts.n + excluded.n
$$;

CREATE FUNCTION case_views_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM view_counts_add(OLD.ledger_id, 'cases:' || OLD.reporting_unit, -1);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM view_counts_add(NEW.ledger_id, 'cases:' || NEW.reporting_unit, 1);
    END IF;
    RETURN NULL;
END $$;

CREATE FUNCTION public_report_views_count() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF TG_OP <> 'INSERT' THEN
        PERFORM view_counts_add(OLD.ledger_id, 'public_reports', -1);
        PERFORM view_counts_add(OLD.ledger_id, 'public_reports_open', -OLD.open);
    END IF;
    IF TG_OP <> 'DELETE' THEN
        PERFORM view_counts_add(NEW.ledger_id, 'public_reports', 1);
        PERFORM view_counts_add(NEW.ledger_id, 'public_reports_open', NEW.open);
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER case_views_counted AFTER INSERT OR DELETE ON case_views
    FOR EACH ROW EXECUTE FUNCTION case_views_count();
CREATE TRIGGER case_views_recounted AFTER UPDATE ON case_views
    FOR EACH ROW WHEN (OLD.reporting_unit IS DISTINCT FROM NEW.reporting_unit)
    EXECUTE FUNCTION case_views_count();
CREATE TRIGGER public_report_views_counted AFTER INSERT OR DELETE ON public_report_views
    FOR EACH ROW EXECUTE FUNCTION public_report_views_count();
CREATE TRIGGER public_report_views_recounted AFTER UPDATE ON public_report_views
    FOR EACH ROW WHEN (OLD.open <> NEW.open)
    EXECUTE FUNCTION public_report_views_count();
