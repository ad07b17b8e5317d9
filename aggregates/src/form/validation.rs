//! Validation of the notification form, on the raw JSON.
//!
//! Walking the raw `serde_json::Value` (instead of deserializing first) means
//! a wrong type, an unknown enum value or an unknown field becomes one more
//! pointer'd error in the list rather than a single serde failure, so the
//! filer sees every problem at once. The typed form is only built after the
//! walk found nothing, and [`validate`] re-runs the same walk on a typed form,
//! so there is exactly one set of rules.

use std::collections::HashSet;
use std::net::IpAddr;

use jiff::civil::{Date, Time};
use jiff::Timestamp;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use super::v1::{
    bounds, AgeBand, FormVersion, HashAlgorithm, NotificationForm, SubjectIdentifierKind,
};
use crate::catalog::{Catalog, IncidentType, Medium, SourceKind};
use crate::ids::{
    CyberTipNumber, IdError, OperationId, Ori, ReceiptNumber, StatuteCode, UnitCaseNumber,
};
use crate::local_time::{ct_date, CtOffset, LocalTimeError};
use crate::services::UnitDirectory;
use crate::text::{self, limits};

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldError {
    /// RFC 6901 JSON Pointer to the field ("" = the whole form).
    pub pointer: String,
    /// Plain-language explanation for the filer.
    pub message: String,
}

impl std::fmt::Display for FieldError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let at = if self.pointer.is_empty() {
            "(form)"
        } else {
            &self.pointer
        };
        write!(f, "{at}: {}", self.message)
    }
}

/// Facts validation needs beyond the form itself.
#[derive(Clone, Copy)]
pub struct ValidationContext<'a> {
    /// When the form is being filed (the command's `recorded_at`). "Not in
    /// the future" and "not after the filing" are both checked against it.
    pub recorded_at: Timestamp,
    pub units: &'a dyn UnitDirectory,
    pub catalog: &'a Catalog,
}

/// Earliest plausible received/incident date; anything older is a typo.
pub const EARLIEST_DATE: Date = jiff::civil::date(1990, 1, 1);

const TOP_FIELDS: &[&str] = &[
    "form_version",
    "reporting_unit",
    "officer",
    "unit_case_number",
    "received",
    "source",
    "incident",
    "medium",
    "platform",
    "suspected_statutes",
    "urgent",
    "subject_identifiers",
    "victim",
    "victims",
    "evidence",
    "deconfliction_checked",
    "assistance_requested",
    "attestation",
];

/// Appends an escaped reference token (RFC 6901: `~` → `~0`, `/` → `~1`).
pub fn child(parent: &str, key: &str) -> String {
    format!("{parent}/{}", key.replace('~', "~0").replace('/', "~1"))
}

fn index(parent: &str, i: usize) -> String {
    format!("{parent}/{i}")
}

/// The accepted values of an enum, as they appear in JSON.
fn accepted<T: Serialize>(all: &[T]) -> String {
    all.iter()
        .filter_map(|v| serde_json::to_value(v).ok())
        .filter_map(|v| v.as_str().map(str::to_string))
        .collect::<Vec<_>>()
        .join(", ")
}

