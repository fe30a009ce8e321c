//! 帳票・集計 over HTTP (A26, A27) on SQLite and PostgreSQL: the counts page
//! figures, CSV in UTF-8 (BOM) and Shift_JIS, XLSX, the A4 print page, the
//! other reports, and the facility scope of a limited staff member.

use chrono::NaiveDate;
use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_domain::resident::Profile;
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::{Db, catalogue, facilities, reservations, residents};
use hiroba_testkit::{TestApp, reserve, spawn_all};

struct Fixture {
    arena: i64,
    main_room: i64,
    other_facility: i64,
    other_room_name: String,
    resident: i64,
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

async fn resident_booking(db: &Db, combo: &catalogue::Combination, resident: i64, date: NaiveDate) {
    let room = facilities::room(db, combo.room_id).await.unwrap().unwrap();
    let r = reservations::NewReservation {
        facility_id: room.facility_id,
        room_id: room.id,
        combination_id: combo.id,
        unit_ids: combo.unit_ids.clone(),
        date,
        slots: vec![TimeRange::parse("18:00", "21:00").unwrap()],
        resident_id: Some(resident),
        applicant_name: "国富 次郎".into(),
        applicant_phone: "0985-75-2222".into(),
        category_id: catalogue::categories(db).await.unwrap()[0].id,
        purpose: "卓球".into(),
        activity: "練習".into(),
        people: 4,
        fee_total: 800,
        reduction_id: None,
        terms_version: Some(1),
        equipment: Vec::new(),
        created_by_staff: None,
    };
    let mut tx = db.begin().await.unwrap();
    reservations::create(&mut tx, &r).await.unwrap();
    tx.commit().await.unwrap();
}

/// アリーナくにとみ's main arena: three bookings in FY2026 (April 1, June 2,
/// March 31) and one on March 31 2026 (FY2025); one at another facility.
async fn fixture(app: &TestApp) -> Fixture {
    let db = app.db();
    let all = facilities::list(db).await.unwrap();
    let arena = all
        .iter()
        .find(|f| f.name.contains("アリーナくにとみ"))
        .unwrap();
    let main = facilities::rooms(db, arena.id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "メインアリーナ")
        .unwrap();
    let full = catalogue::combinations(db, main.id).await.unwrap()[0].clone();
    reserve(db, &full, d(2026, 3, 31), ("9:00", "12:00")).await;
    reserve(db, &full, d(2026, 4, 1), ("9:00", "12:00")).await;
    reserve(db, &full, d(2026, 6, 2), ("13:00", "17:00")).await;
    reserve(db, &full, d(2027, 3, 31), ("18:00", "21:00")).await;
    let mut other = None;
    for f in all.iter().filter(|f| f.id != arena.id) {
        if let Some(r) = facilities::rooms(db, f.id)
            .await
            .unwrap()
            .into_iter()
            .next()
        {
            other = Some((f.id, r));
            break;
        }
    }
    let (other_facility, other_room) = other.unwrap();
    let other_combo = catalogue::combinations(db, other_room.id).await.unwrap()[0].clone();
    reserve(db, &other_combo, d(2026, 6, 2), ("9:00", "12:00")).await;

    let profile = Profile {
        email: "jiro@example.jp".into(),
        name: "国富 次郎".into(),
        kana: "クニトミ ジロウ".into(),
        postal_code: "880-1100".into(),
        address: "宮崎県東諸県郡国富町本庄".into(),
        phone: "0985-75-2222".into(),
        group_name: String::new(),
    };
    let category = catalogue::categories(db).await.unwrap()[0].id;
    let mut tx = db.begin().await.unwrap();
    let resident = residents::register(&mut tx, &profile, category, true, "x")
        .await
        .unwrap();
    tx.commit().await.unwrap();
    resident_booking(db, &full, resident, d(2026, 5, 12)).await;
    resident_booking(db, &other_combo, resident, d(2026, 7, 7)).await;
    Fixture {
        arena: arena.id,
        main_room: main.id,
        other_facility,
        other_room_name: other_room.name,
        resident,
    }
}

#[tokio::test]
async fn counts_page_and_downloads() {
    for app in spawn_all().await {
        let f = fixture(&app).await;
        let label = app.label();
        let admin = app.login_admin().await;

        // A26 with the facility filter: April 1, May 12 (resident), June 2, March 31.
        let url = format!(
            "/admin/reports/counts?fy=2026&facility={}&status=confirmed",
            f.arena
        );
        let res = admin.get(&url).await;
        assert_eq!(res.status(), 200, "{label}");
        let page = res.text().await.unwrap();
        for expected in [
            "利用件数集計",
            "2026年度（2026年4月1日(水)〜2027年3月31日(水)）",
            "令和8年度",
            "メインアリーナ",
            // 3 × 1,440円 + 800円; 3 + 4 + 3 + 3 hours; 8 × 3 + 4 people
            "5,120円",
            "13時間",
            ">28<",
            "2026年5月",
        ] {
            assert!(
                page.contains(expected),
                "{label}: counts page lacks {expected}"
            );
        }
        assert!(
            page.contains("href=\"/admin/reports\""),
            "{label}: nav link"
        );

        // CSV, UTF-8 with BOM and CRLF, and the same text in Shift_JIS.
        let res = admin.get(&format!("{url}&format=csv&encoding=utf8")).await;
        assert_eq!(res.status(), 200, "{label}");
        let disposition = res.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .to_owned();
        assert!(
            disposition.starts_with("attachment; filename=\"counts-fy2026-"),
            "{disposition}"
        );
        assert!(
            disposition.contains("filename*=UTF-8''%E5%88%A9%E7%94%A8"),
            "{disposition}"
        );
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/csv; charset=utf-8")
        );
        let utf8 = res.bytes().await.unwrap();
        assert_eq!(&utf8[..3], b"\xEF\xBB\xBF", "{label}: BOM");
        let text = std::str::from_utf8(&utf8[3..]).unwrap();
        assert!(text.contains("\r\n"), "{label}: CRLF");
        assert!(
            text.contains("施設,部屋,件数,利用時間（分）,人数,使用料（円）\r\n"),
            "{label}: {text}"
        );
        assert!(text.contains("合計,,4,780,28,5120\r\n"), "{label}: {text}");
        assert!(
            text.contains("2026年6月,1,240,8,1440\r\n"),
            "{label}: {text}"
        );
        let res = admin.get(&format!("{url}&format=csv&encoding=sjis")).await;
        assert_eq!(res.status(), 200);
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("Shift_JIS")
        );
        let sjis = res.bytes().await.unwrap();
        assert_ne!(&sjis[..3], b"\xEF\xBB\xBF");
        let (decoded, _, had_errors) = encoding_rs::SHIFT_JIS.decode(&sjis);
        assert!(!had_errors, "{label}");
        assert_eq!(decoded, text, "{label}: Shift_JIS decodes to the same text");

