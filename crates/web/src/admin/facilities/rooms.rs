//! Rooms (室場, A06, A09) with their bookable units (面) and the combinations
//! residents can book: the whole room, or a half (片面, A07/A08).

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::calendar::validate_combinations;
use hiroba_domain::validation::{FieldErrors, optional_text, required_text};
use hiroba_store::StoreError;
use hiroba_store::catalogue::{self, Combination, Unit};
use hiroba_store::facilities::{self, Facility, Room, RoomChange, Visibility};

use super::{load, load_room};
use crate::AppState;
use crate::admin::{DoneQuery, notice, render};
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

pub struct RoomForm {
    name: String,
    description: String,
    capacity: String,
    visibility: String,
    min_minutes: String,
}

impl From<&Room> for RoomForm {
    fn from(r: &Room) -> Self {
        Self {
            name: r.name.clone(),
            description: r.description.clone(),
            capacity: r.capacity.map(|c| c.to_string()).unwrap_or_default(),
            visibility: r.visibility.clone(),
            min_minutes: r.min_minutes.to_string(),
        }
    }
}

impl From<&FormData> for RoomForm {
    fn from(f: &FormData) -> Self {
        Self {
            name: f.get("name").to_owned(),
            description: f.get("description").to_owned(),
            capacity: f.get("capacity").to_owned(),
            visibility: f.get("visibility").to_owned(),
            min_minutes: f.get("min_minutes").to_owned(),
        }
    }
}

/// One combination row of the form: its name and which units it holds.
pub struct ComboForm {
    name: String,
    units: Vec<(i64, String, bool)>,
}

#[derive(Template)]
#[template(path = "admin/room.html")]
struct RoomPage {
    layout: Layout,
    f: Facility,
    room_id: i64,
    errors: FieldErrors,
    form: RoomForm,
    visibilities: Vec<(&'static str, &'static str)>,
    units: Vec<Unit>,
    combos: Vec<ComboForm>,
}

fn visibilities() -> Vec<(&'static str, &'static str)> {
    Visibility::ALL
        .iter()
        .map(|v| (v.code(), v.label()))
        .collect()
}

fn combo_forms(units: &[Unit], combos: &[Combination]) -> Vec<ComboForm> {
    let mut rows: Vec<ComboForm> = combos
        .iter()
        .map(|c| ComboForm {
            name: c.name.clone(),
            units: units
                .iter()
                .map(|u| (u.id, u.name.clone(), c.unit_ids.contains(&u.id)))
                .collect(),
        })
        .collect();
    // Two blank rows to add combinations without JavaScript.
    for _ in 0..2 {
        rows.push(ComboForm {
            name: String::new(),
            units: units
                .iter()
                .map(|u| (u.id, u.name.clone(), false))
                .collect(),
        });
    }
    rows
}

fn parse_room(form: &FormData, errors: &mut FieldErrors) -> Option<RoomChange> {
    let name = errors.take("name", required_text(form.get("name"), "室場名", 60));
    let description = errors.take(
        "description",
        optional_text(
            &form.get("description").replace(['\r', '\n'], " "),
            "説明",
            1000,
        ),
    );
    let capacity = errors.take(
        "capacity",
        match form.get("capacity").trim() {
            "" => Ok(None),
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|c| (1..=100_000).contains(c))
                .map(Some)
                .ok_or_else(|| {
                    "定員は1以上の人数で入力してください（空欄は定員なし）。".to_owned()
                }),
        },
    );
    let visibility = errors.take(
        "visibility",
        Visibility::parse(form.get("visibility"))
            .ok_or_else(|| "公開範囲を選んでください。".to_owned()),
    );
    let min_minutes = errors.take(
        "min_minutes",
        match form.get("min_minutes").trim() {
            "" => Ok(0),
            raw => raw
                .parse::<i64>()
                .ok()
                .filter(|m| (0..=24 * 60).contains(m))
                .ok_or_else(|| "最低利用時間は0〜1440の分数で入力してください。".to_owned()),
        },
    );
    Some(RoomChange {
        name: name?,
        description: description?,
        capacity: capacity?,
        visibility: visibility?,
        min_minutes: min_minutes?,
    })
    .filter(|_| errors.is_empty())
}

/// What a room page shows besides the stored data: messages and typed values.
struct View {
    errors: FieldErrors,
    form: RoomForm,
    combos: Option<Vec<ComboForm>>,
    notice: Option<String>,
}

impl View {
    fn refused(errors: FieldErrors, form: RoomForm, combos: Option<Vec<ComboForm>>) -> Self {
        Self {
            errors,
            form,
            combos,
            notice: None,
        }
    }
}

async fn page(
    state: &AppState,
    me: &CurrentStaff,
    f: Facility,
    room: &Room,
    view: View,
) -> Result<Response, AppError> {
    let db = state.db();
    let units = catalogue::units(db, room.id).await?;
    let combos = match view.combos {
        Some(c) => c,
        None => combo_forms(&units, &catalogue::combinations(db, room.id).await?),
    };
    let layout = me
        .page(state, &format!("{} {}", f.name, room.name), view.notice)
        .await?;
    render(&RoomPage {
        layout,
        f,
        room_id: room.id,
        errors: view.errors,
        form: view.form,
        visibilities: visibilities(),
        units,
        combos,
    })
}

