//! A validating, zero-copy view of a canonical event record: the verifier's fast path.
//!
//! `EventRecord::from_canonical` proves bytes canonical by parsing them into a
//! `serde_json::Value`, serializing that again and comparing, then converting the value
//! into a record: three passes and an allocation per JSON node, which cost more than the
//! signature check. [`view_record`] does the same job in one pass over the bytes, without
//! building anything, for the *common* shape of a record.
//!
//! The contract is one-sided: when it returns `Some`, the slow path would have accepted
//! the same bytes and produced the same fields (a property test below checks this on
//! random mutations). When it returns `None`, nothing is concluded: the caller runs the
//! slow path, which decides and words the error. So the fast path may refuse anything
//! unusual (escapes in object keys, escapes in the fields it returns, missing optional
//! members) without changing what verification accepts or how it reports.
//!
//! What "canonical" means is the output of `icac_format::canonical::to_canonical_bytes`: no
//! whitespace, members sorted by UTF-16 code units without duplicates, strings escaped
//! exactly as ECMAScript does, numbers only safe integers in shortest form, nesting at
//! most `MAX_DEPTH`.

use std::cmp::Ordering;

use icac_format::canonical::{MAX_DEPTH, MAX_SAFE_INTEGER};
use icac_format::chain::Hash32;
use icac_format::record::LedgerId;

/// The fields of a record the verifier reads, borrowed from its canonical bytes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RecordView<'a> {
    pub ledger_id: &'a str,
    pub position: u64,
    pub aggregate_type: &'a str,
    pub aggregate_id: &'a str,
    pub sequence: u64,
    pub event_type: &'a str,
    pub event_version: &'a str,
    pub recorded_at: &'a str,
    pub prev_hash: Hash32,
    pub key_id: &'a str,
    /// 1 for a record without `format_version`, else its value.
    pub format_version: u64,
}

/// A bundle line: a record with its `hash` and `signature` members.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LineView<'a> {
    pub record: RecordView<'a>,
    pub hash: Hash32,
    pub signature: [u8; 64],
    /// The record's canonical bytes are the line without these two byte ranges (each a
    /// member with its leading comma), in order.
    pub cut: [(usize, usize); 2],
}

/// Members of a record, in canonical order.
const RECORD_KEYS: [&str; 11] = [
    "aggregate_id",
    "aggregate_type",
    "event_type",
    "event_version",
    "key_id",
    "ledger_id",
    "metadata",
    "payload",
    "position",
    "prev_hash",
    "sequence",
];

/// Members of a bundle line, in canonical order.
const LINE_KEYS: [&str; 13] = [
    "aggregate_id",
    "aggregate_type",
    "event_type",
    "event_version",
    "hash",
    "key_id",
    "ledger_id",
    "metadata",
    "payload",
    "position",
    "prev_hash",
    "sequence",
    "signature",
];

const METADATA_KEYS: [&str; 5] = [
    "correlation_id",
    "principal",
    "recorded_at",
    "request_id",
    "unit",
];

/// Where `format_version` sorts among a record's members (after `event_version`).
const FORMAT_VERSION_AT: usize = 4;
const FORMAT_VERSION_KEY: &str = "format_version";

/// Views canonical record bytes; `None` means "use the slow path".
pub fn view_record(bytes: &[u8]) -> Option<RecordView<'_>> {
    let mut members = top_level(bytes, RECORD_KEYS.len() + 1)?;
    let version = take_format_version(bytes, &mut members)?;
    if !keys_are(bytes, &members, &RECORD_KEYS) {
        return None;
    }
    record_fields(bytes, &members, version)
}

/// Views a bundle line; `None` means "use the slow path".
pub fn view_line(bytes: &[u8]) -> Option<LineView<'_>> {
    let mut members = top_level(bytes, LINE_KEYS.len() + 1)?;
    let version = take_format_version(bytes, &mut members)?;
    if !keys_are(bytes, &members, &LINE_KEYS) {
        return None;
    }
    let hash_m = members[4];
    let sig_m = members[12];
    let record_members: Vec<Member> = members
        .iter()
        .enumerate()
        .filter(|(i, _)| *i != 4 && *i != 12)
        .map(|(_, m)| *m)
        .collect();
    let record = record_fields(bytes, &record_members, version)?;
    let hash = Hash32::from_hex(plain_string(bytes, hash_m.value)?).ok()?;
    let sig_hex = plain_string(bytes, sig_m.value)?;
    if sig_hex.len() != 128 || sig_hex.bytes().any(|b| b.is_ascii_uppercase()) {
        return None;
    }
    let mut signature = [0u8; 64];
    hex::decode_to_slice(sig_hex, &mut signature).ok()?;
    Some(LineView {
        record,
        hash,
        signature,
        // Neither member is first, so each is preceded by a comma.
        cut: [
            (hash_m.start - 1, hash_m.value.1),
            (sig_m.start - 1, sig_m.value.1),
        ],
    })
}

