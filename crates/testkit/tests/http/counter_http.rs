//! The counter (窓口): desk calendar, walk-in bookings with the same rules and
//! a logged override (A23), and managing reservations (A22), with refusals of
//! staff outside their permission or facility scope; on SQLite and PostgreSQL.

use chrono::Duration;
use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::{audit, reservations};
use hiroba_testkit::{arena, open_days, slot_key, spawn_all, today};

#[tokio::test]
async fn staff_book_a_walk_in_manage_payment_and_cancel() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let admin = app.login_admin().await;
        let (date, slots) = open_days(db, a.room, today() + Duration::days(3)).await[0].clone();
        let slot = slot_key(&slots[0]);

        // The desk calendar shows the free slot with a link to book it.
        let desk = admin
            .get(&format!("/admin/desk?date={date}&facility={}", a.facility))
            .await;
        assert_eq!(desk.status(), 200);
        let desk = desk.text().await.unwrap();
        let link = format!(
            "/admin/reservations/new?combination={}&#38;date={date}&#38;slot={slot}",
            a.full.id
        );
        assert!(desk.contains(&link), "{}: desk link", app.label());
        let week = admin
            .get(&format!(
                "/admin/desk?view=week&date={date}&facility={}",
                a.facility
            ))
            .await;
        assert_eq!(week.status(), 200);

        let form = admin
            .get(&format!(
                "/admin/reservations/new?combination={}&date={date}&slot={slot}",
                a.full.id
            ))
            .await;
        assert_eq!(form.status(), 200);
        let combo = a.full.id.to_string();
        let d = date.to_string();
        let cat = a.category.to_string();
        let base = vec![
            ("combination", combo.as_str()),
            ("date", d.as_str()),
            ("slot", slot.as_str()),
            ("purpose", a.purpose.as_str()),
            ("people", "30"),
            ("applicant_kind", "walkin"),
            ("walkin_category", cat.as_str()),
        ];
        // Bad input: name and phone missing; nothing stored.
        let mut bad = base.clone();
        bad.push(("action", "book"));
        bad.push(("walkin_phone", "電話"));
        let page = admin
            .post("/admin/reservations/new", &bad)
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("申込者の氏名を入力してください"));
        assert!(page.contains("電話番号を半角数字"));
        assert!(
            reservations::held_cells(db, a.room, date, date)
                .await
                .unwrap()
                .is_empty()
        );

        let mut ok = base.clone();
        ok.push(("walkin_name", "窓口 一郎"));
        ok.push(("walkin_phone", "0985-75-0000"));
        let mut quote = ok.clone();
        quote.push(("action", "quote"));
        let page = admin
            .post("/admin/reservations/new", &quote)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("合計") && page.contains("施設使用料"),
            "{}: quote",
            app.label()
        );
        let mut book = ok.clone();
        book.push(("action", "book"));
        book.push(("payment_status", "paid"));
        book.push(("receipt_no", "R7-0001"));
        let res = admin.post("/admin/reservations/new", &book).await;
        assert_eq!(res.status(), 303, "{}: counter booking", app.label());
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let id: i64 = location
            .trim_start_matches("/admin/reservations/")
            .trim_end_matches("?done=created")
            .parse()
            .unwrap();
        let r = reservations::get(db, id).await.unwrap().unwrap();
        assert_eq!(r.applicant_name, "窓口 一郎");
        assert_eq!(r.resident_id, None);
        assert_eq!(r.payment_status, "paid");
        assert_eq!(r.receipt_no, "R7-0001");
        let page = admin.get(&location).await.text().await.unwrap();
        assert!(page.contains(&r.reference));

        // The same slot again is refused with the reason.
        let page = admin
            .post("/admin/reservations/new", &book)
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("すでに予約が入っています"),
            "{}: taken",
            app.label()
        );

        // Search finds it by reference and by name.
        let list = admin
            .get(&format!("/admin/reservations?q={}", r.reference))
            .await
            .text()
            .await
            .unwrap();
        assert!(list.contains("窓口 一郎"));

        // Payment: 納付済 needs a receipt number.
        let page = admin
            .post(
                &format!("/admin/reservations/{id}"),
                &[
                    ("applicant_name", "窓口 一郎"),
                    ("applicant_phone", "0985-75-0000"),
                    ("people", "25"),
                    ("payment_status", "paid"),
                    ("receipt_no", ""),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("領収書番号を入力してください"));
        let res = admin
            .post(
                &format!("/admin/reservations/{id}"),
                &[
                    ("applicant_name", "窓口 一郎"),
                    ("applicant_phone", "0985-75-0000"),
                    ("people", "25"),
                    ("payment_status", "exempt"),
                    ("receipt_no", ""),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        let r = reservations::get(db, id).await.unwrap().unwrap();
        assert_eq!((r.people, r.payment_status.as_str()), (25, "exempt"));

        // Cancel needs a reason; then the slot is free again.
        let page = admin
            .post(
                &format!("/admin/reservations/{id}/cancel"),
                &[("reason", "")],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("取消の理由を入力してください"));
        let res = admin
            .post(
                &format!("/admin/reservations/{id}/cancel"),
                &[("reason", "利用者から電話で取消の連絡")],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert!(
            reservations::held_cells(db, a.room, date, date)
                .await
                .unwrap()
                .is_empty()
        );
        let log = audit::search(db, &audit::Filter::default(), 50, 0)
            .await
            .unwrap();
        let actions: Vec<&str> = log.iter().map(|e| e.action.as_str()).collect();
        for action in [
            "reservation.create",
            "reservation.update",
            "reservation.cancel",
        ] {
            assert!(
                actions.contains(&action),
                "{}: {action} logged",
                app.label()
            );
        }
    }
}

#[tokio::test]
async fn override_needs_its_permission_and_a_reason() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        // Beyond every category's booking window.
        let (date, slots) = hiroba_testkit::beyond_window(db, a.facility, a.room).await;
        let slot = slot_key(&slots[0]);
        let combo = a.half_b.id.to_string();
        let d = date.to_string();
        let cat = a.category.to_string();
        let fields = vec![
            ("combination", combo.as_str()),
            ("date", d.as_str()),
            ("slot", slot.as_str()),
            ("purpose", a.purpose.as_str()),
            ("people", "10"),
            ("applicant_kind", "walkin"),
            ("walkin_name", "大会 実行委員会"),
            ("walkin_phone", "0985-75-1111"),
            ("walkin_category", cat.as_str()),
            ("action", "book"),
        ];

        // Counter staff without the override permission: the rule applies,
        // and asking for the override is refused.
        let (_, password) = app
            .create_staff(
                "madoguchi2",
                &[Permission::Reservations],
                FacilityScope::All,
            )
            .await;
        let clerk = app.login("madoguchi2", &password).await;
        let page = clerk
            .post("/admin/reservations/new", &fields)
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("まで予約できます"), "{}: window", app.label());
        let mut asked = fields.clone();
        asked.push(("override", "yes"));
        asked.push(("override_reason", "町の大会"));
        assert_eq!(
            clerk.post("/admin/reservations/new", &asked).await.status(),
            403
        );

        // An administrator may, with a reason, and the log says why.
        let admin = app.login_admin().await;
        let mut no_reason = fields.clone();
        no_reason.push(("override", "yes"));
        let page = admin
            .post("/admin/reservations/new", &no_reason)
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("理由を入力してください"));
        let res = admin.post("/admin/reservations/new", &asked).await;
        assert_eq!(res.status(), 303, "{}: override booking", app.label());
        let log = audit::search(db, &audit::Filter::default(), 20, 0)
            .await
            .unwrap();
        assert!(
            log.iter()
                .any(|e| e.action == "reservation.create"
                    && e.summary.contains("例外受付: 町の大会"))
        );
    }
}

