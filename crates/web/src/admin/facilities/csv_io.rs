//! Facility information export (A04) and the usage-calendar import (A05).
//! Formats are documented in docs/CSV-FORMATS.md. Imports are all-or-nothing:
//! every error is reported with its row and column, and nothing is applied
//! unless the whole file is valid.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Multipart, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use hiroba_domain::datetime::JST;
use hiroba_domain::holidays::decode_text;
use hiroba_domain::time_of_day::TimeRange;
use hiroba_store::catalogue::{self, BlockRow, ClosureRow};
use hiroba_store::facilities::{self, Facility, Room};
use hiroba_store::{audit, catalogue_domain};

use crate::AppState;
use crate::admin::render;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::view::Layout;

fn csv_error(e: impl std::fmt::Display) -> AppError {
    AppError::Internal(format!("csv: {e}"))
}

/// One row per room, with the facility's information repeated; UTF-8 with BOM.
pub async fn export(State(state): State<AppState>, me: CurrentStaff) -> Result<Response, AppError> {
    let db = state.db();
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        w.write_record([
            "施設ID",
            "施設名",
            "住所",
            "電話",
            "問い合わせ先",
            "案内URL",
            "緯度",
            "経度",
            "開館時間",
            "定休日",
            "変更・取消期限",
            "室場ID",
            "室場名",
            "公開範囲",
            "定員",
            "面",
            "予約区分",
            "備品・附属設備",
        ])
        .map_err(csv_error)?;
        for f in facilities::list(db)
            .await?
            .into_iter()
            .filter(|f| me.staff.scope.allows(f.id))
        {
            let opening = catalogue_domain::opening_rules(db, f.id)
                .await?
                .iter()
                .map(|r| format!("{} {}", r.days.label(), r.hours))
                .collect::<Vec<_>>()
                .join(" / ");
            let closed = catalogue_domain::closed_rules(db, f.id)
                .await?
                .iter()
                .map(|r| r.label())
                .collect::<Vec<_>>()
                .join("、");
            let equipment = catalogue::equipment(db, f.id).await?;
            let deadline = format!(
                "変更 {}日前まで{}／取消 {}日前まで{}",
                f.change_days_before,
                if f.resident_may_change {
                    ""
                } else {
                    "（窓口のみ）"
                },
                f.cancel_days_before,
                if f.resident_may_cancel {
                    ""
                } else {
                    "（窓口のみ）"
                }
            );
            for room in facilities::rooms(db, f.id).await? {
                let units = catalogue::units(db, room.id).await?;
                let combos = catalogue::combinations(db, room.id).await?;
                let combo_text = combos
                    .iter()
                    .map(|c| {
                        format!(
                            "{}={}",
                            c.name,
                            units
                                .iter()
                                .filter(|u| c.unit_ids.contains(&u.id))
                                .map(|u| u.name.as_str())
                                .collect::<Vec<_>>()
                                .join("+")
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                let room_equipment = equipment
                    .iter()
                    .filter(|e| e.room_id.is_none_or(|r| r == room.id))
                    .map(|e| {
                        format!(
                            "{} {}{} {}円{}",
                            e.name,
                            e.stock,
                            e.unit_label,
                            e.fee,
                            if e.per_hour { "/時間" } else { "" }
                        )
                    })
                    .collect::<Vec<_>>()
                    .join("; ");
                w.write_record([
                    f.id.to_string(),
                    f.name.clone(),
                    f.address.clone(),
                    f.phone.clone(),
                    f.contact.clone(),
                    f.info_url.clone(),
                    f.latitude.map(|v| v.to_string()).unwrap_or_default(),
                    f.longitude.map(|v| v.to_string()).unwrap_or_default(),
                    opening.clone(),
                    closed.clone(),
                    deadline.clone(),
                    room.id.to_string(),
                    room.name.clone(),
                    room.visibility().label().to_owned(),
                    room.capacity.map(|c| c.to_string()).unwrap_or_default(),
                    units
                        .iter()
                        .map(|u| u.name.as_str())
                        .collect::<Vec<_>>()
                        .join("; "),
                    combo_text,
                    room_equipment,
                ])
                .map_err(csv_error)?;
            }
        }
        w.flush().map_err(csv_error)?;
    }
    audit::record(
        db,
        &me.entry(
            "facility.export",
            "facilities".into(),
            "施設情報をCSV出力".into(),
        ),
    )
    .await?;
    let name = format!(
        "facilities-{}.csv",
        Utc::now().with_timezone(&JST).format("%Y%m%d")
    );
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        out,
    )
        .into_response())
}

/// One valid line of a calendar file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CalendarEntry {
    Closure {
        facility_id: i64,
        room_id: Option<i64>,
        date: NaiveDate,
        reason: String,
    },
    Block {
        facility_id: i64,
        room_id: Option<i64>,
        date: NaiveDate,
        range: Option<TimeRange>,
        reason: String,
    },
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RowError {
    pub row: usize,
    pub column: usize,
    pub message: String,
}

