//! LINE platform layer for Hiroba (issue 5; M03, M04, M12, M20, M22, M23, S04).
//!
//! - [`signature`]: `x-line-signature` check and signing (HMAC-SHA256, base64).
//! - [`webhook`]: the webhook request body and every event type of LINE's `webhook.yml`;
//!   unknown event types parse as [`webhook::EventKind::Other`], each event keeps its raw JSON.
//! - [`message`]: typed message builders that serialize to LINE's JSON, with LINE's limits
//!   checked before sending (Japanese + English errors).
//! - [`flex`]: Flex Message containers checked against LINE's rules in Rust (paths in every
//!   error), so the product needs no OpenAPI file at run time.
//! - [`preview`]: a phone-like HTML preview of messages (text, emoji, images, imagemaps,
//!   templates, flex), CSP-safe classes and [`preview::PREVIEW_CSS`]; shared by the simulator's
//!   chat view and the staff composer.
//! - [`login`]: LINE Login's ID token verification for LIFF pages ([`Client::verify_id_token`]).
//! - [`client`]: the Messaging API client (retry keys, backoff, 409 = accepted, request ids,
//!   client-side rate limits per endpoint group).
//! - `schema` (feature `schema`): a small OpenAPI 3.0 validator over the official YAML files,
//!   used by the contract tests and by the LINE simulator.

pub mod client;
pub mod flex;
pub mod login;
pub mod message;
pub mod preview;
pub mod ratelimit;
pub mod request;
#[cfg(feature = "schema")]
pub mod schema;
pub mod signature;
pub mod webhook;

pub use client::{ApiResponse, CallMeta, Client, ClientConfig, Error, LineErrorBody};
pub use login::{IdTokenClaims, IdTokenError, IdTokenRefusal};
pub use message::{Message, ValidationError};
pub use webhook::{CallbackRequest, Event, EventKind};