fn describe(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "true/false",
        Value::Number(_) => "a number",
        Value::String(_) => "text",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

#[derive(Default)]
struct Walk {
    errors: Vec<FieldError>,
}

impl Walk {
    fn err(&mut self, pointer: impl Into<String>, message: impl Into<String>) {
        self.errors.push(FieldError {
            pointer: pointer.into(),
            message: message.into(),
        });
    }

    fn object<'v>(
        &mut self,
        v: &'v Value,
        p: &str,
        fields: &[&str],
    ) -> Option<&'v Map<String, Value>> {
        let Some(map) = v.as_object() else {
            self.err(
                p,
                format!("must be an object with fields, not {}", describe(v)),
            );
            return None;
        };
        for key in map.keys() {
            if !fields.contains(&key.as_str()) {
                self.err(child(p, key), "is not a field of this form");
            }
        }
        Some(map)
    }

    fn required<'v>(&mut self, m: &'v Map<String, Value>, p: &str, key: &str) -> Option<&'v Value> {
        match m.get(key) {
            None | Some(Value::Null) => {
                self.err(child(p, key), "is required");
                None
            }
            Some(v) => Some(v),
        }
    }

    fn optional<'v>(m: &'v Map<String, Value>, key: &str) -> Option<&'v Value> {
        m.get(key).filter(|v| !v.is_null())
    }

    fn string<'v>(&mut self, v: &'v Value, p: &str) -> Option<&'v str> {
        let s = v.as_str();
        if s.is_none() {
            self.err(p, format!("must be text, not {}", describe(v)));
        }
        s
    }

    fn text(&mut self, v: &Value, p: &str, max: usize) -> Option<String> {
        let s = self.string(v, p)?;
        match text::check(s, max) {
            Ok(()) => Some(s.to_string()),
            Err(e) => {
                self.err(p, e.to_string());
                None
            }
        }
    }

    fn boolean(&mut self, v: &Value, p: &str) -> Option<bool> {
        let b = v.as_bool();
        if b.is_none() {
            self.err(p, format!("must be true or false, not {}", describe(v)));
        }
        b
    }

    fn count(&mut self, v: &Value, p: &str, max: u32) -> Option<u32> {
        match v.as_u64() {
            Some(n) if n <= u64::from(max) => u32::try_from(n).ok(),
            Some(_) => {
                self.err(p, format!("must be at most {max}"));
                None
            }
            None => {
                self.err(p, "must be a whole number, zero or more");
                None
            }
        }
    }

    fn array<'v>(&mut self, v: &'v Value, p: &str, max: usize) -> Option<&'v [Value]> {
        let Some(items) = v.as_array() else {
            self.err(p, format!("must be a list, not {}", describe(v)));
            return None;
        };
        if items.len() > max {
            self.err(
                p,
                format!("must have at most {max} entries (got {})", items.len()),
            );
            return None;
        }
        Some(items)
    }

    fn choice<T: Serialize + DeserializeOwned>(
        &mut self,
        v: &Value,
        p: &str,
        all: &[T],
    ) -> Option<T> {
        let Some(s) = v.as_str() else {
            self.err(p, format!("must be one of: {}", accepted(all)));
            return None;
        };
        match serde_json::from_value(v.clone()) {
            Ok(t) => Some(t),
            Err(_) => {
                self.err(
                    p,
                    format!(
                        "`{s}` is not an accepted value; use one of: {}",
                        accepted(all)
                    ),
                );
                None
            }
        }
    }

    fn id<T>(&mut self, v: &Value, p: &str, parse: fn(String) -> Result<T, IdError>) -> Option<T> {
        let s = match v {
            Value::String(s) => s.clone(),
            Value::Number(n) => {
                self.err(p, format!("must be text (put {n} in quotes)"));
                return None;
            }
            other => {
                self.err(p, format!("must be text, not {}", describe(other)));
                return None;
            }
        };
        match parse(s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(p, e.to_string());
                None
            }
        }
    }

    fn date(&mut self, v: &Value, p: &str) -> Option<Date> {
        let s = self.string(v, p)?;
        let shaped = s.len() == 10
            && s.bytes().enumerate().all(|(i, b)| {
                if i == 4 || i == 7 {
                    b == b'-'
                } else {
                    b.is_ascii_digit()
                }
            });
        match s.parse::<Date>() {
            Ok(d) if shaped => {
                if d < EARLIEST_DATE {
                    self.err(p, format!("{d} is before {EARLIEST_DATE}; check the year"));
                    None
                } else {
                    Some(d)
                }
            }
            _ => {
                self.err(
                    p,
                    format!("`{s}` is not a calendar date in the form YYYY-MM-DD"),
                );
                None
            }
        }
    }

    fn time(&mut self, v: &Value, p: &str) -> Option<Time> {
        let s = self.string(v, p)?;
        match crate::local_time::parse_time(s) {
            Ok(t) => Some(t),
            Err(e) => {
                self.err(p, e.to_string());
                None
            }
        }
    }

    fn timestamp(&mut self, v: &Value, p: &str) -> Option<Timestamp> {
        let s = self.string(v, p)?;
        match s.parse::<Timestamp>() {
            Ok(t) if s.len() <= 40 => Some(t),
            _ => {
                self.err(p, format!("`{s}` is not an RFC 3339 timestamp with offset (e.g. 2024-08-01T14:05:00Z)"));
                None
            }
        }
    }
}

