//! Simulated message statistics, shaped like LINE's insight answers and derived from what the
//! simulator delivered.
//!
//! Opens and clicks are not real events: for a request (or aggregation unit) delivered to `d`
//! users, `d × insight_open_rate` opened it and `opened × insight_click_rate` tapped each URL
//! (less for later URLs), with a deterministic fraction from [`crate::SimConfig::seed`] and
//! the request id, so the same run always gives the same numbers. As LINE does, counts below
//! `insight_threshold` (20) are `null`, except the message event's `delivered`.

use std::collections::HashMap;
use std::time::SystemTime;

use axum::extract::{Query, State};
use axum::http::StatusCode;
use axum::response::Response;
use chrono::{DateTime, NaiveDate, TimeDelta, Utc};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::Sim;
use crate::api::{error, ok};

/// Per message: its type and the URLs it links to (actions, imagemap areas, text).
pub(crate) fn summarize(messages: &[Value]) -> Vec<(String, Vec<String>)> {
    fn walk(v: &Value, out: &mut Vec<String>) {
        match v {
            Value::Object(o) => {
                let ty = o.get("type").and_then(Value::as_str);
                for key in ["uri", "linkUri"] {
                    if let Some(u) = o.get(key).and_then(Value::as_str)
                        && (ty == Some("uri") || key == "linkUri")
                        && !out.iter().any(|x| x == u)
                    {
                        out.push(u.to_owned());
                    }
                }
                if ty == Some("text")
                    && let Some(t) = o.get("text").and_then(Value::as_str)
                {
                    for (at, _) in t.match_indices("http") {
                        let rest = &t[at..];
                        if !(rest.starts_with("https://") || rest.starts_with("http://")) {
                            continue;
                        }
                        let end = rest
                            .find(|c: char| !c.is_ascii_graphic() || c == '"' || c == '<')
                            .unwrap_or(rest.len());
                        let u = rest[..end].trim_end_matches(['.', ',', ')']);
                        if !out.iter().any(|x| x == u) {
                            out.push(u.to_owned());
                        }
                    }
                }
                for child in o.values() {
                    walk(child, out);
                }
            }
            Value::Array(a) => a.iter().for_each(|c| walk(c, out)),
            _ => {}
        }
    }
    messages
        .iter()
        .map(|m| {
            let ty = m
                .get("type")
                .and_then(Value::as_str)
                .unwrap_or("")
                .to_owned();
            let mut urls = Vec::new();
            walk(m, &mut urls);
            (ty, urls)
        })
        .collect()
}

/// A deterministic number in [0, 1) for a seed and a key.
fn unit(seed: u64, key: &str) -> f64 {
    let d = Sha256::new()
        .chain_update(seed.to_le_bytes())
        .chain_update(key.as_bytes())
        .finalize();
    let mut b = [0u8; 8];
    b.copy_from_slice(&d[..8]);
    (u64::from_le_bytes(b) >> 11) as f64 / (1u64 << 53) as f64
}

struct Model {
    seed: u64,
    open_rate: f64,
    click_rate: f64,
    threshold: u64,
}

impl Model {
    fn of(sim: &Sim) -> Self {
        let c = sim.config();
        Model {
            seed: c.seed,
            open_rate: c.insight_open_rate.clamp(0.0, 1.0),
            click_rate: c.insight_click_rate.clamp(0.0, 1.0),
            threshold: c.insight_threshold,
        }
    }

    /// `n × rate`, rounded by a deterministic fraction.
    fn share(&self, n: u64, rate: f64, key: &str) -> u64 {
        let x = n as f64 * rate + unit(self.seed, key);
        (x.floor() as u64).min(n)
    }

    /// LINE hides small counts.
    fn shown(&self, n: u64) -> Value {
        if n < self.threshold {
            Value::Null
        } else {
            json!(n)
        }
    }

