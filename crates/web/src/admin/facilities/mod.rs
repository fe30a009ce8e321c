//! The facility catalogue (A06-A18, A20, A21, A25, A28): everything staff
//! configure without programming, limited to the facilities in their scope.

mod csv_io;
mod details;
mod photos;
mod room_time;
mod rooms;

pub use csv_io::{export, import, import_form};
pub use details::*;
pub use photos::*;
pub use room_time::*;
pub use rooms::*;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::validation::{FieldErrors, optional_text, required_text};
use hiroba_store::StoreError;
use hiroba_store::catalogue;
use hiroba_store::facilities::{self, Facility, FacilityChange, Room};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

/// Loads a facility after checking the staff member's scope (refusals are logged).
pub(crate) async fn load(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
) -> Result<Facility, AppError> {
    me.require_facility(state, id).await?;
    facilities::get(state.db(), id)
        .await?
        .ok_or(AppError::NotFound)
}

/// Loads a room of a facility in scope; a room of another facility is "not found".
pub(crate) async fn load_room(
    state: &AppState,
    me: &CurrentStaff,
    id: i64,
    room_id: i64,
) -> Result<(Facility, Room), AppError> {
    let facility = load(state, me, id).await?;
    let room = facilities::room(state.db(), room_id)
        .await?
        .filter(|r| r.facility_id == id)
        .ok_or(AppError::NotFound)?;
    Ok((facility, room))
}

pub struct ListRow {
    facility: Facility,
    rooms: usize,
}

#[derive(Template)]
#[template(path = "admin/facilities.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ListRow>,
    may_create: bool,
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let mut rows = Vec::new();
    for facility in facilities::list(state.db()).await? {
        if me.staff.scope.allows(facility.id) {
            let rooms = facilities::rooms(state.db(), facility.id).await?.len();
            rows.push(ListRow { facility, rooms });
        }
    }
    let layout = me.page(&state, "施設", notice(q.done.as_deref())).await?;
    render(&ListPage {
        layout,
        rows,
        may_create: me.staff.scope.is_all(),
    })
}

#[derive(Template)]
#[template(path = "admin/facility_hub.html")]
struct HubPage {
    layout: Layout,
    f: Facility,
    rooms: Vec<Room>,
    opening: Vec<String>,
    closed: Vec<String>,
    categories: Vec<String>,
    purposes: usize,
    activities: usize,
    equipment: usize,
    terms_version: Option<i64>,
    photos: usize,
    may_delete: bool,
}

pub async fn hub(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let db = state.db();
    let summary = details::Summary::load(db, id).await?;
    let layout = me.page(&state, &f.name, notice(q.done.as_deref())).await?;
    render(&HubPage {
        layout,
        rooms: facilities::rooms(db, id).await?,
        opening: summary.opening,
        closed: summary.closed,
        categories: summary.categories,
        purposes: catalogue::purposes(db, id).await?.len(),
        activities: catalogue::activities(db, id).await?.len(),
        equipment: catalogue::equipment(db, id).await?.len(),
        terms_version: catalogue::terms(db, id).await?.first().map(|t| t.version),
        photos: catalogue::photos(db, id).await?.len(),
        may_delete: me.staff.scope.is_all(),
        f,
    })
}

#[derive(Template)]
#[template(path = "admin/facility_form.html")]
struct FormPage {
    layout: Layout,
    /// `None` when creating.
    id: Option<i64>,
    errors: FieldErrors,
    form: FacilityForm,
}

/// The form's values as typed, so a refused form comes back as it was.
pub struct FacilityForm {
    name: String,
    description: String,
    address: String,
    phone: String,
    info_url: String,
    contact: String,
    latitude: String,
    longitude: String,
    change_days_before: String,
    resident_may_change: bool,
    activity_free_text: bool,
}

impl From<&FacilityChange> for FacilityForm {
    fn from(c: &FacilityChange) -> Self {
        Self {
            name: c.name.clone(),
            description: c.description.clone(),
            address: c.address.clone(),
            phone: c.phone.clone(),
            info_url: c.info_url.clone(),
            contact: c.contact.clone(),
            latitude: c.latitude.map(|v| v.to_string()).unwrap_or_default(),
            longitude: c.longitude.map(|v| v.to_string()).unwrap_or_default(),
            change_days_before: c.change_days_before.to_string(),
            resident_may_change: c.resident_may_change,
            activity_free_text: c.activity_free_text,
        }
    }
}

