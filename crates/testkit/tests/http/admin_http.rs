//! HTTP stories against a real server, on SQLite and PostgreSQL
//! (A01, A02, A29, M21, M22, C07, S01, S05).

use hiroba_domain::permission::{FacilityScope, Permission};
use hiroba_store::audit::{self, Filter};
use hiroba_store::{facilities, settings, staff};
use hiroba_testkit::{DEMO_STAFF, spawn_all};
use hiroba_web::routes::Access;

/// `{id}` becomes `id`; any other placeholder (room, row ...) becomes 1: the
/// permission check runs before anything is looked up.
fn fill_placeholders(path: &str, id: i64) -> String {
    let mut out = String::new();
    let mut rest = path;
    while let Some(start) = rest.find('{') {
        out.push_str(&rest[..start]);
        let end = rest[start..]
            .find('}')
            .map_or(rest.len(), |e| start + e + 1);
        let value = if &rest[start..end] == "{id}" {
            id.to_string()
        } else {
            "1".to_owned()
        };
        out.push_str(&value);
        rest = &rest[end..];
    }
    out.push_str(rest);
    out
}

fn action(a: &str) -> Filter {
    Filter {
        action: Some(a.into()),
        ..Default::default()
    }
}

#[tokio::test]
async fn every_staff_route_refuses_a_member_without_its_permission() {
    for app in spawn_all().await {
        let catalog = hiroba_web::admin::catalog(app.state.clone());
        let target_staff = staff::get_by_login(app.db(), "koho")
            .await
            .unwrap()
            .unwrap()
            .id;
        let facility = facilities::list(app.db()).await.unwrap()[0].id;
        let staff_before = staff::count(app.db()).await.unwrap();
        let mut refused = 0;
        let mut members = std::collections::BTreeSet::new();
        for spec in &catalog {
            let Access::Staff(Some(permission)) = spec.access else {
                continue;
            };
            let login = format!("no-{}", permission.code().replace('_', "-"));
            let others: Vec<Permission> = Permission::ALL
                .into_iter()
                .filter(|p| *p != permission)
                .collect();
            if members.insert(permission) {
                app.create_staff(&login, &others, FacilityScope::All).await;
            }
            let me = app.login(&login, "Tsuyoi-pasu 4821 waado").await;
            let id = if spec.path.starts_with("/staff") {
                target_staff
            } else {
                facility
            };
            let path = format!("/admin{}", fill_placeholders(spec.path, id));
            let res = if spec.method == "GET" {
                me.get(&path).await
            } else {
                me.post(
                    &path,
                    &[
                        ("name", "書き換え"),
                        ("town_name", "x"),
                        ("town_contact", "x"),
                        ("audit_months", "24"),
                        ("scope", "all"),
                    ],
                )
                .await
            };
            assert_eq!(
                res.status(),
                403,
                "{}: {} {path} was not refused",
                app.label(),
                spec.method
            );
            let body = res.text().await.unwrap();
            assert!(
                body.contains("権限がありません"),
                "{}: Japanese 403 page expected",
                app.label()
            );
            refused += 1;
        }
        assert!(refused >= 15, "catalogue too small: {refused}");
        assert_eq!(
            audit::count(app.db(), &action("access.denied"))
                .await
                .unwrap(),
            refused,
            "{}",
            app.label()
        );
        // Nothing was changed by the refused writes.
        let count_now = staff::count(app.db()).await.unwrap();
        assert_eq!(
            count_now,
            staff_before + members.len() as i64,
            "only the test members were added"
        );
        assert_eq!(
            staff::get(app.db(), target_staff)
                .await
                .unwrap()
                .unwrap()
                .name,
            "広報 一郎"
        );
        assert_eq!(settings::load(app.db()).await.unwrap().town_name, "国富町");

        // Signed-out visitors are sent to the login page from every staff route.
        let anon = app.client();
        for spec in catalog
            .iter()
            .filter(|s| s.access != Access::Public && s.method == "GET")
        {
            let path = format!("/admin{}", fill_placeholders(spec.path, 1))
                .trim_end_matches('/')
                .to_owned();
            let res = anon.get(app.url(&path)).send().await.unwrap();
            assert_eq!(res.status(), 303, "{}: {path}", app.label());
            assert!(
                res.headers()["location"]
                    .to_str()
                    .unwrap()
                    .starts_with("/admin/login")
            );
        }
    }
}

