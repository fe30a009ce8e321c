//! What each simulated client does. A scenario prepares each connection once
//! (e.g. signs in; not measured) and then repeats one measured step until the
//! run ends. To add one (e.g. `booking`: a signed-in resident POSTing the
//! confirm step with the `_csrf` field read from the form page), implement
//! [`Scenario`] and add a variant to `Command` in main.rs that runs it.

use std::future::Future;

use hyper::StatusCode;

use crate::conn::Conn;

pub trait Scenario: Send + Sync + 'static {
    /// What each connection keeps between its steps.
    type State: Send;

    /// A line describing the scenario, for the report.
    fn describe(&self) -> String;

    /// Runs once per connection before measuring starts.
    fn prepare(
        &self,
        conn: &mut Conn,
        worker: usize,
    ) -> impl Future<Output = Result<Self::State, String>> + Send;

    /// Items each request carries (webhook events), for an items/s figure.
    fn events_per_request(&self) -> usize {
        1
    }

    /// One measured request (or short sequence); an `Err` counts as a failure.
    fn step(
        &self,
        conn: &mut Conn,
        state: &mut Self::State,
        iteration: u64,
    ) -> impl Future<Output = Result<(), String>> + Send;
}

/// The public month view of a room (A09): a plain GET that must answer 200.
pub struct MonthView {
    pub path: String,
}

impl Scenario for MonthView {
    type State = ();

    fn describe(&self) -> String {
        format!("month-view: GET {}", self.path)
    }

    async fn prepare(&self, conn: &mut Conn, _worker: usize) -> Result<(), String> {
        // One request up front also proves the page exists before timing starts.
        let reply = conn.get(&self.path).await?;
        expect(reply.status, StatusCode::OK, &self.path)
    }

    async fn step(&self, conn: &mut Conn, _state: &mut (), _iteration: u64) -> Result<(), String> {
        let reply = conn.get(&self.path).await?;
        expect(reply.status, StatusCode::OK, &self.path)?;
        if reply.body.is_empty() {
            return Err(format!("{}: empty body", self.path));
        }
        Ok(())
    }
}

pub fn expect(got: StatusCode, want: StatusCode, what: &str) -> Result<(), String> {
    if got == want {
        Ok(())
    } else {
        Err(format!("{what}: HTTP {got} (expected {want})"))
    }
}

/// The booking confirmation step (U07, U08): a signed-in resident POSTs the
/// booking form to /book/confirm, which runs every booking check and prices
/// the request. Each connection signs in once (not measured) and finds a free
/// slot of the room from its week view.
pub struct BookingConfirm {
    pub email: String,
    pub password: String,
    /// A week view whose first free slot is used, e.g.
    /// /facilities/1/rooms/1?week=2027-01-10&combination=2
    pub week_path: String,
}

pub struct BookingState {
    body: String,
}

