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

/// The `aggregate_type` of the key-event stream `ledger/<ledger_id>` (§5), which holds key
/// events only.
pub const LEDGER_AGGREGATE_TYPE: &str = "ledger";
/// `event_type` of the genesis event, always at position 1 and signed by the key it
/// introduces (§5).
pub const LEDGER_INITIALIZED: &str = "LedgerInitialized";
/// `event_type` of a rotation, signed by the outgoing (active) key; the incoming key signs
/// from the next position (§5).
pub const SIGNING_KEY_ROTATED: &str = "SigningKeyRotated";
/// `event_version` of both key events (§5).
pub const KEY_EVENT_VERSION: &str = "1";
/// The format version a genesis event names: the one the ledger was created under
/// (docs/LEDGER_FORMAT.md; ledgers created before version 2 say 1).
pub const FORMAT_VERSION: u64 = super::record::CURRENT_FORMAT_VERSION;

/// The stream `ledger/<ledger_id>`, the only one that may hold key events (§5).
pub fn ledger_stream(ledger: &LedgerId) -> StreamId {
    StreamId::new(LEDGER_AGGREGATE_TYPE, ledger.as_str())
}

/// Payload of the genesis event, `LedgerInitialized` (§5). An unknown member or `clock`
/// value does not parse, which makes the genesis an *invalid key event*.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LedgerInitialized {
    /// Must equal the record's `ledger_id` (checked by [`keyring_from`]).
    pub ledger_id: LedgerId,
    /// The format version the ledger was created under: 1 for ledgers created before
    /// version 2, 2 since (§12.2).
    pub format_version: u64,
    /// Id of the first key; must equal the record's own `key_id`, since the genesis is
    /// signed by the key it introduces.
    pub key_id: KeyId,
    /// The first key's 32-byte RFC 8032 public key, 64 hex digits; an auditor pins it (or
    /// `key_id`) out of band.
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
    /// Whether this is the real clock, in which case the genesis omits `clock`.
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

/// Payload of a rotation, `SigningKeyRotated` (§5); unknown members are refused.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SigningKeyRotated {
    /// The outgoing key; must be the active key, which also signs this event.
    pub previous_key_id: KeyId,
    /// The incoming key, valid from the position after this event; must be new to the
    /// keyring.
    pub key_id: KeyId,
    /// The incoming key's public key, 64 hex digits; must hash to `key_id`.
    pub public_key: String,
}

/// The genesis payload of a new real ledger: the current [`FORMAT_VERSION`], no `clock`.
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

/// The payload of the rotation from `previous` (the active key, which signs it) to `next`.
pub fn rotated_payload(previous: &LedgerKey, next: &LedgerKey) -> Value {
    serde_json::json!(SigningKeyRotated {
        previous_key_id: previous.id().clone(),
        key_id: next.id().clone(),
        public_key: hex::encode(next.public().as_bytes()),
    })
}

/// Why key events do not define a keyring: each is an *invalid key event* (§6 step 5), or a
/// missing genesis.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum KeyEventError {
    /// The first record is not a `LedgerInitialized` event at position 1, or there are no
    /// records.
    #[error("position 1 must be the {LEDGER_INITIALIZED} event of stream ledger/<ledger_id>")]
    MissingGenesis,
    /// A key event that cannot be applied: its payload does not parse, the genesis names
    /// another key or ledger than its record, a second genesis, or a public key the keyring
    /// refuses (weak, mismatched id, reused in a rotation).
    #[error("key event at position {position} is malformed: {reason}")]
    Malformed {
        /// The key event's position.
        position: u64,
        /// What is wrong with it.
        reason: String,
    },
    /// An event breaks the stream rule of [`stream_rule_broken`]; holds its reason.
    #[error("position {position}: {reason}")]
    OutsideLedgerStream {
        /// The offending event's position.
        position: u64,
        /// Which part of the rule it breaks.
        reason: String,
    },
    /// A rotation whose signer or `previous_key_id` is not the active key.
    #[error(
        "rotation at position {position} is signed by {signed_by}, not the active key {active}"
    )]
    RotationNotByActiveKey {
        /// The rotation's position.
        position: u64,
        /// The key the rotation record names in `key_id`.
        signed_by: KeyId,
        /// The key active before the rotation.
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
