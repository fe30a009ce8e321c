//! Per-function permissions of staff accounts (M21) and the scope of facilities
//! a staff member manages (A02).

use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

/// One function of the system a staff member may be allowed to use.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Permission {
    Facilities,
    Reservations,
    /// Book at the counter outside the booking window, over the monthly limit
    /// or for a category not allowed (A23); each use is logged with a reason.
    BookingOverride,
    Residents,
    Reports,
    MessagingCompose,
    MessagingSend,
    RichMenus,
    Forms,
    Statistics,
    Logs,
    StaffAdmin,
    SystemSettings,
}

impl Permission {
    pub const ALL: [Permission; 13] = [
        Permission::Facilities,
        Permission::Reservations,
        Permission::BookingOverride,
        Permission::Residents,
        Permission::Reports,
        Permission::MessagingCompose,
        Permission::MessagingSend,
        Permission::RichMenus,
        Permission::Forms,
        Permission::Statistics,
        Permission::Logs,
        Permission::StaffAdmin,
        Permission::SystemSettings,
    ];

    /// Stable code stored in the database and used in form fields.
    pub fn code(self) -> &'static str {
        match self {
            Permission::Facilities => "facilities",
            Permission::Reservations => "reservations",
            Permission::BookingOverride => "booking_override",
            Permission::Residents => "residents",
            Permission::Reports => "reports",
            Permission::MessagingCompose => "messaging_compose",
            Permission::MessagingSend => "messaging_send",
            Permission::RichMenus => "rich_menus",
            Permission::Forms => "forms",
            Permission::Statistics => "statistics",
            Permission::Logs => "logs",
            Permission::StaffAdmin => "staff_admin",
            Permission::SystemSettings => "system_settings",
        }
    }

    /// Label shown to staff.
    pub fn label(self) -> &'static str {
        match self {
            Permission::Facilities => "施設・料金の設定",
            Permission::Reservations => "予約の受付・管理",
            Permission::BookingOverride => "窓口での受付ルールの例外",
            Permission::Residents => "利用者の管理",
            Permission::Reports => "帳票・集計",
            Permission::MessagingCompose => "LINE配信の作成",
            Permission::MessagingSend => "LINE配信の送信・承認",
            Permission::RichMenus => "リッチメニュー",
            Permission::Forms => "登録フォーム",
            Permission::Statistics => "統計",
            Permission::Logs => "操作ログの閲覧",
            Permission::StaffAdmin => "職員アカウントの管理",
            Permission::SystemSettings => "システム設定",
        }
    }
}

impl fmt::Display for Permission {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown permission code: {0}")]
pub struct UnknownPermission(pub String);

impl FromStr for Permission {
    type Err = UnknownPermission;

    fn from_str(code: &str) -> Result<Self, Self::Err> {
        Permission::ALL
            .into_iter()
            .find(|p| p.code() == code)
            .ok_or_else(|| UnknownPermission(code.to_owned()))
    }
}

/// The set of permissions one staff member holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PermissionSet(BTreeSet<Permission>);

impl PermissionSet {
    pub fn all() -> Self {
        Self(Permission::ALL.into_iter().collect())
    }

    pub fn contains(&self, permission: Permission) -> bool {
        self.0.contains(&permission)
    }

    pub fn iter(&self) -> impl Iterator<Item = Permission> + '_ {
        self.0.iter().copied()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }
}

impl FromIterator<Permission> for PermissionSet {
    fn from_iter<I: IntoIterator<Item = Permission>>(iter: I) -> Self {
        Self(iter.into_iter().collect())
    }
}

/// Which facilities a staff member manages.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum FacilityScope {
    All,
    Only(BTreeSet<i64>),
}

impl FacilityScope {
    pub fn allows(&self, facility_id: i64) -> bool {
        match self {
            FacilityScope::All => true,
            FacilityScope::Only(ids) => ids.contains(&facility_id),
        }
    }

    pub fn is_all(&self) -> bool {
        matches!(self, FacilityScope::All)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codes_round_trip_and_are_unique() {
        let mut seen = BTreeSet::new();
        for p in Permission::ALL {
            assert_eq!(p.code().parse::<Permission>(), Ok(p));
            assert!(seen.insert(p.code()), "duplicate code {}", p.code());
            assert!(!p.label().is_empty());
        }
        assert!("root".parse::<Permission>().is_err());
    }

    #[test]
    fn scope_only_allows_listed_facilities() {
        let scope = FacilityScope::Only([3, 5].into_iter().collect());
        assert!(scope.allows(3));
        assert!(!scope.allows(4));
        assert!(FacilityScope::All.allows(4));
    }
}
