//! The LINE webhook (issue 5; M20): `POST /line/webhook/{production|test}`.
//!
//! LINE authenticates by signature, not by session: `x-line-signature` must be the
//! base64 HMAC-SHA256 of the raw body with the channel secret (constant-time
//! compare), so the route is exempt from the CSRF middleware (see `csrf::verify`).
//! A missing or wrong signature answers 401 and stores nothing; a body that is not
//! a webhook answers 400 and stores nothing. Otherwise the events are written in one
//! transaction (deduplicated by `webhookEventId`) and the answer is 200 at once:
//! processing is left to the job worker (`hiroba_jobs::line_events`) so the reply
//! stays well inside LINE's one-second limit.

use axum::Router;
use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use hiroba_line::{CallbackRequest, signature};
use hiroba_store::line::{Channel, NewEvent};

use crate::AppState;

/// LINE's webhook bodies are small; refuse anything larger than this.
pub const WEBHOOK_BODY_LIMIT: usize = 1024 * 1024;

pub fn router() -> Router<AppState> {
    Router::new().route(
        "/line/webhook/{channel}",
        post(receive).layer(DefaultBodyLimit::max(WEBHOOK_BODY_LIMIT)),
    )
}

fn answer(status: StatusCode, text: &'static str) -> Response {
    (status, text).into_response()
}

async fn receive(
    State(state): State<AppState>,
    Path(channel): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> Response {
    let Some(channel) = Channel::parse(&channel) else {
        return answer(StatusCode::NOT_FOUND, "unknown channel");
    };
    let secret = match state
        .ingest()
        .channel_secret(state.db(), state.secrets(), channel)
        .await
    {
        Ok(secret) => secret,
        Err(e) => {
            tracing::error!(error = %e, %channel, "LINE channel settings unreadable");
            return answer(StatusCode::INTERNAL_SERVER_ERROR, "storage error");
        }
    };
    let signed = headers
        .get("x-line-signature")
        .and_then(|v| v.to_str().ok())
        .zip(secret.as_deref())
        .is_some_and(|(header, secret)| signature::verify(secret.as_bytes(), &body, header));
    if !signed {
        tracing::warn!(%channel, "LINE webhook refused: missing or wrong signature");
        return answer(StatusCode::UNAUTHORIZED, "invalid signature");
    }
    let Ok(request) = CallbackRequest::parse(&body) else {
        return answer(StatusCode::BAD_REQUEST, "not a LINE webhook body");
    };
    let events: Vec<NewEvent> = request
        .events
        .iter()
        .map(|e| NewEvent {
            webhook_event_id: e.webhook_event_id.clone(),
            event_type: e.event_type.clone(),
            user_id: e.user_id().map(str::to_owned),
            raw: e.raw.to_string(),
        })
        .collect();
    if events.is_empty() {
        // LINE's connection check sends no events.
        return answer(StatusCode::OK, "ok");
    }
    match state.ingest().store(channel, events).await {
        Ok(()) => answer(StatusCode::OK, "ok"),
        Err(e) => {
            // Not 200: LINE redelivers, and the UNIQUE event id keeps it to one row.
            tracing::error!(error = %e, %channel, "LINE webhook events not stored");
            answer(StatusCode::INTERNAL_SERVER_ERROR, "storage error")
        }
    }
}
