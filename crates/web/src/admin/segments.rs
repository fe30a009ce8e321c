//! Segments (セグメント, issue 6; M05, M09): staff describe who a delivery is
//! for as rows of conditions on friends' attributes, combined with 「すべて」
//! (AND) or 「いずれか」 (OR), each row optionally negated (「〜でない」); any
//! deeper AND/OR/NOT tree can be entered as JSON. The number of matching
//! friends is shown live (a small script posts the form to `/count`; without
//! JS a button does the same) and the segment is saved for reuse.

use std::collections::BTreeSet;

use askama::Template;
use axum::Json;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::attributes::{AttributeCatalog, AttributeKey, AttributeKind, OptionKey};
use hiroba_domain::segment::{
    AgeRange, AgeUnit, Condition, FriendStatus, Predicate, Segment, SegmentName,
};
use hiroba_domain::validation::FieldErrors;
use hiroba_store::line::Channel;
use hiroba_store::{StoreError, attributes, segments};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

/// Rows shown on the form (more can be added).
const MAX_ROWS: usize = 20;
const STATUS: &str = "__status";
const TEST: &str = "__test";

/// One condition row as typed.
#[derive(Debug, Clone, Default)]
pub struct Row {
    attr: String,
    op: String,
    opts: BTreeSet<String>,
    min: String,
    max: String,
    unit: String,
    from: String,
    to: String,
    text: String,
    not: bool,
}

/// An option of a choice attribute, for a row's checkboxes.
pub struct OptionView {
    key: String,
    label: String,
    checked: bool,
}

/// A row with what the template needs to draw it.
pub struct RowView {
    i: usize,
    row: Row,
    kind: &'static str,
    options: Vec<OptionView>,
    ops: Vec<(&'static str, &'static str)>,
    field: String,
}

#[derive(Debug, Clone, Default)]
pub struct SegmentForm {
    name: String,
    combine: String,
    channel: String,
    rows: Vec<Row>,
    json: String,
}

fn kind_code(kind: AttributeKind) -> &'static str {
    match kind {
        AttributeKind::SingleChoice => "single",
        AttributeKind::MultipleChoice => "multi",
        AttributeKind::Number => "number",
        AttributeKind::Date | AttributeKind::DateList => "date",
        AttributeKind::Text => "text",
    }
}

fn ops_for(kind: &str) -> Vec<(&'static str, &'static str)> {
    match kind {
        "single" => vec![("in", "次のどれか"), ("unanswered", "未回答")],
        "multi" => vec![
            ("any", "次のどれかを含む"),
            ("all", "次のすべてを含む"),
            ("unanswered", "未回答"),
        ],
        "number" => vec![("between", "範囲"), ("unanswered", "未回答")],
        "date" => vec![
            ("age", "配信日の年齢・月齢"),
            ("date", "日付の範囲"),
            ("unanswered", "未回答"),
        ],
        "text" => vec![
            ("eq", "と一致"),
            ("contains", "を含む"),
            ("unanswered", "未回答"),
        ],
        "status" => vec![("friend", "友だち"), ("blocked", "ブロック中")],
        "test" => vec![("test", "テストアカウント")],
        _ => Vec::new(),
    }
}

impl SegmentForm {
    fn from_form(form: &FormData) -> Self {
        let mut rows = Vec::new();
        for i in 0..MAX_ROWS {
            let attr = form.get(&format!("c{i}_attr")).trim().to_owned();
            if attr.is_empty() && !form.pairs().iter().any(|(k, _)| k == &format!("c{i}_attr")) {
                continue;
            }
            let get = |f: &str| form.get(&format!("c{i}_{f}")).trim().to_owned();
            rows.push(Row {
                attr,
                op: get("op"),
                opts: form
                    .all(&format!("c{i}_opt"))
                    .into_iter()
                    .map(str::to_owned)
                    .collect(),
                min: get("min"),
                max: get("max"),
                unit: get("unit"),
                from: get("from"),
                to: get("to"),
                text: get("text"),
                not: form.get(&format!("c{i}_not")) == "1",
            });
        }
        Self {
            name: form.get("name").trim().to_owned(),
            combine: match form.get("combine") {
                "or" => "or".into(),
                _ => "and".into(),
            },
            channel: match form.get("channel") {
                "test" => "test".into(),
                _ => "production".into(),
            },
            rows,
            json: form.get("json").trim().to_owned(),
        }
    }

