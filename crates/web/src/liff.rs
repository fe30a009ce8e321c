//! Forms for residents inside LINE (LIFF; issue 6, M05, M08, M26).
//!
//! `GET /liff/forms/{id}` without a session serves a small start page that
//! loads the LIFF SDK named by the channel's settings (LINE's CDN, or the
//! simulator's stand-in at `{api_base}/liff/sdk.js`), gets the ID token with
//! `liff.getIDToken()` and posts it to `POST /liff/session`. The server
//! verifies the token with LINE (`Client::verify_id_token` against the
//! channel's LINE Login channel id), finds the friend by the `sub` LINE
//! returns and sets a short-lived session cookie bound to that friend. The
//! friend is never taken from anything else the page sends.
//!
//! With the session, the same URL shows the form filled with the friend's
//! current answers (M08); it is posted with a CSRF token bound to the session
//! and validated with a Japanese message per field; a thank-you page follows.
//!
//! The LIFF app's endpoint URL is `{public_url}/liff`, so a LIFF URL
//! `https://liff.line.me/{liffId}/forms/{id}` opens `{public_url}/liff/forms/{id}`.

use std::time::Duration;

use askama::Template;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use chrono::Utc;
use hiroba_domain::forms::validate;
use hiroba_domain::validation::FieldErrors;
use hiroba_line::login::IdTokenError;
use hiroba_store::forms::{self, StoredForm, Submitter};
use hiroba_store::line::{self, Channel, ChannelSettings, FriendStatus};
use hiroba_store::{StoreError, attributes};

use crate::AppState;
use crate::auth::{cookie, set_cookie};
use crate::csrf::{anon_cookie_name, anon_token, liff_token};
use crate::error::AppError;
use crate::form::FormData;
use crate::form_view::{self, ItemView};

/// How long a LIFF session lasts: long enough to fill in a form.
const SESSION_MINUTES: i64 = 30;
/// LINE's own SDK, for a channel on LINE's hosts.
const LINE_SDK: &str = "https://static.line-scdn.net/liff/edge/2/sdk.js";

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/liff/forms/{id}", get(show).post(submit))
        .route("/liff/forms/{id}/thanks", get(thanks))
        .route("/liff/session", post(session))
}

pub fn cookie_name(state: &AppState) -> &'static str {
    if state.config().https {
        "__Host-hiroba_liff"
    } else {
        "hiroba_liff"
    }
}

pub use hiroba_store::forms::form_link;

/// Where the page loads the LIFF SDK from, and the origins it talks to.
fn sdk(settings: &ChannelSettings) -> (String, String) {
    let base = settings.api_base.trim_end_matches('/');
    if base == line::LINE_API_BASE {
        (
            LINE_SDK.to_owned(),
            "https://static.line-scdn.net".to_owned(),
        )
    } else {
        (format!("{base}/liff/sdk.js"), base.to_owned())
    }
}

/// The start page's policy: no inline code; scripts from here and the SDK's
/// origin; connections to here, LINE and the SDK's origin.
fn csp(sdk_origin: &str) -> String {
    format!(
        "default-src 'self'; script-src 'self' {sdk_origin}; style-src 'self'; img-src 'self' data:; \
         font-src 'self'; connect-src 'self' {sdk_origin} https://api.line.me https://access.line.me \
         https://liffsdk.line-scdn.net; form-action 'self'; frame-ancestors 'none'; base-uri 'none'; \
         object-src 'none'"
    )
}

#[derive(Template)]
#[template(path = "liff/start.html")]
struct StartPage {
    title: String,
    town: String,
    liff_id: String,
    sdk_url: String,
    csrf: String,
    next: String,
}

#[derive(Template)]
#[template(path = "liff/form.html")]
struct FormPage {
    title: String,
    town: String,
    csrf: String,
    form_id: i64,
    description: String,
    answered_before: bool,
    items: Vec<ItemView>,
    errors: FieldErrors,
}

#[derive(Template)]
#[template(path = "liff/message.html")]
struct MessagePage {
    title: String,
    town: String,
    heading: String,
    message: String,
    back: Option<String>,
}

fn page(t: &impl Template) -> Result<Response, AppError> {
    Ok(Html(t.render()?).into_response())
}

async fn town(state: &AppState) -> Result<String, AppError> {
    Ok(hiroba_store::settings::load(state.db()).await?.town_name)
}