        // XLSX: a zip holding both sheets.
        let res = admin.get(&format!("{url}&format=xlsx")).await;
        assert_eq!(res.status(), 200, "{label}");
        assert!(
            res.headers()["content-type"]
                .to_str()
                .unwrap()
                .contains("spreadsheetml")
        );
        let xlsx = res.bytes().await.unwrap();
        assert_eq!(&xlsx[..2], b"PK", "{label}");
        let has = |needle: &[u8]| xlsx.windows(needle.len()).any(|w| w == needle);
        assert!(has(b"xl/worksheets/sheet1.xml"), "{label}");
        assert!(has(b"xl/worksheets/sheet2.xml"), "{label}");

        // Print: a standalone A4 page with repeated headers and the @page rule.
        let res = admin.get(&format!("{url}&format=print")).await;
        assert_eq!(res.status(), 200, "{label}");
        let print = res.text().await.unwrap();
        for expected in [
            "<thead>",
            "国富町",
            "利用件数集計",
            "令和8年度（令和8年4月1日〜令和9年3月31日）",
            "作成日時",
            "/static/report-print.css",
        ] {
            assert!(
                print.contains(expected),
                "{label}: print page lacks {expected}"
            );
        }
        assert!(!print.contains("admin-nav"), "{label}: no site chrome");
        let css = app
            .client()
            .get(app.url("/static/report-print.css"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(css.contains("@page { size: A4; margin: 15mm; @bottom-center { content: counter(page) \" / \" counter(pages)"));

        // Whole town, all statuses: plus the other facility's June 2 and July 7.
        let page = admin
            .get("/admin/reports/counts?fy=2026&status=all")
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains(&f.other_room_name), "{label}");
        assert!(page.contains("7,360円"), "{label}: 5,120 + 1,440 + 800");
        // FY2025 has exactly March 31 2026.
        let page = admin
            .get(&format!(
                "/admin/reports/counts?fy=2025&room={}&format=csv",
                f.main_room
            ))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("合計,,1,180,8,1440"), "{label}: {page}");

        // Exports are logged.
        let log = admin
            .get("/admin/audit?action=report.export")
            .await
            .text()
            .await
            .unwrap();
        assert!(log.contains("帳票の出力"), "{label}");
    }
}

