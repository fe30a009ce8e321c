//! Images for LINE messages (issue 6, M07): the upload checks, the renditions
//! LINE fetches, and the public route that serves them.
//!
//! An upload is JPEG or PNG (recognised by its content, at most 10 MB). It is
//! decoded once, turned upright by its EXIF orientation and re-encoded, so no
//! camera metadata (such as GPS positions) ever reaches residents. What is made:
//! - for an image message, `original` (LINE's `originalContentUrl`, at most 10 MB)
//!   and `preview` (its `previewImageUrl`, within 240×240 px);
//! - for an imagemap, one rendition per width LINE requests as `{baseUrl}/{width}`
//!   (240, 300, 460, 700 and 1040 px), the aspect ratio kept.
//!
//! Decoding and resizing run in `spawn_blocking`, two at a time at most.
//!
//! `GET /media/{token}/{rendition}` needs no login (LINE's servers fetch it); the
//! token is a long random id, so nothing can be listed or guessed.

use std::io::Cursor;

use axum::Router;
use axum::extract::{Path, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use hiroba_store::media::{self, Media, NewMedia, NewRendition, Purpose};
use image::codecs::jpeg::JpegEncoder;
use image::codecs::png::{CompressionType, FilterType as PngFilter, PngEncoder};
use image::imageops::FilterType;
use image::{DynamicImage, ImageDecoder, ImageFormat, ImageReader, Limits};
use tokio::sync::Semaphore;

use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;

/// The largest upload, and the largest rendition LINE accepts.
pub const MAX_UPLOAD_BYTES: usize = 10 * 1024 * 1024;
/// LINE's `previewImageUrl`: at most 240×240 px.
pub const PREVIEW_SIZE: u32 = 240;
/// The widths LINE requests of an imagemap's base image.
pub const IMAGEMAP_WIDTHS: [u32; 5] = [240, 300, 460, 700, 1040];
/// Largest width or height decoded (larger images are refused, not resized).
const MAX_DIMENSION: u32 = 12_000;
/// Most memory one decode may take.
const MAX_DECODE_ALLOC: u64 = 512 * 1024 * 1024;

/// Decodes run two at a time so a burst of uploads cannot take every core or
/// several hundred megabytes each.
static PROCESSING: Semaphore = Semaphore::const_new(2);

/// The public route for LINE's servers (and the simulator's chat view).
pub fn router() -> Router<AppState> {
    Router::new().route("/media/{token}/{rendition}", get(serve))
}

/// The absolute base of an upload's URLs: `{public_url}/media/{token}`.
/// An imagemap's `baseUrl` is exactly this; LINE appends `/{width}`.
pub fn base_url(public_url: &str, token: &str) -> String {
    format!("{}/media/{token}", public_url.trim_end_matches('/'))
}

/// The absolute URL of one rendition.
pub fn url(public_url: &str, token: &str, rendition: &str) -> String {
    format!("{}/{rendition}", base_url(public_url, token))
}

/// True when URLs built from `public_url` are https, as real LINE requires.
pub fn is_https(public_url: &str) -> bool {
    public_url.starts_with("https://")
}

async fn serve(
    State(state): State<AppState>,
    Path((token, name)): Path<(String, String)>,
) -> Result<Response, AppError> {
    let r = media::rendition(state.db(), &token, &name)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, r.content_type),
            // A token's renditions never change.
            (
                header::CACHE_CONTROL,
                "public, max-age=31536000, immutable".to_owned(),
            ),
        ],
        r.bytes,
    )
        .into_response())
}

/// Checks an upload before decoding: present, at most 10 MB, JPEG or PNG by content.
pub fn check_upload(bytes: &[u8]) -> Result<&'static str, String> {
    if bytes.is_empty() {
        return Err("画像ファイルを選んでください。".into());
    }
    if bytes.len() > MAX_UPLOAD_BYTES {
        return Err(format!(
            "画像は{}MBまでにしてください（{:.1}MBあります）。",
            MAX_UPLOAD_BYTES / 1024 / 1024,
            bytes.len() as f64 / 1024.0 / 1024.0
        ));
    }
    match hiroba_domain::image::sniff(bytes) {
        Some(kind @ ("image/jpeg" | "image/png")) => Ok(kind),
        _ => Err("画像は JPEG または PNG のファイルにしてください。".into()),
    }
}

