//! The delivery worker (issue 6; M12-M14): plans due runs, prepares them into
//! batches of at most 500 recipients (each with its retry key stored first),
//! sends the batches by multicast at LINE's rate, and closes finished runs.
//! Every instance may run it; see `hiroba_store::deliveries` for why a crash
//! or a second instance never loses or repeats a message.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use hiroba_domain::datetime::JST;
use hiroba_domain::segment::{Condition, FriendStatus, Predicate};
use hiroba_line::client::{Error as LineError, is_retry_key};
use hiroba_line::request::MulticastRequest;
use hiroba_store::deliveries::{self, Audience, Batch, NewBatch, Plan, Run};
use hiroba_store::line;
use hiroba_store::{Db, SecretBox, StoreError, segments};
use tokio::sync::{Semaphore, mpsc};

use crate::line_api::{self, ChannelClients};

/// Recipients per multicast request (LINE's limit).
pub const BATCH_SIZE: usize = 500;
/// Recipients read per preparation transaction.
const PAGE: i64 = 5_000;
/// A retry key is honoured by LINE for 24 hours; past this, a batch whose
/// answer was lost is failed rather than risk a second copy.
fn key_lifetime() -> chrono::Duration {
    chrono::Duration::hours(23)
}

/// Settings of the worker.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    /// Multicast requests in flight at once (LINE's rate limit is enforced by
    /// the client's limiter; this only keeps the pipe full).
    pub concurrency: usize,
    /// How often the worker looks for work when idle.
    pub every: Duration,
    /// How long a claimed run or batch stays with its worker: after a crash,
    /// another instance takes it over once this has passed.
    pub lease: chrono::Duration,
    /// Per multicast attempt, and the client's own retries (same key) before
    /// the batch waits for a later round.
    pub call_timeout: Duration,
    pub call_retries: u32,
    /// A run with at least this many recipients goes out as one narrowcast
    /// to an audience uploaded by file; `None`: always multicast.
    pub narrowcast_from: Option<i64>,
    /// How often a narrowcast's audience and progress are looked at.
    pub narrowcast_poll: Duration,
}

impl Default for WorkerConfig {
    fn default() -> Self {
        Self {
            concurrency: 8,
            every: Duration::from_secs(1),
            lease: chrono::Duration::minutes(2),
            call_timeout: Duration::from_secs(20),
            call_retries: 3,
            narrowcast_from: Some(100_000),
            narrowcast_poll: Duration::from_secs(10),
        }
    }
}

/// What one round did, for logs and tests.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct Round {
    pub planned: usize,
    pub prepared: usize,
    pub batches_sent: usize,
    pub batches_failed: usize,
    pub runs_done: u64,
    /// Narrowcast runs looked at (uploaded, sent, or asked about).
    pub narrowcasts: usize,
}

/// The condition a run's recipients must match on its date.
async fn recipients_condition(
    db: &Db,
    run: &Run,
    plan: &Plan,
    audience: Audience,
) -> Result<Condition, StoreError> {
    let friend = Condition::Leaf(Predicate::FriendStatus {
        status: FriendStatus::Friend,
    });
    let mut all = vec![friend];
    if !run.test {
        match audience {
            Audience::All => {}
            Audience::Testers => all.push(Condition::Leaf(Predicate::TestAccount)),
            Audience::Segment(id) => all.push(segments::get(db, id).await?.condition),
        }
    }
    if let Plan::Reminder { rule, .. } = plan {
        let day = run.scheduled_at.with_timezone(&JST).date_naive();
        let bases = rule.base_dates_firing_on(day);
        // No base date fires today (e.g. the 29th-31st a month after February):
        // an empty OR matches nobody.
        all.push(Condition::Or(
            bases
                .into_iter()
                .map(|d| {
                    Condition::Leaf(Predicate::DateBetween {
                        attribute: rule.attribute().clone(),
                        from: Some(d),
                        to: Some(d),
                    })
                })
                .collect(),
        ));
    }
    Ok(Condition::And(all))
}

