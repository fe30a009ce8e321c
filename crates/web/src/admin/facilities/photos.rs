//! Facility photos: uploaded by staff, shown to residents with a description
//! for people who cannot see them.

use askama::Template;
use axum::extract::{Multipart, Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::image::check_photo;
use hiroba_domain::validation::{FieldErrors, required_text};
use hiroba_store::catalogue::{self, OwnedTable, PhotoMeta};
use hiroba_store::facilities::Facility;

use super::load;
use crate::AppState;
use crate::admin::{DoneQuery, notice, render};
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

#[derive(Template)]
#[template(path = "admin/photos.html")]
struct PhotosPage {
    layout: Layout,
    f: Facility,
    errors: FieldErrors,
    photos: Vec<PhotoMeta>,
    caption: String,
}

async fn page(
    state: &AppState,
    me: &CurrentStaff,
    f: Facility,
    errors: FieldErrors,
    caption: String,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let photos = catalogue::photos(state.db(), f.id).await?;
    let layout = me
        .page(state, &format!("{} の写真", f.name), notice_text)
        .await?;
    render(&PhotosPage {
        layout,
        f,
        errors,
        photos,
        caption,
    })
}

pub async fn photos_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    page(
        &state,
        &me,
        f,
        FieldErrors::new(),
        String::new(),
        notice(q.done.as_deref()),
    )
    .await
}

pub async fn add_photo(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let unreadable = || AppError::BadRequest("送信された写真を読み取れませんでした。".into());
    let (mut caption, mut bytes) = (String::new(), Vec::new());
    while let Some(field) = multipart.next_field().await.map_err(|_| unreadable())? {
        match field.name() {
            Some("caption") => caption = field.text().await.map_err(|_| unreadable())?,
            Some("file") => bytes = field.bytes().await.map_err(|_| unreadable())?.to_vec(),
            _ => {}
        }
    }
    let mut errors = FieldErrors::new();
    let text = errors.take("caption", required_text(&caption, "写真の説明", 100));
    let kind = errors.take("file", check_photo(&bytes));
    let (Some(text), Some(kind)) = (text, kind) else {
        return page(&state, &me, f, errors, caption, None).await;
    };
    let mut tx = state.db().begin().await?;
    let photo = catalogue::insert_photo(&mut tx, id, kind, &bytes, &text).await?;
    me.commit_logged(
        tx,
        "facility.photo",
        format!("photo:{photo}"),
        format!(
            "{} に写真「{text}」を追加（{}KB）",
            f.name,
            bytes.len() / 1024
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/photos?done=created")).into_response())
}

pub async fn delete_photo(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, row)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    load(&state, &me, id).await?;
    let mut tx = state.db().begin().await?;
    catalogue::delete_owned(&mut tx, OwnedTable::Photos, row, id).await?;
    me.commit_logged(
        tx,
        "facility.photo_delete",
        format!("photo:{row}"),
        "写真を削除".into(),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}/photos?done=deleted")).into_response())
}

/// Public: the photo itself. Its type was checked at upload; nosniff stops reinterpretation.
pub async fn serve_photo(
    State(state): State<AppState>,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let (kind, bytes) = catalogue::photo(state.db(), id)
        .await?
        .ok_or(AppError::NotFound)?;
    Ok((
        [
            (header::CONTENT_TYPE, kind),
            (header::CACHE_CONTROL, "public, max-age=3600".to_owned()),
        ],
        bytes,
    )
        .into_response())
}