/// What processing an upload produced (not yet stored).
#[derive(Debug, Clone)]
pub struct Processed {
    pub content_type: &'static str,
    pub width: u32,
    pub height: u32,
    pub renditions: Vec<NewRendition>,
}

/// Decodes an upload and makes its renditions, off the async threads.
pub async fn process(purpose: Purpose, bytes: Vec<u8>) -> Result<Processed, String> {
    let _turn = PROCESSING
        .acquire()
        .await
        .map_err(|_| "画像を処理できませんでした。".to_owned())?;
    tokio::task::spawn_blocking(move || renditions(purpose, &bytes))
        .await
        .map_err(|_| "画像を処理できませんでした。".to_owned())?
}

/// The synchronous work of [`process`].
pub fn renditions(purpose: Purpose, bytes: &[u8]) -> Result<Processed, String> {
    let content_type = check_upload(bytes)?;
    let format = if content_type == "image/png" {
        ImageFormat::Png
    } else {
        ImageFormat::Jpeg
    };
    let image = decode(bytes, format)?;
    let (width, height) = (image.width(), image.height());
    let mut out = Vec::new();
    match purpose {
        Purpose::Image => {
            out.push(original(&image, format)?);
            let preview = if width <= PREVIEW_SIZE && height <= PREVIEW_SIZE {
                image.clone()
            } else {
                image.resize(PREVIEW_SIZE, PREVIEW_SIZE, FilterType::CatmullRom)
            };
            out.push(encode("preview", &preview, format, 80)?);
        }
        Purpose::Imagemap => {
            for w in IMAGEMAP_WIDTHS {
                let h = scaled_height(width, height, w);
                let resized = image.resize_exact(w, h, FilterType::CatmullRom);
                let r = encode(&w.to_string(), &resized, format, 85)?;
                if r.bytes.len() > MAX_UPLOAD_BYTES {
                    return Err(
                        "イメージマップの画像が大きすぎます。縦の長さを短くするか JPEG にしてください。"
                            .into(),
                    );
                }
                out.push(r);
            }
        }
    }
    Ok(Processed {
        content_type,
        width,
        height,
        renditions: out,
    })
}

/// The height at `width` with the aspect ratio kept (at least 1 px).
pub fn scaled_height(orig_width: u32, orig_height: u32, width: u32) -> u32 {
    let h = (u64::from(orig_height) * u64::from(width) + u64::from(orig_width) / 2)
        / u64::from(orig_width.max(1));
    u32::try_from(h.max(1)).unwrap_or(u32::MAX)
}

fn decode(bytes: &[u8], format: ImageFormat) -> Result<DynamicImage, String> {
    let unreadable =
        || "画像を読み取れませんでした。壊れていないファイルを選んでください。".to_owned();
    let mut reader = ImageReader::with_format(Cursor::new(bytes), format);
    let mut limits = Limits::default();
    limits.max_image_width = Some(MAX_DIMENSION);
    limits.max_image_height = Some(MAX_DIMENSION);
    limits.max_alloc = Some(MAX_DECODE_ALLOC);
    reader.limits(limits);
    let mut decoder = reader
        .into_decoder()
        .map_err(|e| refusal(&e, unreadable()))?;
    let orientation = decoder.orientation().ok();
    let mut image = DynamicImage::from_decoder(decoder).map_err(|e| refusal(&e, unreadable()))?;
    if let Some(o) = orientation {
        image.apply_orientation(o);
    }
    Ok(image)
}

fn refusal(e: &image::ImageError, fallback: String) -> String {
    match e {
        image::ImageError::Limits(_) => format!(
            "画像が大きすぎて処理できません。縦横{MAX_DIMENSION}ピクセル以内にしてください。"
        ),
        _ => fallback,
    }
}

