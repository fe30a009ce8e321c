//! Staff administration of residents (A19) and erasure of a registration
//! (A30), by staff and by the resident, over HTTP on SQLite and PostgreSQL.

use chrono::{Duration, NaiveDate, Utc};
use hiroba_domain::datetime::JST;
use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_domain::resident::Profile;
use hiroba_domain::staff::NewPassword;
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::audit::{self, Filter};
use hiroba_store::residents::{self, ERASED_NAME};
use hiroba_store::{Db, catalogue, facilities, outbox, reservations, staff};
use hiroba_testkit::{TestApp, meta_csrf, spawn_all};

const PASSWORD: &str = "Sakura-saku 2026 haru";

/// A self-registered, verified resident who can sign in with [`PASSWORD`].
async fn resident(db: &Db, name: &str, kana: &str, email: &str, needs_proof: bool) -> i64 {
    let category = catalogue::categories(db)
        .await
        .unwrap()
        .into_iter()
        .find(|c| c.needs_proof == needs_proof)
        .unwrap();
    let hash = staff::hash_password(&NewPassword::parse(PASSWORD, &[]).unwrap())
        .await
        .unwrap();
    let p = Profile {
        email: email.into(),
        name: name.into(),
        kana: kana.into(),
        postal_code: "880-1192".into(),
        address: "宮崎県東諸県郡国富町本庄4800".into(),
        phone: "090-1234-5678".into(),
        group_name: String::new(),
    };
    let mut tx = db.begin().await.unwrap();
    let id = residents::register(&mut tx, &p, category.id, !needs_proof, &hash)
        .await
        .unwrap();
    residents::activate(&mut tx, id).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Books the main arena for a resident directly in the store.
async fn book(db: &Db, resident: i64, name: &str, date: NaiveDate) -> i64 {
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
    let combo = catalogue::combinations(db, room.id).await.unwrap()[0].clone();
    let request = reservations::NewReservation {
        facility_id: f.id,
        room_id: room.id,
        combination_id: combo.id,
        unit_ids: combo.unit_ids.clone(),
        date,
        slots: vec![TimeRange::parse("9:00", "12:00").unwrap()],
        resident_id: Some(resident),
        applicant_name: name.into(),
        applicant_phone: "090-1234-5678".into(),
        category_id: catalogue::categories(db).await.unwrap()[0].id,
        purpose: "バドミントン".into(),
        activity: "練習".into(),
        people: 8,
        fee_total: 1440,
        reduction_id: None,
        terms_version: Some(1),
        equipment: Vec::new(),
        created_by_staff: None,
    };
    let mut tx = db.begin().await.unwrap();
    let (id, _) = reservations::create(&mut tx, &request).await.unwrap();
    tx.commit().await.unwrap();
    id
}

/// Signs a resident in through the form; the client and its status code.
async fn resident_login(app: &TestApp, email: &str) -> (reqwest::Client, u16) {
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
            ("email", email),
            ("password", PASSWORD),
        ])
        .send()
        .await
        .unwrap();
    (client, res.status().as_u16())
}

async fn text(res: reqwest::Response) -> String {
    res.text().await.unwrap()
}

fn location(res: &reqwest::Response) -> String {
    res.headers()["location"].to_str().unwrap().to_owned()
}

