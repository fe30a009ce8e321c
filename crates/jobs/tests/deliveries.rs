//! The delivery engine end to end with the LINE simulator (issue 6; M12-M14),
//! on SQLite and PostgreSQL: a segment delivery reaches exactly the matching
//! friends once; a recurring delivery fires on its days (a controlled clock);
//! a reminder fires on the right date once; a worker stopped in the middle of
//! a 10,000-friend delivery with injected faults is replaced by another and
//! every friend receives exactly one copy; a large audience goes out as one
//! narrowcast exactly once through a failed upload and a lost answer; a test
//! send never reaches production friends.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, TimeZone, Utc};
use hiroba_domain::attributes::{AttributeKey, AttributeValue, OptionKey};
use hiroba_domain::datetime::JST;
use hiroba_domain::reminder::{Offset, ReminderRule};
use hiroba_domain::schedule::{Schedule, SendTime, WeekdaySet};
use hiroba_domain::segment::{Condition, Predicate, Segment, SegmentName};
use hiroba_jobs::deliveries::{self, WorkerConfig};
use hiroba_jobs::line_api::ChannelClients;
use hiroba_line_sim::{SimConfig, SimHandle};
use hiroba_store::deliveries::{self as store, Audience, DeliveryDraft, Plan, RunStatus, Status};
use hiroba_store::line::{self, Channel, ChannelSettings};
use hiroba_store::testing::{TestDb, backends};
use hiroba_store::{Db, SecretBox, attributes, segments};
use serde_json::json;

struct World {
    t: TestDb,
    secrets: SecretBox,
    production: SimHandle,
    test: SimHandle,
}

impl World {
    fn db(&self) -> &Db {
        &self.t.db
    }

    async fn clients(&self) -> ChannelClients {
        let config = config();
        let mut clients = ChannelClients::with_policy(config.call_timeout, config.call_retries);
        clients.refresh(self.db(), &self.secrets).await.unwrap();
        clients
    }

    /// Rounds of the worker at `now` until nothing is left to do.
    async fn deliver(&self, now: DateTime<Utc>) {
        let clients = self.clients().await;
        let config = config();
        for _ in 0..50 {
            let round = deliveries::run_once(self.db(), &clients, &config, now)
                .await
                .unwrap();
            if round == deliveries::Round::default() {
                return;
            }
        }
        panic!("deliveries did not settle");
    }
}

fn config() -> WorkerConfig {
    WorkerConfig {
        concurrency: 8,
        every: Duration::from_millis(50),
        lease: chrono::Duration::seconds(2),
        call_timeout: Duration::from_millis(800),
        call_retries: 2,
        narrowcast_from: None,
        narrowcast_poll: Duration::from_millis(100),
    }
}

async fn sim(token: &str) -> SimHandle {
    hiroba_line_sim::spawn(SimConfig {
        channel_token: token.into(),
        channel_secret: "delivery-test-secret".into(),
        webhook_url: None,
        ..SimConfig::default()
    })
    .await
    .unwrap()
}

