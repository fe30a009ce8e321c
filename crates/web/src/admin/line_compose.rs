//! メッセージの作成・プレビュー (issue 6, M07, M12): the composer on a page of
//! its own, with a test push of the composed messages to one friend of the
//! test account. Deliveries embed the same composer later.

use std::time::{Duration, Instant};

use askama::Template;
use axum::extract::State;
use axum::response::{Html, IntoResponse, Response};
use hiroba_domain::permission::Permission;
use hiroba_domain::validation::FieldErrors;
use hiroba_line::Message;
use hiroba_store::line::{self, Channel, Direction, FriendFilter, FriendStatus, NewTalk};

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::composer::{Action, Composer, ComposerState, ComposerView, Posted};
use crate::error::AppError;
use crate::view::Layout;

const PREVIEW: &str = "/admin/line/compose/preview";
/// Test friends offered in the list at most.
const MAX_TEST_FRIENDS: i64 = 200;

pub struct FriendOption {
    id: i64,
    name: String,
}

#[derive(Template)]
#[template(path = "admin/line_compose.html")]
struct ComposePage {
    layout: Layout,
    composer: String,
    may_send: bool,
    test_configured: bool,
    friends: Vec<FriendOption>,
    push_to: String,
    errors: FieldErrors,
}

/// The page with the composer in `composer_state`; `errors` may hold the
/// composer's fields and `push_to`.
async fn page(
    state: &AppState,
    me: &CurrentStaff,
    composer_state: &ComposerState,
    errors: FieldErrors,
    push_to: String,
    notice: Option<String>,
) -> Result<Response, AppError> {
    let may_send = me.staff.may(Permission::MessagingSend);
    let (test_configured, friends) = if may_send {
        let configured = line::load_channel(state.db(), state.secrets(), Channel::Test)
            .await?
            .is_some_and(|s| !s.access_token.is_empty());
        let filter = FriendFilter {
            name: None,
            status: Some(FriendStatus::Friend),
        };
        let friends = line::search_friends(state.db(), Channel::Test, &filter, MAX_TEST_FRIENDS, 0)
            .await?
            .into_iter()
            .map(|f| FriendOption {
                id: f.id,
                name: if f.display_name.is_empty() {
                    format!("（名前未取得） {}", f.user_id)
                } else {
                    f.display_name
                },
            })
            .collect();
        (configured, friends)
    } else {
        (false, Vec::new())
    };
    // The composer shows its own fields' problems; the page only the recipient's.
    let mut composer_errors = FieldErrors::new();
    for (field, message) in errors.iter().filter(|(f, _)| *f != "push_to") {
        composer_errors.add(field, message);
    }
    let composer = view(state, composer_state, composer_errors).render()?;
    let layout = me
        .page(state, "メッセージの作成・プレビュー", notice)
        .await?;
    render(&ComposePage {
        layout,
        composer,
        may_send,
        test_configured,
        friends,
        push_to,
        errors,
    })
}

fn view(state: &AppState, composer_state: &ComposerState, errors: FieldErrors) -> ComposerView {
    ComposerView::new(composer_state, errors, &state.config().public_url, PREVIEW)
}

pub async fn form(State(state): State<AppState>, me: CurrentStaff) -> Result<Response, AppError> {
    page(
        &state,
        &me,
        &ComposerState::new(),
        FieldErrors::new(),
        String::new(),
        None,
    )
    .await
}

/// The composer's buttons: uploads are stored, the action applied, and the
/// page (or, for the script, the composer alone) rendered with the state.
pub async fn submit(
    State(state): State<AppState>,
    me: CurrentStaff,
    posted: Posted,
) -> Result<Response, AppError> {
    let (mut composer, mut errors) = Composer::from_form(&posted.form);
    let action = posted.action();
    Composer::store_uploads(&state, &me, &mut composer, posted.uploads, &mut errors).await?;
    if let Err((field, message)) = composer.apply(&action) {
        errors.add(&field, message);
    }
    if action == Action::Check
        && let Err(problems) = composer.messages()
    {
        for (field, message) in problems.iter() {
            errors.add(field, message);
        }
    }
    if posted.fragment {
        return Ok(Html(view(&state, &composer, errors).render()?).into_response());
    }
    let push_to = posted.form.get("push_to").to_owned();
    page(&state, &me, &composer, errors, push_to, None).await
}

/// The live preview for the script: the phone-like HTML of the posted state.
pub async fn preview(
    State(_state): State<AppState>,
    _me: CurrentStaff,
    posted: Posted,
) -> Result<Response, AppError> {
    let (composer, _) = Composer::from_form(&posted.form);
    Ok(Html(composer.preview_html()).into_response())
}

/// One line of the talk log for a sent message.
fn summary(m: &serde_json::Value) -> (String, String) {
    let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
    let kind = s("type");
    let text = match kind.as_str() {
        "text" => {
            crate::composer::collapse_emojis(&s("text"), m.get("emojis").and_then(|e| e.as_array()))
        }
        "image" => "［画像］".to_owned(),
        "imagemap" => format!("［イメージマップ］{}", s("altText")),
        "flex" => format!("［Flex］{}", s("altText")),
        other => format!("［{other}］"),
    };
    (kind, text)
}

