//! The standardized notification as a web form: which controls, in which groups (the
//! order of the domain brief's field list), their labels and help, and how the posted
//! fields become the form's JSON. Field names are the form's JSON Pointers, so an
//! error the validator reports at `/officer/phone` lands next to the field named so.

use icac_aggregates::catalog::{Catalog, Label};
use icac_aggregates::form::v1::{bounds, AgeBand, HashAlgorithm, SubjectIdentifierKind};
use serde_json::{Map, Value};

use super::labels::{code, spell, words};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Control {
    Text,
    Date,
    Time,
    Number,
    Email,
    Tel,
    Select,
    Checkbox,
    /// Several checkboxes with one name (the statutes).
    Checkboxes,
}

/// One control of the form.
#[derive(Debug, Clone)]
pub struct FieldSpec {
    pub pointer: String,
    pub label: String,
    pub hint: &'static str,
    pub control: Control,
    pub options: Vec<(String, String)>,
    pub autocomplete: &'static str,
}

fn field(pointer: &str, label: &str, control: Control, hint: &'static str) -> FieldSpec {
    FieldSpec {
        pointer: pointer.to_owned(),
        label: label.to_owned(),
        hint,
        control,
        options: Vec::new(),
        autocomplete: "off",
    }
}

fn select(
    pointer: &str,
    label: &str,
    hint: &'static str,
    options: Vec<(String, String)>,
) -> FieldSpec {
    FieldSpec {
        options,
        ..field(pointer, label, Control::Select, hint)
    }
}

fn enum_options<T: serde::Serialize>(all: &[T]) -> Vec<(String, String)> {
    all.iter().map(|v| (code(v), words(v))).collect()
}

/// A group of the form: a fieldset, or a repeated row group (identifiers, children,
/// hashes) with `rows` copies of its fields.
pub struct SectionSpec {
    pub id: &'static str,
    pub legend: &'static str,
    pub hint: &'static str,
    pub fields: Vec<FieldSpec>,
    /// For a list: its pointer ("/victims"), its row noun, its bound.
    pub list: Option<(&'static str, &'static str, usize)>,
}

/// The form's groups, in order. `units` is the unit choice (empty: fixed to the filer's).
pub fn sections(catalog: &Catalog, units: Vec<(String, String)>) -> Vec<SectionSpec> {
    vec![
        filing_section(units),
        source_section(labelled(&catalog.sources)),
        incident_section(catalog),
        subjects_section(),
        victims_section(),
        evidence_section(),
        hashes_section(),
        assistance_section(),
        attestation_section(),
    ]
}

/// A group shown once (not a list of rows).
fn fieldset(
    id: &'static str,
    legend: &'static str,
    hint: &'static str,
    fields: Vec<FieldSpec>,
) -> SectionSpec {
    SectionSpec {
        id,
        legend,
        hint,
        fields,
        list: None,
    }
}

/// A catalog list as select options: (code, label).
fn labelled<T: serde::Serialize>(labels: &[Label<T>]) -> Vec<(String, String)> {
    labels
        .iter()
        .map(|l| (code(&l.code), l.label.clone()))
        .collect()
}

fn statute_options(catalog: &Catalog) -> Vec<(String, String)> {
    catalog
        .statutes
        .iter()
        .map(|s| (s.code.to_string(), format!("{} — {}", s.code, s.title)))
        .collect()
}

