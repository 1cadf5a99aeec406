//! Per-caller rate limits: one token bucket per key (a user id, a recipient token's hash). Each key may
//! make `burst` requests at once and `rate` per second after that; a request over its limit is told how
//! long to wait. Keys are only ever callers that authenticated, and buckets idle long enough to be full
//! again are forgotten, so memory stays bounded by the callers of the last minute.
#![warn(missing_docs)]

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// Requests per second and burst for each key. Its `Debug` output never shows the keys.
pub struct RateLimiter {
    rate: f64,
    burst: f64,
    buckets: Mutex<Buckets>,
}

impl std::fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RateLimiter")
            .field("rate", &self.rate)
            .field("burst", &self.burst)
            .field("tracked", &self.tracked())
            .finish()
    }
}

#[derive(Default)]
struct Buckets {
    by_key: HashMap<String, Bucket>,
    last_prune: Option<Instant>,
}

#[derive(Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

/// A request over its key's limit: wait this long before the next one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limited {
    /// How long until a request would pass.
    pub retry_after: Duration,
}

impl Limited {
    /// `Retry-After` in whole seconds (at least 1).
    pub fn retry_after_seconds(&self) -> u64 {
        self.retry_after.as_secs_f64().ceil().max(1.0) as u64
    }
}

impl RateLimiter {
    /// `rate` requests per second per key, `burst` at once (at least 1).
    pub fn new(rate: f64, burst: f64) -> RateLimiter {
        RateLimiter {
            rate: rate.max(f64::MIN_POSITIVE),
            burst: burst.max(1.0),
            buckets: Mutex::new(Buckets::default()),
        }
    }

    /// `rate` per second with a burst of one second's worth.
    pub fn per_second(rate: f64) -> RateLimiter {
        RateLimiter::new(rate, rate)
    }

    /// Takes one request from `key`'s bucket, or says how long to wait.
    pub fn check(&self, key: &str) -> Result<(), Limited> {
        self.check_at(key, Instant::now())
    }

    fn check_at(&self, key: &str, now: Instant) -> Result<(), Limited> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        self.prune(&mut buckets, now);
        let bucket = buckets.by_key.entry(key.to_string()).or_insert(Bucket {
            tokens: self.burst,
            at: now,
        });
        let elapsed = now.saturating_duration_since(bucket.at).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * self.rate).min(self.burst);
        bucket.at = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Limited {
                retry_after: Duration::from_secs_f64((1.0 - bucket.tokens) / self.rate),
            })
        }
    }

    /// Forgets buckets that have refilled completely (they behave as new ones), at most once a second.
    fn prune(&self, buckets: &mut Buckets, now: Instant) {
        if buckets
            .last_prune
            .is_some_and(|at| now.saturating_duration_since(at) < Duration::from_secs(1))
        {
            return;
        }
        buckets.last_prune = Some(now);
        let full_after = self.burst / self.rate;
        buckets
            .by_key
            .retain(|_, b| now.saturating_duration_since(b.at).as_secs_f64() < full_after);
    }

    /// Keys currently remembered.
    pub fn tracked(&self) -> usize {
        self.buckets
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .by_key
            .len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_key_gets_its_burst_then_its_rate_and_others_are_untouched() {
        let limiter = RateLimiter::new(10.0, 5.0);
        let start = Instant::now();
        for _ in 0..5 {
            limiter.check_at("ana", start).unwrap();
        }
        let limited = limiter.check_at("ana", start).unwrap_err();
        assert!(limited.retry_after <= Duration::from_millis(100));
        assert_eq!(limited.retry_after_seconds(), 1);
        limiter.check_at("bo", start).unwrap();
        // 100 ms later one more request passes, not two.
        let later = start + Duration::from_millis(100);
        limiter.check_at("ana", later).unwrap();
        assert!(limiter.check_at("ana", later).is_err());
    }

    #[test]
    fn idle_keys_are_forgotten() {
        let limiter = RateLimiter::per_second(100.0);
        let start = Instant::now();
        for i in 0..1000 {
            limiter.check_at(&format!("k{i}"), start).unwrap();
        }
        assert_eq!(limiter.tracked(), 1000);
        limiter
            .check_at("late", start + Duration::from_secs(2))
            .unwrap();
        assert_eq!(limiter.tracked(), 1);
    }
}