async fn worlds() -> Vec<World> {
    let mut out = Vec::new();
    for t in backends().await {
        attributes::seed_defaults(&t.db).await.unwrap();
        staff_member(&t.db).await;
        let secrets = SecretBox::random().unwrap();
        let production = sim("production-token-0123456789").await;
        let test = sim("test-channel-token-0123456789").await;
        let mut tx = t.db.begin().await.unwrap();
        for (channel, s, token) in [
            (
                Channel::Production,
                &production,
                "production-token-0123456789",
            ),
            (Channel::Test, &test, "test-channel-token-0123456789"),
        ] {
            line::save_channel(
                &mut tx,
                &secrets,
                &ChannelSettings {
                    kind: channel,
                    channel_id: "2000000001".into(),
                    channel_secret: "delivery-test-secret".into(),
                    access_token: token.into(),
                    api_base: s.api_base(),
                    api_data_base: s.api_data_base(),
                    login_channel_id: String::new(),
                    liff_id: String::new(),
                },
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        out.push(World {
            t,
            secrets,
            production,
            test,
        });
    }
    out
}

/// Staff member 1, who saves segments in these stories.
async fn staff_member(db: &Db) {
    use hiroba_domain::permission::{FacilityScope, PermissionSet};
    use hiroba_domain::staff::{LoginId, NewPassword, StaffName};
    let password = NewPassword::parse("Haishin-tantou 2026 desu", &[]).unwrap();
    let hash = hiroba_store::staff::hash_password(&password).await.unwrap();
    let mut tx = db.begin().await.unwrap();
    hiroba_store::staff::create(
        &mut tx,
        &LoginId::parse("koho").unwrap(),
        &hiroba_store::staff::StaffChange {
            name: StaffName::parse("広報 一郎").unwrap(),
            permissions: PermissionSet::all(),
            scope: FacilityScope::All,
        },
        &hash,
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
}

/// Registers simulated users as friends of `channel`; returns (friend id, user id).
async fn befriend(db: &Db, channel: Channel, users: &[String]) -> Vec<(i64, String)> {
    let mut out = Vec::new();
    for chunk in users.chunks(1000) {
        let mut tx = db.begin().await.unwrap();
        for user in chunk {
            let id = line::upsert_follow(&mut tx, channel, user, "", "", Utc::now())
                .await
                .unwrap();
            out.push((id, user.clone()));
        }
        tx.commit().await.unwrap();
    }
    out
}

fn key(k: &str) -> AttributeKey {
    AttributeKey::parse(k).unwrap()
}

async fn answer(db: &Db, friend: i64, k: &str, value: AttributeValue) {
    let mut tx = db.begin().await.unwrap();
    attributes::write_answers(&mut tx, friend, &BTreeMap::from([(key(k), Some(value))]))
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

fn text(t: &str) -> Vec<serde_json::Value> {
    vec![json!({"type": "text", "text": t})]
}

async fn schedule(db: &Db, draft: &DeliveryDraft, at: DateTime<Utc>) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = store::create(&mut tx, draft, Status::Draft, Some(1))
        .await
        .unwrap();
    assert!(store::approve(&mut tx, id, 2, at).await.unwrap());
    tx.commit().await.unwrap();
    id
}

fn jst(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    JST.with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn a_segment_delivery_reaches_exactly_the_matching_friends_once() {
    for w in worlds().await {
        let db = w.db();
        let label = w.t.label();
        let users: Vec<String> = (0..40)
            .map(|i| {
                let u = hiroba_line_sim::new_user_id();
                w.production.add_user(&u, &format!("住民{i}"), None);
                u
            })
            .collect();
        let friends = befriend(db, Channel::Production, &users).await;
        // Every third friend lives in 本庄; one of them has blocked the account.
        for (i, (id, _)) in friends.iter().enumerate() {
            let area = if i % 3 == 0 { "honjo" } else { "kiwaki" };
            answer(
                db,
                *id,
                "area",
                AttributeValue::Choice(OptionKey::parse(area).unwrap()),
            )
            .await;
        }
        let mut tx = db.begin().await.unwrap();
        line::mark_blocked(&mut tx, Channel::Production, &friends[3].1, Utc::now())
            .await
            .unwrap();
        let catalog = attributes::catalog(db).await.unwrap();
        let segment = Segment::new(
            SegmentName::parse("本庄地区").unwrap(),
            Condition::Leaf(Predicate::ChoiceIn {
                attribute: key("area"),
                options: vec![OptionKey::parse("honjo").unwrap()],
            }),
            &catalog,
        )
        .unwrap();
        let segment_id = segments::create(&mut tx, &segment, 1).await.unwrap();
        tx.commit().await.unwrap();

        let id = schedule(
            db,
            &DeliveryDraft {
                title: "本庄地区の防災訓練".into(),
                channel: Channel::Production,
                audience: Audience::Segment(segment_id),
                messages: text("本庄地区の防災訓練は12月6日です。"),
                plan: Plan::Now,
                memo: String::new(),
                source: "manual".into(),
            },
            Utc::now(),
        )
        .await;
        w.deliver(Utc::now()).await;
        for (i, (_, user)) in friends.iter().enumerate() {
            let expected = u64::from(i % 3 == 0 && i != 3);
            assert_eq!(
                w.production.copies_to(user),
                expected,
                "{label}: friend {i}"
            );
        }
        let runs = store::runs_of(db, id).await.unwrap();
        assert_eq!(runs.len(), 1);
        assert_eq!(runs[0].status, RunStatus::Done, "{label}");
        assert_eq!(
            (runs[0].recipients, runs[0].succeeded, runs[0].failed),
            (13, 13, 0)
        );
        // A delivery is recorded per batch, not as a line in each friend's
        // talk log (a million-friend delivery would write a million rows).
        let log = line::talk_log(db, Channel::Production, &friends[0].1)
            .await
            .unwrap();
        assert!(log.iter().all(|e| e.kind != "delivery"), "{label}");
        // Nothing more goes out on later rounds.
        w.deliver(Utc::now()).await;
        assert_eq!(w.production.delivery_stats().more_than_once, 0);
        assert_eq!(w.test.requests_to("POST /v2/bot/message/multicast"), 0);
        w.production.shutdown();
        w.test.shutdown();
    }
}

#[tokio::test]
async fn a_recurring_delivery_fires_on_its_days_and_a_reminder_once_on_its_date() {
    for w in worlds().await {
        let db = w.db();
        let label = w.t.label();
        let users: Vec<String> = (0..3)
            .map(|_| {
                let u = hiroba_line_sim::new_user_id();
                w.production.add_user(&u, "住民", None);
                u
            })
            .collect();
        let friends = befriend(db, Channel::Production, &users).await;
        // Friend 0 had a child on 2026-08-15; friend 1 on 2026-08-16.
        for (i, day) in [(0usize, 15u32), (1, 16)] {
            answer(
                db,
                friends[i].0,
                "child_birth_dates",
                AttributeValue::Dates(vec![NaiveDate::from_ymd_opt(2026, 8, day).unwrap()]),
            )
            .await;
        }
        let weekly = Schedule::weekly(
            WeekdaySet::parse("月・木").unwrap(),
            SendTime::parse("9:00").unwrap(),
            NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
            Some(NaiveDate::from_ymd_opt(2026, 12, 13).unwrap()),
        )
        .unwrap();
        let recurring = schedule(
            db,
            &DeliveryDraft {
                title: "ごみ収集".into(),
                channel: Channel::Production,
                audience: Audience::All,
                messages: text("明日は資源ごみの日です。"),
                plan: Plan::Scheduled(weekly),
                memo: String::new(),
                source: "manual".into(),
            },
            jst(2026, 11, 30, 12),
        )
        .await;
        let catalog = attributes::catalog(db).await.unwrap();
        let rule = ReminderRule::new(
            catalog.get(&key("child_birth_dates")).unwrap(),
            Offset::MonthsAfter(4),
            SendTime::parse("9:00").unwrap(),
        )
        .unwrap();
        let reminder = schedule(
            db,
            &DeliveryDraft {
                title: "4か月児健診のご案内".into(),
                channel: Channel::Production,
                audience: Audience::All,
                messages: text("4か月児健診のご案内です。"),
                plan: Plan::Reminder {
                    rule,
                    start: NaiveDate::from_ymd_opt(2026, 12, 1).unwrap(),
                    end: None,
                },
                memo: String::new(),
                source: "manual".into(),
            },
            jst(2026, 11, 30, 12),
        )
        .await;
        // A controlled clock: every day of two weeks at 8:00, 9:00 and 9:30.
        for d in 1..=14 {
            for h in [8, 9] {
                w.deliver(jst(2026, 12, d, h)).await;
            }
            w.deliver(jst(2026, 12, d, 9) + chrono::Duration::minutes(30))
                .await;
        }
        let sent: Vec<DateTime<Utc>> = store::runs_of(db, recurring)
            .await
            .unwrap()
            .iter()
            .filter(|r| r.status == RunStatus::Done)
            .map(|r| r.scheduled_at)
            .collect();
        assert_eq!(
            sent,
            [
                jst(2026, 12, 10, 9),
                jst(2026, 12, 7, 9),
                jst(2026, 12, 3, 9)
            ],
            "{label}: Thursday 3rd, Monday 7th, Thursday 10th (the 14th is after the end)"
        );
        // Three weekly messages to everyone, plus one reminder to friend 0 on
        // 12-15? No: 8/15 + 4 months is 12/15, outside the two weeks; the
        // reminder fires when its day comes.
        for (_, user) in &friends {
            assert_eq!(w.production.copies_to(user), 3, "{label}");
        }
        for h in [8, 9, 10] {
            w.deliver(jst(2026, 12, 15, h)).await;
        }
        w.deliver(jst(2026, 12, 16, 9)).await;
        w.deliver(jst(2026, 12, 16, 10)).await;
        assert_eq!(
            w.production.copies_to(&friends[0].1),
            4,
            "{label}: reminded on 12/15"
        );
        assert_eq!(
            w.production.copies_to(&friends[1].1),
            4,
            "{label}: reminded on 12/16"
        );
        assert_eq!(
            w.production.copies_to(&friends[2].1),
            3,
            "{label}: no child, no reminder"
        );
        let reminder_runs = store::runs_of(db, reminder).await.unwrap();
        let done: Vec<_> = reminder_runs
            .iter()
            .filter(|r| r.status == RunStatus::Done && r.recipients > 0)
            .map(|r| (r.scheduled_at, r.recipients))
            .collect();
        assert_eq!(
            done,
            [(jst(2026, 12, 16, 9), 1), (jst(2026, 12, 15, 9), 1)],
            "{label}: once per date, to the friend whose date it is"
        );
        w.production.shutdown();
        w.test.shutdown();
    }
}

#[tokio::test]
async fn a_worker_stopped_mid_delivery_with_faults_leaves_every_friend_exactly_one_copy() {
    for w in worlds().await {
        let db = w.db();
        let label = w.t.label();
        let range = w.production.add_users(10_000);
        let users = w.production.bulk_user_ids(range);
        befriend(db, Channel::Production, &users).await;
        // 10 % of multicasts fail before delivering, 30 % fail after delivering,
        // 20 % deliver and then hang past the client's patience.
        w.production.set_faults(hiroba_line_sim::Faults {
            fail_ratio: 0.1,
            ..Default::default()
        });
        w.production.fail_after_delivery(
            &["POST /v2/bot/message/multicast"],
            0.3,
            0.2,
            Duration::from_secs(2),
        );
        let id = schedule(
            db,
            &DeliveryDraft {
                title: "町からのお知らせ".into(),
                channel: Channel::Production,
                audience: Audience::All,
                messages: text("年末年始の窓口のご案内です。"),
                plan: Plan::Now,
                memo: String::new(),
                source: "manual".into(),
            },
            Utc::now(),
        )
        .await;
        // The first worker is stopped (as by a crash or a restart) mid-way.
        let worker = hiroba_jobs::deliveries::spawn(db.clone(), w.secrets.clone(), config());
        let started = std::time::Instant::now();
        loop {
            tokio::time::sleep(Duration::from_millis(100)).await;
            let reached = w.production.delivery_stats().users_reached;
            if reached >= 2_000 || started.elapsed() > Duration::from_secs(60) {
                break;
            }
        }
        worker.abort();
        let midway = w.production.delivery_stats().users_reached;
        assert!(midway < 10_000, "{label}: stopped in the middle ({midway})");
        // A second worker takes over once the first one's leases run out.
        w.production.set_faults(hiroba_line_sim::Faults::default());
        tokio::time::sleep(Duration::from_secs(3)).await;
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        loop {
            w.deliver(Utc::now()).await;
            let runs = store::runs_of(db, id).await.unwrap();
            if runs.iter().all(|r| r.status == RunStatus::Done) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{label}: not finished"
            );
            tokio::time::sleep(Duration::from_millis(500)).await;
        }
        let stats = w.production.delivery_stats();
        assert_eq!(stats.exactly_once, 10_000, "{label}: {stats:?}");
        assert_eq!(stats.more_than_once, 0, "{label}: {stats:?}");
        assert!(
            w.production.counters().duplicates_suppressed > 0,
            "{label}: retries happened"
        );
        let run = &store::runs_of(db, id).await.unwrap()[0];
        assert_eq!(
            (run.recipients, run.succeeded, run.failed),
            (10_000, 10_000, 0)
        );
        w.production.shutdown();
        w.test.shutdown();
    }
}

#[tokio::test]
async fn a_test_send_never_reaches_production_friends() {
    for w in worlds().await {
        let db = w.db();
        let label = w.t.label();
        let resident = hiroba_line_sim::new_user_id();
        w.production.add_user(&resident, "住民", None);
        befriend(db, Channel::Production, std::slice::from_ref(&resident)).await;
        let tester = hiroba_line_sim::new_user_id();
        w.test.add_user(&tester, "広報（テスト）", None);
        befriend(db, Channel::Test, std::slice::from_ref(&tester)).await;
        let mut tx = db.begin().await.unwrap();
        let id = store::create(
            &mut tx,
            &DeliveryDraft {
                title: "確認用".into(),
                channel: Channel::Production,
                audience: Audience::All,
                messages: text("テスト送信です。"),
                plan: Plan::Now,
                memo: String::new(),
                source: "manual".into(),
            },
            Status::PendingApproval,
            Some(1),
        )
        .await
        .unwrap();
        store::create_test_run(&mut tx, id, Utc::now())
            .await
            .unwrap();
        tx.commit().await.unwrap();
        w.deliver(Utc::now()).await;
        assert_eq!(w.test.copies_to(&tester), 1, "{label}");
        assert_eq!(w.production.copies_to(&resident), 0, "{label}");
        assert_eq!(
            w.production.requests_to("POST /v2/bot/message/multicast"),
            0
        );
        // Not in the statistics, and the delivery itself still waits for approval.
        let stats = store::stats(
            db,
            Utc::now() - chrono::Duration::days(1),
            Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
        assert!(stats.is_empty(), "{label}");
        assert_eq!(
            store::get(db, id).await.unwrap().status,
            Status::PendingApproval
        );
        w.production.shutdown();
        w.test.shutdown();
    }
}

#[tokio::test]
async fn a_large_audience_goes_out_as_one_narrowcast_exactly_once_through_faults() {
    for w in worlds().await {
        let db = w.db();
        let label = w.t.label();
        let range = w.production.add_users(3_000);
        let users = w.production.bulk_user_ids(range);
        befriend(db, Channel::Production, &users).await;
        // The first upload fails; the first narrowcast is processed but its
        // answer is lost (the worker gives up on the call and tries again
        // with the stored key on a later round).
        w.production
            .fail_next("POST /v2/bot/audienceGroup/upload/byFile", 1);
        w.production
            .timeout_next("POST /v2/bot/message/narrowcast", 1, Duration::from_secs(2));
        let config = WorkerConfig {
            narrowcast_from: Some(1_000),
            narrowcast_poll: Duration::from_millis(100),
            call_retries: 0,
            ..config()
        };
        let id = schedule(
            db,
            &DeliveryDraft {
                title: "町からの大事なお知らせ".into(),
                channel: Channel::Production,
                audience: Audience::All,
                messages: text("断水のお知らせです。"),
                plan: Plan::Now,
                memo: String::new(),
                source: "manual".into(),
            },
            Utc::now(),
        )
        .await;
        let mut clients = ChannelClients::with_policy(config.call_timeout, config.call_retries);
        clients.refresh(db, &w.secrets).await.unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(60);
        loop {
            deliveries::run_once(db, &clients, &config, Utc::now())
                .await
                .unwrap();
            let runs = store::runs_of(db, id).await.unwrap();
            if runs.iter().all(|r| r.status == RunStatus::Done) {
                break;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "{label}: not finished: {runs:?}"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let stats = w.production.delivery_stats();
        assert_eq!(stats.exactly_once, 3_000, "{label}: {stats:?}");
        assert_eq!(stats.more_than_once, 0, "{label}: {stats:?}");
        assert_eq!(
            w.production.requests_to("POST /v2/bot/message/multicast"),
            0,
            "{label}"
        );
        assert_eq!(
            w.production.requests_to("POST /v2/bot/message/narrowcast"),
            2,
            "{label}: the lost answer was retried with the same key"
        );
        let run = &store::runs_of(db, id).await.unwrap()[0];
        assert!(run.is_narrowcast(), "{label}");
        assert!(!run.request_id.is_empty(), "{label}");
        assert_eq!(
            (run.recipients, run.succeeded, run.failed),
            (3_000, 3_000, 0),
            "{label}"
        );
        // Statistics by request id (M15), fetched once the hour has passed.
        let fetched =
            deliveries::fetch_insights(db, &clients, Utc::now() + chrono::Duration::hours(2))
                .await
                .unwrap();
        assert_eq!(fetched, 1, "{label}");
        let row = store::stats(
            db,
            Utc::now() - chrono::Duration::days(1),
            Utc::now() + chrono::Duration::days(1),
        )
        .await
        .unwrap();
        assert_eq!(row[0].delivered, Some(3_000), "{label}: {row:?}");
        w.production.shutdown();
        w.test.shutdown();
    }
}