/// The filing unit (a choice only when the filer is not bound to one), its case
/// number, when it was received, and the officer to call.
fn filing_section(units: Vec<(String, String)>) -> SectionSpec {
    use Control::*;
    let mut filing = vec![];
    if !units.is_empty() {
        filing.push(select(
            "/reporting_unit",
            "Reporting unit",
            "The law enforcement unit filing this notification.",
            units,
        ));
    }
    filing.extend([
        field("/unit_case_number", "Your unit's case number", Text, "Your own case or incident number, as your records show it."),
        field("/received/date", "Date your unit received it", Date, "Connecticut date. The 14-day clock starts on this day."),
        field("/received/time", "Time received (optional)", Time, "Connecticut local time, if known."),
        select("/received/utc_offset", "Time zone offset (only on the fall-back night)", "Needed only for a time between 1:00 and 2:00 on the night clocks go back, which happens twice.", vec![
            ("-04:00".into(), "Daylight time (EDT, -04:00)".into()),
            ("-05:00".into(), "Standard time (EST, -05:00)".into()),
        ]),
        FieldSpec { autocomplete: "name", ..field("/officer/name", "Officer's name", Text, "Who the Task Force should call about this case. Sealed out of the permanent record.") },
        field("/officer/badge", "Badge number (optional)", Text, "Sealed out of the permanent record."),
        FieldSpec { autocomplete: "tel", ..field("/officer/phone", "Officer's phone", Tel, "A phone number or an e-mail address is required.") },
        FieldSpec { autocomplete: "email", ..field("/officer/email", "Officer's e-mail", Email, "A phone number or an e-mail address is required.") },
    ]);
    fieldset("filing", "About this filing", "", filing)
}

fn source_section(sources: Vec<(String, String)>) -> SectionSpec {
    use Control::*;
    let fields = vec![
        select("/source/kind", "Source", "", sources),
        field(
            "/source/cybertip_number",
            "CyberTip number (NCMEC CyberTip only)",
            Text,
            "Digits only. The Task Force checks it against other units' cases.",
        ),
        field(
            "/source/receipt_number",
            "Public report receipt (public report only)",
            Text,
            "For example WEB-2025-ABCDEFGHJK.",
        ),
        field(
            "/source/agency_name",
            "Agency (another agency only)",
            Text,
            "",
        ),
        field(
            "/source/provider_name",
            "Provider (online service provider only)",
            Text,
            "",
        ),
        field(
            "/source/operation_id",
            "Operation (proactive or undercover, optional)",
            Text,
            "",
        ),
    ];
    fieldset(
        "source",
        "Where the information came from",
        "Give the reference number of the source where it has one.",
        fields,
    )
}

fn incident_section(catalog: &Catalog) -> SectionSpec {
    use Control::*;
    let fields = vec![
        select(
            "/incident/type",
            "Incident type",
            "NCMEC's categories, or other.",
            labelled(&catalog.incident_types),
        ),
        field("/incident/sextortion", "Sextortion", Checkbox, ""),
        field(
            "/incident/ai_generated_material",
            "AI-generated material",
            Checkbox,
            "",
        ),
        field("/incident/minor_to_minor", "Minor to minor", Checkbox, ""),
        field(
            "/incident/date_from",
            "Incident date, or first date (optional)",
            Date,
            "Not after the date received.",
        ),
        field(
            "/incident/date_to",
            "Last date of a range (optional)",
            Date,
            "Only with a first date.",
        ),
        select("/medium", "Medium", "", labelled(&catalog.media)),
        field(
            "/platform",
            "Platform, app or service (optional)",
            Text,
            "A name, never a link to material.",
        ),
        FieldSpec {
            options: statute_options(catalog),
            ..field(
                "/suspected_statutes",
                "Suspected Connecticut statutes",
                Checkboxes,
                "Choose every one that may apply (at most 20).",
            )
        },
        field(
            "/urgent",
            "Urgent: a child can be identified or is in imminent danger",
            Checkbox,
            "The Task Force gives such leads priority.",
        ),
    ];
    fieldset("incident", "The incident", "", fields)
}

fn subjects_section() -> SectionSpec {
    use Control::*;
    let fields = vec![
        select(
            "kind",
            "Kind",
            "",
            enum_options(&[
                SubjectIdentifierKind::ScreenName,
                SubjectIdentifierKind::Account,
                SubjectIdentifierKind::EmailAddress,
                SubjectIdentifierKind::PhoneNumber,
                SubjectIdentifierKind::IpEvent,
            ]),
        ),
        field("value", "Identifier", Text, ""),
        field("platform", "Platform (optional)", Text, ""),
        field(
            "observed_at",
            "Seen at (IP address only)",
            Text,
            "UTC, for example 2024-08-01T14:05:00Z.",
        ),
    ];
    SectionSpec {
        list: Some(("/subject_identifiers", "Identifier", bounds::SUBJECT_IDENTIFIERS)),
        ..fieldset(
            "subjects",
            "The suspect's identifiers",
            "Screen names, accounts, e-mail addresses, phone numbers, IP addresses with the time seen. Never the child's. Sealed out of the permanent record.",
            fields,
        )
    }
}

