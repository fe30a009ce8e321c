//! Staff administration of residents (利用者の管理, A19): search, registration
//! at the counter, edits, confirmation of the user category, suspension, and
//! irreversible erasure of a registration (A30). Operation-log entries name
//! the resident by id only, so the log never keeps what erasure removes.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::datetime::{format_date, format_datetime};
use hiroba_domain::resident::{Profile, ProfileInput, parse_email};
use hiroba_domain::time_of_day::format_minutes;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::StoreError;
use hiroba_store::catalogue::{self, UserCategory};
use hiroba_store::residents::{self, Resident, ResidentQuery};
use serde::Deserialize;

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

const PAGE_SIZE: i64 = 50;

/// Japanese names of a registration's states.
pub fn status_label(status: &str) -> &'static str {
    match status {
        "pending" => "メール確認待ち",
        "active" => "利用中",
        "suspended" => "利用停止",
        "erased" => "削除済み",
        _ => "不明",
    }
}

const STATUSES: [&str; 4] = ["active", "pending", "suspended", "erased"];

fn notice(code: Option<&str>) -> Option<String> {
    let text = match code? {
        "verified" => "利用者区分を確認済みにしました。",
        "unverified" => "利用者区分を未確認に戻しました。",
        "suspended" => "利用を停止しました。ログイン中の画面も終了しました。",
        "reactivated" => "利用を再開しました。",
        "erased" => "利用者登録を削除しました。個人情報は復元できません。",
        other => return super::notice(Some(other)),
    };
    Some(text.to_owned())
}

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    q: String,
    #[serde(default)]
    status: String,
    #[serde(default)]
    category: String,
    #[serde(default)]
    unverified: String,
    #[serde(default)]
    page: String,
    #[serde(default)]
    done: Option<String>,
}

pub struct Row {
    id: i64,
    name: String,
    kana: String,
    category: String,
    verified: bool,
    status: &'static str,
    erased: bool,
    registered: String,
}

#[derive(Template)]
#[template(path = "admin/resident_list.html")]
struct ListPage {
    layout: Layout,
    q: ListQuery,
    statuses: Vec<(&'static str, &'static str)>,
    categories: Vec<UserCategory>,
    rows: Vec<Row>,
    total: i64,
    page: i64,
    pages: i64,
    query_string: String,
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let db = state.db();
    let page = q.page.trim().parse::<i64>().unwrap_or(1).max(1);
    let status = Some(q.status.trim().to_owned()).filter(|s| STATUSES.contains(&s.as_str()));
    let query = ResidentQuery {
        text: Some(q.q.trim().to_owned()).filter(|s| !s.is_empty()),
        status,
        category_id: q.category.trim().parse().ok(),
        unverified_only: q.unverified == "yes",
        include_erased: false,
        limit: PAGE_SIZE,
        offset: (page - 1) * PAGE_SIZE,
    };
    let total = residents::count(db, &query).await?;
    let rows = residents::search(db, &query)
        .await?
        .into_iter()
        .map(|r| Row {
            id: r.id,
            erased: r.status == "erased",
            status: status_label(&r.status),
            name: r.name,
            kana: r.kana,
            category: r.category_name,
            verified: r.category_verified,
            registered: format_date(
                r.created_at
                    .with_timezone(&hiroba_domain::datetime::JST)
                    .date_naive(),
            ),
        })
        .collect();
    let query_string = serde_urlencoded::to_string([
        ("q", q.q.as_str()),
        ("status", q.status.as_str()),
        ("category", q.category.as_str()),
        ("unverified", q.unverified.as_str()),
    ])
    .unwrap_or_default();
    let layout = me
        .page(&state, "利用者の管理", notice(q.done.as_deref()))
        .await?;
    render(&ListPage {
        layout,
        statuses: STATUSES.iter().map(|s| (*s, status_label(s))).collect(),
        categories: catalogue::categories(db).await?,
        rows,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        query_string,
        q,
    })
}

/// What the registration form shows, including what staff typed.
#[derive(Default)]
pub struct ResidentForm {
    email: String,
    name: String,
    kana: String,
    postal_code: String,
    address: String,
    phone: String,
    group_name: String,
    category: String,
    verified: bool,
}

