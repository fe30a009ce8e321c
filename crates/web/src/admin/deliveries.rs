//! Deliveries (配信, issue 6; M07, M12-M15): staff compose up to five
//! messages (the shared composer), choose who gets them (all friends, a saved
//! segment, or the testers) and when (now, a date and time, every week or
//! month, or relative to a registered date), and either confirm at once or
//! ask a second staff member with the send permission to approve (a setting).
//! The delivery page shows each run's progress; a test send goes to the test
//! account only.

use std::collections::BTreeSet;

use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::{Html, IntoResponse, Redirect, Response};
use chrono::{NaiveDate, Utc};
use hiroba_domain::attributes::AttributeKey;
use hiroba_domain::datetime::format_datetime;
use hiroba_domain::permission::Permission;
use hiroba_domain::reminder::{Offset, ReminderRule};
use hiroba_domain::schedule::{MonthDaySet, NthSet, Schedule, SendTime, WeekdaySet};
use hiroba_domain::validation::{FieldErrors, required_text};
use hiroba_store::deliveries::{self, Audience, Delivery, DeliveryDraft, Plan, Status};
use hiroba_store::line::Channel;
use hiroba_store::{attributes, segments, settings};
use serde::Deserialize;

use super::render;
use crate::AppState;
use crate::auth::CurrentStaff;
use crate::composer::{Action, Composer, ComposerState, ComposerView, Posted};
use crate::error::AppError;
use crate::form::FormData;
use crate::view::Layout;

const PREVIEW: &str = "/admin/line/compose/preview";
const PAGE_SIZE: i64 = 50;
/// The setting that makes every delivery wait for a second staff member.
pub const REQUIRE_APPROVAL: &str = "line.require_approval";

pub const WEEKDAYS: [&str; 7] = ["月", "火", "水", "木", "金", "土", "日"];
const NTHS: [(&str, &str); 5] = [
    ("1", "第1"),
    ("2", "第2"),
    ("3", "第3"),
    ("4", "第4"),
    ("最終", "最終"),
];

/// The delivery form as typed (the composer's fields are separate).
#[derive(Debug, Clone, Default)]
pub struct DeliveryForm {
    title: String,
    channel: String,
    audience: String,
    segment_id: String,
    plan: String,
    once_date: String,
    time: String,
    start: String,
    end: String,
    weekdays: BTreeSet<String>,
    days: String,
    nths: BTreeSet<String>,
    r_attribute: String,
    r_offset: String,
    r_n: String,
    memo: String,
}

impl DeliveryForm {
    fn from_form(form: &FormData) -> Self {
        let set = |name: &str| form.all(name).into_iter().map(str::to_owned).collect();
        let get = |name: &str| form.get(name).trim().to_owned();
        Self {
            title: get("title"),
            channel: get("channel"),
            audience: get("audience"),
            segment_id: get("segment_id"),
            plan: get("plan"),
            once_date: get("once_date"),
            time: get("time"),
            start: get("start"),
            end: get("end"),
            weekdays: set("weekdays"),
            days: get("days"),
            nths: set("nths"),
            r_attribute: get("r_attribute"),
            r_offset: get("r_offset"),
            r_n: get("r_n"),
            memo: get("memo"),
        }
    }

