//! `/sim`: simulated users and a phone-like chat view per user. Server-rendered HTML with
//! Japanese labels; no inline script or style (works under a strict CSP); forms POST here and
//! the simulator sends the signed webhook in the background. Bot messages are rendered by
//! `hiroba_line::preview` (the staff composer shows the same markup), with actions as forms
//! that send webhooks and LIFF links opening the LIFF app (see `crate::liff`).

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use hiroba_line::preview::{self, Actions, PREVIEW_CSS};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::UserStatus;
use crate::util::esc;
use crate::{ChatEntry, Sim, liff, util, webhook};

const CSS: &str = include_str!("static/sim.css");
const JS: &str = include_str!("static/sim.js");
/// Rendered width of the rich menu image; taps are scaled back to the menu's size.
const MENU_WIDTH: i64 = 320;

pub(crate) fn router(sim: Sim) -> Router {
    Router::new()
        .route("/sim", get(index))
        .route(
            "/sim/static/sim.css",
            get(|| async { ([(header::CONTENT_TYPE, "text/css; charset=utf-8")], CSS) }),
        )
        .route(
            "/sim/static/preview.css",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/css; charset=utf-8")],
                    PREVIEW_CSS,
                )
            }),
        )
        .route(
            "/sim/static/sim.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    JS,
                )
            }),
        )
        .route("/sim/users", post(add_user))
        .route("/sim/open", post(open_user))
        .route("/sim/u/{userId}/liff", post(do_liff))
        .route("/sim/u/{userId}", get(chat_page))
        .route("/sim/u/{userId}/count", get(chat_count))
        .route("/sim/u/{userId}/follow", post(do_follow))
        .route("/sim/u/{userId}/unfollow", post(do_unfollow))
        .route("/sim/u/{userId}/text", post(do_text))
        .route("/sim/u/{userId}/location", post(do_location))
        .route("/sim/u/{userId}/action", post(do_action))
        .route("/sim/u/{userId}/tap", post(do_tap))
        .route("/sim/richmenu/{richMenuId}/image", get(menu_image))
        .with_state(sim)
}

fn layout(title: &str, body: &str) -> Html<String> {
    Html(format!(
        "<!doctype html>\n<html lang=\"ja\"><head><meta charset=\"utf-8\">\
<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\
<title>{} – LINEシミュレーター</title><link rel=\"stylesheet\" href=\"/sim/static/preview.css\">\
<link rel=\"stylesheet\" href=\"/sim/static/sim.css\">\
<script src=\"/sim/static/sim.js\" defer></script></head><body>{body}</body></html>",
        esc(title)
    ))
}

fn user_path(user_id: &str) -> String {
    format!("/sim/u/{}", esc(user_id))
}

async fn index(State(sim): State<Sim>) -> Html<String> {
    let users = sim.users();
    let webhook = sim.with(|s| s.webhook_url.clone());
    let c = sim.counters();
    let bulk = sim.bulk_len();
    let mut b = String::from("<main class=\"wide\"><h1>LINEシミュレーター</h1>");
    b.push_str(&format!(
        "<p>Webhook送信先: <code>{}</code></p>",
        esc(webhook.as_deref().unwrap_or("（未設定）"))
    ));
    b.push_str("<table><caption>シミュレーターの利用者</caption><thead><tr><th scope=\"col\">表示名</th><th scope=\"col\">ユーザーID</th><th scope=\"col\">状態</th><th scope=\"col\">受信</th><th scope=\"col\">操作</th></tr></thead><tbody>");
    for u in &users {
        let p = user_path(&u.user_id);
        let (action, label) = if u.status == UserStatus::Friend {
            ("unfollow", "ブロック")
        } else {
            ("follow", "友だち追加")
        };
        b.push_str(&format!(
            "<tr><td><a href=\"{p}\">{}</a></td><td><code>{}</code></td><td>{}</td><td>{}</td>\
<td><a class=\"btn\" href=\"{p}\">トークを開く</a> \
<form method=\"post\" action=\"{p}/{action}\" class=\"inline\"><button type=\"submit\">{label}</button></form></td></tr>",
            esc(&u.display_name),
            esc(&u.user_id),
            u.status.label(),
            sim.delivered_to(&u.user_id),
        ));
    }
    if users.is_empty() {
        b.push_str(
            "<tr><td colspan=\"5\">利用者がいません。下のフォームから追加してください。</td></tr>",
        );
    }
    b.push_str("</tbody></table>");
    if bulk > 0 {
        let stats = sim.delivery_stats();
        b.push_str(&format!(
            "<form method=\"post\" action=\"/sim/open\" class=\"card\"><h2>一括登録の利用者: {bulk}人</h2>\
<p>受信した人: {}人（1通ちょうど: {}人、2通以上: {}人）</p>\
<label for=\"no\">番号（1〜{bulk}）またはユーザーID</label><input id=\"no\" name=\"who\" required>\
<button type=\"submit\">トークを開く</button></form>",
            stats.users_reached, stats.exactly_once, stats.more_than_once
        ));
    }
    b.push_str(
        "<form method=\"post\" action=\"/sim/users\" class=\"card\"><h2>利用者を追加</h2>\
<label for=\"name\">表示名</label><input id=\"name\" name=\"display_name\" required maxlength=\"20\">\
<button type=\"submit\">追加する</button></form>",
    );
    b.push_str(&format!(
        "<section class=\"card\"><h2>カウンター</h2><ul><li>Webhook送信: {}</li><li>再送: {}</li>\
<li>送信失敗: {}</li><li>重複抑止 (409): {}</li><li>レート制限 (429): {}</li></ul></section></main>",
        c.webhooks_sent, c.webhooks_redelivered, c.webhooks_failed, c.duplicates_suppressed, c.rate_limited
    ));
    layout("利用者一覧", &b)
}

