//! Notification form validation (`icac_aggregates::form`) on arbitrary JSON.

use std::sync::OnceLock;

use icac_aggregates::case::CaseCommand;
use icac_aggregates::catalog::Catalog;
use icac_aggregates::demo::{self, DemoCommand};
use icac_aggregates::form::{parse_and_validate, validate, ValidationContext};
use icac_aggregates::services::{InMemoryUnitDirectory, UnitInfo};
use icac_aggregates::units::UnitCommand;
use jiff::Timestamp;
use serde_json::Value;

use super::{ensure, Violation};
use crate::commands::demo::DEMO_START;

/// Cases scripted to collect base forms from (and the units they file for).
const DEMO_CASES: usize = 40;
const DEMO_SEED: u64 = 7;
/// Forms kept as bases for structure-aware mutation.
const MAX_BASES: usize = 16;

/// The world a form is validated in: the demo's units (the retired one inactive) and
/// a filing time after the demo year, so every demo form is in the past.
struct Fixture {
    units: InMemoryUnitDirectory,
    catalog: &'static Catalog,
    recorded_at: Timestamp,
    bases: Vec<Value>,
}

fn fixture() -> Result<&'static Fixture, Violation> {
    static FIXTURE: OnceLock<Result<Fixture, Violation>> = OnceLock::new();
    FIXTURE
        .get_or_init(build_fixture)
        .as_ref()
        .map_err(Clone::clone)
}

fn build_fixture() -> Result<Fixture, Violation> {
    let catalog = Catalog::builtin().map_err(|e| Violation(format!("built-in catalog: {e}")))?;
    let recorded_at: Timestamp = "2025-07-15T16:00:00Z"
        .parse()
        .map_err(|e| Violation(format!("fixture time: {e}")))?;
    let units = InMemoryUnitDirectory::default();
    let mut forms = Vec::new();
    for step in demo::generate(DEMO_CASES, DEMO_SEED, DEMO_START) {
        match step.command {
            DemoCommand::Unit(UnitCommand::Register(r)) => units.insert(UnitInfo {
                ori: r.ori,
                name: r.name,
                kind: r.kind,
                town: r.town,
                active: true,
            }),
            DemoCommand::Unit(UnitCommand::Deactivate { .. }) => {
                let ori = icac_aggregates::ids::Ori::parse(&step.aggregate_id)
                    .map_err(|e| Violation(format!("demo unit id: {e}")))?;
                if let Some(mut info) = icac_aggregates::services::UnitDirectory::unit(&units, &ori)
                {
                    info.active = false;
                    units.insert(info);
                }
            }
            DemoCommand::Case(CaseCommand::FileNotification(f)) => forms.push(f.form),
            _ => {}
        }
    }
    let mut fixture = Fixture {
        units,
        catalog,
        recorded_at,
        bases: Vec::new(),
    };
    for form in forms {
        if fixture.bases.len() == MAX_BASES {
            break;
        }
        let mut raw = serde_json::to_value(&form)
            .map_err(|e| Violation(format!("demo form does not serialize: {e}")))?;
        // What a filer sends: plain values, not the sealing markers.
        icac_aggregates::sealed::unmark(&mut raw);
        // Forms of the unit retired later in the demo year are invalid as of the fixture's
        // filing time; they make no base.
        if parse_and_validate(&raw, &fixture.context()).is_ok() {
            fixture.bases.push(raw);
        }
    }
    Ok(fixture)
}

impl Fixture {
    fn context(&self) -> ValidationContext<'_> {
        ValidationContext {
            recorded_at: self.recorded_at,
            units: &self.units,
            catalog: self.catalog,
        }
    }
}

/// Valid forms from the demo generator, the starting points of structure-aware
/// mutation (`form_edits`) and the seeds of the `form` corpus.
pub fn form_bases() -> Result<&'static [Value], Violation> {
    Ok(&fixture()?.bases)
}

/// Bytes that parse as JSON go through `parse_and_validate`; see [`form_value`].
pub fn form(data: &[u8]) -> Result<(), Violation> {
    match serde_json::from_slice::<Value>(data) {
        Ok(raw) => form_value(&raw),
        Err(_) => Ok(()),
    }
}

/// `parse_and_validate` either returns a typed form that passes `validate` and survives
/// a round trip through JSON unchanged, or a non-empty list of errors whose JSON Pointers
/// each name a value of the form or a missing member of one of its objects.
pub fn form_value(raw: &Value) -> Result<(), Violation> {
    let fixture = fixture()?;
    let ctx = fixture.context();
    match parse_and_validate(raw, &ctx) {
        Ok(form) => {
            if let Err(errors) = validate(&form, &ctx) {
                return Err(Violation(format!(
                    "accepted form fails validate(): {errors:?}"
                )));
            }
            let mut again = serde_json::to_value(&form)
                .map_err(|e| Violation(format!("accepted form does not serialize: {e}")))?;
            icac_aggregates::sealed::unmark(&mut again);
            match parse_and_validate(&again, &ctx) {
                Ok(second) => ensure(second == form, || {
                    "accepted form changes on a round trip through JSON".into()
                }),
                Err(errors) => Err(Violation(format!(
                    "accepted form is refused after a round trip through JSON: {errors:?}"
                ))),
            }
        }
        Err(errors) => {
            ensure(!errors.is_empty(), || "refused with no errors".into())?;
            for e in &errors {
                ensure(!e.message.is_empty(), || {
                    format!("error at {:?} has no message", e.pointer)
                })?;
                ensure(points_into(raw, &e.pointer), || {
                    format!(
                        "error pointer {:?} ({}) names nothing in the form",
                        e.pointer, e.message
                    )
                })?;
            }
            Ok(())
        }
    }
}

/// RFC 6901: the pointer resolves in `raw`, or all but its last token resolve to an
/// object that lacks that member (a required field that is missing).
fn points_into(raw: &Value, pointer: &str) -> bool {
    if pointer.is_empty() {
        return true;
    }
    let Some(rest) = pointer.strip_prefix('/') else {
        return false;
    };
    let tokens: Vec<&str> = rest.split('/').collect();
    let mut at = raw;
    for (i, raw_token) in tokens.iter().enumerate() {
        let Some(token) = unescape(raw_token) else {
            return false;
        };
        let last = i + 1 == tokens.len();
        at = match at {
            Value::Object(map) => match map.get(&token) {
                Some(v) => v,
                None => return last,
            },
            Value::Array(items) => {
                let index = (token == "0" || !token.starts_with('0'))
                    .then(|| token.parse::<usize>().ok())
                    .flatten();
                match index.and_then(|i| items.get(i)) {
                    Some(v) => v,
                    None => return false,
                }
            }
            _ => return false,
        };
    }
    true
}

/// Undoes RFC 6901 escaping; `None` for a `~` not followed by `0` or `1`.
fn unescape(token: &str) -> Option<String> {
    let mut out = String::with_capacity(token.len());
    let mut chars = token.chars();
    while let Some(c) = chars.next() {
        if c == '~' {
            match chars.next() {
                Some('0') => out.push('~'),
                Some('1') => out.push('/'),
                _ => return None,
            }
        } else {
            out.push(c);
        }
    }
    Some(out)
}
