//! Staff accounts (schema 10): a person has an account with a username, a role and,
//! for unit reporters, a unit; nothing else about them is kept. Admins create, change,
//! disable and re-enable accounts (CLI `accounts`, API `/v1/accounts`), each action
//! written to the access log. Five failed logons within fifteen minutes lock an
//! account until an admin releases it (CJIS AC-7); an account unused for ninety days
//! is disabled by the inactivity sweep (AC-2(3)). Every function that depends on the
//! time takes it as `now` (Unix seconds), so tests age accounts without sleeping.
//!
//! Passwords are generated here (about 100 random bits), shown once, and stored as
//! argon2id PHC strings; people never choose them.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::Argon2;
use icac_aggregates::ids::Ori;
use rand_core::{OsRng, RngCore};
use serde::Serialize;
use sqlx::Row;

use super::access_log::{AccessEntry, AccessLog, AccessLogError};
use super::auth::{Principal, Role, TokenId};
use super::failure_window::ACCOUNT_LOGONS;
use crate::storage::sql::on_pool;
use crate::storage::Storage;
use icac_format::record::LedgerId;

/// Failed logons that lock an account...
pub const MAX_FAILED_LOGONS: i64 = 5;
/// ...within this window (seconds). The lock lasts until an admin releases it.
pub const FAILED_LOGON_WINDOW_SECS: i64 = 15 * 60;
/// An account unused this long (seconds) is disabled by the inactivity sweep.
pub const INACTIVITY_SECS: i64 = 90 * 24 * 60 * 60;
/// Characters of a generated password (base32: 5 bits each, 100 bits in all).
const PASSWORD_LEN: usize = 20;
const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

#[derive(Debug, thiserror::Error)]
pub enum AccountError {
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error(transparent)]
    AccessLog(#[from] AccessLogError),
    #[error("a username is 2 to 32 characters: lower-case letters, digits, '.', '-' or '_', starting with a letter")]
    BadUsername,
    #[error("an account {0} already exists")]
    Exists(String),
    #[error("no account {0}")]
    NoSuchAccount(String),
    #[error("a {0} account must name its unit")]
    UnitRequired(Role),
    #[error("only unit reporters are bound to a unit")]
    UnitNotAllowed,
    #[error("{0} is the last enabled admin account; enable or create another admin first")]
    LastAdmin(String),
    #[error("account {0} is already {1}")]
    AlreadyInState(String, AccountStatus),
    #[error("account {0} is not locked")]
    NotLocked(String),
    #[error("the reason must be 1 to 200 printable characters")]
    BadReason,
    #[error("password hashing failed: {0}")]
    Hash(String),
    #[error("stored account row is malformed: {0}")]
    Malformed(String),
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum AccountStatus {
    Enabled,
    Disabled,
    Locked,
}

impl AccountStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            AccountStatus::Enabled => "enabled",
            AccountStatus::Disabled => "disabled",
            AccountStatus::Locked => "locked",
        }
    }

    fn parse(s: &str) -> Result<Self, AccountError> {
        match s {
            "enabled" => Ok(AccountStatus::Enabled),
            "disabled" => Ok(AccountStatus::Disabled),
            "locked" => Ok(AccountStatus::Locked),
            other => Err(AccountError::Malformed(format!("status {other:?}"))),
        }
    }
}

impl std::fmt::Display for AccountStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Whether `name` is a well-formed username.
pub fn valid_username(name: &str) -> bool {
    let b = name.as_bytes();
    (2..=32).contains(&b.len())
        && b[0].is_ascii_lowercase()
        && b.iter()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || b"._-".contains(c))
}

/// The principal id part that names an account (`role:acct.alice`).
pub fn account_principal_id(username: &str) -> TokenId {
    TokenId(format!("acct.{username}"))
}

/// An account as listed. Never a secret.
#[derive(Debug, Clone, Serialize)]
pub struct AccountInfo {
    pub username: String,
    pub role: Role,
    pub unit: Option<String>,
    pub status: AccountStatus,
    pub status_reason: Option<String>,
    pub status_changed_at: String,
    pub created_at: String,
    pub created_by: String,
    pub last_used_at: String,
    /// Whether a TOTP authenticator is enrolled.
    pub totp: bool,
    pub passkeys: i64,
    pub recovery_codes_left: i64,
}

