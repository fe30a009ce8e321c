//! The access log (S05): one line per request on the `hiroba::access` target,
//! which the binary writes to a daily rotating file with a retention setting.
//! Only the path is logged, never the query string, which could carry secrets.

use std::time::Instant;

use axum::extract::Request;
use axum::middleware::Next;
use axum::response::Response;

use crate::ClientIp;

/// Who made the request, attached to the response by the auth layer.
#[derive(Debug, Clone)]
pub struct Actor(pub String);

pub async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let res = next.run(req).await;
    let actor = res
        .extensions()
        .get::<Actor>()
        .map(|a| a.0.clone())
        .unwrap_or_default();
    tracing::info!(
        target: "hiroba::access",
        method = %method,
        path = %path,
        status = res.status().as_u16(),
        ms = started.elapsed().as_secs_f64() * 1000.0,
        ip = %ip,
        actor = %actor,
    );
    res
}
