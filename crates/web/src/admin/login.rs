//! Staff login and logout (A01): generic failure message, throttling per
//! account and per IP, a fresh session id at every login.

use askama::Template;
use axum::extract::{Query, State};
use axum::http::{HeaderMap, header};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_store::audit::{self, NewEntry};
use hiroba_store::{sessions, staff, throttle};
use serde::Deserialize;

use super::{notice, render, town_name};
use crate::auth::{CurrentStaff, cookie, session_cookie_name, set_cookie, signed_in};
use crate::csrf::{anon_cookie_name, anon_token};
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;
use crate::{AppState, ClientIp};

const GENERIC_FAILURE: &str = "ログインIDまたはパスワードが正しくありません。続けて間違えると、しばらくログインできなくなります。";

#[derive(Template)]
#[template(path = "admin/login.html")]
struct LoginPage {
    layout: Layout,
    login_id: String,
    next: String,
    error: Option<&'static str>,
    demo_logins: Vec<(String, String)>,
}

#[derive(Deserialize)]
pub struct LoginQuery {
    next: Option<String>,
    done: Option<String>,
}

/// Only paths inside the admin are followed after login (no open redirect).
fn safe_next(next: &str) -> String {
    if next.starts_with("/admin")
        && !next.starts_with("//")
        && !next.contains("://")
        && !next.contains('\\')
    {
        next.to_owned()
    } else {
        "/admin".to_owned()
    }
}

async fn login_page(
    state: &AppState,
    headers: &HeaderMap,
    login_id: String,
    next: String,
    error: Option<&'static str>,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let (anon, fresh) = match cookie(headers, anon_cookie_name(state)) {
        Some(value) => (value, false),
        None => (hiroba_store::sessions::new_token()?, true),
    };
    let mut layout = Layout {
        title: "職員ログイン".into(),
        town_name: town_name(state).await?,
        csrf: anon_token(state, &anon),
        admin: true,
        ..Layout::default()
    };
    layout.notice = notice_text;
    let page = LoginPage {
        layout,
        login_id,
        next,
        error,
        demo_logins: state.config().demo_logins.clone(),
    };
    let mut res = render(&page)?;
    if fresh {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(state, anon_cookie_name(state), Some(&anon)),
        );
    }
    Ok(res)
}

pub async fn form(
    State(state): State<AppState>,
    headers: HeaderMap,
    Query(q): Query<LoginQuery>,
) -> Result<Response, AppError> {
    if signed_in(&state, &headers).await?.is_some() {
        return Ok(Redirect::to("/admin").into_response());
    }
    let next = safe_next(q.next.as_deref().unwrap_or("/admin"));
    login_page(
        &state,
        &headers,
        String::new(),
        next,
        None,
        notice(q.done.as_deref()),
    )
    .await
}

pub async fn submit(
    State(state): State<AppState>,
    ip: axum::Extension<ClientIp>,
    headers: HeaderMap,
    form: FormData,
) -> Result<Response, AppError> {
    let ip = ip.0.to_string();
    let login_id: String = form.get("login_id").trim().chars().take(64).collect();
    let password = form.get("password");
    let next = safe_next(form.get("next"));
    let db = state.db();

    let throttled = throttle::is_throttled(db, &login_id, &ip, state.config().throttle).await?;
    let record = if throttled {
        None
    } else {
        staff::find_for_login(db, &login_id).await?
    };
    // Verify even for unknown IDs so timing does not reveal which IDs exist.
    let hash = record.as_ref().map(|r| r.password_hash.clone());
    let password_ok = !throttled && staff::verify_password(hash, password).await;
    let admitted = record.filter(|r| password_ok && !r.disabled);

    let Some(found) = admitted else {
        throttle::record_failure(db, &login_id, &ip).await?;
        let reason = if throttled {
            "試行回数の上限により拒否"
        } else {
            "IDまたはパスワードの誤り、または無効なアカウント"
        };
        audit::record(
            db,
            &NewEntry {
                staff_id: None,
                staff_login: login_id.clone(),
                ip,
                action: "login.failed".into(),
                object: format!("login:{login_id}"),
                summary: reason.into(),
            },
        )
        .await?;
        return login_page(
            &state,
            &headers,
            login_id,
            next,
            Some(GENERIC_FAILURE),
            None,
        )
        .await;
    };

    throttle::clear_account(db, &login_id).await?;
    // A new session id at every login; any session the browser held ends.
    if let Some(old) = cookie(&headers, session_cookie_name(&state)) {
        sessions::delete(db, &old).await?;
    }
    let agent = headers
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("");
    let token = sessions::create(db, found.id, &ip, agent).await?;
    audit::record(
        db,
        &NewEntry {
            staff_id: Some(found.id),
            staff_login: login_id.to_ascii_lowercase(),
            ip,
            action: "login".into(),
            object: format!("staff:{}", found.id),
            summary: "ログイン".into(),
        },
    )
    .await?;
    let mut res = Redirect::to(&next).into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, session_cookie_name(&state), Some(&token)),
    );
    Ok(res)
}

pub async fn logout(State(state): State<AppState>, me: CurrentStaff) -> Result<Response, AppError> {
    sessions::delete(state.db(), &me.session_token).await?;
    audit::record(
        state.db(),
        &me.entry(
            "logout",
            format!("staff:{}", me.staff.id),
            "ログアウト".into(),
        ),
    )
    .await?;
    let mut res = Redirect::to("/admin/login?done=logout").into_response();
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, session_cookie_name(&state), None),
    );
    Ok(res)
}
