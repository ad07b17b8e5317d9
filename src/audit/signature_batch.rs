//! Verification of the signatures of a chunk of events, under the ledger's one signature
//! rule (strict; docs/LEDGER_FORMAT.md section 5, `keys::verify_signature`), with the
//! verdict each signature gets when checked alone.
//!
//! This module used to check a chunk with one cofactored batch equation,
//! `[8](-(Σ z_i s_i) B + Σ z_i R_i + Σ (z_i h_i) A_i) = 0`, which accepts a signature
//! the strict rule refuses: with `R = rB + T` (`T` a torsion point) the key holder
//! satisfies only the cofactored equation. A cofactorless batch equation does not fix
//! that: `Σ z_i (s_i B - R_i - h_i A_i) = 0` still holds when the torsion errors cancel,
//! `Σ z_i t_i ≡ 0 (mod 8)`; one error of order 2 passes whenever its `z_i` is even (half
//! the time), so the verdict would depend on the weights and on the chunk-mates.
//!
//! What the batch does instead, for a chunk whose keys have no torsion component:
//!
//! 1. the cofactored equation above, with random 128-bit `z_i` from the OS: if it holds,
//!    every signature's error `E_i = [s_i]B - R_i - [h_i]A_i` is a torsion point (but
//!    for probability about 2^-125), and, the keys being torsion-free, `E_i` is minus
//!    the torsion part of `R_i`;
//! 2. so the cofactorless equation holds for all of them exactly when every `R_i` is
//!    torsion-free. That is tested on [`ROUNDS`] random subset sums of the `R_i`: if
//!    some `R_j` has torsion, each subset sum is torsion-free with probability at most
//!    1/2 (flipping `R_j`'s membership changes its torsion), independently per round.
//!
//! 64 rounds, not 128: a signature the test lets through by chance (probability at most
//! 2^-64 per run, fresh randomness each run) is still one only the key holder could
//! make and one that satisfies the cofactored equation, so the bound protects the
//! agreement of verdicts between runs and implementations, not the key; 2^-64 is the
//! small-exponent test's usual level for that.
//!
//! Both passing means every signature is valid; anything else, and every signature of
//! the set is checked alone. The terms of each distinct key are summed before the
//! multiscalar multiplication (`n + 1 + keys` points instead of `2n + 1`, as
//! ed25519-zebra does). Weights and subsets come from the operating system's random
//! generator: a signer who could predict them could craft errors that cancel.
//!
//! Cost. The torsion test is a fixed [`ROUNDS`] torsion checks (a scalar multiplication
//! each) per set, so a set is as large as the caller can make it (`verify` hands over a
//! whole read batch) and is split into [`PART`]s checked on every core, whose equation
//! points and round sums add up (both are linear in the signatures). A signature joins
//! its rounds through buckets: the 64-bit mask is cut into [`GROUP_BITS`]-bit groups,
//! the signature's `R` is added to the one bucket its group value names, and each round's
//! sum is read off its group's buckets at the end, so a signature costs `ROUNDS /
//! GROUP_BITS` point additions instead of about `ROUNDS / 2`. The round sums are exactly
//! the random subset sums above; only the order of the additions changed.

use curve25519_dalek::constants::ED25519_BASEPOINT_POINT;
use curve25519_dalek::edwards::{CompressedEdwardsY, EdwardsPoint};
use curve25519_dalek::scalar::Scalar;
use curve25519_dalek::traits::{Identity, IsIdentity, VartimeMultiscalarMul};
use ed25519_dalek::VerifyingKey;
use rand_core::{OsRng, RngCore};
use rayon::prelude::*;
use sha2::{Digest, Sha512};

use icac_format::chain::Hash32;
use icac_format::keys::verify_signature;

/// One signature to check: `signature` by `keys[key]` over the 32-byte `message` (an
/// event hash).
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub key: usize,
    pub message: &'a [u8; 32],
    pub signature: &'a [u8; 64],
}

/// Sets at least this large try the batch first; below it, the batch's fixed cost (the
/// torsion rounds) exceeds checking each signature alone.
pub const MIN_BATCH: usize = 256;