    fn of(delivery: &Delivery) -> Self {
        let d = &delivery.draft;
        let mut form = Self {
            title: d.title.clone(),
            channel: d.channel.as_str().into(),
            memo: d.memo.clone(),
            ..Self::default()
        };
        match d.audience {
            Audience::All => form.audience = "all".into(),
            Audience::Testers => form.audience = "testers".into(),
            Audience::Segment(id) => {
                form.audience = "segment".into();
                form.segment_id = id.to_string();
            }
        }
        let time = |t: SendTime| format!("{:02}:{:02}", t.minutes() / 60, t.minutes() % 60);
        match &d.plan {
            Plan::Now => form.plan = "now".into(),
            Plan::Scheduled(s) => {
                use hiroba_domain::schedule::Pattern;
                form.time = time(s.time());
                form.start = s.start().to_string();
                form.end = s.end().map(|e| e.to_string()).unwrap_or_default();
                match s.pattern() {
                    Pattern::Once => {
                        form.plan = "once".into();
                        form.once_date = s.start().to_string();
                        form.end.clear();
                    }
                    Pattern::Weekly(w) => {
                        form.plan = "weekly".into();
                        form.weekdays = weekday_names(w);
                    }
                    Pattern::MonthlyDays(days) => {
                        form.plan = "monthly_days".into();
                        form.days = days.label();
                    }
                    Pattern::MonthlyWeekdays { nths, weekdays } => {
                        form.plan = "monthly_weekdays".into();
                        form.weekdays = weekday_names(weekdays);
                        form.nths = NTHS
                            .iter()
                            .filter(|(code, _)| {
                                NthSet::parse(code).is_ok_and(|one| one.bits() & nths.bits() != 0)
                            })
                            .map(|(code, _)| (*code).to_owned())
                            .collect();
                    }
                }
            }
            Plan::Reminder { rule, start, end } => {
                form.plan = "reminder".into();
                form.time = time(rule.time());
                form.start = start.to_string();
                form.end = end.map(|e| e.to_string()).unwrap_or_default();
                form.r_attribute = rule.attribute().as_str().into();
                let (offset, n) = match rule.offset() {
                    Offset::DaysAfter(n) => ("days_after", n),
                    Offset::MonthsAfter(n) => ("months_after", n),
                    Offset::DaysBefore(n) => ("days_before", n),
                };
                form.r_offset = offset.into();
                form.r_n = n.to_string();
            }
        }
        form
    }
}

fn weekday_names(set: WeekdaySet) -> BTreeSet<String> {
    WEEKDAYS
        .iter()
        .filter(|w| WeekdaySet::parse(w).is_ok_and(|one| one.bits() & set.bits() != 0))
        .map(|w| (*w).to_owned())
        .collect()
}

fn date(raw: &str, what: &str) -> Result<NaiveDate, String> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| format!("{what}を 2026-04-01 の形で入力してください。"))
}

fn optional_date(raw: &str, what: &str) -> Result<Option<NaiveDate>, String> {
    if raw.is_empty() {
        Ok(None)
    } else {
        date(raw, what).map(Some)
    }
}

