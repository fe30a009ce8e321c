//! Friend attributes, answers and segments (issue 6; M09, M11, M12), on SQLite
//! and PostgreSQL: the default attributes, staff edits that never lose
//! answers, answers round-tripping, saved segments, and a property test that
//! the SQL count and pages agree with the domain's evaluator.

use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

use chrono::{Days, NaiveDate, Utc};
use hiroba_domain::attributes::{
    Attribute, AttributeCatalog, AttributeKey, AttributeKind, AttributeName, AttributeParts,
    AttributeValue, ChoiceOption, NumberRange, OptionKey, OptionLabel, default_attributes,
};
use hiroba_domain::segment::{
    AgeRange, AgeUnit, Condition, FriendFacts, FriendStatus, Predicate, Segment, SegmentName,
    matches,
};
use hiroba_store::line::{self, Channel};
use hiroba_store::segments::{self, Recipient};
use hiroba_store::testing::{TestDb, backends};
use hiroba_store::{Db, StoreError, attributes, on_pool};
use proptest::prelude::*;
use proptest::test_runner::{TestCaseError, TestRunner};

fn key(s: &str) -> AttributeKey {
    AttributeKey::parse(s).unwrap()
}

fn okey(s: &str) -> OptionKey {
    OptionKey::parse(s).unwrap()
}

fn d(y: i32, m: u32, day: u32) -> NaiveDate {
    NaiveDate::from_ymd_opt(y, m, day).unwrap()
}

async fn follow(db: &Db, channel: Channel, user: &str) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = line::upsert_follow(&mut tx, channel, user, "", "", Utc::now())
        .await
        .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn write(db: &Db, friend: i64, answers: Vec<(&str, Option<AttributeValue>)>) {
    try_write(db, friend, answers).await.unwrap();
}

async fn try_write(
    db: &Db,
    friend: i64,
    answers: Vec<(&str, Option<AttributeValue>)>,
) -> Result<(), StoreError> {
    let map = answers.into_iter().map(|(k, v)| (key(k), v)).collect();
    let mut tx = db.begin().await?;
    attributes::write_answers(&mut tx, friend, &map).await?;
    tx.commit().await
}

fn choices(keys: &[&str]) -> AttributeValue {
    AttributeValue::Choices(keys.iter().map(|k| okey(k)).collect())
}

fn area_in(keys: &[&str]) -> Condition {
    Predicate::ChoiceIn {
        attribute: key("area"),
        options: keys.iter().map(|k| okey(k)).collect(),
    }
    .into()
}

#[tokio::test]
async fn default_attributes_are_seeded_once() {
    for t in backends().await {
        let db = &t.db;
        assert_eq!(
            attributes::seed_defaults(db).await.unwrap(),
            28,
            "{}",
            t.label()
        );
        assert_eq!(
            attributes::seed_defaults(db).await.unwrap(),
            0,
            "idempotent"
        );
        let catalog = attributes::catalog(db).await.unwrap();
        assert_eq!(
            catalog,
            AttributeCatalog::new(default_attributes()).unwrap()
        );
        assert!(catalog.len() >= 25, "M09");
    }
}

