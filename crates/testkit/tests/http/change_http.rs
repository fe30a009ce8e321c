//! Changing a reservation (A22, U10): residents within the facility's change
//! deadline and staff at the desk move it to another day, time, unit or full
//! court, with other equipment and people, through the booking checks; a
//! taken slot changes nothing; the reference number stays; the resident gets
//! mail. The cancellation deadline is its own rule (A21). On SQLite and
//! PostgreSQL through the running server.

use chrono::{Duration, NaiveDate};
use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::booking::{self, Applicant, BookingInput};
use hiroba_store::catalogue::Combination;
use hiroba_store::facilities::{self, FacilityChange};
use hiroba_store::{Db, audit, outbox, reservations};
use hiroba_testkit::{Arena, arena, hidden, open_days, slot_key, spawn_all, today};

/// Books through the same checks a resident passes (terms accepted); returns the id.
async fn book(
    db: &Db,
    a: &Arena,
    combination: &Combination,
    date: NaiveDate,
    slots: &[TimeRange],
    resident: Option<(i64, &str)>,
    equipment: Vec<(i64, i64)>,
) -> i64 {
    let input = BookingInput {
        combination_id: combination.id,
        date,
        slots: slots.to_vec(),
        applicant: Applicant {
            resident_id: resident.map(|r| r.0),
            name: resident.map_or("国富 花子", |r| r.1).to_owned(),
            phone: "0985-75-3111".into(),
            category_id: a.category,
        },
        purpose: a.purpose.clone(),
        activity: "練習".into(),
        people: 10,
        equipment,
        reduction_id: None,
        counter: None,
        accepted_terms: Some(a.terms_version),
        replacing: None,
    };
    let prepared = booking::prepare(db, &input, today())
        .await
        .unwrap()
        .unwrap_or_else(|e| panic!("booking refused: {e:?}"));
    let mut tx = db.begin().await.unwrap();
    let (id, _) = reservations::create(&mut tx, &prepared.reservation)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

/// Two open days from `from` on, each with at least two consecutive open slots.
async fn two_days(db: &Db, room: i64, from: NaiveDate) -> Vec<(NaiveDate, Vec<TimeRange>)> {
    open_days(db, room, from)
        .await
        .into_iter()
        .filter(|(_, slots)| slots.len() >= 2)
        .take(2)
        .collect()
}

async fn set_deadlines(db: &Db, facility: i64, change_days: i64, cancel_days: i64) {
    let f = facilities::get(db, facility).await.unwrap().unwrap();
    let mut change = FacilityChange::from(&f);
    change.change_days_before = change_days;
    let mut tx = db.begin().await.unwrap();
    facilities::update(&mut tx, facility, &change)
        .await
        .unwrap();
    facilities::set_cancel_deadline(&mut tx, facility, cancel_days, true)
        .await
        .unwrap();
    tx.commit().await.unwrap();
}

#[tokio::test]
async fn a_resident_changes_day_time_court_and_equipment_within_the_deadline() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, me_id) = app
            .resident("kaeru@example.jp", "国富 変", a.category)
            .await;
        let days = two_days(db, a.room, today() + Duration::days(10)).await;
        let (d1, s1) = days[0].clone();
        let (d2, s2) = days[1].clone();
        let id = book(
            db,
            &a,
            &a.half_a,
            d1,
            &s1[..1],
            Some((me_id, "国富 変")),
            vec![(a.lighting, 1)],
        )
        .await;
        let before = reservations::get(db, id).await.unwrap().unwrap();
        // Someone else holds half B of the first slot on the second day.
        let other = book(db, &a, &a.half_b, d2, &s2[..1], None, Vec::new()).await;

        // The detail page offers the change; the form starts from the reservation.
        let detail = me
            .get(&format!("/account/reservations/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(detail.contains(&format!("/account/reservations/{id}/change")));
        let form = me.get(&format!("/account/reservations/{id}/change")).await;
        assert_eq!(form.status(), 200, "{}", app.label());
        let form = form.text().await.unwrap();
        assert!(form.contains("予約内容の変更") && form.contains(&before.reference));
        let own = format!("value=\"{}\" checked", slot_key(&s1[0]));
        assert!(
            form.contains(&own),
            "{}: its own slot is ticked",
            app.label()
        );

        // Another day's free slots are shown on request ("show").
        let full = a.full.id.to_string();
        let (d1s, d2s) = (d1.to_string(), d2.to_string());
        let (k0, k1) = (slot_key(&s2[0]), slot_key(&s2[1]));
        let terms = a.terms_version.to_string();
        let lighting = format!("eq-{}", a.lighting);
        let fields = |action: &'static str, date: &str, combo: &str, slots: &[&str]| {
            let mut f = vec![
                ("action".to_owned(), action.to_owned()),
                ("date".to_owned(), date.to_owned()),
                ("combination".to_owned(), combo.to_owned()),
                ("purpose".to_owned(), a.purpose.clone()),
                ("activity".to_owned(), "大会前の練習".to_owned()),
                ("people".to_owned(), "20".to_owned()),
                (lighting.clone(), "0".to_owned()),
                ("terms".to_owned(), terms.clone()),
            ];
            f.extend(slots.iter().map(|s| ("slot".to_owned(), (*s).to_owned())));
            f
        };
        let post = |f: Vec<(String, String)>| {
            let mut all = vec![("_csrf".to_owned(), me.csrf.clone())];
            all.extend(f);
            let client = me.client.clone();
            let url = format!("{}/account/reservations/{id}/change", me.base);
            async move { client.post(url).form(&all).send().await.unwrap() }
        };
        let shown = post(fields("show", &d2s, &full, &[]))
            .await
            .text()
            .await
            .unwrap();
        assert!(shown.contains(&hiroba_domain::datetime::format_date(d2)));

        // The full court over half B: refused with the reason, nothing changes.
        let taken = post(fields("confirm", &d2s, &full, &[&k0, &k1]))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            taken.contains("すでに予約が入っています"),
            "{}: taken slot",
            app.label()
        );
        let final_taken = post(fields("change", &d2s, &full, &[&k0, &k1])).await;
        assert_eq!(final_taken.status(), 200);
        assert_eq!(
            reservations::get(db, id).await.unwrap().unwrap(),
            before,
            "{}: nothing changed",
            app.label()
        );

        // Free the half B; now the full court of two slots on the second day,
        // without lighting, for 20 people: confirmation with the new fee first.
        let mut tx = db.begin().await.unwrap();
        reservations::cancel(&mut tx, other, "テスト")
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let confirm = post(fields("confirm", &d2s, &full, &[&k0, &k1])).await;
        assert_eq!(confirm.status(), 200);
        let confirm = confirm.text().await.unwrap();
        assert!(
            confirm.contains("変更内容の確認") && confirm.contains("この内容で変更する"),
            "{}: confirmation",
            app.label()
        );
        assert_eq!(
            reservations::get(db, id).await.unwrap().unwrap(),
            before,
            "{}: not yet",
            app.label()
        );
        let total = hidden(&confirm, "total").unwrap();
        let mut done = fields("change", &d2s, &full, &[&k0, &k1]);
        done.push(("total".into(), total.clone()));
        let res = post(done).await;
        assert_eq!(res.status(), 303, "{}: change stored", app.label());
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        assert!(location.ends_with("?done=changed"));
        let page = me.get(&location).await.text().await.unwrap();
        assert!(page.contains("予約の内容を変更しました"));

        let after = reservations::get(db, id).await.unwrap().unwrap();
        assert_eq!(after.reference, before.reference, "{}", app.label());
        assert_eq!(
            (after.use_date, after.combination_id, after.people),
            (d2, a.full.id, 20)
        );
        assert_eq!(
            (after.start_min, after.end_min),
            (
                i64::from(s2[0].start.minutes()),
                i64::from(s2[1].end.minutes())
            )
        );
        assert_eq!(after.fee_total.to_string(), total);
        assert!(
            reservations::equipment_quantities(db, id)
                .await
                .unwrap()
                .is_empty(),
            "{}: lighting dropped",
            app.label()
        );
        assert!(
            reservations::held_cells(db, a.room, d1, d1)
                .await
                .unwrap()
                .is_empty(),
            "{}: the old slot is free",
            app.label()
        );
        let mails = outbox::recent(db, 10).await.unwrap();
        assert!(
            mails.iter().any(|m| m.to_address == "kaeru@example.jp"
                && m.subject.contains("予約の内容を変更しました")
                && m.subject.contains(&before.reference)
                && m.body.contains("→")),
            "{}: change mail",
            app.label()
        );

        // Past the change deadline: the page says until when and whom to
        // call, and a posted change is refused without touching anything.
        set_deadlines(db, a.facility, 60, 1).await;
        let blocked = me
            .get(&format!("/account/reservations/{id}/change"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            blocked.contains("インターネットでの変更は") && blocked.contains(&a.phone),
            "{}: deadline passed",
            app.label()
        );
        let mut late = fields("change", &d1s, &a.half_a.id.to_string(), &[&k0]);
        late.push(("total".into(), "0".into()));
        let late = post(late).await.text().await.unwrap();
        assert!(late.contains("ご連絡ください"), "{}", app.label());
        assert_eq!(reservations::get(db, id).await.unwrap().unwrap(), after);
        // ... while cancelling, with its own deadline, is still open.
        let detail = me
            .get(&format!("/account/reservations/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(detail.contains(&format!("/account/reservations/{id}/cancel")));
    }
}

#[tokio::test]
async fn the_cancellation_deadline_is_its_own_rule() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (me, me_id) = app.resident("yame@example.jp", "国富 止", a.category).await;
        let (date, slots) = open_days(db, a.room, today() + Duration::days(1)).await[0].clone();
        let days_away = (date - today()).num_days();
        assert!(days_away < 7, "{}: an open day within a week", app.label());
        let id = book(
            db,
            &a,
            &a.half_a,
            date,
            &slots[..1],
            Some((me_id, "国富 止")),
            Vec::new(),
        )
        .await;

        // Changing is allowed until the day itself, cancelling only a week ahead.
        set_deadlines(db, a.facility, 0, 7).await;
        let detail = me
            .get(&format!("/account/reservations/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(detail.contains(&format!("/account/reservations/{id}/change")));
        assert!(
            detail.contains("インターネットでの取消は") && detail.contains(&a.phone),
            "{}: whom to call",
            app.label()
        );
        let res = me
            .post(&format!("/account/reservations/{id}/cancel"), &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(res.contains("ご連絡ください"), "{}", app.label());
        assert_eq!(
            reservations::get(db, id).await.unwrap().unwrap().status,
            "confirmed"
        );

        // Residents may not cancel online at all: the page sends them to the counter.
        let mut tx = db.begin().await.unwrap();
        facilities::set_cancel_deadline(&mut tx, a.facility, 0, false)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let res = me
            .post(&format!("/account/reservations/{id}/cancel"), &[])
            .await
            .text()
            .await
            .unwrap();
        assert!(
            res.contains("取消は窓口で受け付けています"),
            "{}",
            app.label()
        );

        // Within the cancellation deadline it goes through.
        let mut tx = db.begin().await.unwrap();
        facilities::set_cancel_deadline(&mut tx, a.facility, 0, true)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let res = me
            .post(&format!("/account/reservations/{id}/cancel"), &[])
            .await;
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("取り消しました"));
        assert_eq!(
            reservations::get(db, id).await.unwrap().unwrap().status,
            "cancelled",
            "{}",
            app.label()
        );
    }
}

#[tokio::test]
async fn staff_set_the_cancellation_deadline_on_the_booking_rules_page() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let admin = app.login_admin().await;
        let path = format!("/admin/facilities/{}/booking-rules", a.facility);
        let page = admin.get(&path).await.text().await.unwrap();
        assert!(page.contains("取消の期限") && page.contains("cancel_days_before"));

        // Keep every category as it is; only the deadline is under test.
        let rules = hiroba_store::catalogue::facility_categories(db, a.facility)
            .await
            .unwrap();
        let mut fields: Vec<(String, String)> = Vec::new();
        for r in &rules {
            let c = r.category_id;
            fields.push((format!("allowed_{c}"), "yes".into()));
            fields.push((format!("kind_{c}"), r.window_kind.clone()));
            fields.push((format!("n_{c}"), r.window_n.to_string()));
            fields.push((format!("day_{c}"), r.opens_on_day.to_string()));
            fields.push((
                format!("limit_{c}"),
                r.monthly_limit.map(|l| l.to_string()).unwrap_or_default(),
            ));
        }
        let post = |days: &str, online: &str| {
            let mut f = fields.clone();
            f.push(("cancel_days_before".into(), days.into()));
            f.push(("resident_may_cancel".into(), online.into()));
            let (admin, path) = (&admin, path.clone());
            async move {
                let f: Vec<(&str, &str)> =
                    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                admin.post(&path, &f).await
            }
        };
        let before = facilities::get(db, a.facility).await.unwrap().unwrap();
        for (days, message) in [
            ("-1", "利用日より後にはできません"),
            ("abc", "0〜365 の半角数字"),
            ("400", "0〜365 の半角数字"),
            ("", "取消の期限を入力してください"),
        ] {
            let page = post(days, "yes").await.text().await.unwrap();
            assert!(
                page.contains(message) && page.contains("id=\"f-cancel_days_before-error\""),
                "{}: {days:?}",
                app.label()
            );
        }
        let page = post("2", "maybe").await.text().await.unwrap();
        assert!(page.contains("窓口のみにするかを選んでください"));
        assert_eq!(
            facilities::get(db, a.facility).await.unwrap().unwrap(),
            before,
            "{}: nothing stored",
            app.label()
        );

        let res = post("2", "no").await;
        assert_eq!(res.status(), 303, "{}: saved", app.label());
        let f = facilities::get(db, a.facility).await.unwrap().unwrap();
        assert_eq!((f.cancel_days_before, f.resident_may_cancel), (2, false));
        assert_eq!(f.change_days_before, before.change_days_before);
        let log = audit::search(db, &audit::Filter::default(), 10, 0)
            .await
            .unwrap();
        assert!(
            log.iter()
                .any(|e| e.action == "facility.categories" && e.summary.contains("取消の期限")),
            "{}: logged",
            app.label()
        );
        // The facility page residents read says so.
        let public = app
            .client()
            .get(app.url(&format!("/facilities/{}", a.facility)))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            public.contains("取消は利用日の2日前までに窓口でお手続きください"),
            "{}",
            app.label()
        );
    }
}

