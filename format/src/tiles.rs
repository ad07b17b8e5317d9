//! C2SP tlog-tiles: the Merkle log as static resources.
//!
//! A tile is up to 256 consecutive Merkle tree hashes at one level: at level 0 the leaf
//! hashes, at level `l` the roots of full tiles of level `l - 1`. An entry bundle holds
//! the leaf inputs of one level-0 tile. Our leaf input (the *entry*) is the 32-byte event
//! hash (LEDGER_FORMAT.md section 13.1), so a bundle is at most 256 × (2 + 32) bytes and a
//! C2SP client recomputes each leaf hash as `SHA-256(0x00 || entry)`.
//!
//! Paths: `tile/<L>/<N>[.p/<W>]` and `tile/entries/<N>[.p/<W>]`, `<N>` split into
//! zero-padded 3-digit elements, all but the last prefixed with `x`.

use super::merkle::{leaf_hash, root_of_leaf_hashes, Hash32, MAX_TREE_SIZE};

/// Hashes in a full tile (tile height 8).
pub const TILE_WIDTH: u64 = 256;
/// Bytes of a full hash tile.
pub const FULL_TILE_BYTES: usize = 256 * 32;
/// Highest level a path may name (the spec allows 0-63).
pub const MAX_LEVEL: u8 = 63;
/// Longest tile path we parse; bounds work on hostile request paths.
pub const MAX_PATH_LEN: usize = 128;
/// Length of one entry: an event hash.
pub const ENTRY_LEN: usize = 32;

/// Why a tile path, hash tile or entry bundle is refused (§13.1, §13.2).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TileError {
    /// A path not in canonical tlog-tiles form (§13.2): no `tile/` prefix, over
    /// [`MAX_PATH_LEN`] bytes, a level above [`MAX_LEVEL`], a partial width outside
    /// 1–255, a malformed or non-canonical index.
    #[error("malformed tile path: {0}")]
    BadPath(&'static str),
    /// Raised by [`Tile::check_within`]: the tile covers leaves beyond a tree of that size
    /// (§13.2); holds its path and the size.
    #[error("tile {0} does not exist for tree size {1}")]
    PastTreeSize(String, u64),
    /// Hash tile data that is not `width × 32` bytes.
    #[error("tile data has {len} bytes; a tile of width {width} has {expected}")]
    BadLength {
        /// The data's length in bytes.
        len: usize,
        /// The tile's width in hashes.
        width: u16,
        /// `width × 32`.
        expected: usize,
    },
    /// An entry bundle whose entry is not a `0x0020` length and 32 bytes (truncated,
    /// another length), or that holds more than 256 entries (§13.1).
    #[error(
        "entry {index} in the bundle is {len} bytes; entries are {ENTRY_LEN}-byte event hashes"
    )]
    BadEntry {
        /// The entry's 0-based index in the bundle.
        index: usize,
        /// Its length prefix (0 when fewer than two bytes are left).
        len: usize,
    },
}

/// Which resource a tile path names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum TileKind {
    /// Merkle tree hashes at a level.
    Hashes {
        /// 0 for leaf hashes; at level `l` each hash is the Merkle root of `256^l`
        /// consecutive leaves (§13.2). At most [`MAX_LEVEL`].
        level: u8,
    },
    /// An entry bundle (the leaf inputs of the level-0 tile with the same index).
    Entries,
}

/// One tile or entry bundle: its kind, index within the level and width (1-256).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Tile {
    /// A hash tile at some level, or an entry bundle.
    pub kind: TileKind,
    /// `<N>` in the path: the tile's 0-based index within its level.
    pub index: u64,
    /// Hashes or entries it holds, 1–256; below 256 a partial tile, `.p/<W>` in its path.
    pub width: u16,
}

impl Tile {
    /// Whether it holds all [`TILE_WIDTH`] hashes: a full tile never changes, a partial
    /// one is superseded as the tree grows (§13.2).
    pub fn is_full(&self) -> bool {
        u64::from(self.width) == TILE_WIDTH
    }