#[tokio::test]
async fn answers_round_trip_and_refusals_write_nothing() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        attributes::seed_defaults(db).await.unwrap();
        let friend = follow(db, Channel::Production, "Uroundtrip").await;
        let fresh = attributes::facts(db, friend).await.unwrap();
        assert_eq!(
            fresh,
            FriendFacts {
                status: FriendStatus::Friend,
                is_test: false,
                answers: BTreeMap::new()
            }
        );
        write(
            db,
            friend,
            vec![
                ("area", Some(AttributeValue::Choice(okey("honjo")))),
                ("interests", Some(choices(&["kosodate", "bosai", "jinken"]))),
                ("household_size", Some(AttributeValue::Number(4))),
                (
                    "expected_birth_date",
                    Some(AttributeValue::Date(d(2026, 9, 1))),
                ),
                (
                    "child_birth_dates",
                    Some(AttributeValue::dates(vec![
                        d(2025, 12, 1),
                        d(2021, 4, 2),
                        d(2025, 12, 1),
                    ])),
                ),
                (
                    "neighborhood_association",
                    Some(AttributeValue::Text("本庄第1自治会 100%_\\".into())),
                ),
            ],
        )
        .await;
        let expected: BTreeMap<AttributeKey, AttributeValue> = [
            ("area", AttributeValue::Choice(okey("honjo"))),
            ("interests", choices(&["kosodate", "bosai", "jinken"])),
            ("household_size", AttributeValue::Number(4)),
            ("expected_birth_date", AttributeValue::Date(d(2026, 9, 1))),
            (
                "child_birth_dates",
                AttributeValue::Dates(vec![d(2021, 4, 2), d(2025, 12, 1), d(2025, 12, 1)]),
            ),
            (
                "neighborhood_association",
                AttributeValue::Text("本庄第1自治会 100%_\\".into()),
            ),
        ]
        .into_iter()
        .map(|(k, v)| (key(k), v))
        .collect();
        assert_eq!(
            attributes::answers(db, friend).await.unwrap(),
            expected,
            "{label}"
        );

        // Replacing some answers leaves the others; clearing removes them.
        write(
            db,
            friend,
            vec![
                ("interests", Some(choices(&[]))),
                (
                    "child_birth_dates",
                    Some(AttributeValue::dates(vec![d(2024, 2, 29)])),
                ),
                ("household_size", None),
            ],
        )
        .await;
        let answers = attributes::answers(db, friend).await.unwrap();
        assert!(
            !answers.contains_key(&key("interests")),
            "an empty set is no answer"
        );
        assert!(!answers.contains_key(&key("household_size")));
        assert_eq!(
            answers[&key("child_birth_dates")],
            AttributeValue::Dates(vec![d(2024, 2, 29)])
        );
        assert_eq!(answers[&key("area")], AttributeValue::Choice(okey("honjo")));

        // A refusal (any attribute) writes nothing, with the domain's message.
        let refused = try_write(
            db,
            friend,
            vec![
                ("area", Some(AttributeValue::Choice(okey("kiwaki")))),
                ("household_size", Some(AttributeValue::Number(21))),
            ],
        )
        .await;
        match refused {
            Err(StoreError::Invalid(m)) => {
                assert_eq!(m, "世帯の人数は1〜20人の範囲で入力してください。")
            }
            other => panic!("{label}: {other:?}"),
        }
        assert!(matches!(
            try_write(db, friend, vec![("nope", None)]).await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            try_write(db, friend, vec![("area", Some(AttributeValue::Number(1)))]).await,
            Err(StoreError::Invalid(_))
        ));
        assert_eq!(
            attributes::answers(db, friend).await.unwrap()[&key("area")],
            AttributeValue::Choice(okey("honjo"))
        );
        assert!(matches!(
            try_write(db, 999_999, vec![("household_size", None)]).await,
            Err(StoreError::NotFound)
        ));
        assert!(matches!(
            attributes::facts(db, 999_999).await,
            Err(StoreError::NotFound)
        ));

        // Status follows line_friends; the test flag is the store's (M12).
        let mut tx = db.begin().await.unwrap();
        line::mark_blocked(&mut tx, Channel::Production, "Uroundtrip", Utc::now())
            .await
            .unwrap();
        attributes::set_test_account(&mut tx, friend, true)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let facts = attributes::facts(db, friend).await.unwrap();
        assert_eq!(facts.status, FriendStatus::Blocked);
        assert!(facts.is_test);
        follow(db, Channel::Production, "Uroundtrip").await;
        assert_eq!(
            attributes::facts(db, friend).await.unwrap().status,
            FriendStatus::Friend
        );
    }
}

