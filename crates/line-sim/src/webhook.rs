//! Webhooks from simulated users to Hiroba: LINE-shaped bodies, `x-line-signature`,
//! redelivery with backoff when Hiroba does not answer 200.

use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine;
use hmac::{Hmac, Mac};
use serde_json::{Value, json};
use sha2::Sha256;

use crate::state::UserStatus;
use crate::{Sim, util};

/// `base64(HMAC-SHA256(channel_secret, body))`, LINE's `x-line-signature`.
pub fn sign(channel_secret: &str, body: &[u8]) -> String {
    // HMAC accepts keys of any length; the error branch cannot happen.
    match Hmac::<Sha256>::new_from_slice(channel_secret.as_bytes()) {
        Ok(mut mac) => {
            mac.update(body);
            base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
        }
        Err(_) => String::new(),
    }
}

/// Why a simulated user's action could not be sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SimError {
    UnknownUser(String),
    NoWebhookUrl,
}

impl std::fmt::Display for SimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SimError::UnknownUser(u) => write!(f, "unknown simulated user {u}"),
            SimError::NoWebhookUrl => write!(f, "no webhook URL configured"),
        }
    }
}

impl std::error::Error for SimError {}

/// What happened to one webhook.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookOutcome {
    pub webhook_event_id: String,
    /// The reply token the event carried, if any.
    pub reply_token: Option<String>,
    /// 1 + redeliveries.
    pub attempts: u32,
    /// Hiroba answered 200.
    pub delivered: bool,
    /// The last HTTP status (None: connection error or timeout).
    pub last_status: Option<u16>,
}

fn now_ms() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis() as i64)
        .unwrap_or(0)
}

fn known(sim: &Sim, user_id: &str) -> Result<(), SimError> {
    if sim.with(|s| s.knows(user_id)) {
        Ok(())
    } else {
        Err(SimError::UnknownUser(user_id.to_owned()))
    }
}

pub(crate) async fn follow(sim: &Sim, user_id: &str) -> Result<WebhookOutcome, SimError> {
    known(sim, user_id)?;
    let was_blocked = sim.with(|s| {
        s.set_status(user_id, UserStatus::Friend)
            .map(|was| was == UserStatus::Blocked)
    });
    let event =
        json!({ "type": "follow", "follow": { "isUnblocked": was_blocked.unwrap_or(false) } });
    send_event(sim, user_id, event, true).await
}

pub(crate) async fn unfollow(sim: &Sim, user_id: &str) -> Result<WebhookOutcome, SimError> {
    known(sim, user_id)?;
    sim.with(|s| {
        s.set_status(user_id, UserStatus::Blocked);
    });
    send_event(sim, user_id, json!({ "type": "unfollow" }), false).await
}

pub(crate) async fn send_text(
    sim: &Sim,
    user_id: &str,
    text: &str,
) -> Result<WebhookOutcome, SimError> {
    let event = json!({
        "type": "message",
        "message": {
            "id": util::message_id(),
            "type": "text",
            "quoteToken": util::random_hex(32),
            "text": text,
        },
    });
    send_event(sim, user_id, event, true).await
}

pub(crate) async fn send_location(
    sim: &Sim,
    user_id: &str,
    title: &str,
    address: &str,
    latitude: f64,
    longitude: f64,
) -> Result<WebhookOutcome, SimError> {
    let event = json!({
        "type": "message",
        "message": {
            "id": util::message_id(),
            "type": "location",
            "title": title,
            "address": address,
            "latitude": latitude,
            "longitude": longitude,
        },
    });
    send_event(sim, user_id, event, true).await
}

/// A postback; `params` carries datetime picker values or a rich menu switch result,
/// `display_text` is shown in the chat as if the user had typed it.
pub(crate) async fn postback(
    sim: &Sim,
    user_id: &str,
    data: &str,
    params: Option<Value>,
    display_text: Option<&str>,
) -> Result<WebhookOutcome, SimError> {
    let mut pb = json!({ "data": data });
    if let Some(p) = params {
        pb["params"] = p;
    }
    let mut event = json!({ "type": "postback", "postback": pb });
    if let Some(t) = display_text {
        event["displayText"] = json!(t);
    }
    send_event(sim, user_id, event, true).await
}

/// Completes an event with the common fields, records it in the user's chat and sends it.
pub(crate) async fn send_event(
    sim: &Sim,
    user_id: &str,
    mut event: Value,
    with_reply_token: bool,
) -> Result<WebhookOutcome, SimError> {
    known(sim, user_id)?;
    let url = sim
        .with(|s| s.webhook_url.clone())
        .ok_or(SimError::NoWebhookUrl)?;
    let event_id = util::ulid();
    event["timestamp"] = json!(now_ms());
    event["source"] = json!({ "type": "user", "userId": user_id });
    event["webhookEventId"] = json!(event_id);
    event["deliveryContext"] = json!({ "isRedelivery": false });
    event["mode"] = json!("active");
    let reply_token = with_reply_token.then(|| util::random_hex(16));
    if let Some(t) = &reply_token {
        event["replyToken"] = json!(t);
    }
    sim.with(|s| {
        if let Some(t) = &reply_token {
            s.reply_tokens
                .insert(t.clone(), (user_id.to_owned(), std::time::Instant::now()));
        }
        s.record_user_action(user_id, &event);
        s.counters.webhooks_sent += 1;
    });
    let destination = sim.config().bot_user_id.clone();
    let secret = sim.config().channel_secret.clone();
    let redeliveries = sim.config().webhook_redeliveries;
    let mut backoff = sim.config().webhook_backoff;
    let mut attempts = 0;
    let mut last_status = None;
    let mut delivered = false;
    for attempt in 0..=redeliveries {
        if attempt > 0 {
            tokio::time::sleep(backoff).await;
            backoff = backoff.saturating_mul(2);
            event["deliveryContext"] = json!({ "isRedelivery": true });
            sim.with(|s| s.counters.webhooks_redelivered += 1);
        }
        attempts += 1;
        let body = json!({ "destination": destination, "events": [event] }).to_string();
        let signature = sign(&secret, body.as_bytes());
        let result = sim
            .inner
            .http
            .post(&url)
            .header("content-type", "application/json; charset=utf-8")
            .header("x-line-signature", signature)
            .body(body)
            .send()
            .await;
        last_status = result.as_ref().ok().map(|r| r.status().as_u16());
        if last_status == Some(200) {
            delivered = true;
            break;
        }
        tracing::debug!(?last_status, attempt, %event_id, "webhook not accepted");
    }
    let note = match (delivered, last_status) {
        (true, _) if attempts == 1 => "送信済み (200)".to_owned(),
        (true, _) => format!("再送 {} 回で送信済み (200)", attempts - 1),
        (false, Some(code)) => format!("失敗: 応答 {code}（{attempts} 回試行）"),
        (false, None) => format!("失敗: 接続できません（{attempts} 回試行）"),
    };
    sim.with(|s| {
        if !delivered {
            s.counters.webhooks_failed += 1;
        }
        s.last_webhook.insert(user_id.to_owned(), note);
    });
    Ok(WebhookOutcome {
        webhook_event_id: event_id,
        reply_token,
        attempts,
        delivered,
        last_status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signature_matches_known_vector() {
        // HMAC-SHA256("key", "The quick brown fox jumps over the lazy dog")
        let s = sign("key", b"The quick brown fox jumps over the lazy dog");
        assert_eq!(s, "97yD9DBThCSxMpjmqm+xQ+9NWaFJRhdZl0edvC0aPNg=");
    }
}