/// The plan the form describes, with messages at the fields concerned.
fn plan_of(
    form: &DeliveryForm,
    catalog: &hiroba_domain::attributes::AttributeCatalog,
    errors: &mut FieldErrors,
) -> Option<Plan> {
    if form.plan == "now" || form.plan.is_empty() {
        return Some(Plan::Now);
    }
    let time = errors.take("time", SendTime::parse(&form.time));
    if form.plan == "once" {
        let day = errors.take("once_date", date(&form.once_date, "配信日"))?;
        return errors
            .take("once_date", Schedule::once(day, time?))
            .map(Plan::Scheduled);
    }
    let start = errors.take("start", date(&form.start, "開始日"));
    let end = errors.take("end", optional_date(&form.end, "終了日"));
    let weekdays = || {
        let joined: Vec<&str> = form.weekdays.iter().map(String::as_str).collect();
        WeekdaySet::parse(&joined.join("・")).and_then(|s| {
            if s.is_empty() {
                Err("曜日を1つ以上選んでください。".to_owned())
            } else {
                Ok(s)
            }
        })
    };
    let (time, start, end) = (time?, start?, end?);
    let scheduled = |r: Result<Schedule, String>, errors: &mut FieldErrors| {
        errors.take("start", r).map(Plan::Scheduled)
    };
    match form.plan.as_str() {
        "weekly" => {
            let w = errors.take("weekdays", weekdays())?;
            scheduled(Schedule::weekly(w, time, start, end), errors)
        }
        "monthly_days" => {
            let days = errors.take("days", MonthDaySet::parse(&form.days))?;
            scheduled(Schedule::monthly_days(days, time, start, end), errors)
        }
        "monthly_weekdays" => {
            let joined: Vec<&str> = form.nths.iter().map(String::as_str).collect();
            let nths = errors.take("nths", NthSet::parse(&joined.join("・")))?;
            let w = errors.take("weekdays", weekdays())?;
            scheduled(
                Schedule::monthly_weekdays(nths, w, time, start, end),
                errors,
            )
        }
        "reminder" => {
            let n = errors.take(
                "r_n",
                form.r_n
                    .parse::<u32>()
                    .map_err(|_| "日数・月数を半角の数字で入力してください。".to_owned()),
            )?;
            let offset = match form.r_offset.as_str() {
                "months_after" => Offset::MonthsAfter(n),
                "days_before" => Offset::DaysBefore(n),
                _ => Offset::DaysAfter(n),
            };
            let attribute = AttributeKey::parse(&form.r_attribute)
                .ok()
                .and_then(|k| catalog.get(&k));
            let Some(attribute) = attribute else {
                errors.add("r_attribute", "基準にする日付の項目を選んでください。");
                return None;
            };
            let rule = errors.take("r_attribute", ReminderRule::new(attribute, offset, time))?;
            if end.is_some_and(|e| e < start) {
                errors.add("end", "終了日は開始日以降にしてください。");
                return None;
            }
            Some(Plan::Reminder { rule, start, end })
        }
        _ => {
            errors.add("plan", "配信のタイミングを選んでください。");
            None
        }
    }
}

fn describe_plan(plan: &Plan, catalog: &hiroba_domain::attributes::AttributeCatalog) -> String {
    match plan {
        Plan::Now => "確定後すぐ".to_owned(),
        Plan::Scheduled(s) => s.describe_ja(),
        Plan::Reminder { rule, start, end } => {
            let name = catalog
                .get(rule.attribute())
                .map(|a| a.name().as_str().to_owned())
                .unwrap_or_else(|| rule.attribute().as_str().to_owned());
            let period = match end {
                Some(end) => format!("（{start}から{end}まで）"),
                None => format!("（{start}から）"),
            };
            format!("{}{period}", rule.describe_ja(&name))
        }
    }
}

async fn describe_audience(state: &AppState, audience: Audience) -> Result<String, AppError> {
    Ok(match audience {
        Audience::All => "すべての友だち".into(),
        Audience::Testers => "テストアカウントに指定した友だち".into(),
        Audience::Segment(id) => match segments::get(state.db(), id).await {
            Ok(s) => format!("セグメント「{}」", s.name.as_str()),
            Err(hiroba_store::StoreError::NotFound) => "（削除されたセグメント）".into(),
            Err(e) => return Err(e.into()),
        },
    })
}

pub async fn require_approval(state: &AppState) -> Result<bool, AppError> {
    Ok(settings::flag(state.db(), REQUIRE_APPROVAL).await?)
}

// ---- List -------------------------------------------------------------------------

#[derive(Debug, Default, Deserialize)]
pub struct ListQuery {
    #[serde(default)]
    status: String,
    #[serde(default)]
    page: Option<i64>,
    #[serde(default)]
    done: Option<String>,
}

pub struct ListRow {
    id: i64,
    title: String,
    audience: String,
    plan: String,
    status: &'static str,
    next: String,
    channel: &'static str,
}

#[derive(Template)]
#[template(path = "admin/deliveries.html")]
struct ListPage {
    layout: Layout,
    status: String,
    tabs: Vec<(&'static str, &'static str)>,
    rows: Vec<ListRow>,
    total: i64,
    page: i64,
    pages: i64,
    require_approval: bool,
    may_configure: bool,
}

