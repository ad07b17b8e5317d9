#![no_main]
//! Property: see `icac_ledger::fuzz_checks::proof`.

use libfuzzer_sys::fuzz_target;

mod reference;

fuzz_target!(|data: &[u8]| {
    if let Err(violation) = icac_ledger::fuzz_checks::proof(data, &reference::REFERENCE) {
        panic!("{violation}");
    }
});