/// The image message's `original`: the upload re-encoded (upright, without
/// metadata). A PNG that grows past 10 MB becomes a JPEG; a JPEG past 10 MB is
/// encoded again at a lower quality.
fn original(image: &DynamicImage, format: ImageFormat) -> Result<NewRendition, String> {
    let first = encode("original", image, format, 90)?;
    if first.bytes.len() <= MAX_UPLOAD_BYTES {
        return Ok(first);
    }
    for quality in [80, 65] {
        let r = encode("original", image, ImageFormat::Jpeg, quality)?;
        if r.bytes.len() <= MAX_UPLOAD_BYTES {
            return Ok(r);
        }
    }
    Err("画像を10MB以内にできませんでした。小さい画像を選んでください。".into())
}

fn encode(
    name: &str,
    image: &DynamicImage,
    format: ImageFormat,
    quality: u8,
) -> Result<NewRendition, String> {
    let failed = |_| "画像を変換できませんでした。".to_owned();
    let mut bytes = Vec::new();
    let content_type = if format == ImageFormat::Png {
        let encoder =
            PngEncoder::new_with_quality(&mut bytes, CompressionType::Default, PngFilter::Adaptive);
        image.write_with_encoder(encoder).map_err(failed)?;
        "image/png"
    } else {
        // JPEG has no alpha: transparent parts become white, not black.
        let rgb = DynamicImage::ImageRgb8(flatten(image));
        rgb.write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, quality))
            .map_err(failed)?;
        "image/jpeg"
    };
    Ok(NewRendition {
        name: name.to_owned(),
        content_type,
        width: image.width(),
        height: image.height(),
        bytes,
    })
}

fn flatten(image: &DynamicImage) -> image::RgbImage {
    if !image.color().has_alpha() {
        return image.to_rgb8();
    }
    let rgba = image.to_rgba8();
    let mut out = image::RgbImage::new(rgba.width(), rgba.height());
    for (src, dst) in rgba.pixels().zip(out.pixels_mut()) {
        let [r, g, b, a] = src.0;
        let blend = |c: u8| {
            let v = (u16::from(c) * u16::from(a) + 255 * (255 - u16::from(a))) / 255;
            u8::try_from(v).unwrap_or(u8::MAX)
        };
        dst.0 = [blend(r), blend(g), blend(b)];
    }
    out
}

