//! Structure-aware form fuzzing: the bytes pick a valid base form and a short list of
//! edits to it (delete a member, replace a value with an edge case, copy one field into
//! another, ...), so mutations reach the rules deep inside a form instead of stopping
//! at the JSON syntax. The decoding is deterministic, so a saved input replays exactly.

use serde_json::{json, Value};

use super::form::{form_bases, form_value};
use super::Violation;

/// Edits applied to one base at most; more rarely finds more and slows each run.
const MAX_EDITS: usize = 12;
/// Deepest path the edits reach (the form nests four levels).
const MAX_PATH_DEPTH: usize = 6;

/// Applies the edits the bytes describe to a base form and checks the result like the
/// `form` target does.
pub fn form_edits(data: &[u8]) -> Result<(), Violation> {
    let bases = form_bases()?;
    if bases.is_empty() {
        return Err(Violation("no valid base forms".into()));
    }
    let form = apply_edits(bases, data);
    form_value(&form)
}

/// Reads bytes as edit instructions; missing bytes read as zero.
struct Bytes<'a>(&'a [u8]);

impl Bytes<'_> {
    fn byte(&mut self) -> u8 {
        match self.0.split_first() {
            Some((&b, rest)) => {
                self.0 = rest;
                b
            }
            None => 0,
        }
    }

    fn below(&mut self, n: usize) -> usize {
        if n == 0 {
            return 0;
        }
        (usize::from(self.byte()) << 8 | usize::from(self.byte())) % n
    }

    fn take(&mut self, n: usize) -> &[u8] {
        let (head, rest) = self.0.split_at(n.min(self.0.len()));
        self.0 = rest;
        head
    }

    fn u64(&mut self) -> u64 {
        let mut buf = [0u8; 8];
        let got = self.take(8);
        buf[..got.len()].copy_from_slice(got);
        u64::from_le_bytes(buf)
    }

    fn text(&mut self) -> String {
        let len = usize::from(self.byte());
        String::from_utf8_lossy(self.take(len)).into_owned()
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

#[derive(Clone)]
enum Step {
    Key(String),
    Index(usize),
}

fn get_mut<'v>(v: &'v mut Value, path: &[Step]) -> Option<&'v mut Value> {
    path.iter().try_fold(v, |at, step| match (at, step) {
        (Value::Object(map), Step::Key(k)) => map.get_mut(k),
        (Value::Array(items), Step::Index(i)) => items.get_mut(*i),
        _ => None,
    })
}

/// Every path in `v` (the root first), depth-first.
fn paths(v: &Value, prefix: &mut Vec<Step>, out: &mut Vec<Vec<Step>>) {
    out.push(prefix.clone());
    if prefix.len() >= MAX_PATH_DEPTH {
        return;
    }
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                prefix.push(Step::Key(k.clone()));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        Value::Array(items) => {
            for (i, child) in items.iter().enumerate() {
                prefix.push(Step::Index(i));
                paths(child, prefix, out);
                prefix.pop();
            }
        }
        _ => {}
    }
}

/// Values that sit on the edges of the form's rules.
fn edge_values() -> Vec<Value> {
    let long = "x".repeat(5000);
    vec![
        Value::Null,
        json!(true),
        json!(false),
        json!(0),
        json!(-1),
        json!(1),
        json!(4_294_967_296u64),
        json!(u64::MAX),
        json!(i64::MIN),
        json!(1.5),
        json!(1e300),
        json!(""),
        json!(" "),
        json!("1"),
        json!("2"),
        json!("2024-02-29"),
        json!("2023-02-29"),
        json!("1989-12-31"),
        json!("1990-01-01"),
        json!("2025-07-15"),
        json!("2025-07-16"),
        json!("9999-12-31"),
        json!("+2024-01-01"),
        json!("2024-1-1"),
        json!("12:00"),
        json!("12:00:00"),
        json!("12:00:00.5"),
        json!("23:59:60"),
        json!("24:00"),
        json!("2025-07-15T11:59:59-04:00"),
        json!("2025-07-15T12:00:01-04:00"),
        json!("2024-08-21T03:12:00Z"),
        json!("2024-08-21T03:12:00+23:59"),
        json!("2024-08-21 03:12:00Z"),
        json!("CT0006400"),
        json!("CT0000100"),
        json!("ct0006400"),
        json!("CT00064000"),
        json!("NY0000000"),
        json!("198765432"),
        json!("0"),
        json!("12345678901234567890"),
        json!("203.0.113.7"),
        json!("::1"),
        json!("::ffff:10.0.0.1"),
        json!("256.0.0.1"),
        json!("fe80::1%eth0"),
        json!("9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08"),
        json!("9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08"),
        json!("098f6bcd4621d373cade4e832627b4f6"),
        json!("53a-196d"),
        json!("53a-196c"),
        json!("53a-999"),
        json!("other"),
        json!("unknown"),
        json!("a\u{0}b"),
        json!("line\nbreak"),
        json!("\u{202e}evil"),
        json!("é\u{301}"),
        json!("~/"),
        json!(long),
        json!([]),
        json!({}),
        json!(["53a-196d"]),
        json!([null]),
        json!({"kind": "other"}),
    ]
}

