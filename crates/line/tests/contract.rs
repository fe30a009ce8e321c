//! Contract tests against LINE's official OpenAPI files in shared/line-openapi (issue 5):
//! every webhook event schema has examples that Hiroba parses into the right variant, and
//! every request body the client sends validates against its operation's schema.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]
#![recursion_limit = "256"]

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
    let op = v
        .operation("GET", "/v2/bot/insight/message/event/aggregation")
        .unwrap();
    let q = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    };
    let good = q(&[
        ("customAggregationUnit", "kenshin_4m"),
        ("from", "20250401"),
        ("to", "20250430"),
    ]);
    assert!(v.validate_query(&op, &good).is_ok());
    let bad = q(&[
        ("customAggregationUnit", "bad unit!"),
        ("from", "2025-04-01"),
    ]);
    let errs = v.validate_query(&op, &bad).unwrap_err();
    assert_eq!(errs.len(), 4, "{errs:?}");
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
            // A delivery stores its messages as JSON and reads them back.
            let back = Message::from_json(json.clone()).unwrap_or_else(|e| panic!("{e}\n{json:#}"));
            assert_eq!(back, m, "{json:#}");
        }
    }
}

#[derive(Debug, Clone)]
struct Seen {
    method: Method,
    path: String,
    query: Vec<(String, String)>,
    content_type: Option<String>,
    retry_key: Option<String>,
    body: Bytes,
}

fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::new();
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'%' if i + 2 < b.len() => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn parse_query(q: Option<&str>) -> Vec<(String, String)> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| {
            let (k, v) = p.split_once('=').unwrap_or((p, ""));
            (percent_decode(k), percent_decode(v))
        })
        .collect()
}