fn notice_of(code: Option<&str>) -> Option<String> {
    Some(
        match code? {
            "saved" => "下書きを保存しました。",
            "requested" => "承認を依頼しました。送信の権限のある職員が承認すると配信されます。",
            "approved" => "配信を確定しました。予定の時刻に配信されます。",
            "cancelled" => "配信を取り消しました。",
            "test" => "テスト送信を受け付けました。テストアカウントの友だちに届きます。",
            "imported" => "CSVの配信予定を取り込みました。",
            "setting" => "承認の設定を保存しました。",
            _ => return None,
        }
        .to_owned(),
    )
}

pub async fn list(
    State(state): State<AppState>,
    me: CurrentStaff,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let status = Status::parse(&q.status);
    let page = q.page.unwrap_or(1).max(1);
    let db = state.db();
    let total = deliveries::count(db, status).await?;
    let catalog = attributes::catalog(db).await?;
    let mut rows = Vec::new();
    for d in deliveries::list(db, status, PAGE_SIZE, (page - 1) * PAGE_SIZE).await? {
        rows.push(ListRow {
            id: d.id,
            audience: describe_audience(&state, d.draft.audience).await?,
            plan: describe_plan(&d.draft.plan, &catalog),
            status: d.status.label_ja(),
            next: d.next_run_at.map(format_datetime).unwrap_or_default(),
            channel: d.draft.channel.label_ja(),
            title: d.draft.title,
        });
    }
    let layout = me
        .page(&state, "配信", notice_of(q.done.as_deref()))
        .await?;
    render(&ListPage {
        layout,
        status: q.status,
        tabs: [
            Status::Draft,
            Status::PendingApproval,
            Status::Approved,
            Status::Finished,
            Status::Cancelled,
        ]
        .iter()
        .map(|s| (s.as_str(), s.label_ja()))
        .collect(),
        rows,
        total,
        page,
        pages: ((total + PAGE_SIZE - 1) / PAGE_SIZE).max(1),
        require_approval: require_approval(&state).await?,
        may_configure: me.staff.may(Permission::SystemSettings),
    })
}

/// 承認の設定 (system settings permission).
pub async fn set_approval(
    State(state): State<AppState>,
    me: CurrentStaff,
    form: FormData,
) -> Result<Response, AppError> {
    let on = form.get("require_approval") == "1";
    let mut tx = state.db().begin().await?;
    settings::set_flag(&mut tx, REQUIRE_APPROVAL, on).await?;
    me.commit_logged(
        tx,
        "settings.update",
        "settings:line_approval".into(),
        format!("配信の承認: {}", if on { "必要" } else { "不要" }),
    )
    .await?;
    Ok(Redirect::to("/admin/line/deliveries?done=setting").into_response())
}

// ---- Form ---------------------------------------------------------------------------

