-- icac-ledger schema 10 (PostgreSQL): staff accounts (issue 19). A person has an account
-- with a role and a unit; tokens are for machines, scoped to an account or a service,
-- with an expiry. Nothing personal beyond a username: no names, no e-mail addresses.
-- The password is stored as an argon2id PHC string. The TOTP secret cannot be hashed
-- (the server must compute codes from it): it is sealed with ChaCha20-Poly1305 under a
-- key derived (argon2id) from the account's password, so a copy of this table alone
-- yields no second factor. Recovery codes are stored as SHA-256 of 80 random bits each.

CREATE TABLE staff_accounts (
    ledger_id         TEXT    NOT NULL,
    username          TEXT    NOT NULL,
    role              TEXT    NOT NULL,
    unit              TEXT,
    status            TEXT    NOT NULL CHECK (status IN ('enabled', 'disabled', 'locked')),
    status_reason     TEXT,
    status_changed_at BIGINT  NOT NULL,
    password_argon2   TEXT    NOT NULL,
    totp_sealed       TEXT,
    totp_last_step    BIGINT,
    created_at        BIGINT  NOT NULL,
    created_by        TEXT    NOT NULL,
    last_used_at      BIGINT  NOT NULL,
    PRIMARY KEY (ledger_id, username)
);

-- Recovery codes: each usable once (used_at set on use).
CREATE TABLE account_recovery_codes (
    ledger_id   TEXT    NOT NULL,
    username    TEXT    NOT NULL,
    code_sha256 TEXT    NOT NULL,
    used_at     BIGINT,
    PRIMARY KEY (ledger_id, username, code_sha256)
);

-- Failed logons per account (AC-7: 5 in 15 minutes lock the account).
CREATE TABLE account_logon_failures (
    ledger_id TEXT    NOT NULL,
    username  TEXT    NOT NULL,
    failed_at BIGINT  NOT NULL
);
CREATE INDEX account_logon_failures_by_account ON account_logon_failures (ledger_id, username, failed_at);

-- Staff page sessions of accounts. `stage` is 'enroll' (password checked, no second
-- factor yet: only the enrolment page opens) or 'full'. A session ends at logout, when
-- idle too long, at its absolute expiry, or when the account is disabled, locked, or
-- changes its password or factors (revoked_at set for all of the account's sessions).
CREATE TABLE account_sessions (
    ledger_id      TEXT    NOT NULL,
    session_sha256 TEXT    NOT NULL,
    username       TEXT    NOT NULL,
    stage          TEXT    NOT NULL CHECK (stage IN ('enroll', 'full')),
    factor         TEXT    NOT NULL,
    created_at     BIGINT  NOT NULL,
    last_seen_at   BIGINT  NOT NULL,
    expires_at     BIGINT  NOT NULL,
    revoked_at     BIGINT,
    revoked_reason TEXT,
    PRIMARY KEY (ledger_id, session_sha256)
);
CREATE INDEX account_sessions_by_account ON account_sessions (ledger_id, username);

-- Passkeys (WebAuthn): the credential as webauthn-rs serialises it (public key, counter).
CREATE TABLE account_passkeys (
    ledger_id     TEXT    NOT NULL,
    username      TEXT    NOT NULL,
    credential_id TEXT    NOT NULL,
    passkey       TEXT    NOT NULL,
    created_at    BIGINT  NOT NULL,
    last_used_at  BIGINT,
    PRIMARY KEY (ledger_id, credential_id)
);

-- WebAuthn ceremonies in progress: each challenge is used at most once (deleted when
-- taken), and expires after five minutes.
CREATE TABLE webauthn_ceremonies (
    ledger_id    TEXT    NOT NULL,
    ceremony_id  TEXT    NOT NULL,
    username     TEXT    NOT NULL,
    kind         TEXT    NOT NULL CHECK (kind IN ('register', 'login')),
    state        TEXT    NOT NULL,
    expires_at   BIGINT  NOT NULL,
    PRIMARY KEY (ledger_id, ceremony_id)
);

-- Tokens: scoped to an account (role and unit follow the account, and a disabled or
-- locked account's tokens stop working) or to a named service; tokens issued from now
-- on expire (expires_at, RFC 3339); tokens issued before schema 10 have none.
ALTER TABLE access_tokens ADD COLUMN account TEXT;
ALTER TABLE access_tokens ADD COLUMN expires_at TEXT;