pub async fn room_page(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let view = View {
        errors: FieldErrors::new(),
        form: RoomForm::from(&room),
        combos: None,
        notice: notice(q.done.as_deref()),
    };
    page(&state, &me, f, &room, view).await
}

pub async fn add_room(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let f = load(&state, &me, id).await?;
    let mut errors = FieldErrors::new();
    let name = errors.take(
        "room_name",
        required_text(form.get("room_name"), "室場名", 60),
    );
    if let Some(name) = name {
        let change = RoomChange {
            name: name.clone(),
            description: String::new(),
            capacity: None,
            visibility: Visibility::Public,
            min_minutes: 0,
        };
        let order = facilities::next_room_order(state.db(), id).await?;
        let mut tx = state.db().begin().await?;
        match facilities::insert_room(&mut tx, id, &change, order).await {
            Ok(room_id) => {
                // Every room starts bookable as a whole: one unit, one combination.
                let unit = catalogue::insert_unit(&mut tx, room_id, "全面", 10).await?;
                catalogue::save_combinations(&mut tx, room_id, &[("全面".to_owned(), vec![unit])])
                    .await?;
                me.commit_logged(
                    tx,
                    "room.create",
                    format!("room:{room_id}"),
                    format!("{} に室場「{name}」を追加", f.name),
                )
                .await?;
                return Ok(Redirect::to(&format!(
                    "/admin/facilities/{id}/rooms/{room_id}?done=created"
                ))
                .into_response());
            }
            Err(StoreError::Duplicate(_)) => {
                errors.add("room_name", "同じ名前の室場がすでにあります。")
            }
            Err(e) => return Err(e.into()),
        }
    }
    Err(AppError::BadRequest(
        errors
            .iter()
            .next()
            .map(|(_, m)| m.to_owned())
            .unwrap_or_default(),
    ))
}

pub async fn update_room(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    form: FormData,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let mut errors = FieldErrors::new();
    if let Some(change) = parse_room(&form, &mut errors) {
        let mut tx = state.db().begin().await?;
        match facilities::update_room(&mut tx, room_id, &change).await {
            Ok(()) => {
                let summary = format!(
                    "室場「{}」: 名称={} 定員={} 公開={} 最低利用={}分",
                    room.name,
                    change.name,
                    change
                        .capacity
                        .map(|c| c.to_string())
                        .unwrap_or_else(|| "なし".into()),
                    change.visibility.label(),
                    change.min_minutes
                );
                me.commit_logged(tx, "room.update", format!("room:{room_id}"), summary)
                    .await?;
                return Ok(Redirect::to(&format!(
                    "/admin/facilities/{id}/rooms/{room_id}?done=saved"
                ))
                .into_response());
            }
            Err(StoreError::Duplicate(_)) => errors.add("name", "同じ名前の室場がすでにあります。"),
            Err(e) => return Err(e.into()),
        }
    }
    page(
        &state,
        &me,
        f,
        &room,
        View::refused(errors, RoomForm::from(&form), None),
    )
    .await
}

pub async fn delete_room(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    super::refuse_if_booked(&state, id, Some(room_id)).await?;
    let mut tx = state.db().begin().await?;
    facilities::delete_room(&mut tx, room_id).await?;
    me.commit_logged(
        tx,
        "room.delete",
        format!("room:{room_id}"),
        format!("{} の室場「{}」を削除", f.name, room.name),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/facilities/{id}?done=deleted")).into_response())
}

pub async fn add_unit(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    form: FormData,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let mut errors = FieldErrors::new();
    if let Some(name) = errors.take(
        "unit_name",
        required_text(form.get("unit_name"), "面の名前", 30),
    ) {
        let order = catalogue::units(state.db(), room_id)
            .await?
            .iter()
            .map(|u| u.sort_order)
            .max()
            .unwrap_or(0)
            + 10;
        let mut tx = state.db().begin().await?;
        match catalogue::insert_unit(&mut tx, room_id, &name, order).await {
            Ok(unit_id) => {
                me.commit_logged(
                    tx,
                    "unit.create",
                    format!("unit:{unit_id}"),
                    format!("{} {} に面「{name}」を追加", f.name, room.name),
                )
                .await?;
                return Ok(Redirect::to(&format!(
                    "/admin/facilities/{id}/rooms/{room_id}?done=created#units"
                ))
                .into_response());
            }
            Err(StoreError::Duplicate(_)) => {
                errors.add("unit_name", "同じ名前の面がすでにあります。")
            }
            Err(e) => return Err(e.into()),
        }
    }
    page(
        &state,
        &me,
        f,
        &room,
        View::refused(errors, RoomForm::from(&room), None),
    )
    .await
}

pub async fn rename_unit(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id, unit_id)): Path<(i64, i64, i64)>,
    form: FormData,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let mut errors = FieldErrors::new();
    let key = format!("unit_{unit_id}");
    if let Some(name) = errors.take(&key, required_text(form.get("name"), "面の名前", 30)) {
        let mut tx = state.db().begin().await?;
        match catalogue::rename_unit(&mut tx, room_id, unit_id, &name).await {
            Ok(()) => {
                me.commit_logged(
                    tx,
                    "unit.update",
                    format!("unit:{unit_id}"),
                    format!("{} {} の面の名前を「{name}」に変更", f.name, room.name),
                )
                .await?;
                return Ok(Redirect::to(&format!(
                    "/admin/facilities/{id}/rooms/{room_id}?done=saved#units"
                ))
                .into_response());
            }
            Err(StoreError::Duplicate(_)) => errors.add(&key, "同じ名前の面がすでにあります。"),
            Err(e) => return Err(e.into()),
        }
    }
    page(
        &state,
        &me,
        f,
        &room,
        View::refused(errors, RoomForm::from(&room), None),
    )
    .await
}