#[derive(Deserialize)]
struct AddUser {
    display_name: String,
}

async fn add_user(State(sim): State<Sim>, Form(f): Form<AddUser>) -> Redirect {
    let id = util::new_user_id();
    let name = f.display_name.trim();
    sim.add_user(&id, if name.is_empty() { "利用者" } else { name }, None);
    Redirect::to(&format!("/sim/u/{id}"))
}

#[derive(Deserialize)]
struct OpenUser {
    who: String,
}

/// Opens a bulk user's chat by number (1-based) or id.
async fn open_user(State(sim): State<Sim>, Form(f): Form<OpenUser>) -> Response {
    let who = f.who.trim();
    let id = match who.parse::<u32>() {
        Ok(n) if n >= 1 => sim.bulk_user_id(n - 1),
        _ => sim.user(who).map(|u| u.user_id),
    };
    match id {
        Some(id) => Redirect::to(&format!("/sim/u/{id}")).into_response(),
        None => (
            StatusCode::NOT_FOUND,
            layout(
                "見つかりません",
                "<main><p>この利用者はいません。<a href=\"/sim\">一覧へ</a></p></main>",
            ),
        )
            .into_response(),
    }
}

async fn chat_count(State(sim): State<Sim>, Path(user_id): Path<String>) -> String {
    sim.with(|s| {
        let n = s.chats.get(&user_id).map_or(0, Vec::len);
        let w = s.last_webhook.get(&user_id).cloned().unwrap_or_default();
        format!("{n}:{w}")
    })
}

