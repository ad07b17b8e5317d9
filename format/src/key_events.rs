//! The ledger's own events about its signing keys, kept in the stream `ledger/<ledger_id>`.
//!
//! Position 1 introduces the first key (`LedgerInitialized`, signed by that key). A
//! rotation is an event signed by the outgoing key that names the incoming one
//! (`SigningKeyRotated`); the incoming key signs from the next position on. A verifier
//! therefore needs only the first key, pinned out of band, to know every key's period.

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::keys::{KeyId, Keyring, KeyringEntry, LedgerKey};
use super::record::{EventRecord, LedgerId, StreamId};

pub const LEDGER_AGGREGATE_TYPE: &str = "ledger";
pub const LEDGER_INITIALIZED: &str = "LedgerInitialized";
pub const SIGNING_KEY_ROTATED: &str = "SigningKeyRotated";
pub const KEY_EVENT_VERSION: &str = "1";
/// The format version a genesis event names: the one the ledger was created under
/// (docs/LEDGER_FORMAT.md; ledgers created before version 2 say 1).
pub const FORMAT_VERSION: u64 = super::record::CURRENT_FORMAT_VERSION;

pub fn ledger_stream(ledger: &LedgerId) -> StreamId {
    StreamId::new(LEDGER_AGGREGATE_TYPE, ledger.as_str())
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerInitialized {
    pub ledger_id: LedgerId,
    pub format_version: u64,
    pub key_id: KeyId,
    pub public_key: String,
    /// What the ledger's commit times (`metadata.recorded_at`) follow; absent on every
    /// real ledger (the system clock).
    #[serde(default, skip_serializing_if = "CommitClock::is_system")]
    pub clock: CommitClock,
}

/// What a ledger's commit times follow, as its genesis declares it once and for all.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CommitClock {
    /// The writer's system clock: when each event was really committed. Every real
    /// ledger; the genesis has no `clock` field.
    #[default]
    System,
    /// A demonstration ledger (`"clock": "demo"`): while the demo's synthetic story is
    /// loaded, commit times are the story's instants (back-dated, still never going
    /// backwards and never after the real time of writing); afterwards the system
    /// clock. Such a ledger's commit times are not evidence of when anything happened.
    Demo,
}

impl CommitClock {
    pub fn is_system(&self) -> bool {
        *self == CommitClock::System
    }