    fn channel(&self) -> Channel {
        Channel::parse(&self.channel).unwrap_or(Channel::Production)
    }

    /// The condition the rows (or the JSON) describe, with Japanese messages
    /// at the rows that are wrong.
    fn condition(&self, catalog: &AttributeCatalog, errors: &mut FieldErrors) -> Option<Condition> {
        if !self.json.is_empty() {
            return match serde_json::from_str::<Condition>(&self.json) {
                Ok(c) => Some(c),
                Err(e) => {
                    errors.add("json", format!("条件（JSON）を読めません: {e}"));
                    None
                }
            };
        }
        let mut leaves = Vec::new();
        for (i, row) in self.rows.iter().enumerate() {
            if row.attr.is_empty() {
                continue;
            }
            match leaf(row, catalog) {
                Ok(p) => {
                    let c = Condition::Leaf(p);
                    leaves.push(if row.not {
                        Condition::Not(Box::new(c))
                    } else {
                        c
                    });
                }
                Err(m) => errors.add(&format!("c{i}_attr"), m),
            }
        }
        if leaves.is_empty() && errors.is_empty() {
            errors.add("c0_attr", "条件を1つ以上指定してください。");
            return None;
        }
        if !errors.is_empty() {
            return None;
        }
        Some(if self.combine == "or" {
            Condition::Or(leaves)
        } else {
            Condition::And(leaves)
        })
    }

    /// Rows for a stored condition; `None` when it is deeper than one
    /// AND/OR of (negated) leaves, which the JSON editor shows instead.
    fn from_condition(name: &str, condition: &Condition, catalog: &AttributeCatalog) -> Self {
        let (combine, parts): (&str, Vec<&Condition>) = match condition {
            Condition::And(of) => ("and", of.iter().collect()),
            Condition::Or(of) => ("or", of.iter().collect()),
            other => ("and", vec![other]),
        };
        let rows: Option<Vec<Row>> = parts
            .iter()
            .map(|c| match c {
                Condition::Leaf(p) => row_of(p, false, catalog),
                Condition::Not(inner) => match inner.as_ref() {
                    Condition::Leaf(p) => row_of(p, true, catalog),
                    _ => None,
                },
                _ => None,
            })
            .collect();
        match rows {
            Some(rows) if rows.len() <= MAX_ROWS => Self {
                name: name.to_owned(),
                combine: combine.into(),
                channel: "production".into(),
                rows,
                json: String::new(),
            },
            _ => Self {
                name: name.to_owned(),
                combine: "and".into(),
                channel: "production".into(),
                rows: Vec::new(),
                json: serde_json::to_string_pretty(condition).unwrap_or_default(),
            },
        }
    }
}

fn number(raw: &str, label: &str) -> Result<Option<i64>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    raw.parse()
        .map(Some)
        .map_err(|_| format!("{label}は半角の整数で入力してください。"))
}

fn date(raw: &str, label: &str) -> Result<Option<chrono::NaiveDate>, String> {
    if raw.is_empty() {
        return Ok(None);
    }
    chrono::NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map(Some)
        .map_err(|_| format!("{label}は 2026-04-01 の形で入力してください。"))
}

