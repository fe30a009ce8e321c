//! The cancellation deadline is a rule of its own (A21): residents cancel
//! online until the facility's cancellation deadline (or only at the
//! counter), whatever the change deadline says; staff set it on the
//! facility's booking-rules page. On SQLite and PostgreSQL through the
//! running server.

use chrono::{Duration, NaiveDate};
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::booking::{self, Applicant, BookingInput};
use hiroba_store::catalogue::Combination;
use hiroba_store::facilities::{self, FacilityChange};
use hiroba_store::{Db, audit, reservations};
use hiroba_testkit::{Arena, arena, open_days, spawn_all, today};

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
