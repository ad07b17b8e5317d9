#![no_main]
//! Property: see `icac_ledger::fuzz_checks::form_edits`.

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = icac_ledger::fuzz_checks::form_edits(data) {
        panic!("{violation}");
    }
});
