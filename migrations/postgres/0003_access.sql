-- icac-ledger schema 3 (PostgreSQL): who may use the service, and who looked at what.
-- Bearer tokens are stored only as SHA-256 of their secret; the secret is shown once.

CREATE TABLE access_tokens (
    ledger_id     text NOT NULL,
    token_id      text NOT NULL,
    name          text NOT NULL,
    role          text NOT NULL,
    unit          text,
    secret_sha256 text NOT NULL,
    issued_at     text NOT NULL,
    issued_by     text NOT NULL,
    revoked_at    text,
    revoked_by    text,
    PRIMARY KEY (ledger_id, token_id)
);

-- Failed authentications by source, for the CJIS lockout (5 in 15 minutes).
CREATE TABLE auth_failures (
    ledger_id text   NOT NULL,
    source    text   NOT NULL,
    failed_at bigint NOT NULL
);
CREATE INDEX auth_failures_source ON auth_failures (ledger_id, source, failed_at);

-- Reads of case details, logons, token issue and revoke: a hash chain of its own.
-- hash = SHA-256(prev_hash || canonical JSON of the entry).
CREATE TABLE access_log (
    ledger_id text   NOT NULL,
    seq       bigint NOT NULL CHECK (seq >= 1),
    entry     text   NOT NULL,
    prev_hash text   NOT NULL,
    hash      text   NOT NULL,
    PRIMARY KEY (ledger_id, seq),
    UNIQUE (ledger_id, prev_hash)
);