pub async fn delete_unit(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id, unit_id)): Path<(i64, i64, i64)>,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let units = catalogue::units(state.db(), room_id).await?;
    if units.len() <= 1 {
        let mut errors = FieldErrors::new();
        errors.add("unit_name", "室場には少なくとも1つの面が必要です。");
        return page(
            &state,
            &me,
            f,
            &room,
            View::refused(errors, RoomForm::from(&room), None),
        )
        .await;
    }
    let mut tx = state.db().begin().await?;
    catalogue::delete_unit(&mut tx, room_id, unit_id).await?;
    me.commit_logged(
        tx,
        "unit.delete",
        format!("unit:{unit_id}"),
        format!("{} {} の面を削除", f.name, room.name),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/admin/facilities/{id}/rooms/{room_id}?done=deleted#units"
    ))
    .into_response())
}

/// Saves the whole set of combinations; rows with an empty name are ignored.
pub async fn save_combinations(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, room_id)): Path<(i64, i64)>,
    form: FormData,
) -> Result<Response, AppError> {
    let (f, room) = load_room(&state, &me, id, room_id).await?;
    let units = catalogue::units(state.db(), room_id).await?;
    let unit_ids: BTreeSet<i64> = units.iter().map(|u| u.id).collect();
    let names = form.all("combo_name");
    let mut rows: Vec<ComboForm> = Vec::new();
    let mut combos: Vec<(String, BTreeSet<i64>)> = Vec::new();
    let mut errors = FieldErrors::new();
    for (i, raw) in names.iter().enumerate() {
        let chosen: BTreeSet<i64> = form
            .all(&format!("combo_{i}"))
            .iter()
            .filter_map(|v| v.parse().ok())
            .collect();
        rows.push(ComboForm {
            name: (*raw).to_owned(),
            units: units
                .iter()
                .map(|u| (u.id, u.name.clone(), chosen.contains(&u.id)))
                .collect(),
        });
        if raw.trim().is_empty() {
            if !chosen.is_empty() {
                errors.add(
                    &format!("combo_{i}"),
                    "面を選んだ行には名前を入力してください。",
                );
            }
            continue;
        }
        match required_text(raw, "予約区分の名前", 30) {
            Ok(name) => combos.push((name, chosen)),
            Err(m) => errors.add(&format!("combo_{i}"), m),
        }
    }
    if combos.is_empty() {
        errors.add(
            "combo_0",
            "予約できる区分（例: 全面）を少なくとも1つ設定してください。",
        );
    }
    // Domain rules: no empty set, no unknown unit, no duplicate set or name, no partial overlap.
    let named_rows: Vec<usize> = names
        .iter()
        .enumerate()
        .filter(|(_, n)| !n.trim().is_empty())
        .map(|(i, _)| i)
        .collect();
    for (index, message) in validate_combinations(&unit_ids, &combos) {
        let row = named_rows.get(index).copied().unwrap_or(0);
        errors.add(&format!("combo_{row}"), message);
    }
    if !errors.is_empty() {
        return page(
            &state,
            &me,
            f,
            &room,
            View::refused(errors, RoomForm::from(&room), Some(rows)),
        )
        .await;
    }
    let list: Vec<(String, Vec<i64>)> = combos
        .iter()
        .map(|(n, s)| (n.clone(), s.iter().copied().collect()))
        .collect();
    let mut tx = state.db().begin().await?;
    catalogue::save_combinations(&mut tx, room_id, &list).await?;
    let text = combos
        .iter()
        .map(|(n, s)| {
            format!(
                "{n}={}",
                units
                    .iter()
                    .filter(|u| s.contains(&u.id))
                    .map(|u| u.name.as_str())
                    .collect::<Vec<_>>()
                    .join("+")
            )
        })
        .collect::<Vec<_>>()
        .join(", ");
    me.commit_logged(
        tx,
        "combination.save",
        format!("room:{room_id}"),
        format!("{} {} の予約区分: {text}", f.name, room.name),
    )
    .await?;
    Ok(Redirect::to(&format!(
        "/admin/facilities/{id}/rooms/{room_id}?done=saved#combos"
    ))
    .into_response())
}
