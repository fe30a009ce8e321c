//! Residents' accounts (U01-U04): registration with e-mail verification (a
//! link valid 24 hours), sign-in by e-mail and password with throttling, and
//! the account page. Registering a taken address never reveals that it exists:
//! the visitor sees the same page and the address's owner gets a mail.

use askama::Template;
use axum::Router;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hiroba_domain::resident::{Profile, ProfileInput};
use hiroba_domain::staff::NewPassword;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::catalogue::{self, UserCategory};
use hiroba_store::outbox::{self, Mail};
use hiroba_store::residents::{self, Resident, TokenPurpose};
use hiroba_store::{StoreError, settings, staff, throttle};
use serde::Deserialize;

use crate::admin::render;
use crate::auth::{cookie, set_cookie};
use crate::csrf::{anon_cookie_name, anon_token, resident_token};
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;
use crate::{AppState, ClientIp};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/account", get(account))
        .route("/account/register", get(register_form).post(register))
        .route("/account/verify", get(verify))
        .route("/account/login", get(login_form).post(login))
        .route("/account/logout", post(logout))
        .route("/account/forgot", get(forgot_form).post(forgot))
        .route("/account/profile", get(profile_form).post(profile_save))
        .route("/account/password", get(password_form).post(password_save))
        .route("/account/reset", get(reset_form).post(reset))
        .route("/account/delete", get(delete_form).post(delete))
}

pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config().https {
        "__Host-hiroba_resident"
    } else {
        "hiroba_resident"
    }
}

/// The signed-in resident, if any, with the session token.
pub async fn signed_in(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(Resident, String)>, AppError> {
    let Some(token) = cookie(headers, cookie_name(state)) else {
        return Ok(None);
    };
    let resident = residents::resolve_session(state.db(), &token).await?;
    if let Some(r) = &resident {
        crate::access_log::note_resident(r.id);
    }
    Ok(resident.map(|r| (r, token)))
}

/// A page frame for visitors; forms carry the pre-session CSRF token, and a
/// new pre-session cookie is set when the visitor has none.
async fn visitor_layout(
    state: &AppState,
    headers: &HeaderMap,
    title: &str,
) -> Result<(Layout, Option<axum::http::HeaderValue>), AppError> {
    let (anon, fresh) = match cookie(headers, anon_cookie_name(state)) {
        Some(v) => (v, false),
        None => (hiroba_store::sessions::new_token()?, true),
    };
    let layout = Layout {
        title: title.to_owned(),
        town_name: settings::load(state.db()).await?.town_name,
        csrf: anon_token(state, &anon),
        ..Layout::default()
    };
    Ok((
        layout,
        fresh.then(|| set_cookie(state, anon_cookie_name(state), Some(&anon))),
    ))
}

fn with_cookie(mut res: Response, cookie: Option<axum::http::HeaderValue>) -> Response {
    if let Some(c) = cookie {
        res.headers_mut().append(header::SET_COOKIE, c);
    }
    res
}

/// What the registration form shows back.
#[derive(Default)]
pub struct RegisterForm {
    email: String,
    name: String,
    kana: String,
    postal_code: String,
    address: String,
    phone: String,
    group_name: String,
    category: String,
}

#[derive(Template)]
#[template(path = "account/register.html")]
struct RegisterPage {
    layout: Layout,
    errors: FieldErrors,
    form: RegisterForm,
    categories: Vec<UserCategory>,
}

pub async fn register_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (layout, fresh) = visitor_layout(&state, &headers, "利用者登録").await?;
    let categories = catalogue::categories(state.db()).await?;
    Ok(with_cookie(
        render(&RegisterPage {
            layout,
            errors: FieldErrors::new(),
            form: RegisterForm::default(),
            categories,
        })?,
        fresh,
    ))
}

#[derive(Template)]
#[template(path = "account/message.html")]
struct MessagePage {
    layout: Layout,
    heading: String,
    paragraphs: Vec<String>,
    link: Option<(String, String)>,
}

