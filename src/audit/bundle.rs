//! Export bundles: a ledger (or a range of it) as JSON Lines that verify offline.
//!
//! ```text
//! {"icac_ledger_bundle":{...header...}}      ledger id, range, keyring, Merkle prefix
//! {...event...}                               one line per event: SealedEvent::to_json()
//! ...
//! {"trailer":{...}}                           count, head, root, signed checkpoint
//! ```
//!
//! Every line is RFC 8785 canonical JSON, so any edit to a byte either breaks canonical
//! form or changes a value that a hash, signature or the signed checkpoint covers. The
//! trailer makes truncation visible. The format is specified in docs/LEDGER_FORMAT.md.

use std::fs::File;
use std::io::{BufRead, BufReader, BufWriter, Read, Write};
use std::path::Path;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use super::checkpointer::{self, SignedCheckpoint};
use super::trust::{check_entries, TrustRoot};
use super::verify::{
    Break, BreakKind, ChainVerifier, CheckpointClaim, RawEvent, Report, VerifyOptions,
};
use super::AuditError;
use crate::ledger::{keyring, sealed_from_row};
use crate::storage::{Storage, READ_PAGE};
use icac_format::canonical::{parse_canonical, to_canonical_bytes};
use icac_format::chain::{Hash32, GENESIS_PREV_HASH};
use icac_format::checkpoint;
use icac_format::keys::{KeyId, KeyringEntry, LedgerKey};
use icac_format::merkle::MerkleAccumulator;
use icac_format::record::{LedgerId, MAX_EVENT_BYTES};

