//! Batch verification of Ed25519 signatures made by a few keys.
//!
//! A ledger is signed by one key at a time, so a chunk of events almost always shares a
//! single key. ed25519-dalek's `verify_batch` checks, for random 128-bit `z_i`,
//!
//! ```text
//! [8] ( -(Σ z_i s_i) B  +  Σ z_i R_i  +  Σ (z_i h_i) A_i ) = identity
//! ```
//!
//! as one multiscalar multiplication over `2n + 1` points, one `A_i` per signature even
//! when they are all the same point. Here the terms of each distinct key are summed
//! first, `(Σ_{i: key k} z_i h_i) A_k`, so the multiplication has `n + 1 + keys` points:
//! about half the work, and the bulk of batch verification's cost (ed25519-zebra does
//! the same). The equation, and so the set of signatures accepted, is otherwise
//! ed25519-dalek's: `s` must be canonical and `R` must decompress. On top of that,
//! like `verify_strict`, `R` may not be of small order (keys are refused when weak,
//! when they are parsed).
//!
//! The `z_i` come from the operating system's random generator: a signer who could
//! predict them could craft bad signatures whose errors cancel out.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::VerifyingKey;
use rand_core::{OsRng, RngCore};
use sha2::{Digest, Sha512};

/// One signature to check: `signature` by `keys[key]` over `message`.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub key: usize,
    pub message: &'a [u8],
    pub signature: &'a [u8; 64],
}

/// Whether every signature verifies. `false` says only that at least one does not (or
/// that a `key` index is out of range); check them one by one to find which.
pub fn verify_all(keys: &[VerifyingKey], items: &[Signed<'_>]) -> bool {
    if items.is_empty() {
        return true;
    }
    let mut random = vec![0u8; 16 * items.len()];
    OsRng.fill_bytes(&mut random);

    let mut scalars: Vec<Scalar> = Vec::with_capacity(items.len() + 1 + keys.len());
    let mut points: Vec<EdwardsPoint> = Vec::with_capacity(items.len() + 1 + keys.len());
    // Slot 0 is the base point; its scalar is known only after the loop.
    scalars.push(Scalar::ZERO);
    points.push(ED25519_BASEPOINT_POINT);
    let mut base = Scalar::ZERO;
    let mut per_key = vec![None::<Scalar>; keys.len()];

    for (item, z) in items.iter().zip(random.chunks_exact(16)) {
        let Some(key) = keys.get(item.key) else {
            return false;
        };
        let (r_bytes, s_bytes) = item.signature.split_at(32);
        let Ok(s_bytes) = <[u8; 32]>::try_from(s_bytes) else {
            return false;
        };
        let Some(s) = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes)) else {
            return false;
        };
        let Ok(r_compressed) = CompressedEdwardsY::from_slice(r_bytes) else {
            return false;
        };
        let Some(r) = r_compressed.decompress() else {
            return false;
        };
        if r.is_small_order() {
            return false;
        }
        let h = Scalar::from_hash(
            Sha512::new()
                .chain_update(r_bytes)
                .chain_update(key.as_bytes())
                .chain_update(item.message),
        );
        let mut z_bytes = [0u8; 16];
        z_bytes.copy_from_slice(z);
        let z = Scalar::from(u128::from_le_bytes(z_bytes));
        base += z * s;
        let slot = &mut per_key[item.key];
        *slot = Some(slot.unwrap_or(Scalar::ZERO) + z * h);
        scalars.push(z);
        points.push(r);
    }
    scalars[0] = -base;
    for (key, coefficient) in keys.iter().zip(per_key) {
        if let Some(c) = coefficient {
            scalars.push(c);
            points.push(key.to_edwards());
        }
    }
    debug_assert_eq!(scalars.len(), points.len());
    EdwardsPoint::vartime_multiscalar_mul(scalars, points)
        .mul_by_cofactor()
        .is_identity()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use proptest::prelude::*;

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

    fn check(keys: &[SigningKey], sigs: &[(usize, [u8; 32], [u8; 64])]) -> bool {
        let vks: Vec<VerifyingKey> = keys.iter().map(|k| k.verifying_key()).collect();
        let items: Vec<Signed<'_>> = sigs
            .iter()
            .map(|(k, m, s)| Signed {
                key: *k,
                message: m,
                signature: s,
            })
            .collect();
        verify_all(&vks, &items)
    }

    #[test]
    fn valid_signatures_of_one_and_of_several_keys_verify() {
        let one = [key(1)];
        assert!(check(&one, &sign_many(&one, 300)));
        let three = [key(1), key(2), key(3)];
        assert!(check(&three, &sign_many(&three, 300)));
        assert!(check(&three, &[]));
    }

    #[test]
    fn a_signature_by_another_key_fails_the_batch() {
        let keys = [key(1), key(2)];
        let mut sigs = sign_many(&keys, 64);
        // Signed by key 1, claimed for key 0.
        sigs[10].0 = 0;
        sigs[10].2 = keys[1].sign(&sigs[10].1).to_bytes();
        assert!(!check(&keys, &sigs));
    }

    #[test]
    fn non_canonical_s_and_small_order_r_are_refused() {
        let keys = [key(7)];
        let mut sigs = sign_many(&keys, 8);
        // s + l is the same scalar, but not its canonical encoding (s < l < 2^253, so
        // s + l still fits in 32 bytes).
        // l = 2^252 + 27742317777372353535851937790883648493, little-endian.
        let l: [u8; 32] = [
            0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9,
            0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10,
        ];
        let s = &sigs[3].2[32..];
        let mut s_plus_l = [0u8; 32];
        let mut carry = 0u16;
        for i in 0..32 {
            let v = u16::from(s[i]) + u16::from(l[i]) + carry;
            s_plus_l[i] = v as u8;
            carry = v >> 8;
        }
        assert_eq!(carry, 0);
        let mut bad = sigs.clone();
        bad[3].2[32..].copy_from_slice(&s_plus_l);
        assert!(!check(&keys, &bad));
        // The identity point as R.
        let mut identity_r = [0u8; 32];
        identity_r[0] = 1;
        sigs[5].2[..32].copy_from_slice(&identity_r);
        assert!(!check(&keys, &sigs));
    }

    #[test]
    fn an_out_of_range_key_index_fails() {
        let keys = [key(1)];
        let mut sigs = sign_many(&keys, 4);
        sigs[2].0 = 5;
        assert!(!check(&keys, &sigs));
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// Agrees with ed25519-dalek's `verify_batch` on batches with random damage.
        #[test]
        fn agrees_with_ed25519_dalek(
            n in 1usize..80,
            nkeys in 1usize..4,
            damage in proptest::option::of((0usize..80, 0usize..64, 1u8..=255)),
        ) {
            let keys: Vec<SigningKey> = (0..nkeys).map(|i| key(i as u8 + 1)).collect();
            let mut sigs = sign_many(&keys, n);
            if let Some((at, byte, flip)) = damage {
                sigs[at % n].2[byte] ^= flip;
            }
            let vks: Vec<VerifyingKey> = sigs.iter().map(|(k, _, _)| keys[*k].verifying_key()).collect();
            let msgs: Vec<&[u8]> = sigs.iter().map(|(_, m, _)| m.as_slice()).collect();
            let dalek_sigs: Vec<ed25519_dalek::Signature> =
                sigs.iter().map(|(_, _, s)| ed25519_dalek::Signature::from_bytes(s)).collect();
            let theirs = ed25519_dalek::verify_batch(&msgs, &dalek_sigs, &vks).is_ok();
            prop_assert_eq!(check(&keys, &sigs), theirs);
        }
    }
}