#[tokio::test]
async fn staff_change_day_time_court_and_equipment_at_the_desk() {
    for app in spawn_all().await {
        let db = app.db();
        let a = arena(db).await;
        let (_, resident) = app.resident("desk@example.jp", "国富 窓", a.category).await;
        let days = two_days(db, a.room, today() + Duration::days(5)).await;
        let (d1, s1) = days[0].clone();
        let (d2, s2) = days[1].clone();
        let id = book(
            db,
            &a,
            &a.half_a,
            d1,
            &s1[..1],
            Some((resident, "国富 窓")),
            vec![(a.lighting, 1)],
        )
        .await;
        let before = reservations::get(db, id).await.unwrap().unwrap();
        book(db, &a, &a.half_b, d2, &s2[..1], None, Vec::new()).await;
        let admin = app.login_admin().await;

        let detail = admin
            .get(&format!("/admin/reservations/{id}"))
            .await
            .text()
            .await
            .unwrap();
        assert!(detail.contains(&format!("/admin/reservations/{id}/change")));
        let form = admin.get(&format!("/admin/reservations/{id}/change")).await;
        assert_eq!(form.status(), 200, "{}", app.label());
        let form = form.text().await.unwrap();
        assert!(form.contains("の変更") && form.contains("変更を保存"));

        let d2s = d2.to_string();
        let (k0, k1) = (slot_key(&s2[0]), slot_key(&s2[1]));
        let lighting = format!("eq-{}", a.lighting);
        let path = format!("/admin/reservations/{id}/change");
        let fields = |action: &'static str, combo: i64, slots: Vec<String>, people: &str| {
            let mut f = vec![
                ("action".to_owned(), action.to_owned()),
                ("date".to_owned(), d2s.clone()),
                ("combination".to_owned(), combo.to_string()),
                ("purpose".to_owned(), a.purpose.clone()),
                ("activity".to_owned(), "試合".to_owned()),
                ("people".to_owned(), people.to_owned()),
                (lighting.clone(), "0".to_owned()),
            ];
            f.extend(slots.into_iter().map(|s| ("slot".to_owned(), s)));
            f
        };
        let post = |f: Vec<(String, String)>| {
            let (admin, path) = (&admin, path.clone());
            async move {
                let f: Vec<(&str, &str)> =
                    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                admin.post(&path, &f).await
            }
        };

        // The full court over the held half B: the form says why, nothing changes.
        let page = post(fields("save", a.full.id, vec![k0.clone()], "12"))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("すでに予約が入っています"),
            "{}: taken",
            app.label()
        );
        assert_eq!(reservations::get(db, id).await.unwrap().unwrap(), before);
        // More people than the room holds: refused at the field.
        let page = post(fields("save", a.half_a.id, vec![k0.clone()], "9999"))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("定員"), "{}: capacity", app.label());

        // Half A, both slots, no lighting, 12 people: the preview shows before
        // and after with the new fee; saving keeps the reference number.
        let preview = post(fields(
            "quote",
            a.half_a.id,
            vec![k0.clone(), k1.clone()],
            "12",
        ))
        .await
        .text()
        .await
        .unwrap();
        assert!(
            preview.contains("変更の内容") && preview.contains("合計"),
            "{}: preview",
            app.label()
        );
        assert_eq!(reservations::get(db, id).await.unwrap().unwrap(), before);
        let res = post(fields("save", a.half_a.id, vec![k0, k1], "12")).await;
        assert_eq!(res.status(), 303, "{}: saved", app.label());
        let location = res.headers()["location"].to_str().unwrap().to_owned();
        let page = admin.get(&location).await.text().await.unwrap();
        assert!(page.contains("予約の内容を変更しました"));
        let after = reservations::get(db, id).await.unwrap().unwrap();
        assert_eq!(after.reference, before.reference);
        assert_eq!(
            (after.use_date, after.people, after.start_min, after.end_min),
            (
                d2,
                12,
                i64::from(s2[0].start.minutes()),
                i64::from(s2[1].end.minutes())
            ),
            "{}",
            app.label()
        );
        assert!(
            reservations::equipment_quantities(db, id)
                .await
                .unwrap()
                .is_empty()
        );
        assert!(
            after.fee_total > 0 && after.fee_total != before.fee_total,
            "{}: fee recomputed ({} → {})",
            app.label(),
            before.fee_total,
            after.fee_total
        );
        let log = audit::search(db, &audit::Filter::default(), 20, 0)
            .await
            .unwrap();
        let entry = log
            .iter()
            .find(|e| e.action == "reservation.change")
            .expect("change logged");
        assert!(
            entry.summary.contains(&before.reference)
                && entry.summary.contains("利用日")
                && entry.summary.contains("→"),
            "{}: before/after logged: {}",
            app.label(),
            entry.summary
        );
        let mails = outbox::recent(db, 10).await.unwrap();
        assert!(
            mails.iter().any(|m| m.to_address == "desk@example.jp"
                && m.subject.contains("施設で予約の内容を変更しました")),
            "{}: the resident is told",
            app.label()
        );

        // Beyond the booking window: the rule holds for staff without the
        // override, and asking for it without the permission is refused.
        let far = hiroba_testkit::beyond_window(db, a.facility, a.room).await;
        let far_fields = |extra: &[(&str, &str)]| {
            let mut f = vec![
                ("action".to_owned(), "save".to_owned()),
                ("date".to_owned(), far.0.to_string()),
                ("combination".to_owned(), a.half_a.id.to_string()),
                ("slot".to_owned(), slot_key(&far.1[0])),
                ("purpose".to_owned(), a.purpose.clone()),
                ("people".to_owned(), "12".to_owned()),
            ];
            f.extend(
                extra
                    .iter()
                    .map(|(k, v)| ((*k).to_owned(), (*v).to_owned())),
            );
            f
        };
        let (_, password) = app
            .create_staff("henkou", &[Permission::Reservations], FacilityScope::All)
            .await;
        let clerk = app.login("henkou", &password).await;
        let as_clerk = |f: Vec<(String, String)>| {
            let (clerk, path) = (&clerk, path.clone());
            async move {
                let f: Vec<(&str, &str)> =
                    f.iter().map(|(k, v)| (k.as_str(), v.as_str())).collect();
                clerk.post(&path, &f).await
            }
        };
        let page = as_clerk(far_fields(&[])).await.text().await.unwrap();
        assert!(page.contains("まで予約できます"), "{}: window", app.label());
        let asked = far_fields(&[("override", "yes"), ("override_reason", "町の大会")]);
        assert_eq!(as_clerk(asked.clone()).await.status(), 403);
        let res = post(asked).await;
        assert_eq!(res.status(), 303, "{}: override", app.label());
        assert_eq!(
            reservations::get(db, id).await.unwrap().unwrap().use_date,
            far.0
        );

        // Staff of another facility cannot open or post the change.
        let other = facilities::list(db)
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.id != a.facility)
            .unwrap();
        let (_, password) = app
            .create_staff(
                "hokano",
                &[Permission::Reservations],
                FacilityScope::Only([other.id].into_iter().collect()),
            )
            .await;
        let outsider = app.login("hokano", &password).await;
        assert_eq!(outsider.get(&path).await.status(), 403);
        assert_eq!(
            outsider
                .post(&path, &[("action", "save"), ("date", &d2s)])
                .await
                .status(),
            403
        );
    }
}