async fn chat_page(State(sim): State<Sim>, Path(user_id): Path<String>) -> Response {
    let Some(user) = sim.user(&user_id) else {
        return (
            StatusCode::NOT_FOUND,
            layout(
                "見つかりません",
                "<main><p>この利用者はいません。<a href=\"/sim\">一覧へ</a></p></main>",
            ),
        )
            .into_response();
    };
    // A bulk user's messages are kept from the moment their chat is opened.
    sim.watch(&user_id);
    let chat = sim.chat(&user_id);
    let (menu, last_webhook) = sim.with(|s| {
        let menu = s.menu_for(&user_id).and_then(|id| {
            s.rich_menus
                .get(&id)
                .map(|m| (id.clone(), m.body.clone(), m.image.is_some()))
        });
        let w = s.last_webhook.get(&user_id).cloned();
        (menu, w)
    });
    let p = user_path(&user_id);
    let count = chat_count(State(sim.clone()), Path(user_id.clone())).await;
    let mut b = format!(
        "<main class=\"sim\"><p><a href=\"/sim\">← 利用者一覧</a></p>\
<div class=\"phone\" id=\"phone\" data-count-url=\"{p}/count\" data-count=\"{}\">\
<div class=\"bar\"><span class=\"bot\">{}</span><span class=\"who\">{} さんの画面</span></div>\
<div class=\"chat\" id=\"chat\" aria-live=\"polite\">",
        esc(&count),
        esc(&sim.config().bot_display_name),
        esc(&user.display_name)
    );
    if chat.is_empty() {
        b.push_str("<p class=\"empty\">まだメッセージはありません。</p>");
    }
    let actions = SimActions::new(&sim, &user_id);
    for e in &chat {
        b.push_str(&render_entry(&actions, e));
    }
    b.push_str("</div>");
    // Quick reply: from the last entry, when it is a bot message.
    if let Some(q) = chat
        .last()
        .filter(|e| e.from_bot)
        .and_then(|e| preview::render_quick_reply_with(&e.message, &actions))
    {
        b.push_str(&q);
    }
    b.push_str(&format!(
        "<form method=\"post\" action=\"{p}/text\" class=\"composer\">\
<label for=\"text\" class=\"sr\">メッセージ</label><input id=\"text\" name=\"text\" required maxlength=\"5000\" placeholder=\"メッセージを入力\" autocomplete=\"off\">\
<button type=\"submit\">送信</button></form>"
    ));
    if let Some((id, body, has_image)) = &menu {
        b.push_str(&render_menu(&actions, id, body, *has_image));
    }
    b.push_str("</div>");
    // Controls beside the phone.
    b.push_str("<aside class=\"controls\"><h1>");
    b.push_str(&esc(&user.display_name));
    b.push_str(&format!(
        "</h1><p><code>{}</code> / 状態: <strong>{}</strong></p>",
        esc(&user.user_id),
        user.status.label()
    ));
    b.push_str(&format!(
        "<p class=\"status\" id=\"webhook-status\">最後のWebhook: {}</p>",
        esc(last_webhook.as_deref().unwrap_or("なし"))
    ));
    let follow = if user.status == UserStatus::Blocked {
        "ブロック解除（友だち追加）"
    } else {
        "友だち追加"
    };
    b.push_str(&format!(
        "<div class=\"row\"><form method=\"post\" action=\"{p}/follow\"><button type=\"submit\">{follow}</button></form>\
<form method=\"post\" action=\"{p}/unfollow\"><button type=\"submit\" class=\"danger\">ブロック</button></form></div>\
<form method=\"post\" action=\"{p}/location\" class=\"card\"><h2>位置情報を送信</h2>\
<label for=\"title\">名称</label><input id=\"title\" name=\"title\" value=\"国富町役場\" required>\
<label for=\"address\">住所</label><input id=\"address\" name=\"address\" value=\"宮崎県東諸県郡国富町大字本庄4800\">\
<label for=\"lat\">緯度</label><input id=\"lat\" name=\"latitude\" value=\"31.9906\" inputmode=\"decimal\" required>\
<label for=\"lon\">経度</label><input id=\"lon\" name=\"longitude\" value=\"131.3236\" inputmode=\"decimal\" required>\
<button type=\"submit\">位置情報を送る</button></form>\
<form method=\"post\" action=\"{p}/action\" class=\"card\"><h2>ポストバック</h2><input type=\"hidden\" name=\"kind\" value=\"postback\">\
<label for=\"data\">data</label><input id=\"data\" name=\"data\" required placeholder=\"action=reserve\">\
<button type=\"submit\">ポストバックを送る</button></form></aside></main>"
    ));
    layout(&user.display_name, &b).into_response()
}

fn render_menu(actions: &SimActions, id: &str, body: &Value, has_image: bool) -> String {
    let p = &actions.path;
    let name = body
        .get("chatBarText")
        .and_then(Value::as_str)
        .unwrap_or("メニュー");
    let mut b = format!(
        "<details class=\"richmenu\" open><summary>{}</summary>",
        esc(name)
    );
    if has_image {
        b.push_str(&format!(
            "<form method=\"post\" action=\"{p}/tap\"><input type=\"hidden\" name=\"menu\" value=\"{}\">\
<input type=\"image\" name=\"tap\" src=\"/sim/richmenu/{}/image\" width=\"{MENU_WIDTH}\" alt=\"リッチメニュー（タップした位置のエリアを送信）\"></form>",
            esc(id),
            esc(id)
        ));
    }
    b.push_str("<div class=\"areas\" role=\"group\" aria-label=\"リッチメニューのエリア\">");
    for (i, area) in body
        .get("areas")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
    {
        if let Some(a) = area.get("action") {
            let fallback = format!("エリア{}", i + 1);
            let label = a
                .get("label")
                .and_then(Value::as_str)
                .filter(|l| !l.is_empty())
                .unwrap_or(&fallback);
            b.push_str(&actions.action(a, label));
        }
    }
    b.push_str("</div></details>");
    b
}

