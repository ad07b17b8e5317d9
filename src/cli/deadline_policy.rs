//! The deadline policy as `compliance`, `report annual` and `serve` take it: the same
//! flags (and environment variables, for a server's configuration) everywhere.

use clap::{Args, ValueEnum};
use icac_aggregates::compliance::sharing::{check_cadence, CadenceError, SharingPolicy};
use icac_aggregates::compliance::{DeadlinePolicy, PolicyError};

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Switch {
    On,
    Off,
}

#[derive(Debug, Clone, Args)]
pub struct DeadlinePolicyArgs {
    /// Roll a weekend or CT legal-holiday due date to the next business day
    #[arg(long, env = "ICAC_ROLL_TO_BUSINESS_DAY")]
    pub roll_to_business_day: bool,
    /// Observe a Saturday holiday on the Friday before, as C.G.S. 1-4 provides ("off"
    /// only reproduces answers computed without it)
    #[arg(
        long,
        env = "ICAC_SATURDAY_OBSERVANCE",
        value_enum,
        default_value = "on"
    )]
    pub saturday_observance: Switch,
    /// A notification is "due soon" with at most this many days left (0 to 14)
    #[arg(long, env = "ICAC_DUE_SOON_DAYS", default_value_t = 3)]
    pub due_soon_days: u32,
}

/// The continued-sharing clock: the cadence of a case that set none of its own.
#[derive(Debug, Clone, Args)]
pub struct SharingPolicyArgs {
    /// A unit owes the Task Force an update on an open case every this many days (1 to 365)
    #[arg(long, env = "ICAC_SHARING_CADENCE_DAYS", default_value_t = 30)]
    pub sharing_cadence_days: u32,
    /// ...and within this many days of an arrest or the closure
    #[arg(long, env = "ICAC_SHARING_EVENT_DAYS", default_value_t = 3)]
    pub sharing_event_days: u32,
}

impl SharingPolicyArgs {
    pub fn policy(&self) -> Result<SharingPolicy, CadenceError> {
        Ok(SharingPolicy {
            default_cadence_days: check_cadence(self.sharing_cadence_days)?,
            event_update_days: self.sharing_event_days.min(365),
            ..SharingPolicy::default()
        })
    }
}

impl DeadlinePolicyArgs {
    pub fn policy(&self) -> Result<DeadlinePolicy, PolicyError> {
        DeadlinePolicy::new(
            self.roll_to_business_day,
            self.saturday_observance == Switch::On,
            self.due_soon_days,
        )
    }
}
