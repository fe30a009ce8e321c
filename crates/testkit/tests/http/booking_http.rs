//! Residents book, see the fee, find and cancel their reservations (U06-U10,
//! A08, A21, A24), on SQLite and PostgreSQL through the running server.

use chrono::Duration;
use hiroba_store::{outbox, reservations};
use hiroba_testkit::{arena, hidden, meta_csrf, open_days, slot_key, spawn_all, today};

async fn count_reservations(db: &hiroba_store::Db) -> usize {
    let (s, e) = (today() - Duration::days(400), today() + Duration::days(400));
    let a = arena(db).await;
    reservations::for_room(db, a.room, s, e)
        .await
        .unwrap()
        .len()
}

#[tokio::test]
async fn a_resident_books_half_a_with_lighting_and_cancels() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, me_id) = app
            .resident("hanako@example.jp", "国富 花子", a.category)
            .await;
        let days = open_days(db, a.room, today() + Duration::days(10)).await;
        let (date, slots) = days[0].clone();
        let slot = slot_key(&slots[0]);

        // The availability page links the free slot to the booking form.
        let week = me
            .get(&format!(
                "/facilities/{}/rooms/{}?week={date}&combination={}",
                a.facility, a.room, a.half_a.id
            ))
            .await
            .text()
            .await
            .unwrap();
        let link = format!(
            "/book?combination={}&#38;date={date}&#38;slot={slot}",
            a.half_a.id
        );
        assert!(week.contains(&link), "{}: no booking link", app.label());

        let start = format!("/book?combination={}&date={date}&slot={slot}", a.half_a.id);
        let form = me.get(&start).await;
        assert_eq!(form.status(), 200);
        let form = form.text().await.unwrap();
        assert!(form.contains("予約の申し込み") && form.contains("照明"));
        let csrf = meta_csrf(&form).unwrap();
        let combo = a.half_a.id.to_string();
        let d = date.to_string();
        let lighting = format!("eq-{}", a.lighting);
        let terms = a.terms_version.to_string();
        let fields = |people: &'static str, lights: &'static str, terms: &str| {
            vec![
                ("_csrf".to_owned(), csrf.clone()),
                ("combination".to_owned(), combo.clone()),
                ("date".to_owned(), d.clone()),
                ("slot".to_owned(), slot.clone()),
                ("purpose".to_owned(), a.purpose.clone()),
                ("activity".to_owned(), "練習".to_owned()),
                ("people".to_owned(), people.to_owned()),
                (lighting.clone(), lights.to_owned()),
                ("terms".to_owned(), terms.to_owned()),
            ]
        };
        let post = |f: Vec<(String, String)>, path: &'static str| {
            let client = me.client.clone();
            let url = format!("{}{path}", me.base);
            async move { client.post(url).form(&f).send().await.unwrap() }
        };

        // Bad input: each refused with a message at its field, nothing stored.
        let page = post(fields("9999", "1", &terms), "/book/confirm").await;
        let page = page.text().await.unwrap();
        assert!(page.contains("定員"), "{}: capacity", app.label());
        let page = post(fields("10", "99", &terms), "/book/confirm").await;
        let page = page.text().await.unwrap();
        assert!(
            page.contains("数を減らしてください"),
            "{}: stock",
            app.label()
        );
        let page = post(fields("10", "1", ""), "/book/confirm").await;
        let page = page.text().await.unwrap();
        assert!(page.contains("利用規約を読んで"), "{}: terms", app.label());
        let page = post(fields("たくさん", "1", &terms), "/book/confirm").await;
        assert!(page.text().await.unwrap().contains("半角数字"));
        assert_eq!(
            count_reservations(db).await,
            0,
            "{}: nothing stored",
            app.label()
        );

        // The confirmation page itemises the fee (U07, U08).
        let confirm = post(fields("10", "1", &terms), "/book/confirm").await;
        assert_eq!(confirm.status(), 200);
        let confirm = confirm.text().await.unwrap();
        assert!(confirm.contains("予約内容の確認") && confirm.contains("施設使用料"));
        assert!(confirm.contains("照明") && confirm.contains("合計"));
        let total = hidden(&confirm, "total").unwrap();
        assert!(total.parse::<i64>().unwrap() > 0);
        assert_eq!(count_reservations(db).await, 0, "{}: not yet", app.label());

        let mut done_fields = fields("10", "1", &terms);
        done_fields.push(("total".into(), total.clone()));
        let done = post(done_fields.clone(), "/book/complete").await;
        assert_eq!(done.status(), 303, "{}: complete", app.label());
        let location = done.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.ends_with("?done=1"));
        let page = me.get(&location).await.text().await.unwrap();
        assert!(page.contains("予約が完了しました"));
        let mine = reservations::for_resident(db, me_id).await.unwrap();
        assert_eq!(mine.len(), 1);
        let r = &mine[0].r;
        assert!(page.contains(&r.reference));
        assert_eq!(r.fee_total.to_string(), total);
        assert_eq!(r.combination_id, a.half_a.id);
        assert_eq!(reservations::equipment_of(db, r.id).await.unwrap().len(), 1);
        let mails = outbox::recent(db, 20).await.unwrap();
        assert!(
            mails
                .iter()
                .any(|m| m.to_address == "hanako@example.jp" && m.subject.contains(&r.reference)),
            "{}: completion mail",
            app.label()
        );

        // The availability page shows it at once (its one-second page cache is dropped).
        let week = me
            .get(&format!(
                "/facilities/{}/rooms/{}?week={date}&combination={}",
                a.facility, a.room, a.half_a.id
            ))
            .await
            .text()
            .await
            .unwrap();
        assert!(!week.contains(&link), "{}: slot still offered", app.label());

        // Pressing "予約する" again (a stale page) cannot book it twice.
        let again = post(done_fields, "/book/complete").await;
        assert_eq!(again.status(), 200);
        assert!(
            again
                .text()
                .await
                .unwrap()
                .contains("すでに予約が入っています")
        );
        assert_eq!(count_reservations(db).await, 1);

        // Another resident cannot book the full court over half A, and sees why.
        let (other, other_id) = app
            .resident("taro@example.jp", "国富 太郎", a.category)
            .await;
        let other_csrf = other.csrf.clone();
        let full = other
            .client
            .post(format!("{}/book/confirm", other.base))
            .form(&[
                ("_csrf", other_csrf.as_str()),
                ("combination", &a.full.id.to_string()),
                ("date", &d),
                ("slot", &slot),
                ("purpose", &a.purpose),
                ("people", "20"),
                ("terms", &terms),
            ])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            full.contains("すでに予約が入っています"),
            "{}: full over half",
            app.label()
        );
        // ... and cannot see the first resident's reservation.
        assert_eq!(
            other
                .get(&format!("/account/reservations/{}", r.id))
                .await
                .status(),
            404
        );
        assert!(
            reservations::for_resident(db, other_id)
                .await
                .unwrap()
                .is_empty()
        );

        // My reservations lists it; cancelling frees the slot and mails.
        let list = me.get("/account/reservations").await.text().await.unwrap();
        assert!(list.contains(&r.reference));
        let cancel = me
            .post(&format!("/account/reservations/{}/cancel", r.id), &[])
            .await;
        assert_eq!(cancel.status(), 200);
        assert!(cancel.text().await.unwrap().contains("取り消しました"));
        let after = reservations::get(db, r.id).await.unwrap().unwrap();
        assert_eq!(after.status, "cancelled");
        assert!(
            reservations::held_cells(db, a.room, date, date)
                .await
                .unwrap()
                .is_empty(),
            "{}: cells freed",
            app.label()
        );
        let mails = outbox::recent(db, 20).await.unwrap();
        assert!(mails.iter().any(|m| m.subject.contains("取り消しました")));
    }
}

