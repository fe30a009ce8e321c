//! Staff change a friend's attributes (M11) and mark test accounts (M12),
//! from the friend's page; every change goes to the operation log with
//! before → after.

use std::collections::BTreeMap;

use askama::Template;
use axum::extract::{Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::attributes::{
    Attribute, AttributeCatalog, AttributeKey, AttributeKind, AttributeValue,
};
use hiroba_domain::datetime::format_date;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::{StoreError, attributes, line};

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

/// Extra empty date inputs offered for a date list (more children).
const EXTRA_DATES: usize = 2;

/// A friend's answer as staff read it.
pub fn describe(attribute: &Attribute, value: &AttributeValue) -> String {
    let label = |k: &hiroba_domain::attributes::OptionKey| {
        attribute
            .option(k)
            .map(|o| o.label.as_str().to_owned())
            .unwrap_or_else(|| k.as_str().to_owned())
    };
    match value {
        AttributeValue::Choice(k) => label(k),
        AttributeValue::Choices(ks) => ks.iter().map(label).collect::<Vec<_>>().join("、"),
        AttributeValue::Number(n) => format!(
            "{n}{}",
            attribute
                .number_range()
                .map(|r| r.unit())
                .unwrap_or_default()
        ),
        AttributeValue::Date(d) => format_date(*d),
        AttributeValue::Dates(ds) => ds
            .iter()
            .map(|d| format_date(*d))
            .collect::<Vec<_>>()
            .join("、"),
        AttributeValue::Text(t) => t.clone(),
    }
}

/// One attribute's answer for the friend page.
pub struct AnswerRow {
    pub name: String,
    pub value: String,
}

/// The friend page's summary of answers (answered attributes only).
pub async fn summary(state: &AppState, friend_id: i64) -> Result<Vec<AnswerRow>, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let answers = attributes::answers(state.db(), friend_id).await?;
    Ok(catalog
        .iter()
        .filter_map(|a| {
            answers.get(a.key()).map(|v| AnswerRow {
                name: a.name().as_str().to_owned(),
                value: describe(a, v),
            })
        })
        .collect())
}

pub struct OptionInput {
    key: String,
    label: String,
    checked: bool,
}

/// One attribute's inputs on the edit form.
pub struct FieldView {
    key: String,
    name: String,
    kind: &'static str,
    options: Vec<OptionInput>,
    value: String,
    dates: Vec<String>,
    unit: String,
}

fn kind_code(kind: AttributeKind) -> &'static str {
    match kind {
        AttributeKind::SingleChoice => "single",
        AttributeKind::MultipleChoice => "multi",
        AttributeKind::Number => "number",
        AttributeKind::Date => "date",
        AttributeKind::DateList => "dates",
        AttributeKind::Text => "text",
    }
}

/// The inputs, filled from the typed form (after an error) or the answers.
fn fields(
    catalog: &AttributeCatalog,
    answers: &BTreeMap<AttributeKey, AttributeValue>,
    typed: Option<&FormData>,
) -> Vec<FieldView> {
    catalog
        .active()
        .map(|a| {
            let key = a.key().as_str().to_owned();
            let current = answers.get(a.key());
            let typed_all: Option<Vec<String>> = typed.map(|f| {
                f.all(&format!("a_{key}"))
                    .into_iter()
                    .map(str::to_owned)
                    .collect()
            });
            let chosen: Vec<String> = match (&typed_all, current) {
                (Some(t), _) => t.clone(),
                (None, Some(AttributeValue::Choice(k))) => vec![k.as_str().to_owned()],
                (None, Some(AttributeValue::Choices(ks))) => {
                    ks.iter().map(|k| k.as_str().to_owned()).collect()
                }
                _ => Vec::new(),
            };
            let value = match (&typed_all, current) {
                (Some(t), _) => t.first().cloned().unwrap_or_default(),
                (None, Some(AttributeValue::Number(n))) => n.to_string(),
                (None, Some(AttributeValue::Date(d))) => d.to_string(),
                (None, Some(AttributeValue::Text(t))) => t.clone(),
                _ => String::new(),
            };
            let mut dates: Vec<String> = match (&typed_all, current) {
                (Some(t), _) => t.clone(),
                (None, Some(AttributeValue::Dates(ds))) => {
                    ds.iter().map(|d| d.to_string()).collect()
                }
                _ => Vec::new(),
            };
            dates.retain(|d| !d.is_empty());
            dates.extend(std::iter::repeat_n(String::new(), EXTRA_DATES));
            FieldView {
                name: a.name().as_str().to_owned(),
                kind: kind_code(a.kind()),
                options: a
                    .options()
                    .iter()
                    .filter(|o| !o.retired || chosen.iter().any(|c| c == o.key.as_str()))
                    .map(|o| OptionInput {
                        key: o.key.as_str().to_owned(),
                        label: o.label.as_str().to_owned(),
                        checked: chosen.iter().any(|c| c == o.key.as_str()),
                    })
                    .collect(),
                value,
                dates,
                unit: a
                    .number_range()
                    .map(|r| r.unit().to_owned())
                    .unwrap_or_default(),
                key,
            }
        })
        .collect()
}

