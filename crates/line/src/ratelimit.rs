//! Client-side rate limits per endpoint group, at LINE's published rates by default
//! (requests per channel; see shared/line-openapi/README.md): a token bucket per group that
//! holds `requests` tokens and refills them evenly over `per`.

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

/// Endpoint groups that share one LINE rate limit.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum EndpointGroup {
    Reply,
    Push,
    /// 200 requests/second.
    Multicast,
    /// 60 requests/hour.
    Narrowcast,
    /// 60 requests/hour.
    Broadcast,
    /// Rich menu create and delete: 100 requests/hour.
    RichMenuWrite,
    /// 60 requests/hour.
    Insight,
    /// 60 requests/minute.
    Audience,
    /// Everything else: 2,000 requests/second.
    Other,
    /// LINE Login (ID token verification): LINE publishes no rate, so none by default.
    Login,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    pub requests: u32,
    pub per: Duration,
}

impl RateLimit {
    pub const fn new(requests: u32, per: Duration) -> Self {
        RateLimit { requests, per }
    }
    pub const fn per_second(requests: u32) -> Self {
        RateLimit::new(requests, Duration::from_secs(1))
    }
    pub const fn per_minute(requests: u32) -> Self {
        RateLimit::new(requests, Duration::from_secs(60))
    }
    pub const fn per_hour(requests: u32) -> Self {
        RateLimit::new(requests, Duration::from_secs(3600))
    }
}

/// The limit of each group; a group without an entry is not limited.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RateLimits(pub HashMap<EndpointGroup, RateLimit>);

impl Default for RateLimits {
    /// LINE's published rates.
    fn default() -> Self {
        use EndpointGroup::*;
        RateLimits(HashMap::from([
            (Reply, RateLimit::per_second(2000)),
            (Push, RateLimit::per_second(2000)),
            (Multicast, RateLimit::per_second(200)),
            (Narrowcast, RateLimit::per_hour(60)),
            (Broadcast, RateLimit::per_hour(60)),
            (RichMenuWrite, RateLimit::per_hour(100)),
            (Insight, RateLimit::per_hour(60)),
            (Audience, RateLimit::per_minute(60)),
            (Other, RateLimit::per_second(2000)),
        ]))
    }
}

impl RateLimits {
    /// No client-side limits at all.
    pub fn unlimited() -> Self {
        RateLimits(HashMap::new())
    }
    pub fn set(mut self, group: EndpointGroup, limit: RateLimit) -> Self {
        self.0.insert(group, limit);
        self
    }
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    updated: Instant,
}

/// Token buckets for all groups.
#[derive(Debug)]
pub struct RateLimiter {
    limits: RateLimits,
    buckets: Mutex<HashMap<EndpointGroup, Bucket>>,
}

impl RateLimiter {
    pub fn new(limits: RateLimits) -> Self {
        RateLimiter {
            limits,
            buckets: Mutex::new(HashMap::new()),
        }
    }

    /// Takes a token for `group`, or tells how long until one is available.
    pub fn try_acquire(&self, group: EndpointGroup) -> Result<(), Duration> {
        let Some(limit) = self.limits.0.get(&group).copied() else {
            return Ok(());
        };
        if limit.requests == 0 {
            return Err(limit.per);
        }
        let capacity = f64::from(limit.requests);
        let rate = capacity / limit.per.as_secs_f64().max(f64::MIN_POSITIVE);
        let now = Instant::now();
        let mut buckets = self
            .buckets
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let bucket = buckets.entry(group).or_insert(Bucket {
            tokens: capacity,
            updated: now,
        });
        let elapsed = now.saturating_duration_since(bucket.updated).as_secs_f64();
        bucket.tokens = (bucket.tokens + elapsed * rate).min(capacity);
        bucket.updated = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            Ok(())
        } else {
            Err(Duration::from_secs_f64((1.0 - bucket.tokens) / rate))
        }
    }

    /// Waits for a token; gives up (returning the wait it would need) when that is over
    /// `max_wait`.
    pub async fn acquire(&self, group: EndpointGroup, max_wait: Duration) -> Result<(), Duration> {
        let started = Instant::now();
        loop {
            match self.try_acquire(group) {
                Ok(()) => return Ok(()),
                Err(wait) => {
                    if started.elapsed() + wait > max_wait {
                        return Err(wait);
                    }
                    tokio::time::sleep(wait).await;
                }
            }
        }
    }
}
