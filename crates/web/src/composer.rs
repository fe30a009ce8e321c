//! The message composer (issue 6, M07): up to five LINE messages (テキスト with
//! LINE emoji, 画像, イメージマップ, Flex) edited in one form, checked with
//! `hiroba_line`'s rules, previewed with `hiroba_line::preview`.
//!
//! It is a reusable piece: a page puts [`ComposerView`] (the
//! `admin/_composer.html` partial) inside its own `multipart/form-data` form,
//! reads the post with [`Posted`], and calls [`Composer::from_form`],
//! [`Composer::store_uploads`] and [`ComposerState::apply`]. The result is
//! [`ComposerState::messages`]: a validated array of 1 to 5 LINE message
//! objects, which is what a delivery stores; [`ComposerState::from_messages`]
//! turns a stored array back into an editable state.
//!
//! Every field name starts with `m{index}_` (`m0_type`, `m0_text`, `m1_a3_x`...),
//! plus `action` for the composer's buttons, so a page may add fields of its own.
//! Without JavaScript each button (add, remove, move, emoji, template, upload,
//! check) posts the whole form and the page renders it again with the posted
//! state. `static/composer.js` makes the same buttons swap only the composer
//! (the page answers a request carrying `X-Hiroba-Fragment: composer` with
//! [`ComposerView`] alone), keeps a live preview through the page's preview
//! route, inserts emoji at the cursor and draws imagemap areas by dragging.
//!
//! LINE emoji are written in the text as `[絵文字001]` (LINE's public sample
//! product; `[絵文字{productId}/{emojiId}]` for others) and become the `$`
//! placeholders and the `emojis` array LINE expects; a literal `$` stays text.

use std::collections::{BTreeSet, HashMap};

use askama::Template;
use axum::extract::{FromRequest, Multipart, Request};
use axum::http::header;
use hiroba_domain::validation::FieldErrors;
use hiroba_line::message::{
    Area as LineArea, Emoji, IMAGEMAP_BASE_WIDTH, ImagemapAction, MAX_IMAGEMAP_ACTIONS,
    MAX_MESSAGES, MessageBody, Size, Text, line_len,
};
use hiroba_line::{Message, ValidationError};
use hiroba_store::media::Purpose;
use serde_json::{Value, json};

use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::media;

/// Field of the problems that concern the whole set of messages.
pub const MESSAGES_FIELD: &str = "messages";
/// Most areas of an imagemap (LINE's limit).
pub const MAX_AREAS: usize = MAX_IMAGEMAP_ACTIONS;
/// Area rows read from a form at most; more is refused without reading them.
const MAX_AREA_ROWS: usize = 200;
/// Blocks read from a form at most; more than [`MAX_MESSAGES`] is refused.
const MAX_BLOCK_ROWS: usize = 20;
/// LINE's public sample emoji product; ids `001`-`010` are in the picker.
pub const EMOJI_PRODUCT: &str = "5ac1bfd5040ab15980c9b435";
pub const EMOJI_IDS: [&str; 10] = [
    "001", "002", "003", "004", "005", "006", "007", "008", "009", "010",
];
const EMOJI_OPEN: &str = "[絵文字";

// ---- state ----------------------------------------------------------------------------------

/// The kind of a message block.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Kind {
    Text,
    Image,
    Imagemap,
    Flex,
}

impl Kind {
    pub const ALL: [Kind; 4] = [Kind::Text, Kind::Image, Kind::Imagemap, Kind::Flex];

    pub fn as_str(self) -> &'static str {
        match self {
            Kind::Text => "text",
            Kind::Image => "image",
            Kind::Imagemap => "imagemap",
            Kind::Flex => "flex",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Kind::ALL.into_iter().find(|k| k.as_str() == s)
    }

    pub fn label_ja(self) -> &'static str {
        match self {
            Kind::Text => "テキスト",
            Kind::Image => "画像",
            Kind::Imagemap => "イメージマップ",
            Kind::Flex => "Flex",
        }
    }
}

/// One tappable area of an imagemap as typed in the form (numbers kept as
/// text so a wrong entry is shown again as it was typed).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct AreaRow {
    pub x: String,
    pub y: String,
    pub width: String,
    pub height: String,
    /// `uri` (a link) or `message` (the text is sent as the resident's message).
    pub action: String,
    /// The link or the text to send.
    pub target: String,
    pub label: String,
}

impl AreaRow {
    /// An empty row (the form's spare row) is ignored.
    pub fn is_blank(&self) -> bool {
        [
            &self.x,
            &self.y,
            &self.width,
            &self.height,
            &self.target,
            &self.label,
        ]
        .iter()
        .all(|s| s.trim().is_empty())
    }

    /// The area in the 1040-wide space, when all four numbers parse.
    pub fn rect(&self) -> Option<(u32, u32, u32, u32)> {
        let n = |s: &str| s.trim().parse::<u32>().ok();
        Some((n(&self.x)?, n(&self.y)?, n(&self.width)?, n(&self.height)?))
    }
}

/// One message being composed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Block {
    /// `text` may hold `[絵文字001]` markers.
    Text { text: String },
    /// `media` is the upload's token (empty for an image kept from elsewhere).
    Image {
        media: String,
        original: String,
        preview: String,
    },
    /// `base_height` is the image's height when it is 1040 wide.
    Imagemap {
        media: String,
        base_url: String,
        base_height: u32,
        alt: String,
        areas: Vec<AreaRow>,
    },
    /// `json` is the container as typed (a bubble or a carousel).
    Flex { alt: String, json: String },
}

impl Block {
    pub fn new(kind: Kind) -> Self {
        match kind {
            Kind::Text => Block::Text {
                text: String::new(),
            },
            Kind::Image => Block::Image {
                media: String::new(),
                original: String::new(),
                preview: String::new(),
            },
            Kind::Imagemap => Block::Imagemap {
                media: String::new(),
                base_url: String::new(),
                base_height: 0,
                alt: String::new(),
                areas: Vec::new(),
            },
            Kind::Flex => Block::Flex {
                alt: String::new(),
                json: String::new(),
            },
        }
    }

    pub fn kind(&self) -> Kind {
        match self {
            Block::Text { .. } => Kind::Text,
            Block::Image { .. } => Kind::Image,
            Block::Imagemap { .. } => Kind::Imagemap,
            Block::Flex { .. } => Kind::Flex,
        }
    }
}

/// What the composer holds: the blocks in send order.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ComposerState {
    pub blocks: Vec<Block>,
}

/// The name of a block's field: `m{i}_{name}`.
pub fn field(i: usize, name: &str) -> String {
    format!("m{i}_{name}")
}

/// The name of an area row's field: `m{i}_a{j}_{name}`.
pub fn area_field(i: usize, j: usize, name: &str) -> String {
    format!("m{i}_a{j}_{name}")
}

/// The key of a whole area row's problems: `m{i}_a{j}`.
pub fn area_row(i: usize, j: usize) -> String {
    format!("m{i}_a{j}")
}

fn crlf(s: &str) -> String {
    s.replace("\r\n", "\n")
}

/// The namespace of the composer's form handling.
pub struct Composer;

