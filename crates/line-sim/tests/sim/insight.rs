//! Audiences and statistics (issue 6): an audience uploaded by file becomes READY, a
//! narrowcast reaches it, and the insight endpoints answer with LINE-shaped numbers derived
//! from what was delivered, small counts hidden.

use std::time::Duration;

use hiroba_line::client::{Client, ClientConfig};
use hiroba_line::message::Message;
use hiroba_line::ratelimit::RateLimits;
use hiroba_line::request::NarrowcastRequest;
use hiroba_line_sim::{SimConfig, SimHandle};

use super::sim_with;

fn client(sim: &SimHandle) -> Client {
    let mut c = ClientConfig::new("test-token");
    c.api_base = sim.api_base();
    c.api_data_base = sim.api_data_base();
    c.rate_limits = RateLimits::unlimited();
    c.max_retries = 0;
    Client::new(c).unwrap()
}

fn today_jst() -> String {
    (chrono::Utc::now() + chrono::TimeDelta::hours(9))
        .format("%Y%m%d")
        .to_string()
}

#[tokio::test]
async fn narrowcast_to_an_audience_uploaded_by_file_then_its_statistics() {
    let sim = sim_with(SimConfig {
        audience_ready_delay: Duration::from_millis(150),
        narrowcast_delay: Duration::from_millis(10),
        ..SimConfig::default()
    })
    .await;
    let ids = sim.bulk_user_ids(sim.add_users(5_000));
    let c = client(&sim);
    let created = c
        .create_audience_group_by_file("国富町 子育て世帯", Some("2025-04"), &ids[..3_000])
        .await
        .unwrap();
    let id = created.data.audience_group_id;
    c.add_audiences_by_file(id, Some("追加"), &ids[3_000..4_000])
        .await
        .unwrap();
    let a = c.get_audience_group(id).await.unwrap().data;
    assert_eq!(a.audience_group.status.as_deref(), Some("IN_PROGRESS"));
    assert_eq!(a.audience_group.audience_count, Some(4_000));
    assert_eq!(a.jobs.len(), 2);

    // Not usable before it is ready.
    let msg = vec![
        Message::text("健診のご案内 https://example.com/kenshin"),
        Message::image("https://example.com/o.jpg", "https://example.com/p.jpg"),
    ];
    let req = NarrowcastRequest::to_audience(id, msg);
    let e = c.narrowcast(&req).await.unwrap_err();
    assert_eq!(e.status(), Some(400));
    let a = c
        .wait_audience_group(id, Duration::from_millis(50), 20)
        .await
        .unwrap()
        .data;
    assert!(a.audience_group.is_ready());
    assert!(
        a.jobs
            .iter()
            .all(|j| j.job_status.as_deref() == Some("FINISHED"))
    );

    let sent = c.narrowcast(&req).await.unwrap();
    let rid = sent.meta.request_id.clone().unwrap();
    let progress = c
        .wait_narrowcast(&rid, Duration::from_millis(20), 50)
        .await
        .unwrap()
        .data;
    assert_eq!(progress.phase, "succeeded");
    assert_eq!(progress.success_count, Some(4_000));
    assert_eq!(sim.delivery_stats().exactly_once, 4_000);
    assert_eq!(sim.copies_to(&ids[4_500]), 0, "not in the audience");

    let stats = c.insight_message_event(&rid).await.unwrap().data;
    assert_eq!(stats.overview.request_id.as_deref(), Some(rid.as_str()));
    assert_eq!(stats.overview.delivered, Some(4_000));
    let opened = stats.overview.unique_impression.unwrap();
    assert!((2_390..=2_400).contains(&opened), "{opened}");
    assert_eq!(stats.messages.len(), 2);
    assert_eq!(stats.clicks.len(), 1);
    assert_eq!(stats.clicks[0].url, "https://example.com/kenshin");
    let clicks = stats.clicks[0].unique_click.unwrap();
    assert!((590..=600).contains(&clicks), "{clicks}");
    assert_eq!(
        stats.overview.unique_media_played, None,
        "no video or audio"
    );
    // The same numbers every time (seeded).
    assert_eq!(c.insight_message_event(&rid).await.unwrap().data, stats);
}

#[tokio::test]
async fn per_unit_statistics_hide_small_counts() {
    let sim = sim_with(SimConfig::default()).await;
    let ids = sim.bulk_user_ids(sim.add_users(1_030));
    let c = client(&sim);
    let text = [Message::text("4か月児健診 https://example.com/r/abc")];
    for (unit, chunk) in [
        ("kenshin_4m", &ids[..500]),
        ("kenshin_4m", &ids[500..1_000]),
        ("small", &ids[1_000..]),
    ] {
        let mut req = Client::multicast_requests(chunk, &text).remove(0);
        req.custom_aggregation_units = vec![unit.to_owned()];
        c.send_multicast(&req).await.unwrap();
    }
    let day = today_jst();
    let big = c
        .insight_aggregation_unit("kenshin_4m", &day, &day)
        .await
        .unwrap()
        .data;
    let opened = big.overview.unique_impression.unwrap();
    assert!((595..=600).contains(&opened), "{opened}");
    assert_eq!(big.messages.len(), 1);
    assert_eq!(big.messages[0].unique_impression, Some(opened));
    assert_eq!(big.clicks[0].url, "https://example.com/r/abc");
    // 30 recipients: 18 opened, below LINE's threshold of 20.
    let small = c
        .insight_aggregation_unit("small", &day, &day)
        .await
        .unwrap()
        .data;
    assert_eq!(small.overview.unique_impression, None);
    assert_eq!(small.clicks[0].unique_click, None);
    // Another day: nothing.
    let none = c
        .insight_aggregation_unit("kenshin_4m", "20200101", "20200131")
        .await
        .unwrap()
        .data;
    assert_eq!(none.overview.unique_impression, None);
    assert!(none.messages.is_empty());
    // LINE's limits on the query.
    let e = c
        .insight_aggregation_unit("kenshin_4m", "20250101", "20250301")
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    let e = c
        .insight_aggregation_unit("bad unit", &day, &day)
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));

    let usage = c.get_aggregation_unit_usage().await.unwrap().data;
    assert_eq!(usage.num_of_custom_aggregation_units, 2);
    let names = c
        .get_aggregation_unit_names(Some(1), None)
        .await
        .unwrap()
        .data;
    assert_eq!(names.custom_aggregation_units, vec!["kenshin_4m"]);
    let rest = c
        .get_aggregation_unit_names(Some(1), names.next.as_deref())
        .await
        .unwrap()
        .data;
    assert_eq!(rest.custom_aggregation_units, vec!["small"]);
    assert_eq!(rest.next, None);

    // Message event statistics exist for narrowcasts and broadcasts only.
    let m = c
        .send_multicast(&Client::multicast_requests(&ids[..2], &text).remove(0))
        .await
        .unwrap();
    let e = c
        .insight_message_event(&m.meta.request_id.unwrap())
        .await
        .unwrap_err();
    assert_eq!(e.status(), Some(400));
    // Two units in one request: refused as LINE does.
    let mut two = Client::multicast_requests(&ids[..2], &text).remove(0);
    two.custom_aggregation_units = vec!["a".into(), "b".into()];
    assert_eq!(
        c.send_multicast(&two).await.unwrap_err().status(),
        Some(400)
    );
}
