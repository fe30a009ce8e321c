//! `hiroba-loadtest`: drives a running Hiroba server with C keep-alive
//! connections for a fixed time and reports requests, throughput and latency
//! percentiles (C05). Exits non-zero when any request failed or a given
//! target (`--min-rps`, `--max-p99-ms`) was missed. Only loopback addresses
//! are accepted unless `--allow-remote` says otherwise.

mod conn;
mod scenario;

use std::net::{SocketAddr, ToSocketAddrs};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::conn::Conn;
use crate::scenario::{BookingConfirm, MonthView, Scenario, Webhook};

#[derive(Parser)]
#[command(
    name = "hiroba-loadtest",
    version,
    about = "Load harness for Hiroba (C05): throughput and latency of a scenario against a running server"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// GET a room's public month view over and over (expects 200).
    MonthView {
        /// Path and query of the page, e.g. /facilities/1/rooms/1?month=2026-03
        #[arg(long)]
        path: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// LINE webhook ingest: signed POSTs of message events (expects 200).
    Webhook {
        /// File holding the channel secret (one line), as set with `hiroba line channel`.
        #[arg(long)]
        secret_file: PathBuf,
        /// Events per request (1 to 100).
        #[arg(long, default_value_t = 1)]
        batch: usize,
        #[arg(long, default_value = "production")]
        channel: String,
        #[command(flatten)]
        run: RunArgs,
    },
    /// A signed-in resident POSTs the booking confirmation step (expects the confirmation page).
    BookingConfirm {
        /// The resident's e-mail (the demo seeds demo-jumin@example.jp).
        #[arg(long, default_value = "demo-jumin@example.jp")]
        email: String,
        #[arg(long, default_value = "hiroba-jumin-2026")]
        password: String,
        /// A week view of a room and combination whose first free slot is booked.
        #[arg(long)]
        week_path: String,
        #[command(flatten)]
        run: RunArgs,
    },
}

#[derive(Args, Clone)]
struct RunArgs {
    /// Base URL of the server (http only).
    #[arg(long, default_value = "http://127.0.0.1:8080")]
    url: String,
    /// Concurrent keep-alive connections.
    #[arg(long, default_value_t = 64)]
    connections: usize,
    /// How long to measure, e.g. 20s, 1m, 500ms.
    #[arg(long, default_value = "20s", value_parser = parse_duration)]
    duration: Duration,
    /// Unmeasured run before measuring (fills caches and pools).
    #[arg(long, default_value = "2s", value_parser = parse_duration)]
    warmup: Duration,
    /// Stop after this many measured requests in all, even before the duration ends.
    #[arg(long, default_value_t = 5_000_000)]
    max_requests: u64,
    /// Offered load in requests per second over all connections (open loop:
    /// each request starts on schedule and its latency counts from then, so a
    /// slow answer cannot hide the queueing it causes). Unset: each connection
    /// sends its next request as soon as the last one is answered.
    #[arg(long)]
    rate: Option<f64>,
    /// Fail (exit 1) below this throughput.
    #[arg(long)]
    min_rps: Option<f64>,
    /// Fail (exit 1) when the 99th percentile is above this many milliseconds.
    #[arg(long)]
    max_p99_ms: Option<f64>,
    /// Allow a server that is not on this machine's loopback address.
    #[arg(long)]
    allow_remote: bool,
}

/// Where requests go.
#[derive(Clone, Debug)]
pub struct Target {
    pub addr: SocketAddr,
    /// The Host header.
    pub host: String,
}

fn parse_duration(text: &str) -> Result<Duration, String> {
    let text = text.trim();
    let (number, unit) = text
        .find(|c: char| !c.is_ascii_digit() && c != '.')
        .map_or((text, "s"), |i| text.split_at(i));
    let value: f64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a duration such as 20s"))?;
    let seconds = match unit {
        "ms" => value / 1000.0,
        "s" => value,
        "m" => value * 60.0,
        _ => return Err(format!("'{text}': use ms, s or m")),
    };
    Duration::try_from_secs_f64(seconds).map_err(|e| e.to_string())
}