#[derive(Template)]
#[template(path = "admin/delivery_form.html")]
struct FormPage {
    layout: Layout,
    action: String,
    form: DeliveryForm,
    composer: String,
    errors: FieldErrors,
    segments: Vec<(String, String)>,
    date_attributes: Vec<(String, String)>,
    weekdays: [&'static str; 7],
    nths: [(&'static str, &'static str); 5],
    may_send: bool,
    require_approval: bool,
}

fn composer_view(state: &AppState, composer: &ComposerState, errors: FieldErrors) -> ComposerView {
    ComposerView::new(composer, errors, &state.config().public_url, PREVIEW)
}

async fn form_page(
    state: &AppState,
    me: &CurrentStaff,
    id: Option<i64>,
    form: DeliveryForm,
    composer: &ComposerState,
    errors: FieldErrors,
) -> Result<Response, AppError> {
    let catalog = attributes::catalog(state.db()).await?;
    let own = [
        "title",
        "channel",
        "audience",
        "segment_id",
        "plan",
        "once_date",
        "time",
        "start",
        "end",
        "weekdays",
        "days",
        "nths",
        "r_attribute",
        "r_n",
        "memo",
    ];
    let mut composer_errors = FieldErrors::new();
    for (field, message) in errors.iter().filter(|(f, _)| !own.contains(f)) {
        composer_errors.add(field, message);
    }
    let composer_html = composer_view(state, composer, composer_errors).render()?;
    let layout = me
        .page(
            state,
            if id.is_some() {
                "配信の編集"
            } else {
                "配信の作成"
            },
            None,
        )
        .await?;
    render(&FormPage {
        layout,
        action: match id {
            Some(id) => format!("/admin/line/deliveries/{id}/edit"),
            None => "/admin/line/deliveries/new".into(),
        },
        form,
        composer: composer_html,
        errors,
        segments: segments::list(state.db())
            .await?
            .into_iter()
            .map(|s| (s.id.to_string(), s.name.as_str().to_owned()))
            .collect(),
        date_attributes: catalog
            .active()
            .filter(|a| a.kind().is_date())
            .map(|a| (a.key().as_str().to_owned(), a.name().as_str().to_owned()))
            .collect(),
        weekdays: WEEKDAYS,
        nths: NTHS,
        may_send: me.staff.may(Permission::MessagingSend),
        require_approval: require_approval(state).await?,
    })
}

pub async fn new_form(
    State(state): State<AppState>,
    me: CurrentStaff,
) -> Result<Response, AppError> {
    let form = DeliveryForm {
        channel: "production".into(),
        audience: "all".into(),
        plan: "now".into(),
        time: "09:00".into(),
        r_offset: "months_after".into(),
        ..DeliveryForm::default()
    };
    form_page(
        &state,
        &me,
        None,
        form,
        &ComposerState::new(),
        FieldErrors::new(),
    )
    .await
}

pub async fn edit_form(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let delivery = deliveries::get(state.db(), id).await?;
    if !editable(&state, &delivery).await? {
        return Err(AppError::Refused(
            "配信が始まったか、取り消された配信は変更できません。内容を変えて送る場合は新しく作成してください。".into(),
        ));
    }
    let composer = ComposerState::from_messages(&delivery.draft.messages);
    form_page(
        &state,
        &me,
        Some(id),
        DeliveryForm::of(&delivery),
        &composer,
        FieldErrors::new(),
    )
    .await
}

async fn editable(state: &AppState, delivery: &Delivery) -> Result<bool, AppError> {
    if !matches!(
        delivery.status,
        Status::Draft | Status::PendingApproval | Status::Approved
    ) {
        return Ok(false);
    }
    Ok(deliveries::runs_of(state.db(), delivery.id)
        .await?
        .iter()
        .all(|r| r.test))
}

/// What the buttons of the delivery form do (the composer's own buttons
/// re-render the form).
#[derive(Clone, Copy, PartialEq, Eq)]
enum Intent {
    Draft,
    Request,
    Confirm,
}

async fn submit(
    state: AppState,
    me: CurrentStaff,
    id: Option<i64>,
    posted: Posted,
) -> Result<Response, AppError> {
    let form = DeliveryForm::from_form(&posted.form);
    let (mut composer, mut errors) = Composer::from_form(&posted.form);
    let action = posted.action();
    Composer::store_uploads(&state, &me, &mut composer, posted.uploads, &mut errors).await?;
    let intent = match posted.form.get("action") {
        "save_draft" => Some(Intent::Draft),
        "request_approval" => Some(Intent::Request),
        "confirm" => Some(Intent::Confirm),
        _ => None,
    };
    let Some(intent) = intent else {
        // A composer button: apply it and show the form again.
        if let Err((field, message)) = composer.apply(&action) {
            errors.add(&field, message);
        }
        if action == Action::Check
            && let Err(problems) = composer.messages()
        {
            for (field, message) in problems.iter() {
                errors.add(field, message);
            }
        }
        if posted.fragment {
            return Ok(Html(composer_view(&state, &composer, errors).render()?).into_response());
        }
        return form_page(&state, &me, id, form, &composer, errors).await;
    };
    let catalog = attributes::catalog(state.db()).await?;
    let title = errors.take("title", required_text(&form.title, "配信のタイトル", 60));
    let channel = match form.channel.as_str() {
        "test" => Channel::Test,
        _ => Channel::Production,
    };
    let audience = match form.audience.as_str() {
        "segment" => match form.segment_id.parse::<i64>() {
            Ok(sid) if segments::get(state.db(), sid).await.is_ok() => Some(Audience::Segment(sid)),
            _ => {
                errors.add("segment_id", "宛先のセグメントを選んでください。");
                None
            }
        },
        "testers" => Some(Audience::Testers),
        _ => Some(Audience::All),
    };
    let plan = plan_of(&form, &catalog, &mut errors);
    let messages = match composer.messages() {
        Ok(m) => Some(m),
        Err(problems) => {
            for (field, message) in problems.iter() {
                errors.add(field, message);
            }
            None
        }
    };
    if intent != Intent::Draft
        && plan.as_ref().is_some_and(|p| !p.is_recurring())
        && let Some(Plan::Scheduled(s)) = &plan
        && s.first_at_or_after(
            Utc::now()
                .with_timezone(&hiroba_domain::datetime::JST)
                .naive_local(),
        )
        .is_none()
    {
        errors.add(
            "once_date",
            "配信日時が過ぎています。これから先の日時を入力してください。",
        );
    }
    let require = require_approval(&state).await?;
    if intent == Intent::Confirm {
        if !me.staff.may(Permission::MessagingSend) {
            errors.add(
                "title",
                "配信を確定する権限がありません。「承認を依頼」を選んでください。",
            );
        } else if require {
            errors.add(
                "title",
                "この町では、配信には別の職員の承認が必要です。「承認を依頼」を選んでください。",
            );
        }
    }
    let (Some(title), Some(audience), Some(plan), Some(messages), true) =
        (title, audience, plan, messages, errors.is_empty())
    else {
        return form_page(&state, &me, id, form, &composer, errors).await;
    };
    let draft = DeliveryDraft {
        title,
        channel,
        audience,
        messages,
        plan,
        memo: form.memo.clone(),
        source: "manual".into(),
    };
    let status = match intent {
        Intent::Draft => Status::Draft,
        Intent::Request | Intent::Confirm => Status::PendingApproval,
    };
    let mut tx = state.db().begin().await?;
    let delivery_id = match id {
        Some(id) => {
            if !deliveries::update(&mut tx, id, &draft, status).await? {
                return Err(AppError::Refused(
                    "配信が始まったか、取り消された配信は変更できません。".into(),
                ));
            }
            id
        }
        None => deliveries::create(&mut tx, &draft, status, Some(me.staff.id)).await?,
    };
    if intent == Intent::Confirm {
        approve_in(&state, &mut tx, delivery_id, me.staff.id).await?;
    }
    let what = match intent {
        Intent::Draft => "下書き保存",
        Intent::Request => "承認を依頼",
        Intent::Confirm => "配信を確定",
    };
    me.commit_logged(
        tx,
        if id.is_some() {
            "delivery.update"
        } else {
            "delivery.create"
        },
        format!("delivery:{delivery_id}"),
        format!(
            "「{}」{what}（{}、{}）",
            draft.title,
            describe_audience(&state, draft.audience).await?,
            describe_plan(&draft.plan, &catalog)
        ),
    )
    .await?;
    let done = match intent {
        Intent::Draft => "saved",
        Intent::Request => "requested",
        Intent::Confirm => "approved",
    };
    Ok(Redirect::to(&format!("/admin/line/deliveries/{delivery_id}?done={done}")).into_response())
}

/// Rewrites the delivery's links to Hiroba's counting redirect (M15) and
/// schedules it.
async fn approve_in(
    state: &AppState,
    tx: &mut hiroba_store::Tx,
    id: i64,
    staff_id: i64,
) -> Result<(), AppError> {
    let delivery = deliveries::get_in(tx, id).await?;
    let base = state.config().public_url.trim_end_matches('/').to_owned();
    let mut messages = delivery.draft.messages.clone();
    let mut urls = Vec::new();
    for m in &messages {
        crate::links::collect(m, &base, &mut urls);
    }
    let mut tokens = std::collections::BTreeMap::new();
    for url in urls {
        let fresh = hiroba_store::sessions::new_token()?;
        let token = deliveries::link_token(tx, id, &url, &fresh).await?;
        tokens.insert(url, format!("{base}/r/{token}"));
    }
    for m in &mut messages {
        crate::links::rewrite(m, &tokens);
    }
    deliveries::set_messages(tx, id, &messages).await?;
    if !deliveries::approve(tx, id, staff_id, Utc::now()).await? {
        return Err(AppError::Refused(
            "この配信は承認できません（承認待ちではないか、配信日時が過ぎています）。".into(),
        ));
    }
    Ok(())
}

pub async fn create(
    State(state): State<AppState>,
    me: CurrentStaff,
    posted: Posted,
) -> Result<Response, AppError> {
    submit(state, me, None, posted).await
}

pub async fn update(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    posted: Posted,
) -> Result<Response, AppError> {
    deliveries::get(state.db(), id).await?;
    submit(state, me, Some(id), posted).await
}

// ---- Detail and actions --------------------------------------------------------------

pub struct RunRow {
    at: String,
    status: &'static str,
    test: bool,
    recipients: i64,
    sent: i64,
    failed: i64,
    pending: i64,
    percent: i64,
    note: String,
}

#[derive(Template)]
#[template(path = "admin/delivery.html")]
struct DetailPage {
    layout: Layout,
    id: i64,
    channel: &'static str,
    audience: String,
    audience_count: Option<i64>,
    plan: String,
    status: &'static str,
    memo: String,
    created: String,
    next: String,
    preview: String,
    runs: Vec<RunRow>,
    can_edit: bool,
    can_approve: bool,
    can_cancel: bool,
    can_test: bool,
    approval_note: String,
    links: Vec<(String, i64)>,
}

pub async fn detail(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
    Query(q): Query<ListQuery>,
) -> Result<Response, AppError> {
    let db = state.db();
    let delivery = deliveries::get(db, id).await?;
    let catalog = attributes::catalog(db).await?;
    let today = crate::booking::today();
    let audience_count = match delivery.draft.audience {
        Audience::Segment(sid) => match segments::get(db, sid).await {
            Ok(s) => Some(segments::count(db, delivery.draft.channel, &s.condition, today).await?),
            Err(_) => None,
        },
        _ => None,
    };
    let mut runs = Vec::new();
    for r in deliveries::runs_of(db, id).await? {
        let mut p = deliveries::progress(db, r.id).await?;
        if r.is_narrowcast() {
            // One narrowcast, no batches: LINE's counts once it has finished.
            let finished = r.succeeded + r.failed;
            p = deliveries::Progress {
                recipients: r.recipients,
                sent: r.succeeded,
                failed: r.failed,
                pending: if r.finished_at.is_some() {
                    0
                } else {
                    r.recipients - finished
                },
                ..deliveries::Progress::default()
            };
        }
        let note = if r.is_narrowcast() {
            let how = "ナローキャスト（宛先をLINEに登録して一括配信）";
            if r.note.is_empty() {
                how.to_owned()
            } else {
                format!("{how}: {}", r.note)
            }
        } else {
            r.note
        };
        runs.push(RunRow {
            at: format_datetime(r.scheduled_at),
            status: r.status.label_ja(),
            test: r.test,
            recipients: r.recipients.max(p.recipients),
            sent: p.sent,
            failed: p.failed,
            pending: p.pending,
            percent: if p.recipients > 0 {
                (p.sent + p.failed) * 100 / p.recipients
            } else {
                100
            },
            note,
        });
    }
    let may_send = me.staff.may(Permission::MessagingSend);
    let require = require_approval(&state).await?;
    let waiting = matches!(delivery.status, Status::PendingApproval | Status::Draft);
    let own = delivery.created_by == Some(me.staff.id);
    let can_approve = may_send && waiting && !(require && own);
    let approval_note = if waiting && may_send && require && own {
        "この配信はあなたが作成したため、別の職員の承認が必要です。".to_owned()
    } else if waiting && !may_send {
        "送信の権限のある職員が承認すると配信されます。".to_owned()
    } else {
        String::new()
    };
    let preview = hiroba_line::preview::render_messages(&delivery.draft.messages);
    let layout = me
        .page(
            &state,
            &format!("配信: {}", delivery.draft.title),
            notice_of(q.done.as_deref()),
        )
        .await?;
    render(&DetailPage {
        layout,
        id,
        channel: delivery.draft.channel.label_ja(),
        audience: describe_audience(&state, delivery.draft.audience).await?,
        audience_count,
        plan: describe_plan(&delivery.draft.plan, &catalog),
        status: delivery.status.label_ja(),
        memo: delivery.draft.memo.clone(),
        created: format_datetime(delivery.created_at),
        next: delivery
            .next_run_at
            .map(format_datetime)
            .unwrap_or_default(),
        preview,
        runs,
        can_edit: editable(&state, &delivery).await?,
        can_approve,
        can_cancel: may_send
            && matches!(
                delivery.status,
                Status::Draft | Status::PendingApproval | Status::Approved
            ),
        can_test: may_send,
        approval_note,
        links: deliveries::link_clicks(db, id).await?,
    })
}

pub async fn approve(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let delivery = deliveries::get(state.db(), id).await?;
    if require_approval(&state).await? && delivery.created_by == Some(me.staff.id) {
        return Err(AppError::Refused(
            "自分が作成した配信は承認できません。別の職員に承認を依頼してください。".into(),
        ));
    }
    let mut tx = state.db().begin().await?;
    approve_in(&state, &mut tx, id, me.staff.id).await?;
    me.commit_logged(
        tx,
        "delivery.approve",
        format!("delivery:{id}"),
        format!("「{}」を承認・確定", delivery.draft.title),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/deliveries/{id}?done=approved")).into_response())
}

pub async fn cancel(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let delivery = deliveries::get(state.db(), id).await?;
    let mut tx = state.db().begin().await?;
    let runs = deliveries::cancel(&mut tx, id).await?;
    me.commit_logged(
        tx,
        "delivery.cancel",
        format!("delivery:{id}"),
        format!(
            "「{}」を取り消し（止めた配信 {runs}件）",
            delivery.draft.title
        ),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/deliveries/{id}?done=cancelled")).into_response())
}

/// テスト送信 (M12): the test account's friends get the messages now; no
/// production friend, statistic or quota is touched.
pub async fn test_send(
    State(state): State<AppState>,
    me: CurrentStaff,
    Path(id): Path<i64>,
) -> Result<Response, AppError> {
    let delivery = deliveries::get(state.db(), id).await?;
    let configured = hiroba_store::line::load_channel(state.db(), state.secrets(), Channel::Test)
        .await?
        .is_some_and(|s| !s.access_token.is_empty());
    if !configured {
        return Err(AppError::Refused(
            "テスト用のLINEアカウントが設定されていません。「接続設定」でテストアカウントを設定してください。".into(),
        ));
    }
    let mut tx = state.db().begin().await?;
    deliveries::create_test_run(&mut tx, id, Utc::now()).await?;
    me.commit_logged(
        tx,
        "delivery.test",
        format!("delivery:{id}"),
        format!("「{}」をテスト送信", delivery.draft.title),
    )
    .await?;
    Ok(Redirect::to(&format!("/admin/line/deliveries/{id}?done=test")).into_response())
}
