//! A fixed-window limit per client address, in memory. Used for the public reporting
//! form, which anyone can reach without logging in.
//!
//! Memory is bounded, and when it is full the limiter forgets rather than refuses: it
//! keeps two generations of clients, and once the current one holds half the capacity
//! the older is dropped whole. A flood of new addresses therefore only makes the
//! limiter forget the clients it has not seen for longest (they start a fresh window);
//! it never locks out a visitor it has not counted.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    /// Clients per generation; two generations are kept.
    generation_size: usize,
    clients: Mutex<Generations>,
}

#[derive(Default)]
struct Generations {
    current: HashMap<String, (Instant, u32)>,
    previous: HashMap<String, (Instant, u32)>,
}

impl RateLimiter {
    /// `capacity` bounds the clients remembered (at least 2).
    pub fn new(per_window: u32, window: Duration, capacity: usize) -> Self {
        RateLimiter {
            per_window,
            window,
            generation_size: (capacity / 2).max(1),
            clients: Mutex::new(Generations::default()),
        }
    }

    /// Counts one attempt; `Err(seconds)` when the client must wait.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut g) = self.clients.lock() else {
            return Ok(());
        };
        let mut entry = match g.current.remove(client) {
            Some(e) => e,
            None => g.previous.remove(client).unwrap_or((now, 0)),
        };
        if now.duration_since(entry.0) >= self.window {
            entry = (now, 0);
        }
        let verdict = if entry.1 >= self.per_window {
            let wait = self.window.saturating_sub(now.duration_since(entry.0));
            Err(wait.as_secs().max(1))
        } else {
            entry.1 += 1;
            Ok(())
        };
        if g.current.len() >= self.generation_size {
            g.previous = std::mem::take(&mut g.current);
        }
        g.current.insert(client.to_owned(), entry);
        verdict
    }

    /// Clients remembered now (never more than the capacity).
    pub fn remembered(&self) -> usize {
        self.clients
            .lock()
            .map_or(0, |g| g.current.len() + g.previous.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_client() {
        let l = RateLimiter::new(2, Duration::from_secs(60), 100);
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
    }

    #[test]
    fn a_flood_of_addresses_forgets_but_never_refuses_a_newcomer() {
        let l = RateLimiter::new(5, Duration::from_secs(600), 100_000);
        for i in 0..100_000u32 {
            assert!(l
                .check(&format!("10.{}.{}.{}", i >> 16, (i >> 8) & 255, i & 255))
                .is_ok());
            assert!(l.remembered() <= 100_000);
        }
        assert!(l.check("192.0.2.1").is_ok(), "a new visitor was refused");
        // A client seen recently is still counted.
        let l = RateLimiter::new(1, Duration::from_secs(600), 1_000);
        assert!(l.check("busy").is_ok());
        for i in 0..400 {
            let _ = l.check(&format!("flood-{i}"));
        }
        assert!(
            l.check("busy").is_err(),
            "recent client forgotten too early"
        );
    }
}
