//! A phone-like HTML preview of LINE messages, shared by the LINE simulator's `/sim` chat view
//! and the staff composer.
//!
//! Pure: message JSON in, an HTML string out. Every text and attribute from the JSON is
//! HTML-escaped; only `http(s)` and `tel:` links become `href`/`src`. The markup has no
//! scripts and no `style=` attributes, so it works under a CSP without `unsafe-inline`; the
//! look comes from classes (all starting with `lp-`) styled by [`PREVIEW_CSS`], which the
//! caller serves as a stylesheet.
//!
//! Approximations (a preview, not LINE's renderer):
//! - Flex sizes use LINE's keyword scale; a `px` value is shown as the nearest keyword, a `%`
//!   image width as 25/50/75/100 %. Box `width`/`height`/`max*`, offsets and
//!   `position: absolute` are not applied (absolute components are shown in the flow).
//! - Colours from the JSON (`color`, `backgroundColor`, button `color`) are shown as the
//!   nearest of a fixed palette: black, white, three greys, and eight hue families (red,
//!   orange, yellow, green, teal, blue, purple, pink) in dark, normal and light shades.
//! - `flex` values above 5 count as 5; linear gradients are a generic light gradient.
//! - Imagemap areas are drawn on the base image as numbered rectangles (SVG attributes, not
//!   styles), and the numbered actions are listed below the image.
//! - LINE emoji appear as a placeholder glyph; stickers as a placeholder with their ids.
//!
//! Actions (buttons, quick replies, links in text) go through an [`Actions`] implementation:
//! [`Inert`] shows labels and plain links (the composer); the simulator renders forms that
//! send webhooks.

use std::collections::HashMap;
use std::fmt::Write as _;

use serde_json::Value;

use crate::message::Message;

/// The stylesheet for the preview's classes.
pub const PREVIEW_CSS: &str = include_str!("preview.css");

/// How actions and links become HTML.
pub trait Actions {
    /// One action (button, quick reply, imagemap or template action). `label` is the action's
    /// label or a fallback, not yet escaped.
    fn action(&self, action: &Value, label: &str) -> String {
        inert_action(action, label)
    }

    /// A URL found in a text message (`url` and `text` not yet escaped).
    fn link(&self, url: &str, text: &str) -> String {
        match safe_url(url) {
            Some(u) => format!(
                "<a href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
                escape(u),
                escape(text)
            ),
            None => escape(text),
        }
    }
}

/// Shows actions without doing anything: links open in a new tab, other actions are labels.
#[derive(Debug, Clone, Copy, Default)]
pub struct Inert;

impl Actions for Inert {}

/// The default rendering of an action: a link for `uri`, a label otherwise.
pub fn inert_action(action: &Value, label: &str) -> String {
    let s = |k: &str| action.get(k).and_then(Value::as_str).unwrap_or("");
    match (s("type"), safe_url(s("uri"))) {
        ("uri", Some(u)) => format!(
            "<a class=\"lp-action\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
            escape(u),
            escape(label)
        ),
        (ty, _) => format!(
            "<span class=\"lp-action\" title=\"{}\">{}</span>",
            escape(&action_title(ty, action)),
            escape(label)
        ),
    }
}

fn action_title(ty: &str, a: &Value) -> String {
    let s = |k: &str| a.get(k).and_then(Value::as_str).unwrap_or("");
    match ty {
        "postback" => format!("ポストバック: {}", s("data")),
        "message" => format!("送信: {}", s("text")),
        "uri" => format!("リンク: {}", s("uri")),
        "datetimepicker" => "日時選択".to_owned(),
        "camera" => "カメラ".to_owned(),
        "cameraRoll" => "カメラロール".to_owned(),
        "location" => "位置情報".to_owned(),
        "clipboard" => format!("コピー: {}", s("clipboardText")),
        "richmenuswitch" => format!("メニュー切替: {}", s("richMenuAliasId")),
        other => other.to_owned(),
    }
}

