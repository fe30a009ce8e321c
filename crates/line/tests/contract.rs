//! Contract tests against LINE's official OpenAPI files in shared/line-openapi (issue 5):
//! every webhook event schema has examples that Hiroba parses into the right variant, and
//! every request body the client sends validates against its operation's schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::body::Bytes;
use axum::http::{HeaderMap, Method, StatusCode, Uri};
use axum::response::IntoResponse;
use hiroba_line::client::{Client, ClientConfig};
use hiroba_line::message::*;
use hiroba_line::ratelimit::RateLimits;
use hiroba_line::request::*;
use hiroba_line::schema::Validator;
use hiroba_line::webhook::{CallbackRequest, Event, EventKind};
use serde_json::{Value, json};

const SPEC_DIR: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../../shared/line-openapi");

fn validator() -> Arc<Validator> {
    Arc::new(Validator::load(SPEC_DIR).unwrap_or_else(|e| panic!("{SPEC_DIR}: {e}")))
}

fn mapping_keys(v: &Validator, reference: &str) -> BTreeSet<String> {
    v.schema(reference).unwrap()["discriminator"]["mapping"]
        .as_object()
        .unwrap()
        .keys()
        .cloned()
        .collect()
}

#[test]
fn every_webhook_event_schema_parses_into_its_variant() {
    let v = validator();
    let event_ref = "webhook.yml#/components/schemas/Event";
    let wanted = mapping_keys(&v, event_ref);
    let wanted_messages = mapping_keys(&v, "webhook.yml#/components/schemas/MessageContent");
    assert!(wanted.len() >= 19, "{wanted:?}");
    let mut seen = BTreeSet::new();
    let mut seen_messages = BTreeSet::new();
    for all in [true, false] {
        let examples = v.examples(event_ref, all);
        for ex in &examples {
            v.validate(event_ref, ex)
                .unwrap_or_else(|e| panic!("generated example invalid: {e:?}\n{ex:#}"));
            let ty = ex["type"].as_str().unwrap().to_owned();
            let event =
                Event::from_value(ex.clone()).unwrap_or_else(|e| panic!("{ty}: {e}\n{ex:#}"));
            assert_eq!(event.kind.type_name(), Some(ty.as_str()), "{ex:#}");
            assert_eq!(event.raw, *ex);
            if let EventKind::Message(m) = &event.kind {
                let mty = ex["message"]["type"].as_str().unwrap();
                assert_eq!(m.type_name(), Some(mty), "{ex:#}");
                seen_messages.insert(mty.to_owned());
            }
            seen.insert(ty);
        }
        // The same examples as one webhook body.
        let body = json!({"destination": format!("U{}", "0".repeat(32)), "events": examples});
        v.validate("webhook.yml#/components/schemas/CallbackRequest", &body)
            .unwrap();
        let parsed = CallbackRequest::parse(body.to_string().as_bytes()).unwrap();
        assert_eq!(parsed.events.len(), examples.len());
    }
    assert_eq!(seen, wanted, "every event type has an example");
    assert_eq!(seen_messages, wanted_messages, "every message content type");
    // Every source type parses too.
    for source in v.examples("webhook.yml#/components/schemas/Source", true) {
        let s: hiroba_line::webhook::Source = serde_json::from_value(source.clone()).unwrap();
        assert_ne!(s, hiroba_line::webhook::Source::Other, "{source}");
    }
}

#[test]
fn the_validator_catches_what_line_refuses() {
    let v = validator();
    let m = "#/components/schemas/Message";
    assert!(v.validate(m, &json!({"type":"text","text":"a"})).is_ok());
    assert!(
        v.validate(m, &json!({"type":"text"})).is_err(),
        "text required"
    );
    assert!(
        v.validate(m, &json!({"type":"nope"})).is_err(),
        "unknown type"
    );
    assert!(
        v.validate(m, &json!({"type":"image","originalContentUrl":"https://x"}))
            .is_err()
    );
    let strict = v.validate_strict(m, &json!({"type":"text","text":"a","alt_text":"x"}));
    assert!(strict.unwrap_err()[0].contains("alt_text"));
    let push = "#/components/schemas/PushMessageRequest";
    let six: Vec<Value> = (0..6).map(|_| json!({"type":"text","text":"a"})).collect();
    assert!(v.validate(push, &json!({"to":"U","messages":six})).is_err());
    let alias = "#/components/schemas/CreateRichMenuAliasRequest";
    assert!(
        v.validate(
            alias,
            &json!({"richMenuAliasId":"Bad Alias","richMenuId":"r"})
        )
        .is_err()
    );
    let op = v.operation("GET", "/v2/bot/richmenu/list").unwrap();
    assert_eq!(op.operation_id, "getRichMenuList");
    let op = v.operation("POST", "/v2/bot/user/U1/richmenu/r1").unwrap();
    assert_eq!(op.operation_id, "linkRichMenuIdToUser");
    assert_eq!(op.params["userId"], "U1");
    let op = v.operation("PUT", "/v2/bot/audienceGroup/upload").unwrap();
    assert_eq!(
        op.request_schema.as_deref(),
        Some("manage-audience.yml#/components/schemas/AddAudienceToAudienceGroupRequest")
    );
}

