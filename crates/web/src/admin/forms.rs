//! Staff build forms (issue 6; M05, M06, M08, M26): the list, a new form,
//! the edit page (title, kind, items added, moved and removed, open/close,
//! the first-follow form), results with per-question counts and the CSV, and
//! the staff entry of a form for a friend. Every change goes to the
//! operation log.

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::http::header;
use axum::response::{IntoResponse, Redirect, Response};
use chrono::Utc;
use hiroba_domain::attributes::{AttributeCatalog, AttributeKind};
use hiroba_domain::datetime::format_timestamp;
use hiroba_domain::forms::{FormHeader, FormKind, QuestionKind, parse_item, validate};
use hiroba_domain::permission::Permission;
use hiroba_domain::validation::FieldErrors;
use hiroba_store::forms::{self, StoredForm, Submitter};
use hiroba_store::{StoreError, attributes, line};
use serde::Deserialize;

use super::{DoneQuery, notice, render};
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::error::AppError;
use crate::form::FormData;
use crate::form_view::{self, ItemView};
use crate::view::Layout;

fn kinds() -> Vec<(&'static str, &'static str)> {
    FormKind::ALL
        .into_iter()
        .map(|k| (k.code(), k.label_ja()))
        .collect()
}

pub struct FormRow {
    id: i64,
    title: String,
    kind: &'static str,
    is_open: bool,
    first_follow: bool,
    items: i64,
    responses: i64,
    updated: String,
}

#[derive(Default)]
pub struct HeaderInput {
    title: String,
    description: String,
    kind: String,
}

#[derive(Template)]
#[template(path = "admin/forms.html")]
struct ListPage {
    layout: Layout,
    rows: Vec<FormRow>,
    kinds: Vec<(&'static str, &'static str)>,
    form: HeaderInput,
    errors: FieldErrors,
}

async fn list_page(
    state: &AppState,
    me: &CurrentStaff,
    form: HeaderInput,
    errors: FieldErrors,
    done: Option<&str>,
) -> Result<Response, AppError> {
    let rows = forms::list(state.db())
        .await?
        .into_iter()
        .map(|f| FormRow {
            id: f.id,
            title: f.title,
            kind: f.kind.label_ja(),
            is_open: f.is_open,
            first_follow: f.first_follow,
            items: f.items,
            responses: f.responses,
            updated: format_timestamp(f.updated_at),
        })
        .collect();
    let layout = me.page(state, "フォーム", notice(done)).await?;
    render(&ListPage {
        layout,
        rows,
        kinds: kinds(),
        form,
        errors,
    })
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let input = HeaderInput {
        kind: FormKind::Preference.code().to_owned(),
        ..HeaderInput::default()
    };
    list_page(&state, &me, input, FieldErrors::new(), q.done.as_deref()).await
}