impl ResidentForm {
    fn typed(form: &FormData) -> Self {
        Self {
            email: form.get("email").into(),
            name: form.get("name").into(),
            kana: form.get("kana").into(),
            postal_code: form.get("postal_code").into(),
            address: form.get("address").into(),
            phone: form.get("phone").into(),
            group_name: form.get("group_name").into(),
            category: form.get("category").into(),
            verified: form.get("verified") == "yes",
        }
    }

    fn of(r: &Resident) -> Self {
        Self {
            email: r.email.clone().unwrap_or_default(),
            name: r.name.clone(),
            kana: r.kana.clone(),
            postal_code: r.postal_code.clone(),
            address: r.address.clone(),
            phone: r.phone.clone(),
            group_name: r.group_name.clone(),
            category: r.category_id.to_string(),
            verified: r.category_verified,
        }
    }
}

/// A parsed form: the profile, the e-mail address (optional at the
/// counter) and the category.
struct Parsed {
    profile: Profile,
    email: Option<String>,
    category: UserCategory,
}

/// Validates as the resident's own registration does (`Profile::parse`),
/// except that the e-mail address may be left empty.
fn parse(form: &FormData, categories: &[UserCategory], errors: &mut FieldErrors) -> Option<Parsed> {
    let raw_email = form.get("email").trim();
    let email = if raw_email.is_empty() {
        None
    } else {
        errors.take("email", parse_email(raw_email))
    };
    let profile = Profile::parse(
        &ProfileInput {
            // Checked above; the profile's own address is not used.
            email: "counter@example.invalid",
            name: form.get("name"),
            kana: form.get("kana"),
            postal_code: form.get("postal_code"),
            address: form.get("address"),
            phone: form.get("phone"),
            group_name: form.get("group_name"),
        },
        errors,
    );
    let category = errors.take(
        "category",
        form.get("category")
            .parse::<i64>()
            .ok()
            .and_then(|id| categories.iter().find(|c| c.id == id).cloned())
            .ok_or_else(|| "利用者区分を選んでください。".to_owned()),
    );
    if !errors.is_empty() {
        return None;
    }
    Some(Parsed {
        profile: profile?,
        email,
        category: category?,
    })
}

#[derive(Template)]
#[template(path = "admin/resident_new.html")]
struct NewPage {
    layout: Layout,
    errors: FieldErrors,
    form: ResidentForm,
    categories: Vec<UserCategory>,
}

pub async fn new_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    render(&NewPage {
        layout: me.page(&state, "窓口での利用者登録", None).await?,
        errors: FieldErrors::new(),
        form: ResidentForm::default(),
        categories: catalogue::categories(state.db()).await?,
    })
}

/// The counter form again, with the messages at the fields and what was typed.
async fn new_again(
    state: &AppState,
    me: &CurrentStaff,
    errors: FieldErrors,
    form: &FormData,
    categories: Vec<UserCategory>,
) -> Result<Response, AppError> {
    render(&NewPage {
        layout: me.page(state, "窓口での利用者登録", None).await?,
        errors,
        form: ResidentForm::typed(form),
        categories,
    })
}

const EMAIL_TAKEN: &str = "このメールアドレスは、ほかの利用者の登録に使われています。";

pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    let categories = catalogue::categories(state.db()).await?;
    let mut errors = FieldErrors::new();
    let Some(p) = parse(&form, &categories, &mut errors) else {
        return new_again(&state, &me, errors, &form, categories).await;
    };
    // A category needing proof is confirmed only when staff saw the proof.
    let verified = !p.category.needs_proof || form.get("verified") == "yes";
    let mut tx = state.db().begin().await?;
    match residents::create_by_staff(
        &mut tx,
        &p.profile,
        p.email.as_deref(),
        p.category.id,
        verified,
    )
    .await
    {
        Ok(id) => {
            me.commit_logged(
                tx,
                "resident.create",
                format!("resident:{id}"),
                format!(
                    "窓口で利用者を登録（利用者区分 {}、{}）",
                    p.category.id,
                    if verified {
                        "確認済み"
                    } else {
                        "未確認"
                    }
                ),
            )
            .await?;
            Ok(Redirect::to(&format!("/admin/residents/{id}?done=created")).into_response())
        }
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add("email", EMAIL_TAKEN);
            new_again(&state, &me, errors, &form, categories).await
        }
        Err(e) => Err(e.into()),
    }
}

