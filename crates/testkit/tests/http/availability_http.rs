//! Public availability without login (issue 4, A08, A09), on SQLite and
//! PostgreSQL: the five slot states, half courts, and room visibility.

use chrono::{Datelike, Duration, Weekday};
use hiroba_domain::datetime::JST;
use hiroba_store::catalogue;
use hiroba_store::facilities::{self, RoomChange, Visibility};
use hiroba_testkit::spawn_all;

#[tokio::test]
async fn slots_read_free_partial_booked_closed_and_outside_the_window() {
    for app in spawn_all().await {
        let db = app.db();
        let f = facilities::list(db)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name.contains("アリーナくにとみ"))
            .unwrap();
        let room = facilities::rooms(db, f.id)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.name == "メインアリーナ")
            .unwrap();
        let combos = catalogue::combinations(db, room.id).await.unwrap();
        let (full, half_a, half_b) = (&combos[0], &combos[1], &combos[2]);

        // A Wednesday two weeks ahead: inside every category's window, a weekday (three bands).
        let today = chrono::Utc::now().with_timezone(&JST).date_naive();
        let mut date = today + Duration::days(14);
        while date.weekday() != Weekday::Wed {
            date += Duration::days(1);
        }
        hiroba_testkit::reserve(db, half_a, date, ("9:00", "12:00")).await;

        let client = app.client();
        let week = |combination: i64| {
            app.url(&format!(
                "/facilities/{}/rooms/{}?week={date}&combination={combination}",
                f.id, room.id
            ))
        };
        let page = |html: String| html;
        let full_page = page(
            client
                .get(week(full.id))
                .send()
                .await
                .unwrap()
                .text()
                .await
                .unwrap(),
        );
        assert!(
            full_page.contains("午前 9:00〜12:00 <strong>一部空き</strong>"),
            "{}: the full court reads partly free",
            app.label()
        );
        assert!(full_page.contains("午後 13:00〜17:00 <strong>空き</strong>"));
        assert!(
            !full_page.contains("国富 花子"),
            "no booking details on public pages"
        );
        let a_page = client
            .get(week(half_a.id))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            a_page.contains("午前 9:00〜12:00 <strong>予約済み</strong>"),
            "{}",
            app.label()
        );
        let b_page = client
            .get(week(half_b.id))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            b_page.contains("午前 9:00〜12:00 <strong>空き</strong>"),
            "{}",
            app.label()
        );

        // Far ahead: outside every booking window. Year end: closed.
        let far = today + Duration::days(200);
        let far_page = client
            .get(app.url(&format!(
                "/facilities/{}/rooms/{}?week={far}",
                f.id, room.id
            )))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(far_page.contains("受付期間外</strong>"), "{}", app.label());
        let year_end = format!("{}-12", today.year());
        let closed = client
            .get(app.url(&format!(
                "/facilities/{}/rooms/{}?month={year_end}",
                f.id, room.id
            )))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            closed.contains("休館日（毎年12月29日〜1月3日）"),
            "{}",
            app.label()
        );
    }
}

#[tokio::test]
async fn private_rooms_are_hidden_and_availability_only_rooms_show_no_details() {
    for app in spawn_all().await {
        let db = app.db();
        let f = facilities::list(db)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name.contains("アリーナくにとみ"))
            .unwrap();
        let rooms = facilities::rooms(db, f.id).await.unwrap();
        let (private, limited) = (&rooms[2], &rooms[3]);
        let mut tx = db.begin().await.unwrap();
        facilities::update_room(
            &mut tx,
            private.id,
            &RoomChange {
                name: private.name.clone(),
                description: "職員用".into(),
                capacity: private.capacity,
                visibility: Visibility::Private,
                min_minutes: 0,
            },
        )
        .await
        .unwrap();
        facilities::update_room(
            &mut tx,
            limited.id,
            &RoomChange {
                name: limited.name.clone(),
                description: "プロジェクターあり".into(),
                capacity: Some(30),
                visibility: Visibility::Availability,
                min_minutes: 0,
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let client = app.client();
        let page = client
            .get(app.url(&format!("/facilities/{}", f.id)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            !page.contains(&format!("/rooms/{}\"", private.id)),
            "{}: private room listed",
            app.label()
        );
        assert!(page.contains(&format!("/rooms/{}\"", limited.id)));
        assert_eq!(
            client
                .get(app.url(&format!("/facilities/{}/rooms/{}", f.id, private.id)))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
        let limited_page = client
            .get(app.url(&format!("/facilities/{}/rooms/{}", f.id, limited.id)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(limited_page.contains("空き状況"), "{}", app.label());
        assert!(
            !limited_page.contains("プロジェクターあり"),
            "{}: availability-only rooms show no details",
            app.label()
        );
        assert_eq!(
            client
                .get(app.url("/facilities/99999"))
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
}