impl Composer {
    /// The composer's state as posted, with the problems of its shape (more
    /// than five messages, more than 50 areas, unknown types). LINE's own
    /// rules are checked by [`ComposerState::messages`].
    pub fn from_form(form: &FormData) -> (ComposerState, FieldErrors) {
        let mut values: HashMap<&str, &str> = HashMap::new();
        for (k, v) in form.pairs() {
            values.entry(k.as_str()).or_insert(v.as_str());
        }
        let get = |k: &str| values.get(k).copied().unwrap_or("");
        let mut errors = FieldErrors::new();
        let block_ids = indexes(form, "m", "_type");
        if block_ids.len() > MAX_MESSAGES {
            errors.add(
                MESSAGES_FIELD,
                format!(
                    "一度に送れるメッセージは{MAX_MESSAGES}件までです（{}件あります）。",
                    block_ids.len()
                ),
            );
        }
        let mut blocks = Vec::new();
        for (i, id) in block_ids.into_iter().take(MAX_BLOCK_ROWS).enumerate() {
            let f = |name: &str| get(&field(id, name));
            let Some(kind) = Kind::parse(f("type")) else {
                errors.add(
                    &field(i, "type"),
                    "メッセージの種類が正しくありません。もう一度追加してください。",
                );
                continue;
            };
            let block = match kind {
                Kind::Text => Block::Text {
                    text: crlf(f("text")),
                },
                Kind::Image => Block::Image {
                    media: f("media").trim().to_owned(),
                    original: f("original").trim().to_owned(),
                    preview: f("preview").trim().to_owned(),
                },
                Kind::Imagemap => {
                    let rows = indexes(form, &format!("m{id}_a"), "_x");
                    if rows.len() > MAX_AREA_ROWS {
                        errors.add(
                            &field(i, "areas"),
                            format!("タップ領域は{MAX_AREAS}個までです。"),
                        );
                    }
                    let areas: Vec<AreaRow> = rows
                        .into_iter()
                        .take(MAX_AREA_ROWS)
                        .map(|j| {
                            let a = |name: &str| get(&area_field(id, j, name)).trim().to_owned();
                            AreaRow {
                                x: a("x"),
                                y: a("y"),
                                width: a("w"),
                                height: a("h"),
                                action: match a("action").as_str() {
                                    "message" => "message".to_owned(),
                                    _ => "uri".to_owned(),
                                },
                                target: a("target"),
                                label: a("label"),
                            }
                        })
                        .collect();
                    let used = areas.iter().filter(|a| !a.is_blank()).count();
                    if used > MAX_AREAS {
                        errors.add(
                            &field(i, "areas"),
                            format!(
                                "タップ領域は{MAX_AREAS}個までです（{used}個あります）。減らしてください。"
                            ),
                        );
                    }
                    Block::Imagemap {
                        media: f("media").trim().to_owned(),
                        base_url: f("base").trim().to_owned(),
                        base_height: f("base_h").trim().parse().unwrap_or(0),
                        alt: f("alt").trim().to_owned(),
                        areas,
                    }
                }
                Kind::Flex => Block::Flex {
                    alt: f("alt").trim().to_owned(),
                    json: crlf(f("flex")),
                },
            };
            blocks.push(block);
        }
        (ComposerState { blocks }, errors)
    }

    /// Stores the images chosen in the form (`m{i}_file`) and points their
    /// blocks at them. A refused file gets its Japanese message at the field.
    pub async fn store_uploads(
        state: &AppState,
        me: &CurrentStaff,
        composer: &mut ComposerState,
        uploads: Vec<Upload>,
        errors: &mut FieldErrors,
    ) -> Result<(), AppError> {
        let public_url = state.config().public_url.clone();
        for upload in uploads {
            let Some(i) = upload
                .field
                .strip_prefix('m')
                .and_then(|s| s.strip_suffix("_file"))
                .and_then(|s| s.parse::<usize>().ok())
            else {
                continue;
            };
            let purpose = match composer.blocks.get(i).map(Block::kind) {
                Some(Kind::Image) => Purpose::Image,
                Some(Kind::Imagemap) => Purpose::Imagemap,
                _ => continue,
            };
            let stored =
                media::store_upload(state, me, purpose, upload.bytes, &upload.file_name).await?;
            match stored {
                Ok(m) => {
                    if let Some(block) = composer.blocks.get_mut(i) {
                        use_media(block, &public_url, &m);
                    }
                }
                Err(message) => errors.add(&field(i, "file"), message),
            }
        }
        Ok(())
    }
}

/// Points an image or imagemap block at a stored upload.
pub fn use_media(block: &mut Block, public_url: &str, m: &hiroba_store::media::Media) {
    match block {
        Block::Image {
            media,
            original,
            preview,
        } => {
            *media = m.token.clone();
            *original = media::url(public_url, &m.token, "original");
            *preview = media::url(public_url, &m.token, "preview");
        }
        Block::Imagemap {
            media,
            base_url,
            base_height,
            ..
        } => {
            *media = m.token.clone();
            *base_url = media::base_url(public_url, &m.token);
            let (w, h) = (
                u32::try_from(m.width).unwrap_or(1),
                u32::try_from(m.height).unwrap_or(1),
            );
            *base_height = media::scaled_height(w, h, IMAGEMAP_BASE_WIDTH);
        }
        Block::Text { .. } | Block::Flex { .. } => {}
    }
}

/// The distinct `n` of the form's keys `{prefix}{n}{suffix}`, ascending.
fn indexes(form: &FormData, prefix: &str, suffix: &str) -> Vec<usize> {
    let set: BTreeSet<usize> = form
        .pairs()
        .iter()
        .filter_map(|(k, _)| {
            let digits = k.strip_prefix(prefix)?.strip_suffix(suffix)?;
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            digits.parse().ok()
        })
        .collect();
    set.into_iter().collect()
}

// ---- actions --------------------------------------------------------------------------------

/// A composer button (the `action` field).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Action {
    /// Check the messages and refresh the preview (also the default).
    Check,
    Add(Kind),
    Remove(usize),
    Up(usize),
    Down(usize),
    /// Append LINE emoji `id` of the sample product to block `i`'s text.
    Emoji(usize, String),
    /// Fill block `i`'s Flex JSON with a ready template.
    Template(usize, String),
    AddArea(usize),
    RemoveArea(usize, usize),
    /// Store the chosen file (uploads are stored with any action).
    Upload(usize),
}

impl Action {
    pub fn parse(s: &str) -> Option<Self> {
        let mut parts = s.split(':');
        let verb = parts.next()?;
        let mut num = || parts.next().and_then(|n| n.parse::<usize>().ok());
        Some(match verb {
            "check" | "" => Action::Check,
            "add" => Action::Add(Kind::parse(s.get(4..)?)?),
            "remove" => Action::Remove(num()?),
            "up" => Action::Up(num()?),
            "down" => Action::Down(num()?),
            "upload" => Action::Upload(num()?),
            "area_add" => Action::AddArea(num()?),
            "area_remove" => {
                let i = num()?;
                Action::RemoveArea(i, num()?)
            }
            "emoji" => {
                let i = num()?;
                let id = s.rsplit(':').next()?;
                EMOJI_IDS
                    .contains(&id)
                    .then(|| Action::Emoji(i, id.to_owned()))?
            }
            "template" => {
                let i = num()?;
                let name = s.rsplit(':').next()?;
                template(name)?;
                Action::Template(i, name.to_owned())
            }
            _ => return None,
        })
    }
}

impl ComposerState {
    /// A new composer: one empty text message.
    pub fn new() -> Self {
        ComposerState {
            blocks: vec![Block::new(Kind::Text)],
        }
    }