impl AccountInfo {
    /// The principal this account acts as.
    pub fn principal(&self, source: &str, request_id: &str) -> Result<Principal, AccountError> {
        let unit = match &self.unit {
            Some(u) => {
                Some(Ori::parse(u.clone()).map_err(|e| AccountError::Malformed(e.to_string()))?)
            }
            None => None,
        };
        Ok(Principal {
            token_id: account_principal_id(&self.username),
            name: self.username.clone(),
            role: self.role,
            unit,
            account: Some(self.username.clone()),
            source: source.to_owned(),
            request_id: request_id.to_owned(),
        })
    }
}

/// What a row holds beyond the listing: the secrets' stored forms.
#[derive(Debug, Clone)]
pub struct AccountSecrets {
    pub info: AccountInfo,
    pub password_argon2: String,
    pub totp_sealed: Option<String>,
    pub totp_last_step: Option<i64>,
}

fn rfc3339(secs: i64) -> String {
    jiff::Timestamp::from_second(secs)
        .map(|t| t.to_string())
        .unwrap_or_default()
}

fn clean_reason(reason: &str) -> Result<String, AccountError> {
    let r = reason.trim();
    if r.is_empty() || r.chars().count() > 200 || r.chars().any(char::is_control) {
        return Err(AccountError::BadReason);
    }
    Ok(r.to_owned())
}

/// A fresh random password (shown once).
pub fn generate_password() -> String {
    let mut bytes = [0u8; PASSWORD_LEN];
    OsRng.fill_bytes(&mut bytes);
    let chars: String = bytes
        .iter()
        .map(|b| BASE32[(b & 31) as usize] as char)
        .collect();
    // Groups of five are easier to read out and type.
    chars
        .as_bytes()
        .chunks(5)
        .map(|c| String::from_utf8_lossy(c).into_owned())
        .collect::<Vec<_>>()
        .join("-")
}

/// argon2id with the crate's defaults (19 MiB, two passes), as a PHC string.
pub fn hash_password(password: &str) -> Result<String, AccountError> {
    let salt = SaltString::generate(&mut OsRng);
    Argon2::default()
        .hash_password(password.as_bytes(), &salt)
        .map(|h| h.to_string())
        .map_err(|e| AccountError::Hash(e.to_string()))
}

pub fn verify_password(password: &str, phc: &str) -> bool {
    PasswordHash::new(phc).is_ok_and(|h| {
        Argon2::default()
            .verify_password(password.as_bytes(), &h)
            .is_ok()
    })
}

/// Which of a role and unit pair is acceptable.
fn check_unit(role: Role, unit: &Option<Ori>) -> Result<(), AccountError> {
    match (role.is_unit_bound(), unit) {
        (true, None) => Err(AccountError::UnitRequired(role)),
        (false, Some(_)) => Err(AccountError::UnitNotAllowed),
        _ => Ok(()),
    }
}

/// A created account and its first password (the only copy).
#[derive(Debug, Clone, Serialize)]
pub struct CreatedAccount {
    pub account: AccountInfo,
    pub password: String,
}

/// Who does an admin action, from where: for the access log.
#[derive(Debug, Clone)]
pub struct Actor {
    pub principal: String,
    pub source: String,
    /// The account of the actor, if a person's.
    pub account: Option<String>,
}

impl Actor {
    pub fn of(p: &Principal) -> Self {
        Actor {
            principal: p.id(),
            source: p.source.clone(),
            account: p.account.clone(),
        }
    }

    pub fn cli(principal: String) -> Self {
        Actor {
            principal,
            source: "cli".into(),
            account: None,
        }
    }
}

#[derive(Clone)]
pub struct AccountStore {
    storage: Storage,
    ledger: LedgerId,
    log: AccessLog,
}

