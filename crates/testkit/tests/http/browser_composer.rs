//! Browser story in headless Chromium (issue 6, M07): staff compose a text
//! with a LINE emoji and an imagemap, upload its base image (made on a canvas
//! in the page), draw a tappable area by dragging the mouse on the image, and
//! see the area fields filled and the live preview follow. On SQLite and
//! PostgreSQL; screenshots at 375 and 1280 px under target/screenshots/.

use std::path::PathBuf;
use std::time::Duration;

use hiroba_testkit::browser::{Browser, Page};
use hiroba_testkit::spawn_all;
use serde_json::Value;

fn shot_path(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../../target/screenshots")
        .join(format!("{name}.png"))
}

/// Waits until `js` (an expression) is truthy.
async fn until(page: &Page, js: &str, what: &str) -> Value {
    for _ in 0..100 {
        let v = page.eval(js).await.unwrap();
        if !(v.is_null() || v == Value::Bool(false) || v == Value::String(String::new())) {
            return v;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("timed out waiting for {what}");
}

/// Clicks a composer button: the script swaps the composer in place.
async fn press(page: &Page, css: &str) {
    let js = format!(
        "(() => {{ const b = document.querySelector({0}); if (!b) throw new Error('no ' + {0}); \
         window.__swapped = document.getElementById('composer'); b.click(); }})()",
        serde_json::to_string(css).unwrap()
    );
    page.eval(&js).await.unwrap();
    until(
        page,
        "document.getElementById('composer') !== window.__swapped",
        css,
    )
    .await;
}

/// A PNG drawn on a canvas, put into the file input as if chosen by hand.
const CHOOSE_IMAGE: &str = r##"(async () => {
  const c = document.createElement("canvas");
  c.width = 1040; c.height = 520;
  const g = c.getContext("2d");
  g.fillStyle = "#dff3e8"; g.fillRect(0, 0, 1040, 520);
  g.fillStyle = "#0b6b4f"; g.fillRect(0, 0, 520, 520);
  g.fillStyle = "#ffffff"; g.font = "bold 64px sans-serif";
  g.fillText("予約する", 120, 280);
  g.fillStyle = "#0b6b4f"; g.fillText("空き状況", 640, 280);
  const blob = await new Promise(r => c.toBlob(r, "image/png"));
  const input = document.querySelector("input[name=m1_file]");
  const dt = new DataTransfer();
  dt.items.add(new File([blob], "map.png", { type: "image/png" }));
  window.__swapped = document.getElementById("composer");
  input.files = dt.files;
  input.dispatchEvent(new Event("change", { bubbles: true }));
})()"##;

/// Drags from (fx0, fy0) to (fx1, fy1), fractions of the image, with pointer events.
fn drag(fx0: f64, fy0: f64, fx1: f64, fy1: f64) -> String {
    format!(
        r#"(() => {{
  const svg = document.querySelector(".im-editor svg.im-overlay");
  const r = svg.getBoundingClientRect();
  const at = (fx, fy) => ({{ clientX: r.left + r.width * fx, clientY: r.top + r.height * fy,
    bubbles: true, cancelable: true, pointerId: 1, pointerType: "mouse", isPrimary: true, button: 0 }});
  svg.dispatchEvent(new PointerEvent("pointerdown", Object.assign(at({fx0}, {fy0}), {{ buttons: 1 }})));
  svg.dispatchEvent(new PointerEvent("pointermove", Object.assign(at(({fx0} + {fx1}) / 2, ({fy0} + {fy1}) / 2), {{ buttons: 1 }})));
  svg.dispatchEvent(new PointerEvent("pointermove", Object.assign(at({fx1}, {fy1}), {{ buttons: 1 }})));
  svg.dispatchEvent(new PointerEvent("pointerup", Object.assign(at({fx1}, {fy1}), {{ buttons: 0 }})));
}})()"#
    )
}

fn field_js(name: &str) -> String {
    format!(
        "document.querySelector('[name={name}]') && document.querySelector('[name={name}]').value"
    )
}

