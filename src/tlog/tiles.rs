//! The ledger's Merkle tree written as a C2SP tlog-tiles directory: `tile/<L>/<N>`,
//! `tile/entries/<N>` (event hashes) and `checkpoint`, servable by any static web
//! server. Writing is incremental: full tiles already in the directory are immutable and
//! kept; only the rightmost tiles of each level are (re)written. The tree the tiles
//! make is checked against the checkpoint's root before the checkpoint is written.

use std::path::{Path, PathBuf};

use crate::audit::AuditError;
use crate::storage::{Storage, READ_PAGE};
use icac_format::chain::{event_hash, Hash32};
use icac_format::checkpoint::Checkpoint;
use icac_format::merkle::{LeafSource, SourceError};
use icac_format::record::LedgerId;
use icac_format::tiles::{self, Tile, TileKind, TILE_WIDTH};

/// The file beside the tiles that records the tree size they were written for.
const SIZE_FILE: &str = ".icac-tiles-size";

/// What one write did.
#[derive(Debug, Clone, serde::Serialize)]
pub struct TilesWritten {
    pub size: u64,
    pub previous_size: u64,
    pub tiles_written: usize,
    pub root: Hash32,
}

fn write_err(path: &Path, source: std::io::Error) -> AuditError {
    AuditError::Write {
        path: path.display().to_string(),
        source,
    }
}

fn read_err(path: &Path, source: std::io::Error) -> AuditError {
    AuditError::Read {
        path: path.display().to_string(),
        source,
    }
}

/// Writes `bytes` to `path` through a temporary file and a rename, so a reader (a web
/// server) never sees half a tile or half a checkpoint.
pub fn write_atomic(path: &Path, bytes: &[u8]) -> Result<(), AuditError> {
    if let Some(parent) = path.parent() {
        std::fs::create_dir_all(parent).map_err(|e| write_err(parent, e))?;
    }
    let tmp = path.with_extension("icac-tmp");
    std::fs::write(&tmp, bytes).map_err(|e| write_err(&tmp, e))?;
    std::fs::rename(&tmp, path).map_err(|e| write_err(path, e))
}