const SELECT: &str = "SELECT a.username, a.role, a.unit, a.status, a.status_reason, a.status_changed_at, \
     a.created_at, a.created_by, a.last_used_at, a.password_argon2, a.totp_sealed, a.totp_last_step, \
     (SELECT count(*) FROM account_passkeys p WHERE p.ledger_id = a.ledger_id AND p.username = a.username), \
     (SELECT count(*) FROM account_recovery_codes c WHERE c.ledger_id = a.ledger_id AND c.username = a.username AND c.used_at IS NULL) \
     FROM staff_accounts a WHERE a.ledger_id = $1 AND ($2 = '' OR a.username = $3) ORDER BY a.username";

type RawRow = (
    String,
    String,
    Option<String>,
    String,
    Option<String>,
    i64,
    i64,
    String,
    i64,
    String,
    Option<String>,
    Option<i64>,
    i64,
    i64,
);

impl AccountStore {
    pub fn new(storage: Storage, ledger: LedgerId, log: AccessLog) -> Self {
        AccountStore {
            storage,
            ledger,
            log,
        }
    }

    pub fn storage(&self) -> &Storage {
        &self.storage
    }

    pub fn ledger(&self) -> &LedgerId {
        &self.ledger
    }

    pub fn log(&self) -> &AccessLog {
        &self.log
    }

    async fn select(&self, username: Option<&str>) -> Result<Vec<AccountSecrets>, AccountError> {
        let rows: Vec<RawRow> = on_pool!(&self.storage, |pool, sql| {
            let rows = sqlx::query(&sql(SELECT))
                .bind(self.ledger.as_str())
                .bind(username.unwrap_or(""))
                .bind(username.unwrap_or(""))
                .fetch_all(pool)
                .await?;
            rows.iter()
                .map(|r| {
                    Ok::<RawRow, sqlx::Error>((
                        r.try_get(0)?,
                        r.try_get(1)?,
                        r.try_get(2)?,
                        r.try_get(3)?,
                        r.try_get(4)?,
                        r.try_get(5)?,
                        r.try_get(6)?,
                        r.try_get(7)?,
                        r.try_get(8)?,
                        r.try_get(9)?,
                        r.try_get(10)?,
                        r.try_get(11)?,
                        r.try_get(12)?,
                        r.try_get(13)?,
                    ))
                })
                .collect::<Result<Vec<_>, _>>()?
        });
        rows.into_iter()
            .map(|r| {
                Ok(AccountSecrets {
                    info: AccountInfo {
                        username: r.0,
                        role: r.1.parse().map_err(|e: super::auth::UnknownRole| {
                            AccountError::Malformed(e.to_string())
                        })?,
                        unit: r.2,
                        status: AccountStatus::parse(&r.3)?,
                        status_reason: r.4,
                        status_changed_at: rfc3339(r.5),
                        created_at: rfc3339(r.6),
                        created_by: r.7,
                        last_used_at: rfc3339(r.8),
                        totp: r.10.is_some(),
                        passkeys: r.12,
                        recovery_codes_left: r.13,
                    },
                    password_argon2: r.9,
                    totp_sealed: r.10,
                    totp_last_step: r.11,
                })
            })
            .collect()
    }

    pub async fn list(&self) -> Result<Vec<AccountInfo>, AccountError> {
        Ok(self
            .select(None)
            .await?
            .into_iter()
            .map(|a| a.info)
            .collect())
    }

    /// An account with its stored secrets, if it exists.
    pub async fn secrets(&self, username: &str) -> Result<Option<AccountSecrets>, AccountError> {
        if !valid_username(username) {
            return Ok(None);
        }
        Ok(self.select(Some(username)).await?.into_iter().next())
    }

    pub async fn get(&self, username: &str) -> Result<Option<AccountInfo>, AccountError> {
        Ok(self.secrets(username).await?.map(|a| a.info))
    }

    async fn existing(&self, username: &str) -> Result<AccountSecrets, AccountError> {
        self.secrets(username).await?.ok_or_else(|| {
            AccountError::NoSuchAccount(
                username
                    .chars()
                    .filter(|c| !c.is_control())
                    .take(40)
                    .collect(),
            )
        })
    }

