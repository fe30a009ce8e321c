//! Friend attributes (属性, issue 6; M09): staff add, rename, reorder and
//! retire attributes and their options without programming. Retiring hides an
//! attribute or option from new forms and segments; answers already given are
//! kept and still shown.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use hiroba_domain::attributes::{
    Attribute, AttributeKey, AttributeKind, AttributeName, AttributeParts, ChoiceOption,
    NumberRange, OptionKey, OptionLabel,
};
use hiroba_domain::validation::FieldErrors;
use hiroba_store::{StoreError, attributes};

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

pub struct AttributeRow {
    key: String,
    name: String,
    kind: &'static str,
    options: usize,
    retired: bool,
}

#[derive(Default)]
pub struct NewForm {
    key: String,
    name: String,
    kind: String,
    options: String,
    min: String,
    max: String,
    unit: String,
}

#[derive(Template)]
#[template(path = "admin/attributes.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<AttributeRow>,
    kinds: Vec<(&'static str, &'static str)>,
    form: NewForm,
    errors: FieldErrors,
}

const KINDS: [AttributeKind; 6] = [
    AttributeKind::SingleChoice,
    AttributeKind::MultipleChoice,
    AttributeKind::Number,
    AttributeKind::Date,
    AttributeKind::DateList,
    AttributeKind::Text,
];

async fn list_page(
    state: &AppState,
    me: &CurrentStaff,
    form: NewForm,
    errors: FieldErrors,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let rows = catalog
        .iter()
        .map(|a| AttributeRow {
            key: a.key().as_str().to_owned(),
            name: a.name().as_str().to_owned(),
            kind: a.kind().label_ja(),
            options: a.active_options().count(),
            retired: a.is_retired(),
        })
        .collect();
    let layout = me
        .page(state, "属性（友だちの情報の項目）", notice_text)
        .await?;
    render(&ListPage {
        layout,
        rows,
        kinds: KINDS.iter().map(|k| (k.code(), k.label_ja())).collect(),
        form,
        errors,
    })
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    list_page(
        &state,
        &me,
        NewForm {
            kind: "single_choice".into(),
            ..NewForm::default()
        },
        FieldErrors::new(),
        notice(q.done.as_deref()),
    )
    .await
}

fn option_lines(raw: &str) -> Result<Vec<ChoiceOption>, String> {
    let mut options = Vec::new();
    for (i, line) in raw
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .enumerate()
    {
        let index = u16::try_from(i).map_err(|_| "選択肢が多すぎます。".to_owned())?;
        let label = OptionLabel::parse(line).map_err(|e| format!("{}行目: {e}", i + 1))?;
        options.push(ChoiceOption::new(
            OptionKey::numbered(index),
            index,
            label,
            u32::from(index) * 10,
        ));
    }
    if options.is_empty() {
        return Err("選択肢を1行に1つずつ入力してください。".into());
    }
    Ok(options)
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    let typed = NewForm {
        key: form.get("key").trim().to_owned(),
        name: form.get("name").trim().to_owned(),
        kind: form.get("kind").to_owned(),
        options: form.get("options").to_owned(),
        min: form.get("min").trim().to_owned(),
        max: form.get("max").trim().to_owned(),
        unit: form.get("unit").trim().to_owned(),
    };
    let mut errors = FieldErrors::new();
    let key = errors.take("key", AttributeKey::parse(&typed.key));
    let name = errors.take("name", AttributeName::parse(&typed.name));
    let kind = errors.take(
        "kind",
        AttributeKind::from_code(&typed.kind).ok_or_else(|| "種類を選んでください。".to_owned()),
    );
    let options = match kind {
        Some(k) if k.is_choice() => errors.take("options", option_lines(&typed.options)),
        _ => Some(Vec::new()),
    };
    let number = match kind {
        Some(AttributeKind::Number) => {
            let parse = |raw: &str, field: &str, errors: &mut FieldErrors| {
                errors.take(
                    field,
                    raw.parse::<i64>()
                        .map_err(|_| "半角の整数で入力してください。".to_owned()),
                )
            };
            let min = parse(&typed.min, "min", &mut errors);
            let max = parse(&typed.max, "max", &mut errors);
            match (min, max) {
                (Some(min), Some(max)) => errors
                    .take("max", NumberRange::new(min, max, &typed.unit))
                    .map(Some),
                _ => None,
            }
        }
        _ => Some(None),
    };
    let catalog = attributes::catalog(state.db()).await?;
    let position = catalog.iter().map(Attribute::position).max().unwrap_or(0) + 10;
    let (Some(key), Some(name), Some(kind), Some(options), Some(number)) =
        (key, name, kind, options, number)
    else {
        return list_page(&state, &me, typed, errors, None).await;
    };
    let attribute = match Attribute::new(AttributeParts {
        key,
        name,
        kind,
        options,
        number,
        position,
        retired: false,
    }) {
        Ok(a) => a,
        Err(m) => {
            errors.add("options", m);
            return list_page(&state, &me, typed, errors, None).await;
        }
    };
    let mut tx = state.db().begin().await?;
    match attributes::create(&mut tx, &attribute).await {
        Ok(_) => {}
        Err(StoreError::Duplicate(what)) => {
            drop(tx);
            let (field, message) = if what == "key" {
                ("key", "この記号はすでに使われています。")
            } else {
                ("name", "同じ名前の項目がすでにあります。")
            };
            errors.add(field, message);
            return list_page(&state, &me, typed, errors, None).await;
        }
        Err(StoreError::Invalid(m)) => {
            drop(tx);
            errors.add("key", m);
            return list_page(&state, &me, typed, errors, None).await;
        }
        Err(e) => return Err(e.into()),
    }
    me.commit_logged(
        tx,
        "attribute.create",
        format!("attribute:{}", attribute.key().as_str()),
        format!(
            "属性「{}」（{}）を追加",
            attribute.name().as_str(),
            attribute.kind().label_ja()
        ),
    )
    .await?;
    Ok(Redirect::to("/admin/line/attributes?done=created").into_response())
}