fn header_input(form: &FormData) -> HeaderInput {
    HeaderInput {
        title: form.get("title").to_owned(),
        description: form.get("description").to_owned(),
        kind: form.get("kind").to_owned(),
    }
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    let input = header_input(&form);
    let header = match FormHeader::parse(&input.title, &input.description, &input.kind) {
        Ok(h) => h,
        Err(errors) => return list_page(&state, &me, input, errors, None).await,
    };
    let mut tx = state.db().begin().await?;
    let id = forms::create(&mut tx, &header).await?;
    me.commit_logged(
        tx,
        "form.create",
        format!("form:{id}"),
        format!(
            "フォーム「{}」（{}）を作成",
            header.title,
            header.kind.label_ja()
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}?done=created")).into_response())
}

pub struct ItemRow {
    key: String,
    label: String,
    kind: String,
    required: bool,
    detail: String,
}

#[derive(Default)]
pub struct ItemInput {
    label: String,
    help: String,
    source: String,
    options: String,
    required: bool,
}

#[derive(Template)]
#[template(path = "admin/form_edit.html")]
struct EditPage {
    layout: Layout,
    id: i64,
    header: HeaderInput,
    is_open: bool,
    first_follow: bool,
    for_residents: bool,
    kinds: Vec<(&'static str, &'static str)>,
    items: Vec<ItemRow>,
    attribute_sources: Vec<(String, String)>,
    question_sources: Vec<(String, String)>,
    item: ItemInput,
    errors: FieldErrors,
    link: String,
}

fn item_rows(form: &StoredForm, catalog: &AttributeCatalog) -> Vec<ItemRow> {
    form.items
        .iter()
        .map(|i| {
            let (kind, detail) = match &i.source {
                hiroba_domain::forms::ItemSource::Attribute { key } => match catalog.get(key) {
                    Some(a) => (
                        format!("属性「{}」", a.name()),
                        match a.kind() {
                            AttributeKind::SingleChoice | AttributeKind::MultipleChoice => format!(
                                "{}・選択肢{}個",
                                a.kind().label_ja(),
                                a.active_options().count()
                            ),
                            k => k.label_ja().to_owned(),
                        },
                    ),
                    None => (format!("属性 {key}"), "（見つかりません）".to_owned()),
                },
                hiroba_domain::forms::ItemSource::Question { kind, options } => {
                    (format!("質問（{}）", kind.label_ja()), options.join(" / "))
                }
            };
            ItemRow {
                key: i.key.clone(),
                label: i.label.clone(),
                kind,
                required: i.required,
                detail,
            }
        })
        .collect()
}

/// A `<select>` option: its value and its label.
type Choice = (String, String);

/// What an item may be made from: the active attributes no other item of
/// the form uses (`except` is the item being changed), and the free question
/// kinds, as (value, label) pairs for a select.
fn item_sources(
    catalog: &AttributeCatalog,
    form: &StoredForm,
    except: Option<&str>,
) -> (Vec<Choice>, Vec<Choice>) {
    let used: Vec<_> = form
        .items
        .iter()
        .filter(|i| except != Some(i.key.as_str()))
        .filter_map(|i| i.attribute_key())
        .collect();
    let attribute_sources = catalog
        .active()
        .filter(|a| !used.contains(&a.key()))
        .map(|a| {
            (
                format!("attr:{}", a.key()),
                format!("{}（{}）", a.name(), a.kind().label_ja()),
            )
        })
        .collect();
    let question_sources = QuestionKind::ALL
        .into_iter()
        .map(|k| (format!("q:{}", k.code()), k.label_ja().to_owned()))
        .collect();
    (attribute_sources, question_sources)
}

async fn edit_page(
    state: &AppState,
    me: &CurrentStaff,
    form: &StoredForm,
    header: Option<HeaderInput>,
    item: ItemInput,
    errors: FieldErrors,
    done: Option<&str>,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let (attribute_sources, question_sources) = item_sources(&catalog, form, None);
    let channel =
        line::load_channel(state.db(), state.secrets(), line::Channel::Production).await?;
    let liff_id = channel.map(|c| c.liff_id).unwrap_or_default();
    let layout = me
        .page(
            state,
            &format!("フォームの編集: {}", form.header.title),
            notice(done),
        )
        .await?;
    render(&EditPage {
        layout,
        id: form.id,
        header: header.unwrap_or_else(|| HeaderInput {
            title: form.header.title.clone(),
            description: form.header.description.clone(),
            kind: form.header.kind.code().to_owned(),
        }),
        is_open: form.is_open,
        first_follow: form.first_follow,
        for_residents: form.header.kind.for_residents(),
        kinds: kinds(),
        items: item_rows(form, &catalog),
        attribute_sources,
        question_sources,
        item,
        errors,
        link: crate::liff::form_link(&liff_id, &state.config().public_url, form.id),
    })
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<DoneQuery>,
) -> Result<Response, AppError> {
    let form = forms::get(state.db(), id).await?;
    let item = ItemInput {
        required: false,
        ..ItemInput::default()
    };
    edit_page(
        &state,
        &me,
        &form,
        None,
        item,
        FieldErrors::new(),
        q.done.as_deref(),
    )
    .await
}

pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let stored = forms::get(state.db(), id).await?;
    let input = header_input(&form);
    let header = match FormHeader::parse(&input.title, &input.description, &input.kind) {
        Ok(h) => h,
        Err(errors) => {
            return edit_page(
                &state,
                &me,
                &stored,
                Some(input),
                ItemInput::default(),
                errors,
                None,
            )
            .await;
        }
    };
    let mut tx = state.db().begin().await?;
    forms::update_header(&mut tx, id, &header).await?;
    me.commit_logged(
        tx,
        "form.update",
        format!("form:{id}"),
        format!(
            "フォーム「{}」→「{}」（{}）",
            stored.header.title,
            header.title,
            header.kind.label_ja()
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}?done=saved")).into_response())
}

pub async fn add_item(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let stored = forms::get(state.db(), id).await?;
    let catalog = attributes::catalog(state.db()).await?;
    let input = ItemInput {
        label: form.get("label").to_owned(),
        help: form.get("help").to_owned(),
        source: form.get("source").to_owned(),
        options: form.get("options").to_owned(),
        required: form.get("required") == "1",
    };
    // Checked with a placeholder key first, so a refusal takes no key.
    let checked = parse_item(
        "i0",
        &input.label,
        &input.help,
        input.required,
        &input.source,
        &input.options,
        &catalog,
    );
    let mut item = match checked {
        Ok(item) => item,
        Err(errors) => return edit_page(&state, &me, &stored, None, input, errors, None).await,
    };
    let mut tx = state.db().begin().await?;
    item.key = forms::next_item_key(&mut tx, id).await?;
    match forms::add_item(&mut tx, id, &item).await {
        Ok(()) => {}
        Err(StoreError::Invalid(m)) => {
            drop(tx);
            let mut errors = FieldErrors::new();
            errors.add("source", m);
            return edit_page(&state, &me, &stored, None, input, errors, None).await;
        }
        Err(e) => return Err(e.into()),
    }
    me.commit_logged(
        tx,
        "form.item_add",
        format!("form:{id}"),
        format!("「{}」に項目「{}」を追加", stored.header.title, item.label),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}?done=saved#items")).into_response())
}

fn item_label(form: &StoredForm, key: &str) -> Result<String, AppError> {
    form.items
        .iter()
        .find(|i| i.key == key)
        .map(|i| i.label.clone())
        .ok_or(AppError::NotFound)
}

pub async fn move_item(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, key)): Path<(i64, String)>,
    form: FormData,
) -> Result<Response, AppError> {
    let stored = forms::get(state.db(), id).await?;
    let label = item_label(&stored, &key)?;
    let up = form.get("dir") == "up";
    let mut tx = state.db().begin().await?;
    forms::move_item(&mut tx, id, &key, up).await?;
    me.commit_logged(
        tx,
        "form.item_move",
        format!("form:{id}"),
        format!(
            "「{}」の項目「{label}」を{}へ",
            stored.header.title,
            if up { "上" } else { "下" }
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}#items")).into_response())
}

pub async fn remove_item(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, key)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let stored = forms::get(state.db(), id).await?;
    let label = item_label(&stored, &key)?;
    let mut tx = state.db().begin().await?;
    forms::remove_item(&mut tx, id, &key).await?;
    me.commit_logged(
        tx,
        "form.item_remove",
        format!("form:{id}"),
        format!("「{}」の項目「{label}」を削除", stored.header.title),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}?done=deleted#items")).into_response())
}