pub const CALENDAR_HEADER: [&str; 7] = [
    "施設名",
    "室場名",
    "日付",
    "種別",
    "開始時刻",
    "終了時刻",
    "理由",
];

/// Parses a calendar file against the facilities and rooms the importer may change.
/// Row numbers count the header as row 1, as spreadsheet programs show them.
pub fn parse_calendar(
    text: &str,
    facilities: &[(Facility, Vec<Room>)],
) -> Result<Vec<CalendarEntry>, Vec<RowError>> {
    let mut errors = Vec::new();
    let mut entries = Vec::new();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(text.as_bytes());
    let by_name: BTreeMap<&str, &(Facility, Vec<Room>)> =
        facilities.iter().map(|e| (e.0.name.as_str(), e)).collect();
    for (index, record) in reader.records().enumerate() {
        let row = index + 1;
        let record = match record {
            Ok(r) => r,
            Err(e) => {
                errors.push(RowError {
                    row,
                    column: 1,
                    message: format!("CSVとして読めません: {e}"),
                });
                continue;
            }
        };
        let cell = |c: usize| record.get(c).map(str::trim).unwrap_or("");
        if row == 1 {
            if record.iter().map(str::trim).collect::<Vec<_>>() != CALENDAR_HEADER {
                errors.push(RowError {
                    row,
                    column: 1,
                    message: format!(
                        "1行目は見出し「{}」にしてください。",
                        CALENDAR_HEADER.join(",")
                    ),
                });
            }
            continue;
        }
        if record.iter().all(|c| c.trim().is_empty()) {
            continue;
        }
        let mut err = |column: usize, message: String| {
            errors.push(RowError {
                row,
                column,
                message,
            })
        };
        let Some((facility, rooms)) = by_name.get(cell(0)).map(|e| (&e.0, &e.1)) else {
            err(1, format!("施設「{}」はないか、担当外です。", cell(0)));
            continue;
        };
        let room_id = match cell(1) {
            "" => None,
            name => match rooms.iter().find(|r| r.name == name) {
                Some(r) => Some(r.id),
                None => {
                    err(
                        2,
                        format!("室場「{name}」は{}にありません。", facility.name),
                    );
                    continue;
                }
            },
        };
        let date = NaiveDate::parse_from_str(cell(2), "%Y-%m-%d")
            .or_else(|_| NaiveDate::parse_from_str(cell(2), "%Y/%m/%d"));
        let Ok(date) = date else {
            err(
                3,
                "日付は 2026-04-01 または 2026/4/1 の形で書いてください。".into(),
            );
            continue;
        };
        let reason = cell(6).to_owned();
        if reason.is_empty() {
            err(7, "理由を書いてください。".into());
            continue;
        }
        if reason.chars().count() > 100 {
            err(7, "理由は100文字以内にしてください。".into());
            continue;
        }
        match cell(3) {
            "休館" => {
                if !cell(4).is_empty() || !cell(5).is_empty() {
                    err(
                        5,
                        "休館の行には時刻を書かないでください（終日休館になります）。".into(),
                    );
                    continue;
                }
                entries.push(CalendarEntry::Closure {
                    facility_id: facility.id,
                    room_id,
                    date,
                    reason,
                });
            }
            "利用不可" => {
                let range = match (cell(4), cell(5)) {
                    ("", "") => None,
                    (s, e) => match TimeRange::parse(s, e) {
                        Ok(r) => Some(r),
                        Err(m) => {
                            err(5, m);
                            continue;
                        }
                    },
                };
                entries.push(CalendarEntry::Block {
                    facility_id: facility.id,
                    room_id,
                    date,
                    range,
                    reason,
                });
            }
            other => err(
                4,
                format!("種別「{other}」は使えません。「休館」か「利用不可」を書いてください。"),
            ),
        }
    }
    if entries.is_empty() && errors.is_empty() {
        errors.push(RowError {
            row: 2,
            column: 1,
            message: "取り込む行がありません。".into(),
        });
    }
    if errors.is_empty() {
        Ok(entries)
    } else {
        Err(errors)
    }
}

#[derive(Template)]
#[template(path = "admin/calendar_import.html")]
struct ImportPage {
    layout: Layout,
    errors: Vec<RowError>,
    file_error: Option<String>,
}

pub async fn import_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    let layout = me.page(&state, "利用日カレンダーの取り込み", None).await?;
    render(&ImportPage {
        layout,
        errors: Vec::new(),
        file_error: None,
    })
}

