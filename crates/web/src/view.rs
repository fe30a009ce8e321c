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

const ADMIN_NAV: [(&str, &str, Option<Permission>); 13] = [
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
    ("/admin/reports", "帳票・集計", Some(Permission::Reports)),
    // The LINE section: shown when any of its pages may be used (see LINE_NAV).
    (LINE_HOME, "LINE", None),
    (
        "/admin/staff",
        "職員アカウント",
        Some(Permission::StaffAdmin),
    ),
    ("/admin/audit", "操作ログ", Some(Permission::Logs)),
    (
        "/admin/settings",
        "システム設定",
        Some(Permission::SystemSettings),
    ),
    ("/admin/account", "パスワード変更", None),
];

pub const LINE_HOME: &str = "/admin/line";

/// The LINE section's own navigation, shown on its pages.
const LINE_NAV: [(&str, &str, Permission); 10] = [
    (
        "/admin/line/friends",
        "友だち",
        Permission::MessagingCompose,
    ),
    (
        "/admin/line/segments",
        "セグメント",
        Permission::MessagingCompose,
    ),
    (
        "/admin/line/compose",
        "メッセージ作成",
        Permission::MessagingCompose,
    ),
    (
        "/admin/line/deliveries",
        "配信",
        Permission::MessagingCompose,
    ),
    ("/admin/line/stats", "統計", Permission::Statistics),
    ("/admin/line/forms", "フォーム", Permission::Forms),
    ("/admin/line/attributes", "属性", Permission::Forms),
    (
        "/admin/line/talk",
        "トークログ",
        Permission::MessagingCompose,
    ),
    ("/admin/line/api-log", "API 呼び出し記録", Permission::Logs),
    (
        "/admin/line/channels",
        "接続設定",
        Permission::SystemSettings,
    ),
];

/// The first LINE page this staff member may use (where "LINE" leads).
pub fn line_entry(staff: &Staff) -> Option<&'static str> {
    LINE_NAV
        .iter()
        .find(|(_, _, p)| staff.may(*p))
        .map(|(href, _, _)| *href)
}

/// The admin navigation for a staff member, marking the section of `path`.
pub fn admin_nav(staff: &Staff, path: &str) -> Vec<NavItem> {
    ADMIN_NAV
        .iter()
        .filter(|(href, _, p)| {
            if *href == LINE_HOME {
                line_entry(staff).is_some()
            } else {
                p.is_none_or(|p| staff.may(p))
            }
        })
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

/// The LINE section's tabs on its pages, only those this member may use.
pub fn line_nav(staff: &Staff, path: &str) -> Vec<NavItem> {
    if !path.starts_with(LINE_HOME) {
        return Vec::new();
    }
    LINE_NAV
        .iter()
        .filter(|(_, _, p)| staff.may(*p))
        .map(|(href, label, _)| NavItem {
            href,
            label,
            current: path.starts_with(href),
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
    /// The section's own tabs (the LINE pages).
    pub subnav: Vec<NavItem>,
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