fn victims_section() -> SectionSpec {
    use Control::*;
    let fields = vec![
        select("age_band", "Age band", "", enum_options(&AgeBand::ALL)),
        field("identified", "Identified", Checkbox, ""),
        field(
            "identified_on",
            "Date identified (optional)",
            Date,
            "Only for an identified child.",
        ),
        field(
            "town",
            "Town (optional, restricted)",
            Text,
            "Never published. Sealed out of the permanent record.",
        ),
    ];
    SectionSpec {
        list: Some(("/victims", "Child", bounds::VICTIMS)),
        ..fieldset(
            "victims",
            "The children",
            "Only what triage and the statistics need. Leave a row empty if there is no child to list.",
            fields,
        )
    }
}

fn evidence_section() -> SectionSpec {
    use Control::*;
    let fields = vec![
        field("/evidence/item_count", "Items", Number, ""),
        field("/evidence/image_count", "Images", Number, ""),
        field("/evidence/video_count", "Videos", Number, ""),
    ];
    fieldset(
        "evidence",
        "Evidence: counts and hashes only",
        "This form attaches nothing. Never upload or send the material itself: give counts and file hashes.",
        fields,
    )
}

fn hashes_section() -> SectionSpec {
    use Control::*;
    let fields = vec![
        select(
            "algorithm",
            "Algorithm",
            "",
            enum_options(&[HashAlgorithm::Sha256, HashAlgorithm::Md5]),
        ),
        field("value", "Hash", Text, ""),
    ];
    SectionSpec {
        list: Some(("/evidence/hashes", "Hash", bounds::HASHES)),
        ..fieldset(
            "hashes",
            "Evidence file hashes",
            "Hex digits: 64 for SHA-256, 32 for MD5. Leave a row empty if you have none.",
            fields,
        )
    }
}

fn assistance_section() -> SectionSpec {
    use Control::*;
    let fields = vec![
        field(
            "/deconfliction_checked",
            "We checked for other agencies' involvement before filing",
            Checkbox,
            "",
        ),
        field(
            "/assistance_requested/undercover",
            "Undercover assistance requested",
            Checkbox,
            "",
        ),
        field(
            "/assistance_requested/forensic",
            "Forensic assistance requested",
            Checkbox,
            "",
        ),
        field(
            "/assistance_requested/technical",
            "Technical assistance requested",
            Checkbox,
            "",
        ),
    ];
    fieldset("assistance", "Deconfliction and assistance", "", fields)
}

fn attestation_section() -> SectionSpec {
    use Control::*;
    let fields = vec![
        FieldSpec {
            autocomplete: "name",
            ..field(
                "/attestation/name",
                "Your name",
                Text,
                "Sealed out of the permanent record.",
            )
        },
        field(
            "/attestation/statement_accepted",
            "I accept the statement above",
            Checkbox,
            "",
        ),
    ];
    fieldset(
        "attestation",
        "Attestation",
        icac_aggregates::form::v1::ATTESTATION_STATEMENT,
        fields,
    )
}

/// The posted form: its fields in order, looked up by name.
pub struct Posted(pub Vec<(String, String)>);

impl Posted {
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map_or("", |(_, v)| v.trim())
    }

    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.trim())
            .filter(|v| !v.is_empty())
            .collect()
    }

    pub fn checked(&self, name: &str) -> bool {
        !self.get(name).is_empty()
    }

    /// Rows of a list the form shows: as posted (at least 1), within the list's bound.
    pub fn rows(&self, list: &str, bound: usize) -> usize {
        self.get(&format!("rows{list}"))
            .parse::<usize>()
            .unwrap_or(1)
            .clamp(1, bound)
    }
}

