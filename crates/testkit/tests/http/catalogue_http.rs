//! The facility catalogue from the admin, on SQLite and PostgreSQL (issue 3:
//! A03-A18, A20, A21, A25, A28, C03, C10).

use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_store::audit::{self, Filter};
use hiroba_store::catalogue;
use hiroba_store::facilities;
use hiroba_testkit::{Session, TestApp, spawn_all};

async fn arena(app: &TestApp) -> (i64, i64) {
    let f = facilities::list(app.db())
        .await
        .unwrap()
        .into_iter()
        .find(|f| f.name.contains("アリーナくにとみ"))
        .unwrap();
    let room = facilities::rooms(app.db(), f.id)
        .await
        .unwrap()
        .into_iter()
        .find(|r| r.name == "メインアリーナ")
        .unwrap();
    (f.id, room.id)
}

fn count(action: &str) -> Filter {
    Filter {
        action: Some(action.into()),
        ..Default::default()
    }
}

async fn html(s: &Session, path: &str) -> String {
    let res = s.get(path).await;
    assert_eq!(res.status(), 200, "{path}");
    res.text().await.unwrap()
}

#[tokio::test]
async fn the_seed_configures_every_facility() {
    for app in spawn_all().await {
        let db = app.db();
        assert_eq!(
            catalogue::categories(db).await.unwrap().len(),
            5,
            "{}",
            app.label()
        );
        for f in facilities::list(db).await.unwrap() {
            assert!(
                f.latitude.is_some(),
                "{}: {} has no position",
                app.label(),
                f.name
            );
            assert!(
                !catalogue::opening_rules(db, f.id).await.unwrap().is_empty(),
                "{} has no hours",
                f.name
            );
            assert!(!catalogue::terms(db, f.id).await.unwrap().is_empty());
            assert!(!catalogue::purposes(db, f.id).await.unwrap().is_empty());
            for room in facilities::rooms(db, f.id).await.unwrap() {
                assert!(
                    !catalogue::slot_patterns(db, room.id)
                        .await
                        .unwrap()
                        .is_empty(),
                    "{} {} has no slots",
                    f.name,
                    room.name
                );
                for c in catalogue::combinations(db, room.id).await.unwrap() {
                    assert!(
                        !catalogue::fee_rules(db, c.id).await.unwrap().is_empty(),
                        "{} {} {} has no fees",
                        f.name,
                        room.name,
                        c.name
                    );
                }
            }
        }
        let (_, main) = arena(&app).await;
        let combos = catalogue::combinations(db, main).await.unwrap();
        let names: Vec<&str> = combos.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(names, ["全面", "A面（片面）", "B面（片面）"]);
        // The full court's units are the union of its halves (A07/A08).
        let mut halves: Vec<i64> = combos[1]
            .unit_ids
            .iter()
            .chain(&combos[2].unit_ids)
            .copied()
            .collect();
        halves.sort_unstable();
        assert_eq!(combos[0].unit_ids, halves);
    }
}

