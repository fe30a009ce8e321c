//! `/sim`: simulated users and a phone-like chat view per user. Server-rendered HTML with
//! Japanese labels; no inline script or style (works under a strict CSP); forms POST here and
//! the simulator sends the signed webhook in the background.

use std::collections::HashMap;

use axum::Router;
use axum::extract::{Form, Path, State};
use axum::http::{StatusCode, header};
use axum::response::{Html, IntoResponse, Redirect, Response};
use axum::routing::{get, post};
use serde::Deserialize;
use serde_json::{Value, json};

use crate::state::UserStatus;
use crate::util::esc;
use crate::{ChatEntry, Sim, util, webhook};

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
            "/sim/static/sim.js",
            get(|| async {
                (
                    [(header::CONTENT_TYPE, "text/javascript; charset=utf-8")],
                    JS,
                )
            }),
        )
        .route("/sim/users", post(add_user))
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
<title>{} – LINEシミュレーター</title><link rel=\"stylesheet\" href=\"/sim/static/sim.css\">\
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
            c.delivered_messages.get(&u.user_id).copied().unwrap_or(0),
        ));
    }
    if users.is_empty() {
        b.push_str(
            "<tr><td colspan=\"5\">利用者がいません。下のフォームから追加してください。</td></tr>",
        );
    }
    b.push_str("</tbody></table>");
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