pub const BUNDLE_FORMAT: &str = "icac-ledger-bundle";
pub const BUNDLE_VERSION: u64 = 1;
/// An event line: the canonical event plus `hash` and `signature` and their keys.
pub const MAX_LINE_BYTES: usize = MAX_EVENT_BYTES + 1024;
/// The header carries the keyring (bounded by `trust::MAX_KEYS`) and a frontier.
pub const MAX_HEADER_BYTES: usize = 2 * 1024 * 1024;
pub const MAX_TRAILER_BYTES: usize = 64 * 1024;
/// Event lines per page handed to the verifier.
const BUNDLE_PAGE: usize = super::verify::BATCH;
const HEADER_KEY: &str = "icac_ledger_bundle";
const TRAILER_KEY: &str = "trailer";
const TRAILER_PREFIX: &[u8] = b"{\"trailer\":";

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Header {
    pub format: String,
    pub format_version: u64,
    pub ledger_id: LedgerId,
    /// First and last position in the bundle.
    pub from: u64,
    pub to: u64,
    /// Hash of the event at `from - 1` (zero when `from == 1`).
    pub prev_hash: Hash32,
    /// RFC 6962 compact range of positions `1..from`: lets the verifier compute the
    /// Merkle root at `to` (and match it to the signed checkpoint) without those events.
    pub prefix_frontier: Vec<Hash32>,
    pub genesis_key_id: KeyId,
    /// The ledger's keyring at export time.
    pub keyring: Vec<KeyringEntry>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Trailer {
    pub count: u64,
    pub head: Hash32,
    pub root: Hash32,
    /// C2SP signed note: the checkpoint of the ledger at position `to`.
    pub checkpoint: String,
}

/// What `export` wrote.
#[derive(Debug, Clone, Serialize)]
pub struct ExportSummary {
    pub ledger_id: String,
    pub from: u64,
    pub to: u64,
    pub count: u64,
    pub head: Hash32,
    pub root: Hash32,
    pub path: String,
}

fn canonical_line<T: Serialize>(key: &str, value: &T) -> Result<Vec<u8>, AuditError> {
    let inner = serde_json::to_value(value).map_err(|e| AuditError::invalid(e.to_string()))?;
    let mut map = serde_json::Map::new();
    map.insert(key.to_owned(), inner);
    let mut bytes =
        to_canonical_bytes(&Value::Object(map)).map_err(|e| AuditError::invalid(e.to_string()))?;
    bytes.push(b'\n');
    Ok(bytes)
}

/// Writes positions `from..=to` of the ledger to `out` (a new file, written via a
/// temporary name so a crash never leaves a bundle that looks complete).
///
/// The trailer's checkpoint is signed with `key` (and stored), or taken from the stored
/// checkpoints when the latest one has exactly size `to`.
pub async fn export(
    storage: &Storage,
    ledger: &LedgerId,
    key: Option<&LedgerKey>,
    out: &Path,
    from: Option<u64>,
    to: Option<u64>,
) -> Result<ExportSummary, AuditError> {
    export_with_progress(storage, ledger, key, out, from, to, |_, _| {}).await
}

/// [`export`], telling `progress` (position reached, last position) after each page
/// read (it only watches; the bundle is the same without it).
pub async fn export_with_progress(
    storage: &Storage,
    ledger: &LedgerId,
    key: Option<&LedgerKey>,
    out: &Path,
    from: Option<u64>,
    to: Option<u64>,
    mut progress: impl FnMut(u64, u64),
) -> Result<ExportSummary, AuditError> {
    storage.check_schema().await?;
    let head = storage.head(ledger).await?;
    let from = from.unwrap_or(1);
    let to = to.unwrap_or(head.position);
    if from == 0 || from > to || to > head.position {
        return Err(AuditError::invalid(format!(
            "export range {from}..={to} is not within the ledger's positions 1..={}",
            head.position
        )));
    }
    let ring = keyring(storage, ledger).await?;
    let entries: Vec<KeyringEntry> = ring.entries().cloned().collect();
    let genesis = entries
        .iter()
        .find(|e| e.valid_from == 1)
        .map(|e| e.key_id.clone())
        .ok_or_else(|| AuditError::invalid("the ledger has no genesis key"))?;

    let tmp = out.with_extension("partial");
    let write_err = |source| AuditError::Write {
        path: out.display().to_string(),
        source,
    };
    let mut w = BufWriter::new(File::create(&tmp).map_err(write_err)?);
    let mut acc = MerkleAccumulator::new();
    let mut prev = GENESIS_PREV_HASH;
    let mut header_written = false;
    let mut next = 1u64;
    let mut last_hash = GENESIS_PREV_HASH;
    while next <= to {
        let rows = storage.read_page(ledger, next, READ_PAGE).await?;
        if rows.is_empty() {
            break;
        }
        for row in rows {
            if row.position != next || next > to {
                break;
            }
            let hash = Hash32::from_slice(&row.hash).map_err(|_| {
                AuditError::invalid(format!("position {next}: stored hash is not 32 bytes"))
            })?;
            if next == from && !header_written {
                let header = Header {
                    format: BUNDLE_FORMAT.into(),
                    format_version: BUNDLE_VERSION,
                    ledger_id: ledger.clone(),
                    from,
                    to,
                    prev_hash: prev,
                    prefix_frontier: acc.frontier().to_vec(),
                    genesis_key_id: genesis.clone(),
                    keyring: entries.clone(),
                };
                w.write_all(&canonical_line(HEADER_KEY, &header)?)
                    .map_err(write_err)?;
                header_written = true;
            }
            if next >= from {
                let sealed = sealed_from_row(row)?;
                let mut line = to_canonical_bytes(&sealed.to_json())
                    .map_err(|e| AuditError::invalid(format!("position {next}: {e}")))?;
                line.push(b'\n');
                w.write_all(&line).map_err(write_err)?;
            }
            acc.push(&hash)?;
            prev = hash;
            last_hash = hash;
            next += 1;
        }
        progress(next - 1, to);
    }
    if next != to + 1 {
        return Err(AuditError::invalid(format!(
            "the ledger has a gap before position {next}; run `icac-ledger verify`"
        )));
    }
    let root = acc.root();
    let note = match trailer_checkpoint(storage, ledger, key, &entries, to, root, last_hash).await {
        Ok(note) => note,
        Err(e) => {
            drop(w);
            let _ = std::fs::remove_file(&tmp);
            return Err(e);
        }
    };
    let trailer = Trailer {
        count: to - from + 1,
        head: last_hash,
        root,
        checkpoint: note,
    };
    w.write_all(&canonical_line(TRAILER_KEY, &trailer)?)
        .map_err(write_err)?;
    let file = w.into_inner().map_err(|e| write_err(e.into_error()))?;
    file.sync_all().map_err(write_err)?;
    std::fs::rename(&tmp, out).map_err(write_err)?;
    Ok(ExportSummary {
        ledger_id: ledger.to_string(),
        from,
        to,
        count: to - from + 1,
        head: last_hash,
        root,
        path: out.display().to_string(),
    })
}

async fn trailer_checkpoint(
    storage: &Storage,
    ledger: &LedgerId,
    key: Option<&LedgerKey>,
    keyring: &[KeyringEntry],
    size: u64,
    root: Hash32,
    head: Hash32,
) -> Result<String, AuditError> {
    if let Some(row) = storage.latest_checkpoint(ledger).await? {
        if row.size == size && row.root == root.0 && row.head == head.0 {
            return Ok(row.note);
        }
    }
    let key = key.ok_or_else(|| {
        AuditError::invalid(format!(
            "no stored checkpoint at position {size}; the signing key (--key) is needed to sign one"
        ))
    })?;
    // A verifier of positions up to `size` knows only the keys introduced by then (by the
    // genesis or a rotation event among them, or the header's entries valid at `from`):
    // a checkpoint signed with a key rotated in later makes a genuine bundle verify as
    // broken. A rotation at position p introduces a key valid from p + 1.
    // Likewise a key retired before `size` may not vouch for it (section 7).
    if let Some(entry) = keyring.iter().find(|e| &e.key_id == key.id()) {
        if !entry.may_sign_tree(size) {
            return Err(AuditError::invalid(format!(
                "the signing key {} may sign only trees of size {}, not {size}: use the key \
                 active at position {size}, or export a range ending within its period",
                entry.key_id,
                entry.tree_period()
            )));
        }
    }
    let signed: SignedCheckpoint = checkpointer::sign_checkpoint(ledger, key, size, root, head)?;
    checkpointer::store(storage, ledger, key, &signed).await?;
    Ok(signed.note)
}

/// Reads one line of at most `limit` bytes. `Ok(None)` at end of input; the flag says
/// whether the line ended with a newline (a missing one means the file was cut).
fn read_line<R: BufRead>(
    r: &mut R,
    limit: usize,
    buf: &mut Vec<u8>,
) -> std::io::Result<Option<bool>> {
    buf.clear();
    let n = r.by_ref().take(limit as u64 + 1).read_until(b'\n', buf)?;
    if n == 0 {
        return Ok(None);
    }
    let terminated = buf.last() == Some(&b'\n');
    if terminated {
        buf.pop();
    }
    Ok(Some(terminated))
}

enum Msg {
    Page(Vec<RawEvent>),
    Trailer(Vec<u8>),
    /// The file ends without a newline after its last line.
    Cut,
    TooLong,
    Extra,
    Io(String),
}

/// The event pages of a bundle as they are read; what comes after them (trailer, a
/// cut line, an I/O error) is kept in `tail`, in order.
struct Pages {
    rx: std::sync::mpsc::Receiver<Msg>,
    tail: Vec<Msg>,
}

impl Iterator for Pages {
    type Item = Vec<RawEvent>;

    fn next(&mut self) -> Option<Vec<RawEvent>> {
        loop {
            match self.rx.recv().ok()? {
                Msg::Page(p) => return Some(p),
                other => self.tail.push(other),
            }
        }
    }
}

/// Verifies a bundle file. Needs no database and no configuration.
pub fn verify_bundle_file(path: &Path, options: VerifyOptions) -> Result<Report, AuditError> {
    let file = File::open(path).map_err(|source| AuditError::Read {
        path: path.display().to_string(),
        source,
    })?;
    let source = format!("bundle {}", path.display());
    verify_bundle(
        Box::new(BufReader::with_capacity(1 << 20, file)),
        &source,
        options,
    )
}

fn header_break(
    source: &str,
    ledger: Option<&LedgerId>,
    trust: &TrustRoot,
    detail: String,
) -> Report {
    let ledger = ledger.cloned().or_else(|| LedgerId::new("unknown").ok());
    let mut v = match ledger {
        Some(id) => ChainVerifier::new(id, trust.clone()),
        // "unknown" is a valid id; this arm cannot be reached but must not panic.
        None => return empty_report(source, detail),
    };
    v.fail(0, BreakKind::BundleMalformed, format!("header: {detail}"));
    v.finish(source)
}

fn empty_report(source: &str, detail: String) -> Report {
    Report {
        ledger_id: String::new(),
        source: source.to_owned(),
        intact: false,
        from: 1,
        events_verified: 0,
        head_position: 0,
        head_hash: Hash32::ZERO,
        merkle_root: icac_format::merkle::EMPTY_ROOT,
        genesis_key_id: None,
        commit_clock: None,
        unverified_header_keys: Vec::new(),
        trust: String::new(),
        checkpoints: Vec::new(),
        first_break: Some(Break {
            position: 0,
            kind: BreakKind::BundleMalformed,
            detail,
        }),
        elapsed_seconds: 0.0,
        events_per_second: 0.0,
    }
}

fn parse_tagged<T: for<'de> Deserialize<'de>>(line: &[u8], key: &str) -> Result<T, String> {
    let value = parse_canonical(line).map_err(|e| format!("not canonical JSON: {e}"))?;
    let Value::Object(mut map) = value else {
        return Err("not a JSON object".into());
    };
    let inner = map
        .remove(key)
        .ok_or_else(|| format!("no {key:?} object"))?;
    if !map.is_empty() {
        return Err("unexpected members".into());
    }
    serde_json::from_value(inner).map_err(|e| e.to_string())
}

/// Verifies a bundle read from `input`; `source` names it in the report.
pub fn verify_bundle(
    mut input: Box<dyn BufRead + Send>,
    source: &str,
    options: VerifyOptions,
) -> Result<Report, AuditError> {
    let trust = options.trust.clone();
    let header = match read_header(&mut input, source, &trust)? {
        Ok(header) => header,
        Err(report) => return Ok(report),
    };
    let mut verifier = match start_verifier(&header, &trust, source) {
        Ok(v) => v,
        Err(report) => return Ok(*report),
    };
    for claim in options.checkpoints {
        verifier.expect_checkpoint(claim)?;
    }

    let (tx, rx) = std::sync::mpsc::sync_channel::<Msg>(2);
    let reader = std::thread::spawn(move || read_pages(input, tx));
    let pages = verifier.run(Pages {
        rx,
        tail: Vec::new(),
    });
    let Pages { rx, tail } = pages;
    drop(rx);
    let _ = reader.join();

    // After a break nothing that follows matters (stage 1 may have read ahead of it).
    if verifier.is_broken() {
        return Ok(verifier.finish(source));
    }
    let (trailer, ending) = read_tail(tail, source)?;
    let next = verifier.next_position();
    if let Some((kind, detail)) = ending {
        verifier.fail(next, kind, detail);
    } else if let Err((kind, detail)) = check_trailer(&verifier, &header, trailer.as_deref()) {
        verifier.fail(next, kind, detail);
    } else if let Err(detail) = check_header_keyring(&verifier, &header) {
        verifier.fail(0, BreakKind::BundleMalformed, format!("header: {detail}"));
    }
    Ok(verifier.finish(source))
}

/// The bundle's first line, parsed and checked; `Ok(Err(report))`: the header is
/// broken and `report` says how.
fn read_header(
    input: &mut Box<dyn BufRead + Send>,
    source: &str,
    trust: &TrustRoot,
) -> Result<Result<Header, Report>, AuditError> {
    let mut buf = Vec::new();
    let read_err = |e: std::io::Error| AuditError::Read {
        path: source.to_owned(),
        source: e,
    };
    let broken =
        |id: Option<&LedgerId>, detail: String| Ok(Err(header_break(source, id, trust, detail)));
    let header_line = match read_line(input, MAX_HEADER_BYTES, &mut buf).map_err(read_err)? {
        None => return broken(None, "the bundle is empty".into()),
        Some(false) => return broken(None, "the bundle ends inside its header".into()),
        Some(true) => std::mem::take(&mut buf),
    };
    let header: Header = match parse_tagged(&header_line, HEADER_KEY) {
        Ok(h) => h,
        Err(e) => return broken(None, e),
    };
    if let Err(detail) = check_header(&header) {
        return broken(Some(&header.ledger_id), detail);
    }
    Ok(Ok(header))
}

/// The chain verifier for a bundle starting at `header.from`: fresh at position 1,
/// else resumed from the header's prefix. `Err(report)`: the prefix does not hold.
fn start_verifier(
    header: &Header,
    trust: &TrustRoot,
    source: &str,
) -> Result<ChainVerifier, Box<Report>> {
    let id = header.ledger_id.clone();
    if header.from == 1 {
        return Ok(ChainVerifier::new(id, trust.clone()));
    }
    let acc = MerkleAccumulator::from_frontier(header.from - 1, header.prefix_frontier.clone())
        .map_err(|e| {
            Box::new(header_break(
                source,
                Some(&id),
                trust,
                format!("prefix_frontier: {e}"),
            ))
        })?;
    ChainVerifier::resume(
        id.clone(),
        trust.clone(),
        header.from,
        header.prev_hash,
        acc,
        &header.keyring,
    )
    .map_err(|(kind, detail)| {
        let mut v = ChainVerifier::new(id, trust.clone());
        v.fail(
            if kind == BreakKind::BundleMalformed {
                0
            } else {
                header.from
            },
            kind,
            detail,
        );
        Box::new(v.finish(source))
    })
}

/// The reader thread: sends the bundle's event lines in pages of `BUNDLE_PAGE`, then
/// what ends them (the trailer, a cut or overlong line, lines after the trailer, or
/// an I/O error), and stops at the first of those or when the verifier hangs up.
fn read_pages(mut input: Box<dyn BufRead + Send>, tx: std::sync::mpsc::SyncSender<Msg>) {
    let mut page = Vec::with_capacity(BUNDLE_PAGE);
    let mut line = Vec::new();
    loop {
        let msg = match read_line(&mut input, MAX_LINE_BYTES.max(MAX_TRAILER_BYTES), &mut line) {
            Err(e) => Msg::Io(e.to_string()),
            Ok(None) => break,
            Ok(Some(false)) if line.len() > MAX_LINE_BYTES.max(MAX_TRAILER_BYTES) => Msg::TooLong,
            Ok(Some(false)) => Msg::Cut,
            Ok(Some(true)) if line.starts_with(TRAILER_PREFIX) => {
                let trailer = std::mem::take(&mut line);
                // Anything after the trailer is not part of the bundle.
                let extra = match read_line(&mut input, 1, &mut line) {
                    Ok(None) => None,
                    _ => Some(Msg::Extra),
                };
                if !page.is_empty() && tx.send(Msg::Page(std::mem::take(&mut page))).is_err() {
                    return;
                }
                let _ = tx.send(Msg::Trailer(trailer));
                if let Some(m) = extra {
                    let _ = tx.send(m);
                }
                return;
            }
            Ok(Some(true)) => {
                page.push(RawEvent::Line(std::mem::take(&mut line)));
                if page.len() < BUNDLE_PAGE {
                    continue;
                }
                Msg::Page(std::mem::replace(
                    &mut page,
                    Vec::with_capacity(BUNDLE_PAGE),
                ))
            }
        };
        let stop = !matches!(msg, Msg::Page(_));
        if !page.is_empty() && stop && tx.send(Msg::Page(std::mem::take(&mut page))).is_err() {
            return;
        }
        if tx.send(msg).is_err() || stop {
            return;
        }
    }
    if !page.is_empty() {
        let _ = tx.send(Msg::Page(page));
    }
}

/// What followed the event pages of an unbroken chain: the trailer line, and how the
/// bundle ended if not with a trailer alone.
type Tail = (Option<Vec<u8>>, Option<(BreakKind, String)>);

fn read_tail(tail: Vec<Msg>, source: &str) -> Result<Tail, AuditError> {
    let mut trailer: Option<Vec<u8>> = None;
    for msg in tail {
        let ending = match msg {
            Msg::Page(_) => continue,
            Msg::Trailer(t) => {
                trailer = Some(t);
                continue;
            }
            Msg::Cut => (
                BreakKind::BundleTruncated,
                "the bundle ends in the middle of a line".into(),
            ),
            Msg::TooLong => (
                BreakKind::ContentAltered,
                format!("a line is longer than {MAX_LINE_BYTES} bytes"),
            ),
            Msg::Extra => (
                BreakKind::BundleMalformed,
                "the trailer is followed by more lines".into(),
            ),
            Msg::Io(e) => return Err(AuditError::invalid(format!("reading {source}: {e}"))),
        };
        return Ok((trailer, Some(ending)));
    }
    Ok((trailer, None))
}

fn check_header(h: &Header) -> Result<(), String> {
    if h.format != BUNDLE_FORMAT {
        return Err(format!("format is {:?}, not {BUNDLE_FORMAT:?}", h.format));
    }
    if h.format_version != BUNDLE_VERSION {
        return Err(format!(
            "format_version {} is not supported (this icac-ledger reads {BUNDLE_VERSION})",
            h.format_version
        ));
    }
    if h.from == 0 || h.to < h.from {
        return Err(format!("range {}..={} is empty or invalid", h.from, h.to));
    }
    if h.from == 1 && (h.prev_hash != GENESIS_PREV_HASH || !h.prefix_frontier.is_empty()) {
        return Err("a bundle from position 1 must have a zero prev_hash and no prefix".into());
    }
    check_entries(&h.keyring).map_err(|e| format!("keyring: {e}"))?;
    if !h
        .keyring
        .iter()
        .any(|e| e.valid_from == 1 && e.key_id == h.genesis_key_id)
    {
        return Err("genesis_key_id is not the keyring's key from position 1".into());
    }
    Ok(())
}

/// The trailer must account for exactly the events read, and its checkpoint must be
/// signed by the ledger's key over the root and head the verifier computed.
fn check_trailer(
    v: &ChainVerifier,
    h: &Header,
    line: Option<&[u8]>,
) -> Result<(), (BreakKind, String)> {
    let (last, head) = v.head();
    let line = line.ok_or_else(|| {
        (
            BreakKind::BundleTruncated,
            format!("the bundle ends after position {last} without its trailer"),
        )
    })?;
    let t: Trailer = parse_tagged(line, TRAILER_KEY)
        .map_err(|e| (BreakKind::BundleMalformed, format!("trailer: {e}")))?;
    if last != h.to {
        return Err((
            BreakKind::BundleTruncated,
            format!(
                "the header promises positions up to {}, the events end at {last}",
                h.to
            ),
        ));
    }
    let count = last + 1 - h.from;
    let malformed = |d: String| (BreakKind::BundleMalformed, format!("trailer: {d}"));
    if t.count != count {
        return Err(malformed(format!(
            "count is {}, the bundle has {count} events",
            t.count
        )));
    }
    if t.head != head || t.root != v.root() {
        return Err(malformed("head or root does not match the events".into()));
    }
    let cp = v
        .open_checkpoint(&t.checkpoint)
        .map_err(|e| malformed(format!("checkpoint refused: {e}")))?;
    if cp.ledger_id != h.ledger_id.as_str()
        || cp.size != last
        || cp.root != v.root()
        || cp.head != head
    {
        return Err(malformed(format!(
            "signed checkpoint (size {}, root {}) does not match the events (size {last}, root {})",
            cp.size,
            cp.root,
            v.root()
        )));
    }
    Ok(())
}

/// The keyring the verifier ends with comes from the key events (and, in a partial
/// bundle, the header's keys valid at `from`); the header's copy must agree with it (the
/// header may know of rotations after `to`). A partial bundle is held to the rotations
/// among its events too.
fn check_header_keyring(v: &ChainVerifier, h: &Header) -> Result<(), String> {
    let Some(ring) = v.keyring() else {
        return Err("no keyring derived from the events".into());
    };
    let derived: Vec<&KeyringEntry> = ring.entries().collect();
    if derived.len() > h.keyring.len() {
        return Err("the keyring lacks keys the events introduce".into());
    }
    for (d, c) in derived.iter().zip(&h.keyring) {
        let same = d.key_id == c.key_id
            && d.public_key == c.public_key
            && d.valid_from == c.valid_from
            && (d.valid_to == c.valid_to || d.valid_to.is_none());
        if !same {
            return Err(format!(
                "keyring entry for {} differs from the key events",
                c.key_id
            ));
        }
    }
    if let Some(extra) = h.keyring.get(derived.len()) {
        if extra.valid_from <= h.to {
            return Err(format!(
                "keyring key {} is not introduced by the events",
                extra.key_id
            ));
        }
    }
    Ok(())
}

/// Reads a whole checkpoint note file (bounded).
pub fn read_note_file(path: &Path) -> Result<String, AuditError> {
    let read_err = |source| AuditError::Read {
        path: path.display().to_string(),
        source,
    };
    let mut text = String::new();
    File::open(path)
        .map_err(read_err)?
        .take(checkpoint::MAX_NOTE_SIZE as u64 + 1)
        .read_to_string(&mut text)
        .map_err(read_err)?;
    Ok(text)
}

/// Parses a checkpoint file as a claim the ledger must extend.
pub fn claim_from_file(path: &Path) -> Result<CheckpointClaim, AuditError> {
    let note = read_note_file(path)?;
    CheckpointClaim::parse(&note, &format!("checkpoint {}", path.display()))
}