fn link(state: &AppState, path: &str) -> String {
    format!("{}{path}", state.config().public_url.trim_end_matches('/'))
}

pub async fn register(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let db = state.db();
    let categories = catalogue::categories(db).await?;
    let mut errors = FieldErrors::new();
    let profile = Profile::parse(
        &ProfileInput {
            email: form.get("email"),
            name: form.get("name"),
            kana: form.get("kana"),
            postal_code: form.get("postal_code"),
            address: form.get("address"),
            phone: form.get("phone"),
            group_name: form.get("group_name"),
        },
        &mut errors,
    );
    let category = errors.take(
        "category",
        form.get("category")
            .parse::<i64>()
            .ok()
            .and_then(|id| categories.iter().find(|c| c.id == id).cloned())
            .ok_or_else(|| "利用者区分を選んでください。".to_owned()),
    );
    let password = errors.take(
        "password",
        NewPassword::parse(form.get("password"), &[form.get("email"), form.get("name")]),
    );
    if form.get("password") != form.get("password_confirm") {
        errors.add("password_confirm", "確認用のパスワードが一致しません。");
    }
    if form.get("agree") != "yes" {
        errors.add("agree", "個人情報の取り扱いに同意してください。");
    }
    let (Some(profile), Some(category), Some(password), true) =
        (profile, category, password, errors.is_empty())
    else {
        let (layout, fresh) = visitor_layout(&state, &headers, "利用者登録").await?;
        let typed = RegisterForm {
            email: form.get("email").into(),
            name: form.get("name").into(),
            kana: form.get("kana").into(),
            postal_code: form.get("postal_code").into(),
            address: form.get("address").into(),
            phone: form.get("phone").into(),
            group_name: form.get("group_name").into(),
            category: form.get("category").into(),
        };
        return Ok(with_cookie(
            render(&RegisterPage {
                layout,
                errors,
                form: typed,
                categories,
            })?,
            fresh,
        ));
    };
    let town = settings::load(db).await?;
    let hash = staff::hash_password(&password).await?;
    let mut tx = db.begin().await?;
    match residents::register(&mut tx, &profile, category.id, !category.needs_proof, &hash).await {
        Ok(id) => {
            let token = residents::issue_token(&mut tx, id, TokenPurpose::Verify).await?;
            let body = format!(
                "{} 様\n\n{}の公共施設予約への利用者登録のお申し込みをありがとうございます。\n次のリンクを24時間以内に開くと、登録が完了します。\n\n{}\n\nお心当たりがない場合は、このメールを破棄してください。\n\n{}\n",
                profile.name,
                town.town_name,
                link(&state, &format!("/account/verify?token={token}")),
                town.town_contact
            );
            outbox::enqueue(
                &mut tx,
                &Mail {
                    to: profile.email.clone(),
                    subject: format!("【{}】利用者登録の確認", town.town_name),
                    body,
                },
            )
            .await?;
            tx.commit().await?;
        }
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            // Tell the address's owner, not the visitor.
            let body = format!(
                "このメールアドレスで{}の公共施設予約への利用者登録のお申し込みがありましたが、すでに登録されています。\nご本人の場合は、ログイン画面からログインしてください。\n\n{}\n\nパスワードを忘れた場合は、次のページで再設定用のメールを受け取れます（施設の窓口でもご案内します）。\n\n{}\n\nお心当たりがない場合は、このメールを破棄してください。\n\n{}\n",
                town.town_name,
                link(&state, "/account/login"),
                link(&state, "/account/forgot"),
                town.town_contact
            );
            let mut tx = db.begin().await?;
            outbox::enqueue(
                &mut tx,
                &Mail {
                    to: profile.email.clone(),
                    subject: format!("【{}】利用者登録について", town.town_name),
                    body,
                },
            )
            .await?;
            tx.commit().await?;
        }
        Err(e) => return Err(e.into()),
    }
    let (layout, fresh) = visitor_layout(&state, &headers, "確認メールを送りました").await?;
    let page = MessagePage {
        layout,
        heading: "確認メールを送りました".into(),
        paragraphs: vec![
            format!(
                "{} あてにメールを送りました。メールにあるリンクを24時間以内に開くと、登録が完了します。",
                profile.email
            ),
            "メールが届かないときは、迷惑メールのフォルダもご確認ください。".into(),
        ],
        link: None,
    };
    Ok(with_cookie(render(&page)?, fresh))
}