fn leaf(row: &Row, catalog: &AttributeCatalog) -> Result<Predicate, String> {
    if row.attr == STATUS {
        return Ok(Predicate::FriendStatus {
            status: if row.op == "blocked" {
                FriendStatus::Blocked
            } else {
                FriendStatus::Friend
            },
        });
    }
    if row.attr == TEST {
        return Ok(Predicate::TestAccount);
    }
    let attribute = AttributeKey::parse(&row.attr)?;
    let a = catalog
        .get(&attribute)
        .ok_or_else(|| "項目を選び直してください。".to_owned())?;
    let name = a.name().as_str().to_owned();
    if row.op == "unanswered" {
        return Ok(Predicate::NotAnswered { attribute });
    }
    let options = || -> Result<Vec<OptionKey>, String> {
        let keys: Vec<OptionKey> = row
            .opts
            .iter()
            .filter_map(|k| OptionKey::parse(k).ok())
            .collect();
        if keys.is_empty() {
            Err(format!("「{name}」の選択肢を1つ以上選んでください。"))
        } else {
            Ok(keys)
        }
    };
    Ok(match (kind_code(a.kind()), row.op.as_str()) {
        ("single", _) => Predicate::ChoiceIn {
            attribute,
            options: options()?,
        },
        ("multi", "all") => Predicate::IncludesAll {
            attribute,
            options: options()?,
        },
        ("multi", _) => Predicate::IncludesAny {
            attribute,
            options: options()?,
        },
        ("number", _) => {
            let min = number(&row.min, "下限")?;
            let max = number(&row.max, "上限")?;
            if min.is_none() && max.is_none() {
                return Err(format!("「{name}」の下限か上限を入力してください。"));
            }
            Predicate::NumberBetween {
                attribute,
                min,
                max,
            }
        }
        ("date", "date") => {
            let from = date(&row.from, "開始日")?;
            let to = date(&row.to, "終了日")?;
            if from.is_none() && to.is_none() {
                return Err(format!("「{name}」の開始日か終了日を入力してください。"));
            }
            Predicate::DateBetween {
                attribute,
                from,
                to,
            }
        }
        ("date", _) => {
            let unit = match row.unit.as_str() {
                "days" => AgeUnit::Days,
                "years" => AgeUnit::Years,
                _ => AgeUnit::Months,
            };
            let bound = |raw: &str, label: &str| -> Result<Option<u32>, String> {
                number(raw, label)?
                    .map(|n| {
                        u32::try_from(n).map_err(|_| format!("{label}は0以上にしてください。"))
                    })
                    .transpose()
            };
            let age = AgeRange::new(unit, bound(&row.min, "下限")?, bound(&row.max, "上限")?)?;
            Predicate::AgeBetween { attribute, age }
        }
        ("text", "eq") => Predicate::TextEquals {
            attribute,
            text: row.text.clone(),
        },
        ("text", _) => Predicate::TextContains {
            attribute,
            text: row.text.clone(),
        },
        _ => return Err("条件の種類を選び直してください。".into()),
    })
}

fn row_of(p: &Predicate, not: bool, catalog: &AttributeCatalog) -> Option<Row> {
    let mut row = Row {
        not,
        ..Row::default()
    };
    let opts = |o: &[OptionKey]| o.iter().map(|k| k.as_str().to_owned()).collect();
    match p {
        Predicate::FriendStatus { status } => {
            row.attr = STATUS.into();
            row.op = match status {
                FriendStatus::Friend => "friend",
                FriendStatus::Blocked => "blocked",
            }
            .into();
        }
        Predicate::TestAccount => {
            row.attr = TEST.into();
            row.op = "test".into();
        }
        Predicate::ChoiceIn { attribute, options } => {
            row.attr = attribute.as_str().into();
            row.op = "in".into();
            row.opts = opts(options);
        }
        Predicate::IncludesAny { attribute, options } => {
            row.attr = attribute.as_str().into();
            row.op = "any".into();
            row.opts = opts(options);
        }
        Predicate::IncludesAll { attribute, options } => {
            row.attr = attribute.as_str().into();
            row.op = "all".into();
            row.opts = opts(options);
        }
        Predicate::NotAnswered { attribute } => {
            row.attr = attribute.as_str().into();
            row.op = "unanswered".into();
        }
        Predicate::NumberBetween {
            attribute,
            min,
            max,
        } => {
            row.attr = attribute.as_str().into();
            row.op = "between".into();
            row.min = min.map(|v| v.to_string()).unwrap_or_default();
            row.max = max.map(|v| v.to_string()).unwrap_or_default();
        }
        Predicate::AgeBetween { attribute, age } => {
            row.attr = attribute.as_str().into();
            row.op = "age".into();
            row.unit = match age.unit {
                AgeUnit::Days => "days",
                AgeUnit::Months => "months",
                AgeUnit::Years => "years",
            }
            .into();
            row.min = age.min.map(|v| v.to_string()).unwrap_or_default();
            row.max = age.max.map(|v| v.to_string()).unwrap_or_default();
        }
        Predicate::DateBetween {
            attribute,
            from,
            to,
        } => {
            row.attr = attribute.as_str().into();
            row.op = "date".into();
            row.from = from.map(|d| d.to_string()).unwrap_or_default();
            row.to = to.map(|d| d.to_string()).unwrap_or_default();
        }
        Predicate::TextEquals { attribute, text } => {
            row.attr = attribute.as_str().into();
            row.op = "eq".into();
            row.text = text.clone();
        }
        Predicate::TextContains { attribute, text } => {
            row.attr = attribute.as_str().into();
            row.op = "contains".into();
            row.text = text.clone();
        }
    }
    (row.attr == STATUS
        || row.attr == TEST
        || catalog.get(&AttributeKey::parse(&row.attr).ok()?).is_some())
    .then_some(row)
}

