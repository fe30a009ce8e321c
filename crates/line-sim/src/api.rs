//! The LINE Messaging API endpoints on the `api` and `api-data` hosts.

// Handlers return early with a ready `Response` as the error; boxing it buys nothing here.
#![allow(clippy::result_large_err)]

use std::collections::HashMap;
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Extension, MatchedPath, Path, Query, Request, State};
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use chrono::{DateTime, SecondsFormat, Utc};
use serde_json::{Value, json};

use crate::state::{
    Audience, AudienceJob, Fault, Narrowcast, RetryRecord, RichMenu, SendRecord, Target, Targets,
    UserStatus,
};
use crate::{Sim, insight, util, validate};

/// The request id the gate gave this request (also sent as `x-line-request-id`).
#[derive(Clone)]
pub(crate) struct RequestId(pub(crate) String);

pub(crate) fn api_router(sim: Sim) -> Router {
    let m = "/v2/bot/message";
    let r = "/v2/bot/richmenu";
    Router::new()
        .route(&format!("{m}/reply"), post(reply))
        .route(&format!("{m}/push"), post(push))
        .route(&format!("{m}/multicast"), post(multicast))
        .route(&format!("{m}/narrowcast"), post(narrowcast))
        .route(&format!("{m}/broadcast"), post(broadcast))
        .route(&format!("{m}/validate/{{kind}}"), post(validate_message))
        .route(
            &format!("{m}/progress/narrowcast"),
            get(narrowcast_progress),
        )
        .route(&format!("{m}/quota"), get(quota))
        .route(&format!("{m}/quota/consumption"), get(consumption))
        .route(&format!("{m}/aggregation/info"), get(aggregation_info))
        .route("/v2/bot/profile/{userId}", get(profile))
        .route("/v2/bot/followers/ids", get(followers))
        .route("/v2/bot/info", get(bot_info))
        .route(r, post(create_rich_menu))
        .route(&format!("{r}/validate"), post(validate_rich_menu))
        .route(&format!("{r}/list"), get(list_rich_menus))
        .route(
            &format!("{r}/{{richMenuId}}"),
            get(get_rich_menu).delete(delete_rich_menu),
        )
        .route(&format!("{r}/bulk/link"), post(bulk_link))
        .route(&format!("{r}/bulk/unlink"), post(bulk_unlink))
        .route(&format!("{r}/alias"), post(create_alias))
        .route(&format!("{r}/alias/list"), get(list_aliases))
        .route(
            &format!("{r}/alias/{{richMenuAliasId}}"),
            get(get_alias).post(update_alias).delete(delete_alias),
        )
        .route(
            "/v2/bot/user/all/richmenu/{richMenuId}",
            post(set_default_menu),
        )
        .route(
            "/v2/bot/user/all/richmenu",
            get(get_default_menu).delete(delete_default_menu),
        )
        .route(
            "/v2/bot/user/{userId}/richmenu/{richMenuId}",
            post(link_user_menu),
        )
        .route(
            "/v2/bot/user/{userId}/richmenu",
            get(get_user_menu).delete(unlink_user_menu),
        )
        .route(&format!("{m}/aggregation/list"), get(aggregation_list))
        .route(
            "/v2/bot/audienceGroup/upload",
            post(audience_upload).put(audience_add),
        )
        .route("/v2/bot/audienceGroup/{audienceGroupId}", get(audience_get))
        .route("/v2/bot/insight/followers", get(insight_followers))
        .route("/v2/bot/insight/message/event", get(insight::message_event))
        .route(
            "/v2/bot/insight/message/event/aggregation",
            get(insight::per_unit),
        )
        .route_layer(middleware::from_fn_with_state(sim.clone(), gate))
        .with_state(sim)
}

pub(crate) fn api_data_router(sim: Sim) -> Router {
    Router::new()
        .route(
            "/v2/bot/richmenu/{richMenuId}/content",
            post(upload_menu_image).get(download_menu_image),
        )
        .route(
            "/v2/bot/audienceGroup/upload/byFile",
            post(audience_upload_file)
                .put(audience_add_file)
                // LINE takes files of up to 1,500,000 ids (about 50 MB).
                .layer(axum::extract::DefaultBodyLimit::max(64 * 1024 * 1024)),
        )
        .route_layer(middleware::from_fn_with_state(sim.clone(), gate))
        .with_state(sim)
}

pub(crate) async fn not_found() -> Response {
    let mut r = error(StatusCode::NOT_FOUND, "Not found");
    if let Ok(v) = HeaderValue::from_str(&util::uuid()) {
        r.headers_mut().insert("x-line-request-id", v);
    }
    r
}

// --- gate: request id, counting, auth, faults, rate limits -------------------------------