#[tokio::test]
async fn the_calendar_preview_shows_slots_holidays_and_closures() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let (fid, rid) = arena(&app).await;
        // 2027-01: 1/1-1/3 are closed for the year end; 1/11 is 成人の日 (a Monday holiday, so open),
        // and the Monday closure shifts to Tuesday 1/12.
        let page = html(
            &admin,
            &format!("/admin/facilities/{fid}/rooms/{rid}/calendar?month=2027-01"),
        )
        .await;
        assert!(page.contains("2027年1月"), "{}", app.label());
        assert!(page.contains("成人の日"));
        assert!(page.contains("12月29日"), "year-end closure shown");
        assert!(
            page.contains("午前") && page.contains("円"),
            "slots with fees"
        );

        // A block (A25) shows as unavailable on its day.
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/blocks"),
                &[
                    ("block_date", "2027-01-20"),
                    ("block_start", "9:00"),
                    ("block_end", "12:00"),
                    ("block_target", ""),
                    ("block_reason", "町民体育大会"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.label());
        let page = html(
            &admin,
            &format!("/admin/facilities/{fid}/rooms/{rid}/calendar?month=2027-01"),
        )
        .await;
        assert!(page.contains("町民体育大会"), "{}", app.label());
        assert_eq!(
            audit::count(app.db(), &count("facility.block"))
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test]
async fn bad_catalogue_input_is_refused_at_the_field() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let (fid, rid) = arena(&app).await;
        let combos = catalogue::combinations(app.db(), rid).await.unwrap();
        let units = catalogue::units(app.db(), rid).await.unwrap();

        // Overlapping slots.
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/rooms/{rid}/slots"),
                &[
                    ("patterns", "1"),
                    ("p0_days", "mon"),
                    ("p0_label", "午前"),
                    ("p0_start", "9:00"),
                    ("p0_end", "12:00"),
                    ("p0_label", "昼"),
                    ("p0_start", "11:00"),
                    ("p0_end", "13:00"),
                ],
            )
            .await;
        assert_eq!(res.status(), 200, "{}", app.label());
        assert!(
            res.text().await.unwrap().contains("重な"),
            "overlap message"
        );
        // A slot outside opening hours.
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/rooms/{rid}/slots"),
                &[
                    ("patterns", "1"),
                    ("p0_days", "mon"),
                    ("p0_label", "早朝"),
                    ("p0_start", "6:00"),
                    ("p0_end", "8:00"),
                ],
            )
            .await;
        assert!(
            res.text().await.unwrap().contains("開館時間"),
            "{}: outside-hours message",
            app.label()
        );
        assert!(
            !catalogue::slot_patterns(app.db(), rid)
                .await
                .unwrap()
                .is_empty(),
            "old slots kept"
        );

        // Negative fee and negative stock.
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/rooms/{rid}/fees/{}", combos[0].id),
                &[
                    ("category", ""),
                    ("days", "255"),
                    ("start", "9:00"),
                    ("end", "12:00"),
                    ("unit", "slot"),
                    ("amount", "-100"),
                ],
            )
            .await;
        assert!(
            res.text().await.unwrap().contains("負の金額"),
            "{}",
            app.label()
        );
        assert!(
            !catalogue::fee_rules(app.db(), combos[0].id)
                .await
                .unwrap()
                .is_empty(),
            "old fees kept"
        );
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/equipment"),
                &[
                    ("name", "ボール"),
                    ("stock", "-1"),
                    ("unit_label", "個"),
                    ("fee", "0"),
                    ("per_hour", "no"),
                    ("room", ""),
                ],
            )
            .await;
        assert!(
            res.text().await.unwrap().contains("数量は0以上"),
            "{}",
            app.label()
        );

        // A duplicate name, and combinations that overlap only partly, are refused.
        let (a, b) = (units[0].id.to_string(), units[1].id.to_string());
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/rooms/{rid}/combinations"),
                &[
                    ("combo_name", "全面"),
                    ("combo_0", &a),
                    ("combo_0", &b),
                    ("combo_name", "A面"),
                    ("combo_1", &a),
                    ("combo_name", "全面"),
                    ("combo_2", &b),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("「全面」という名前はすでに使われています"),
            "{}",
            app.label()
        );
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/rooms/{rid}/units"),
                &[("unit_name", "C面")],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.label());
        let c = catalogue::units(app.db(), rid)
            .await
            .unwrap()
            .into_iter()
            .find(|u| u.name == "C面")
            .unwrap()
            .id
            .to_string();
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/rooms/{rid}/combinations"),
                &[
                    ("combo_name", "AB面"),
                    ("combo_0", &a),
                    ("combo_0", &b),
                    ("combo_name", "BC面"),
                    ("combo_1", &b),
                    ("combo_1", &c),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("「BC面」は「AB面」と一部の面だけが重なっています"),
            "{}",
            app.label()
        );
        assert_eq!(
            catalogue::combinations(app.db(), rid).await.unwrap().len(),
            3,
            "{}: nothing changed",
            app.label()
        );

        // A change deadline after the use date is refused.
        let res = admin
            .post(
                &format!("/admin/facilities/{fid}/edit"),
                &[
                    ("name", "x"),
                    ("change_days_before", "-1"),
                    ("resident_may_change", "yes"),
                    ("activity_free_text", "yes"),
                ],
            )
            .await;
        assert!(res.text().await.unwrap().contains("変更の期限は 0〜365"));
    }
}