    /// The level of the hashes this resource is made of (entries pair with level 0).
    pub fn level(&self) -> u8 {
        match self.kind {
            TileKind::Hashes { level } => level,
            TileKind::Entries => 0,
        }
    }

    /// The path relative to the prefix, e.g. `tile/1/x001/234.p/17`.
    pub fn path(&self) -> String {
        let level = match self.kind {
            TileKind::Hashes { level } => level.to_string(),
            TileKind::Entries => "entries".to_owned(),
        };
        let mut n = self.index;
        let mut elems = vec![format!("{:03}", n % 1000)];
        while n >= 1000 {
            n /= 1000;
            elems.push(format!("x{:03}", n % 1000));
        }
        elems.reverse();
        let partial = if self.is_full() {
            String::new()
        } else {
            format!(".p/{}", self.width)
        };
        format!("tile/{level}/{}{partial}", elems.join("/"))
    }

    /// Parses a path relative to the prefix; only the canonical form is accepted.
    pub fn parse(path: &str) -> Result<Self, TileError> {
        if path.len() > MAX_PATH_LEN {
            return Err(TileError::BadPath("too long"));
        }
        let rest = path
            .strip_prefix("tile/")
            .ok_or(TileError::BadPath("must start with tile/"))?;
        let (level, rest) = rest
            .split_once('/')
            .ok_or(TileError::BadPath("missing index"))?;
        let kind = if level == "entries" {
            TileKind::Entries
        } else {
            let level = parse_decimal(level).ok_or(TileError::BadPath("bad level"))?;
            if level > u64::from(MAX_LEVEL) {
                return Err(TileError::BadPath("level above 63"));
            }
            TileKind::Hashes { level: level as u8 }
        };
        let (index_part, width) = match rest.split_once(".p/") {
            Some((i, w)) => {
                let w = parse_decimal(w).ok_or(TileError::BadPath("bad partial width"))?;
                if !(1..TILE_WIDTH).contains(&w) {
                    return Err(TileError::BadPath("partial width must be 1-255"));
                }
                (i, w as u16)
            }
            None => (rest, TILE_WIDTH as u16),
        };
        let index = parse_index(index_part)?;
        let tile = Tile { kind, index, width };
        // Exactly one text per tile: reject e.g. `x000/001`.
        if tile.path() != path {
            return Err(TileError::BadPath("not in canonical form"));
        }
        Ok(tile)
    }

    /// The first leaf the tile covers and the number of leaves one of its hashes spans.
    fn span(&self) -> Option<(u64, u64)> {
        let per_hash = 1u64.checked_shl(8 * u32::from(self.level()))?;
        let start = self.index.checked_mul(TILE_WIDTH)?.checked_mul(per_hash)?;
        Some((start, per_hash))
    }

    /// Whether the tile exists, exactly as named, in the tiles of a tree of `size`
    /// leaves: a full tile wholly inside the tree, or the partial tile of its level.
    pub fn exists_in(&self, size: u64) -> bool {
        let Some((start, per_hash)) = self.span() else {
            return false;
        };
        let Some(covered) = u64::from(self.width).checked_mul(per_hash) else {
            return false;
        };
        match start.checked_add(covered) {
            Some(end) if end <= size => {
                // A partial tile is served only as the rightmost one of its level.
                self.is_full() || end + per_hash > size
            }
            _ => false,
        }
    }

    /// Whether every leaf the tile covers is inside a tree of `size` leaves: true also
    /// for the partial tiles of earlier checkpoints, which a log may keep serving.
    pub fn within(&self, size: u64) -> bool {
        self.span()
            .and_then(|(start, per_hash)| {
                u64::from(self.width)
                    .checked_mul(per_hash)
                    .and_then(|c| start.checked_add(c))
            })
            .is_some_and(|end| end <= size)
    }

    /// Checks [`Tile::within`] and says why not.
    pub fn check_within(&self, size: u64) -> Result<(), TileError> {
        if self.within(size) {
            Ok(())
        } else {
            Err(TileError::PastTreeSize(self.path(), size))
        }
    }
}