    /// (overview fields without request id, messages, clicks) for `delivered` recipients of
    /// messages summarized as `msgs`.
    fn statistics(
        &self,
        key: &str,
        delivered: u64,
        msgs: &[(String, Vec<String>)],
        per_unit: bool,
    ) -> (Value, Vec<Value>, Vec<Value>) {
        let opened = self.share(delivered, self.open_rate, &format!("{key}/open"));
        let mut messages = Vec::new();
        let mut clicks = Vec::new();
        let mut any_media = false;
        let mut media_users = 0;
        let mut clickers = 0;
        for (i, (ty, urls)) in msgs.iter().enumerate() {
            let seq = i + 1;
            // Later bubbles are seen a little less; some users look twice.
            let unique = self.share(opened, 1.0 - 0.05 * i as f64, &format!("{key}/{seq}/u"));
            let impression = unique + self.share(unique, 0.1, &format!("{key}/{seq}/i"));
            let media = matches!(ty.as_str(), "video" | "audio");
            let mut m = json!({ "seq": seq, "impression": self.shown(impression) });
            if per_unit {
                m["uniqueImpression"] = self.shown(unique);
            }
            let started = if media {
                any_media = true;
                let s = self.share(unique, 0.5, &format!("{key}/{seq}/m"));
                media_users = media_users.max(s);
                Some(s)
            } else {
                None
            };
            let played = |share: f64, k: &str| match started {
                Some(s) => self.shown(self.share(s, share, &format!("{key}/{seq}/{k}"))),
                None => Value::Null,
            };
            m["mediaPlayed"] = started.map_or(Value::Null, |s| {
                self.shown(s + self.share(s, 0.2, &format!("{key}/{seq}/mr")))
            });
            m["mediaPlayed25Percent"] = played(0.9, "25");
            m["mediaPlayed50Percent"] = played(0.7, "50");
            m["mediaPlayed75Percent"] = played(0.5, "75");
            m["mediaPlayed100Percent"] = played(0.3, "100");
            m["uniqueMediaPlayed"] = started.map_or(Value::Null, |s| self.shown(s));
            m["uniqueMediaPlayed25Percent"] = played(0.9, "u25");
            m["uniqueMediaPlayed50Percent"] = played(0.7, "u50");
            m["uniqueMediaPlayed75Percent"] = played(0.5, "u75");
            m["uniqueMediaPlayed100Percent"] = played(0.3, "u100");
            messages.push(m);
            for (k, url) in urls.iter().enumerate() {
                let rate = self.click_rate / (1.0 + 0.5 * k as f64);
                let u = self.share(unique, rate, &format!("{key}/{seq}/{url}"));
                clickers = clickers.max(u);
                clicks.push(json!({
                    "seq": seq,
                    "url": url,
                    "click": self.shown(u + self.share(u, 0.3, &format!("{key}/{seq}/{url}/r"))),
                    "uniqueClick": self.shown(u),
                    "uniqueClickOfRequest": self.shown(u),
                }));
            }
        }
        let overview = json!({
            "uniqueImpression": self.shown(opened),
            "uniqueClick": self.shown(clickers),
            "uniqueMediaPlayed": if any_media { self.shown(media_users) } else { Value::Null },
            "uniqueMediaPlayed100Percent": if any_media {
                self.shown(self.share(media_users, 0.3, &format!("{key}/m100")))
            } else {
                Value::Null
            },
        });
        (overview, messages, clicks)
    }
}

/// `GET /v2/bot/insight/message/event?requestId=`: a narrowcast's or broadcast's statistics.
pub(crate) async fn message_event(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let Some(id) = q.get("requestId").filter(|i| !i.is_empty()) else {
        return error(StatusCode::BAD_REQUEST, "requestId is required");
    };
    let model = Model::of(&sim);
    let record = sim.with(|s| {
        s.sends
            .get(id)
            .filter(|r| matches!(r.kind, "narrowcast" | "broadcast"))
            .map(|r| (r.at, r.delivered, r.messages.clone()))
    });
    // The simulator's choice: LINE keeps statistics of narrowcasts and broadcasts only.
    let Some((at, delivered, msgs)) = record else {
        return error(
            StatusCode::BAD_REQUEST,
            "The requestId is not a narrowcast or broadcast request of this channel",
        );
    };
    let (mut overview, messages, clicks) = model.statistics(id, delivered, &msgs, false);
    overview["requestId"] = json!(id);
    overview["timestamp"] = json!(secs(at));
    overview["delivered"] = json!(delivered);
    ok(json!({ "overview": overview, "messages": messages, "clicks": clicks }))
}

