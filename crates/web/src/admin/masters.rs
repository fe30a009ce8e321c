//! Lists shared by every facility (マスタ): user categories (利用者区分, A14,
//! A28) and fee reductions (減免). They affect all facilities, so changing them
//! needs the facilities permission and a scope of every facility.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::validation::{FieldErrors, required_text};
use hiroba_store::catalogue::{self, ReductionRow, UserCategory};
use hiroba_store::{StoreError, audit};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

/// Shared lists change every facility: only staff managing all of them may edit.
pub(crate) async fn require_all_scope(state: &AppState, me: &CurrentStaff) -> Result<(), AppError> {
    if me.staff.scope.is_all() {
        return Ok(());
    }
    let entry = me.entry(
        "access.denied",
        me.path.clone(),
        "全施設を担当していないため共通設定を変更できません".into(),
    );
    audit::record(state.db(), &entry).await?;
    Err(AppError::Forbidden)
}

#[derive(Template)]
#[template(path = "admin/categories.html")]
struct CategoriesPage {
    layout: Layout,
    errors: FieldErrors,
    categories: Vec<UserCategory>,
    reductions: Vec<ReductionRow>,
    may_edit: bool,
    input: FormData,
}

async fn page(
    state: &AppState,
    me: &CurrentStaff,
    errors: FieldErrors,
    input: FormData,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let layout = me.page(state, "利用者区分・減免", notice_text).await?;
    render(&CategoriesPage {
        layout,
        errors,
        categories: catalogue::categories(state.db()).await?,
        reductions: catalogue::reductions(state.db()).await?,
        may_edit: me.staff.scope.is_all(),
        input,
    })
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    page(
        &state,
        &me,
        FieldErrors::new(),
        FormData::default(),
        notice(q.done.as_deref()),
    )
    .await
}

pub async fn add_category(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let mut errors = FieldErrors::new();
    let Some(name) = errors.take(
        "category_name",
        required_text(form.get("category_name"), "利用者区分の名前", 30),
    ) else {
        return page(&state, &me, errors, form, None).await;
    };
    let needs_proof = form.get("needs_proof") == "yes";
    let order = catalogue::categories(state.db())
        .await?
        .iter()
        .map(|c| c.sort_order)
        .max()
        .unwrap_or(0)
        + 10;
    let mut tx = state.db().begin().await?;
    match catalogue::insert_category(&mut tx, &name, needs_proof, order).await {
        Ok(id) => {
            me.commit_logged(
                tx,
                "category.create",
                format!("category:{id}"),
                format!(
                    "利用者区分「{name}」を追加{}",
                    if needs_proof { "（要確認）" } else { "" }
                ),
            )
            .await?;
            Ok(Redirect::to("/admin/categories?done=created").into_response())
        }
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add("category_name", "同じ名前の利用者区分がすでにあります。");
            page(&state, &me, errors, form, None).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn update_category(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let before = catalogue::categories(state.db())
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(AppError::NotFound)?;
    let mut errors = FieldErrors::new();
    let key = format!("category_{id}");
    let Some(name) = errors.take(
        &key,
        required_text(form.get("name"), "利用者区分の名前", 30),
    ) else {
        return page(&state, &me, errors, form, None).await;
    };
    let needs_proof = form.get("needs_proof") == "yes";
    let mut tx = state.db().begin().await?;
    match catalogue::update_category(&mut tx, id, &name, needs_proof).await {
        Ok(()) => {
            me.commit_logged(
                tx,
                "category.update",
                format!("category:{id}"),
                format!("利用者区分: {} → {name}", before.name),
            )
            .await?;
            Ok(Redirect::to("/admin/categories?done=saved").into_response())
        }
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add(&key, "同じ名前の利用者区分がすでにあります。");
            page(&state, &me, errors, form, None).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_category(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let before = catalogue::categories(state.db())
        .await?
        .into_iter()
        .find(|c| c.id == id)
        .ok_or(AppError::NotFound)?;
    let mut tx = state.db().begin().await?;
    catalogue::delete_category(&mut tx, id).await?;
    me.commit_logged(
        tx,
        "category.delete",
        format!("category:{id}"),
        format!("利用者区分「{}」を削除", before.name),
    )
    .await?;
    Ok(Redirect::to("/admin/categories?done=deleted").into_response())
}

pub async fn add_reduction(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let mut errors = FieldErrors::new();
    let name = errors.take(
        "reduction_name",
        required_text(form.get("reduction_name"), "減免の理由", 60),
    );
    let percent = errors.take(
        "reduction_percent",
        form.get("reduction_percent")
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|p| (0..=100).contains(p))
            .ok_or_else(|| "減免率は0〜100の数で入力してください（100は全額免除）。".to_owned()),
    );
    let (Some(name), Some(percent)) = (name, percent) else {
        return page(&state, &me, errors, form, None).await;
    };
    let include_equipment = form.get("include_equipment") == "yes";
    let mut tx = state.db().begin().await?;
    match catalogue::insert_reduction(&mut tx, &name, percent, include_equipment).await {
        Ok(id) => {
            me.commit_logged(
                tx,
                "reduction.create",
                format!("reduction:{id}"),
                format!("減免「{name}」{percent}%"),
            )
            .await?;
            Ok(Redirect::to("/admin/categories?done=created#reductions").into_response())
        }
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add("reduction_name", "同じ理由の減免がすでにあります。");
            page(&state, &me, errors, form, None).await
        }
        Err(e) => Err(e.into()),
    }
}

pub async fn delete_reduction(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let mut tx = state.db().begin().await?;
    catalogue::delete_reduction(&mut tx, id).await?;
    me.commit_logged(
        tx,
        "reduction.delete",
        format!("reduction:{id}"),
        "減免を削除".into(),
    )
    .await?;
    Ok(Redirect::to("/admin/categories?done=deleted#reductions").into_response())
}
