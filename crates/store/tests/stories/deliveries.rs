//! Deliveries, runs and batches (issue 6; M12-M14) on SQLite and PostgreSQL:
//! planning creates each occurrence once (also when two planners race), late
//! occurrences are skipped, preparation resumes from its cursor, batches are
//! leased and carry their retry keys, cancelling stops what has not gone out.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hiroba_domain::datetime::JST;
use hiroba_domain::schedule::{Schedule, SendTime, WeekdaySet};
use hiroba_store::deliveries::{self, Audience, DeliveryDraft, NewBatch, Plan, RunStatus, Status};
use hiroba_store::line::Channel;
use hiroba_store::testing::backends;
use serde_json::json;

fn jst(y: i32, m: u32, d: u32, h: u32, min: u32) -> DateTime<Utc> {
    JST.with_ymd_and_hms(y, m, d, h, min, 0)
        .unwrap()
        .with_timezone(&Utc)
}

fn day(y: i32, m: u32, d: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, d).unwrap()
}

fn draft(plan: Plan) -> DeliveryDraft {
    DeliveryDraft {
        title: "ごみ収集日のお知らせ".into(),
        channel: Channel::Production,
        audience: Audience::All,
        messages: vec![json!({"type": "text", "text": "明日は燃えるごみの日です。"})],
        plan,
        memo: String::new(),
        source: "manual".into(),
    }
}

fn batch(seq: i64, users: &[&str]) -> NewBatch {
    NewBatch {
        seq,
        user_ids: users.iter().map(|u| (*u).to_owned()).collect(),
        retry_key: hiroba_store::sessions::new_token().unwrap(),
    }
}

#[tokio::test]
async fn a_weekly_delivery_is_planned_once_per_occurrence() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        // Mondays and Thursdays 9:00 from 2026-12-01 (Tue) to 2026-12-10.
        let weekly = Schedule::weekly(
            WeekdaySet::parse("月・木").unwrap(),
            SendTime::parse("9:00").unwrap(),
            day(2026, 12, 1),
            Some(day(2026, 12, 10)),
        )
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        let id = deliveries::create(
            &mut tx,
            &draft(Plan::Scheduled(weekly)),
            Status::Draft,
            Some(1),
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let stored = deliveries::get(db, id).await.unwrap();
        assert_eq!(stored.draft, draft(Plan::Scheduled(weekly)), "{label}");
        assert_eq!(stored.status, Status::Draft);

        let mut tx = db.begin().await.unwrap();
        assert!(
            deliveries::approve(&mut tx, id, 2, jst(2026, 11, 30, 12, 0))
                .await
                .unwrap()
        );
        assert!(
            !deliveries::approve(&mut tx, id, 2, jst(2026, 11, 30, 12, 0))
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let stored = deliveries::get(db, id).await.unwrap();
        assert_eq!(
            stored.next_run_at,
            Some(jst(2026, 12, 3, 9, 0)),
            "{label}: first Thursday"
        );
        assert_eq!(stored.approved_by, Some(2));

        // Nothing is due before 9:00; two planners at 9:00 create one run.
        assert_eq!(
            deliveries::plan_due(db, jst(2026, 12, 3, 8, 59))
                .await
                .unwrap(),
            0
        );
        let (a, b) = tokio::join!(
            deliveries::plan_due(db, jst(2026, 12, 3, 9, 0)),
            deliveries::plan_due(db, jst(2026, 12, 3, 9, 0))
        );
        assert_eq!(a.unwrap() + b.unwrap(), 1, "{label}");
        assert_eq!(
            deliveries::get(db, id).await.unwrap().next_run_at,
            Some(jst(2026, 12, 7, 9, 0))
        );
        // Monday and Thursday the 10th, then finished.
        assert_eq!(
            deliveries::plan_due(db, jst(2026, 12, 7, 9, 1))
                .await
                .unwrap(),
            1
        );
        assert_eq!(
            deliveries::plan_due(db, jst(2026, 12, 10, 9, 0))
                .await
                .unwrap(),
            1
        );
        let stored = deliveries::get(db, id).await.unwrap();
        assert_eq!(stored.status, Status::Finished, "{label}");
        assert_eq!(stored.next_run_at, None);
        let runs = deliveries::runs_of(db, id).await.unwrap();
        let times: Vec<_> = runs.iter().map(|r| r.scheduled_at).collect();
        assert_eq!(
            times,
            [
                jst(2026, 12, 10, 9, 0),
                jst(2026, 12, 7, 9, 0),
                jst(2026, 12, 3, 9, 0)
            ]
        );
        assert!(runs.iter().all(|r| r.status == RunStatus::Scheduled));
    }
}