#[tokio::test]
async fn staff_search_register_verify_suspend_and_erase() {
    for app in spawn_all().await {
        let db = app.db();
        let label = app.label();
        let hanako = resident(
            db,
            "国富 花子",
            "くにとみ はなこ",
            "hanako@example.jp",
            true,
        )
        .await;
        resident(
            db,
            "本庄 次郎",
            "ほんじょう じろう",
            "jiro@example.jp",
            false,
        )
        .await;
        let admin = app.login_admin().await;

        // The list; search by kana (katakana finds hiragana).
        let list = text(admin.get("/admin/residents").await).await;
        assert!(
            list.contains("国富 花子") && list.contains("本庄 次郎"),
            "{label}"
        );
        assert!(list.contains("未確認"), "{label}: unverified badge");
        let found = text(
            admin
                .get("/admin/residents?q=%E3%83%8F%E3%83%8A%E3%82%B3")
                .await,
        )
        .await;
        assert!(
            found.contains("国富 花子") && !found.contains("本庄 次郎"),
            "{label}"
        );
        let unverified = text(admin.get("/admin/residents?unverified=yes").await).await;
        assert!(unverified.contains("国富 花子") && !unverified.contains("本庄 次郎"));

        // Counter registration: bad input gives messages at the fields and stores nothing.
        let before = residents::count(db, &Default::default()).await.unwrap();
        let form = text(admin.get("/admin/residents/new").await).await;
        assert!(form.contains("窓口での利用者登録"));
        let bad = admin
            .post(
                "/admin/residents/new",
                &[
                    ("name", "森永 三郎"),
                    ("kana", "Morinaga"),
                    ("email", "saburo@"),
                    ("postal_code", ""),
                    ("address", ""),
                    ("phone", "12"),
                    ("category", ""),
                    ("group_name", ""),
                ],
            )
            .await;
        assert_eq!(bad.status(), 200, "{label}");
        let html = text(bad).await;
        for message in [
            "ふりがなは、ひらがなかカタカナで",
            "メールアドレスの形",
            "住所を入力してください",
            "電話番号は市外局番から",
            "利用者区分を選んでください",
        ] {
            assert!(html.contains(message), "{label}: {message}");
        }
        assert!(html.contains("value=\"森永 三郎\""), "typed values kept");
        assert_eq!(
            residents::count(db, &Default::default()).await.unwrap(),
            before
        );

        // Good input without an e-mail address: active at once.
        let category = catalogue::categories(db).await.unwrap()[0].id.to_string();
        let ok = admin
            .post(
                "/admin/residents/new",
                &[
                    ("name", "森永 三郎"),
                    ("kana", "もりなが さぶろう"),
                    ("email", ""),
                    ("postal_code", "8801192"),
                    ("address", "国富町森永1"),
                    ("phone", "0985-75-2222"),
                    ("category", &category),
                    ("group_name", ""),
                ],
            )
            .await;
        assert_eq!(ok.status(), 303, "{label}");
        let detail_path = location(&ok);
        let saburo: i64 = detail_path
            .trim_start_matches("/admin/residents/")
            .split('?')
            .next()
            .unwrap()
            .parse()
            .unwrap();
        let r = residents::get(db, saburo).await.unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.email, r.postal_code.as_str()),
            ("active", None, "880-1192")
        );
        // A taken address is refused at the field.
        let dup = admin
            .post(
                &format!("/admin/residents/{saburo}"),
                &[
                    ("name", "森永 三郎"),
                    ("kana", "もりなが さぶろう"),
                    ("email", "jiro@example.jp"),
                    ("postal_code", ""),
                    ("address", "国富町森永1"),
                    ("phone", "0985-75-2222"),
                    ("category", &category),
                    ("group_name", ""),
                ],
            )
            .await;
        assert!(
            text(dup)
                .await
                .contains("ほかの利用者の登録に使われています"),
            "{label}"
        );

        // Verify the category from the detail page.
        let detail = text(admin.get(&format!("/admin/residents/{hanako}")).await).await;
        assert!(detail.contains("区分を確認済みにする") && detail.contains("くにとみ はなこ"));
        let res = admin
            .post(&format!("/admin/residents/{hanako}/verify"), &[])
            .await;
        assert_eq!(res.status(), 303);
        assert!(
            residents::get(db, hanako)
                .await
                .unwrap()
                .unwrap()
                .category_verified
        );
        let detail = text(admin.get(&location(&res)).await).await;
        assert!(detail.contains("確認済みにしました") && detail.contains("未確認に戻す"));

        // Suspension ends the session and blocks sign-in; reactivation allows it again.
        let (resident_client, status) = resident_login(&app, "hanako@example.jp").await;
        assert_eq!(status, 303, "{label}");
        let res = admin
            .post(&format!("/admin/residents/{hanako}/suspend"), &[])
            .await;
        assert_eq!(res.status(), 303);
        let account = resident_client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap();
        assert_eq!(
            location(&account),
            "/account/login",
            "{label}: session ended"
        );
        assert_eq!(
            resident_login(&app, "hanako@example.jp").await.1,
            200,
            "{label}"
        );
        admin
            .post(&format!("/admin/residents/{hanako}/reactivate"), &[])
            .await;
        assert_eq!(
            resident_login(&app, "hanako@example.jp").await.1,
            303,
            "{label}"
        );

        // Erasure: a confirmation page, refused without the tick.
        let today = Utc::now().with_timezone(&JST).date_naive();
        let future = book(db, hanako, "国富 花子", today + Duration::days(20)).await;
        let confirm = text(admin.get(&format!("/admin/residents/{hanako}/erase")).await).await;
        assert!(
            confirm.contains("元に戻せません") && confirm.contains("（1件）"),
            "{label}"
        );
        let refused = admin
            .post(&format!("/admin/residents/{hanako}/erase"), &[])
            .await;
        assert_eq!(refused.status(), 200);
        assert!(
            text(refused)
                .await
                .contains("確認のチェックを入れてください")
        );
        assert_eq!(
            residents::get(db, hanako).await.unwrap().unwrap().status,
            "active"
        );
        let res = admin
            .post(
                &format!("/admin/residents/{hanako}/erase"),
                &[("confirm", "yes")],
            )
            .await;
        assert_eq!(res.status(), 303, "{label}");
        let list = text(admin.get(&location(&res)).await).await;
        assert!(list.contains("利用者登録を削除しました"));
        for gone in ["国富 花子", "くにとみ はなこ", "hanako@example.jp"] {
            assert!(!list.contains(gone), "{label}: {gone} still listed");
        }
        let r = residents::get(db, hanako).await.unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.name.as_str(), r.phone.as_str()),
            ("erased", ERASED_NAME, "")
        );
        let v = reservations::get(db, future).await.unwrap().unwrap();
        assert_eq!(
            (v.status.as_str(), v.applicant_name.as_str()),
            ("cancelled", ERASED_NAME)
        );
        assert_eq!(resident_login(&app, "hanako@example.jp").await.1, 200);
        let erased = text(admin.get(&format!("/admin/residents/{hanako}")).await).await;
        assert!(
            erased.contains("この登録は削除されています")
                && !erased.contains("はなこ")
                && !erased.contains("花子")
        );

        // The operation log names residents by id only.
        let entries = audit::search(
            db,
            &Filter {
                object: Some(format!("resident:{hanako}")),
                ..Filter::default()
            },
            100,
            0,
        )
        .await
        .unwrap();
        let actions: Vec<&str> = entries.iter().map(|e| e.action.as_str()).collect();
        for a in [
            "resident.verify",
            "resident.suspend",
            "resident.reactivate",
            "resident.erase",
        ] {
            assert!(
                actions.contains(&a),
                "{label}: {a} not logged in {actions:?}"
            );
        }
        for e in &entries {
            assert!(
                !e.summary.contains("花子") && !e.summary.contains("hanako"),
                "{}",
                e.summary
            );
        }

        // Staff without the residents permission are refused.
        let arena = facilities::list(db).await.unwrap()[0].id;
        app.create_staff(
            "shisetsu",
            &[Permission::Facilities],
            FacilityScope::Only([arena].into()),
        )
        .await;
        let other = app.login("shisetsu", "Tsuyoi-pasu 4821 waado").await;
        assert!(
            !text(other.get("/admin").await)
                .await
                .contains("href=\"/admin/residents\"")
        );
        for path in ["/admin/residents", "/admin/residents/new"] {
            assert_eq!(other.get(path).await.status(), 403, "{label}: {path}");
        }
        let res = other
            .post(
                &format!("/admin/residents/{saburo}/erase"),
                &[("confirm", "yes")],
            )
            .await;
        assert_eq!(res.status(), 403, "{label}");
        assert_eq!(
            residents::get(db, saburo).await.unwrap().unwrap().status,
            "active"
        );
    }
}

