//! The webhook request body (`CallbackRequest`) and its events, after LINE's `webhook.yml`.
//!
//! Every event keeps its raw JSON ([`Event::raw`]) so Hiroba can store it as received.
//! An event whose `type` Hiroba does not know (or whose content does not match the known
//! shape) still parses, as [`EventKind::Other`]: a valid webhook is never refused.

use std::collections::BTreeMap;

use serde::de::Error as _;
use serde::{Deserialize, Deserializer, Serialize};
use serde_json::Value;

/// The body LINE posts to the webhook URL.
#[derive(Debug, Clone, Deserialize)]
pub struct CallbackRequest {
    /// User id of the bot that receives the events (`U` + 32 hex digits).
    pub destination: String,
    /// May be empty (LINE's connection check).
    pub events: Vec<Event>,
}

impl CallbackRequest {
    /// Parses a raw webhook body. Fails (→ HTTP 400) on invalid JSON or a body without
    /// `destination`/`events`, or an event without `type`, `timestamp` or `webhookEventId`.
    pub fn parse(body: &[u8]) -> Result<Self, serde_json::Error> {
        serde_json::from_slice(body)
    }
}

/// `active` or `standby` (module channels); other values are kept.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub enum EventMode {
    Active,
    Standby,
    #[serde(other)]
    Other,
}

/// One webhook event: the fields common to every event, the typed part, and the raw JSON.
#[derive(Debug, Clone)]
pub struct Event {
    /// The `type` as sent (`message`, `follow`, ... or a type Hiroba does not know).
    pub event_type: String,
    /// Milliseconds since the epoch.
    pub timestamp: i64,
    pub source: Option<Source>,
    /// ULID; the key for deduplicating redeliveries.
    pub webhook_event_id: String,
    pub is_redelivery: bool,
    pub mode: EventMode,
    pub reply_token: Option<String>,
    pub kind: EventKind,
    /// The event object exactly as received.
    pub raw: Value,
}

impl Event {
    /// The user id of the source, when there is one.
    pub fn user_id(&self) -> Option<&str> {
        match self.source.as_ref()? {
            Source::User { user_id } => user_id.as_deref(),
            Source::Group { user_id, .. } | Source::Room { user_id, .. } => user_id.as_deref(),
            Source::Other => None,
        }
    }
}

/// `source` of an event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Source {
    User {
        #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    Group {
        #[serde(rename = "groupId")]
        group_id: String,
        #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    Room {
        #[serde(rename = "roomId")]
        room_id: String,
        #[serde(rename = "userId", default, skip_serializing_if = "Option::is_none")]
        user_id: Option<String>,
    },
    #[serde(other)]
    Other,
}

/// The typed part of an event, one variant per event type of `webhook.yml`.
#[derive(Debug, Clone, PartialEq)]
pub enum EventKind {
    Message(MessageContent),
    Unsend {
        message_id: String,
    },
    Follow {
        is_unblocked: bool,
    },
    Unfollow,
    Join,
    Leave,
    MemberJoined {
        members: Vec<Source>,
    },
    MemberLeft {
        members: Vec<Source>,
    },
    Postback(Postback),
    VideoPlayComplete {
        tracking_id: String,
    },
    Beacon(Beacon),
    AccountLink(AccountLink),
    Membership(Membership),
    Module(Module),
    Activated {
        expire_at: i64,
    },
    Deactivated,
    BotSuspended,
    BotResumed,
    /// `delivery` (LINE notification messages delivery completion).
    Delivery {
        data: String,
    },
    /// A type Hiroba does not know (or a known type of unexpected shape): see [`Event::raw`].
    Other,
}

impl EventKind {
    /// The LINE `type` this variant stands for (`None` for [`EventKind::Other`]).
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self {
            EventKind::Message(_) => "message",
            EventKind::Unsend { .. } => "unsend",
            EventKind::Follow { .. } => "follow",
            EventKind::Unfollow => "unfollow",
            EventKind::Join => "join",
            EventKind::Leave => "leave",
            EventKind::MemberJoined { .. } => "memberJoined",
            EventKind::MemberLeft { .. } => "memberLeft",
            EventKind::Postback(_) => "postback",
            EventKind::VideoPlayComplete { .. } => "videoPlayComplete",
            EventKind::Beacon(_) => "beacon",
            EventKind::AccountLink(_) => "accountLink",
            EventKind::Membership(_) => "membership",
            EventKind::Module(_) => "module",
            EventKind::Activated { .. } => "activated",
            EventKind::Deactivated => "deactivated",
            EventKind::BotSuspended => "botSuspended",
            EventKind::BotResumed => "botResumed",
            EventKind::Delivery { .. } => "delivery",
            EventKind::Other => return None,
        })
    }
}