#[tokio::test]
async fn staff_edit_attributes_and_answers_survive() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        attributes::seed_defaults(db).await.unwrap();
        let friend = follow(db, Channel::Production, "Ustaff").await;
        write(
            db,
            friend,
            vec![
                ("area", Some(AttributeValue::Choice(okey("honjo")))),
                ("household_size", Some(AttributeValue::Number(3))),
                ("pets", Some(choices(&["dog", "cat"]))),
            ],
        )
        .await;
        let before = attributes::answers(db, friend).await.unwrap();
        let on = d(2026, 6, 15);
        let honjo = area_in(&["honjo"]);
        assert_eq!(
            segments::count(db, Channel::Production, &honjo, on)
                .await
                .unwrap(),
            1
        );

        let mut tx = db.begin().await.unwrap();
        attributes::rename(&mut tx, &key("area"), AttributeName::parse("地区").unwrap())
            .await
            .unwrap();
        let added = attributes::add_option(
            &mut tx,
            &key("area"),
            None,
            OptionLabel::parse("本庄東").unwrap(),
        )
        .await
        .unwrap();
        assert_eq!((added.index, added.key.as_str()), (12, "o12"));
        attributes::rename_option(
            &mut tx,
            &key("area"),
            &okey("honjo"),
            OptionLabel::parse("本庄（旧）").unwrap(),
        )
        .await
        .unwrap();
        attributes::set_option_retired(&mut tx, &key("area"), &okey("honjo"), true)
            .await
            .unwrap();
        attributes::set_retired(&mut tx, &key("household_size"), true)
            .await
            .unwrap();
        attributes::set_option_retired(&mut tx, &key("pets"), &okey("dog"), true)
            .await
            .unwrap();
        tx.commit().await.unwrap();

        let catalog = attributes::catalog(db).await.unwrap();
        let area = catalog.get(&key("area")).unwrap();
        assert_eq!(area.name().as_str(), "地区");
        assert_eq!(area.option_label(&okey("honjo")), "本庄（旧）");
        assert!(area.option(&okey("honjo")).unwrap().retired);
        assert!(catalog.get(&key("household_size")).unwrap().is_retired());
        // Retiring never loses answers, and segments still find them.
        assert_eq!(
            attributes::answers(db, friend).await.unwrap(),
            before,
            "{label}"
        );
        assert_eq!(
            segments::count(db, Channel::Production, &honjo, on)
                .await
                .unwrap(),
            1
        );
        // New answers may no longer choose what is retired.
        match try_write(
            db,
            friend,
            vec![("area", Some(AttributeValue::Choice(okey("honjo"))))],
        )
        .await
        {
            Err(StoreError::Invalid(m)) => {
                assert_eq!(m, "地区の「本庄（旧）」は選べなくなりました。")
            }
            other => panic!("{label}: {other:?}"),
        }
        write(
            db,
            friend,
            vec![("area", Some(AttributeValue::Choice(okey("o12"))))],
        )
        .await;
        assert_eq!(
            segments::count(db, Channel::Production, &area_in(&["o12"]), on)
                .await
                .unwrap(),
            1
        );

        // Duplicates and edits the domain refuses.
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            attributes::rename(
                &mut tx,
                &key("gender"),
                AttributeName::parse("地区").unwrap()
            )
            .await,
            Err(StoreError::Duplicate(_))
        ));
        drop(tx);
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            attributes::add_option(
                &mut tx,
                &key("area"),
                None,
                OptionLabel::parse("森永").unwrap()
            )
            .await,
            Err(StoreError::Invalid(_))
        ));
        assert!(matches!(
            attributes::rename(&mut tx, &key("nothing"), AttributeName::parse("x").unwrap()).await,
            Err(StoreError::NotFound)
        ));
        let copy = catalog.get(&key("gender")).unwrap().clone();
        assert!(matches!(
            attributes::create(&mut tx, &copy).await,
            Err(StoreError::Duplicate("key"))
        ));
        drop(tx);

        // Reordering lists every attribute once.
        let mut order: Vec<AttributeKey> = catalog.iter().map(|a| a.key().clone()).collect();
        order.reverse();
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            attributes::reorder(&mut tx, &order[1..]).await,
            Err(StoreError::Invalid(_))
        ));
        attributes::reorder(&mut tx, &order).await.unwrap();
        let mut options: Vec<OptionKey> = area.options().iter().map(|o| o.key.clone()).collect();
        options.reverse();
        attributes::reorder_options(&mut tx, &key("area"), &options)
            .await
            .unwrap();
        tx.commit().await.unwrap();
        let catalog = attributes::catalog(db).await.unwrap();
        let keys: Vec<AttributeKey> = catalog.iter().map(|a| a.key().clone()).collect();
        assert_eq!(keys, order);
        let area_order: Vec<OptionKey> = catalog
            .get(&key("area"))
            .unwrap()
            .options()
            .iter()
            .map(|o| o.key.clone())
            .collect();
        assert_eq!(area_order, options);

        // A staff-made multiple choice grows past 63 options: a new mask column.
        let topics = Attribute::new(AttributeParts {
            key: key("topics"),
            name: AttributeName::parse("お知らせの分野").unwrap(),
            kind: AttributeKind::MultipleChoice,
            options: vec![ChoiceOption::new(
                okey("first"),
                0,
                OptionLabel::parse("分野0").unwrap(),
                0,
            )],
            number: None,
            position: 500,
            retired: false,
        })
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        attributes::create(&mut tx, &topics).await.unwrap();
        for i in 1..=70 {
            attributes::add_option(
                &mut tx,
                &key("topics"),
                None,
                OptionLabel::parse(&format!("分野{i}")).unwrap(),
            )
            .await
            .unwrap();
        }
        tx.commit().await.unwrap();
        write(
            db,
            friend,
            vec![("topics", Some(choices(&["first", "o62", "o63", "o70"])))],
        )
        .await;
        assert_eq!(
            attributes::answers(db, friend).await.unwrap()[&key("topics")],
            choices(&["first", "o62", "o63", "o70"])
        );
        let includes = |all: bool, keys: &[&str]| -> Condition {
            let options = keys.iter().map(|k| okey(k)).collect();
            if all {
                Predicate::IncludesAll {
                    attribute: key("topics"),
                    options,
                }
                .into()
            } else {
                Predicate::IncludesAny {
                    attribute: key("topics"),
                    options,
                }
                .into()
            }
        };
        for (c, n) in [
            (includes(true, &["o63", "o70", "first"]), 1),
            (includes(true, &["o63", "o64"]), 0),
            (includes(false, &["o64", "o70"]), 1),
            (Condition::not(includes(false, &["o64", "o65"])), 1),
        ] {
            assert_eq!(
                segments::count(db, Channel::Production, &c, on)
                    .await
                    .unwrap(),
                n,
                "{label} {c:?}"
            );
        }

        // The database itself refuses what would lose answers.
        let delete = on_pool!(db, pool => sqlx::query("DELETE FROM attribute_options WHERE key = 'honjo'")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        assert!(delete.is_err(), "{label}");
        let rekey = on_pool!(db, pool => sqlx::query("UPDATE attributes SET kind = 'text' WHERE key = 'area'")
            .execute(pool)
            .await
            .map(|r| r.rows_affected()));
        assert!(rekey.is_err(), "{label}");
    }
}

