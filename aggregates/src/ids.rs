//! Identifier newtypes. Each one validates its shape on construction and on
//! deserialization, so an invalid identifier can never reach an event.

use std::borrow::Cow;
use std::fmt;

use schemars::{json_schema, JsonSchema, Schema, SchemaGenerator};
use serde::{Deserialize, Serialize};

/// Why a string was not accepted as an identifier.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{kind} {reason}")]
pub struct IdError {
    pub kind: &'static str,
    pub reason: String,
}

impl IdError {
    fn new(kind: &'static str, reason: impl Into<String>) -> Self {
        Self {
            kind,
            reason: reason.into(),
        }
    }
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $kind:literal, $check:path, $schema:tt) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// Validates and wraps `value`.
            pub fn parse(value: impl Into<String>) -> Result<Self, IdError> {
                let value = value.into();
                $check(&value).map_err(|reason| IdError::new($kind, reason))?;
                Ok(Self(value))
            }

            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        impl TryFrom<String> for $name {
            type Error = IdError;
            fn try_from(value: String) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl std::str::FromStr for $name {
            type Err = IdError;
            fn from_str(value: &str) -> Result<Self, IdError> {
                Self::parse(value)
            }
        }

        impl From<$name> for String {
            fn from(value: $name) -> String {
                value.0
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(&self.0)
            }
        }

        impl fmt::Debug for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                write!(f, "{}({:?})", stringify!($name), self.0)
            }
        }

        impl JsonSchema for $name {
            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }
            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!($schema)
            }
        }
    };
}

fn check_ori(value: &str) -> Result<(), String> {
    let bytes = value.as_bytes();
    if bytes.len() != 9 {
        return Err(format!(
            "must be exactly 9 characters (e.g. CT0001500), got {}",
            value.chars().count()
        ));
    }
    if !bytes[..2].iter().all(u8::is_ascii_uppercase) {
        return Err("must start with a two-letter state code in capitals (e.g. CT)".into());
    }
    if !bytes[2..]
        .iter()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase())
    {
        return Err("must have 7 capital letters or digits after the state code".into());
    }
    Ok(())
}

/// Stream ids: short, URL- and log-safe, never free text.
fn check_slug(value: &str, max: usize) -> Result<(), String> {
    if value.is_empty() || value.len() > max {
        return Err(format!("must be 1 to {max} characters"));
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b':'))
    {
        return Err("may contain only letters, digits and - _ . :".into());
    }
    if !value.as_bytes()[0].is_ascii_alphanumeric() {
        return Err("must start with a letter or digit".into());
    }
    Ok(())
}

fn check_case_id(value: &str) -> Result<(), String> {
    check_slug(value, CaseId::MAX_LEN)
}

fn check_operation_id(value: &str) -> Result<(), String> {
    check_slug(value, 64)
}

fn check_cybertip(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > CyberTipNumber::MAX_DIGITS {
        return Err(format!(
            "must be 1 to {} digits",
            CyberTipNumber::MAX_DIGITS
        ));
    }
    if !value.bytes().all(|b| b.is_ascii_digit()) {
        return Err("must contain digits only".into());
    }
    Ok(())
}

fn check_receipt(value: &str) -> Result<(), String> {
    if value.is_empty() || value.len() > 32 {
        return Err("must be 1 to 32 characters".into());
    }
    if !value
        .bytes()
        .all(|b| b.is_ascii_digit() || b.is_ascii_uppercase() || b == b'-')
    {
        return Err("may contain only capital letters, digits and -".into());
    }
    Ok(())
}

fn check_unit_case_number(value: &str) -> Result<(), String> {
    if value.trim().is_empty() || value.chars().count() > 40 {
        return Err("must be 1 to 40 characters".into());
    }
    if !value.chars().all(|c| c.is_ascii_graphic() || c == ' ') {
        return Err("may contain only printable ASCII characters".into());
    }
    Ok(())
}

