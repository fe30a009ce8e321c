//! Kunitomi Town's facilities (表1 of the specification), seeded once into an
//! empty database by `hiroba demo`. Names are exactly as the specification
//! gives them; addresses, phone numbers and rooms are plausible inventions.

use crate::facilities::{self, FacilityChange, RoomChange, Visibility};
use crate::{Db, Result};

struct SeedFacility {
    name: &'static str,
    description: &'static str,
    address: &'static str,
    phone: &'static str,
    rooms: &'static [(&'static str, Option<i64>)],
}

/// Invented but realistic coordinates around Kunitomi (for the spot guide).
const POSITIONS: [(f64, f64); 17] = [
    (31.9906, 131.3237),
    (31.9768, 131.3011),
    (31.9895, 131.3392),
    (31.9612, 131.2934),
    (32.0147, 131.2703),
    (31.9975, 131.3088),
    (32.0022, 131.3311),
    (32.0091, 131.2877),
    (31.9821, 131.3525),
    (31.9917, 131.3262),
    (31.9938, 131.3279),
    (31.9705, 131.3150),
    (32.0050, 131.3450),
    (32.0238, 131.2588),
    (32.0251, 131.2569),
    (32.0244, 131.2601),
    (32.0230, 131.2575),
];

const TOWN: &str = "宮崎県東諸県郡国富町";

const FACILITIES: [SeedFacility; 17] = [
    SeedFacility {
        name: "国富町中央コミュニティセンター（アリーナくにとみ）",
        description: "バスケットボール2面がとれるメインアリーナと会議室を備えた町の中心施設です。",
        address: "大字本庄4800番地",
        phone: "0985-75-2100",
        rooms: &[
            ("メインアリーナ", Some(500)),
            ("サブアリーナ", Some(150)),
            ("会議室1", Some(30)),
            ("会議室2", Some(30)),
            ("研修室", Some(60)),
            ("和室", Some(20)),
        ],
    },
    SeedFacility {
        name: "国富町靱木体育館",
        description: "バレーボール・バドミントンに使える地区体育館です。",
        address: "大字八代北俣1030番地",
        phone: "0985-75-2101",
        rooms: &[("アリーナ", Some(200))],
    },
    SeedFacility {
        name: "国富町本庄東部体育館",
        description: "本庄地区東部の体育館です。",
        address: "大字本庄6210番地",
        phone: "0985-75-2102",
        rooms: &[("アリーナ", Some(200))],
    },
    SeedFacility {
        name: "国富町北俣体育館",
        description: "北俣地区の体育館です。",
        address: "大字八代北俣2450番地",
        phone: "0985-75-2103",
        rooms: &[("アリーナ", Some(200))],
    },
    SeedFacility {
        name: "国富町深年体育館",
        description: "深年地区の体育館です。",
        address: "大字深年1800番地",
        phone: "0985-75-2104",
        rooms: &[("アリーナ", Some(200))],
    },
    SeedFacility {
        name: "国富町農業者トレーニングセンター（三名体育館）",
        description: "トレーニング室のある体育館です。",
        address: "大字三名2300番地",
        phone: "0985-75-2105",
        rooms: &[("アリーナ", Some(250)), ("トレーニング室", Some(20))],
    },
    SeedFacility {
        name: "須志田地区農業構造改善センター（須志田体育館）",
        description: "須志田地区の体育館と会議室です。",
        address: "大字須志田750番地",
        phone: "0985-75-2106",
        rooms: &[("アリーナ", Some(200)), ("会議室", Some(40))],
    },
    SeedFacility {
        name: "木脇地区農業構造改善センター（木脇体育館）",
        description: "木脇地区の体育館と会議室です。",
        address: "大字木脇1520番地",
        phone: "0985-75-2107",
        rooms: &[("アリーナ", Some(200)), ("会議室", Some(40))],
    },
    SeedFacility {
        name: "国富町川南地区健康増進センター（川南体育館）",
        description: "健康づくり教室にも使われる体育館です。",
        address: "大字田尻1260番地",
        phone: "0985-75-2108",
        rooms: &[("アリーナ", Some(200)), ("健康増進室", Some(30))],
    },
    SeedFacility {
        name: "国富町武道館",
        description: "柔道場・剣道場・弓道場があります。",
        address: "大字本庄5050番地",
        phone: "0985-75-2109",
        rooms: &[
            ("柔道場", Some(80)),
            ("剣道場", Some(80)),
            ("弓道場", Some(30)),
        ],
    },
    SeedFacility {
        name: "国富町運動公園",
        description: "野球場・陸上競技場・多目的グラウンドがあり、夜間照明を使えます。",
        address: "大字本庄5100番地",
        phone: "0985-75-2110",
        rooms: &[
            ("野球場", Some(1000)),
            ("陸上競技場", Some(1000)),
            ("多目的グラウンド", Some(300)),
        ],
    },
    SeedFacility {
        name: "国富町球技場（六野球技場）",
        description: "サッカー・ラグビーに使える芝生の球技場です。",
        address: "大字八代南俣3600番地",
        phone: "0985-75-2111",
        rooms: &[("球技場", Some(500))],
    },
    SeedFacility {
        name: "国富町運動広場（向高運動公園）",
        description: "グラウンド・ゴルフやソフトボールに使える広場です。",
        address: "大字向高1100番地",
        phone: "0985-75-2112",
        rooms: &[("運動広場", Some(300))],
    },
    SeedFacility {
        name: "多目的広場",
        description: "法華嶽公園の芝生広場です。",
        address: "大字深年3300番地（法華嶽公園内）",
        phone: "0985-75-2113",
        rooms: &[("多目的広場", Some(300))],
    },
    SeedFacility {
        name: "キャンプ場",
        description: "法華嶽公園のキャンプ場です。テントサイトと炊事棟があります。",
        address: "大字深年3300番地（法華嶽公園内）",
        phone: "0985-75-2113",
        rooms: &[
            ("サイト1", Some(6)),
            ("サイト2", Some(6)),
            ("サイト3", Some(6)),
            ("サイト4", Some(6)),
            ("サイト5", Some(6)),
            ("サイト6", Some(10)),
        ],
    },
    SeedFacility {
        name: "テニスコート",
        description: "法華嶽公園の砂入り人工芝コート4面です。",
        address: "大字深年3300番地（法華嶽公園内）",
        phone: "0985-75-2113",
        rooms: &[
            ("1面", Some(4)),
            ("2面", Some(4)),
            ("3面", Some(4)),
            ("4面", Some(4)),
        ],
    },
    SeedFacility {
        name: "ドックラン施設",
        description: "法華嶽公園のドッグランです。大型犬と小型犬のエリアに分かれています。",
        address: "大字深年3300番地（法華嶽公園内）",
        phone: "0985-75-2113",
        rooms: &[("大型犬エリア", None), ("小型犬エリア", None)],
    },
];