/// Prepares a claimed run: a narrowcast when its recipients reach
/// `config.narrowcast_from` (decided before the first batch is written, and
/// kept once decided), otherwise batches for multicast, resuming after its
/// cursor.
pub async fn prepare_run(
    db: &Db,
    clients: &ChannelClients,
    run: &Run,
    config: &WorkerConfig,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let lease = config.lease;
    let delivery = deliveries::get(db, run.delivery_id).await?;
    let condition =
        recipients_condition(db, run, &delivery.draft.plan, delivery.draft.audience).await?;
    let on = run.scheduled_at.with_timezone(&JST).date_naive();
    let mut after = run.prepared_after;
    let mut seq = deliveries::next_seq(db, run.id).await?;
    let narrowcast = run.is_narrowcast()
        || match config.narrowcast_from {
            Some(from) if !run.test && seq == 0 && after == 0 => {
                segments::count(db, run.channel, &condition, on).await? >= from
            }
            _ => false,
        };
    if narrowcast {
        return prepare_narrowcast(db, clients, run, &condition, on, config, now).await;
    }
    loop {
        let page = segments::page_after(db, run.channel, &condition, on, after, PAGE).await?;
        let Some(last) = page.last().map(|r| r.friend_id) else {
            break;
        };
        let mut batches = Vec::new();
        for chunk in page.chunks(BATCH_SIZE) {
            batches.push(NewBatch {
                seq,
                user_ids: chunk.iter().map(|r| r.user_id.clone()).collect(),
                retry_key: hiroba_line::client::new_retry_key(),
            });
            seq += 1;
        }
        let mut tx = db.begin().await?;
        let still_ours =
            deliveries::add_batches(&mut tx, run.id, &batches, last, Utc::now() + lease).await?;
        if !still_ours {
            return Ok(()); // cancelled, or another worker took over
        }
        tx.commit().await?;
        after = last;
    }
    deliveries::finish_preparing(db, run.id, now).await
}

/// Uploads a narrowcast run's recipients as an audience (one file) and
/// stores its id with the retry key of the coming call; the run then waits
/// in `sending` for [`advance_narrowcast`]. A crash after the upload and
/// before the store leaves an unused audience at LINE, never a second copy.
async fn prepare_narrowcast(
    db: &Db,
    clients: &ChannelClients,
    run: &Run,
    condition: &Condition,
    on: chrono::NaiveDate,
    config: &WorkerConfig,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let mut user_ids = Vec::new();
    let mut after = 0;
    loop {
        let page = segments::page_after(db, run.channel, condition, on, after, PAGE).await?;
        let Some(last) = page.last().map(|r| r.friend_id) else {
            break;
        };
        user_ids.extend(page.into_iter().map(|r| r.user_id));
        after = last;
    }
    let count = i64::try_from(user_ids.len()).unwrap_or(i64::MAX);
    if !deliveries::set_narrowcast(db, run.id, count, Utc::now() + config.lease).await? {
        return Ok(());
    }
    if user_ids.is_empty() {
        return deliveries::finish_preparing(db, run.id, now).await;
    }
    let Some(client) = clients.get(run.channel) else {
        // Tried again when the lease runs out.
        return Ok(());
    };
    let started = Instant::now();
    let result = client
        .create_audience_group_by_file(
            &format!("hiroba d{} r{}", run.delivery_id, run.id),
            None,
            &user_ids,
        )
        .await;
    line_api::log_call(
        db,
        run.channel,
        "POST /v2/bot/audienceGroup/upload/byFile",
        &format!("配信#{} の宛先（{count}人）", run.delivery_id),
        &result,
        started,
    )
    .await;
    match result {
        Ok(res) => {
            let key = hiroba_line::client::new_retry_key();
            deliveries::narrowcast_prepared(db, run.id, res.data.audience_group_id, &key).await?;
        }
        Err(e) => {
            tracing::warn!(run = run.id, error = %e, "audience upload failed; will retry");
        }
    }
    Ok(())
}

/// A narrowcast that will not go out (audience unusable, messages
/// unreadable, or refused by LINE): nobody of its recipients got it.
async fn fail_narrowcast(
    db: &Db,
    run: &Run,
    note: &str,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let status = deliveries::RunStatus::Failed;
    deliveries::narrowcast_finished(db, run.id, status, 0, run.recipients, note, now).await
}