/// One object member: where its key starts (at the quote) and its key and value spans
/// (the key without quotes; the value as written).
#[derive(Debug, Clone, Copy)]
struct Member {
    start: usize,
    key: (usize, usize),
    value: (usize, usize),
}

/// Validates the whole document as canonical JSON whose root is an object, and returns
/// the root's members (at most `max` of them).
fn top_level(bytes: &[u8], max: usize) -> Option<Vec<Member>> {
    // Every string slice below starts and ends next to an ASCII quote, so it is valid
    // UTF-8 once the whole buffer is.
    std::str::from_utf8(bytes).ok()?;
    let mut p = Parser { b: bytes, i: 0 };
    let mut members = Vec::with_capacity(max);
    p.object(0, Some((&mut members, max)))?;
    (p.i == bytes.len()).then_some(members)
}

fn keys_are(bytes: &[u8], members: &[Member], expected: &[&str]) -> bool {
    members.len() == expected.len()
        && members
            .iter()
            .zip(expected)
            .all(|(m, k)| &bytes[m.key.0..m.key.1] == k.as_bytes())
}

/// Removes a version 2 record's `format_version` member, which must be exactly `2`;
/// the version of the record (1 when the member is absent). `None`: slow path.
fn take_format_version(bytes: &[u8], members: &mut Vec<Member>) -> Option<u64> {
    let is_version = members
        .get(FORMAT_VERSION_AT)
        .is_some_and(|m| &bytes[m.key.0..m.key.1] == FORMAT_VERSION_KEY.as_bytes());
    if !is_version {
        return Some(1);
    }
    let m = members.remove(FORMAT_VERSION_AT);
    (&bytes[m.value.0..m.value.1] == b"2").then_some(2)
}

/// Whether a version 2 payload's sealed values all have the one allowed shape,
/// `{"sealed":"<64 lowercase hex>"}`, and no `unsealed` marker is left. Canonical
/// strings escape every quote, so `"sealed":` can only be a member name here.
fn sealed_shapes_ok(payload: &[u8]) -> bool {
    const SEALED: &[u8] = b"\"sealed\":";
    const UNSEALED: &[u8] = b"\"unsealed\":";
    if payload.windows(UNSEALED.len()).any(|w| w == UNSEALED) {
        return false;
    }
    let mut at = 0;
    while let Some(found) = payload[at..]
        .windows(SEALED.len())
        .position(|w| w == SEALED)
    {
        let start = at + found;
        let value = start + SEALED.len();
        let ok = start > 0
            && payload[start - 1] == b'{'
            && payload.len() >= value + 68
            && payload[value] == b'"'
            && payload[value + 1..value + 65]
                .iter()
                .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(b))
            && &payload[value + 65..value + 67] == b"\"}";
        if !ok {
            return false;
        }
        at = value + 67;
    }
    true
}

fn record_fields<'a>(bytes: &'a [u8], m: &[Member], format_version: u64) -> Option<RecordView<'a>> {
    let ledger_id = plain_string(bytes, m[5].value)?;
    LedgerId::new(ledger_id).ok()?;
    let metadata = &bytes[m[6].value.0..m[6].value.1];
    let recorded_at = metadata_recorded_at(metadata)?;
    if format_version >= 2 && !sealed_shapes_ok(&bytes[m[7].value.0..m[7].value.1]) {
        return None;
    }
    Some(RecordView {
        format_version,
        aggregate_id: plain_string(bytes, m[0].value)?,
        aggregate_type: plain_string(bytes, m[1].value)?,
        event_type: plain_string(bytes, m[2].value)?,
        event_version: plain_string(bytes, m[3].value)?,
        key_id: plain_string(bytes, m[4].value)?,
        ledger_id,
        // m[7] is the payload: any JSON value, already validated.
        position: unsigned(bytes, m[8].value)?,
        prev_hash: Hash32::from_hex(plain_string(bytes, m[9].value)?).ok()?,
        sequence: unsigned(bytes, m[10].value)?,
        recorded_at,
    })
}