fn target(url: &str, allow_remote: bool) -> Result<Target, String> {
    let rest = url
        .strip_prefix("http://")
        .ok_or_else(|| format!("{url}: only http:// URLs are supported"))?;
    let host = rest.split('/').next().unwrap_or(rest).to_owned();
    let with_port = if host.contains(':') && !host.ends_with(']') {
        host.clone()
    } else {
        format!("{host}:80")
    };
    let addr = with_port
        .to_socket_addrs()
        .map_err(|e| format!("{host}: {e}"))?
        .next()
        .ok_or_else(|| format!("{host}: no address"))?;
    if !addr.ip().is_loopback() && !allow_remote {
        return Err(format!(
            "{addr} is not a loopback address; pass --allow-remote to load a server elsewhere"
        ));
    }
    Ok(Target { addr, host })
}

struct WorkerResult {
    /// Latencies of the measured requests, in microseconds.
    latencies: Vec<u32>,
    errors: u64,
    first_error: Option<String>,
}

fn percentile(sorted: &[u32], p: f64) -> f64 {
    if sorted.is_empty() {
        return 0.0;
    }
    let rank = ((p / 100.0) * sorted.len() as f64).ceil() as usize;
    let index = rank.clamp(1, sorted.len()) - 1;
    f64::from(sorted[index]) / 1000.0
}