    /// Applies a button; a refusal is `(field, Japanese message)`.
    pub fn apply(&mut self, action: &Action) -> Result<(), (String, String)> {
        let n = self.blocks.len();
        let missing = || {
            (
                MESSAGES_FIELD.to_owned(),
                "そのメッセージはもうありません。".to_owned(),
            )
        };
        match action {
            Action::Check | Action::Upload(_) => {}
            Action::Add(kind) => {
                if n >= MAX_MESSAGES {
                    return Err((
                        MESSAGES_FIELD.to_owned(),
                        format!("一度に送れるメッセージは{MAX_MESSAGES}件までです。"),
                    ));
                }
                self.blocks.push(Block::new(*kind));
            }
            Action::Remove(i) => {
                if *i >= n {
                    return Err(missing());
                }
                self.blocks.remove(*i);
            }
            Action::Up(i) => {
                if *i >= n {
                    return Err(missing());
                }
                if *i > 0 {
                    self.blocks.swap(*i, i - 1);
                }
            }
            Action::Down(i) => {
                if *i >= n {
                    return Err(missing());
                }
                if i + 1 < n {
                    self.blocks.swap(*i, i + 1);
                }
            }
            Action::Emoji(i, id) => match self.blocks.get_mut(*i) {
                Some(Block::Text { text }) => text.push_str(&emoji_marker(EMOJI_PRODUCT, id)),
                _ => return Err(missing()),
            },
            Action::Template(i, name) => match (self.blocks.get_mut(*i), template(name)) {
                (Some(Block::Flex { alt, json }), Some((_, template_alt, contents))) => {
                    *json = serde_json::to_string_pretty(&contents).unwrap_or_default();
                    if alt.is_empty() {
                        *alt = template_alt.to_owned();
                    }
                }
                _ => return Err(missing()),
            },
            Action::AddArea(i) => match self.blocks.get_mut(*i) {
                Some(Block::Imagemap { areas, .. }) => {
                    if areas.iter().filter(|a| !a.is_blank()).count() >= MAX_AREAS {
                        return Err((
                            field(*i, "areas"),
                            format!("タップ領域は{MAX_AREAS}個までです。"),
                        ));
                    }
                    areas.push(AreaRow {
                        action: "uri".into(),
                        ..AreaRow::default()
                    });
                }
                _ => return Err(missing()),
            },
            Action::RemoveArea(i, j) => match self.blocks.get_mut(*i) {
                Some(Block::Imagemap { areas, .. }) if *j < areas.len() => {
                    areas.remove(*j);
                }
                _ => return Err(missing()),
            },
        }
        Ok(())
    }

    /// The messages as LINE's JSON, each checked with `hiroba_line`'s rules;
    /// otherwise every problem at its field, in Japanese.
    pub fn messages(&self) -> Result<Vec<Value>, FieldErrors> {
        self.typed_messages()
            .map(|list| list.iter().map(Message::to_json).collect())
    }

    /// [`ComposerState::messages`] as typed messages (for the API client).
    pub fn typed_messages(&self) -> Result<Vec<Message>, FieldErrors> {
        let mut errors = FieldErrors::new();
        if self.blocks.is_empty() {
            errors.add(MESSAGES_FIELD, "メッセージを1件以上追加してください。");
        }
        if self.blocks.len() > MAX_MESSAGES {
            errors.add(
                MESSAGES_FIELD,
                format!(
                    "一度に送れるメッセージは{MAX_MESSAGES}件までです（{}件あります）。",
                    self.blocks.len()
                ),
            );
        }
        let mut out = Vec::new();
        for (i, block) in self.blocks.iter().enumerate() {
            match build(i, block) {
                Ok(m) => out.push(m),
                Err(problems) => {
                    for (f, message) in problems {
                        errors.add(&f, message);
                    }
                }
            }
        }
        if errors.is_empty()
            && let Err(e) = hiroba_line::message::validate_messages_allowing_http_media(&out)
        {
            errors.add(MESSAGES_FIELD, e.ja);
        }
        if errors.is_empty() {
            Ok(out)
        } else {
            Err(errors)
        }
    }

    /// True when a message refers to an `http://` image: the simulator shows
    /// it, but LINE itself needs https.
    pub fn has_http_media(&self) -> bool {
        self.blocks.iter().any(|b| match b {
            Block::Image { original, .. } => original.starts_with("http://"),
            Block::Imagemap { base_url, .. } => base_url.starts_with("http://"),
            _ => false,
        })
    }

    /// The phone-like preview of the messages as far as they can be shown
    /// (a block that does not pass the checks yet is shown as typed).
    pub fn preview_html(&self) -> String {
        let drafts: Vec<Value> = self
            .blocks
            .iter()
            .enumerate()
            .filter_map(|(i, b)| draft(i, b))
            .collect();
        hiroba_line::preview::render_messages(&drafts)
    }

    /// An editable state of stored messages (a delivery's JSON array). Message
    /// types the composer does not make (stickers, templates...) become a text
    /// block saying so, so nothing disappears unnoticed.
    pub fn from_messages(messages: &[Value]) -> Self {
        let s = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
        let blocks = messages
            .iter()
            .map(|m| match m.get("type").and_then(Value::as_str).unwrap_or("") {
                "text" => Block::Text {
                    text: collapse_emojis(
                        m.get("text").and_then(Value::as_str).unwrap_or(""),
                        m.get("emojis").and_then(Value::as_array),
                    ),
                },
                "image" => {
                    let original = s(m, "originalContentUrl");
                    Block::Image {
                        media: token_of(&original).unwrap_or_default(),
                        preview: s(m, "previewImageUrl"),
                        original,
                    }
                }
                "imagemap" => {
                    let base_url = s(m, "baseUrl");
                    let n = |v: &Value, k: &str| v.get(k).and_then(Value::as_u64).unwrap_or(0);
                    let areas = m
                        .get("actions")
                        .and_then(Value::as_array)
                        .into_iter()
                        .flatten()
                        .map(|a| {
                            let area = a.get("area").unwrap_or(&Value::Null);
                            let uri = a.get("type").and_then(Value::as_str) == Some("uri");
                            AreaRow {
                                x: n(area, "x").to_string(),
                                y: n(area, "y").to_string(),
                                width: n(area, "width").to_string(),
                                height: n(area, "height").to_string(),
                                action: if uri { "uri" } else { "message" }.to_owned(),
                                target: if uri {
                                    s(a, "linkUri")
                                } else if a.get("text").is_some() {
                                    s(a, "text")
                                } else {
                                    s(a, "clipboardText")
                                },
                                label: s(a, "label"),
                            }
                        })
                        .collect();
                    Block::Imagemap {
                        media: token_of(&format!("{base_url}/1040")).unwrap_or_default(),
                        base_height: m
                            .pointer("/baseSize/height")
                            .and_then(Value::as_u64)
                            .and_then(|h| u32::try_from(h).ok())
                            .unwrap_or(0),
                        base_url,
                        alt: s(m, "altText"),
                        areas,
                    }
                }
                "flex" => Block::Flex {
                    alt: s(m, "altText"),
                    json: m
                        .get("contents")
                        .map(|c| serde_json::to_string_pretty(c).unwrap_or_default())
                        .unwrap_or_default(),
                },
                other => Block::Text {
                    text: format!(
                        "（この画面で編集できない種類のメッセージ「{other}」がありました。作り直してください）"
                    ),
                },
            })
            .collect();
        ComposerState { blocks }
    }
}

/// The token of one of Hiroba's media URLs (`…/media/{token}/{rendition}`).
fn token_of(url: &str) -> Option<String> {
    let rest = &url[url.rfind("/media/")? + "/media/".len()..];
    let token = rest.split('/').next()?;
    hiroba_store::media::is_token(token).then(|| token.to_owned())
}

// ---- LINE emoji -----------------------------------------------------------------------------

/// How an emoji is written in the composer's text.
pub fn emoji_marker(product: &str, id: &str) -> String {
    if product == EMOJI_PRODUCT {
        format!("{EMOJI_OPEN}{id}]")
    } else {
        format!("{EMOJI_OPEN}{product}/{id}]")
    }
}

fn marker_ids(inner: &str) -> Option<(String, String)> {
    let ok = |s: &str, max: usize| {
        !s.is_empty() && s.len() <= max && s.bytes().all(|b| b.is_ascii_alphanumeric())
    };
    match inner.split_once('/') {
        Some((product, id)) if ok(product, 64) && ok(id, 16) => {
            Some((product.to_owned(), id.to_owned()))
        }
        None if ok(inner, 16) => Some((EMOJI_PRODUCT.to_owned(), inner.to_owned())),
        _ => None,
    }
}