async fn gate(
    State(sim): State<Sim>,
    matched: Option<MatchedPath>,
    mut req: Request,
    next: Next,
) -> Response {
    let rid = util::uuid();
    let path = matched.map_or_else(|| req.uri().path().to_owned(), |m| m.as_str().to_owned());
    let endpoint = format!("{} {}", req.method(), path);
    req.extensions_mut().insert(RequestId(rid.clone()));
    let mut resp = gate_inner(&sim, &endpoint, req, next).await;
    if let Ok(v) = HeaderValue::from_str(&rid) {
        resp.headers_mut().insert("x-line-request-id", v);
    }
    resp
}

async fn gate_inner(sim: &Sim, endpoint: &str, req: Request, next: Next) -> Response {
    sim.with(|s| *s.counters.requests.entry(endpoint.to_owned()).or_default() += 1);
    let auth = req
        .headers()
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok());
    match auth.and_then(|a| a.strip_prefix("Bearer ")) {
        None => {
            return error(
                StatusCode::UNAUTHORIZED,
                "Authorization header required. Must follow the scheme, 'Authorization: Bearer <ACCESS TOKEN>'",
            );
        }
        Some(t) if t != sim.config().channel_token => {
            return error(
                StatusCode::UNAUTHORIZED,
                "Authentication failed. Confirm that the access token in the authorization header is valid.",
            );
        }
        Some(_) => {}
    }
    let latency = sim.with(|s| s.faults.latency);
    if !latency.is_zero() {
        tokio::time::sleep(latency).await;
    }
    let fault = sim.with(|s| {
        let f = s.take_fault(endpoint);
        if f != Fault::None {
            s.counters.faults_injected += 1;
        }
        f
    });
    if fault == Fault::FailBefore {
        return error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error");
    }
    if !sim.with(|s| {
        let ok = s.take_rate(endpoint);
        if !ok {
            s.counters.rate_limited += 1;
        }
        ok
    }) {
        return error(
            StatusCode::TOO_MANY_REQUESTS,
            "The API rate limit has been exceeded. Try again later.",
        );
    }
    let resp = next.run(req).await;
    match fault {
        // Processed (delivered, retry key recorded), but the caller sees a 500.
        Fault::FailAfter if resp.status().is_success() => {
            error(StatusCode::INTERNAL_SERVER_ERROR, "Internal server error")
        }
        Fault::Hold => {
            let d = sim.with(|s| s.faults.timeout_hold);
            tokio::time::sleep(d).await;
            resp
        }
        _ => resp,
    }
}

// --- helpers ---------------------------------------------------------------------------

pub(crate) fn error(status: StatusCode, message: &str) -> Response {
    (status, axum::Json(json!({ "message": message }))).into_response()
}

pub(crate) fn ok(body: Value) -> Response {
    (StatusCode::OK, axum::Json(body)).into_response()
}

fn details(errors: &[String]) -> Response {
    let details: Vec<Value> = errors
        .iter()
        .map(|e| match validate::split_detail(e) {
            (Some(p), m) => json!({ "message": m, "property": p }),
            (None, m) => json!({ "message": m }),
        })
        .collect();
    (
        StatusCode::BAD_REQUEST,
        axum::Json(json!({
            "message": format!("The request body has {} error(s)", errors.len()),
            "details": details,
        })),
    )
        .into_response()
}

/// Parses and validates a JSON body against a schema name.
fn body_json(sim: &Sim, schema: &str, body: &Bytes) -> Result<Value, Response> {
    let v: Value = serde_json::from_slice(body).map_err(|e| {
        error(
            StatusCode::BAD_REQUEST,
            &format!(
                "The request body could not be parsed as JSON (line: {}, column: {})",
                e.line(),
                e.column()
            ),
        )
    })?;
    sim.config()
        .validator
        .validate(schema, &v)
        .map_err(|e| details(&e))?;
    Ok(v)
}

pub(crate) fn iso(t: SystemTime) -> String {
    DateTime::<Utc>::from(t).to_rfc3339_opts(SecondsFormat::Millis, true)
}

pub(crate) fn now_secs() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_secs() as i64)
        .unwrap_or(0)
}

// --- sending -----------------------------------------------------------------------------

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    Reply,
    Push,
    Multicast,
    Narrowcast,
    Broadcast,
}

impl Kind {
    fn name(self) -> &'static str {
        match self {
            Kind::Reply => "reply",
            Kind::Push => "push",
            Kind::Multicast => "multicast",
            Kind::Narrowcast => "narrowcast",
            Kind::Broadcast => "broadcast",
        }
    }
    fn schema(self) -> &'static str {
        match self {
            Kind::Reply => "ReplyMessageRequest",
            Kind::Push => "PushMessageRequest",
            Kind::Multicast => "MulticastRequest",
            Kind::Narrowcast => "NarrowcastRequest",
            Kind::Broadcast => "BroadcastRequest",
        }
    }
}

