//! The properties the fuzz targets (`fuzz/`) assert, shared with the stable regression
//! test (`tests/it/fuzz_regressions.rs`) so each property is written once.
//!
//! Every check takes untrusted bytes, runs the production entry point on them and
//! returns `Err(Violation)` when the outcome breaks a property: a parser that accepts
//! two spellings of one value, a validator whose error points nowhere, a bundle or
//! proof that verifies while saying something the genuine ledger does not. A panic in
//! the code under test is a finding too; the checks themselves never panic.
//!
//! Ground truth for the audit checks is a genuine export bundle ([`Reference`]): the
//! fuzzer cannot sign, so anything that verifies must agree with it.

mod bundle;
mod canonical;
mod form;
mod form_edits;
mod notes;

pub use bundle::{bundle, Reference};
pub use canonical::canonical;
pub use form::{form, form_bases, form_value};
pub use form_edits::{apply_edits, form_edits};
pub use notes::{checkpoint, proof};

/// A property the code under test broke, with what was seen.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct Violation(pub String);

/// Fails with `msg` unless `ok`.
fn ensure(ok: bool, msg: impl FnOnce() -> String) -> Result<(), Violation> {
    if ok {
        Ok(())
    } else {
        Err(Violation(msg()))
    }
}
