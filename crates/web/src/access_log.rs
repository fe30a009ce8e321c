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

tokio::task_local! {
    /// Set by whoever resolves a resident's session during the request (the
    /// resident pages have no auth layer to attach an [`Actor`]).
    static REQUEST_ACTOR: std::cell::RefCell<Option<String>>;
}

/// Records the signed-in resident of the current request for the access log.
pub fn note_resident(id: i64) {
    let _ = REQUEST_ACTOR.try_with(|a| *a.borrow_mut() = Some(format!("resident:{id}")));
}

pub async fn record(req: Request, next: Next) -> Response {
    let started = Instant::now();
    let method = req.method().clone();
    let path = req.uri().path().to_owned();
    let ip = req
        .extensions()
        .get::<ClientIp>()
        .map(ToString::to_string)
        .unwrap_or_default();
    let (noted, res) = REQUEST_ACTOR
        .scope(std::cell::RefCell::new(None), async {
            let res = next.run(req).await;
            (REQUEST_ACTOR.with(|a| a.borrow_mut().take()), res)
        })
        .await;
    let actor = res
        .extensions()
        .get::<Actor>()
        .map(|a| a.0.clone())
        .or(noted)
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
