//! The operation log's hash chain (A29, M22): each entry's hash covers its own
//! fields and the previous entry's hash, so editing or removing a row in the
//! middle breaks every later link.

use chrono::{DateTime, SecondsFormat, Utc};
use sha2::{Digest, Sha256};

/// Hash that the first entry of an empty log chains to.
pub const GENESIS_HASH: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The fields of an entry that the chain protects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EntryFields<'a> {
    pub seq: i64,
    pub at: DateTime<Utc>,
    pub staff_id: Option<i64>,
    pub staff_login: &'a str,
    pub ip: &'a str,
    pub action: &'a str,
    pub object: &'a str,
    pub summary: &'a str,
}

/// Hex SHA-256 over the previous hash and a length-prefixed encoding of the fields,
/// so no two different entries can encode the same way.
pub fn entry_hash(prev_hash: &str, fields: &EntryFields<'_>) -> String {
    let mut hasher = Sha256::new();
    let staff_id = fields.staff_id.map(|id| id.to_string()).unwrap_or_default();
    let at = fields.at.to_rfc3339_opts(SecondsFormat::Micros, true);
    let seq = fields.seq.to_string();
    for part in [
        prev_hash,
        seq.as_str(),
        at.as_str(),
        staff_id.as_str(),
        fields.staff_login,
        fields.ip,
        fields.action,
        fields.object,
        fields.summary,
    ] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// Where and why the chain is broken.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ChainBreak {
    pub seq: i64,
    pub reason: &'static str,
}

/// Checks a run of entries (ordered by seq) that must continue from `anchor`
/// (the hash and seq of the last entry before them, or genesis).
pub struct ChainVerifier {
    prev_hash: String,
    prev_seq: i64,
    checked: u64,
}

impl ChainVerifier {
    pub fn new(anchor_seq: i64, anchor_hash: &str) -> Self {
        Self {
            prev_hash: anchor_hash.to_owned(),
            prev_seq: anchor_seq,
            checked: 0,
        }
    }

    pub fn check(
        &mut self,
        fields: &EntryFields<'_>,
        stored_prev: &str,
        stored_hash: &str,
    ) -> Result<(), ChainBreak> {
        let seq = fields.seq;
        if seq != self.prev_seq + 1 {
            return Err(ChainBreak {
                seq,
                reason: "sequence gap: an entry is missing",
            });
        }
        if stored_prev != self.prev_hash {
            return Err(ChainBreak {
                seq,
                reason: "previous-hash link does not match",
            });
        }
        if entry_hash(stored_prev, fields) != stored_hash {
            return Err(ChainBreak {
                seq,
                reason: "entry content does not match its hash",
            });
        }
        self.prev_hash = stored_hash.to_owned();
        self.prev_seq = seq;
        self.checked += 1;
        Ok(())
    }

    pub fn checked(&self) -> u64 {
        self.checked
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn fields(seq: i64, summary: &str) -> EntryFields<'_> {
        EntryFields {
            seq,
            at: Utc
                .timestamp_opt(1_700_000_000 + seq, 0)
                .single()
                .unwrap_or_default(),
            staff_id: Some(1),
            staff_login: "admin",
            ip: "127.0.0.1",
            action: "staff.update",
            object: "staff:2",
            summary,
        }
    }

    #[test]
    fn a_chain_verifies_and_an_edit_breaks_it() {
        let mut prev = GENESIS_HASH.to_owned();
        let mut rows = Vec::new();
        for seq in 1..=3 {
            let f = fields(seq, "氏名: 山田 → 山田太郎");
            let hash = entry_hash(&prev, &f);
            rows.push((seq, prev.clone(), hash.clone()));
            prev = hash;
        }
        let mut v = ChainVerifier::new(0, GENESIS_HASH);
        for (seq, p, h) in &rows {
            assert_eq!(
                v.check(&fields(*seq, "氏名: 山田 → 山田太郎"), p, h),
                Ok(())
            );
        }
        assert_eq!(v.checked(), 3);

        let mut v = ChainVerifier::new(0, GENESIS_HASH);
        assert_eq!(
            v.check(&fields(1, "氏名: 山田 → 山田太郎"), &rows[0].1, &rows[0].2),
            Ok(())
        );
        let broken = v.check(&fields(2, "改ざん"), &rows[1].1, &rows[1].2);
        assert_eq!(broken.map_err(|b| b.seq), Err(2));
    }

    #[test]
    fn a_missing_entry_is_a_gap() {
        let mut v = ChainVerifier::new(0, GENESIS_HASH);
        let f = fields(2, "x");
        let h = entry_hash(GENESIS_HASH, &f);
        assert_eq!(v.check(&f, GENESIS_HASH, &h).map_err(|b| b.seq), Err(2));
    }

    #[test]
    fn length_prefix_separates_fields() {
        let mut a = fields(1, "");
        a.action = "ab";
        a.object = "c";
        let mut b = fields(1, "");
        b.action = "a";
        b.object = "bc";
        assert_ne!(entry_hash(GENESIS_HASH, &a), entry_hash(GENESIS_HASH, &b));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    fn fields(seq: usize, summary: &str) -> EntryFields<'_> {
        EntryFields {
            seq: seq as i64 + 1,
            at: Utc
                .timestamp_opt(1_750_000_000, 0)
                .single()
                .unwrap_or_default(),
            staff_id: None,
            staff_login: "x",
            ip: "::1",
            action: "a",
            object: "o",
            summary,
        }
    }

    proptest! {
        /// Any chain built by `entry_hash` verifies, and changing any one
        /// entry's summary is detected at exactly that entry.
        #[test]
        fn chains_verify_and_any_edit_is_found(
            summaries in proptest::collection::vec(".{0,40}", 1..20),
            pick in any::<proptest::sample::Index>(),
            edit in ".{1,10}",
        ) {
            let mut prev = GENESIS_HASH.to_owned();
            let mut rows = Vec::new();
            for (i, s) in summaries.iter().enumerate() {
                let h = entry_hash(&prev, &fields(i, s));
                rows.push((prev.clone(), h.clone()));
                prev = h;
            }
            let mut v = ChainVerifier::new(0, GENESIS_HASH);
            for (i, s) in summaries.iter().enumerate() {
                prop_assert!(v.check(&fields(i, s), &rows[i].0, &rows[i].1).is_ok());
            }
            let target = pick.index(summaries.len());
            let mut edited = summaries.clone();
            edited[target].push_str(&edit);
            let mut v = ChainVerifier::new(0, GENESIS_HASH);
            let broken_at = edited
                .iter()
                .enumerate()
                .find(|(i, s)| v.check(&fields(*i, s), &rows[*i].0, &rows[*i].1).is_err())
                .map(|(i, _)| i);
            prop_assert_eq!(broken_at, Some(target));
        }
    }
}