/// Rounds of the torsion test; a set with a torsion component in some `R` passes all
/// of them with probability at most `2^-ROUNDS`. The masks are 64-bit words.
const ROUNDS: usize = 64;

/// Mask bits per bucket group: one addition per group and signature, 256 buckets per
/// group and part, and 8 × 128 additions per group at the end (a few per signature in a
/// set of thousands).
const GROUP_BITS: usize = 8;
const GROUPS: usize = ROUNDS / GROUP_BITS;
const BUCKETS: usize = 1 << GROUP_BITS;

/// Signatures per part of a set checked on one core: large enough for the
/// multiscalar multiplication to pay off (per event, 1024 took 10 % less CPU than 512,
/// and 2048 no less than 1024).
const PART: usize = 1024;

/// Each signature's verdict under the strict rule, in order; `false` for a `key` index
/// out of range. Large sets are batch-checked first (see the module comment); when the
/// batch does not hold, every signature is checked alone, so a batch never accepts what
/// the single check refuses and never refuses what it accepts. Runs on the rayon pool.
pub fn verify_each(keys: &[VerifyingKey], items: &[Signed<'_>]) -> Vec<bool> {
    if items.len() >= MIN_BATCH && batch_holds(keys, items) {
        return vec![true; items.len()];
    }
    items
        .par_iter()
        .with_min_len(64)
        .map(|item| {
            keys.get(item.key)
                .is_some_and(|key| verify_signature(key, &Hash32(*item.message), item.signature))
        })
        .collect()
}

/// `y < p` for a point encoding (the sign bit aside): the only encodings the strict rule
/// accepts for `R`, because it compares `R` with a canonical encoding.
fn is_canonical_y(bytes: &[u8; 32]) -> bool {
    let top = bytes[31] & 0x7f;
    !(top == 0x7f && bytes[1..31].iter().all(|b| *b == 0xff) && bytes[0] >= 0xed)
}

/// Whether every signature of `items` is valid under the strict rule, decided in bulk;
/// `false` says only that the bulk check could not decide (some signature may still be
/// valid).
fn batch_holds(keys: &[VerifyingKey], items: &[Signed<'_>]) -> bool {
    if !keys_torsion_free(keys, items) {
        return false;
    }
    let parts: Option<Vec<Part>> = items
        .par_chunks(PART)
        .map(|part| Part::of(keys, part))
        .collect();
    let Some(parts) = parts else {
        return false;
    };
    let Some(total) = parts.into_iter().reduce(Part::merge) else {
        return false;
    };
    // Cofactored: every signature's error `E_i = [s_i]B - R_i - [h_i]A_i` is a torsion
    // point (but for probability about 2^-125).
    if !total.equation.mul_by_cofactor().is_identity() {
        return false;
    }
    // With torsion-free keys, `E_i` is minus the torsion part of `R_i`: the cofactorless
    // equation holds exactly when `R_i` is torsion-free. A random subset sum of the `R_i`
    // is torsion-free, if some `R_i` is not, with probability at most 1/2, independently
    // per round.
    total
        .rounds()
        .par_iter()
        .with_min_len(8)
        .all(EdwardsPoint::is_torsion_free)
}

/// The torsion test below reads `R`'s torsion as the signature's whole error, which
/// holds only for keys without a torsion component (every honestly made key); the
/// identity, torsion-free but of small order, is refused by the rule itself.
fn keys_torsion_free(keys: &[VerifyingKey], items: &[Signed<'_>]) -> bool {
    let mut used = vec![false; keys.len()];
    for item in items {
        match used.get_mut(item.key) {
            Some(u) => *u = true,
            None => return false,
        }
    }
    keys.iter()
        .zip(&used)
        .all(|(k, u)| !u || (!k.is_weak() && k.to_edwards().is_torsion_free()))
}

/// One part's share of the batch: its terms of the cofactored equation, summed, and its
/// `R`s in the round buckets.
struct Part {
    equation: EdwardsPoint,
    buckets: Vec<[EdwardsPoint; BUCKETS]>,
}

impl Part {
    /// `None` when a signature of the part cannot be valid under the strict rule
    /// (non-canonical `S` or `R`, `R` off the curve or of small order).
    fn of(keys: &[VerifyingKey], items: &[Signed<'_>]) -> Option<Part> {
        let mut random = vec![0u8; 32 * items.len()];
        OsRng.fill_bytes(&mut random);
        let mut buckets = vec![[EdwardsPoint::identity(); BUCKETS]; GROUPS];
        let mut scalars: Vec<Scalar> = Vec::with_capacity(items.len() + 1 + keys.len());
        let mut points: Vec<EdwardsPoint> = Vec::with_capacity(items.len() + 1 + keys.len());
        // Slot 0 is the base point; its scalar is known only after the loop.
        scalars.push(Scalar::ZERO);
        points.push(ED25519_BASEPOINT_POINT);
        let mut base = Scalar::ZERO;
        let mut per_key = vec![None::<Scalar>; keys.len()];
        for (item, rand) in items.iter().zip(random.chunks_exact(32)) {
            let key = keys.get(item.key)?;
            let (r, s, h) = parse_signature(key, item)?;
            let (z_bytes, mask_bytes) = rand.split_at(16);
            let z = Scalar::from(u128::from_le_bytes(z_bytes.try_into().ok()?));
            let mask_bytes = &mask_bytes[..8];
            base += z * s;
            let slot = &mut per_key[item.key];
            *slot = Some(slot.unwrap_or(Scalar::ZERO) + z * h);
            scalars.push(z);
            points.push(r);
            let mut mask = u64::from_le_bytes(mask_bytes.try_into().ok()?);
            for group in &mut buckets {
                let value = (mask as usize) & (BUCKETS - 1);
                if value != 0 {
                    group[value] += &r;
                }
                mask >>= GROUP_BITS;
            }
        }
        scalars[0] = -base;
        for (key, coefficient) in keys.iter().zip(per_key) {
            if let Some(c) = coefficient {
                scalars.push(c);
                points.push(key.to_edwards());
            }
        }
        debug_assert_eq!(scalars.len(), points.len());
        Some(Part {
            equation: EdwardsPoint::vartime_multiscalar_mul(scalars, points),
            buckets,
        })
    }

    fn merge(mut self, other: Part) -> Part {
        self.equation += other.equation;
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            for (a, b) in mine.iter_mut().zip(theirs) {
                *a += b;
            }
        }
        self
    }

    /// Round `g * GROUP_BITS + bit`: the sum of the `R`s whose mask has that bit set,
    /// that is of the buckets of group `g` whose value has bit `bit` set.
    fn rounds(&self) -> Vec<EdwardsPoint> {
        let mut rounds = Vec::with_capacity(ROUNDS);
        for group in &self.buckets {
            for bit in 0..GROUP_BITS {
                let mut sum = EdwardsPoint::identity();
                for (value, point) in group.iter().enumerate() {
                    if value >> bit & 1 == 1 {
                        sum += point;
                    }
                }
                rounds.push(sum);
            }
        }
        rounds
    }
}

/// `R`, `S` and the challenge `h = SHA-512(R || A || M)` of a signature the strict rule
/// could accept; `None` for one it refuses on its encoding alone.
fn parse_signature(
    key: &VerifyingKey,
    item: &Signed<'_>,
) -> Option<(EdwardsPoint, Scalar, Scalar)> {
    let mut r_bytes = [0u8; 32];
    r_bytes.copy_from_slice(&item.signature[..32]);
    let mut s_bytes = [0u8; 32];
    s_bytes.copy_from_slice(&item.signature[32..]);
    let s = Option::<Scalar>::from(Scalar::from_canonical_bytes(s_bytes))?;
    if !is_canonical_y(&r_bytes) {
        return None;
    }
    let r = CompressedEdwardsY(r_bytes).decompress()?;
    if r.is_small_order() {
        return None;
    }
    let h = Scalar::from_hash(
        Sha512::new()
            .chain_update(r_bytes)
            .chain_update(key.as_bytes())
            .chain_update(item.message),
    );
    Some((r, s, h))
}

#[cfg(test)]
mod tests {
    use super::*;
    use ed25519_dalek::{Signer, SigningKey};
    use icac_format::keys::parse_public_key;
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
    /// Name, public key, message, signature, valid.
    type Vector = (String, [u8; 32], [u8; 32], [u8; 64], bool);

    fn vectors() -> Vec<Vector> {
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
        let vks: Vec<VerifyingKey> = honest
            .iter()
            .map(ed25519_dalek::SigningKey::verifying_key)
            .collect();
        // Large enough for the batch path.
        let others = sign_many(&honest, MIN_BATCH + 20);
        assert!(check(&vks, &others).iter().all(|v| *v));
        for (name, public, message, signature, valid) in vectors() {
            // A key the rule refuses (small order, non-canonical) is refused when the
            // keyring is built, so nothing it signs can verify; handed to the batch
            // anyway, it still gets the refusal.
            let vk = match parse_public_key(&hex::encode(public)) {
                Ok(vk) => vk,
                Err(_) => {
                    assert!(!valid, "{name}: its key is refused");
                    VerifyingKey::from_bytes(&public).unwrap()
                }
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

    /// A set of several parts: the parts' equations and round buckets add up, and a
    /// cofactored-only signature in a later part still fails alone.
    #[test]
    fn a_set_of_several_parts_keeps_every_verdict() {
        let honest = [key(1), key(2)];
        let mut keys: Vec<VerifyingKey> = honest
            .iter()
            .map(ed25519_dalek::SigningKey::verifying_key)
            .collect();
        let mut sigs = sign_many(&honest, 2 * PART + 40);
        assert!(check(&keys, &sigs).iter().all(|v| *v));
        for (name, public, message, signature, valid) in vectors() {
            let Ok(vk) = parse_public_key(&hex::encode(public)) else {
                continue;
            };
            keys.push(vk);
            let at = PART + 17;
            let saved = sigs[at];
            sigs[at] = (keys.len() - 1, message, signature);
            let verdicts = check(&keys, &sigs);
            assert_eq!(verdicts[at], valid, "{name} in part 2");
            assert_eq!(
                verdicts.iter().filter(|v| !**v).count(),
                usize::from(!valid),
                "{name}"
            );
            sigs[at] = saved;
        }
    }

    #[test]
    fn a_signature_by_another_key_fails_alone() {
        let keys = [key(1), key(2)];
        let vks: Vec<VerifyingKey> = keys
            .iter()
            .map(ed25519_dalek::SigningKey::verifying_key)
            .collect();
        for n in [64, MIN_BATCH + 44] {
            let mut sigs = sign_many(&keys, n);
            // Signed by key 1, claimed for key 0.
            sigs[10].0 = 0;
            sigs[10].2 = keys[1].sign(&sigs[10].1).to_bytes();
            sigs[11].0 = 7;
            let verdicts = check(&vks, &sigs);
            assert!(
                !verdicts[10] && !verdicts[11],
                "wrong key, out-of-range key"
            );
            assert_eq!(verdicts.iter().filter(|v| **v).count(), n - 2);
        }
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(48))]
        /// The verdict on one signature is the one it gets alone, whatever else its
        /// chunk holds: ordinary damage to other signatures, or the edge cases of the
        /// vectors (cofactored-only, small-order R, non-canonical S) next to it.
        #[test]
        fn a_verdict_does_not_depend_on_the_other_signatures(
            n in prop_oneof![1usize..64, MIN_BATCH..MIN_BATCH + 64],
            target in 0usize..512,
            damage in proptest::collection::vec((0usize..512, 0usize..64, 1u8..=255), 0..3),
            edge in proptest::collection::vec((0usize..512, 0usize..5), 0..3),
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
            let alone: Vec<bool> = sigs
                .iter()
                .map(|(k, m, sig)| verify_signature(&keys[*k], &Hash32(*m), sig))
                .collect();
            prop_assert_eq!(check(&keys, &sigs), alone.clone());
            let t = target % n;
            let alone = alone[t];
            // The same signature among honest ones only.
            let mut clean = sign_many(&[key(1)], n);
            clean[t] = sigs[t];
            prop_assert_eq!(check(&keys, &clean)[t], alone);
        }
    }
}
