//! The standardized initial notification form (29-7e(b)(1), (c)).

pub mod schema;
pub mod v1;
pub mod validation;

pub use v1::NotificationForm;
pub use validation::{parse_and_validate, validate, FieldError, ValidationContext};