/// Validates a raw JSON form and, if it has no problems, returns the typed
/// form. Every problem found is returned, each with its field's pointer.
pub fn parse_and_validate(
    raw: &Value,
    ctx: &ValidationContext<'_>,
) -> Result<NotificationForm, Vec<FieldError>> {
    let mut w = Walk::default();
    walk_form(&mut w, raw, ctx);
    if !w.errors.is_empty() {
        return Err(w.errors);
    }
    // Version 1 is still accepted, and recorded in the version 2 shape.
    let mut raw = raw.clone();
    crate::upcast::raw_form_v1_to_v2(&mut raw);
    serde_json::from_value(raw).map_err(|e| {
        vec![FieldError {
            pointer: String::new(),
            message: format!("form could not be read: {e}"),
        }]
    })
}

/// Checks an already-typed form against the same rules (used by the case
/// aggregate so no path can record a form that skipped validation).
pub fn validate(
    form: &NotificationForm,
    ctx: &ValidationContext<'_>,
) -> Result<(), Vec<FieldError>> {
    let mut raw = serde_json::to_value(form).map_err(|e| {
        vec![FieldError {
            pointer: String::new(),
            message: format!("form could not be serialized: {e}"),
        }]
    })?;
    // Sealed values serialize with their marker; the rules read what a filer sent.
    // A committed value stays an object, and is refused: a form on file needs values.
    crate::sealed::unmark(&mut raw);
    parse_and_validate(&raw, ctx).map(|_| ())
}

fn walk_form(w: &mut Walk, raw: &Value, ctx: &ValidationContext<'_>) {
    let Some(m) = w.object(raw, "", TOP_FIELDS) else {
        return;
    };
    let version = walk_form_version(w, m);

    if let Some(v) = w.required(m, "", "reporting_unit") {
        walk_reporting_unit(w, v, ctx);
    }

    if let Some(v) = w.required(m, "", "officer") {
        walk_officer(w, v);
    }

    if let Some(v) = w.required(m, "", "unit_case_number") {
        w.id(v, "/unit_case_number", UnitCaseNumber::try_from);
    }

    let received = w
        .required(m, "", "received")
        .and_then(|v| walk_received(w, v, ctx, version));

    if let Some(v) = w.required(m, "", "source") {
        walk_source(w, v);
    }

    if let Some(v) = w.required(m, "", "incident") {
        walk_incident(w, v, received);
    }

    if let Some(v) = w.required(m, "", "medium") {
        w.choice(v, "/medium", &Medium::ALL);
    }
    if let Some(v) = Walk::optional(m, "platform") {
        w.text(v, "/platform", limits::PLATFORM);
    }

    if let Some(v) = w.required(m, "", "suspected_statutes") {
        walk_suspected_statutes(w, v, ctx);
    }

    if let Some(v) = w.required(m, "", "urgent") {
        w.boolean(v, "/urgent");
    }

    if let Some(v) = w.required(m, "", "subject_identifiers") {
        walk_subject_identifiers(w, v, ctx.recorded_at);
    }

    walk_victims(w, m, version, ctx);

    if let Some(v) = w.required(m, "", "evidence") {
        walk_evidence(w, v);
    }

    if let Some(v) = w.required(m, "", "deconfliction_checked") {
        w.boolean(v, "/deconfliction_checked");
    }

    if let Some(v) = w.required(m, "", "assistance_requested") {
        walk_assistance_requested(w, v);
    }

    if let Some(v) = w.required(m, "", "attestation") {
        walk_attestation(w, v);
    }
}

/// The form's version, which later rules depend on; `None` when it is missing or
/// not one this form has (already reported).
fn walk_form_version(w: &mut Walk, m: &Map<String, Value>) -> Option<FormVersion> {
    match w.required(m, "", "form_version").map(Value::as_str) {
        Some(Some("1")) => Some(FormVersion::V1),
        Some(Some("2")) => Some(FormVersion::V2),
        Some(_) => {
            w.err(
                "/form_version",
                "must be \"1\" or \"2\" (the versions of this form)",
            );
            None
        }
        None => None,
    }
}

/// A registered unit that is still active.
fn walk_reporting_unit(w: &mut Walk, v: &Value, ctx: &ValidationContext<'_>) {
    if let Some(ori) = w.id(v, "/reporting_unit", Ori::try_from) {
        match ctx.units.unit(&ori) {
            None => w.err(
                "/reporting_unit",
                format!("no law enforcement unit with ORI {ori} is registered"),
            ),
            Some(u) if !u.active => w.err(
                "/reporting_unit",
                format!("unit {ori} ({}) is deactivated", u.name),
            ),
            Some(_) => {}
        }
    }
}