#[tokio::test]
async fn catalogue_changes_are_logged_and_scoped() {
    for app in spawn_all().await {
        let (fid, rid) = arena(&app).await;
        let other = facilities::list(app.db())
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.id != fid)
            .unwrap();
        let other_room = facilities::rooms(app.db(), other.id).await.unwrap()[0].id;
        app.create_staff(
            "arena-staff",
            &[Permission::Facilities],
            FacilityScope::Only([fid].into()),
        )
        .await;
        let me = app.login("arena-staff", "Tsuyoi-pasu 4821 waado").await;

        // In scope: slots saved and logged.
        let res = me
            .post(
                &format!("/admin/facilities/{fid}/rooms/{rid}/slots"),
                &[
                    ("patterns", "1"),
                    ("p0_days", "mon"),
                    ("p0_days", "tue"),
                    ("p0_label", "午前"),
                    ("p0_start", "9:00"),
                    ("p0_end", "12:00"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.label());
        assert_eq!(
            audit::count(app.db(), &count("room.slots")).await.unwrap(),
            1
        );

        // Units can be renamed; a name already used in the room is refused.
        let units = catalogue::units(app.db(), rid).await.unwrap();
        let rename = format!("/admin/facilities/{fid}/rooms/{rid}/units/{}", units[0].id);
        assert_eq!(me.post(&rename, &[("name", "北面")]).await.status(), 303);
        let res = me.post(&rename, &[("name", &units[1].name)]).await;
        assert!(
            res.text().await.unwrap().contains("同じ名前の面"),
            "{}",
            app.label()
        );
        assert_eq!(
            catalogue::units(app.db(), rid).await.unwrap()[0].name,
            "北面"
        );

        // Out of scope: every page and change is refused.
        for path in [
            format!("/admin/facilities/{}/rooms/{other_room}", other.id),
            format!("/admin/facilities/{}/opening", other.id),
            format!("/admin/facilities/{}/rooms/{other_room}/calendar", other.id),
        ] {
            assert_eq!(me.get(&path).await.status(), 403, "{}: {path}", app.label());
        }
        let res = me
            .post(
                &format!("/admin/facilities/{}/closures", other.id),
                &[
                    ("closure_from", "2027-01-01"),
                    ("closure_to", "2027-01-02"),
                    ("closure_reason", "x"),
                ],
            )
            .await;
        assert_eq!(res.status(), 403);
        assert!(
            catalogue::closures(app.db(), other.id)
                .await
                .unwrap()
                .is_empty()
        );
        // A room id of another facility under this facility's path is not found.
        assert_eq!(
            me.get(&format!("/admin/facilities/{fid}/rooms/{other_room}"))
                .await
                .status(),
            404
        );
        // Shared lists need a scope of all facilities.
        assert_eq!(
            me.post("/admin/categories", &[("category_name", "町外団体")])
                .await
                .status(),
            403
        );
    }
}

#[tokio::test]
async fn holidays_can_be_changed_and_imported() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let page = html(&admin, "/admin/holidays?year=2019").await;
        assert!(
            page.contains("即位") || page.contains("天皇の即位の日"),
            "{}: special-law holidays are seeded",
            app.label()
        );
        let res = admin
            .post(
                "/admin/holidays",
                &[
                    ("holiday_date", "2027-06-01"),
                    ("holiday_name", "町制記念日"),
                    ("year", "2027"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert!(
            html(&admin, "/admin/holidays?year=2027")
                .await
                .contains("町制記念日")
        );

        // A Shift_JIS syukujitsu.csv with a bad row is refused whole.
        let (bad, _, _) = encoding_rs::SHIFT_JIS.encode(
            "国民の祝日・休日月日,国民の祝日・休日名称\r\n2028/1/1,元日\r\n2028/13/1,誤り\r\n",
        );
        let form = reqwest::multipart::Form::new()
            .text("_csrf", admin.csrf.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bad.into_owned()).file_name("syukujitsu.csv"),
            );
        let res = admin
            .client
            .post(format!("{}/admin/holidays/import", admin.base))
            .multipart(form)
            .send()
            .await
            .unwrap();
        let text = res.text().await.unwrap();
        assert!(text.contains("3行目"), "{}: row of the error", app.label());
    }
}

#[tokio::test]
async fn calendar_import_is_all_or_nothing_and_export_has_every_room() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let upload = |body: &str| {
            let (bytes, _, _) = encoding_rs::SHIFT_JIS.encode(body);
            reqwest::multipart::Form::new()
                .text("_csrf", admin.csrf.clone())
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes.into_owned()).file_name("calendar.csv"),
                )
        };
        let bad = "施設名,室場名,日付,種別,開始時刻,終了時刻,理由\r\n国富町武道館,,2027/2/1,休館,,,点検\r\n国富町武道館,剣道場,2027/2/2,閉鎖,,,x\r\n";
        let res = admin
            .client
            .post(format!("{}/admin/calendar-import", admin.base))
            .multipart(upload(bad))
            .send()
            .await
            .unwrap();
        let text = res.text().await.unwrap();
        assert!(
            text.contains("3行目") && text.contains("4列目"),
            "{}: row and column",
            app.label()
        );
        let budokan = facilities::list(app.db())
            .await
            .unwrap()
            .into_iter()
            .find(|f| f.name == "国富町武道館")
            .unwrap();
        assert!(
            catalogue::closures(app.db(), budokan.id)
                .await
                .unwrap()
                .is_empty(),
            "nothing partial stored"
        );

        let good = "施設名,室場名,日付,種別,開始時刻,終了時刻,理由\r\n国富町武道館,,2027/2/1,休館,,,点検\r\n国富町武道館,剣道場,2027/2/2,利用不可,9:00,12:00,大会\r\n";
        let res = admin
            .client
            .post(format!("{}/admin/calendar-import", admin.base))
            .multipart(upload(good))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}", app.label());
        assert_eq!(
            catalogue::closures(app.db(), budokan.id)
                .await
                .unwrap()
                .len(),
            1
        );

        let csv = admin
            .get("/admin/facilities.csv")
            .await
            .bytes()
            .await
            .unwrap();
        let text = String::from_utf8(csv[3..].to_vec()).unwrap();
        let rooms: usize = {
            let mut n = 0;
            for f in facilities::list(app.db()).await.unwrap() {
                n += facilities::rooms(app.db(), f.id).await.unwrap().len();
            }
            n
        };
        assert_eq!(
            text.lines().count(),
            rooms + 1,
            "{}: one row per room plus header",
            app.label()
        );
        assert!(text.contains("全面=A面+B面"));
    }
}

