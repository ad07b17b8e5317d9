//! Passkeys (WebAuthn, `webauthn-rs`) for staff accounts: registration from a signed-in
//! session, and sign-in with a username and the passkey alone (user verification is
//! required, so the passkey is both factors: the device and its PIN or biometric).
//!
//! Replay resistance: each ceremony's challenge is stored server-side (its serialised
//! state, schema 10 `webauthn_ceremonies`) and taken by a single `DELETE … RETURNING`,
//! so an assertion can be verified at most once; the authenticator's signature counter
//! is stored and must grow (webauthn-rs refuses a counter that goes back).
//!
//! The relying party is the configured public origin (`serve --public-origin`); without
//! one, only `http://localhost:PORT` is accepted (development and tests), so a proxied
//! phishing host cannot choose the origin a passkey is checked against.

use sha2::{Digest, Sha256};
use sqlx::Row;
use webauthn_rs::prelude::{
    Passkey, PasskeyAuthentication, PasskeyRegistration, PublicKeyCredential,
    RegisterPublicKeyCredential, Url, Uuid,
};
use webauthn_rs::{Webauthn, WebauthnBuilder};

use super::sessions::random_id;
use crate::access::accounts::{AccountError, AccountStore};
use crate::storage::sql::on_pool;

/// How long a ceremony's challenge may be answered (seconds).
pub const CEREMONY_SECS: i64 = 5 * 60;
const RP_NAME: &str = "Connecticut ICAC Task Force ledger";

#[derive(Debug, thiserror::Error)]
pub enum PasskeyError {
    #[error(transparent)]
    Store(#[from] AccountError),
    #[error("database error: {0}")]
    Sql(#[from] sqlx::Error),
    #[error("passkeys need the service's public origin (serve --public-origin https://…); without it only http://localhost works")]
    NoOrigin,
    #[error("this sign-in or registration has expired or was already used; start again")]
    CeremonyGone,
    #[error("the passkey was not accepted: {0}")]
    Rejected(String),
    #[error("no passkey of this account made that answer")]
    UnknownCredential,
    #[error("stored passkey data is malformed: {0}")]
    Malformed(String),
}

/// The relying party for a request: the configured origin, or a localhost Host header.
pub fn relying_party(
    configured: Option<&str>,
    host: Option<&str>,
) -> Result<Webauthn, PasskeyError> {
    let origin = match configured {
        Some(o) => Url::parse(o).map_err(|_| PasskeyError::NoOrigin)?,
        None => {
            let host = host.ok_or(PasskeyError::NoOrigin)?;
            let name = host.rsplit_once(':').map_or(host, |(h, _)| h);
            if name != "localhost" {
                return Err(PasskeyError::NoOrigin);
            }
            Url::parse(&format!("http://{host}")).map_err(|_| PasskeyError::NoOrigin)?
        }
    };
    let rp_id = origin.domain().ok_or(PasskeyError::NoOrigin)?.to_owned();
    WebauthnBuilder::new(&rp_id, &origin)
        .and_then(|b| b.rp_name(RP_NAME).build())
        .map_err(|e| PasskeyError::Rejected(e.to_string()))
}

/// A stable WebAuthn user handle for a username (no personal data in it).
fn user_handle(username: &str) -> Uuid {
    let d = Sha256::digest(format!("icac-ledger webauthn user\0{username}").as_bytes());
    let mut b = [0u8; 16];
    b.copy_from_slice(&d[..16]);
    Uuid::from_bytes(b)
}

fn credential_key<T: serde::Serialize>(id: &T) -> Result<String, PasskeyError> {
    serde_json::to_value(id)
        .ok()
        .and_then(|v| v.as_str().map(str::to_owned))
        .ok_or_else(|| PasskeyError::Malformed("credential id".into()))
}

/// A ceremony begun: its id (the client sends it back) and the browser's options.
pub struct Begun {
    pub ceremony_id: String,
    pub options: serde_json::Value,
}

impl AccountStore {
    /// The account's passkeys.
    pub async fn passkeys(&self, username: &str) -> Result<Vec<Passkey>, PasskeyError> {
        let ledger = self.ledger().as_str();
        let rows: Vec<String> = on_pool!(self.storage(), |pool, sql| {
            let rows = sqlx::query(&sql(
                "SELECT passkey FROM account_passkeys WHERE ledger_id = $1 AND username = $2 ORDER BY created_at",
            ))
            .bind(ledger)
            .bind(username)
            .fetch_all(pool)
            .await?;
            rows.iter()
                .map(|r| r.try_get::<String, _>(0))
                .collect::<Result<Vec<_>, _>>()?
        });
        rows.iter()
            .map(|t| serde_json::from_str(t).map_err(|e| PasskeyError::Malformed(e.to_string())))
            .collect()
    }

    async fn put_ceremony(
        &self,
        username: &str,
        kind: &str,
        state: String,
        now: i64,
    ) -> Result<String, PasskeyError> {
        let id = random_id();
        let ledger = self.ledger().as_str();
        on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "DELETE FROM webauthn_ceremonies WHERE ledger_id = $1 AND expires_at <= $2",
            ))
            .bind(ledger)
            .bind(now)
            .execute(pool)
            .await?;
            sqlx::query(&sql(
                "INSERT INTO webauthn_ceremonies (ledger_id, ceremony_id, username, kind, state, expires_at) \
                 VALUES ($1, $2, $3, $4, $5, $6)",
            ))
            .bind(ledger)
            .bind(&id)
            .bind(username)
            .bind(kind)
            .bind(&state)
            .bind(now + CEREMONY_SECS)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(id)
    }