    async fn log_action(
        &self,
        action: &str,
        by: &Actor,
        target: &str,
        outcome: &str,
        detail: Option<String>,
    ) -> Result<(), AccountError> {
        let mut e = AccessEntry::new(action, &by.principal, &by.source, target, outcome);
        if let Some(d) = detail {
            e = e.with_detail(d);
        }
        self.log.append(e).await?;
        Ok(())
    }

    /// Logs a refused admin action (bad input), then returns the error.
    async fn refused(
        &self,
        action: &str,
        by: &Actor,
        target: &str,
        e: AccountError,
    ) -> AccountError {
        let outcome = match &e {
            AccountError::LastAdmin(_) => "refused_last_admin",
            AccountError::NoSuchAccount(_) => "refused_unknown_account",
            AccountError::Exists(_) => "refused_exists",
            AccountError::AlreadyInState(..) | AccountError::NotLocked(_) => "refused_state",
            _ => "refused_invalid",
        };
        let target: String = target
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect();
        match self.log_action(action, by, &target, outcome, None).await {
            Ok(()) => e,
            Err(log_error) => log_error,
        }
    }

    pub async fn create(
        &self,
        username: &str,
        role: Role,
        unit: Option<Ori>,
        by: &Actor,
        now: i64,
    ) -> Result<CreatedAccount, AccountError> {
        const ACTION: &str = "account_created";
        if !valid_username(username) {
            return Err(self
                .refused(ACTION, by, username, AccountError::BadUsername)
                .await);
        }
        if let Err(e) = check_unit(role, &unit) {
            return Err(self.refused(ACTION, by, username, e).await);
        }
        if self.secrets(username).await?.is_some() {
            return Err(self
                .refused(ACTION, by, username, AccountError::Exists(username.into()))
                .await);
        }
        let password = generate_password();
        let phc = hash_password(&password)?;
        let unit_s = unit.as_ref().map(std::string::ToString::to_string);
        let inserted = on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "INSERT INTO staff_accounts (ledger_id, username, role, unit, status, status_changed_at, \
                 password_argon2, created_at, created_by, last_used_at) \
                 VALUES ($1, $2, $3, $4, 'enabled', $5, $6, $7, $8, $9)",
            ))
            .bind(self.ledger.as_str())
            .bind(username)
            .bind(role.as_str())
            .bind(&unit_s)
            .bind(now)
            .bind(&phc)
            .bind(now)
            .bind(&by.principal)
            .bind(now)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        match inserted {
            Ok(_) => {}
            Err(e) if super::db::is_unique_violation(&e) => {
                return Err(self
                    .refused(ACTION, by, username, AccountError::Exists(username.into()))
                    .await)
            }
            Err(e) => return Err(e.into()),
        }
        self.log_action(
            ACTION,
            by,
            username,
            "ok",
            Some(format!(
                "role={role}{}",
                unit_s
                    .as_deref()
                    .map(|u| format!(" unit={u}"))
                    .unwrap_or_default()
            )),
        )
        .await?;
        Ok(CreatedAccount {
            account: self.existing(username).await?.info,
            password,
        })
    }

    /// Enabled admin accounts other than `username`.
    async fn other_enabled_admins(&self, username: &str) -> Result<i64, AccountError> {
        Ok(on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "SELECT count(*) FROM staff_accounts WHERE ledger_id = $1 AND role = 'admin' \
                 AND status = 'enabled' AND username <> $2",
            ))
            .bind(self.ledger.as_str())
            .bind(username)
            .fetch_one(pool)
            .await?
            .try_get::<i64, _>(0)?
        }))
    }

    /// Whether taking `account` out of enabled admins would leave none.
    async fn would_leave_no_admin(&self, account: &AccountInfo) -> Result<bool, AccountError> {
        Ok(account.role == Role::Admin
            && account.status == AccountStatus::Enabled
            && self.other_enabled_admins(&account.username).await? == 0)
    }

    /// Changes an account's role and unit. Its sessions end (their rights changed).
    pub async fn change(
        &self,
        username: &str,
        role: Role,
        unit: Option<Ori>,
        by: &Actor,
        now: i64,
    ) -> Result<AccountInfo, AccountError> {
        const ACTION: &str = "account_changed";
        let account = match self.existing(username).await {
            Ok(a) => a.info,
            Err(e @ AccountError::NoSuchAccount(_)) => {
                return Err(self.refused(ACTION, by, username, e).await)
            }
            Err(e) => return Err(e),
        };
        if let Err(e) = check_unit(role, &unit) {
            return Err(self.refused(ACTION, by, username, e).await);
        }
        if role != Role::Admin && self.would_leave_no_admin(&account).await? {
            return Err(self
                .refused(
                    ACTION,
                    by,
                    username,
                    AccountError::LastAdmin(username.into()),
                )
                .await);
        }
        let unit_s = unit.as_ref().map(std::string::ToString::to_string);
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET role = $1, unit = $2 WHERE ledger_id = $3 AND username = $4",
            ))
            .bind(role.as_str())
            .bind(&unit_s)
            .bind(self.ledger.as_str())
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.revoke_sessions(username, "role_changed", now).await?;
        self.log_action(
            ACTION,
            by,
            username,
            "ok",
            Some(format!(
                "role {} -> {role}{}",
                account.role,
                unit_s
                    .as_deref()
                    .map(|u| format!(" unit={u}"))
                    .unwrap_or_default()
            )),
        )
        .await?;
        Ok(self.existing(username).await?.info)
    }

    async fn set_status(
        &self,
        username: &str,
        status: AccountStatus,
        reason: &str,
        now: i64,
    ) -> Result<(), AccountError> {
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET status = $1, status_reason = $2, status_changed_at = $3 \
                 WHERE ledger_id = $4 AND username = $5",
            ))
            .bind(status.as_str())
            .bind(reason)
            .bind(now)
            .bind(self.ledger.as_str())
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Disables an account: it can no longer sign in, its sessions end and its tokens
    /// stop working. Refused for the last enabled admin.
    pub async fn disable(
        &self,
        username: &str,
        reason: &str,
        by: &Actor,
        now: i64,
    ) -> Result<AccountInfo, AccountError> {
        const ACTION: &str = "account_disabled";
        let reason = match clean_reason(reason) {
            Ok(r) => r,
            Err(e) => return Err(self.refused(ACTION, by, username, e).await),
        };
        let account = match self.existing(username).await {
            Ok(a) => a.info,
            Err(e @ AccountError::NoSuchAccount(_)) => {
                return Err(self.refused(ACTION, by, username, e).await)
            }
            Err(e) => return Err(e),
        };
        if account.status == AccountStatus::Disabled {
            return Err(self
                .refused(
                    ACTION,
                    by,
                    username,
                    AccountError::AlreadyInState(username.into(), AccountStatus::Disabled),
                )
                .await);
        }
        if self.would_leave_no_admin(&account).await? {
            return Err(self
                .refused(
                    ACTION,
                    by,
                    username,
                    AccountError::LastAdmin(username.into()),
                )
                .await);
        }
        self.set_status(username, AccountStatus::Disabled, &reason, now)
            .await?;
        self.revoke_sessions(username, "disabled", now).await?;
        self.log_action(ACTION, by, username, "ok", Some(format!("reason={reason}")))
            .await?;
        Ok(self.existing(username).await?.info)
    }

    /// Re-enables a disabled or locked account (an admin action). Its failed logons are
    /// forgotten and its inactivity clock starts again.
    pub async fn enable(
        &self,
        username: &str,
        by: &Actor,
        now: i64,
    ) -> Result<AccountInfo, AccountError> {
        self.reenable(username, by, now, "account_enabled", None)
            .await
    }

    /// Releases a locked account (an admin action); refused if it is not locked.
    pub async fn release(
        &self,
        username: &str,
        by: &Actor,
        now: i64,
    ) -> Result<AccountInfo, AccountError> {
        self.reenable(
            username,
            by,
            now,
            "account_released",
            Some(AccountStatus::Locked),
        )
        .await
    }

    async fn reenable(
        &self,
        username: &str,
        by: &Actor,
        now: i64,
        action: &str,
        only_from: Option<AccountStatus>,
    ) -> Result<AccountInfo, AccountError> {
        let account = match self.existing(username).await {
            Ok(a) => a.info,
            Err(e @ AccountError::NoSuchAccount(_)) => {
                return Err(self.refused(action, by, username, e).await)
            }
            Err(e) => return Err(e),
        };
        if only_from.is_some_and(|s| s != account.status) {
            return Err(self
                .refused(
                    action,
                    by,
                    username,
                    AccountError::NotLocked(username.into()),
                )
                .await);
        }
        if account.status == AccountStatus::Enabled {
            return Err(self
                .refused(
                    action,
                    by,
                    username,
                    AccountError::AlreadyInState(username.into(), AccountStatus::Enabled),
                )
                .await);
        }
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET status = 'enabled', status_reason = NULL, status_changed_at = $1, \
                 last_used_at = $2 WHERE ledger_id = $3 AND username = $4",
            ))
            .bind(now)
            .bind(now)
            .bind(self.ledger.as_str())
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected()
        });
        ACCOUNT_LOGONS
            .of(&self.storage, &self.ledger)
            .forget(username)
            .await?;
        self.log_action(
            action,
            by,
            username,
            "ok",
            Some(format!("was {}", account.status)),
        )
        .await?;
        Ok(self.existing(username).await?.info)
    }

    /// Gives an account a new generated password. Its TOTP secret was sealed under the
    /// old one, so the authenticator must be enrolled again; its sessions end.
    pub async fn reset_password(
        &self,
        username: &str,
        by: &Actor,
        now: i64,
    ) -> Result<String, AccountError> {
        const ACTION: &str = "account_password_reset";
        if let Err(e) = self.existing(username).await {
            return Err(match e {
                e @ AccountError::NoSuchAccount(_) => self.refused(ACTION, by, username, e).await,
                e => e,
            });
        }
        let password = generate_password();
        let phc = hash_password(&password)?;
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET password_argon2 = $1, totp_sealed = NULL, totp_last_step = NULL \
                 WHERE ledger_id = $2 AND username = $3",
            ))
            .bind(&phc)
            .bind(self.ledger.as_str())
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.revoke_sessions(username, "password_reset", now)
            .await?;
        self.log_action(ACTION, by, username, "ok", None).await?;
        Ok(password)
    }

    /// Ends every live session of the account.
    pub async fn revoke_sessions(
        &self,
        username: &str,
        reason: &str,
        now: i64,
    ) -> Result<u64, AccountError> {
        Ok(on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE account_sessions SET revoked_at = $1, revoked_reason = $2 \
                 WHERE ledger_id = $3 AND username = $4 AND revoked_at IS NULL",
            ))
            .bind(now)
            .bind(reason)
            .bind(self.ledger.as_str())
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected()
        }))
    }

    /// Records that the account was used (a logon, a token's use): the inactivity
    /// clock starts again.
    pub async fn touch(&self, username: &str, now: i64) -> Result<(), AccountError> {
        on_pool!(&self.storage, |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET last_used_at = $1 WHERE ledger_id = $2 AND username = $3 AND last_used_at < $4",
            ))
            .bind(now)
            .bind(self.ledger.as_str())
            .bind(username)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Counts a failed logon against an existing account and locks it at the fifth
    /// within the window. Returns whether this failure locked it. Failures against
    /// other accounts never count here.
    pub async fn record_failure(
        &self,
        username: &str,
        source: &str,
        reason: &str,
        now: i64,
    ) -> Result<bool, AccountError> {
        let account = self.existing(username).await?.info;
        let failures = ACCOUNT_LOGONS.of(&self.storage, &self.ledger);
        failures.record(username, now).await?;
        let count = failures.tally(username, now).await?.count;
        let principal = account_principal_id(username).0;
        self.log
            .append(
                AccessEntry::new("logon_failed", &principal, source, username, reason)
                    .with_detail(format!("failures_in_window={count}")),
            )
            .await?;
        if account.status == AccountStatus::Enabled && count >= MAX_FAILED_LOGONS {
            self.set_status(
                username,
                AccountStatus::Locked,
                &format!("{count} failed logons within 15 minutes"),
                now,
            )
            .await?;
            self.revoke_sessions(username, "locked", now).await?;
            self.log
                .append(
                    AccessEntry::new("account_locked", "system:lockout", source, username, "ok")
                        .with_detail(format!("{count} failed logons within 15 minutes")),
                )
                .await?;
            return Ok(true);
        }
        Ok(false)
    }

    /// Disables every enabled account not used within [`INACTIVITY_SECS`] before `now`
    /// (AC-2(3)); returns their usernames. Re-enabling one is an admin action.
    pub async fn disable_inactive(
        &self,
        now: i64,
        by: &Actor,
    ) -> Result<Vec<String>, AccountError> {
        let cutoff = now - INACTIVITY_SECS;
        let stale: Vec<String> = on_pool!(&self.storage, |pool, sql| {
            let rows = sqlx::query(&sql(
                "SELECT username FROM staff_accounts WHERE ledger_id = $1 AND status = 'enabled' \
                 AND last_used_at <= $2 ORDER BY username",
            ))
            .bind(self.ledger.as_str())
            .bind(cutoff)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()?
        });
        let mut done = Vec::new();
        for username in stale {
            let changed = on_pool!(&self.storage, |pool, sql| {
                sqlx::query(&sql(
                    "UPDATE staff_accounts SET status = 'disabled', status_reason = 'unused for 90 days', \
                     status_changed_at = $1 WHERE ledger_id = $2 AND username = $3 AND status = 'enabled' \
                     AND last_used_at <= $4",
                ))
                .bind(now)
                .bind(self.ledger.as_str())
                .bind(&username)
                .bind(cutoff)
                .execute(pool)
                .await?
                .rows_affected()
            });
            if changed == 0 {
                continue;
            }
            self.revoke_sessions(&username, "inactive", now).await?;
            self.log_action(
                "account_disabled_inactive",
                by,
                &username,
                "ok",
                Some("unused for 90 days".into()),
            )
            .await?;
            done.push(username);
        }
        Ok(done)
    }
}