/// HTML-escapes text and attribute values.
pub fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A URL allowed in `href`/`src`: http, https or tel (never `javascript:` or `data:`).
pub fn safe_url(u: &str) -> Option<&str> {
    let lower = u.get(..8).unwrap_or(u).to_ascii_lowercase();
    (lower.starts_with("https://") || lower.starts_with("http://") || lower.starts_with("tel:"))
        .then_some(u)
}

/// The composer's preview: up to five messages in a phone frame, the last one's quick reply
/// below them. Actions are inert.
pub fn render_messages(messages: &[Value]) -> String {
    render_messages_with(messages, &Inert)
}

/// [`render_messages`] with another action renderer.
pub fn render_messages_with(messages: &[Value], actions: &dyn Actions) -> String {
    let mut b = String::from(
        "<div class=\"lp-phone\" role=\"group\" aria-label=\"トーク画面のプレビュー\"><div class=\"lp-chat\">",
    );
    for m in messages {
        b.push_str("<div class=\"lp-msg\">");
        b.push_str(&render_message_with(m, actions));
        b.push_str("</div>");
    }
    if messages.len() > crate::message::MAX_MESSAGES {
        let _ = write!(
            b,
            "<p class=\"lp-note\">一度に送れるメッセージは{}件までです（{}件あります）。</p>",
            crate::message::MAX_MESSAGES,
            messages.len()
        );
    }
    b.push_str("</div>");
    if let Some(q) = messages
        .last()
        .and_then(|m| render_quick_reply_with(m, actions))
    {
        b.push_str(&q);
    }
    b.push_str("</div>");
    b
}

/// One typed message with inert actions.
pub fn render(message: &Message) -> String {
    render_message(&message.to_json())
}

/// One message (its sender, if any, and its body) with inert actions.
pub fn render_message(message: &Value) -> String {
    render_message_with(message, &Inert)
}

/// One message with the given action renderer. The quick reply is not included (it belongs
/// below the chat, see [`render_quick_reply_with`]).
pub fn render_message_with(m: &Value, actions: &dyn Actions) -> String {
    let mut b = String::new();
    if let Some(sender) = m.get("sender") {
        let name = sender.get("name").and_then(Value::as_str).unwrap_or("");
        b.push_str("<div class=\"lp-sender\">");
        if let Some(u) = sender
            .get("iconUrl")
            .and_then(Value::as_str)
            .and_then(safe_url)
        {
            let _ = write!(
                b,
                "<img class=\"lp-sender-icon\" src=\"{}\" alt=\"\">",
                escape(u)
            );
        }
        let _ = write!(b, "<span>{}</span></div>", escape(name));
    }
    b.push_str(&body(m, actions));
    b
}

/// A message's quick reply buttons, if it has any.
pub fn render_quick_reply_with(m: &Value, actions: &dyn Actions) -> Option<String> {
    let items = m.pointer("/quickReply/items")?.as_array()?;
    let mut b =
        String::from("<div class=\"lp-quick\" role=\"group\" aria-label=\"クイックリプライ\">");
    for item in items {
        let Some(a) = item.get("action") else {
            continue;
        };
        let label = a.get("label").and_then(Value::as_str).unwrap_or("ボタン");
        if let Some(u) = item
            .get("imageUrl")
            .and_then(Value::as_str)
            .and_then(safe_url)
        {
            let _ = write!(
                b,
                "<img class=\"lp-quick-icon\" src=\"{}\" alt=\"\">",
                escape(u)
            );
        }
        b.push_str(&actions.action(a, label));
    }
    b.push_str("</div>");
    Some(b)
}

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn img(url: &str, alt: &str, class: &str) -> String {
    match safe_url(url) {
        Some(u) => format!(
            "<img class=\"{class}\" src=\"{}\" alt=\"{}\" loading=\"lazy\">",
            escape(u),
            escape(alt)
        ),
        None => format!("<span class=\"{class} lp-missing\">{}</span>", escape(alt)),
    }
}

fn href(url: &str) -> String {
    escape(safe_url(url).unwrap_or("#"))
}

