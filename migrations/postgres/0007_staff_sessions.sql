-- icac-ledger schema 7 (PostgreSQL): staff page sessions. The cookie carries a random
-- session id; only its SHA-256 is stored, so a copy of this table signs no one in.
-- Logout sets revoked_at; revoking the token ends its sessions too (checked on use).

CREATE TABLE staff_sessions (
    ledger_id      TEXT   NOT NULL,
    session_sha256 TEXT   NOT NULL,
    token_id       TEXT   NOT NULL,
    created_at     BIGINT NOT NULL,
    expires_at     BIGINT NOT NULL,
    revoked_at     BIGINT,
    PRIMARY KEY (ledger_id, session_sha256)
);
CREATE INDEX staff_sessions_expiry ON staff_sessions (ledger_id, expires_at);
