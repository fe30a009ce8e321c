//! National holidays (A03): computed by Hiroba from the Holiday Act, shown per
//! year, changed by staff (add a special holiday, remove one) and importable
//! from the Cabinet Office's syukujitsu.csv. Changes apply to every facility,
//! so they need a scope of all facilities.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Multipart, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{Datelike, NaiveDate};
use hiroba_domain::datetime::{JST, format_date};
use hiroba_domain::holidays::{CsvRowError, computed_holidays, parse_syukujitsu_csv};
use hiroba_domain::validation::{FieldErrors, required_text};
use hiroba_store::catalogue::{self, HolidayOverride};
use hiroba_store::catalogue_domain;
use serde::Deserialize;

use super::masters::require_all_scope;
use super::{notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

#[derive(Deserialize)]
pub struct YearQuery {
    year: Option<i32>,
    done: Option<String>,
}

pub struct HolidayRow {
    iso: String,
    date: String,
    name: String,
    source: &'static str,
    changed: bool,
}

pub struct RemovedRow {
    iso: String,
    date: String,
    name: String,
}

#[derive(Template)]
#[template(path = "admin/holidays.html")]
struct Page {
    layout: Layout,
    year: i32,
    rows: Vec<HolidayRow>,
    removed: Vec<RemovedRow>,
    errors: FieldErrors,
    csv_errors: Vec<CsvRowError>,
    may_edit: bool,
}

fn year_bounds(year: i32) -> Option<(NaiveDate, NaiveDate)> {
    Some((
        NaiveDate::from_ymd_opt(year, 1, 1)?,
        NaiveDate::from_ymd_opt(year, 12, 31)?,
    ))
}

async fn page(
    state: &AppState,
    me: &CurrentStaff,
    year: i32,
    errors: FieldErrors,
    csv_errors: Vec<CsvRowError>,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let (from, to) = year_bounds(year).ok_or(AppError::NotFound)?;
    let db = state.db();
    let effective = catalogue_domain::holidays(db, from, to).await?;
    let overrides: BTreeMap<NaiveDate, HolidayOverride> =
        catalogue::holiday_overrides(db, from, to)
            .await?
            .into_iter()
            .map(|o| (o.date, o))
            .collect();
    let computed: BTreeMap<NaiveDate, String> = computed_holidays(year)
        .into_iter()
        .map(|h| (h.date, h.name))
        .collect();
    let rows = effective
        .iter()
        .map(|(date, name)| {
            let source = match overrides.get(date).map(|o| o.source.as_str()) {
                Some("special_law") => "特別法",
                Some("staff") => "職員が追加・変更",
                Some("import") => "CSV取り込み",
                _ => "祝日法により計算",
            };
            HolidayRow {
                iso: date.to_string(),
                date: format_date(*date),
                name: name.clone(),
                source,
                changed: overrides.contains_key(date),
            }
        })
        .collect();
    let removed = overrides
        .values()
        .filter(|o| o.name.is_none())
        .map(|o| RemovedRow {
            iso: o.date.to_string(),
            date: format_date(o.date),
            name: computed.get(&o.date).cloned().unwrap_or_default(),
        })
        .collect();
    let layout = me
        .page(state, &format!("{year}年の祝日"), notice_text)
        .await?;
    render(&Page {
        layout,
        year,
        rows,
        removed,
        errors,
        csv_errors,
        may_edit: me.staff.scope.is_all(),
    })
}

fn this_year() -> i32 {
    chrono::Utc::now().with_timezone(&JST).year()
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<YearQuery>,
) -> Result<Response, AppError> {
    let year = q
        .year
        .filter(|y| (1949..=2099).contains(y))
        .unwrap_or_else(this_year);
    page(
        &state,
        &me,
        year,
        FieldErrors::new(),
        Vec::new(),
        notice(q.done.as_deref()),
    )
    .await
}

fn parse_date(raw: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw.trim(), "%Y-%m-%d")
        .map_err(|_| "日付は 2026-04-01 の形で入力してください。".to_owned())
}