    /// Takes a ceremony once: a second take of the same id finds nothing.
    async fn take_ceremony(
        &self,
        ceremony_id: &str,
        kind: &str,
        now: i64,
    ) -> Result<(String, String), PasskeyError> {
        if ceremony_id.len() != 64 || !ceremony_id.bytes().all(|b| b.is_ascii_hexdigit()) {
            return Err(PasskeyError::CeremonyGone);
        }
        let ledger = self.ledger().as_str();
        let row: Option<(String, String, i64)> = on_pool!(self.storage(), |pool, sql| {
            let r = sqlx::query(&sql(
                "DELETE FROM webauthn_ceremonies WHERE ledger_id = $1 AND ceremony_id = $2 AND kind = $3 \
                 RETURNING username, state, expires_at",
            ))
            .bind(ledger)
            .bind(ceremony_id)
            .bind(kind)
            .fetch_optional(pool)
            .await?;
            match r {
                Some(r) => Some((r.try_get(0)?, r.try_get(1)?, r.try_get(2)?)),
                None => None,
            }
        });
        match row {
            Some((username, state, expires)) if expires > now => Ok((username, state)),
            _ => Err(PasskeyError::CeremonyGone),
        }
    }

    pub async fn begin_registration(
        &self,
        rp: &Webauthn,
        username: &str,
        now: i64,
    ) -> Result<Begun, PasskeyError> {
        let existing = self.passkeys(username).await?;
        let exclude =
            (!existing.is_empty()).then(|| existing.iter().map(|p| p.cred_id().clone()).collect());
        let (options, state) = rp
            .start_passkey_registration(user_handle(username), username, username, exclude)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        let state =
            serde_json::to_string(&state).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let ceremony_id = self.put_ceremony(username, "register", state, now).await?;
        Ok(Begun {
            ceremony_id,
            options: serde_json::to_value(options)
                .map_err(|e| PasskeyError::Malformed(e.to_string()))?,
        })
    }