async fn reply(
    State(sim): State<Sim>,
    Extension(rid): Extension<RequestId>,
    h: HeaderMap,
    b: Bytes,
) -> Response {
    send(&sim, Kind::Reply, &rid.0, &h, &b)
}
async fn push(
    State(sim): State<Sim>,
    Extension(rid): Extension<RequestId>,
    h: HeaderMap,
    b: Bytes,
) -> Response {
    send(&sim, Kind::Push, &rid.0, &h, &b)
}
async fn multicast(
    State(sim): State<Sim>,
    Extension(rid): Extension<RequestId>,
    h: HeaderMap,
    b: Bytes,
) -> Response {
    send(&sim, Kind::Multicast, &rid.0, &h, &b)
}
async fn narrowcast(
    State(sim): State<Sim>,
    Extension(rid): Extension<RequestId>,
    h: HeaderMap,
    b: Bytes,
) -> Response {
    send(&sim, Kind::Narrowcast, &rid.0, &h, &b)
}
async fn broadcast(
    State(sim): State<Sim>,
    Extension(rid): Extension<RequestId>,
    h: HeaderMap,
    b: Bytes,
) -> Response {
    send(&sim, Kind::Broadcast, &rid.0, &h, &b)
}

fn send(sim: &Sim, kind: Kind, rid: &str, headers: &HeaderMap, body: &Bytes) -> Response {
    let retry_key = if kind == Kind::Reply {
        None
    } else {
        match headers
            .get("x-line-retry-key")
            .map(|v| v.to_str().map(str::to_ascii_lowercase))
        {
            None => None,
            Some(Ok(k)) if util::is_uuid(&k) => Some(k),
            Some(_) => {
                return error(
                    StatusCode::BAD_REQUEST,
                    "The value of the X-Line-Retry-Key header is invalid",
                );
            }
        }
    };
    let v = match body_json(sim, kind.schema(), body) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let messages: Vec<Value> = v
        .get("messages")
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default();
    let ttl = sim.config().retry_key_ttl;
    let reply_ttl = sim.config().reply_token_ttl;
    let quota = sim.config().message_quota;
    let summary = insight::summarize(&messages);
    let unit = v
        .get("customAggregationUnits")
        .and_then(Value::as_array)
        .and_then(|u| u.first())
        .and_then(Value::as_str)
        .map(str::to_owned);
    sim.with(|s| {
        let now = Instant::now();
        if let Some(key) = &retry_key {
            s.prune_retry_keys(ttl);
            if let Some(prev) = s.retry_keys.get(key) {
                s.counters.duplicates_suppressed += 1;
                let mut b = json!({ "message": "The retry key is already accepted" });
                if let Some(sent) = &prev.sent_messages {
                    b["sentMessages"] = sent.clone();
                }
                let mut r = (StatusCode::CONFLICT, axum::Json(b)).into_response();
                if let Ok(h) = HeaderValue::from_str(&prev.request_id) {
                    r.headers_mut().insert("x-line-accepted-request-id", h);
                }
                return r;
            }
        }
        // Who receives it.
        let mut recipients = Targets::default();
        match kind {
            Kind::Reply => {
                let token = v.get("replyToken").and_then(Value::as_str).unwrap_or("");
                match s.reply_tokens.remove(token) {
                    Some((user, at)) if now.duration_since(at) < reply_ttl => {
                        recipients.push(s.target(&user));
                    }
                    _ => return error(StatusCode::BAD_REQUEST, "Invalid reply token"),
                }
            }
            Kind::Push => {
                let to = v.get("to").and_then(Value::as_str).unwrap_or("");
                if !util::is_line_id(to) {
                    return error(
                        StatusCode::BAD_REQUEST,
                        "The property, 'to', in the request body is invalid (line: -, column: -)",
                    );
                }
                recipients.push(s.target(to));
            }
            Kind::Multicast => {
                let to = v.get("to").and_then(Value::as_array);
                for (i, t) in to.into_iter().flatten().enumerate() {
                    match t.as_str() {
                        Some(id) if util::is_line_id(id) => recipients.push(s.target(id)),
                        _ => return details(&[format!("to[{i}]: Invalid user ID")]),
                    }
                }
            }
            Kind::Narrowcast => {
                recipients = match v.pointer("/recipient/type").and_then(Value::as_str) {
                    Some("audience") => {
                        let id = v
                            .pointer("/recipient/audienceGroupId")
                            .and_then(Value::as_i64);
                        match id.and_then(|id| s.audiences.get(&id)) {
                            None => {
                                return error(StatusCode::BAD_REQUEST, "Audience group not found");
                            }
                            Some(a) if now < a.ready_at => {
                                return error(
                                    StatusCode::BAD_REQUEST,
                                    "The audience group is not ready yet",
                                );
                            }
                            Some(a) => a.members.clone(),
                        }
                    }
                    _ => s.friends(),
                };
                if let Some(max) = v.pointer("/limit/max").and_then(Value::as_u64) {
                    recipients.truncate(usize::try_from(max).unwrap_or(usize::MAX));
                }
            }
            Kind::Broadcast => recipients = s.friends(),
        }
        let reach: Vec<Target> = recipients
            .bulk
            .into_iter()
            .map(Target::Bulk)
            .chain(recipients.other.into_iter().map(Target::Id))
            .filter(|t| s.deliverable(t))
            .collect();
        if kind != Kind::Reply {
            let cost = (reach.len() * messages.len()) as u64;
            if let Some(limit) = quota
                && s.consumption + cost > limit
            {
                return error(
                    StatusCode::TOO_MANY_REQUESTS,
                    "You have reached your monthly limit.",
                );
            }
            s.consumption += cost;
        }
        for t in &reach {
            s.deliver(t, kind.name(), rid, &messages);
        }
        if let Some(u) = &unit {
            s.aggregation_units.insert(u.clone());
        }
        s.sends.insert(
            rid.to_owned(),
            SendRecord {
                kind: kind.name(),
                at: SystemTime::now(),
                delivered: reach.len() as u64,
                messages: summary,
                unit,
            },
        );
        let sent = matches!(kind, Kind::Reply | Kind::Push).then(|| {
            Value::Array(
                messages
                    .iter()
                    .map(
                        |_| json!({ "id": util::message_id(), "quoteToken": util::random_hex(32) }),
                    )
                    .collect(),
            )
        });
        if kind == Kind::Narrowcast {
            s.narrowcasts.insert(
                rid.to_owned(),
                Narrowcast {
                    accepted: SystemTime::now(),
                    accepted_at: now,
                    target: reach.len() as u64,
                },
            );
        }
        if let Some(key) = retry_key {
            s.retry_keys.insert(
                key,
                RetryRecord {
                    request_id: rid.to_owned(),
                    sent_messages: sent.clone(),
                    at: now,
                },
            );
        }
        match (kind, sent) {
            (Kind::Narrowcast, _) => (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response(),
            (_, Some(sent)) => ok(json!({ "sentMessages": sent })),
            (_, None) => ok(json!({})),
        }
    })
}

async fn validate_message(State(sim): State<Sim>, Path(kind): Path<String>, b: Bytes) -> Response {
    if !matches!(
        kind.as_str(),
        "reply" | "push" | "multicast" | "narrowcast" | "broadcast"
    ) {
        return error(StatusCode::NOT_FOUND, "Not found");
    }
    match body_json(&sim, "ValidateMessageRequest", &b) {
        Ok(_) => ok(json!({})),
        Err(r) => r,
    }
}

async fn narrowcast_progress(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(id) = q.get("requestId") else {
        return error(StatusCode::BAD_REQUEST, "requestId is required");
    };
    let delay = sim.config().narrowcast_delay;
    sim.with(|s| match s.narrowcasts.get(id) {
        None => error(StatusCode::NOT_FOUND, "Not found"),
        Some(n) if n.accepted_at.elapsed() < delay => {
            ok(json!({ "phase": "waiting", "acceptedTime": iso(n.accepted) }))
        }
        Some(n) => ok(json!({
            "phase": "succeeded",
            "successCount": n.target,
            "failureCount": 0,
            "targetCount": n.target,
            "acceptedTime": iso(n.accepted),
            "completedTime": iso(n.accepted + delay),
        })),
    })
}

async fn quota(State(sim): State<Sim>) -> Response {
    match sim.config().message_quota {
        Some(v) => ok(json!({ "type": "limited", "value": v })),
        None => ok(json!({ "type": "none" })),
    }
}

async fn consumption(State(sim): State<Sim>) -> Response {
    ok(json!({ "totalUsage": sim.with(|s| s.consumption) }))
}

async fn aggregation_info(State(sim): State<Sim>) -> Response {
    ok(json!({ "numOfCustomAggregationUnits": sim.with(|s| s.aggregation_units.len()) }))
}

/// This month's unit names, `limit` (1..=100, default 100) a page, `start` the position.
async fn aggregation_list(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let limit = match q.get("limit").map(|l| l.parse::<usize>()) {
        None => 100,
        Some(Ok(l)) if (1..=100).contains(&l) => l,
        Some(_) => return error(StatusCode::BAD_REQUEST, "limit must be between 1 and 100"),
    };
    let start = match q.get("start").map(|l| l.parse::<usize>()) {
        None => 0,
        Some(Ok(l)) => l,
        Some(Err(_)) => return error(StatusCode::BAD_REQUEST, "start is invalid"),
    };
    sim.with(|s| {
        let names: Vec<&String> = s.aggregation_units.iter().skip(start).take(limit).collect();
        let mut b = json!({ "customAggregationUnits": names });
        if start + limit < s.aggregation_units.len() {
            b["next"] = json!((start + limit).to_string());
        }
        ok(b)
    })
}

// --- users -------------------------------------------------------------------------------

async fn profile(State(sim): State<Sim>, Path(user_id): Path<String>) -> Response {
    sim.with(|s| match s.public_user(&user_id) {
        Some(u) if u.status == UserStatus::Friend => {
            let mut b = json!({
                "displayName": u.display_name,
                "userId": u.user_id,
                "language": u.language,
            });
            if let Some(p) = &u.picture_url {
                b["pictureUrl"] = json!(p);
            }
            if let Some(m) = &u.status_message {
                b["statusMessage"] = json!(m);
            }
            ok(b)
        }
        _ => error(StatusCode::NOT_FOUND, "Not found"),
    })
}

async fn followers(State(sim): State<Sim>, Query(q): Query<HashMap<String, String>>) -> Response {
    let limit = q
        .get("limit")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(300);
    if !(1..=1000).contains(&limit) {
        return error(StatusCode::BAD_REQUEST, "limit must be between 1 and 1000");
    }
    let start = q
        .get("start")
        .and_then(|l| l.parse::<usize>().ok())
        .unwrap_or(0);
    sim.with(|s| {
        let (page, next) = s.friends_page(start, limit);
        let mut b = json!({ "userIds": page });
        if let Some(next) = next {
            b["next"] = json!(next.to_string());
        }
        ok(b)
    })
}

async fn bot_info(State(sim): State<Sim>) -> Response {
    let c = sim.config();
    ok(json!({
        "userId": c.bot_user_id,
        "basicId": c.bot_basic_id,
        "displayName": c.bot_display_name,
        "chatMode": "bot",
        "markAsReadMode": "auto",
    }))
}

// --- rich menus --------------------------------------------------------------------------

fn menu_json(id: &str, m: &RichMenu) -> Value {
    let mut b = m.body.clone();
    b["richMenuId"] = json!(id);
    b
}

async fn create_rich_menu(State(sim): State<Sim>, b: Bytes) -> Response {
    let v = match body_json(&sim, "RichMenuRequest", &b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = format!("richmenu-{}", util::random_hex(16));
    sim.with(|s| {
        s.rich_menus.insert(
            id.clone(),
            RichMenu {
                body: v,
                image: None,
            },
        )
    });
    ok(json!({ "richMenuId": id }))
}

async fn validate_rich_menu(State(sim): State<Sim>, b: Bytes) -> Response {
    match body_json(&sim, "RichMenuRequest", &b) {
        Ok(_) => ok(json!({})),
        Err(r) => r,
    }
}

async fn list_rich_menus(State(sim): State<Sim>) -> Response {
    sim.with(|s| {
        let list: Vec<Value> = s
            .rich_menus
            .iter()
            .map(|(id, m)| menu_json(id, m))
            .collect();
        ok(json!({ "richmenus": list }))
    })
}

async fn get_rich_menu(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    sim.with(|s| match s.rich_menus.get(&id) {
        Some(m) => ok(menu_json(&id, m)),
        None => error(StatusCode::NOT_FOUND, "Not found"),
    })
}

async fn delete_rich_menu(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    sim.with(|s| {
        if s.rich_menus.remove(&id).is_none() {
            return error(StatusCode::NOT_FOUND, "Not found");
        }
        if s.default_rich_menu.as_deref() == Some(id.as_str()) {
            s.default_rich_menu = None;
        }
        s.user_menus.retain(|_, m| *m != id);
        s.aliases.retain(|_, m| *m != id);
        ok(json!({}))
    })
}

/// A menu can be applied only once it has an image (LINE answers 400 otherwise).
fn applicable(s: &crate::state::State, id: &str) -> Result<(), Response> {
    match s.rich_menus.get(id) {
        None => Err(error(StatusCode::NOT_FOUND, "Not found")),
        Some(m) if m.image.is_none() => Err(error(
            StatusCode::BAD_REQUEST,
            "must upload richmenu image before applying it to user",
        )),
        Some(_) => Ok(()),
    }
}

async fn set_default_menu(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    sim.with(|s| {
        if let Err(r) = applicable(s, &id) {
            return r;
        }
        s.default_rich_menu = Some(id);
        ok(json!({}))
    })
}

async fn get_default_menu(State(sim): State<Sim>) -> Response {
    sim.with(|s| match &s.default_rich_menu {
        Some(id) => ok(json!({ "richMenuId": id })),
        None => error(StatusCode::NOT_FOUND, "no default richmenu"),
    })
}

async fn delete_default_menu(State(sim): State<Sim>) -> Response {
    sim.with(|s| s.default_rich_menu = None);
    ok(json!({}))
}

fn link(s: &mut crate::state::State, user_id: &str, menu: Option<&str>) {
    if !s.knows(user_id) {
        s.add_user(user_id, user_id, None);
    }
    match menu {
        Some(m) => {
            s.user_menus.insert(user_id.to_owned(), m.to_owned());
        }
        None => {
            s.user_menus.remove(user_id);
        }
    }
}

async fn link_user_menu(
    State(sim): State<Sim>,
    Path((user_id, id)): Path<(String, String)>,
) -> Response {
    if !util::is_line_id(&user_id) {
        return error(
            StatusCode::BAD_REQUEST,
            "The value for the 'userId' parameter is invalid",
        );
    }
    sim.with(|s| {
        if let Err(r) = applicable(s, &id) {
            return r;
        }
        link(s, &user_id, Some(&id));
        ok(json!({}))
    })
}

async fn get_user_menu(State(sim): State<Sim>, Path(user_id): Path<String>) -> Response {
    sim.with(|s| match s.user_menus.get(&user_id) {
        Some(id) => ok(json!({ "richMenuId": id })),
        None => error(StatusCode::NOT_FOUND, "the user has no richmenu"),
    })
}

async fn unlink_user_menu(State(sim): State<Sim>, Path(user_id): Path<String>) -> Response {
    sim.with(|s| link(s, &user_id, None));
    ok(json!({}))
}

async fn bulk_link(State(sim): State<Sim>, b: Bytes) -> Response {
    let v = match body_json(&sim, "RichMenuBulkLinkRequest", &b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let id = v
        .get("richMenuId")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_owned();
    sim.with(|s| {
        if let Err(r) = applicable(s, &id) {
            return r;
        }
        for u in v["userIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            link(s, u, Some(&id));
        }
        (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response()
    })
}

async fn bulk_unlink(State(sim): State<Sim>, b: Bytes) -> Response {
    let v = match body_json(&sim, "RichMenuBulkUnlinkRequest", &b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    sim.with(|s| {
        for u in v["userIds"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
        {
            link(s, u, None);
        }
    });
    (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response()
}

async fn create_alias(State(sim): State<Sim>, b: Bytes) -> Response {
    let v = match body_json(&sim, "CreateRichMenuAliasRequest", &b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let alias = v["richMenuAliasId"].as_str().unwrap_or("").to_owned();
    let menu = v["richMenuId"].as_str().unwrap_or("").to_owned();
    sim.with(|s| {
        if let Err(r) = applicable(s, &menu) {
            return r;
        }
        if s.aliases.contains_key(&alias) {
            return error(StatusCode::BAD_REQUEST, "conflict richmenu alias id");
        }
        s.aliases.insert(alias, menu);
        ok(json!({}))
    })
}

async fn list_aliases(State(sim): State<Sim>) -> Response {
    sim.with(|s| {
        let list: Vec<Value> = s
            .aliases
            .iter()
            .map(|(a, m)| json!({ "richMenuAliasId": a, "richMenuId": m }))
            .collect();
        ok(json!({ "aliases": list }))
    })
}

async fn get_alias(State(sim): State<Sim>, Path(alias): Path<String>) -> Response {
    sim.with(|s| match s.aliases.get(&alias) {
        Some(m) => ok(json!({ "richMenuAliasId": alias, "richMenuId": m })),
        None => error(StatusCode::NOT_FOUND, "Not found"),
    })
}

async fn update_alias(State(sim): State<Sim>, Path(alias): Path<String>, b: Bytes) -> Response {
    let v = match body_json(&sim, "UpdateRichMenuAliasRequest", &b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let menu = v["richMenuId"].as_str().unwrap_or("").to_owned();
    sim.with(|s| {
        if let Err(r) = applicable(s, &menu) {
            return r;
        }
        match s.aliases.get_mut(&alias) {
            Some(m) => {
                *m = menu;
                ok(json!({}))
            }
            None => error(StatusCode::NOT_FOUND, "Not found"),
        }
    })
}

async fn delete_alias(State(sim): State<Sim>, Path(alias): Path<String>) -> Response {
    sim.with(|s| match s.aliases.remove(&alias) {
        Some(_) => ok(json!({})),
        None => error(StatusCode::NOT_FOUND, "Not found"),
    })
}

// --- api-data: rich menu images ----------------------------------------------------------

async fn upload_menu_image(
    State(sim): State<Sim>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let ct = headers
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_ascii_lowercase();
    if ct != "image/jpeg" && ct != "image/png" {
        return error(StatusCode::UNSUPPORTED_MEDIA_TYPE, "Unsupported Media Type");
    }
    if body.is_empty() || body.len() > 1024 * 1024 {
        return error(
            StatusCode::BAD_REQUEST,
            "The image size must be 1 MB or less",
        );
    }
    sim.with(|s| match s.rich_menus.get_mut(&id) {
        None => error(StatusCode::NOT_FOUND, "Not found"),
        Some(m) if m.image.is_some() => error(
            StatusCode::BAD_REQUEST,
            "An image has already been uploaded to the richmenu",
        ),
        Some(m) => {
            m.image = Some((ct, body.to_vec()));
            ok(json!({}))
        }
    })
}

async fn download_menu_image(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    sim.with(
        |s| match s.rich_menus.get(&id).and_then(|m| m.image.clone()) {
            Some((ct, bytes)) => ([(header::CONTENT_TYPE, ct)], bytes).into_response(),
            None => error(StatusCode::NOT_FOUND, "Not found"),
        },
    )
}

// --- audiences ---------------------------------------------------------------------------

fn audience_targets<'a>(s: &crate::state::State, ids: impl Iterator<Item = &'a str>) -> Targets {
    let mut t = Targets::default();
    for id in ids.map(str::trim).filter(|id| !id.is_empty()) {
        t.push(s.target(id));
    }
    t
}

fn create_audience(
    sim: &Sim,
    description: &str,
    upload_description: &str,
    is_ifa: bool,
    ids: &[&str],
) -> Response {
    if description.is_empty() || description.chars().count() > 120 {
        return details(&["description: Length must be between 1 and 120".to_owned()]);
    }
    let created = now_secs();
    let ready_at = Instant::now() + sim.config().audience_ready_delay;
    let id = sim.with(|s| {
        let members = audience_targets(s, ids.iter().copied());
        let id = s
            .audiences
            .keys()
            .next_back()
            .map_or(4_000_000_000_000, |k| k + 1);
        let count = members.len() as u64;
        s.audiences.insert(
            id,
            Audience {
                description: description.to_owned(),
                members,
                created,
                ready_at,
                is_ifa,
                jobs: vec![AudienceJob {
                    id: id * 10,
                    description: upload_description.to_owned(),
                    count,
                    created,
                }],
            },
        );
        id
    });
    (
        StatusCode::ACCEPTED,
        axum::Json(json!({
            "audienceGroupId": id,
            "createRoute": "MESSAGING_API",
            "type": "UPLOAD",
            "description": description,
            "created": created,
            "permission": "READ_WRITE",
            "expireTimestamp": created + 180 * 86_400,
            "isIfaAudience": is_ifa,
        })),
    )
        .into_response()
}

fn add_to_audience(sim: &Sim, id: i64, upload_description: &str, ids: &[&str]) -> Response {
    let ready_at = Instant::now() + sim.config().audience_ready_delay;
    sim.with(|s| {
        let more = audience_targets(s, ids.iter().copied());
        let Some(a) = s.audiences.get_mut(&id) else {
            return error(StatusCode::BAD_REQUEST, "Audience group not found");
        };
        let count = more.len() as u64;
        a.members.bulk.extend(more.bulk);
        a.members.other.extend(more.other);
        a.ready_at = a.ready_at.max(ready_at);
        let job = a.jobs.len() as i64 + id * 10;
        a.jobs.push(AudienceJob {
            id: job,
            description: upload_description.to_owned(),
            count,
            created: now_secs(),
        });
        (StatusCode::ACCEPTED, axum::Json(json!({}))).into_response()
    })
}

fn ids_of(v: &Value) -> Vec<&str> {
    v["audiences"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|a| a.get("id").and_then(Value::as_str))
        .collect()
}

async fn audience_upload(State(sim): State<Sim>, b: Bytes) -> Response {
    let v = match body_json(&sim, "CreateAudienceGroupRequest", &b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let is_ifa = v
        .get("isIfaAudience")
        .and_then(Value::as_bool)
        .unwrap_or(false);
    create_audience(
        &sim,
        v["description"].as_str().unwrap_or(""),
        v["uploadDescription"].as_str().unwrap_or(""),
        is_ifa,
        &ids_of(&v),
    )
}

async fn audience_add(State(sim): State<Sim>, b: Bytes) -> Response {
    let v = match body_json(&sim, "AddAudienceToAudienceGroupRequest", &b) {
        Ok(v) => v,
        Err(r) => return r,
    };
    let Some(id) = v.get("audienceGroupId").and_then(Value::as_i64) else {
        return details(&["audienceGroupId: must be specified".to_owned()]);
    };
    add_to_audience(
        &sim,
        id,
        v["uploadDescription"].as_str().unwrap_or(""),
        &ids_of(&v),
    )
}

/// The fields and the file of an audience upload form.
async fn audience_form(
    mut form: axum::extract::Multipart,
) -> Result<(HashMap<String, String>, String), Response> {
    let bad = |m: &str| error(StatusCode::BAD_REQUEST, m);
    let mut fields = HashMap::new();
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(_) => return Err(bad("The request body could not be parsed as multipart")),
        };
        let name = field.name().unwrap_or("").to_owned();
        let text = field
            .text()
            .await
            .map_err(|_| bad("The request body could not be parsed as multipart"))?;
        if name == "file" {
            file = Some(text);
        } else {
            fields.insert(name, text);
        }
    }
    let file = file.ok_or_else(|| details(&["file: must be specified".to_owned()]))?;
    Ok((fields, file))
}

fn file_ids(file: &str) -> Result<Vec<&str>, Response> {
    let ids: Vec<&str> = file
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .collect();
    if ids.is_empty() || ids.len() > 1_500_000 {
        return Err(details(&[
            "file: The number of IDs must be between 1 and 1500000".to_owned(),
        ]));
    }
    Ok(ids)
}

async fn audience_upload_file(State(sim): State<Sim>, form: axum::extract::Multipart) -> Response {
    let (fields, file) = match audience_form(form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let ids = match file_ids(&file) {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let field = |k: &str| fields.get(k).map(String::as_str).unwrap_or("");
    create_audience(
        &sim,
        field("description"),
        field("uploadDescription"),
        field("isIfaAudience") == "true",
        &ids,
    )
}

async fn audience_add_file(State(sim): State<Sim>, form: axum::extract::Multipart) -> Response {
    let (fields, file) = match audience_form(form).await {
        Ok(x) => x,
        Err(r) => return r,
    };
    let Some(id) = fields
        .get("audienceGroupId")
        .and_then(|i| i.trim().parse::<i64>().ok())
    else {
        return details(&["audienceGroupId: must be specified".to_owned()]);
    };
    let ids = match file_ids(&file) {
        Ok(ids) => ids,
        Err(r) => return r,
    };
    let upload = fields.get("uploadDescription").cloned().unwrap_or_default();
    add_to_audience(&sim, id, &upload, &ids)
}

async fn audience_get(State(sim): State<Sim>, Path(id): Path<String>) -> Response {
    let Ok(id) = id.parse::<i64>() else {
        return error(StatusCode::BAD_REQUEST, "audienceGroupId is invalid");
    };
    let now = Instant::now();
    sim.with(|s| {
        let Some(a) = s.audiences.get(&id) else {
            return error(StatusCode::NOT_FOUND, "Not found");
        };
        let ready = now >= a.ready_at;
        let jobs: Vec<Value> = a
            .jobs
            .iter()
            .map(|j| {
                json!({
                    "audienceGroupJobId": j.id,
                    "audienceGroupId": id,
                    "description": j.description,
                    "type": "DIFF_ADD",
                    "jobStatus": if ready { "FINISHED" } else { "WORKING" },
                    "audienceCount": j.count,
                    "created": j.created,
                })
            })
            .collect();
        ok(json!({
            "audienceGroup": {
                "audienceGroupId": id,
                "type": "UPLOAD",
                "description": a.description,
                "status": if ready { "READY" } else { "IN_PROGRESS" },
                "audienceCount": a.members.len(),
                "created": a.created,
                "permission": "READ_WRITE",
                "createRoute": "MESSAGING_API",
                "isIfaAudience": a.is_ifa,
            },
            "jobs": jobs,
        }))
    })
}

// --- insight -------------------------------------------------------------------------------

async fn insight_followers(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let valid = q
        .get("date")
        .is_some_and(|d| chrono::NaiveDate::parse_from_str(d, "%Y%m%d").is_ok());
    if !valid {
        return error(StatusCode::BAD_REQUEST, "date must be yyyyMMdd");
    }
    sim.with(|s| {
        let (friends, blocks) = s.follower_counts();
        ok(json!({
            "status": "ready",
            "followers": friends + blocks,
            "targetedReaches": friends,
            "blocks": blocks,
        }))
    })
}
