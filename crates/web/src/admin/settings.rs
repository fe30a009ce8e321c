//! System settings: the town's name and contact, and how long the operation
//! log is kept (never below 24 months, A29).

use askama::Template;
use axum::extract::{Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::retention::{AUDIT_MIN_MONTHS, AuditRetention};
use hiroba_domain::validation::{FieldErrors, required_text};
use hiroba_store::settings::{self, SystemSettings};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

pub struct SettingsForm {
    town_name: String,
    town_contact: String,
    audit_months: String,
}

#[derive(Template)]
#[template(path = "admin/settings.html")]
struct Page {
    layout: Layout,
    errors: FieldErrors,
    form: SettingsForm,
    retention_hint: String,
}

pub async fn form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let current = settings::load(state.db()).await?;
    let mut layout = me.layout(&state, "システム設定", current.town_name.clone());
    layout.notice = notice(q.done.as_deref());
    render(&Page {
        layout,
        errors: FieldErrors::new(),
        form: SettingsForm {
            audit_months: current.audit_retention.get().to_string(),
            town_name: current.town_name,
            town_contact: current.town_contact,
        },
        retention_hint: format!(
            "{AUDIT_MIN_MONTHS}か月以上（仕様 A29 により最低{AUDIT_MIN_MONTHS}か月）。期間を過ぎた記録は毎日自動で削除されます。"
        ),
    })
}

pub async fn save(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    let before = settings::load(state.db()).await?;
    let mut errors = FieldErrors::new();
    let town_name = errors.take(
        "town_name",
        required_text(form.get("town_name"), "自治体名", 50),
    );
    let town_contact = errors.take(
        "town_contact",
        required_text(form.get("town_contact"), "問い合わせ先", 200),
    );
    let months = errors.take(
        "audit_months",
        form.get("audit_months")
            .trim()
            .parse::<u32>()
            .map_err(|_| "操作ログの保存期間は月数を半角数字で入力してください。".to_owned())
            .and_then(AuditRetention::months),
    );
    if let (Some(town_name), Some(town_contact), Some(audit_retention)) =
        (town_name, town_contact, months)
    {
        let after = SystemSettings {
            town_name,
            town_contact,
            audit_retention,
        };
        let summary = format!(
            "自治体名: {} → {}; 問い合わせ先: {} → {}; 操作ログ保存: {}か月 → {}か月",
            before.town_name,
            after.town_name,
            before.town_contact,
            after.town_contact,
            before.audit_retention.get(),
            after.audit_retention.get()
        );
        let mut tx = state.db().begin().await?;
        settings::save(&mut tx, &after).await?;
        me.commit_logged(tx, "settings.update", "settings:system".into(), summary)
            .await?;
        return Ok(Redirect::to("/admin/settings?done=saved").into_response());
    }
    let layout = me.layout(&state, "システム設定", before.town_name);
    render(&Page {
        layout,
        errors,
        form: SettingsForm {
            town_name: form.get("town_name").to_owned(),
            town_contact: form.get("town_contact").to_owned(),
            audit_months: form.get("audit_months").to_owned(),
        },
        retention_hint: format!(
            "{AUDIT_MIN_MONTHS}か月以上（仕様 A29 により最低{AUDIT_MIN_MONTHS}か月）。期間を過ぎた記録は毎日自動で削除されます。"
        ),
    })
}
