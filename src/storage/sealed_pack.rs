//! The packed form of one committed batch's openings: the `openings` column of a
//! `sealed_batches` row (schema 8).
//!
//! Why packed: a row per sealed value cost PostgreSQL a heap tuple and three index
//! entries under a random key for every value, about 529 bytes of WAL each, which made
//! sealing the most expensive part of an append (docs/PERFORMANCE.md). One row per
//! batch costs one tuple and one index entry under an increasing key, whatever the
//! batch holds. An erasure rewrites the rows it touches without the erased openings.
//!
//! Layout (all integers big-endian): one version byte, `1`; then each opening in turn:
//! position (u64), commitment (32 bytes), salt (32 bytes), aggregate type, aggregate id
//! and path (each a u16 length and UTF-8 bytes), and the value's canonical JSON (a u32
//! length and the bytes). Nothing else: no count, no padding. The store's own format,
//! not the ledger's: a verifier sees openings only as an export writes them.

use std::collections::HashSet;

use super::StoredOpening;
use icac_format::chain::Hash32;
use icac_format::record::StreamId;
use icac_format::sealed::Opening;

const VERSION: u8 = 1;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PackError {
    #[error("packed openings are empty")]
    Empty,
    #[error("packed openings have version {0}; this icac-ledger reads version {VERSION}")]
    Version(u8),
    #[error("packed openings end inside an opening (at byte {0})")]
    Truncated(usize),
    #[error("packed openings hold text that is not UTF-8 (at byte {0})")]
    NotUtf8(usize),
    #[error("an opening's {0} is longer than its length field can say")]
    TooLong(&'static str),
}

/// A batch's `sealed_batches` row: the positions its openings span, and their bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PackedRow {
    pub first_position: u64,
    pub last_position: u64,
    pub openings: Vec<u8>,
}

/// The row a batch with these openings writes; `None` when it seals nothing.
pub fn packed_row(openings: &[StoredOpening]) -> Result<Option<PackedRow>, PackError> {
    let positions = openings.iter().map(|o| o.position);
    let (Some(first), Some(last)) = (positions.clone().min(), positions.max()) else {
        return Ok(None);
    };
    Ok(Some(PackedRow {
        first_position: first,
        last_position: last,
        openings: pack(openings)?,
    }))
}

/// The packed bytes of `openings`, in the order given.
pub fn pack(openings: &[StoredOpening]) -> Result<Vec<u8>, PackError> {
    let size: usize = openings.iter().map(packed_size).sum();
    let mut out = Vec::with_capacity(1 + size);
    out.push(VERSION);
    for o in openings {
        out.extend_from_slice(&o.position.to_be_bytes());
        out.extend_from_slice(&o.opening.commitment.0);
        out.extend_from_slice(&o.opening.salt);
        put_short(&mut out, &o.stream.aggregate_type, "aggregate type")?;
        put_short(&mut out, &o.stream.aggregate_id, "aggregate id")?;
        put_short(&mut out, &o.opening.path, "path")?;
        let len = u32::try_from(o.opening.value.len()).map_err(|_| PackError::TooLong("value"))?;
        out.extend_from_slice(&len.to_be_bytes());
        out.extend_from_slice(&o.opening.value);
    }
    Ok(out)
}

fn packed_size(o: &StoredOpening) -> usize {
    8 + 32
        + 32
        + 2
        + o.stream.aggregate_type.len()
        + 2
        + o.stream.aggregate_id.len()
        + 2
        + o.opening.path.len()
        + 4
        + o.opening.value.len()
}

fn put_short(out: &mut Vec<u8>, text: &str, what: &'static str) -> Result<(), PackError> {
    let len = u16::try_from(text.len()).map_err(|_| PackError::TooLong(what))?;
    out.extend_from_slice(&len.to_be_bytes());
    out.extend_from_slice(text.as_bytes());
    Ok(())
}

/// The openings packed in `bytes`. Never panics, whatever the bytes.
pub fn unpack(bytes: &[u8]) -> Result<Vec<StoredOpening>, PackError> {
    let mut reader = Reader::new(bytes)?;
    let mut out = Vec::new();
    while !reader.done() {
        out.push(reader.opening()?);
    }
    Ok(out)
}