/// The metadata object (already validated) must have exactly the five members, with
/// strings where the record has `String` and a string or null where it has `Option`.
fn metadata_recorded_at(obj: &[u8]) -> Option<&str> {
    let mut p = Parser { b: obj, i: 0 };
    let mut members = Vec::with_capacity(METADATA_KEYS.len());
    p.object(0, Some((&mut members, METADATA_KEYS.len())))?;
    if !keys_are(obj, &members, &METADATA_KEYS) {
        return None;
    }
    let is_string = |m: &Member| obj[m.value.0] == b'"';
    let is_null = |m: &Member| &obj[m.value.0..m.value.1] == b"null";
    let [correlation_id, principal, recorded_at, request_id, unit] = [
        &members[0],
        &members[1],
        &members[2],
        &members[3],
        &members[4],
    ];
    let ok = (is_string(correlation_id) || is_null(correlation_id))
        && is_string(principal)
        && is_string(request_id)
        && (is_string(unit) || is_null(unit));
    ok.then_some(())?;
    plain_string(obj, recorded_at.value)
}

/// A string value without escapes, as a `&str`; `None` for anything else.
fn plain_string(bytes: &[u8], (start, end): (usize, usize)) -> Option<&str> {
    if end - start < 2 || bytes[start] != b'"' {
        return None;
    }
    let inner = &bytes[start + 1..end - 1];
    if inner.contains(&b'\\') {
        return None;
    }
    std::str::from_utf8(inner).ok()
}

/// A non-negative integer value.
fn unsigned(bytes: &[u8], (start, end): (usize, usize)) -> Option<u64> {
    let digits = &bytes[start..end];
    if digits.first().is_none_or(|b| !b.is_ascii_digit()) {
        return None;
    }
    std::str::from_utf8(digits).ok()?.parse().ok()
}

struct Parser<'a> {
    b: &'a [u8],
    i: usize,
}

type Collect<'m> = Option<(&'m mut Vec<Member>, usize)>;

