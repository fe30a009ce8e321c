//! Retention periods. The operation log must be kept at least 24 months (A29).

use chrono::{DateTime, Months, Utc};

pub const AUDIT_MIN_MONTHS: u32 = 24;
pub const AUDIT_MAX_MONTHS: u32 = 1200;

/// How many months the operation log is kept; never below 24.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct AuditRetention(u32);

impl AuditRetention {
    pub fn months(months: u32) -> Result<Self, String> {
        if months < AUDIT_MIN_MONTHS {
            return Err(format!(
                "操作ログの保存期間は{AUDIT_MIN_MONTHS}か月以上にしてください。"
            ));
        }
        if months > AUDIT_MAX_MONTHS {
            return Err(format!(
                "操作ログの保存期間は{AUDIT_MAX_MONTHS}か月以内にしてください。"
            ));
        }
        Ok(Self(months))
    }

    pub fn get(self) -> u32 {
        self.0
    }

    /// Entries strictly older than this instant may be removed.
    pub fn cutoff(self, now: DateTime<Utc>) -> DateTime<Utc> {
        now.checked_sub_months(Months::new(self.0))
            .unwrap_or(DateTime::<Utc>::MIN_UTC)
    }
}

impl Default for AuditRetention {
    fn default() -> Self {
        Self(60)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn below_24_months_is_refused() {
        assert!(AuditRetention::months(23).is_err());
        assert_eq!(AuditRetention::months(24).map(AuditRetention::get), Ok(24));
    }

    #[test]
    fn cutoff_is_calendar_months_back() {
        let now = Utc.with_ymd_and_hms(2026, 3, 31, 0, 0, 0).single();
        let expected = Utc.with_ymd_and_hms(2024, 3, 31, 0, 0, 0).single();
        assert_eq!(
            now.map(|n| AuditRetention::months(24).map(|r| r.cutoff(n))),
            Some(Ok(expected.unwrap_or_default()))
        );
    }
}