/// The composer's text (with `[絵文字001]` markers) as LINE's text with `$`
/// placeholders and the emojis at their UTF-16 indexes.
pub fn expand_emojis(s: &str) -> (String, Vec<Emoji>) {
    let mut out = String::with_capacity(s.len());
    let mut emojis = Vec::new();
    let mut rest = s;
    while let Some(pos) = rest.find(EMOJI_OPEN) {
        out.push_str(&rest[..pos]);
        let after = &rest[pos + EMOJI_OPEN.len()..];
        if let Some(end) = after.find(']')
            && let Some((product_id, emoji_id)) = marker_ids(&after[..end])
        {
            emojis.push(Emoji {
                index: line_len(&out),
                product_id,
                emoji_id,
            });
            out.push('$');
            rest = &after[end + 1..];
            continue;
        }
        out.push_str(EMOJI_OPEN);
        rest = after;
    }
    out.push_str(rest);
    (out, emojis)
}

/// LINE's text and `emojis` back to the composer's markers.
pub fn collapse_emojis(text: &str, emojis: Option<&Vec<Value>>) -> String {
    let at: HashMap<u64, (String, String)> = emojis
        .into_iter()
        .flatten()
        .filter_map(|e| {
            let s = |k: &str| e.get(k).and_then(Value::as_str).map(str::to_owned);
            Some((e.get("index")?.as_u64()?, (s("productId")?, s("emojiId")?)))
        })
        .collect();
    let mut out = String::with_capacity(text.len());
    let mut utf16 = 0u64;
    for c in text.chars() {
        match (c, at.get(&utf16)) {
            ('$', Some((product, id))) => out.push_str(&emoji_marker(product, id)),
            _ => out.push(c),
        }
        utf16 += c.len_utf16() as u64;
    }
    out
}

// ---- building and checking ------------------------------------------------------------------

type Problems = Vec<(String, String)>;

/// A message checked as LINE checks it, `http://` media allowed (the notice
/// about https is shown separately).
fn checked(m: &Message) -> Result<(), ValidationError> {
    m.with_https_media().validate()
}

fn build(i: usize, block: &Block) -> Result<Message, Problems> {
    let one = |name: &str, message: String| vec![(field(i, name), message)];
    match block {
        Block::Text { text } => {
            let (text, emojis) = expand_emojis(text.trim());
            if text.is_empty() {
                return Err(one("text", "本文を入力してください。".into()));
            }
            let m = Message::new(MessageBody::Text(Text {
                text,
                emojis,
                quote_token: None,
            }));
            checked(&m).map_err(|e| one("text", e.ja))?;
            Ok(m)
        }
        Block::Image {
            original, preview, ..
        } => {
            if original.is_empty() || preview.is_empty() {
                return Err(one(
                    "file",
                    "画像ファイル（JPEG または PNG）を選んでアップロードしてください。".into(),
                ));
            }
            let m = Message::image(original.clone(), preview.clone());
            checked(&m).map_err(|e| one("file", e.ja))?;
            Ok(m)
        }
        Block::Imagemap {
            base_url,
            base_height,
            alt,
            areas,
            ..
        } => build_imagemap(i, base_url, *base_height, alt, areas),
        Block::Flex { alt, json } => build_flex(i, alt, json),
    }
}

