//! LINE storage (issue 5; M20 webhook, M22 talk log, M23 friends and daily
//! counts), on SQLite and PostgreSQL.

use chrono::{DateTime, Duration, NaiveDate, TimeZone, Utc};
use hiroba_domain::datetime::JST;
use hiroba_store::line::{
    self, Channel, ChannelSettings, Direction, FriendStatus, NewEvent, NewTalk,
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
        assert!(
            line::load_channel(db, Channel::Test)
                .await
                .unwrap()
                .is_none()
        );
        let mut s = ChannelSettings {
            kind: Channel::Test,
            channel_id: "1234".into(),
            channel_secret: "secret".into(),
            access_token: "token".into(),
            api_base: "http://127.0.0.1:1".into(),
            api_data_base: "http://127.0.0.1:2".into(),
        };
        let mut tx = db.begin().await.unwrap();
        line::save_channel(&mut tx, &s).await.unwrap();
        s.access_token = "token2".into();
        line::save_channel(&mut tx, &s).await.unwrap();
        tx.commit().await.unwrap();
        let loaded = line::load_channel(db, Channel::Test)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(loaded, s, "{}", t.label());
        assert!(!format!("{loaded:?}").contains("token2"));
        assert!(
            line::load_channel(db, Channel::Production)
                .await
                .unwrap()
                .is_none()
        );
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
    }
}