impl Parser<'_> {
    fn peek(&self) -> Option<u8> {
        self.b.get(self.i).copied()
    }

    fn eat(&mut self, c: u8) -> Option<()> {
        (self.peek()? == c).then(|| self.i += 1)
    }

    fn literal(&mut self, word: &[u8]) -> Option<()> {
        let end = self.i.checked_add(word.len())?;
        (self.b.get(self.i..end)? == word).then(|| self.i = end)
    }

    /// `to_canonical_bytes` refuses any value deeper than `MAX_DEPTH` (the root is 0).
    fn value(&mut self, depth: usize) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        match self.peek()? {
            b'{' => self.object(depth, None),
            b'[' => self.array(depth),
            b'"' => self.string().map(|_| ()),
            b't' => self.literal(b"true"),
            b'f' => self.literal(b"false"),
            b'n' => self.literal(b"null"),
            b'-' | b'0'..=b'9' => self.number(),
            _ => None,
        }
    }

    fn object(&mut self, depth: usize, mut collect: Collect<'_>) -> Option<()> {
        if depth > MAX_DEPTH {
            return None;
        }
        self.eat(b'{')?;
        if self.eat(b'}').is_some() {
            return Some(());
        }
        let mut prev: Option<(usize, usize)> = None;
        loop {
            let start = self.i;
            let (key, escaped) = self.string()?;
            // Keys with escapes would have to be decoded to be ordered: slow path.
            if escaped {
                return None;
            }
            if let Some(prev) = prev {
                if key_order(&self.b[prev.0..prev.1], &self.b[key.0..key.1]) != Ordering::Less {
                    return None;
                }
            }
            prev = Some(key);
            self.eat(b':')?;
            let value_start = self.i;
            self.value(depth + 1)?;
            if let Some((members, max)) = collect.as_mut() {
                if members.len() == *max {
                    return None;
                }
                members.push(Member {
                    start,
                    key,
                    value: (value_start, self.i),
                });
            }
            match self.peek()? {
                b',' => self.i += 1,
                b'}' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    fn array(&mut self, depth: usize) -> Option<()> {
        self.eat(b'[')?;
        if self.eat(b']').is_some() {
            return Some(());
        }
        loop {
            self.value(depth + 1)?;
            match self.peek()? {
                b',' => self.i += 1,
                b']' => {
                    self.i += 1;
                    return Some(());
                }
                _ => return None,
            }
        }
    }

    /// A string in exactly the form `write_string` produces. Returns the span between
    /// the quotes and whether it holds an escape.
    fn string(&mut self) -> Option<((usize, usize), bool)> {
        self.eat(b'"')?;
        let start = self.i;
        let mut escaped = false;
        loop {
            let rest = self.b.get(self.i..)?;
            let run = first_special(rest)?;
            self.i += run;
            match self.b[self.i] {
                b'"' => {
                    self.i += 1;
                    return Some(((start, self.i - 1), escaped));
                }
                b'\\' => {
                    escaped = true;
                    self.i += 1;
                    match self.peek()? {
                        b'"' | b'\\' | b'b' | b't' | b'n' | b'f' | b'r' => self.i += 1,
                        b'u' => {
                            // Only control characters without a short form are written
                            // as \u00xx, in lowercase hex.
                            let hex = self.b.get(self.i + 1..self.i + 5)?;
                            let lower = |c: u8| c.is_ascii_digit() || (b'a'..=b'f').contains(&c);
                            if hex[0] != b'0'
                                || hex[1] != b'0'
                                || !matches!(hex[2], b'0' | b'1')
                                || !lower(hex[3])
                            {
                                return None;
                            }
                            let code = (hex[2] - b'0') * 16
                                + if hex[3].is_ascii_digit() {
                                    hex[3] - b'0'
                                } else {
                                    hex[3] - b'a' + 10
                                };
                            if matches!(code, 0x08 | 0x09 | 0x0a | 0x0c | 0x0d) {
                                return None;
                            }
                            self.i += 5;
                        }
                        _ => return None,
                    }
                }
                // A raw control character is not JSON.
                _ => return None,
            }
        }
    }

    /// An integer in ±(2^53-1), written the shortest way (no "-0", no leading zeros).
    fn number(&mut self) -> Option<()> {
        let negative = self.eat(b'-').is_some();
        let start = self.i;
        while self.peek().is_some_and(|c| c.is_ascii_digit()) {
            self.i += 1;
        }
        let digits = &self.b[start..self.i];
        let ok = match digits {
            [] => false,
            [b'0'] => !negative,
            [b'0', ..] => false,
            _ => digits.len() <= 16,
        };
        if !ok {
            return None;
        }
        let mut value: i64 = 0;
        for &d in digits {
            value = value * 10 + i64::from(d - b'0');
        }
        (value <= MAX_SAFE_INTEGER).then_some(())
    }
}

/// RFC 8785 orders member names by UTF-16 code units; for ASCII that is byte order.
fn key_order(a: &[u8], b: &[u8]) -> Ordering {
    if a.is_ascii() && b.is_ascii() {
        return a.cmp(b);
    }
    match (std::str::from_utf8(a), std::str::from_utf8(b)) {
        (Ok(a), Ok(b)) => a.encode_utf16().cmp(b.encode_utf16()),
        // Unreachable: the whole buffer was checked as UTF-8 first.
        _ => Ordering::Equal,
    }
}

/// The index of the first `"`, `\\` or control character (< 0x20) in `b`: eight bytes
/// at a time, since string bodies are most of a record. Per word, each of the three
/// masks flags its lowest matching byte exactly (a borrow can only add false flags
/// above a true one), so the lowest flag of their union is the first match.
fn first_special(b: &[u8]) -> Option<usize> {
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGHS: u64 = 0x8080_8080_8080_8080;
    let zero_bytes = |x: u64| x.wrapping_sub(ONES) & !x & HIGHS;
    let mut words = b.chunks_exact(8);
    let mut at = 0;
    for word in words.by_ref() {
        let mut bytes = [0u8; 8];
        bytes.copy_from_slice(word);
        let w = u64::from_le_bytes(bytes);
        let flags = zero_bytes(w ^ (ONES * u64::from(b'"')))
            | zero_bytes(w ^ (ONES * u64::from(b'\\')))
            | (w.wrapping_sub(ONES * 0x20) & !w & HIGHS);
        if flags != 0 {
            return Some(at + (flags.trailing_zeros() / 8) as usize);
        }
        at += 8;
    }
    words
        .remainder()
        .iter()
        .position(|&c| c == b'"' || c == b'\\' || c < 0x20)
        .map(|i| at + i)
}

#[cfg(test)]
mod tests {

    proptest::proptest! {
        /// The word-at-a-time scan finds exactly what a byte-by-byte scan finds.
        #[test]
        fn first_special_matches_a_byte_scan(
            b in proptest::collection::vec(
                proptest::prop_oneof![
                    0x20u8..0x7f,
                    proptest::strategy::Just(b'"'),
                    proptest::strategy::Just(b'\\'),
                    0u8..0x20,
                    0x80u8..=0xff,
                ],
                0..40,
            )
        ) {
            let expected = b.iter().position(|&c| c == b'"' || c == b'\\' || c < 0x20);
            proptest::prop_assert_eq!(super::first_special(&b), expected);
        }
    }
    use super::*;
    use icac_format::canonical::to_canonical_bytes;
    use icac_format::keys::KeyId;
    use icac_format::record::{EventMetadata, EventRecord};
    use proptest::prelude::*;
    use serde_json::{json, Value};

    fn record(payload: Value, unit: Option<&str>) -> EventRecord {
        EventRecord {
            ledger_id: LedgerId::new("ct-icac").unwrap(),
            position: 42,
            aggregate_type: "case".into(),
            aggregate_id: "CASE-2026-0001".into(),
            sequence: 3,
            event_type: "CaseFiled".into(),
            event_version: "1".into(),
            payload,
            metadata: EventMetadata {
                principal: "unit:CT0000001".into(),
                unit: unit.map(str::to_owned),
                recorded_at: "2026-11-28T22:33:57.123456Z".into(),
                request_id: "req-1".into(),
                correlation_id: None,
            },
            prev_hash: Hash32([7u8; 32]),
            key_id: KeyId("0123456789abcdef0123456789abcdef".into()),
            format_version: None,
        }
    }

    fn payloads() -> Vec<Value> {
        vec![
            json!({"note": "hello world", "n": -12, "list": [true, false, null, 0, 9007199254740991i64]}),
            json!({"s": "tab\there \"quoted\" back\\slash \u{1} \u{1f} é € 😀 /", "a\u{80}": 1, "\u{20ac}": 2, "\u{1f600}": 3, "\u{fb33}": 4}),
            json!([]),
            json!({}),
            json!(null),
            json!("just a string"),
            json!({"deep": [[[[{"x": [1, [2, [3]]]}]]]]}),
        ]
    }

    fn same_fields(v: &RecordView<'_>, r: &EventRecord) {
        assert_eq!(v.ledger_id, r.ledger_id.as_str());
        assert_eq!(v.position, r.position);
        assert_eq!(v.aggregate_type, r.aggregate_type);
        assert_eq!(v.aggregate_id, r.aggregate_id);
        assert_eq!(v.sequence, r.sequence);
        assert_eq!(v.event_type, r.event_type);
        assert_eq!(v.event_version, r.event_version);
        assert_eq!(v.recorded_at, r.metadata.recorded_at);
        assert_eq!(v.prev_hash, r.prev_hash);
        assert_eq!(v.key_id, r.key_id.0);
    }

    #[test]
    fn real_records_take_the_fast_path_with_the_same_fields() {
        for (i, payload) in payloads().into_iter().enumerate() {
            let r = record(payload, (i % 2 == 0).then_some("CT0000001"));
            let bytes = r.canonical_bytes().unwrap();
            let v = view_record(&bytes).unwrap_or_else(|| panic!("payload {i} falls back"));
            same_fields(&v, &r);
        }
    }

    #[test]
    fn bundle_lines_cut_back_to_the_record_bytes() {
        let r = record(payloads()[1].clone(), Some("CT0000001"));
        let sealed = r.clone().hash_unsigned().unwrap();
        let mut sealed = sealed;
        sealed.signature = [0xab; 64];
        let line = to_canonical_bytes(&sealed.to_json()).unwrap();
        let v = view_line(&line).expect("fast path");
        same_fields(&v.record, &r);
        assert_eq!(v.hash, sealed.hash);
        assert_eq!(v.signature, sealed.signature);
        let mut cut = Vec::new();
        cut.extend_from_slice(&line[..v.cut[0].0]);
        cut.extend_from_slice(&line[v.cut[0].1..v.cut[1].0]);
        cut.extend_from_slice(&line[v.cut[1].1..]);
        assert_eq!(cut, sealed.canonical);
    }

    #[test]
    fn refuses_what_is_not_canonical() {
        let r = record(json!({"a": 1}), None);
        let good = String::from_utf8(r.canonical_bytes().unwrap()).unwrap();
        for bad in [
            good.replacen("{\"a\":1}", "{\"a\": 1}", 1),
            good.replacen("{\"a\":1}", "{\"a\":1.0}", 1),
            good.replacen("{\"a\":1}", "{\"a\":01}", 1),
            good.replacen("{\"a\":1}", "{\"a\":-0}", 1),
            good.replacen("{\"a\":1}", "{\"a\":9007199254740992}", 1),
            good.replacen("{\"a\":1}", "{\"a\":\"\\/\"}", 1),
            good.replacen("{\"a\":1}", "{\"a\":\"\\u000a\"}", 1),
            good.replacen("{\"a\":1}", "{\"a\":\"\\u001F\"}", 1),
            good.replacen("{\"a\":1}", "{\"b\":1,\"a\":2}", 1),
            good.replacen("{\"a\":1}", "{\"a\":1,\"a\":1}", 1),
            good.replacen("\"unit\":null", "\"unit\":7", 1),
            good.replacen("\"position\":42", "\"position\":-42", 1),
            good.clone() + " ",
        ] {
            assert_ne!(bad, good);
            assert!(view_record(bad.as_bytes()).is_none(), "accepted {bad}");
            assert!(
                EventRecord::from_canonical(bad.as_bytes()).is_err(),
                "{bad}"
            );
        }
    }

    fn mutate(bytes: &[u8], at: usize, op: u8, byte: u8) -> Vec<u8> {
        let mut out = bytes.to_vec();
        let at = at % (out.len() + 1);
        match op % 3 {
            0 if at < out.len() => out[at] = byte,
            1 => out.insert(at, byte),
            _ if at < out.len() => {
                out.remove(at);
            }
            _ => out.push(byte),
        }
        out
    }

    /// Bytes the mutations draw from: JSON punctuation, escapes, digits, letters of the
    /// field names, and non-ASCII lead and continuation bytes.
    fn interesting_byte() -> impl Strategy<Value = u8> {
        prop_oneof![
            prop::sample::select(b"{}[]:,\"\\/-+.eE0123456789abcdefuntrlsx \t\n".to_vec()),
            any::<u8>(),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// The one-sided contract: whatever the fast path accepts, the slow path accepts
        /// with the same fields.
        #[test]
        fn fast_path_never_accepts_what_the_slow_path_refuses(
            which in 0usize..7,
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 1..4),
        ) {
            let r = record(payloads()[which].clone(), Some("CT0000001"));
            let mut bytes = r.canonical_bytes().unwrap();
            for (at, op, byte) in edits {
                bytes = mutate(&bytes, at, op, byte);
            }
            if let Some(v) = view_record(&bytes) {
                let slow = EventRecord::from_canonical(&bytes);
                prop_assert!(slow.is_ok(), "fast path accepted {:?}", String::from_utf8_lossy(&bytes));
                same_fields(&v, &slow.unwrap());
            }
        }

        #[test]
        fn fast_line_path_matches_the_slow_one(
            which in 0usize..7,
            edits in prop::collection::vec((any::<usize>(), any::<u8>(), interesting_byte()), 1..4),
        ) {
            let mut sealed = record(payloads()[which].clone(), None).hash_unsigned().unwrap();
            sealed.signature = [0x5c; 64];
            let mut line = to_canonical_bytes(&sealed.to_json()).unwrap();
            for (at, op, byte) in edits {
                line = mutate(&line, at, op, byte);
            }
            if let Some(v) = view_line(&line) {
                let value = icac_format::canonical::parse_canonical(&line);
                prop_assert!(value.is_ok(), "fast path accepted {:?}", String::from_utf8_lossy(&line));
                let Value::Object(mut map) = value.unwrap() else { panic!("not an object") };
                let hash = map.remove("hash").and_then(|h| h.as_str().map(str::to_owned)).unwrap();
                let sig = map.remove("signature").and_then(|h| h.as_str().map(str::to_owned)).unwrap();
                prop_assert_eq!(Hash32::from_hex(&hash).unwrap(), v.hash);
                prop_assert_eq!(hex::decode(&sig).unwrap(), v.signature.to_vec());
                let rest = to_canonical_bytes(&Value::Object(map)).unwrap();
                let mut cut = Vec::new();
                cut.extend_from_slice(&line[..v.cut[0].0]);
                cut.extend_from_slice(&line[v.cut[0].1..v.cut[1].0]);
                cut.extend_from_slice(&line[v.cut[1].1..]);
                prop_assert_eq!(&cut, &rest);
                let slow = EventRecord::from_canonical(&rest);
                prop_assert!(slow.is_ok());
                same_fields(&v.record, &slow.unwrap());
            }
        }
    }
}