/// Takes one narrowcast run a step further: sends it once its audience is
/// ready (with the stored retry key), then follows LINE's progress until it
/// has finished. Returns whether a run was looked at.
pub async fn advance_narrowcast(
    db: &Db,
    clients: &ChannelClients,
    config: &WorkerConfig,
    now: DateTime<Utc>,
) -> Result<bool, StoreError> {
    let Some(run) = deliveries::claim_narrowcast(db, now, config.lease).await? else {
        return Ok(false);
    };
    let poll = chrono::Duration::from_std(config.narrowcast_poll)
        .unwrap_or_else(|_| chrono::Duration::seconds(10));
    let later = now + poll;
    let Some(client) = clients.get(run.channel) else {
        deliveries::narrowcast_wait(db, run.id, later, "LINEの接続設定がありません").await?;
        return Ok(true);
    };
    let purpose = format!("配信#{} 実行{}", run.delivery_id, run.id);
    let Some(audience) = run.audience_group_id else {
        return Ok(true);
    };
    if run.request_id.is_empty() {
        let started = Instant::now();
        let group = client.get_audience_group(audience).await;
        line_api::log_call(
            db,
            run.channel,
            "GET /v2/bot/audienceGroup/{id}",
            &purpose,
            &group,
            started,
        )
        .await;
        let status = match &group {
            Ok(g) => g.data.audience_group.status.clone().unwrap_or_default(),
            Err(e) => {
                deliveries::narrowcast_wait(db, run.id, later, &e.to_string()).await?;
                return Ok(true);
            }
        };
        match status.as_str() {
            "READY" => {}
            "FAILED" | "EXPIRED" | "INACTIVE" => {
                let note =
                    format!("宛先のオーディエンスが使えません（{status}）。送っていません。");
                fail_narrowcast(db, &run, &note, now).await?;
                return Ok(true);
            }
            _ => {
                deliveries::narrowcast_wait(db, run.id, later, "宛先をLINEが処理しています")
                    .await?;
                return Ok(true);
            }
        }
        let mut messages = Messages::default();
        let msgs = messages.get(db, run.delivery_id).await?;
        if msgs.is_empty() {
            let why = "配信するメッセージがありません（保存された内容を読めません）";
            fail_narrowcast(db, &run, why, now).await?;
            return Ok(true);
        }
        let request = hiroba_line::request::NarrowcastRequest::to_audience(audience, msgs.to_vec());
        let started = Instant::now();
        let result = client
            .send_narrowcast_with_key(&request, &run.retry_key)
            .await;
        line_api::log_call(
            db,
            run.channel,
            "POST /v2/bot/message/narrowcast",
            &purpose,
            &result,
            started,
        )
        .await;
        let accepted = match &result {
            // After a 409 (accepted earlier under this key) the request id
            // that progress and statistics know is the accepted one.
            Ok(res) => Some(
                res.meta
                    .accepted_request_id
                    .clone()
                    .or(res.meta.request_id.clone())
                    .unwrap_or_default(),
            ),
            Err(e) if e.status() == Some(409) => Some(
                e.meta()
                    .and_then(|m| m.accepted_request_id.clone().or(m.request_id.clone()))
                    .unwrap_or_default(),
            ),
            Err(e) => match e.status() {
                Some(status) if (400..500).contains(&status) && status != 429 => {
                    fail_narrowcast(db, &run, &e.to_string(), now).await?;
                    return Ok(true);
                }
                _ => None,
            },
        };
        match accepted {
            Some(request_id) => {
                deliveries::narrowcast_accepted(db, run.id, &request_id).await?;
                deliveries::narrowcast_wait(db, run.id, later, "LINEが配信しています").await?;
            }
            None => {
                let why = result.err().map(|e| e.to_string()).unwrap_or_default();
                deliveries::narrowcast_wait(db, run.id, later, &why).await?;
            }
        }
        return Ok(true);
    }
    let started = Instant::now();
    let progress = client.get_narrowcast_progress(&run.request_id).await;
    line_api::log_call(
        db,
        run.channel,
        "GET /v2/bot/message/progress/narrowcast",
        &purpose,
        &progress,
        started,
    )
    .await;
    match progress {
        Ok(p) if p.data.phase == "succeeded" || p.data.phase == "failed" => {
            let done = p.data.phase == "succeeded";
            let note = if done {
                String::new()
            } else {
                format!(
                    "LINEでの配信に失敗しました（{}）",
                    p.data.failed_description.clone().unwrap_or_default()
                )
            };
            deliveries::narrowcast_finished(
                db,
                run.id,
                if done {
                    deliveries::RunStatus::Done
                } else {
                    deliveries::RunStatus::Failed
                },
                p.data.success_count.unwrap_or(0),
                p.data.failure_count.unwrap_or(0),
                &note,
                now,
            )
            .await?;
        }
        Ok(_) => {
            deliveries::narrowcast_wait(db, run.id, later, "LINEが配信しています").await?;
        }
        Err(e) => deliveries::narrowcast_wait(db, run.id, later, &e.to_string()).await?,
    }
    Ok(true)
}

