//! Flex Message containers checked in Rust, without the OpenAPI file (the product cannot read
//! `shared/line-openapi` at run time).
//!
//! The rules are LINE's documented ones for Flex Messages, written down here as a small table
//! per component ([`spec`]): which properties each type has, which are required, their value
//! kinds (keywords, `px`/`%` lengths, `#RRGGBB[AA]` colours, https URLs...), where a component
//! may appear (icons only in baseline boxes, videos only in a kilo/mega/giga bubble's hero,
//! spans only in a text), carousels of 1 to 12 bubbles, and the JSON size limits (a bubble
//! 30 KB, a carousel 50 KB). Properties the table does not know are refused: a typo such as
//! `"wieght"` would otherwise be dropped silently by LINE or refused only at send time.
//!
//! The checker is deliberately at least as strict as `messaging-api.yml`'s `FlexContainer`
//! schema: the contract tests (tests/contract.rs) prove that every container accepted here
//! validates strictly against the schema, and that mutations the schema refuses are refused
//! here too. It is stricter where LINE's documentation is (required `text`, size limits,
//! component placement, keyword-or-length values the schema types as plain strings).
//!
//! Every problem names its JSON path from the message (`contents.body.contents[2].layout`),
//! in Japanese for staff and English for logs.

use serde_json::{Map, Value};

use crate::message::ValidationError;

/// Most bubbles in a carousel.
pub const MAX_CAROUSEL_BUBBLES: usize = 12;
/// Largest JSON of one bubble (bytes).
pub const MAX_BUBBLE_BYTES: usize = 30 * 1024;
/// Largest JSON of a carousel (bytes).
pub const MAX_CAROUSEL_BYTES: usize = 50 * 1024;
/// Longest image, icon or video URL.
pub const MAX_MEDIA_URL: usize = 2000;
/// Longest `uri` of a URI action.
pub const MAX_ACTION_URI: usize = 1000;
/// Longest postback `data` / message action `text`.
pub const MAX_ACTION_DATA: usize = 300;

/// Every problem of a flex container; paths start at `root` (`contents` for a message's).
pub fn check(container: &Value, root: &str) -> Vec<ValidationError> {
    let mut c = Checker::default();
    c.container(container, root);
    c.errors
}

/// The first problem of a message's flex container (paths start at `contents`).
pub fn validate(container: &Value) -> Result<(), ValidationError> {
    match check(container, "contents").into_iter().next() {
        Some(e) => Err(e),
        None => Ok(()),
    }
}

// ---- value kinds ---------------------------------------------------------------------------

const SPACING: &[&str] = &["none", "xs", "sm", "md", "lg", "xl", "xxl"];
const FONT_SIZES: &[&str] = &[
    "xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl",
];
const IMAGE_SIZES: &[&str] = &[
    "xxs", "xs", "sm", "md", "lg", "xl", "xxl", "3xl", "4xl", "5xl", "full",
];
const BORDER_WIDTHS: &[&str] = &["none", "light", "normal", "medium", "semi-bold", "bold"];
const NO_KEYWORDS: &[&str] = &[];

const LAYOUTS: &[&str] = &["horizontal", "vertical", "baseline"];
const POSITIONS: &[&str] = &["relative", "absolute"];
const ALIGNS: &[&str] = &["start", "end", "center"];
const GRAVITIES: &[&str] = &["top", "bottom", "center"];
const JUSTIFY: &[&str] = &[
    "center",
    "flex-start",
    "flex-end",
    "space-between",
    "space-around",
    "space-evenly",
];
const ALIGN_ITEMS: &[&str] = &["center", "flex-start", "flex-end"];
const WEIGHTS: &[&str] = &["regular", "bold"];
const FONT_STYLES: &[&str] = &["normal", "italic"];
const DECORATIONS: &[&str] = &["none", "underline", "line-through"];
const BUTTON_STYLES: &[&str] = &["primary", "secondary", "link"];
const BUTTON_HEIGHTS: &[&str] = &["sm", "md"];
const ADJUST_MODES: &[&str] = &["shrink-to-fit"];
const ASPECT_MODES: &[&str] = &["fit", "cover"];
const BUBBLE_SIZES: &[&str] = &["nano", "micro", "deca", "hecto", "kilo", "mega", "giga"];
const VIDEO_BUBBLE_SIZES: &[&str] = &["kilo", "mega", "giga"];
const DIRECTIONS: &[&str] = &["ltr", "rtl"];
const DATETIME_MODES: &[&str] = &["date", "time", "datetime"];
const INPUT_OPTIONS: &[&str] = &["closeRichMenu", "openRichMenu", "openKeyboard", "openVoice"];

/// A length: one of `keywords`, or a number with `px` (and `%` when `pct`).
#[derive(Debug, Clone, Copy)]
struct Len {
    keywords: &'static [&'static str],
    px: bool,
    pct: bool,
}

