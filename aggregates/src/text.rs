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
}

/// Checks `value` is non-blank, at most `max` characters and free of control
/// characters (line breaks would let one value forge lines in logs/exports).
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
    Ok(())
}

/// [`check`]'s rule as a JSON Schema `pattern` (ECMA-262), for schemas of free-text
/// fields: at least one non-space character and no control characters. The length
/// limit goes in `maxLength`.
pub const PATTERN: &str = r"^[^\u0000-\u001f\u007f-\u009f]*[^\s\u0000-\u001f\u007f-\u009f][^\u0000-\u001f\u007f-\u009f]*$";

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
