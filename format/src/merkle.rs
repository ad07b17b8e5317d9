//! RFC 6962 / RFC 9162 Merkle tree over the ledger's event hashes.
//!
//! Leaf `i` of the tree is the event at ledger position `i + 1`. The tree
//! commits to the *event hashes* (which already commit to the hash chain), so a
//! checkpoint root lets a third party check that a given event is in the ledger
//! (inclusion proof) and that a later ledger extends an earlier one
//! (consistency proof) without replaying the chain.
//!
//! Everything internal works on RFC 6962 *leaf hashes*
//! (`SHA-256(0x00 || leaf input)`); the event-hash entry points only apply that
//! leaf hashing first. Keeping the leaf input separate is what lets the tests
//! use the public RFC 6962 vectors, whose leaf inputs are arbitrary bytes.

use sha2::{Digest, Sha256};

/// Longest proof we will build or accept. 64 levels cover any `u64` tree; a
/// longer "proof" can only be garbage or an attempt to make us hash a lot.
pub const MAX_PROOF_LEN: usize = 64;

/// Largest tree size accepted anywhere. 2^62 is far beyond any ledger, and the
/// cap keeps every size/index arithmetic step clear of `u64` overflow and every
/// honest proof within [`MAX_PROOF_LEN`].
pub const MAX_TREE_SIZE: u64 = 1 << 62;

/// RFC 6962 domain-separation prefix for leaves.
const LEAF_PREFIX: u8 = 0x00;
/// RFC 6962 domain-separation prefix for interior nodes.
const NODE_PREFIX: u8 = 0x01;

/// SHA-256 of the empty string: the RFC 6962 root of the empty tree.
pub const EMPTY_ROOT: Hash32 = Hash32([
    0xe3, 0xb0, 0xc4, 0x42, 0x98, 0xfc, 0x1c, 0x14, 0x9a, 0xfb, 0xf4, 0xc8, 0x99, 0x6f, 0xb9, 0x24,
    0x27, 0xae, 0x41, 0xe4, 0x64, 0x9b, 0x93, 0x4c, 0xa4, 0x95, 0x99, 0x1b, 0x78, 0x52, 0xb8, 0x55,
]);

pub use super::chain::{Hash32, HashParseError};

/// Error from a [`LeafSource`], boxed so storage backends keep their own types.
pub type SourceError = Box<dyn std::error::Error + Send + Sync + 'static>;

/// Why a Merkle proof cannot be built or does not verify (§7, "Proofs"). The size and
/// length limits are checked before any hashing.
#[derive(Debug, thiserror::Error)]
pub enum ProofError {
    /// An inclusion proof for a leaf the tree does not have (`index >= size`).
    #[error("leaf index {index} is not below tree size {size}")]
    IndexOutOfRange {
        /// The 0-based leaf index (ledger position − 1).
        index: u64,
        /// The tree size.
        size: u64,
    },
    /// A consistency proof from a larger tree to a smaller one (§7: `m > n` is rejected).
    #[error("old tree size {old_size} is larger than new tree size {new_size}")]
    SizesReversed {
        /// The size proven from.
        old_size: u64,
        /// The size proven to.
        new_size: u64,
    },
    /// A tree size above [`MAX_TREE_SIZE`], given or reached by appending.
    #[error("tree size {size} exceeds the limit {MAX_TREE_SIZE}")]
    TreeTooLarge {
        /// The refused size.
        size: u64,
    },
    /// A proof of more than [`MAX_PROOF_LEN`] hashes, refused unread.
    #[error("proof has {len} hashes; the limit is {MAX_PROOF_LEN}")]
    ProofTooLong {
        /// Its number of hashes.
        len: usize,
    },
    /// The proof has fewer or more hashes than the path for this index and size (or
    /// these two sizes) needs.
    #[error("proof has the wrong number of hashes for this index and size")]
    WrongProofLength,
    /// A consistency proof with hashes where §7 requires none (`m = n` or `m = 0`).
    #[error("proof must be empty for these sizes but has {len} hashes")]
    ProofNotEmpty {
        /// Its number of hashes.
        len: usize,
    },
    /// The root the proof leads to is not the expected (new) root; for `m = n`, the two
    /// roots differ.
    #[error("computed root does not match the expected root")]
    RootMismatch,
    /// A consistency proof does not lead to the old root, or, for `m = 0`, the old root
    /// is not [`EMPTY_ROOT`].
    #[error("computed old root does not match the expected old root")]
    OldRootMismatch,
    /// Proof generation asked for a tree larger than the [`LeafSource`] holds.
    #[error("leaf source has only {available} leaves, {needed} needed")]
    SourceTooShort {
        /// The tree size the proof is for.
        needed: u64,
        /// The leaves the source has.
        available: u64,
    },
    /// The [`LeafSource`] failed to give a leaf or a range hash.
    #[error("leaf source failed at leaf range {start}..{end}: {source}")]
    Source {
        /// First leaf index of the range asked for.
        start: u64,
        /// One past its last leaf index.
        end: u64,
        /// The source's own error.
        #[source]
        source: SourceError,
    },
    /// A saved frontier whose hash count is not the number of set bits of its size (§7,
    /// §9 `prefix_frontier`).
    #[error("invalid compact-range frontier: {0}")]
    BadFrontier(&'static str),
}

/// RFC 6962 leaf hash: `SHA-256(0x00 || input)`.
pub fn leaf_hash(input: &[u8]) -> Hash32 {
    let mut h = Sha256::new();
    h.update([LEAF_PREFIX]);
    h.update(input);
    Hash32(h.finalize().into())
}

/// The leaf hash of a ledger event: its 32-byte event hash is the leaf input.
pub fn event_leaf_hash(event_hash: &Hash32) -> Hash32 {
    leaf_hash(&event_hash.0)
}

/// RFC 6962 interior node hash: `SHA-256(0x01 || left || right)`.
pub fn node_hash(left: &Hash32, right: &Hash32) -> Hash32 {
    let mut h = Sha256::new();
    h.update([NODE_PREFIX]);
    h.update(left.0);
    h.update(right.0);
    Hash32(h.finalize().into())
}

fn check_size(size: u64) -> Result<(), ProofError> {
    if size > MAX_TREE_SIZE {
        Err(ProofError::TreeTooLarge { size })
    } else {
        Ok(())
    }
}

/// Largest power of two strictly below `n` (the RFC's split point `k`).
/// Callers guarantee `2 <= n <= MAX_TREE_SIZE`, so the shift cannot overflow.
fn split_point(n: u64) -> u64 {
    1u64 << (63 - (n - 1).leading_zeros())
}

// ---------------------------------------------------------------------------
// Streaming root: compact range ("frontier").
// ---------------------------------------------------------------------------

/// Streaming Merkle root builder holding one hash per set bit of the size, so
/// memory is O(log n) no matter how many leaves are pushed.
///
/// The frontier can be saved (`size()` + `frontier()`) and restored with
/// [`MerkleAccumulator::from_frontier`], so the ledger can resume without
/// re-reading history.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MerkleAccumulator {
    size: u64,
    /// Roots of the perfect subtrees covering `[0, size)`, largest (leftmost)
    /// first; entry `i` corresponds to the `i`-th set bit of `size` from the top.
    frontier: Vec<Hash32>,
}

