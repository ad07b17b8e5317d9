//! Bearer tokens: `icac_<id>_<secret>`. Only SHA-256 of the secret is stored; the
//! whole token is shown once, when issued. Failed authentications are counted per
//! client address and per presented token id; five within fifteen minutes lock that
//! address or id out for invalid attempts (CJIS 5.5.3). A valid token always passes.

use icac_aggregates::ids::Ori;
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use sha2::{Digest, Sha256};
use sqlx::Row;
use std::collections::HashMap;

use super::access_log::{AccessEntry, AccessLog, AccessLogError};
use super::auth::{Principal, Role, TokenId};
use super::db::unix_now;
use super::failure_window::{Tally, TOKEN_AUTH};
use crate::storage::sql::on_pool;
use crate::storage::Storage;
use icac_format::record::LedgerId;

pub const TOKEN_PREFIX: &str = "icac_";
/// Failed authentications from one source that trigger a lockout...
pub const LOCKOUT_THRESHOLD: i64 = 5;
/// ...within this window; the lockout lasts until the window has passed.
pub const LOCKOUT_WINDOW_SECS: i64 = 15 * 60;
pub const MAX_NAME_LEN: usize = 80;
const MAX_TOKEN_LEN: usize = 128;

#[derive(Debug, thiserror::Error)]
pub enum TokenError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    AccessLog(#[from] AccessLogError),
    #[error("a {0} token must name its unit (--unit ORI)")]
    UnitRequired(Role),
    #[error("only unit reporters are bound to a unit")]
    UnitNotAllowed,
    #[error("token name must be 1 to {MAX_NAME_LEN} printable characters")]
    BadName,
    #[error("no token {0}")]
    NoSuchToken(String),
    #[error("token {0} is already revoked")]
    AlreadyRevoked(String),
    #[error("a token lasts 1 to {MAX_TOKEN_DAYS} days")]
    BadExpiry,
    #[error("account {0} is not enabled")]
    AccountNotEnabled(String),
    #[error("stored token row is malformed: {0}")]
    Malformed(String),
}

/// Why an authentication did not succeed.
#[derive(Debug, thiserror::Error)]
pub enum AuthFailure {
    #[error("no bearer token was given")]
    Missing,
    #[error("the token is not valid")]
    Invalid,
    #[error(
        "too many failed authentications from this address or for this token id; try again in {retry_after} seconds"
    )]
    LockedOut { retry_after: u64 },
    #[error(transparent)]
    Store(#[from] TokenError),
}

/// A token as listed (never the secret).
#[derive(Debug, Clone, Serialize)]
pub struct TokenInfo {
    pub token_id: String,
    pub name: String,
    pub role: Role,
    pub unit: Option<String>,
    pub issued_at: String,
    pub issued_by: String,
    pub revoked_at: Option<String>,
    /// The account the token acts for (its role and unit follow the account's), or
    /// none for a service token.
    pub account: Option<String>,
    /// When the token stops working (none: issued before schema 10).
    pub expires_at: Option<String>,
}

/// Whom a token acts for.
#[derive(Debug, Clone)]
pub enum TokenScope {
    /// A machine: a named service with its own role (and unit, for unit reporters).
    Service { role: Role, unit: Option<Ori> },
    /// A person's script or tool: the account's role and unit, while it is enabled.
    Account(super::accounts::AccountInfo),
}

/// Days a token lasts unless told otherwise.
pub const DEFAULT_TOKEN_DAYS: i64 = 90;
/// Days a token may last at most.
pub const MAX_TOKEN_DAYS: i64 = 366;

/// A freshly issued token: `token` is the only copy of the secret.
#[derive(Debug, Clone, Serialize)]
pub struct IssuedToken {
    pub token: String,
    #[serde(flatten)]
    pub info: TokenInfo,
}

#[derive(Clone)]
pub struct TokenStore {
    storage: Storage,
    ledger: LedgerId,
    log: AccessLog,
    recent: std::sync::Arc<RecentAuth>,
}