#[tokio::test]
async fn saved_segments() {
    for t in backends().await {
        let db = &t.db;
        attributes::seed_defaults(db).await.unwrap();
        let catalog = attributes::catalog(db).await.unwrap();
        let staff = staff_id(db).await;
        let checkup = Condition::And(vec![
            area_in(&["honjo", "morinaga"]),
            Predicate::AgeBetween {
                attribute: key("child_birth_dates"),
                age: AgeRange::new(AgeUnit::Months, Some(3), Some(5)).unwrap(),
            }
            .into(),
            Condition::not(Predicate::TestAccount.into()),
        ]);
        let segment = Segment::new(
            SegmentName::parse("4か月児健診").unwrap(),
            checkup.clone(),
            &catalog,
        )
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        let id = segments::create(&mut tx, &segment, staff).await.unwrap();
        tx.commit().await.unwrap();
        let saved = segments::get(db, id).await.unwrap();
        assert_eq!(saved.name.as_str(), "4か月児健診");
        assert_eq!(saved.condition, checkup);
        assert_eq!(saved.created_by, Some(staff));
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            segments::create(&mut tx, &segment, staff).await,
            Err(StoreError::Duplicate("name"))
        ));
        drop(tx);

        let renamed = Segment::new(
            SegmentName::parse("本庄").unwrap(),
            area_in(&["honjo"]),
            &catalog,
        )
        .unwrap();
        let mut tx = db.begin().await.unwrap();
        segments::update(&mut tx, id, &renamed, staff)
            .await
            .unwrap();
        let other = segments::create(&mut tx, &segment, staff).await.unwrap();
        tx.commit().await.unwrap();
        let names: Vec<String> = segments::list(db)
            .await
            .unwrap()
            .into_iter()
            .map(|s| s.name.to_string())
            .collect();
        assert_eq!(names, ["4か月児健診", "本庄"]);
        let by_name = segments::by_name(db, &SegmentName::parse("本庄").unwrap())
            .await
            .unwrap()
            .unwrap();
        assert_eq!((by_name.id, by_name.condition), (id, area_in(&["honjo"])));
        let mut tx = db.begin().await.unwrap();
        segments::delete(&mut tx, other).await.unwrap();
        assert!(matches!(
            segments::delete(&mut tx, other).await,
            Err(StoreError::NotFound)
        ));
        tx.commit().await.unwrap();
        assert_eq!(segments::list(db).await.unwrap().len(), 1);
    }
}

