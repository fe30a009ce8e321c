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

impl NarrowcastRequest {
    /// A narrowcast of `messages` to everyone in an uploaded audience.
    pub fn to_audience(audience_group_id: i64, messages: Vec<Message>) -> Self {
        NarrowcastRequest {
            messages,
            recipient: Some(Recipient::Audience { audience_group_id }),
            filter: None,
            limit: None,
            notification_disabled: None,
        }
    }
}

/// Most user ids in one JSON audience upload.
pub const AUDIENCE_JSON_MAX: usize = 10_000;
/// Most user ids in one audience file.
pub const AUDIENCE_FILE_MAX: usize = 1_500_000;

/// `GetAggregationUnitNameListResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AggregationUnitNames {
    #[serde(default)]
    pub custom_aggregation_units: Vec<String>,
    #[serde(default)]
    pub next: Option<String>,
}

/// `GetAudienceDataResponse`: an audience and its upload jobs (`status` is `IN_PROGRESS`
/// until LINE has matched the uploaded ids, then `READY`).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceGroupData {
    pub audience_group: AudienceGroupInfo,
    #[serde(default)]
    pub jobs: Vec<AudienceGroupJob>,
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceGroupInfo {
    pub audience_group_id: i64,
    #[serde(rename = "type", default)]
    pub group_type: Option<String>,
    #[serde(default)]
    pub description: Option<String>,
    /// `IN_PROGRESS`, `READY`, `FAILED`, `EXPIRED`, `INACTIVE` or `ACTIVATING`.
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub failed_type: Option<String>,
    #[serde(default)]
    pub audience_count: Option<i64>,
    #[serde(default)]
    pub created: Option<i64>,
    #[serde(default)]
    pub permission: Option<String>,
    #[serde(default)]
    pub create_route: Option<String>,
    #[serde(default)]
    pub is_ifa_audience: Option<bool>,
}

impl AudienceGroupInfo {
    pub fn is_ready(&self) -> bool {
        self.status.as_deref() == Some("READY")
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct AudienceGroupJob {
    #[serde(default)]
    pub audience_group_job_id: Option<i64>,
    #[serde(default)]
    pub audience_group_id: Option<i64>,
    #[serde(default)]
    pub description: Option<String>,
    #[serde(rename = "type", default)]
    pub job_type: Option<String>,
    /// `QUEUED`, `WORKING`, `FINISHED` or `FAILED`.
    #[serde(default)]
    pub job_status: Option<String>,
    #[serde(default)]
    pub failed_type: Option<String>,
    #[serde(default)]
    pub audience_count: Option<i64>,
    #[serde(default)]
    pub created: Option<i64>,
}

/// `GetNumberOfFollowersResponse`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct FollowersInsight {
    /// `ready`, `unready` or `out_of_service`.
    pub status: String,
    #[serde(default)]
    pub followers: Option<i64>,
    #[serde(default)]
    pub targeted_reaches: Option<i64>,
    #[serde(default)]
    pub blocks: Option<i64>,
}

/// Interaction statistics: `GetMessageEventResponse` (narrowcast/broadcast by request id) and
/// `GetStatisticsPerUnitResponse` (push/multicast by aggregation unit) share this shape.
/// LINE reports counts below its privacy threshold (20) as `null`: hence the options.
#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
pub struct MessageStatistics {
    #[serde(default)]
    pub overview: StatisticsOverview,
    #[serde(default)]
    pub messages: Vec<BubbleStatistics>,
    #[serde(default)]
    pub clicks: Vec<UrlStatistics>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct StatisticsOverview {
    /// Message event only.
    #[serde(default)]
    pub request_id: Option<String>,
    /// Message event only: UNIX seconds of the delivery.
    #[serde(default)]
    pub timestamp: Option<i64>,
    /// Message event only: shown even below 20; null while the delivery is unfinished.
    #[serde(default)]
    pub delivered: Option<i64>,
    #[serde(default)]
    pub unique_impression: Option<i64>,
    #[serde(default)]
    pub unique_click: Option<i64>,
    #[serde(default)]
    pub unique_media_played: Option<i64>,
    #[serde(default)]
    pub unique_media_played_100_percent: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BubbleStatistics {
    pub seq: i64,
    #[serde(default)]
    pub impression: Option<i64>,
    /// Per-unit statistics only.
    #[serde(default)]
    pub unique_impression: Option<i64>,
    #[serde(default)]
    pub media_played: Option<i64>,
    #[serde(default)]
    pub media_played_25_percent: Option<i64>,
    #[serde(default)]
    pub media_played_50_percent: Option<i64>,
    #[serde(default)]
    pub media_played_75_percent: Option<i64>,
    #[serde(default)]
    pub media_played_100_percent: Option<i64>,
    #[serde(default)]
    pub unique_media_played: Option<i64>,
    #[serde(default)]
    pub unique_media_played_25_percent: Option<i64>,
    #[serde(default)]
    pub unique_media_played_50_percent: Option<i64>,
    #[serde(default)]
    pub unique_media_played_75_percent: Option<i64>,
    #[serde(default)]
    pub unique_media_played_100_percent: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct UrlStatistics {
    pub seq: i64,
    pub url: String,
    #[serde(default)]
    pub click: Option<i64>,
    #[serde(default)]
    pub unique_click: Option<i64>,
    #[serde(default)]
    pub unique_click_of_request: Option<i64>,
}