/// Statutes from the catalog, each listed once.
fn walk_suspected_statutes(w: &mut Walk, v: &Value, ctx: &ValidationContext<'_>) {
    if let Some(items) = w.array(v, "/suspected_statutes", bounds::STATUTES) {
        let mut seen = HashSet::new();
        for (i, item) in items.iter().enumerate() {
            let p = index("/suspected_statutes", i);
            if let Some(code) = w.id(item, &p, StatuteCode::try_from) {
                if !ctx.catalog.contains(&code) {
                    w.err(&p, format!("`{code}` is not in the statute catalog"));
                } else if !seen.insert(code.clone()) {
                    w.err(&p, format!("`{code}` is listed more than once"));
                }
            }
        }
    }
}

fn walk_subject_identifiers(w: &mut Walk, v: &Value, now: Timestamp) {
    if let Some(items) = w.array(v, "/subject_identifiers", bounds::SUBJECT_IDENTIFIERS) {
        for (i, item) in items.iter().enumerate() {
            walk_subject(w, item, &index("/subject_identifiers", i), now);
        }
    }
}

fn walk_assistance_requested(w: &mut Walk, v: &Value) {
    let p = "/assistance_requested";
    if let Some(am) = w.object(v, p, &["undercover", "forensic", "technical"]) {
        for key in ["undercover", "forensic", "technical"] {
            if let Some(b) = w.required(am, p, key) {
                w.boolean(b, &child(p, key));
            }
        }
    }
}

/// The filer's name, and the statement accepted: a form is not filed unattested.
fn walk_attestation(w: &mut Walk, v: &Value) {
    let p = "/attestation";
    if let Some(am) = w.object(v, p, &["name", "statement_accepted"]) {
        if let Some(n) = w.required(am, p, "name") {
            w.text(n, "/attestation/name", limits::NAME);
        }
        if let Some(b) = w.required(am, p, "statement_accepted") {
            if w.boolean(b, "/attestation/statement_accepted") == Some(false) {
                w.err(
                    "/attestation/statement_accepted",
                    "must be true: the filer has to accept the attestation statement",
                );
            }
        }
    }
}

fn walk_officer(w: &mut Walk, v: &Value) {
    let p = "/officer";
    let Some(m) = w.object(v, p, &["name", "badge", "phone", "email"]) else {
        return;
    };
    if let Some(n) = w.required(m, p, "name") {
        w.text(n, "/officer/name", limits::NAME);
    }
    if let Some(b) = Walk::optional(m, "badge") {
        w.text(b, "/officer/badge", limits::SHORT);
    }
    let phone = Walk::optional(m, "phone");
    let email = Walk::optional(m, "email");
    if let Some(ph) = phone {
        if let Some(s) = w.text(ph, "/officer/phone", limits::PHONE) {
            let digits = s.bytes().filter(u8::is_ascii_digit).count();
            let allowed = s
                .bytes()
                .all(|b| b.is_ascii_digit() || b" +-().x".contains(&b));
            if !allowed || digits < 7 {
                w.err(
                    "/officer/phone",
                    "must be a phone number (digits, spaces, + - ( ) and x for an extension)",
                );
            }
        }
    }
    if let Some(em) = email {
        if let Some(s) = w.text(em, "/officer/email", limits::EMAIL) {
            if !looks_like_email(&s) {
                w.err(
                    "/officer/email",
                    "must be an e-mail address like name@agency.gov",
                );
            }
        }
    }
    if phone.is_none() && email.is_none() {
        w.err(p, "a phone number or an e-mail address is required");
    }
}

fn looks_like_email(s: &str) -> bool {
    match s.split_once('@') {
        Some((local, domain)) => {
            !local.is_empty()
                && domain.contains('.')
                && !domain.starts_with('.')
                && !domain.ends_with('.')
                && !s.contains(char::is_whitespace)
                && !domain.contains('@')
        }
        None => false,
    }
}