fn secs(t: SystemTime) -> i64 {
    DateTime::<Utc>::from(t).timestamp()
}

/// The Japan date (UTC+9) of a time.
fn jst_date(t: SystemTime) -> NaiveDate {
    (DateTime::<Utc>::from(t) + TimeDelta::hours(9)).date_naive()
}

fn valid_unit(u: &str) -> bool {
    (1..=30).contains(&u.len()) && u.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_')
}

/// `GET /v2/bot/insight/message/event/aggregation?customAggregationUnit=&from=&to=`: the
/// statistics of pushes and multicasts sent with that unit on those (Japan) dates.
pub(crate) async fn per_unit(
    State(sim): State<Sim>,
    Query(q): Query<HashMap<String, String>>,
) -> Response {
    let name = q
        .get("customAggregationUnit")
        .map(String::as_str)
        .unwrap_or("");
    if !valid_unit(name) {
        return error(
            StatusCode::BAD_REQUEST,
            "customAggregationUnit must be 1 to 30 characters of a-z, A-Z, 0-9 and _",
        );
    }
    let date = |k: &str| {
        q.get(k)
            .filter(|d| d.len() == 8)
            .and_then(|d| NaiveDate::parse_from_str(d, "%Y%m%d").ok())
    };
    let (Some(from), Some(to)) = (date("from"), date("to")) else {
        return error(StatusCode::BAD_REQUEST, "from and to must be yyyyMMdd");
    };
    if to < from || (to - from).num_days() > 30 {
        return error(
            StatusCode::BAD_REQUEST,
            "to must be on or after from, at most 30 days later",
        );
    }
    let model = Model::of(&sim);
    let (delivered, msgs) = sim.with(|s| {
        let mut delivered = 0;
        let mut msgs: Vec<(String, Vec<String>)> = Vec::new();
        for r in s.sends.values() {
            let day = jst_date(r.at);
            if r.unit.as_deref() != Some(name) || day < from || day > to {
                continue;
            }
            delivered += r.delivered;
            for (i, (ty, urls)) in r.messages.iter().enumerate() {
                if msgs.len() <= i {
                    msgs.push((ty.clone(), Vec::new()));
                }
                for u in urls {
                    if !msgs[i].1.contains(u) {
                        msgs[i].1.push(u.clone());
                    }
                }
            }
        }
        (delivered, msgs)
    });
    let (overview, messages, clicks) = model.statistics(name, delivered, &msgs, true);
    ok(json!({ "overview": overview, "messages": messages, "clicks": clicks }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_are_found_and_small_counts_hidden() {
        let msgs = vec![
            json!({"type":"text","text":"詳しくは https://example.com/a。https://example.com/b"}),
            json!({"type":"flex","altText":"x","contents":{"type":"bubble","footer":{"type":"box",
                "layout":"vertical","contents":[{"type":"button","action":{"type":"uri",
                "label":"開く","uri":"https://example.com/c"}}]}}}),
            json!({"type":"imagemap","baseUrl":"https://example.com/m","actions":[
                {"type":"uri","linkUri":"https://example.com/d","area":{}}]}),
        ];
        let s = summarize(&msgs);
        assert_eq!(
            s[0].1,
            vec!["https://example.com/a", "https://example.com/b"]
        );
        assert_eq!(s[1].1, vec!["https://example.com/c"]);
        assert_eq!(s[2].1, vec!["https://example.com/d"]);
        let m = Model {
            seed: 1,
            open_rate: 0.6,
            click_rate: 0.25,
            threshold: 20,
        };
        let (o, _, _) = m.statistics("r", 10, &s, false);
        assert_eq!(o["uniqueImpression"], Value::Null);
        let (o, messages, clicks) = m.statistics("r", 10_000, &s, false);
        let opened = o["uniqueImpression"].as_u64().unwrap();
        assert!((5990..=6000).contains(&opened), "{opened}");
        assert_eq!(messages.len(), 3);
        assert_eq!(clicks.len(), 4);
        assert_eq!(m.statistics("r", 10_000, &s, false).0, o, "deterministic");
    }
}
