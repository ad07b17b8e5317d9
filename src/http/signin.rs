//! Signing in to a staff account with a password and a second factor (a TOTP code or
//! a recovery code), or, for an account without one yet, to the enrolment page only.
//! Every attempt is access-logged (`logon`, `logon_failed`, `account_locked`). A wrong
//! password or code counts against that account only (five in fifteen minutes lock
//! it); failures are also counted per client address, which only slows guessing (a
//! growing delay), never locks anyone out.

use std::time::Duration;

use super::second_factor::{is_recovery_shape, matching_step, unseal};
use crate::access::access_log::AccessEntry;
use crate::access::accounts::{
    account_principal_id, verify_password, AccountError, AccountInfo, AccountStatus, AccountStore,
};
use crate::access::failure_window::SIGN_IN_ADDRESSES;

/// Failures from one address before answers start to slow down...
const ADDRESS_FREE_FAILURES: i64 = 5;
/// ...by this much per further failure...
const ADDRESS_DELAY_STEP: Duration = Duration::from_millis(250);
/// ...up to this.
const ADDRESS_DELAY_MAX: Duration = Duration::from_secs(3);

/// The `auth_failures` key of sign-ins from `source` (apart from token failures).
fn address_key(source: &str) -> String {
    format!("logon:{source}")
}

/// A successful first step.
#[derive(Debug)]
pub enum SignedIn {
    /// Password and second factor proved: a full session.
    Full {
        account: AccountInfo,
        factor: &'static str,
    },
    /// Password proved, no second factor enrolled yet: only the enrolment page.
    Enroll { account: AccountInfo },
}

#[derive(Debug, thiserror::Error)]
pub enum SignInError {
    /// Unknown account, wrong password or wrong code: the same answer for each, so a
    /// guesser learns nothing about which.
    #[error("the username, password or one-time code is not right")]
    Wrong,
    #[error("that one-time code was already used; wait for the next code and try again")]
    Replayed,
    #[error(
        "this account is locked after too many failed sign-ins; an administrator must release it"
    )]
    Locked,
    #[error("this account is disabled; an administrator must re-enable it")]
    Disabled,
    #[error("this account signs in with its passkey")]
    PasskeyOnly,
    #[error(transparent)]
    Store(#[from] AccountError),
}

impl SignInError {
    /// The access log's outcome word.
    fn outcome(&self) -> &'static str {
        match self {
            SignInError::Wrong => "wrong_credentials",
            SignInError::Replayed => "totp_replayed",
            SignInError::Locked => "account_locked",
            SignInError::Disabled => "account_disabled",
            SignInError::PasskeyOnly => "passkey_required",
            SignInError::Store(_) => "error",
        }
    }
}

impl AccountStore {
    /// Failed sign-ins from `source` within the window.
    pub async fn address_failures(&self, source: &str, now: i64) -> Result<i64, AccountError> {
        let key = address_key(source);
        let tally = SIGN_IN_ADDRESSES
            .of(self.storage(), self.ledger())
            .tally(&key, now)
            .await?;
        Ok(tally.count)
    }

    async fn record_address_failure(&self, source: &str, now: i64) -> Result<(), AccountError> {
        // Not pruned here: a token failure prunes the same table over the same window.
        let key = address_key(source);
        SIGN_IN_ADDRESSES
            .of(self.storage(), self.ledger())
            .insert(&key, now)
            .await?;
        Ok(())
    }

    /// How long to hold a sign-in answer from `source`: nothing for the first few
    /// failures, then longer with each (never a refusal).
    pub async fn address_delay(&self, source: &str, now: i64) -> Result<Duration, AccountError> {
        let n = self.address_failures(source, now).await?;
        let over = (n - ADDRESS_FREE_FAILURES).max(0) as u32;
        Ok((ADDRESS_DELAY_STEP * over).min(ADDRESS_DELAY_MAX))
    }