/// How long a verified token is trusted without asking the database again. Revoking
/// through this process forgets every such entry at once; a revocation made by another
/// process sharing the database takes effect here within this time.
const VERIFIED_FOR: std::time::Duration = std::time::Duration::from_secs(2);
/// Entries kept at most; beyond this the memory starts over.
const RECENT_LIMIT: usize = 10_000;

/// What this process learned from the database in the last moments: tokens that
/// verified (keyed by the SHA-256 of what was presented, never the token itself) and
/// sources it locked out. Spares each request two queries under load.
#[derive(Default)]
struct RecentAuth {
    verified: std::sync::Mutex<HashMap<String, (Principal, std::time::Instant)>>,
    locked: std::sync::Mutex<HashMap<String, (u64, std::time::Instant)>>,
}

impl RecentAuth {
    fn verified(&self, key: &str) -> Option<Principal> {
        let map = self.verified.lock().ok()?;
        let (p, at) = map.get(key)?;
        (at.elapsed() < VERIFIED_FOR).then(|| p.clone())
    }

    fn remember(&self, key: String, principal: &Principal) {
        if let Ok(mut map) = self.verified.lock() {
            if map.len() >= RECENT_LIMIT {
                map.clear();
            }
            map.insert(key, (principal.clone(), std::time::Instant::now()));
        }
    }

    fn forget_all(&self) {
        if let Ok(mut map) = self.verified.lock() {
            map.clear();
        }
    }

    /// Seconds left on a lockout this process imposed on `source`, if any.
    fn locked_out(&self, source: &str) -> Option<u64> {
        let map = self.locked.lock().ok()?;
        let (seconds, at) = map.get(source)?;
        let left = seconds.saturating_sub(at.elapsed().as_secs());
        (left > 0).then_some(left)
    }

    fn lock(&self, source: &str, seconds: u64) {
        if let Ok(mut map) = self.locked.lock() {
            if map.len() >= RECENT_LIMIT {
                map.clear();
            }
            map.insert(source.to_owned(), (seconds, std::time::Instant::now()));
        }
    }
}

/// What failed authentications are counted under: a client address, or the id part of
/// a presented token (never its secret).
struct FailureKey(String);

impl FailureKey {
    fn address(source: &str) -> Self {
        FailureKey(format!("addr:{source}"))
    }

    /// The presented token's id, when it has the token shape with a plausible id.
    fn token(presented: &str) -> Option<Self> {
        let rest = presented.strip_prefix(TOKEN_PREFIX)?;
        let (id, _) = rest.split_once('_')?;
        let plausible =
            !id.is_empty() && id.len() <= 32 && id.bytes().all(|b| b.is_ascii_hexdigit());
        plausible.then(|| FailureKey(format!("token:{}", id.to_ascii_lowercase())))
    }
}

fn sha256_hex(s: &str) -> String {
    hex::encode(Sha256::digest(s.as_bytes()))
}

fn random_hex(bytes: usize) -> String {
    let mut buf = vec![0u8; bytes];
    OsRng.fill_bytes(&mut buf);
    hex::encode(buf)
}