#[derive(Deserialize)]
pub struct TokenQuery {
    token: Option<String>,
}

pub async fn verify(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let db = state.db();
    let mut tx = db.begin().await?;
    let resident = match q.token.as_deref() {
        Some(t) => residents::consume_token(&mut tx, t, TokenPurpose::Verify).await?,
        None => None,
    };
    let Some(id) = resident else {
        drop(tx);
        let (layout, fresh) = visitor_layout(&state, &headers, "リンクが無効です").await?;
        let page = MessagePage {
            layout,
            heading: "このリンクは使えません".into(),
            paragraphs: vec!["リンクの有効期限（24時間）が過ぎたか、すでに使われています。お手数ですが、もう一度登録をお申し込みください。".into()],
            link: Some(("/account/register".into(), "利用者登録へ".into())),
        };
        return Ok(with_cookie(render(&page)?, fresh));
    };
    residents::activate(&mut tx, id).await?;
    let r = residents::get(db, id).await?.ok_or(AppError::NotFound)?;
    let town = settings::load(db).await?;
    let category = catalogue::categories(db)
        .await?
        .into_iter()
        .find(|c| c.id == r.category_id)
        .map(|c| c.name)
        .unwrap_or_default();
    // U04: the registered content, by mail.
    let body = format!(
        "{} 様\n\n{}の公共施設予約への利用者登録が完了しました。登録内容は次のとおりです。\n\n氏名: {}\nふりがな: {}\n郵便番号: {}\n住所: {}\n電話番号: {}\n利用者区分: {}{}\n団体名: {}\nメールアドレス: {}\n\n登録内容の変更はログイン後の「登録内容」からできます。\n\n{}\n",
        r.name,
        town.town_name,
        r.name,
        r.kana,
        r.postal_code,
        r.address,
        r.phone,
        category,
        if r.category_verified {
            ""
        } else {
            "（窓口での確認後に有効になります）"
        },
        r.group_name,
        r.email.clone().unwrap_or_default(),
        town.town_contact
    );
    outbox::enqueue(
        &mut tx,
        &Mail {
            to: r.email.clone().unwrap_or_default(),
            subject: format!("【{}】利用者登録が完了しました", town.town_name),
            body,
        },
    )
    .await?;
    tx.commit().await?;
    let (layout, fresh) = visitor_layout(&state, &headers, "登録が完了しました").await?;
    let page = MessagePage {
        layout,
        heading: "登録が完了しました".into(),
        paragraphs: vec![
            "登録内容をメールでお送りしました。ログインして、施設の予約ができます。".into(),
        ],
        link: Some(("/account/login".into(), "ログインする".into())),
    };
    Ok(with_cookie(render(&page)?, fresh))
}

#[derive(Template)]
#[template(path = "account/login.html")]
struct LoginPage {
    layout: Layout,
    email: String,
    error: Option<&'static str>,
    next: String,
}

const GENERIC_FAILURE: &str = "メールアドレスまたはパスワードが正しくありません。続けて間違えると、しばらくログインできなくなります。";

/// Where to go after signing in: only a path on this site, never another host.
fn safe_next(next: &str) -> Option<String> {
    let ok = next.starts_with('/') && !next.starts_with("//") && !next.contains('\\');
    ok.then(|| next.to_owned())
}

#[derive(Deserialize, Default)]
pub struct LoginQuery {
    next: Option<String>,
}

