//! The message preview (issue 6): every message type renders, all text is escaped, the markup
//! needs no inline script or style, and every class it uses is in `PREVIEW_CSS`.
#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use std::collections::BTreeSet;

use hiroba_line::message::*;
use hiroba_line::preview::{self, Actions, PREVIEW_CSS};
use serde_json::{Value, json};

const EVIL: &str = "<script>alert('x')</script>\"&";

fn every_message() -> Vec<Value> {
    let area = |x, y| Area {
        x,
        y,
        width: 520,
        height: 350,
    };
    vec![
        TextBuilder::new()
            .push("こんにちは ")
            .emoji("5ac1bfd5040ab15980c9b435", "001")
            .push(" 詳しくは https://example.com/a?b=1&c=2 へ。")
            .build()
            .with_quick_reply(vec![
                QuickReplyItem::new(Action::message("はい", "はい")),
                QuickReplyItem::new(Action::postback("予約", "a=1")),
            ])
            .to_json(),
        json!({"type":"textV2","text":"{user}さん {smile}","substitution":{
            "user":{"type":"mention","mentionee":{"type":"user","userId":"U1"}},
            "smile":{"type":"emoji","productId":"p","emojiId":"001"}}}),
        Message::sticker("446", "1988").to_json(),
        Message::image("https://example.com/o.jpg", "https://example.com/p.jpg").to_json(),
        json!({"type":"video","originalContentUrl":"https://example.com/v.mp4",
               "previewImageUrl":"https://example.com/v.jpg"}),
        json!({"type":"audio","originalContentUrl":"https://example.com/a.m4a","duration":1000}),
        Message::location("中央公民館", "宮崎県東諸県郡国富町", 31.99, 131.32).to_json(),
        Message::imagemap(
            "https://example.com/map",
            "施設マップ",
            Size {
                width: 1040,
                height: 700,
            },
            vec![
                ImagemapAction::Uri {
                    link_uri: "https://example.com/gym".into(),
                    area: area(0, 0),
                    label: Some("体育館".into()),
                },
                ImagemapAction::Message {
                    text: "プール".into(),
                    area: area(520, 350),
                    label: None,
                },
            ],
        )
        .to_json(),
        Message::template(
            "ボタン",
            TemplateKind::Buttons {
                thumbnail_image_url: Some("https://example.com/t.jpg".into()),
                title: Some("施設予約".into()),
                text: "操作を選んでください".into(),
                default_action: None,
                actions: vec![Action::postback("予約", "a=1"), Action::uri("開く", "https://example.com/")],
            },
        )
        .to_json(),
        Message::template(
            "確認",
            TemplateKind::Confirm {
                text: "よろしいですか？".into(),
                actions: vec![Action::message("はい", "はい"), Action::message("いいえ", "いいえ")],
            },
        )
        .to_json(),
        json!({"type":"template","altText":"写真","template":{"type":"image_carousel","columns":[
            {"imageUrl":"https://example.com/1.jpg","action":{"type":"uri","label":"見る","uri":"https://example.com/1"}}]}}),
        Message::flex("お知らせ", bubble("4か月児健診")).to_json(),
        Message::flex(
            "一覧",
            json!({"type":"carousel","contents":[bubble("体育館"), bubble("プール"), bubble("会議室")]}),
        )
        .to_json(),
    ]
}

