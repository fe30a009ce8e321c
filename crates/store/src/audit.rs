//! The operation log (操作ログ, A29/M22): append-only and hash-chained.

use chrono::{DateTime, Utc};
use hiroba_domain::audit::{ChainBreak, ChainVerifier, EntryFields, entry_hash};

use crate::{Db, Result, Tx, on_pool, on_tx};

/// What happened, by whom, from where, to what.
#[derive(Debug, Clone, Default)]
pub struct NewEntry {
    pub staff_id: Option<i64>,
    pub staff_login: String,
    pub ip: String,
    pub action: String,
    pub object: String,
    pub summary: String,
}

#[derive(Debug, Clone, sqlx::FromRow)]
pub struct Entry {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub staff_id: Option<i64>,
    pub staff_login: String,
    pub ip: String,
    pub action: String,
    pub object: String,
    pub summary: String,
    pub prev_hash: String,
    pub hash: String,
}

impl Entry {
    fn fields(&self) -> EntryFields<'_> {
        EntryFields {
            seq: self.seq,
            at: self.at,
            staff_id: self.staff_id,
            staff_login: &self.staff_login,
            ip: &self.ip,
            action: &self.action,
            object: &self.object,
            summary: &self.summary,
        }
    }
}

/// Appends an entry inside the caller's transaction, so the entry and the change
/// it records commit together. Call it last: bumping the single chain-head row
/// holds a row lock (PostgreSQL) until commit, which serialises appenders.
pub async fn append(tx: &mut Tx, entry: &NewEntry) -> Result<i64> {
    let (seq, prev_hash): (i64, String) = on_tx!(tx, conn => sqlx::query_as(
        "UPDATE audit_chain SET head_seq = head_seq + 1 WHERE id = 1 RETURNING head_seq, head_hash"
    )
    .fetch_one(conn)
    .await)?;
    // Microsecond precision: both backends store it exactly, so the hash re-verifies.
    let at = micros(Utc::now());
    let fields = EntryFields {
        seq,
        at,
        staff_id: entry.staff_id,
        staff_login: &entry.staff_login,
        ip: &entry.ip,
        action: &entry.action,
        object: &entry.object,
        summary: &entry.summary,
    };
    let hash = entry_hash(&prev_hash, &fields);
    on_tx!(tx, conn => sqlx::query(
        "INSERT INTO audit_log (seq, at, staff_id, staff_login, ip, action, object, summary, prev_hash, hash) \
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)"
    )
    .bind(seq)
    .bind(at)
    .bind(entry.staff_id)
    .bind(&entry.staff_login)
    .bind(&entry.ip)
    .bind(&entry.action)
    .bind(&entry.object)
    .bind(&entry.summary)
    .bind(&prev_hash)
    .bind(&hash)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    on_tx!(tx, conn => sqlx::query("UPDATE audit_chain SET head_hash = $1 WHERE id = 1")
        .bind(&hash)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    Ok(seq)
}

/// Records an entry on its own (logins, refusals: events with no other write).
pub async fn record(db: &Db, entry: &NewEntry) -> Result<i64> {
    let mut tx = db.begin().await?;
    let seq = append(&mut tx, entry).await?;
    tx.commit().await?;
    Ok(seq)
}

pub(crate) fn micros(at: DateTime<Utc>) -> DateTime<Utc> {
    DateTime::from_timestamp_micros(at.timestamp_micros()).unwrap_or(at)
}

/// Search conditions of the operation-log page; `None` means "any".
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub from: Option<DateTime<Utc>>,
    pub until: Option<DateTime<Utc>>,
    pub staff_login: Option<String>,
    pub action: Option<String>,
    pub object: Option<String>,
}

const SEARCH_WHERE: &str = "WHERE ($1 IS NULL OR at >= $1) AND ($2 IS NULL OR at < $2) \
     AND ($3 IS NULL OR staff_login = $3) AND ($4 IS NULL OR action LIKE $4 ESCAPE '\\') \
     AND ($5 IS NULL OR object LIKE $5 ESCAPE '\\')";

pub(crate) fn like_pattern(term: &Option<String>, prefix_only: bool) -> Option<String> {
    term.as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(|t| {
            let escaped = t
                .replace('\\', "\\\\")
                .replace('%', "\\%")
                .replace('_', "\\_");
            if prefix_only {
                format!("{escaped}%")
            } else {
                format!("%{escaped}%")
            }
        })
}

/// Newest first, `limit` entries from `offset`.
pub async fn search(db: &Db, filter: &Filter, limit: i64, offset: i64) -> Result<Vec<Entry>> {
    let sql =
        format!("SELECT * FROM audit_log {SEARCH_WHERE} ORDER BY seq DESC LIMIT $6 OFFSET $7");
    let action = like_pattern(&filter.action, true);
    let object = like_pattern(&filter.object, false);
    let login = filter
        .staff_login
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    Ok(on_pool!(db, pool => sqlx::query_as::<_, Entry>(&sql)
        .bind(filter.from)
        .bind(filter.until)
        .bind(login)
        .bind(&action)
        .bind(&object)
        .bind(limit)
        .bind(offset)
        .fetch_all(pool)
        .await)?)
}

pub async fn count(db: &Db, filter: &Filter) -> Result<i64> {
    let sql = format!("SELECT COUNT(*) FROM audit_log {SEARCH_WHERE}");
    let action = like_pattern(&filter.action, true);
    let object = like_pattern(&filter.object, false);
    let login = filter
        .staff_login
        .as_deref()
        .map(str::trim)
        .filter(|s| !s.is_empty());
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, i64>(&sql)
        .bind(filter.from)
        .bind(filter.until)
        .bind(login)
        .bind(&action)
        .bind(&object)
        .fetch_one(pool)
        .await)?)
}