impl From<&FormData> for FacilityForm {
    fn from(form: &FormData) -> Self {
        Self {
            name: form.get("name").to_owned(),
            description: form.get("description").to_owned(),
            address: form.get("address").to_owned(),
            phone: form.get("phone").to_owned(),
            info_url: form.get("info_url").to_owned(),
            contact: form.get("contact").to_owned(),
            latitude: form.get("latitude").to_owned(),
            longitude: form.get("longitude").to_owned(),
            change_days_before: form.get("change_days_before").to_owned(),
            resident_may_change: form.get("resident_may_change") == "yes",
            activity_free_text: form.get("activity_free_text") == "yes",
        }
    }
}

fn coordinate(
    raw: &str,
    label: &str,
    range: std::ops::RangeInclusive<f64>,
) -> Result<Option<f64>, String> {
    let raw = raw.trim();
    if raw.is_empty() {
        return Ok(None);
    }
    match raw.parse::<f64>() {
        Ok(v) if range.contains(&v) => Ok(Some(v)),
        _ => Err(format!(
            "{label}は {}〜{} の数値で入力してください（例: 31.9897）。",
            range.start(),
            range.end()
        )),
    }
}

fn parse(form: &FormData, errors: &mut FieldErrors) -> Option<FacilityChange> {
    let name = errors.take("name", required_text(form.get("name"), "施設名", 100));
    let description = errors.take(
        "description",
        optional_text(
            &form
                .get("description")
                .replace("\r\n", "\n")
                .replace('\n', " "),
            "説明",
            2000,
        ),
    );
    let address = errors.take("address", optional_text(form.get("address"), "住所", 200));
    let phone = errors.take(
        "phone",
        optional_text(form.get("phone"), "電話番号", 20).and_then(|p| {
            if p.chars().all(|c| c.is_ascii_digit() || c == '-') {
                Ok(p)
            } else {
                Err("電話番号は半角数字とハイフンで入力してください（例: 0985-75-3111）。".into())
            }
        }),
    );
    let info_url = errors.take(
        "info_url",
        optional_text(form.get("info_url"), "案内ページのURL", 500).and_then(|u| {
            if u.is_empty() || u.starts_with("https://") || u.starts_with("http://") {
                Ok(u)
            } else {
                Err("案内ページのURLは https:// で始まるアドレスを入力してください。".into())
            }
        }),
    );
    let contact = errors.take(
        "contact",
        optional_text(form.get("contact"), "問い合わせ先", 200),
    );
    let latitude = errors.take(
        "latitude",
        coordinate(form.get("latitude"), "緯度", 20.0..=46.0),
    );
    let longitude = errors.take(
        "longitude",
        coordinate(form.get("longitude"), "経度", 122.0..=154.0),
    );
    if let (Some(lat), Some(lon)) = (&latitude, &longitude)
        && lat.is_some() != lon.is_some()
    {
        errors.add(
            "longitude",
            "緯度と経度は両方入力するか、両方空にしてください。",
        );
    }
    let days = errors.take(
        "change_days_before",
        form.get("change_days_before")
            .trim()
            .parse::<i64>()
            .ok()
            .filter(|d| (0..=365).contains(d))
            .ok_or_else(|| {
                "変更の期限は 0〜365 の日数で入力してください（利用日の何日前まで）。".to_owned()
            }),
    );
    Some(FacilityChange {
        name: name?,
        description: description?,
        address: address?,
        phone: phone?,
        info_url: info_url?,
        contact: contact?,
        latitude: latitude?,
        longitude: longitude?,
        change_days_before: days?,
        resident_may_change: form.get("resident_may_change") == "yes",
        activity_free_text: form.get("activity_free_text") == "yes",
    })
    .filter(|_| errors.is_empty())
}

fn summary(before: &FacilityChange, after: &FacilityChange) -> String {
    let b = FacilityForm::from(before);
    let a = FacilityForm::from(after);
    let short = |s: &str| s.chars().take(40).collect::<String>();
    let pairs = [
        ("施設名", &b.name, &a.name),
        ("説明", &b.description, &a.description),
        ("住所", &b.address, &a.address),
        ("電話", &b.phone, &a.phone),
        ("案内URL", &b.info_url, &a.info_url),
        ("問い合わせ先", &b.contact, &a.contact),
        ("緯度", &b.latitude, &a.latitude),
        ("経度", &b.longitude, &a.longitude),
        (
            "変更期限(日前)",
            &b.change_days_before,
            &a.change_days_before,
        ),
    ];
    let mut parts: Vec<String> = pairs
        .iter()
        .filter(|(_, o, n)| o != n)
        .map(|(label, o, n)| format!("{label}: {} → {}", short(o), short(n)))
        .collect();
    if b.resident_may_change != a.resident_may_change {
        parts.push(format!(
            "利用者による変更: {}",
            if a.resident_may_change {
                "可"
            } else {
                "窓口のみ"
            }
        ));
    }
    if b.activity_free_text != a.activity_free_text {
        parts.push(format!(
            "活動内容の自由入力: {}",
            if a.activity_free_text {
                "可"
            } else {
                "不可"
            }
        ));
    }
    if parts.is_empty() {
        "変更なし".into()
    } else {
        parts.join("; ")
    }
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let layout = me
        .page(&state, &format!("{} の基本情報", f.name), None)
        .await?;
    render(&FormPage {
        layout,
        id: Some(id),
        errors: FieldErrors::new(),
        form: FacilityForm::from(&FacilityChange::from(&f)),
    })
}

pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let before = load(&state, &me, id).await?;
    let mut errors = FieldErrors::new();
    if let Some(change) = parse(&form, &mut errors) {
        let mut tx = state.db().begin().await?;
        match facilities::update(&mut tx, id, &change).await {
            Ok(()) => {
                let text = summary(&FacilityChange::from(&before), &change);
                me.commit_logged(tx, "facility.update", format!("facility:{id}"), text)
                    .await?;
                return Ok(
                    Redirect::to(&format!("/admin/facilities/{id}?done=saved")).into_response()
                );
            }
            Err(StoreError::Duplicate(_)) => errors.add("name", "同じ名前の施設がすでにあります。"),
            Err(e) => return Err(e.into()),
        }
    }
    let layout = me
        .page(&state, &format!("{} の基本情報", before.name), None)
        .await?;
    render(&FormPage {
        layout,
        id: Some(id),
        errors,
        form: FacilityForm::from(&form),
    })
}

/// Adding facilities is for staff who manage every facility (a new one would
/// otherwise fall outside the creator's own scope).
fn require_all_scope(me: &CurrentStaff) -> Result<(), AppError> {
    if me.staff.scope.is_all() {
        Ok(())
    } else {
        Err(AppError::Forbidden)
    }
}

pub async fn new_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    require_all_scope(&me)?;
    let layout = me.page(&state, "施設の追加", None).await?;
    let defaults = FacilityChange {
        change_days_before: 3,
        resident_may_change: true,
        activity_free_text: true,
        ..FacilityChange::default()
    };
    render(&FormPage {
        layout,
        id: None,
        errors: FieldErrors::new(),
        form: FacilityForm::from(&defaults),
    })
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    require_all_scope(&me)?;
    let mut errors = FieldErrors::new();
    if let Some(change) = parse(&form, &mut errors) {
        let order = facilities::list(state.db())
            .await?
            .iter()
            .map(|f| f.sort_order)
            .max()
            .unwrap_or(0)
            + 10;
        let mut tx = state.db().begin().await?;
        match facilities::insert(&mut tx, &change, order).await {
            Ok(id) => {
                me.commit_logged(
                    tx,
                    "facility.create",
                    format!("facility:{id}"),
                    format!("施設「{}」を追加", change.name),
                )
                .await?;
                return Ok(
                    Redirect::to(&format!("/admin/facilities/{id}?done=created")).into_response(),
                );
            }
            Err(StoreError::Duplicate(_)) => errors.add("name", "同じ名前の施設がすでにあります。"),
            Err(e) => return Err(e.into()),
        }
    }
    let layout = me.page(&state, "施設の追加", None).await?;
    render(&FormPage {
        layout,
        id: None,
        errors,
        form: FacilityForm::from(&form),
    })
}

/// A facility or room with reservations still to come cannot be deleted: it can be closed instead.
pub(crate) async fn refuse_if_booked(
    state: &AppState,
    facility_id: i64,
    room_id: Option<i64>,
) -> Result<(), AppError> {
    let today = chrono::Utc::now()
        .with_timezone(&hiroba_domain::datetime::JST)
        .date_naive();
    if hiroba_store::reservations::has_future(state.db(), facility_id, room_id, today).await? {
        let what = if room_id.is_some() {
            "室場"
        } else {
            "施設"
        };
        return Err(AppError::BadRequest(format!(
            "この{what}には今日以降の予約があるため削除できません。使えなくするときは「休館日・臨時休館」で臨時休館を登録してください。"
        )));
    }
    Ok(())
}

/// Deleting removes the facility's whole configuration.
pub async fn delete(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_all_scope(&me)?;
    let f = load(&state, &me, id).await?;
    refuse_if_booked(&state, id, None).await?;
    let mut tx = state.db().begin().await?;
    facilities::delete(&mut tx, id).await?;
    me.commit_logged(
        tx,
        "facility.delete",
        format!("facility:{id}"),
        format!("施設「{}」を削除", f.name),
    )
    .await?;
    Ok(Redirect::to("/admin/facilities?done=deleted").into_response())
}
