//! Forms and their responses (issue 6; M05, M06, M08, M26), on SQLite and
//! PostgreSQL: building a form, a 更新型 submission writing the friend's
//! attributes in the same transaction (and replacing the previous response),
//! a refused answer writing nothing, surveys appending, counts and CSV rows,
//! and at most one first-follow form.

use std::collections::BTreeMap;

use chrono::{NaiveDate, Utc};
use hiroba_domain::attributes::{AttributeKey, AttributeValue, OptionKey};
use hiroba_domain::forms::{
    Answer, FormHeader, FormItem, FormKind, ItemSource, QuestionKind, Submission, validate,
};
use hiroba_domain::segment::{Condition, Predicate};
use hiroba_store::forms::{self, Submitter};
use hiroba_store::line::{self, Channel};
use hiroba_store::testing::backends;
use hiroba_store::{Db, StoreError, attributes, segments};

fn inputs(pairs: &[(&str, &[&str])]) -> BTreeMap<String, Vec<String>> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), v.iter().map(|s| (*s).to_owned()).collect()))
        .collect()
}

async fn follow(db: &Db, user: &str) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = line::upsert_follow(
        &mut tx,
        Channel::Production,
        user,
        "国富 花子",
        "",
        Utc::now(),
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn new_form(db: &Db, title: &str, kind: FormKind) -> i64 {
    let mut tx = db.begin().await.unwrap();
    let id = forms::create(
        &mut tx,
        &FormHeader {
            title: title.into(),
            description: "説明".into(),
            kind,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    id
}

async fn add(db: &Db, form: i64, label: &str, required: bool, source: ItemSource) -> String {
    let mut tx = db.begin().await.unwrap();
    let key = forms::next_item_key(&mut tx, form).await.unwrap();
    forms::add_item(
        &mut tx,
        form,
        &FormItem {
            key: key.clone(),
            label: label.into(),
            help: String::new(),
            required,
            source,
        },
    )
    .await
    .unwrap();
    tx.commit().await.unwrap();
    key
}

fn attr(key: &str) -> ItemSource {
    ItemSource::Attribute {
        key: AttributeKey::parse(key).unwrap(),
    }
}

async fn submit(
    db: &Db,
    form: i64,
    friend: Option<i64>,
    values: &[(&str, &[&str])],
) -> Result<i64, StoreError> {
    let stored = forms::get(db, form).await.unwrap();
    let catalog = attributes::catalog(db).await.unwrap();
    let submission = validate(stored.header.kind, &stored.items, &catalog, &inputs(values))
        .map_err(|e| StoreError::Invalid(format!("{e:?}")))?;
    let mut tx = db.begin().await?;
    let id = forms::submit(
        &mut tx,
        form,
        stored.header.kind,
        Submitter {
            friend_id: friend,
            staff_id: None,
        },
        &submission,
        Utc::now(),
    )
    .await?;
    tx.commit().await?;
    Ok(id)
}

#[tokio::test]
async fn forms_registration_writes_attributes_in_one_transaction() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        attributes::seed_defaults(db).await.unwrap();
        let friend = follow(db, "U00000000000000000000000000000001").await;
        let form = new_form(db, "はじめにご登録ください", FormKind::Preference).await;
        let area = add(db, form, "お住まいの地区", true, attr("area")).await;
        let kids = add(
            db,
            form,
            "お子さんの生年月日",
            false,
            attr("child_birth_dates"),
        )
        .await;
        let q = add(
            db,
            form,
            "このアカウントをどこで知りましたか",
            false,
            ItemSource::Question {
                kind: QuestionKind::SingleChoice,
                options: vec!["広報".into(), "知人".into()],
            },
        )
        .await;
        assert_eq!(
            (area.as_str(), kids.as_str(), q.as_str()),
            ("i1", "i2", "i3")
        );

        // Reorder and remove keep keys.
        let mut tx = db.begin().await.unwrap();
        forms::move_item(&mut tx, form, &q, true).await.unwrap();
        tx.commit().await.unwrap();
        let stored = forms::get(db, form).await.unwrap();
        let order: Vec<&str> = stored.items.iter().map(|i| i.key.as_str()).collect();
        assert_eq!(order, ["i1", "i3", "i2"], "{label}");

        let f_area = format!("f_{area}");
        let f_kids = format!("f_{kids}");
        let f_q = format!("f_{q}");
        submit(
            db,
            form,
            Some(friend),
            &[
                (&f_area, &["honjo"]),
                (&f_kids, &["2021-05-05"]),
                (&f_q, &["広報"]),
            ],
        )
        .await
        .unwrap();
        let answers = attributes::answers(db, friend).await.unwrap();
        assert_eq!(
            answers[&AttributeKey::parse("area").unwrap()],
            AttributeValue::Choice(OptionKey::parse("honjo").unwrap()),
            "{label}"
        );
        assert_eq!(
            answers[&AttributeKey::parse("child_birth_dates").unwrap()],
            AttributeValue::Dates(vec![NaiveDate::from_ymd_opt(2021, 5, 5).unwrap()])
        );
        let honjo = Condition::from(Predicate::ChoiceIn {
            attribute: AttributeKey::parse("area").unwrap(),
            options: [OptionKey::parse("honjo").unwrap()].into_iter().collect(),
        });
        let today = Utc::now().date_naive();
        assert_eq!(
            segments::count(db, Channel::Production, &honjo, today)
                .await
                .unwrap(),
            1,
            "{label}: a segment on the district finds the friend"
        );

        // Changing the answers replaces the response (M08).
        submit(db, form, Some(friend), &[(&f_area, &["morinaga"])])
            .await
            .unwrap();
        let (_, latest) = forms::latest_response(db, form, friend)
            .await
            .unwrap()
            .unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(
            latest[&area],
            Answer::Attribute(AttributeValue::Choice(
                OptionKey::parse("morinaga").unwrap()
            ))
        );
        assert_eq!(
            forms::responses(db, form).await.unwrap().len(),
            1,
            "{label}"
        );
        let answers = attributes::answers(db, friend).await.unwrap();
        assert!(
            !answers.contains_key(&AttributeKey::parse("child_birth_dates").unwrap()),
            "{label}: emptied dates are cleared"
        );

        // A refused attribute write rolls back the whole submission.
        let before = forms::responses(db, form).await.unwrap();
        let mut tx = db.begin().await.unwrap();
        let mut bad = Submission::default();
        bad.attributes.insert(
            AttributeKey::parse("household_size").unwrap(),
            Some(AttributeValue::Number(500)),
        );
        bad.answers.insert(area.clone(), Answer::Text("x".into()));
        let err = forms::submit(
            &mut tx,
            form,
            FormKind::Preference,
            Submitter {
                friend_id: Some(friend),
                staff_id: None,
            },
            &bad,
            Utc::now(),
        )
        .await
        .unwrap_err();
        assert!(matches!(err, StoreError::Invalid(_)), "{label}: {err:?}");
        drop(tx);
        assert_eq!(forms::responses(db, form).await.unwrap(), before, "{label}");

        // Removing an item keeps other answers' keys.
        let mut tx = db.begin().await.unwrap();
        forms::remove_item(&mut tx, form, &q).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(forms::get(db, form).await.unwrap().items.len(), 2);
        let key = {
            let mut tx = db.begin().await.unwrap();
            let k = forms::next_item_key(&mut tx, form).await.unwrap();
            tx.commit().await.unwrap();
            k
        };
        assert_eq!(key, "i4", "{label}: keys are never reused");
    }
}

#[tokio::test]
async fn forms_surveys_append_and_count() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        attributes::seed_defaults(db).await.unwrap();
        let a = follow(db, "U00000000000000000000000000000002").await;
        let form = new_form(db, "施設の満足度アンケート", FormKind::Survey).await;
        let sat = add(
            db,
            form,
            "満足度",
            true,
            ItemSource::Question {
                kind: QuestionKind::SingleChoice,
                options: vec!["満足".into(), "普通".into(), "不満".into()],
            },
        )
        .await;
        let note = add(
            db,
            form,
            "ご意見",
            false,
            ItemSource::Question {
                kind: QuestionKind::Text,
                options: vec![],
            },
        )
        .await;
        let fs = format!("f_{sat}");
        let fnote = format!("f_{note}");
        submit(
            db,
            form,
            Some(a),
            &[(&fs, &["満足"]), (&fnote, &["きれいでした, \"とても\""])],
        )
        .await
        .unwrap();
        submit(db, form, Some(a), &[(&fs, &["満足"])])
            .await
            .unwrap();
        submit(
            db,
            form,
            None,
            &[(&fs, &["不満"]), (&fnote, &["=HYPERLINK(\"http://x\")"])],
        )
        .await
        .unwrap();
        let stored = forms::get(db, form).await.unwrap();
        let catalog = attributes::catalog(db).await.unwrap();
        let responses = forms::responses(db, form).await.unwrap();
        assert_eq!(responses.len(), 3, "{label}: a survey appends");
        let counts = forms::counts(&stored, &catalog, &responses);
        assert_eq!(counts[0].answered, 3);
        assert_eq!(
            counts[0].options,
            vec![
                ("満足".to_owned(), 2),
                ("普通".to_owned(), 0),
                ("不満".to_owned(), 1)
            ]
        );
        assert_eq!(counts[1].answered, 2);
        let rows = forms::csv_rows(&stored, &catalog, &responses);
        assert_eq!(
            rows[0],
            ["回答番号", "回答日時", "友だち", "満足度", "ご意見"]
        );
        assert_eq!(rows[1][2], "国富 花子");
        assert_eq!(rows[1][4], "きれいでした, \"とても\"");
        assert_eq!(rows[3][2], "（職員入力）");
        assert_eq!(
            rows[3][4], "'=HYPERLINK(\"http://x\")",
            "{label}: no formula in Excel"
        );
        assert!(forms::latest_response(db, form, a).await.unwrap().is_some());

        // At most one first-follow form; staff forms cannot be it; closed ones are not linked.
        let staff_form = new_form(db, "窓口での聞き取り", FormKind::Staff).await;
        let mut tx = db.begin().await.unwrap();
        forms::set_first_follow(&mut tx, Some(form)).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            forms::first_follow_form(db).await.unwrap(),
            None,
            "{label}: closed"
        );
        let mut tx = db.begin().await.unwrap();
        forms::set_open(&mut tx, form, true).await.unwrap();
        tx.commit().await.unwrap();
        assert_eq!(
            forms::first_follow_form(db).await.unwrap().map(|f| f.0),
            Some(form)
        );
        let mut tx = db.begin().await.unwrap();
        assert!(
            forms::set_first_follow(&mut tx, Some(staff_form))
                .await
                .is_err()
        );
        drop(tx);
        let other = new_form(db, "別の登録", FormKind::Preference).await;
        let mut tx = db.begin().await.unwrap();
        forms::set_first_follow(&mut tx, Some(other)).await.unwrap();
        tx.commit().await.unwrap();
        let flagged: Vec<i64> = forms::list(db)
            .await
            .unwrap()
            .into_iter()
            .filter(|f| f.first_follow)
            .map(|f| f.id)
            .collect();
        assert_eq!(flagged, vec![other], "{label}");
        // A registration needs a friend.
        let mut tx = db.begin().await.unwrap();
        assert!(
            forms::submit(
                &mut tx,
                other,
                FormKind::Preference,
                Submitter {
                    friend_id: None,
                    staff_id: Some(1)
                },
                &Submission::default(),
                Utc::now()
            )
            .await
            .is_err()
        );
    }
}
