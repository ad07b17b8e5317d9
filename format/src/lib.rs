//! The icac-ledger format: everything an independent verifier needs to check a ledger,
//! an export bundle, an inclusion or consistency proof, or a signed checkpoint.
//!
//! It is the executable form of docs/LEDGER_FORMAT.md: canonical JSON, the event record
//! and its hash chain, Merkle trees and proofs, signed notes and checkpoints, key ids and
//! the keyring its key events define, and the limits on every one of them. It does no
//! I/O, touches no database, reads no clock and draws no randomness, so what it says
//! about a ledger depends only on the bytes it is given. The application (`icac_ledger`)
//! and the projections build on it; it depends on neither.
//!
//! In the item docs, "§N" is section N of docs/LEDGER_FORMAT.md; a section of an RFC is
//! always named with its RFC ("RFC 9162 §2.1.4").
#![forbid(unsafe_code)]
#![warn(missing_docs)]

pub mod canonical;
pub mod chain;
pub mod checkpoint;
pub mod cosignature;
pub mod key_events;
pub mod keys;
pub mod merkle;
pub mod policy;
pub mod receipt;
pub mod record;
pub mod sealed;
pub mod tiles;
pub mod witness;