/// Checks, processes and stores an upload, recorded in the operation log.
/// `Ok(Err(message))` is a Japanese refusal for the form field.
pub async fn store_upload(
    state: &AppState,
    me: &CurrentStaff,
    purpose: Purpose,
    bytes: Vec<u8>,
    file_name: &str,
) -> Result<Result<Media, String>, AppError> {
    let content_type = match check_upload(&bytes) {
        Ok(kind) => kind,
        Err(e) => return Ok(Err(e)),
    };
    let upload_bytes = bytes.len();
    let processed = match process(purpose, bytes).await {
        Ok(p) => p,
        Err(e) => return Ok(Err(e)),
    };
    let token = media::new_token()?;
    let file_name: String = file_name
        .chars()
        .filter(|c| !c.is_control())
        .take(200)
        .collect();
    let new = NewMedia {
        token: token.clone(),
        purpose,
        content_type,
        width: processed.width,
        height: processed.height,
        upload_bytes,
        file_name: file_name.clone(),
        created_by: Some(me.staff.id),
        renditions: processed.renditions,
    };
    let mut tx = state.db().begin().await?;
    let id = media::insert(&mut tx, &new).await?;
    let what = match purpose {
        Purpose::Image => "画像",
        Purpose::Imagemap => "イメージマップの画像",
    };
    me.commit_logged(
        tx,
        "line.media_upload",
        format!("media:{id}"),
        format!(
            "LINEメッセージ用の{what}「{file_name}」をアップロード（{}×{}、{}KB）",
            processed.width,
            processed.height,
            upload_bytes / 1024
        ),
    )
    .await?;
    media::get(state.db(), &token)
        .await?
        .map(Ok)
        .ok_or(AppError::NotFound)
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

    use super::*;

    fn png(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbaImage::from_fn(width, height, |x, y| {
            image::Rgba([
                (x % 256) as u8,
                (y % 256) as u8,
                128,
                if x < 4 { 0 } else { 255 },
            ])
        });
        let mut bytes = Vec::new();
        DynamicImage::ImageRgba8(img)
            .write_to(&mut Cursor::new(&mut bytes), ImageFormat::Png)
            .unwrap();
        bytes
    }

    fn jpeg(width: u32, height: u32) -> Vec<u8> {
        let img = image::RgbImage::from_fn(width, height, |x, y| {
            image::Rgb([(x % 256) as u8, (y % 256) as u8, 60])
        });
        let mut bytes = Vec::new();
        DynamicImage::ImageRgb8(img)
            .write_with_encoder(JpegEncoder::new_with_quality(&mut bytes, 90))
            .unwrap();
        bytes
    }

    fn sizes(p: &Processed) -> Vec<(&str, u32, u32, &str)> {
        p.renditions
            .iter()
            .map(|r| (r.name.as_str(), r.width, r.height, r.content_type))
            .collect()
    }

    #[test]
    fn image_message_gets_original_and_a_preview_within_240() {
        let p = renditions(Purpose::Image, &png(600, 300)).unwrap();
        assert_eq!((p.width, p.height, p.content_type), (600, 300, "image/png"));
        assert_eq!(
            sizes(&p),
            [
                ("original", 600, 300, "image/png"),
                ("preview", 240, 120, "image/png")
            ]
        );
        let p = renditions(Purpose::Image, &jpeg(200, 900)).unwrap();
        assert_eq!(
            sizes(&p),
            [
                ("original", 200, 900, "image/jpeg"),
                ("preview", 53, 240, "image/jpeg")
            ]
        );
        for r in &p.renditions {
            assert_eq!(hiroba_domain::image::sniff(&r.bytes), Some("image/jpeg"));
        }
        // Small images are not enlarged.
        let p = renditions(Purpose::Image, &png(100, 80)).unwrap();
        assert_eq!(p.renditions[1].width, 100);
    }

    #[test]
    fn imagemap_gets_every_width_line_requests() {
        let p = renditions(Purpose::Imagemap, &jpeg(2080, 1560)).unwrap();
        assert_eq!(
            sizes(&p),
            [
                ("240", 240, 180, "image/jpeg"),
                ("300", 300, 225, "image/jpeg"),
                ("460", 460, 345, "image/jpeg"),
                ("700", 700, 525, "image/jpeg"),
                ("1040", 1040, 780, "image/jpeg"),
            ]
        );
        assert_eq!(scaled_height(1000, 333, 1040), 346);
        assert_eq!(scaled_height(5000, 1, 240), 1);
    }

    #[test]
    fn uploads_are_checked_by_content_and_size() {
        assert!(check_upload(b"").unwrap_err().contains("選んでください"));
        assert!(
            check_upload(b"GIF89a....")
                .unwrap_err()
                .contains("JPEG または PNG")
        );
        assert!(check_upload(b"RIFF\0\0\0\0WEBPVP8 ").is_err());
        let mut big = png(2, 2);
        big.resize(MAX_UPLOAD_BYTES + 1, 0);
        assert!(check_upload(&big).unwrap_err().contains("10MBまで"));
        // A PNG signature with garbage after it.
        let mut broken = png(2, 2);
        broken.truncate(20);
        assert!(
            renditions(Purpose::Image, &broken)
                .unwrap_err()
                .contains("読み取れません")
        );
    }

    #[test]
    fn transparency_becomes_white_in_jpeg() {
        let img = DynamicImage::ImageRgba8(image::RgbaImage::from_pixel(
            2,
            2,
            image::Rgba([0, 0, 0, 0]),
        ));
        assert_eq!(flatten(&img).get_pixel(0, 0).0, [255, 255, 255]);
    }
}
