//! Request-body validation. The simulator asks a [`RequestValidator`] about every JSON body by
//! the OpenAPI component name of its schema (`PushMessageRequest`, `RichMenuRequest`, ...).
//! [`MinimalValidator`] covers the rules Hiroba is most likely to break; the full OpenAPI
//! validator from `crates/line` can be plugged in through `SimConfig::validator`.

use serde_json::Value;

/// Validates a request body against a named schema.
///
/// Each error is a message; when it starts with `property: ` (a property path without spaces,
/// e.g. `messages[0].text: Length must be between 0 and 5000`) the simulator reports the
/// property separately in LINE's `details[]`.
pub trait RequestValidator: Send + Sync {
    fn validate(&self, schema: &str, body: &Value) -> Result<(), Vec<String>>;
}

/// The built-in rules: `messages` present with 1..=5 entries of a known `type`, text ≤ 5000
/// characters, flex contents by `hiroba_line::flex`, `to` ≤ 500 for multicast, one valid
/// aggregation unit, rich menu bounds, bulk link ≤ 500 users.
#[derive(Debug, Default, Clone, Copy)]
pub struct MinimalValidator;

const MESSAGE_TYPES: &[&str] = &[
    "text", "textV2", "sticker", "image", "video", "audio", "location", "imagemap", "template",
    "flex",
];

impl RequestValidator for MinimalValidator {
    fn validate(&self, schema: &str, body: &Value) -> Result<(), Vec<String>> {
        let mut e = Vec::new();
        if !body.is_object() {
            return Err(vec!["The request body must be a JSON object".to_owned()]);
        }
        match schema {
            "PushMessageRequest" => {
                required_str(body, "to", "to", &mut e);
                messages(body, &mut e);
                aggregation_units(body, &mut e);
            }
            "ReplyMessageRequest" => {
                required_str(body, "replyToken", "replyToken", &mut e);
                messages(body, &mut e);
            }
            "MulticastRequest" => {
                string_list(body, "to", 500, &mut e);
                messages(body, &mut e);
                aggregation_units(body, &mut e);
            }
            "NarrowcastRequest" | "BroadcastRequest" | "ValidateMessageRequest" => {
                messages(body, &mut e)
            }
            "RichMenuRequest" => rich_menu(body, &mut e),
            "RichMenuBulkLinkRequest" => {
                required_str(body, "richMenuId", "richMenuId", &mut e);
                string_list(body, "userIds", 500, &mut e);
            }
            "RichMenuBulkUnlinkRequest" => string_list(body, "userIds", 500, &mut e),
            "CreateRichMenuAliasRequest" => {
                required_str(body, "richMenuAliasId", "richMenuAliasId", &mut e);
                required_str(body, "richMenuId", "richMenuId", &mut e);
            }
            "UpdateRichMenuAliasRequest" => required_str(body, "richMenuId", "richMenuId", &mut e),
            "CreateAudienceGroupRequest" => {
                required_str(body, "description", "description", &mut e);
                if let Some(d) = body.get("description").and_then(Value::as_str)
                    && d.chars().count() > 120
                {
                    e.push("description: Length must be between 1 and 120".to_owned());
                }
                if let Some(list) = body.get("audiences") {
                    match list.as_array() {
                        Some(a) if a.len() > 10_000 => {
                            e.push("audiences: Size must be between 0 and 10000".to_owned())
                        }
                        Some(a) => {
                            for (i, item) in a.iter().enumerate() {
                                if item.get("id").and_then(Value::as_str).is_none() {
                                    e.push(format!("audiences[{i}].id: must be specified"));
                                }
                            }
                        }
                        None => e.push("audiences: must be an array".to_owned()),
                    }
                }
            }
            _ => {}
        }
        if e.is_empty() { Ok(()) } else { Err(e) }
    }
}