pub struct ReservationRow {
    reference: String,
    date: String,
    place: String,
    time: String,
    cancelled: bool,
}

#[derive(Template)]
#[template(path = "admin/resident_detail.html")]
struct DetailPage {
    layout: Layout,
    errors: FieldErrors,
    form: ResidentForm,
    categories: Vec<UserCategory>,
    id: i64,
    status: String,
    status_text: &'static str,
    category_name: String,
    needs_proof: bool,
    verified: bool,
    registered: String,
    email_verified: String,
    reservations: Vec<ReservationRow>,
}

async fn detail_page(
    state: &AppState,
    me: &CurrentStaff,
    r: Resident,
    form: Option<ResidentForm>,
    errors: FieldErrors,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let db = state.db();
    let categories = catalogue::categories(db).await?;
    let category = categories.iter().find(|c| c.id == r.category_id);
    let reservations = residents::reservations_of(db, r.id, 200)
        .await?
        .into_iter()
        .map(|v| ReservationRow {
            reference: v.reference,
            date: format_date(v.use_date),
            place: format!("{} {}", v.facility_name, v.room_name),
            time: format!(
                "{}〜{}",
                format_minutes(u32::try_from(v.start_min).unwrap_or(0)),
                format_minutes(u32::try_from(v.end_min).unwrap_or(0))
            ),
            cancelled: v.status == "cancelled",
        })
        .collect();
    let title = if r.status == "erased" {
        format!("利用者 {}（削除済み）", r.id)
    } else {
        format!("{} さん", r.name)
    };
    render(&DetailPage {
        layout: me.page(state, &title, notice_text).await?,
        errors,
        form: form.unwrap_or_else(|| ResidentForm::of(&r)),
        category_name: category.map(|c| c.name.clone()).unwrap_or_default(),
        needs_proof: category.is_some_and(|c| c.needs_proof),
        categories,
        id: r.id,
        status_text: status_label(&r.status),
        status: r.status,
        verified: r.category_verified,
        registered: format_datetime(r.created_at),
        email_verified: r.email_verified_at.map(format_datetime).unwrap_or_default(),
        reservations,
    })
}

#[derive(Deserialize)]
pub struct DoneQuery {
    done: Option<String>,
}

async fn load(state: &AppState, id: i64) -> Result<Resident, AppError> {
    residents::get(state.db(), id)
        .await?
        .ok_or(AppError::NotFound)
}

pub async fn detail(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let r = load(&state, id).await?;
    detail_page(
        &state,
        &me,
        r,
        None,
        FieldErrors::new(),
        notice(q.done.as_deref()),
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let r = load(&state, id).await?;
    if r.status == "erased" {
        return Err(AppError::NotFound);
    }
    let categories = catalogue::categories(state.db()).await?;
    let mut errors = FieldErrors::new();
    let Some(p) = parse(&form, &categories, &mut errors) else {
        let typed = ResidentForm::typed(&form);
        return detail_page(&state, &me, r, Some(typed), errors, None).await;
    };
    // A new category must be confirmed again when it needs proof.
    let verified = if p.category.id == r.category_id {
        r.category_verified
    } else {
        !p.category.needs_proof
    };
    let mut tx = state.db().begin().await?;
    match residents::update_by_staff(
        &mut tx,
        id,
        &p.profile,
        p.email.as_deref(),
        p.category.id,
        verified,
    )
    .await
    {
        Ok(()) => {
            let mut summary = "利用者の登録内容を変更".to_owned();
            if p.category.id != r.category_id {
                summary.push_str(&format!(
                    "（利用者区分 {} → {}）",
                    r.category_id, p.category.id
                ));
            }
            if p.email != r.email {
                summary.push_str("（メールアドレスを変更）");
            }
            me.commit_logged(tx, "resident.update", format!("resident:{id}"), summary)
                .await?;
            Ok(Redirect::to(&format!("/admin/residents/{id}?done=saved")).into_response())
        }
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add("email", EMAIL_TAKEN);
            let typed = ResidentForm::typed(&form);
            detail_page(&state, &me, r, Some(typed), errors, None).await
        }
        Err(e) => Err(e.into()),
    }
}