    /// The clock a genesis payload declares (`System` when it names none, or cannot be
    /// read: a genesis that cannot be read fails the key history on its own).
    pub fn of_genesis(payload: &Value) -> CommitClock {
        serde_json::from_value::<LedgerInitialized>(payload.clone())
            .map(|g| g.clock)
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyRotated {
    pub previous_key_id: KeyId,
    pub key_id: KeyId,
    pub public_key: String,
}

pub fn initialized_payload(ledger: &LedgerId, key: &LedgerKey) -> Value {
    initialized_payload_of(ledger, key, FORMAT_VERSION)
}

/// The genesis payload of a ledger created under `format_version`.
pub fn initialized_payload_of(ledger: &LedgerId, key: &LedgerKey, format_version: u64) -> Value {
    genesis_payload(ledger, key, format_version, CommitClock::System)
}

/// The genesis payload of a ledger created under `format_version` whose commit times
/// follow `clock`.
pub fn genesis_payload(
    ledger: &LedgerId,
    key: &LedgerKey,
    format_version: u64,
    clock: CommitClock,
) -> Value {
    serde_json::json!(LedgerInitialized {
        ledger_id: ledger.clone(),
        format_version,
        key_id: key.id().clone(),
        public_key: hex::encode(key.public().as_bytes()),
        clock,
    })
}

pub fn rotated_payload(previous: &LedgerKey, next: &LedgerKey) -> Value {
    serde_json::json!(SigningKeyRotated {
        previous_key_id: previous.id().clone(),
        key_id: next.id().clone(),
        public_key: hex::encode(next.public().as_bytes()),
    })
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyEventError {
    #[error("position 1 must be the {LEDGER_INITIALIZED} event of stream ledger/<ledger_id>")]
    MissingGenesis,
    #[error("key event at position {position} is malformed: {reason}")]
    Malformed { position: u64, reason: String },
    #[error("position {position}: {reason}")]
    OutsideLedgerStream { position: u64, reason: String },
    #[error(
        "rotation at position {position} is signed by {signed_by}, not the active key {active}"
    )]
    RotationNotByActiveKey {
        position: u64,
        signed_by: KeyId,
        active: KeyId,
    },
}

/// The rule that places key events: `LedgerInitialized` and `SigningKeyRotated` are
/// valid only in the stream `ledger/<ledger_id>`, and that stream holds nothing else.
/// `None` when the event obeys it.
pub fn stream_rule_broken(
    ledger: &LedgerId,
    aggregate_type: &str,
    aggregate_id: &str,
    event_type: &str,
) -> Option<String> {
    let key_type = event_type == LEDGER_INITIALIZED || event_type == SIGNING_KEY_ROTATED;
    let ledger_type = aggregate_type == LEDGER_AGGREGATE_TYPE;
    if ledger_type && aggregate_id != ledger.as_str() {
        return Some(format!(
            "stream {LEDGER_AGGREGATE_TYPE}/{aggregate_id} is not this ledger's key stream \
             {LEDGER_AGGREGATE_TYPE}/{ledger}"
        ));
    }
    match (key_type, ledger_type) {
        (true, false) => Some(format!(
            "{event_type} is valid only in stream {LEDGER_AGGREGATE_TYPE}/{ledger}, \
             not in {aggregate_type}/{aggregate_id}"
        )),
        (false, true) => Some(format!(
            "stream {LEDGER_AGGREGATE_TYPE}/{ledger} holds only key events, not {event_type}"
        )),
        _ => None,
    }
}

/// Folds key events, in position order, into the keyring they define. Every record in
/// `records` must belong to the ledger stream; the first must be at position 1.
pub fn keyring_from<'a>(
    records: impl IntoIterator<Item = &'a EventRecord>,
) -> Result<Keyring, KeyEventError> {
    let mut ring = Keyring::default();
    let mut saw_genesis = false;
    for record in records {
        let malformed = |reason: String| KeyEventError::Malformed {
            position: record.position,
            reason,
        };
        if let Some(reason) = stream_rule_broken(
            &record.ledger_id,
            &record.aggregate_type,
            &record.aggregate_id,
            &record.event_type,
        ) {
            return Err(KeyEventError::OutsideLedgerStream {
                position: record.position,
                reason,
            });
        }
        if !saw_genesis {
            if record.position != 1 || record.event_type != LEDGER_INITIALIZED {
                return Err(KeyEventError::MissingGenesis);
            }
            let init: LedgerInitialized = serde_json::from_value(record.payload.clone())
                .map_err(|e| malformed(e.to_string()))?;
            if init.key_id != record.key_id || init.ledger_id != record.ledger_id {
                return Err(malformed(
                    "genesis must be signed by the key it introduces".into(),
                ));
            }
            ring.add(KeyringEntry {
                key_id: init.key_id,
                public_key: init.public_key,
                valid_from: 1,
                valid_to: None,
            })
            .map_err(|e| malformed(e.to_string()))?;
            saw_genesis = true;
            continue;
        }
        if record.event_type != SIGNING_KEY_ROTATED {
            return Err(malformed(format!("a second {LEDGER_INITIALIZED} event")));
        }
        let rotated: SigningKeyRotated =
            serde_json::from_value(record.payload.clone()).map_err(|e| malformed(e.to_string()))?;
        let active = ring
            .active()
            .map(|e| e.key_id.clone())
            .ok_or_else(|| malformed("no active key".into()))?;
        if record.key_id != active || rotated.previous_key_id != active {
            return Err(KeyEventError::RotationNotByActiveKey {
                position: record.position,
                signed_by: record.key_id.clone(),
                active,
            });
        }
        ring.rotate(
            record.position,
            KeyringEntry {
                key_id: rotated.key_id,
                public_key: rotated.public_key,
                valid_from: record.position + 1,
                valid_to: None,
            },
        )
        .map_err(|e| malformed(e.to_string()))?;
    }
    if !saw_genesis {
        return Err(KeyEventError::MissingGenesis);
    }
    Ok(ring)
}

#[cfg(test)]
mod clock_tests {
    use super::*;

    fn genesis(clock: CommitClock) -> (LedgerId, LedgerKey, Value) {
        let id = LedgerId::new("ct-icac-test").unwrap();
        let key = LedgerKey::from_signing_key(ed25519_dalek::SigningKey::from_bytes(&[7u8; 32]));
        let payload = genesis_payload(&id, &key, FORMAT_VERSION, clock);
        (id, key, payload)
    }

    #[test]
    fn a_real_genesis_names_no_clock() {
        let (id, key, payload) = genesis(CommitClock::System);
        assert!(payload.get("clock").is_none(), "{payload}");
        assert_eq!(payload, initialized_payload(&id, &key));
        assert_eq!(CommitClock::of_genesis(&payload), CommitClock::System);
    }

    #[test]
    fn a_demo_genesis_says_so_and_an_unknown_clock_is_malformed() {
        let (_, _, payload) = genesis(CommitClock::Demo);
        assert_eq!(payload["clock"], "demo");
        assert_eq!(CommitClock::of_genesis(&payload), CommitClock::Demo);
        let mut odd = payload.clone();
        odd["clock"] = Value::String("sundial".into());
        assert!(serde_json::from_value::<LedgerInitialized>(odd).is_err());
    }
}