/// `customAggregationUnits`: at most one name of 1 to 30 characters `[a-zA-Z0-9_]`.
fn aggregation_units(body: &Value, e: &mut Vec<String>) {
    let Some(v) = body.get("customAggregationUnits") else {
        return;
    };
    let Some(units) = v.as_array() else {
        e.push("customAggregationUnits: must be an array".to_owned());
        return;
    };
    if units.len() > 1 {
        e.push("customAggregationUnits: Size must be between 0 and 1".to_owned());
    }
    for (i, u) in units.iter().enumerate() {
        let ok = u.as_str().is_some_and(|u| {
            (1..=30).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
        });
        if !ok {
            e.push(format!(
                "customAggregationUnits[{i}]: must match ^[a-zA-Z0-9_]{{1,30}}$"
            ));
        }
    }
}

fn required_str(body: &Value, key: &str, prop: &str, e: &mut Vec<String>) {
    match body.get(key) {
        None | Some(Value::Null) => e.push(format!("{prop}: must be specified")),
        Some(Value::String(s)) if s.is_empty() => e.push(format!("{prop}: may not be empty")),
        Some(Value::String(_)) => {}
        Some(_) => e.push(format!("{prop}: must be a string")),
    }
}

fn string_list(body: &Value, key: &str, max: usize, e: &mut Vec<String>) {
    match body.get(key).and_then(Value::as_array) {
        None => e.push(format!("{key}: must be specified")),
        Some(a) if a.is_empty() || a.len() > max => {
            e.push(format!("{key}: Size must be between 1 and {max}"))
        }
        Some(a) => {
            for (i, v) in a.iter().enumerate() {
                if !v.is_string() {
                    e.push(format!("{key}[{i}]: must be a string"));
                }
            }
        }
    }
}

fn messages(body: &Value, e: &mut Vec<String>) {
    let Some(list) = body.get("messages").and_then(Value::as_array) else {
        e.push("messages: must be specified".to_owned());
        return;
    };
    if list.is_empty() || list.len() > 5 {
        e.push("messages: Size must be between 1 and 5".to_owned());
    }
    for (i, m) in list.iter().enumerate() {
        message(m, &format!("messages[{i}]"), e);
    }
}

fn message(m: &Value, p: &str, e: &mut Vec<String>) {
    let Some(t) = m.get("type").and_then(Value::as_str) else {
        e.push(format!("{p}.type: must be specified"));
        return;
    };
    if !MESSAGE_TYPES.contains(&t) {
        e.push(format!("{p}.type: Invalid message type '{t}'"));
        return;
    }
    let need = |k: &str, e: &mut Vec<String>| {
        if m.get(k).is_none_or(Value::is_null) {
            e.push(format!("{p}.{k}: must be specified"));
        }
    };
    let max_len = |k: &str, max: usize, e: &mut Vec<String>| {
        if let Some(s) = m.get(k).and_then(Value::as_str)
            && s.encode_utf16().count() > max
        {
            e.push(format!("{p}.{k}: Length must be between 0 and {max}"));
        }
    };
    match t {
        "text" | "textV2" => {
            need("text", e);
            if let Some(s) = m.get("text").and_then(Value::as_str)
                && s.is_empty()
            {
                e.push(format!("{p}.text: may not be empty"));
            }
            max_len("text", 5000, e);
        }
        "sticker" => {
            need("packageId", e);
            need("stickerId", e);
        }
        "image" | "video" => {
            need("originalContentUrl", e);
            need("previewImageUrl", e);
        }
        "audio" => {
            need("originalContentUrl", e);
            need("duration", e);
        }
        "location" => {
            for k in ["title", "address", "latitude", "longitude"] {
                need(k, e);
            }
            max_len("title", 100, e);
            max_len("address", 100, e);
        }
        "imagemap" => {
            for k in ["baseUrl", "altText", "baseSize", "actions"] {
                need(k, e);
            }
            max_len("altText", 1500, e);
        }
        "template" => {
            need("altText", e);
            need("template", e);
            max_len("altText", 400, e);
        }
        "flex" => {
            need("altText", e);
            max_len("altText", 1500, e);
            // Hiroba's own Flex checker (LINE's documented rules, paths in every error).
            match m.get("contents") {
                None | Some(Value::Null) => e.push(format!("{p}.contents: must be specified")),
                Some(c) => e.extend(
                    hiroba_line::flex::check(c, &format!("{p}.contents"))
                        .into_iter()
                        .map(|err| err.en),
                ),
            }
        }
        _ => {}
    }
    if let Some(items) = m
        .get("quickReply")
        .and_then(|q| q.get("items"))
        .and_then(Value::as_array)
        && (items.is_empty() || items.len() > 13)
    {
        e.push(format!(
            "{p}.quickReply.items: Size must be between 1 and 13"
        ));
    }
}