fn walk_received(
    w: &mut Walk,
    v: &Value,
    ctx: &ValidationContext<'_>,
    version: Option<FormVersion>,
) -> Option<Date> {
    let p = "/received";
    let fields: &[&str] = match version {
        Some(FormVersion::V1) => &["date", "time"],
        _ => &["date", "time", "utc_offset"],
    };
    let m = w.object(v, p, fields)?;
    let date = w
        .required(m, p, "date")
        .and_then(|d| w.date(d, "/received/date"));
    let time = Walk::optional(m, "time").and_then(|t| w.time(t, "/received/time"));
    let offset_raw = Walk::optional(m, "utc_offset");
    let offset = offset_raw
        .and_then(|o| w.choice(o, "/received/utc_offset", &[CtOffset::Edt, CtOffset::Est]));
    if offset_raw.is_some() && Walk::optional(m, "time").is_none() {
        w.err("/received/utc_offset", "is given only with received.time");
    }
    let today = ct_date(ctx.recorded_at);
    let date = date?;
    if date > today {
        w.err("/received/date", format!("{date} is in the future (today in Connecticut is {today}); a notification cannot be received after it is filed"));
        return None;
    }
    let Some(t) = time else {
        return Some(date);
    };
    if offset_raw.is_some() && offset.is_none() {
        return Some(date);
    }
    match crate::local_time::resolve(date, t, offset) {
        // The instant, not the wall clock: 01:45 EDT is before 01:10 EST.
        Ok(at) if at > ctx.recorded_at => w.err(
            "/received/time",
            format!("{t} on {date} is later than the filing time"),
        ),
        Ok(_) => {}
        Err(e @ LocalTimeError::WrongOffset { .. }) => w.err("/received/utc_offset", e.to_string()),
        Err(e @ LocalTimeError::Ambiguous { .. }) if version == Some(FormVersion::V1) => w.err(
            "/received/time",
            format!("{e} (received.utc_offset is a field of form_version \"2\")"),
        ),
        Err(e) => w.err("/received/time", e.to_string()),
    }
    Some(date)
}

/// Version 1: exactly one `victim`. Version 2: `victims`, zero or more.
fn walk_victims(
    w: &mut Walk,
    m: &Map<String, Value>,
    version: Option<FormVersion>,
    ctx: &ValidationContext<'_>,
) {
    // With no usable version, check the shape the form itself uses.
    let version = version.unwrap_or(if m.contains_key("victims") {
        FormVersion::V2
    } else {
        FormVersion::V1
    });
    let (wanted, other) = match version {
        FormVersion::V1 => ("victim", "victims"),
        FormVersion::V2 => ("victims", "victim"),
    };
    if m.contains_key(other) {
        let which = if other == "victim" { "1" } else { "2" };
        w.err(
            child("", other),
            format!("is a field of form_version \"{which}\"; this form uses `{wanted}`"),
        );
    }
    if version == FormVersion::V1 {
        if let Some(v) = w.required(m, "", "victim") {
            walk_victim(w, v, "/victim", None);
        }
        return;
    }
    let Some(v) = Walk::optional(m, "victims") else {
        return;
    };
    if let Some(items) = w.array(v, "/victims", bounds::VICTIMS) {
        for (i, item) in items.iter().enumerate() {
            walk_victim(
                w,
                item,
                &index("/victims", i),
                Some(ct_date(ctx.recorded_at)),
            );
        }
    }
}

/// One child. `today` is given for version 2, which also takes `identified_on`.
fn walk_victim(w: &mut Walk, v: &Value, p: &str, today: Option<Date>) {
    let fields: &[&str] = match today {
        None => &["identified", "age_band", "town"],
        Some(_) => &["identified", "age_band", "identified_on", "town"],
    };
    let Some(vm) = w.object(v, p, fields) else {
        return;
    };
    let identified = w
        .required(vm, p, "identified")
        .and_then(|b| w.boolean(b, &child(p, "identified")));
    if let Some(a) = w.required(vm, p, "age_band") {
        w.choice(a, &child(p, "age_band"), &AgeBand::ALL);
    }
    if let Some(t) = Walk::optional(vm, "town") {
        w.text(t, &child(p, "town"), limits::SHORT);
    }
    let Some(today) = today else {
        return;
    };
    let on_p = child(p, "identified_on");
    let on = Walk::optional(vm, "identified_on").and_then(|d| w.date(d, &on_p));
    // Optional even when identified: a version 1 form, upcast, never had it, and the
    // projections then count the child on the filing date.
    if let (Some(false), Some(_)) = (identified, Walk::optional(vm, "identified_on")) {
        w.err(&on_p, "is given only when the child is identified");
    }
    if let Some(d) = on.filter(|d| *d > today) {
        w.err(&on_p, format!("{d} is after the filing date {today}"));
    }
}