/// The `content` of `<meta name="csrf-token">`.
fn meta_csrf(html: &str) -> Option<String> {
    let marker = "name=\"csrf-token\" content=\"";
    let start = html.find(marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

/// The value of a form field `name="..." value="..."` in a page.
fn field(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let start = html.find(&marker)? + marker.len();
    let end = html[start..].find('"')? + start;
    Some(html[start..end].to_owned())
}

fn encode(pairs: &[(&str, &str)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", url_escape(k), url_escape(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn url_escape(s: &str) -> String {
    let mut out = String::new();
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(char::from(b))
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

impl Scenario for BookingConfirm {
    type State = BookingState;

    fn describe(&self) -> String {
        format!(
            "booking-confirm: POST /book/confirm as {} (a free slot from {})",
            self.email, self.week_path
        )
    }

    async fn prepare(&self, conn: &mut Conn, _worker: usize) -> Result<BookingState, String> {
        let page = conn.get("/account/login").await?;
        let csrf = meta_csrf(&String::from_utf8_lossy(&page.body)).ok_or("login page: no csrf")?;
        let login = conn
            .post_form(
                "/account/login",
                encode(&[
                    ("_csrf", &csrf),
                    ("email", &self.email),
                    ("password", &self.password),
                ]),
            )
            .await?;
        expect(login.status, StatusCode::SEE_OTHER, "sign-in")?;
        let week = conn.get(&self.week_path).await?;
        let week = String::from_utf8_lossy(&week.body).into_owned();
        let start = week
            .find("href=\"/book?")
            .ok_or("no free slot in the week view")?
            + 6;
        let end = week[start..].find('"').ok_or("bad link")? + start;
        let link = week[start..end].replace("&#38;", "&").replace("&amp;", "&");
        let form = conn.get(&link).await?;
        expect(form.status, StatusCode::OK, &link)?;
        let form = String::from_utf8_lossy(&form.body).into_owned();
        let csrf = meta_csrf(&form).ok_or("booking form: no csrf")?;
        let combination = field(&form, "combination").ok_or("no combination")?;
        let date = field(&form, "date").ok_or("no date")?;
        let slot = link.rsplit("slot=").next().unwrap_or("").to_owned();
        let purpose_at = form.find("id=\"f-purpose\"").ok_or("no purpose field")?;
        let purpose = form[purpose_at..]
            .split("<option>")
            .nth(1)
            .and_then(|s| s.split('<').next())
            .ok_or("no purpose option")?
            .to_owned();
        let terms = form
            .find("name=\"terms\" value=\"")
            .and_then(|_| field(&form, "terms"))
            .unwrap_or_default();
        Ok(BookingState {
            body: encode(&[
                ("_csrf", &csrf),
                ("combination", &combination),
                ("date", &date),
                ("slot", &slot),
                ("purpose", &purpose),
                ("activity", "練習"),
                ("people", "10"),
                ("terms", &terms),
            ]),
        })
    }

    async fn step(
        &self,
        conn: &mut Conn,
        state: &mut BookingState,
        _iteration: u64,
    ) -> Result<(), String> {
        let reply = conn.post_form("/book/confirm", state.body.clone()).await?;
        expect(reply.status, StatusCode::OK, "/book/confirm")?;
        let body = String::from_utf8_lossy(&reply.body);
        if body.contains("name=\"total\"") {
            Ok(())
        } else {
            Err("/book/confirm did not show the confirmation page".into())
        }
    }
}

/// LINE's webhook (issue 5, M20): POSTs of `batch` text-message events with
/// unique `webhookEventId`s in LINE's format (ULIDs: time first, so ids
/// arrive in nearly ascending order), signed like LINE signs them (base64 HMAC-SHA256
/// of the body with the channel secret). Expects 200: stored durably.
pub struct Webhook {
    /// `/line/webhook/production` or `/line/webhook/test`.
    pub path: String,
    pub channel_secret: String,
    /// Events per request (LINE sends 1 to 100).
    pub batch: usize,
    /// Distinguishes runs so event ids never repeat across runs.
    pub run_id: u16,
}

/// A ULID (Crockford base32 of 48 bits of milliseconds and 80 more): the
/// 80 bits are the run, the connection, the iteration and the event's place
/// rather than random, so they never repeat.
fn ulid(ms: u128, run: u16, worker: usize, iteration: u64, i: usize) -> String {
    const ALPHABET: &[u8; 32] = b"0123456789ABCDEFGHJKMNPQRSTVWXYZ";
    let tail = (u128::from(run) << 64)
        | ((worker as u128 & 0xfff) << 52)
        | ((u128::from(iteration) & 0xf_ffff_ffff_ffff) << 8)
        | (i as u128 & 0xff);
    let value = ((ms & 0xffff_ffff_ffff) << 80) | tail;
    (0..26)
        .rev()
        .map(|k| char::from(ALPHABET[((value >> (5 * k)) & 31) as usize]))
        .collect()
}

impl Webhook {
    fn body(&self, worker: usize, iteration: u64) -> Vec<u8> {
        let now_ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis());
        let events: Vec<String> = (0..self.batch)
            .map(|i| {
                format!(
                    r#"{{"type":"message","mode":"active","timestamp":{now_ms},"source":{{"type":"user","userId":"U{worker:08x}{i:024x}"}},"webhookEventId":"{id}","deliveryContext":{{"isRedelivery":false}},"replyToken":"{iteration:032x}","message":{{"id":"{iteration}","type":"text","text":"体育館の空きを教えてください","quoteToken":"q"}}}}"#,
                    id = ulid(now_ms, self.run_id, worker, iteration, i),
                )
            })
            .collect();
        format!(
            r#"{{"destination":"U00000000000000000000000000000000","events":[{}]}}"#,
            events.join(",")
        )
        .into_bytes()
    }

    fn sign(&self, body: &[u8]) -> Result<String, String> {
        use base64::Engine;
        use hmac::{Hmac, Mac};
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(self.channel_secret.as_bytes())
            .map_err(|e| format!("secret: {e}"))?;
        mac.update(body);
        Ok(base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes()))
    }
}

impl Scenario for Webhook {
    type State = usize;

    fn describe(&self) -> String {
        format!(
            "webhook: POST {} with {} event(s) per request, signed",
            self.path, self.batch
        )
    }

    fn events_per_request(&self) -> usize {
        self.batch
    }

    async fn prepare(&self, _conn: &mut Conn, worker: usize) -> Result<usize, String> {
        Ok(worker)
    }

    async fn step(
        &self,
        conn: &mut Conn,
        worker: &mut usize,
        iteration: u64,
    ) -> Result<(), String> {
        let body = self.body(*worker, iteration);
        let signature = self.sign(&body)?;
        let reply = conn
            .post_json(&self.path, &[("x-line-signature", signature)], body)
            .await?;
        expect(reply.status, StatusCode::OK, &self.path)
    }
}

#[cfg(test)]
mod tests {
    use super::ulid;

    #[test]
    fn event_ids_are_ulids_in_time_order() {
        // The time part of the example in the ULID specification's README:
        // ulid(1469918176385) = 01ARYZ6S41TSV4RRFFQ69G5FAV.
        let id = ulid(1_469_918_176_385, 7, 3, 42, 0);
        assert_eq!(id.len(), 26);
        assert_eq!(&id[..10], "01ARYZ6S41");
        assert_ne!(id, ulid(1_469_918_176_385, 7, 3, 42, 1));
        assert_ne!(id, ulid(1_469_918_176_385, 7, 4, 42, 0));
        assert!(ulid(1_469_918_176_386, 0, 0, 0, 0) > ulid(1_469_918_176_385, 9, 99, 9, 99));
    }
}