async fn chat_count(State(sim): State<Sim>, Path(user_id): Path<String>) -> String {
    sim.with(|s| {
        let n = s.chats.get(&user_id).map_or(0, Vec::len);
        let w = s
            .users
            .get(&user_id)
            .and_then(|u| u.last_webhook.clone())
            .unwrap_or_default();
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
    let chat = sim.chat(&user_id);
    let (menu, last_webhook) = sim.with(|s| {
        let menu = s.menu_for(&user_id).and_then(|id| {
            s.rich_menus
                .get(&id)
                .map(|m| (id.clone(), m.body.clone(), m.image.is_some()))
        });
        let w = s.users.get(&user_id).and_then(|u| u.last_webhook.clone());
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
    for e in &chat {
        b.push_str(&render_entry(&p, e));
    }
    b.push_str("</div>");
    // Quick reply: from the last entry, when it is a bot message.
    if let Some(items) = chat
        .last()
        .filter(|e| e.from_bot)
        .and_then(|e| e.message.pointer("/quickReply/items"))
        .and_then(Value::as_array)
    {
        b.push_str("<div class=\"quick\" role=\"group\" aria-label=\"クイックリプライ\">");
        for item in items {
            if let Some(a) = item.get("action") {
                b.push_str(&action_button(&p, a, None));
            }
        }
        b.push_str("</div>");
    }
    b.push_str(&format!(
        "<form method=\"post\" action=\"{p}/text\" class=\"composer\">\
<label for=\"text\" class=\"sr\">メッセージ</label><input id=\"text\" name=\"text\" required maxlength=\"5000\" placeholder=\"メッセージを入力\" autocomplete=\"off\">\
<button type=\"submit\">送信</button></form>"
    ));
    if let Some((id, body, has_image)) = &menu {
        b.push_str(&render_menu(&p, id, body, *has_image));
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

fn render_menu(p: &str, id: &str, body: &Value, has_image: bool) -> String {
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
            b.push_str(&action_button(p, a, Some(&fallback)));
        }
    }
    b.push_str("</div></details>");
    b
}

fn render_entry(p: &str, e: &ChatEntry) -> String {
    // Japan time (UTC+9) without a time-zone database.
    let time = (chrono::DateTime::<chrono::Utc>::from(e.at) + chrono::TimeDelta::hours(9))
        .format("%H:%M")
        .to_string();
    if e.from_bot {
        format!(
            "<div class=\"msg bot\"><div class=\"bubble-wrap\">{}</div><span class=\"meta\">{} {}</span></div>",
            render_message(p, &e.message),
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
                nl2br(&esc(s("/message/text")))
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

fn nl2br(s: &str) -> String {
    s.replace('\n', "<br>")
}

/// Text with LINE emoji: each `$` at an `emojis[].index` becomes a placeholder glyph.
fn render_text(m: &Value) -> String {
    let text = m.get("text").and_then(Value::as_str).unwrap_or("");
    let emojis: HashMap<usize, (String, String)> = m
        .get("emojis")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let i = e.get("index")?.as_u64()? as usize;
            let product = e
                .get("productId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let emoji = e
                .get("emojiId")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            Some((i, (product, emoji)))
        })
        .collect();
    let mut out = String::new();
    let mut utf16 = 0usize;
    for c in text.chars() {
        match emojis.get(&utf16) {
            Some((product, emoji)) if c == '$' => out.push_str(&format!(
                "<span class=\"emoji\" title=\"LINE絵文字 {}/{}\" role=\"img\" aria-label=\"LINE絵文字\">☺</span>",
                esc(product),
                esc(emoji)
            )),
            _ => out.push_str(&esc(&c.to_string())),
        }
        utf16 += c.len_utf16();
    }
    format!("<div class=\"text\">{}</div>", nl2br(&out))
}

fn safe_url(u: &str) -> Option<&str> {
    (u.starts_with("https://") || u.starts_with("http://") || u.starts_with("tel:")).then_some(u)
}

fn img(url: &str, alt: &str, class: &str) -> String {
    match safe_url(url) {
        Some(u) => format!(
            "<img class=\"{class}\" src=\"{}\" alt=\"{}\" loading=\"lazy\">",
            esc(u),
            esc(alt)
        ),
        None => format!("<span class=\"{class} missing\">{}</span>", esc(alt)),
    }
}

fn render_message(p: &str, m: &Value) -> String {
    let s = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("");
    match s("type") {
        "text" => render_text(m),
        "textV2" => format!("<div class=\"text\">{}</div>", nl2br(&esc(s("text")))),
        "sticker" => format!(
            "<div class=\"sticker\" role=\"img\" aria-label=\"スタンプ\">🧸<small>スタンプ {}/{}</small></div>",
            esc(s("packageId")),
            esc(s("stickerId"))
        ),
        "image" => format!(
            "<a href=\"{}\" class=\"media\">{}</a>",
            esc(safe_url(s("originalContentUrl")).unwrap_or("#")),
            img(s("previewImageUrl"), "画像", "photo")
        ),
        "video" => format!(
            "<a href=\"{}\" class=\"media\">{}<span>▶ 動画</span></a>",
            esc(safe_url(s("originalContentUrl")).unwrap_or("#")),
            img(s("previewImageUrl"), "動画", "photo")
        ),
        "audio" => format!(
            "<a href=\"{}\" class=\"text\">🔊 音声</a>",
            esc(safe_url(s("originalContentUrl")).unwrap_or("#"))
        ),
        "location" => format!(
            "<div class=\"text\">📍 {}<br><small>{}</small><br><small>{}, {}</small></div>",
            esc(s("title")),
            esc(s("address")),
            m.get("latitude").map(Value::to_string).unwrap_or_default(),
            m.get("longitude").map(Value::to_string).unwrap_or_default()
        ),
        "imagemap" => {
            let mut b = format!(
                "<div class=\"imagemap\">{}",
                img(&format!("{}/1040", s("baseUrl")), s("altText"), "photo")
            );
            b.push_str("<div class=\"actions\">");
            for a in m
                .get("actions")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                b.push_str(&action_button(p, a, Some("エリア")));
            }
            b.push_str("</div></div>");
            b
        }
        "template" => render_template(p, m.get("template").unwrap_or(&Value::Null)),
        "flex" => format!(
            "<div class=\"flex\" aria-label=\"{}\">{}</div>",
            esc(s("altText")),
            flex(p, m.get("contents").unwrap_or(&Value::Null))
        ),
        other => format!("<div class=\"text\">[{}]</div>", esc(other)),
    }
}

fn render_template(p: &str, t: &Value) -> String {
    let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    let actions = |v: &Value| -> String {
        v.get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|a| action_button(p, a, None))
            .collect()
    };
    let card = |v: &Value| -> String {
        let mut b = String::from("<div class=\"fbubble\">");
        let thumb = s(v, "thumbnailImageUrl");
        if !thumb.is_empty() {
            b.push_str(&img(&thumb, "", "hero"));
        }
        let title = s(v, "title");
        if !title.is_empty() {
            b.push_str(&format!("<p class=\"ftext bold\">{}</p>", esc(&title)));
        }
        b.push_str(&format!(
            "<p class=\"ftext\">{}</p>",
            nl2br(&esc(&s(v, "text")))
        ));
        b.push_str(&format!(
            "<div class=\"fbox vertical\">{}</div></div>",
            actions(v)
        ));
        b
    };
    match t.get("type").and_then(Value::as_str) {
        Some("buttons" | "confirm") => card(t),
        Some("carousel") => format!(
            "<div class=\"carousel\">{}</div>",
            t.get("columns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(card)
                .collect::<String>()
        ),
        Some("image_carousel") => format!(
            "<div class=\"carousel\">{}</div>",
            t.get("columns")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| format!(
                    "<div class=\"fbubble\">{}{}</div>",
                    img(&s(c, "imageUrl"), "", "hero"),
                    c.get("action")
                        .map(|a| action_button(p, a, None))
                        .unwrap_or_default()
                ))
                .collect::<String>()
        ),
        _ => "<div class=\"text\">[テンプレート]</div>".to_owned(),
    }
}

/// A basic Flex renderer: bubble/carousel, box, text/span, image/icon, button, separator, spacer.
fn flex(p: &str, v: &Value) -> String {
    let s = |k: &str| v.get(k).and_then(Value::as_str).unwrap_or("");
    match s("type") {
        "carousel" => format!(
            "<div class=\"carousel\">{}</div>",
            v.get("contents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| flex(p, c))
                .collect::<String>()
        ),
        "bubble" => {
            let mut b = format!("<div class=\"fbubble {}\">", esc(s("size")));
            for part in ["header", "hero", "body", "footer"] {
                if let Some(c) = v.get(part) {
                    b.push_str(&format!("<div class=\"f{part}\">{}</div>", flex(p, c)));
                }
            }
            b.push_str("</div>");
            b
        }
        "box" => format!(
            "<div class=\"fbox {}\">{}</div>",
            esc(s("layout")),
            v.get("contents")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .map(|c| flex(p, c))
                .collect::<String>()
        ),
        "text" => {
            let inner = match v.get("contents").and_then(Value::as_array) {
                Some(spans) if !spans.is_empty() => spans
                    .iter()
                    .map(|sp| {
                        let w = sp.get("weight").and_then(Value::as_str).unwrap_or("");
                        format!(
                            "<span class=\"{}\">{}</span>",
                            esc(w),
                            esc(sp.get("text").and_then(Value::as_str).unwrap_or(""))
                        )
                    })
                    .collect(),
                _ => nl2br(&esc(s("text"))),
            };
            format!(
                "<p class=\"ftext {} size-{} align-{}\">{inner}</p>",
                esc(s("weight")),
                esc(s("size")),
                esc(s("align"))
            )
        }
        "image" => img(s("url"), "", "fimage"),
        "icon" => img(s("url"), "", "ficon"),
        "button" => v
            .get("action")
            .map(|a| action_button(p, a, None))
            .unwrap_or_default(),
        "separator" => "<hr class=\"fsep\">".to_owned(),
        "spacer" | "filler" => "<div class=\"fspacer\"></div>".to_owned(),
        "video" => v.get("altContent").map(|c| flex(p, c)).unwrap_or_default(),
        other => format!("<span class=\"unknown\">[{}]</span>", esc(other)),
    }
}

/// One action as a control: a link for `uri`, otherwise a small form posting to `/action`.
fn action_button(p: &str, a: &Value, fallback: Option<&str>) -> String {
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
    let label = match s("label") {
        "" => fallback.unwrap_or("ボタン"),
        l => l,
    };
    let hidden = |name: &str, value: &str| {
        format!(
            "<input type=\"hidden\" name=\"{name}\" value=\"{}\">",
            esc(value)
        )
    };
    match s("type") {
        "uri" => match safe_url(s("uri")) {
            Some(u) => format!(
                "<a class=\"btn action\" href=\"{}\" target=\"_blank\" rel=\"noopener\">{} ↗</a>",
                esc(u),
                esc(label)
            ),
            None => format!("<span class=\"btn action disabled\">{}</span>", esc(label)),
        },
        kind @ ("message" | "postback" | "richmenuswitch" | "datetimepicker") => {
            let mut f = format!("<form method=\"post\" action=\"{p}/action\" class=\"action\">");
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
        _ => format!(
            "<span class=\"btn action disabled\" title=\"{}\">{}</span>",
            esc(s("type")),
            esc(label)
        ),
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
        if let Some(u) = s.users.get_mut(user_id) {
            u.last_webhook = Some("送信中…".to_owned());
        }
    });
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
                if let (Some(menu), Some(user)) = (&target, s.users.get_mut(user_id)) {
                    user.rich_menu = Some(menu.clone());
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

/// A tap on the rich menu image: scale the click back to the menu's size and run the area's action.
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