/// The text fields and the file of a `multipart/form-data` body.
fn parse_multipart(content_type: &str, body: &[u8]) -> (Value, String) {
    let boundary = content_type
        .split("boundary=")
        .nth(1)
        .unwrap()
        .trim_matches('"');
    let text = String::from_utf8(body.to_vec()).unwrap();
    let mut fields = serde_json::Map::new();
    let mut file = String::new();
    for part in text.split(&format!("--{boundary}")).skip(1) {
        if part.starts_with("--") {
            break;
        }
        let (head, value) = part
            .trim_start_matches("\r\n")
            .split_once("\r\n\r\n")
            .unwrap();
        let value = value.strip_suffix("\r\n").unwrap_or(value);
        let name = head
            .split("name=\"")
            .nth(1)
            .unwrap()
            .split('"')
            .next()
            .unwrap();
        if name == "file" {
            assert!(head.contains("Content-Type: text/plain"), "{head}");
            file = value.to_owned();
            fields.insert("file".into(), json!("(binary)"));
        } else if let Ok(n) = value.parse::<i64>() {
            fields.insert(name.into(), json!(n));
        } else {
            fields.insert(name.into(), json!(value));
        }
    }
    (Value::Object(fields), file)
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
                    query: parse_query(uri.query()),
                    content_type: headers
                        .get("content-type")
                        .map(|h| h.to_str().unwrap().to_owned()),
                    retry_key: headers
                        .get("x-line-retry-key")
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
    c.create_audience_group_by_file("国富町 全員", Some("2025-04 file"), &users)
        .await
        .unwrap();
    c.add_audiences_by_file(1234, Some("追加"), &users)
        .await
        .unwrap();
    c.get_audience_group(1234).await.unwrap();
    c.narrowcast(&NarrowcastRequest::to_audience(1234, text.to_vec()))
        .await
        .unwrap();
    let key = hiroba_line::client::new_retry_key();
    c.send_push_with_key(&Client::push_request(&users[0], &text), &key)
        .await
        .unwrap();
    let mut units = Client::multicast_requests(&users, &text).remove(0);
    units.custom_aggregation_units = vec!["kenshin_4m".into()];
    c.send_multicast(&units).await.unwrap();
    c.send_multicast_with_key(&units, &key).await.unwrap();
    c.send_narrowcast_with_key(&narrowcast, &key).await.unwrap();
    c.send_broadcast_with_key(
        &BroadcastRequest {
            messages: text.to_vec(),
            notification_disabled: Some(false),
        },
        &key,
    )
    .await
    .unwrap();
    c.insight_followers(Some("20250401")).await.unwrap();
    c.insight_message_event("req-1").await.unwrap();
    c.insight_aggregation_unit("promotion_a", "20250401", "20250430")
        .await
        .unwrap();
    c.get_aggregation_unit_usage().await.unwrap();
    c.get_aggregation_unit_names(Some(100), Some("next-token"))
        .await
        .unwrap();
    c.get_aggregation_unit_names(None, None).await.unwrap();

    let seen = seen.lock().unwrap().clone();
    let mut operations = BTreeSet::new();
    let mut validated = 0;
    let mut multipart_forms = 0;
    for s in &seen {
        let op = v
            .operation(s.method.as_str(), &s.path)
            .unwrap_or_else(|| panic!("no operation for {} {}", s.method, s.path));
        operations.insert(op.operation_id.clone());
        v.validate_query(&op, &s.query)
            .unwrap_or_else(|e| panic!("{} {} query {:?}: {e:#?}", s.method, s.path, s.query));
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
        } else if let Some(form) = multipart_schema(&v, &op) {
            // Audience by file: the form's fields validate against the inline schema.
            let ct = s.content_type.as_deref().unwrap();
            assert!(ct.starts_with("multipart/form-data; boundary="), "{ct}");
            let (fields, file) = parse_multipart(ct, &s.body);
            v.validate_strict(&form, &fields)
                .unwrap_or_else(|e| panic!("{} {}: {e:#?}\n{fields:#}", s.method, s.path));
            assert_eq!(file.lines().collect::<Vec<_>>(), users);
            multipart_forms += 1;
        } else {
            assert!(s.body.is_empty(), "{} {} has a body", s.method, s.path);
        }
    }
    assert!(validated >= 25, "{validated}");
    assert_eq!(multipart_forms, 2);
    assert_eq!(operations.len(), 46, "{operations:#?}");
    // The keyed sends carried the caller's key: push, multicast, narrowcast, broadcast.
    let with_key = seen
        .iter()
        .filter(|s| s.retry_key.as_deref() == Some(key.as_str()))
        .map(|s| s.path.rsplit('/').next().unwrap())
        .collect::<BTreeSet<_>>();
    assert_eq!(
        with_key,
        BTreeSet::from(["broadcast", "multicast", "narrowcast", "push"])
    );
    // Every other send had a fresh key; reply and the rest had none.
    for s in &seen {
        let keyed = ["push", "multicast", "narrowcast", "broadcast"]
            .iter()
            .any(|k| s.path == format!("/v2/bot/message/{k}"));
        assert_eq!(s.retry_key.is_some(), keyed, "{} {}", s.method, s.path);
    }
}

/// The qualified reference of an operation's `multipart/form-data` request schema.
fn multipart_schema(v: &Validator, op: &hiroba_line::schema::Operation) -> Option<String> {
    let pointer = format!(
        "{}#/paths/{}/{}/requestBody/content/multipart~1form-data/schema",
        op.file,
        op.path_template.replace('~', "~0").replace('/', "~1"),
        op.method
    );
    v.schema(&pointer).map(|_| pointer)
}

// ---- Flex Messages: the Rust checker agrees with messaging-api.yml ----------------------

const FLEX_SCHEMA: &str = "#/components/schemas/FlexContainer";

fn img(name: &str) -> String {
    format!("https://example.com/{name}.png")
}

