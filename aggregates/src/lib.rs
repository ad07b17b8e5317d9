//! The rules of C.G.S. 29-7e as pure code.
//!
//! Nothing in this crate reads the clock, the network, a database or the OS
//! random source: every command carries the instant it was recorded
//! (`recorded_at`), and every outside fact a rule needs comes in through a
//! service trait (see [`services`]). See `docs/DOMAIN.md` for the model.

pub mod case;
pub mod catalog;
pub mod compliance;
pub mod cybertip;
pub mod deconfliction;
pub mod demo;
pub mod form;
pub mod ids;
pub mod local_time;
pub mod operation;
pub mod public_report;
pub mod release;
pub mod sealed;
pub mod services;
pub mod text;
pub mod tip_intake;
pub mod units;
pub mod upcast;

/// Version string every event type currently carries. Bump per event type
/// (not globally) and add an [`upcast`] step when a payload changes shape.
pub const EVENT_VERSION_1: &str = "1";
