-- icac-ledger schema 2 (SQLite): read models folded from the ledger.
-- View tables follow the sqlite-es convention (view_id, version, payload) plus
-- ledger_id, because one database can hold several ledgers. They are disposable:
-- `icac-ledger projections rebuild` recreates them from the ledger alone.

CREATE TABLE case_views (
    ledger_id TEXT   NOT NULL,
    view_id   TEXT   NOT NULL,
    version   INTEGER NOT NULL CHECK (version >= 1),
    payload   TEXT   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
) STRICT;

CREATE TABLE operation_views (
    ledger_id TEXT   NOT NULL,
    view_id   TEXT   NOT NULL,
    version   INTEGER NOT NULL CHECK (version >= 1),
    payload   TEXT   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
) STRICT;

CREATE TABLE public_report_views (
    ledger_id TEXT   NOT NULL,
    view_id   TEXT   NOT NULL,
    version   INTEGER NOT NULL CHECK (version >= 1),
    payload   TEXT   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
) STRICT;

CREATE TABLE unit_views (
    ledger_id TEXT   NOT NULL,
    view_id   TEXT   NOT NULL,
    version   INTEGER NOT NULL CHECK (version >= 1),
    payload   TEXT   NOT NULL,
    PRIMARY KEY (ledger_id, view_id)
) STRICT;

-- The last ledger position each projection has applied.
CREATE TABLE projection_positions (
    ledger_id  TEXT   NOT NULL,
    projection TEXT   NOT NULL,
    position   INTEGER NOT NULL CHECK (position >= 0),
    updated_at TEXT   NOT NULL,
    PRIMARY KEY (ledger_id, projection)
) STRICT;