#[tokio::test]
async fn navigation_shows_only_permitted_functions() {
    for app in spawn_all().await {
        let arena = facilities::list(app.db()).await.unwrap()[0].id;
        app.create_staff(
            "yoyaku",
            &[Permission::Reservations],
            FacilityScope::Only([arena].into()),
        )
        .await;
        let me = app.login("yoyaku", "Tsuyoi-pasu 4821 waado").await;
        let home = me.get("/admin").await.text().await.unwrap();
        for hidden in [
            "/admin/staff",
            "/admin/audit",
            "/admin/settings",
            "/admin/facilities",
        ] {
            assert!(
                !home.contains(&format!("href=\"{hidden}\"")),
                "{}: nav shows {hidden}",
                app.label()
            );
        }
        assert!(home.contains("予約の受付・管理"));
        let admin = app.login_admin().await;
        let home = admin.get("/admin").await.text().await.unwrap();
        for shown in [
            "/admin/staff",
            "/admin/audit",
            "/admin/settings",
            "/admin/facilities",
        ] {
            assert!(
                home.contains(&format!("href=\"{shown}\"")),
                "{}: nav lacks {shown}",
                app.label()
            );
        }
    }
}

#[tokio::test]
async fn facility_scope_is_enforced() {
    for app in spawn_all().await {
        let all = facilities::list(app.db()).await.unwrap();
        let (mine, other) = (&all[0], &all[1]);
        app.create_staff(
            "shisetsu",
            &[Permission::Facilities],
            FacilityScope::Only([mine.id].into()),
        )
        .await;
        let me = app.login("shisetsu", "Tsuyoi-pasu 4821 waado").await;

        let list = me.get("/admin/facilities").await.text().await.unwrap();
        assert!(
            list.contains(&mine.name) && !list.contains(&other.name),
            "{}",
            app.label()
        );
        assert_eq!(
            me.get(&format!("/admin/facilities/{}", mine.id))
                .await
                .status(),
            200
        );
        assert_eq!(
            me.get(&format!("/admin/facilities/{}", other.id))
                .await
                .status(),
            403
        );
        let res = me
            .post(
                &format!("/admin/facilities/{}/edit", other.id),
                &[
                    ("name", "乗っ取り"),
                    ("description", ""),
                    ("address", ""),
                    ("phone", ""),
                    ("info_url", ""),
                ],
            )
            .await;
        assert_eq!(res.status(), 403, "{}", app.label());
        assert_eq!(
            facilities::get(app.db(), other.id)
                .await
                .unwrap()
                .unwrap()
                .name,
            other.name
        );
        let denied = Filter {
            object: Some(format!("facility:{}", other.id)),
            ..action("access.denied")
        };
        assert_eq!(audit::count(app.db(), &denied).await.unwrap(), 2);

        // Within scope the change is saved and logged with before/after.
        let res = me
            .post(
                &format!("/admin/facilities/{}/edit", mine.id),
                &[
                    ("name", &mine.name),
                    ("description", "改修済み"),
                    ("address", &mine.address),
                    ("phone", "0985-75-0000"),
                    ("info_url", ""),
                    ("change_days_before", "3"),
                    ("resident_may_change", "yes"),
                    ("activity_free_text", "yes"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.label());
        let log = audit::search(app.db(), &action("facility.update"), 1, 0)
            .await
            .unwrap();
        assert!(log[0].summary.contains("電話") && log[0].staff_login == "shisetsu");

        // A staff admin limited to one facility cannot hand out others.
        app.create_staff(
            "kanri2",
            &[Permission::StaffAdmin],
            FacilityScope::Only([mine.id].into()),
        )
        .await;
        let sub = app.login("kanri2", "Tsuyoi-pasu 4821 waado").await;
        let other_id = other.id.to_string();
        let res = sub
            .post(
                "/admin/staff/new",
                &[
                    ("login_id", "sub1"),
                    ("name", "部下"),
                    ("password", "Tsuyoi-pasu 4821 waado"),
                    ("scope", "some"),
                    ("facility", &other_id),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        assert!(res.text().await.unwrap().contains("担当にできない施設"));
        assert!(
            staff::get_by_login(app.db(), "sub1")
                .await
                .unwrap()
                .is_none()
        );
    }
}

#[tokio::test]
async fn csrf_token_is_required_for_every_change() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let fields = [
            ("town_name", "改ざん町"),
            ("town_contact", "x"),
            ("audit_months", "24"),
        ];
        let missing = admin.post_raw("/admin/settings", &fields).await;
        assert_eq!(missing.status(), 403, "{}", app.label());
        assert!(
            missing
                .text()
                .await
                .unwrap()
                .contains("受け付けられませんでした")
        );
        let mut wrong = vec![("_csrf", "AAAA")];
        wrong.extend_from_slice(&fields);
        assert_eq!(
            admin.post_raw("/admin/settings", &wrong).await.status(),
            403
        );
        // Another session's token is not accepted either.
        let other = app.login(DEMO_STAFF[1].login, DEMO_STAFF[1].password).await;
        let mut foreign = vec![("_csrf", other.csrf.as_str())];
        foreign.extend_from_slice(&fields);
        assert_eq!(
            admin.post_raw("/admin/settings", &foreign).await.status(),
            403
        );
        // Login itself needs the pre-session token.
        let anon = app.client();
        let res = anon
            .post(app.url("/admin/login"))
            .form(&[("login_id", "admin"), ("password", DEMO_STAFF[0].password)])
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 403);
        assert_eq!(
            settings::load(app.db()).await.unwrap().town_name,
            "国富町",
            "{}: changed without a token",
            app.label()
        );
        assert_eq!(
            audit::count(app.db(), &action("access.csrf_refused"))
                .await
                .unwrap(),
            4
        );

        // With the token (form field or header) the change goes through.
        let ok = admin
            .post(
                "/admin/settings",
                &[
                    ("town_name", "国富町"),
                    ("town_contact", "役場 0985-75-3111"),
                    ("audit_months", "36"),
                ],
            )
            .await;
        assert_eq!(ok.status(), 303);
        assert_eq!(
            settings::load(app.db())
                .await
                .unwrap()
                .audit_retention
                .get(),
            36
        );
    }
}

#[tokio::test]
async fn login_failures_are_generic_throttled_and_logged() {
    for app in spawn_all().await {
        let client = app.client();
        let page = client
            .get(app.url("/admin/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hiroba_testkit::meta_csrf(&page).unwrap();
        let attempt = |login: &'static str, password: &'static str| {
            let client = client.clone();
            let csrf = csrf.clone();
            let url = app.url("/admin/login");
            async move {
                client
                    .post(url)
                    .form(&[
                        ("_csrf", csrf.as_str()),
                        ("login_id", login),
                        ("password", password),
                    ])
                    .send()
                    .await
                    .unwrap()
            }
        };
        let unknown = attempt("nobody", "whatever-password")
            .await
            .text()
            .await
            .unwrap();
        let wrong = attempt("uketsuke", "wrong-password-1")
            .await
            .text()
            .await
            .unwrap();
        let message = "ログインIDまたはパスワードが正しくありません";
        assert!(
            unknown.contains(message) && wrong.contains(message),
            "{}",
            app.label()
        );
        assert!(wrong.contains("value=\"uketsuke\""), "the login ID is kept");
        assert!(
            !wrong.contains("wrong-password-1"),
            "the password is never echoed"
        );

        for _ in 0..4 {
            attempt("uketsuke", "wrong-password-2").await;
        }
        // Five failures: even the right password is now refused, with the same message.
        let locked = attempt("uketsuke", DEMO_STAFF[1].password).await;
        assert_eq!(
            locked.status(),
            200,
            "{}: throttled login must not succeed",
            app.label()
        );
        assert!(locked.text().await.unwrap().contains(message));
        assert!(
            audit::count(app.db(), &action("login.failed"))
                .await
                .unwrap()
                >= 7
        );
        // Another account from another client still works.
        app.login("koho", DEMO_STAFF[2].password).await;
    }
}

#[tokio::test]
async fn sessions_are_renewed_ended_at_logout_and_by_disabling() {
    for app in spawn_all().await {
        let koho = app.login("koho", DEMO_STAFF[2].password).await;
        let cookie_jar_before = koho.get("/admin").await;
        assert_eq!(cookie_jar_before.status(), 200);
        // Log out: the old cookie no longer works (ended server-side).
        let token = koho.csrf.clone();
        let res = koho.post("/admin/logout", &[]).await;
        assert_eq!(res.status(), 303);
        assert_eq!(koho.get("/admin").await.status(), 303, "{}", app.label());
        assert_ne!(
            token,
            app.login("koho", DEMO_STAFF[2].password).await.csrf,
            "a new session at each login"
        );

        // Disabling an account ends its open sessions at once.
        let uketsuke = app.login("uketsuke", DEMO_STAFF[1].password).await;
        let admin = app.login_admin().await;
        let id = staff::get_by_login(app.db(), "uketsuke")
            .await
            .unwrap()
            .unwrap()
            .id;
        assert_eq!(
            admin
                .post(&format!("/admin/staff/{id}/disable"), &[])
                .await
                .status(),
            303
        );
        assert_eq!(
            uketsuke.get("/admin").await.status(),
            303,
            "{}",
            app.label()
        );
        // The last staff administrator cannot be disabled, nor can one disable oneself.
        let me = staff::get_by_login(app.db(), "admin")
            .await
            .unwrap()
            .unwrap()
            .id;
        let res = admin.post(&format!("/admin/staff/{me}/disable"), &[]).await;
        assert!(res.text().await.unwrap().contains("自分自身"));
        assert!(!staff::get(app.db(), me).await.unwrap().unwrap().disabled);
    }
}

#[tokio::test]
async fn staff_form_bad_input_keeps_values_and_stores_nothing() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        let before = staff::count(app.db()).await.unwrap();
        let res = admin
            .post(
                "/admin/staff/new",
                &[
                    ("login_id", "山田たろう"),
                    ("name", "山田 次郎"),
                    ("password", "short"),
                    ("permission", "reservations"),
                    ("scope", "all"),
                ],
            )
            .await;
        assert_eq!(res.status(), 200);
        let html = res.text().await.unwrap();
        assert!(html.contains("ログインIDは半角英数字"), "{}", app.label());
        assert!(html.contains("パスワードは10文字以上"));
        assert!(
            html.contains("value=\"山田 次郎\""),
            "typed values are kept"
        );
        assert!(html.contains("value=\"reservations\" checked"));
        let res = admin
            .post(
                "/admin/staff/new",
                &[
                    ("login_id", "koho"),
                    ("name", "重複"),
                    ("password", "Tsuyoi-pasu 4821 waado"),
                    ("scope", "all"),
                ],
            )
            .await;
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("このログインIDはすでに使われています")
        );
        let res = admin
            .post(
                "/admin/staff/new",
                &[
                    ("login_id", "tanaka"),
                    ("name", "田中"),
                    ("password", "password1234"),
                    ("scope", "all"),
                ],
            )
            .await;
        assert!(res.text().await.unwrap().contains("よく使われるパスワード"));
        assert_eq!(
            staff::count(app.db()).await.unwrap(),
            before,
            "{}: something was stored",
            app.label()
        );

        // A valid form creates, then edit, reset, enable and delete are logged.
        let res = admin
            .post(
                "/admin/staff/new",
                &[
                    ("login_id", "tanaka"),
                    ("name", "田中 一"),
                    ("password", "Tsuyoi-pasu 4821 waado"),
                    ("permission", "logs"),
                    ("scope", "some"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303, "{}", app.label());
        let id = staff::get_by_login(app.db(), "tanaka")
            .await
            .unwrap()
            .unwrap()
            .id;
        let res = admin
            .post(
                &format!("/admin/staff/{id}"),
                &[
                    ("name", "田中 一郎"),
                    ("permission", "logs"),
                    ("permission", "reports"),
                    ("scope", "all"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        let log = audit::search(app.db(), &action("staff.update"), 1, 0)
            .await
            .unwrap();
        assert!(
            log[0].summary.contains("氏名: 田中 一 → 田中 一郎")
                && log[0].summary.contains("権限追加: 帳票・集計"),
            "{}",
            log[0].summary
        );
        assert_eq!(
            admin
                .post(
                    &format!("/admin/staff/{id}/password"),
                    &[("password", "Atarashii 9931 kotoba")]
                )
                .await
                .status(),
            303
        );
        app.login("tanaka", "Atarashii 9931 kotoba").await;
        assert_eq!(
            admin
                .post(&format!("/admin/staff/{id}/delete"), &[])
                .await
                .status(),
            303
        );
        assert!(staff::get(app.db(), id).await.unwrap().is_none());
        for a in [
            "staff.create",
            "staff.update",
            "staff.password_reset",
            "staff.delete",
        ] {
            assert_eq!(
                audit::count(app.db(), &action(a)).await.unwrap(),
                1,
                "{}: {a}",
                app.label()
            );
        }
    }
}

#[tokio::test]
async fn own_password_change_checks_current_and_policy() {
    for app in spawn_all().await {
        let koho = app.login("koho", DEMO_STAFF[2].password).await;
        let res = koho
            .post(
                "/admin/account",
                &[("current", "wrong"), ("new", "abc"), ("confirm", "abd")],
            )
            .await;
        let html = res.text().await.unwrap();
        assert!(
            html.contains("現在のパスワードが正しくありません")
                && html.contains("10文字以上")
                && html.contains("一致しません"),
            "{}",
            app.label()
        );
        let res = koho
            .post(
                "/admin/account",
                &[
                    ("current", DEMO_STAFF[2].password),
                    ("new", "Hoshizora 7712 minato"),
                    ("confirm", "Hoshizora 7712 minato"),
                ],
            )
            .await;
        assert_eq!(res.status(), 303);
        assert_eq!(
            koho.get("/admin").await.status(),
            200,
            "the current session stays"
        );
        app.login("koho", "Hoshizora 7712 minato").await;
    }
}

#[tokio::test]
async fn security_headers_health_and_error_pages() {
    for app in spawn_all().await {
        let client = app.client();
        let res = client.get(app.url("/")).send().await.unwrap();
        assert_eq!(res.status(), 200);
        let h = res.headers().clone();
        let csp = h["content-security-policy"].to_str().unwrap();
        assert!(csp.contains("frame-ancestors 'none'") && !csp.contains("unsafe-inline"));
        assert_eq!(h["x-content-type-options"], "nosniff");
        assert!(h.contains_key("referrer-policy") && h.contains_key("permissions-policy"));
        assert!(
            !h.contains_key("strict-transport-security"),
            "no HSTS without TLS"
        );
        let body = res.text().await.unwrap();
        for name in hiroba_store::seed::kunitomi_facility_names() {
            assert!(body.contains(name), "{}: home lacks {name}", app.label());
        }
        let admin = app.login_admin().await;
        assert_eq!(
            admin.get("/admin/staff").await.headers()["cache-control"],
            "no-store"
        );

        let missing = client.get(app.url("/no/such/page")).send().await.unwrap();
        assert_eq!(missing.status(), 404);
        assert!(
            missing
                .text()
                .await
                .unwrap()
                .contains("ページが見つかりません")
        );
        let css = client
            .get(app.url("/static/hiroba.css"))
            .send()
            .await
            .unwrap();
        assert_eq!(css.status(), 200);
        assert!(
            css.headers()["content-type"]
                .to_str()
                .unwrap()
                .starts_with("text/css")
        );

        assert_eq!(
            client
                .get(app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            200
        );
        app.db().close().await;
        assert_eq!(
            client
                .get(app.url("/healthz"))
                .send()
                .await
                .unwrap()
                .status(),
            503,
            "{}",
            app.label()
        );
    }
}

#[tokio::test]
async fn operation_log_search_and_csv_export() {
    for app in spawn_all().await {
        let admin = app.login_admin().await;
        admin
            .post(
                "/admin/settings",
                &[
                    ("town_name", "国富町"),
                    ("town_contact", "役場"),
                    ("audit_months", "12"),
                ],
            )
            .await;
        let page = admin
            .get("/admin/audit?action=login")
            .await
            .text()
            .await
            .unwrap();
        assert!(
            page.contains("ログイン") && page.contains("admin"),
            "{}",
            app.label()
        );
        let bad = admin
            .get("/admin/audit?from=2025/13/01")
            .await
            .text()
            .await
            .unwrap();
        assert!(bad.contains("日付は 2025-04-01 の形で"), "{}", app.label());

        let csv = admin.get("/admin/audit.csv?action=login").await;
        assert_eq!(csv.status(), 200);
        assert!(
            csv.headers()["content-disposition"]
                .to_str()
                .unwrap()
                .contains("attachment")
        );
        let bytes = csv.bytes().await.unwrap();
        assert!(bytes.starts_with(b"\xEF\xBB\xBF"), "UTF-8 BOM for Excel");
        let text = String::from_utf8(bytes[3..].to_vec()).unwrap();
        assert!(text.starts_with("連番,日時,職員ID,ログインID,IPアドレス,操作"));
        assert!(text.contains("\r\n"));
        assert_eq!(
            audit::count(app.db(), &action("audit.export"))
                .await
                .unwrap(),
            1
        );
        // Below 24 months is refused at the field, the old value stays.
        let res = admin
            .post(
                "/admin/settings",
                &[
                    ("town_name", "国富町"),
                    ("town_contact", "役場"),
                    ("audit_months", "12"),
                ],
            )
            .await;
        assert!(res.text().await.unwrap().contains("24か月以上"));
        assert_eq!(
            settings::load(app.db())
                .await
                .unwrap()
                .audit_retention
                .get(),
            60
        );
        assert!(audit::verify(app.db()).await.unwrap().is_ok());
    }
}

#[tokio::test]
async fn client_ip_comes_from_trusted_proxies_only() {
    use hiroba_web::WebConfig;
    for (trusted, expected) in [
        (vec!["127.0.0.1".parse().unwrap()], "203.0.113.5"),
        (vec![], "127.0.0.1"),
    ] {
        let db = hiroba_store::testing::sqlite().await;
        let app = hiroba_testkit::spawn_app(
            db,
            WebConfig {
                trusted_proxies: trusted,
                ..WebConfig::default()
            },
        )
        .await;
        let client = app.client();
        let page = client
            .get(app.url("/admin/login"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = hiroba_testkit::meta_csrf(&page).unwrap();
        client
            .post(app.url("/admin/login"))
            .header("x-forwarded-for", "198.51.100.1, 203.0.113.5")
            .form(&[
                ("_csrf", csrf.as_str()),
                ("login_id", "admin"),
                ("password", "wrong-password"),
            ])
            .send()
            .await
            .unwrap();
        let entry = audit::search(app.db(), &action("login.failed"), 1, 0)
            .await
            .unwrap();
        assert_eq!(
            entry[0].ip, expected,
            "the last untrusted hop is the client; unlisted peers are not believed"
        );
    }
}

#[tokio::test]
async fn the_demo_mail_outbox_page_exists_only_in_demo_mode() {
    use hiroba_store::outbox::{self, Mail};
    use hiroba_web::WebConfig;
    let app = hiroba_testkit::spawn_all().await.remove(0);
    let admin = app.login_admin().await;
    assert_eq!(
        admin.get("/admin/dev/mail").await.status(),
        404,
        "not outside the demo"
    );

    let db = hiroba_store::testing::sqlite().await;
    let demo = hiroba_testkit::spawn_app(
        db,
        WebConfig {
            dev_pages: true,
            ..WebConfig::default()
        },
    )
    .await;
    let mut tx = demo.db().begin().await.unwrap();
    outbox::enqueue(
        &mut tx,
        &Mail {
            to: "jumin@example.jp".into(),
            subject: "【国富町】登録の確認".into(),
            body: "次のリンクを開いてください。\nhttps://hiroba.example/verify?t=abc\n".into(),
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    let admin = demo.login_admin().await;
    let page = admin.get("/admin/dev/mail").await.text().await.unwrap();
    assert!(page.contains("【国富町】登録の確認"));
    assert!(
        page.contains("<a href=\"https://hiroba.example/verify?t=abc\">"),
        "links can be followed"
    );
    let koho = demo.login("koho", DEMO_STAFF[2].password).await;
    assert_eq!(
        koho.get("/admin/dev/mail").await.status(),
        403,
        "needs the system settings permission"
    );
}

/// An internal failure (here: the database gone) gives the Japanese 500 page,
/// which says what to do and shows nothing of the cause.
#[tokio::test]
async fn internal_errors_show_the_japanese_500_page_without_internals() {
    for app in spawn_all().await {
        let label = app.label();
        let admin = app.login_admin().await;
        app.db().close().await;
        let res = admin.get("/admin/reservations").await;
        assert_eq!(res.status().as_u16(), 500, "{label}");
        assert_eq!(
            res.headers()
                .get("x-content-type-options")
                .and_then(|v| v.to_str().ok()),
            Some("nosniff")
        );
        let html = res.text().await.unwrap();
        assert!(html.contains("システムエラーが発生しました"), "{label}");
        assert!(html.contains("時間をおいてもう一度お試しください"));
        for leak in [
            "sqlx",
            "pool",
            "Pool",
            "closed",
            "database error",
            "panicked",
        ] {
            assert!(!html.contains(leak), "{label}: leaks {leak}");
        }
        // The health check tells the operator instead.
        let health = reqwest::get(app.url("/healthz")).await.unwrap();
        assert_eq!(health.status().as_u16(), 503, "{label}");
    }
}
