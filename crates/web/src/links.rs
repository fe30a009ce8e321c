//! Links in a delivery's messages, rewritten to Hiroba's counting redirect
//! `/r/{token}` when the delivery is confirmed (M15: URL click rate). URI
//! actions (buttons, imagemap areas, flex actions) and web addresses written
//! in a text message are rewritten; links already pointing at Hiroba (media,
//! forms) are left alone.

use std::collections::BTreeMap;

use serde_json::Value;

/// Whether `s` is a web address worth counting.
fn countable(s: &str, base: &str) -> bool {
    (s.starts_with("https://") || s.starts_with("http://")) && !s.starts_with(base)
}

/// The end of a URL written in text: LINE ends a link at white space and at
/// characters that cannot appear in one (Japanese text, brackets).
fn url_end(s: &str) -> usize {
    s.find(|c: char| {
        c.is_whitespace() || !c.is_ascii() || matches!(c, '"' | '<' | '>' | '「' | '」')
    })
    .unwrap_or(s.len())
}

fn text_urls(text: &str, base: &str, out: &mut Vec<String>) {
    let mut rest = text;
    while let Some(i) = rest.find("http") {
        let tail = &rest[i..];
        let end = url_end(tail);
        let url = &tail[..end];
        if countable(url, base) && !out.iter().any(|u| u == url) {
            out.push(url.to_owned());
        }
        rest = &tail[end.max(4)..];
    }
}

/// Every countable URL of a message, in order, once.
pub fn collect(message: &Value, base: &str, out: &mut Vec<String>) {
    match message {
        Value::Object(map) => {
            let is_text = map.get("type").and_then(Value::as_str) == Some("text");
            for (key, value) in map {
                match (key.as_str(), value) {
                    ("uri" | "linkUri", Value::String(s)) if countable(s, base) => {
                        if !out.iter().any(|u| u == s) {
                            out.push(s.clone());
                        }
                    }
                    // Text with LINE emoji keeps its `$` placeholders' indexes
                    // only if the text is unchanged: such texts are left alone.
                    ("text", Value::String(s)) if is_text && !map.contains_key("emojis") => {
                        text_urls(s, base, out);
                    }
                    _ => collect(value, base, out),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                collect(item, base, out);
            }
        }
        _ => {}
    }
}

/// Replaces the collected URLs by their redirects.
pub fn rewrite(message: &mut Value, to: &BTreeMap<String, String>) {
    match message {
        Value::Object(map) => {
            let is_text = map.get("type").and_then(Value::as_str) == Some("text")
                && !map.contains_key("emojis");
            for (key, value) in map.iter_mut() {
                match (key.as_str(), value) {
                    ("uri" | "linkUri", Value::String(s)) => {
                        if let Some(r) = to.get(s.as_str()) {
                            *s = r.clone();
                        }
                    }
                    ("text", Value::String(s)) if is_text => {
                        // Longest first, so a URL that starts another is not cut.
                        let mut urls: Vec<(&String, &String)> = to.iter().collect();
                        urls.sort_by_key(|(u, _)| std::cmp::Reverse(u.len()));
                        let mut text = s.clone();
                        for (url, r) in urls {
                            text = replace_whole(&text, url, r);
                        }
                        *s = text;
                    }
                    (_, value) => rewrite(value, to),
                }
            }
        }
        Value::Array(items) => {
            for item in items {
                rewrite(item, to);
            }
        }
        _ => {}
    }
}

/// Replaces `url` where it stands as a whole link (not as the start of a longer one).
fn replace_whole(text: &str, url: &str, with: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find(url) {
        let after = &rest[i + url.len()..];
        out.push_str(&rest[..i]);
        if url_end(after) == 0 {
            out.push_str(with);
        } else {
            out.push_str(url);
        }
        rest = after;
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used)]
    use super::*;
    use serde_json::json;

    #[test]
    fn actions_and_text_links_are_rewritten_once_and_hiroba_links_kept() {
        let base = "https://hiroba.example.jp";
        let mut messages = vec![
            json!({"type": "text", "text": "詳しくは https://town.example.jp/news/1 をご覧ください。https://town.example.jp/news/12 も"}),
            json!({"type": "imagemap", "baseUrl": "https://hiroba.example.jp/media/x/imagemap",
                   "actions": [{"type": "uri", "linkUri": "https://town.example.jp/news/1", "area": {}}]}),
            json!({"type": "flex", "contents": {"type": "bubble", "footer": {"type": "box", "contents": [
                {"type": "button", "action": {"type": "uri", "uri": "https://hiroba.example.jp/liff/forms/1"}}]}}}),
        ];
        let mut urls = Vec::new();
        for m in &messages {
            collect(m, base, &mut urls);
        }
        assert_eq!(
            urls,
            [
                "https://town.example.jp/news/1",
                "https://town.example.jp/news/12"
            ]
        );
        let to: BTreeMap<String, String> = urls
            .iter()
            .enumerate()
            .map(|(i, u)| (u.clone(), format!("{base}/r/t{i}")))
            .collect();
        for m in &mut messages {
            rewrite(m, &to);
        }
        assert_eq!(
            messages[0]["text"],
            "詳しくは https://hiroba.example.jp/r/t0 をご覧ください。https://hiroba.example.jp/r/t1 も"
        );
        assert_eq!(
            messages[1]["actions"][0]["linkUri"],
            "https://hiroba.example.jp/r/t0"
        );
        assert_eq!(
            messages[2]["contents"]["footer"]["contents"][0]["action"]["uri"],
            "https://hiroba.example.jp/liff/forms/1"
        );
    }
}