async fn message(
    state: &AppState,
    status: StatusCode,
    heading: &str,
    text: &str,
    back: Option<String>,
) -> Result<Response, AppError> {
    let mut res = page(&MessagePage {
        title: heading.to_owned(),
        town: town(state).await?,
        heading: heading.to_owned(),
        message: text.to_owned(),
        back,
    })?;
    *res.status_mut() = status;
    Ok(res)
}

/// The friend of this request's LIFF session, with its token.
async fn friend_of(
    state: &AppState,
    headers: &HeaderMap,
) -> Result<Option<(i64, String)>, AppError> {
    let Some(token) = cookie(headers, cookie_name(state)) else {
        return Ok(None);
    };
    Ok(forms::resolve_liff_session(state.db(), &token)
        .await?
        .map(|id| (id, token)))
}

/// A form residents may open: for residents (not staff-only) and known.
async fn resident_form(state: &AppState, id: i64) -> Result<StoredForm, AppError> {
    let form = forms::get(state.db(), id).await?;
    if !form.header.kind.for_residents() {
        return Err(AppError::NotFound);
    }
    Ok(form)
}

async fn closed(state: &AppState, form: &StoredForm) -> Result<Response, AppError> {
    message(
        state,
        StatusCode::OK,
        &form.header.title,
        "このフォームの受付は終了しました。ご協力ありがとうございました。",
        None,
    )
    .await
}

async fn show(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let form = resident_form(&state, id).await?;
    if !form.is_open {
        return closed(&state, &form).await;
    }
    if let Some((friend, token)) = friend_of(&state, &headers).await? {
        return form_page(&state, &form, friend, &token, None).await;
    }
    let settings = line::load_channel(state.db(), state.secrets(), Channel::Production).await?;
    let Some(settings) = settings.filter(|s| !s.liff_id.is_empty()) else {
        return message(
            &state,
            StatusCode::SERVICE_UNAVAILABLE,
            &form.header.title,
            "ただいまこのフォームを開けません。時間をおいて、LINEのトーク画面からもう一度開いてください。",
            None,
        )
        .await;
    };
    let (anon, fresh) = match cookie(&headers, anon_cookie_name(&state)) {
        Some(v) => (v, false),
        None => (hiroba_store::sessions::new_token()?, true),
    };
    let (sdk_url, sdk_origin) = sdk(&settings);
    let mut res = page(&StartPage {
        title: form.header.title.clone(),
        town: town(&state).await?,
        liff_id: settings.liff_id.clone(),
        sdk_url,
        csrf: anon_token(&state, &anon),
        next: format!("/liff/forms/{id}"),
    })?;
    if fresh {
        res.headers_mut().append(
            header::SET_COOKIE,
            set_cookie(&state, anon_cookie_name(&state), Some(&anon)),
        );
    }
    if let Ok(v) = HeaderValue::from_str(&csp(&sdk_origin)) {
        res.headers_mut().insert(header::CONTENT_SECURITY_POLICY, v);
    }
    Ok(res)
}

async fn form_page(
    state: &AppState,
    form: &StoredForm,
    friend: i64,
    token: &str,
    posted: Option<(&FormData, FieldErrors)>,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let latest = forms::latest_response(state.db(), form.id, friend).await?;
    let (values, errors) = match posted {
        Some((data, errors)) => (form_view::posted(&form.items, data), errors),
        None => {
            let current = attributes::answers(state.db(), friend).await?;
            (
                form_view::prefill(&form.items, &current, latest.as_ref().map(|l| &l.1)),
                FieldErrors::new(),
            )
        }
    };
    page(&FormPage {
        title: form.header.title.clone(),
        town: town(state).await?,
        csrf: liff_token(state, token),
        form_id: form.id,
        description: form.header.description.clone(),
        answered_before: latest.is_some(),
        items: form_view::items(&form.items, &catalog, &values),
        errors,
    })
}