pub async fn set_open(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let stored = forms::get(state.db(), id).await?;
    let open = form.get("open") == "1";
    if open && stored.items.is_empty() {
        let mut errors = FieldErrors::new();
        errors.add("open", "項目を1つ以上追加してから公開してください。");
        return edit_page(
            &state,
            &me,
            &stored,
            None,
            ItemInput::default(),
            errors,
            None,
        )
        .await;
    }
    let mut tx = state.db().begin().await?;
    forms::set_open(&mut tx, id, open).await?;
    me.commit_logged(
        tx,
        if open { "form.open" } else { "form.close" },
        format!("form:{id}"),
        format!(
            "フォーム「{}」の受付を{}",
            stored.header.title,
            if open { "開始" } else { "終了" }
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}?done=saved")).into_response())
}

pub async fn set_first_follow(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    form: FormData,
) -> Result<Response, AppError> {
    let stored = forms::get(state.db(), id).await?;
    let on = form.get("on") == "1";
    let mut tx = state.db().begin().await?;
    let target = if on {
        Some(id)
    } else if stored.first_follow {
        None
    } else {
        return Ok(Redirect::to(&format!("/admin/line/forms/{id}")).into_response());
    };
    match forms::set_first_follow(&mut tx, target).await {
        Ok(()) => {}
        Err(StoreError::Invalid(m)) => return Err(AppError::Refused(m)),
        Err(e) => return Err(e.into()),
    }
    me.commit_logged(
        tx,
        "form.first_follow",
        format!("form:{id}"),
        if on {
            format!("「{}」を友だち追加時のフォームに指定", stored.header.title)
        } else {
            format!("「{}」の友だち追加時の指定を解除", stored.header.title)
        },
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}?done=saved")).into_response())
}

/// Results are for staff with the forms or the statistics permission.
async fn require_results(state: &AppState, me: &CurrentStaff) -> Result<(), AppError> {
    if me.staff.may(Permission::Forms) || me.staff.may(Permission::Statistics) {
        return Ok(());
    }
    let entry = me.entry(
        "access.denied",
        format!("GET {}", me.path),
        "権限「フォーム」または「統計」がありません".to_owned(),
    );
    hiroba_store::audit::record(state.db(), &entry).await?;
    Err(AppError::Forbidden)
}

pub struct CountRow {
    label: String,
    answered: i64,
    options: Vec<(String, i64)>,
}

#[derive(Template)]
#[template(path = "admin/form_results.html")]
struct ResultsPage {
    layout: Layout,
    id: i64,
    total: usize,
    counts: Vec<CountRow>,
    may_edit: bool,
}

pub async fn results(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_results(&state, &me).await?;
    let form = forms::get(state.db(), id).await?;
    let catalog = attributes::catalog(state.db()).await?;
    let responses = forms::responses(state.db(), id).await?;
    let counts = forms::counts(&form, &catalog, &responses)
        .into_iter()
        .map(|c| CountRow {
            label: c.label,
            answered: c.answered,
            options: c.options,
        })
        .collect();
    let layout = me
        .page(&state, &format!("回答の集計: {}", form.header.title), None)
        .await?;
    render(&ResultsPage {
        layout,
        id,
        total: responses.len(),
        counts,
        may_edit: me.staff.may(Permission::Forms),
    })
}

pub async fn results_csv(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    require_results(&state, &me).await?;
    let form = forms::get(state.db(), id).await?;
    let catalog = attributes::catalog(state.db()).await?;
    let responses = forms::responses(state.db(), id).await?;
    let rows = forms::csv_rows(&form, &catalog, &responses);
    let mut out = Vec::from("\u{feff}".as_bytes());
    {
        let mut w = csv::WriterBuilder::new()
            .terminator(csv::Terminator::CRLF)
            .from_writer(&mut out);
        for row in &rows {
            w.write_record(row)
                .map_err(|e| AppError::Internal(e.to_string()))?;
        }
        w.flush().map_err(|e| AppError::Internal(e.to_string()))?;
    }
    hiroba_store::audit::record(
        state.db(),
        &me.entry(
            "form.export",
            format!("form:{id}"),
            format!("「{}」の回答CSV {}件", form.header.title, responses.len()),
        ),
    )
    .await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8".to_owned()),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"form-{id}-responses.csv\""),
            ),
        ],
        out,
    )
        .into_response())
}

