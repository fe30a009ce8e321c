//! Staff account management (A02, M21): any number of accounts, each with
//! per-function permissions and a scope of managed facilities.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::datetime::format_datetime;
use hiroba_domain::permission::{FacilityScope, Permission, PermissionSet};
use hiroba_domain::staff::{LoginId, NewPassword, StaffName};
use hiroba_domain::validation::FieldErrors;
use hiroba_store::StoreError;
use hiroba_store::facilities::{self, Facility};
use hiroba_store::staff::{self, Staff, StaffChange};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

pub struct Row {
    id: i64,
    login_id: String,
    name: String,
    disabled: bool,
    permissions: String,
    scope: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "admin/staff_list.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<Row>,
}

pub struct Choice {
    value: String,
    label: String,
    checked: bool,
}

/// What the create/edit form shows, including values the user typed.
pub struct StaffForm {
    login_id: String,
    name: String,
    permissions: Vec<Choice>,
    all_facilities: bool,
    facilities: Vec<Choice>,
}

#[derive(Template)]
#[template(path = "admin/staff_form.html")]
struct FormPage {
    layout: Layout,
    errors: FieldErrors,
    form: StaffForm,
    /// `None` when creating.
    editing: Option<EditInfo>,
}

pub struct EditInfo {
    id: i64,
    disabled: bool,
    is_self: bool,
    created: String,
    password_changed: String,
}

fn scope_text(scope: &FacilityScope, all: &[Facility]) -> String {
    match scope {
        FacilityScope::All => "すべての施設".into(),
        FacilityScope::Only(ids) if ids.is_empty() => "なし".into(),
        FacilityScope::Only(ids) => all
            .iter()
            .filter(|f| ids.contains(&f.id))
            .map(|f| f.name.as_str())
            .collect::<Vec<_>>()
            .join("、"),
    }
}

fn permission_text(set: &PermissionSet) -> String {
    if set.is_empty() {
        return "なし".into();
    }
    set.iter()
        .map(Permission::label)
        .collect::<Vec<_>>()
        .join("、")
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let all = facilities::list(state.db()).await?;
    let rows = staff::list(state.db())
        .await?
        .into_iter()
        .map(|s| Row {
            id: s.id,
            permissions: permission_text(&s.permissions),
            scope: scope_text(&s.scope, &all),
            updated: format_datetime(s.updated_at),
            login_id: s.login_id,
            name: s.name,
            disabled: s.disabled,
        })
        .collect();
    let layout = me
        .page(&state, "職員アカウント", notice(q.done.as_deref()))
        .await?;
    render(&ListPage { layout, rows })
}

/// The facilities a staff admin may hand out: their own scope.
fn grantable(me: &CurrentStaff, all: Vec<Facility>) -> Vec<Facility> {
    all.into_iter()
        .filter(|f| me.staff.scope.allows(f.id))
        .collect()
}

fn form_from_staff(s: Option<&Staff>, facilities: &[Facility]) -> StaffForm {
    let permissions = Permission::ALL
        .into_iter()
        .map(|p| Choice {
            value: p.code().into(),
            label: p.label().into(),
            checked: s.is_some_and(|s| s.may(p)),
        })
        .collect();
    StaffForm {
        login_id: s.map(|s| s.login_id.clone()).unwrap_or_default(),
        name: s.map(|s| s.name.clone()).unwrap_or_default(),
        permissions,
        all_facilities: s.is_some_and(|s| s.scope.is_all()),
        facilities: facilities
            .iter()
            .map(|f| Choice {
                value: f.id.to_string(),
                label: f.name.clone(),
                checked: s.is_some_and(
                    |s| matches!(&s.scope, FacilityScope::Only(ids) if ids.contains(&f.id)),
                ),
            })
            .collect(),
    }
}

fn form_from_input(form: &FormData, facilities: &[Facility]) -> StaffForm {
    let perms = form.all("permission");
    let chosen = form.all("facility");
    StaffForm {
        login_id: form.get("login_id").to_owned(),
        name: form.get("name").to_owned(),
        permissions: Permission::ALL
            .into_iter()
            .map(|p| Choice {
                value: p.code().into(),
                label: p.label().into(),
                checked: perms.contains(&p.code()),
            })
            .collect(),
        all_facilities: form.get("scope") == "all",
        facilities: facilities
            .iter()
            .map(|f| Choice {
                value: f.id.to_string(),
                label: f.name.clone(),
                checked: chosen.contains(&f.id.to_string().as_str()),
            })
            .collect(),
    }
}

