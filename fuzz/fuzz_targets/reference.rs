//! The genuine ledger the audit targets compare against: the committed seed bundle.

use std::sync::LazyLock;

use icac_ledger::fuzz_checks::Reference;

pub static REFERENCE: LazyLock<Reference> = LazyLock::new(|| {
    Reference::from_bundle(include_bytes!("../seeds/bundle/full.jsonl"))
        .unwrap_or_else(|violation| panic!("{violation}"))
});
