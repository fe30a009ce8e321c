//! Hiroba's HTTP side: the resident site at `/`, the staff admin at `/admin`,
//! and the middleware every response passes through (security headers, CSRF,
//! access log). Pages are server-rendered askama templates that work without
//! JavaScript.

mod access_log;
pub mod admin;
mod assets;
mod auth;
mod availability;
pub mod booking;
pub mod composer;
mod csrf;
mod error;
mod form;
mod form_view;
pub mod liff;
mod line_ingest;
pub mod line_webhook;
mod links;
pub mod media;
mod public;
mod resident;
pub mod routes;
mod security;
mod view;
pub mod view_cache;

use std::net::IpAddr;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use hiroba_store::Db;
use hiroba_store::sessions::SessionPolicy;
use hiroba_store::throttle::ThrottlePolicy;

pub use error::AppError;

/// Large enough for a facility photo (3 MB) and CSV imports.
pub(crate) const BODY_LIMIT: usize = 4 * 1024 * 1024;
/// A staff form carrying an image for a LINE message (10 MB) and the rest of
/// the composer's fields; only on the routes declared with
/// [`routes::AdminRoutes::post_upload`].
pub(crate) const UPLOAD_BODY_LIMIT: usize = media::MAX_UPLOAD_BYTES + 1024 * 1024;
pub use security::ClientIp;

/// Settings of the web layer, filled from the binary's configuration.
#[derive(Debug, Clone, Default)]
pub struct WebConfig {
    /// True when clients reach us over HTTPS (TLS here or at a proxy): cookies
    /// get `Secure` and the `__Host-` prefix, responses get HSTS.
    pub https: bool,
    pub session: SessionPolicy,
    pub throttle: ThrottlePolicy,
    /// Reverse proxies whose `X-Forwarded-For` is believed.
    pub trusted_proxies: Vec<IpAddr>,
    /// Demo mode shows the demo logins on the login page.
    pub demo_logins: Vec<(String, String)>,
    /// Developer pages (the mail outbox) for the demo.
    pub dev_pages: bool,
    /// The address residents reach the site at, for links in mail
    /// (e.g. `https://yoyaku.town.example.jp`); never taken from the Host header.
    pub public_url: String,
}

/// Shared by every handler.
#[derive(Clone)]
pub struct AppState {
    inner: Arc<Inner>,
}

struct Inner {
    db: Db,
    config: WebConfig,
    csrf_key: [u8; 32],
    views: view_cache::ViewCache,
    secrets: hiroba_store::SecretBox,
    ingest: line_ingest::Ingest,
}

impl AppState {
    /// Loads (or creates, once for all app instances) the CSRF signing key.
    pub async fn new(
        db: Db,
        config: WebConfig,
        secrets: hiroba_store::SecretBox,
    ) -> Result<Self, hiroba_store::StoreError> {
        let csrf_key = csrf::load_key(&db).await?;
        let ingest = line_ingest::Ingest::spawn(db.clone());
        Ok(Self {
            inner: Arc::new(Inner {
                db,
                config,
                csrf_key,
                views: view_cache::ViewCache::default(),
                secrets,
                ingest,
            }),
        })
    }

    pub fn db(&self) -> &Db {
        &self.inner.db
    }

    pub fn config(&self) -> &WebConfig {
        &self.inner.config
    }

    /// The public pages' short-lived catalogue cache.
    pub fn views(&self) -> &view_cache::ViewCache {
        &self.inner.views
    }

    /// Seals and opens stored credentials (LINE channel secrets and tokens).
    pub fn secrets(&self) -> &hiroba_store::SecretBox {
        &self.inner.secrets
    }

    /// The LINE webhook's group-commit writer and secret cache.
    pub(crate) fn ingest(&self) -> &line_ingest::Ingest {
        &self.inner.ingest
    }

    pub(crate) fn csrf_key(&self) -> &[u8; 32] {
        &self.inner.csrf_key
    }
}

/// The whole application: resident site, staff admin and middleware.
pub fn app(state: AppState) -> Router {
    let admin = admin::router(state.clone());
    Router::new()
        .merge(public::router())
        .merge(resident::router())
        .merge(booking::router())
        .merge(line_webhook::router())
        .merge(media::router())
        .merge(liff::router())
        .nest("/admin", admin)
        .fallback(public::not_found)
        .layer(middleware::from_fn_with_state(state.clone(), csrf::verify))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::headers,
        ))
        .layer(middleware::from_fn(access_log::record))
        .layer(middleware::from_fn_with_state(
            state.clone(),
            security::client_ip,
        ))
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(state)
}
