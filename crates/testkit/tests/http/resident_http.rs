//! Residents' registration with e-mail verification and sign-in (U01-U04),
//! on SQLite and PostgreSQL.

use hiroba_store::outbox;
use hiroba_store::residents;
use hiroba_testkit::{meta_csrf, spawn_all};

fn form<'a>(csrf: &'a str, email: &'a str, password: &'a str) -> Vec<(&'a str, &'a str)> {
    vec![
        ("_csrf", csrf),
        ("email", email),
        ("name", "国富 花子"),
        ("kana", "くにとみ はなこ"),
        ("postal_code", "880-1192"),
        ("address", "宮崎県東諸県郡国富町本庄4800"),
        ("phone", "090-1234-5678"),
        ("category", "1"),
        ("group_name", ""),
        ("password", password),
        ("password_confirm", password),
        ("agree", "yes"),
    ]
}

#[tokio::test]
async fn a_resident_registers_verifies_by_mail_and_logs_in() {
    for app in spawn_all().await {
        let client = app.client();
        let page = client
            .get(app.url("/account/register"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = meta_csrf(&page).unwrap();

        // Bad input: messages at the fields, values kept, nothing stored.
        let mut bad = form(&csrf, "hanako@", "short");
        bad.retain(|(k, _)| *k != "agree");
        let html = client
            .post(app.url("/account/register"))
            .form(&bad)
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        for message in ["メールアドレスの形", "10文字以上", "同意してください"]
        {
            assert!(html.contains(message), "{}: {message}", app.label());
        }
        assert!(html.contains("value=\"国富 花子\""), "typed values kept");
        assert!(
            residents::find_by_email(app.db(), "hanako@")
                .await
                .unwrap()
                .is_none()
        );

        let res = client
            .post(app.url("/account/register"))
            .form(&form(&csrf, "Hanako@Example.JP", "Sakura-saku 2026 haru"))
            .send()
            .await
            .unwrap();
        assert!(
            res.text().await.unwrap().contains("確認メールを送りました"),
            "{}",
            app.label()
        );
        let r = residents::find_by_email(app.db(), "hanako@example.jp")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(r.status, "pending");

        // Not yet verified: no login.
        let login = |email: &'static str, password: &'static str| {
            let (client, url, csrf) = (client.clone(), app.url("/account/login"), csrf.clone());
            async move {
                client
                    .post(url)
                    .form(&[
                        ("_csrf", csrf.as_str()),
                        ("email", email),
                        ("password", password),
                    ])
                    .send()
                    .await
                    .unwrap()
            }
        };
        assert_eq!(
            login("hanako@example.jp", "Sakura-saku 2026 haru")
                .await
                .status(),
            200
        );

        // The verification mail carries a single-use link.
        let mails = outbox::recent(app.db(), 10).await.unwrap();
        let mail = mails
            .iter()
            .find(|m| m.subject.contains("利用者登録の確認"))
            .unwrap();
        assert_eq!(mail.to_address, "hanako@example.jp");
        let start = mail.body.find("/account/verify?token=").unwrap();
        let path: String = mail.body[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        let done = client
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(done.contains("登録が完了しました"), "{}", app.label());
        let again = client
            .get(app.url(&path))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(again.contains("このリンクは使えません"), "single use");
        let mails = outbox::recent(app.db(), 10).await.unwrap();
        let welcome = mails
            .iter()
            .find(|m| m.subject.contains("登録が完了"))
            .unwrap();
        assert!(
            welcome.body.contains("くにとみ はなこ") && welcome.body.contains("090-1234-5678"),
            "U04: registered content by mail"
        );

        // Wrong password: generic message; right one: the account page.
        assert!(
            login("hanako@example.jp", "wrong-password")
                .await
                .text()
                .await
                .unwrap()
                .contains("メールアドレスまたはパスワードが正しくありません")
        );
        let res = login("HANAKO@example.jp", "Sakura-saku 2026 haru").await;
        assert_eq!(res.status(), 303, "{}", app.label());
        let account = client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(account.contains("国富 花子 様の登録内容"));

        // Registering the same address again reveals nothing; the owner gets a mail.
        let other = app.client();
        let page = other
            .get(app.url("/account/register"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf2 = meta_csrf(&page).unwrap();
        let html = other
            .post(app.url("/account/register"))
            .form(&form(&csrf2, "hanako@example.jp", "Betsu-no 7788 kagi"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(
            html.contains("確認メールを送りました"),
            "{}: same page as a new address",
            app.label()
        );
        let mails = outbox::recent(app.db(), 10).await.unwrap();
        assert!(
            mails[0].subject.contains("利用者登録について")
                && mails[0].to_address == "hanako@example.jp"
        );
        // A forgotten password is reset online (the counter stays an alternative).
        let forgot = format!(
            "{}/account/forgot",
            app.state.config().public_url.trim_end_matches('/')
        );
        assert!(
            mails[0].body.contains(&forgot) && mails[0].body.contains("窓口"),
            "{}: the mail points to the forgotten-password page",
            app.label()
        );

        // Logging out ends the session.
        let account = client
            .get(app.url("/account"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = meta_csrf(&account).unwrap();
        assert_eq!(
            client
                .post(app.url("/account/logout"))
                .form(&[("_csrf", token.as_str())])
                .send()
                .await
                .unwrap()
                .status(),
            303
        );
        assert_eq!(
            client
                .get(app.url("/account"))
                .send()
                .await
                .unwrap()
                .status(),
            303
        );
    }
}

#[tokio::test]
async fn a_forgotten_password_is_reset_by_a_single_use_mail_link() {
    for app in spawn_all().await {
        let client = app.client();
        let page = client
            .get(app.url("/account/register"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = meta_csrf(&page).unwrap();
        client
            .post(app.url("/account/register"))
            .form(&form(&csrf, "taro@example.jp", "Sakura-saku 2026 haru"))
            .send()
            .await
            .unwrap();
        let mails = outbox::recent(app.db(), 5).await.unwrap();
        let start = mails[0].body.find("/account/verify?token=").unwrap();
        let verify: String = mails[0].body[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        client.get(app.url(&verify)).send().await.unwrap();
        let before = outbox::recent(app.db(), 50).await.unwrap().len();

        // An unknown address reads the same and sends nothing.
        let unknown = client
            .post(app.url("/account/forgot"))
            .form(&[("_csrf", csrf.as_str()), ("email", "nobody@example.jp")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(unknown.contains("登録されている場合"), "{}", app.label());
        assert_eq!(outbox::recent(app.db(), 50).await.unwrap().len(), before);

        let known = client
            .post(app.url("/account/forgot"))
            .form(&[("_csrf", csrf.as_str()), ("email", "taro@example.jp")])
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        assert!(known.contains("登録されている場合"));
        let mail = outbox::recent(app.db(), 1).await.unwrap().remove(0);
        assert!(
            mail.subject.contains("パスワードの再設定"),
            "{}",
            app.label()
        );
        let start = mail.body.find("token=").unwrap() + "token=".len();
        let token: String = mail.body[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();

        // A weak password is refused without using up the link.
        let reset = |password: &'static str| {
            let (client, url, csrf, token) = (
                client.clone(),
                app.url("/account/reset"),
                csrf.clone(),
                token.clone(),
            );
            async move {
                client
                    .post(url)
                    .form(&[
                        ("_csrf", csrf.as_str()),
                        ("token", token.as_str()),
                        ("password", password),
                        ("password_confirm", password),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .text()
                    .await
                    .unwrap()
            }
        };
        assert!(
            reset("password123").await.contains("よく使われる"),
            "{}",
            app.label()
        );
        assert!(
            reset("Atarashii 4411 tsuki")
                .await
                .contains("パスワードを変更しました")
        );
        assert!(
            reset("Mata-kaeru 5522 hoshi")
                .await
                .contains("このリンクは使えません"),
            "single use"
        );

        let login = |password: &'static str| {
            let (client, url, csrf) = (client.clone(), app.url("/account/login"), csrf.clone());
            async move {
                client
                    .post(url)
                    .form(&[
                        ("_csrf", csrf.as_str()),
                        ("email", "taro@example.jp"),
                        ("password", password),
                    ])
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        assert_eq!(
            login("Sakura-saku 2026 haru").await,
            200,
            "the old password no longer works"
        );
        assert_eq!(login("Atarashii 4411 tsuki").await, 303, "{}", app.label());
    }
}

#[tokio::test]
async fn residents_change_their_details_and_password() {
    for app in spawn_all().await {
        let client = app.client();
        let page = client
            .get(app.url("/account/register"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let csrf = meta_csrf(&page).unwrap();
        client
            .post(app.url("/account/register"))
            .form(&form(&csrf, "jiro@example.jp", "Sakura-saku 2026 haru"))
            .send()
            .await
            .unwrap();
        let mail = outbox::recent(app.db(), 1).await.unwrap().remove(0);
        let start = mail.body.find("/account/verify?token=").unwrap();
        let verify: String = mail.body[start..]
            .chars()
            .take_while(|c| !c.is_whitespace())
            .collect();
        client.get(app.url(&verify)).send().await.unwrap();
        client
            .post(app.url("/account/login"))
            .form(&[
                ("_csrf", csrf.as_str()),
                ("email", "jiro@example.jp"),
                ("password", "Sakura-saku 2026 haru"),
            ])
            .send()
            .await
            .unwrap();
        let account = client
            .get(app.url("/account/profile"))
            .send()
            .await
            .unwrap()
            .text()
            .await
            .unwrap();
        let token = meta_csrf(&account).unwrap();

        let change = |phone: &'static str| {
            let (client, url, token) = (client.clone(), app.url("/account/profile"), token.clone());
            async move {
                client
                    .post(url)
                    .form(&[
                        ("_csrf", token.as_str()),
                        ("name", "国富 次郎"),
                        ("kana", "くにとみ じろう"),
                        ("postal_code", ""),
                        ("address", "国富町木脇1520"),
                        ("phone", phone),
                        ("group_name", "木脇バレー部"),
                    ])
                    .send()
                    .await
                    .unwrap()
            }
        };
        let bad = change("123").await.text().await.unwrap();
        assert!(
            bad.contains("電話番号は市外局番から") && bad.contains("value=\"国富町木脇1520\""),
            "{}",
            app.label()
        );
        assert_eq!(change("0985-75-1111").await.status(), 303);
        let r = residents::find_by_email(app.db(), "jiro@example.jp")
            .await
            .unwrap()
            .unwrap();
        assert_eq!(
            (r.name.as_str(), r.group_name.as_str(), r.email.as_deref()),
            ("国富 次郎", "木脇バレー部", Some("jiro@example.jp"))
        );

        let password = |current: &'static str, new: &'static str| {
            let (client, url, token) =
                (client.clone(), app.url("/account/password"), token.clone());
            async move {
                client
                    .post(url)
                    .form(&[
                        ("_csrf", token.as_str()),
                        ("current", current),
                        ("new", new),
                        ("confirm", new),
                    ])
                    .send()
                    .await
                    .unwrap()
            }
        };
        assert!(
            password("wrong", "Atarashii 4411 tsuki")
                .await
                .text()
                .await
                .unwrap()
                .contains("現在のパスワードが正しくありません")
        );
        assert_eq!(
            password("Sakura-saku 2026 haru", "Atarashii 4411 tsuki")
                .await
                .status(),
            303,
            "{}",
            app.label()
        );
        assert_eq!(
            client
                .get(app.url("/account"))
                .send()
                .await
                .unwrap()
                .status(),
            200,
            "this session stays"
        );
    }
}