/// テスト送信: a push of the composed messages to one friend of the test
/// account. The call goes to the API log, each message to the talk log, and
/// the send to the operation log; nothing is recorded unless LINE took it.
pub async fn test_push(
    State(state): State<AppState>,
    me: CurrentStaff,
    posted: Posted,
) -> Result<Response, AppError> {
    let (mut composer, mut errors) = Composer::from_form(&posted.form);
    Composer::store_uploads(&state, &me, &mut composer, posted.uploads, &mut errors).await?;
    let push_to = posted.form.get("push_to").trim().to_owned();
    let typed: Vec<Message> = match composer.typed_messages() {
        Ok(list) => list,
        Err(problems) => {
            for (field, message) in problems.iter() {
                errors.add(field, message);
            }
            Vec::new()
        }
    };
    let friend = match push_to.parse::<i64>() {
        Ok(id) => match line::find_friend(state.db(), id).await {
            Ok(f) if f.channel == Channel::Test => Some(f),
            Ok(_) | Err(hiroba_store::StoreError::NotFound) => None,
            Err(e) => return Err(e.into()),
        },
        Err(_) => None,
    };
    match &friend {
        None => errors.add("push_to", "送信先のテスト用の友だちを選んでください。"),
        Some(f) if f.status == FriendStatus::Blocked => errors.add(
            "push_to",
            "この友だちはアカウントをブロックしているため、メッセージを送れません。",
        ),
        Some(_) => {}
    }
    let settings = line::load_channel(state.db(), state.secrets(), Channel::Test)
        .await?
        .filter(|s| !s.access_token.is_empty());
    if settings.is_none() {
        errors.add(
            "push_to",
            "テストアカウントの接続設定（チャネルアクセストークン）がありません。システム設定の「LINE公式アカウントの接続」で設定してください。",
        );
    }
    let (Some(settings), Some(friend), true) = (settings, friend, errors.is_empty()) else {
        return page(&state, &me, &composer, errors, push_to, None).await;
    };
    let client = hiroba_jobs::line_api::client_for(&settings, Duration::from_secs(10), 2)
        .map_err(AppError::Internal)?;
    let started = Instant::now();
    let result = client.push(&friend.user_id, &typed).await;
    hiroba_jobs::line_api::log_call(
        state.db(),
        Channel::Test,
        "POST /v2/bot/message/push",
        &format!("テスト送信 友だち#{}", friend.id),
        &result,
        started,
    )
    .await;
    if let Err(e) = result {
        let reason = match (&e, e.status()) {
            (hiroba_line::Error::Invalid(v), _) => v.ja.clone(),
            (_, Some(400)) => {
                "LINEがこのメッセージを受け付けませんでした（400）。内容を見直してください。"
                    .to_owned()
            }
            (_, Some(401)) => {
                "チャネルアクセストークンが正しくありません（401）。接続設定を確認してください。"
                    .to_owned()
            }
            (_, Some(429)) => {
                "LINEの送信数の上限に達しました（429）。時間をおいて送ってください。".to_owned()
            }
            (_, Some(status)) => {
                format!("LINEがエラーを返しました（{status}）。時間をおいて送ってください。")
            }
            (_, None) => "LINEに接続できませんでした。送信されていない可能性があります。時間をおいて送ってください。".to_owned(),
        };
        errors.add("push_to", reason);
        return page(&state, &me, &composer, errors, push_to, None).await;
    }
    let now = chrono::Utc::now();
    let mut tx = state.db().begin().await?;
    let mut kinds = Vec::new();
    for m in &typed {
        let json = m.to_json();
        let (kind, text) = summary(&json);
        line::append_talk(
            &mut tx,
            &NewTalk {
                channel: Channel::Test,
                user_id: &friend.user_id,
                direction: Direction::Out,
                kind: &kind,
                text: &text,
                raw: &json.to_string(),
                at: now,
            },
        )
        .await?;
        kinds.push(
            crate::composer::Kind::parse(&kind)
                .map(|k| k.label_ja())
                .unwrap_or("その他"),
        );
    }
    let name = if friend.display_name.is_empty() {
        format!("友だち#{}", friend.id)
    } else {
        friend.display_name.clone()
    };
    me.commit_logged(
        tx,
        "line.test_push",
        format!("line_friend:{}", friend.id),
        format!(
            "テスト送信: {name} に{}件（{}）",
            typed.len(),
            kinds.join("・")
        ),
    )
    .await?;
    page(
        &state,
        &me,
        &composer,
        FieldErrors::new(),
        push_to,
        Some(format!(
            "テストアカウントの {name} さんに{}件のメッセージを送りました。",
            typed.len()
        )),
    )
    .await
}