pub async fn add(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let mut errors = FieldErrors::new();
    let date = errors.take("holiday_date", parse_date(form.get("holiday_date")));
    let name = errors.take(
        "holiday_name",
        required_text(form.get("holiday_name"), "祝日の名前", 40),
    );
    let (Some(date), Some(name)) = (date, name) else {
        let year = form.get("year").parse().unwrap_or_else(|_| this_year());
        return page(&state, &me, year, errors, Vec::new(), None).await;
    };
    let mut tx = state.db().begin().await?;
    catalogue::set_holiday_override(
        &mut tx,
        &HolidayOverride {
            date,
            name: Some(name.clone()),
            source: "staff".into(),
        },
    )
    .await?;
    me.commit_logged(
        tx,
        "holiday.add",
        format!("holiday:{date}"),
        format!("{date} を「{name}」に設定"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/holidays?year={}&done=saved", date.year())).into_response())
}

/// Removes a holiday (or a staff change, restoring the computed day).
pub async fn remove(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let date = parse_date(form.get("date")).map_err(AppError::BadRequest)?;
    let restore = form.get("restore") == "yes";
    let mut tx = state.db().begin().await?;
    if restore {
        catalogue::clear_holiday_override(&mut tx, date).await?;
    } else {
        catalogue::set_holiday_override(
            &mut tx,
            &HolidayOverride {
                date,
                name: None,
                source: "staff".into(),
            },
        )
        .await?;
    }
    let what = if restore {
        "計算どおりに戻す"
    } else {
        "祝日から外す"
    };
    me.commit_logged(
        tx,
        "holiday.remove",
        format!("holiday:{date}"),
        format!("{date} を{what}"),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/holidays?year={}&done=saved", date.year())).into_response())
}

/// Makes each year in the file match it exactly: missing days are added,
/// names follow the file, computed days the file lacks are removed.
pub async fn import(
    State(state): State<AppState>,
    me: CurrentStaff,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
    require_all_scope(&state, &me).await?;
    let mut bytes = None;
    while let Some(field) = multipart
        .next_field()
        .await
        .map_err(|_| AppError::BadRequest("ファイルを読み取れませんでした。".into()))?
    {
        if field.name() == Some("file") {
            bytes =
                Some(field.bytes().await.map_err(|_| {
                    AppError::BadRequest("ファイルを読み取れませんでした。".into())
                })?);
        }
    }
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        let mut errors = FieldErrors::new();
        errors.add("file", "syukujitsu.csv を選んでください。");
        return page(&state, &me, this_year(), errors, Vec::new(), None).await;
    };
    let holidays = match parse_syukujitsu_csv(&bytes) {
        Ok(h) => h,
        Err(csv_errors) => {
            return page(
                &state,
                &me,
                this_year(),
                FieldErrors::new(),
                csv_errors,
                None,
            )
            .await;
        }
    };
    let mut by_year: BTreeMap<i32, BTreeMap<NaiveDate, String>> = BTreeMap::new();
    for h in holidays {
        by_year
            .entry(h.date.year())
            .or_default()
            .insert(h.date, h.name);
    }
    let db = state.db();
    let mut tx = db.begin().await?;
    let mut changed = 0;
    for (year, wanted) in &by_year {
        let Some((from, to)) = year_bounds(*year) else {
            continue;
        };
        let current = catalogue_domain::holidays(db, from, to).await?;
        for (date, name) in wanted {
            if current.get(date) != Some(name) {
                catalogue::set_holiday_override(
                    &mut tx,
                    &HolidayOverride {
                        date: *date,
                        name: Some(name.clone()),
                        source: "import".into(),
                    },
                )
                .await?;
                changed += 1;
            }
        }
        for date in current.keys().filter(|d| !wanted.contains_key(d)) {
            catalogue::set_holiday_override(
                &mut tx,
                &HolidayOverride {
                    date: *date,
                    name: None,
                    source: "import".into(),
                },
            )
            .await?;
            changed += 1;
        }
    }
    let years = by_year.keys().map(ToString::to_string).collect::<Vec<_>>();
    let span = format!(
        "{}〜{}年",
        years.first().cloned().unwrap_or_default(),
        years.last().cloned().unwrap_or_default()
    );
    me.commit_logged(
        tx,
        "holiday.import",
        "holidays".into(),
        format!("syukujitsu.csv を取り込み（{span}、変更{changed}日）"),
    )
    .await?;
    Ok(Redirect::to("/admin/holidays?done=imported").into_response())
}