/// Field names worth inserting: the form's own (at the wrong level) and strangers.
const KEYS: &[&str] = &[
    "form_version",
    "reporting_unit",
    "received",
    "source",
    "incident",
    "kind",
    "type",
    "value",
    "date",
    "time",
    "date_from",
    "date_to",
    "cybertip_number",
    "receipt_number",
    "operation_id",
    "observed_at",
    "platform",
    "identified",
    "age_band",
    "count",
    "hashes",
    "algorithm",
    "name",
    "statement_accepted",
    "extra",
    "",
    "a/b",
    "~0",
];

/// The form the bytes describe: a base chosen by the first byte, then edits until the
/// bytes (or [`MAX_EDITS`]) run out.
pub fn apply_edits(bases: &[Value], data: &[u8]) -> Value {
    let mut b = Bytes(data);
    let mut form = bases
        .get(b.below(bases.len()))
        .cloned()
        .unwrap_or(Value::Null);
    let edges = edge_values();
    for _ in 0..MAX_EDITS {
        if b.is_empty() {
            break;
        }
        let op = b.byte() % 8;
        let mut all = Vec::new();
        paths(&form, &mut Vec::new(), &mut all);
        let path = all.get(b.below(all.len())).cloned().unwrap_or_default();
        match op {
            // Remove the member or element (the root stays).
            0 => remove(&mut form, &path),
            1 => {
                let v = edges.get(b.below(edges.len())).cloned().unwrap_or_default();
                set(&mut form, &path, v);
            }
            2 => {
                let v = Value::String(b.text());
                set(&mut form, &path, v);
            }
            3 => {
                let key = match KEYS.get(b.below(KEYS.len() + 1)) {
                    Some(k) => (*k).to_owned(),
                    None => b.text(),
                };
                let v = edges.get(b.below(edges.len())).cloned().unwrap_or_default();
                if let Some(Value::Object(map)) = get_mut(&mut form, &path) {
                    map.insert(key, v);
                }
            }
            4 => {
                if let Some(Value::Array(items)) = get_mut(&mut form, &path) {
                    let v = items.first().cloned().unwrap_or_else(|| {
                        edges.get(b.below(edges.len())).cloned().unwrap_or_default()
                    });
                    let copies = 1 + usize::from(b.byte() % 64);
                    items.extend(std::iter::repeat_n(v, copies));
                }
            }
            5 => {
                let raw = b.u64();
                let v = match b.byte() % 3 {
                    0 => json!(raw),
                    1 => json!(raw as i64),
                    _ => serde_json::Number::from_f64(f64::from_bits(raw))
                        .map(Value::Number)
                        .unwrap_or_default(),
                };
                set(&mut form, &path, v);
            }
            6 => {
                let from = all.get(b.below(all.len())).cloned().unwrap_or_default();
                let v = get_mut(&mut form, &from)
                    .map(|v| v.clone())
                    .unwrap_or_default();
                set(&mut form, &path, v);
            }
            _ => {
                if let Some(Value::String(s)) = get_mut(&mut form, &path) {
                    mutate_text(s, &mut b);
                }
            }
        }
    }
    form
}

fn set(form: &mut Value, path: &[Step], v: Value) {
    if let Some(slot) = get_mut(form, path) {
        *slot = v;
    }
}

fn remove(form: &mut Value, path: &[Step]) {
    let Some((last, parent)) = path.split_last() else {
        return;
    };
    match (get_mut(form, parent), last) {
        (Some(Value::Object(map)), Step::Key(k)) => {
            map.remove(k);
        }
        (Some(Value::Array(items)), Step::Index(i)) if *i < items.len() => {
            items.remove(*i);
        }
        _ => {}
    }
}

/// Small edits to text: cut it, extend it, or change one character.
fn mutate_text(s: &mut String, b: &mut Bytes<'_>) {
    let chars: Vec<char> = s.chars().collect();
    let at = b.below(chars.len() + 1);
    let c = char::from_u32(u32::from(b.byte()) | u32::from(b.byte()) << 8).unwrap_or('\u{fffd}');
    let mut out = chars;
    match b.byte() % 4 {
        0 => out.truncate(at),
        1 => out.insert(at, c),
        2 if at < out.len() => out[at] = c,
        _ => out.extend(std::iter::repeat_n(c, usize::from(b.byte()))),
    }
    *s = out.into_iter().collect();
}