fn body(m: &Value, actions: &dyn Actions) -> String {
    match s(m, "type") {
        "text" => text_message(m, actions),
        "textV2" => text_v2(m),
        "sticker" => format!(
            "<div class=\"lp-sticker\" role=\"img\" aria-label=\"スタンプ\">🧸<small>スタンプ {}/{}</small></div>",
            escape(s(m, "packageId")),
            escape(s(m, "stickerId"))
        ),
        "image" => format!(
            "<a class=\"lp-media\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}</a>",
            href(s(m, "originalContentUrl")),
            img(s(m, "previewImageUrl"), "画像", "lp-photo")
        ),
        "video" => format!(
            "<a class=\"lp-media\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">{}<span class=\"lp-play\">▶ 動画</span></a>",
            href(s(m, "originalContentUrl")),
            img(s(m, "previewImageUrl"), "動画", "lp-photo")
        ),
        "audio" => format!(
            "<a class=\"lp-textmsg\" href=\"{}\" target=\"_blank\" rel=\"noopener noreferrer\">🔊 音声</a>",
            href(s(m, "originalContentUrl"))
        ),
        "location" => format!(
            "<div class=\"lp-textmsg lp-location\">📍 {}<small>{}</small><small>{}, {}</small></div>",
            escape(s(m, "title")),
            escape(s(m, "address")),
            escape(&m.get("latitude").map(Value::to_string).unwrap_or_default()),
            escape(&m.get("longitude").map(Value::to_string).unwrap_or_default())
        ),
        "imagemap" => imagemap(m, actions),
        "template" => template(m.get("template").unwrap_or(&Value::Null), actions),
        "flex" => format!(
            "<div class=\"lp-flex\" role=\"group\" aria-label=\"{}\">{}</div>",
            escape(s(m, "altText")),
            flex(m.get("contents").unwrap_or(&Value::Null), actions)
        ),
        other => format!("<div class=\"lp-textmsg\">[{}]</div>", escape(other)),
    }
}

fn nl2br(s: &str) -> String {
    s.replace('\n', "<br>")
}

/// Where a URL in text ends: at whitespace, quotes, angle brackets or any non-ASCII character
/// (Japanese text often follows a URL without a space).
fn url_char(c: char) -> bool {
    c.is_ascii_graphic() && !matches!(c, '<' | '>' | '"' | '\'')
}

/// Text with LINE emoji (each `$` at an `emojis[].index`, a UTF-16 offset) and links.
fn text_message(m: &Value, actions: &dyn Actions) -> String {
    let text = s(m, "text");
    let emojis: HashMap<usize, (String, String)> = m
        .get("emojis")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let i = usize::try_from(e.get("index")?.as_u64()?).ok()?;
            Some((
                i,
                (s(e, "productId").to_owned(), s(e, "emojiId").to_owned()),
            ))
        })
        .collect();
    let mut out = String::new();
    let mut utf16 = 0usize;
    let mut chars = text.char_indices().peekable();
    while let Some((at, c)) = chars.next() {
        if c == '$'
            && let Some((product, emoji)) = emojis.get(&utf16)
        {
            let _ = write!(
                out,
                "<span class=\"lp-emoji\" role=\"img\" aria-label=\"LINE絵文字\" title=\"LINE絵文字 {}/{}\">☺</span>",
                escape(product),
                escape(emoji)
            );
            utf16 += 1;
            continue;
        }
        let rest = &text[at..];
        if rest.starts_with("https://") || rest.starts_with("http://") {
            let mut end = rest.find(|ch: char| !url_char(ch)).unwrap_or(rest.len());
            // Trailing punctuation usually ends the sentence, not the URL.
            while end > 0 && rest[..end].ends_with(['.', ',', ')', '!', '?']) {
                end -= 1;
            }
            let url = &rest[..end];
            out.push_str(&actions.link(url, url));
            utf16 += url.encode_utf16().count();
            // Skip the URL's remaining characters.
            let stop = at + end;
            while chars.peek().is_some_and(|(i, _)| *i < stop) {
                chars.next();
            }
            continue;
        }
        out.push_str(&escape(c.encode_utf8(&mut [0u8; 4])));
        utf16 += c.len_utf16();
    }
    format!("<div class=\"lp-textmsg\">{}</div>", nl2br(&out))
}