fn bubble(title: &str) -> Value {
    json!({"type":"bubble","size":"kilo",
        "styles":{"footer":{"separator":true},"header":{"backgroundColor":"#06C755"}},
        "header":{"type":"box","layout":"vertical","contents":[
            {"type":"text","text":"国富町","color":"#FFFFFF","size":"sm"}]},
        "hero":{"type":"image","url":"https://example.com/h.jpg","size":"full",
                "aspectRatio":"20:13","aspectMode":"cover"},
        "body":{"type":"box","layout":"vertical","spacing":"md","paddingAll":"13px",
          "backgroundColor":"#FAFAFA","cornerRadius":"md","borderWidth":"light",
          "contents":[
            {"type":"text","text":title,"weight":"bold","size":"xl","wrap":true,"maxLines":2},
            {"type":"box","layout":"baseline","spacing":"sm","contents":[
                {"type":"icon","url":"https://example.com/i.png","size":"sm"},
                {"type":"text","contents":[{"type":"span","text":"日時 ","weight":"bold"},
                                           {"type":"span","text":"4月10日","color":"#E53935"}]},
                {"type":"filler","flex":2}]},
            {"type":"separator","margin":"lg"},
            {"type":"box","layout":"horizontal","justifyContent":"space-between",
             "alignItems":"center","contents":[
                {"type":"text","text":"左","flex":0,"align":"start","gravity":"center"},
                {"type":"text","text":"右","flex":3,"align":"end","decoration":"underline",
                 "style":"italic"}]}]},
        "footer":{"type":"box","layout":"vertical","contents":[
            {"type":"button","style":"primary","color":"#1E88E5","height":"sm",
             "action":{"type":"uri","label":"予約する","uri":"https://example.com/r"}},
            {"type":"button","style":"secondary",
             "action":{"type":"postback","label":"詳細","data":"d=1"}},
            {"type":"button","style":"link","action":{"type":"message","label":"質問","text":"質問"}}]}})
}

fn classes(html: &str) -> BTreeSet<String> {
    let mut out = BTreeSet::new();
    for part in html.split("class=\"").skip(1) {
        let value = part.split('"').next().unwrap_or("");
        out.extend(value.split_whitespace().map(str::to_owned));
    }
    out
}

#[test]
fn every_message_type_renders_without_inline_code_or_style() {
    let all = every_message();
    let mut used = BTreeSet::new();
    for m in &all {
        let html = preview::render_message(m);
        let ty = m["type"].as_str().unwrap();
        assert!(
            !html.contains("lp-textmsg\">["),
            "{ty} fell back to the unknown box: {html}"
        );
        assert!(!html.contains("style="), "{ty}: {html}");
        assert!(!html.contains("<script"), "{ty}: {html}");
        assert!(
            !html.contains(" on"),
            "{ty}: event handler attribute? {html}"
        );
        used.extend(classes(&html));
    }
    let phone = preview::render_messages(&all[..5]);
    assert!(phone.starts_with("<div class=\"lp-phone\""));
    used.extend(classes(&phone));
    let six = preview::render_messages(&all[..6]);
    assert!(six.contains("5件までです（6件あります）"), "{six}");
    used.extend(classes(&six));
    for class in used.iter().filter(|c| c.starts_with("lp-")) {
        assert!(
            PREVIEW_CSS.contains(&format!(".{class}")),
            "class {class} is used but PREVIEW_CSS does not style it"
        );
    }
    assert!(used.len() > 60, "{used:?}");
}

#[test]
fn text_emoji_links_and_quick_reply() {
    let m = &every_message()[0];
    let html = preview::render_message(m);
    assert!(html.contains("class=\"lp-emoji\""), "{html}");
    assert!(html.contains("title=\"LINE絵文字 5ac1bfd5040ab15980c9b435/001\""));
    // The link ends before the Japanese text and keeps its escaped query.
    assert!(
        html.contains("<a href=\"https://example.com/a?b=1&amp;c=2\""),
        "{html}"
    );
    assert!(
        html.contains(">https://example.com/a?b=1&amp;c=2</a> へ。"),
        "{html}"
    );
    let q = preview::render_quick_reply_with(m, &preview::Inert).unwrap();
    assert!(q.contains("はい") && q.contains("予約"));
    let phone = preview::render_messages(std::slice::from_ref(m));
    assert!(phone.contains("lp-quick"));
}