#[derive(Template)]
#[template(path = "admin/friend_attributes.html")]
struct EditPage {
    layout: Layout,
    id: i64,
    fields: Vec<FieldView>,
    errors: FieldErrors,
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let friend = line::find_friend(state.db(), id).await?;
    let catalog = attributes::catalog(state.db()).await?;
    let answers = attributes::answers(state.db(), id).await?;
    let layout = me
        .page(
            &state,
            &format!("属性の変更: {}", display(&friend.display_name)),
            None,
        )
        .await?;
    render(&EditPage {
        layout,
        id,
        fields: fields(&catalog, &answers, None),
        errors: FieldErrors::new(),
    })
}

fn display(name: &str) -> String {
    if name.is_empty() {
        "（名前未取得）".into()
    } else {
        name.to_owned()
    }
}

pub async fn save(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let friend = line::find_friend(state.db(), id).await?;
    let catalog = attributes::catalog(state.db()).await?;
    let before = attributes::answers(state.db(), id).await?;
    let mut errors = FieldErrors::new();
    let mut changes: BTreeMap<AttributeKey, Option<AttributeValue>> = BTreeMap::new();
    let mut summary = Vec::new();
    for a in catalog.active() {
        let field = format!("a_{}", a.key().as_str());
        let inputs: Vec<&str> = form
            .all(&field)
            .into_iter()
            .map(str::trim)
            .filter(|v| !v.is_empty())
            .collect();
        match a.parse_answer(&inputs) {
            Ok(value) => {
                if before.get(a.key()) != value.as_ref() {
                    let show = |v: Option<&AttributeValue>| {
                        v.map(|v| describe(a, v))
                            .unwrap_or_else(|| "（未回答）".into())
                    };
                    summary.push(format!(
                        "{}: {} → {}",
                        a.name().as_str(),
                        show(before.get(a.key())),
                        show(value.as_ref())
                    ));
                    changes.insert(a.key().clone(), value);
                }
            }
            Err(m) => errors.add(&field, m),
        }
    }
    if !errors.is_empty() {
        let layout = me
            .page(
                &state,
                &format!("属性の変更: {}", display(&friend.display_name)),
                None,
            )
            .await?;
        return render(&EditPage {
            layout,
            id,
            fields: fields(&catalog, &before, Some(&form)),
            errors,
        });
    }
    if changes.is_empty() {
        return Ok(Redirect::to(&format!("/admin/line/friends/{id}")).into_response());
    }
    let mut tx = state.db().begin().await?;
    match attributes::write_answers(&mut tx, id, &changes).await {
        Ok(()) => {}
        Err(StoreError::Invalid(m)) => return Err(AppError::BadRequest(m)),
        Err(e) => return Err(e.into()),
    }
    me.commit_logged(
        tx,
        "friend.attributes",
        format!("line_friend:{id}"),
        summary.join("; "),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/friends/{id}?done=saved")).into_response())
}

/// Marks or unmarks a friend as a test account (M12).
pub async fn set_tester(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    line::find_friend(state.db(), id).await?;
    let tester = form.get("tester") == "1";
    let mut tx = state.db().begin().await?;
    attributes::set_test_account(&mut tx, id, tester).await?;
    me.commit_logged(
        tx,
        "friend.tester",
        format!("line_friend:{id}"),
        if tester {
            "テストアカウントに指定".into()
        } else {
            "テストアカウントの指定を解除".into()
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/friends/{id}?done=saved")).into_response())
}