fn build_imagemap(
    i: usize,
    base_url: &str,
    base_height: u32,
    alt: &str,
    areas: &[AreaRow],
) -> Result<Message, Problems> {
    let mut problems = Problems::new();
    if base_url.is_empty() || base_height == 0 {
        problems.push((
            field(i, "file"),
            "イメージマップの画像（JPEG または PNG）を選んでアップロードしてください。".into(),
        ));
    }
    if alt.is_empty() {
        problems.push((
            field(i, "alt"),
            "代替テキスト（通知やトーク一覧に表示される文）を入力してください。".into(),
        ));
    }
    let size = Size {
        width: IMAGEMAP_BASE_WIDTH,
        height: base_height.max(1),
    };
    let mut actions = Vec::new();
    for (j, row) in areas.iter().enumerate() {
        if row.is_blank() {
            continue;
        }
        let at = area_row(i, j);
        let Some((x, y, width, height)) = row.rect() else {
            problems.push((
                at,
                format!(
                    "タップ領域{}: x・y・幅・高さを0以上の半角数字で入力してください。",
                    j + 1
                ),
            ));
            continue;
        };
        let area = LineArea {
            x,
            y,
            width,
            height,
        };
        let label = Some(row.label.clone()).filter(|l| !l.is_empty());
        let target = row.target.clone();
        let action = if row.action == "message" {
            if target.is_empty() {
                problems.push((
                    at,
                    format!("タップ領域{}: 送信するテキストを入力してください。", j + 1),
                ));
                continue;
            }
            ImagemapAction::Message {
                text: target,
                area,
                label,
            }
        } else {
            if target.is_empty() {
                problems.push((
                    at,
                    format!(
                        "タップ領域{}: リンク先のURL（https://…）を入力してください。",
                        j + 1
                    ),
                ));
                continue;
            }
            ImagemapAction::Uri {
                link_uri: target,
                area,
                label,
            }
        };
        // Each area on its own, so every row gets its message at once.
        if base_height > 0 {
            let single =
                Message::imagemap("https://example.com/m", "a", size, vec![action.clone()]);
            if let Err(e) = single.validate() {
                let text =
                    e.ja.split_once(": ")
                        .filter(|_| e.path.is_some())
                        .map_or(e.ja.clone(), |(_, t)| t.to_owned());
                problems.push((at, format!("タップ領域{}: {text}", j + 1)));
                continue;
            }
        }
        actions.push(action);
    }
    let used = areas.iter().filter(|a| !a.is_blank()).count();
    if used == 0 {
        problems.push((
            field(i, "areas"),
            "タップ領域を1つ以上作ってください（画像の上をドラッグするか、下の欄に数字を入力します）。".into(),
        ));
    } else if used > MAX_AREAS {
        problems.push((
            field(i, "areas"),
            format!("タップ領域は{MAX_AREAS}個までです（{used}個あります）。減らしてください。"),
        ));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let m = Message::imagemap(base_url.to_owned(), alt.to_owned(), size, actions);
    checked(&m).map_err(|e| {
        let name = match e.path.as_deref() {
            Some("baseUrl" | "baseSize.width" | "baseSize.height") => "file",
            Some(_) => "areas",
            None => "alt",
        };
        vec![(field(i, name), e.ja)]
    })?;
    Ok(m)
}

/// The container of a Flex JSON: a bubble or carousel, or a whole flex
/// message as LINE's Flex Message Simulator shows it (its `contents`).
fn flex_container(json: &str) -> Result<(Value, Option<String>), String> {
    let value: Value = serde_json::from_str(json).map_err(|e| {
        let what = match e.classify() {
            serde_json::error::Category::Eof => {
                "途中で終わっています（閉じかっこ } や ] が足りません）"
            }
            serde_json::error::Category::Syntax => {
                "記号の使い方に誤りがあります（カンマ、引用符 \"、かっこを確認してください）"
            }
            _ => "読み取れません",
        };
        format!("JSON の {}行目 {}文字目: {what}。", e.line(), e.column())
    })?;
    if value.get("type").and_then(Value::as_str) == Some("flex")
        && let Some(contents) = value.get("contents")
    {
        let alt = value
            .get("altText")
            .and_then(Value::as_str)
            .map(str::to_owned);
        return Ok((contents.clone(), alt));
    }
    Ok((value, None))
}

fn build_flex(i: usize, alt: &str, json: &str) -> Result<Message, Problems> {
    if json.trim().is_empty() {
        return Err(vec![(
            field(i, "flex"),
            "Flex Message の JSON を入力するか、ひな形を選んでください。".into(),
        )]);
    }
    let (contents, inner_alt) = flex_container(json).map_err(|e| vec![(field(i, "flex"), e)])?;
    let alt = match (alt.is_empty(), inner_alt) {
        (true, Some(a)) => a,
        _ => alt.to_owned(),
    };
    let mut problems = Problems::new();
    if alt.is_empty() {
        problems.push((
            field(i, "alt"),
            "代替テキスト（通知やトーク一覧に表示される文）を入力してください。".into(),
        ));
    }
    let all = hiroba_line::flex::check(&contents, "contents");
    if let Some(first) = all.first() {
        let more = match all.len() {
            1 => String::new(),
            n => format!("（ほかに{}か所）", n - 1),
        };
        problems.push((field(i, "flex"), format!("{}{more}", first.ja)));
    }
    if !problems.is_empty() {
        return Err(problems);
    }
    let m = Message::flex(alt, contents);
    checked(&m).map_err(|e| {
        let name = if e.path.is_some() { "flex" } else { "alt" };
        vec![(field(i, name), e.ja)]
    })?;
    Ok(m)
}

/// A block as far as it can be shown, for the live preview.
fn draft(i: usize, block: &Block) -> Option<Value> {
    if let Ok(m) = build(i, block) {
        return Some(m.to_json());
    }
    match block {
        Block::Text { text } => {
            let (text, emojis) = expand_emojis(text.trim());
            (!text.is_empty()).then(|| {
                Message::new(MessageBody::Text(Text {
                    text,
                    emojis,
                    quote_token: None,
                }))
                .to_json()
            })
        }
        Block::Image {
            original, preview, ..
        } => (!original.is_empty()).then(|| Message::image(original, preview).to_json()),
        Block::Imagemap {
            base_url,
            base_height,
            alt,
            areas,
            ..
        } => (!base_url.is_empty() && *base_height > 0).then(|| {
            let actions: Vec<Value> = areas
                .iter()
                .filter_map(|a| {
                    let (x, y, width, height) = a.rect()?;
                    Some(json!({"type": a.action, "label": a.label,
                        "area": {"x": x, "y": y, "width": width, "height": height}}))
                })
                .collect();
            json!({"type": "imagemap", "baseUrl": base_url, "altText": alt,
                "baseSize": {"width": IMAGEMAP_BASE_WIDTH, "height": base_height},
                "actions": actions})
        }),
        Block::Flex { alt, json } => flex_container(json)
            .ok()
            .map(|(contents, _)| json!({"type": "flex", "altText": alt, "contents": contents})),
    }
}

// ---- Flex templates -------------------------------------------------------------------------

/// The ready Flex templates: (key, button label).
pub const TEMPLATES: [(&str, &str); 3] = [
    ("notice", "お知らせ"),
    ("event", "イベント案内"),
    ("facilities", "施設案内（2枚のカルーセル）"),
];

/// A template by key: (label, alt text, container).
pub fn template(key: &str) -> Option<(&'static str, &'static str, Value)> {
    let label = TEMPLATES.iter().find(|(k, _)| *k == key)?.1;
    let (alt, contents) = match key {
        "notice" => (
            "お知らせ: 総合体育館の床の改修工事",
            json!({
                "type": "bubble",
                "header": {"type": "box", "layout": "vertical", "backgroundColor": "#06C755",
                    "paddingAll": "16px", "contents": [
                        {"type": "text", "text": "お知らせ", "color": "#FFFFFF", "size": "sm",
                         "weight": "bold"}]},
                "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
                    {"type": "text", "text": "総合体育館の床の改修工事", "weight": "bold",
                     "size": "lg", "wrap": true},
                    {"type": "text", "wrap": true, "size": "sm", "color": "#555555",
                     "text": "6月1日(月)から6月14日(日)まで、総合体育館は床の改修工事のため利用できません。ご迷惑をおかけします。"}]},
                "footer": {"type": "box", "layout": "vertical", "contents": [
                    {"type": "button", "style": "primary", "color": "#06C755",
                     "action": {"type": "uri", "label": "詳しく見る",
                                "uri": "https://example.jp/news/1"}}]}
            }),
        ),
        "event" => (
            "イベント案内: くにとみ夏まつり",
            json!({
                "type": "bubble",
                "hero": {"type": "image", "url": "https://example.jp/images/natsumatsuri.jpg",
                         "size": "full", "aspectRatio": "20:13", "aspectMode": "cover"},
                "body": {"type": "box", "layout": "vertical", "spacing": "md", "contents": [
                    {"type": "text", "text": "くにとみ夏まつり", "weight": "bold", "size": "xl",
                     "wrap": true},
                    {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
                        {"type": "box", "layout": "baseline", "spacing": "sm", "contents": [
                            {"type": "text", "text": "日時", "color": "#AAAAAA", "size": "sm",
                             "flex": 1},
                            {"type": "text", "text": "8月2日(土) 17:00〜21:00", "wrap": true,
                             "color": "#666666", "size": "sm", "flex": 4}]},
                        {"type": "box", "layout": "baseline", "spacing": "sm", "contents": [
                            {"type": "text", "text": "場所", "color": "#AAAAAA", "size": "sm",
                             "flex": 1},
                            {"type": "text", "text": "中央公民館 前広場", "wrap": true,
                             "color": "#666666", "size": "sm", "flex": 4}]}]}]},
                "footer": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
                    {"type": "button", "style": "primary",
                     "action": {"type": "uri", "label": "詳しく見る",
                                "uri": "https://example.jp/events/natsumatsuri"}},
                    {"type": "button", "style": "link",
                     "action": {"type": "message", "label": "参加したい",
                                "text": "夏まつりに参加したい"}}]}
            }),
        ),
        "facilities" => {
            let bubble = |name: &str, hours: &str, closed: &str, uri: &str| {
                json!({
                    "type": "bubble", "size": "kilo",
                    "body": {"type": "box", "layout": "vertical", "spacing": "sm", "contents": [
                        {"type": "text", "text": "施設案内", "size": "xs", "color": "#06C755",
                         "weight": "bold"},
                        {"type": "text", "text": name, "weight": "bold", "size": "lg",
                         "wrap": true},
                        {"type": "box", "layout": "baseline", "spacing": "sm", "contents": [
                            {"type": "text", "text": "開館", "color": "#AAAAAA", "size": "sm",
                             "flex": 1},
                            {"type": "text", "text": hours, "wrap": true, "size": "sm",
                             "flex": 3}]},
                        {"type": "box", "layout": "baseline", "spacing": "sm", "contents": [
                            {"type": "text", "text": "休館", "color": "#AAAAAA", "size": "sm",
                             "flex": 1},
                            {"type": "text", "text": closed, "wrap": true, "size": "sm",
                             "flex": 3}]}]},
                    "footer": {"type": "box", "layout": "vertical", "contents": [
                        {"type": "button", "style": "primary", "height": "sm",
                         "action": {"type": "uri", "label": "空き状況・予約", "uri": uri}}]}
                })
            };
            (
                "施設案内: 総合体育館・中央公民館",
                json!({"type": "carousel", "contents": [
                    bubble("総合体育館", "9:00〜21:00", "毎週月曜日・年末年始",
                           "https://example.jp/facilities/gym"),
                    bubble("中央公民館", "8:30〜22:00", "毎月第3月曜日・年末年始",
                           "https://example.jp/facilities/kominkan"),
                ]}),
            )
        }
        _ => return None,
    };
    Some((label, alt, contents))
}

// ---- reading the post -----------------------------------------------------------------------