/// `textV2`: `{key}` placeholders become a mention or an emoji.
fn text_v2(m: &Value) -> String {
    let text = escape(s(m, "text"));
    let mut out = text.clone();
    if let Some(subs) = m.get("substitution").and_then(Value::as_object) {
        for (key, sub) in subs {
            let with = match s(sub, "type") {
                "emoji" => {
                    "<span class=\"lp-emoji\" role=\"img\" aria-label=\"LINE絵文字\">☺</span>"
                        .to_owned()
                }
                "mention" => "<span class=\"lp-mention\">@メンション</span>".to_owned(),
                _ => continue,
            };
            out = out.replace(&format!("{{{}}}", escape(key)), &with);
        }
    }
    format!("<div class=\"lp-textmsg\">{}</div>", nl2br(&out))
}

fn imagemap(m: &Value, actions: &dyn Actions) -> String {
    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
    let base = m.get("baseSize").unwrap_or(&Value::Null);
    let (w, h) = (n(base, "width").max(1), n(base, "height").max(1));
    let list: Vec<&Value> = m
        .get("actions")
        .and_then(Value::as_array)
        .map(|a| a.iter().collect())
        .unwrap_or_default();
    let mut b = String::from("<div class=\"lp-imagemap\">");
    let src = format!("{}/1040", s(m, "baseUrl"));
    let _ = write!(
        b,
        "<svg viewBox=\"0 0 {w} {h}\" role=\"img\" aria-label=\"{}\">",
        escape(s(m, "altText"))
    );
    if let Some(u) = safe_url(&src) {
        let _ = write!(
            b,
            "<image href=\"{}\" x=\"0\" y=\"0\" width=\"{w}\" height=\"{h}\"/>",
            escape(u)
        );
    }
    for (i, a) in list.iter().enumerate() {
        let area = a.get("area").unwrap_or(&Value::Null);
        let (x, y, aw, ah) = (
            n(area, "x"),
            n(area, "y"),
            n(area, "width"),
            n(area, "height"),
        );
        let _ = write!(
            b,
            "<rect x=\"{x}\" y=\"{y}\" width=\"{aw}\" height=\"{ah}\"/><text x=\"{}\" y=\"{}\">{}</text>",
            x + 12,
            y + 52,
            i + 1
        );
    }
    b.push_str("</svg><ol>");
    for a in list {
        let label = match s(a, "label") {
            "" => "エリア",
            l => l,
        };
        // Imagemap actions name their target `linkUri`; show them like URI actions.
        let action = match s(a, "type") {
            "uri" => serde_json::json!({"type": "uri", "uri": s(a, "linkUri")}),
            _ => (*a).clone(),
        };
        let _ = write!(b, "<li>{}</li>", actions.action(&action, label));
    }
    b.push_str("</ol></div>");
    b
}

fn template(t: &Value, actions: &dyn Actions) -> String {
    let list = |v: &Value| -> String {
        let mut b = String::from("<div class=\"lp-actions\">");
        for a in v
            .get("actions")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
        {
            b.push_str(&actions.action(a, label_of(a)));
        }
        b.push_str("</div>");
        b
    };
    let card = |v: &Value, class: &str| -> String {
        let mut b = format!("<div class=\"lp-template {class}\">");
        let thumb = s(v, "thumbnailImageUrl");
        if !thumb.is_empty() {
            b.push_str(&img(thumb, "", "lp-thumb"));
        }
        let title = s(v, "title");
        if !title.is_empty() {
            let _ = write!(b, "<p class=\"lp-ttitle\">{}</p>", escape(title));
        }
        let _ = write!(b, "<p class=\"lp-ttext\">{}</p>", escape(s(v, "text")));
        b.push_str(&list(v));
        b.push_str("</div>");
        b
    };
    let columns = |f: &dyn Fn(&Value) -> String| -> String {
        let cols: String = t
            .get("columns")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(f)
            .collect();
        format!("<div class=\"lp-carousel\">{cols}</div>")
    };
    match s(t, "type") {
        "buttons" => card(t, "lp-buttons"),
        "confirm" => card(t, "lp-confirm"),
        "carousel" => columns(&|c| card(c, "lp-column")),
        "image_carousel" => columns(&|c| {
            let action = c
                .get("action")
                .map(|a| actions.action(a, label_of(a)))
                .unwrap_or_default();
            format!(
                "<div class=\"lp-template\">{}<div class=\"lp-actions\">{action}</div></div>",
                img(s(c, "imageUrl"), "", "lp-thumb")
            )
        }),
        _ => "<div class=\"lp-textmsg\">[テンプレート]</div>".to_owned(),
    }
}