fn check_statute(value: &str) -> Result<(), String> {
    // Shape only (e.g. 53a-196d, 53-21); catalog membership is a form rule.
    let Some((title, section)) = value.split_once('-') else {
        return Err("must look like 53a-196d".into());
    };
    let ok_part = |part: &str| {
        !part.is_empty()
            && part.len() <= 6
            && part.as_bytes()[0].is_ascii_digit()
            && part
                .bytes()
                .all(|b| b.is_ascii_digit() || b.is_ascii_lowercase())
    };
    if !ok_part(title) || !ok_part(section) {
        return Err("must look like 53a-196d".into());
    }
    Ok(())
}

string_id!(
    /// NCIC Originating Agency Identifier: 2-letter state code + 7 characters
    /// (e.g. `CT0001500`). A unit's aggregate id.
    Ori, "ORI", check_ori,
    {"type": "string", "pattern": "^[A-Z]{2}[A-Z0-9]{7}$", "description": "NCIC ORI, e.g. CT0001500"}
);

string_id!(
    /// A case stream id. See [`CaseId::for_unit_case`] for the deterministic
    /// form the app should use.
    CaseId, "case id", check_case_id,
    {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,129}$"}
);

string_id!(
    /// An NCMEC CyberTipline report number (digits, kept as a string: it is an
    /// identifier, and JSON consumers must not round it).
    CyberTipNumber, "CyberTip number", check_cybertip,
    {"type": "string", "pattern": "^[0-9]{1,15}$", "description": "NCMEC CyberTipline report number, digits only"}
);

string_id!(
    /// The receipt number a web-site or hotline report was given.
    ReceiptNumber, "receipt number", check_receipt,
    {"type": "string", "pattern": "^[A-Z0-9-]{1,32}$"}
);

string_id!(
    /// An undercover operation's stream id.
    OperationId, "operation id", check_operation_id,
    {"type": "string", "pattern": "^[A-Za-z0-9][A-Za-z0-9._:-]{0,63}$"}
);

string_id!(
    /// The reporting unit's own case or incident number.
    UnitCaseNumber, "unit case number", check_unit_case_number,
    {"type": "string", "minLength": 1, "maxLength": 40, "pattern": "^[ -~]+$"}
);

string_id!(
    /// A Connecticut General Statutes section, e.g. `53a-196d`.
    StatuteCode, "statute code", check_statute,
    {"type": "string", "pattern": "^[0-9][0-9a-z]{0,5}-[0-9][0-9a-z]{0,5}$", "description": "C.G.S. section from the catalog, e.g. 53a-196d"}
);

impl CaseId {
    /// Room for an ORI, `:` and a 40-character unit case number with every character
    /// escaped (`_XX`).
    pub const MAX_LEN: usize = 130;

    /// The natural key of a case: reporting unit + that unit's case number.
    /// Deterministic, so a retried command lands on the same stream, and injective:
    /// letters, digits, `-` and `.` stand for themselves, every other character
    /// (`_` included) becomes `_` and its two hex digits, so two different case
    /// numbers of one unit never share a case (`COL/2026 7` → `COL_2F2026_207`,
    /// `COL#2026_7` → `COL_232026_5F7`).
    pub fn for_unit_case(ori: &Ori, number: &UnitCaseNumber) -> Result<Self, IdError> {
        let mut encoded = String::with_capacity(number.as_str().len());
        for b in number.as_str().bytes() {
            // A unit case number is printable ASCII, so one byte is one character.
            if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.') {
                encoded.push(char::from(b));
            } else {
                encoded.push_str(&format!("_{b:02X}"));
            }
        }
        Self::parse(format!("{ori}:{encoded}"))
    }

    /// A case opened when a public report is routed to a unit, before the
    /// unit has numbered it.
    pub fn for_public_report(ori: &Ori, receipt: &ReceiptNumber) -> Result<Self, IdError> {
        Self::parse(format!("{ori}:PR-{receipt}"))
    }
}

impl CyberTipNumber {
    pub const MAX_DIGITS: usize = 15;
}