fn flex_bubble(text: &str) -> Value {
    json!({"type":"bubble","body":{"type":"box","layout":"vertical","contents":[
        {"type":"text","text":text,"wrap":true},
        {"type":"button","action":{"type":"uri","label":"詳細","uri":"https://example.com"}}]}})
}

fn every_action() -> Vec<Action> {
    vec![
        Action::postback("予約", "action=reserve&id=1"),
        Action::message("はい", "はい"),
        Action::uri("開く", "https://example.com/"),
        Action::DatetimePicker {
            label: Some("日付".into()),
            data: "pick".into(),
            mode: "date".into(),
            initial: Some("2025-04-01".into()),
            max: Some("2025-12-31".into()),
            min: Some("2025-04-01".into()),
        },
        Action::Camera {
            label: "カメラ".into(),
        },
        Action::CameraRoll {
            label: "写真".into(),
        },
        Action::Location {
            label: "位置情報".into(),
        },
        Action::RichMenuSwitch {
            label: Some("次".into()),
            rich_menu_alias_id: "menu-b".into(),
            data: "switch=b".into(),
        },
        Action::Clipboard {
            label: Some("コピー".into()),
            clipboard_text: "KUNITOMI".into(),
        },
    ]
}

/// Every message type Hiroba builds, in groups of at most five.
fn message_groups() -> Vec<Vec<Message>> {
    let area = Area {
        x: 0,
        y: 0,
        width: 520,
        height: 520,
    };
    let quick: Vec<QuickReplyItem> = every_action()
        .into_iter()
        .map(QuickReplyItem::new)
        .collect();
    let column = |t: &str| CarouselColumn {
        thumbnail_image_url: Some("https://example.com/t.jpg".into()),
        title: Some(t.into()),
        text: "説明".into(),
        default_action: Some(Action::uri("開く", "https://example.com/")),
        actions: vec![Action::postback("予約", "a=1")],
    };
    vec![
        vec![
            TextBuilder::new()
                .push("こんにちは")
                .emoji("5ac1bfd5040ab15980c9b435", "001")
                .build()
                .with_quick_reply(quick)
                .with_sender(Sender {
                    name: Some("国富町".into()),
                    icon_url: Some("https://example.com/i.png".into()),
                }),
            Message::text_with_emojis("$ お知らせ $", &[("p1", "001"), ("p1", "002")]).unwrap(),
            Message::sticker("446", "1988"),
            Message::image("https://example.com/o.jpg", "https://example.com/p.jpg"),
            Message::location("中央公民館", "宮崎県東諸県郡国富町", 31.99, 131.32),
        ],
        vec![
            Message::new(MessageBody::Video(Video {
                original_content_url: "https://example.com/v.mp4".into(),
                preview_image_url: "https://example.com/v.jpg".into(),
                tracking_id: Some("track-1".into()),
            })),
            Message::new(MessageBody::Audio(Audio {
                original_content_url: "https://example.com/a.m4a".into(),
                duration: 60000,
            })),
            Message::imagemap(
                "https://example.com/imagemap",
                "イメージマップ",
                Size {
                    width: 1040,
                    height: 1040,
                },
                vec![
                    ImagemapAction::Uri {
                        link_uri: "https://example.com/".into(),
                        area,
                        label: Some("リンク".into()),
                    },
                    ImagemapAction::Message {
                        text: "予約".into(),
                        area,
                        label: None,
                    },
                    ImagemapAction::Clipboard {
                        clipboard_text: "copy".into(),
                        area,
                        label: None,
                    },
                ],
            ),
            Message::flex("お知らせ", flex_bubble("本文")),
            Message::flex(
                "一覧",
                json!({"type":"carousel","contents":[flex_bubble("1"), flex_bubble("2")]}),
            ),
        ],
        vec![
            Message::template(
                "ボタン",
                TemplateKind::Buttons {
                    thumbnail_image_url: Some("https://example.com/t.jpg".into()),
                    title: Some("施設予約".into()),
                    text: "操作を選んでください".into(),
                    default_action: Some(Action::uri("開く", "https://example.com/")),
                    actions: vec![
                        Action::postback("予約", "a=1"),
                        Action::message("確認", "確認"),
                    ],
                },
            ),
            Message::template(
                "確認",
                TemplateKind::Confirm {
                    text: "よろしいですか？".into(),
                    actions: vec![
                        Action::message("はい", "はい"),
                        Action::message("いいえ", "いいえ"),
                    ],
                },
            ),
            Message::template(
                "カルーセル",
                TemplateKind::Carousel {
                    columns: vec![column("A"), column("B")],
                },
            ),
        ],
    ]
}