#[tokio::test]
async fn photos_are_checked_stored_and_shown() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let (fid, _) = arena(&app).await;
        let upload = |caption: &str, bytes: Vec<u8>, name: &str| {
            reqwest::multipart::Form::new()
                .text("_csrf", admin.csrf.clone())
                .text("caption", caption.to_owned())
                .part(
                    "file",
                    reqwest::multipart::Part::bytes(bytes).file_name(name.to_owned()),
                )
        };
        let url = format!("{}/admin/facilities/{fid}/photos", admin.base);
        // A script disguised as an image, and a missing description, are refused.
        let res = admin
            .client
            .post(&url)
            .multipart(upload("全景", b"<svg onload=alert(1)>".to_vec(), "a.png"))
            .send()
            .await
            .unwrap();
        assert!(
            res.text().await.unwrap().contains("JPEG・PNG・WebP"),
            "{}",
            app.label()
        );
        let png = b"\x89PNG\r\n\x1a\n\0\0\0\rIHDR".to_vec();
        let res = admin
            .client
            .post(&url)
            .multipart(upload("", png.clone(), "a.png"))
            .send()
            .await
            .unwrap();
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("写真の説明を入力してください")
        );
        assert!(
            catalogue::photos(app.db(), fid).await.unwrap().is_empty(),
            "nothing stored"
        );

        let res = admin
            .client
            .post(&url)
            .multipart(upload("メインアリーナの全景", png.clone(), "a.png"))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{}", app.label());
        let photo = catalogue::photos(app.db(), fid).await.unwrap()[0].id;
        let served = app
            .client()
            .get(app.url(&format!("/photos/{photo}")))
            .send()
            .await
            .unwrap();
        assert_eq!(served.headers()["content-type"], "image/png");
        assert_eq!(served.bytes().await.unwrap().to_vec(), png);
        let home = app
            .client()
            .get(app.url("/"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            home.contains(&format!(
                "src=\"/photos/{photo}\" alt=\"メインアリーナの全景\""
            )),
            "{}",
            app.label()
        );
        assert_eq!(
            audit::count(app.db(), &count("facility.photo"))
                .await
                .unwrap(),
            1
        );
    }
}