/// Containers using every component type, every action type usable in flex, and the
/// keyword, length, colour and enum values staff are likely to paste.
fn flex_samples() -> Vec<Value> {
    let actions = vec![
        json!({"type":"postback","label":"予約","data":"a=1","displayText":"予約します",
               "inputOption":"openKeyboard","fillInText":"人数: "}),
        json!({"type":"message","label":"はい","text":"はい"}),
        json!({"type":"uri","label":"開く","uri":"https://example.com/",
               "altUri":{"desktop":"https://example.com/pc"}}),
        json!({"type":"uri","label":"電話","uri":"tel:0985751111"}),
        json!({"type":"datetimepicker","label":"日付","data":"d","mode":"date",
               "initial":"2025-04-01","min":"2025-04-01","max":"2025-12-31"}),
        json!({"type":"datetimepicker","label":"時刻","data":"t","mode":"time","initial":"09:00"}),
        json!({"type":"datetimepicker","label":"日時","data":"dt","mode":"datetime",
               "initial":"2025-04-01T09:00"}),
        json!({"type":"camera","label":"カメラ"}),
        json!({"type":"cameraRoll","label":"写真"}),
        json!({"type":"location","label":"位置情報"}),
        json!({"type":"clipboard","label":"コピー","clipboardText":"KUNITOMI-2025"}),
    ];
    let buttons: Vec<Value> = actions
        .iter()
        .zip(["primary", "secondary", "link"].iter().cycle())
        .map(|(a, style)| json!({"type":"button","style":style,"height":"sm","action":a}))
        .collect();
    let full = json!({
        "type":"bubble","size":"giga","direction":"ltr",
        "styles":{"header":{"backgroundColor":"#06C755"},
                  "hero":{"separator":false},
                  "body":{"separator":true,"separatorColor":"#DDDDDDFF"},
                  "footer":{"backgroundColor":"#FFFFFF"}},
        "header":{"type":"box","layout":"horizontal","paddingAll":"lg","contents":[
            {"type":"text","text":"国富町からのお知らせ","color":"#FFFFFF","weight":"bold",
             "size":"sm","flex":1,"gravity":"center"}]},
        "hero":{"type":"image","url":img("hero"),"size":"full","aspectRatio":"20:13",
                "aspectMode":"cover","action":{"type":"uri","uri":"https://example.com/"}},
        "body":{"type":"box","layout":"vertical","spacing":"md","paddingAll":"20px",
          "paddingTop":"5%","backgroundColor":"#FAFAFA","cornerRadius":"md",
          "borderWidth":"light","borderColor":"#CCCCCC","justifyContent":"flex-start",
          "alignItems":"center","width":"100%","maxWidth":"300px","height":"200px",
          "maxHeight":"400px",
          "background":{"type":"linearGradient","angle":"90deg","startColor":"#FFFFFF",
                        "endColor":"#EEEEEE","centerColor":"#F5F5F5","centerPosition":"40%"},
          "action":{"type":"postback","data":"open"},
          "contents":[
            {"type":"text","text":"4か月児健診のご案内","size":"xl","weight":"bold","wrap":true,
             "maxLines":3,"align":"start","decoration":"underline","style":"italic",
             "lineSpacing":"4px","margin":"none","adjustMode":"shrink-to-fit","scaling":true},
            {"type":"text","contents":[
                {"type":"span","text":"日時: ","weight":"bold","size":"sm"},
                {"type":"span","text":"4月10日","color":"#E53935","decoration":"line-through",
                 "style":"normal"}]},
            {"type":"box","layout":"baseline","spacing":"sm","contents":[
                {"type":"icon","url":img("pin"),"size":"sm","aspectRatio":"1:1","margin":"xs",
                 "scaling":false},
                {"type":"text","text":"保健センター","size":"14px","flex":0},
                {"type":"filler","flex":1}]},
            {"type":"separator","margin":"xl","color":"#EEEEEE"},
            {"type":"image","url":img("map"),"size":"50%","align":"center","gravity":"top",
             "backgroundColor":"#000000","animated":false,"position":"relative",
             "offsetTop":"4px","offsetStart":"md","offsetBottom":"10%","offsetEnd":"none"},
            {"type":"box","layout":"horizontal","position":"absolute","offsetTop":"0px",
             "contents":[{"type":"filler"}]},
          ]},
        "footer":{"type":"box","layout":"vertical","spacing":"sm","contents":buttons},
        "action":{"type":"message","text":"詳細"}
    });
    let video = json!({"type":"bubble","size":"kilo","hero":{
        "type":"video","url":"https://example.com/v.mp4","previewUrl":img("v"),
        "aspectRatio":"16:9","action":{"type":"uri","label":"見る","uri":"https://example.com/v"},
        "altContent":{"type":"image","url":img("v"),"size":"full"}}});
    let simple = |t: &str| {
        json!({"type":"bubble","body":{"type":"box","layout":"vertical","contents":[
            {"type":"text","text":t}]}})
    };
    let mut sizes = Vec::new();
    for size in ["nano", "micro", "deca", "hecto", "kilo", "mega", "giga"] {
        let mut b = simple(size);
        b["size"] = json!(size);
        sizes.push(b);
    }
    let twelve: Vec<Value> = (0..12).map(|i| simple(&format!("{i}"))).collect();
    vec![
        json!({"type":"bubble"}),
        simple("本文"),
        full,
        video,
        json!({"type":"carousel","contents":sizes}),
        json!({"type":"carousel","contents":twelve}),
    ]
}

