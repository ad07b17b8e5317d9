//! A fixed-window limit per client address, in memory. Used for the public reporting
//! form, which anyone can reach without logging in.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Bound on remembered clients, so a flood of addresses cannot grow memory without limit.
const MAX_CLIENTS: usize = 100_000;

pub struct RateLimiter {
    per_window: u32,
    window: Duration,
    clients: Mutex<HashMap<String, (Instant, u32)>>,
}

impl RateLimiter {
    pub fn new(per_window: u32, window: Duration) -> Self {
        RateLimiter {
            per_window,
            window,
            clients: Mutex::new(HashMap::new()),
        }
    }

    /// Counts one attempt; `Err(seconds)` when the client must wait.
    pub fn check(&self, client: &str) -> Result<(), u64> {
        let now = Instant::now();
        let Ok(mut clients) = self.clients.lock() else {
            return Ok(());
        };
        if clients.len() >= MAX_CLIENTS {
            let window = self.window;
            clients.retain(|_, (start, _)| now.duration_since(*start) < window);
            if clients.len() >= MAX_CLIENTS {
                return Err(self.window.as_secs().max(1));
            }
        }
        let entry = clients.entry(client.to_owned()).or_insert((now, 0));
        if now.duration_since(entry.0) >= self.window {
            *entry = (now, 0);
        }
        if entry.1 >= self.per_window {
            let wait = self.window.saturating_sub(now.duration_since(entry.0));
            return Err(wait.as_secs().max(1));
        }
        entry.1 += 1;
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn limits_per_client() {
        let l = RateLimiter::new(2, Duration::from_secs(60));
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_ok());
        assert!(l.check("a").is_err());
        assert!(l.check("b").is_ok());
    }
}