/// A file chosen in the composer's form.
#[derive(Debug, Clone)]
pub struct Upload {
    pub field: String,
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// A composer form as posted: multipart (with files) or urlencoded.
#[derive(Debug, Clone, Default)]
pub struct Posted {
    pub form: FormData,
    pub uploads: Vec<Upload>,
    /// The request asks for the composer alone (`X-Hiroba-Fragment: composer`).
    pub fragment: bool,
}

impl Posted {
    /// The composer's button, [`Action::Check`] when none (or an unknown one) was pressed.
    pub fn action(&self) -> Action {
        Action::parse(self.form.get("action")).unwrap_or(Action::Check)
    }
}

impl<S: Send + Sync> FromRequest<S> for Posted {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let fragment = req
            .headers()
            .get("x-hiroba-fragment")
            .is_some_and(|v| v.as_bytes() == b"composer");
        let multipart = req
            .headers()
            .get(header::CONTENT_TYPE)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.starts_with("multipart/form-data"));
        if !multipart {
            let form = FormData::from_request(req, state).await?;
            return Ok(Posted {
                form,
                uploads: Vec::new(),
                fragment,
            });
        }
        let unreadable = || {
            AppError::BadRequest(
                "送信された内容を読み取れませんでした。画像は10MBまでです。".into(),
            )
        };
        let mut parts = Multipart::from_request(req, state)
            .await
            .map_err(|_| unreadable())?;
        let mut pairs = Vec::new();
        let mut uploads = Vec::new();
        while let Some(f) = parts.next_field().await.map_err(|_| unreadable())? {
            let name = f.name().unwrap_or("").to_owned();
            if let Some(file_name) = f.file_name().map(str::to_owned) {
                let bytes = f.bytes().await.map_err(|_| unreadable())?;
                if !bytes.is_empty() {
                    uploads.push(Upload {
                        field: name,
                        file_name,
                        bytes: bytes.to_vec(),
                    });
                }
            } else {
                let text = f.text().await.map_err(|_| unreadable())?;
                pairs.push((name, text));
            }
        }
        Ok(Posted {
            form: FormData::from_pairs(pairs),
            uploads,
            fragment,
        })
    }
}

// ---- the partial ----------------------------------------------------------------------------

/// One area row of the form (`j`, `n` and `p` are `__J__`, `__N__` in the
/// `<template>` row the script copies).
pub struct AreaView {
    pub j: String,
    pub n: String,
    /// `m{i}_a{j}`.
    pub p: String,
    pub row: AreaRow,
    pub rect: Option<RectView>,
    pub uri: bool,
}

/// An area drawn on the image (SVG attributes, no styles), with its number.
pub struct RectView {
    pub x: u32,
    pub y: u32,
    pub w: u32,
    pub h: u32,
    pub tx: u32,
    pub ty: u32,
}

/// One block of the form.
pub struct BlockView {
    pub i: usize,
    pub n: usize,
    /// `m{i}`.
    pub p: String,
    pub kind: &'static str,
    pub label: &'static str,
    pub first: bool,
    pub last: bool,
    pub text: String,
    pub alt: String,
    pub json: String,
    pub media: String,
    pub original: String,
    pub preview: String,
    pub base_url: String,
    pub base_height: u32,
    /// A same-origin address of the uploaded image for the editor.
    pub thumb: String,
    pub areas: Vec<AreaView>,
    /// The empty row the script copies when an area is drawn.
    pub template_row: AreaView,
    /// Areas in use (not blank).
    pub used: usize,
    pub can_add_area: bool,
}

impl BlockView {
    /// The block's field name `m{i}_{name}`.
    pub fn f(&self, name: &str) -> String {
        field(self.i, name)
    }
}

/// The composer partial (`admin/_composer.html`): put its HTML inside a
/// `multipart/form-data` form.
#[derive(Template)]
#[template(path = "admin/_composer.html")]
pub struct ComposerView {
    pub blocks: Vec<BlockView>,
    pub errors: FieldErrors,
    /// The problems for the summary: (field, text naming the message).
    pub summary: Vec<(String, String)>,
    pub preview: String,
    pub can_add: bool,
    pub count: usize,
    /// Where the live preview is posted (the page's preview route).
    pub preview_url: String,
    /// `public_url` is https (real LINE can fetch the images).
    pub https: bool,
    /// `public_url` is set at all.
    pub has_public_url: bool,
    pub http_media: bool,
    pub max: usize,
    pub max_areas: usize,
    pub emoji_ids: &'static [&'static str],
    pub templates: &'static [(&'static str, &'static str)],
    /// The add buttons: (kind, label).
    pub kinds: Vec<(&'static str, &'static str)>,
}

impl ComposerView {
    pub fn new(
        state: &ComposerState,
        errors: FieldErrors,
        public_url: &str,
        preview_url: &str,
    ) -> Self {
        let n = state.blocks.len();
        let blocks = state
            .blocks
            .iter()
            .enumerate()
            .map(|(i, b)| block_view(i, n, b))
            .collect();
        let summary = errors
            .iter()
            .map(|(f, message)| {
                let block = f
                    .strip_prefix('m')
                    .and_then(|rest| rest.split('_').next())
                    .and_then(|n| n.parse::<usize>().ok());
                let text = match block.and_then(|i| state.blocks.get(i).map(|b| (i, b))) {
                    Some((i, b)) => format!("{}件目（{}）: {message}", i + 1, b.kind().label_ja()),
                    None => message.to_owned(),
                };
                (f.to_owned(), text)
            })
            .collect();
        ComposerView {
            blocks,
            errors,
            summary,
            preview: state.preview_html(),
            can_add: n < MAX_MESSAGES,
            count: n,
            preview_url: preview_url.to_owned(),
            https: media::is_https(public_url),
            has_public_url: !public_url.is_empty(),
            http_media: state.has_http_media(),
            max: MAX_MESSAGES,
            max_areas: MAX_AREAS,
            emoji_ids: &EMOJI_IDS,
            templates: &TEMPLATES,
            kinds: Kind::ALL
                .iter()
                .map(|k| (k.as_str(), k.label_ja()))
                .collect(),
        }
    }

    /// The message of a field, if any.
    pub fn error(&self, name: &str) -> Option<&str> {
        self.errors.get(name)
    }
}

fn area_view(i: usize, j: Option<usize>, row: AreaRow) -> AreaView {
    let (j, n) = match j {
        Some(j) => (j.to_string(), (j + 1).to_string()),
        None => ("__J__".to_owned(), "__N__".to_owned()),
    };
    AreaView {
        p: format!("m{i}_a{j}"),
        j,
        n,
        rect: row
            .rect()
            .filter(|r| r.2 > 0 && r.3 > 0)
            .map(|(x, y, w, h)| RectView {
                x,
                y,
                w,
                h,
                tx: x.saturating_add(14),
                ty: y.saturating_add(50),
            }),
        uri: row.action != "message",
        row,
    }
}

fn spare_row() -> AreaRow {
    AreaRow {
        action: "uri".into(),
        ..AreaRow::default()
    }
}

