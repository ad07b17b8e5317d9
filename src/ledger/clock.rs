//! Where the writer reads commit times (`metadata.recorded_at`) from. A real ledger's
//! writer reads the system clock, always. A demo ledger — one whose genesis declares
//! `"clock": "demo"`, which only the demo commands write (`Ledger::initialise_demo`) —
//! reads the demo story's clock while the story is being loaded, so that as-of replay,
//! the timeline and the dashboard agree on the story; before and after, the system
//! clock. Either way the sequencer keeps commit times from going backwards, and a
//! story instant is never later than the real time of writing.

use std::sync::{Arc, Mutex};

use icac_format::key_events::CommitClock;
use jiff::Timestamp;

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ClockError {
    /// Only a ledger created as a demo may be given story times.
    #[error("this ledger's genesis declares the system clock: its commit times cannot follow a demo story (only a ledger created by `demo` or `serve --demo` can)")]
    NotDemo,
}

/// The writer's clock; cheap to clone (clones share the story time).
#[derive(Debug, Clone)]
pub struct WriterClock {
    declared: CommitClock,
    /// The story's instant now (demo ledgers only; `None`: the system clock).
    story: Arc<Mutex<Option<Timestamp>>>,
}

impl WriterClock {
    /// The clock a ledger whose genesis declares `declared` writes with.
    pub fn declared(declared: CommitClock) -> Self {
        WriterClock {
            declared,
            story: Arc::new(Mutex::new(None)),
        }
    }

    pub fn system() -> Self {
        Self::declared(CommitClock::System)
    }

    /// What the genesis declares.
    pub fn commit_clock(&self) -> CommitClock {
        self.declared
    }

    /// The commit time of a batch sealed now: the story's instant on a demo ledger
    /// while a story is loaded (never after the real time), else the system clock.
    pub fn now(&self) -> Timestamp {
        let real = Timestamp::now();
        match self.story.lock().ok().and_then(|s| *s) {
            Some(story) if self.declared == CommitClock::Demo => story.min(real),
            _ => real,
        }
    }

    /// Sets the story's instant (`None`: back to the system clock). Refused on a
    /// ledger whose genesis declares the system clock.
    pub fn set_story_time(&self, at: Option<Timestamp>) -> Result<(), ClockError> {
        if self.declared != CommitClock::Demo {
            return Err(ClockError::NotDemo);
        }
        if let Ok(mut s) = self.story.lock() {
            *s = at;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_real_ledger_refuses_a_story_time() {
        let clock = WriterClock::system();
        let past: Timestamp = "2024-07-04T12:00:00Z".parse().unwrap();
        assert_eq!(clock.set_story_time(Some(past)), Err(ClockError::NotDemo));
        assert!(clock.now() > past);
    }

    #[test]
    fn a_demo_ledger_follows_the_story_never_past_the_real_time() {
        let clock = WriterClock::declared(CommitClock::Demo);
        let past: Timestamp = "2024-07-04T12:00:00Z".parse().unwrap();
        clock.set_story_time(Some(past)).unwrap();
        assert_eq!(clock.clone().now(), past);
        let future = Timestamp::now() + jiff::SignedDuration::from_hours(24 * 400);
        clock.set_story_time(Some(future)).unwrap();
        assert!(clock.now() < future);
        clock.set_story_time(None).unwrap();
        assert!(clock.now() > past);
    }
}
