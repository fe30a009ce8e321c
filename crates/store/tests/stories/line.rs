//! LINE storage (issue 5; M20 webhook, M22 talk log, M23 friends and daily
//! counts), on SQLite and PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hiroba_domain::datetime::JST;
use hiroba_store::SecretBox;
use hiroba_store::line::{
    self, Channel, ChannelSettings, Direction, FriendStatus, NewApiCall, NewEvent, NewTalk,
    TalkFilter,
};
use hiroba_store::testing::backends;

fn event(id: &str, kind: &str, user: &str) -> NewEvent {
    NewEvent {
        webhook_event_id: id.into(),
        event_type: kind.into(),
        user_id: Some(user.into()),
        raw: format!(r#"{{"type":"{kind}","webhookEventId":"{id}"}}"#),
    }
}

fn jst(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    JST.with_ymd_and_hms(y, m, d, h, 0, 0)
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn channel_settings_round_trip() {
    for t in backends().await {
        let db = &t.db;
        let secrets = SecretBox::random().unwrap();
        assert!(
            line::load_channel(db, &secrets, Channel::Test)
                .await
                .unwrap()
                .is_none()
        );
        let mut s = ChannelSettings {
            kind: Channel::Test,
            channel_id: "1234".into(),
            channel_secret: "secret-abcdef".into(),
            access_token: "token-abcdef".into(),
            api_base: "http://127.0.0.1:1".into(),
            api_data_base: "http://127.0.0.1:2".into(),
            login_channel_id: "2000000099".into(),
            liff_id: "2000000099-liffapp".into(),
        };
        let mut tx = db.begin().await.unwrap();
        line::save_channel(&mut tx, &secrets, &s).await.unwrap();
        s.access_token = "token2-abcdef".into();
        line::save_channel(&mut tx, &secrets, &s).await.unwrap();
        tx.commit().await.unwrap();
        let loaded = line::load_channel(db, &secrets, Channel::Test)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded, s, "{}", t.label());
        assert!(!format!("{loaded:?}").contains("token2"));
        // Sealed in the database (S02): neither value is stored in clear.
        let (secret, token): (String, String) = hiroba_store::on_pool!(db, pool => sqlx::query_as(
            "SELECT channel_secret, access_token FROM line_channels WHERE kind = 'test'"
        )
        .fetch_one(pool)
        .await)
        .unwrap();
        assert!(secret.starts_with("v1:") && !secret.contains("abcdef"));
        assert!(token.starts_with("v1:") && !token.contains("abcdef"));
        // Another key cannot open them, and the admin overview never shows them.
        let other = SecretBox::random().unwrap();
        assert!(line::load_channel(db, &other, Channel::Test).await.is_err());
        let overview = line::channel_overview(db, Channel::Test).await.unwrap();
        assert!(overview.has_secret && overview.has_token);
        assert!(!format!("{overview:?}").contains("abcdef"));
        assert!(
            line::load_channel(db, &secrets, Channel::Production)
                .await
                .unwrap()
                .is_none()
        );
        // Every instance must run with the key the database was set up with.
        secrets.verify_against(db).await.unwrap();
        secrets.verify_against(db).await.unwrap();
        assert!(matches!(
            other.verify_against(db).await,
            Err(hiroba_store::StoreError::SecretKeyMismatch)
        ));
    }
}

#[tokio::test]
async fn redelivery_is_stored_once_and_claimed_once() {
    for t in backends().await {
        let db = &t.db;
        let mut tx = db.begin().await.unwrap();
        let n = line::insert_events(
            &mut tx,
            Channel::Production,
            &[event("E1", "follow", "U1"), event("E2", "message", "U1")],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(n, 2, "{}", t.label());
        // The same delivery again (isRedelivery), plus one new event.
        let mut tx = db.begin().await.unwrap();
        let n = line::insert_events(
            &mut tx,
            Channel::Production,
            &[event("E1", "follow", "U1"), event("E3", "unfollow", "U1")],
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(n, 1, "{}", t.label());
        assert_eq!(
            line::events(db, Channel::Production).await.unwrap().len(),
            3
        );

        let now = Utc::now();
        let lease = Duration::minutes(5);
        let first = line::claim_event(db, now, lease).await.unwrap().unwrap();
        assert_eq!(first.webhook_event_id, "E1");
        assert_eq!(first.attempts, 1);
        let second = line::claim_event(db, now, lease).await.unwrap().unwrap();
        assert_eq!(second.webhook_event_id, "E2");
        // E2 fails: retried after its back-off, not before.
        line::mark_event_failed(db, second.id, now, Duration::seconds(30), "boom")
            .await
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        line::mark_processed(&mut tx, first.id, now).await.unwrap();
        tx.commit().await.unwrap();
        let third = line::claim_event(db, now, lease).await.unwrap().unwrap();
        assert_eq!(third.webhook_event_id, "E3");
        assert!(line::claim_event(db, now, lease).await.unwrap().is_none());
        let later = now + Duration::minutes(1);
        let retry = line::claim_event(db, later, lease).await.unwrap().unwrap();
        assert_eq!(retry.webhook_event_id, "E2");
        assert_eq!(retry.attempts, 2);
        assert_eq!(retry.last_error, "boom");
        // The lease on E3 runs out without a result: claimed again.
        let much_later = now + Duration::minutes(10);
        let again = line::claim_event(db, much_later, lease).await.unwrap();
        assert!(again.is_some(), "{}", t.label());
        let all = line::events(db, Channel::Production).await.unwrap();
        assert!(all[0].processed_at.is_some());
    }
}

#[tokio::test]
async fn follow_unfollow_refollow() {
    for t in backends().await {
        let db = &t.db;
        let ch = Channel::Production;
        let t1 = jst(2025, 4, 1, 10);
        let mut tx = db.begin().await.unwrap();
        let id = line::upsert_follow(&mut tx, ch, "U1", "山田花子", "https://p/1", t1)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let f = line::find_friend(db, id).await.unwrap();
        assert_eq!(f.status, FriendStatus::Friend);
        assert_eq!(f.display_name, "山田花子");
        assert_eq!(f.followed_at, Some(t1));
        assert_eq!(f.blocked_at, None);

        let t2 = jst(2025, 4, 3, 9);
        let mut tx = db.begin().await.unwrap();
        assert_eq!(line::mark_blocked(&mut tx, ch, "U1", t2).await.unwrap(), id);
        tx.commit().await.unwrap();
        let f = line::find_friend(db, id).await.unwrap();
        assert_eq!(f.status, FriendStatus::Blocked);
        assert_eq!(f.blocked_at, Some(t2));

        // Refollow without a profile: the name is kept, the block cleared.
        let t3 = jst(2025, 4, 5, 9);
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            line::upsert_follow(&mut tx, ch, "U1", "", "", t3)
                .await
                .unwrap(),
            id
        );
        tx.commit().await.unwrap();
        let f = line::find_friend(db, id).await.unwrap();
        assert_eq!(f.status, FriendStatus::Friend);
        assert_eq!(f.display_name, "山田花子");
        assert_eq!(f.picture_url, "https://p/1");
        assert_eq!(f.followed_at, Some(t3));
        assert_eq!(f.blocked_at, None);

        // The test channel is separate; an unknown user's unfollow is recorded.
        let mut tx = db.begin().await.unwrap();
        line::mark_blocked(&mut tx, Channel::Test, "U1", t3)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert_eq!(line::list_friends(db, ch).await.unwrap().len(), 1);
        let other = line::friend_by_user(db, Channel::Test, "U1")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(other.status, FriendStatus::Blocked);
        assert_ne!(other.id, id);
    }
}

#[tokio::test]
async fn talk_log_in_order_per_friend() {
    for t in backends().await {
        let db = &t.db;
        let ch = Channel::Production;
        let base = jst(2025, 4, 1, 10);
        let mut tx = db.begin().await.unwrap();
        for (i, (user, text)) in [("U1", "こんにちは"), ("U2", "別の人"), ("U1", "予約したい")]
            .iter()
            .enumerate()
        {
            line::append_talk(
                &mut tx,
                &NewTalk {
                    channel: ch,
                    user_id: user,
                    direction: Direction::In,
                    kind: "text",
                    text,
                    raw: "{}",
                    at: base + Duration::seconds(i as i64),
                },
            )
            .await
            .unwrap();
        }
        // Same timestamp: insertion order decides.
        line::append_talk(
            &mut tx,
            &NewTalk {
                channel: ch,
                user_id: "U1",
                direction: Direction::Out,
                kind: "text",
                text: "承りました",
                raw: "{}",
                at: base + Duration::seconds(2),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();
        let log = line::talk_log(db, ch, "U1").await.unwrap();
        let texts: Vec<_> = log.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(
            texts,
            ["こんにちは", "予約したい", "承りました"],
            "{}",
            t.label()
        );
        assert_eq!(log[2].direction, Direction::Out);
        assert!(
            line::talk_log(db, Channel::Test, "U1")
                .await
                .unwrap()
                .is_empty()
        );
    }
}

#[tokio::test]
async fn daily_friend_counts_by_jst_day() {
    for t in backends().await {
        let db = &t.db;
        let ch = Channel::Production;
        let mut tx = db.begin().await.unwrap();
        // 4/1: U1, U2 (U2 just before midnight JST); 4/2: U3 at 00:30 JST; U1 blocks on 4/2.
        line::upsert_follow(&mut tx, ch, "U1", "a", "", jst(2025, 4, 1, 9))
            .await
            .unwrap();
        line::upsert_follow(&mut tx, ch, "U2", "b", "", jst(2025, 4, 1, 23))
            .await
            .unwrap();
        line::upsert_follow(
            &mut tx,
            ch,
            "U3",
            "c",
            "",
            jst(2025, 4, 2, 0) + Duration::minutes(30),
        )
        .await
        .unwrap();
        line::mark_blocked(&mut tx, ch, "U1", jst(2025, 4, 2, 12))
            .await
            .unwrap();
        // Repeats change nothing: a second block of U1, a follow of U2 (already a
        // friend) only refreshes the name.
        line::mark_blocked(&mut tx, ch, "U1", jst(2025, 4, 2, 13))
            .await
            .unwrap();
        line::upsert_follow(&mut tx, ch, "U2", "b2", "", jst(2025, 4, 2, 14))
            .await
            .unwrap();
        // Another channel does not count.
        line::upsert_follow(&mut tx, Channel::Test, "U9", "z", "", jst(2025, 4, 1, 9))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let d = |day| NaiveDate::from_ymd_opt(2025, 3, day).unwrap();
        let counts =
            line::daily_friend_counts(db, ch, d(31), NaiveDate::from_ymd_opt(2025, 4, 3).unwrap())
                .await
                .unwrap();
        let got: Vec<_> = counts
            .iter()
            .map(|c| {
                (
                    c.date.format("%m-%d").to_string(),
                    c.new_friends,
                    c.blocks,
                    c.total,
                )
            })
            .collect();
        assert_eq!(
            got,
            [
                ("03-31".to_string(), 0, 0, 0),
                ("04-01".to_string(), 2, 0, 2),
                ("04-02".to_string(), 1, 1, 2),
                ("04-03".to_string(), 0, 0, 2),
            ],
            "{}",
            t.label()
        );
        assert_eq!(
            line::friend_by_user(db, ch, "U2")
                .await
                .unwrap()
                .unwrap()
                .display_name,
            "b2"
        );
        // U1 comes back on 4/3: a follow that day, and the totals follow.
        let mut tx = db.begin().await.unwrap();
        line::upsert_follow(&mut tx, ch, "U1", "", "", jst(2025, 4, 3, 8))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let counts = line::daily_friend_counts(
            db,
            ch,
            NaiveDate::from_ymd_opt(2025, 4, 1).unwrap(),
            NaiveDate::from_ymd_opt(2025, 4, 3).unwrap(),
        )
        .await
        .unwrap();
        let got: Vec<_> = counts
            .iter()
            .map(|c| (c.new_friends, c.blocks, c.total))
            .collect();
        assert_eq!(got, [(2, 0, 2), (1, 1, 2), (1, 0, 3)], "{}", t.label());
        let u1 = line::friend_by_user(db, ch, "U1").await.unwrap().unwrap();
        assert_eq!(u1.display_name, "a", "an empty profile keeps the name");
        assert!(u1.blocked_at.is_none());
    }
}

#[tokio::test]
async fn talk_search_and_api_call_log() {
    for t in backends().await {
        let db = &t.db;
        let ch = Channel::Production;
        let mut tx = db.begin().await.unwrap();
        line::upsert_follow(&mut tx, ch, "Ua", "国富 花子", "", jst(2025, 4, 1, 9))
            .await
            .unwrap();
        line::upsert_follow(&mut tx, ch, "Ub", "本庄 次郎", "", jst(2025, 4, 1, 9))
            .await
            .unwrap();
        for (user, text, day, direction) in [
            ("Ua", "体育館の予約はできますか", 1, Direction::In),
            ("Ua", "はい、できます", 1, Direction::Out),
            ("Ub", "ごみの日を教えて", 2, Direction::In),
            ("Ub", "100%_割引?", 3, Direction::In),
        ] {
            line::append_talk(
                &mut tx,
                &NewTalk {
                    channel: ch,
                    user_id: user,
                    direction,
                    kind: "text",
                    text,
                    raw: "{}",
                    at: jst(2025, 4, day, 10),
                },
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        let all = TalkFilter::default();
        assert_eq!(line::count_talk(db, &all).await.unwrap(), 4);
        let rows = line::search_talk(db, &all, 10, 0).await.unwrap();
        assert_eq!(rows[0].text, "100%_割引?", "newest first");
        assert_eq!(rows[0].display_name.as_deref(), Some("本庄 次郎"));
        let by_name = TalkFilter {
            friend: Some("花子".into()),
            ..TalkFilter::default()
        };
        assert_eq!(
            line::count_talk(db, &by_name).await.unwrap(),
            2,
            "{}",
            t.label()
        );
        let by_user = TalkFilter {
            friend: Some("Ub".into()),
            ..TalkFilter::default()
        };
        assert_eq!(line::count_talk(db, &by_user).await.unwrap(), 2);
        let period = TalkFilter {
            from: Some(jst(2025, 4, 2, 0)),
            until: Some(jst(2025, 4, 3, 0)),
            ..TalkFilter::default()
        };
        let rows = line::search_talk(db, &period, 10, 0).await.unwrap();
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].text, "ごみの日を教えて");
        // LIKE wildcards in the words are taken literally.
        let literal = TalkFilter {
            text: Some("%_".into()),
            ..TalkFilter::default()
        };
        assert_eq!(line::count_talk(db, &literal).await.unwrap(), 1);
        let other = TalkFilter {
            channel: Some(Channel::Test),
            ..TalkFilter::default()
        };
        assert_eq!(line::count_talk(db, &other).await.unwrap(), 0);

        let id = line::log_api_call(
            db,
            ch,
            &NewApiCall {
                endpoint: "POST /v2/bot/message/push".into(),
                purpose: "1対1チャット".into(),
                status: Some(200),
                request_id: "req-1".into(),
                retry_key: "key-1".into(),
                attempts: 2,
                ..NewApiCall::default()
            },
        )
        .await
        .unwrap();
        let calls = line::recent_api_calls(db, Some(ch), 10, 0).await.unwrap();
        assert_eq!(calls.len(), 1);
        assert_eq!(calls[0].id, id);
        assert_eq!(calls[0].request_id, "req-1");
        assert_eq!(calls[0].status, Some(200));
        assert_eq!(calls[0].attempts, 2);
        assert_eq!(
            line::count_api_calls(db, Some(Channel::Test))
                .await
                .unwrap(),
            0
        );
    }
}

#[tokio::test]
async fn events_are_claimed_in_batches_and_late_events_do_not_undo_newer_ones() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        let events: Vec<NewEvent> = (0..250)
            .map(|i| event(&format!("ev{i:04}"), "message", "U1"))
            .collect();
        let mut tx = db.begin().await.unwrap();
        assert_eq!(
            line::insert_events(&mut tx, Channel::Production, &events)
                .await
                .unwrap(),
            250,
            "{label}"
        );
        // A redelivered batch (multi-row insert) stores nothing new.
        assert_eq!(
            line::insert_events(&mut tx, Channel::Production, &events[..120])
                .await
                .unwrap(),
            0
        );
        tx.commit().await.unwrap();
        let now = Utc::now();
        let first = line::claim_events(db, now, Duration::minutes(2), 100)
            .await
            .unwrap();
        let second = line::claim_events(db, now, Duration::minutes(2), 100)
            .await
            .unwrap();
        let third = line::claim_events(db, now, Duration::minutes(2), 100)
            .await
            .unwrap();
        assert_eq!(
            (first.len(), second.len(), third.len()),
            (100, 100, 50),
            "{label}"
        );
        assert!(first.windows(2).all(|w| w[0].id < w[1].id), "oldest first");
        assert!(first.last().unwrap().id < second[0].id);
        assert!(
            line::claim_events(db, now, Duration::minutes(2), 100)
                .await
                .unwrap()
                .is_empty(),
            "{label}: every event is leased"
        );
        let backlog = line::event_backlog(db).await.unwrap();
        assert_eq!(
            (
                backlog.received,
                backlog.processed,
                backlog.pending,
                backlog.given_up
            ),
            (250, 0, 250, 0),
            "{label}: leased events are still pending"
        );
        let mut tx = db.begin().await.unwrap();
        let ids: Vec<i64> = first.iter().map(|e| e.id).collect();
        line::mark_processed_many(&mut tx, &ids, now).await.unwrap();
        tx.commit().await.unwrap();
        let backlog = line::event_backlog(db).await.unwrap();
        assert_eq!((backlog.processed, backlog.pending), (100, 150), "{label}");

        // A claim inside a transaction that is rolled back leaves the events
        // to be claimed again (the worker's one-transaction path).
        let later = now + Duration::minutes(3);
        let mut tx = db.begin().await.unwrap();
        let claimed = line::claim_events_in(&mut tx, later, Duration::minutes(2), 100)
            .await
            .unwrap();
        assert_eq!(claimed.len(), 100, "{label}: the lapsed leases");
        assert!(claimed.windows(2).all(|w| w[0].id < w[1].id));
        drop(tx);
        let again = line::claim_events(db, later, Duration::minutes(2), 200)
            .await
            .unwrap();
        assert_eq!(again.len(), 150, "{label}: nothing stayed claimed");

        // An unfollow at 10:00 processed before a follow from 9:00: the friend
        // stays blocked (events may be applied out of order by two workers).
        let ch = Channel::Production;
        let mut tx = db.begin().await.unwrap();
        line::upsert_follow(&mut tx, ch, "U7", "七", "", jst(2025, 4, 1, 8))
            .await
            .unwrap();
        line::mark_blocked(&mut tx, ch, "U7", jst(2025, 4, 1, 10))
            .await
            .unwrap();
        line::upsert_follow(&mut tx, ch, "U7", "", "", jst(2025, 4, 1, 9))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let f = line::friend_by_user(db, ch, "U7").await.unwrap().unwrap();
        assert_eq!(f.status, FriendStatus::Blocked, "{label}");
        // And a late unfollow does not block a friend who followed again later.
        let mut tx = db.begin().await.unwrap();
        line::upsert_follow(&mut tx, ch, "U7", "", "", jst(2025, 4, 1, 12))
            .await
            .unwrap();
        line::mark_blocked(&mut tx, ch, "U7", jst(2025, 4, 1, 11))
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let f = line::friend_by_user(db, ch, "U7").await.unwrap().unwrap();
        assert_eq!(f.status, FriendStatus::Friend, "{label}");
    }
}
