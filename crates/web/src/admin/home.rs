//! The staff home page and the staff member's own password change.

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::datetime::format_datetime;
use hiroba_domain::permission::FacilityScope;
use hiroba_domain::staff::NewPassword;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::{facilities, staff};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::{Layout, NavItem};

#[derive(Template)]
#[template(path = "admin/dashboard.html")]
struct Dashboard {
    layout: Layout,
    staff_name: String,
    login_id: String,
    permissions: Vec<&'static str>,
    all_facilities: bool,
    facilities: Vec<String>,
    password_changed: String,
    links: Vec<NavItem>,
}

pub async fn dashboard(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let layout = me.page(&state, "ホーム", notice(q.done.as_deref())).await?;
    let names = match &me.staff.scope {
        FacilityScope::All => Vec::new(),
        FacilityScope::Only(ids) => facilities::list(state.db())
            .await?
            .into_iter()
            .filter(|f| ids.contains(&f.id))
            .map(|f| f.name)
            .collect(),
    };
    let links = layout
        .nav
        .iter()
        .filter(|n| n.href != "/admin")
        .cloned()
        .collect();
    render(&Dashboard {
        layout,
        staff_name: me.staff.name.clone(),
        login_id: me.staff.login_id.clone(),
        permissions: me.staff.permissions.iter().map(|p| p.label()).collect(),
        all_facilities: me.staff.scope.is_all(),
        facilities: names,
        password_changed: format_datetime(me.staff.password_changed_at),
        links,
    })
}

#[derive(Template)]
#[template(path = "admin/account.html")]
struct AccountPage {
    layout: Layout,
    errors: FieldErrors,
}

pub async fn account_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    let layout = me.page(&state, "パスワード変更", None).await?;
    render(&AccountPage {
        layout,
        errors: FieldErrors::new(),
    })
}

pub async fn account_submit(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    let db = state.db();
    let mut errors = FieldErrors::new();
    let stored = staff::find_for_login(db, &me.staff.login_id)
        .await?
        .map(|r| r.password_hash);
    if form.get("current").is_empty() {
        errors.add("current", "現在のパスワードを入力してください。");
    } else if !staff::verify_password(stored, form.get("current")).await {
        errors.add("current", "現在のパスワードが正しくありません。");
    }
    let new = errors.take(
        "new",
        NewPassword::parse(
            form.get("new"),
            &[me.staff.login_id.as_str(), me.staff.name.as_str()],
        ),
    );
    if form.get("confirm") != form.get("new") {
        errors.add("confirm", "確認用のパスワードが一致しません。");
    }
    let (Some(new), true) = (new, errors.is_empty()) else {
        let layout = me.page(&state, "パスワード変更", None).await?;
        return render(&AccountPage { layout, errors });
    };
    let hash = staff::hash_password(&new).await?;
    let mut tx = db.begin().await?;
    staff::set_password(&mut tx, me.staff.id, &hash, Some(&me.session_token)).await?;
    me.commit_logged(
        tx,
        "account.password",
        format!("staff:{}", me.staff.id),
        "自分のパスワードを変更".into(),
    )
    .await?;
    Ok(Redirect::to("/admin?done=password").into_response())
}

/// "LINE" in the navigation leads to the first LINE page this member may use;
/// a member with none of them is refused like any other page.
pub async fn line_entry(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    match crate::view::line_entry(&me.staff) {
        Some(href) => Ok(Redirect::to(href).into_response()),
        None => {
            let entry = me.entry(
                "access.denied",
                "line".into(),
                "LINEの機能の権限がありません (/admin/line)".into(),
            );
            hiroba_store::audit::record(state.db(), &entry).await?;
            Err(AppError::Forbidden)
        }
    }
}
