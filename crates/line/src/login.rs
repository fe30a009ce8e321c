//! LINE Login's ID token verification (`POST {api_base}/oauth2/v2.1/verify`), used to
//! identify a friend on LIFF pages: the page sends the ID token from `liff.getIDToken()`, the
//! server asks LINE whether it is valid for its LINE Login channel and trusts only the `sub`
//! LINE returns (never a user id the page sends).
//!
//! The token is a credential: it is sent in the form body only, never logged, never kept.

use serde::{Deserialize, Deserializer};

use crate::client::{CallMeta, Error};

/// The claims LINE returns for a valid ID token.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
pub struct IdTokenClaims {
    /// `https://access.line.me`.
    pub iss: String,
    /// The user's id (`U...`): who the friend is.
    pub sub: String,
    /// The LINE Login channel id the token was issued to.
    #[serde(deserialize_with = "string_or_number")]
    pub aud: String,
    /// Expiry, UNIX seconds.
    pub exp: i64,
    /// Issued at, UNIX seconds.
    pub iat: i64,
    #[serde(default)]
    pub auth_time: Option<i64>,
    #[serde(default)]
    pub nonce: Option<String>,
    /// Authentication methods (`pwd`, `lineautologin`, `lineqr`, `linesso`, ...).
    #[serde(default)]
    pub amr: Vec<String>,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(default)]
    pub picture: Option<String>,
    #[serde(default)]
    pub email: Option<String>,
}

fn string_or_number<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
    #[derive(Deserialize)]
    #[serde(untagged)]
    enum Either {
        S(String),
        N(i64),
    }
    Ok(match Either::deserialize(d)? {
        Either::S(s) => s,
        Either::N(n) => n.to_string(),
    })
}

/// Why LINE refused an ID token (from its `error_description`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdTokenRefusal {
    /// `IdToken expired.`: the page should get a fresh token (re-open the LIFF app).
    Expired,
    /// `Invalid IdToken Audience.`: issued to another channel (or a wrong `client_id`).
    Audience,
    /// `Invalid IdToken Nonce.`
    Nonce,
    /// `Invalid IdToken Subject Identifier.`
    Subject,
    /// Malformed, bad signature, wrong issuer, or anything else LINE calls invalid.
    Invalid,
}

impl IdTokenRefusal {
    pub(crate) fn from_description(d: &str) -> Self {
        let d = d.to_ascii_lowercase();
        if d.contains("expired") {
            IdTokenRefusal::Expired
        } else if d.contains("audience") {
            IdTokenRefusal::Audience
        } else if d.contains("nonce") {
            IdTokenRefusal::Nonce
        } else if d.contains("subject") {
            IdTokenRefusal::Subject
        } else {
            IdTokenRefusal::Invalid
        }
    }

    /// For the resident: what to do, in Japanese.
    pub fn message_ja(self) -> &'static str {
        match self {
            IdTokenRefusal::Expired => {
                "LINEのログインの有効期限が切れました。LINEのトーク画面からもう一度開いてください。"
            }
            _ => "LINEで本人を確認できませんでした。LINEのトーク画面からもう一度開いてください。",
        }
    }
}

/// A failed verification.
#[derive(Debug, thiserror::Error)]
pub enum IdTokenError {
    /// LINE answered 400: the token is not valid for this channel.
    #[error("LINE refused the ID token ({reason:?}): {description}")]
    Refused {
        reason: IdTokenRefusal,
        /// LINE's `error_description` (never contains the token).
        description: String,
        meta: CallMeta,
    },
    /// No verdict: transport failure, LINE error after retries, unexpected answer.
    #[error(transparent)]
    Unavailable(#[from] Error),
}

impl IdTokenError {
    /// True when the token itself is bad (as opposed to LINE being unreachable).
    pub fn is_refused(&self) -> bool {
        matches!(self, IdTokenError::Refused { .. })
    }
}