/// Parses permissions and scope; refuses grants beyond the editor's own scope.
fn parse_grants(
    me: &CurrentStaff,
    form: &FormData,
    grantable: &[Facility],
    errors: &mut FieldErrors,
) -> (PermissionSet, FacilityScope) {
    let mut permissions = BTreeSet::new();
    for code in form.all("permission") {
        match code.parse::<Permission>() {
            Ok(p) => {
                permissions.insert(p);
            }
            Err(_) => errors.add(
                "permission",
                "選べない権限が指定されました。画面を開き直してください。",
            ),
        }
    }
    let scope = match form.get("scope") {
        "all" => {
            if !me.staff.scope.is_all() {
                errors.add(
                    "scope",
                    "「すべての施設」は、すべての施設を担当する職員だけが設定できます。",
                );
            }
            FacilityScope::All
        }
        "some" => {
            let mut ids = BTreeSet::new();
            for raw in form.all("facility") {
                match raw.parse::<i64>() {
                    Ok(id) if grantable.iter().any(|f| f.id == id) => {
                        ids.insert(id);
                    }
                    _ => errors.add("scope", "担当にできない施設が含まれています。"),
                }
            }
            FacilityScope::Only(ids)
        }
        _ => {
            errors.add("scope", "担当施設の範囲を選んでください。");
            FacilityScope::Only(BTreeSet::new())
        }
    };
    (permissions.into_iter().collect(), scope)
}

pub async fn new_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    let facilities = grantable(&me, facilities::list(state.db()).await?);
    let layout = me.page(&state, "職員アカウントの作成", None).await?;
    render(&FormPage {
        layout,
        errors: FieldErrors::new(),
        form: form_from_staff(None, &facilities),
        editing: None,
    })
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    let all = facilities::list(state.db()).await?;
    let facilities = grantable(&me, all.clone());
    let mut errors = FieldErrors::new();
    let login = errors.take("login_id", LoginId::parse(form.get("login_id")));
    let name = errors.take("name", StaffName::parse(form.get("name")));
    let password = errors.take(
        "password",
        NewPassword::parse(
            form.get("password"),
            &[form.get("login_id"), form.get("name")],
        ),
    );
    let (permissions, scope) = parse_grants(&me, &form, &facilities, &mut errors);

    if let (Some(login), Some(name), Some(password), true) =
        (login, name, password, errors.is_empty())
    {
        let change = StaffChange {
            name,
            permissions,
            scope,
        };
        let hash = staff::hash_password(&password).await?;
        let mut tx = state.db().begin().await?;
        match staff::create(&mut tx, &login, &change, &hash).await {
            Ok(id) => {
                let summary = format!(
                    "作成: ID={} 氏名={} 権限={} 担当={}",
                    login,
                    change.name.as_str(),
                    permission_text(&change.permissions),
                    scope_text(&change.scope, &all)
                );
                me.commit_logged(tx, "staff.create", format!("staff:{id}"), summary)
                    .await?;
                return Ok(Redirect::to("/admin/staff?done=created").into_response());
            }
            Err(StoreError::Duplicate(_)) => {
                errors.add(
                    "login_id",
                    "このログインIDはすでに使われています。別のIDにしてください。",
                );
            }
            Err(e) => return Err(e.into()),
        }
    }
    let layout = me.page(&state, "職員アカウントの作成", None).await?;
    render(&FormPage {
        layout,
        errors,
        form: form_from_input(&form, &facilities),
        editing: None,
    })
}

fn edit_info(s: &Staff, me: &CurrentStaff) -> EditInfo {
    EditInfo {
        id: s.id,
        disabled: s.disabled,
        is_self: s.id == me.staff.id,
        created: format_datetime(s.created_at),
        password_changed: format_datetime(s.password_changed_at),
    }
}

async fn load(state: &AppState, id: i64) -> Result<Staff, AppError> {
    staff::get(state.db(), id).await?.ok_or(AppError::NotFound)
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let target = load(&state, id).await?;
    let facilities = grantable(&me, facilities::list(state.db()).await?);
    let layout = me
        .page(&state, "職員アカウントの編集", notice(q.done.as_deref()))
        .await?;
    render(&FormPage {
        layout,
        errors: FieldErrors::new(),
        form: form_from_staff(Some(&target), &facilities),
        editing: Some(edit_info(&target, &me)),
    })
}

fn diff_summary(before: &Staff, after: &StaffChange, all: &[Facility]) -> String {
    let mut parts = Vec::new();
    if before.name != after.name.as_str() {
        parts.push(format!("氏名: {} → {}", before.name, after.name.as_str()));
    }
    let added: Vec<_> = after
        .permissions
        .iter()
        .filter(|p| !before.may(*p))
        .map(|p| p.label())
        .collect();
    let removed: Vec<_> = before
        .permissions
        .iter()
        .filter(|p| !after.permissions.contains(*p))
        .map(|p| p.label())
        .collect();
    if !added.is_empty() {
        parts.push(format!("権限追加: {}", added.join("、")));
    }
    if !removed.is_empty() {
        parts.push(format!("権限削除: {}", removed.join("、")));
    }
    if before.scope != after.scope {
        parts.push(format!(
            "担当: {} → {}",
            scope_text(&before.scope, all),
            scope_text(&after.scope, all)
        ));
    }
    if parts.is_empty() {
        "変更なし".into()
    } else {
        parts.join("; ")
    }
}

pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let target = load(&state, id).await?;
    let all = facilities::list(state.db()).await?;
    let facilities = grantable(&me, all.clone());
    let mut errors = FieldErrors::new();
    let name = errors.take("name", StaffName::parse(form.get("name")));
    let (permissions, scope) = parse_grants(&me, &form, &facilities, &mut errors);
    if target.id == me.staff.id && !permissions.contains(Permission::StaffAdmin) {
        errors.add(
            "permission",
            "自分自身の「職員アカウントの管理」権限は外せません。",
        );
    }
    if let (Some(name), true) = (name, errors.is_empty()) {
        let change = StaffChange {
            name,
            permissions,
            scope,
        };
        let summary = diff_summary(&target, &change, &all);
        let mut tx = state.db().begin().await?;
        staff::update(&mut tx, id, &change).await?;
        me.commit_logged(tx, "staff.update", format!("staff:{id}"), summary)
            .await?;
        return Ok(Redirect::to(&format!("/admin/staff/{id}?done=saved")).into_response());
    }
    let layout = me.page(&state, "職員アカウントの編集", None).await?;
    let mut view = form_from_input(&form, &facilities);
    view.login_id = target.login_id.clone();
    render(&FormPage {
        layout,
        errors,
        form: view,
        editing: Some(edit_info(&target, &me)),
    })
}

pub async fn reset_password(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let target = load(&state, id).await?;
    let mut errors = FieldErrors::new();
    let password = errors.take(
        "password",
        NewPassword::parse(
            form.get("password"),
            &[target.login_id.as_str(), target.name.as_str()],
        ),
    );
    let Some(password) = password else {
        let facilities = grantable(&me, facilities::list(state.db()).await?);
        let layout = me.page(&state, "職員アカウントの編集", None).await?;
        return render(&FormPage {
            layout,
            errors,
            form: form_from_staff(Some(&target), &facilities),
            editing: Some(edit_info(&target, &me)),
        });
    };
    let hash = staff::hash_password(&password).await?;
    let mut tx = state.db().begin().await?;
    // A reset ends every session of the account, including the editor's own
    // when they reset themselves from here.
    staff::set_password(&mut tx, id, &hash, None).await?;
    me.commit_logged(
        tx,
        "staff.password_reset",
        format!("staff:{id}"),
        "パスワードを再設定".into(),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/staff/{id}?done=password")).into_response())
}

/// Keeps at least one enabled staff administrator, and nobody locks themself out.
async fn guard_last_admin(
    state: &AppState,
    me: &CurrentStaff,
    target: &Staff,
) -> Result<Option<&'static str>, AppError> {
    if target.id == me.staff.id {
        return Ok(Some("自分自身のアカウントは無効化・削除できません。"));
    }
    if target.may(Permission::StaffAdmin)
        && staff::count_active_admins(state.db(), target.id).await? == 0
    {
        return Ok(Some(
            "職員アカウントを管理できる有効なアカウントが他にないため、実行できません。",
        ));
    }
    Ok(None)
}

async fn refuse(
    state: &AppState,
    me: &CurrentStaff,
    target: &Staff,
    message: &str,
) -> Result<Response, AppError> {
    let facilities = grantable(me, facilities::list(state.db()).await?);
    let mut errors = FieldErrors::new();
    errors.add("account", message);
    let layout = me.page(state, "職員アカウントの編集", None).await?;
    render(&FormPage {
        layout,
        errors,
        form: form_from_staff(Some(target), &facilities),
        editing: Some(edit_info(target, me)),
    })
}

pub async fn disable(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let target = load(&state, id).await?;
    if let Some(message) = guard_last_admin(&state, &me, &target).await? {
        return refuse(&state, &me, &target, message).await;
    }
    let mut tx = state.db().begin().await?;
    staff::set_disabled(&mut tx, id, true).await?;
    me.commit_logged(
        tx,
        "staff.disable",
        format!("staff:{id}"),
        format!("{} を無効化", target.login_id),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/staff/{id}?done=disabled")).into_response())
}

pub async fn enable(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let target = load(&state, id).await?;
    let mut tx = state.db().begin().await?;
    staff::set_disabled(&mut tx, id, false).await?;
    me.commit_logged(
        tx,
        "staff.enable",
        format!("staff:{id}"),
        format!("{} を有効化", target.login_id),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/staff/{id}?done=enabled")).into_response())
}

pub async fn delete(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let target = load(&state, id).await?;
    if let Some(message) = guard_last_admin(&state, &me, &target).await? {
        return refuse(&state, &me, &target, message).await;
    }
    let mut tx = state.db().begin().await?;
    staff::delete(&mut tx, id).await?;
    me.commit_logged(
        tx,
        "staff.delete",
        format!("staff:{id}"),
        format!("{}（{}）を削除", target.login_id, target.name),
    )
    .await?;
    Ok(Redirect::to("/admin/staff?done=deleted").into_response())
}