#[derive(Deserialize)]
pub struct EntryQuery {
    #[serde(default)]
    friend: String,
    done: Option<String>,
}

#[derive(Template)]
#[template(path = "admin/form_entry.html")]
struct EntryPage {
    layout: Layout,
    id: i64,
    friend: String,
    friend_name: String,
    needs_friend: bool,
    items: Vec<ItemView>,
    errors: FieldErrors,
}

/// The friend an entry is for: `Ok(None)` when none is given.
async fn entry_friend(state: &AppState, text: &str) -> Result<Option<line::Friend>, String> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let id: i64 = text
        .parse()
        .map_err(|_| "友だちの番号は半角数字で入力してください。".to_owned())?;
    match line::find_friend(state.db(), id).await {
        Ok(f) => Ok(Some(f)),
        Err(_) => Err(format!("番号{id}の友だちは見つかりません。")),
    }
}

async fn entry_page(
    state: &AppState,
    me: &CurrentStaff,
    form: &StoredForm,
    friend_text: &str,
    values: Option<std::collections::BTreeMap<String, Vec<String>>>,
    mut errors: FieldErrors,
    done: Option<&str>,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let friend = match entry_friend(state, friend_text).await {
        Ok(f) => f,
        Err(m) => {
            errors.add("friend", m);
            None
        }
    };
    let values = match (values, &friend) {
        (Some(v), _) => v,
        (None, Some(f)) => {
            let current = attributes::answers(state.db(), f.id).await?;
            let latest = forms::latest_response(state.db(), form.id, f.id).await?;
            form_view::prefill(&form.items, &current, latest.as_ref().map(|l| &l.1))
        }
        (None, None) => Default::default(),
    };
    let layout = me
        .page(
            state,
            &format!("職員による入力: {}", form.header.title),
            notice(done),
        )
        .await?;
    render(&EntryPage {
        layout,
        id: form.id,
        friend: friend_text.trim().to_owned(),
        friend_name: friend
            .map(|f| {
                if f.display_name.is_empty() {
                    format!("番号{}（名前未取得）", f.id)
                } else {
                    f.display_name
                }
            })
            .unwrap_or_default(),
        needs_friend: form.header.kind.writes_attributes(),
        items: form_view::items(&form.items, &catalog, &values),
        errors,
    })
}

