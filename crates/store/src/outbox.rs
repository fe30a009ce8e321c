//! The mail outbox. A mail is written inside the transaction that causes it, so
//! it exists exactly when that change commits; a worker (`hiroba_jobs::mail`)
//! sends it later and retries with back-off. Claims are leases, so a crashed
//! worker's mail is picked up again, and safe with several app instances.

use std::fmt;

use chrono::{DateTime, Duration, Utc};

use crate::audit::micros;
use crate::{Db, Result, StoreError, Tx, on_pool, on_tx};

/// A mail to send: one recipient, plain UTF-8 text.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Mail {
    pub to: String,
    pub subject: String,
    pub body: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum MailStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

impl MailStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            MailStatus::Pending => "pending",
            MailStatus::Sending => "sending",
            MailStatus::Sent => "sent",
            MailStatus::Failed => "failed",
        }
    }

    /// For the outbox page.
    pub fn label_ja(self) -> &'static str {
        match self {
            MailStatus::Pending => "送信待ち",
            MailStatus::Sending => "送信中",
            MailStatus::Sent => "送信済み",
            MailStatus::Failed => "送信失敗",
        }
    }
}

impl fmt::Display for MailStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

impl TryFrom<String> for MailStatus {
    type Error = String;

    fn try_from(value: String) -> Result<Self, Self::Error> {
        match value.as_str() {
            "pending" => Ok(MailStatus::Pending),
            "sending" => Ok(MailStatus::Sending),
            "sent" => Ok(MailStatus::Sent),
            "failed" => Ok(MailStatus::Failed),
            other => Err(format!("unknown mail status {other:?}")),
        }
    }
}

/// One row of the outbox, every column.
#[derive(Debug, Clone, sqlx::FromRow)]
pub struct OutboxMail {
    pub id: i64,
    pub to_address: String,
    pub subject: String,
    pub body: String,
    pub created_at: DateTime<Utc>,
    pub due_at: DateTime<Utc>,
    pub attempts: i64,
    #[sqlx(try_from = "String")]
    pub status: MailStatus,
    pub locked_until: Option<DateTime<Utc>>,
    pub last_error: String,
    pub sent_at: Option<DateTime<Utc>>,
}

const COLUMNS: &str = "id, to_address, subject, body, created_at, due_at, attempts, status, \
                       locked_until, last_error, sent_at";

/// Stored error texts are cut here; SMTP replies can be long.
pub const MAX_ERROR_CHARS: usize = 500;

/// Back-off after the `attempts`-th failure: 1, 2, 4 ... minutes, at most an hour.
pub fn backoff(attempts: i64) -> Duration {
    let exponent = attempts.clamp(1, 7) - 1;
    Duration::minutes((1i64 << exponent).min(60))
}

/// Queues a mail inside the caller's transaction, due at once.
pub async fn enqueue(tx: &mut Tx, mail: &Mail) -> Result<i64> {
    let now = micros(Utc::now());
    let id: i64 = on_tx!(tx, conn => sqlx::query_scalar(
        "INSERT INTO mail_outbox (to_address, subject, body, created_at, due_at) \
         VALUES ($1, $2, $3, $4, $4) RETURNING id"
    )
    .bind(&mail.to)
    .bind(&mail.subject)
    .bind(&mail.body)
    .bind(now)
    .fetch_one(conn)
    .await)?;
    Ok(id)
}

/// Takes one due mail (pending and due, or sending with an expired lease) and
/// leases it until `now + lease`. The due condition is repeated outside the
/// subquery: on PostgreSQL a worker that lost the race for the row re-checks it
/// against the winner's update and gets no row instead of a second claim.
async fn try_claim(
    db: &Db,
    now: DateTime<Utc>,
    until: DateTime<Utc>,
) -> Result<Option<OutboxMail>> {
    let sql = format!(
        "UPDATE mail_outbox SET status = 'sending', locked_until = $2 \
         WHERE id = (SELECT id FROM mail_outbox WHERE {DUE} ORDER BY due_at, id LIMIT 1) \
         AND {DUE} RETURNING {COLUMNS}"
    );
    Ok(on_pool!(db, pool => sqlx::query_as(&sql)
        .bind(now)
        .bind(until)
        .fetch_optional(pool)
        .await)?)
}