#[tokio::test]
async fn staff_outside_the_scope_are_refused() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (date, slots) = open_days(db, a.room, today() + Duration::days(3)).await[0].clone();
        let (s0, s1) = (slots[0].start.to_string(), slots[0].end.to_string());
        let id = hiroba_testkit::reserve(db, &a.half_a, date, (&s0, &s1)).await;
        let other = hiroba_store::facilities::list(db)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.id != a.facility)
            .unwrap();
        let (_, password) = app
            .create_staff(
                "tantou",
                &[Permission::Reservations],
                FacilityScope::Only([other.id].into_iter().collect()),
            )
            .await;
        let s = app.login("tantou", &password).await;
        assert_eq!(
            s.get(&format!("/admin/reservations/{id}")).await.status(),
            403
        );
        assert_eq!(
            s.post(
                &format!("/admin/reservations/{id}/cancel"),
                &[("reason", "x")]
            )
            .await
            .status(),
            403
        );
        assert_eq!(
            s.get(&format!("/admin/desk?facility={}", a.facility))
                .await
                .status(),
            403
        );
        let slot = slot_key(&slots[1]);
        assert_eq!(
            s.get(&format!(
                "/admin/reservations/new?combination={}&date={date}&slot={slot}",
                a.half_b.id
            ))
            .await
            .status(),
            403
        );
        // The list only shows facilities in scope.
        let list = s
            .get(&format!("/admin/reservations?from={date}&to={date}"))
            .await
            .text()
            .await
            .unwrap();
        let r = reservations::get(db, id).await.unwrap().unwrap();
        assert!(!list.contains(&r.reference));
        assert_eq!(r.status, "confirmed");
    }
}