    /// Checks a sign-in attempt at `now` and logs it, whatever the outcome.
    pub async fn sign_in(
        &self,
        username: &str,
        password: &str,
        code: &str,
        source: &str,
        now: i64,
    ) -> Result<SignedIn, SignInError> {
        let username = username.trim();
        let result = self.check_sign_in(username, password, code, now).await;
        let target: String = username
            .chars()
            .filter(|c| !c.is_control())
            .take(40)
            .collect();
        let principal = if crate::access::accounts::valid_username(username) {
            account_principal_id(username).0
        } else {
            String::new()
        };
        match &result {
            Ok(SignedIn::Full { factor, .. }) => {
                self.touch(username, now).await?;
                self.log()
                    .append(
                        AccessEntry::new("logon", &principal, source, &target, "ok")
                            .with_detail(format!("factor={factor}")),
                    )
                    .await
                    .map_err(AccountError::from)?;
            }
            Ok(SignedIn::Enroll { .. }) => {
                self.touch(username, now).await?;
                self.log()
                    .append(
                        AccessEntry::new("logon", &principal, source, &target, "enroll")
                            .with_detail("factor=password; second factor to enrol".into()),
                    )
                    .await
                    .map_err(AccountError::from)?;
            }
            Err(SignInError::Store(_)) => {}
            Err(e) => {
                self.record_address_failure(source, now).await?;
                let counted = matches!(e, SignInError::Wrong | SignInError::Replayed)
                    && self.secrets(username).await?.is_some();
                if counted {
                    // Logs `logon_failed` (and `account_locked` at the fifth).
                    self.record_failure(username, source, e.outcome(), now)
                        .await?;
                } else {
                    self.log()
                        .append(AccessEntry::new(
                            "logon_failed",
                            &principal,
                            source,
                            &target,
                            if matches!(e, SignInError::Wrong) {
                                "unknown_account"
                            } else {
                                e.outcome()
                            },
                        ))
                        .await
                        .map_err(AccountError::from)?;
                }
            }
        }
        result
    }

    async fn check_sign_in(
        &self,
        username: &str,
        password: &str,
        code: &str,
        now: i64,
    ) -> Result<SignedIn, SignInError> {
        let Some(account) = self.secrets(username).await? else {
            // Spend the time a real check takes, so absence is not told by speed.
            let _ = verify_password(password, DUMMY_PHC);
            return Err(SignInError::Wrong);
        };
        if !verify_password(password, &account.password_argon2) {
            return Err(SignInError::Wrong);
        }
        match account.info.status {
            AccountStatus::Locked => return Err(SignInError::Locked),
            AccountStatus::Disabled => return Err(SignInError::Disabled),
            AccountStatus::Enabled => {}
        }
        let Some(sealed) = &account.totp_sealed else {
            if account.info.passkeys > 0 {
                return Err(SignInError::PasskeyOnly);
            }
            return Ok(SignedIn::Enroll {
                account: account.info,
            });
        };
        let code = code.trim();
        if is_recovery_shape(code) {
            return if self.take_recovery_code(username, code, now).await? {
                Ok(SignedIn::Full {
                    account: account.info,
                    factor: "recovery_code",
                })
            } else {
                Err(SignInError::Wrong)
            };
        }
        let secret = unseal(sealed, password, username)
            .ok_or_else(|| AccountError::Malformed("TOTP secret does not open".into()))?;
        let Some(step) = matching_step(&secret, code, now) else {
            return Err(SignInError::Wrong);
        };
        if !self.take_totp_step(username, step).await? {
            return Err(SignInError::Replayed);
        }
        Ok(SignedIn::Full {
            account: account.info,
            factor: "totp",
        })
    }
}

/// An argon2id hash of nothing anyone knows, checked against for unknown accounts.
const DUMMY_PHC: &str =
    "$argon2id$v=19$m=19456,t=2,p=1$c29tZXNhbHRzb21lc2FsdA$Lq4zXzCk8Ff3sU1kqJ0TQZ2Dk6Jc3Qm1n9m3sA1b2cQ";