#[tokio::test]
async fn daily_monthly_and_resident_reports() {
    for app in spawn_all().await {
        let f = fixture(&app).await;
        let label = app.label();
        let admin = app.login_admin().await;

        let page = admin
            .get("/admin/reports/daily?date=2026-06-02")
            .await
            .text()
            .await
            .unwrap();
        for expected in [
            "当日予約一覧",
            "2026年6月2日(火)",
            "令和8年6月2日",
            "13:00〜17:00",
            "国富 花子",
            "1,440円",
            "未納",
            "2,880円",
        ] {
            assert!(page.contains(expected), "{label}: daily lacks {expected}");
        }
        let csv = admin
            .get("/admin/reports/daily?date=2026-06-02&format=csv")
            .await
            .bytes()
            .await
            .unwrap();
        let csv = std::str::from_utf8(&csv[3..]).unwrap().to_owned();
        assert!(csv.starts_with("時間,施設,部屋,利用区分,申込者,電話番号,人数,利用目的,使用料（円）,支払,領収書番号,予約番号\r\n"), "{label}: {csv}");
        assert_eq!(
            csv.matches("\r\n").count(),
            4,
            "{label}: header, 2 rows, total"
        );
        let res = admin.get("/admin/reports/daily?date=2026-13-40").await;
        assert_eq!(res.status(), 200);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("日付は 2026-04-01 の形で入力してください。")
        );

        let page = admin
            .get("/admin/reports/monthly?month=2026-06")
            .await
            .text()
            .await
            .unwrap();
        // June 2026: 240 booked minutes of 15,960 open slot minutes.
        for expected in [
            "月別利用状況",
            "2026年6月",
            "令和8年6月",
            "稼働率",
            "1.5%",
            "266時間",
        ] {
            assert!(page.contains(expected), "{label}: monthly lacks {expected}");
        }
        let xlsx = admin
            .get("/admin/reports/monthly?month=2026-06&format=xlsx")
            .await
            .bytes()
            .await
            .unwrap();
        assert_eq!(&xlsx[..2], b"PK");
        let print = admin
            .get("/admin/reports/monthly?month=2026-06&format=print")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            print.contains("<thead>") && print.contains("令和8年6月"),
            "{label}"
        );

        let page = admin
            .get(&format!("/admin/reports/resident/{}", f.resident))
            .await
            .text()
            .await
            .unwrap();
        assert!(page.contains("国富 次郎"), "{label}");
        let first = page.find("2026年7月7日(火)").unwrap();
        let second = page.find("2026年5月12日(火)").unwrap();
        assert!(first < second, "{label}: newest first");
        let res = admin.get("/admin/reports/resident/999999").await;
        assert_eq!(res.status(), 404);
    }
}

#[tokio::test]
async fn facility_scope_limits_and_refuses() {
    for app in spawn_all().await {
        let f = fixture(&app).await;
        let label = app.label();
        app.create_staff(
            "shukei",
            &[Permission::Reports],
            FacilityScope::Only([f.other_facility].into()),
        )
        .await;
        let me = app.login("shukei", "Tsuyoi-pasu 4821 waado").await;

        // Only the own facility is counted, listed and exported.
        let page = me
            .get("/admin/reports/counts?fy=2026")
            .await
            .text()
            .await
            .unwrap();
        assert!(!page.contains("メインアリーナ"), "{label}");
        assert!(page.contains(&f.other_room_name), "{label}");
        assert!(page.contains("2,240円"), "{label}: 1,440 + 800");
        let csv = me
            .get("/admin/reports/daily?date=2026-06-02&format=csv&encoding=sjis")
            .await
            .bytes()
            .await
            .unwrap();
        let (csv, _, _) = encoding_rs::SHIFT_JIS.decode(&csv);
        assert!(
            !csv.contains("メインアリーナ") && csv.contains(&f.other_room_name),
            "{label}: {csv}"
        );
        let monthly = me
            .get("/admin/reports/monthly?month=2026-06")
            .await
            .text()
            .await
            .unwrap();
        assert!(!monthly.contains("メインアリーナ"), "{label}");
        let history = me
            .get(&format!("/admin/reports/resident/{}", f.resident))
            .await
            .text()
            .await
            .unwrap();
        assert!(
            history.contains("2026年7月7日(火)") && !history.contains("2026年5月12日(火)"),
            "{label}"
        );

        // Another facility, or a room of it, is refused and logged.
        for url in [
            format!("/admin/reports/counts?fy=2026&facility={}", f.arena),
            format!("/admin/reports/counts?fy=2026&room={}", f.main_room),
            format!(
                "/admin/reports/counts?fy=2026&facility={}&format=csv",
                f.arena
            ),
        ] {
            let res = me.get(&url).await;
            assert_eq!(res.status(), 403, "{label}: {url}");
        }
        let admin = app.login_admin().await;
        let log = admin
            .get("/admin/audit?action=access.denied")
            .await
            .text()
            .await
            .unwrap();
        assert!(log.contains(&format!("facility:{}", f.arena)), "{label}");

        // Without the Reports permission: refused.
        app.create_staff("madoguchi", &[Permission::Reservations], FacilityScope::All)
            .await;
        let other = app.login("madoguchi", "Tsuyoi-pasu 4821 waado").await;
        for url in [
            "/admin/reports",
            "/admin/reports/daily?date=2026-06-02&format=csv",
        ] {
            assert_eq!(other.get(url).await.status(), 403, "{label}: {url}");
        }
        let home = other.get("/admin").await.text().await.unwrap();
        assert!(
            !home.contains("href=\"/admin/reports\""),
            "{label}: no nav link"
        );
    }
}
