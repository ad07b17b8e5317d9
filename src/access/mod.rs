//! Who may do what, and the record of it: roles and the permissions they grant
//! (`auth`), bearer tokens, staff accounts and the failures that lock them, and the
//! hash-chained access log. The HTTP layer authenticates requests with these and the
//! CLI administers them; neither owns them, so the CLI reaches these tables without
//! going through `http`.
//!
//! Architecture Invariant: nothing here depends on `crate::http` (a refusal is the
//! typed `auth::Denied`, which HTTP turns into a 403).

pub mod access_log;
pub mod accounts;
pub mod auth;
pub(crate) mod db;
pub(crate) mod failure_window;
pub mod tokens;
