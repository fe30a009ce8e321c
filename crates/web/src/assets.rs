//! Static assets compiled into the binary: no CDN, no external fonts.

use axum::extract::Path;
use axum::http::header;
use axum::response::{IntoResponse, Response};

use crate::error::AppError;

const CSS: &str = include_str!("../static/hiroba.css");
const JS: &str = include_str!("../static/hiroba.js");
const REPORT_PRINT_CSS: &str = include_str!("../static/report-print.css");
const COMPOSER_JS: &str = include_str!("../static/composer.js");
const LIFF_JS: &str = include_str!("../static/liff.js");

/// Changes with every release, so browsers fetch fresh assets after an upgrade.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");

pub async fn serve(Path(name): Path<String>) -> Result<Response, AppError> {
    let (body, kind) = match name.as_str() {
        "hiroba.css" => (CSS, "text/css; charset=utf-8"),
        "hiroba.js" => (JS, "text/javascript; charset=utf-8"),
        "report-print.css" => (REPORT_PRINT_CSS, "text/css; charset=utf-8"),
        "composer.js" => (COMPOSER_JS, "text/javascript; charset=utf-8"),
        "liff.js" => (LIFF_JS, "text/javascript; charset=utf-8"),
        // The LINE message preview's classes (`lp-*`), from crates/line.
        "line-preview.css" => (hiroba_line::preview::PREVIEW_CSS, "text/css; charset=utf-8"),
        _ => return Err(AppError::NotFound),
    };
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=86400"),
        ],
        body,
    )
        .into_response())
}
