//! Uploaded images for LINE messages (issue 6, M07): stored with their
//! renditions, found by token only, listed and deleted, on SQLite and PostgreSQL.

use hiroba_store::StoreError;
use hiroba_store::media::{self, NewMedia, NewRendition, Purpose};
use hiroba_store::testing::backends;

fn rendition(name: &str, width: u32, fill: u8) -> NewRendition {
    NewRendition {
        name: name.into(),
        content_type: "image/png",
        width,
        height: width / 2,
        bytes: vec![fill; 16],
    }
}

#[tokio::test]
async fn media_round_trip() {
    for t in backends().await {
        let db = &t.db;
        let label = t.label();
        let token = media::new_token().unwrap();
        assert!(media::is_token(&token), "{token}");
        assert_ne!(token, media::new_token().unwrap());
        let new = NewMedia {
            token: token.clone(),
            purpose: Purpose::Imagemap,
            content_type: "image/png",
            width: 2080,
            height: 1040,
            upload_bytes: 123_456,
            file_name: "地図.png".into(),
            created_by: None,
            renditions: vec![rendition("1040", 1040, 1), rendition("240", 240, 2)],
        };
        let mut tx = db.begin().await.unwrap();
        let id = media::insert(&mut tx, &new).await.unwrap();
        tx.commit().await.unwrap();

        let got = media::get(db, &token).await.unwrap().unwrap();
        assert_eq!(got.id, id, "{label}");
        assert_eq!(got.purpose, Purpose::Imagemap);
        assert_eq!(
            (got.width, got.height, got.upload_bytes),
            (2080, 1040, 123_456)
        );
        assert_eq!(got.file_name, "地図.png");
        let r = media::rendition(db, &token, "240").await.unwrap().unwrap();
        assert_eq!(
            (r.width, r.height, r.bytes),
            (240, 120, vec![2; 16]),
            "{label}"
        );
        assert_eq!(r.content_type, "image/png");
        assert!(media::rendition(db, &token, "700").await.unwrap().is_none());
        let names: Vec<_> = media::renditions(db, &token)
            .await
            .unwrap()
            .into_iter()
            .map(|(n, w, _, len)| (n, w, len))
            .collect();
        assert_eq!(names, [("1040".into(), 1040, 16), ("240".into(), 240, 16)]);
        // Never by row id or a malformed token.
        assert!(media::get(db, &id.to_string()).await.unwrap().is_none());
        assert!(
            media::rendition(db, "../1040", "1040")
                .await
                .unwrap()
                .is_none()
        );
        assert_eq!(media::list(db, 10, 0).await.unwrap().len(), 1, "{label}");

        let mut tx = db.begin().await.unwrap();
        media::delete(&mut tx, &token).await.unwrap();
        tx.commit().await.unwrap();
        assert!(media::get(db, &token).await.unwrap().is_none());
        assert!(
            media::rendition(db, &token, "1040")
                .await
                .unwrap()
                .is_none()
        );
        let mut tx = db.begin().await.unwrap();
        assert!(matches!(
            media::delete(&mut tx, &token).await,
            Err(StoreError::NotFound)
        ));
    }
}