fn label_of(a: &Value) -> &str {
    match s(a, "label") {
        "" => "ボタン",
        l => l,
    }
}

// ---- flex -----------------------------------------------------------------------------------

const SCALE: &[&str] = &[
    "xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl",
];
/// LINE's font sizes of the keywords, in px.
const FONT_PX: &[f64] = &[11.0, 13.0, 14.0, 16.0, 19.0, 22.0, 29.0, 35.0, 48.0, 74.0];
/// Image widths of the keywords, in px.
const IMAGE_PX: &[f64] = &[
    40.0, 60.0, 80.0, 100.0, 120.0, 140.0, 160.0, 180.0, 200.0, 240.0,
];
const SPACING: &[&str] = &["none", "xs", "sm", "md", "lg", "xl", "xxl"];
const SPACING_PX: &[f64] = &[0.0, 2.0, 4.0, 8.0, 12.0, 16.0, 20.0];

fn px(v: &str) -> Option<f64> {
    v.strip_suffix("px")?.parse().ok()
}

/// A keyword as is, or the keyword nearest to a pixel value.
fn bucket(v: &str, keywords: &[&'static str], pxs: &[f64]) -> Option<&'static str> {
    if let Some(k) = keywords.iter().copied().find(|k| *k == v) {
        return Some(k);
    }
    let p = px(v)?;
    let i = pxs
        .iter()
        .enumerate()
        .min_by(|a, b| (a.1 - p).abs().total_cmp(&(b.1 - p).abs()))?
        .0;
    keywords.get(i).copied()
}

/// One of a fixed set of values, or nothing (classes never carry the JSON's own text).
fn pick(v: &str, allowed: &[&'static str]) -> Option<&'static str> {
    allowed.iter().copied().find(|a| *a == v)
}

/// The palette bucket of `#RRGGBB[AA]`.
fn colour(v: &str) -> Option<&'static str> {
    let hex = v.strip_prefix('#')?;
    if !(hex.len() == 6 || hex.len() == 8) || !hex.bytes().all(|b| b.is_ascii_hexdigit()) {
        return None;
    }
    let c = |i: usize| u8::from_str_radix(&hex[i..i + 2], 16).map(|x| f64::from(x) / 255.0);
    let (r, g, b) = (c(0).ok()?, c(2).ok()?, c(4).ok()?);
    let max = r.max(g).max(b);
    let min = r.min(g).min(b);
    let l = (max + min) / 2.0;
    let d = max - min;
    let sat = if d == 0.0 {
        0.0
    } else {
        d / (1.0 - (2.0 * l - 1.0).abs()).max(f64::EPSILON)
    };
    if sat < 0.15 || d < 0.08 {
        return Some(match l {
            l if l >= 0.93 => "white",
            l if l >= 0.7 => "grey-light",
            l if l >= 0.4 => "grey",
            l if l >= 0.15 => "grey-dark",
            _ => "black",
        });
    }
    let h = if max == r {
        60.0 * ((g - b) / d).rem_euclid(6.0)
    } else if max == g {
        60.0 * ((b - r) / d + 2.0)
    } else {
        60.0 * ((r - g) / d + 4.0)
    };
    let family = match h {
        h if !(15.0..345.0).contains(&h) => 0,
        h if h < 45.0 => 1,
        h if h < 70.0 => 2,
        h if h < 170.0 => 3,
        h if h < 200.0 => 4,
        h if h < 260.0 => 5,
        h if h < 300.0 => 6,
        _ => 7,
    };
    const NAMES: [[&str; 3]; 8] = [
        ["red-dark", "red", "red-light"],
        ["orange-dark", "orange", "orange-light"],
        ["yellow-dark", "yellow", "yellow-light"],
        ["green-dark", "green", "green-light"],
        ["teal-dark", "teal", "teal-light"],
        ["blue-dark", "blue", "blue-light"],
        ["purple-dark", "purple", "purple-light"],
        ["pink-dark", "pink", "pink-light"],
    ];
    let shade = if l < 0.3 {
        0
    } else if l > 0.75 {
        2
    } else {
        1
    };
    Some(NAMES[family][shade])
}

/// The aspect-ratio class nearest to `W:H`.
fn aspect(v: &str) -> &'static str {
    const RATIOS: &[(f64, &str)] = &[
        (3.0, "3-1"),
        (2.0, "2-1"),
        (16.0 / 9.0, "16-9"),
        (1.5, "3-2"),
        (4.0 / 3.0, "4-3"),
        (1.0, "1-1"),
        (0.75, "3-4"),
        (2.0 / 3.0, "2-3"),
        (9.0 / 16.0, "9-16"),
        (0.5, "1-2"),
        (1.0 / 3.0, "1-3"),
    ];
    let r = v
        .split_once(':')
        .and_then(|(w, h)| Some(w.parse::<f64>().ok()? / h.parse::<f64>().ok()?))
        .filter(|r| r.is_finite() && *r > 0.0)
        .unwrap_or(1.0);
    RATIOS
        .iter()
        .min_by(|a, b| {
            (a.0.ln() - r.ln())
                .abs()
                .total_cmp(&(b.0.ln() - r.ln()).abs())
        })
        .map_or("1-1", |x| x.1)
}

fn flex_class(v: &Value) -> Option<String> {
    let n = v.get("flex")?.as_f64()?;
    Some(format!("lp-flex-{}", n.clamp(0.0, 5.0) as u8))
}

/// Classes shared by components: flex, margin, gravity, align.
fn common(v: &Value, classes: &mut Vec<String>) {
    if let Some(c) = flex_class(v) {
        classes.push(c);
    }
    if let Some(m) = bucket(s(v, "margin"), SPACING, SPACING_PX) {
        classes.push(format!("lp-m-{m}"));
    }
    if let Some(g) = pick(s(v, "gravity"), &["top", "center", "bottom"]) {
        classes.push(format!("lp-gravity-{g}"));
    }
    if let Some(a) = pick(s(v, "align"), &["start", "center", "end"]) {
        classes.push(format!("lp-align-{a}"));
    }
}

fn text_classes(v: &Value, classes: &mut Vec<String>) {
    if let Some(sz) = bucket(s(v, "size"), SCALE, FONT_PX) {
        classes.push(format!("lp-fs-{sz}"));
    }
    if s(v, "weight") == "bold" {
        classes.push("lp-bold".into());
    }
    if s(v, "style") == "italic" {
        classes.push("lp-italic".into());
    }
    if let Some(d) = pick(s(v, "decoration"), &["underline", "line-through"]) {
        classes.push(format!("lp-{d}"));
    }
    if let Some(c) = colour(s(v, "color")) {
        classes.push(format!("lp-c-{c}"));
    }
}

fn class_attr(classes: &[String]) -> String {
    escape(&classes.join(" "))
}

/// Flex containers and components; unknown types show as a bracketed name.
fn flex(v: &Value, actions: &dyn Actions) -> String {
    let children = |v: &Value| -> String {
        v.get("contents")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .map(|c| flex(c, actions))
            .collect()
    };
    match s(v, "type") {
        "carousel" => format!("<div class=\"lp-carousel\">{}</div>", children(v)),
        "bubble" => bubble(v, actions),
        "box" => {
            let mut classes = vec!["lp-box".to_owned()];
            let layout =
                pick(s(v, "layout"), &["horizontal", "vertical", "baseline"]).unwrap_or("vertical");
            classes.push(format!("lp-{layout}"));
            common(v, &mut classes);
            if let Some(sp) = bucket(s(v, "spacing"), SPACING, SPACING_PX) {
                classes.push(format!("lp-sp-{sp}"));
            }
            if let Some(p) = bucket(s(v, "paddingAll"), SPACING, SPACING_PX) {
                classes.push(format!("lp-p-{p}"));
            }
            if let Some(r) = bucket(s(v, "cornerRadius"), SPACING, SPACING_PX) {
                classes.push(format!("lp-r-{r}"));
            }
            match s(v, "borderWidth") {
                "" | "none" | "0px" => {}
                "semi-bold" | "bold" => classes.push("lp-border-bold".into()),
                _ => classes.push("lp-border".into()),
            }
            if let Some(c) = colour(s(v, "backgroundColor")) {
                classes.push(format!("lp-bg-{c}"));
            }
            if v.get("background").is_some() {
                classes.push("lp-gradient".into());
            }
            if let Some(j) = pick(
                s(v, "justifyContent"),
                &[
                    "center",
                    "flex-start",
                    "flex-end",
                    "space-between",
                    "space-around",
                    "space-evenly",
                ],
            ) {
                classes.push(format!("lp-justify-{j}"));
            }
            if let Some(a) = pick(s(v, "alignItems"), &["center", "flex-start", "flex-end"]) {
                classes.push(format!("lp-items-{a}"));
            }
            if v.get("action").is_some() {
                classes.push("lp-tappable".into());
            }
            format!(
                "<div class=\"{}\">{}</div>",
                class_attr(&classes),
                children(v)
            )
        }
        "text" => {
            let mut classes = vec!["lp-text".to_owned()];
            common(v, &mut classes);
            text_classes(v, &mut classes);
            if v.get("wrap").and_then(Value::as_bool) == Some(true) {
                classes.push("lp-wrap".into());
            }
            if let Some(n) = v.get("maxLines").and_then(Value::as_u64).filter(|n| *n > 0) {
                classes.push(format!("lp-lines-{}", n.min(5)));
            }
            if v.get("action").is_some() {
                classes.push("lp-tappable".into());
            }
            let inner = match v.get("contents").and_then(Value::as_array) {
                Some(spans) if !spans.is_empty() => spans
                    .iter()
                    .map(|sp| {
                        let mut c = vec!["lp-span".to_owned()];
                        text_classes(sp, &mut c);
                        format!(
                            "<span class=\"{}\">{}</span>",
                            class_attr(&c),
                            escape(s(sp, "text"))
                        )
                    })
                    .collect(),
                _ => escape(s(v, "text")),
            };
            format!("<p class=\"{}\">{inner}</p>", class_attr(&classes))
        }
        "image" => {
            let mut classes = vec!["lp-img".to_owned()];
            common(v, &mut classes);
            let size = s(v, "size");
            let size_class = if size == "full" {
                Some("full".to_owned())
            } else if let Some(p) = size.strip_suffix('%').and_then(|p| p.parse::<f64>().ok()) {
                Some(
                    match p {
                        p if p <= 37.5 => "25",
                        p if p <= 62.5 => "50",
                        p if p <= 87.5 => "75",
                        _ => "full",
                    }
                    .to_owned(),
                )
            } else {
                bucket(size, SCALE, IMAGE_PX).map(str::to_owned)
            };
            classes.push(format!("lp-is-{}", size_class.as_deref().unwrap_or("md")));
            classes.push(format!("lp-ar-{}", aspect(s(v, "aspectRatio"))));
            if s(v, "aspectMode") == "cover" {
                classes.push("lp-cover".into());
            }
            if let Some(c) = colour(s(v, "backgroundColor")) {
                classes.push(format!("lp-bg-{c}"));
            }
            if v.get("action").is_some() {
                classes.push("lp-tappable".into());
            }
            img(s(v, "url"), "", &class_attr(&classes))
        }
        "icon" => {
            let mut classes = vec!["lp-icon".to_owned()];
            if let Some(sz) = bucket(s(v, "size"), SCALE, FONT_PX) {
                classes.push(format!("lp-fs-{sz}"));
            }
            if let Some(m) = bucket(s(v, "margin"), SPACING, SPACING_PX) {
                classes.push(format!("lp-m-{m}"));
            }
            img(s(v, "url"), "", &class_attr(&classes))
        }
        "button" => {
            let mut classes = vec!["lp-button".to_owned()];
            common(v, &mut classes);
            let style = pick(s(v, "style"), &["primary", "secondary", "link"]).unwrap_or("link");
            classes.push(format!("lp-btn-{style}"));
            if s(v, "height") == "sm" {
                classes.push("lp-btn-sm".into());
            }
            if let Some(c) = colour(s(v, "color")) {
                classes.push(format!("lp-bc-{c}"));
            }
            let a = v.get("action").unwrap_or(&Value::Null);
            format!(
                "<div class=\"{}\">{}</div>",
                class_attr(&classes),
                actions.action(a, label_of(a))
            )
        }
        "separator" => {
            let mut classes = vec!["lp-separator".to_owned()];
            common(v, &mut classes);
            format!("<hr class=\"{}\">", class_attr(&classes))
        }
        "filler" | "spacer" => {
            let mut classes = vec!["lp-filler".to_owned()];
            common(v, &mut classes);
            format!("<div class=\"{}\"></div>", class_attr(&classes))
        }
        "video" => format!(
            "<div class=\"lp-video\">{}<span class=\"lp-play\">▶ 動画</span></div>",
            v.get("altContent")
                .map(|c| flex(c, actions))
                .unwrap_or_default()
        ),
        other => format!("<span class=\"lp-text\">[{}]</span>", escape(other)),
    }
}

fn bubble(v: &Value, actions: &dyn Actions) -> String {
    let mut classes = vec!["lp-bubble".to_owned()];
    if let Some(size) = pick(
        s(v, "size"),
        &["nano", "micro", "deca", "hecto", "kilo", "mega", "giga"],
    ) {
        classes.push(format!("lp-bubble-{size}"));
    }
    if s(v, "direction") == "rtl" {
        classes.push("lp-rtl".into());
    }
    let mut b = format!("<div class=\"{}\">", class_attr(&classes));
    for part in ["header", "hero", "body", "footer"] {
        let Some(c) = v.get(part) else {
            continue;
        };
        let mut block = vec!["lp-block".to_owned(), format!("lp-{part}")];
        let style = v.pointer(&format!("/styles/{part}"));
        if let Some(c) = style
            .and_then(|st| st.get("backgroundColor"))
            .and_then(Value::as_str)
            .and_then(colour)
        {
            block.push(format!("lp-bg-{c}"));
        }
        if style
            .and_then(|st| st.get("separator"))
            .and_then(Value::as_bool)
            == Some(true)
        {
            block.push("lp-sep-top".into());
        }
        let _ = write!(
            b,
            "<div class=\"{}\">{}</div>",
            class_attr(&block),
            flex(c, actions)
        );
    }
    b.push_str("</div>");
    b
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn buckets() {
        assert_eq!(colour("#06C755"), Some("green"));
        assert_eq!(colour("#FFFFFF"), Some("white"));
        assert_eq!(colour("#000000cc"), Some("black"));
        assert_eq!(colour("#E53935"), Some("red"));
        assert_eq!(colour("#1E88E5"), Some("blue"));
        assert_eq!(colour("#888888"), Some("grey"));
        assert_eq!(colour("red"), None);
        assert_eq!(bucket("md", SCALE, FONT_PX), Some("md"));
        assert_eq!(bucket("20px", SCALE, FONT_PX), Some("lg"));
        assert_eq!(bucket("bogus", SCALE, FONT_PX), None);
        assert_eq!(aspect("20:13"), "3-2");
        assert_eq!(aspect("16:9"), "16-9");
        assert_eq!(aspect(""), "1-1");
        assert_eq!(safe_url("JavaScript:alert(1)"), None);
        assert_eq!(safe_url("HTTPS://example.com"), Some("HTTPS://example.com"));
    }

    #[test]
    fn classes_never_echo_json_text() {
        let v = json!({"type":"bubble","size":"\"><script>","body":{"type":"box",
            "layout":"x\" onclick=\"y","contents":[{"type":"text","text":"a","size":"<b>"}]}});
        let html = flex(&v, &Inert);
        assert!(!html.contains("onclick") && !html.contains("<script") && !html.contains("<b>"));
    }
}
