//! Second factors of staff accounts: TOTP (RFC 6238: SHA-1, six digits, 30-second
//! steps, one step of clock skew either way) and recovery codes.
//!
//! A TOTP secret cannot be stored hashed: the server computes codes from it. It is
//! sealed with ChaCha20-Poly1305 under a key derived with argon2id from the account's
//! password (its own random salt), the username bound in as associated data. A copy of
//! the database therefore yields no authenticator without the password, and the server
//! needs no key file of its own for it; the price is that resetting a password drops
//! the authenticator, which must then be enrolled again (the safe outcome anyway).
//!
//! Replay: an accepted code's time step is stored, and only a later step is accepted
//! next time (the update is conditional, so two requests racing with one code cannot
//! both win). Recovery codes: ten per enrolment, 50 random bits each, stored as
//! SHA-256, each marked used by a conditional update.

use argon2::Argon2;
use chacha20poly1305::aead::{Aead, Payload};
use chacha20poly1305::{ChaCha20Poly1305, KeyInit, Nonce};
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha256};
use sqlx::Row;
use totp_rs::{Algorithm, TOTP};

use super::sessions::constant_time_eq;
use crate::access::accounts::{AccountError, AccountStore};
use crate::storage::sql::on_pool;

/// Seconds per TOTP step.
pub const TOTP_STEP: i64 = 30;
/// Bytes of a TOTP secret (160 bits, RFC 4226's recommendation).
const SECRET_LEN: usize = 20;
/// Recovery codes per enrolment.
pub const RECOVERY_CODES: usize = 10;
const ISSUER: &str = "CT ICAC ledger";
const BASE32: &[u8] = b"abcdefghijklmnopqrstuvwxyz234567";

/// A fresh TOTP secret.
pub fn new_secret() -> Vec<u8> {
    let mut s = vec![0u8; SECRET_LEN];
    OsRng.fill_bytes(&mut s);
    s
}

/// The secret as authenticator apps take it typed in (RFC 4648 base32, no padding).
pub fn secret_base32(secret: &[u8]) -> String {
    totp(secret)
        .map(|t| t.get_secret_base32())
        .unwrap_or_default()
}

/// The secret from its base32 form, if it is one of ours (160 bits).
pub fn secret_from_base32(text: &str) -> Option<Vec<u8>> {
    let bytes = totp_rs::Secret::Encoded(text.trim().to_ascii_uppercase())
        .to_bytes()
        .ok()?;
    (bytes.len() == SECRET_LEN).then_some(bytes)
}

/// The `otpauth://` URI an authenticator app imports (as a QR code or a link).
pub fn otpauth_uri(username: &str, secret: &[u8]) -> String {
    let issuer = ISSUER.replace(' ', "%20");
    format!(
        "otpauth://totp/{issuer}:{username}?secret={}&issuer={issuer}&algorithm=SHA1&digits=6&period={TOTP_STEP}",
        secret_base32(secret)
    )
}

fn totp(secret: &[u8]) -> Option<TOTP> {
    TOTP::new(Algorithm::SHA1, 6, 1, TOTP_STEP as u64, secret.to_vec()).ok()
}

/// The code for the step containing `now` (tests and enrolment checks).
pub fn code_at(secret: &[u8], now: i64) -> String {
    totp(secret)
        .map(|t| t.generate(now.max(0) as u64))
        .unwrap_or_default()
}

/// The time step (`now / 30`, one either side for clock skew) whose code `code` is.
pub fn matching_step(secret: &[u8], code: &str, now: i64) -> Option<i64> {
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let t = totp(secret)?;
    let step = now.div_euclid(TOTP_STEP);
    [step - 1, step, step + 1].into_iter().find(|s| {
        *s >= 0
            && constant_time_eq(
                t.generate((*s * TOTP_STEP) as u64).as_bytes(),
                code.as_bytes(),
            )
    })
}

fn derive_key(password: &str, salt: &[u8]) -> Result<[u8; 32], AccountError> {
    let mut key = [0u8; 32];
    Argon2::default()
        .hash_password_into(password.as_bytes(), salt, &mut key)
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(key)
}

