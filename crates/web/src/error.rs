//! Errors become Japanese pages that never show internals.

use askama::Template;
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Response};

use crate::view::Layout;

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("not found")]
    NotFound,
    #[error("forbidden")]
    Forbidden,
    #[error("csrf refused")]
    CsrfRefused,
    #[error("bad request: {0}")]
    BadRequest(String),
    /// The change would orphan or contradict other records; nothing was stored.
    #[error("in use: {0}")]
    InUse(String),
    /// A request the rules refuse as a whole (not a field to correct); the
    /// message says what to do instead.
    #[error("refused: {0}")]
    Refused(String),
    #[error("internal: {0}")]
    Internal(String),
}

impl From<hiroba_store::StoreError> for AppError {
    fn from(err: hiroba_store::StoreError) -> Self {
        match err {
            hiroba_store::StoreError::NotFound => AppError::NotFound,
            hiroba_store::StoreError::InUse(e) => AppError::InUse(e.to_string()),
            other => AppError::Internal(other.to_string()),
        }
    }
}

impl From<askama::Error> for AppError {
    fn from(err: askama::Error) -> Self {
        AppError::Internal(format!("template: {err}"))
    }
}

#[derive(Template)]
#[template(path = "error.html")]
struct ErrorPage {
    layout: Layout,
    status: u16,
    heading: &'static str,
    message: String,
}

impl IntoResponse for AppError {
    fn into_response(self) -> Response {
        let (status, heading, message) = match &self {
            AppError::NotFound => (
                StatusCode::NOT_FOUND,
                "ページが見つかりません",
                "お探しのページは移動したか、削除された可能性があります。アドレスをお確かめください。".to_owned(),
            ),
            AppError::Forbidden => (
                StatusCode::FORBIDDEN,
                "このページを利用する権限がありません",
                "この操作はあなたのアカウントには許可されていません。必要な場合はシステム管理者にご相談ください。".to_owned(),
            ),
            AppError::CsrfRefused => (
                StatusCode::FORBIDDEN,
                "操作を受け付けられませんでした",
                "画面を開いてから時間がたったか、別の画面から送信されたため、安全のため受け付けませんでした。もう一度画面を開き直してから操作してください。".to_owned(),
            ),
            AppError::BadRequest(message) => {
                (StatusCode::BAD_REQUEST, "送信内容に誤りがあります", message.clone())
            }
            AppError::InUse(detail) => {
                tracing::info!(error = %detail, "change refused by a foreign key");
                (
                    StatusCode::CONFLICT,
                    "ほかの記録で使われているため、この操作はできません",
                    "予約・利用者・料金などの記録とつながっているため、削除や変更を行いませんでした（何も変更されていません）。使わなくなった場合は、削除する代わりに非公開・休館・受付停止などに切り替えてください。ブラウザの「戻る」で前の画面に戻れます。".to_owned(),
                )
            }
            AppError::Refused(message) => (
                StatusCode::FORBIDDEN,
                "この手続きはできません",
                message.clone(),
            ),
            AppError::Internal(detail) => {
                // The detail goes to the operator's log, never to the page.
                tracing::error!(error = %detail, "internal error");
                (
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "システムエラーが発生しました",
                    "申し訳ありません。時間をおいてもう一度お試しください。続く場合は役場までご連絡ください。".to_owned(),
                )
            }
        };
        let page = ErrorPage {
            layout: Layout::plain(heading),
            status: status.as_u16(),
            heading,
            message,
        };
        match page.render() {
            Ok(html) => (status, Html(html)).into_response(),
            Err(_) => (status, heading).into_response(),
        }
    }
}