/// A23: a counter booking on behalf of a registered resident, found by
/// number or e-mail: the reservation is theirs (it shows under "my
/// reservations"), and they get the mail.
#[tokio::test]
async fn staff_book_for_a_registered_resident() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, resident) = app
            .resident("touroku@example.jp", "国富 登録", a.category)
            .await;
        let admin = app.login_admin().await;
        let days = open_days(db, a.room, today() + Duration::days(4)).await;
        let (date, slots) = days[0].clone();
        let (combo, d, slot) = (
            a.half_a.id.to_string(),
            date.to_string(),
            slot_key(&slots[0]),
        );
        let number = resident.to_string();
        let fields = |who: &'static str, applicant: &str| {
            vec![
                ("combination".to_owned(), combo.clone()),
                ("date".to_owned(), d.clone()),
                ("slot".to_owned(), slot.clone()),
                ("purpose".to_owned(), a.purpose.clone()),
                ("people".to_owned(), "6".to_owned()),
                ("applicant_kind".to_owned(), who.to_owned()),
                ("resident".to_owned(), applicant.to_owned()),
                ("action".to_owned(), "book".to_owned()),
            ]
        };
        let post = |f: Vec<(String, String)>| {
            let admin = &admin;
            async move {
                let f: Vec<(&str, &str)> =
                    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                admin.post("/admin/reservations/new", &f).await
            }
        };

        // Unknown or missing resident: refused at the field, nothing stored.
        let page = post(fields("resident", "999999"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("その利用者は見つからないか"),
            "{}",
            app.label()
        );
        let page = post(fields("resident", "")).await.text().await.unwrap();
        assert!(page.contains("利用者番号かメールアドレスを入力してください"));
        assert!(
            reservations::held_cells(db, a.room, date, date)
                .await
                .unwrap()
                .is_empty()
        );

        // By number.
        let res = post(fields("resident", &number)).await;
        assert_eq!(res.status(), 303, "{}: counter booking", app.label());
        let mine = reservations::for_resident(db, resident).await.unwrap();
        assert_eq!(mine.len(), 1, "{}", app.label());
        let r = &mine[0].r;
        assert_eq!(
            (r.applicant_name.as_str(), r.category_id, r.combination_id),
            ("国富 登録", a.category, a.half_a.id)
        );
        let mails = hiroba_store::outbox::recent(db, 10).await.unwrap();
        assert!(
            mails.iter().any(|m| m.to_address == "touroku@example.jp"
                && m.subject.contains("窓口で施設の予約を受け付けました")
                && m.subject.contains(&r.reference)),
            "{}: the resident's mail",
            app.label()
        );
        let list = me.get("/account/reservations").await.text().await.unwrap();
        assert!(
            list.contains(&r.reference),
            "{}: my reservations",
            app.label()
        );
        let log = audit::search(db, &audit::Filter::default(), 10, 0)
            .await
            .unwrap();
        assert!(
            log.iter()
                .any(|e| e.action == "reservation.create" && e.summary.contains("登録利用者"))
        );

        // By e-mail address, for the other half.
        let mut by_mail = fields("resident", "Touroku@Example.jp");
        by_mail[0].1 = a.half_b.id.to_string();
        let res = post(by_mail).await;
        assert_eq!(res.status(), 303, "{}: by e-mail", app.label());
        assert_eq!(
            reservations::for_resident(db, resident)
                .await
                .unwrap()
                .len(),
            2
        );
    }
}