fn put_text(m: &mut Map<String, Value>, key: &str, v: &str) {
    if !v.is_empty() {
        m.insert(key.to_owned(), Value::String(v.to_owned()));
    }
}

/// A count as a number when it is one; otherwise the text, so the validator names it.
fn put_count(m: &mut Map<String, Value>, key: &str, v: &str) {
    match v.parse::<u64>() {
        Ok(n) => {
            m.insert(key.to_owned(), Value::from(n));
        }
        Err(_) => put_text(m, key, v),
    }
}

fn object(p: &Posted, base: &str, texts: &[&str], flags: &[&str]) -> Map<String, Value> {
    let mut m = Map::new();
    for t in texts {
        put_text(&mut m, t, p.get(&format!("{base}/{t}")));
    }
    for f in flags {
        m.insert(
            (*f).to_owned(),
            Value::Bool(p.checked(&format!("{base}/{f}"))),
        );
    }
    m
}

/// The rows of a list that have anything typed in them.
fn list(p: &Posted, list: &str, bound: usize, texts: &[&str], flags: &[&str]) -> Vec<Value> {
    (0..p.rows(list, bound))
        .map(|i| object(p, &format!("{list}/{i}"), texts, flags))
        .filter(|m| {
            m.iter()
                .any(|(_, v)| v.as_str().is_some() || v == &Value::Bool(true))
        })
        .map(Value::Object)
        .collect()
}

/// The form's JSON (version 2) from the posted fields; `unit` is the filer's unit when
/// the filer is bound to one (it overrides whatever was posted).
pub fn to_json(p: &Posted, unit: Option<&str>) -> Value {
    let mut form = Map::new();
    form.insert("form_version".into(), Value::String("2".into()));
    put_filing(&mut form, p, unit);
    form.insert("source".into(), Value::Object(source_json(p)));
    put_incident(&mut form, p);
    put_people(&mut form, p);
    form.insert("evidence".into(), Value::Object(evidence_json(p)));
    put_declarations(&mut form, p);
    Value::Object(form)
}

/// The filing unit, the officer, the unit's case number and when it was received.
fn put_filing(form: &mut Map<String, Value>, p: &Posted, unit: Option<&str>) {
    put_text(
        form,
        "reporting_unit",
        unit.unwrap_or(p.get("/reporting_unit")),
    );
    form.insert(
        "officer".into(),
        Value::Object(object(
            p,
            "/officer",
            &["name", "badge", "phone", "email"],
            &[],
        )),
    );
    put_text(form, "unit_case_number", p.get("/unit_case_number"));
    form.insert(
        "received".into(),
        Value::Object(object(p, "/received", &["date", "time", "utc_offset"], &[])),
    );
}

/// The source's kind and the one reference field that kind takes (the others the
/// form shows are left out).
fn source_json(p: &Posted) -> Map<String, Value> {
    let kind = p.get("/source/kind");
    let mut source = Map::new();
    put_text(&mut source, "kind", kind);
    let detail = match kind {
        "ncmec_cybertip" => Some("cybertip_number"),
        "public_report" => Some("receipt_number"),
        "other_agency" => Some("agency_name"),
        "online_service_provider" => Some("provider_name"),
        "proactive_undercover" => Some("operation_id"),
        _ => None,
    };
    if let Some(d) = detail {
        put_text(&mut source, d, p.get(&format!("/source/{d}")));
    }
    source
}

/// The incident, its medium and platform, the suspected statutes, the urgent flag.
fn put_incident(form: &mut Map<String, Value>, p: &Posted) {
    let mut incident = object(
        p,
        "/incident",
        &["date_from", "date_to"],
        &["sextortion", "ai_generated_material", "minor_to_minor"],
    );
    put_text(&mut incident, "type", p.get("/incident/type"));
    form.insert("incident".into(), Value::Object(incident));
    put_text(form, "medium", p.get("/medium"));
    put_text(form, "platform", p.get("/platform"));
    form.insert(
        "suspected_statutes".into(),
        Value::Array(
            p.all("/suspected_statutes")
                .into_iter()
                .map(|s| Value::String(s.to_owned()))
                .collect(),
        ),
    );
    form.insert("urgent".into(), Value::Bool(p.checked("/urgent")));
}