/// `v1.<salt>.<nonce>.<ciphertext>` (hex), sealed under the password.
pub fn seal(secret: &[u8], password: &str, username: &str) -> Result<String, AccountError> {
    let mut salt = [0u8; 16];
    OsRng.fill_bytes(&mut salt);
    let mut nonce = [0u8; 12];
    OsRng.fill_bytes(&mut nonce);
    let key = derive_key(password, &salt)?;
    let cipher = ChaCha20Poly1305::new(&key.into());
    let ct = cipher
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: secret,
                aad: username.as_bytes(),
            },
        )
        .map_err(|e| AccountError::Hash(e.to_string()))?;
    Ok(format!(
        "v1.{}.{}.{}",
        hex::encode(salt),
        hex::encode(nonce),
        hex::encode(ct)
    ))
}

/// The secret, if `password` is the one it was sealed under.
pub fn unseal(sealed: &str, password: &str, username: &str) -> Option<Vec<u8>> {
    let mut parts = sealed.split('.');
    if parts.next()? != "v1" {
        return None;
    }
    let salt = hex::decode(parts.next()?).ok()?;
    let nonce = hex::decode(parts.next()?).ok()?;
    let ct = hex::decode(parts.next()?).ok()?;
    if nonce.len() != 12 || parts.next().is_some() {
        return None;
    }
    let key = derive_key(password, &salt).ok()?;
    ChaCha20Poly1305::new(&key.into())
        .decrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: &ct,
                aad: username.as_bytes(),
            },
        )
        .ok()
}

/// Fresh recovery codes: `xxxxx-xxxxx`, 50 random bits each.
pub fn new_recovery_codes() -> Vec<String> {
    (0..RECOVERY_CODES)
        .map(|_| {
            let mut b = [0u8; 10];
            OsRng.fill_bytes(&mut b);
            let s: String = b
                .iter()
                .map(|x| BASE32[(x & 31) as usize] as char)
                .collect();
            format!("{}-{}", &s[..5], &s[5..])
        })
        .collect()
}

/// What is stored of a recovery code: SHA-256 of its normalised form.
pub fn recovery_hash(code: &str) -> String {
    let norm: String = code
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .map(|c| c.to_ascii_lowercase())
        .collect();
    hex::encode(Sha256::digest(format!("icac-recovery\0{norm}").as_bytes()))
}

/// Whether `code` looks like a recovery code (rather than a TOTP code).
pub fn is_recovery_shape(code: &str) -> bool {
    code.chars().filter(char::is_ascii_alphanumeric).count() == 10
}