#[tokio::test]
async fn refusals_say_what_to_do_instead() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, me_id) = app
            .resident("jiro@example.jp", "国富 次郎", a.category)
            .await;
        let terms = a.terms_version.to_string();
        let try_book = |date: String, slot: String, combo: i64| {
            let client = me.client.clone();
            let url = format!("{}/book/confirm", me.base);
            let csrf = me.csrf.clone();
            let purpose = a.purpose.clone();
            let terms = terms.clone();
            async move {
                client
                    .post(url)
                    .form(&[
                        ("_csrf", csrf.as_str()),
                        ("combination", &combo.to_string()),
                        ("date", &date),
                        ("slot", &slot),
                        ("purpose", &purpose),
                        ("people", "5"),
                        ("terms", &terms),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        // In the past.
        let past = today() - Duration::days(3);
        let page = try_book(past.to_string(), "540-720".into(), a.half_a.id).await;
        assert!(page.contains("過ぎた日時"), "{}: past", app.label());
        // Beyond the booking window.
        let far = today() + Duration::days(150);
        let page = try_book(far.to_string(), "540-720".into(), a.half_a.id).await;
        assert!(page.contains("まで予約できます"), "{}: window", app.label());
        // Not a slot of that day.
        let days = open_days(db, a.room, today() + Duration::days(5)).await;
        let (date, slots) = days[0].clone();
        let page = try_book(date.to_string(), "545-600".into(), a.half_a.id).await;
        assert!(
            page.contains("予約枠ではありません"),
            "{}: slot",
            app.label()
        );
        // A closed day: the first day in the window the calendar marks closed.
        let cal = hiroba_store::catalogue_domain::month_calendar(
            db,
            a.room,
            None,
            chrono::Datelike::year(&date),
            chrono::Datelike::month(&date),
        )
        .await
        .unwrap();
        if let Some(closed) = cal.iter().find(|d| {
            d.date > today()
                && matches!(d.status, hiroba_domain::calendar::DayStatus::Closed { .. })
        }) {
            let page = try_book(closed.date.to_string(), slot_key(&slots[0]), a.half_a.id).await;
            assert!(
                page.contains("予約できません"),
                "{}: closed day",
                app.label()
            );
        }
        assert!(
            reservations::for_resident(db, me_id)
                .await
                .unwrap()
                .is_empty()
        );

        // A reservation inside the cancellation deadline cannot be cancelled
        // online; the page says until when and whom to call.
        let soon = open_days(db, a.room, today() + Duration::days(1)).await[0].clone();
        let (s0, s1) = (soon.1[0].start.to_string(), soon.1[0].end.to_string());
        let id = hiroba_testkit::reserve_for(db, &a.half_b, soon.0, (&s0, &s1), Some(me_id)).await;
        let mut tx = db.begin().await.unwrap();
        hiroba_store::facilities::set_cancel_deadline(&mut tx, a.facility, 10, true)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        assert!(soon.0 - today() < Duration::days(10));
        let page = me
            .get(&format!("/account/reservations/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(&a.phone), "{}: whom to call", app.label());
        let res = me
            .post(&format!("/account/reservations/{id}/cancel"), &[])
            .await;
        assert!(res.text().await.unwrap().contains("ご連絡ください"));
        assert_eq!(
            reservations::get(db, id).await.unwrap().unwrap().status,
            "confirmed"
        );

        // Visitors are sent to sign in first, and back afterwards.
        let res = app
            .client()
            .get(app.url(&format!(
                "/book?combination={}&date={date}&slot=540-720",
                a.half_a.id
            )))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303);
        assert!(
            res.headers()["location"]
                .to_str()
                .unwrap()
                .starts_with("/account/login?next=%2Fbook")
        );
    }
}

#[tokio::test]
async fn an_unverified_category_books_only_after_staff_confirm_it() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, me_id) = app
            .resident("kinmu@example.jp", "国富 勤", a.category)
            .await;
        hiroba_testkit::set_category_verified(db, me_id, false).await;
        let (date, slots) = open_days(db, a.room, today() + Duration::days(10)).await[0].clone();
        let page = me
            .post(
                "/book/confirm",
                &[
                    ("combination", &a.half_a.id.to_string()),
                    ("date", &date.to_string()),
                    ("slot", &slot_key(&slots[0])),
                    ("purpose", &a.purpose),
                    ("people", "5"),
                    ("terms", &a.terms_version.to_string()),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("利用者区分の確認が済んでいない"),
            "{}",
            app.label()
        );
        assert!(page.contains("予約の申し込み"));
    }
}

#[tokio::test]
async fn residents_sign_in_by_number_and_the_monthly_limit_holds() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, me_id) = app.resident("gen@example.jp", "国富 源", a.category).await;

        // U01: the 利用者番号 on the account page signs in as well as the e-mail.
        let client = app.client();
        let page = client
            .get(app.url("/account/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = meta_csrf(&page).unwrap();
        let res = client
            .post(app.url("/account/login"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("email", &me_id.to_string()),
                ("password", "Kunitomi-sumai 2026 hiroba"),
            ])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}: number login", app.label());

        // Fill the month up to the facility's limit, then one more is refused.
        let limit = hiroba_store::catalogue::facility_categories(db, a.facility)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.category_id == a.category)
            .and_then(|r| r.monthly_limit)
            .unwrap();
        let next_month = {
            use chrono::Datelike;
            let t = today() + Duration::days(35);
            t.with_day(1).unwrap()
        };
        let days = open_days(db, a.room, next_month).await;
        let in_month: Vec<_> = days
            .iter()
            .filter(|(d, _)| chrono::Datelike::month(d) == chrono::Datelike::month(&next_month))
            .collect();
        for (d, slots) in in_month.iter().take(usize::try_from(limit).unwrap()) {
            let (s0, s1) = (slots[0].start.to_string(), slots[0].end.to_string());
            hiroba_testkit::reserve_for(db, &a.half_a, *d, (&s0, &s1), Some(me_id)).await;
        }
        let (d, slots) = in_month[usize::try_from(limit).unwrap()];
        let page = me
            .post(
                "/book/confirm",
                &[
                    ("combination", &a.half_a.id.to_string()),
                    ("date", &d.to_string()),
                    ("slot", &slot_key(&slots[0])),
                    ("purpose", &a.purpose),
                    ("people", "5"),
                    ("terms", &a.terms_version.to_string()),
                ],
            )
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains(&format!("1か月の予約は{limit}件まで")),
            "{}: monthly limit",
            app.label()
        );
    }
}

