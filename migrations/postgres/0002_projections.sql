-- icac-ledger schema 2 (PostgreSQL): read models folded from the ledger.
-- View tables follow the postgres-es convention (view_id, version, payload) plus
-- ledger_id, because one database can hold several ledgers. They are disposable:
-- `icac-ledger projections rebuild` recreates them from the ledger alone.

CREATE TABLE case_views (
    ledger_id text   NOT NULL,
    view_id   text   NOT NULL,
    version   bigint NOT NULL CHECK (version >= 1),
    payload   json   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
);

CREATE TABLE operation_views (
    ledger_id text   NOT NULL,
    view_id   text   NOT NULL,
    version   bigint NOT NULL CHECK (version >= 1),
    payload   json   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
);

CREATE TABLE public_report_views (
    ledger_id text   NOT NULL,
    view_id   text   NOT NULL,
    version   bigint NOT NULL CHECK (version >= 1),
    payload   json   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
);

CREATE TABLE unit_views (
    ledger_id text   NOT NULL,
    view_id   text   NOT NULL,
    version   bigint NOT NULL CHECK (version >= 1),
    payload   json   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
);

-- The last ledger position each projection has applied.
CREATE TABLE projection_positions (
    ledger_id  text   NOT NULL,
    projection text   NOT NULL,
    position   bigint NOT NULL CHECK (position >= 0),
    updated_at text   NOT NULL,
    PRIMARY KEY (ledger_id, projection)
);