const fn len(keywords: &'static [&'static str], px: bool, pct: bool) -> Len {
    Len { keywords, px, pct }
}

/// Where a component stands; decides which component types are allowed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Place {
    /// In a horizontal or vertical box.
    Box,
    /// In a baseline box.
    Baseline,
    /// A bubble's hero block (box, image, video).
    Hero,
    /// A video's `altContent` (box or image).
    VideoAlt,
    /// A bubble's header, body or footer (a box).
    Block,
}

impl Place {
    fn allows(self, ty: &str) -> bool {
        match self {
            Place::Box => matches!(
                ty,
                "box" | "button" | "image" | "text" | "separator" | "filler"
            ),
            Place::Baseline => matches!(ty, "icon" | "text" | "filler"),
            Place::Hero => matches!(ty, "box" | "image" | "video"),
            Place::VideoAlt => matches!(ty, "box" | "image"),
            Place::Block => ty == "box",
        }
    }
    fn allowed(self) -> &'static str {
        match self {
            Place::Box => "box, button, image, text, separator, filler",
            Place::Baseline => "icon, text, filler",
            Place::Hero => "box, image, video",
            Place::VideoAlt => "box, image",
            Place::Block => "box",
        }
    }
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Str,
    /// A string of at most this many characters (UTF-16 units).
    StrMax(usize),
    /// A string of `min..=max` characters (UTF-16 units).
    StrLen(usize, usize),
    Bool,
    /// An integer ≥ 0.
    Int,
    Enum(&'static [&'static str]),
    Len(Len),
    /// `#RRGGBB` or `#RRGGBBAA`.
    Color,
    /// https, at most [`MAX_MEDIA_URL`] characters.
    MediaUrl,
    /// `{width}:{height}`, 1..=100000 each, height at most three times the width.
    AspectRatio,
    /// `90deg`.
    Angle,
    /// `0%`..`100%`.
    Percent,
    Action,
    /// The box's `contents`, checked by [`Checker::box_contents`].
    BoxContents,
    /// A text's spans.
    Spans,
    Background,
    Styles,
    BlockStyle,
    /// A box in a header/body/footer block.
    Block,
    /// A bubble's hero.
    Hero,
    /// A video's alternative content.
    VideoAlt,
    /// `altUri` of a URI action.
    AltUri,
}

