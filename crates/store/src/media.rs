//! Images uploaded for LINE messages (issue 6, M07) and their renditions.
//!
//! One `media` row per upload, found by a long random token (never the row id:
//! the serving route is public because LINE's servers fetch the images without
//! a login). Each rendition (`original`, `preview`, or an imagemap width such as
//! `1040`) is a row of `media_renditions` holding the encoded bytes. The web
//! layer makes the renditions; this module only stores and reads them.

use chrono::{DateTime, Utc};

use crate::audit::micros;
use crate::{Db, Result, StoreError, Tx, on_pool, on_tx};

/// What an upload is for: it decides which renditions exist.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Purpose {
    /// An image message: `original` and `preview`.
    Image,
    /// An imagemap's base image: one rendition per width LINE requests.
    Imagemap,
}

impl Purpose {
    pub fn as_str(self) -> &'static str {
        match self {
            Purpose::Image => "image",
            Purpose::Imagemap => "imagemap",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        match s {
            "image" => Some(Purpose::Image),
            "imagemap" => Some(Purpose::Imagemap),
            _ => None,
        }
    }
}

impl TryFrom<String> for Purpose {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        Purpose::parse(&value).ok_or_else(|| format!("unknown media purpose {value:?}"))
    }
}

/// One encoded rendition to store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewRendition {
    /// `original`, `preview`, `240`, `300`, `460`, `700` or `1040`.
    pub name: String,
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub bytes: Vec<u8>,
}

/// An upload with its renditions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewMedia {
    pub token: String,
    pub purpose: Purpose,
    /// The uploaded file's type (`image/jpeg` or `image/png`).
    pub content_type: &'static str,
    /// The uploaded image's size in pixels.
    pub width: u32,
    pub height: u32,
    /// The uploaded file's size in bytes.
    pub upload_bytes: usize,
    pub file_name: String,
    pub created_by: Option<i64>,
    pub renditions: Vec<NewRendition>,
}

/// A stored upload without its bytes.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Media {
    pub id: i64,
    pub token: String,
    #[sqlx(try_from = "String")]
    pub purpose: Purpose,
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub upload_bytes: i64,
    pub file_name: String,
    pub created_by: Option<i64>,
    pub created_at: DateTime<Utc>,
}

/// A rendition's bytes and how to serve them.
#[derive(Debug, Clone, PartialEq, Eq, sqlx::FromRow)]
pub struct Rendition {
    pub content_type: String,
    pub width: i64,
    pub height: i64,
    pub bytes: Vec<u8>,
}

/// A random token for a new upload: 256 bits, URL-safe (43 characters).
pub fn new_token() -> Result<String> {
    crate::sessions::new_token()
}

/// True for strings shaped like a token (checked before any query).
pub fn is_token(s: &str) -> bool {
    s.len() == 43
        && s.bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'_')
}

fn int(n: u32) -> i64 {
    i64::from(n)
}

/// Stores an upload and its renditions; returns the row id.
pub async fn insert(tx: &mut Tx, media: &NewMedia) -> Result<i64> {
    let upload_bytes = i64::try_from(media.upload_bytes).unwrap_or(i64::MAX);
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO media (token, purpose, content_type, width, height, upload_bytes, \
         file_name, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) RETURNING id"
    )
    .bind(&media.token)
    .bind(media.purpose.as_str())
    .bind(media.content_type)
    .bind(int(media.width))
    .bind(int(media.height))
    .bind(upload_bytes)
    .bind(&media.file_name)
    .bind(media.created_by)
    .bind(micros(Utc::now()))
    .fetch_one(conn)
    .await)?;
    for r in &media.renditions {
        on_tx!(tx, conn => sqlx::query(
            "INSERT INTO media_renditions (media_id, name, content_type, width, height, bytes) \
             VALUES ($1, $2, $3, $4, $5, $6)"
        )
        .bind(id)
        .bind(&r.name)
        .bind(r.content_type)
        .bind(int(r.width))
        .bind(int(r.height))
        .bind(&r.bytes)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    }
    Ok(id)
}

const COLUMNS: &str = "id, token, purpose, content_type, width, height, upload_bytes, file_name, \
                       created_by, created_at";

/// An upload by its token.
pub async fn get(db: &Db, token: &str) -> Result<Option<Media>> {
    if !is_token(token) {
        return Ok(None);
    }
    let sql = format!("SELECT {COLUMNS} FROM media WHERE token = $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(token)
        .fetch_optional(pool)
        .await)?)
}

/// One rendition of an upload, for the public serving route.
pub async fn rendition(db: &Db, token: &str, name: &str) -> Result<Option<Rendition>> {
    if !is_token(token) {
        return Ok(None);
    }
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT r.content_type, r.width, r.height, r.bytes FROM media_renditions r \
         JOIN media m ON m.id = r.media_id WHERE m.token = $1 AND r.name = $2"
    )
    .bind(token)
    .bind(name)
    .fetch_optional(pool)
    .await)?)
}

/// The names of an upload's renditions with their sizes in pixels and bytes.
pub async fn renditions(db: &Db, token: &str) -> Result<Vec<(String, i64, i64, i64)>> {
    if !is_token(token) {
        return Ok(Vec::new());
    }
    Ok(on_pool!(db, pool => sqlx::query_as(
        "SELECT r.name, r.width, r.height, CAST(LENGTH(r.bytes) AS BIGINT) FROM media_renditions r \
         JOIN media m ON m.id = r.media_id WHERE m.token = $1 ORDER BY r.name"
    )
    .bind(token)
    .fetch_all(pool)
    .await)?)
}

/// Uploads, the latest first.
pub async fn list(db: &Db, limit: i64, offset: i64) -> Result<Vec<Media>> {
    let sql =
        format!("SELECT {COLUMNS} FROM media ORDER BY created_at DESC, id DESC LIMIT $1 OFFSET $2");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)?)
}

/// Removes an upload and its renditions; `NotFound` when there is none.
pub async fn delete(tx: &mut Tx, token: &str) -> Result<()> {
    if !is_token(token) {
        return Err(StoreError::NotFound);
    }
    on_tx!(tx, conn => sqlx::query(
        "DELETE FROM media_renditions WHERE media_id IN (SELECT id FROM media WHERE token = $1)"
    )
    .bind(token)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    let n = on_tx!(tx, conn => sqlx::query("DELETE FROM media WHERE token = $1")
        .bind(token)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    Ok(())
}
