//! Bounded free text. Every string taken from outside passes through here so
//! that no event can carry an empty, oversized or control-laden value.

/// Why a piece of text was refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TextError {
    #[error("must not be empty")]
    Empty,
    #[error("must be at most {max} characters (got {len})")]
    TooLong { max: usize, len: usize },
    #[error("must not contain control characters")]
    ControlCharacters,
    #[error("must not contain invisible formatting characters (bidirectional overrides, zero-width characters); found U+{0:04X}")]
    InvisibleFormatting(u32),
}

/// Characters that change how text is displayed without being seen: bidirectional
/// embeddings, overrides and isolates (a name could be shown reversed, "Trojan
/// Source"), and zero-width characters (two names that look alike would differ).
pub fn is_invisible_formatting(c: char) -> bool {
    matches!(
        c,
        '\u{061C}'
            | '\u{180E}'
            | '\u{200B}'..='\u{200F}'
            | '\u{202A}'..='\u{202E}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{FEFF}'
    )
}

/// Checks `value` is non-blank, at most `max` characters, free of control characters
/// (line breaks would let one value forge lines in logs/exports) and of invisible
/// formatting characters ([`is_invisible_formatting`]).
pub fn check(value: &str, max: usize) -> Result<(), TextError> {
    if value.trim().is_empty() {
        return Err(TextError::Empty);
    }
    let len = value.chars().count();
    if len > max {
        return Err(TextError::TooLong { max, len });
    }
    if value.chars().any(char::is_control) {
        return Err(TextError::ControlCharacters);
    }
    if let Some(c) = value.chars().find(|c| is_invisible_formatting(*c)) {
        return Err(TextError::InvisibleFormatting(u32::from(c)));
    }
    Ok(())
}

/// [`check`]'s rule as a JSON Schema `pattern` (ECMA-262), for schemas of free-text
/// fields: at least one non-space character and no control characters. The length
/// limit goes in `maxLength`.
pub const PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]*[^\s\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff][^\u0000-\u001f\u007f-\u009f\u061c\u180e\u200b-\u200f\u202a-\u202e\u2060-\u2064\u2066-\u2069\ufeff]*$";

/// A domain error, as the caller sees it: the rule that refused the command, by a
/// stable snake_case name (problem+json's `kind`), and the one field of the command's
/// input it blames, if any, named with dots (`investigator.name`) so the caller can
/// point at it (`/investigator/name`).
pub trait BlamesField {
    fn blamed_field(&self) -> Option<&'static str> {
        None
    }

    /// The rule's name: the error variant's, in snake_case (`transition_not_allowed`).
    fn rule(&self) -> &'static str;
}

/// Limits shared by forms and commands (characters).
pub mod limits {
    pub const NAME: usize = 120;
    pub const SHORT: usize = 60;
    pub const PLATFORM: usize = 120;
    pub const SUMMARY: usize = 1000;
    pub const REASON: usize = 500;
    pub const IDENTIFIER_VALUE: usize = 256;
    pub const EMAIL: usize = 254;
    pub const PHONE: usize = 25;
}

/// An enum value as words for a message: its JSON code with spaces
/// (`CaseStatus::Triaged` → "triaged", `ReferralTarget::FederalProsecutors` →
/// "federal prosecutors"), never its Rust name.
pub fn spoken<T: serde::Serialize>(value: &T) -> String {
    match serde_json::to_value(value) {
        Ok(serde_json::Value::String(s)) => s.replace('_', " "),
        _ => String::from("(unknown)"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bidi_overrides_and_zero_width_characters_are_refused() {
        for bad in [
            "Hartford \u{202E}DP",
            "Hart\u{200B}ford",
            "\u{2066}x\u{2069}",
            "a\u{FEFF}b",
        ] {
            assert!(
                matches!(check(bad, 120), Err(TextError::InvisibleFormatting(_))),
                "{bad:?}"
            );
        }
        assert_eq!(check("Hartford Police Department", 120), Ok(()));
        assert_eq!(check("Département de police", 120), Ok(()));
    }
}