#[test]
fn everything_from_the_json_is_escaped() {
    let evil_url = format!("https://example.com/{EVIL}");
    let msgs = vec![
        Message::text(EVIL).to_json(),
        json!({"type":"text","text":EVIL,"emojis":[{"index":0,"productId":EVIL,"emojiId":EVIL}]}),
        Message::image(&evil_url, &evil_url).to_json(),
        json!({"type":"sticker","packageId":EVIL,"stickerId":EVIL}),
        json!({"type":"location","title":EVIL,"address":EVIL,"latitude":1,"longitude":2}),
        json!({"type":"imagemap","baseUrl":evil_url,"altText":EVIL,"baseSize":{"width":1040,"height":1040},
               "actions":[{"type":"message","text":EVIL,"label":EVIL,"area":{"x":0,"y":0,"width":1,"height":1}}]}),
        json!({"type":"template","altText":EVIL,"template":{"type":"buttons","title":EVIL,"text":EVIL,
               "thumbnailImageUrl":evil_url,"actions":[{"type":"uri","label":EVIL,"uri":evil_url}]}}),
        json!({"type":"flex","altText":EVIL,"contents":{"type":"bubble","size":EVIL,"body":{
            "type":"box","layout":EVIL,"contents":[
                {"type":"text","text":EVIL,"size":EVIL,"color":EVIL},
                {"type":"text","contents":[{"type":"span","text":EVIL}]},
                {"type":"image","url":evil_url,"size":EVIL,"aspectRatio":EVIL},
                {"type":"button","action":{"type":"postback","label":EVIL,"data":EVIL}},
                {"type":EVIL}]}}}),
        json!({"type":EVIL}),
        json!({"type":"text","text":"x","sender":{"name":EVIL,"iconUrl":evil_url}}),
        json!({"type":"image","originalContentUrl":"javascript:alert(1)","previewImageUrl":"data:text/html,x"}),
    ];
    let html = preview::render_messages(&msgs);
    assert!(!html.contains("<script"), "{html}");
    assert!(!html.contains("alert('x')"), "{html}");
    assert!(html.contains("&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;&quot;&amp;"));
    assert!(
        !html.contains("javascript:") && !html.contains("data:text"),
        "{html}"
    );
}

#[test]
fn flex_carousel_and_imagemap_structure() {
    let all = every_message();
    let carousel = preview::render_message(&all[12]);
    assert_eq!(
        carousel
            .matches("class=\"lp-bubble lp-bubble-kilo\"")
            .count(),
        3
    );
    assert!(carousel.contains("class=\"lp-carousel\""));
    for needed in [
        "lp-header lp-bg-green",
        "lp-footer lp-sep-top",
        "lp-box lp-baseline",
        "lp-justify-space-between",
        "lp-items-center",
        "lp-text lp-fs-xl lp-bold lp-wrap lp-lines-2",
        "lp-span lp-c-red",
        "lp-img lp-is-full lp-ar-3-2 lp-cover",
        "lp-icon lp-fs-sm",
        "lp-button lp-btn-primary lp-btn-sm lp-bc-blue",
        "lp-separator lp-m-lg",
        "lp-filler lp-flex-2",
        "lp-box lp-vertical lp-sp-md lp-p-lg lp-r-md lp-border lp-bg-white",
    ] {
        assert!(carousel.contains(needed), "{needed} missing in {carousel}");
    }
    assert!(carousel.contains(">予約する</a>") && carousel.contains(">詳細</span>"));

    let map = preview::render_message(&all[7]);
    assert!(map.contains("<svg viewBox=\"0 0 1040 700\""), "{map}");
    assert!(map.contains("<image href=\"https://example.com/map/1040\""));
    assert!(map.contains("<rect x=\"0\" y=\"0\" width=\"520\" height=\"350\"/>"));
    assert!(map.contains("<rect x=\"520\" y=\"350\" width=\"520\" height=\"350\"/>"));
    assert!(map.contains("href=\"https://example.com/gym\""), "{map}");
    assert!(map.contains(">体育館</a>") && map.contains(">エリア</span>"));
}

struct Marked;

impl Actions for Marked {
    fn action(&self, action: &Value, label: &str) -> String {
        format!("[{}:{}]", action["type"].as_str().unwrap_or(""), label)
    }
    fn link(&self, url: &str, _text: &str) -> String {
        format!("[link {url}]")
    }
}

#[test]
fn callers_render_actions_their_way() {
    let all = every_message();
    let html = preview::render_message_with(&all[12], &Marked);
    assert!(html.contains("[uri:予約する]") && html.contains("[postback:詳細]"));
    let text = preview::render_message_with(&all[0], &Marked);
    assert!(
        text.contains("[link https://example.com/a?b=1&c=2]"),
        "{text}"
    );
    let typed = preview::render(&Message::text("a\nb"));
    assert_eq!(typed, "<div class=\"lp-textmsg\">a<br>b</div>");
}
