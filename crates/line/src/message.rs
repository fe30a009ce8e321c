//! Message objects Hiroba sends, serialized exactly as LINE's `Message` schema expects,
//! with LINE's limits checked before a request leaves ([`validate_messages`]).
//!
//! Lengths are counted as LINE counts them: in UTF-16 code units (LINE's "Character counting
//! in a text"); the `index` of a LINE emoji is also a UTF-16 offset to its `$` placeholder.

use serde::{Deserialize, Serialize};
use serde_json::Value;

/// Most messages per send request.
pub const MAX_MESSAGES: usize = 5;
pub const MAX_TEXT: usize = 5000;
pub const MAX_ALT_TEXT: usize = 1500;
pub const MAX_QUICK_REPLY_ITEMS: usize = 13;
pub const MAX_EMOJIS: usize = 20;
pub use crate::flex::MAX_CAROUSEL_BUBBLES;
pub const MAX_TEMPLATE_COLUMNS: usize = 10;
pub const MAX_BUTTONS_ACTIONS: usize = 4;
pub const MAX_IMAGEMAP_ACTIONS: usize = 50;
pub const MAX_POSTBACK_DATA: usize = 300;
/// Imagemap images are described at this base width (LINE scales them for each device).
pub const IMAGEMAP_BASE_WIDTH: u32 = 1040;
pub const MAX_IMAGEMAP_TEXT: usize = 400;
pub const MAX_IMAGEMAP_URI: usize = 1000;
pub const MAX_IMAGEMAP_LABEL: usize = 100;
/// Longest image, video, audio or icon URL.
pub const MAX_MEDIA_URL: usize = 2000;

/// A message that breaks one of LINE's limits: `ja` for staff, `en` for logs. Problems inside
/// a message's JSON (flex contents, imagemap areas) also carry the JSON `path` from the message
/// (`contents.body.contents[2].layout`), which both texts start with.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{ja} / {en}")]
pub struct ValidationError {
    pub ja: String,
    pub en: String,
    pub path: Option<String>,
}

impl ValidationError {
    fn new(ja: impl Into<String>, en: impl Into<String>) -> Self {
        ValidationError {
            ja: ja.into(),
            en: en.into(),
            path: None,
        }
    }

    /// A problem at a JSON path of the message.
    pub(crate) fn at(path: &str, ja: String, en: String) -> Self {
        ValidationError {
            ja: format!("{path}: {ja}"),
            en: format!("{path}: {en}"),
            path: Some(path.to_owned()),
        }
    }
}

/// Length as LINE counts it (UTF-16 code units).
pub fn line_len(s: &str) -> usize {
    s.encode_utf16().count()
}

