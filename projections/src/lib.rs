//! Read models folded from ledger events: case views and history, 14-day
//! compliance, operations, the public-report intake queue, the unit
//! directory, and the annual report to the General Assembly.
//!
//! Pure: no I/O and no clock. "As of" moments are arguments; the app feeds
//! decoded events in ledger position order.

pub mod case_view;
pub mod compliance;
pub mod event;
pub mod history;
pub mod intake;
pub mod operation_results;
pub mod operations;
pub mod read_models;
pub mod report;
pub mod sharing;
pub mod tips;
pub mod unit_directory;
pub mod victim_counts;

pub use event::{decode, DecodeError, DomainEvent, LedgerEvent};
pub use read_models::{ReadModels, ViewKey};
