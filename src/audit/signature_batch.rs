//! Verification of the signatures of a chunk of events, under the ledger's one signature
//! rule (strict; docs/LEDGER_FORMAT.md section 5, `keys::verify_signature`).
//!
//! Every signature is checked alone. This module used to check a chunk with one
//! cofactored batch equation, `[8](-(Σ z_i s_i) B + Σ z_i R_i + Σ (z_i h_i) A_i) = 0`,
//! which accepts a signature the strict rule refuses: with `R = rB + T` (`T` a torsion
//! point) the key holder satisfies only the cofactored equation. No batch equation can
//! give each signature its own strict verdict:
//!
//! - cofactored, it cannot see torsion at all;
//! - cofactorless, `Σ z_i (s_i B - R_i - h_i A_i) = 0` still holds when the torsion
//!   errors cancel: `Σ z_i t_i ≡ 0 (mod 8)`. One error of order 2 passes whenever its
//!   `z_i` is even (half the time), two equal ones always pass with odd weights, so the
//!   verdict on one signature would depend on the weights and on its chunk-mates;
//! - a cofactored batch followed by a check that each `R_i` is torsion-free (which,
//!   with torsion-free keys, is exactly the missing condition) costs a scalar
//!   multiplication by `l` per signature: more than verifying it alone.
//!
//! So the verdict on one signature depends on nothing but that signature, its key and
//! its message, and the chunks still run in parallel (`verify::prepare_batch`).
//! The cost is measured in docs/PERFORMANCE.md ("One signature rule").

use ed25519_dalek::VerifyingKey;

use crate::ledger::chain::Hash32;
use crate::ledger::keys::verify_signature;

/// One signature to check: `signature` by `keys[key]` over the 32-byte `message` (an
/// event hash).
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub key: usize,
    pub message: &'a [u8; 32],
    pub signature: &'a [u8; 64],
}

/// Each signature's verdict under the strict rule, in order; `false` for a `key` index
/// out of range.
pub fn verify_each(keys: &[VerifyingKey], items: &[Signed<'_>]) -> Vec<bool> {
    items
        .iter()
        .map(|item| {
            keys.get(item.key)
                .is_some_and(|key| verify_signature(key, &Hash32(*item.message), item.signature))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ledger::keys::parse_public_key;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;
    use sha2::Digest;

    fn key(seed: u8) -> SigningKey {
        SigningKey::from_bytes(&[seed; 32])
    }

    fn sign_many(keys: &[SigningKey], n: usize) -> Vec<(usize, [u8; 32], [u8; 64])> {
        (0..n)
            .map(|i| {
                let k = i % keys.len();
                let msg: [u8; 32] = sha2::Sha256::digest((i as u64).to_le_bytes()).into();
                (k, msg, keys[k].sign(&msg).to_bytes())
            })
            .collect()
    }

    fn check(keys: &[VerifyingKey], sigs: &[(usize, [u8; 32], [u8; 64])]) -> Vec<bool> {
        let items: Vec<Signed<'_>> = sigs
            .iter()
            .map(|(k, m, s)| Signed {
                key: *k,
                message: m,
                signature: s,
            })
            .collect();
        verify_each(keys, &items)
    }

    /// tests/vectors/signatures.json: (public key, message, signature, valid).
    fn vectors() -> Vec<(String, [u8; 32], [u8; 32], [u8; 64], bool)> {
        let text = include_str!("../../tests/vectors/signatures.json");
        let v: serde_json::Value = serde_json::from_str(text).unwrap();
        v["vectors"]
            .as_array()
            .unwrap()
            .iter()
            .map(|x| {
                let bytes = |name: &str| hex::decode(x[name].as_str().unwrap()).unwrap();
                (
                    x["name"].as_str().unwrap().to_owned(),
                    bytes("public_key").try_into().unwrap(),
                    bytes("message").try_into().unwrap(),
                    bytes("signature").try_into().unwrap(),
                    x["valid"].as_bool().unwrap(),
                )
            })
            .collect()
    }

    #[test]
    fn every_vector_gets_its_verdict_alone_and_in_a_chunk() {
        let honest = [key(1)];
        let vks: Vec<VerifyingKey> = honest.iter().map(|k| k.verifying_key()).collect();
        let others = sign_many(&honest, 40);
        for (name, public, message, signature, valid) in vectors() {
            // A key the rule refuses (small order, non-canonical) is refused when the
            // keyring is built, so nothing it signs can verify.
            let Ok(vk) = parse_public_key(&hex::encode(public)) else {
                assert!(!valid, "{name}: its key is refused");
                continue;
            };
            assert_eq!(
                verify_signature(&vk, &Hash32(message), &signature),
                valid,
                "{name}"
            );
            let mut keys = vks.clone();
            keys.push(vk);
            let mut chunk = others.clone();
            chunk.insert(17, (1, message, signature));
            let verdicts = check(&keys, &chunk);
            assert_eq!(verdicts[17], valid, "{name} in a chunk");
            assert_eq!(
                verdicts.iter().filter(|v| !**v).count(),
                usize::from(!valid)
            );
        }
    }

    #[test]
    fn a_signature_by_another_key_fails_alone() {
        let keys = [key(1), key(2)];
        let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.verifying_key()).collect();
        let mut sigs = sign_many(&keys, 64);
        // Signed by key 1, claimed for key 0.
        sigs[10].0 = 0;
        sigs[10].2 = keys[1].sign(&sigs[10].1).to_bytes();
        sigs[11].0 = 7;
        let verdicts = check(&vks, &sigs);
        assert!(
            !verdicts[10] && !verdicts[11],
            "wrong key, out-of-range key"
        );
        assert_eq!(verdicts.iter().filter(|v| **v).count(), 62);
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(64))]
        /// The verdict on one signature is the one it gets alone, whatever else its
        /// chunk holds: ordinary damage to other signatures, or the edge cases of the
        /// vectors (cofactored-only, small-order R, non-canonical S) next to it.
        #[test]
        fn a_verdict_does_not_depend_on_the_other_signatures(
            n in 1usize..64,
            target in 0usize..64,
            damage in proptest::collection::vec((0usize..64, 0usize..64, 1u8..=255), 0..4),
            edge in proptest::collection::vec((0usize..64, 0usize..5), 0..3),
        ) {
            let signer = key(1);
            let vectors: Vec<_> = vectors()
                .into_iter()
                .filter(|v| parse_public_key(&hex::encode(v.1)).is_ok())
                .collect();
            let mut keys = vec![signer.verifying_key()];
            let mut sigs = sign_many(&[signer], n);
            for (at, byte, flip) in damage {
                sigs[at % n].2[byte] ^= flip;
            }
            for (at, which) in edge {
                let (_, public, message, signature, _) = &vectors[which % vectors.len()];
                let vk = VerifyingKey::from_bytes(public).unwrap();
                if !keys.contains(&vk) {
                    keys.push(vk);
                }
                let k = keys.iter().position(|k| *k == vk).unwrap();
                sigs[at % n] = (k, *message, *signature);
            }
            let t = target % n;
            let alone = verify_signature(&keys[sigs[t].0], &Hash32(sigs[t].1), &sigs[t].2);
            let in_chunk = check(&keys, &sigs)[t];
            prop_assert_eq!(in_chunk, alone);
            // The same signature among honest ones only.
            let mut clean = sign_many(&[key(1)], n);
            clean[t] = sigs[t];
            prop_assert_eq!(check(&keys, &clean)[t], alone);
        }
    }
}