fn block_view(i: usize, n: usize, b: &Block) -> BlockView {
    let mut v = BlockView {
        i,
        n: i + 1,
        p: format!("m{i}"),
        kind: b.kind().as_str(),
        label: b.kind().label_ja(),
        first: i == 0,
        last: i + 1 == n,
        text: String::new(),
        alt: String::new(),
        json: String::new(),
        media: String::new(),
        original: String::new(),
        preview: String::new(),
        base_url: String::new(),
        base_height: 0,
        thumb: String::new(),
        areas: Vec::new(),
        template_row: area_view(i, None, spare_row()),
        used: 0,
        can_add_area: false,
    };
    match b {
        Block::Text { text } => v.text = text.clone(),
        Block::Image {
            media,
            original,
            preview,
        } => {
            v.media = media.clone();
            v.original = original.clone();
            v.preview = preview.clone();
            if !media.is_empty() {
                v.thumb = format!("/media/{media}/preview");
            }
        }
        Block::Imagemap {
            media,
            base_url,
            base_height,
            alt,
            areas,
        } => {
            v.media = media.clone();
            v.base_url = base_url.clone();
            v.base_height = *base_height;
            v.alt = alt.clone();
            if !media.is_empty() {
                v.thumb = format!("/media/{media}/1040");
            }
            v.used = areas.iter().filter(|a| !a.is_blank()).count();
            let mut rows: Vec<AreaRow> = areas.clone();
            // A spare row to fill in without JavaScript.
            if v.used < MAX_AREAS && rows.last().is_none_or(|r| !r.is_blank()) {
                rows.push(spare_row());
            }
            v.can_add_area = v.used < MAX_AREAS;
            v.areas = rows
                .into_iter()
                .enumerate()
                .map(|(j, row)| area_view(i, Some(j), row))
                .collect();
        }
        Block::Flex { alt, json } => {
            v.alt = alt.clone();
            v.json = json.clone();
        }
    }
    v
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn form(pairs: &[(&str, &str)]) -> FormData {
        FormData::from_pairs(
            pairs
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect(),
        )
    }

    const TOKEN: &str = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQ";

    fn imagemap_form(rows: &[(&str, &str, &str, &str, &str, &str)]) -> Vec<(String, String)> {
        let mut pairs: Vec<(String, String)> = vec![
            ("m0_type".into(), "imagemap".into()),
            ("m0_media".into(), TOKEN.into()),
            (
                "m0_base".into(),
                format!("https://hiroba.example.jp/media/{TOKEN}"),
            ),
            ("m0_base_h".into(), "700".into()),
            ("m0_alt".into(), "施設マップ".into()),
        ];
        for (j, (x, y, w, h, action, target)) in rows.iter().enumerate() {
            for (name, value) in [
                ("x", x),
                ("y", y),
                ("w", w),
                ("h", h),
                ("action", action),
                ("target", target),
                ("label", &""),
            ] {
                pairs.push((area_field(0, j, name), (*value).to_owned()));
            }
        }
        pairs
    }

    #[test]
    fn text_with_emoji_becomes_placeholders_and_utf16_indexes() {
        let (state, errors) = Composer::from_form(&form(&[
            ("m0_type", "text"),
            ("m0_text", " 🍎[絵文字001]料金 $5 [絵文字010]\r\nです "),
        ]));
        assert!(errors.is_empty());
        let messages = state.messages().unwrap();
        assert_eq!(
            messages,
            [
                json!({"type": "text", "text": "🍎$料金 $5 $\nです", "emojis": [
                {"index": 2, "productId": EMOJI_PRODUCT, "emojiId": "001"},
                {"index": 9, "productId": EMOJI_PRODUCT, "emojiId": "010"}]})
            ]
        );
        // Back to the editable form, markers and all.
        let again = ComposerState::from_messages(&messages);
        assert_eq!(
            again.blocks,
            [Block::Text {
                text: "🍎[絵文字001]料金 $5 [絵文字010]\nです".into()
            }]
        );
        assert_eq!(again.messages().unwrap(), messages);
        // Not a marker: left as text.
        let (t, e) = expand_emojis("[絵文字] [絵文字a b] [絵文字p/1");
        assert_eq!(
            (t.as_str(), e.len()),
            ("[絵文字] [絵文字a b] [絵文字p/1", 0)
        );
        let (t, e) = expand_emojis("[絵文字0123456789abcdef01234567/042]");
        assert_eq!(t, "$");
        assert_eq!(e[0].product_id, "0123456789abcdef01234567");
    }

    #[test]
    fn empty_text_and_too_long_text_are_refused_at_the_field() {
        let (state, _) = Composer::from_form(&form(&[
            ("m0_type", "text"),
            ("m0_text", "  \r\n "),
            ("m1_type", "text"),
            ("m1_text", &"あ".repeat(5001)),
        ]));
        let errors = state.messages().unwrap_err();
        assert_eq!(errors.get("m0_text"), Some("本文を入力してください。"));
        assert!(errors.get("m1_text").unwrap().contains("5000文字以内"));
        let errors = ComposerState::default().messages().unwrap_err();
        assert!(errors.get(MESSAGES_FIELD).unwrap().contains("1件以上"));
    }

    #[test]
    fn a_sixth_message_is_refused() {
        let mut pairs = Vec::new();
        for i in 0..6 {
            pairs.push((format!("m{i}_type"), "text".to_owned()));
            pairs.push((format!("m{i}_text"), format!("お知らせ{i}")));
        }
        let (state, errors) = Composer::from_form(&FormData::from_pairs(pairs));
        assert!(
            errors
                .get(MESSAGES_FIELD)
                .unwrap()
                .contains("5件までです（6件あります）")
        );
        assert_eq!(state.blocks.len(), 6);
        assert!(
            state
                .messages()
                .unwrap_err()
                .get(MESSAGES_FIELD)
                .unwrap()
                .contains("5件まで")
        );
        let mut five = state.clone();
        five.blocks.truncate(5);
        assert_eq!(five.messages().unwrap().len(), 5);
        assert_eq!(
            five.apply(&Action::Add(Kind::Text)).unwrap_err().0,
            MESSAGES_FIELD
        );
        assert_eq!(five.blocks.len(), 5);
    }

    #[test]
    fn images_use_the_uploaded_renditions() {
        let (state, _) = Composer::from_form(&form(&[("m0_type", "image")]));
        let errors = state.messages().unwrap_err();
        assert!(errors.get("m0_file").unwrap().contains("アップロード"));
        let original = format!("http://127.0.0.1:8080/media/{TOKEN}/original");
        let preview = format!("http://127.0.0.1:8080/media/{TOKEN}/preview");
        let (state, _) = Composer::from_form(&form(&[
            ("m0_type", "image"),
            ("m0_media", TOKEN),
            ("m0_original", &original),
            ("m0_preview", &preview),
        ]));
        // http (the demo) is built; the page shows that LINE needs https.
        assert!(state.has_http_media());
        let messages = state.messages().unwrap();
        assert_eq!(
            messages,
            [json!({"type": "image", "originalContentUrl": original, "previewImageUrl": preview})]
        );
        assert_eq!(ComposerState::from_messages(&messages), state);
        let mut block = Block::new(Kind::Image);
        let m = hiroba_store::media::Media {
            id: 1,
            token: TOKEN.into(),
            purpose: Purpose::Image,
            content_type: "image/png".into(),
            width: 800,
            height: 600,
            upload_bytes: 1,
            file_name: String::new(),
            created_by: None,
            created_at: chrono::Utc::now(),
        };
        use_media(&mut block, "https://hiroba.example.jp/", &m);
        assert_eq!(
            block,
            Block::Image {
                media: TOKEN.into(),
                original: format!("https://hiroba.example.jp/media/{TOKEN}/original"),
                preview: format!("https://hiroba.example.jp/media/{TOKEN}/preview"),
            }
        );
        let mut map = Block::new(Kind::Imagemap);
        use_media(&mut map, "https://hiroba.example.jp", &m);
        let Block::Imagemap {
            base_url,
            base_height,
            ..
        } = map
        else {
            panic!()
        };
        assert_eq!(
            (base_url.as_str(), base_height),
            (
                format!("https://hiroba.example.jp/media/{TOKEN}").as_str(),
                780
            )
        );
    }

    #[test]
    fn imagemap_areas_become_actions_in_the_1040_space() {
        let pairs = imagemap_form(&[
            ("0", "0", "520", "700", "uri", "https://example.jp/yoyaku"),
            ("520", "0", "520", "700", "message", "空き状況"),
            ("", "", "", "", "uri", ""),
        ]);
        let (state, errors) = Composer::from_form(&FormData::from_pairs(pairs));
        assert!(errors.is_empty(), "{errors:?}");
        let messages = state.messages().unwrap();
        assert_eq!(
            messages[0],
            json!({"type": "imagemap", "baseUrl": format!("https://hiroba.example.jp/media/{TOKEN}"),
                "altText": "施設マップ", "baseSize": {"width": 1040, "height": 700},
                "actions": [
                    {"type": "uri", "linkUri": "https://example.jp/yoyaku",
                     "area": {"x": 0, "y": 0, "width": 520, "height": 700}},
                    {"type": "message", "text": "空き状況",
                     "area": {"x": 520, "y": 0, "width": 520, "height": 700}}]})
        );
        let back = ComposerState::from_messages(&messages);
        assert_eq!(back.messages().unwrap(), messages);
        let Block::Imagemap { media, .. } = &back.blocks[0] else {
            panic!()
        };
        assert_eq!(media, TOKEN);
    }

    #[test]
    fn imagemap_area_outside_the_image_is_refused_at_its_row() {
        let pairs = imagemap_form(&[
            ("0", "0", "520", "700", "uri", "https://example.jp/yoyaku"),
            ("600", "100", "500", "100", "message", "はみ出し"),
            ("0", "650", "100", "51", "message", "下にはみ出し"),
            ("x", "0", "10", "10", "message", "数字でない"),
            ("0", "0", "10", "10", "uri", ""),
        ]);
        let (state, _) = Composer::from_form(&FormData::from_pairs(pairs));
        let errors = state.messages().unwrap_err();
        assert!(errors.get("m0_a0").is_none());
        let e = errors.get("m0_a1").unwrap();
        assert!(
            e.starts_with("タップ領域2:") && e.contains("はみ出しています"),
            "{e}"
        );
        assert!(errors.get("m0_a2").unwrap().contains("はみ出して"));
        assert!(errors.get("m0_a3").unwrap().contains("半角数字"));
        assert!(errors.get("m0_a4").unwrap().contains("リンク先のURL"));
        // No image, no alt text, no areas.
        let (state, _) = Composer::from_form(&form(&[("m0_type", "imagemap")]));
        let errors = state.messages().unwrap_err();
        assert!(errors.get("m0_file").is_some());
        assert!(errors.get("m0_alt").is_some());
        assert!(errors.get("m0_areas").unwrap().contains("1つ以上"));
    }

    #[test]
    fn more_than_fifty_areas_are_refused() {
        let rows: Vec<_> = (0..51)
            .map(|k| {
                (
                    (k % 10 * 100).to_string(),
                    (k / 10 * 100).to_string(),
                    "100".to_owned(),
                    "100".to_owned(),
                    "message".to_owned(),
                    format!("エリア{k}"),
                )
            })
            .collect();
        let refs: Vec<_> = rows
            .iter()
            .map(|(a, b, c, d, e, f)| {
                (
                    a.as_str(),
                    b.as_str(),
                    c.as_str(),
                    d.as_str(),
                    e.as_str(),
                    f.as_str(),
                )
            })
            .collect();
        let (mut state, errors) = Composer::from_form(&FormData::from_pairs(imagemap_form(&refs)));
        assert!(
            errors
                .get("m0_areas")
                .unwrap()
                .contains("50個までです（51個あります）")
        );
        assert!(
            state
                .messages()
                .unwrap_err()
                .get("m0_areas")
                .unwrap()
                .contains("50個まで")
        );
        state.apply(&Action::RemoveArea(0, 50)).unwrap();
        assert_eq!(
            state.messages().unwrap()[0]["actions"]
                .as_array()
                .unwrap()
                .len(),
            50
        );
        assert!(state.apply(&Action::AddArea(0)).is_err());
    }

    #[test]
    fn flex_problems_name_the_json_path() {
        let bad = r#"{"type":"bubble","body":{"type":"box","layout":"grid","contents":[]}}"#;
        let (state, _) = Composer::from_form(&form(&[
            ("m0_type", "flex"),
            ("m0_alt", "お知らせ"),
            ("m0_flex", bad),
        ]));
        let errors = state.messages().unwrap_err();
        let e = errors.get("m0_flex").unwrap();
        assert!(e.starts_with("contents.body.layout"), "{e}");
        // Broken JSON: line and column.
        let (state, _) = Composer::from_form(&form(&[
            ("m0_type", "flex"),
            ("m0_alt", "お知らせ"),
            ("m0_flex", "{\n  \"type\": \"bubble\",\n}"),
        ]));
        let e = state.messages().unwrap_err();
        let e = e.get("m0_flex").unwrap();
        assert!(e.starts_with("JSON の 3行目"), "{e}");
        // A whole flex message (as LINE's simulator shows it) gives its altText.
        let whole = json!({"type": "flex", "altText": "丸ごと", "contents": {"type": "bubble"}});
        let (state, _) = Composer::from_form(&form(&[
            ("m0_type", "flex"),
            ("m0_flex", &whole.to_string()),
        ]));
        assert_eq!(state.messages().unwrap(), [whole]);
        let (state, _) = Composer::from_form(&form(&[("m0_type", "flex")]));
        assert!(state.messages().unwrap_err().get("m0_flex").is_some());
    }

    #[test]
    fn the_templates_pass_the_flex_rules() {
        for (key, _) in TEMPLATES {
            let mut state = ComposerState {
                blocks: vec![Block::new(Kind::Flex)],
            };
            state
                .apply(&Action::parse(&format!("template:0:{key}")).unwrap())
                .unwrap();
            let messages = state.messages().unwrap_or_else(|e| panic!("{key}: {e:?}"));
            assert_eq!(messages[0]["type"], "flex");
            assert!(!messages[0]["altText"].as_str().unwrap().is_empty());
            assert!(state.preview_html().contains("lp-flex"), "{key}");
        }
        assert_eq!(
            template("facilities").unwrap().2["contents"]
                .as_array()
                .unwrap()
                .len(),
            2
        );
        assert!(Action::parse("template:0:nope").is_none());
    }

    #[test]
    fn buttons_add_move_and_remove_blocks() {
        let mut state = ComposerState::new();
        state.apply(&Action::parse("add:flex").unwrap()).unwrap();
        state.apply(&Action::parse("add:image").unwrap()).unwrap();
        let kinds = |s: &ComposerState| s.blocks.iter().map(Block::kind).collect::<Vec<_>>();
        assert_eq!(kinds(&state), [Kind::Text, Kind::Flex, Kind::Image]);
        state.apply(&Action::parse("up:2").unwrap()).unwrap();
        assert_eq!(kinds(&state), [Kind::Text, Kind::Image, Kind::Flex]);
        state.apply(&Action::parse("down:0").unwrap()).unwrap();
        assert_eq!(kinds(&state), [Kind::Image, Kind::Text, Kind::Flex]);
        state.apply(&Action::parse("up:0").unwrap()).unwrap();
        state.apply(&Action::parse("emoji:1:003").unwrap()).unwrap();
        assert_eq!(
            state.blocks[1],
            Block::Text {
                text: "[絵文字003]".into()
            }
        );
        state.apply(&Action::parse("remove:0").unwrap()).unwrap();
        assert_eq!(kinds(&state), [Kind::Text, Kind::Flex]);
        assert!(state.apply(&Action::Remove(5)).is_err());
        assert!(Action::parse("emoji:0:999").is_none());
        assert!(Action::parse("add:sticker").is_none());
        assert_eq!(
            Action::parse("area_remove:1:3"),
            Some(Action::RemoveArea(1, 3))
        );
    }

    #[test]
    fn the_partial_names_every_field_with_its_block() {
        let pairs = imagemap_form(&[("0", "0", "2000", "700", "uri", "https://example.jp")]);
        let (state, _) = Composer::from_form(&FormData::from_pairs(pairs));
        let errors = state.messages().unwrap_err();
        let html = ComposerView::new(&state, errors, "http://127.0.0.1", "/preview")
            .render()
            .unwrap();
        for name in [
            "m0_type",
            "m0_alt",
            "m0_file",
            "m0_a0_x",
            "m0_a0_target",
            "m0_a1_x",
        ] {
            assert!(html.contains(&format!("name=\"{name}\"")), "{name}");
        }
        assert!(html.contains("はみ出しています"));
        assert!(html.contains("実際の LINE では https"), "the http notice");
        assert!(!html.contains("style="), "no inline styles");
    }
}