#[tokio::test]
async fn a_late_occurrence_is_skipped_not_sent() {
    for t in backends().await {
        let db = &t.db;
        let weekly = Schedule::weekly(
            WeekdaySet::parse("月").unwrap(),
            SendTime::parse("9:00").unwrap(),
            day(2026, 12, 1),
            None,
        )
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        let id = deliveries::create(
            &mut tx,
            &draft(Plan::Scheduled(weekly)),
            Status::Draft,
            None,
        )
        .await
        .unwrap();
        deliveries::approve(&mut tx, id, 2, jst(2026, 12, 1, 0, 0))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // The server was down from Monday 7th until Wednesday.
        assert_eq!(
            deliveries::plan_due(db, jst(2026, 12, 9, 10, 0))
                .await
                .unwrap(),
            0
        );
        let runs = deliveries::runs_of(db, id).await.unwrap();
        assert_eq!(runs.len(), 1, "{}", t.label());
        assert_eq!(runs[0].status, RunStatus::Skipped);
        assert!(!runs[0].note.is_empty());
        assert_eq!(
            deliveries::get(db, id).await.unwrap().next_run_at,
            Some(jst(2026, 12, 14, 9, 0)),
            "the next Monday is planned as usual"
        );
    }
}

#[tokio::test]
async fn a_run_is_prepared_resumably_sent_in_leased_batches_and_closed() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        let now = Utc::now();
        let mut tx = db.begin().await.unwrap();
        let id = deliveries::create(&mut tx, &draft(Plan::Now), Status::Draft, None)
            .await
            .unwrap();
        deliveries::approve(&mut tx, id, 2, now).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(deliveries::plan_due(db, now).await.unwrap(), 1);
        assert_eq!(
            deliveries::get(db, id).await.unwrap().status,
            Status::Finished
        );

        let run = deliveries::claim_run_to_prepare(db, now, Duration::minutes(2))
            .await
            .unwrap()
            .expect("a run to prepare");
        assert_eq!(run.status, RunStatus::Preparing);
        assert!(
            deliveries::claim_run_to_prepare(db, now, Duration::minutes(2))
                .await
                .unwrap()
                .is_none(),
            "{label}: leased"
        );
        // First page written, then the preparer "crashes".
        let mut tx = db.begin().await.unwrap();
        let first = [batch(0, &["U1", "U2"]), batch(1, &["U3"])];
        assert!(
            deliveries::add_batches(&mut tx, run.id, &first, 3, now + Duration::minutes(2))
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        // Another worker takes the run over after the lease and resumes after friend 3.
        let later = now + Duration::minutes(3);
        let resumed = deliveries::claim_run_to_prepare(db, later, Duration::minutes(2))
            .await
            .unwrap()
            .expect("lease ran out");
        assert_eq!(resumed.prepared_after, 3, "{label}");
        assert_eq!(deliveries::next_seq(db, run.id).await.unwrap(), 2);
        // A stale cursor (the first worker waking up) writes nothing.
        let mut tx = db.begin().await.unwrap();
        assert!(
            !deliveries::add_batches(&mut tx, run.id, &[batch(2, &["U3"])], 3, later)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        let mut tx = db.begin().await.unwrap();
        assert!(
            deliveries::add_batches(&mut tx, run.id, &[batch(2, &["U4"])], 4, later)
                .await
                .unwrap()
        );
        tx.commit().await.unwrap();
        deliveries::finish_preparing(db, run.id, later)
            .await
            .unwrap();
        let run = deliveries::run(db, run.id).await.unwrap();
        assert_eq!(
            (run.status, run.recipients),
            (RunStatus::Sending, 4),
            "{label}"
        );

        // Batches are leased: two senders never hold the same one.
        let a = deliveries::claim_batches(db, later, Duration::minutes(2), 2)
            .await
            .unwrap();
        let b = deliveries::claim_batches(db, later, Duration::minutes(2), 2)
            .await
            .unwrap();
        assert_eq!((a.len(), b.len()), (2, 1), "{label}");
        assert_eq!(a[0].user_ids().unwrap(), ["U1", "U2"]);
        assert_eq!(a[0].channel, Channel::Production);
        assert!(!a[0].retry_key.is_empty());
        let mut tx = db.begin().await.unwrap();
        deliveries::mark_batch_sent(&mut tx, a[0].id, "req-0", later)
            .await
            .unwrap();
        deliveries::mark_batch_sent(&mut tx, a[1].id, "req-1", later)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        // A failure to retry keeps the batch (and its key) for later.
        deliveries::mark_batch_failed(db, b[0].id, "HTTP 500", false, later + Duration::seconds(5))
            .await
            .unwrap();
        assert_eq!(deliveries::complete_runs(db, later).await.unwrap(), 0);
        let again =
            deliveries::claim_batches(db, later + Duration::seconds(6), Duration::minutes(2), 5)
                .await
                .unwrap();
        assert_eq!(again.len(), 1);
        assert_eq!(
            again[0].retry_key, b[0].retry_key,
            "{label}: same key on retry"
        );
        assert_eq!(again[0].attempts, 2);
        deliveries::mark_batch_failed(db, again[0].id, "HTTP 400", true, later)
            .await
            .unwrap();
        assert_eq!(deliveries::complete_runs(db, later).await.unwrap(), 1);
        let run = deliveries::run(db, run.id).await.unwrap();
        assert_eq!(
            (run.status, run.succeeded, run.failed),
            (RunStatus::Done, 3, 1),
            "{label}"
        );
        let progress = deliveries::progress(db, run.id).await.unwrap();
        assert_eq!(
            (progress.batches, progress.sent, progress.failed),
            (3, 3, 1)
        );
    }
}