/// A09: a resident's booking of a room that is "availability only" or
/// private is refused by the booking checks themselves, even when posted
/// straight to the confirm and complete steps; the counter still books it.
#[tokio::test]
async fn rooms_not_public_are_refused_to_residents_even_when_posted_directly() {
    use hiroba_store::facilities::{self, RoomChange, Visibility};
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, me_id) = app
            .resident("mieru@example.jp", "国富 見", a.category)
            .await;
        let room = facilities::room(db, a.room).await.unwrap().unwrap();
        let (date, slots) = open_days(db, a.room, today() + Duration::days(10)).await[0].clone();
        let slot = slot_key(&slots[0]);
        let (combo, d, terms) = (
            a.half_a.id.to_string(),
            date.to_string(),
            a.terms_version.to_string(),
        );
        for visibility in [Visibility::Availability, Visibility::Private] {
            let mut tx = db.begin().await.unwrap();
            facilities::update_room(
                &mut tx,
                room.id,
                &RoomChange {
                    name: room.name.clone(),
                    description: room.description.clone(),
                    capacity: room.capacity,
                    visibility,
                    min_minutes: room.min_minutes,
                },
            )
            .await
            .unwrap();
            tx.commit().await.unwrap();
            for step in ["/book/confirm", "/book/complete"] {
                let res = me
                    .post(
                        step,
                        &[
                            ("combination", &combo),
                            ("date", &d),
                            ("slot", &slot),
                            ("purpose", &a.purpose),
                            ("people", "5"),
                            ("terms", &terms),
                            ("total", "1440"),
                        ],
                    )
                    .await;
                assert_eq!(res.status(), 403, "{}: {visibility:?} {step}", app.label());
                let page = res.text().await.unwrap();
                assert!(
                    page.contains("インターネットからは予約できません") && page.contains(&a.phone),
                    "{}: {visibility:?} {step}: the reason and whom to ask",
                    app.label()
                );
            }
        }
        assert_eq!(
            count_reservations(db).await,
            0,
            "{}: nothing stored",
            app.label()
        );
        assert!(
            reservations::for_resident(db, me_id)
                .await
                .unwrap()
                .is_empty()
        );

        // Staff may book any room in their scope at the counter, private ones too.
        let admin = app.login_admin().await;
        let cat = a.category.to_string();
        let res = admin
            .post(
                "/admin/reservations/new",
                &[
                    ("combination", &combo),
                    ("date", &d),
                    ("slot", &slot),
                    ("purpose", &a.purpose),
                    ("people", "5"),
                    ("applicant_kind", "walkin"),
                    ("walkin_name", "窓口 次郎"),
                    ("walkin_phone", "0985-75-0001"),
                    ("walkin_category", &cat),
                    ("action", "book"),
                ],
            )
            .await;
        assert_eq!(
            res.status(),
            303,
            "{}: counter books a private room",
            app.label()
        );
        assert_eq!(count_reservations(db).await, 1);
    }
}