#[test]
fn every_message_validates_strictly() {
    let v = validator();
    for group in message_groups() {
        validate_messages(&group).unwrap();
        for m in group {
            let json = m.to_json();
            v.validate_strict("#/components/schemas/Message", &json)
                .unwrap_or_else(|e| panic!("{e:#?}\n{json:#}"));
        }
    }
}

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    content_type: Option<String>,
    body: Bytes,
}

/// A LINE stand-in that records requests and answers with an example of the operation's
/// 2xx response schema.
async fn spec_server(v: Arc<Validator>) -> (String, Arc<Mutex<Vec<Seen>>>) {
    let seen: Arc<Mutex<Vec<Seen>>> = Arc::default();
    let seen2 = seen.clone();
    let app = axum::Router::new().fallback(
        move |method: Method, uri: Uri, headers: HeaderMap, body: Bytes| {
            let seen = seen2.clone();
            let v = v.clone();
            async move {
                let path = uri.path().to_owned();
                seen.lock().unwrap().push(Seen {
                    method: method.clone(),
                    path: path.clone(),
                    content_type: headers
                        .get("content-type")
                        .map(|h| h.to_str().unwrap().to_owned()),
                    body,
                });
                let Some(op) = v.operation(method.as_str(), &path) else {
                    return (
                        StatusCode::NOT_FOUND,
                        axum::Json(json!({"message":"Not found"})),
                    )
                        .into_response();
                };
                if op.operation_id == "getRichMenuImage" {
                    return ([("content-type", "image/png")], vec![1u8, 2, 3]).into_response();
                }
                let example = op
                    .responses
                    .iter()
                    .find(|(s, _)| s.starts_with('2'))
                    .map(|(_, r)| v.example(r))
                    .unwrap_or(json!({}));
                ([("x-line-request-id", "req-contract")], axum::Json(example)).into_response()
            }
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), seen)
}