pub async fn login_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, AppError> {
    let next = q.next.as_deref().and_then(safe_next).unwrap_or_default();
    if signed_in(&state, &headers).await?.is_some() {
        let to = if next.is_empty() { "/account" } else { &next };
        return Ok(Redirect::to(to).into_response());
    }
    let (layout, fresh) = visitor_layout(&state, &headers, "ログイン").await?;
    Ok(with_cookie(
        render(&LoginPage {
            layout,
            email: String::new(),
            error: None,
            next,
        })?,
        fresh,
    ))
}

pub async fn login(
    State(state): State<AppState>,
    ip: axum::Extension<ClientIp>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let db = state.db();
    let ip = ip.0.to_string();
    let email = form.get("email").trim().to_lowercase();
    let key = format!("resident:{email}");
    let throttled = throttle::is_throttled(db, &key, &ip, state.config().throttle).await?;
    // E-mail, or the 利用者番号 shown on the account page (U01: "or user ID").
    let found = if throttled {
        None
    } else if let Ok(number) = email.parse::<i64>() {
        residents::get(db, number).await?
    } else {
        residents::find_by_email(db, &email).await?
    };
    let ok = !throttled
        && staff::verify_password(
            found.as_ref().map(|r| r.password_hash.clone()),
            form.get("password"),
        )
        .await;
    let Some(resident) = found.filter(|r| ok && r.is_active()) else {
        throttle::record_failure(db, &key, &ip).await?;
        let (layout, fresh) = visitor_layout(&state, &headers, "ログイン").await?;
        return Ok(with_cookie(
            render(&LoginPage {
                layout,
                email,
                error: Some(GENERIC_FAILURE),
                next: safe_next(form.get("next")).unwrap_or_default(),
            })?,
            fresh,
        ));
    };
    throttle::clear_account(db, &key).await?;
    if let Some(old) = cookie(&headers, cookie_name(&state)) {
        residents::delete_session(db, &old).await?;
    }
    let token = residents::create_session(db, resident.id).await?;
    let to = safe_next(form.get("next")).unwrap_or_else(|| "/account".to_owned());
    let mut res = Redirect::to(&to).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, cookie_name(&state), Some(&token)),
    );
    Ok(res)
}

pub async fn logout(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    if let Some(token) = cookie(&headers, cookie_name(&state)) {
        residents::delete_session(state.db(), &token).await?;
    }
    let mut res = Redirect::to("/").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, cookie_name(&state), None),
    );
    Ok(res)
}

#[derive(Template)]
#[template(path = "account/home.html")]
struct AccountPage {
    layout: Layout,
    r: Resident,
    category: String,
}

pub async fn account(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some((r, token)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let category = catalogue::categories(state.db())
        .await?
        .into_iter()
        .find(|c| c.id == r.category_id)
        .map(|c| c.name)
        .unwrap_or_default();
    let layout = Layout {
        title: "マイページ".into(),
        town_name: settings::load(state.db()).await?.town_name,
        csrf: resident_token(&state, &token),
        ..Layout::default()
    };
    render(&AccountPage {
        layout,
        r,
        category,
    })
}

#[derive(Template)]
#[template(path = "account/forgot.html")]
struct ForgotPage {
    layout: Layout,
    errors: FieldErrors,
    email: String,
}

pub async fn forgot_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let (layout, fresh) = visitor_layout(&state, &headers, "パスワードを忘れた方").await?;
    Ok(with_cookie(
        render(&ForgotPage {
            layout,
            errors: FieldErrors::new(),
            email: String::new(),
        })?,
        fresh,
    ))
}