fn parse_decimal(s: &str) -> Option<u64> {
    let canonical = !s.is_empty()
        && s.len() <= 19
        && s.bytes().all(|b| b.is_ascii_digit())
        && (s == "0" || !s.starts_with('0'));
    if canonical {
        s.parse().ok()
    } else {
        None
    }
}

fn parse_index(s: &str) -> Result<u64, TileError> {
    let elems: Vec<&str> = s.split('/').collect();
    if elems.len() > 7 {
        return Err(TileError::BadPath("index too long"));
    }
    let mut n: u64 = 0;
    for (i, e) in elems.iter().enumerate() {
        let last = i + 1 == elems.len();
        let digits = if last {
            *e
        } else {
            e.strip_prefix('x')
                .ok_or(TileError::BadPath("index element must start with x"))?
        };
        if digits.len() != 3 || !digits.bytes().all(|b| b.is_ascii_digit()) {
            return Err(TileError::BadPath("index elements are 3 digits"));
        }
        let d: u64 = digits
            .parse()
            .map_err(|_| TileError::BadPath("index elements are 3 digits"))?;
        n = n
            .checked_mul(1000)
            .and_then(|n| n.checked_add(d))
            .ok_or(TileError::BadPath("index too large"))?;
    }
    Ok(n)
}

/// Every hash tile and entry bundle of a tree of `size` leaves whose index is at least
/// `from_leaf`'s tile at each level: what an incremental export must (re)write to go
/// from a tree whose full tiles below `from_leaf` are already written.
pub fn tiles_for(size: u64, from_leaf: u64) -> Vec<Tile> {
    let mut out = Vec::new();
    if size == 0 || size > MAX_TREE_SIZE {
        return out;
    }
    let mut level: u8 = 0;
    let mut per_hash: u64 = 1;
    while per_hash <= size {
        let hashes = size / per_hash;
        let per_tile = per_hash.saturating_mul(TILE_WIDTH);
        let first = from_leaf.min(size) / per_tile;
        let full = hashes / TILE_WIDTH;
        let rest = (hashes % TILE_WIDTH) as u16;
        for index in first..full {
            push_tile(&mut out, level, index, TILE_WIDTH as u16);
        }
        if rest > 0 {
            push_tile(&mut out, level, full, rest);
        }
        if level == MAX_LEVEL {
            break;
        }
        level += 1;
        per_hash = per_hash.saturating_mul(TILE_WIDTH);
    }
    out
}

fn push_tile(out: &mut Vec<Tile>, level: u8, index: u64, width: u16) {
    out.push(Tile {
        kind: TileKind::Hashes { level },
        index,
        width,
    });
    if level == 0 {
        out.push(Tile {
            kind: TileKind::Entries,
            index,
            width,
        });
    }
}

/// Encodes a hash tile: the hashes concatenated.
pub fn encode_hashes(hashes: &[Hash32]) -> Vec<u8> {
    hashes.iter().flat_map(|h| h.0).collect()
}

/// Decodes a hash tile of the given width.
pub fn decode_hashes(data: &[u8], width: u16) -> Result<Vec<Hash32>, TileError> {
    let expected = usize::from(width) * 32;
    if data.len() != expected {
        return Err(TileError::BadLength {
            len: data.len(),
            width,
            expected,
        });
    }
    Ok(data
        .chunks_exact(32)
        .map(|c| {
            let mut h = [0u8; 32];
            h.copy_from_slice(c);
            Hash32(h)
        })
        .collect())
}

/// The hash one level up of a full tile: the Merkle root of its 256 hashes (a perfect
/// subtree of height 8 whose leaves are the tile's hashes).
pub fn tile_root(hashes: &[Hash32]) -> Hash32 {
    debug_assert_eq!(hashes.len() as u64, TILE_WIDTH);
    // root_of_leaf_hashes treats its input as already hashed leaves, which is what a
    // tile's hashes are to the subtree they head.
    root_of_leaf_hashes(hashes)
}

