//! The resident site. For now a home page listing the town's facilities; the
//! booking pages arrive with issue 4.

use askama::Template;
use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hiroba_store::catalogue::{self, PhotoMeta};
use hiroba_store::facilities::{self, Facility};

use crate::admin::render;
use crate::error::AppError;
use crate::view::Layout;
use crate::{AppState, assets};

pub fn router() -> Router<AppState> {
    Router::new()
        .route("/", get(home))
        .route("/healthz", get(healthz))
        .route("/static/{name}", get(assets::serve))
        .route("/photos/{id}", get(crate::admin::serve_photo))
        .route("/r/{token}", get(crate::admin::follow_link))
        .route("/facilities/{id}", get(crate::availability::facility))
        .route(
            "/facilities/{id}/rooms/{room_id}",
            get(crate::availability::room),
        )
}

#[derive(Template)]
#[template(path = "home.html")]
struct Home {
    layout: Layout,
    facilities: Vec<(Facility, Option<PhotoMeta>)>,
    contact: String,
}

async fn home(State(state): State<AppState>) -> Result<Response, AppError> {
    let settings = hiroba_store::settings::load(state.db()).await?;
    render(&Home {
        layout: Layout {
            title: "公共施設のご案内".into(),
            town_name: settings.town_name,
            ..Layout::default()
        },
        facilities: with_photos(
            facilities::list(state.db()).await?,
            catalogue::cover_photos(state.db()).await?,
        ),
        contact: settings.town_contact,
    })
}

fn with_photos(list: Vec<Facility>, photos: Vec<PhotoMeta>) -> Vec<(Facility, Option<PhotoMeta>)> {
    list.into_iter()
        .map(|f| {
            let photo = photos.iter().find(|p| p.facility_id == f.id).cloned();
            (f, photo)
        })
        .collect()
}

/// 200 when the database answers, 503 otherwise; for load balancers and monitoring.
async fn healthz(State(state): State<AppState>) -> Response {
    match state.db().ping().await {
        Ok(()) => (StatusCode::OK, "ok").into_response(),
        Err(e) => {
            tracing::error!(error = %e, "health check: database unreachable");
            (StatusCode::SERVICE_UNAVAILABLE, "database unavailable").into_response()
        }
    }
}

pub async fn not_found() -> AppError {
    AppError::NotFound
}