fn plain(status: StatusCode, text: &str) -> Response {
    (
        status,
        [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
        text.to_owned(),
    )
        .into_response()
}

/// `POST /liff/session`: the page's ID token, verified with LINE, opens a
/// session for the friend LINE names. Answers in plain Japanese text.
async fn session(State(state): State<AppState>, form: FormData) -> Result<Response, AppError> {
    const RETRY: &str =
        "LINEで本人を確認できませんでした。LINEのトーク画面からもう一度開いてください。";
    let id_token = form.get("id_token").trim().to_owned();
    if id_token.is_empty() {
        return Ok(plain(StatusCode::UNAUTHORIZED, RETRY));
    }
    let settings = line::load_channel(state.db(), state.secrets(), Channel::Production).await?;
    let Some(settings) = settings.filter(|s| !s.login_channel_id.is_empty()) else {
        return Ok(plain(
            StatusCode::SERVICE_UNAVAILABLE,
            "ただいま本人確認ができません。時間をおいてもう一度お試しください。",
        ));
    };
    let client = hiroba_jobs::line_api::client_for(&settings, Duration::from_secs(5), 1)
        .map_err(AppError::Internal)?;
    let claims = match client
        .verify_id_token(&id_token, &settings.login_channel_id)
        .await
    {
        Ok(c) => c,
        Err(IdTokenError::Refused { reason, .. }) => {
            tracing::info!(?reason, "LIFF ID token refused");
            return Ok(plain(StatusCode::UNAUTHORIZED, reason.message_ja()));
        }
        Err(IdTokenError::Unavailable(e)) => {
            tracing::warn!(error = %e, "LINE ID token verification unavailable");
            return Ok(plain(
                StatusCode::SERVICE_UNAVAILABLE,
                "ただいま本人確認ができません。時間をおいてもう一度お試しください。",
            ));
        }
    };
    let friend = line::friend_by_user(state.db(), Channel::Production, &claims.sub).await?;
    let Some(friend) = friend.filter(|f| f.status == FriendStatus::Friend) else {
        return Ok(plain(
            StatusCode::FORBIDDEN,
            "このアカウントを友だち追加してから、トーク画面のリンクを開いてください。",
        ));
    };
    let token = forms::create_liff_session(
        state.db(),
        friend.id,
        chrono::Duration::minutes(SESSION_MINUTES),
    )
    .await?;
    let mut res = plain(StatusCode::OK, "ok");
    res.headers_mut().append(
        header::SET_COOKIE,
        set_cookie(&state, cookie_name(&state), Some(&token)),
    );
    Ok(res)
}

async fn reopen(state: &AppState) -> Result<Response, AppError> {
    message(
        state,
        StatusCode::UNAUTHORIZED,
        "もう一度開いてください",
        "時間がたったため、入力内容を受け付けられませんでした。LINEのトーク画面からもう一度開いてください。",
        None,
    )
    .await
}

async fn submit(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
    data: FormData,
) -> Result<Response, AppError> {
    let form = resident_form(&state, id).await?;
    let Some((friend, token)) = friend_of(&state, &headers).await? else {
        return reopen(&state).await;
    };
    if !form.is_open {
        return closed(&state, &form).await;
    }
    let catalog = attributes::catalog(state.db()).await?;
    let inputs = form_view::posted(&form.items, &data);
    let submission = match validate(form.header.kind, &form.items, &catalog, &inputs) {
        Ok(s) => s,
        Err(errors) => {
            return form_page(&state, &form, friend, &token, Some((&data, errors))).await;
        }
    };
    let mut tx = state.db().begin().await?;
    let who = Submitter {
        friend_id: Some(friend),
        staff_id: None,
    };
    match forms::submit(
        &mut tx,
        form.id,
        form.header.kind,
        who,
        &submission,
        Utc::now(),
    )
    .await
    {
        Ok(_) => {}
        Err(StoreError::Invalid(m)) => {
            let mut errors = FieldErrors::new();
            errors.add("form", m);
            return form_page(&state, &form, friend, &token, Some((&data, errors))).await;
        }
        Err(e) => return Err(e.into()),
    }
    tx.commit().await?;
    Ok(Redirect::to(&format!("/liff/forms/{id}/thanks")).into_response())
}

async fn thanks(
    State(state): State<AppState>,
    headers: HeaderMap,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let form = resident_form(&state, id).await?;
    if friend_of(&state, &headers).await?.is_none() {
        return reopen(&state).await;
    }
    let text = if form.header.kind.writes_attributes() {
        "登録しました。ありがとうございます。内容はいつでもこのページから確認・変更できます。この画面を閉じてLINEにお戻りください。"
    } else {
        "回答を受け付けました。ご協力ありがとうございました。この画面を閉じてLINEにお戻りください。"
    };
    message(
        &state,
        StatusCode::OK,
        "ありがとうございました",
        text,
        form.header
            .kind
            .writes_attributes()
            .then(|| format!("/liff/forms/{id}")),
    )
    .await
}
