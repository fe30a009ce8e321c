//! Deliveries at scale (issue 6): bulk users cost a few bytes each, and with faults injected
//! after delivery every user still receives exactly one copy when the client retries with the
//! same retry key (within a call, and after a "restart" with the keys it stored).

use std::time::{Duration, Instant};

use hiroba_line::client::{Client, ClientConfig, new_retry_key};
use hiroba_line::message::Message;
use hiroba_line::ratelimit::RateLimits;
use hiroba_line::request::MulticastRequest;
use hiroba_line_sim::{SimConfig, UserStatus};
use serde_json::json;

use super::{call, get, sim_with};

/// Resident memory of this process (Linux), in KiB.
fn vm_rss_kib() -> Option<u64> {
    let status = std::fs::read_to_string("/proc/self/status").ok()?;
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

fn client_for(sim: &hiroba_line_sim::SimHandle, max_retries: u32, timeout: Duration) -> Client {
    let mut c = ClientConfig::new("test-token");
    c.api_base = sim.api_base();
    c.api_data_base = sim.api_data_base();
    c.max_retries = max_retries;
    c.timeout = timeout;
    c.backoff_base = Duration::from_millis(5);
    c.backoff_cap = Duration::from_millis(20);
    // LINE's published rates, as in production.
    c.rate_limits = RateLimits::default();
    Client::new(c).unwrap()
}

#[tokio::test]
async fn ten_thousand_users_with_faults_receive_exactly_one_copy() {
    let sim = sim_with(SimConfig::default()).await;
    let users = sim.add_users(10_000);
    let ids = sim.bulk_user_ids(users);
    let multicast = "POST /v2/bot/message/multicast";
    // A third of the calls fail after delivering (500), a fifth are delivered but answered too
    // late for the client, a tenth fail before doing anything.
    sim.fail_after_delivery(&[multicast], 0.3, 0.2, Duration::from_millis(1500));
    sim.set_fail_ratio(0.1);
    let messages = [Message::text("4か月児健診のご案内です。")];
    let requests = Client::multicast_requests(&ids, &messages);
    assert_eq!(requests.len(), 20);

    // Half the chunks: the client's own retries reuse the key of the call.
    let patient = client_for(&sim, 10, Duration::from_millis(400));
    for req in &requests[..10] {
        let r = patient.send_multicast(req).await.unwrap();
        assert!(matches!(r.meta.status, 200 | 409), "{:?}", r.meta);
    }

    // The other half as a delivery job does it: the key is stored before the call; the first
    // process gives up at once (or "crashes"), a new process retries with the stored keys.
    let stored: Vec<(String, &MulticastRequest)> = requests[10..]
        .iter()
        .map(|r| (new_retry_key(), r))
        .collect();
    let hasty = client_for(&sim, 0, Duration::from_millis(400));
    let mut unfinished = Vec::new();
    for (key, req) in &stored {
        if hasty.send_multicast_with_key(req, key).await.is_err() {
            unfinished.push((key.clone(), *req));
        }
    }
    assert!(
        !unfinished.is_empty(),
        "the faults should have hit some calls"
    );
    let restarted = client_for(&sim, 10, Duration::from_millis(400));
    for (key, req) in &unfinished {
        let r = restarted.send_multicast_with_key(req, key).await.unwrap();
        assert_eq!(r.meta.retry_key.as_deref(), Some(key.as_str()));
    }

    let stats = sim.delivery_stats();
    assert_eq!(stats.users_reached, 10_000, "{stats:?}");
    assert_eq!(stats.exactly_once, 10_000, "{stats:?}");
    assert_eq!(stats.more_than_once, 0);
    assert!(sim.bulk_copies().iter().all(|c| *c == 1));
    let c = sim.counters();
    assert_eq!(c.deliveries, 10_000);
    assert_eq!(c.messages_delivered, 10_000);
    assert!(c.duplicates_suppressed > 0, "{c:?}");
    assert!(c.faults_injected > 0);
    assert!(sim.requests_to(multicast) > 20);
}

#[tokio::test]
async fn a_million_bulk_users_cost_a_few_megabytes() {
    let sim = sim_with(SimConfig::default()).await;
    let before = vm_rss_kib();
    let t = Instant::now();
    let range = sim.add_users(1_000_000);
    let added_in = t.elapsed();
    let after = vm_rss_kib();
    assert_eq!(range, 0..1_000_000);
    assert_eq!(sim.bulk_len(), 1_000_000);
    if let (Some(b), Some(a)) = (before, after) {
        // Five bytes a user, plus allocator slack; other tests run alongside.
        assert!(a.saturating_sub(b) < 32 * 1024, "grew {} KiB", a - b);
        eprintln!(
            "1,000,000 bulk users: +{} KiB resident in {added_in:?}",
            a.saturating_sub(b)
        );
    }
    let last = sim.bulk_user_id(999_999).unwrap();
    assert_eq!(sim.bulk_index(&last), Some(999_999));
    assert_eq!(sim.bulk_user_id(1_000_000), None);
    let u = sim.user(&last).unwrap();
    assert_eq!(u.display_name, "利用者1000000");
    assert_eq!(u.status, UserStatus::Friend);

    // Profiles and follower pages work for bulk users.
    let (status, prof) = get(&sim, &format!("/v2/bot/profile/{last}")).await;
    assert_eq!(
        (status, prof["displayName"].as_str()),
        (200, Some("利用者1000000"))
    );
    let (_, page) = get(&sim, "/v2/bot/followers/ids?limit=1000&start=500000").await;
    assert_eq!(page["userIds"].as_array().unwrap().len(), 1000);
    assert_eq!(page["next"], "501000");

    // A broadcast reaches every friend once, except the blocked.
    sim.set_status(&sim.bulk_user_id(7).unwrap(), UserStatus::Blocked);
    let t = Instant::now();
    let body = json!({ "messages": [{ "type": "text", "text": "防災訓練のお知らせ" }] });
    let (status, headers, _) = call(
        &sim,
        "/v2/bot/message/broadcast",
        &body,
        Some("3b2f6e1a-0c4d-4e5f-8a9b-0c1d2e3f4a5b"),
    )
    .await;
    assert_eq!(status, 200);
    eprintln!("broadcast to 999,999 friends: {:?}", t.elapsed());
    let rid = headers["x-line-request-id"].to_str().unwrap().to_owned();
    assert_eq!(sim.delivered_for_request(&rid), Some(999_999));
    let stats = sim.delivery_stats();
    assert_eq!(stats.exactly_once, 999_999);
    assert_eq!(sim.copies_to(&sim.bulk_user_id(7).unwrap()), 0);
    // No chat history is kept for unwatched bulk users.
    assert!(sim.inbox(&last).is_empty());
    assert_eq!(sim.delivered_to(&last), 1);
    let (_, ev) = get(
        &sim,
        &format!("/v2/bot/insight/message/event?requestId={rid}"),
    )
    .await;
    assert_eq!(ev["overview"]["delivered"], 999_999);
    let opened = ev["overview"]["uniqueImpression"].as_u64().unwrap();
    assert!((599_000..=600_000).contains(&opened), "{opened}");
    if let Some(a) = vm_rss_kib() {
        eprintln!("resident after the broadcast: {} MiB", a / 1024);
    }
}

#[tokio::test]
async fn the_rate_limit_paces_without_refusals() {
    // The client's token bucket and the simulator's agree: a client at LINE's rate is never
    // refused, and the time is what the rate imposes.
    let sim = sim_with(SimConfig::default()).await;
    let ids = sim.bulk_user_ids(sim.add_users(1_000));
    let mut c = ClientConfig::new("test-token");
    c.api_base = sim.api_base();
    c.rate_limits = RateLimits::default().set(
        hiroba_line::ratelimit::EndpointGroup::Multicast,
        hiroba_line::ratelimit::RateLimit::per_second(20),
    );
    sim.set_rate_limits(hiroba_line_sim::RateLimits {
        multicast: hiroba_line_sim::RateLimit::per_second(20),
        ..hiroba_line_sim::RateLimits::default()
    });
    let client = Client::new(c).unwrap();
    let t = Instant::now();
    let messages = [Message::text("a")];
    let requests: Vec<MulticastRequest> = ids
        .chunks(10)
        .map(|chunk| Client::multicast_requests(chunk, &messages).remove(0))
        .collect();
    assert_eq!(requests.len(), 100);
    for r in &requests {
        client.send_multicast(r).await.unwrap();
    }
    let took = t.elapsed();
    // 20 at once, then 80 at 20 a second: 4 s.
    assert!(took >= Duration::from_millis(3_800), "{took:?}");
    assert!(took < Duration::from_millis(4_800), "{took:?}");
    assert_eq!(sim.counters().rate_limited, 0);
    assert_eq!(sim.delivery_stats().exactly_once, 1_000);
}