fn render_entry(actions: &SimActions, e: &ChatEntry) -> String {
    // Japan time (UTC+9) without a time-zone database.
    let time = (chrono::DateTime::<chrono::Utc>::from(e.at) + chrono::TimeDelta::hours(9))
        .format("%H:%M")
        .to_string();
    if e.from_bot {
        format!(
            "<div class=\"msg bot\"><div class=\"bubble-wrap\">{}</div><span class=\"meta\">{} {}</span></div>",
            preview::render_message_with(&e.message, actions),
            esc(&e.via),
            time
        )
    } else {
        format!(
            "<div class=\"msg me\"><div class=\"bubble-wrap\">{}</div><span class=\"meta\">{}</span></div>",
            render_user_event(&e.message),
            time
        )
    }
}

fn render_user_event(ev: &Value) -> String {
    let s = |k: &str| ev.pointer(k).and_then(Value::as_str).unwrap_or("");
    match s("/type") {
        "message" => match s("/message/type") {
            "text" => format!(
                "<div class=\"text\">{}</div>",
                esc(s("/message/text")).replace('\n', "<br>")
            ),
            "location" => format!(
                "<div class=\"text\">📍 {}<br><small>{}</small></div>",
                esc(s("/message/title")),
                esc(s("/message/address"))
            ),
            other => format!("<div class=\"text\">[{}]</div>", esc(other)),
        },
        "postback" => match ev.get("displayText").and_then(Value::as_str) {
            Some(t) => format!("<div class=\"text\">{}</div>", esc(t)),
            None => format!(
                "<div class=\"note\">ポストバック: <code>{}</code></div>",
                esc(s("/postback/data"))
            ),
        },
        "follow" => "<div class=\"note\">友だち追加しました</div>".to_owned(),
        "unfollow" => "<div class=\"note\">ブロックしました</div>".to_owned(),
        other => format!("<div class=\"note\">イベント: {}</div>", esc(other)),
    }
}

/// Actions in the chat view: forms that make the simulated user act (webhooks), links that
/// open in a new tab, and LIFF links that open the LIFF app as this user.
struct SimActions {
    path: String,
    /// Whether a URL is a LIFF link of this simulator.
    liff: Box<dyn Fn(&str) -> bool>,
}

impl SimActions {
    fn new(sim: &Sim, user_id: &str) -> Self {
        let config = sim.config().clone();
        SimActions {
            path: user_path(user_id),
            liff: Box::new(move |u| liff::liff_target(&config, u).is_some()),
        }
    }

    fn liff_form(&self, url: &str, label: &str, class: &str) -> String {
        format!(
            "<form method=\"post\" action=\"{}/liff\" target=\"_blank\" class=\"{class}\">\
<input type=\"hidden\" name=\"url\" value=\"{}\"><button type=\"submit\">{} ↗</button></form>",
            self.path,
            esc(url),
            esc(label)
        )
    }
}

impl Actions for SimActions {
    fn action(&self, a: &Value, label: &str) -> String {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
        let p = &self.path;
        let hidden = |name: &str, value: &str| {
            format!(
                "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
                esc(value)
            )
        };
        match s("type") {
            "uri" if (self.liff)(s("uri")) => self.liff_form(s("uri"), label, "action"),
            "uri" => match preview::safe_url(s("uri")) {
                Some(u) => format!(
                    "<a class=\"lp-action\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{} ↗</a>",
                    esc(u),
                    esc(label)
                ),
                None => format!("<span class=\"lp-action lp-off\">{}</span>", esc(label)),
            },
            kind @ ("message" | "postback" | "richmenuswitch" | "datetimepicker") => {
                let mut f =
                    format!("<form method=\"post\" action=\"{p}/action\" class=\"action\">");
                f.push_str(&hidden("kind", kind));
                f.push_str(&hidden("data", s("data")));
                f.push_str(&hidden("text", s("text")));
                f.push_str(&hidden("display_text", s("displayText")));
                f.push_str(&hidden("alias", s("richMenuAliasId")));
                if kind == "datetimepicker" {
                    let (t, mode) = match s("mode") {
                        "time" => ("time", "time"),
                        "datetime" => ("datetime-local", "datetime"),
                        _ => ("date", "date"),
                    };
                    f.push_str(&hidden("mode", mode));
                    f.push_str(&format!(
                        "<label class=\"sr\" for=\"dt-{0}\">{1}</label><input id=\"dt-{0}\" type=\"{t}\" name=\"picked\" required>",
                        esc(&util::random_hex(4)),
                        esc(label)
                    ));
                }
                f.push_str(&format!(
                    "<button type=\"submit\">{}</button></form>",
                    esc(label)
                ));
                f
            }
            other => format!(
                "<span class=\"lp-action lp-off\" title=\"{}\">{}</span>",
                esc(other),
                esc(label)
            ),
        }
    }