/// `message` of a message event.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum MessageContent {
    #[serde(rename_all = "camelCase")]
    Text {
        id: String,
        text: String,
        #[serde(default)]
        emojis: Vec<ReceivedEmoji>,
        #[serde(default)]
        mention: Option<Value>,
        #[serde(default)]
        quote_token: Option<String>,
        #[serde(default)]
        quoted_message_id: Option<String>,
        #[serde(default)]
        mark_as_read_token: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Image {
        id: String,
        content_provider: ContentProvider,
        #[serde(default)]
        image_set: Option<ImageSet>,
        #[serde(default)]
        quote_token: Option<String>,
        #[serde(default)]
        mark_as_read_token: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Video {
        id: String,
        #[serde(default)]
        duration: Option<i64>,
        content_provider: ContentProvider,
        #[serde(default)]
        quote_token: Option<String>,
        #[serde(default)]
        mark_as_read_token: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Audio {
        id: String,
        #[serde(default)]
        duration: Option<i64>,
        content_provider: ContentProvider,
        #[serde(default)]
        mark_as_read_token: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    File {
        id: String,
        file_name: String,
        file_size: i64,
        #[serde(default)]
        mark_as_read_token: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Location {
        id: String,
        #[serde(default)]
        title: Option<String>,
        #[serde(default)]
        address: Option<String>,
        latitude: f64,
        longitude: f64,
        #[serde(default)]
        mark_as_read_token: Option<String>,
    },
    #[serde(rename_all = "camelCase")]
    Sticker {
        id: String,
        package_id: String,
        sticker_id: String,
        /// `STATIC`, `ANIMATION`, ... kept as a string (LINE adds values).
        sticker_resource_type: String,
        #[serde(default)]
        keywords: Vec<String>,
        #[serde(default)]
        text: Option<String>,
        #[serde(default)]
        quote_token: Option<String>,
        #[serde(default)]
        quoted_message_id: Option<String>,
        #[serde(default)]
        mark_as_read_token: Option<String>,
    },
    /// A message type Hiroba does not know.
    #[serde(other)]
    Other,
}

impl MessageContent {
    pub fn type_name(&self) -> Option<&'static str> {
        Some(match self {
            MessageContent::Text { .. } => "text",
            MessageContent::Image { .. } => "image",
            MessageContent::Video { .. } => "video",
            MessageContent::Audio { .. } => "audio",
            MessageContent::File { .. } => "file",
            MessageContent::Location { .. } => "location",
            MessageContent::Sticker { .. } => "sticker",
            MessageContent::Other => return None,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReceivedEmoji {
    pub index: i64,
    pub length: i64,
    pub product_id: String,
    pub emoji_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ContentProvider {
    /// `line` or `external`.
    #[serde(rename = "type")]
    pub provider_type: String,
    #[serde(default)]
    pub original_content_url: Option<String>,
    #[serde(default)]
    pub preview_image_url: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct ImageSet {
    pub id: String,
    #[serde(default)]
    pub index: Option<i64>,
    #[serde(default)]
    pub total: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Postback {
    pub data: String,
    /// `date`, `time` or `datetime` from a datetime picker, `newRichMenuAliasId`, `status`...
    #[serde(default)]
    pub params: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Beacon {
    pub hwid: String,
    /// `enter`, `banner` or `stay`.
    #[serde(rename = "type")]
    pub beacon_type: String,
    #[serde(default)]
    pub dm: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct AccountLink {
    /// `ok` or `failed`.
    pub result: String,
    pub nonce: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Membership {
    /// `joined`, `left` or `renewed`.
    #[serde(rename = "type")]
    pub membership_type: String,
    pub membership_id: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Module {
    /// `attached` or `detached`.
    #[serde(rename = "type")]
    pub module_type: String,
    #[serde(default)]
    pub bot_id: Option<String>,
    #[serde(default)]
    pub scopes: Vec<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct Common {
    #[serde(rename = "type")]
    event_type: String,
    timestamp: i64,
    #[serde(default)]
    source: Option<Value>,
    webhook_event_id: String,
    #[serde(default)]
    delivery_context: Option<DeliveryContext>,
    #[serde(default)]
    mode: Option<EventMode>,
    #[serde(default)]
    reply_token: Option<String>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeliveryContext {
    #[serde(default)]
    is_redelivery: bool,
}

#[derive(Deserialize)]
struct Members {
    members: Vec<Source>,
}

fn field<T: serde::de::DeserializeOwned>(raw: &Value, name: &str) -> Option<T> {
    serde_json::from_value(raw.get(name)?.clone()).ok()
}

fn kind_of(event_type: &str, raw: &Value) -> Option<EventKind> {
    Some(match event_type {
        "message" => EventKind::Message(field(raw, "message")?),
        "unsend" => EventKind::Unsend {
            message_id: raw.get("unsend")?.get("messageId")?.as_str()?.to_owned(),
        },
        "follow" => EventKind::Follow {
            // isUnblocked is required by the schema; older payloads lack `follow`.
            is_unblocked: raw
                .get("follow")
                .and_then(|f| f.get("isUnblocked"))
                .and_then(Value::as_bool)
                .unwrap_or(false),
        },
        "unfollow" => EventKind::Unfollow,
        "join" => EventKind::Join,
        "leave" => EventKind::Leave,
        "memberJoined" => EventKind::MemberJoined {
            members: field::<Members>(raw, "joined")?.members,
        },
        "memberLeft" => EventKind::MemberLeft {
            members: field::<Members>(raw, "left")?.members,
        },
        "postback" => EventKind::Postback(field(raw, "postback")?),
        "videoPlayComplete" => EventKind::VideoPlayComplete {
            tracking_id: raw
                .get("videoPlayComplete")?
                .get("trackingId")?
                .as_str()?
                .to_owned(),
        },
        "beacon" => EventKind::Beacon(field(raw, "beacon")?),
        "accountLink" => EventKind::AccountLink(field(raw, "link")?),
        "membership" => EventKind::Membership(field(raw, "membership")?),
        "module" => EventKind::Module(field(raw, "module")?),
        "activated" => EventKind::Activated {
            expire_at: raw.get("chatControl")?.get("expireAt")?.as_i64()?,
        },
        "deactivated" => EventKind::Deactivated,
        "botSuspended" => EventKind::BotSuspended,
        "botResumed" => EventKind::BotResumed,
        "delivery" => EventKind::Delivery {
            data: raw.get("delivery")?.get("data")?.as_str()?.to_owned(),
        },
        _ => return None,
    })
}

impl Event {
    /// Builds an event from its raw JSON object.
    pub fn from_value(raw: Value) -> Result<Self, serde_json::Error> {
        let common: Common = serde_json::from_value(raw.clone())?;
        let source = common
            .source
            .map(|s| serde_json::from_value(s).unwrap_or(Source::Other));
        let kind = match kind_of(&common.event_type, &raw) {
            Some(kind) => kind,
            None => {
                tracing::debug!(event_type = %common.event_type, "webhook event kept as Other");
                EventKind::Other
            }
        };
        Ok(Event {
            event_type: common.event_type,
            timestamp: common.timestamp,
            source,
            webhook_event_id: common.webhook_event_id,
            is_redelivery: common.delivery_context.is_some_and(|d| d.is_redelivery),
            mode: common.mode.unwrap_or(EventMode::Active),
            reply_token: common.reply_token,
            kind,
            raw,
        })
    }
}

impl<'de> Deserialize<'de> for Event {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let raw = Value::deserialize(deserializer)?;
        if !raw.is_object() {
            return Err(D::Error::custom("a webhook event must be a JSON object"));
        }
        Event::from_value(raw).map_err(D::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_follow_and_keeps_raw() {
        let body = br#"{"destination":"U0123456789abcdef0123456789abcdef","events":[
          {"type":"follow","timestamp":1462629479859,"source":{"type":"user","userId":"U4af"},
           "webhookEventId":"01FZ74A0TDDPYRVKNK77XKC3ZR","deliveryContext":{"isRedelivery":true},
           "mode":"active","replyToken":"r1","follow":{"isUnblocked":true}},
          {"type":"somethingNew","timestamp":1,"webhookEventId":"X","mode":"active",
           "deliveryContext":{"isRedelivery":false},"extra":{"a":1}}]}"#;
        let req = CallbackRequest::parse(body).unwrap_or_else(|e| panic!("{e}"));
        assert_eq!(req.events.len(), 2);
        let e = &req.events[0];
        assert_eq!(e.kind, EventKind::Follow { is_unblocked: true });
        assert!(e.is_redelivery);
        assert_eq!(e.user_id(), Some("U4af"));
        assert_eq!(e.reply_token.as_deref(), Some("r1"));
        let other = &req.events[1];
        assert_eq!(other.kind, EventKind::Other);
        assert_eq!(other.event_type, "somethingNew");
        assert_eq!(other.raw["extra"]["a"], 1);
    }

    #[test]
    fn refuses_non_webhooks() {
        assert!(CallbackRequest::parse(b"not json").is_err());
        assert!(CallbackRequest::parse(b"{}").is_err());
        assert!(CallbackRequest::parse(br#"{"destination":"U","events":[{"type":"x"}]}"#).is_err());
        assert!(CallbackRequest::parse(br#"{"destination":"U","events":[]}"#).is_ok());
    }
}