/// How often `serve` runs the inactivity sweep (at least daily, as AC-2(3) needs).
pub const SWEEP_EVERY: std::time::Duration = std::time::Duration::from_secs(6 * 60 * 60);

/// Runs [`AccountStore::disable_inactive`] at once and then every `every`, logging
/// what it did; a failed sweep is logged at error level and tried again next time.
pub fn spawn_inactivity_sweep(
    store: AccountStore,
    every: std::time::Duration,
) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let by = Actor {
            principal: "system:inactivity".into(),
            source: "serve".into(),
            account: None,
        };
        let mut tick = tokio::time::interval(every);
        loop {
            tick.tick().await;
            match store
                .disable_inactive(jiff::Timestamp::now().as_second(), &by)
                .await
            {
                Ok(done) if done.is_empty() => {}
                Ok(done) => tracing::warn!(
                    accounts = ?done,
                    "disabled accounts unused for 90 days"
                ),
                Err(e) => tracing::error!(error = %e, "the inactivity sweep failed"),
            }
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn usernames() {
        assert!(valid_username("alice"));
        assert!(valid_username("j.doe-2"));
        assert!(!valid_username("Alice"));
        assert!(!valid_username("a"));
        assert!(!valid_username("1abc"));
        assert!(!valid_username("al ice"));
        assert!(!valid_username(&"a".repeat(33)));
    }

    #[test]
    fn generated_passwords_verify_against_their_hash_only() {
        let p = generate_password();
        assert_eq!(p.len(), 23);
        let h = hash_password(&p).unwrap();
        assert!(h.starts_with("$argon2id$"));
        assert!(verify_password(&p, &h));
        assert!(!verify_password("wrong", &h));
    }
}