/// The suspect's identifiers, and the children (left out when no row has any).
fn put_people(form: &mut Map<String, Value>, p: &Posted) {
    form.insert(
        "subject_identifiers".into(),
        Value::Array(list(
            p,
            "/subject_identifiers",
            bounds::SUBJECT_IDENTIFIERS,
            &["kind", "value", "platform", "observed_at"],
            &[],
        )),
    );
    let victims = list(
        p,
        "/victims",
        bounds::VICTIMS,
        &["age_band", "identified_on", "town"],
        &["identified"],
    );
    if !victims.is_empty() {
        form.insert("victims".into(), Value::Array(victims));
    }
}

fn evidence_json(p: &Posted) -> Map<String, Value> {
    let mut evidence = Map::new();
    for k in ["item_count", "image_count", "video_count"] {
        put_count(&mut evidence, k, p.get(&format!("/evidence/{k}")));
    }
    evidence.insert(
        "hashes".into(),
        Value::Array(list(
            p,
            "/evidence/hashes",
            bounds::HASHES,
            &["algorithm", "value"],
            &[],
        )),
    );
    evidence
}

/// What the filer declares: deconfliction done, assistance wanted, the attestation.
fn put_declarations(form: &mut Map<String, Value>, p: &Posted) {
    form.insert(
        "deconfliction_checked".into(),
        Value::Bool(p.checked("/deconfliction_checked")),
    );
    form.insert(
        "assistance_requested".into(),
        Value::Object(object(
            p,
            "/assistance_requested",
            &[],
            &["undercover", "forensic", "technical"],
        )),
    );
    form.insert(
        "attestation".into(),
        Value::Object(object(
            p,
            "/attestation",
            &["name"],
            &["statement_accepted"],
        )),
    );
}

/// The help the domain's JSON Schema gives for `pointer` (its `description`), with
/// `$ref`s and list items followed; "" where it has none.
pub fn schema_help(schema: &Value, pointer: &str) -> String {
    let resolve = |n: &Value| -> Value {
        n.get("$ref")
            .and_then(Value::as_str)
            .and_then(|r| r.strip_prefix("#/$defs/"))
            .and_then(|r| schema.get("$defs")?.get(r))
            .cloned()
            .unwrap_or_else(|| n.clone())
    };
    let mut node = schema.clone();
    for seg in pointer.split('/').filter(|s| !s.is_empty()) {
        let here = resolve(&node);
        let next = if seg.parse::<usize>().is_ok() {
            here.get("items").cloned()
        } else {
            here.get("properties")
                .and_then(|p| p.get(seg))
                .or_else(|| {
                    here.get("oneOf")?
                        .as_array()?
                        .iter()
                        .find_map(|alt| alt.get("properties")?.get(seg))
                })
                .cloned()
        };
        match next {
            Some(n) => node = n,
            None => return String::new(),
        }
    }
    let text = |n: &Value| {
        n.get("description")
            .and_then(Value::as_str)
            .map(str::to_owned)
    };
    text(&node)
        .or_else(|| text(&resolve(&node)))
        .map(|d| d.replace('\n', " "))
        .unwrap_or_default()
}

/// A field id for a pointer: `/officer/name` → `f-officer-name`.
pub fn field_id(pointer: &str) -> String {
    format!("f{}", pointer.replace(['/', '_'], "-"))
}

/// Spells a pointer for the error summary when no field has it: `/victims` → "Victims".
pub fn pointer_words(pointer: &str) -> String {
    let words: Vec<String> = pointer
        .split('/')
        .filter(|s| !s.is_empty())
        .map(|s| match s.parse::<usize>() {
            Ok(i) => format!("row {}", i + 1),
            Err(_) => spell(s).to_lowercase(),
        })
        .collect();
    match words.is_empty() {
        true => "The form".into(),
        false => spell(&words.join(" ")),
    }
}