/// One property: name, kind, required.
type Prop = (&'static str, Kind, bool);

const OFFSETS: [Prop; 5] = [
    ("position", Kind::Enum(POSITIONS), false),
    ("offsetTop", Kind::Len(len(SPACING, true, true)), false),
    ("offsetBottom", Kind::Len(len(SPACING, true, true)), false),
    ("offsetStart", Kind::Len(len(SPACING, true, true)), false),
    ("offsetEnd", Kind::Len(len(SPACING, true, true)), false),
];

/// The property table of a component or container type (`type` itself excluded).
fn spec(ty: &str) -> Option<Vec<Prop>> {
    use Kind::*;
    let margin: Prop = ("margin", Len(len(SPACING, true, false)), false);
    let flex: Prop = ("flex", Int, false);
    let mut props: Vec<Prop> = match ty {
        "bubble" => vec![
            ("direction", Enum(DIRECTIONS), false),
            ("styles", Styles, false),
            ("header", Block, false),
            ("hero", Hero, false),
            ("body", Block, false),
            ("footer", Block, false),
            ("size", Enum(BUBBLE_SIZES), false),
            ("action", Action, false),
        ],
        "box" => {
            let pad = Len(len(SPACING, true, true));
            let mut v = vec![
                ("layout", Enum(LAYOUTS), true),
                ("contents", BoxContents, true),
                flex,
                ("spacing", Len(len(SPACING, true, false)), false),
                margin,
                ("backgroundColor", Color, false),
                ("borderColor", Color, false),
                ("borderWidth", Len(len(BORDER_WIDTHS, true, false)), false),
                ("cornerRadius", Len(len(SPACING, true, false)), false),
                ("width", Len(len(NO_KEYWORDS, true, true)), false),
                ("maxWidth", Len(len(NO_KEYWORDS, true, true)), false),
                ("height", Len(len(NO_KEYWORDS, true, true)), false),
                ("maxHeight", Len(len(NO_KEYWORDS, true, true)), false),
                ("paddingAll", pad, false),
                ("paddingTop", pad, false),
                ("paddingBottom", pad, false),
                ("paddingStart", pad, false),
                ("paddingEnd", pad, false),
                ("action", Action, false),
                ("justifyContent", Enum(JUSTIFY), false),
                ("alignItems", Enum(ALIGN_ITEMS), false),
                ("background", Background, false),
            ];
            v.extend(OFFSETS);
            v
        }
        "button" => {
            let mut v = vec![
                ("action", Action, true),
                flex,
                ("color", Color, false),
                ("style", Enum(BUTTON_STYLES), false),
                ("gravity", Enum(GRAVITIES), false),
                margin,
                ("height", Enum(BUTTON_HEIGHTS), false),
                ("adjustMode", Enum(ADJUST_MODES), false),
                ("scaling", Bool, false),
            ];
            v.extend(OFFSETS);
            v
        }
        "image" => {
            let mut v = vec![
                ("url", MediaUrl, true),
                flex,
                margin,
                ("align", Enum(ALIGNS), false),
                ("gravity", Enum(GRAVITIES), false),
                ("size", Len(len(IMAGE_SIZES, true, true)), false),
                ("aspectRatio", AspectRatio, false),
                ("aspectMode", Enum(ASPECT_MODES), false),
                ("backgroundColor", Color, false),
                ("action", Action, false),
                ("animated", Bool, false),
            ];
            v.extend(OFFSETS);
            v
        }
        "video" => vec![
            ("url", MediaUrl, true),
            ("previewUrl", MediaUrl, true),
            ("altContent", VideoAlt, true),
            ("aspectRatio", AspectRatio, false),
            ("action", Action, false),
        ],
        "icon" => {
            let mut v = vec![
                ("url", MediaUrl, true),
                ("size", Len(len(FONT_SIZES, true, true)), false),
                ("aspectRatio", AspectRatio, false),
                margin,
                ("scaling", Bool, false),
            ];
            v.extend(OFFSETS);
            v
        }
        "text" => {
            let mut v = vec![
                // Required unless `contents` has spans; checked in `component`.
                ("text", Str, false),
                ("contents", Spans, false),
                flex,
                ("size", Len(len(FONT_SIZES, true, false)), false),
                ("align", Enum(ALIGNS), false),
                ("gravity", Enum(GRAVITIES), false),
                ("color", Color, false),
                ("weight", Enum(WEIGHTS), false),
                ("style", Enum(FONT_STYLES), false),
                ("decoration", Enum(DECORATIONS), false),
                ("wrap", Bool, false),
                ("lineSpacing", Len(len(NO_KEYWORDS, true, false)), false),
                margin,
                ("action", Action, false),
                ("maxLines", Int, false),
                ("adjustMode", Enum(ADJUST_MODES), false),
                ("scaling", Bool, false),
            ];
            v.extend(OFFSETS);
            v
        }
        "span" => vec![
            ("text", Str, true),
            ("size", Len(len(FONT_SIZES, true, false)), false),
            ("color", Color, false),
            ("weight", Enum(WEIGHTS), false),
            ("style", Enum(FONT_STYLES), false),
            ("decoration", Enum(DECORATIONS), false),
        ],
        "separator" => vec![margin, ("color", Color, false)],
        "filler" => vec![flex],
        _ => return None,
    };
    props.insert(0, ("type", Str, true));
    Some(props)
}

/// The property table of an action type (flex components' actions).
fn action_spec(ty: &str) -> Option<Vec<Prop>> {
    use Kind::*;
    let data: Prop = ("data", StrMax(MAX_ACTION_DATA), true);
    let mut props: Vec<Prop> = match ty {
        "postback" => vec![
            data,
            ("displayText", StrMax(MAX_ACTION_DATA), false),
            ("text", StrMax(MAX_ACTION_DATA), false),
            ("inputOption", Enum(INPUT_OPTIONS), false),
            ("fillInText", StrMax(MAX_ACTION_DATA), false),
        ],
        "message" => vec![("text", StrLen(1, MAX_ACTION_DATA), true)],
        "uri" => vec![("uri", Str, true), ("altUri", AltUri, false)],
        "datetimepicker" => vec![
            data,
            ("mode", Enum(DATETIME_MODES), true),
            ("initial", Str, false),
            ("max", Str, false),
            ("min", Str, false),
        ],
        "camera" | "cameraRoll" | "location" => Vec::new(),
        "clipboard" => vec![("clipboardText", StrLen(1, 1000), true)],
        _ => return None,
    };
    props.insert(0, ("type", Str, true));
    props.insert(1, ("label", Str, false));
    Some(props)
}

// ---- the checker ---------------------------------------------------------------------------

#[derive(Default)]
struct Checker {
    errors: Vec<ValidationError>,
}

fn join(path: &str, key: &str) -> String {
    format!("{path}.{key}")
}

fn index(path: &str, i: usize) -> String {
    format!("{path}[{i}]")
}

fn utf16(s: &str) -> usize {
    s.encode_utf16().count()
}

fn is_number_with(s: &str, suffix: &str) -> bool {
    let Some(n) = s.strip_suffix(suffix) else {
        return false;
    };
    let (int, frac) = match n.split_once('.') {
        Some((i, f)) => (i, Some(f)),
        None => (n, None),
    };
    !int.is_empty()
        && int.bytes().all(|b| b.is_ascii_digit())
        && frac.is_none_or(|f| !f.is_empty() && f.bytes().all(|b| b.is_ascii_digit()))
}

fn is_color(s: &str) -> bool {
    let hex = s.strip_prefix('#').unwrap_or("");
    (hex.len() == 6 || hex.len() == 8) && hex.bytes().all(|b| b.is_ascii_hexdigit())
}

fn is_aspect_ratio(s: &str) -> bool {
    let Some((w, h)) = s.split_once(':') else {
        return false;
    };
    let num = |x: &str| -> Option<f64> {
        let ok = !x.is_empty() && x.bytes().all(|b| b.is_ascii_digit() || b == b'.');
        ok.then(|| x.parse::<f64>().ok()).flatten()
    };
    match (num(w), num(h)) {
        (Some(w), Some(h)) => {
            (1.0..=100_000.0).contains(&w) && (1.0..=100_000.0).contains(&h) && h <= 3.0 * w
        }
        _ => false,
    }
}

/// An https URL of at most `max` characters (LINE refuses plain http for media).
pub(crate) fn check_https(url: &str, max: usize) -> Result<(), (String, String)> {
    if !url.starts_with("https://") || url.len() <= "https://".len() {
        return Err((
            "https:// で始まるURLにしてください。".to_owned(),
            "must be an https:// URL".to_owned(),
        ));
    }
    let n = utf16(url);
    if n > max {
        return Err((
            format!("URLは{max}文字以内にしてください（現在{n}文字）。"),
            format!("URL must be at most {max} characters, got {n}"),
        ));
    }
    Ok(())
}

/// A URI action's target: http, https, line or tel, at most `max` characters.
pub(crate) fn check_action_uri(uri: &str, max: usize) -> Result<(), (String, String)> {
    let scheme_ok = ["http://", "https://", "line://", "tel:"]
        .iter()
        .any(|p| uri.starts_with(p) && uri.len() > p.len());
    if !scheme_ok {
        return Err((
            "リンク先は http://・https://・line://・tel: で始めてください。".to_owned(),
            "uri must use http, https, line or tel".to_owned(),
        ));
    }
    let n = utf16(uri);
    if n > max {
        return Err((
            format!("リンク先は{max}文字以内にしてください（現在{n}文字）。"),
            format!("uri must be at most {max} characters, got {n}"),
        ));
    }
    Ok(())
}

impl Checker {
    fn err(&mut self, path: &str, ja: impl Into<String>, en: impl Into<String>) {
        self.errors
            .push(ValidationError::at(path, ja.into(), en.into()));
    }

    fn container(&mut self, v: &Value, path: &str) {
        let Some(obj) = v.as_object() else {
            self.err(
                path,
                "フレックスメッセージの内容（bubble か carousel のオブジェクト）が必要です。",
                "a flex container object (bubble or carousel) is required",
            );
            return;
        };
        match obj.get("type").and_then(Value::as_str) {
            Some("bubble") => {
                self.bubble(obj, path);
                self.size(v, path, MAX_BUBBLE_BYTES);
            }
            Some("carousel") => self.carousel(obj, path),
            _ => self.err(
                &join(path, "type"),
                "type は bubble か carousel にしてください。",
                "type must be bubble or carousel",
            ),
        }
    }

    fn size(&mut self, v: &Value, path: &str, max: usize) {
        let bytes = serde_json::to_string(v).map(|s| s.len()).unwrap_or(0);
        if bytes > max {
            self.err(
                path,
                format!(
                    "JSONが大きすぎます（{}KB、上限{}KB）。",
                    bytes.div_ceil(1024),
                    max / 1024
                ),
                format!("JSON is {bytes} bytes, at most {max} allowed"),
            );
        }
    }

    fn carousel(&mut self, obj: &Map<String, Value>, path: &str) {
        for key in obj.keys() {
            if key != "type" && key != "contents" {
                self.unknown(&join(path, key));
            }
        }
        let cpath = join(path, "contents");
        let Some(bubbles) = obj.get("contents").and_then(Value::as_array) else {
            self.err(
                &cpath,
                "カルーセルにはバブルの配列（contents）が必要です。",
                "carousel contents must be an array of bubbles",
            );
            return;
        };
        if bubbles.is_empty() || bubbles.len() > MAX_CAROUSEL_BUBBLES {
            self.err(
                &cpath,
                format!(
                    "カルーセルのバブルは1〜{MAX_CAROUSEL_BUBBLES}個にしてください（現在{}個）。",
                    bubbles.len()
                ),
                format!(
                    "a carousel holds 1 to {MAX_CAROUSEL_BUBBLES} bubbles, got {}",
                    bubbles.len()
                ),
            );
        }
        for (i, b) in bubbles.iter().enumerate() {
            let bpath = index(&cpath, i);
            match b.as_object() {
                Some(o) if o.get("type").and_then(Value::as_str) == Some("bubble") => {
                    self.bubble(o, &bpath);
                    self.size(b, &bpath, MAX_BUBBLE_BYTES);
                }
                _ => self.err(
                    &join(&bpath, "type"),
                    "カルーセルの中身は bubble にしてください。",
                    "carousel contents must be bubbles",
                ),
            }
        }
        self.size(&Value::Object(obj.clone()), path, MAX_CAROUSEL_BYTES);
    }

    fn bubble(&mut self, obj: &Map<String, Value>, path: &str) {
        let Some(props) = spec("bubble") else {
            return;
        };
        self.props(obj, path, &props);
        // A video in the hero needs a kilo, mega or giga bubble.
        let hero_is_video = obj
            .get("hero")
            .and_then(|h| h.get("type"))
            .and_then(Value::as_str)
            == Some("video");
        if hero_is_video {
            let size = obj.get("size").and_then(Value::as_str).unwrap_or("mega");
            if !VIDEO_BUBBLE_SIZES.contains(&size) {
                self.err(
                    &join(path, "size"),
                    "動画を使うバブルの size は kilo・mega・giga のいずれかにしてください。",
                    "a bubble with a video must be kilo, mega or giga",
                );
            }
        }
    }

    fn unknown(&mut self, path: &str) {
        self.err(
            path,
            "このプロパティはフレックスメッセージにありません（綴りを確認してください）。",
            "unknown property",
        );
    }

    /// Checks an object against a property table: required, unknown, and each value's kind.
    fn props(&mut self, obj: &Map<String, Value>, path: &str, props: &[Prop]) {
        for (name, _, required) in props {
            if *required && obj.get(*name).is_none_or(Value::is_null) {
                self.err(
                    &join(path, name),
                    format!("{name} は必須です。"),
                    "required",
                );
            }
        }
        for (key, value) in obj {
            let p = join(path, key);
            match props.iter().find(|(n, _, _)| n == key) {
                None => self.unknown(&p),
                Some((_, kind, _)) => self.value(*kind, value, &p, obj),
            }
        }
    }

    fn value(&mut self, kind: Kind, v: &Value, path: &str, parent: &Map<String, Value>) {
        match kind {
            Kind::Str => {
                if !v.is_string() {
                    self.err(path, "文字列にしてください。", "must be a string");
                }
            }
            Kind::StrMax(max) => match v.as_str() {
                None => self.err(path, "文字列にしてください。", "must be a string"),
                Some(s) if utf16(s) > max => self.err(
                    path,
                    format!("{max}文字以内にしてください（現在{}文字）。", utf16(s)),
                    format!("must be at most {max} characters"),
                ),
                Some(_) => {}
            },
            Kind::StrLen(min, max) => match v.as_str() {
                None => self.err(path, "文字列にしてください。", "must be a string"),
                Some(s) if !(min..=max).contains(&utf16(s)) => self.err(
                    path,
                    format!("{min}〜{max}文字にしてください（現在{}文字）。", utf16(s)),
                    format!("must be {min} to {max} characters"),
                ),
                Some(_) => {}
            },
            Kind::Bool => {
                if !v.is_boolean() {
                    self.err(path, "true か false にしてください。", "must be a boolean");
                }
            }
            Kind::Int => {
                let ok = v.is_u64() || v.as_f64().is_some_and(|f| f >= 0.0 && f.fract() == 0.0);
                if !ok {
                    self.err(
                        path,
                        "0以上の整数にしてください。",
                        "must be an integer ≥ 0",
                    );
                }
            }
            Kind::Enum(values) => {
                if !v.as_str().is_some_and(|s| values.contains(&s)) {
                    self.err(
                        path,
                        format!("{} のいずれかにしてください。", values.join("・")),
                        format!("must be one of {}", values.join(", ")),
                    );
                }
            }
            Kind::Len(l) => {
                let ok = v.as_str().is_some_and(|s| {
                    l.keywords.contains(&s)
                        || (l.px && is_number_with(s, "px"))
                        || (l.pct && is_number_with(s, "%"))
                });
                if !ok {
                    let mut forms: Vec<String> = Vec::new();
                    if !l.keywords.is_empty() {
                        forms.push(l.keywords.join("・"));
                    }
                    if l.px {
                        forms.push("数値px（例 10px）".to_owned());
                    }
                    if l.pct {
                        forms.push("数値%（例 50%）".to_owned());
                    }
                    let mut forms_en: Vec<String> = Vec::new();
                    if !l.keywords.is_empty() {
                        forms_en.push(l.keywords.join(", "));
                    }
                    if l.px {
                        forms_en.push("a number with px".to_owned());
                    }
                    if l.pct {
                        forms_en.push("a percentage".to_owned());
                    }
                    self.err(
                        path,
                        format!("{} で指定してください。", forms.join("、または")),
                        format!("must be {}", forms_en.join(" or ")),
                    );
                }
            }
            Kind::Color => {
                if !v.as_str().is_some_and(is_color) {
                    self.err(
                        path,
                        "色は #RRGGBB か #RRGGBBAA の形にしてください。",
                        "colour must be #RRGGBB or #RRGGBBAA",
                    );
                }
            }
            Kind::MediaUrl => match v.as_str() {
                None => self.err(
                    path,
                    "URLを文字列で指定してください。",
                    "must be a URL string",
                ),
                Some(u) => {
                    if let Err((ja, en)) = check_https(u, MAX_MEDIA_URL) {
                        self.err(path, ja, en);
                    }
                }
            },
            Kind::AspectRatio => {
                if !v.as_str().is_some_and(is_aspect_ratio) {
                    self.err(
                        path,
                        "縦横比は「幅:高さ」（各1〜100000、高さは幅の3倍以内）にしてください。",
                        "aspectRatio must be {width}:{height}, 1 to 100000, height at most 3 × width",
                    );
                }
            }
            Kind::Angle => {
                if !v.as_str().is_some_and(|s| is_number_with(s, "deg")) {
                    self.err(
                        path,
                        "角度は 90deg のように指定してください。",
                        "angle must be like 90deg",
                    );
                }
            }
            Kind::Percent => {
                let ok = v.as_str().is_some_and(|s| {
                    is_number_with(s, "%")
                        && s.trim_end_matches('%')
                            .parse::<f64>()
                            .is_ok_and(|p| (0.0..=100.0).contains(&p))
                });
                if !ok {
                    self.err(
                        path,
                        "0%〜100% で指定してください。",
                        "must be a percentage from 0% to 100%",
                    );
                }
            }
            Kind::Action => self.action(v, path),
            Kind::AltUri => match v.as_object() {
                None => self.err(path, "オブジェクトにしてください。", "must be an object"),
                Some(o) => {
                    for (k, d) in o {
                        let p = join(path, k);
                        if k != "desktop" {
                            self.unknown(&p);
                        } else if let Some(u) = d.as_str() {
                            if let Err((ja, en)) = check_action_uri(u, MAX_ACTION_URI) {
                                self.err(&p, ja, en);
                            }
                        } else {
                            self.err(&p, "文字列にしてください。", "must be a string");
                        }
                    }
                }
            },
            Kind::BoxContents => {
                let layout = parent.get("layout").and_then(Value::as_str);
                let place = if layout == Some("baseline") {
                    Place::Baseline
                } else {
                    Place::Box
                };
                match v.as_array() {
                    None => self.err(
                        path,
                        "contents は部品の配列にしてください。",
                        "contents must be an array of components",
                    ),
                    Some(items) => {
                        for (i, c) in items.iter().enumerate() {
                            self.component(c, &index(path, i), place);
                        }
                    }
                }
            }
            Kind::Spans => match v.as_array() {
                None => self.err(
                    path,
                    "contents は span の配列にしてください。",
                    "contents must be an array of spans",
                ),
                Some(items) => {
                    for (i, s) in items.iter().enumerate() {
                        let p = index(path, i);
                        match s.as_object() {
                            Some(o) if o.get("type").and_then(Value::as_str) == Some("span") => {
                                if let Some(props) = spec("span") {
                                    self.props(o, &p, &props);
                                }
                            }
                            _ => self.err(
                                &join(&p, "type"),
                                "テキストの contents には span だけを入れられます。",
                                "text contents must be spans",
                            ),
                        }
                    }
                }
            },
            Kind::Background => match v.as_object() {
                Some(o) if o.get("type").and_then(Value::as_str) == Some("linearGradient") => {
                    let props: [Prop; 6] = [
                        ("type", Kind::Str, true),
                        ("angle", Kind::Angle, true),
                        ("startColor", Kind::Color, true),
                        ("endColor", Kind::Color, true),
                        ("centerColor", Kind::Color, false),
                        ("centerPosition", Kind::Percent, false),
                    ];
                    self.props(o, path, &props);
                }
                _ => self.err(
                    &join(path, "type"),
                    "背景の type は linearGradient にしてください。",
                    "background type must be linearGradient",
                ),
            },
            Kind::Styles => match v.as_object() {
                None => self.err(path, "オブジェクトにしてください。", "must be an object"),
                Some(o) => {
                    let props: [Prop; 4] = [
                        ("header", Kind::BlockStyle, false),
                        ("hero", Kind::BlockStyle, false),
                        ("body", Kind::BlockStyle, false),
                        ("footer", Kind::BlockStyle, false),
                    ];
                    self.props(o, path, &props);
                }
            },
            Kind::BlockStyle => match v.as_object() {
                None => self.err(path, "オブジェクトにしてください。", "must be an object"),
                Some(o) => {
                    let props: [Prop; 3] = [
                        ("backgroundColor", Kind::Color, false),
                        ("separator", Kind::Bool, false),
                        ("separatorColor", Kind::Color, false),
                    ];
                    self.props(o, path, &props);
                }
            },
            Kind::Block => self.component(v, path, Place::Block),
            Kind::Hero => self.component(v, path, Place::Hero),
            Kind::VideoAlt => self.component(v, path, Place::VideoAlt),
        }
    }

    fn component(&mut self, v: &Value, path: &str, place: Place) {
        let Some(obj) = v.as_object() else {
            self.err(
                path,
                "部品のオブジェクトにしてください。",
                "must be a component object",
            );
            return;
        };
        let tpath = join(path, "type");
        let Some(ty) = obj.get("type").and_then(Value::as_str) else {
            self.err(&tpath, "type は必須です。", "required");
            return;
        };
        let Some(props) = spec(ty).filter(|_| ty != "bubble") else {
            self.err(
                &tpath,
                format!("「{ty}」という部品はありません。"),
                format!("unknown component type {ty:?}"),
            );
            return;
        };
        if !place.allows(ty) {
            self.err(
                &tpath,
                format!(
                    "ここには {} だけを置けます（{ty} は置けません）。",
                    place.allowed()
                ),
                format!("only {} allowed here, not {ty}", place.allowed()),
            );
            return;
        }
        self.props(obj, path, &props);
        if ty == "text" {
            let has_spans = obj
                .get("contents")
                .and_then(Value::as_array)
                .is_some_and(|a| !a.is_empty());
            let has_text = obj
                .get("text")
                .and_then(Value::as_str)
                .is_some_and(|t| !t.is_empty());
            if !has_spans && !has_text {
                self.err(
                    &join(path, "text"),
                    "テキストを入力してください（text か contents の span が必要です）。",
                    "text (or spans in contents) is required",
                );
            }
        }
    }

    fn action(&mut self, v: &Value, path: &str) {
        let Some(obj) = v.as_object() else {
            self.err(
                path,
                "アクションのオブジェクトにしてください。",
                "must be an action object",
            );
            return;
        };
        let tpath = join(path, "type");
        let ty = obj.get("type").and_then(Value::as_str).unwrap_or("");
        if ty == "richmenuswitch" {
            self.err(
                &tpath,
                "リッチメニュー切替アクションはリッチメニューでのみ使えます。",
                "richmenuswitch is only for rich menus",
            );
            return;
        }
        let Some(props) = action_spec(ty) else {
            self.err(
                &tpath,
                "アクションの type は postback・message・uri・datetimepicker・camera・cameraRoll・location・clipboard のいずれかにしてください。",
                "unknown action type",
            );
            return;
        };
        self.props(obj, path, &props);
        if matches!(ty, "camera" | "cameraRoll" | "location")
            && obj.get("label").is_none_or(Value::is_null)
        {
            self.err(&join(path, "label"), "label は必須です。", "required");
        }
        if ty == "uri"
            && let Some(u) = obj.get("uri").and_then(Value::as_str)
            && let Err((ja, en)) = check_action_uri(u, MAX_ACTION_URI)
        {
            self.err(&join(path, "uri"), ja, en);
        }
        if ty == "datetimepicker" {
            let mode = obj.get("mode").and_then(Value::as_str).unwrap_or("");
            for key in ["initial", "max", "min"] {
                if let Some(s) = obj.get(key).and_then(Value::as_str)
                    && !datetime_ok(mode, s)
                {
                    self.err(
                        &join(path, key),
                        "日時の形式が mode と合いません（date: 2025-04-01、time: 09:00、datetime: 2025-04-01T09:00）。",
                        "value does not match the mode's format",
                    );
                }
            }
        }
    }
}

fn datetime_ok(mode: &str, s: &str) -> bool {
    let digits = |x: &str, n: usize| x.len() == n && x.bytes().all(|b| b.is_ascii_digit());
    let date = |x: &str| {
        let p: Vec<&str> = x.split('-').collect();
        p.len() == 3 && digits(p[0], 4) && digits(p[1], 2) && digits(p[2], 2)
    };
    let time = |x: &str| {
        let p: Vec<&str> = x.split(':').collect();
        p.len() == 2 && digits(p[0], 2) && digits(p[1], 2)
    };
    match mode {
        "date" => date(s),
        "time" => time(s),
        "datetime" => s
            .split_once(['T', 't'])
            .is_some_and(|(d, t)| date(d) && time(t)),
        _ => true,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn paths(v: &Value) -> Vec<String> {
        check(v, "contents")
            .into_iter()
            .map(|e| e.path.unwrap_or_default())
            .collect()
    }

    #[test]
    fn a_full_bubble_passes() {
        let bubble = json!({
            "type": "bubble", "size": "mega", "direction": "ltr",
            "styles": {"footer": {"separator": true, "separatorColor": "#DDDDDD"}},
            "hero": {"type": "image", "url": "https://example.com/a.png", "size": "full",
                     "aspectRatio": "20:13", "aspectMode": "cover"},
            "body": {"type": "box", "layout": "vertical", "spacing": "md", "paddingAll": "12px",
              "background": {"type": "linearGradient", "angle": "90deg",
                             "startColor": "#FFFFFF", "endColor": "#EEEEEE"},
              "contents": [
                {"type": "text", "text": "体育館", "weight": "bold", "size": "xl", "wrap": true},
                {"type": "box", "layout": "baseline", "contents": [
                    {"type": "icon", "url": "https://example.com/i.png", "size": "sm"},
                    {"type": "text", "contents": [{"type": "span", "text": "9:00", "color": "#06C755"}]},
                    {"type": "filler"}]},
                {"type": "separator", "margin": "lg"},
                {"type": "button", "style": "primary", "height": "sm",
                 "action": {"type": "uri", "label": "予約", "uri": "https://example.com/"}}
              ]},
        });
        assert_eq!(paths(&bubble), Vec::<String>::new());
    }

    #[test]
    fn problems_name_their_path() {
        let bubble = json!({"type": "bubble", "body": {"type": "box", "layout": "vertical", "contents": [
            {"type": "text", "text": "a"},
            {"type": "text", "text": "b", "wieght": "bold"},
            {"type": "box", "layout": "diagonal", "contents": []},
            {"type": "icon", "url": "https://example.com/i.png"},
            {"type": "image", "url": "http://example.com/a.png"},
            {"type": "button", "action": {"type": "postback", "data": "x".repeat(301)}},
        ]}});
        let errs = check(&bubble, "contents");
        let got: Vec<&str> = errs.iter().filter_map(|e| e.path.as_deref()).collect();
        assert_eq!(
            got,
            vec![
                "contents.body.contents[1].wieght",
                "contents.body.contents[2].layout",
                "contents.body.contents[3].type",
                "contents.body.contents[4].url",
                "contents.body.contents[5].action.data",
            ]
        );
        assert!(
            errs[1].ja.contains("horizontal・vertical・baseline"),
            "{}",
            errs[1].ja
        );
        assert!(errs[1].en.starts_with("contents.body.contents[2].layout: "));
    }

    #[test]
    fn carousel_limits_and_sizes() {
        let b = json!({"type": "bubble", "body": {"type": "box", "layout": "vertical",
            "contents": [{"type": "text", "text": "x"}]}});
        let thirteen: Vec<Value> = (0..13).map(|_| b.clone()).collect();
        assert_eq!(
            paths(&json!({"type": "carousel", "contents": thirteen})),
            vec!["contents.contents"]
        );
        assert_eq!(
            paths(&json!({"type": "carousel", "contents": []})),
            vec!["contents.contents"]
        );
        let big = json!({"type": "bubble", "body": {"type": "box", "layout": "vertical",
            "contents": [{"type": "text", "text": "あ".repeat(11_000)}]}});
        assert_eq!(paths(&big), vec!["contents"]);
        assert!(validate(&b).is_ok());
        assert!(validate(&json!({"type": "box"})).is_err());
    }

    #[test]
    fn lengths_colours_and_ratios() {
        assert!(is_number_with("10px", "px") && is_number_with("1.5px", "px"));
        assert!(!is_number_with("px", "px") && !is_number_with("-1px", "px"));
        assert!(!is_number_with("1.px", "px"));
        assert!(is_color("#06C755") && is_color("#06C755CC") && !is_color("red"));
        assert!(is_aspect_ratio("20:13") && is_aspect_ratio("1:3") && !is_aspect_ratio("1:4"));
        assert!(!is_aspect_ratio("0:1") && !is_aspect_ratio("a:b"));
        assert!(datetime_ok("datetime", "2025-04-01T09:00") && !datetime_ok("date", "4/1"));
    }

    #[test]
    fn videos_only_in_large_heroes() {
        let video = json!({"type": "video", "url": "https://example.com/v.mp4",
            "previewUrl": "https://example.com/v.png", "aspectRatio": "16:9",
            "altContent": {"type": "image", "url": "https://example.com/v.png"}});
        let ok = json!({"type": "bubble", "size": "giga", "hero": video});
        assert_eq!(paths(&ok), Vec::<String>::new());
        let small = json!({"type": "bubble", "size": "micro", "hero": video});
        assert_eq!(paths(&small), vec!["contents.size"]);
        let in_body = json!({"type": "bubble", "body": {"type": "box", "layout": "vertical",
            "contents": [video]}});
        assert_eq!(paths(&in_body), vec!["contents.body.contents[0].type"]);
    }
}