/// A14: a resident whose user category may not book a facility is told so
/// in Japanese, with whom to ask; nothing is stored.
#[tokio::test]
async fn a_category_not_allowed_is_refused_with_a_reason() {
    use hiroba_store::catalogue;
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let categories = catalogue::categories(db).await.unwrap();
        let outside = categories.iter().find(|c| c.name == "町外").unwrap().id;
        // The arena takes bookings from every category but 町外.
        let kept: Vec<_> = catalogue::facility_categories(db, a.facility)
            .await
            .unwrap()
            .into_iter()
            .filter(|r| r.category_id != outside)
            .collect();
        let mut tx = db.begin().await.unwrap();
        catalogue::save_facility_categories(&mut tx, a.facility, &kept)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let (me, me_id) = app
            .resident("sotogawa@example.jp", "町外 太郎", outside)
            .await;
        let (date, slots) = open_days(db, a.room, today() + Duration::days(10)).await[0].clone();
        let fields = [
            ("combination", a.half_a.id.to_string()),
            ("date", date.to_string()),
            ("slot", slot_key(&slots[0])),
            ("purpose", a.purpose.clone()),
            ("people", "5".to_owned()),
            ("terms", a.terms_version.to_string()),
            ("total", "1".to_owned()),
        ];
        let fields: Vec<(&str, &str)> = fields.iter().map(|(k, v)| (*k, v.as_str())).collect();
        for step in ["/book/confirm", "/book/complete"] {
            let page = me.post(step, &fields).await;
            assert_eq!(page.status(), 200, "{}: {step}", app.label());
            let page = page.text().await.unwrap();
            assert!(
                page.contains("あなたの利用者区分ではインターネットから予約できません")
                    && page.contains("窓口にお問い合わせください"),
                "{}: {step}: category not allowed",
                app.label()
            );
        }
        assert!(
            reservations::for_resident(db, me_id)
                .await
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            count_reservations(db).await,
            0,
            "{}: nothing stored",
            app.label()
        );
    }
}
