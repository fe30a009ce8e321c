//! What every page template shares: the title, the town, the signed-in staff
//! member's navigation and the CSRF token for forms.

use hiroba_domain::permission::Permission;
use hiroba_store::staff::Staff;

/// One entry of the admin navigation; shown only if the staff member may use it.
#[derive(Debug, Clone)]
pub struct NavItem {
    pub href: &'static str,
    pub label: &'static str,
    pub current: bool,
}

const ADMIN_NAV: [(&str, &str, Option<Permission>); 16] = [
    ("/admin", "ホーム", None),
    (
        "/admin/desk",
        "受付カレンダー",
        Some(Permission::Reservations),
    ),
    (
        "/admin/reservations",
        "予約の管理",
        Some(Permission::Reservations),
    ),
    ("/admin/facilities", "施設", Some(Permission::Facilities)),
    (
        "/admin/categories",
        "利用者区分・減免",
        Some(Permission::Facilities),
    ),
    ("/admin/holidays", "祝日", Some(Permission::Facilities)),
    ("/admin/residents", "利用者", Some(Permission::Residents)),
    (
        "/admin/staff",
        "職員アカウント",
        Some(Permission::StaffAdmin),
    ),
    ("/admin/reports", "帳票・集計", Some(Permission::Reports)),
    (
        "/admin/line/friends",
        "LINE 友だち",
        Some(Permission::MessagingCompose),
    ),
    (
        "/admin/line/talk",
        "トークログ",
        Some(Permission::MessagingCompose),
    ),
    ("/admin/audit", "操作ログ", Some(Permission::Logs)),
    (
        "/admin/line/api-log",
        "LINE API 記録",
        Some(Permission::Logs),
    ),
    (
        "/admin/settings",
        "システム設定",
        Some(Permission::SystemSettings),
    ),
    (
        "/admin/line/channels",
        "LINE 接続設定",
        Some(Permission::SystemSettings),
    ),
    ("/admin/account", "パスワード変更", None),
];

/// The admin navigation for a staff member, marking the section of `path`.
pub fn admin_nav(staff: &Staff, path: &str) -> Vec<NavItem> {
    ADMIN_NAV
        .iter()
        .filter(|(_, _, p)| p.is_none_or(|p| staff.may(p)))
        .map(|(href, label, _)| NavItem {
            href,
            label,
            current: if *href == "/admin" {
                path == "/admin" || path == "/admin/"
            } else {
                path.starts_with(href)
            },
        })
        .collect()
}

#[derive(Debug, Clone, Default)]
pub struct Layout {
    pub title: String,
    pub town_name: String,
    pub csrf: String,
    pub staff_name: Option<String>,
    pub nav: Vec<NavItem>,
    pub notice: Option<String>,
    pub admin: bool,
}

impl Layout {
    /// For pages with no session context (errors).
    pub fn plain(title: &str) -> Self {
        Self {
            title: title.to_owned(),
            town_name: String::new(),
            ..Self::default()
        }
    }
}