fn rich_menu(body: &Value, e: &mut Vec<String>) {
    let w = body.pointer("/size/width").and_then(Value::as_i64);
    let h = body.pointer("/size/height").and_then(Value::as_i64);
    match (w, h) {
        (Some(w), Some(h)) => {
            if !(800..=2500).contains(&w) {
                e.push("size.width: must be between 800 and 2500".to_owned());
            }
            if !(250..=1686).contains(&h) || (w > 0 && h * 1000 / w < 450 * 1000 / 2500) {
                e.push("size.height: must be between 250 and 1686".to_owned());
            }
        }
        _ => e.push("size: must be specified".to_owned()),
    }
    if body.get("selected").and_then(Value::as_bool).is_none() {
        e.push("selected: must be specified".to_owned());
    }
    required_str(body, "name", "name", e);
    if let Some(n) = body.get("name").and_then(Value::as_str)
        && n.chars().count() > 300
    {
        e.push("name: Length must be between 1 and 300".to_owned());
    }
    required_str(body, "chatBarText", "chatBarText", e);
    if let Some(n) = body.get("chatBarText").and_then(Value::as_str)
        && n.chars().count() > 14
    {
        e.push("chatBarText: Length must be between 1 and 14".to_owned());
    }
    match body.get("areas").and_then(Value::as_array) {
        None => e.push("areas: must be specified".to_owned()),
        Some(a) if a.len() > 20 => e.push("areas: Size must be between 0 and 20".to_owned()),
        Some(a) => {
            for (i, area) in a.iter().enumerate() {
                let b = |k: &str| {
                    area.pointer(&format!("/bounds/{k}"))
                        .and_then(Value::as_i64)
                };
                match (b("x"), b("y"), b("width"), b("height")) {
                    (Some(x), Some(y), Some(aw), Some(ah)) => {
                        if let (Some(w), Some(h)) = (w, h)
                            && (x < 0 || y < 0 || x + aw > w || y + ah > h)
                        {
                            e.push(format!("areas[{i}].bounds: out of the rich menu's size"));
                        }
                    }
                    _ => e.push(format!("areas[{i}].bounds: must be specified")),
                }
                if area
                    .pointer("/action/type")
                    .and_then(Value::as_str)
                    .is_none()
                {
                    e.push(format!("areas[{i}].action: must be specified"));
                }
            }
        }
    }
}

/// Splits `property: message` into its parts (property only when it has no spaces).
pub(crate) fn split_detail(s: &str) -> (Option<&str>, &str) {
    match s.split_once(": ") {
        Some((p, m)) if !p.is_empty() && !p.contains(' ') => (Some(p), m),
        _ => (None, s),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn minimal_rules() {
        let v = MinimalValidator;
        assert!(
            v.validate(
                "PushMessageRequest",
                &json!({"to":"U1","messages":[{"type":"text","text":"hi"}]})
            )
            .is_ok()
        );
        let Err(e) = v.validate("PushMessageRequest", &json!({"to":"U1","messages":[]})) else {
            unreachable!()
        };
        assert_eq!(e, vec!["messages: Size must be between 1 and 5"]);
        let long = "あ".repeat(5001);
        let Err(e) = v.validate(
            "BroadcastRequest",
            &json!({"messages":[{"type":"text","text":long},{"type":"bogus"}]}),
        ) else {
            unreachable!()
        };
        assert_eq!(e.len(), 2);
        assert_eq!(
            split_detail(&e[0]),
            (
                Some("messages[0].text"),
                "Length must be between 0 and 5000"
            )
        );
        let many: Vec<String> = (0..501).map(|i| format!("U{i}")).collect();
        assert!(
            v.validate(
                "MulticastRequest",
                &json!({"to":many,"messages":[{"type":"text","text":"x"}]})
            )
            .is_err()
        );
    }
}
