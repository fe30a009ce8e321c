//! Forms arrive as `application/x-www-form-urlencoded`. Parsing into pairs (not
//! a struct) lets a missing field become a Japanese message at that field
//! instead of a bare 422, and keeps repeated keys (checkbox lists).

use axum::body::Bytes;
use axum::extract::{FromRequest, Request};

use crate::error::AppError;

#[derive(Debug, Default, Clone)]
pub struct FormData(Vec<(String, String)>);

impl FormData {
    /// A form from its pairs (multipart text fields, tests).
    pub fn from_pairs(pairs: Vec<(String, String)>) -> Self {
        FormData(pairs)
    }

    /// The first value of a field, or "" when absent.
    pub fn get(&self, name: &str) -> &str {
        self.0
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .unwrap_or("")
    }

    /// Every pair, in order (for fields named by id, e.g. `eq-12`).
    pub fn pairs(&self) -> &[(String, String)] {
        &self.0
    }

    /// Every value of a repeated field.
    pub fn all(&self, name: &str) -> Vec<&str> {
        self.0
            .iter()
            .filter(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
            .collect()
    }
}

impl<S: Send + Sync> FromRequest<S> for FormData {
    type Rejection = AppError;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        let bytes = Bytes::from_request(req, state)
            .await
            .map_err(|_| AppError::BadRequest("送信された内容を読み取れませんでした。".into()))?;
        serde_urlencoded::from_bytes(&bytes)
            .map(FormData)
            .map_err(|_| AppError::BadRequest("送信された内容の形式が正しくありません。".into()))
    }
}