fn row_views(form: &SegmentForm, catalog: &AttributeCatalog) -> Vec<RowView> {
    let mut rows = form.rows.clone();
    if rows.is_empty() {
        rows.push(Row::default());
    }
    rows.into_iter()
        .enumerate()
        .map(|(i, row)| {
            let attribute = AttributeKey::parse(&row.attr)
                .ok()
                .and_then(|k| catalog.get(&k).cloned());
            let kind = match (row.attr.as_str(), &attribute) {
                (STATUS, _) => "status",
                (TEST, _) => "test",
                (_, Some(a)) => kind_code(a.kind()),
                _ => "",
            };
            let options = attribute
                .as_ref()
                .map(|a| {
                    a.options()
                        .iter()
                        .filter(|o| !o.retired || row.opts.contains(o.key.as_str()))
                        .map(|o| OptionView {
                            key: o.key.as_str().to_owned(),
                            label: o.label.as_str().to_owned(),
                            checked: row.opts.contains(o.key.as_str()),
                        })
                        .collect()
                })
                .unwrap_or_default();
            RowView {
                i,
                kind,
                options,
                ops: ops_for(kind),
                field: format!("c{i}_attr"),
                row,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/segment_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    id: Option<i64>,
    form: SegmentForm,
    rows: Vec<RowView>,
    attributes: Vec<(String, String)>,
    errors: FieldErrors,
    count: Option<i64>,
    description: String,
}

async fn form_page(
    state: &AppState,
    me: &CurrentStaff,
    id: Option<i64>,
    form: SegmentForm,
    errors: FieldErrors,
    count: Option<(i64, String)>,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let title = if id.is_some() {
        "セグメントの編集"
    } else {
        "セグメントの作成"
    };
    let layout = me.page(state, title, None).await?;
    let (count, description) = match count {
        Some((n, d)) => (Some(n), d),
        None => (None, String::new()),
    };
    render(&FormPage {
        layout,
        action: match id {
            Some(id) => format!("/admin/line/segments/{id}"),
            None => "/admin/line/segments/new".into(),
        },
        id,
        rows: row_views(&form, &catalog),
        attributes: catalog
            .active()
            .map(|a| (a.key().as_str().to_owned(), a.name().as_str().to_owned()))
            .collect(),
        form,
        errors,
        count,
        description,
    })
}

pub struct ListRow {
    id: i64,
    name: String,
    description: String,
    updated: String,
}

#[derive(Template)]
#[template(path = "admin/segments.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<ListRow>,
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let rows = segments::list(state.db())
        .await?
        .into_iter()
        .map(|s| ListRow {
            id: s.id,
            name: s.name.as_str().to_owned(),
            description: s.condition.describe_ja(&catalog),
            updated: hiroba_domain::datetime::format_datetime(s.updated_at),
        })
        .collect();
    let layout = me
        .page(&state, "セグメント", notice(q.done.as_deref()))
        .await?;
    render(&ListPage { layout, rows })
}

pub async fn new_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    let form = SegmentForm {
        combine: "and".into(),
        channel: "production".into(),
        ..SegmentForm::default()
    };
    form_page(&state, &me, None, form, FieldErrors::new(), None).await
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let saved = segments::get(state.db(), id).await?;
    let catalog = attributes::catalog(state.db()).await?;
    let form = SegmentForm::from_condition(saved.name.as_str(), &saved.condition, &catalog);
    form_page(&state, &me, Some(id), form, FieldErrors::new(), None).await
}

/// Counts the friends a condition matches today, with its description.
async fn counted(
    state: &AppState,
    form: &SegmentForm,
    condition: &Condition,
    catalog: &AttributeCatalog,
) -> Result<(i64, String), AppError> {
    let today = crate::booking::today();
    let n = segments::count(state.db(), form.channel(), condition, today).await?;
    Ok((n, condition.describe_ja(catalog)))
}

async fn submit(
    state: AppState,
    me: CurrentStaff,
    id: Option<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let mut typed = SegmentForm::from_form(&form);
    let catalog = attributes::catalog(state.db()).await?;
    let action = form.get("action");
    if action == "add" && typed.rows.len() < MAX_ROWS {
        typed.rows.push(Row::default());
        return form_page(&state, &me, id, typed, FieldErrors::new(), None).await;
    }
    if let Some(i) = action
        .strip_prefix("remove_")
        .and_then(|i| i.parse::<usize>().ok())
    {
        if i < typed.rows.len() {
            typed.rows.remove(i);
        }
        return form_page(&state, &me, id, typed, FieldErrors::new(), None).await;
    }
    if action == "refresh" {
        return form_page(&state, &me, id, typed, FieldErrors::new(), None).await;
    }
    let mut errors = FieldErrors::new();
    let condition = typed.condition(&catalog, &mut errors);
    if let Some(c) = &condition
        && let Err(messages) = c.validate(&catalog)
    {
        for m in messages {
            errors.add(
                if typed.json.is_empty() {
                    "c0_attr"
                } else {
                    "json"
                },
                m,
            );
        }
    }
    let condition = condition.filter(|_| errors.is_empty());
    if action == "count" {
        let count = match &condition {
            Some(c) => Some(counted(&state, &typed, c, &catalog).await?),
            None => None,
        };
        return form_page(&state, &me, id, typed, errors, count).await;
    }
    let name = errors.take("name", SegmentName::parse(&typed.name));
    let (Some(condition), Some(name)) = (condition, name) else {
        return form_page(&state, &me, id, typed, errors, None).await;
    };
    let segment = match Segment::new(name, condition, &catalog) {
        Ok(s) => s,
        Err(messages) => {
            for m in messages {
                errors.add("c0_attr", m);
            }
            return form_page(&state, &me, id, typed, errors, None).await;
        }
    };
    let description = segment.condition().describe_ja(&catalog);
    let mut tx = state.db().begin().await?;
    let saved = match id {
        Some(id) => segments::update(&mut tx, id, &segment, me.staff.id)
            .await
            .map(|()| id),
        None => segments::create(&mut tx, &segment, me.staff.id).await,
    };
    let saved_id = match saved {
        Ok(saved_id) => saved_id,
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add("name", "同じ名前のセグメントがすでにあります。");
            return form_page(&state, &me, id, typed, errors, None).await;
        }
        Err(e) => return Err(e.into()),
    };
    me.commit_logged(
        tx,
        if id.is_some() {
            "segment.update"
        } else {
            "segment.create"
        },
        format!("segment:{saved_id}"),
        format!("「{}」: {description}", segment.name().as_str()),
    )
    .await?;
    Ok(Redirect::to("/admin/line/segments?done=saved").into_response())
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    submit(state, me, None, form).await
}

pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    segments::get(state.db(), id).await?;
    submit(state, me, Some(id), form).await
}

pub async fn delete(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let saved = segments::get(state.db(), id).await?;
    if hiroba_store::deliveries::segment_in_use(state.db(), id).await? {
        return Err(AppError::Refused(format!(
            "セグメント「{}」は、まだ配信していない配信で使われているため削除できません。先にその配信の宛先を変えるか、配信を取り消してください。",
            saved.name.as_str()
        )));
    }
    let mut tx = state.db().begin().await?;
    segments::delete(&mut tx, id).await?;
    me.commit_logged(
        tx,
        "segment.delete",
        format!("segment:{id}"),
        format!("「{}」を削除", saved.name.as_str()),
    )
    .await?;
    Ok(Redirect::to("/admin/line/segments?done=deleted").into_response())
}

/// The live count: the form posted by the page's script; JSON back.
pub async fn count(State(state): State<AppState>, form: FormData) -> Result<Response, AppError> {
    let typed = SegmentForm::from_form(&form);
    let catalog = attributes::catalog(state.db()).await?;
    let mut errors = FieldErrors::new();
    let body = match typed.condition(&catalog, &mut errors) {
        Some(c) => match c.validate(&catalog) {
            Ok(()) => {
                let (n, description) = counted(&state, &typed, &c, &catalog).await?;
                serde_json::json!({"count": n, "description": description})
            }
            Err(messages) => serde_json::json!({"error": messages.join(" ")}),
        },
        None => serde_json::json!({
            "error": errors.iter().map(|(_, m)| m.to_owned()).collect::<Vec<_>>().join(" ")
        }),
    };
    Ok(Json(body).into_response())
}