/// The desk's week view lists every slot's reservations (applicant and
/// people), closures and blocks, and links each free combination to the
/// counter form with the day and slot filled in, for every room of the facility.
#[tokio::test]
async fn the_desk_week_lists_reservations_closures_and_free_slots() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let admin = app.login_admin().await;
        let (date, slots) = open_days(db, a.room, today() + Duration::days(8)).await[0].clone();
        let (s0, s1) = (slots[0].start.to_string(), slots[0].end.to_string());
        let id = hiroba_testkit::reserve(db, &a.half_a, date, (&s0, &s1)).await;
        // A block on the next slot, and a closure on another day of the same week.
        let blocked = slots[1];
        let sunday = date
            - Duration::days(i64::from(
                chrono::Datelike::weekday(&date).num_days_from_sunday(),
            ));
        let closed_day = (0..7)
            .map(|i| sunday + Duration::days(i))
            .find(|d| *d != date)
            .unwrap();
        let mut tx = db.begin().await.unwrap();
        hiroba_store::catalogue::insert_block(
            &mut tx,
            &hiroba_store::catalogue::BlockRow {
                id: 0,
                facility_id: a.facility,
                room_id: Some(a.room),
                combination_id: None,
                date,
                start_min: Some(i64::from(blocked.start.minutes())),
                end_min: Some(i64::from(blocked.end.minutes())),
                reason: "町バレーボール大会の準備".into(),
            },
        )
        .await
        .unwrap();
        hiroba_store::catalogue::insert_closure(
            &mut tx,
            &hiroba_store::catalogue::ClosureRow {
                id: 0,
                facility_id: a.facility,
                room_id: Some(a.room),
                from_date: closed_day,
                to_date: closed_day,
                reason: "床の改修".into(),
            },
        )
        .await
        .unwrap();
        tx.commit().await.unwrap();

        let page = admin
            .get(&format!(
                "/admin/desk?view=week&date={date}&facility={}",
                a.facility
            ))
            .await;
        assert_eq!(page.status(), 200, "{}", app.label());
        let page = page.text().await.unwrap();
        assert!(
            page.contains(&format!("/admin/reservations/{id}")) && page.contains("国富 花子 8人"),
            "{}: the reservation with applicant and people",
            app.label()
        );
        assert!(
            page.contains("利用不可: 町バレーボール大会の準備"),
            "{}: the block",
            app.label()
        );
        // Half B is still free in the booked slot; half A and the full court are not.
        let link = |c: i64, s: &TimeRange| {
            format!(
                "/admin/reservations/new?combination={c}&#38;date={date}&#38;slot={}",
                slot_key(s)
            )
        };
        assert!(
            page.contains(&link(a.half_b.id, &slots[0])),
            "{}",
            app.label()
        );
        assert!(!page.contains(&link(a.half_a.id, &slots[0])));
        assert!(!page.contains(&link(a.full.id, &slots[0])));
        assert!(!page.contains(&link(a.half_b.id, &blocked)));
        // Every room of the facility has its row, and closed days say why.
        for room in hiroba_store::facilities::rooms(db, a.facility)
            .await
            .unwrap()
        {
            assert!(page.contains(&room.name), "{}: {}", app.label(), room.name);
        }
        assert!(
            page.contains("休館: ") && page.contains("床の改修"),
            "{}: the closure in the week",
            app.label()
        );
    }
}