const DUE: &str =
    "((status = 'pending' AND due_at <= $1) OR (status = 'sending' AND locked_until < $1))";

/// Atomically claims one due mail for `lease`; `None` when nothing is due.
/// Two workers never get the same mail while its lease runs, so the lease must
/// outlast one delivery attempt.
pub async fn claim(db: &Db, now: DateTime<Utc>, lease: Duration) -> Result<Option<OutboxMail>> {
    let now = micros(now);
    let until = micros(now + lease);
    // Losing a race returns no row although other mails may be due; try the
    // next one a few times rather than leaving them to the next run.
    for _ in 0..5 {
        if let Some(mail) = try_claim(db, now, until).await? {
            return Ok(Some(mail));
        }
        let due: i64 = on_pool!(db, pool => sqlx::query_scalar(
            &format!("SELECT COUNT(*) FROM mail_outbox WHERE {DUE}")
        )
        .bind(now)
        .fetch_one(pool)
        .await)?;
        if due == 0 {
            break;
        }
    }
    Ok(None)
}

/// Records a delivery. False when the mail was no longer claimed (its lease
/// ran out and another worker took it).
pub async fn mark_sent(db: &Db, id: i64, now: DateTime<Utc>) -> Result<bool> {
    let done = on_pool!(db, pool => sqlx::query(
        "UPDATE mail_outbox SET status = 'sent', sent_at = $2, attempts = attempts + 1, \
         locked_until = NULL WHERE id = $1 AND status = 'sending'"
    )
    .bind(id)
    .bind(micros(now))
    .execute(pool)
    .await.map(|r| r.rows_affected()))?;
    Ok(done == 1)
}

/// Records a failed attempt: back to pending after a back-off, or `failed` once
/// `max_attempts` attempts have been made (pass 1 for an error no retry can
/// fix). Returns the new status, `None` when the mail was no longer claimed.
/// The caller keeps credentials out of `error`; it is stored cut short.
pub async fn mark_failed(
    db: &Db,
    id: i64,
    now: DateTime<Utc>,
    error: &str,
    max_attempts: u32,
) -> Result<Option<MailStatus>> {
    let now = micros(now);
    let error: String = error.chars().take(MAX_ERROR_CHARS).collect();
    let mut tx = db.begin().await?;
    let attempts: Option<i64> = on_tx!(&mut tx, conn => sqlx::query_scalar(
        "SELECT attempts FROM mail_outbox WHERE id = $1 AND status = 'sending'"
    )
    .bind(id)
    .fetch_optional(conn)
    .await)?;
    let Some(attempts) = attempts.map(|a| a + 1) else {
        return Ok(None);
    };
    let (status, due_at) = if attempts >= i64::from(max_attempts) {
        (MailStatus::Failed, None)
    } else {
        (MailStatus::Pending, Some(now + backoff(attempts)))
    };
    let done = on_tx!(&mut tx, conn => sqlx::query(
        "UPDATE mail_outbox SET status = $2, attempts = $3, due_at = COALESCE($4, due_at), \
         last_error = $5, locked_until = NULL WHERE id = $1 AND status = 'sending'"
    )
    .bind(id)
    .bind(status.as_str())
    .bind(attempts)
    .bind(due_at)
    .bind(&error)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok((done == 1).then_some(status))
}

pub async fn find(db: &Db, id: i64) -> Result<OutboxMail> {
    let sql = format!("SELECT {COLUMNS} FROM mail_outbox WHERE id = $1");
    on_pool!(db, pool => sqlx::query_as(&sql).bind(id).fetch_optional(pool).await)?
        .ok_or(StoreError::NotFound)
}

/// The newest mails first, for the outbox page.
pub async fn recent(db: &Db, limit: i64) -> Result<Vec<OutboxMail>> {
    let sql = format!("SELECT {COLUMNS} FROM mail_outbox ORDER BY id DESC LIMIT $1");
    Ok(on_pool!(db, pool => sqlx::query_as(&sql).bind(limit).fetch_all(pool).await)?)
}