/// U03: a single-use link valid 30 minutes, mailed to a registered address.
/// The page reads the same whether or not the address is registered.
pub async fn forgot(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let db = state.db();
    let mut errors = FieldErrors::new();
    let Some(email) = errors.take(
        "email",
        hiroba_domain::resident::parse_email(form.get("email")),
    ) else {
        let (layout, fresh) = visitor_layout(&state, &headers, "パスワードを忘れた方").await?;
        return Ok(with_cookie(
            render(&ForgotPage {
                layout,
                errors,
                email: form.get("email").to_owned(),
            })?,
            fresh,
        ));
    };
    if let Some(r) = residents::find_by_email(db, &email)
        .await?
        .filter(Resident::is_active)
    {
        let town = settings::load(db).await?;
        let mut tx = db.begin().await?;
        let token = residents::issue_token(&mut tx, r.id, TokenPurpose::Reset).await?;
        let body = format!(
            "{} 様\n\nパスワードの再設定のお申し込みを受け付けました。次のリンクを30分以内に開いて、新しいパスワードを設定してください。リンクは1回だけ使えます。\n\n{}\n\nお心当たりがない場合は、このメールを破棄してください。パスワードは変わりません。\n\n{}\n",
            r.name,
            link(&state, &format!("/account/reset?token={token}")),
            town.town_contact
        );
        outbox::enqueue(
            &mut tx,
            &Mail {
                to: email.clone(),
                subject: format!("【{}】パスワードの再設定", town.town_name),
                body,
            },
        )
        .await?;
        tx.commit().await?;
    }
    let (layout, fresh) = visitor_layout(&state, &headers, "メールを送りました").await?;
    let page = MessagePage {
        layout,
        heading: "メールを送りました".into(),
        paragraphs: vec![format!(
            "{email} が登録されている場合、パスワードを再設定するためのメールを送りました。30分以内にメールのリンクを開いてください。"
        )],
        link: None,
    };
    Ok(with_cookie(render(&page)?, fresh))
}

#[derive(Template)]
#[template(path = "account/reset.html")]
struct ResetPage {
    layout: Layout,
    errors: FieldErrors,
    token: String,
}

pub async fn reset_form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<TokenQuery>,
) -> Result<Response, AppError> {
    let (layout, fresh) = visitor_layout(&state, &headers, "新しいパスワードの設定").await?;
    Ok(with_cookie(
        render(&ResetPage {
            layout,
            errors: FieldErrors::new(),
            token: q.token.unwrap_or_default(),
        })?,
        fresh,
    ))
}

/// Consumes the token only when the new password is acceptable, so a typo
/// does not waste the link.
pub async fn reset(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let db = state.db();
    let mut errors = FieldErrors::new();
    let password = errors.take("password", NewPassword::parse(form.get("password"), &[]));
    if form.get("password") != form.get("password_confirm") {
        errors.add("password_confirm", "確認用のパスワードが一致しません。");
    }
    let token = form.get("token").to_owned();
    if let (Some(password), true) = (password, errors.is_empty()) {
        let hash = staff::hash_password(&password).await?;
        let mut tx = db.begin().await?;
        if let Some(id) = residents::consume_token(&mut tx, &token, TokenPurpose::Reset).await? {
            residents::set_password(&mut tx, id, &hash, None).await?;
            tx.commit().await?;
            let (layout, fresh) =
                visitor_layout(&state, &headers, "パスワードを変更しました").await?;
            let page = MessagePage {
                layout,
                heading: "パスワードを変更しました".into(),
                paragraphs: vec!["新しいパスワードでログインしてください。ほかの端末でのログインはすべて終了しました。".into()],
                link: Some(("/account/login".into(), "ログインする".into())),
            };
            return Ok(with_cookie(render(&page)?, fresh));
        }
        drop(tx);
        let (layout, fresh) = visitor_layout(&state, &headers, "リンクが無効です").await?;
        let page = MessagePage {
            layout,
            heading: "このリンクは使えません".into(),
            paragraphs: vec!["リンクの有効期限（30分）が過ぎたか、すでに使われています。もう一度お申し込みください。".into()],
            link: Some(("/account/forgot".into(), "パスワードの再設定を申し込む".into())),
        };
        return Ok(with_cookie(render(&page)?, fresh));
    }
    let (layout, fresh) = visitor_layout(&state, &headers, "新しいパスワードの設定").await?;
    Ok(with_cookie(
        render(&ResetPage {
            layout,
            errors,
            token,
        })?,
        fresh,
    ))
}