pub async fn entry_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<EntryQuery>,
) -> Result<Response, AppError> {
    let form = forms::get(state.db(), id).await?;
    entry_page(
        &state,
        &me,
        &form,
        &q.friend,
        None,
        FieldErrors::new(),
        q.done.as_deref(),
    )
    .await
}

pub async fn entry(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    data: FormData,
) -> Result<Response, AppError> {
    let form = forms::get(state.db(), id).await?;
    let catalog = attributes::catalog(state.db()).await?;
    let friend_text = data.get("friend").to_owned();
    let inputs = form_view::posted(&form.items, &data);
    let mut errors = FieldErrors::new();
    let friend = match entry_friend(&state, &friend_text).await {
        Ok(f) => f,
        Err(m) => {
            errors.add("friend", m);
            None
        }
    };
    if friend.is_none() && errors.is_empty() && form.header.kind.writes_attributes() {
        errors.add("friend", "登録フォームは、友だちの番号を入力してください。");
    }
    let submission = match validate(form.header.kind, &form.items, &catalog, &inputs) {
        Ok(s) if errors.is_empty() => s,
        Ok(_) => {
            return entry_page(&state, &me, &form, &friend_text, Some(inputs), errors, None).await;
        }
        Err(e) => {
            for (field, message) in e.iter() {
                errors.add(field, message);
            }
            return entry_page(&state, &me, &form, &friend_text, Some(inputs), errors, None).await;
        }
    };
    let friend_id = friend.as_ref().map(|f| f.id);
    let mut tx = state.db().begin().await?;
    let who = Submitter {
        friend_id,
        staff_id: Some(me.staff.id),
    };
    let response = match forms::submit(&mut tx, id, form.header.kind, who, &submission, Utc::now())
        .await
    {
        Ok(r) => r,
        Err(StoreError::Invalid(m)) => {
            drop(tx);
            errors.add("friend", m);
            return entry_page(&state, &me, &form, &friend_text, Some(inputs), errors, None).await;
        }
        Err(e) => return Err(e.into()),
    };
    me.commit_logged(
        tx,
        "form.entry",
        format!("form:{id}"),
        format!(
            "「{}」に職員が入力（回答{response}、{}）",
            form.header.title,
            friend_id.map_or_else(
                || "友だちの指定なし".to_owned(),
                |f| format!("line_friend:{f}")
            )
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}/entry?done=saved")).into_response())
}

#[derive(Template)]
#[template(path = "admin/form_item.html")]
struct ItemPage {
    layout: Layout,
    id: i64,
    key: String,
    attribute_sources: Vec<(String, String)>,
    question_sources: Vec<(String, String)>,
    item: ItemInput,
    errors: FieldErrors,
}

async fn item_page(
    state: &AppState,
    me: &CurrentStaff,
    form: &StoredForm,
    key: &str,
    item: ItemInput,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let (attribute_sources, question_sources) = item_sources(&catalog, form, Some(key));
    let layout = me
        .page(state, &format!("項目の変更: {}", form.header.title), None)
        .await?;
    render(&ItemPage {
        layout,
        id: form.id,
        key: key.to_owned(),
        attribute_sources,
        question_sources,
        item,
        errors,
    })
}

pub async fn edit_item_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, key)): Path<(i64, String)>,
) -> Result<Response, AppError> {
    let form = forms::get(state.db(), id).await?;
    let item = form
        .items
        .iter()
        .find(|i| i.key == key)
        .ok_or(AppError::NotFound)?;
    let (source, options) = match &item.source {
        hiroba_domain::forms::ItemSource::Attribute { key } => {
            (format!("attr:{key}"), String::new())
        }
        hiroba_domain::forms::ItemSource::Question { kind, options } => {
            (format!("q:{}", kind.code()), options.join("\n"))
        }
    };
    let input = ItemInput {
        label: item.label.clone(),
        help: item.help.clone(),
        source,
        options,
        required: item.required,
    };
    item_page(&state, &me, &form, &key, input, FieldErrors::new()).await
}