pub async fn import(
    State(state): State<AppState>,
    me: CurrentStaff,
    mut multipart: Multipart,
) -> Result<Response, AppError> {
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
    let layout = || me.page(&state, "利用日カレンダーの取り込み", None);
    let Some(bytes) = bytes.filter(|b| !b.is_empty()) else {
        return render(&ImportPage {
            layout: layout().await?,
            errors: Vec::new(),
            file_error: Some("CSVファイルを選んでください。".into()),
        });
    };
    let text = match decode_text(&bytes) {
        Ok(t) => t,
        Err(m) => {
            return render(&ImportPage {
                layout: layout().await?,
                errors: Vec::new(),
                file_error: Some(m),
            });
        }
    };
    let db = state.db();
    let mut scope = Vec::new();
    for f in facilities::list(db)
        .await?
        .into_iter()
        .filter(|f| me.staff.scope.allows(f.id))
    {
        let rooms = facilities::rooms(db, f.id).await?;
        scope.push((f, rooms));
    }
    let entries = match parse_calendar(&text, &scope) {
        Ok(e) => e,
        Err(errors) => {
            return render(&ImportPage {
                layout: layout().await?,
                errors,
                file_error: None,
            });
        }
    };
    let mut tx = db.begin().await?;
    let (mut closures, mut blocks) = (0, 0);
    for entry in &entries {
        match entry {
            CalendarEntry::Closure {
                facility_id,
                room_id,
                date,
                reason,
            } => {
                catalogue::insert_closure(
                    &mut tx,
                    &ClosureRow {
                        id: 0,
                        facility_id: *facility_id,
                        room_id: *room_id,
                        from_date: *date,
                        to_date: *date,
                        reason: reason.clone(),
                    },
                )
                .await?;
                closures += 1;
            }
            CalendarEntry::Block {
                facility_id,
                room_id,
                date,
                range,
                reason,
            } => {
                catalogue::insert_block(
                    &mut tx,
                    &BlockRow {
                        id: 0,
                        facility_id: *facility_id,
                        room_id: *room_id,
                        combination_id: None,
                        date: *date,
                        start_min: range.map(|r| i64::from(r.start.minutes())),
                        end_min: range.map(|r| i64::from(r.end.minutes())),
                        reason: reason.clone(),
                    },
                )
                .await?;
                blocks += 1;
            }
        }
    }
    me.commit_logged(
        tx,
        "facility.calendar_import",
        "calendar".into(),
        format!("利用日カレンダーを取り込み: 休館{closures}件、利用不可{blocks}件"),
    )
    .await?;
    Ok(Redirect::to("/admin/facilities?done=imported").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn scope() -> Vec<(Facility, Vec<Room>)> {
        let f = Facility {
            id: 1,
            name: "国富町武道館".into(),
            description: String::new(),
            address: String::new(),
            phone: String::new(),
            info_url: String::new(),
            contact: String::new(),
            latitude: None,
            longitude: None,
            change_days_before: 3,
            resident_may_change: true,
            cancel_days_before: 1,
            resident_may_cancel: true,
            activity_free_text: true,
            sort_order: 1,
        };
        let r = Room {
            id: 7,
            facility_id: 1,
            name: "剣道場".into(),
            description: String::new(),
            capacity: None,
            visibility: "public".into(),
            min_minutes: 0,
            sort_order: 1,
        };
        vec![(f, vec![r])]
    }

    #[test]
    fn a_valid_file_parses() {
        let text = "施設名,室場名,日付,種別,開始時刻,終了時刻,理由\n国富町武道館,,2026/12/29,休館,,,年末休館\n国富町武道館,剣道場,2026-12-05,利用不可,9:00,12:00,町剣道大会\n";
        let entries = parse_calendar(text, &scope()).unwrap();
        assert_eq!(entries.len(), 2);
        assert!(matches!(
            entries[1],
            CalendarEntry::Block {
                room_id: Some(7),
                range: Some(_),
                ..
            }
        ));
    }

    #[test]
    fn every_bad_row_is_reported_with_row_and_column() {
        let text = "施設名,室場名,日付,種別,開始時刻,終了時刻,理由\n体育館X,,2026-12-29,休館,,,x\n国富町武道館,弓道場,2026-12-29,休館,,,x\n国富町武道館,,12/29,休館,,,x\n国富町武道館,,2026-12-29,閉鎖,,,x\n国富町武道館,,2026-12-29,利用不可,12:00,9:00,x\n国富町武道館,,2026-12-29,休館,,,\n";
        let errors = parse_calendar(text, &scope()).unwrap_err();
        let at: Vec<(usize, usize)> = errors.iter().map(|e| (e.row, e.column)).collect();
        assert_eq!(at, vec![(2, 1), (3, 2), (4, 3), (5, 4), (6, 5), (7, 7)]);
        assert!(errors.iter().all(|e| !e.message.is_empty()));
    }

    #[test]
    fn the_header_is_checked() {
        let errors = parse_calendar("日付,施設\n", &scope()).unwrap_err();
        assert_eq!((errors[0].row, errors[0].column), (1, 1));
    }
}