/// The frame of a signed-in resident's page.
async fn resident_layout(
    state: &AppState,
    token: &str,
    title: &str,
    notice: Option<String>,
) -> Result<Layout, AppError> {
    Ok(Layout {
        title: title.to_owned(),
        town_name: settings::load(state.db()).await?.town_name,
        csrf: resident_token(state, token),
        notice,
        ..Layout::default()
    })
}

#[derive(Template)]
#[template(path = "account/profile.html")]
struct ProfilePage {
    layout: Layout,
    errors: FieldErrors,
    form: RegisterForm,
}

fn typed(form: &FormData, email: &str) -> RegisterForm {
    RegisterForm {
        email: email.to_owned(),
        name: form.get("name").into(),
        kana: form.get("kana").into(),
        postal_code: form.get("postal_code").into(),
        address: form.get("address").into(),
        phone: form.get("phone").into(),
        group_name: form.get("group_name").into(),
        category: String::new(),
    }
}

pub async fn profile_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some((r, token)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let form = RegisterForm {
        email: r.email.clone().unwrap_or_default(),
        name: r.name,
        kana: r.kana,
        postal_code: r.postal_code,
        address: r.address,
        phone: r.phone,
        group_name: r.group_name,
        category: String::new(),
    };
    render(&ProfilePage {
        layout: resident_layout(&state, &token, "登録内容の変更", None).await?,
        errors: FieldErrors::new(),
        form,
    })
}