impl MerkleAccumulator {
    /// An empty tree: size 0, root [`EMPTY_ROOT`].
    pub fn new() -> Self {
        Self::default()
    }

    /// Restores a saved frontier; the hash count must equal `size.count_ones()`.
    pub fn from_frontier(size: u64, frontier: Vec<Hash32>) -> Result<Self, ProofError> {
        check_size(size)?;
        if frontier.len() != size.count_ones() as usize {
            return Err(ProofError::BadFrontier(
                "hash count must equal the number of set bits of size",
            ));
        }
        Ok(Self { size, frontier })
    }

    /// Appends a ledger event (its event hash is the leaf input).
    pub fn push(&mut self, event_hash: &Hash32) -> Result<(), ProofError> {
        self.push_leaf_hash(event_leaf_hash(event_hash))
    }

    /// Appends an already-computed RFC 6962 leaf hash.
    pub fn push_leaf_hash(&mut self, leaf: Hash32) -> Result<(), ProofError> {
        if self.size >= MAX_TREE_SIZE {
            return Err(ProofError::TreeTooLarge {
                size: self.size.saturating_add(1),
            });
        }
        // Each trailing 1 bit of the old size is a perfect subtree of the same
        // height as the carry, so merge them like a binary increment.
        let mut carry = leaf;
        let mut s = self.size;
        while s & 1 == 1 {
            match self.frontier.pop() {
                Some(left) => carry = node_hash(&left, &carry),
                None => {
                    return Err(ProofError::BadFrontier(
                        "frontier shorter than size implies",
                    ))
                }
            }
            s >>= 1;
        }
        self.frontier.push(carry);
        self.size += 1;
        Ok(())
    }

    /// Number of leaves pushed so far (the tree size; events `1..=size`).
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The saved form: one subtree root per set bit of [`size`](Self::size), largest first,
    /// as a bundle header's `prefix_frontier` (§9).
    pub fn frontier(&self) -> &[Hash32] {
        &self.frontier
    }

    /// Root of the tree so far. RFC 6962 trees lean left, so the frontier's
    /// subtrees are folded right to left.
    pub fn root(&self) -> Hash32 {
        let mut it = self.frontier.iter().rev();
        match it.next() {
            None => EMPTY_ROOT,
            Some(last) => it.fold(*last, |acc, left| node_hash(left, &acc)),
        }
    }
}

/// Root over ledger events given by their event hashes, in position order.
pub fn root(event_hashes: &[Hash32]) -> Hash32 {
    root_of_iter(event_hashes.iter().map(event_leaf_hash))
}

/// Root over already-computed RFC 6962 leaf hashes.
pub fn root_of_leaf_hashes(leaf_hashes: &[Hash32]) -> Hash32 {
    root_of_iter(leaf_hashes.iter().copied())
}