/// Broken containers (description, container, needs strict schema validation to be refused
/// by the schema: only unknown properties).
fn flex_broken() -> Vec<(&'static str, Value, bool)> {
    let body = |contents: Value| json!({"type":"bubble","body":{"type":"box","layout":"vertical","contents":contents}});
    vec![
        (
            "not a container",
            json!({"type":"box","layout":"vertical","contents":[]}),
            false,
        ),
        ("no type", json!({"body":{}}), false),
        (
            "carousel without contents",
            json!({"type":"carousel"}),
            false,
        ),
        (
            "carousel of boxes",
            json!({"type":"carousel","contents":[{"type":"box"}]}),
            false,
        ),
        (
            "bad layout",
            json!({"type":"bubble","body":{"type":"box","layout":"grid","contents":[]}}),
            false,
        ),
        (
            "box without layout",
            json!({"type":"bubble","body":{"type":"box","contents":[]}}),
            false,
        ),
        (
            "box without contents",
            json!({"type":"bubble","body":{"type":"box","layout":"vertical"}}),
            false,
        ),
        (
            "unknown component",
            body(json!([{"type":"spacer2"}])),
            false,
        ),
        (
            "button without action",
            body(json!([{"type":"button"}])),
            false,
        ),
        ("image without url", body(json!([{"type":"image"}])), false),
        (
            "icon without url",
            json!({"type":"bubble","body":{"type":"box","layout":"baseline","contents":[{"type":"icon"}]}}),
            false,
        ),
        (
            "video without altContent",
            json!({"type":"bubble","size":"mega","hero":{"type":"video","url":"https://example.com/v.mp4","previewUrl":"https://example.com/p.png"}}),
            false,
        ),
        (
            "bad bubble size",
            json!({"type":"bubble","size":"huge"}),
            false,
        ),
        (
            "bad direction",
            json!({"type":"bubble","direction":"up"}),
            false,
        ),
        (
            "bad weight",
            body(json!([{"type":"text","text":"a","weight":"heavy"}])),
            false,
        ),
        (
            "bad align",
            body(json!([{"type":"text","text":"a","align":"left"}])),
            false,
        ),
        (
            "bad gravity",
            body(json!([{"type":"text","text":"a","gravity":"middle"}])),
            false,
        ),
        (
            "bad decoration",
            body(json!([{"type":"text","text":"a","decoration":"blink"}])),
            false,
        ),
        (
            "wrap as text",
            body(json!([{"type":"text","text":"a","wrap":"yes"}])),
            false,
        ),
        (
            "flex as text",
            body(json!([{"type":"text","text":"a","flex":"1"}])),
            false,
        ),
        (
            "bad button style",
            body(json!([{"type":"button","style":"fancy","action":{"type":"message","text":"a"}}])),
            false,
        ),
        (
            "bad button height",
            body(json!([{"type":"button","height":"lg","action":{"type":"message","text":"a"}}])),
            false,
        ),
        (
            "bad position",
            body(json!([{"type":"text","text":"a","position":"fixed"}])),
            false,
        ),
        (
            "bad justifyContent",
            json!({"type":"bubble","body":{"type":"box","layout":"vertical","justifyContent":"left","contents":[]}}),
            false,
        ),
        (
            "bad aspectMode",
            body(
                json!([{"type":"image","url":"https://example.com/a.png","aspectMode":"stretch"}]),
            ),
            false,
        ),
        (
            "unknown action type",
            body(json!([{"type":"button","action":{"type":"share"}}])),
            false,
        ),
        (
            "bad datetime mode",
            body(
                json!([{"type":"button","action":{"type":"datetimepicker","data":"d","mode":"week"}}]),
            ),
            false,
        ),
        (
            "postback data too long",
            body(json!([{"type":"button","action":{"type":"postback","data":"x".repeat(301)}}])),
            false,
        ),
        (
            "empty clipboard text",
            body(
                json!([{"type":"button","action":{"type":"clipboard","label":"c","clipboardText":""}}]),
            ),
            false,
        ),
        (
            "span with bad weight",
            body(json!([{"type":"text","contents":[{"type":"span","text":"a","weight":"x"}]}])),
            false,
        ),
        (
            "gradient without type",
            json!({"type":"bubble","body":{"type":"box","layout":"vertical","background":{"angle":"0deg"},"contents":[]}}),
            false,
        ),
        (
            "styles separator as text",
            json!({"type":"bubble","styles":{"body":{"separator":"yes"}}}),
            false,
        ),
        (
            "misspelt property",
            body(json!([{"type":"text","text":"a","wieght":"bold"}])),
            true,
        ),
        (
            "unknown bubble property",
            json!({"type":"bubble","footerr":{}}),
            true,
        ),
    ]
}