/// The seeded position of the facility at `index` of 表1.
pub(crate) fn position(index: usize) -> Option<(f64, f64)> {
    POSITIONS.get(index).copied()
}

/// The facility names of 表1, in the specification's order.
pub fn kunitomi_facility_names() -> impl Iterator<Item = &'static str> {
    FACILITIES.iter().map(|f| f.name)
}

/// Seeds Kunitomi's facilities into an empty database; does nothing if any
/// facility exists. Returns whether it seeded.
pub async fn kunitomi_facilities(db: &Db) -> Result<bool> {
    if facilities::count(db).await? > 0 {
        return Ok(false);
    }
    let mut tx = db.begin().await?;
    for (order, seed) in (1_i64..).zip(FACILITIES.iter()) {
        let change = FacilityChange {
            name: seed.name.to_owned(),
            description: seed.description.to_owned(),
            address: format!("{TOWN}{}", seed.address),
            phone: seed.phone.to_owned(),
            contact: format!("{} 電話 {}", seed.name, seed.phone),
            change_days_before: 3,
            resident_may_change: true,
            activity_free_text: true,
            ..FacilityChange::default()
        };
        let id = facilities::insert(&mut tx, &change, order * 10).await?;
        for (room_order, (room, capacity)) in (1_i64..).zip(seed.rooms.iter()) {
            let change = RoomChange {
                name: (*room).to_owned(),
                description: String::new(),
                capacity: *capacity,
                visibility: Visibility::Public,
                min_minutes: 0,
            };
            facilities::insert_room(&mut tx, id, &change, room_order * 10).await?;
        }
    }
    tx.commit().await?;
    Ok(true)
}

/// Reference data every installation needs, whatever else it holds: the
/// one-off holidays set by special laws (the Holiday Act computation cannot
/// know them). Idempotent, and never undoes a change staff made to the same day.
pub async fn reference_data(db: &Db) -> Result<()> {
    let mut tx = db.begin().await?;
    for change in hiroba_domain::holidays::special_law_holidays() {
        crate::on_tx!(&mut tx, conn => sqlx::query(
            "INSERT INTO holiday_overrides (date, name, source) VALUES ($1, $2, 'special_law') ON CONFLICT (date) DO NOTHING"
        )
        .bind(change.date)
        .bind(&change.name)
        .execute(conn)
        .await
        .map(|r| r.rows_affected()))?;
    }
    tx.commit().await
}