/// Encodes an entry bundle: each event hash with a big-endian u16 length (always 32).
pub fn encode_entries(event_hashes: &[Hash32]) -> Vec<u8> {
    let mut out = Vec::with_capacity(event_hashes.len() * (2 + ENTRY_LEN));
    for h in event_hashes {
        out.extend_from_slice(&(ENTRY_LEN as u16).to_be_bytes());
        out.extend_from_slice(&h.0);
    }
    out
}

/// Decodes an entry bundle into its entries (event hashes).
pub fn decode_entries(data: &[u8]) -> Result<Vec<Hash32>, TileError> {
    let mut out = Vec::new();
    let mut rest = data;
    while !rest.is_empty() {
        let index = out.len();
        let [a, b, tail @ ..] = rest else {
            return Err(TileError::BadEntry { index, len: 0 });
        };
        let len = usize::from(u16::from_be_bytes([*a, *b]));
        if len != ENTRY_LEN || tail.len() < len {
            return Err(TileError::BadEntry { index, len });
        }
        let (entry, next) = tail.split_at(len);
        let mut h = [0u8; 32];
        h.copy_from_slice(entry);
        out.push(Hash32(h));
        rest = next;
        if out.len() as u64 > TILE_WIDTH {
            return Err(TileError::BadEntry { index, len });
        }
    }
    Ok(out)
}

/// The level-0 tile of a bundle: the RFC 6962 leaf hash of each entry.
pub fn leaf_hashes_of_entries(entries: &[Hash32]) -> Vec<Hash32> {
    entries.iter().map(|e| leaf_hash(&e.0)).collect()
}

/// The Merkle root of a tree of `size` leaves computed from its tiles, as a C2SP client
/// does: `hash_at(level, n)` returns the `n`-th hash of level `level` (hash `n % 256` of
/// tile `n / 256`).
pub fn root_from_tiles<E>(
    size: u64,
    hash_at: impl FnMut(u8, u64) -> Result<Hash32, E>,
) -> Result<Hash32, E> {
    Ok(range_from_tiles(0, size, hash_at)?.unwrap_or(super::merkle::EMPTY_ROOT))
}

