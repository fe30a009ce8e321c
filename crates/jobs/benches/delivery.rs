//! A delivery to 1,000,000 friends through the LINE simulator at LINE's rate
//! limits (issue 6, "Speed"): from the moment the delivery is confirmed until
//! its run is closed, compared with the time the multicast rate limit alone
//! imposes (2,000 requests of 500 at 200 requests/s, the first 200 from a
//! full bucket = 9 s), and the process's
//! peak resident memory (simulator included). Also checks every friend got
//! exactly one copy.
//!
//!     cargo bench -p hiroba-jobs --bench delivery
//!     BENCH_FRIENDS=100000 cargo bench -p hiroba-jobs --bench delivery
//!     BENCH_METHOD=narrowcast cargo bench -p hiroba-jobs --bench delivery
//!     TEST_POSTGRES_URL=postgres://postgres@127.0.0.1:5432/test BENCH_BACKEND=postgres \
//!         cargo bench -p hiroba-jobs --bench delivery
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::time::{Duration, Instant};

use chrono::Utc;
use hiroba_jobs::deliveries::{self, WorkerConfig};
use hiroba_jobs::line_api::ChannelClients;
use hiroba_line_sim::SimConfig;
use hiroba_store::deliveries::{self as store, Audience, DeliveryDraft, Plan, RunStatus, Status};
use hiroba_store::line::{self, Channel, ChannelSettings};
use hiroba_store::{SecretBox, testing};

fn peak_rss_mib() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmHWM:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<f64>().ok())
        })
        .map_or(0.0, |kb| kb / 1024.0)
}

fn main() {
    let friends: u32 = std::env::var("BENCH_FRIENDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let backend = std::env::var("BENCH_BACKEND").unwrap_or_else(|_| "sqlite".into());
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .unwrap();
    runtime.block_on(async move {
        let t = if backend == "postgres" {
            testing::postgres().await.expect("TEST_POSTGRES_URL for the PostgreSQL run")
        } else {
            testing::sqlite().await
        };
        let db = &t.db;
        println!("backend {} · {friends} friends", t.label());
        let sim = hiroba_line_sim::spawn(SimConfig {
            channel_token: "bench-token-0123456789abcdef".into(),
            channel_secret: "bench-secret".into(),
            webhook_url: None,
            ..SimConfig::default()
        })
        .await
        .unwrap();
        let secrets = SecretBox::random().unwrap();
        let mut tx = db.begin().await.unwrap();
        line::save_channel(
            &mut tx,
            &secrets,
            &ChannelSettings {
                kind: Channel::Production,
                channel_id: "2000000001".into(),
                channel_secret: "bench-secret".into(),
                access_token: "bench-token-0123456789abcdef".into(),
                api_base: sim.api_base(),
                api_data_base: sim.api_data_base(),
                login_channel_id: String::new(),
                liff_id: String::new(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let seeding = Instant::now();
        let range = sim.add_users(friends);
        let mut at = range.start;
        while at < range.end {
            let end = (at + 50_000).min(range.end);
            let ids = sim.bulk_user_ids(at..end);
            let mut tx = db.begin().await.unwrap();
            line::insert_friends_bulk(&mut tx, Channel::Production, &ids, Utc::now())
                .await
                .unwrap();
            tx.commit().await.unwrap();
            at = end;
        }
        // As autovacuum would have by the time a real channel has grown this
        // large: the planner needs the table's size to page by the key.
        db.analyze().await.unwrap();
        println!("seeded in {:.1} s", seeding.elapsed().as_secs_f64());

        let mut tx = db.begin().await.unwrap();
        let id = store::create(
            &mut tx,
            &DeliveryDraft {
                title: "町からのお知らせ".into(),
                channel: Channel::Production,
                audience: Audience::All,
                messages: vec![serde_json::json!({"type": "text", "text": "年末年始の窓口のご案内です。"})],
                plan: Plan::Now,
                memo: String::new(),
                source: "bench".into(),
            },
            Status::Draft,
            None,
        )
        .await
        .unwrap();
        let confirmed = Instant::now();
        store::approve(&mut tx, id, 1, Utc::now()).await.unwrap();
        tx.commit().await.unwrap();

        // Multicast batches by default (the figure the issue asks for);
        // BENCH_METHOD=narrowcast measures one upload and one narrowcast.
        let narrowcast = std::env::var("BENCH_METHOD").is_ok_and(|m| m == "narrowcast");
        let config = WorkerConfig {
            narrowcast_from: narrowcast.then_some(1),
            narrowcast_poll: Duration::from_millis(200),
            ..WorkerConfig::default()
        };
        let mut clients = ChannelClients::with_policy(config.call_timeout, config.call_retries);
        clients.refresh(db, &secrets).await.unwrap();
        loop {
            deliveries::run_once(db, &clients, &config, Utc::now()).await.unwrap();
            let runs = store::runs_of(db, id).await.unwrap();
            if runs.iter().all(|r| r.status == RunStatus::Done) && !runs.is_empty() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        let elapsed = confirmed.elapsed().as_secs_f64();
        let requests = f64::from(friends).div_euclid(500.0).max(1.0)
            + if friends.is_multiple_of(500) { 0.0 } else { 1.0 };
        // LINE's bucket starts full: the first 200 requests need not wait.
        let bound = ((requests - 200.0).max(0.0) / 200.0).max(0.005);
        let stats = sim.delivery_stats();
        println!(
            "delivered to {} friends in {elapsed:.2} s (rate limit alone: {bound:.2} s; ratio {:.3})",
            stats.exactly_once,
            elapsed / bound
        );
        println!(
            "exactly once {} · more than once {} · multicast requests {}",
            stats.exactly_once,
            stats.more_than_once,
            sim.requests_to("POST /v2/bot/message/multicast")
        );
        println!("peak resident memory {:.0} MiB (whole process, simulator included)", peak_rss_mib());
        assert_eq!(stats.exactly_once, u64::from(friends));
        assert_eq!(stats.more_than_once, 0);
        sim.shutdown();
    });
}