/// The messages of each delivery, read once per round.
#[derive(Default)]
struct Messages(HashMap<i64, Arc<Vec<hiroba_line::Message>>>);

impl Messages {
    async fn get(
        &mut self,
        db: &Db,
        delivery_id: i64,
    ) -> Result<Arc<Vec<hiroba_line::Message>>, StoreError> {
        if let Some(m) = self.0.get(&delivery_id) {
            return Ok(m.clone());
        }
        let delivery = deliveries::get(db, delivery_id).await?;
        // All or none: a delivery never goes out with some of its messages.
        let messages: Vec<hiroba_line::Message> = match delivery
            .draft
            .messages
            .iter()
            .map(|v| hiroba_line::Message::from_json(v.clone()))
            .collect::<Result<_, _>>()
        {
            Ok(messages) => messages,
            Err(e) => {
                tracing::error!(delivery_id, error = %e, "stored delivery messages unreadable");
                Vec::new()
            }
        };
        let entry = Arc::new(messages);
        self.0.insert(delivery_id, entry.clone());
        Ok(entry)
    }
}

/// The aggregation unit LINE counts a delivery's opens and clicks under (M15).
pub fn aggregation_unit(delivery_id: i64) -> String {
    format!("hiroba_d{delivery_id}")
}

enum Outcome {
    Sent(String),
    Retry(String),
    Failed(String),
}

async fn send_batch(
    client: &hiroba_line::Client,
    batch: &Batch,
    to: Vec<String>,
    messages: &[hiroba_line::Message],
) -> (Outcome, Result<hiroba_line::ApiResponse<()>, LineError>) {
    let request = MulticastRequest {
        to,
        messages: messages.to_vec(),
        notification_disabled: None,
        custom_aggregation_units: if batch.test {
            Vec::new()
        } else {
            vec![aggregation_unit(batch.delivery_id)]
        },
    };
    let result = if is_retry_key(&batch.retry_key) {
        client
            .send_multicast_with_key(&request, &batch.retry_key)
            .await
    } else {
        client.send_multicast(&request).await
    };
    let outcome = match &result {
        Ok(res) => Outcome::Sent(
            res.meta
                .accepted_request_id
                .clone()
                .or(res.meta.request_id.clone())
                .unwrap_or_default(),
        ),
        Err(e) => match e.status() {
            // Already accepted under this key: delivered once, by the earlier call.
            Some(409) => Outcome::Sent(
                e.meta()
                    .and_then(|m| m.accepted_request_id.clone().or(m.request_id.clone()))
                    .unwrap_or_default(),
            ),
            Some(status) if (400..500).contains(&status) && status != 429 => {
                Outcome::Failed(e.to_string())
            }
            _ => Outcome::Retry(e.to_string()),
        },
    };
    (outcome, result)
}

/// A batch's call, done: what the writer records.
struct Sent {
    batch: Batch,
    outcome: Outcome,
    record: Option<hiroba_store::line::NewApiCall>,
}

async fn send_one(
    client: Option<Arc<hiroba_line::Client>>,
    batch: Batch,
    msgs: Arc<Vec<hiroba_line::Message>>,
) -> Sent {
    let Some(client) = client else {
        let outcome = Outcome::Retry("no LINE channel settings".into());
        return Sent {
            batch,
            outcome,
            record: None,
        };
    };
    let to = match batch.user_ids() {
        Ok(to) => to,
        Err(e) => {
            let outcome = Outcome::Failed(e.to_string());
            return Sent {
                batch,
                outcome,
                record: None,
            };
        }
    };
    if msgs.is_empty() {
        let why = "配信するメッセージがありません（保存された内容を読めません）";
        let outcome = Outcome::Failed(why.into());
        return Sent {
            batch,
            outcome,
            record: None,
        };
    }
    let started = Instant::now();
    let (outcome, result) = send_batch(&client, &batch, to, &msgs).await;
    let record = line_api::call_record(
        "POST /v2/bot/message/multicast",
        &format!("配信#{} バッチ{}", batch.delivery_id, batch.seq),
        &result,
        started,
    );
    Sent {
        batch,
        outcome,
        record: Some(record),
    }
}