#[tokio::test]
async fn a_resident_erases_their_own_registration() {
    for app in spawn_all().await {
        let db = app.db();
        let label = app.label();
        let id = resident(
            db,
            "国富 花子",
            "くにとみ はなこ",
            "hanako@example.jp",
            false,
        )
        .await;
        let today = Utc::now().with_timezone(&JST).date_naive();
        let past = book(db, id, "国富 花子", today - Duration::days(7)).await;
        let future = book(db, id, "国富 花子", today + Duration::days(7)).await;
        let (client, status) = resident_login(&app, "hanako@example.jp").await;
        assert_eq!(status, 303, "{label}");

        let home = client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            home.contains("href=\"/account/delete\""),
            "{label}: linked from the account page"
        );
        let page = client
            .get(app.url("/account/delete"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("元に戻せません") && page.contains("（1件）"),
            "{label}"
        );
        let csrf = meta_csrf(&page).unwrap();

        // The wrong password changes nothing.
        let wrong = client
            .post(app.url("/account/delete"))
            .form(&[("_csrf", csrf.as_str()), ("password", "chigau-pasuwaado 1")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(wrong.contains("パスワードが正しくありません"), "{label}");
        assert_eq!(
            residents::get(db, id).await.unwrap().unwrap().status,
            "active"
        );

        let bye = client
            .post(app.url("/account/delete"))
            .form(&[("_csrf", csrf.as_str()), ("password", PASSWORD)])
            .send()
            .await
            .unwrap();
        assert_eq!(bye.status(), 200, "{label}");
        assert!(text(bye).await.contains("登録を削除しました"));

        let r = residents::get(db, id).await.unwrap().unwrap();
        assert_eq!(
            (r.status.as_str(), r.name.as_str(), r.email),
            ("erased", ERASED_NAME, None)
        );
        assert_eq!(
            reservations::get(db, future).await.unwrap().unwrap().status,
            "cancelled"
        );
        let kept = reservations::get(db, past).await.unwrap().unwrap();
        assert_eq!(
            (kept.status.as_str(), kept.applicant_name.as_str()),
            ("confirmed", ERASED_NAME)
        );

        // Signed out, and cannot sign in again.
        let account = client.get(app.url("/account")).send().await.unwrap();
        assert_eq!(location(&account), "/account/login", "{label}");
        assert_eq!(resident_login(&app, "hanako@example.jp").await.1, 200);

        // One mail, the confirmation, to the address captured before erasure;
        // the earlier mails to it are gone and no personal data is in it.
        let mails = outbox::recent(db, 100).await.unwrap();
        let to_her: Vec<_> = mails
            .iter()
            .filter(|m| m.to_address == "hanako@example.jp")
            .collect();
        assert_eq!(to_her.len(), 1, "{label}");
        assert!(to_her[0].subject.contains("利用者登録を削除しました"));
        assert!(to_her[0].body.contains("取り消しました") && !to_her[0].body.contains("花子"));

        let entries = audit::search(
            db,
            &Filter {
                object: Some(format!("resident:{id}")),
                ..Filter::default()
            },
            10,
            0,
        )
        .await
        .unwrap();
        assert!(
            entries.iter().any(|e| e.action == "resident.self_erase"),
            "{label}"
        );
    }
}