fn walk_source(w: &mut Walk, v: &Value) {
    let p = "/source";
    let Some(m) = v.as_object() else {
        w.err(
            p,
            format!("must be an object with a `kind`, not {}", describe(v)),
        );
        return;
    };
    let Some(kind) = w
        .required(m, p, "kind")
        .and_then(|k| w.choice(k, "/source/kind", &SourceKind::ALL))
    else {
        return;
    };
    let (fields, needs): (&[&str], Option<&str>) = match kind {
        SourceKind::NcmecCybertip => (&["kind", "cybertip_number"], Some("cybertip_number")),
        SourceKind::PublicReport => (&["kind", "receipt_number"], Some("receipt_number")),
        SourceKind::OtherAgency => (&["kind", "agency_name"], Some("agency_name")),
        SourceKind::OnlineServiceProvider => (&["kind", "provider_name"], Some("provider_name")),
        SourceKind::ProactiveUndercover => (&["kind", "operation_id"], None),
        SourceKind::School | SourceKind::Parent | SourceKind::Dcf => (&["kind"], None),
    };
    for key in m.keys() {
        if !fields.contains(&key.as_str()) {
            w.err(
                child(p, key),
                format!("is not a field of a `{}` source", accepted(&[kind])),
            );
        }
    }
    if let Some(field) = needs {
        let fp = child(p, field);
        let Some(value) = Walk::optional(m, field) else {
            let why = match kind {
                SourceKind::NcmecCybertip => "is required when the source is an NCMEC CyberTip",
                SourceKind::PublicReport => "is required when the source is a public report",
                _ => "is required for this kind of source",
            };
            w.err(fp, why);
            return;
        };
        match kind {
            SourceKind::NcmecCybertip => {
                w.id(value, &fp, CyberTipNumber::try_from);
            }
            SourceKind::PublicReport => {
                w.id(value, &fp, ReceiptNumber::try_from);
            }
            _ => {
                w.text(value, &fp, limits::NAME);
            }
        }
    }
    if kind == SourceKind::ProactiveUndercover {
        if let Some(op) = Walk::optional(m, "operation_id") {
            w.id(op, "/source/operation_id", OperationId::try_from);
        }
    }
}

fn walk_incident(w: &mut Walk, v: &Value, received: Option<Date>) {
    let p = "/incident";
    let fields = [
        "type",
        "sextortion",
        "ai_generated_material",
        "minor_to_minor",
        "date_from",
        "date_to",
    ];
    let Some(m) = w.object(v, p, &fields) else {
        return;
    };
    if let Some(t) = w.required(m, p, "type") {
        w.choice(t, "/incident/type", &IncidentType::ALL);
    }
    for flag in ["sextortion", "ai_generated_material", "minor_to_minor"] {
        if let Some(b) = w.required(m, p, flag) {
            w.boolean(b, &child(p, flag));
        }
    }
    let from = Walk::optional(m, "date_from").and_then(|d| w.date(d, "/incident/date_from"));
    let to_raw = Walk::optional(m, "date_to");
    let to = to_raw.and_then(|d| w.date(d, "/incident/date_to"));
    if to_raw.is_some() && Walk::optional(m, "date_from").is_none() {
        w.err("/incident/date_from", "is required when date_to is given");
    }
    if let (Some(f), Some(t)) = (from, to) {
        if t < f {
            w.err("/incident/date_to", format!("{t} is before date_from {f}"));
        }
    }
    if let Some(r) = received {
        for (name, d) in [("date_from", from), ("date_to", to)] {
            if let Some(d) = d.filter(|d| *d > r) {
                w.err(
                    child(p, name),
                    format!("{d} is after the date the unit received the information ({r})"),
                );
            }
        }
    }
}