/// Records finished calls together: one transaction marks the accepted
/// batches sent and adds the call log; failures wait
/// for a retry (same key) or fail for good.
async fn record(db: &Db, done: &mut Vec<Sent>, round: &mut Round) -> Result<(), StoreError> {
    let now = Utc::now();
    let mut tx = db.begin().await?;
    for s in done.iter() {
        if let Some(record) = &s.record {
            line::log_api_call_in(&mut tx, s.batch.channel, record).await?;
        }
        if let Outcome::Sent(request_id) = &s.outcome {
            deliveries::mark_batch_sent(&mut tx, s.batch.id, request_id, now).await?;
            round.batches_sent += 1;
        }
    }
    tx.commit().await?;
    for s in done.drain(..) {
        match s.outcome {
            Outcome::Sent(_) => {}
            Outcome::Failed(error) => {
                deliveries::mark_batch_failed(db, s.batch.id, &error, true, now).await?;
                round.batches_failed += 1;
            }
            Outcome::Retry(error) => {
                let expired = s
                    .batch
                    .first_sent_at
                    .is_some_and(|first| now - first > key_lifetime());
                let wait =
                    chrono::Duration::seconds((5_i64 << s.batch.attempts.clamp(0, 8)).min(600));
                deliveries::mark_batch_failed(db, s.batch.id, &error, expired, now + wait).await?;
                if expired {
                    round.batches_failed += 1;
                }
            }
        }
    }
    Ok(())
}