async fn staff_id(db: &Db) -> i64 {
    use hiroba_domain::permission::{FacilityScope, PermissionSet};
    use hiroba_domain::staff::{LoginId, StaffName};
    let mut tx = db.begin().await.unwrap();
    let id = hiroba_store::staff::create(
        &mut tx,
        &LoginId::parse("koho").unwrap(),
        &hiroba_store::staff::StaffChange {
            name: StaffName::parse("広報 一郎").unwrap(),
            permissions: PermissionSet::all(),
            scope: FacilityScope::All,
        },
        "not-a-real-hash",
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

// ---- The SQL agrees with the domain's evaluator ------------------------------------

/// One attribute of a random catalogue: its kind and option indexes.
#[derive(Debug, Clone)]
struct AttrSpec {
    kind: AttributeKind,
    indexes: Vec<u16>,
}

impl AttrSpec {
    fn key(i: usize) -> AttributeKey {
        key(&format!("k{i}"))
    }

    fn option_keys(&self) -> Vec<OptionKey> {
        self.indexes
            .iter()
            .map(|i| OptionKey::numbered(*i))
            .collect()
    }

    fn attribute(&self, i: usize) -> Attribute {
        Attribute::new(AttributeParts {
            key: Self::key(i),
            name: AttributeName::parse(&format!("項目{i}")).unwrap(),
            kind: self.kind,
            options: self
                .indexes
                .iter()
                .map(|&x| {
                    ChoiceOption::new(
                        OptionKey::numbered(x),
                        x,
                        OptionLabel::parse(&format!("選択肢{x}")).unwrap(),
                        u32::from(x),
                    )
                })
                .collect(),
            number: (self.kind == AttributeKind::Number)
                .then(|| NumberRange::new(0, 9, "人").unwrap()),
            position: u32::try_from(i).unwrap(),
            retired: false,
        })
        .unwrap()
    }
}

/// Indexes around the 63-bit column boundaries.
const MASK_INDEXES: [u16; 12] = [0, 1, 2, 3, 4, 61, 62, 63, 64, 126, 189, 251];
const TEXTS: [&str; 11] = [
    "a", "A", "ab", "a%b", "a_b", "%", "_", "\\", "a\\b", "あ", "あa",
];
const NEEDLES: [&str; 10] = ["a", "A", "b", "%", "_", "\\", "a%", "a_", "あ", ""];

fn base() -> NaiveDate {
    d(2018, 1, 1)
}

fn date() -> impl Strategy<Value = NaiveDate> {
    (0u64..3000).prop_map(|n| base() + Days::new(n))
}

fn attr_spec() -> impl Strategy<Value = AttrSpec> {
    let kinds = proptest::sample::select(AttributeKind::ALL.to_vec());
    kinds.prop_flat_map(|kind| {
        let indexes: BoxedStrategy<Vec<u16>> = match kind {
            AttributeKind::SingleChoice => {
                proptest::sample::subsequence((0u16..8).collect::<Vec<_>>(), 1..=5).boxed()
            }
            AttributeKind::MultipleChoice => {
                proptest::sample::subsequence(MASK_INDEXES.to_vec(), 1..=7).boxed()
            }
            _ => Just(Vec::new()).boxed(),
        };
        indexes.prop_map(move |indexes| AttrSpec { kind, indexes })
    })
}

fn value(spec: &AttrSpec) -> BoxedStrategy<Option<AttributeValue>> {
    let keys = spec.option_keys();
    let inner: BoxedStrategy<AttributeValue> = match spec.kind {
        AttributeKind::SingleChoice => proptest::sample::select(keys)
            .prop_map(AttributeValue::Choice)
            .boxed(),
        AttributeKind::MultipleChoice => {
            let n = keys.len();
            proptest::sample::subsequence(keys, 0..=n)
                .prop_map(|v| AttributeValue::Choices(v.into_iter().collect()))
                .boxed()
        }
        AttributeKind::Number => (0i64..10).prop_map(AttributeValue::Number).boxed(),
        AttributeKind::Date => date().prop_map(AttributeValue::Date).boxed(),
        AttributeKind::DateList => proptest::collection::vec(date(), 0..4)
            .prop_map(AttributeValue::dates)
            .boxed(),
        AttributeKind::Text => proptest::sample::select(TEXTS.to_vec())
            .prop_map(|t| AttributeValue::Text(t.to_owned()))
            .boxed(),
    };
    proptest::option::weighted(0.75, inner).boxed()
}

#[derive(Debug, Clone)]
struct FriendSpec {
    blocked: bool,
    is_test: bool,
    /// One per attribute of the catalogue.
    values: Vec<Option<AttributeValue>>,
}

fn friend(specs: &[AttrSpec]) -> impl Strategy<Value = FriendSpec> + use<> {
    let values: Vec<BoxedStrategy<Option<AttributeValue>>> = specs.iter().map(value).collect();
    (
        proptest::bool::weighted(0.2),
        proptest::bool::weighted(0.1),
        values,
    )
        .prop_map(|(blocked, is_test, values)| FriendSpec {
            blocked,
            is_test,
            values,
        })
}

fn age_range() -> impl Strategy<Value = AgeRange> {
    (
        proptest::sample::select(vec![AgeUnit::Days, AgeUnit::Months, AgeUnit::Years]),
        proptest::option::of(0u32..30),
        proptest::option::of(0u32..30),
    )
        .prop_map(|(unit, min, max)| {
            let scale = match unit {
                AgeUnit::Days => 60,
                AgeUnit::Months => 2,
                AgeUnit::Years => 1,
            };
            // Not validated on purpose: min > max must match nobody in SQL too.
            AgeRange {
                unit,
                min: min.map(|v| v * scale),
                max: max.map(|v| v * scale),
            }
        })
}

/// Any predicate on any attribute (k0..kn, or one the catalogue lacks), often
/// of the wrong kind, with options that may not exist: the SQL must agree
/// with the evaluator on all of it.
fn predicate(attributes: usize) -> impl Strategy<Value = Predicate> {
    let option_pool: Vec<OptionKey> = (0u16..8)
        .chain(MASK_INDEXES)
        .chain([999])
        .collect::<BTreeSet<_>>()
        .into_iter()
        .map(OptionKey::numbered)
        .collect();
    (
        0..=attributes,
        0u8..11,
        proptest::sample::subsequence(option_pool.clone(), 0..=3),
        (
            proptest::option::of(0i64..10),
            proptest::option::of(0i64..10),
        ),
        age_range(),
        (proptest::option::of(date()), proptest::option::of(date())),
        proptest::sample::select(NEEDLES.to_vec()),
        proptest::bool::ANY,
    )
        .prop_map(
            |(a, which, options, (min, max), age, (from, to), text, friend)| {
                let attribute = AttrSpec::key(a);
                match which {
                    0 => Predicate::ChoiceIn { attribute, options },
                    1 => Predicate::IncludesAny { attribute, options },
                    2 => Predicate::IncludesAll { attribute, options },
                    3 => Predicate::NotAnswered { attribute },
                    4 => Predicate::NumberBetween {
                        attribute,
                        min,
                        max,
                    },
                    5 => Predicate::AgeBetween { attribute, age },
                    6 => Predicate::DateBetween {
                        attribute,
                        from,
                        to,
                    },
                    7 => Predicate::TextEquals {
                        attribute,
                        text: text.to_owned(),
                    },
                    8 => Predicate::TextContains {
                        attribute,
                        text: text.to_owned(),
                    },
                    9 => Predicate::FriendStatus {
                        status: if friend {
                            FriendStatus::Friend
                        } else {
                            FriendStatus::Blocked
                        },
                    },
                    _ => Predicate::TestAccount,
                }
            },
        )
}

fn condition(attributes: usize) -> impl Strategy<Value = Condition> {
    predicate(attributes)
        .prop_map(Condition::Leaf)
        .prop_recursive(4, 20, 4, |inner| {
            prop_oneof![
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Condition::And),
                proptest::collection::vec(inner.clone(), 0..4).prop_map(Condition::Or),
                inner.prop_map(Condition::not),
            ]
        })
}

#[derive(Debug, Clone)]
struct Case {
    specs: Vec<AttrSpec>,
    friends: Vec<FriendSpec>,
    conditions: Vec<Condition>,
    on: NaiveDate,
}

fn case() -> impl Strategy<Value = Case> {
    proptest::collection::vec(attr_spec(), 3..=7).prop_flat_map(|specs| {
        let n = specs.len();
        (
            proptest::collection::vec(friend(&specs), 150..=250),
            proptest::collection::vec(condition(n), 12),
            (0u64..3400).prop_map(|n| base() + Days::new(n)),
            Just(Arc::new(specs)),
        )
            .prop_map(|(friends, conditions, on, specs)| Case {
                specs: specs.to_vec(),
                friends,
                conditions,
                on,
            })
    })
}

fn check(ok: bool, message: impl FnOnce() -> String) -> Result<(), TestCaseError> {
    if ok {
        Ok(())
    } else {
        Err(TestCaseError::fail(message()))
    }
}

async fn run_case(t: &TestDb, case: &Case) -> Result<(), TestCaseError> {
    let db = &t.db;
    let label = t.label();
    let mut tx = db.begin().await.unwrap();
    for (i, spec) in case.specs.iter().enumerate() {
        attributes::create(&mut tx, &spec.attribute(i))
            .await
            .unwrap();
    }
    // Every friend, with the facts the evaluator sees.
    let now = Utc::now();
    let mut expected: Vec<(i64, FriendFacts)> = Vec::new();
    for (n, f) in case.friends.iter().enumerate() {
        let user = format!("U{n:032x}");
        let id = line::upsert_follow(&mut tx, Channel::Production, &user, "", "", now)
            .await
            .unwrap();
        if f.blocked {
            line::mark_blocked(&mut tx, Channel::Production, &user, now)
                .await
                .unwrap();
        }
        if f.is_test {
            attributes::set_test_account(&mut tx, id, true)
                .await
                .unwrap();
        }
        let given: BTreeMap<AttributeKey, Option<AttributeValue>> = f
            .values
            .iter()
            .enumerate()
            .filter(|(_, v)| v.is_some())
            .map(|(i, v)| (AttrSpec::key(i), v.clone()))
            .collect();
        attributes::write_answers(&mut tx, id, &given)
            .await
            .unwrap();
        let answers = given
            .into_iter()
            .filter_map(|(k, v)| v.filter(|v| !v.is_empty()).map(|v| (k, v)))
            .collect();
        let status = if f.blocked {
            FriendStatus::Blocked
        } else {
            FriendStatus::Friend
        };
        expected.push((
            id,
            FriendFacts {
                status,
                is_test: f.is_test,
                answers,
            },
        ));
    }
    // Friends of the other channel never count.
    let other = line::upsert_follow(&mut tx, Channel::Test, "Uother", "", "", now)
        .await
        .unwrap();
    if let Some(first) = case.friends.first() {
        let given = first
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| (AttrSpec::key(i), v.clone()))
            .collect();
        attributes::write_answers(&mut tx, other, &given)
            .await
            .unwrap();
    }
    // Retiring an attribute changes no answer and no count.
    attributes::set_retired(&mut tx, &AttrSpec::key(0), true)
        .await
        .unwrap();
    tx.commit().await.unwrap();

    for (id, facts) in &expected {
        let stored = attributes::facts(db, *id).await.unwrap();
        check(&stored == facts, || {
            format!("{label}: friend {id} reads back {stored:?}, wrote {facts:?}")
        })?;
    }
    for condition in &case.conditions {
        let matching: Vec<i64> = expected
            .iter()
            .filter(|(_, f)| matches(condition, f, case.on))
            .map(|(id, _)| *id)
            .collect();
        let counted = segments::count(db, Channel::Production, condition, case.on)
            .await
            .unwrap();
        let catalog = attributes::load(db).await.unwrap();
        check(counted == matching.len() as i64, || {
            let sql = segments::compile(&catalog, condition, case.on, 2);
            format!(
                "{label}: counted {counted}, evaluator {} for {condition:?} on {}\nSQL: {}\n{:?}",
                matching.len(),
                case.on,
                sql.sql,
                sql.values
            )
        })?;
        // Keyset pages: every matching friend exactly once, in id order.
        let mut paged: Vec<Recipient> = Vec::new();
        let mut after = 0;
        loop {
            let page = segments::page_after(db, Channel::Production, condition, case.on, after, 37)
                .await
                .unwrap();
            let Some(last) = page.last() else { break };
            after = last.friend_id;
            let full = page.len() == 37;
            paged.extend(page);
            if !full {
                break;
            }
        }
        let ids: Vec<i64> = paged.iter().map(|r| r.friend_id).collect();
        check(ids == matching, || {
            format!("{label}: pages {ids:?} != {matching:?} for {condition:?}")
        })?;
        check(
            paged
                .iter()
                .all(|r| r.user_id.starts_with('U') && r.user_id.len() == 33),
            || format!("{label}: user ids {paged:?}"),
        )?;
    }
    Ok(())
}

#[test]
fn counts_and_pages_agree_with_the_evaluator() {
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .unwrap();
    let config = ProptestConfig {
        cases: 32,
        max_shrink_iters: 64,
        failure_persistence: None,
        ..ProptestConfig::default()
    };
    let mut runner = TestRunner::new(config);
    let result = runner.run(&case(), |case| {
        runtime.block_on(async {
            for t in backends().await {
                run_case(&t, &case).await?;
            }
            Ok(())
        })
    });
    if let Err(e) = result {
        panic!("{e}");
    }
}