/// Moves an attribute up or down the list.
pub async fn move_attribute(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(key): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let key = AttributeKey::parse(&key).map_err(|_| AppError::NotFound)?;
    let catalog = attributes::catalog(state.db()).await?;
    let mut keys: Vec<AttributeKey> = catalog.iter().map(|a| a.key().clone()).collect();
    let i = keys
        .iter()
        .position(|k| *k == key)
        .ok_or(AppError::NotFound)?;
    let j = match form.get("dir") {
        "up" if i > 0 => i - 1,
        "down" if i + 1 < keys.len() => i + 1,
        _ => return Ok(Redirect::to("/admin/line/attributes").into_response()),
    };
    keys.swap(i, j);
    let mut tx = state.db().begin().await?;
    attributes::reorder(&mut tx, &keys).await?;
    me.commit_logged(
        tx,
        "attribute.reorder",
        format!("attribute:{}", key.as_str()),
        format!(
            "「{}」を{}へ移動",
            key.as_str(),
            if j < i { "上" } else { "下" }
        ),
    )
    .await?;
    Ok(Redirect::to("/admin/line/attributes?done=saved").into_response())
}

pub struct OptionRow {
    key: String,
    label: String,
    retired: bool,
}

#[derive(Template)]
#[template(path = "admin/attribute.html")]
struct EditPage {
    layout: Layout,
    key: String,
    attr_name: String,
    kind: &'static str,
    choice: bool,
    retired: bool,
    options: Vec<OptionRow>,
    errors: FieldErrors,
    new_option: String,
}

async fn edit_page(
    state: &AppState,
    me: &CurrentStaff,
    key: &AttributeKey,
    errors: FieldErrors,
    new_option: String,
    notice_text: Option<String>,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let a = catalog.get(key).ok_or(AppError::NotFound)?;
    let mut options: Vec<&ChoiceOption> = a.options().iter().collect();
    options.sort_by_key(|o| (o.position, o.index));
    let layout = me
        .page(
            state,
            &format!("属性「{}」", a.name().as_str()),
            notice_text,
        )
        .await?;
    render(&EditPage {
        layout,
        key: key.as_str().to_owned(),
        attr_name: a.name().as_str().to_owned(),
        kind: a.kind().label_ja(),
        choice: a.kind().is_choice(),
        retired: a.is_retired(),
        options: options
            .into_iter()
            .map(|o| OptionRow {
                key: o.key.as_str().to_owned(),
                label: o.label.as_str().to_owned(),
                retired: o.retired,
            })
            .collect(),
        errors,
        new_option,
    })
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(key): Path<String>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let key = AttributeKey::parse(&key).map_err(|_| AppError::NotFound)?;
    edit_page(
        &state,
        &me,
        &key,
        FieldErrors::new(),
        String::new(),
        notice(q.done.as_deref()),
    )
    .await
}