fn root_of_iter(leaves: impl Iterator<Item = Hash32>) -> Hash32 {
    let mut acc = MerkleAccumulator::new();
    for leaf in leaves {
        // A slice cannot exceed MAX_TREE_SIZE leaves in memory, so the only
        // error (size limit) is unreachable; ignoring it keeps `root` infallible.
        let _ = acc.push_leaf_hash(leaf);
    }
    acc.root()
}

// ---------------------------------------------------------------------------
// Leaf sources for proof generation.
// ---------------------------------------------------------------------------

/// Where proof generators read leaves from (the database, a slice, a cache).
pub trait LeafSource {
    /// Number of leaves available; proofs for larger trees are refused.
    fn len(&self) -> u64;

    /// Whether the source has no leaves.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// RFC 6962 leaf hash of leaf `index` (ledger position `index + 1`).
    fn leaf_hash(&self, index: u64) -> Result<Hash32, SourceError>;

    /// Optional shortcut: the Merkle hash of leaves `[start, end)` if the
    /// source has it cached (e.g. stored tiles). `None` means "compute it".
    fn range_hash(&self, _start: u64, _end: u64) -> Result<Option<Hash32>, SourceError> {
        Ok(None)
    }
}

/// A slice of ledger event hashes; the leaf hash is computed on read.
pub struct EventHashes<'a>(pub &'a [Hash32]);

/// A slice of precomputed RFC 6962 leaf hashes.
pub struct LeafHashes<'a>(pub &'a [Hash32]);

impl LeafSource for EventHashes<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn leaf_hash(&self, index: u64) -> Result<Hash32, SourceError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.0.get(i))
            .map(event_leaf_hash)
            .ok_or_else(|| format!("no leaf {index}").into())
    }
}

impl LeafSource for LeafHashes<'_> {
    fn len(&self) -> u64 {
        self.0.len() as u64
    }
    fn leaf_hash(&self, index: u64) -> Result<Hash32, SourceError> {
        usize::try_from(index)
            .ok()
            .and_then(|i| self.0.get(i))
            .copied()
            .ok_or_else(|| format!("no leaf {index}").into())
    }
}

/// Adapts a closure `index -> leaf hash` (plus a leaf count) into a source,
/// for callers that fetch leaves from storage on demand.
pub struct FnLeafSource<F> {
    /// Number of leaves the source holds.
    pub len: u64,
    /// Gives the RFC 6962 leaf hash of a 0-based leaf index, or the storage's error.
    pub fetch: F,
}

impl<F> LeafSource for FnLeafSource<F>
where
    F: Fn(u64) -> Result<Hash32, SourceError>,
{
    fn len(&self) -> u64 {
        self.len
    }
    fn leaf_hash(&self, index: u64) -> Result<Hash32, SourceError> {
        (self.fetch)(index)
    }
}

/// Merkle hash of leaves `[start, end)`, streamed with O(log n) memory.
fn range_hash<S: LeafSource + ?Sized>(src: &S, start: u64, end: u64) -> Result<Hash32, ProofError> {
    let wrap = |source| ProofError::Source { start, end, source };
    if let Some(h) = src.range_hash(start, end).map_err(wrap)? {
        return Ok(h);
    }
    let mut acc = MerkleAccumulator::new();
    for i in start..end {
        let leaf = src.leaf_hash(i).map_err(|source| ProofError::Source {
            start: i,
            end: i + 1,
            source,
        })?;
        acc.push_leaf_hash(leaf)?;
    }
    Ok(acc.root())
}

fn check_source<S: LeafSource + ?Sized>(src: &S, needed: u64) -> Result<(), ProofError> {
    check_size(needed)?;
    let available = src.len();
    if available < needed {
        return Err(ProofError::SourceTooShort { needed, available });
    }
    Ok(())
}

// ---------------------------------------------------------------------------
// Inclusion proofs (RFC 9162 §2.1.3).
// ---------------------------------------------------------------------------

/// RFC 9162 §2.1.3.1 `PATH(index, D[0:tree_size])`, reading leaves from `src`.
///
/// Returned bottom-up (sibling of the leaf first), as the RFC specifies.
/// Reads every leaf of the tree once unless `src` supplies cached range hashes.
pub fn inclusion_proof_from<S: LeafSource + ?Sized>(
    src: &S,
    index: u64,
    tree_size: u64,
) -> Result<Vec<Hash32>, ProofError> {
    check_source(src, tree_size)?;
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index,
            size: tree_size,
        });
    }
    // Walk the recursion top-down iteratively, recording the sibling range at
    // each level, then emit bottom-up.
    let (mut lo, mut hi, mut m) = (0u64, tree_size, index);
    let mut siblings = Vec::new();
    while hi - lo > 1 {
        let k = split_point(hi - lo);
        if m < k {
            siblings.push((lo + k, hi));
            hi = lo + k;
        } else {
            siblings.push((lo, lo + k));
            lo += k;
            m -= k;
        }
    }
    siblings
        .iter()
        .rev()
        .map(|&(a, b)| range_hash(src, a, b))
        .collect()
}

/// Inclusion proof over a slice of ledger event hashes.
pub fn inclusion_proof(
    event_hashes: &[Hash32],
    index: u64,
    tree_size: u64,
) -> Result<Vec<Hash32>, ProofError> {
    inclusion_proof_from(&EventHashes(event_hashes), index, tree_size)
}