/// Single-step mutations of a JSON value: each key removed, each value replaced by values of
/// other types and by an unknown keyword, an unknown key added to each object, each array
/// element removed.
fn mutations(v: &Value) -> Vec<Value> {
    fn walk(root: &Value, at: &mut Vec<PathPart>, node: &Value, out: &mut Vec<Value>) {
        // A keyword no property has, a length some accept, and values of other JSON types.
        let replacements = [
            json!("bogus-keyword"),
            json!("12px"),
            json!(-1),
            json!(true),
            json!({}),
        ];
        for r in &replacements {
            if r != node {
                out.push(set(root, at, Some(r.clone())));
            }
        }
        match node {
            Value::Object(o) => {
                let mut with = node.clone();
                with["unknownProperty"] = json!(1);
                out.push(set(root, at, Some(with)));
                for (k, child) in o {
                    at.push(PathPart::Key(k.clone()));
                    out.push(set(root, at, None));
                    walk(root, at, child, out);
                    at.pop();
                }
            }
            Value::Array(a) => {
                for (i, child) in a.iter().enumerate() {
                    at.push(PathPart::Index(i));
                    out.push(set(root, at, None));
                    walk(root, at, child, out);
                    at.pop();
                }
            }
            _ => {}
        }
    }
    let mut out = Vec::new();
    walk(v, &mut Vec::new(), v, &mut out);
    out
}

#[derive(Clone)]
enum PathPart {
    Key(String),
    Index(usize),
}