/// The size the directory's tiles were last written for (0 for a new directory).
pub fn written_size(dir: &Path) -> Result<u64, AuditError> {
    let path = dir.join(SIZE_FILE);
    match std::fs::read_to_string(&path) {
        Ok(s) => s
            .trim()
            .parse()
            .map_err(|_| AuditError::invalid(format!("{} is not a tree size", path.display()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(read_err(&path, e)),
    }
}

fn tile_path(dir: &Path, tile: &Tile) -> PathBuf {
    dir.join(tile.path())
}

/// Reads a full tile of hashes the directory holds.
fn read_full(dir: &Path, level: u8, index: u64) -> Result<Vec<Hash32>, AuditError> {
    let tile = Tile {
        kind: TileKind::Hashes { level },
        index,
        width: TILE_WIDTH as u16,
    };
    let path = tile_path(dir, &tile);
    let data = std::fs::read(&path).map_err(|e| read_err(&path, e))?;
    tiles::decode_hashes(&data, tile.width)
        .map_err(|e| AuditError::invalid(format!("{}: {e}", path.display())))
}

/// Writes the tiles of the ledger's first `checkpoint.size` events into `dir` (not the
/// checkpoint: see [`write_checkpoint`]). Refuses to go back to a smaller tree.
pub async fn write_tiles(
    storage: &Storage,
    ledger: &LedgerId,
    dir: &Path,
    checkpoint: &Checkpoint,
) -> Result<TilesWritten, AuditError> {
    let size = checkpoint.size;
    let previous_size = written_size(dir)?;
    if previous_size > size {
        return Err(AuditError::invalid(format!(
            "{} holds tiles of a tree of {previous_size} events, larger than the checkpoint's \
             {size}: a mirror never goes back",
            dir.display()
        )));
    }
    std::fs::create_dir_all(dir).map_err(|e| write_err(dir, e))?;
    let mut written = write_level0(storage, ledger, dir, previous_size, size).await?;
    let dir_owned = dir.to_path_buf();
    let upper: Vec<Tile> = tiles::tiles_for(size, previous_size)
        .into_iter()
        .filter(|t| t.level() > 0)
        .collect();
    written += upper.len();
    let root = tokio::task::spawn_blocking(move || -> Result<Hash32, AuditError> {
        for tile in &upper {
            let level = tile.level();
            let mut hashes = Vec::with_capacity(usize::from(tile.width));
            for i in 0..u64::from(tile.width) {
                hashes.push(tiles::tile_root(&read_full(
                    &dir_owned,
                    level - 1,
                    tile.index * TILE_WIDTH + i,
                )?));
            }
            write_atomic(&tile_path(&dir_owned, tile), &tiles::encode_hashes(&hashes))?;
        }
        root_of_dir(&dir_owned, size)
    })
    .await
    .map_err(|e| AuditError::Worker(e.to_string()))??;
    if root != checkpoint.root {
        return Err(AuditError::invalid(format!(
            "the tiles in {} make root {root}, not the checkpoint's {}: the directory holds \
             another ledger's tiles or was edited",
            dir.display(),
            checkpoint.root
        )));
    }
    write_atomic(&dir.join(SIZE_FILE), size.to_string().as_bytes())?;
    Ok(TilesWritten {
        size,
        previous_size,
        tiles_written: written,
        root,
    })
}

/// Level-0 tiles and entry bundles from the first leaf of the tile holding
/// `previous_size`, read from the database with every link checked.
async fn write_level0(
    storage: &Storage,
    ledger: &LedgerId,
    dir: &Path,
    previous_size: u64,
    size: u64,
) -> Result<usize, AuditError> {
    let first_tile = previous_size / TILE_WIDTH;
    let mut next = first_tile * TILE_WIDTH + 1;
    let mut prev: Option<Hash32> = None;
    let mut chunk: Vec<Hash32> = Vec::with_capacity(TILE_WIDTH as usize);
    let mut index = first_tile;
    let mut written = 0;
    while next <= size {
        let rows = storage.read_page(ledger, next, READ_PAGE).await?;
        if rows.is_empty() {
            return Err(AuditError::invalid(format!(
                "the ledger ends before position {next}"
            )));
        }
        for row in rows.into_iter().take_while(|r| r.position <= size) {
            if row.position != next {
                return Err(AuditError::invalid(format!("position {next} is missing")));
            }
            let row_prev = Hash32::from_slice(&row.prev_hash)
                .map_err(|e| AuditError::invalid(format!("position {next}: {e}")))?;
            if prev.is_some_and(|p| p != row_prev) {
                return Err(AuditError::invalid(format!(
                    "position {next} does not link to its predecessor; run `icac-ledger verify`"
                )));
            }
            let hash = event_hash(&row_prev, &row.canonical);
            if hash.0.as_slice() != row.hash.as_slice() {
                return Err(AuditError::invalid(format!(
                    "position {next}: stored hash is not the hash of its bytes; run `icac-ledger verify`"
                )));
            }
            chunk.push(hash);
            prev = Some(hash);
            next += 1;
            if chunk.len() as u64 == TILE_WIDTH {
                written += write_level0_tile(dir, index, &chunk)?;
                chunk.clear();
                index += 1;
            }
        }
    }
    if !chunk.is_empty() {
        written += write_level0_tile(dir, index, &chunk)?;
    }
    Ok(written)
}

fn write_level0_tile(dir: &Path, index: u64, events: &[Hash32]) -> Result<usize, AuditError> {
    let width = events.len() as u16;
    let hashes = Tile {
        kind: TileKind::Hashes { level: 0 },
        index,
        width,
    };
    let entries = Tile {
        kind: TileKind::Entries,
        index,
        width,
    };
    write_atomic(
        &tile_path(dir, &hashes),
        &tiles::encode_hashes(&tiles::leaf_hashes_of_entries(events)),
    )?;
    write_atomic(&tile_path(dir, &entries), &tiles::encode_entries(events))?;
    Ok(2)
}

/// The tile holding the n-th hash of a level in a tree of `size` (full, or the
/// rightmost partial one).
fn tile_of(level: u8, n: u64, size: u64) -> Result<Tile, AuditError> {
    let index = n / TILE_WIDTH;
    let per_hash = 1u64
        .checked_shl(8 * u32::from(level))
        .ok_or_else(|| AuditError::invalid("level too high"))?;
    let hashes_in_level = size / per_hash;
    let full = hashes_in_level / TILE_WIDTH;
    let width = if index < full {
        TILE_WIDTH as u16
    } else {
        (hashes_in_level % TILE_WIDTH) as u16
    };
    Ok(Tile {
        kind: TileKind::Hashes { level },
        index,
        width,
    })
}

fn read_tile(dir: &Path, tile: &Tile) -> Result<Vec<Hash32>, AuditError> {
    let path = tile_path(dir, tile);
    let data = std::fs::read(&path).map_err(|e| read_err(&path, e))?;
    tiles::decode_hashes(&data, tile.width)
        .map_err(|e| AuditError::invalid(format!("{}: {e}", path.display())))
}

fn hash_in(hashes: &[Hash32], n: u64) -> Result<Hash32, AuditError> {
    hashes
        .get((n % TILE_WIDTH) as usize)
        .copied()
        .ok_or_else(|| AuditError::invalid("tile too short"))
}

/// The n-th hash of a level, read from the directory's tiles.
fn hash_at(dir: &Path, size: u64, level: u8, n: u64) -> Result<Hash32, AuditError> {
    let tile = tile_of(level, n, size)?;
    hash_in(&read_tile(dir, &tile)?, n)
}

/// The root of the tree of `size` leaves the directory's tiles make.
pub fn root_of_dir(dir: &Path, size: u64) -> Result<Hash32, AuditError> {
    tiles::root_from_tiles(size, |level, n| hash_at(dir, size, level, n))
}

/// The tiles directory as a proof source: O(log n) tile reads per proof (the last tile
/// read is kept, since a range's hashes come from one or two tiles).
pub struct TileSource<'a> {
    pub dir: &'a Path,
    pub size: u64,
    last: std::cell::RefCell<Option<(Tile, Vec<Hash32>)>>,
}

impl<'a> TileSource<'a> {
    pub fn new(dir: &'a Path, size: u64) -> Self {
        Self {
            dir,
            size,
            last: std::cell::RefCell::new(None),
        }
    }

    fn hash(&self, level: u8, n: u64) -> Result<Hash32, AuditError> {
        let tile = tile_of(level, n, self.size)?;
        let mut last = self.last.borrow_mut();
        if let Some((t, hashes)) = last.as_ref() {
            if *t == tile {
                return hash_in(hashes, n);
            }
        }
        let hashes = read_tile(self.dir, &tile)?;
        let h = hash_in(&hashes, n);
        *last = Some((tile, hashes));
        h
    }
}

impl LeafSource for TileSource<'_> {
    fn len(&self) -> u64 {
        self.size
    }

    fn leaf_hash(&self, index: u64) -> Result<Hash32, SourceError> {
        Ok(self.hash(0, index)?)
    }

    fn range_hash(&self, start: u64, end: u64) -> Result<Option<Hash32>, SourceError> {
        Ok(tiles::range_from_tiles(start, end, |level, n| {
            self.hash(level, n)
        })?)
    }
}

/// Publishes a checkpoint note as `<dir>/checkpoint` (after its tiles are written).
pub fn write_checkpoint(dir: &Path, note: &str) -> Result<(), AuditError> {
    write_atomic(&dir.join("checkpoint"), note.as_bytes())
}

/// What a request for a path under the tiles prefix gets.
#[derive(Debug)]
pub enum Served {
    Checkpoint(Vec<u8>),
    Tile(Vec<u8>),
}

/// Why a tiles request has no answer.
#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error("{0}")]
    BadPath(#[from] tiles::TileError),
    #[error("no checkpoint has been published yet")]
    NothingPublished,
    #[error("{0} is past the published tree size {1}")]
    PastTreeSize(String, u64),
    #[error("tile {0} is not held")]
    Missing(String),
    #[error(transparent)]
    Io(#[from] std::io::Error),
}

/// Reads `path` (relative to the prefix) from the directory, for a tree published at
/// `published_size`: a tile past it is refused even if a newer tile is on disk.
pub fn serve(dir: &Path, path: &str, published_size: Option<u64>) -> Result<Served, ServeError> {
    let read = |p: &Path| match std::fs::read(p) {
        Ok(b) => Ok(Some(b)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(ServeError::Io(e)),
    };
    if path == "checkpoint" {
        return read(&dir.join("checkpoint"))?
            .map(Served::Checkpoint)
            .ok_or(ServeError::NothingPublished);
    }
    let tile = Tile::parse(path)?;
    let size = published_size.ok_or(ServeError::NothingPublished)?;
    if !tile.within(size) {
        return Err(ServeError::PastTreeSize(tile.path(), size));
    }
    read(&tile_path(dir, &tile))?
        .map(Served::Tile)
        .ok_or_else(|| ServeError::Missing(tile.path()))
}