/// RFC 9162 §2.1.3.2: recomputes the root from a leaf hash and its path.
pub fn root_from_inclusion_proof(
    leaf_hash: &Hash32,
    index: u64,
    tree_size: u64,
    proof: &[Hash32],
) -> Result<Hash32, ProofError> {
    check_size(tree_size)?;
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::ProofTooLong { len: proof.len() });
    }
    if index >= tree_size {
        return Err(ProofError::IndexOutOfRange {
            index,
            size: tree_size,
        });
    }
    let (mut fn_, mut sn) = (index, tree_size - 1);
    let mut r = *leaf_hash;
    for p in proof {
        if sn == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            r = node_hash(p, &r);
            if fn_ & 1 == 0 {
                // Right-edge node with no sibling at these levels: it is
                // promoted unchanged, so skip levels until it is a right child.
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            r = node_hash(&r, p);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    if sn != 0 {
        return Err(ProofError::WrongProofLength);
    }
    Ok(r)
}

/// Verifies that `leaf_hash` (an RFC 6962 leaf hash) is leaf `index` of the
/// tree of `tree_size` leaves with root `root`.
///
/// Note: an inclusion proof does not by itself pin the tree size: sizes whose
/// path to `index` has the same shape accept the same proof. The size is bound
/// by the signed checkpoint that carries `root`.
pub fn verify_inclusion_leaf_hash(
    leaf_hash: &Hash32,
    index: u64,
    tree_size: u64,
    proof: &[Hash32],
    root: &Hash32,
) -> Result<(), ProofError> {
    let computed = root_from_inclusion_proof(leaf_hash, index, tree_size, proof)?;
    if computed == *root {
        Ok(())
    } else {
        Err(ProofError::RootMismatch)
    }
}

/// Verifies that the event with hash `event_hash` is at ledger position
/// `index + 1` in the tree of `tree_size` leaves with root `root`.
pub fn verify_inclusion(
    event_hash: &Hash32,
    index: u64,
    tree_size: u64,
    proof: &[Hash32],
    root: &Hash32,
) -> Result<(), ProofError> {
    verify_inclusion_leaf_hash(&event_leaf_hash(event_hash), index, tree_size, proof, root)
}

// ---------------------------------------------------------------------------
// Consistency proofs (RFC 9162 §2.1.4).
// ---------------------------------------------------------------------------

/// RFC 9162 §2.1.4.1 `PROOF(old_size, D[0:new_size])`, reading leaves from `src`.
///
/// Empty when `old_size == 0` or `old_size == new_size` (nothing to prove).
pub fn consistency_proof_from<S: LeafSource + ?Sized>(
    src: &S,
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash32>, ProofError> {
    check_source(src, new_size)?;
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == 0 || old_size == new_size {
        return Ok(Vec::new());
    }
    // Iterative SUBPROOF(m, D[lo:hi], b): record the ranges whose hashes the
    // recursion appends, deepest last, then emit deepest first.
    let (mut lo, mut hi, mut m, mut b) = (0u64, new_size, old_size, true);
    let mut ranges = Vec::new();
    loop {
        let n = hi - lo;
        if m == n {
            if !b {
                ranges.push((lo, hi));
            }
            break;
        }
        let k = split_point(n);
        if m <= k {
            ranges.push((lo + k, hi));
            hi = lo + k;
        } else {
            ranges.push((lo, lo + k));
            lo += k;
            m -= k;
            b = false;
        }
    }
    ranges
        .iter()
        .rev()
        .map(|&(a, z)| range_hash(src, a, z))
        .collect()
}

/// Consistency proof over a slice of ledger event hashes.
pub fn consistency_proof(
    event_hashes: &[Hash32],
    old_size: u64,
    new_size: u64,
) -> Result<Vec<Hash32>, ProofError> {
    consistency_proof_from(&EventHashes(event_hashes), old_size, new_size)
}

/// RFC 9162 §2.1.4.2: verifies that the tree of `new_size` leaves with root
/// `new_root` extends the tree of `old_size` leaves with root `old_root`.
///
/// Edge cases (outside the RFC algorithm, which covers `0 < old < new`):
/// `old_size == new_size` needs an empty proof and equal roots;
/// `old_size == 0` needs an empty proof and `old_root == EMPTY_ROOT` (stricter
/// than some implementations, so a bogus "old" root is never accepted).
pub fn verify_consistency(
    old_size: u64,
    new_size: u64,
    old_root: &Hash32,
    new_root: &Hash32,
    proof: &[Hash32],
) -> Result<(), ProofError> {
    check_size(new_size)?;
    if proof.len() > MAX_PROOF_LEN {
        return Err(ProofError::ProofTooLong { len: proof.len() });
    }
    if old_size > new_size {
        return Err(ProofError::SizesReversed { old_size, new_size });
    }
    if old_size == new_size {
        if !proof.is_empty() {
            return Err(ProofError::ProofNotEmpty { len: proof.len() });
        }
        return if old_root == new_root {
            Ok(())
        } else {
            Err(ProofError::RootMismatch)
        };
    }
    if old_size == 0 {
        if !proof.is_empty() {
            return Err(ProofError::ProofNotEmpty { len: proof.len() });
        }
        return if *old_root == EMPTY_ROOT {
            Ok(())
        } else {
            Err(ProofError::OldRootMismatch)
        };
    }

    // Step 1-2: an old tree that is a perfect subtree is not repeated in the
    // proof; the verifier supplies it as the seed.
    let (seed, rest) = if old_size.is_power_of_two() {
        (*old_root, proof)
    } else {
        match proof.split_first() {
            Some((first, rest)) => (*first, rest),
            None => return Err(ProofError::WrongProofLength),
        }
    };
    // Step 3-4.
    let (mut fn_, mut sn) = (old_size - 1, new_size - 1);
    while fn_ & 1 == 1 {
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 5-6.
    let (mut fr, mut sr) = (seed, seed);
    for c in rest {
        if sn == 0 {
            return Err(ProofError::WrongProofLength);
        }
        if fn_ & 1 == 1 || fn_ == sn {
            fr = node_hash(c, &fr);
            sr = node_hash(c, &sr);
            if fn_ & 1 == 0 {
                while fn_ & 1 == 0 && fn_ != 0 {
                    fn_ >>= 1;
                    sn >>= 1;
                }
            }
        } else {
            sr = node_hash(&sr, c);
        }
        fn_ >>= 1;
        sn >>= 1;
    }
    // Step 7.
    if sn != 0 {
        return Err(ProofError::WrongProofLength);
    }
    if fr != *old_root {
        return Err(ProofError::OldRootMismatch);
    }
    if sr != *new_root {
        return Err(ProofError::RootMismatch);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    fn h(s: &str) -> Hash32 {
        Hash32::from_hex(s).unwrap()
    }

    /// RFC 6962 reference leaf inputs (transparency-dev/merkle testonly/constants.go,
    /// originally google/certificate-transparency).
    fn ct_leaf_hashes() -> Vec<Hash32> {
        [
            "",
            "00",
            "10",
            "2021",
            "3031",
            "40414243",
            "5051525354555657",
            "606162636465666768696a6b6c6d6e6f",
        ]
        .iter()
        .map(|x| leaf_hash(&hex::decode(x).unwrap()))
        .collect()
    }

    /// Roots for sizes 0..=8 (transparency-dev/merkle RootHashes()).
    const CT_ROOTS: [&str; 9] = [
        "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
        "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
        "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
        "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
        "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
        "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
        "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
        "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
        "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
    ];

    /// (leaf index, tree size, proof) from transparency-dev/merkle proof/verify_test.go
    /// (that file lists 1-based leaf numbers; converted to 0-based here).
    fn ct_inclusion_vectors() -> Vec<(u64, u64, Vec<Hash32>)> {
        vec![
            (0, 1, vec![]),
            (
                0,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                5,
                8,
                vec![
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                3,
                vec![h(
                    "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
                )],
            ),
            (
                1,
                5,
                vec![
                    h("6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
        ]
    }

    /// (old size, new size, proof) from transparency-dev/merkle proof/verify_test.go.
    fn ct_consistency_vectors() -> Vec<(u64, u64, Vec<Hash32>)> {
        vec![
            (1, 1, vec![]),
            (
                1,
                8,
                vec![
                    h("96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7"),
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"),
                ],
            ),
            (
                6,
                8,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
            (
                2,
                5,
                vec![
                    h("5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e"),
                    h("bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"),
                ],
            ),
            (
                6,
                7,
                vec![
                    h("0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a"),
                    h("b08693ec2e721597130641e8211e7eedccb4c26413963eee6c1e2ed16ffb1a5f"),
                    h("d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"),
                ],
            ),
        ]
    }

    /// Naive recursive MTH straight from RFC 6962 §2.1, as an independent oracle.
    fn naive_mth(d: &[Hash32]) -> Hash32 {
        match d.len() {
            0 => EMPTY_ROOT,
            1 => d[0],
            n => {
                let k = split_point(n as u64) as usize;
                node_hash(&naive_mth(&d[..k]), &naive_mth(&d[k..]))
            }
        }
    }

    #[test]
    fn empty_root_is_sha256_of_nothing() {
        let digest: [u8; 32] = Sha256::digest([]).into();
        assert_eq!(EMPTY_ROOT, Hash32(digest));
        assert_eq!(root(&[]), EMPTY_ROOT);
        assert_eq!(MerkleAccumulator::new().root(), EMPTY_ROOT);
    }

    #[test]
    fn known_answer_roots() {
        let leaves = ct_leaf_hashes();
        let mut acc = MerkleAccumulator::new();
        for n in 0..=8 {
            assert_eq!(
                root_of_leaf_hashes(&leaves[..n]).to_hex(),
                CT_ROOTS[n],
                "size {n}"
            );
            assert_eq!(acc.root().to_hex(), CT_ROOTS[n], "accumulator size {n}");
            if n < 8 {
                acc.push_leaf_hash(leaves[n]).unwrap();
            }
        }
    }

    #[test]
    fn known_answer_inclusion_proofs() {
        let leaves = ct_leaf_hashes();
        for (index, size, want) in ct_inclusion_vectors() {
            let got = inclusion_proof_from(&LeafHashes(&leaves), index, size).unwrap();
            assert_eq!(got, want, "proof for leaf {index} in size {size}");
            let root = h(CT_ROOTS[size as usize]);
            verify_inclusion_leaf_hash(&leaves[index as usize], index, size, &want, &root).unwrap();
        }
    }

    #[test]
    fn known_answer_consistency_proofs() {
        let leaves = ct_leaf_hashes();
        for (m, n, want) in ct_consistency_vectors() {
            let got = consistency_proof_from(&LeafHashes(&leaves), m, n).unwrap();
            assert_eq!(got, want, "consistency {m} -> {n}");
            verify_consistency(
                m,
                n,
                &h(CT_ROOTS[m as usize]),
                &h(CT_ROOTS[n as usize]),
                &want,
            )
            .unwrap();
        }
    }

    #[test]
    fn inclusion_edge_cases_rejected() {
        let some = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        for (index, size) in [(0u64, 0u64), (1, 0), (2, 1), (1, 1)] {
            assert!(verify_inclusion_leaf_hash(&some, index, size, &[], &EMPTY_ROOT).is_err());
        }
        // Single leaf: root equals leaf hash, proof empty.
        let leaf = leaf_hash(b"data");
        verify_inclusion_leaf_hash(&leaf, 0, 1, &[], &leaf).unwrap();
        assert!(verify_inclusion_leaf_hash(&leaf, 0, 1, &[leaf], &leaf).is_err());
        // Over-long proofs are refused before any hashing.
        let long = vec![leaf; MAX_PROOF_LEN + 1];
        assert!(matches!(
            verify_inclusion_leaf_hash(&leaf, 0, 1, &long, &leaf),
            Err(ProofError::ProofTooLong { .. })
        ));
        assert!(matches!(
            verify_inclusion_leaf_hash(&leaf, 0, MAX_TREE_SIZE + 1, &[], &leaf),
            Err(ProofError::TreeTooLarge { .. })
        ));
    }

    #[test]
    fn inclusion_proof_alone_does_not_bind_tree_size() {
        // RFC 9162 property, pinned so nobody relies on the proof for the
        // size: leaf 0's path has the same shape in trees of 5 and 6 leaves,
        // so the size-5 proof and root also verify when the size is claimed
        // to be 6. The size must come from the signed checkpoint.
        let leaves = test_leaves(5, 1);
        let root5 = naive_mth(&leaves);
        let proof = inclusion_proof_from(&LeafHashes(&leaves), 0, 5).unwrap();
        verify_inclusion_leaf_hash(&leaves[0], 0, 5, &proof, &root5).unwrap();
        verify_inclusion_leaf_hash(&leaves[0], 0, 6, &proof, &root5).unwrap();
        assert_eq!(inclusion_shape(0, 5), inclusion_shape(0, 6));
    }

    #[test]
    fn consistency_edge_cases() {
        let r1 = h("abacaba000000000000000000000000000000000000000000060061e00123456");
        let r2 = leaf_hash(b"x");
        verify_consistency(0, 0, &EMPTY_ROOT, &EMPTY_ROOT, &[]).unwrap();
        verify_consistency(0, 5, &EMPTY_ROOT, &r2, &[]).unwrap();
        verify_consistency(3, 3, &r1, &r1, &[]).unwrap();
        assert!(
            verify_consistency(0, 5, &r1, &r2, &[]).is_err(),
            "non-empty old root for size 0"
        );
        assert!(verify_consistency(3, 3, &r1, &r2, &[]).is_err());
        assert!(verify_consistency(3, 3, &r1, &r1, &[r1]).is_err());
        assert!(verify_consistency(0, 1, &EMPTY_ROOT, &r2, &[EMPTY_ROOT]).is_err());
        assert!(matches!(
            verify_consistency(2, 1, &r1, &r2, &[]),
            Err(ProofError::SizesReversed { .. })
        ));
        assert!(
            verify_consistency(1, 2, &r1, &r2, &[]).is_err(),
            "empty proof for real extension"
        );
        let leaves = ct_leaf_hashes();
        assert!(matches!(
            consistency_proof_from(&LeafHashes(&leaves), 3, 9),
            Err(ProofError::SourceTooShort {
                needed: 9,
                available: 8
            })
        ));
        assert!(matches!(
            inclusion_proof_from(&LeafHashes(&leaves), 8, 8),
            Err(ProofError::IndexOutOfRange { .. })
        ));
    }

    #[test]
    fn event_hash_api_matches_leaf_hash_api() {
        let events: Vec<Hash32> = (1u8..=7).map(|i| Hash32([i; 32])).collect();
        let leaves: Vec<Hash32> = events.iter().map(event_leaf_hash).collect();
        assert_eq!(root(&events), root_of_leaf_hashes(&leaves));
        assert_eq!(root(&events), naive_mth(&leaves));
        let p = inclusion_proof(&events, 4, 7).unwrap();
        verify_inclusion(&events[4], 4, 7, &p, &root(&events)).unwrap();
        let c = consistency_proof(&events, 3, 7).unwrap();
        verify_consistency(3, 7, &root(&events[..3]), &root(&events), &c).unwrap();
    }

    #[test]
    fn closure_source_reports_storage_errors() {
        let src = FnLeafSource {
            len: 10,
            fetch: |i: u64| -> Result<Hash32, SourceError> {
                if i == 7 {
                    Err("disk on fire".into())
                } else {
                    Ok(leaf_hash(&i.to_be_bytes()))
                }
            },
        };
        let err = inclusion_proof_from(&src, 0, 10).unwrap_err();
        assert!(matches!(err, ProofError::Source { start: 7, .. }), "{err}");
        assert!(err.to_string().contains("disk on fire"));
        // Leaves 0..4 never touch the failing leaf.
        assert!(consistency_proof_from(&src, 2, 4).is_ok());
    }

    #[test]
    fn frontier_round_trip() {
        let mut acc = MerkleAccumulator::new();
        for i in 0u64..13 {
            acc.push_leaf_hash(leaf_hash(&i.to_be_bytes())).unwrap();
        }
        let mut restored =
            MerkleAccumulator::from_frontier(acc.size(), acc.frontier().to_vec()).unwrap();
        assert_eq!(restored.root(), acc.root());
        for i in 13u64..20 {
            acc.push_leaf_hash(leaf_hash(&i.to_be_bytes())).unwrap();
            restored
                .push_leaf_hash(leaf_hash(&i.to_be_bytes()))
                .unwrap();
        }
        assert_eq!(restored.root(), acc.root());
        assert!(MerkleAccumulator::from_frontier(13, vec![EMPTY_ROOT; 2]).is_err());
        assert!(MerkleAccumulator::from_frontier(MAX_TREE_SIZE + 1, vec![]).is_err());
    }

    #[test]
    fn million_leaf_streaming_root() {
        // Streams 1,000,000 leaves through the accumulator; its state never
        // exceeds one hash per bit of the size.
        let mut acc = MerkleAccumulator::new();
        let mut max_frontier = 0;
        for i in 0u64..1_000_000 {
            acc.push(&Hash32(Sha256::digest(i.to_be_bytes()).into()))
                .unwrap();
            max_frontier = max_frontier.max(acc.frontier().len());
        }
        assert_eq!(acc.size(), 1_000_000);
        assert!(max_frontier <= 20, "frontier grew to {max_frontier}");
        // Cross-check against a separately computed root over a stored slice.
        let events: Vec<Hash32> = (0u64..1_000_000)
            .map(|i| Hash32(Sha256::digest(i.to_be_bytes()).into()))
            .collect();
        let leaves: Vec<Hash32> = events.iter().map(event_leaf_hash).collect();
        assert_eq!(acc.root(), naive_mth(&leaves));
    }

    #[test]
    fn hash32_hex_serde() {
        let x = Hash32([0xab; 32]);
        let json = serde_json::to_string(&x).unwrap();
        assert_eq!(json, format!("\"{}\"", "ab".repeat(32)));
        assert_eq!(serde_json::from_str::<Hash32>(&json).unwrap(), x);
        assert!(serde_json::from_str::<Hash32>("\"abcd\"").is_err());
        assert!(serde_json::from_str::<Hash32>(&format!("\"{}\"", "zz".repeat(32))).is_err());
        assert!(
            Hash32::from_hex(&"é".repeat(32)).is_err(),
            "64 bytes but not hex"
        );
    }

    /// The sequence of left/right/skip decisions the RFC 9162 inclusion
    /// verifier makes for (index, size), computed without any hashes.
    fn inclusion_shape(index: u64, size: u64) -> Option<Vec<(bool, u32)>> {
        if index >= size || size > MAX_TREE_SIZE {
            return None;
        }
        let (mut f, mut s) = (index, size - 1);
        let mut shape = Vec::new();
        while s != 0 {
            if f & 1 == 1 || f == s {
                let mut skipped = 0;
                if f & 1 == 0 {
                    while f & 1 == 0 && f != 0 {
                        f >>= 1;
                        s >>= 1;
                        skipped += 1;
                    }
                }
                shape.push((true, skipped));
            } else {
                shape.push((false, 0));
            }
            f >>= 1;
            s >>= 1;
        }
        Some(shape)
    }

    /// The same for the consistency verifier (including whether the old root
    /// is the implicit seed).
    fn consistency_shape(m: u64, n: u64) -> Option<(bool, Vec<(bool, u32)>)> {
        if m == 0 || m >= n || n > MAX_TREE_SIZE {
            return None;
        }
        let (mut f, mut s) = (m - 1, n - 1);
        while f & 1 == 1 {
            f >>= 1;
            s >>= 1;
        }
        let mut shape = Vec::new();
        while s != 0 {
            if f & 1 == 1 || f == s {
                let mut skipped = 0;
                if f & 1 == 0 {
                    while f & 1 == 0 && f != 0 {
                        f >>= 1;
                        s >>= 1;
                        skipped += 1;
                    }
                }
                shape.push((true, skipped));
            } else {
                shape.push((false, 0));
            }
            f >>= 1;
            s >>= 1;
        }
        Some((m.is_power_of_two(), shape))
    }

    fn test_leaves(n: u64, salt: u64) -> Vec<Hash32> {
        (0..n)
            .map(|i| {
                let mut b = [0u8; 16];
                b[..8].copy_from_slice(&salt.to_be_bytes());
                b[8..].copy_from_slice(&i.to_be_bytes());
                leaf_hash(&b)
            })
            .collect()
    }

    fn flip(h: &Hash32, bit: usize) -> Hash32 {
        let mut out = *h;
        out.0[(bit / 8) % 32] ^= 1 << (bit % 8);
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn prop_roots_match_naive(n in 0u64..300, salt in any::<u64>()) {
            let leaves = test_leaves(n, salt);
            prop_assert_eq!(root_of_leaf_hashes(&leaves), naive_mth(&leaves));
        }

        #[test]
        fn prop_inclusion(n in 1u64..=300, idx in any::<u64>(), salt in any::<u64>(),
                          bit in 0usize..256, ibit in 0u32..64) {
            let index = idx % n;
            let leaves = test_leaves(n, salt);
            let root = naive_mth(&leaves);
            let leaf = leaves[index as usize];
            let proof = inclusion_proof_from(&LeafHashes(&leaves), index, n).unwrap();
            prop_assert!(proof.len() <= MAX_PROOF_LEN);
            prop_assert!(verify_inclusion_leaf_hash(&leaf, index, n, &proof, &root).is_ok());

            // Any bit flip in the root or any proof element is rejected.
            prop_assert!(verify_inclusion_leaf_hash(&leaf, index, n, &proof, &flip(&root, bit)).is_err());
            prop_assert!(verify_inclusion_leaf_hash(&flip(&leaf, bit), index, n, &proof, &root).is_err());
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(verify_inclusion_leaf_hash(&leaf, index, n, &bad, &root).is_err());
            }
            // Truncated / extended proofs are rejected.
            if !proof.is_empty() {
                prop_assert!(verify_inclusion_leaf_hash(&leaf, index, n, &proof[1..], &root).is_err());
                prop_assert!(verify_inclusion_leaf_hash(&leaf, index, n, &proof[..proof.len() - 1], &root).is_err());
            }
            let mut longer = proof.clone();
            longer.push(root);
            prop_assert!(verify_inclusion_leaf_hash(&leaf, index, n, &longer, &root).is_err());

            // Any bit flip in the index is rejected.
            let bad_index = index ^ (1u64 << ibit);
            prop_assert!(verify_inclusion_leaf_hash(&leaf, bad_index, n, &proof, &root).is_err());

            // A bit flip in the size is rejected unless the new size gives the
            // identical verification path (RFC 9162 inclusion proofs do not
            // bind the size; the signed checkpoint does). Check that claim.
            let bad_size = n ^ (1u64 << ibit);
            if verify_inclusion_leaf_hash(&leaf, index, bad_size, &proof, &root).is_ok() {
                prop_assert_eq!(inclusion_shape(index, bad_size), inclusion_shape(index, n));
            }
        }

        #[test]
        fn prop_consistency(n in 1u64..=300, m_raw in any::<u64>(), salt in any::<u64>(),
                            bit in 0usize..256, sbit in 0u32..64) {
            let m = m_raw % (n + 1);
            let leaves = test_leaves(n, salt);
            let old_root = naive_mth(&leaves[..m as usize]);
            let new_root = naive_mth(&leaves);
            let proof = consistency_proof_from(&LeafHashes(&leaves), m, n).unwrap();
            prop_assert!(proof.len() <= MAX_PROOF_LEN);
            prop_assert!(verify_consistency(m, n, &old_root, &new_root, &proof).is_ok());

            // Bit flips in either root are always rejected, except the new
            // root when old_size == 0 (an empty tree is a prefix of every tree).
            prop_assert!(verify_consistency(m, n, &flip(&old_root, bit), &new_root, &proof).is_err());
            if m > 0 {
                prop_assert!(verify_consistency(m, n, &old_root, &flip(&new_root, bit), &proof).is_err());
            }
            for i in 0..proof.len() {
                let mut bad = proof.clone();
                bad[i] = flip(&bad[i], bit);
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &bad).is_err());
            }
            if !proof.is_empty() {
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &proof[1..]).is_err());
                prop_assert!(verify_consistency(m, n, &old_root, &new_root, &proof[..proof.len() - 1]).is_err());
            }

            // Size flips: rejected unless the flipped sizes give the identical
            // verification path (the sizes are bound by the two checkpoints).
            let bad_m = m ^ (1u64 << sbit);
            if verify_consistency(bad_m, n, &old_root, &new_root, &proof).is_ok() {
                prop_assert!(m > 0 && consistency_shape(bad_m, n) == consistency_shape(m, n),
                    "old size {} -> {} accepted", m, bad_m);
            }
            // With old_size == 0 every new size is (correctly) accepted.
            let bad_n = n ^ (1u64 << sbit);
            if m > 0 && verify_consistency(m, bad_n, &old_root, &new_root, &proof).is_ok() {
                prop_assert!(consistency_shape(m, bad_n) == consistency_shape(m, n),
                    "new size {} -> {} accepted", n, bad_n);
            }
        }
    }
}
