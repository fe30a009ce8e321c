//! A delivery to 1,000,000 friends through the simulator at LINE's rate limits (issue 6),
//! with the hiroba-line client: multicasts of 500, each with a retry key stored before the
//! call, several in flight, the client's limiter pacing them at 200 requests a second.
//! Prints the time against what the rate limit alone imposes, and this process's memory
//! (simulator and client together).
//!
//! `cargo run --release -p hiroba-line-sim --example million_delivery [-- FRIENDS [CONCURRENCY]]`

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use hiroba_line::client::{Client, ClientConfig, new_retry_key};
use hiroba_line::message::Message;
use hiroba_line::ratelimit::{EndpointGroup, RateLimits};
use hiroba_line::request::MulticastRequest;
use hiroba_line_sim::{SimConfig, spawn};

/// (VmRSS, VmHWM) of this process in MiB.
fn memory() -> (u64, u64) {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    let field = |name: &str| {
        status
            .lines()
            .find(|l| l.starts_with(name))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|v| v.parse::<u64>().ok())
            .unwrap_or(0)
            / 1024
    };
    (field("VmRSS:"), field("VmHWM:"))
}

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let mut args = std::env::args().skip(1);
    let friends: u32 = args
        .next()
        .and_then(|a| a.parse().ok())
        .unwrap_or(1_000_000);
    let concurrency: usize = args.next().and_then(|a| a.parse().ok()).unwrap_or(8);
    let (rss, _) = memory();
    println!("start: {rss} MiB resident");

    let sim = spawn(SimConfig::default()).await?;
    let t = Instant::now();
    sim.add_users(friends);
    let (rss, _) = memory();
    println!(
        "{friends} simulated friends added in {:?}: {rss} MiB resident",
        t.elapsed()
    );

    let mut config = ClientConfig::new("test-token");
    config.api_base = sim.api_base();
    config.api_data_base = sim.api_data_base();
    config.rate_limits = RateLimits::default();
    config.rate_limit_max_wait = Duration::from_secs(60);
    let client = Arc::new(Client::new(config)?);
    let limit = RateLimits::default().0[&EndpointGroup::Multicast];
    let requests = friends.div_ceil(500);
    let per_second = f64::from(limit.requests) / limit.per.as_secs_f64();
    let imposed = Duration::from_secs_f64(f64::from(requests) / per_second);

    let next = Arc::new(AtomicU32::new(0));
    let messages = vec![Message::text("国富町からのお知らせです。")];
    let t = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..concurrency {
        let (client, next, sim, messages) =
            (client.clone(), next.clone(), sim.clone(), messages.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                if i >= requests {
                    return Ok::<(), hiroba_line::Error>(());
                }
                let start = i * 500;
                let req = MulticastRequest {
                    to: sim.bulk_user_ids(start..start + 500),
                    messages: messages.clone(),
                    notification_disabled: None,
                    custom_aggregation_units: Vec::new(),
                };
                // A delivery job stores the key first; a retry after a crash reuses it.
                let key = new_retry_key();
                client.send_multicast_with_key(&req, &key).await?;
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let took = t.elapsed();
    let (rss, hwm) = memory();
    let stats = sim.delivery_stats();
    println!(
        "{requests} multicasts in {took:?}; the rate limit ({per_second}/s) alone imposes {imposed:?}: {:.3}x",
        took.as_secs_f64() / imposed.as_secs_f64()
    );
    println!(
        "users reached {}, exactly once {}, more than once {}, 429s {}",
        stats.users_reached,
        stats.exactly_once,
        stats.more_than_once,
        sim.counters().rate_limited
    );
    println!("memory: {rss} MiB resident now, {hwm} MiB peak");
    Ok(())
}
