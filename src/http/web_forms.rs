//! The web form's own tables (schema 9): a draft per signed-in token, kept outside the
//! ledger and deleted on filing; and submission claims, so that a form sent twice (a
//! double click, a reload of the POST) files once.

use sqlx::Row;

use crate::access::db::{is_unique_violation, unix_now};
use crate::storage::sql::on_pool;
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// A draft left unsaved this long is removed at the next save (seconds).
const DRAFT_KEEP_SECS: i64 = 30 * 24 * 60 * 60;
/// A form body larger than this is not a person's draft.
pub const MAX_DRAFT_BYTES: usize = 64 * 1024;

#[derive(Clone)]
pub struct WebForms {
    storage: Storage,
    ledger: LedgerId,
}

/// What a claim on a submission id found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// This request holds the claim: file the form, then `complete` or `release` it.
    New,
    /// The same form was filed already: its case.
    Filed(String),
    /// The same form is being filed by another request right now.
    InFlight,
}

impl WebForms {
    pub fn new(storage: Storage, ledger: LedgerId) -> Self {
        WebForms { storage, ledger }
    }

    /// The owner's draft, as the form's urlencoded body, if one is saved.
    pub async fn draft(&self, owner: &str) -> Result<Option<String>, sqlx::Error> {
        Ok(on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "SELECT body FROM notification_drafts WHERE ledger_id = $1 AND owner = $2",
            ))
            .bind(self.ledger.as_str())
            .bind(owner)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get::<String, _>(0))
            .transpose()?
        }))
    }

    /// Saves (replaces) the owner's draft.
    pub async fn save_draft(&self, owner: &str, body: &str) -> Result<(), sqlx::Error> {
        let now = unix_now();
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "DELETE FROM notification_drafts WHERE ledger_id = $1 AND (owner = $2 OR saved_at < $3)",
            ))
            .bind(self.ledger.as_str())
            .bind(owner)
            .bind(now - DRAFT_KEEP_SECS)
            .execute(pool)
            .await?;
            sqlx::query(&sql(
                "INSERT INTO notification_drafts (ledger_id, owner, saved_at, body) VALUES ($1, $2, $3, $4)",
            ))
            .bind(self.ledger.as_str())
            .bind(owner)
            .bind(now)
            .bind(body)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    pub async fn delete_draft(&self, owner: &str) -> Result<(), sqlx::Error> {
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "DELETE FROM notification_drafts WHERE ledger_id = $1 AND owner = $2",
            ))
            .bind(self.ledger.as_str())
            .bind(owner)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Claims `submission` for `owner`. A second claim of the same id learns what the
    /// first did instead of filing again.
    pub async fn claim(&self, owner: &str, submission: &str) -> Result<Claim, sqlx::Error> {
        let inserted = on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "INSERT INTO notification_submissions (ledger_id, submission_id, owner, claimed_at) VALUES ($1, $2, $3, $4)",
            ))
            .bind(self.ledger.as_str())
            .bind(submission)
            .bind(owner)
            .bind(unix_now())
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        match inserted {
            Ok(_) => return Ok(Claim::New),
            Err(e) if is_unique_violation(&e) => {}
            Err(e) => return Err(e),
        }
        let case: Option<Option<String>> = on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "SELECT case_id FROM notification_submissions WHERE ledger_id = $1 AND submission_id = $2 AND owner = $3",
            ))
            .bind(self.ledger.as_str())
            .bind(submission)
            .bind(owner)
            .fetch_optional(pool)
            .await?
            .map(|r| r.try_get::<Option<String>, _>(0))
            .transpose()?
        });
        Ok(match case {
            Some(Some(case)) => Claim::Filed(case),
            // Another owner's id (guessed or copied) tells nothing about their filing.
            Some(None) | None => Claim::InFlight,
        })
    }

    /// The claimed form was filed on `case_id`.
    pub async fn complete(&self, submission: &str, case_id: &str) -> Result<(), sqlx::Error> {
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE notification_submissions SET case_id = $1 WHERE ledger_id = $2 AND submission_id = $3",
            ))
            .bind(case_id)
            .bind(self.ledger.as_str())
            .bind(submission)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// The claimed form was not filed (errors to fix): the same id may be sent again.
    pub async fn release(&self, submission: &str) -> Result<(), sqlx::Error> {
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "DELETE FROM notification_submissions WHERE ledger_id = $1 AND submission_id = $2 AND case_id IS NULL",
            ))
            .bind(self.ledger.as_str())
            .bind(submission)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }
}
