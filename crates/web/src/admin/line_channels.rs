//! The two Messaging API channels (本番・テスト, M12, S04): ids, the channel
//! secret and access token (write-only: sealed in the database and never shown
//! again after entry), the API hosts, the LIFF settings, and a connection check
//! that calls LINE's bot info endpoint.

use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::datetime::format_datetime;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::line::{self, Channel, ChannelOverview, ChannelSettings};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

pub struct ChannelRow {
    code: &'static str,
    label: &'static str,
    configured: bool,
    channel_id: String,
    api_base: String,
    updated: String,
    webhook_url: String,
}

#[derive(Template)]
#[template(path = "admin/line_channels.html")]
struct ListPage {
    layout: Layout,
    channels: Vec<ChannelRow>,
    /// How far the event worker is behind (both channels).
    backlog: line::EventBacklog,
}

fn parse_channel(code: &str) -> Result<Channel, AppError> {
    Channel::parse(code).ok_or(AppError::NotFound)
}

fn webhook_url(state: &AppState, channel: Channel) -> String {
    format!(
        "{}/line/webhook/{channel}",
        state.config().public_url.trim_end_matches('/')
    )
}

pub async fn list(State(state): State<AppState>, me: CurrentStaff) -> Result<Response, AppError> {
    let mut channels = Vec::new();
    for channel in Channel::ALL {
        let o = line::channel_overview(state.db(), channel).await?;
        channels.push(ChannelRow {
            code: channel.as_str(),
            label: channel.label_ja(),
            configured: o.has_secret && o.has_token,
            channel_id: o.channel_id,
            api_base: o.api_base,
            updated: o.updated_at.map(format_datetime).unwrap_or_default(),
            webhook_url: webhook_url(&state, channel),
        });
    }
    let backlog = line::event_backlog(state.db()).await?;
    let layout = me.page(&state, "LINE公式アカウントの接続", None).await?;
    render(&ListPage {
        layout,
        channels,
        backlog,
    })
}

/// The form's values; the secret and the token are never echoed back.
#[derive(Default)]
pub struct ChannelForm {
    channel_id: String,
    api_base: String,
    api_data_base: String,
    login_channel_id: String,
    liff_id: String,
}

impl ChannelForm {
    fn of(o: &ChannelOverview) -> Self {
        Self {
            channel_id: o.channel_id.clone(),
            api_base: o.api_base.clone(),
            api_data_base: o.api_data_base.clone(),
            login_channel_id: o.login_channel_id.clone(),
            liff_id: o.liff_id.clone(),
        }
    }

    fn from_form(form: &FormData) -> Self {
        Self {
            channel_id: form.get("channel_id").trim().to_owned(),
            api_base: form.get("api_base").trim().to_owned(),
            api_data_base: form.get("api_data_base").trim().to_owned(),
            login_channel_id: form.get("login_channel_id").trim().to_owned(),
            liff_id: form.get("liff_id").trim().to_owned(),
        }
    }
}

/// The outcome of a connection check, shown on the edit page.
pub struct CheckResult {
    ok: bool,
    lines: Vec<(&'static str, String)>,
}

#[derive(Template)]
#[template(path = "admin/line_channel.html")]
struct EditPage {
    layout: Layout,
    code: &'static str,
    errors: FieldErrors,
    form: ChannelForm,
    has_secret: bool,
    has_token: bool,
    webhook_url: String,
    check: Option<CheckResult>,
}

async fn edit_page(
    state: &AppState,
    me: &CurrentStaff,
    channel: Channel,
    errors: FieldErrors,
    form: Option<ChannelForm>,
    check: Option<CheckResult>,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let overview = line::channel_overview(state.db(), channel).await?;
    let layout = me
        .page(
            state,
            &format!("{}アカウントの接続設定", channel.label_ja()),
            notice_text,
        )
        .await?;
    render(&EditPage {
        layout,
        code: channel.as_str(),
        errors,
        form: form.unwrap_or_else(|| ChannelForm::of(&overview)),
        has_secret: overview.has_secret,
        has_token: overview.has_token,
        webhook_url: webhook_url(state, channel),
        check,
    })
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(code): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let channel = parse_channel(&code)?;
    edit_page(
        &state,
        &me,
        channel,
        FieldErrors::new(),
        None,
        None,
        notice(q.done.as_deref()),
    )
    .await
}

/// An API host: https, or http only to this machine (the simulator).
fn base_url(raw: &str, label: &str) -> Result<String, String> {
    let url = raw.trim().trim_end_matches('/');
    let local = ["http://127.0.0.1", "http://localhost", "http://[::1]"]
        .iter()
        .any(|p| url.starts_with(p));
    let host = url.strip_prefix("https://").unwrap_or_default();
    let valid_host = !host.is_empty()
        && host
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || ".-:".contains(c));
    if valid_host || local {
        Ok(url.to_owned())
    } else {
        Err(format!(
            "{label}は https:// で始まるアドレスを入力してください（例: https://api.line.me）。"
        ))
    }
}

