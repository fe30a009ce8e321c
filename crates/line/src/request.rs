//! Request bodies the client sends, serialized as LINE's schemas name them
//! (`PushMessageRequest`, `MulticastRequest`, `RichMenuRequest`, ...).

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::message::{Action, Message};

/// Most user ids in one multicast (and one bulk link/unlink) request.
pub const MULTICAST_MAX: usize = 500;

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ReplyMessageRequest {
    pub reply_token: String,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PushMessageRequest {
    pub to: String,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_disabled: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_aggregation_units: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct MulticastRequest {
    pub to: Vec<String>,
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_disabled: Option<bool>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub custom_aggregation_units: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NarrowcastRequest {
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub recipient: Option<Recipient>,
    /// A `Filter` object (`{"demographic": {...}}`) as JSON.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub filter: Option<Value>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub limit: Option<NarrowcastLimit>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_disabled: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(tag = "type", rename_all = "camelCase")]
pub enum Recipient {
    #[serde(rename_all = "camelCase")]
    Audience { audience_group_id: i64 },
    #[serde(rename_all = "camelCase")]
    Redelivery { request_id: String },
    Operator {
        #[serde(skip_serializing_if = "Option::is_none")]
        and: Option<Vec<Recipient>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        or: Option<Vec<Recipient>>,
        #[serde(skip_serializing_if = "Option::is_none")]
        not: Option<Box<Recipient>>,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct NarrowcastLimit {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub max: Option<u32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub up_to_remaining_quota: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub forbid_partial_delivery: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BroadcastRequest {
    pub messages: Vec<Message>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub notification_disabled: Option<bool>,
}

/// `ValidateMessageRequest` (the five `/v2/bot/message/validate/*` endpoints).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ValidateMessageRequest {
    pub messages: Vec<Message>,
}

/// Which send a validate call checks.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SendKind {
    Reply,
    Push,
    Multicast,
    Narrowcast,
    Broadcast,
}

impl SendKind {
    pub fn path_segment(self) -> &'static str {
        match self {
            SendKind::Reply => "reply",
            SendKind::Push => "push",
            SendKind::Multicast => "multicast",
            SendKind::Narrowcast => "narrowcast",
            SendKind::Broadcast => "broadcast",
        }
    }
}

/// A rich menu object (`RichMenuRequest`; also what `RichMenuResponse` carries).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichMenu {
    pub size: RichMenuSize,
    pub selected: bool,
    /// At most 300 characters; not shown to users.
    pub name: String,
    /// At most 14 characters.
    pub chat_bar_text: String,
    pub areas: Vec<RichMenuArea>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichMenuSize {
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichMenuArea {
    pub bounds: RichMenuBounds,
    /// The action as JSON when read back (LINE may return actions Hiroba does not build).
    #[serde(serialize_with = "ser_action", deserialize_with = "de_action")]
    pub action: AreaAction,
}

/// A rich menu area's action: one Hiroba builds, or raw JSON read back from LINE.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AreaAction {
    Typed(Action),
    Raw(Value),
}

fn ser_action<S: serde::Serializer>(a: &AreaAction, s: S) -> Result<S::Ok, S::Error> {
    match a {
        AreaAction::Typed(a) => a.serialize(s),
        AreaAction::Raw(v) => v.serialize(s),
    }
}

fn de_action<'de, D: serde::Deserializer<'de>>(d: D) -> Result<AreaAction, D::Error> {
    Value::deserialize(d).map(AreaAction::Raw)
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct RichMenuBounds {
    pub x: u32,
    pub y: u32,
    pub width: u32,
    pub height: u32,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichMenuAlias {
    /// `[a-z0-9_-]{1,32}`.
    pub rich_menu_alias_id: String,
    pub rich_menu_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UpdateRichMenuAliasRequest {
    pub rich_menu_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RichMenuBulkLinkRequest {
    pub rich_menu_id: String,
    pub user_ids: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RichMenuBulkUnlinkRequest {
    pub user_ids: Vec<String>,
}

/// `CreateAudienceGroupRequest` (audience for uploading user ids, by JSON).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CreateAudienceGroupRequest {
    /// The audience's name, at most 120 characters.
    pub description: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub is_ifa_audience: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_description: Option<String>,
    pub audiences: Vec<AudienceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct AddAudienceToAudienceGroupRequest {
    pub audience_group_id: i64,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub upload_description: Option<String>,
    pub audiences: Vec<AudienceId>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct AudienceId {
    pub id: String,
}

impl AudienceId {
    pub fn from_ids<I: IntoIterator<Item = S>, S: Into<String>>(ids: I) -> Vec<AudienceId> {
        ids.into_iter()
            .map(|id| AudienceId { id: id.into() })
            .collect()
    }
}

// ---- responses ----

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessages {
    #[serde(default)]
    pub sent_messages: Vec<SentMessage>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SentMessage {
    pub id: String,
    #[serde(default)]
    pub quote_token: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Profile {
    pub display_name: String,
    pub user_id: String,
    #[serde(default)]
    pub picture_url: Option<String>,
    #[serde(default)]
    pub status_message: Option<String>,
    #[serde(default)]
    pub language: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowerIds {
    pub user_ids: Vec<String>,
    #[serde(default)]
    pub next: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BotInfo {
    pub user_id: String,
    pub basic_id: String,
    #[serde(default)]
    pub premium_id: Option<String>,
    pub display_name: String,
    #[serde(default)]
    pub picture_url: Option<String>,
    pub chat_mode: String,
    pub mark_as_read_mode: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct Quota {
    /// `none` or `limited`.
    #[serde(rename = "type")]
    pub quota_type: String,
    #[serde(default)]
    pub value: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct QuotaConsumption {
    pub total_usage: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct NarrowcastProgress {
    /// `waiting`, `sending`, `succeeded` or `failed`.
    pub phase: String,
    #[serde(default)]
    pub success_count: Option<i64>,
    #[serde(default)]
    pub failure_count: Option<i64>,
    #[serde(default)]
    pub target_count: Option<i64>,
    #[serde(default)]
    pub failed_description: Option<String>,
    #[serde(default)]
    pub error_code: Option<i64>,
    pub accepted_time: String,
    #[serde(default)]
    pub completed_time: Option<String>,
}

impl NarrowcastProgress {
    pub fn is_finished(&self) -> bool {
        self.phase == "succeeded" || self.phase == "failed"
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichMenuId {
    pub rich_menu_id: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RichMenuInfo {
    pub rich_menu_id: String,
    #[serde(flatten)]
    pub menu: RichMenu,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RichMenuList {
    pub richmenus: Vec<RichMenuInfo>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct RichMenuAliasList {
    pub aliases: Vec<RichMenuAlias>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceGroupCreated {
    pub audience_group_id: i64,
    #[serde(flatten)]
    pub rest: serde_json::Map<String, Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationUnitUsage {
    pub num_of_custom_aggregation_units: i64,
}