/// The state buttons of the detail page.
#[derive(Clone, Copy)]
enum Change {
    Verify,
    Unverify,
    Suspend,
    Reactivate,
}

impl Change {
    /// (log action, log summary, notice code)
    fn texts(self) -> (&'static str, &'static str, &'static str) {
        match self {
            Change::Verify => ("resident.verify", "利用者区分を確認済みにした", "verified"),
            Change::Unverify => (
                "resident.unverify",
                "利用者区分を未確認に戻した",
                "unverified",
            ),
            Change::Suspend => (
                "resident.suspend",
                "利用を停止（ログイン中の画面も終了）",
                "suspended",
            ),
            Change::Reactivate => ("resident.reactivate", "利用を再開", "reactivated"),
        }
    }
}

/// Applies one state change and logs it in the same transaction.
async fn state_change(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
    change: Change,
) -> Result<Response, AppError> {
    let mut tx = state.db().begin().await?;
    match change {
        Change::Verify => residents::set_category_verified(&mut tx, id, true).await?,
        Change::Unverify => residents::set_category_verified(&mut tx, id, false).await?,
        Change::Suspend => residents::suspend(&mut tx, id).await?,
        Change::Reactivate => residents::reactivate(&mut tx, id).await?,
    }
    let (action, summary, done) = change.texts();
    me.commit_logged(tx, action, format!("resident:{id}"), summary.to_owned())
        .await?;
    Ok(Redirect::to(&format!("/admin/residents/{id}?done={done}")).into_response())
}

pub async fn verify(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state_change(&state, &me, id, Change::Verify).await
}

pub async fn unverify(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state_change(&state, &me, id, Change::Unverify).await
}

pub async fn suspend(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state_change(&state, &me, id, Change::Suspend).await
}

pub async fn reactivate(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    state_change(&state, &me, id, Change::Reactivate).await
}

#[derive(Template)]
#[template(path = "admin/resident_erase.html")]
struct ErasePage {
    layout: Layout,
    errors: FieldErrors,
    id: i64,
    name: String,
    future: usize,
}

async fn erase_page(
    state: &AppState,
    me: &CurrentStaff,
    r: &Resident,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let today = chrono::Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive();
    let future = residents::reservations_of(state.db(), r.id, 10_000)
        .await?
        .iter()
        .filter(|v| v.status == "confirmed" && v.use_date >= today)
        .count();
    render(&ErasePage {
        layout: me.page(state, "利用者登録の削除", None).await?,
        errors,
        id: r.id,
        name: r.name.clone(),
        future,
    })
}

pub async fn erase_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let r = load(&state, id).await?;
    if r.status == "erased" {
        return Ok(Redirect::to(&format!("/admin/residents/{id}")).into_response());
    }
    erase_page(&state, &me, &r, FieldErrors::new()).await
}

/// A30: irreversible; the form must carry the ticked confirmation.
pub async fn erase(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let r = load(&state, id).await?;
    if r.status == "erased" {
        return Ok(Redirect::to(&format!("/admin/residents/{id}")).into_response());
    }
    if form.get("confirm") != "yes" {
        let mut errors = FieldErrors::new();
        errors.add(
            "confirm",
            "削除すると元に戻せません。確認のチェックを入れてください。",
        );
        return erase_page(&state, &me, &r, errors).await;
    }
    let mut tx = state.db().begin().await?;
    let erasure = residents::erase(&mut tx, id).await?;
    me.commit_logged(
        tx,
        "resident.erase",
        format!("resident:{id}"),
        format!(
            "利用者登録を削除（個人情報を消去、今後の予約{}件を取り消し、予約{}件の申込者を匿名化）",
            erasure.cancelled.len(),
            erasure.anonymised
        ),
    )
    .await?;
    Ok(Redirect::to("/admin/residents?done=erased").into_response())
}