/// A message object: its body plus the optional quick reply and sender.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Message {
    #[serde(flatten)]
    pub body: MessageBody,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quick_reply: Option<QuickReply>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub sender: Option<Sender>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MessageBody {
    Text(Text),
    Sticker(Sticker),
    Image(Image),
    Video(Video),
    Audio(Audio),
    Location(Location),
    Imagemap(Imagemap),
    Template(Template),
    Flex(Flex),
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Text {
    pub text: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub emojis: Vec<Emoji>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub quote_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Emoji {
    /// UTF-16 offset of the `$` placeholder in `text`.
    pub index: usize,
    pub product_id: String,
    pub emoji_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sticker {
    pub package_id: String,
    pub sticker_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Image {
    pub original_content_url: String,
    pub preview_image_url: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Video {
    pub original_content_url: String,
    pub preview_image_url: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tracking_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Audio {
    pub original_content_url: String,
    /// Milliseconds.
    pub duration: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Location {
    pub title: String,
    pub address: String,
    pub latitude: f64,
    pub longitude: f64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Imagemap {
    /// Base URL of the image; LINE appends `/1040`, `/700`, ... for the widths.
    pub base_url: String,
    pub alt_text: String,
    pub base_size: Size,
    pub actions: Vec<ImagemapAction>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Size {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct Area {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum ImagemapAction {
    #[serde(rename_all = "camelCase")]
    Uri {
        link_uri: String,
        area: Area,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Message {
        text: String,
        area: Area,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Clipboard {
        clipboard_text: String,
        area: Area,
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
    },
}

/// A template message (`type: template`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Template {
    pub alt_text: String,
    pub template: TemplateKind,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum TemplateKind {
    #[serde(rename_all = "camelCase")]
    Buttons {
        #[serde(skip_serializing_if = "Option::is_none")]
        thumbnail_image_url: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        title: Option<String>,
        text: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        default_action: Option<Action>,
        actions: Vec<Action>,
    },
    Confirm {
        text: String,
        actions: Vec<Action>,
    },
    Carousel {
        columns: Vec<CarouselColumn>,
    },
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct CarouselColumn {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub thumbnail_image_url: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub title: Option<String>,
    pub text: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub default_action: Option<Action>,
    pub actions: Vec<Action>,
}

/// A flex message: `contents` is a bubble or carousel container as raw JSON (staff may paste
/// it from LINE's Flex Message Simulator); [`Message::validate`] checks its outline.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Flex {
    pub alt_text: String,
    pub contents: Value,
}

/// Action objects (buttons, quick reply, rich menu areas).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Action {
    #[serde(rename_all = "camelCase")]
    Postback {
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        data: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        display_text: Option<String>,
        /// `closeRichMenu`, `openRichMenu`, `openKeyboard`, `openVoice`.
        #[serde(skip_serializing_if = "Option::is_none")]
        input_option: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        fill_in_text: Option<String>,
    },
    Message {
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        text: String,
    },
    Uri {
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        uri: String,
    },
    #[serde(rename = "datetimepicker")]
    DatetimePicker {
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        data: String,
        /// `date`, `time` or `datetime`.
        mode: String,
        #[serde(skip_serializing_if = "Option::is_none")]
        initial: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        max: Option<String>,
        #[serde(skip_serializing_if = "Option::is_none")]
        min: Option<String>,
    },
    Camera {
        label: String,
    },
    CameraRoll {
        label: String,
    },
    Location {
        label: String,
    },
    #[serde(rename = "richmenuswitch", rename_all = "camelCase")]
    RichMenuSwitch {
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        rich_menu_alias_id: String,
        data: String,
    },
    #[serde(rename_all = "camelCase")]
    Clipboard {
        #[serde(skip_serializing_if = "Option::is_none")]
        label: Option<String>,
        clipboard_text: String,
    },
}

impl Action {
    pub fn postback(label: impl Into<String>, data: impl Into<String>) -> Self {
        Action::Postback {
            label: Some(label.into()),
            data: data.into(),
            display_text: None,
            input_option: None,
            fill_in_text: None,
        }
    }
    pub fn message(label: impl Into<String>, text: impl Into<String>) -> Self {
        Action::Message {
            label: Some(label.into()),
            text: text.into(),
        }
    }
    pub fn uri(label: impl Into<String>, uri: impl Into<String>) -> Self {
        Action::Uri {
            label: Some(label.into()),
            uri: uri.into(),
        }
    }

    fn validate(&self) -> Result<(), ValidationError> {
        let data = match self {
            Action::Postback { data, .. }
            | Action::DatetimePicker { data, .. }
            | Action::RichMenuSwitch { data, .. } => Some(data),
            _ => None,
        };
        if let Some(data) = data
            && line_len(data) > MAX_POSTBACK_DATA
        {
            return Err(ValidationError::new(
                format!("ポストバックのデータは{MAX_POSTBACK_DATA}文字以内にしてください。"),
                format!("postback data must be at most {MAX_POSTBACK_DATA} characters"),
            ));
        }
        Ok(())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuickReply {
    pub items: Vec<QuickReplyItem>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuickReplyItem {
    /// Always `action`.
    #[serde(rename = "type")]
    pub item_type: QuickReplyItemType,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub image_url: Option<String>,
    pub action: Action,
}

/// A quick-reply item's `type`: LINE has only `action`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum QuickReplyItemType {
    #[default]
    Action,
}

impl QuickReplyItem {
    pub fn new(action: Action) -> Self {
        QuickReplyItem {
            item_type: QuickReplyItemType::Action,
            image_url: None,
            action,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Sender {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub name: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub icon_url: Option<String>,
}

/// Builds a text with LINE emoji: each [`TextBuilder::emoji`] appends a `$` placeholder and
/// records its UTF-16 index, so literal `$` in [`TextBuilder::push`] text stay plain.
#[derive(Debug, Clone, Default)]
pub struct TextBuilder {
    text: String,
    emojis: Vec<Emoji>,
}

impl TextBuilder {
    pub fn new() -> Self {
        Self::default()
    }
    pub fn push(mut self, s: &str) -> Self {
        self.text.push_str(s);
        self
    }
    pub fn emoji(mut self, product_id: impl Into<String>, emoji_id: impl Into<String>) -> Self {
        self.emojis.push(Emoji {
            index: line_len(&self.text),
            product_id: product_id.into(),
            emoji_id: emoji_id.into(),
        });
        self.text.push('$');
        self
    }
    pub fn build(self) -> Message {
        Message::new(MessageBody::Text(Text {
            text: self.text,
            emojis: self.emojis,
            quote_token: None,
        }))
    }
}

impl Message {
    pub fn new(body: MessageBody) -> Self {
        Message {
            body,
            quick_reply: None,
            sender: None,
        }
    }

    pub fn text(text: impl Into<String>) -> Self {
        Message::new(MessageBody::Text(Text {
            text: text.into(),
            emojis: Vec::new(),
            quote_token: None,
        }))
    }

    /// A text whose n-th `$` is the n-th `(productId, emojiId)`; the counts must match.
    pub fn text_with_emojis(
        template: &str,
        emojis: &[(&str, &str)],
    ) -> Result<Self, ValidationError> {
        let mut indexes = Vec::new();
        let mut offset = 0;
        for c in template.chars() {
            if c == '$' {
                indexes.push(offset);
            }
            offset += c.len_utf16();
        }
        if indexes.len() != emojis.len() {
            return Err(ValidationError::new(
                format!(
                    "絵文字の位置（$）が{}個、絵文字が{}個です。数を合わせてください。",
                    indexes.len(),
                    emojis.len()
                ),
                format!(
                    "{} `$` placeholders but {} emojis",
                    indexes.len(),
                    emojis.len()
                ),
            ));
        }
        let emojis = indexes
            .into_iter()
            .zip(emojis)
            .map(|(index, (p, e))| Emoji {
                index,
                product_id: (*p).to_owned(),
                emoji_id: (*e).to_owned(),
            })
            .collect();
        Ok(Message::new(MessageBody::Text(Text {
            text: template.to_owned(),
            emojis,
            quote_token: None,
        })))
    }

    pub fn sticker(package_id: impl Into<String>, sticker_id: impl Into<String>) -> Self {
        Message::new(MessageBody::Sticker(Sticker {
            package_id: package_id.into(),
            sticker_id: sticker_id.into(),
        }))
    }

    pub fn image(original: impl Into<String>, preview: impl Into<String>) -> Self {
        Message::new(MessageBody::Image(Image {
            original_content_url: original.into(),
            preview_image_url: preview.into(),
        }))
    }

    pub fn location(
        title: impl Into<String>,
        address: impl Into<String>,
        latitude: f64,
        longitude: f64,
    ) -> Self {
        Message::new(MessageBody::Location(Location {
            title: title.into(),
            address: address.into(),
            latitude,
            longitude,
        }))
    }

    pub fn imagemap(
        base_url: impl Into<String>,
        alt_text: impl Into<String>,
        base_size: Size,
        actions: Vec<ImagemapAction>,
    ) -> Self {
        Message::new(MessageBody::Imagemap(Imagemap {
            base_url: base_url.into(),
            alt_text: alt_text.into(),
            base_size,
            actions,
        }))
    }

    pub fn template(alt_text: impl Into<String>, template: TemplateKind) -> Self {
        Message::new(MessageBody::Template(Template {
            alt_text: alt_text.into(),
            template,
        }))
    }

    /// A flex message from raw container JSON (bubble or carousel).
    pub fn flex(alt_text: impl Into<String>, contents: Value) -> Self {
        Message::new(MessageBody::Flex(Flex {
            alt_text: alt_text.into(),
            contents,
        }))
    }

    pub fn with_quick_reply(mut self, items: Vec<QuickReplyItem>) -> Self {
        self.quick_reply = Some(QuickReply { items });
        self
    }

    pub fn with_sender(mut self, sender: Sender) -> Self {
        self.sender = Some(sender);
        self
    }

    /// A copy whose media URLs (image, video, audio, imagemap base, thumbnails, quick
    /// reply and sender icons) use `https://` where they used `http://`: for checking a
    /// message bound for a platform that accepts http media (the simulator of an http
    /// demo) against LINE's other rules. Flex contents are left as they are.
    pub fn with_https_media(&self) -> Message {
        let mut m = self.clone();
        match &mut m.body {
            MessageBody::Image(i) => {
                i.original_content_url = https_of(&i.original_content_url);
                i.preview_image_url = https_of(&i.preview_image_url);
            }
            MessageBody::Video(v) => {
                v.original_content_url = https_of(&v.original_content_url);
                v.preview_image_url = https_of(&v.preview_image_url);
            }
            MessageBody::Audio(a) => a.original_content_url = https_of(&a.original_content_url),
            MessageBody::Imagemap(i) => i.base_url = https_of(&i.base_url),
            MessageBody::Template(t) => match &mut t.template {
                TemplateKind::Buttons {
                    thumbnail_image_url: Some(u),
                    ..
                } => *u = https_of(u),
                TemplateKind::Carousel { columns } => {
                    for c in columns {
                        if let Some(u) = &mut c.thumbnail_image_url {
                            *u = https_of(u);
                        }
                    }
                }
                _ => {}
            },
            MessageBody::Text(_)
            | MessageBody::Sticker(_)
            | MessageBody::Location(_)
            | MessageBody::Flex(_) => {}
        }
        if let Some(q) = &mut m.quick_reply {
            for item in &mut q.items {
                if let Some(u) = &mut item.image_url {
                    *u = https_of(u);
                }
            }
        }
        if let Some(u) = m.sender.as_mut().and_then(|s| s.icon_url.as_mut()) {
            *u = https_of(u);
        }
        m
    }

    /// The message as LINE's JSON.
    /// A stored message object read back (a delivery's messages), checked
    /// against LINE's limits like a new one.
    pub fn from_json(value: Value) -> Result<Self, ValidationError> {
        let message: Message = serde_json::from_value(value).map_err(|e| {
            ValidationError::new(
                format!("メッセージの形式が正しくありません: {e}"),
                format!("not a LINE message object: {e}"),
            )
        })?;
        message.validate()?;
        Ok(message)
    }

    pub fn to_json(&self) -> Value {
        serde_json::to_value(self).unwrap_or(Value::Null)
    }

    /// Checks LINE's limits for this message.
    pub fn validate(&self) -> Result<(), ValidationError> {
        if let Some(q) = &self.quick_reply {
            if q.items.is_empty() || q.items.len() > MAX_QUICK_REPLY_ITEMS {
                return Err(ValidationError::new(
                    format!(
                        "クイックリプライのボタンは1〜{MAX_QUICK_REPLY_ITEMS}個にしてください。"
                    ),
                    format!("quick reply needs 1 to {MAX_QUICK_REPLY_ITEMS} items"),
                ));
            }
            for item in &q.items {
                item.action.validate()?;
            }
        }
        if let Some(q) = &self.quick_reply {
            for (i, item) in q.items.iter().enumerate() {
                if let Some(url) = &item.image_url {
                    media_url(&format!("quickReply.items[{i}].imageUrl"), url)?;
                }
            }
        }
        if let Some(url) = self.sender.as_ref().and_then(|s| s.icon_url.as_ref()) {
            media_url("sender.iconUrl", url)?;
        }
        match &self.body {
            MessageBody::Text(t) => validate_text(t),
            MessageBody::Imagemap(m) => validate_imagemap(m),
            MessageBody::Template(t) => {
                alt_text(&t.alt_text)?;
                validate_template(&t.template)
            }
            MessageBody::Flex(f) => {
                alt_text(&f.alt_text)?;
                crate::flex::validate(&f.contents)
            }
            MessageBody::Image(i) => {
                media_url("originalContentUrl", &i.original_content_url)?;
                media_url("previewImageUrl", &i.preview_image_url)
            }
            MessageBody::Video(v) => {
                media_url("originalContentUrl", &v.original_content_url)?;
                media_url("previewImageUrl", &v.preview_image_url)
            }
            MessageBody::Audio(a) => media_url("originalContentUrl", &a.original_content_url),
            MessageBody::Sticker(_) | MessageBody::Location(_) => Ok(()),
        }
    }
}

/// An image, video or audio URL: https, at most [`MAX_MEDIA_URL`] characters.
fn media_url(path: &str, url: &str) -> Result<(), ValidationError> {
    crate::flex::check_https(url, MAX_MEDIA_URL)
        .map_err(|(ja, en)| ValidationError::at(path, ja, en))
}

/// Imagemaps: LINE scales the image from a base width of 1040; every area lies inside the
/// base size; 1 to 50 actions.
fn validate_imagemap(m: &Imagemap) -> Result<(), ValidationError> {
    alt_text(&m.alt_text)?;
    media_url("baseUrl", &m.base_url)?;
    if m.base_size.width != IMAGEMAP_BASE_WIDTH {
        return Err(ValidationError::at(
            "baseSize.width",
            format!(
                "イメージマップの基準の幅は{IMAGEMAP_BASE_WIDTH}にしてください（現在{}）。",
                m.base_size.width
            ),
            format!(
                "imagemap baseSize.width must be {IMAGEMAP_BASE_WIDTH}, got {}",
                m.base_size.width
            ),
        ));
    }
    if m.base_size.height == 0 {
        return Err(ValidationError::at(
            "baseSize.height",
            "イメージマップの基準の高さを1以上にしてください。".to_owned(),
            "imagemap baseSize.height must be at least 1".to_owned(),
        ));
    }
    if m.actions.is_empty() || m.actions.len() > MAX_IMAGEMAP_ACTIONS {
        return Err(ValidationError::at(
            "actions",
            format!("イメージマップのアクションは1〜{MAX_IMAGEMAP_ACTIONS}個にしてください。"),
            format!("imagemap needs 1 to {MAX_IMAGEMAP_ACTIONS} actions"),
        ));
    }
    for (i, a) in m.actions.iter().enumerate() {
        let path = format!("actions[{i}]");
        let (area, label) = match a {
            ImagemapAction::Uri {
                link_uri,
                area,
                label,
            } => {
                crate::flex::check_action_uri(link_uri, MAX_IMAGEMAP_URI)
                    .map_err(|(ja, en)| ValidationError::at(&format!("{path}.linkUri"), ja, en))?;
                (area, label)
            }
            ImagemapAction::Message { text, area, label } => {
                let n = line_len(text);
                if n == 0 || n > MAX_IMAGEMAP_TEXT {
                    return Err(ValidationError::at(
                        &format!("{path}.text"),
                        format!(
                            "送信するテキストは1〜{MAX_IMAGEMAP_TEXT}文字にしてください（現在{n}文字）。"
                        ),
                        format!("text must be 1 to {MAX_IMAGEMAP_TEXT} characters, got {n}"),
                    ));
                }
                (area, label)
            }
            ImagemapAction::Clipboard {
                clipboard_text,
                area,
                label,
            } => {
                let n = line_len(clipboard_text);
                if n == 0 || n > 1000 {
                    return Err(ValidationError::at(
                        &format!("{path}.clipboardText"),
                        format!("コピーするテキストは1〜1000文字にしてください（現在{n}文字）。"),
                        format!("clipboardText must be 1 to 1000 characters, got {n}"),
                    ));
                }
                (area, label)
            }
        };
        if let Some(l) = label
            && line_len(l) > MAX_IMAGEMAP_LABEL
        {
            return Err(ValidationError::at(
                &format!("{path}.label"),
                format!("ラベルは{MAX_IMAGEMAP_LABEL}文字以内にしてください。"),
                format!("label must be at most {MAX_IMAGEMAP_LABEL} characters"),
            ));
        }
        let inside = area.width > 0
            && area.height > 0
            && u64::from(area.x) + u64::from(area.width) <= u64::from(m.base_size.width)
            && u64::from(area.y) + u64::from(area.height) <= u64::from(m.base_size.height);
        if !inside {
            return Err(ValidationError::at(
                &format!("{path}.area"),
                format!(
                    "タップ領域（x={}, y={}, 幅{}, 高さ{}）が画像（{}×{}）の外にはみ出しています。",
                    area.x, area.y, area.width, area.height, m.base_size.width, m.base_size.height
                ),
                format!(
                    "area ({}, {}, {}×{}) must lie inside the base size {}×{}",
                    area.x, area.y, area.width, area.height, m.base_size.width, m.base_size.height
                ),
            ));
        }
    }
    Ok(())
}

fn validate_text(t: &Text) -> Result<(), ValidationError> {
    if t.text.is_empty() {
        return Err(ValidationError::new(
            "本文を入力してください。",
            "text must not be empty",
        ));
    }
    let len = line_len(&t.text);
    if len > MAX_TEXT {
        return Err(ValidationError::new(
            format!("本文は{MAX_TEXT}文字以内にしてください（現在{len}文字）。"),
            format!("text must be at most {MAX_TEXT} characters (UTF-16 units), got {len}"),
        ));
    }
    if t.emojis.len() > MAX_EMOJIS {
        return Err(ValidationError::new(
            format!("絵文字は{MAX_EMOJIS}個までです。"),
            format!("at most {MAX_EMOJIS} LINE emojis"),
        ));
    }
    let units: Vec<u16> = t.text.encode_utf16().collect();
    for e in &t.emojis {
        if units.get(e.index) != Some(&u16::from(b'$')) {
            return Err(ValidationError::new(
                format!("絵文字の位置 {} に $ がありません。", e.index),
                format!("emoji index {} does not point at a `$`", e.index),
            ));
        }
    }
    Ok(())
}

fn alt_text(s: &str) -> Result<(), ValidationError> {
    let len = line_len(s);
    if len == 0 || len > MAX_ALT_TEXT {
        return Err(ValidationError::new(
            format!("代替テキストは1〜{MAX_ALT_TEXT}文字にしてください（現在{len}文字）。"),
            format!("altText must be 1 to {MAX_ALT_TEXT} characters, got {len}"),
        ));
    }
    Ok(())
}

fn validate_actions(actions: &[Action], min: usize, max: usize) -> Result<(), ValidationError> {
    if actions.len() < min || actions.len() > max {
        return Err(ValidationError::new(
            format!("ボタンは{min}〜{max}個にしてください。"),
            format!("template needs {min} to {max} actions"),
        ));
    }
    actions.iter().try_for_each(Action::validate)
}

fn validate_template(t: &TemplateKind) -> Result<(), ValidationError> {
    match t {
        TemplateKind::Buttons {
            actions,
            thumbnail_image_url,
            ..
        } => {
            if let Some(url) = thumbnail_image_url {
                media_url("template.thumbnailImageUrl", url)?;
            }
            validate_actions(actions, 1, MAX_BUTTONS_ACTIONS)
        }
        TemplateKind::Confirm { actions, .. } => validate_actions(actions, 2, 2),
        TemplateKind::Carousel { columns } => {
            if columns.is_empty() || columns.len() > MAX_TEMPLATE_COLUMNS {
                return Err(ValidationError::new(
                    format!("カルーセルの列は1〜{MAX_TEMPLATE_COLUMNS}個にしてください。"),
                    format!("carousel needs 1 to {MAX_TEMPLATE_COLUMNS} columns"),
                ));
            }
            for (i, c) in columns.iter().enumerate() {
                if let Some(url) = &c.thumbnail_image_url {
                    media_url(&format!("template.columns[{i}].thumbnailImageUrl"), url)?;
                }
                validate_actions(&c.actions, 1, 3)?;
            }
            Ok(())
        }
    }
}

/// [`validate_messages`] for a platform that also fetches `http://` media: the LINE
/// simulator behind Hiroba's http demo. Media URLs are checked as if they were https
/// ([`Message::with_https_media`]); everything else exactly as LINE checks it.
pub fn validate_messages_allowing_http_media(messages: &[Message]) -> Result<(), ValidationError> {
    let upgraded: Vec<Message> = messages.iter().map(Message::with_https_media).collect();
    validate_messages(&upgraded)
}

/// `https://` for an `http://` URL, anything else unchanged.
fn https_of(url: &str) -> String {
    match url.strip_prefix("http://") {
        Some(rest) => format!("https://{rest}"),
        None => url.to_owned(),
    }
}

/// Checks a whole send: 1 to 5 messages, each within LINE's limits.
pub fn validate_messages(messages: &[Message]) -> Result<(), ValidationError> {
    if messages.is_empty() || messages.len() > MAX_MESSAGES {
        return Err(ValidationError::new(
            format!(
                "一度に送れるメッセージは1〜{MAX_MESSAGES}件です（{}件）。",
                messages.len()
            ),
            format!(
                "a request carries 1 to {MAX_MESSAGES} messages, got {}",
                messages.len()
            ),
        ));
    }
    messages.iter().try_for_each(Message::validate)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn text_with_emoji_uses_utf16_indexes() {
        let m = TextBuilder::new()
            .push("🍎こんにちは")
            .emoji("5ac1bfd5040ab15980c9b435", "001")
            .push(" 料金 $5 ")
            .emoji("5ac1bfd5040ab15980c9b435", "002")
            .build();
        assert_eq!(
            m.to_json(),
            json!({"type":"text","text":"🍎こんにちは$ 料金 $5 $","emojis":[
                {"index":7,"productId":"5ac1bfd5040ab15980c9b435","emojiId":"001"},
                {"index":15,"productId":"5ac1bfd5040ab15980c9b435","emojiId":"002"}]})
        );
        assert!(m.validate().is_ok());
        let t = Message::text_with_emojis("$a$", &[("p", "1"), ("p", "2")]).unwrap();
        assert!(t.validate().is_ok());
        assert!(Message::text_with_emojis("$", &[]).is_err());
    }

    #[test]
    fn limits() {
        assert!(Message::text("あ".repeat(5000)).validate().is_ok());
        let e = Message::text("あ".repeat(5001)).validate().unwrap_err();
        assert!(e.ja.contains("5000文字以内"), "{e}");
        // 🍎 counts two.
        assert!(Message::text("🍎".repeat(2501)).validate().is_err());
        let six = vec![Message::text("a"); 6];
        assert!(validate_messages(&six).is_err());
        assert!(validate_messages(&[]).is_err());
        assert!(validate_messages(&six[..5]).is_ok());
        let flex = Message::flex("x".repeat(1501), json!({"type":"bubble"}));
        assert!(flex.validate().is_err());
        let bubbles: Vec<Value> = (0..13).map(|_| json!({"type":"bubble"})).collect();
        let flex = Message::flex("お知らせ", json!({"type":"carousel","contents":bubbles}));
        assert!(flex.validate().is_err());
        assert!(
            Message::flex("お知らせ", json!({"type":"box"}))
                .validate()
                .is_err()
        );
        let bad = Message::flex(
            "お知らせ",
            json!({"type":"bubble","body":{"type":"box","layout":"vertical","contents":[
                {"type":"text","text":"a"},{"type":"text","text":"b"},
                {"type":"box","layout":"grid","contents":[]}]}}),
        );
        let e = bad.validate().unwrap_err();
        assert_eq!(e.path.as_deref(), Some("contents.body.contents[2].layout"));
        let items: Vec<_> = (0..14)
            .map(|i| QuickReplyItem::new(Action::message(format!("{i}"), "x")))
            .collect();
        assert!(
            Message::text("a")
                .with_quick_reply(items)
                .validate()
                .is_err()
        );
    }

    fn imagemap(base: Size, area: Area) -> Message {
        Message::imagemap(
            "https://example.com/map",
            "地図",
            base,
            vec![ImagemapAction::Message {
                text: "予約".into(),
                area,
                label: None,
            }],
        )
    }

    #[test]
    fn imagemaps_and_media_urls() {
        let base = Size {
            width: 1040,
            height: 700,
        };
        let area = |x, y, width, height| Area {
            x,
            y,
            width,
            height,
        };
        assert!(imagemap(base, area(0, 0, 1040, 700)).validate().is_ok());
        let e = imagemap(base, area(520, 0, 521, 700))
            .validate()
            .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("actions[0].area"));
        let e = imagemap(base, area(0, 600, 10, 101))
            .validate()
            .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("actions[0].area"));
        let narrow = Size {
            width: 700,
            height: 700,
        };
        let e = imagemap(narrow, area(0, 0, 10, 10)).validate().unwrap_err();
        assert_eq!(e.path.as_deref(), Some("baseSize.width"));
        let none = Message::imagemap("https://example.com/map", "地図", base, vec![]);
        assert_eq!(
            none.validate().unwrap_err().path.as_deref(),
            Some("actions")
        );

        assert!(
            Message::image("https://example.com/o.jpg", "https://example.com/p.jpg")
                .validate()
                .is_ok()
        );
        let e = Message::image("http://example.com/o.jpg", "https://example.com/p.jpg")
            .validate()
            .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("originalContentUrl"));
        let long = format!("https://example.com/{}", "a".repeat(2000));
        let e = Message::image("https://example.com/o.jpg", long)
            .validate()
            .unwrap_err();
        assert_eq!(e.path.as_deref(), Some("previewImageUrl"));
        assert!(e.ja.contains("2000文字以内"), "{}", e.ja);

        // The simulator of an http demo: http media pass, other rules still apply.
        let http = Message::image("http://demo.local/o.jpg", "http://demo.local/p.jpg");
        assert!(validate_messages(std::slice::from_ref(&http)).is_err());
        assert!(validate_messages_allowing_http_media(std::slice::from_ref(&http)).is_ok());
        assert_eq!(
            http.to_json()["originalContentUrl"],
            "http://demo.local/o.jpg",
            "the message itself is unchanged"
        );
        let ftp = Message::image("ftp://demo.local/o.jpg", "http://demo.local/p.jpg");
        assert!(validate_messages_allowing_http_media(&[ftp]).is_err());
        let map = Message::imagemap(
            "http://demo.local/media/t",
            "地図",
            base,
            vec![ImagemapAction::Message {
                text: "予約".into(),
                area: area(0, 0, 1041, 10),
                label: None,
            }],
        );
        let e = validate_messages_allowing_http_media(&[map]).unwrap_err();
        assert_eq!(e.path.as_deref(), Some("actions[0].area"));
    }
}
