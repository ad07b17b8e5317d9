//! Plain-English words for what the domain records as codes: the pages never show a
//! Rust name (`CsamPossession`), a snake_case code (`due_soon`) or a range (`1..=N`).

use icac_aggregates::catalog::Catalog;
use jiff::civil::Date;
use serde::Serialize;

/// Words that keep their capitals (abbreviations and names) when a code is spelled out.
const PROPER: &[(&str, &str)] = &[
    ("ncmec", "NCMEC"),
    ("cybertip", "CyberTip"),
    ("dcf", "DCF"),
    ("csam", "CSAM"),
    ("ai", "AI"),
    ("ip", "IP"),
    ("im", "IM"),
    ("sha256", "SHA-256"),
    ("md5", "MD5"),
    ("ori", "ORI"),
    ("connecticut", "Connecticut"),
];

/// A snake_case code as words, first letter capital: `online_service_provider` →
/// "Online service provider", `ncmec_cybertip` → "NCMEC CyberTip".
pub fn spell(code: &str) -> String {
    let words: Vec<String> = code
        .split('_')
        .filter(|w| !w.is_empty())
        .map(|w| match PROPER.iter().find(|(k, _)| *k == w) {
            Some((_, proper)) => (*proper).to_owned(),
            None => w.to_owned(),
        })
        .collect();
    let mut text = words.join(" ");
    if let Some(first) = text.get(..1) {
        let upper = first.to_uppercase();
        text.replace_range(..1, &upper);
    }
    text
}

/// The code a value serializes as (its JSON string), or "" for a value that is not one.
pub fn code<T: Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s,
        Ok(serde_json::Value::Object(m)) => m
            .get("kind")
            .or_else(|| m.get("status"))
            .or_else(|| m.get("field"))
            .and_then(|v| v.as_str())
            .unwrap_or_default()
            .to_owned(),
        _ => String::new(),
    }
}

/// A domain value in words: the catalog's label where the catalog has one, otherwise
/// its code spelled out.
pub fn words<T: Serialize>(value: &T) -> String {
    let code = code(value);
    if let Ok(catalog) = Catalog::builtin() {
        let labelled = catalog
            .incident_types
            .iter()
            .map(|l| (self::code(&l.code), &l.label))
            .chain(
                catalog
                    .sources
                    .iter()
                    .map(|l| (self::code(&l.code), &l.label)),
            )
            .chain(
                catalog
                    .media
                    .iter()
                    .map(|l| (self::code(&l.code), &l.label)),
            );
        for (c, label) in labelled {
            if c == code {
                return label.clone();
            }
        }
    }
    spell(&code)
}

/// A date as people write it: "July 4, 2024".
pub fn date(d: Date) -> String {
    d.strftime("%B %-d, %Y").to_string()
}

/// A statute code with its title from the catalog: "53a-196d (Possessing child
/// sexual abuse material, first degree)".
pub fn statute(code: &icac_aggregates::ids::StatuteCode) -> String {
    let title = Catalog::builtin().ok().and_then(|c| {
        c.statutes
            .iter()
            .find(|s| &s.code == code)
            .map(|s| s.title.clone())
    });
    match title {
        Some(t) => format!("{code} ({t})"),
        None => code.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_become_words() {
        assert_eq!(spell("online_service_provider"), "Online service provider");
        assert_eq!(spell("ncmec_cybertip"), "NCMEC CyberTip");
        assert_eq!(spell("due_soon"), "Due soon");
        assert_eq!(date(jiff::civil::date(2024, 7, 4)), "July 4, 2024");
        assert_eq!(
            words(&icac_aggregates::case::CaseStatus::Investigating),
            "Investigating"
        );
    }
}
