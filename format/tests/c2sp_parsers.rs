//! Hostile input to the C2SP parsers (issue 16): any bytes give a value or an error,
//! never a panic, and what parses re-encodes to the same text.

// A test fails by panicking; helpers outside `#[test]` functions unwrap too.
#![allow(clippy::unwrap_used)]

use icac_format::policy::Policy;
use icac_format::receipt::Receipt;
use icac_format::tiles::{self, Tile};
use icac_format::witness::{parse_head, AddCheckpoint};
use proptest::prelude::*;

proptest! {
    #![proptest_config(ProptestConfig::with_cases(2000))]

    #[test]
    fn tile_paths(s in "(tile/)?((entries|[0-9]{1,3})/)?(x[0-9]{3}/){0,3}[0-9]{0,4}(\\.p/[0-9]{1,3})?") {
        if let Ok(t) = Tile::parse(&s) {
            prop_assert_eq!(t.path(), s);
        }
    }

    #[test]
    fn arbitrary_text(s in ".{0,400}") {
        let _ = Tile::parse(&s);
        let _ = Policy::parse(&s);
        let _ = AddCheckpoint::parse(s.as_bytes());
        let _ = parse_head(&s);
        let _ = Receipt::parse(&s);
        let _ = icac_format::cosignature::verify_cosignatures(&s, &[]);
    }

    #[test]
    fn arbitrary_bytes(b in proptest::collection::vec(any::<u8>(), 0..600)) {
        let _ = AddCheckpoint::parse(&b);
        let _ = tiles::decode_entries(&b);
        let _ = tiles::decode_hashes(&b, 3);
    }

    #[test]
    fn structured_bodies(old in 0u64..1000, lines in proptest::collection::vec("[A-Za-z0-9+/=]{0,46}", 0..70), note in ".{0,200}") {
        let body = format!("old {old}\n{}\n\n{note}", lines.join("\n"));
        if let Ok(req) = AddCheckpoint::parse(body.as_bytes()) {
            prop_assert!(req.proof.len() <= 63);
            prop_assert_eq!(req.old_size, old);
        }
    }
}