fn walk_subject(w: &mut Walk, v: &Value, p: &str, now: Timestamp) {
    let Some(m) = w.object(v, p, &["kind", "value", "platform", "observed_at"]) else {
        return;
    };
    let kind = w.required(m, p, "kind").and_then(|k| {
        w.choice(
            k,
            &child(p, "kind"),
            &[
                SubjectIdentifierKind::ScreenName,
                SubjectIdentifierKind::Account,
                SubjectIdentifierKind::EmailAddress,
                SubjectIdentifierKind::PhoneNumber,
                SubjectIdentifierKind::IpEvent,
            ],
        )
    });
    let value_p = child(p, "value");
    let value = w
        .required(m, p, "value")
        .and_then(|x| w.text(x, &value_p, limits::IDENTIFIER_VALUE));
    if let Some(pl) = Walk::optional(m, "platform") {
        w.text(pl, &child(p, "platform"), limits::PLATFORM);
    }
    let observed_p = child(p, "observed_at");
    let observed = Walk::optional(m, "observed_at");
    if let Some(ts) = observed.and_then(|o| w.timestamp(o, &observed_p)) {
        if ts > now {
            w.err(&observed_p, "is later than the filing time");
        }
    }
    match (kind, value) {
        (Some(SubjectIdentifierKind::IpEvent), value) => {
            if let Some(val) = value {
                if val.parse::<IpAddr>().is_err() {
                    w.err(&value_p, format!("`{val}` is not an IPv4 or IPv6 address"));
                }
            }
            if observed.is_none() {
                w.err(
                    &observed_p,
                    "is required for an ip_event (an address means little without its time)",
                );
            }
        }
        (Some(SubjectIdentifierKind::EmailAddress), Some(val)) if !looks_like_email(&val) => {
            w.err(&value_p, "must be an e-mail address");
        }
        _ => {}
    }
}

fn walk_evidence(w: &mut Walk, v: &Value) {
    let p = "/evidence";
    let Some(m) = w.object(
        v,
        p,
        &["item_count", "image_count", "video_count", "hashes"],
    ) else {
        return;
    };
    let mut counts = [None; 3];
    for (i, key) in ["item_count", "image_count", "video_count"]
        .into_iter()
        .enumerate()
    {
        counts[i] = w
            .required(m, p, key)
            .and_then(|c| w.count(c, &child(p, key), bounds::COUNT));
    }
    if let [Some(items), Some(images), Some(videos)] = counts {
        if u64::from(images) + u64::from(videos) > u64::from(items) {
            w.err(
                "/evidence/item_count",
                format!(
                    "{items} is less than image_count + video_count ({})",
                    u64::from(images) + u64::from(videos)
                ),
            );
        }
    }
    let Some(hashes) = w.required(m, p, "hashes") else {
        return;
    };
    let Some(items) = w.array(hashes, "/evidence/hashes", bounds::HASHES) else {
        return;
    };
    for (i, item) in items.iter().enumerate() {
        let hp = index("/evidence/hashes", i);
        let Some(hm) = w.object(item, &hp, &["algorithm", "value"]) else {
            continue;
        };
        let algorithm = w.required(hm, &hp, "algorithm").and_then(|a| {
            w.choice(
                a,
                &child(&hp, "algorithm"),
                &[HashAlgorithm::Sha256, HashAlgorithm::Md5],
            )
        });
        let vp = child(&hp, "value");
        let Some(value) = w.required(hm, &hp, "value").and_then(|x| w.string(x, &vp)) else {
            continue;
        };
        if !value.bytes().all(|b| b.is_ascii_hexdigit()) {
            w.err(&vp, "must contain hexadecimal digits only (0-9, a-f)");
        } else if let Some(alg) = algorithm {
            if value.len() != alg.hex_len() {
                w.err(
                    &vp,
                    format!(
                        "must be {} hexadecimal digits for {} (got {})",
                        alg.hex_len(),
                        accepted(&[alg]),
                        value.len()
                    ),
                );
            }
        }
    }
}

/// Checks a `Source` on its own (used when a complaint is logged before the
/// form exists).
pub fn validate_source(source: &super::v1::Source) -> Result<(), Vec<FieldError>> {
    let raw = serde_json::to_value(source).map_err(|e| {
        vec![FieldError {
            pointer: "/source".into(),
            message: format!("could not be serialized: {e}"),
        }]
    })?;
    let mut w = Walk::default();
    walk_source(&mut w, &raw);
    if w.errors.is_empty() {
        Ok(())
    } else {
        Err(w.errors)
    }
}