/// Every change of one attribute, chosen by the button pressed (`action`).
pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(key): Path<String>,
    form: FormData,
) -> Result<Response, AppError> {
    let key = AttributeKey::parse(&key).map_err(|_| AppError::NotFound)?;
    let catalog = attributes::catalog(state.db()).await?;
    let a = catalog.get(&key).ok_or(AppError::NotFound)?.clone();
    let action = form.get("action");
    let mut errors = FieldErrors::new();
    let option_of = |raw: &str| OptionKey::parse(raw).map_err(|_| AppError::NotFound);
    let mut tx = state.db().begin().await?;
    let outcome: Result<String, StoreError> = match action.split_once(':') {
        None if action == "rename" => match AttributeName::parse(form.get("name")) {
            Ok(name) => {
                let summary = format!("「{}」→「{}」", a.name().as_str(), name.as_str());
                attributes::rename(&mut tx, &key, name)
                    .await
                    .map(|()| summary)
            }
            Err(m) => Err(StoreError::Invalid(m)),
        },
        None if action == "retire" || action == "restore" => {
            let retire = action == "retire";
            attributes::set_retired(&mut tx, &key, retire)
                .await
                .map(|()| {
                    if retire {
                        "使用を停止"
                    } else {
                        "使用を再開"
                    }
                    .to_owned()
                })
        }
        None if action == "add_option" => match OptionLabel::parse(form.get("new_option")) {
            Ok(label) => {
                let summary = format!("選択肢「{}」を追加", label.as_str());
                attributes::add_option(&mut tx, &key, None, label)
                    .await
                    .map(|_| summary)
            }
            Err(m) => Err(StoreError::Invalid(m)),
        },
        Some(("rename_option", option)) => {
            let option = option_of(option)?;
            match OptionLabel::parse(form.get(&format!("label_{}", option.as_str()))) {
                Ok(label) => {
                    let summary = format!("選択肢 {} を「{}」に", option.as_str(), label.as_str());
                    attributes::rename_option(&mut tx, &key, &option, label)
                        .await
                        .map(|()| summary)
                }
                Err(m) => Err(StoreError::Invalid(m)),
            }
        }
        Some((verb @ ("retire_option" | "restore_option"), option)) => {
            let option = option_of(option)?;
            let retire = verb == "retire_option";
            attributes::set_option_retired(&mut tx, &key, &option, retire)
                .await
                .map(|()| {
                    format!(
                        "選択肢 {} の{}",
                        option.as_str(),
                        if retire {
                            "使用を停止"
                        } else {
                            "使用を再開"
                        }
                    )
                })
        }
        Some((dir @ ("option_up" | "option_down"), option)) => {
            let option = option_of(option)?;
            let mut order: Vec<&ChoiceOption> = a.options().iter().collect();
            order.sort_by_key(|o| (o.position, o.index));
            let mut keys: Vec<OptionKey> = order.iter().map(|o| o.key.clone()).collect();
            let i = keys
                .iter()
                .position(|k| *k == option)
                .ok_or(AppError::NotFound)?;
            let j = if dir == "option_up" {
                i.checked_sub(1)
            } else {
                (i + 1 < keys.len()).then_some(i + 1)
            };
            match j {
                Some(j) => {
                    keys.swap(i, j);
                    attributes::reorder_options(&mut tx, &key, &keys)
                        .await
                        .map(|()| format!("選択肢 {} を移動", option.as_str()))
                }
                None => Ok(String::new()),
            }
        }
        _ => return Err(AppError::BadRequest("操作を選び直してください。".into())),
    };
    match outcome {
        Ok(summary) if summary.is_empty() => {}
        Ok(summary) => {
            me.commit_logged(
                tx,
                "attribute.update",
                format!("attribute:{}", key.as_str()),
                format!("「{}」: {summary}", a.name().as_str()),
            )
            .await?;
            return Ok(Redirect::to(&format!(
                "/admin/line/attributes/{}?done=saved",
                key.as_str()
            ))
            .into_response());
        }
        Err(StoreError::Invalid(m)) => {
            drop(tx);
            let field = match action {
                "rename" => "name",
                "add_option" => "new_option",
                _ => "options",
            };
            errors.add(field, m);
        }
        Err(StoreError::Duplicate(_)) => {
            drop(tx);
            errors.add("name", "同じ名前の項目がすでにあります。");
        }
        Err(e) => return Err(e.into()),
    }
    edit_page(
        &state,
        &me,
        &key,
        errors,
        form.get("new_option").to_owned(),
        None,
    )
    .await
}