async fn run<S: Scenario>(scenario: S, args: RunArgs) -> Result<ExitCode, String> {
    let target = target(&args.url, args.allow_remote)?;
    let connections = args.connections.max(1);
    let scenario = Arc::new(scenario);
    println!("{}", scenario.describe());
    println!(
        "target {} · {connections} connections · warm-up {:.1} s · measuring {:.1} s{}",
        target.addr,
        args.warmup.as_secs_f64(),
        args.duration.as_secs_f64(),
        args.rate
            .map(|r| format!(" · offered {r:.0} req/s"))
            .unwrap_or_default()
    );
    // Open loop: connection `w` sends at start offset + k × interval.
    let interval = args
        .rate
        .filter(|r| *r > 0.0)
        .map(|r| Duration::from_secs_f64(connections as f64 / r));

    let start = Instant::now() + Duration::from_millis(200) + args.warmup;
    let deadline = start + args.duration;
    let budget = Arc::new(std::sync::atomic::AtomicU64::new(args.max_requests));
    let mut workers = Vec::with_capacity(connections);
    for worker in 0..connections {
        let scenario = Arc::clone(&scenario);
        let target = target.clone();
        let budget = Arc::clone(&budget);
        workers.push(tokio::spawn(async move {
            let mut conn = Conn::new(target);
            let mut result = WorkerResult {
                latencies: Vec::new(),
                errors: 0,
                first_error: None,
            };
            let mut state = match scenario.prepare(&mut conn, worker).await {
                Ok(s) => s,
                Err(e) => {
                    result.errors += 1;
                    result.first_error = Some(format!("prepare: {e}"));
                    return result;
                }
            };
            let mut iteration = 0u64;
            let first = Instant::now();
            let offset = interval.map(|i| i.mul_f64(worker as f64 / connections as f64));
            loop {
                let began = match (interval, offset) {
                    (Some(interval), Some(offset)) => {
                        let due = first + offset + interval.saturating_mul(iteration as u32);
                        tokio::time::sleep_until(due.into()).await;
                        due
                    }
                    _ => Instant::now(),
                };
                if began >= deadline {
                    break;
                }
                let measured = began >= start;
                if measured
                    && budget
                        .fetch_update(
                            std::sync::atomic::Ordering::Relaxed,
                            std::sync::atomic::Ordering::Relaxed,
                            |n| n.checked_sub(1),
                        )
                        .is_err()
                {
                    break;
                }
                let outcome = scenario.step(&mut conn, &mut state, iteration).await;
                iteration += 1;
                if !measured {
                    continue;
                }
                match outcome {
                    Ok(()) => {
                        let micros = began.elapsed().as_micros();
                        result
                            .latencies
                            .push(u32::try_from(micros).unwrap_or(u32::MAX));
                    }
                    Err(e) => {
                        result.errors += 1;
                        if result.first_error.is_none() {
                            result.first_error = Some(e);
                        }
                    }
                }
            }
            result
        }));
    }
    let mut latencies = Vec::new();
    let mut errors = 0;
    let mut first_error = None;
    for w in workers {
        let r = w.await.map_err(|e| format!("worker: {e}"))?;
        latencies.extend(r.latencies);
        errors += r.errors;
        if first_error.is_none() {
            first_error = r.first_error;
        }
    }
    let elapsed = Instant::now()
        .min(deadline)
        .saturating_duration_since(start)
        .as_secs_f64()
        .max(0.001);
    latencies.sort_unstable();
    let ok = latencies.len() as f64;
    let rps = ok / elapsed;
    let p99 = percentile(&latencies, 99.0);
    println!(
        "requests {} ok, {errors} failed in {elapsed:.1} s",
        latencies.len()
    );
    println!("throughput {rps:.0} req/s");
    let per = scenario.events_per_request();
    if per > 1 {
        println!("events {:.0}/s ({per} per request)", rps * per as f64);
    }
    println!(
        "latency ms: p50 {:.2}  p90 {:.2}  p99 {:.2}  max {:.2}",
        percentile(&latencies, 50.0),
        percentile(&latencies, 90.0),
        p99,
        latencies.last().map_or(0.0, |m| f64::from(*m) / 1000.0)
    );
    let mut code = ExitCode::SUCCESS;
    if let Some(e) = first_error {
        println!("FAILED: {errors} request(s) failed; first: {e}");
        code = ExitCode::FAILURE;
    }
    if let Some(min) = args.min_rps
        && rps < min
    {
        println!("MISSED: throughput {rps:.0} req/s is below the target {min} req/s");
        code = ExitCode::FAILURE;
    }
    if let Some(max) = args.max_p99_ms
        && p99 > max
    {
        println!("MISSED: p99 {p99:.2} ms is above the target {max} ms");
        code = ExitCode::FAILURE;
    }
    Ok(code)
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("hiroba-loadtest: cannot start the runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    let outcome = runtime.block_on(async {
        match cli.command {
            Command::MonthView { path, run: args } => run(MonthView { path }, args).await,
            Command::Webhook {
                secret_file,
                batch,
                channel,
                run: args,
            } => {
                let secret = std::fs::read_to_string(&secret_file)
                    .map_err(|e| format!("{}: {e}", secret_file.display()))?;
                if !(1..=100).contains(&batch) {
                    return Err("--batch: LINE sends 1 to 100 events per request".into());
                }
                // Distinguishes runs within the same millisecond's event ids.
                let run_id = std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| (d.as_nanos() & 0xffff) as u16);
                run(
                    Webhook {
                        path: format!("/line/webhook/{channel}"),
                        channel_secret: secret.trim().to_owned(),
                        batch,
                        run_id,
                    },
                    args,
                )
                .await
            }
            Command::BookingConfirm {
                email,
                password,
                week_path,
                run: args,
            } => {
                run(
                    BookingConfirm {
                        email,
                        password,
                        week_path,
                    },
                    args,
                )
                .await
            }
        }
    });
    match outcome {
        Ok(code) => code,
        Err(message) => {
            eprintln!("hiroba-loadtest: {message}");
            ExitCode::from(2)
        }
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;

    #[test]
    fn durations_and_targets_parse() {
        assert_eq!(parse_duration("20s").unwrap(), Duration::from_secs(20));
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        assert_eq!(parse_duration("1m").unwrap(), Duration::from_secs(60));
        assert!(parse_duration("fast").is_err());
        let t = target("http://127.0.0.1:8090", false).unwrap();
        assert_eq!(t.addr.port(), 8090);
        assert!(target("http://192.0.2.1:80", false).is_err());
        assert!(target("https://127.0.0.1", false).is_err());
    }

    #[test]
    fn percentiles_take_the_nearest_rank() {
        let v: Vec<u32> = (1..=100).map(|n| n * 1000).collect();
        assert_eq!(percentile(&v, 50.0), 50.0);
        assert_eq!(percentile(&v, 99.0), 99.0);
        assert_eq!(percentile(&[], 99.0), 0.0);
    }
}