impl AccountStore {
    /// Stores an enrolled authenticator (sealed under `password`), marks `step` used,
    /// and replaces the recovery codes; returns the new codes (shown once).
    pub async fn enroll_totp(
        &self,
        username: &str,
        secret: &[u8],
        password: &str,
        step: i64,
    ) -> Result<Vec<String>, AccountError> {
        let sealed = seal(secret, password, username)?;
        let codes = new_recovery_codes();
        let ledger = self.ledger().as_str();
        on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET totp_sealed = $1, totp_last_step = $2 WHERE ledger_id = $3 AND username = $4",
            ))
            .bind(&sealed)
            .bind(step)
            .bind(ledger)
            .bind(username)
            .execute(pool)
            .await?;
            sqlx::query(&sql(
                "DELETE FROM account_recovery_codes WHERE ledger_id = $1 AND username = $2",
            ))
            .bind(ledger)
            .bind(username)
            .execute(pool)
            .await?;
            for code in &codes {
                sqlx::query(&sql(
                    "INSERT INTO account_recovery_codes (ledger_id, username, code_sha256) VALUES ($1, $2, $3)",
                ))
                .bind(ledger)
                .bind(username)
                .bind(recovery_hash(code))
                .execute(pool)
                .await?;
            }
        });
        Ok(codes)
    }

    /// Takes TOTP step `step` for the account if no step at or after it was taken
    /// before: false means the code was already used (a replay).
    pub async fn take_totp_step(&self, username: &str, step: i64) -> Result<bool, AccountError> {
        let ledger = self.ledger().as_str();
        let n = on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET totp_last_step = $1 WHERE ledger_id = $2 AND username = $3 \
                 AND (totp_last_step IS NULL OR totp_last_step < $4)",
            ))
            .bind(step)
            .bind(ledger)
            .bind(username)
            .bind(step)
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// Uses a recovery code once: false if it is not one of the account's unused codes.
    pub async fn take_recovery_code(
        &self,
        username: &str,
        code: &str,
        now: i64,
    ) -> Result<bool, AccountError> {
        let ledger = self.ledger().as_str();
        let n = on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "UPDATE account_recovery_codes SET used_at = $1 WHERE ledger_id = $2 AND username = $3 \
                 AND code_sha256 = $4 AND used_at IS NULL",
            ))
            .bind(now)
            .bind(ledger)
            .bind(username)
            .bind(recovery_hash(code))
            .execute(pool)
            .await?
            .rows_affected()
        });
        Ok(n == 1)
    }

    /// A person's own password change: a new generated password (returned, shown once)
    /// if `old` is right, the authenticator resealed under it and every session of the
    /// account ended. `None`: `old` is wrong (nothing changed).
    pub async fn change_password(
        &self,
        username: &str,
        old: &str,
        now: i64,
    ) -> Result<Option<String>, AccountError> {
        let Some(account) = self.secrets(username).await? else {
            return Ok(None);
        };
        if !crate::access::accounts::verify_password(old, &account.password_argon2) {
            return Ok(None);
        }
        let new = crate::access::accounts::generate_password();
        let phc = crate::access::accounts::hash_password(&new)?;
        let sealed = match &account.totp_sealed {
            Some(s) => Some(seal(
                &unseal(s, old, username)
                    .ok_or_else(|| AccountError::Malformed("TOTP secret does not open".into()))?,
                &new,
                username,
            )?),
            None => None,
        };
        let ledger = self.ledger().as_str();
        on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "UPDATE staff_accounts SET password_argon2 = $1, totp_sealed = $2 WHERE ledger_id = $3 AND username = $4",
            ))
            .bind(&phc)
            .bind(&sealed)
            .bind(ledger)
            .bind(username)
            .execute(pool)
            .await?
            .rows_affected()
        });
        self.revoke_sessions(username, "password_changed", now)
            .await?;
        Ok(Some(new))
    }

    /// Unused recovery codes left.
    pub async fn recovery_codes_left(&self, username: &str) -> Result<i64, AccountError> {
        let ledger = self.ledger().as_str();
        Ok(on_pool!(self.storage(), |pool, sql| {
            sqlx::query(&sql(
                "SELECT count(*) FROM account_recovery_codes WHERE ledger_id = $1 AND username = $2 AND used_at IS NULL",
            ))
            .bind(ledger)
            .bind(username)
            .fetch_one(pool)
            .await?
            .try_get::<i64, _>(0)?
        }))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc6238_vector_sha1() {
        // RFC 6238 appendix B: secret "12345678901234567890", T = 59 s -> 94287082 (8
        // digits); the six-digit code is its last six digits.
        let secret = b"12345678901234567890";
        assert_eq!(code_at(secret, 59), "287082");
        assert_eq!(matching_step(secret, "287082", 59), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 30), Some(1));
        assert_eq!(matching_step(secret, "287082", 59 + 90), None);
        assert_eq!(matching_step(secret, "28708", 59), None);
    }

    #[test]
    fn sealed_secret_opens_only_with_its_password_and_username() {
        let secret = new_secret();
        let sealed = seal(&secret, "pw-one", "alice").unwrap();
        assert_eq!(unseal(&sealed, "pw-one", "alice"), Some(secret));
        assert_eq!(unseal(&sealed, "pw-two", "alice"), None);
        assert_eq!(unseal(&sealed, "pw-one", "bob"), None);
    }

    #[test]
    fn base32_round_trip_and_recovery_shape() {
        let secret = new_secret();
        assert_eq!(secret_from_base32(&secret_base32(&secret)), Some(secret));
        let codes = new_recovery_codes();
        assert_eq!(codes.len(), RECOVERY_CODES);
        assert!(codes.iter().all(|c| is_recovery_shape(c)));
        assert_eq!(
            recovery_hash(&codes[0]),
            recovery_hash(&codes[0].to_uppercase())
        );
        assert!(!is_recovery_shape("123456"));
    }
}