    fn link(&self, url: &str, text: &str) -> String {
        if (self.liff)(url) {
            return self.liff_form(url, text, "inline liff");
        }
        match preview::safe_url(url) {
            Some(u) => format!(
                "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
                esc(u),
                esc(text)
            ),
            None => esc(text),
        }
    }
}

// --- actions -----------------------------------------------------------------------------

fn spawn_webhook<F>(fut: F)
where
    F: std::future::Future<Output = Result<webhook::WebhookOutcome, webhook::SimError>>
        + Send
        + 'static,
{
    tokio::spawn(async move {
        if let Err(e) = fut.await {
            tracing::warn!(error = %e, "simulated user's webhook not sent");
        }
    });
}

fn back(user_id: &str) -> Redirect {
    Redirect::to(&format!("/sim/u/{user_id}"))
}

/// Marks the user's pending webhook so the page shows something before it completes.
fn pending(sim: &Sim, user_id: &str) {
    sim.with(|s| {
        if s.knows(user_id) {
            s.last_webhook
                .insert(user_id.to_owned(), "送信中…".to_owned());
        }
    });
}

#[derive(Deserialize)]
struct LiffForm {
    url: String,
}

/// A tap on a LIFF link: open the LIFF app as this user, with a one-time code.
async fn do_liff(
    State(sim): State<Sim>,
    Path(user_id): Path<String>,
    Form(f): Form<LiffForm>,
) -> Response {
    match sim.liff_open_url(&user_id, &f.url) {
        Some(url) => Redirect::to(&url).into_response(),
        None => (
            StatusCode::BAD_REQUEST,
            layout(
                "LIFF",
                "<main><p>LIFFアプリのリンクではありません（SimConfig の liff_endpoint_url を確認してください）。</p></main>",
            ),
        )
            .into_response(),
    }
}

async fn do_follow(State(sim): State<Sim>, Path(user_id): Path<String>) -> Redirect {
    pending(&sim, &user_id);
    let (s2, u) = (sim.clone(), user_id.clone());
    spawn_webhook(async move { webhook::follow(&s2, &u).await });
    back(&user_id)
}

async fn do_unfollow(State(sim): State<Sim>, Path(user_id): Path<String>) -> Redirect {
    pending(&sim, &user_id);
    let (s2, u) = (sim.clone(), user_id.clone());
    spawn_webhook(async move { webhook::unfollow(&s2, &u).await });
    back(&user_id)
}

#[derive(Deserialize)]
struct TextForm {
    text: String,
}

async fn do_text(
    State(sim): State<Sim>,
    Path(user_id): Path<String>,
    Form(f): Form<TextForm>,
) -> Redirect {
    if !f.text.trim().is_empty() {
        pending(&sim, &user_id);
        let (s2, u) = (sim.clone(), user_id.clone());
        spawn_webhook(async move { webhook::send_text(&s2, &u, &f.text).await });
    }
    back(&user_id)
}

#[derive(Deserialize)]
struct LocationForm {
    title: String,
    #[serde(default)]
    address: String,
    latitude: String,
    longitude: String,
}

async fn do_location(
    State(sim): State<Sim>,
    Path(user_id): Path<String>,
    Form(f): Form<LocationForm>,
) -> Response {
    let (Ok(lat), Ok(lon)) = (
        f.latitude.trim().parse::<f64>(),
        f.longitude.trim().parse::<f64>(),
    ) else {
        return (
            StatusCode::BAD_REQUEST,
            layout(
                "入力エラー",
                "<main><p>緯度・経度は数値で入力してください。</p></main>",
            ),
        )
            .into_response();
    };
    pending(&sim, &user_id);
    let (s2, u) = (sim.clone(), user_id.clone());
    spawn_webhook(
        async move { webhook::send_location(&s2, &u, &f.title, &f.address, lat, lon).await },
    );
    back(&user_id).into_response()
}