/// U05: name, kana, address, phone and group; refused fields come back as typed.
pub async fn profile_save(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let Some((r, token)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let email = r.email.clone().unwrap_or_default();
    let mut errors = FieldErrors::new();
    let input = ProfileInput {
        email: &email,
        name: form.get("name"),
        kana: form.get("kana"),
        postal_code: form.get("postal_code"),
        address: form.get("address"),
        phone: form.get("phone"),
        group_name: form.get("group_name"),
    };
    let Some(profile) = Profile::parse(&input, &mut errors).filter(|_| errors.is_empty()) else {
        let layout = resident_layout(&state, &token, "登録内容の変更", None).await?;
        return render(&ProfilePage {
            layout,
            errors,
            form: typed(&form, &email),
        });
    };
    let mut tx = state.db().begin().await?;
    residents::update_contact(&mut tx, r.id, &profile).await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?done=saved").into_response())
}

#[derive(Template)]
#[template(path = "account/password.html")]
struct PasswordPage {
    layout: Layout,
    errors: FieldErrors,
}

pub async fn password_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some((_, token)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    render(&PasswordPage {
        layout: resident_layout(&state, &token, "パスワードの変更", None).await?,
        errors: FieldErrors::new(),
    })
}

/// U02: the current password is required; other devices are signed out.
pub async fn password_save(
    State(state): State<AppState>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let Some((r, token)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    let mut errors = FieldErrors::new();
    if !staff::verify_password(Some(r.password_hash.clone()), form.get("current")).await {
        errors.add("current", "現在のパスワードが正しくありません。");
    }
    let email = r.email.clone().unwrap_or_default();
    let new = errors.take(
        "new",
        NewPassword::parse(form.get("new"), &[email.as_str(), r.name.as_str()]),
    );
    if form.get("new") != form.get("confirm") {
        errors.add("confirm", "確認用のパスワードが一致しません。");
    }
    let (Some(new), true) = (new, errors.is_empty()) else {
        let layout = resident_layout(&state, &token, "パスワードの変更", None).await?;
        return render(&PasswordPage { layout, errors });
    };
    let hash = staff::hash_password(&new).await?;
    let mut tx = state.db().begin().await?;
    residents::set_password(&mut tx, r.id, &hash, Some(&token)).await?;
    tx.commit().await?;
    Ok(Redirect::to("/account?done=password").into_response())
}

#[derive(Template)]
#[template(path = "account/delete.html")]
struct DeletePage {
    layout: Layout,
    errors: FieldErrors,
    future: usize,
}

/// Confirmed reservations of a resident from today (Japan time) on.
async fn future_count(state: &AppState, id: i64) -> Result<usize, AppError> {
    let today = chrono::Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive();
    Ok(residents::reservations_of(state.db(), id, 10_000)
        .await?
        .iter()
        .filter(|v| v.status == "confirmed" && v.use_date >= today)
        .count())
}

pub async fn delete_form(
    State(state): State<AppState>,
    headers: HeaderMap,
) -> Result<Response, AppError> {
    let Some((r, token)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    render(&DeletePage {
        layout: resident_layout(&state, &token, "利用者登録の削除", None).await?,
        errors: FieldErrors::new(),
        future: future_count(&state, r.id).await?,
    })
}

/// A30: the resident erases their own registration. The current password is
/// required; the confirmation goes to the address captured before erasure.
pub async fn delete(
    State(state): State<AppState>,
    ip: axum::Extension<ClientIp>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let Some((r, token)) = signed_in(&state, &headers).await? else {
        return Ok(Redirect::to("/account/login").into_response());
    };
    if !staff::verify_password(Some(r.password_hash.clone()), form.get("password")).await {
        let mut errors = FieldErrors::new();
        errors.add("password", "パスワードが正しくありません。");
        return render(&DeletePage {
            layout: resident_layout(&state, &token, "利用者登録の削除", None).await?,
            errors,
            future: future_count(&state, r.id).await?,
        });
    }
    let db = state.db();
    let town = settings::load(db).await?;
    let email = r.email.clone();
    let mut tx = db.begin().await?;
    let erasure = residents::erase(&mut tx, r.id).await?;
    if let Some(to) = email {
        // No name or other personal data in the mail: the outbox keeps it for a while.
        let cancelled = if erasure.cancelled.is_empty() {
            String::new()
        } else {
            format!(
                "今日以降のご予約{}件は取り消しました。\n",
                erasure.cancelled.len()
            )
        };
        let body = format!(
            "{}の公共施設予約の利用者登録を削除しました。\n\n{}登録されていた氏名・住所・電話番号・メールアドレスなどは消去し、元に戻すことはできません。これまでの利用の記録は、個人を特定できない形で統計のために残ります。\n\nふたたび利用するときは、あらためて利用者登録をしてください。\nお心当たりがない場合は、下記までご連絡ください。\n\n{}\n",
            town.town_name, cancelled, town.town_contact
        );
        outbox::enqueue(
            &mut tx,
            &Mail {
                to,
                subject: format!("【{}】利用者登録を削除しました", town.town_name),
                body,
            },
        )
        .await?;
    }
    hiroba_store::audit::append(
        &mut tx,
        &hiroba_store::audit::NewEntry {
            staff_id: None,
            staff_login: String::new(),
            ip: ip.0.to_string(),
            action: "resident.self_erase".into(),
            object: format!("resident:{}", r.id),
            summary: format!(
                "利用者本人が登録を削除（今後の予約{}件を取り消し、予約{}件の申込者を匿名化）",
                erasure.cancelled.len(),
                erasure.anonymised
            ),
        },
    )
    .await?;
    tx.commit().await?;
    let (layout, fresh) = visitor_layout(&state, &headers, "登録を削除しました").await?;
    let page = MessagePage {
        layout,
        heading: "登録を削除しました".into(),
        paragraphs: vec![
            "利用者登録を削除しました。これまでのご利用、ありがとうございました。".into(),
            "登録されていたメールアドレスに、削除の確認メールをお送りしました。".into(),
        ],
        link: Some(("/".into(), "トップページへ".into())),
    };
    let mut res = with_cookie(render(&page)?, fresh);
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, cookie_name(&state), None),
    );
    Ok(res)
}