/// `root` with the node at `path` replaced (or removed when `with` is None).
fn set(root: &Value, path: &[PathPart], with: Option<Value>) -> Value {
    let mut out = root.clone();
    let Some((last, parents)) = path.split_last() else {
        return with.unwrap_or(Value::Null);
    };
    let mut cur = &mut out;
    for p in parents {
        cur = match p {
            PathPart::Key(k) => &mut cur[k.as_str()],
            PathPart::Index(i) => &mut cur[*i],
        };
    }
    match (last, with) {
        (PathPart::Key(k), Some(w)) => cur[k.as_str()] = w,
        (PathPart::Key(k), None) => {
            cur.as_object_mut().unwrap().remove(k);
        }
        (PathPart::Index(i), Some(w)) => cur[*i] = w,
        (PathPart::Index(i), None) => {
            cur.as_array_mut().unwrap().remove(*i);
        }
    }
    out
}

#[test]
fn flex_checks_agree_with_the_schema() {
    use hiroba_line::flex;
    let v = validator();
    // 1. What the Rust checker accepts, the schema accepts (strictly: no unknown property).
    for sample in flex_samples() {
        let errs = flex::check(&sample, "contents");
        assert!(errs.is_empty(), "{errs:#?}\n{sample:#}");
        v.validate_strict(FLEX_SCHEMA, &sample)
            .unwrap_or_else(|e| panic!("{e:#?}\n{sample:#}"));
        let m = Message::flex("お知らせ", sample.clone());
        validate_messages(std::slice::from_ref(&m)).unwrap();
        v.validate_strict("#/components/schemas/Message", &m.to_json())
            .unwrap();
    }
    // 2. Broken samples are refused by both, each naming a path.
    for (what, sample, strict) in flex_broken() {
        let errs = flex::check(&sample, "contents");
        assert!(!errs.is_empty(), "the checker accepted: {what}\n{sample:#}");
        assert!(errs.iter().all(|e| e.path.is_some()), "{what}: {errs:#?}");
        let schema = if strict {
            v.validate_strict(FLEX_SCHEMA, &sample)
        } else {
            v.validate(FLEX_SCHEMA, &sample)
        };
        assert!(schema.is_err(), "the schema accepted: {what}\n{sample:#}");
    }
    // 3. Every single-step mutation of every sample: accepted by the checker ⇒ accepted by the
    //    schema (equivalently: refused by the schema ⇒ refused by the checker).
    //    (The two long carousels repeat one bubble; a short one stands for them.)
    let (mut total, mut refused_by_schema, mut stricter) = (0, 0, 0);
    let mut to_mutate = flex_samples();
    to_mutate.truncate(4);
    to_mutate.push(json!({"type":"carousel","contents":[
        {"type":"bubble","size":"micro","body":{"type":"box","layout":"vertical","contents":[
            {"type":"text","text":"1"}]}},
        {"type":"bubble","size":"micro"}]}));
    for sample in to_mutate {
        for m in mutations(&sample) {
            total += 1;
            let ours = flex::check(&m, "contents");
            // The plain check is cheaper; strict only adds unknown-property errors.
            let theirs = v
                .validate(FLEX_SCHEMA, &m)
                .and_then(|()| v.validate_strict(FLEX_SCHEMA, &m));
            if theirs.is_err() {
                refused_by_schema += 1;
                assert!(
                    !ours.is_empty(),
                    "the schema refuses {theirs:?} but the checker accepts\n{m:#}"
                );
            } else if !ours.is_empty() {
                stricter += 1;
            }
        }
    }
    eprintln!(
        "flex mutations: {total}, refused by the schema: {refused_by_schema}, only by the checker: {stricter}"
    );
    assert!(total > 1500, "{total}");
    assert!(refused_by_schema > 500, "{refused_by_schema} of {total}");
    // Documented extra rules (required text, lengths, placement, sizes) refuse more.
    assert!(stricter > 0, "{stricter}");
}