#[tokio::test]
async fn staff_draw_an_imagemap_area_and_see_the_preview() {
    for app in spawn_all().await {
        let label = app.label();
        for (width, height) in [(375, 812), (1280, 900)] {
            let browser = Browser::launch().await.unwrap();
            let page = browser.new_page(width, height).await.unwrap();
            crate::sign_in_admin(&page, &app.base).await;
            page.goto(&format!("{}/admin/line/compose", app.base))
                .await
                .unwrap();
            assert!(
                page.text("h1")
                    .await
                    .unwrap()
                    .contains("メッセージの作成・プレビュー")
            );

            // Text with an emoji inserted at the cursor; the preview follows the typing.
            page.fill("#f-m0_text", "体育館の予約はこちらから")
                .await
                .unwrap();
            page.eval("document.querySelector('#f-m0_text').setSelectionRange(3, 3)")
                .await
                .unwrap();
            page.eval("document.querySelector('button.emoji-btn[data-emoji=\"002\"]').click()")
                .await
                .unwrap();
            assert_eq!(
                page.eval(&field_js("m0_text")).await.unwrap(),
                "体育館[絵文字002]の予約はこちらから",
                "{label}"
            );
            until(
                &page,
                "document.querySelector('.composer-preview-body .lp-emoji')",
                "the emoji in the preview",
            )
            .await;

            // An imagemap: add it, choose the image (uploaded at once), draw an area.
            press(&page, "button[value='add:imagemap']").await;
            page.fill("#f-m1_alt", "施設の予約メニュー").await.unwrap();
            page.eval(CHOOSE_IMAGE).await.unwrap();
            until(
                &page,
                "document.getElementById('composer') !== window.__swapped \
                 && document.querySelector('.im-editor img') \
                 && document.querySelector('.im-editor img').complete \
                 && document.querySelector('.im-editor img').naturalWidth",
                "the uploaded base image",
            )
            .await;
            assert_eq!(
                page.eval(&field_js("m1_base_h")).await.unwrap(),
                "520",
                "{label}"
            );
            page.eval(&drag(0.1, 0.2, 0.45, 0.8)).await.unwrap();
            let num = |name: &str| {
                let js = field_js(name);
                let page = &page;
                async move {
                    page.eval(&js)
                        .await
                        .unwrap()
                        .as_str()
                        .unwrap_or("")
                        .parse::<i64>()
                        .unwrap_or(-1)
                }
            };
            let (x, y, w, h) = (
                num("m1_a0_x").await,
                num("m1_a0_y").await,
                num("m1_a0_w").await,
                num("m1_a0_h").await,
            );
            let near = |got: i64, want: i64| (got - want).abs() <= 3;
            assert!(
                near(x, 104) && near(y, 104) && near(w, 364) && near(h, 312),
                "{label} {width}: area ({x}, {y}, {w}, {h})"
            );
            assert_eq!(
                page.eval("document.querySelectorAll('.im-overlay rect.im-area').length")
                    .await
                    .unwrap(),
                1
            );
            // A second drag fills a new row made from the template.
            page.eval(&drag(0.55, 0.1, 0.95, 0.9)).await.unwrap();
            assert!(num("m1_a1_x").await > 560, "{label}: the second area");
            page.fill("[name=m1_a0_target]", "https://example.jp/yoyaku")
                .await
                .unwrap();
            page.fill("[name=m1_a0_label]", "予約する").await.unwrap();
            page.fill("[name=m1_a1_action]", "message").await.unwrap();
            page.fill("[name=m1_a1_target]", "空き状況を教えて")
                .await
                .unwrap();
            until(
                &page,
                "document.querySelectorAll('.composer-preview-body .lp-imagemap rect').length === 2",
                "both areas in the preview",
            )
            .await;

            // The check keeps everything and finds nothing wrong.
            press(&page, ".composer .actions button[value=check]").await;
            assert_eq!(
                page.eval("document.querySelectorAll('#composer .field-error').length")
                    .await
                    .unwrap(),
                0,
                "{label}: {}",
                page.text("#composer").await.unwrap()
            );
            assert_eq!(
                page.eval(&field_js("m1_a1_target")).await.unwrap(),
                "空き状況を教えて"
            );
            page.eval("window.scrollTo(0, 0)").await.unwrap();
            page.screenshot(&shot_path(&format!("{label}-composer-{width}")))
                .await
                .unwrap();

            // Flex: a template fills the JSON; a mistake is shown at the field with its path.
            press(&page, "button[value='add:flex']").await;
            press(&page, "button[value='template:2:notice']").await;
            let json = page.eval(&field_js("m2_flex")).await.unwrap();
            assert!(
                json.as_str()
                    .unwrap_or("")
                    .contains("総合体育館の床の改修工事"),
                "{label}"
            );
            page.fill(
                "#f-m2_flex",
                r#"{"type":"bubble","body":{"type":"box","layout":"vertical","contents":[{"type":"text","text":"お知らせ","size":"huge"}]}}"#,
            )
            .await
            .unwrap();
            press(&page, ".composer .actions button[value=check]").await;
            let error = page.text("#f-m2_flex-error").await.unwrap();
            assert!(
                error.starts_with("contents.body.contents[0].size"),
                "{label}: {error}"
            );
            page.eval("document.getElementById('m2').scrollIntoView()")
                .await
                .unwrap();
            page.screenshot(&shot_path(&format!("{label}-composer-flex-error-{width}")))
                .await
                .unwrap();
        }
    }
}
