-- icac-ledger schema 9 (SQLite): the web form's drafts and submissions (issue 18).
-- A draft is not a filing: it is kept here, outside the ledger, one per signed-in
-- token, and deleted when the form is filed. It holds what the filer typed (officer
-- contact, suspect identifiers) in the clear, as the form does before it is sealed, so
-- it is kept only while needed: a draft older than 30 days is removed on the next save.
-- A submission row makes a double-clicked "File" file once: the first request claims
-- the form's random submission id, a second finds the claim and the case it filed.

CREATE TABLE notification_drafts (
    ledger_id  TEXT    NOT NULL,
    owner      TEXT    NOT NULL,
    saved_at   INTEGER NOT NULL,
    body       TEXT    NOT NULL,
    PRIMARY KEY (ledger_id, owner)
) STRICT;

CREATE TABLE notification_submissions (
    ledger_id     TEXT    NOT NULL,
    submission_id TEXT    NOT NULL,
    owner         TEXT    NOT NULL,
    claimed_at    INTEGER NOT NULL,
    case_id       TEXT,
    PRIMARY KEY (ledger_id, submission_id)
) STRICT;