    /// Verifies and stores a new passkey for `username` (the session's account).
    pub async fn finish_registration(
        &self,
        rp: &Webauthn,
        username: &str,
        ceremony_id: &str,
        credential: &RegisterPublicKeyCredential,
        now: i64,
    ) -> Result<(), PasskeyError> {
        let (owner, state) = self.take_ceremony(ceremony_id, "register", now).await?;
        if owner != username {
            return Err(PasskeyError::CeremonyGone);
        }
        let state: PasskeyRegistration =
            serde_json::from_str(&state).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let passkey = rp
            .finish_passkey_registration(credential, &state)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        let key = credential_key(passkey.cred_id())?;
        let text =
            serde_json::to_string(&passkey).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let ledger = self.ledger().as_str();
        on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "INSERT INTO account_passkeys (ledger_id, username, credential_id, passkey, created_at) \
                 VALUES ($1, $2, $3, $4, $5)",
            ))
            .bind(ledger)
            .bind(username)
            .bind(&key)
            .bind(&text)
            .bind(now)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(())
    }

    /// Starts a passkey sign-in for `username`; `None` if it has no passkey (the caller
    /// answers as for a wrong password).
    pub async fn begin_login(
        &self,
        rp: &Webauthn,
        username: &str,
        now: i64,
    ) -> Result<Option<Begun>, PasskeyError> {
        let keys = self.passkeys(username).await?;
        if keys.is_empty() {
            return Ok(None);
        }
        let (options, state) = rp
            .start_passkey_authentication(&keys)
            .map_err(|e| PasskeyError::Rejected(e.to_string()))?;
        let state =
            serde_json::to_string(&state).map_err(|e| PasskeyError::Malformed(e.to_string()))?;
        let ceremony_id = self.put_ceremony(username, "login", state, now).await?;
        Ok(Some(Begun {
            ceremony_id,
            options: serde_json::to_value(options)
                .map_err(|e| PasskeyError::Malformed(e.to_string()))?,
        }))
    }

    /// Which account a login ceremony is for, without taking it (for logging).
    pub async fn ceremony_owner(&self, ceremony_id: &str) -> Result<Option<String>, PasskeyError> {
        let ledger = self.ledger().as_str();
        Ok(on_pool!(self.storage(), |pool, sql| {
            let r = sqlx::query(&sql(
                "SELECT username FROM webauthn_ceremonies WHERE ledger_id = $1 AND ceremony_id = $2",
            ))
            .bind(ledger)
            .bind(ceremony_id)
            .fetch_optional(pool)
            .await?;
            match r {
                Some(r) => Some(r.try_get::<String, _>(0)?),
                None => None,
            }
        }))
    }

    /// Verifies a passkey assertion against its ceremony (taken once) and stores the
    /// new signature counter; returns the account it signs in.
    pub async fn finish_login(
        &self,
        rp: &Webauthn,
        ceremony_id: &str,
        credential: &PublicKeyCredential,
        now: i64,
    ) -> Result<String, (Option<String>, PasskeyError)> {
        let (username, state) = self
            .take_ceremony(ceremony_id, "login", now)
            .await
            .map_err(|e| (None, e))?;
        let fail = |e: PasskeyError| (Some(username.clone()), e);
        let state: PasskeyAuthentication = serde_json::from_str(&state)
            .map_err(|e| fail(PasskeyError::Malformed(e.to_string())))?;
        let result = rp
            .finish_passkey_authentication(credential, &state)
            .map_err(|e| fail(PasskeyError::Rejected(e.to_string())))?;
        let mut keys = self.passkeys(&username).await.map_err(fail)?;
        let Some(key) = keys.iter_mut().find(|k| k.cred_id() == result.cred_id()) else {
            return Err(fail(PasskeyError::UnknownCredential));
        };
        key.update_credential(&result);
        let id = credential_key(key.cred_id()).map_err(fail)?;
        let text = serde_json::to_string(&key)
            .map_err(|e| fail(PasskeyError::Malformed(e.to_string())))?;
        let ledger = self.ledger().as_str();
        let updated: Result<u64, sqlx::Error> = on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "UPDATE account_passkeys SET passkey = $1, last_used_at = $2 WHERE ledger_id = $3 AND credential_id = $4",
            ))
            .bind(&text)
            .bind(now)
            .bind(ledger)
            .bind(&id)
            .execute(pool)
            .await
            .map(|r| r.rows_affected())
        });
        updated.map_err(|e| fail(e.into()))?;
        Ok(username)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_relying_party_is_the_configured_origin_or_localhost_only() {
        assert!(relying_party(Some("https://ledger.example"), Some("evil.example")).is_ok());
        assert!(relying_party(None, Some("localhost:8080")).is_ok());
        assert!(matches!(
            relying_party(None, Some("ledger.example")),
            Err(PasskeyError::NoOrigin)
        ));
        assert!(matches!(
            relying_party(None, Some("127.0.0.1:8080")),
            Err(PasskeyError::NoOrigin)
        ));
        assert!(matches!(
            relying_party(None, None),
            Err(PasskeyError::NoOrigin)
        ));
    }

    #[test]
    fn user_handles_are_stable_and_distinct() {
        assert_eq!(user_handle("alice"), user_handle("alice"));
        assert_ne!(user_handle("alice"), user_handle("bob"));
    }
}
