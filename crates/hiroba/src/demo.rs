//! The demo seed: Kunitomi's 17 facilities, the default friend attributes and
//! three staff accounts whose logins `hiroba demo` prints and shows on its
//! login page.

use hiroba_domain::permission::{FacilityScope, Permission, PermissionSet};
use hiroba_domain::staff::{LoginId, NewPassword, StaffName};
use hiroba_store::staff::{self, StaffChange};
use hiroba_store::{Db, StoreError, audit, facilities, seed};

pub struct DemoStaff {
    pub login: &'static str,
    pub password: &'static str,
    pub name: &'static str,
    pub role: &'static str,
}

pub const DEMO_STAFF: [DemoStaff; 3] = [
    DemoStaff {
        login: "admin",
        password: "kunitomi-demo-2026!",
        name: "管理 太郎",
        role: "システム管理者（すべての機能・すべての施設）",
    },
    DemoStaff {
        login: "uketsuke",
        password: "madoguchi-demo-2026",
        name: "受付 花子",
        role: "窓口職員（予約・利用者・帳票。アリーナくにとみと武道館のみ）",
    },
    DemoStaff {
        login: "koho",
        password: "oshirase-demo-2026",
        name: "広報 一郎",
        role: "広報担当（LINE配信・リッチメニュー・フォーム・統計）",
    },
];

/// A registered resident for trying the booking pages (and for the load
/// harness's booking scenario): (e-mail, password, name).
pub const DEMO_RESIDENT: (&str, &str, &str) =
    ("demo-jumin@example.jp", "hiroba-jumin-2026", "本庄 さくら");

#[derive(Debug, thiserror::Error)]
pub enum DemoError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("demo data is invalid: {0}")]
    Invalid(String),
}

/// Seeds facilities and, into a database without staff, the demo accounts.
pub async fn seed(db: &Db) -> Result<(), DemoError> {
    seed::kunitomi_facilities(db).await?;
    hiroba_store::kunitomi_catalogue(db).await?;
    // The default friend attributes (M09); does nothing once any exist.
    hiroba_store::attributes::seed_defaults(db).await?;
    if staff::count(db).await? > 0 {
        return Ok(());
    }
    let all = facilities::list(db).await?;
    let scope_of = |names: &[&str]| {
        FacilityScope::Only(
            all.iter()
                .filter(|f| names.iter().any(|n| f.name.contains(n)))
                .map(|f| f.id)
                .collect(),
        )
    };
    let grants = [
        (PermissionSet::all(), FacilityScope::All),
        (
            [
                Permission::Reservations,
                Permission::BookingOverride,
                Permission::Residents,
                Permission::Reports,
            ]
            .into_iter()
            .collect(),
            scope_of(&["アリーナくにとみ", "武道館"]),
        ),
        (
            [
                Permission::MessagingCompose,
                Permission::RichMenus,
                Permission::Forms,
                Permission::Statistics,
            ]
            .into_iter()
            .collect(),
            FacilityScope::Only(Default::default()),
        ),
    ];
    let mut tx = db.begin().await?;
    for (demo, (permissions, scope)) in DEMO_STAFF.iter().zip(grants) {
        let login = LoginId::parse(demo.login).map_err(DemoError::Invalid)?;
        let name = StaffName::parse(demo.name).map_err(DemoError::Invalid)?;
        let password = NewPassword::parse(demo.password, &[demo.login, demo.name])
            .map_err(DemoError::Invalid)?;
        let hash = staff::hash_password(&password).await?;
        let id = staff::create(
            &mut tx,
            &login,
            &StaffChange {
                name,
                permissions,
                scope,
            },
            &hash,
        )
        .await?;
        audit::append(
            &mut tx,
            &audit::NewEntry {
                staff_id: None,
                staff_login: "(demo)".into(),
                ip: "local".into(),
                action: "system.staff_create".into(),
                object: format!("staff:{id}"),
                summary: format!("デモ用アカウント {} を作成", demo.login),
            },
        )
        .await?;
    }
    // The demo resident: 町内在住 (the first category), verified, active.
    let (email, password, name) = DEMO_RESIDENT;
    let category = hiroba_store::catalogue::categories(db)
        .await?
        .first()
        .map(|c| c.id)
        .ok_or_else(|| DemoError::Invalid("no user category".into()))?;
    let profile = hiroba_domain::resident::Profile {
        email: email.into(),
        name: name.into(),
        kana: "ほんじょう さくら".into(),
        postal_code: "880-1192".into(),
        address: "宮崎県東諸県郡国富町大字本庄4800番地".into(),
        phone: "0985-75-3111".into(),
        group_name: String::new(),
    };
    let password = NewPassword::parse(password, &[email, name]).map_err(DemoError::Invalid)?;
    let hash = staff::hash_password(&password).await?;
    let id = hiroba_store::residents::register(&mut tx, &profile, category, true, &hash).await?;
    hiroba_store::residents::activate(&mut tx, id).await?;
    tx.commit().await?;
    Ok(())
}
