//! Staff page sessions. Signing in with a token starts a session: the cookie carries a
//! random 256-bit session id, and only its SHA-256 is stored (schema 7). A session
//! ends at logout (revoked at once, for every copy of the cookie), when it expires, or
//! when its token is revoked. Each session has a CSRF token derived from its id, so a
//! page can embed it and a form post can be checked without storing anything more.

use sha2::{Digest, Sha256};
use sqlx::Row;

use crate::access::auth::Principal;
use crate::access::db::unix_now;
use crate::access::tokens::{TokenError, TokenStore};
use crate::storage::sql::on_pool;
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// How long a session lasts without signing in again (seconds).
pub const SESSION_SECS: i64 = 8 * 60 * 60;
/// Hex characters of a session id (32 random bytes).
const SESSION_ID_LEN: usize = 64;

/// An account session ends after this long without a request (seconds)...
pub const ACCOUNT_IDLE_SECS: i64 = 15 * 60;
/// ...and this long after sign-in at the latest (seconds).
pub const ACCOUNT_SESSION_SECS: i64 = 8 * 60 * 60;
/// An enrolment session (password proved, no second factor yet) lasts this long.
pub const ENROLL_SECS: i64 = 10 * 60;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SessionStage {
    /// Only the second-factor enrolment page opens.
    Enroll,
    Full,
}

impl SessionStage {
    fn as_str(self) -> &'static str {
        match self {
            SessionStage::Enroll => "enroll",
            SessionStage::Full => "full",
        }
    }
}

/// Why an account session no longer signs anyone in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionEnd {
    SignedOut,
    Idle,
    Expired,
    /// Ended by the server: the account was disabled or locked, or its password,
    /// factors or role changed.
    Revoked(String),
}

impl SessionEnd {
    pub fn as_str(&self) -> &str {
        match self {
            SessionEnd::SignedOut => "signed_out",
            SessionEnd::Idle => "idle",
            SessionEnd::Expired => "expired",
            SessionEnd::Revoked(r) => r,
        }
    }

    pub fn message(&self) -> String {
        match self {
            SessionEnd::SignedOut => "You signed out of this session.".into(),
            SessionEnd::Idle => format!(
                "Your session ended after {} minutes without activity.",
                ACCOUNT_IDLE_SECS / 60
            ),
            SessionEnd::Expired => format!(
                "Your session reached its {}-hour limit.",
                ACCOUNT_SESSION_SECS / 3600
            ),
            SessionEnd::Revoked(r) => format!("Your session was ended by the service ({r})."),
        }
    }
}

/// What an account session cookie names.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AccountSession {
    Unknown,
    Live {
        username: String,
        stage: SessionStage,
    },
    Ended {
        username: String,
        why: SessionEnd,
    },
}

#[derive(Clone)]
pub struct SessionStore {
    storage: Storage,
    ledger: LedgerId,
    tokens: TokenStore,
}

/// A session id as the cookie carries it. Never logged or stored as is.
pub struct SessionId(String);

impl SessionId {
    /// The cookie's value, if it has a session id's shape.
    pub fn from_cookie(value: &str) -> Option<Self> {
        (value.len() == SESSION_ID_LEN && value.bytes().all(|b| b.is_ascii_hexdigit()))
            .then(|| SessionId(value.to_ascii_lowercase()))
    }

    pub fn as_cookie(&self) -> &str {
        &self.0
    }

    fn stored(&self) -> String {
        hex::encode(Sha256::digest(self.0.as_bytes()))
    }

    /// The session's CSRF token: forms carry it, and only this session's pages know it.
    pub fn csrf(&self) -> String {
        let mut h = Sha256::new();
        h.update(b"icac-ledger staff csrf\0");
        h.update(self.0.as_bytes());
        hex::encode(h.finalize())
    }

    /// Whether `presented` is this session's CSRF token (constant time).
    pub fn csrf_matches(&self, presented: &str) -> bool {
        constant_time_eq(self.csrf().as_bytes(), presented.as_bytes())
    }
}

/// Compares two byte strings without an early exit on the first difference.
pub fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

/// 32 random bytes, hex.
pub fn random_id() -> String {
    use rand_core::{OsRng, RngCore};
    let mut b = [0u8; 32];
    OsRng.fill_bytes(&mut b);
    hex::encode(b)
}

impl SessionStore {
    pub fn new(storage: Storage, ledger: LedgerId, tokens: TokenStore) -> Self {
        SessionStore {
            storage,
            ledger,
            tokens,
        }
    }

