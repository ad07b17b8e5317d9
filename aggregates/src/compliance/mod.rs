//! The 14-day rule of C.G.S. 29-7e(c) as pure date arithmetic.

pub mod deadline;
pub mod holidays;
pub mod sharing;
pub mod status;

pub use deadline::{due_date, DeadlinePolicy, PolicyError, MAX_DUE_SOON_DAYS, NOTIFICATION_DAYS};
pub use status::{assess, Compliance, ComplianceStatus, NotificationClock};
