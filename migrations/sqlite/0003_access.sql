-- icac-ledger schema 3 (SQLite): who may use the service, and who looked at what.
-- Bearer tokens are stored only as SHA-256 of their secret; the secret is shown once.

CREATE TABLE access_tokens (
    ledger_id     TEXT NOT NULL,
    token_id      TEXT NOT NULL,
    name          TEXT NOT NULL,
    role          TEXT NOT NULL,
    unit          TEXT,
    secret_sha256 TEXT NOT NULL,
    issued_at     TEXT NOT NULL,
    issued_by     TEXT NOT NULL,
    revoked_at    TEXT,
    revoked_by    TEXT,
    PRIMARY KEY (ledger_id, token_id)
) STRICT;

-- Failed authentications by source, for the CJIS lockout (5 in 15 minutes).
CREATE TABLE auth_failures (
    ledger_id TEXT    NOT NULL,
    source    TEXT    NOT NULL,
    failed_at INTEGER NOT NULL
) STRICT;
CREATE INDEX auth_failures_source ON auth_failures (ledger_id, source, failed_at);

-- Reads of case details, logons, token issue and revoke: a hash chain of its own.
-- hash = SHA-256(prev_hash || canonical JSON of the entry).
CREATE TABLE access_log (
    ledger_id TEXT    NOT NULL,
    seq       INTEGER NOT NULL CHECK (seq >= 1),
    entry     TEXT    NOT NULL,
    prev_hash TEXT    NOT NULL,
    hash      TEXT    NOT NULL,
    PRIMARY KEY (ledger_id, seq),
    UNIQUE (ledger_id, prev_hash)
) STRICT;