/// Compares two equal-length hex digests without an early exit.
fn constant_time_eq(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

fn valid_name(name: &str) -> bool {
    let n = name.trim();
    !n.is_empty() && name.chars().count() <= MAX_NAME_LEN && !name.chars().any(char::is_control)
}

impl TokenStore {
    pub fn new(storage: Storage, ledger: LedgerId, log: AccessLog) -> Self {
        TokenStore {
            storage,
            ledger,
            log,
            recent: Default::default(),
        }
    }

    /// A service token lasting [`DEFAULT_TOKEN_DAYS`].
    pub async fn issue(
        &self,
        role: Role,
        unit: Option<Ori>,
        name: &str,
        issued_by: &str,
    ) -> Result<IssuedToken, TokenError> {
        self.issue_scoped(
            TokenScope::Service { role, unit },
            name,
            issued_by,
            DEFAULT_TOKEN_DAYS,
        )
        .await
    }

    pub async fn issue_scoped(
        &self,
        scope: TokenScope,
        name: &str,
        issued_by: &str,
        days: i64,
    ) -> Result<IssuedToken, TokenError> {
        if !valid_name(name) {
            return Err(TokenError::BadName);
        }
        if !(1..=MAX_TOKEN_DAYS).contains(&days) {
            return Err(TokenError::BadExpiry);
        }
        let (role, unit_s, account) = match &scope {
            TokenScope::Service { role, unit } => {
                match (role.is_unit_bound(), unit) {
                    (true, None) => return Err(TokenError::UnitRequired(*role)),
                    (false, Some(_)) => return Err(TokenError::UnitNotAllowed),
                    _ => {}
                }
                (
                    *role,
                    unit.as_ref().map(std::string::ToString::to_string),
                    None,
                )
            }
            TokenScope::Account(a) => {
                if a.status != super::accounts::AccountStatus::Enabled {
                    return Err(TokenError::AccountNotEnabled(a.username.clone()));
                }
                (a.role, a.unit.clone(), Some(a.username.clone()))
            }
        };
        let token_id = random_hex(8);
        let secret = random_hex(32);
        let now = jiff::Timestamp::now();
        let issued_at = now.to_string();
        let expires_at = jiff::Timestamp::from_second(now.as_second() + days * 86_400)
            .map_err(|e| TokenError::Malformed(e.to_string()))?
            .to_string();
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "INSERT INTO access_tokens (ledger_id, token_id, name, role, unit, secret_sha256, issued_at, issued_by, account, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
            ))
            .bind(self.ledger.as_str())
            .bind(&token_id)
            .bind(name)
            .bind(role.as_str())
            .bind(&unit_s)
            .bind(sha256_hex(&secret))
            .bind(&issued_at)
            .bind(issued_by)
            .bind(&account)
            .bind(&expires_at)
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.log
            .append(
                AccessEntry::new("token_issued", issued_by, "", &token_id, "ok").with_detail(
                    format!(
                        "{} role={role}{} expires={expires_at}",
                        account
                            .as_deref()
                            .map_or_else(|| "service".into(), |a| format!("account={a}")),
                        unit_s
                            .as_deref()
                            .map(|u| format!(" unit={u}"))
                            .unwrap_or_default()
                    ),
                ),
            )
            .await?;
        Ok(IssuedToken {
            token: format!("{TOKEN_PREFIX}{token_id}_{secret}"),
            info: TokenInfo {
                token_id,
                name: name.to_owned(),
                role,
                unit: unit_s,
                issued_at,
                issued_by: issued_by.to_owned(),
                revoked_at: None,
                account,
                expires_at: Some(expires_at),
            },
        })
    }

    pub async fn revoke(&self, token_id: &str, revoked_by: &str) -> Result<(), TokenError> {
        let existing = self.get(token_id).await?;
        let Some(info) = existing else {
            return Err(TokenError::NoSuchToken(token_id.chars().take(40).collect()));
        };
        if info.revoked_at.is_some() {
            return Err(TokenError::AlreadyRevoked(info.token_id));
        }
        let now = jiff::Timestamp::now().to_string();
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE access_tokens SET revoked_at = $1, revoked_by = $2 \
                 WHERE ledger_id = $3 AND token_id = $4 AND revoked_at IS NULL",
            ))
            .bind(&now)
            .bind(revoked_by)
            .bind(self.ledger.as_str())
            .bind(token_id)
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.recent.forget_all();
        self.log
            .append(AccessEntry::new(
                "token_revoked",
                revoked_by,
                "",
                token_id,
                "ok",
            ))
            .await?;
        Ok(())
    }

    /// Forgets every verified token this process remembers, so that a change made
    /// elsewhere (an account disabled) takes effect at the next request.
    pub fn forget_verified(&self) {
        self.recent.forget_all();
    }

    pub async fn list(&self) -> Result<Vec<TokenInfo>, TokenError> {
        self.select(None).await
    }

    pub async fn get(&self, token_id: &str) -> Result<Option<TokenInfo>, TokenError> {
        Ok(self.select(Some(token_id)).await?.into_iter().next())
    }

    async fn select(&self, token_id: Option<&str>) -> Result<Vec<TokenInfo>, TokenError> {
        let rows = on_pool!(&self.storage, |pool, sql| {
            let q = "SELECT token_id, name, role, unit, issued_at, issued_by, revoked_at, account, expires_at FROM access_tokens \
                     WHERE ledger_id = $1 AND ($2 = '' OR token_id = $3) ORDER BY issued_at, token_id";
            let rows = sqlx::query(&sql(q))
                .bind(self.ledger.as_str())
                .bind(token_id.unwrap_or(""))
                .bind(token_id.unwrap_or(""))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok::<_, TokenError>((
                        r.try_get::<String, _>(0)?,
                        r.try_get::<String, _>(1)?,
                        r.try_get::<String, _>(2)?,
                        r.try_get::<Option<String>, _>(3)?,
                        r.try_get::<String, _>(4)?,
                        r.try_get::<String, _>(5)?,
                        r.try_get::<Option<String>, _>(6)?,
                        r.try_get::<Option<String>, _>(7)?,
                        r.try_get::<Option<String>, _>(8)?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        rows.into_iter()
            .map(
                |(
                    token_id,
                    name,
                    role,
                    unit,
                    issued_at,
                    issued_by,
                    revoked_at,
                    account,
                    expires_at,
                )| {
                    Ok(TokenInfo {
                        role: role.parse().map_err(|e: super::auth::UnknownRole| {
                            TokenError::Malformed(e.to_string())
                        })?,
                        token_id,
                        name,
                        unit,
                        issued_at,
                        issued_by,
                        revoked_at,
                        account,
                        expires_at,
                    })
                },
            )
            .collect()
    }

    /// Seconds until failures counted under `key` stop locking it out, if they do.
    async fn lockout(&self, key: &FailureKey) -> Result<Option<u64>, TokenError> {
        if let Some(left) = self.recent.locked_out(&key.0) {
            return Ok(Some(left));
        }
        let now = unix_now();
        let since = now - LOCKOUT_WINDOW_SECS;
        let Tally { count, latest } = TOKEN_AUTH
            .of(&self.storage, &self.ledger)
            .tally(&key.0, now)
            .await?;
        if count >= LOCKOUT_THRESHOLD {
            let until = latest.unwrap_or(since) + LOCKOUT_WINDOW_SECS;
            let left = (until - unix_now()).max(1) as u64;
            self.recent.lock(&key.0, left);
            Ok(Some(left))
        } else {
            Ok(None)
        }
    }

    async fn record_failure(&self, keys: &[FailureKey], source: &str) -> Result<(), TokenError> {
        let now = unix_now();
        let failures = TOKEN_AUTH.of(&self.storage, &self.ledger);
        for key in keys {
            failures.record(&key.0, now).await?;
        }
        self.log
            .append(AccessEntry::new(
                "auth_failed",
                "",
                source,
                "",
                "invalid_token",
            ))
            .await?;
        Ok(())
    }

    /// The longest lockout among `keys`, if any is locked out.
    async fn locked(&self, keys: &[FailureKey]) -> Result<Option<u64>, TokenError> {
        let mut worst = None;
        for key in keys {
            if let Some(left) = self.lockout(key).await? {
                worst = Some(worst.map_or(left, |w: u64| w.max(left)));
            }
        }
        Ok(worst)
    }

    /// Checks a presented token. A valid token always authenticates: its 256-bit secret
    /// cannot be guessed, so refusing it would only let anyone who shares its address
    /// (NAT, a proxy) or knows its id lock its holder out. Failures are counted per
    /// client address and per presented token id; once either has five in fifteen
    /// minutes, further invalid attempts answer "locked out" and are no longer stored.
    pub async fn authenticate(
        &self,
        presented: Option<&str>,
        source: &str,
        request_id: &str,
    ) -> Result<Principal, AuthFailure> {
        let Some(presented) = presented else {
            return Err(AuthFailure::Missing);
        };
        let key = sha256_hex(presented);
        let principal = match self.recent.verified(&key) {
            Some(p) => Some(p),
            None => {
                // Remembered only when the database said so, so that trust lapses
                // `VERIFIED_FOR` after the last real check.
                let found = self.lookup(presented).await?;
                if let Some(p) = &found {
                    self.recent.remember(key, p);
                }
                found
            }
        };
        if let Some(p) = principal {
            return Ok(Principal {
                source: source.to_owned(),
                request_id: request_id.to_owned(),
                ..p
            });
        }
        let mut keys = vec![FailureKey::address(source)];
        keys.extend(FailureKey::token(presented));
        if let Some(retry_after) = self.locked(&keys).await? {
            return Err(AuthFailure::LockedOut { retry_after });
        }
        self.record_failure(&keys, source).await?;
        match self.locked(&keys).await? {
            Some(retry_after) => Err(AuthFailure::LockedOut { retry_after }),
            None => Err(AuthFailure::Invalid),
        }
    }

    async fn lookup(&self, presented: &str) -> Result<Option<Principal>, TokenError> {
        if presented.len() > MAX_TOKEN_LEN {
            return Ok(None);
        }
        let Some(rest) = presented.strip_prefix(TOKEN_PREFIX) else {
            return Ok(None);
        };
        let Some((token_id, secret)) = rest.split_once('_') else {
            return Ok(None);
        };
        let Some((principal, stored)) = self.live_token(token_id).await? else {
            return Ok(None);
        };
        Ok(constant_time_eq(&sha256_hex(secret), &stored).then_some(principal))
    }

    /// The principal of an unrevoked token, by id (a staff session names its token).
    pub async fn principal_for_id(&self, token_id: &str) -> Result<Option<Principal>, TokenError> {
        Ok(self.live_token(token_id).await?.map(|(p, _)| p))
    }

    /// An unrevoked, unexpired token's principal and stored secret hash. A token
    /// scoped to an account acts with the account's current role and unit, and only
    /// while the account is enabled; its use counts as the account's use.
    async fn live_token(&self, token_id: &str) -> Result<Option<(Principal, String)>, TokenError> {
        type Row10 = (
            String,
            String,
            Option<String>,
            String,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
            Option<String>,
        );
        let row: Option<Row10> = on_pool!(&self.storage, |pool, sql| {
            let r = sqlx::query(&sql(
                "SELECT t.name, t.role, t.unit, t.secret_sha256, t.account, t.expires_at, a.role, a.unit, a.status \
                 FROM access_tokens t LEFT JOIN staff_accounts a ON a.ledger_id = t.ledger_id AND a.username = t.account \
                 WHERE t.ledger_id = $1 AND t.token_id = $2 AND t.revoked_at IS NULL",
            ))
            .bind(self.ledger.as_str())
            .bind(token_id)
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
                    r.try_get(6)?,
                    r.try_get(7)?,
                    r.try_get(8)?,
                )),
                None => None,
            }
        });
        let Some((name, role, unit, stored, account, expires_at, a_role, a_unit, a_status)) = row
        else {
            return Ok(None);
        };
        let now = jiff::Timestamp::now();
        if let Some(expires) = expires_at {
            let expires: jiff::Timestamp = expires
                .parse()
                .map_err(|e: jiff::Error| TokenError::Malformed(e.to_string()))?;
            if expires <= now {
                return Ok(None);
            }
        }
        let (role, unit) = match &account {
            None => (role, unit),
            Some(username) => {
                if a_status.as_deref() != Some("enabled") {
                    return Ok(None);
                }
                on_pool!(&self.storage, |pool, sql| {
                    sqlx::query(&sql(
                        "UPDATE staff_accounts SET last_used_at = $1 WHERE ledger_id = $2 AND username = $3 AND last_used_at < $4",
                    ))
                    .bind(now.as_second())
                    .bind(self.ledger.as_str())
                    .bind(username)
                    .bind(now.as_second() - 60)
                    .execute(pool)
                    .await?
                    .rows_affected()
                });
                (a_role.unwrap_or(role), a_unit)
            }
        };
        let role: Role = role
            .parse()
            .map_err(|e: super::auth::UnknownRole| TokenError::Malformed(e.to_string()))?;
        let unit = match unit {
            Some(u) => Some(Ori::parse(u).map_err(|e| TokenError::Malformed(e.to_string()))?),
            None => None,
        };
        let principal = Principal {
            token_id: TokenId(token_id.to_owned()),
            name,
            role,
            unit,
            account,
            source: String::new(),
            request_id: String::new(),
        };
        Ok(Some((principal, stored)))
    }
}