#[derive(Deserialize, Default)]
struct ActionForm {
    kind: String,
    #[serde(default)]
    data: String,
    #[serde(default)]
    text: String,
    #[serde(default)]
    display_text: String,
    #[serde(default)]
    alias: String,
    #[serde(default)]
    mode: String,
    #[serde(default)]
    picked: String,
}

async fn do_action(
    State(sim): State<Sim>,
    Path(user_id): Path<String>,
    Form(f): Form<ActionForm>,
) -> Redirect {
    run_action(&sim, &user_id, f);
    back(&user_id)
}

fn run_action(sim: &Sim, user_id: &str, f: ActionForm) {
    pending(sim, user_id);
    let (s2, u) = (sim.clone(), user_id.to_owned());
    let display = (!f.display_text.is_empty()).then_some(f.display_text.clone());
    match f.kind.as_str() {
        "message" => spawn_webhook(async move { webhook::send_text(&s2, &u, &f.text).await }),
        "datetimepicker" => {
            let key = match f.mode.as_str() {
                "time" => "time",
                "datetime" => "datetime",
                _ => "date",
            };
            let params = json!({ key: f.picked });
            spawn_webhook(async move {
                webhook::postback(&s2, &u, &f.data, Some(params), display.as_deref()).await
            });
        }
        "richmenuswitch" => {
            let switched = sim.with(|s| {
                let target = s.aliases.get(&f.alias).cloned();
                if let Some(menu) = &target
                    && s.knows(user_id)
                {
                    s.user_menus.insert(user_id.to_owned(), menu.clone());
                }
                target.is_some()
            });
            let params = json!({
                "newRichMenuAliasId": f.alias,
                "status": if switched { "SUCCESS" } else { "RICHMENU_ALIAS_ID_NOTFOUND" },
            });
            spawn_webhook(
                async move { webhook::postback(&s2, &u, &f.data, Some(params), None).await },
            );
        }
        _ => spawn_webhook(async move {
            webhook::postback(&s2, &u, &f.data, None, display.as_deref()).await
        }),
    }
}

#[derive(Deserialize)]
struct TapForm {
    menu: String,
    #[serde(rename = "tap.x")]
    x: i64,
    #[serde(rename = "tap.y")]
    y: i64,
}

/// A tap on the rich menu image: scale the click back to the menu's size and run the area's
/// action (a LIFF link opens the LIFF app in this tab).
async fn do_tap(
    State(sim): State<Sim>,
    Path(user_id): Path<String>,
    Form(f): Form<TapForm>,
) -> Redirect {
    let action = sim.with(|s| {
        let m = s.rich_menus.get(&f.menu)?;
        let width = m.body.pointer("/size/width").and_then(Value::as_i64)?;
        let (x, y) = (f.x * width / MENU_WIDTH, f.y * width / MENU_WIDTH);
        m.body.get("areas")?.as_array()?.iter().find_map(|a| {
            let b = |k: &str| {
                a.pointer(&format!("/bounds/{k}"))
                    .and_then(Value::as_i64)
                    .unwrap_or(0)
            };
            let inside =
                x >= b("x") && x < b("x") + b("width") && y >= b("y") && y < b("y") + b("height");
            inside.then(|| a.get("action").cloned()).flatten()
        })
    });
    if let Some(a) = action {
        let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let kind = s("type");
        if kind == "uri"
            && let Some(url) = sim.liff_open_url(&user_id, &s("uri"))
        {
            return Redirect::to(&url);
        }
        if kind != "uri" {
            run_action(
                &sim,
                &user_id,
                ActionForm {
                    kind,
                    data: s("data"),
                    text: s("text"),
                    display_text: s("displayText"),
                    alias: s("richMenuAliasId"),
                    mode: s("mode"),
                    ..ActionForm::default()
                },
            );
        }
    }
    back(&user_id)
}

async fn menu_image(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    match sim.with(|s| s.rich_menus.get(&id).and_then(|m| m.image.clone())) {
        Some((ct, bytes)) => ([(header::CONTENT_TYPE, ct)], bytes).into_response(),
        None => StatusCode::NOT_FOUND.into_response(),
    }
}