fn digits(raw: &str, label: &str) -> Result<String, String> {
    if raw.is_empty() || (raw.len() <= 20 && raw.chars().all(|c| c.is_ascii_digit())) {
        Ok(raw.to_owned())
    } else {
        Err(format!(
            "{label}は LINE Developers に表示される半角数字で入力してください。"
        ))
    }
}

/// A credential as typed: printable ASCII without spaces. `Ok(None)` keeps the
/// stored one.
fn credential(raw: &str, label: &str, min: usize, max: usize) -> Result<Option<String>, String> {
    let value = raw.trim();
    if value.is_empty() {
        return Ok(None);
    }
    if value.len() < min || value.len() > max || !value.chars().all(|c| c.is_ascii_graphic()) {
        return Err(format!(
            "{label}は LINE Developers からそのまま貼り付けてください（半角英数字 {min}〜{max}文字、空白なし）。"
        ));
    }
    Ok(Some(value.to_owned()))
}

fn liff_id(raw: &str) -> Result<String, String> {
    let ok = raw.is_empty()
        || (raw.len() <= 64
            && raw
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
    if ok {
        Ok(raw.to_owned())
    } else {
        Err("LIFF ID は「1234567890-AbCdEfGh」の形で入力してください。".into())
    }
}

pub async fn save(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(code): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let channel = parse_channel(&code)?;
    let typed = ChannelForm::from_form(&form);
    let mut errors = FieldErrors::new();
    let channel_id = errors.take("channel_id", digits(&typed.channel_id, "チャネルID"));
    let api_base = errors.take("api_base", base_url(&typed.api_base, "APIのアドレス"));
    let api_data_base = errors.take(
        "api_data_base",
        base_url(&typed.api_data_base, "画像用APIのアドレス"),
    );
    let login_channel_id = errors.take(
        "login_channel_id",
        digits(&typed.login_channel_id, "LINEログインのチャネルID"),
    );
    let liff = errors.take("liff_id", liff_id(&typed.liff_id));
    let secret = errors.take(
        "channel_secret",
        credential(form.get("channel_secret"), "チャネルシークレット", 16, 128),
    );
    let token = errors.take(
        "access_token",
        credential(
            form.get("access_token"),
            "チャネルアクセストークン",
            16,
            1024,
        ),
    );
    let (
        Some(channel_id),
        Some(api_base),
        Some(api_data_base),
        Some(login_channel_id),
        Some(liff_id),
        Some(secret),
        Some(token),
    ) = (
        channel_id,
        api_base,
        api_data_base,
        login_channel_id,
        liff,
        secret,
        token,
    )
    else {
        return edit_page(&state, &me, channel, errors, Some(typed), None, None).await;
    };
    let before = line::load_channel(state.db(), state.secrets(), channel)
        .await?
        .unwrap_or_else(|| ChannelSettings::unconfigured(channel));
    let clear_secret = form.get("clear_secret") == "1";
    let clear_token = form.get("clear_token") == "1";
    let after = ChannelSettings {
        kind: channel,
        channel_id,
        channel_secret: match (&secret, clear_secret) {
            (Some(s), _) => s.clone(),
            (None, true) => String::new(),
            (None, false) => before.channel_secret.clone(),
        },
        access_token: match (&token, clear_token) {
            (Some(t), _) => t.clone(),
            (None, true) => String::new(),
            (None, false) => before.access_token.clone(),
        },
        api_base,
        api_data_base,
        login_channel_id,
        liff_id,
    };
    // The summary names what changed, never a secret's value.
    let changed = |old: &str, new: &str| if old == new { "変更なし" } else { "変更" };
    let summary = format!(
        "チャネルID: {} → {}; シークレット: {}; アクセストークン: {}; API: {} → {}; 画像API: {} → {}; LINEログイン: {} → {}; LIFF: {} → {}",
        before.channel_id,
        after.channel_id,
        changed(&before.channel_secret, &after.channel_secret),
        changed(&before.access_token, &after.access_token),
        before.api_base,
        after.api_base,
        before.api_data_base,
        after.api_data_base,
        before.login_channel_id,
        after.login_channel_id,
        before.liff_id,
        after.liff_id,
    );
    let mut tx = state.db().begin().await?;
    line::save_channel(&mut tx, state.secrets(), &after).await?;
    me.commit_logged(
        tx,
        "line.channel_update",
        format!("line:{channel}"),
        summary,
    )
    .await?;
    state.ingest().forget_secrets();
    Ok(Redirect::to(&format!("/admin/line/channels/{channel}?done=saved")).into_response())
}

/// Calls the bot info endpoint with the stored settings and shows what LINE
/// answered (or why it did not).
pub async fn check(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(code): Path<String>,
) -> Result<Response, AppError> {
    let channel = parse_channel(&code)?;
    let settings = line::load_channel(state.db(), state.secrets(), channel).await?;
    let result = match settings.filter(|s| !s.access_token.is_empty()) {
        None => CheckResult {
            ok: false,
            lines: vec![(
                "結果",
                "チャネルアクセストークンが未設定です。先に保存してください。".into(),
            )],
        },
        Some(settings) => {
            match hiroba_jobs::line_api::client_for(&settings, Duration::from_secs(5), 0) {
                Err(e) => CheckResult {
                    ok: false,
                    lines: vec![("結果", format!("接続の準備に失敗しました: {e}"))],
                },
                Ok(client) => {
                    let started = Instant::now();
                    let answer = client.get_bot_info().await;
                    hiroba_jobs::line_api::log_call(
                        state.db(),
                        channel,
                        "GET /v2/bot/info",
                        "接続確認",
                        &answer,
                        started,
                    )
                    .await;
                    check_result(answer)
                }
            }
        }
    };
    let summary = format!("接続確認: {}", if result.ok { "成功" } else { "失敗" });
    hiroba_store::audit::record(
        state.db(),
        &me.entry("line.channel_check", format!("line:{channel}"), summary),
    )
    .await?;
    edit_page(
        &state,
        &me,
        channel,
        FieldErrors::new(),
        None,
        Some(result),
        None,
    )
    .await
}

fn check_result(
    answer: Result<
        hiroba_line::client::ApiResponse<hiroba_line::request::BotInfo>,
        hiroba_line::client::Error,
    >,
) -> CheckResult {
    match answer {
        Ok(res) => {
            let bot = res.data;
            let mut lines = vec![
                ("結果", "接続できました。".to_owned()),
                ("アカウント名", bot.display_name),
                ("ベーシックID", bot.basic_id),
            ];
            if let Some(premium) = bot.premium_id {
                lines.push(("プレミアムID", premium));
            }
            lines.push(("チャットモード", bot.chat_mode));
            if let Some(id) = res.meta.request_id {
                lines.push(("リクエストID", id));
            }
            CheckResult { ok: true, lines }
        }
        Err(e) => {
            let reason = match e.status() {
                Some(401) => "チャネルアクセストークンが正しくありません（401）。LINE Developers で発行し直して保存してください。".to_owned(),
                Some(403) => "このチャネルでは使えない操作です（403）。".to_owned(),
                Some(429) => "LINEの利用回数の上限に達しています（429）。時間をおいて確認してください。".to_owned(),
                Some(status) => format!("LINEがエラーを返しました（{status}）。"),
                None if e.is_timeout() => "LINEから応答がありません（タイムアウト）。APIのアドレスと通信経路を確認してください。".to_owned(),
                None => "LINEに接続できません。APIのアドレスと通信経路を確認してください。".to_owned(),
            };
            let mut lines = vec![("結果", reason)];
            if let Some(id) = e.meta().and_then(|m| m.request_id.clone()) {
                lines.push(("リクエストID", id));
            }
            CheckResult { ok: false, lines }
        }
    }
}