    /// Starts a session for an authenticated principal.
    pub async fn start(&self, principal: &Principal) -> Result<SessionId, TokenError> {
        let id = SessionId(random_id());
        let now = unix_now();
        on_pool!(&self.storage, |pool, sql| {
            // Expired sessions prove nothing; keep the table small.
            sqlx::query(&sql(
                "DELETE FROM staff_sessions WHERE ledger_id = $1 AND expires_at <= $2",
            ))
            .bind(self.ledger.as_str())
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query(&sql(
                "INSERT INTO staff_sessions (ledger_id, session_sha256, token_id, created_at, expires_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            ))
            .bind(self.ledger.as_str())
            .bind(id.stored())
            .bind(&principal.token_id.0)
            .bind(now)
            .bind(now + SESSION_SECS)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(id)
    }

    /// The principal of a live session: not ended, not expired, its token not revoked.
    pub async fn resolve(
        &self,
        id: &SessionId,
        source: &str,
        request_id: &str,
    ) -> Result<Option<Principal>, TokenError> {
        let token_id: Option<String> = on_pool!(&self.storage, |pool, sql| {
            let r = sqlx::query(&sql(
                "SELECT token_id FROM staff_sessions WHERE ledger_id = $1 AND session_sha256 = $2 \
                 AND revoked_at IS NULL AND expires_at > $3",
            ))
            .bind(self.ledger.as_str())
            .bind(id.stored())
            .bind(unix_now())
            .fetch_optional(pool)
            .await?;
            match r {
                Some(r) => Some(r.try_get::<String, _>(0)?),
                None => None,
            }
        });
        let Some(token_id) = token_id else {
            return Ok(None);
        };
        Ok(self
            .tokens
            .principal_for_id(&token_id)
            .await?
            .map(|p| Principal {
                source: source.to_owned(),
                request_id: request_id.to_owned(),
                ..p
            }))
    }

    /// Ends a session (a token's or an account's); a copy of its cookie no longer signs
    /// anyone in.
    pub async fn end(&self, id: &SessionId) -> Result<(), TokenError> {
        let now = unix_now();
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_sessions SET revoked_at = $1 WHERE ledger_id = $2 AND session_sha256 = $3 AND revoked_at IS NULL",
            ))
            .bind(now)
            .bind(self.ledger.as_str())
            .bind(id.stored())
            .execute(pool)
            .await?;
            sqlx::query(&sql(
                "UPDATE account_sessions SET revoked_at = $1, revoked_reason = 'logout' WHERE ledger_id = $2 \
                 AND session_sha256 = $3 AND revoked_at IS NULL",
            ))
            .bind(now)
            .bind(self.ledger.as_str())
            .bind(id.stored())
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Starts a session for an account that proved its password (`Enroll`: it has no
    /// second factor yet) or its password and a second factor, or a passkey (`Full`).
    pub async fn start_account(
        &self,
        username: &str,
        stage: SessionStage,
        factor: &str,
        now: i64,
    ) -> Result<SessionId, TokenError> {
        let id = SessionId(random_id());
        let lifetime = match stage {
            SessionStage::Enroll => ENROLL_SECS,
            SessionStage::Full => ACCOUNT_SESSION_SECS,
        };
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "DELETE FROM account_sessions WHERE ledger_id = $1 AND expires_at <= $2",
            ))
            .bind(self.ledger.as_str())
            .bind(now - ACCOUNT_SESSION_SECS)
            .execute(pool)
            .await?;
            sqlx::query(&sql(
                "INSERT INTO account_sessions (ledger_id, session_sha256, username, stage, factor, created_at, \
                 last_seen_at, expires_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
            ))
            .bind(self.ledger.as_str())
            .bind(id.stored())
            .bind(username)
            .bind(stage.as_str())
            .bind(factor)
            .bind(now)
            .bind(now)
            .bind(now + lifetime)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(id)
    }

    /// What an account session cookie names at `now`. A live session's idle clock
    /// starts again.
    pub async fn resolve_account(
        &self,
        id: &SessionId,
        now: i64,
    ) -> Result<AccountSession, TokenError> {
        type R = (String, String, i64, i64, Option<i64>, Option<String>);
        let row: Option<R> = on_pool!(&self.storage, |pool, sql| {
            let r = sqlx::query(&sql(
                "SELECT username, stage, last_seen_at, expires_at, revoked_at, revoked_reason FROM account_sessions \
                 WHERE ledger_id = $1 AND session_sha256 = $2",
            ))
            .bind(self.ledger.as_str())
            .bind(id.stored())
            .fetch_optional(pool)
            .await?;
            match r {
                Some(r) => Some((
                    r.try_get(0)?,
                    r.try_get(1)?,
                    r.try_get(2)?,
                    r.try_get(3)?,
                    r.try_get(4)?,
                    r.try_get(5)?,
                )),
                None => None,
            }
        });
        let Some((username, stage, last_seen, expires, revoked, reason)) = row else {
            return Ok(AccountSession::Unknown);
        };
        if revoked.is_some() {
            return Ok(AccountSession::Ended {
                username,
                why: match reason.as_deref() {
                    Some("logout") => SessionEnd::SignedOut,
                    _ => SessionEnd::Revoked(reason.unwrap_or_default()),
                },
            });
        }
        if now >= expires {
            return Ok(AccountSession::Ended {
                username,
                why: SessionEnd::Expired,
            });
        }
        if now - last_seen >= ACCOUNT_IDLE_SECS {
            return Ok(AccountSession::Ended {
                username,
                why: SessionEnd::Idle,
            });
        }
        if now > last_seen {
            on_pool!(&self.storage, |pool, sql| {
                sqlx::query(&sql(
                    "UPDATE account_sessions SET last_seen_at = $1 WHERE ledger_id = $2 AND session_sha256 = $3",
                ))
                .bind(now)
                .bind(self.ledger.as_str())
                .bind(id.stored())
                .execute(pool)
                .await?
                .rows_affected()
            });
        }
        let stage = if stage == "full" {
            SessionStage::Full
        } else {
            SessionStage::Enroll
        };
        Ok(AccountSession::Live { username, stage })
    }
}