/// `MTH(D[start:end])` from tiles, for the ranges RFC 6962 proofs use: `start` a
/// multiple of every perfect subtree the range splits into (one per set bit of
/// `end - start`, largest first). A subtree of `2^(8l + r)` leaves is the root of `2^r`
/// consecutive level-`l` hashes. `None` for an empty or unaligned range.
pub fn range_from_tiles<E>(
    start: u64,
    end: u64,
    mut hash_at: impl FnMut(u8, u64) -> Result<Hash32, E>,
) -> Result<Option<Hash32>, E> {
    if end <= start {
        return Ok(None);
    }
    let n = end - start;
    let mut subtrees: Vec<Hash32> = Vec::new();
    let mut offset = start;
    for bit in (0..64u32).rev() {
        let leaves = 1u64 << bit;
        if n & leaves == 0 {
            continue;
        }
        if offset % leaves != 0 {
            return Ok(None);
        }
        let level = (bit / 8) as u8;
        let per_hash = 1u64 << (8 * u32::from(level));
        let count = leaves / per_hash;
        let first = offset / per_hash;
        let mut hashes = Vec::with_capacity(count as usize);
        for i in first..first + count {
            hashes.push(hash_at(level, i)?);
        }
        subtrees.push(root_of_leaf_hashes(&hashes));
        offset += leaves;
    }
    let mut root = subtrees.pop();
    while let (Some(left), Some(right)) = (subtrees.pop(), root) {
        root = Some(super::merkle::node_hash(&left, &right));
    }
    Ok(root)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::merkle::{root, EMPTY_ROOT};

    fn t(level: u8, index: u64, width: u16) -> Tile {
        Tile {
            kind: TileKind::Hashes { level },
            index,
            width,
        }
    }

    #[test]
    fn paths_follow_the_spec() {
        assert_eq!(t(0, 0, 256).path(), "tile/0/000");
        assert_eq!(t(1, 1_234_067, 256).path(), "tile/1/x001/x234/067");
        assert_eq!(t(2, 5, 17).path(), "tile/2/005.p/17");
        let e = Tile {
            kind: TileKind::Entries,
            index: 1000,
            width: 3,
        };
        assert_eq!(e.path(), "tile/entries/x001/000.p/3");
        for tile in [t(0, 0, 256), t(1, 1_234_067, 256), t(2, 5, 17), e] {
            assert_eq!(Tile::parse(&tile.path()).unwrap(), tile);
        }
    }

    #[test]
    fn non_canonical_paths_are_refused() {
        for bad in [
            "tile/0/0",
            "tile/00/000",
            "tile/64/000",
            "tile/0/x000/001",
            "tile/0/001.p/0",
            "tile/0/001.p/256",
            "tile/0/001.p/07",
            "tile/0/1234",
            "tile/0/001/002",
            "tile/data/000",
            "tile/0/",
            "tiles/0/000",
            "tile/0/00a",
            "tile/0/x001",
        ] {
            assert!(Tile::parse(bad).is_err(), "{bad}");
        }
        assert!(Tile::parse(&"x".repeat(MAX_PATH_LEN + 1)).is_err());
    }

    #[test]
    fn tiles_of_the_spec_example() {
        // "a tree of size 70,000 will be represented by 273 full level 0 tiles, one
        // partial level 0 tile of width 112, one full level 1 tile, one partial level 1
        // tile of width 17, and one partial level 2 tile of width 1."
        let tiles = tiles_for(70_000, 0);
        let hashes: Vec<_> = tiles
            .iter()
            .filter(|t| t.kind != TileKind::Entries)
            .collect();
        let at = |l: u8| -> Vec<&&Tile> { hashes.iter().filter(|t| t.level() == l).collect() };
        assert_eq!(at(0).len(), 274);
        assert_eq!(at(0).last().unwrap().width, 112);
        assert_eq!(at(1).len(), 2);
        assert_eq!(at(1)[1].width, 17);
        assert_eq!(at(2).len(), 1);
        assert_eq!(at(2)[0].width, 1);
        assert_eq!(hashes.len(), 277);
        for tile in &tiles {
            assert!(tile.exists_in(70_000), "{}", tile.path());
        }
        // Size 256: one full level-0 tile and a level-1 tile of width 1.
        let t256 = tiles_for(256, 0);
        assert!(t256.contains(&t(0, 0, 256)) && t256.contains(&t(1, 0, 1)));
        assert_eq!(t256.len(), 3);
        // Incremental: from leaf 70,000 only the rightmost tiles are rewritten.
        let inc = tiles_for(70_100, 70_000);
        assert!(inc.contains(&t(0, 273, 212)) && inc.contains(&t(1, 1, 17)));
        assert!(!inc.iter().any(|x| x.level() == 0 && x.index < 273));
        assert!(tiles_for(0, 0).is_empty());
    }

    #[test]
    fn existence_past_the_tree_size() {
        assert!(t(0, 0, 5).exists_in(5));
        assert!(!t(0, 0, 6).exists_in(5), "wider than the tree");
        assert!(!t(0, 0, 4).exists_in(5), "not the rightmost partial");
        assert!(!t(0, 0, 256).exists_in(255));
        assert!(t(0, 0, 256).exists_in(300));
        assert!(!t(0, 1, 256).exists_in(300));
        assert!(!t(1, 0, 1).exists_in(255));
        assert!(t(1, 0, 1).exists_in(256));
        assert!(!t(63, u64::MAX, 256).exists_in(MAX_TREE_SIZE));
        assert!(t(0, 0, 4).within(5) && !t(0, 0, 6).within(5));
        assert!(matches!(
            t(0, 9, 1).check_within(5),
            Err(TileError::PastTreeSize(_, 5))
        ));
    }

    #[test]
    fn tiles_rebuild_the_root() {
        // 256 * 3 + 7 leaves: the root from the tiles is the root of the leaves.
        let events: Vec<Hash32> = (0..775u32)
            .map(|i| Hash32(crate::chain::event_hash(&Hash32::ZERO, &i.to_be_bytes()).0))
            .collect();
        let leaves = leaf_hashes_of_entries(&events);
        let level1: Vec<Hash32> = leaves.chunks(256).take(3).map(tile_root).collect();
        // Full subtrees right to left, as RFC 6962 splits: [0,512), [512,768), [768,775).
        let left = crate::merkle::node_hash(&level1[0], &level1[1]);
        let tail = root_of_leaf_hashes(&leaves[768..]);
        let right_side = crate::merkle::node_hash(&level1[2], &tail);
        assert_eq!(crate::merkle::node_hash(&left, &right_side), root(&events));
        assert_ne!(root(&events), EMPTY_ROOT);
    }

    #[test]
    fn root_from_tiles_matches_the_tree() {
        for size in [1u64, 2, 255, 256, 257, 511, 600, 65_536 + 300] {
            let events: Vec<Hash32> = (0..size)
                .map(|i| crate::chain::event_hash(&Hash32::ZERO, &i.to_be_bytes()))
                .collect();
            let leaves = leaf_hashes_of_entries(&events);
            let level1: Vec<Hash32> = leaves.chunks_exact(256).map(tile_root).collect();
            let level2: Vec<Hash32> = level1.chunks_exact(256).map(tile_root).collect();
            let got = root_from_tiles(size, |level, n| -> Result<Hash32, ()> {
                let lv = [&leaves, &level1, &level2][usize::from(level)];
                lv.get(n as usize).copied().ok_or(())
            })
            .unwrap();
            assert_eq!(got, root(&events), "size {size}");
            // Proofs from tiles equal proofs from the leaves.
            struct Tiles<'a>(&'a [Vec<Hash32>; 3], u64);
            impl crate::merkle::LeafSource for Tiles<'_> {
                fn len(&self) -> u64 {
                    self.1
                }
                fn leaf_hash(&self, i: u64) -> Result<Hash32, crate::merkle::SourceError> {
                    Ok(self.0[0][i as usize])
                }
                fn range_hash(
                    &self,
                    a: u64,
                    z: u64,
                ) -> Result<Option<Hash32>, crate::merkle::SourceError> {
                    range_from_tiles(a, z, |l, n| -> Result<Hash32, crate::merkle::SourceError> {
                        Ok(self.0[usize::from(l)][n as usize])
                    })
                }
            }
            let levels = [leaves.clone(), level1.clone(), level2.clone()];
            let src = Tiles(&levels, size);
            for old in [1, size / 2, size - 1] {
                if old > 0 {
                    assert_eq!(
                        crate::merkle::consistency_proof_from(&src, old, size).unwrap(),
                        crate::merkle::consistency_proof(&events, old, size).unwrap()
                    );
                }
            }
            assert_eq!(
                crate::merkle::inclusion_proof_from(&src, size - 1, size).unwrap(),
                crate::merkle::inclusion_proof(&events, size - 1, size).unwrap()
            );
        }
    }

    #[test]
    fn entry_bundles_round_trip_and_refuse_garbage() {
        let events = [Hash32([1; 32]), Hash32([2; 32])];
        let data = encode_entries(&events);
        assert_eq!(data.len(), 68);
        assert_eq!(&data[..2], &[0, 32]);
        assert_eq!(decode_entries(&data).unwrap(), events);
        assert!(decode_entries(&data[..67]).is_err());
        let mut bad = data.clone();
        bad[1] = 31;
        assert!(decode_entries(&bad).is_err());
        assert!(decode_entries(&[0]).is_err());
        let tile = encode_hashes(&events);
        assert_eq!(decode_hashes(&tile, 2).unwrap(), events);
        assert!(decode_hashes(&tile, 3).is_err());
    }
}