#[tokio::test]
async fn cancelling_stops_what_has_not_gone_out_and_test_runs_are_apart() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        let now = Utc::now();
        let once = Schedule::once(
            (now + Duration::days(2)).with_timezone(&JST).date_naive(),
            SendTime::parse("10:00").unwrap(),
        )
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        let id = deliveries::create(
            &mut tx,
            &draft(Plan::Scheduled(once)),
            Status::PendingApproval,
            Some(1),
        )
        .await
        .unwrap();
        // A test send before approval: the test channel, its own run.
        let test_run = deliveries::create_test_run(&mut tx, id, now).await.unwrap();
        tx.commit().await.unwrap();
        let run = deliveries::run(db, test_run).await.unwrap();
        assert!(run.test, "{label}");
        assert_eq!(run.channel, Channel::Test);
        // Still editable: a test send is not the delivery going out.
        let mut tx = db.begin().await.unwrap();
        let mut changed = draft(Plan::Scheduled(once));
        changed.title = "収集日の変更".into();
        assert!(
            deliveries::update(&mut tx, id, &changed, Status::PendingApproval)
                .await
                .unwrap()
        );
        deliveries::approve(&mut tx, id, 2, now).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            deliveries::get(db, id).await.unwrap().draft.title,
            "収集日の変更"
        );
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            deliveries::cancel(&mut tx, id).await.unwrap(),
            1,
            "{label}: the test run"
        );
        tx.commit().await.unwrap();
        let stored = deliveries::get(db, id).await.unwrap();
        assert_eq!(
            (stored.status, stored.next_run_at),
            (Status::Cancelled, None)
        );
        assert_eq!(
            deliveries::plan_due(db, now + Duration::days(3))
                .await
                .unwrap(),
            0,
            "{label}: nothing planned after cancelling"
        );
        let mut tx = db.begin().await.unwrap();
        assert!(
            !deliveries::update(&mut tx, id, &draft(Plan::Now), Status::Draft)
                .await
                .unwrap(),
            "a cancelled delivery is not edited"
        );
        tx.commit().await.unwrap();
        assert_eq!(
            deliveries::count(db, Some(Status::Cancelled))
                .await
                .unwrap(),
            1
        );
        assert_eq!(deliveries::list(db, None, 10, 0).await.unwrap().len(), 1);
    }
}