#[tokio::test]
async fn a_facility_or_room_with_future_reservations_cannot_be_deleted() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let (fid, rid) = arena(&app).await;
        let combo = catalogue::combinations(app.db(), rid)
            .await
            .unwrap()
            .remove(0);
        let date = chrono::Utc::now().date_naive() + chrono::Duration::days(20);
        hiroba_testkit::reserve(app.db(), &combo, date, ("9:00", "12:00")).await;

        let res = admin
            .post(&format!("/admin/facilities/{fid}/rooms/{rid}/delete"), &[])
            .await;
        assert_eq!(res.status(), 400, "{}", app.label());
        assert!(res.text().await.unwrap().contains("臨時休館"));
        let res = admin
            .post(&format!("/admin/facilities/{fid}/delete"), &[])
            .await;
        assert_eq!(res.status(), 400);
        assert!(
            facilities::room(app.db(), rid).await.unwrap().is_some(),
            "nothing deleted"
        );
        // A room without reservations can still be deleted.
        let other = facilities::rooms(app.db(), fid)
            .await
            .unwrap()
            .into_iter()
            .find(|r| r.id != rid)
            .unwrap();
        assert_eq!(
            admin
                .post(
                    &format!("/admin/facilities/{fid}/rooms/{}/delete", other.id),
                    &[]
                )
                .await
                .status(),
            303
        );
    }
}

/// Records that other records still point to (past or cancelled reservations,
/// residents of a category) are never deleted: a Japanese refusal, nothing
/// changed, instead of an internal error (A03-A18 "deleting ... is refused").
#[tokio::test]
async fn deleting_what_history_still_uses_is_refused_in_japanese() {
    for app in spawn_all().await {
        let label = app.label();
        let admin = app.login_admin().await;
        let (fid, room_id) = arena(&app).await;
        let combination = catalogue::combinations(app.db(), room_id).await.unwrap()[0].clone();
        let past = hiroba_web::booking::today() - chrono::Duration::days(30);
        hiroba_testkit::reserve(app.db(), &combination, past, ("09:00", "12:00")).await;
        let refused = |path: String| {
            let admin = &admin;
            async move {
                let res = admin.post(&path, &[]).await;
                assert_eq!(res.status().as_u16(), 409, "{label}: {path}");
                let html = res.text().await.unwrap();
                assert!(
                    html.contains("ほかの記録で使われているため、この操作はできません")
                        && html.contains("何も変更されていません"),
                    "{label}: {path}"
                );
                assert!(!html.contains("FOREIGN") && !html.contains("foreign"));
            }
        };
        refused(format!("/admin/facilities/{fid}/delete")).await;
        refused(format!("/admin/facilities/{fid}/rooms/{room_id}/delete")).await;
        let unit = combination.unit_ids[0];
        refused(format!(
            "/admin/facilities/{fid}/rooms/{room_id}/units/{unit}/delete"
        ))
        .await;
        // The demo resident's category.
        let category = catalogue::categories(app.db()).await.unwrap()[0].id;
        refused(format!("/admin/categories/{category}/delete")).await;
        assert!(facilities::get(app.db(), fid).await.unwrap().is_some());
        assert_eq!(
            catalogue::units(app.db(), room_id)
                .await
                .unwrap()
                .iter()
                .filter(|u| u.id == unit)
                .count(),
            1
        );
        assert!(
            catalogue::categories(app.db())
                .await
                .unwrap()
                .iter()
                .any(|c| c.id == category)
        );
    }
}