#[tokio::test]
async fn every_request_the_client_sends_validates_against_the_spec() {
    let v = validator();
    let (base, seen) = spec_server(v.clone()).await;
    let mut cfg = ClientConfig::new("token");
    cfg.api_base = base.clone();
    cfg.api_data_base = base.clone();
    cfg.rate_limits = RateLimits::unlimited();
    cfg.backoff_base = Duration::from_millis(1);
    let c = Client::new(cfg).unwrap();
    let users: Vec<String> = (0..3).map(|i| format!("U{i:032x}")).collect();
    let text = [Message::text("テスト")];

    for group in message_groups() {
        c.push(&users[0], &group).await.unwrap();
        c.reply("reply-token", &group).await.unwrap();
        assert!(c.multicast(&users, &group).await.unwrap().all_ok());
        c.broadcast(&group).await.unwrap();
    }
    for kind in [
        SendKind::Reply,
        SendKind::Push,
        SendKind::Multicast,
        SendKind::Narrowcast,
        SendKind::Broadcast,
    ] {
        c.validate(kind, &text).await.unwrap();
    }
    let narrowcast = NarrowcastRequest {
        messages: text.to_vec(),
        recipient: Some(Recipient::Operator {
            and: Some(vec![
                Recipient::Audience {
                    audience_group_id: 1234,
                },
                Recipient::Operator {
                    and: None,
                    or: None,
                    not: Some(Box::new(Recipient::Redelivery {
                        request_id: "req-1".into(),
                    })),
                },
            ]),
            or: None,
            not: None,
        }),
        filter: Some(json!({"demographic":{"type":"gender","oneOf":["female"]}})),
        limit: Some(NarrowcastLimit {
            max: Some(100),
            up_to_remaining_quota: Some(true),
            forbid_partial_delivery: Some(false),
        }),
        notification_disabled: Some(true),
    };
    c.narrowcast(&narrowcast).await.unwrap();
    c.get_narrowcast_progress("req-1").await.unwrap();
    c.get_profile(&users[0]).await.unwrap();
    c.get_followers(Some("next-token"), Some(100))
        .await
        .unwrap();
    c.get_bot_info().await.unwrap();
    c.get_quota().await.unwrap();
    c.get_quota_consumption().await.unwrap();
    let menu = RichMenu {
        size: RichMenuSize {
            width: 2500,
            height: 1686,
        },
        selected: true,
        name: "国富町メニュー".into(),
        chat_bar_text: "メニュー".into(),
        areas: every_action()
            .into_iter()
            .enumerate()
            .map(|(i, a)| RichMenuArea {
                bounds: RichMenuBounds {
                    x: (i as u32 % 3) * 833,
                    y: (i as u32 / 3) * 562,
                    width: 833,
                    height: 562,
                },
                action: AreaAction::Typed(a),
            })
            .collect(),
    };
    c.validate_rich_menu(&menu).await.unwrap();
    c.create_rich_menu(&menu).await.unwrap();
    c.get_rich_menu("richmenu-1").await.unwrap();
    c.list_rich_menus().await.unwrap();
    c.upload_rich_menu_image("richmenu-1", "image/jpeg", vec![0xff, 0xd8, 0xff])
        .await
        .unwrap();
    c.download_rich_menu_image("richmenu-1").await.unwrap();
    c.set_default_rich_menu("richmenu-1").await.unwrap();
    c.get_default_rich_menu().await.unwrap();
    c.cancel_default_rich_menu().await.unwrap();
    c.link_rich_menu(&users[0], "richmenu-1").await.unwrap();
    c.get_user_rich_menu(&users[0]).await.unwrap();
    c.unlink_rich_menu(&users[0]).await.unwrap();
    c.bulk_link_rich_menu("richmenu-1", &users).await.unwrap();
    c.bulk_unlink_rich_menu(&users).await.unwrap();
    let alias = RichMenuAlias {
        rich_menu_alias_id: "menu-a".into(),
        rich_menu_id: "richmenu-1".into(),
    };
    c.create_rich_menu_alias(&alias).await.unwrap();
    c.get_rich_menu_alias("menu-a").await.unwrap();
    c.update_rich_menu_alias("menu-a", "richmenu-2")
        .await
        .unwrap();
    c.list_rich_menu_aliases().await.unwrap();
    c.delete_rich_menu_alias("menu-a").await.unwrap();
    c.delete_rich_menu("richmenu-1").await.unwrap();
    c.create_audience_group(&CreateAudienceGroupRequest {
        description: "国富町 高齢者向け".into(),
        is_ifa_audience: Some(false),
        upload_description: Some("2025-04".into()),
        audiences: AudienceId::from_ids(users.clone()),
    })
    .await
    .unwrap();
    c.add_audiences(&AddAudienceToAudienceGroupRequest {
        audience_group_id: 1234,
        upload_description: None,
        audiences: AudienceId::from_ids(users.clone()),
    })
    .await
    .unwrap();
    c.insight_followers(Some("20250401")).await.unwrap();
    c.insight_message_event("req-1").await.unwrap();
    c.insight_aggregation_unit("promotion_a", "20250401", "20250430")
        .await
        .unwrap();
    c.get_aggregation_unit_usage().await.unwrap();

    let seen = seen.lock().unwrap().clone();
    let mut operations = BTreeSet::new();
    let mut validated = 0;
    for s in &seen {
        let op = v
            .operation(s.method.as_str(), &s.path)
            .unwrap_or_else(|| panic!("no operation for {} {}", s.method, s.path));
        operations.insert(op.operation_id.clone());
        if let Some(schema) = &op.request_schema {
            let body: Value = serde_json::from_slice(&s.body)
                .unwrap_or_else(|e| panic!("{} {}: {e}", s.method, s.path));
            assert_eq!(s.content_type.as_deref(), Some("application/json"));
            v.validate_strict(schema, &body).unwrap_or_else(|e| {
                panic!("{} {} vs {schema}: {e:#?}\n{body:#}", s.method, s.path)
            });
            validated += 1;
        } else if op.operation_id == "setRichMenuImage" {
            assert_eq!(s.content_type.as_deref(), Some("image/jpeg"));
        } else {
            assert!(s.body.is_empty(), "{} {} has a body", s.method, s.path);
        }
    }
    assert!(validated >= 25, "{validated}");
    assert_eq!(operations.len(), 42, "{operations:#?}");
}