/// Distinct action names, for the search form's choices.
pub async fn actions(db: &Db) -> Result<Vec<String>> {
    Ok(on_pool!(db, pool => sqlx::query_scalar::<_, String>(
        "SELECT DISTINCT action FROM audit_log ORDER BY action"
    )
    .fetch_all(pool)
    .await)?)
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    pub checked: u64,
    pub head_seq: i64,
    pub head_hash: String,
}

#[derive(sqlx::FromRow)]
struct Chain {
    head_seq: i64,
    head_hash: String,
    anchor_seq: i64,
    anchor_hash: String,
}

/// Walks the whole chain from the retention anchor to the head.
pub async fn verify(db: &Db) -> Result<Result<VerifyReport, ChainBreak>> {
    let chain: Chain = on_pool!(db, pool => sqlx::query_as(
        "SELECT head_seq, head_hash, anchor_seq, anchor_hash FROM audit_chain WHERE id = 1"
    )
    .fetch_one(pool)
    .await)?;
    let mut verifier = ChainVerifier::new(chain.anchor_seq, &chain.anchor_hash);
    let mut after = chain.anchor_seq;
    loop {
        let batch: Vec<Entry> = on_pool!(db, pool => sqlx::query_as(
            "SELECT * FROM audit_log WHERE seq > $1 ORDER BY seq LIMIT 1000"
        )
        .bind(after)
        .fetch_all(pool)
        .await)?;
        let Some(last) = batch.last() else { break };
        after = last.seq;
        for entry in &batch {
            if let Err(broken) = verifier.check(&entry.fields(), &entry.prev_hash, &entry.hash) {
                return Ok(Err(broken));
            }
        }
    }
    // Entries removed from the end would leave a valid but shorter chain.
    if after != chain.head_seq {
        return Ok(Err(ChainBreak {
            seq: after + 1,
            reason: "entries after this point are missing (the chain head is further on)",
        }));
    }
    Ok(Ok(VerifyReport {
        checked: verifier.checked(),
        head_seq: chain.head_seq,
        head_hash: chain.head_hash,
    }))
}

/// Removes entries older than `cutoff` and moves the anchor past them, so the
/// remaining chain still verifies. Returns how many entries were removed.
pub async fn prune(db: &Db, cutoff: DateTime<Utc>) -> Result<u64> {
    let mut tx = db.begin().await?;
    let last: Option<(i64, String)> = on_tx!(&mut tx, conn => sqlx::query_as(
        "SELECT seq, hash FROM audit_log WHERE at < $1 ORDER BY seq DESC LIMIT 1"
    )
    .bind(cutoff)
    .fetch_optional(conn)
    .await)?;
    let Some((seq, hash)) = last else {
        return Ok(0);
    };
    let removed = on_tx!(&mut tx, conn => sqlx::query("DELETE FROM audit_log WHERE seq <= $1")
        .bind(seq)
        .execute(conn)
        .await.map(|r| r.rows_affected()))?;
    on_tx!(&mut tx, conn => sqlx::query(
        "UPDATE audit_chain SET anchor_seq = $1, anchor_hash = $2 WHERE id = 1"
    )
    .bind(seq)
    .bind(&hash)
    .execute(conn)
    .await.map(|r| r.rows_affected()))?;
    tx.commit().await?;
    Ok(removed)
}