pub async fn update_item(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path((id, key)): Path<(i64, String)>,
    form: FormData,
) -> Result<Response, AppError> {
    let stored = forms::get(state.db(), id).await?;
    let before = item_label(&stored, &key)?;
    let catalog = attributes::catalog(state.db()).await?;
    let input = ItemInput {
        label: form.get("label").to_owned(),
        help: form.get("help").to_owned(),
        source: form.get("source").to_owned(),
        options: form.get("options").to_owned(),
        required: form.get("required") == "1",
    };
    let item = match parse_item(
        &key,
        &input.label,
        &input.help,
        input.required,
        &input.source,
        &input.options,
        &catalog,
    ) {
        Ok(item) => item,
        Err(errors) => return item_page(&state, &me, &stored, &key, input, errors).await,
    };
    let mut tx = state.db().begin().await?;
    match forms::update_item(&mut tx, id, &item).await {
        Ok(()) => {}
        Err(StoreError::Invalid(m)) => {
            drop(tx);
            let mut errors = FieldErrors::new();
            errors.add("source", m);
            return item_page(&state, &me, &stored, &key, input, errors).await;
        }
        Err(e) => return Err(e.into()),
    }
    me.commit_logged(
        tx,
        "form.item_update",
        format!("form:{id}"),
        format!(
            "「{}」の項目「{before}」→「{}」{}",
            stored.header.title,
            item.label,
            if item.required { "（必須）" } else { "" }
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/forms/{id}?done=saved#items")).into_response())
}