/// A position in the global ledger. Carried as a decimal string in JSON
/// because positions may exceed 2^53 - 1 and the ledger hashes canonical JSON.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct LedgerPosition(u64);

impl LedgerPosition {
    pub const fn new(value: u64) -> Self {
        Self(value)
    }
    pub const fn get(self) -> u64 {
        self.0
    }
}

impl TryFrom<String> for LedgerPosition {
    type Error = IdError;
    fn try_from(value: String) -> Result<Self, IdError> {
        if value.is_empty() || value.len() > 20 || !value.bytes().all(|b| b.is_ascii_digit()) {
            return Err(IdError::new("ledger position", "must be a decimal string"));
        }
        value
            .parse::<u64>()
            .map(Self)
            .map_err(|_| IdError::new("ledger position", "is out of range"))
    }
}

impl From<LedgerPosition> for String {
    fn from(value: LedgerPosition) -> String {
        value.0.to_string()
    }
}

impl fmt::Display for LedgerPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

impl fmt::Debug for LedgerPosition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "LedgerPosition({})", self.0)
    }
}

impl JsonSchema for LedgerPosition {
    fn schema_name() -> Cow<'static, str> {
        "LedgerPosition".into()
    }
    fn json_schema(_: &mut SchemaGenerator) -> Schema {
        json_schema!({"type": "string", "pattern": "^[0-9]{1,20}$"})
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ori_shape() {
        assert!(Ori::parse("CT0001500").is_ok());
        assert!(Ori::parse("ct0001500").is_err());
        assert!(Ori::parse("CT000150").is_err());
        assert!(Ori::parse("CT00015-0").is_err());
    }

    #[test]
    fn ledger_position_is_a_string_in_json() {
        let p = LedgerPosition::new(u64::MAX);
        let json = serde_json::to_value(p).unwrap();
        assert_eq!(json, serde_json::json!("18446744073709551615"));
        let back: LedgerPosition = serde_json::from_value(json).unwrap();
        assert_eq!(back, p);
        assert!(serde_json::from_value::<LedgerPosition>(serde_json::json!(5)).is_err());
    }

    #[test]
    fn case_id_from_unit_case_number() {
        let ori = Ori::parse("CT0006400").unwrap();
        let n = UnitCaseNumber::parse("24-001 23/A").unwrap();
        assert_eq!(
            CaseId::for_unit_case(&ori, &n).unwrap().as_str(),
            "CT0006400:24-001_2023_2FA"
        );
        let plain = UnitCaseNumber::parse("26-00123").unwrap();
        assert_eq!(
            CaseId::for_unit_case(&ori, &plain).unwrap().as_str(),
            "CT0006400:26-00123"
        );
    }

    #[test]
    fn distinct_case_numbers_never_share_a_case() {
        let ori = Ori::parse("CT0006400").unwrap();
        let id = |n: &str| CaseId::for_unit_case(&ori, &UnitCaseNumber::parse(n).unwrap()).unwrap();
        assert_ne!(id("COL/2026 7"), id("COL#2026_7"));
        assert_ne!(id("CMP/9"), id("CMP 9"));
        assert_ne!(id("A_20"), id("A "));
        // The longest number, every character escaped, still fits.
        let worst = "/".repeat(40);
        assert_eq!(id(&worst).as_str().len(), CaseId::MAX_LEN);
    }

    proptest::proptest! {
        #[test]
        fn the_encoding_is_injective(a in "[ -~]{1,12}", b in "[ -~]{1,12}") {
            let ori = Ori::parse("CT0006400").unwrap();
            let (Ok(na), Ok(nb)) = (UnitCaseNumber::parse(a.clone()), UnitCaseNumber::parse(b.clone())) else {
                return Ok(());
            };
            let (ia, ib) = (CaseId::for_unit_case(&ori, &na).unwrap(), CaseId::for_unit_case(&ori, &nb).unwrap());
            proptest::prop_assert_eq!(a == b, ia == ib);
        }
    }
}