/// `bytes` without the openings whose commitment is in `erase`: the packed rest (`None`
/// when nothing is left) and how many openings were removed.
pub fn strip(bytes: &[u8], erase: &HashSet<Hash32>) -> Result<(Option<Vec<u8>>, usize), PackError> {
    let all = unpack(bytes)?;
    let before = all.len();
    let kept: Vec<StoredOpening> = all
        .into_iter()
        .filter(|o| !erase.contains(&o.opening.commitment))
        .collect();
    let removed = before - kept.len();
    if kept.is_empty() {
        return Ok((None, removed));
    }
    Ok((Some(pack(&kept)?), removed))
}

struct Reader<'a> {
    bytes: &'a [u8],
    at: usize,
}

impl<'a> Reader<'a> {
    fn new(bytes: &'a [u8]) -> Result<Self, PackError> {
        match bytes.first() {
            None => Err(PackError::Empty),
            Some(&VERSION) => Ok(Reader { bytes, at: 1 }),
            Some(&other) => Err(PackError::Version(other)),
        }
    }

    fn done(&self) -> bool {
        self.at == self.bytes.len()
    }

    fn take(&mut self, n: usize) -> Result<&'a [u8], PackError> {
        let end = self
            .at
            .checked_add(n)
            .filter(|end| *end <= self.bytes.len())
            .ok_or(PackError::Truncated(self.at))?;
        let out = &self.bytes[self.at..end];
        self.at = end;
        Ok(out)
    }

    fn array<const N: usize>(&mut self) -> Result<[u8; N], PackError> {
        let at = self.at;
        self.take(N)?
            .try_into()
            .map_err(|_| PackError::Truncated(at))
    }

    fn text(&mut self) -> Result<String, PackError> {
        let len = u16::from_be_bytes(self.array()?);
        let at = self.at;
        let raw = self.take(usize::from(len))?;
        String::from_utf8(raw.to_vec()).map_err(|_| PackError::NotUtf8(at))
    }

    fn opening(&mut self) -> Result<StoredOpening, PackError> {
        let position = u64::from_be_bytes(self.array()?);
        let commitment = Hash32(self.array()?);
        let salt = self.array()?;
        let aggregate_type = self.text()?;
        let aggregate_id = self.text()?;
        let path = self.text()?;
        let len = u32::from_be_bytes(self.array()?);
        let len = usize::try_from(len).map_err(|_| PackError::Truncated(self.at))?;
        let value = self.take(len)?.to_vec();
        Ok(StoredOpening {
            position,
            stream: StreamId {
                aggregate_type,
                aggregate_id,
            },
            opening: Opening {
                commitment,
                path,
                salt,
                value,
            },
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn opening(position: u64, n: u8) -> StoredOpening {
        StoredOpening {
            position,
            stream: StreamId::new("case", "c-1"),
            opening: Opening {
                commitment: Hash32([n; 32]),
                path: format!("/subjects/{n}/screen_name"),
                salt: [n.wrapping_add(1); 32],
                value: format!("\"value {n}\"").into_bytes(),
            },
        }
    }

    #[test]
    fn round_trips_and_strips() {
        let all = vec![opening(7, 1), opening(7, 2), opening(9, 3)];
        let packed = pack(&all).unwrap();
        assert_eq!(unpack(&packed).unwrap(), all);
        let erase: HashSet<Hash32> = [Hash32([2; 32])].into_iter().collect();
        let (rest, removed) = strip(&packed, &erase).unwrap();
        assert_eq!(removed, 1);
        assert_eq!(
            unpack(&rest.unwrap()).unwrap(),
            vec![all[0].clone(), all[2].clone()]
        );
        let everything: HashSet<Hash32> = all.iter().map(|o| o.opening.commitment).collect();
        assert_eq!(strip(&packed, &everything).unwrap(), (None, 3));
    }

    #[test]
    fn refuses_damaged_bytes_without_panicking() {
        let packed = pack(&[opening(7, 1), opening(8, 2)]).unwrap();
        let boundary = pack(&[opening(7, 1)]).unwrap().len();
        for cut in 2..packed.len() {
            let r = unpack(&packed[..cut]);
            assert_eq!(r.is_ok(), cut == boundary, "cut at {cut}");
        }
        assert_eq!(unpack(&[]), Err(PackError::Empty));
        assert_eq!(unpack(&[2]), Err(PackError::Version(2)));
        assert_eq!(unpack(&[1]).unwrap(), Vec::new());
        let mut bad = packed.clone();
        bad[1 + 8 + 64 + 2] = 0xff; // first byte of the aggregate type
        assert!(matches!(unpack(&bad), Err(PackError::NotUtf8(_))));
    }
}