/// Sends every claimable batch: calls run as tasks (`concurrency` at once;
/// the client's limiter keeps LINE's rate) while finished ones are recorded,
/// so neither waits for the other. Batches of runs still being prepared are
/// sent as they appear; the loop ends when nothing is left and no
/// preparation is running.
async fn send_all(
    db: &Db,
    clients: &ChannelClients,
    config: &WorkerConfig,
    preparing: &AtomicBool,
    round: &mut Round,
) -> Result<(), StoreError> {
    let (results, mut finished) = mpsc::channel::<Sent>(config.concurrency.max(1) * 8);
    let slots = Arc::new(Semaphore::new(config.concurrency.max(1)));
    let producer = async {
        let mut messages = Messages::default();
        let limit = i64::try_from(config.concurrency * 4).unwrap_or(32);
        loop {
            let batches = deliveries::claim_batches(db, Utc::now(), config.lease, limit).await?;
            if batches.is_empty() {
                if preparing.load(Ordering::Acquire) {
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
                break;
            }
            for batch in batches {
                let Ok(slot) = Arc::clone(&slots).acquire_owned().await else {
                    break;
                };
                let msgs = messages.get(db, batch.delivery_id).await?;
                let client = clients.get(batch.channel);
                let results = results.clone();
                tokio::spawn(async move {
                    let sent = send_one(client, batch, msgs).await;
                    let _ = results.send(sent).await;
                    drop(slot);
                });
            }
        }
        drop(results);
        Ok::<(), StoreError>(())
    };
    let consumer = async {
        let mut done = Vec::new();
        let mut outcome = Ok(());
        while finished.recv_many(&mut done, 64).await > 0 {
            if outcome.is_ok() {
                outcome = record(db, &mut done, round).await;
            }
            done.clear();
        }
        outcome
    };
    let (produced, consumed) = tokio::join!(producer, consumer);
    produced.and(consumed)
}

/// One round: plan; prepare runs while their batches are already being sent;
/// close finished runs.
pub async fn run_once(
    db: &Db,
    clients: &ChannelClients,
    config: &WorkerConfig,
    now: DateTime<Utc>,
) -> Result<Round, StoreError> {
    let mut round = Round {
        planned: deliveries::plan_due(db, now).await?,
        ..Round::default()
    };
    let preparing = AtomicBool::new(true);
    let prepare = async {
        let mut prepared = 0;
        let outcome = async {
            while let Some(run) = deliveries::claim_run_to_prepare(db, now, config.lease).await? {
                prepare_run(db, clients, &run, config, now).await?;
                prepared += 1;
            }
            Ok::<(), StoreError>(())
        }
        .await;
        preparing.store(false, Ordering::Release);
        outcome.map(|()| prepared)
    };
    let mut sending = Round::default();
    let (prepared, sent) = tokio::join!(
        prepare,
        send_all(db, clients, config, &preparing, &mut sending)
    );
    round.prepared = prepared?;
    sent?;
    round.batches_sent = sending.batches_sent;
    round.batches_failed = sending.batches_failed;
    while advance_narrowcast(db, clients, config, Utc::now()).await? {
        round.narrowcasts += 1;
    }
    round.runs_done = deliveries::complete_runs(db, Utc::now()).await?;
    Ok(round)
}

/// Runs rounds every `config.every` until the task is aborted.
pub fn spawn(db: Db, secrets: SecretBox, config: WorkerConfig) -> tokio::task::JoinHandle<()> {
    tokio::spawn(async move {
        let mut clients = ChannelClients::with_policy(config.call_timeout, config.call_retries);
        let mut tick = tokio::time::interval(config.every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        // LINE's statistics change slowly: fetched at most once an hour.
        let mut insights_due = tokio::time::Instant::now();
        loop {
            tick.tick().await;
            if let Err(e) = clients.refresh(&db, &secrets).await {
                tracing::error!(error = %e, "LINE channel settings unreadable");
                continue;
            }
            match run_once(&db, &clients, &config, Utc::now()).await {
                Ok(round) if round != Round::default() => {
                    tracing::info!(?round, "deliveries");
                }
                Ok(_) => {}
                Err(e) => tracing::error!(error = %e, "delivery round failed; will retry"),
            }
            if tokio::time::Instant::now() >= insights_due {
                insights_due = tokio::time::Instant::now() + Duration::from_secs(3600);
                if let Err(e) = fetch_insights(&db, &clients, Utc::now()).await {
                    tracing::warn!(error = %e, "LINE statistics not fetched; will retry");
                }
            }
        }
    })
}

/// Fetches LINE's open and click figures for the production deliveries of the
/// last two weeks (M15): per delivery, the aggregation unit its multicasts
/// carried plus the request id of each narrowcast. Counts LINE hides (below
/// its threshold) stay empty.
pub async fn fetch_insights(
    db: &Db,
    clients: &ChannelClients,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let Some(client) = clients.get(hiroba_store::line::Channel::Production) else {
        return Ok(0);
    };
    let due = deliveries::needing_insight(
        db,
        now - chrono::Duration::days(14),
        now - chrono::Duration::hours(1),
        now - chrono::Duration::hours(6),
    )
    .await?;
    let today = now.with_timezone(&JST).date_naive();
    let mut fetched = 0;
    for (delivery_id, first_at) in due {
        let from = first_at.with_timezone(&JST).date_naive();
        let to = today.min(from + chrono::Duration::days(29));
        let started = Instant::now();
        let result = client
            .insight_aggregation_unit(
                &aggregation_unit(delivery_id),
                &from.format("%Y%m%d").to_string(),
                &to.format("%Y%m%d").to_string(),
            )
            .await;
        line_api::log_call(
            db,
            hiroba_store::line::Channel::Production,
            "GET /v2/bot/insight/message/event/aggregation",
            &format!("配信#{delivery_id} の統計"),
            &result,
            started,
        )
        .await;
        let Ok(res) = result else {
            continue;
        };
        let o = res.data.overview;
        let mut insight = deliveries::Insight {
            delivered: o.delivered,
            unique_impressions: o.unique_impression,
            unique_clicks: o.unique_click,
            fetched_at: None,
        };
        // Narrowcasts carry no aggregation unit: LINE counts them by request id.
        for request_id in deliveries::narrowcast_request_ids(db, delivery_id).await? {
            let started = Instant::now();
            let result = client.insight_message_event(&request_id).await;
            line_api::log_call(
                db,
                hiroba_store::line::Channel::Production,
                "GET /v2/bot/insight/message/event",
                &format!("配信#{delivery_id} の統計"),
                &result,
                started,
            )
            .await;
            if let Ok(res) = result {
                let o = res.data.overview;
                insight.delivered = add_counts(insight.delivered, o.delivered);
                insight.unique_impressions =
                    add_counts(insight.unique_impressions, o.unique_impression);
                insight.unique_clicks = add_counts(insight.unique_clicks, o.unique_click);
            }
        }
        deliveries::save_insight(db, delivery_id, &insight, now).await?;
        fetched += 1;
    }
    Ok(fetched)
}

/// Sums two of LINE's counts, either of which may be hidden (`None`).
fn add_counts(a: Option<i64>, b: Option<i64>) -> Option<i64> {
    match (a, b) {
        (None, None) => None,
        (a, b) => Some(a.unwrap_or(0) + b.unwrap_or(0)),
    }
}
