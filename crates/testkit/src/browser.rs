//! Minimal Chrome DevTools Protocol client for browser tests.
//!
//! Launches a headless Chromium with a throw-away profile, talks to it over a
//! single browser-level websocket and drives pages through flattened target
//! sessions (`Target.attachToTarget { flatten: true }` + `"sessionId"` on every
//! page command). Only what the tests need is implemented: navigation, JS
//! evaluation, form filling, clicking with a wait for the resulting page load,
//! and full-page screenshots.
//!
//! A background reader task routes command responses to their callers by `id`
//! and broadcasts events; pages filter the broadcast by their `sessionId`.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::{Context, Result, anyhow, bail};
use base64::Engine as _;
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, Command};
use tokio::sync::{broadcast, mpsc, oneshot};
use tokio::task::JoinHandle;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::tungstenite::protocol::WebSocketConfig;

/// How long to wait for Chromium to print its DevTools endpoint.
const LAUNCH_TIMEOUT: Duration = Duration::from_secs(20);
/// How long to wait for a page's load event after navigating or clicking.
const LOAD_TIMEOUT: Duration = Duration::from_secs(20);
/// Upper bound for any single CDP command (screenshots of long pages are the slowest).
const COMMAND_TIMEOUT: Duration = Duration::from_secs(30);
/// Events buffered per subscriber; page events are few, so lagging means a bug.
const EVENT_CAPACITY: usize = 1024;

type Reply = std::result::Result<Value, String>;
type Pending = Arc<Mutex<HashMap<u64, oneshot::Sender<Reply>>>>;

/// Shared websocket connection to the browser endpoint.
struct Conn {
    /// Outgoing frames go through a writer task so that `Drop` impls can send
    /// fire-and-forget commands without awaiting.
    out: mpsc::UnboundedSender<Message>,
    next_id: AtomicU64,
    pending: Pending,
    events: broadcast::Sender<Value>,
}

impl Conn {
    fn next_id(&self) -> u64 {
        self.next_id.fetch_add(1, Ordering::Relaxed)
    }

    fn message(id: u64, method: &str, params: Value, session: Option<&str>) -> Message {
        let mut msg = json!({ "id": id, "method": method, "params": params });
        if let (Some(s), Some(obj)) = (session, msg.as_object_mut()) {
            obj.insert("sessionId".into(), Value::String(s.to_owned()));
        }
        Message::Text(msg.to_string().into())
    }

    /// Sends a command and waits for its result.
    async fn call(&self, method: &str, params: Value, session: Option<&str>) -> Result<Value> {
        let id = self.next_id();
        let (tx, rx) = oneshot::channel();
        // Register before sending so a fast reply cannot miss its receiver.
        self.pending
            .lock()
            .map_err(|_| anyhow!("CDP pending map poisoned"))?
            .insert(id, tx);
        if self
            .out
            .send(Self::message(id, method, params, session))
            .is_err()
        {
            self.forget(id);
            bail!("CDP connection closed (sending {method})");
        }
        match tokio::time::timeout(COMMAND_TIMEOUT, rx).await {
            Ok(Ok(Ok(v))) => Ok(v),
            Ok(Ok(Err(e))) => Err(anyhow!("CDP {method} failed: {e}")),
            Ok(Err(_)) => Err(anyhow!("CDP connection closed while waiting for {method}")),
            Err(_) => {
                self.forget(id);
                Err(anyhow!("CDP {method} timed out after {COMMAND_TIMEOUT:?}"))
            }
        }
    }

    fn forget(&self, id: u64) {
        if let Ok(mut p) = self.pending.lock() {
            p.remove(&id);
        }
    }
}

/// Routes incoming websocket messages: responses by `id`, everything else as events.
async fn read_loop<S>(mut stream: S, pending: Pending, events: broadcast::Sender<Value>)
where
    S: futures_util::Stream<Item = tokio_tungstenite::tungstenite::Result<Message>> + Unpin,
{
    while let Some(Ok(msg)) = stream.next().await {
        let text = match &msg {
            Message::Text(t) => t.as_str(),
            Message::Close(_) => break,
            _ => continue,
        };
        let Ok(v) = serde_json::from_str::<Value>(text) else {
            continue;
        };
        if let Some(id) = v.get("id").and_then(Value::as_u64) {
            let tx = pending.lock().ok().and_then(|mut p| p.remove(&id));
            if let Some(tx) = tx {
                let reply = match v.get("error") {
                    Some(err) => Err(err
                        .get("message")
                        .and_then(Value::as_str)
                        .map_or_else(|| err.to_string(), str::to_owned)),
                    None => Ok(v.get("result").cloned().unwrap_or(Value::Null)),
                };
                let _ = tx.send(reply);
            }
        } else if v.get("method").is_some() {
            // No subscribers is fine: nobody is waiting for an event right now.
            let _ = events.send(v);
        }
    }
    // Dropping the senders wakes every waiter with a "connection closed" error.
    if let Ok(mut p) = pending.lock() {
        p.clear();
    }
}

/// A headless Chromium process plus the DevTools connection to it.
///
/// The process is killed and its profile directory removed on drop.
pub struct Browser {
    child: Child,
    conn: Arc<Conn>,
    tasks: Vec<JoinHandle<()>>,
    /// `--user-data-dir`; removed explicitly in `Drop` after the processes are dead.
    profile: tempfile::TempDir,
}

impl Browser {
    /// Starts Chromium (from `$CHROMIUM` or the usual install paths) and connects to it.
    pub async fn launch() -> Result<Browser> {
        let exe = find_chromium()?;
        let profile = tempfile::Builder::new()
            .prefix("cdp-profile-")
            .tempdir()
            .context("creating chromium --user-data-dir")?;
        let mut child = Command::new(&exe)
            .args([
                "--headless=new",
                // We run as root in a container: the sandbox cannot start there.
                "--no-sandbox",
                "--disable-gpu",
                "--disable-quic",
                "--no-first-run",
                // No network on the test machine: stop background fetches and updaters.
                "--disable-background-networking",
                "--disable-component-update",
                "--disable-sync",
                "--disable-dev-shm-usage",
                "--remote-debugging-port=0",
            ])
            .arg(format!("--user-data-dir={}", profile.path().display()))
            .arg("about:blank")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .with_context(|| format!("spawning {}", exe.display()))?;

        let stderr = child
            .stderr
            .take()
            .context("chromium stderr was not captured")?;
        let mut lines = BufReader::new(stderr).lines();
        let mut seen = Vec::new();
        let ws_url = tokio::time::timeout(LAUNCH_TIMEOUT, async {
            while let Some(line) = lines.next_line().await? {
                if let Some(pos) = line.find("ws://")
                    && line.contains("DevTools listening on")
                {
                    return Ok(line[pos..].trim().to_owned());
                }
                seen.push(line);
            }
            Err(anyhow!("chromium exited before printing its DevTools URL"))
        })
        .await
        .unwrap_or_else(|_| Err(anyhow!("no DevTools URL within {LAUNCH_TIMEOUT:?}")))
        .with_context(|| format!("launching {}; stderr:\n{}", exe.display(), seen.join("\n")))?;

        // Keep draining stderr: a full pipe would block Chromium.
        let drain = tokio::spawn(async move { while let Ok(Some(_)) = lines.next_line().await {} });

        // Screenshots of long pages arrive as one large frame; lift tungstenite's limits.
        let config = WebSocketConfig::default()
            .max_message_size(Some(512 << 20))
            .max_frame_size(Some(512 << 20));
        let (ws, _) = tokio_tungstenite::connect_async_with_config(&ws_url, Some(config), true)
            .await
            .with_context(|| format!("connecting to {ws_url}"))?;
        let (mut sink, stream) = ws.split();

        let (out, mut out_rx) = mpsc::unbounded_channel::<Message>();
        let writer = tokio::spawn(async move {
            while let Some(msg) = out_rx.recv().await {
                if sink.send(msg).await.is_err() {
                    break;
                }
            }
        });
        let pending: Pending = Arc::default();
        let (events, _) = broadcast::channel(EVENT_CAPACITY);
        let reader = tokio::spawn(read_loop(stream, pending.clone(), events.clone()));

        Ok(Browser {
            child,
            conn: Arc::new(Conn {
                out,
                next_id: AtomicU64::new(1),
                pending,
                events,
            }),
            tasks: vec![drain, writer, reader],
            profile,
        })
    }

    /// Opens a new tab with the given viewport (mobile emulation below 600 px wide).
    pub async fn new_page(&self, width: u32, height: u32) -> Result<Page> {
        let created = self
            .conn
            .call("Target.createTarget", json!({ "url": "about:blank" }), None)
            .await?;
        let target_id = str_field(&created, "targetId")?;
        let attached = self
            .conn
            .call(
                "Target.attachToTarget",
                json!({ "targetId": target_id, "flatten": true }),
                None,
            )
            .await?;
        let page = Page {
            conn: self.conn.clone(),
            session: str_field(&attached, "sessionId")?,
            target_id,
        };
        page.cmd("Page.enable", json!({})).await?;
        // Overlay scrollbars would eat 15 px of desktop layouts and screenshots.
        page.cmd("Emulation.setScrollbarsHidden", json!({ "hidden": true }))
            .await?;
        page.cmd(
            "Emulation.setDeviceMetricsOverride",
            json!({
                "width": width,
                "height": height,
                "deviceScaleFactor": 1,
                "mobile": width < 600,
            }),
        )
        .await?;
        Ok(page)
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        for t in &self.tasks {
            t.abort();
        }
        // Chromium's GPU/renderer/zygote helpers outlive a killed browser process for
        // about a second and keep writing into the profile, so kill them too.
        let helpers = self.child.id().map(descendants).unwrap_or_default();
        let _ = self.child.start_kill();
        if !helpers.is_empty() {
            let _ = std::process::Command::new("kill")
                .arg("-KILL")
                .args(helpers.iter().map(u32::to_string))
                .stderr(Stdio::null())
                .status();
        }
        // Blocking briefly is acceptable in test teardown; it lets the profile go cleanly.
        for _ in 0..200 {
            if !matches!(self.child.try_wait(), Ok(None)) {
                break;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
        // Retry: a dying helper may still create files while the tree is removed.
        for _ in 0..50 {
            match std::fs::remove_dir_all(self.profile.path()) {
                Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                    std::thread::sleep(Duration::from_millis(20));
                }
                _ => break,
            }
        }
    }
}

/// All transitive child PIDs of `root`, read from Linux `/proc` (empty elsewhere).
fn descendants(root: u32) -> Vec<u32> {
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = entries
        .filter_map(|e| {
            let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
            // Format: "pid (comm) state ppid ..."; comm may contain spaces and parens.
            let rest = &stat[stat.rfind(')')? + 1..];
            let ppid = rest.split_whitespace().nth(1)?.parse().ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut found = vec![root];
    let mut i = 0;
    while let Some(&parent) = found.get(i) {
        found.extend(
            parents
                .iter()
                .filter(|&&(_, pp)| pp == parent)
                .map(|&(p, _)| p),
        );
        i += 1;
    }
    found.remove(0);
    found
}

/// A tab attached through a flattened CDP session.
pub struct Page {
    conn: Arc<Conn>,
    session: String,
    target_id: String,
}

impl Page {
    async fn cmd(&self, method: &str, params: Value) -> Result<Value> {
        self.conn.call(method, params, Some(&self.session)).await
    }

    /// Waits for this page's next `Page.loadEventFired` on an already-subscribed receiver.
    async fn wait_load(&self, mut rx: broadcast::Receiver<Value>, what: &str) -> Result<()> {
        let wait = async {
            loop {
                let ev = match rx.recv().await {
                    Ok(ev) => ev,
                    Err(broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(broadcast::error::RecvError::Closed) => {
                        bail!("CDP connection closed")
                    }
                };
                if ev.get("sessionId").and_then(Value::as_str) != Some(&self.session) {
                    continue;
                }
                match ev.get("method").and_then(Value::as_str) {
                    Some("Page.loadEventFired") => return Ok(()),
                    Some("Inspector.targetCrashed") => bail!("page crashed"),
                    _ => {}
                }
            }
        };
        tokio::time::timeout(LOAD_TIMEOUT, wait)
            .await
            .map_err(|_| anyhow!("no load event within {LOAD_TIMEOUT:?}"))?
            .with_context(|| format!("waiting for load after {what}"))
    }

    /// Navigates to `url` and waits for the load event.
    pub async fn goto(&self, url: &str) -> Result<()> {
        // Subscribe first: the load event may arrive before Page.navigate's reply.
        let rx = self.conn.events.subscribe();
        let nav = self.cmd("Page.navigate", json!({ "url": url })).await?;
        if let Some(err) = nav.get("errorText").and_then(Value::as_str)
            && !err.is_empty()
        {
            bail!("navigating to {url}: {err}");
        }
        self.wait_load(rx, &format!("goto {url}")).await
    }

    /// Evaluates `js` (awaiting a returned promise) and returns the value as JSON.
    ///
    /// Thrown exceptions and rejected promises become `Err` with the JS message.
    pub async fn eval(&self, js: &str) -> Result<Value> {
        let res = self
            .cmd(
                "Runtime.evaluate",
                json!({
                    "expression": js,
                    "returnByValue": true,
                    "awaitPromise": true,
                    "userGesture": true,
                }),
            )
            .await?;
        if let Some(details) = res.get("exceptionDetails") {
            let msg = details
                .pointer("/exception/description")
                .and_then(Value::as_str)
                .or_else(|| details.pointer("/exception/value").and_then(Value::as_str))
                .or_else(|| details.get("text").and_then(Value::as_str))
                .unwrap_or("unknown JS exception");
            bail!("JS exception: {msg}");
        }
        // `undefined` has no "value" field; map it to null.
        Ok(res.pointer("/result/value").cloned().unwrap_or(Value::Null))
    }

    /// Sets the value of an `<input>`, `<select>` or `<textarea>` and fires `input` + `change`.
    pub async fn fill(&self, css: &str, value: &str) -> Result<()> {
        let js = format!(
            r#"(() => {{
  const sel = {sel}, val = {val};
  const el = document.querySelector(sel);
  if (!el) throw new Error("fill: no element matches " + sel);
  const proto = el instanceof HTMLSelectElement ? HTMLSelectElement.prototype
    : el instanceof HTMLTextAreaElement ? HTMLTextAreaElement.prototype
    : el instanceof HTMLInputElement ? HTMLInputElement.prototype : null;
  if (!proto) throw new Error("fill: " + sel + " is a <" + el.tagName.toLowerCase() + ">, not a form field");
  if (el instanceof HTMLSelectElement && ![...el.options].some(o => o.value === val))
    throw new Error("fill: " + sel + " has no option with value " + JSON.stringify(val));
  el.focus();
  // The prototype setter bypasses framework-patched value properties.
  Object.getOwnPropertyDescriptor(proto, "value").set.call(el, val);
  if (el.value !== val) throw new Error("fill: " + sel + " did not accept value " + JSON.stringify(val));
  el.dispatchEvent(new Event("input", {{ bubbles: true }}));
  el.dispatchEvent(new Event("change", {{ bubbles: true }}));
}})()"#,
            sel = js_str(css)?,
            val = js_str(value)?,
        );
        self.eval(&js).await.map(drop)
    }

    /// Checks or unchecks a checkbox/radio by clicking it when its state differs.
    pub async fn set_checked(&self, css: &str, checked: bool) -> Result<()> {
        let js = format!(
            r#"(() => {{
  const sel = {sel}, want = {checked};
  const el = document.querySelector(sel);
  if (!el) throw new Error("set_checked: no element matches " + sel);
  if (!("checked" in el)) throw new Error("set_checked: " + sel + " is not a checkbox/radio");
  // Clicking fires the same input/change events a user would.
  if (el.checked !== want) el.click();
  if (el.checked !== want) throw new Error("set_checked: could not set " + sel + " to " + want);
}})()"#,
            sel = js_str(css)?,
        );
        self.eval(&js).await.map(drop)
    }

    /// Clicks an element that triggers a navigation and waits for the new page's load event.
    pub async fn click_and_wait(&self, css: &str) -> Result<()> {
        let rx = self.conn.events.subscribe();
        let sel = js_str(css)?;
        let js = format!(
            r#"(() => {{
  const el = document.querySelector({sel});
  if (!el) throw new Error("click: no element matches " + {sel});
  el.click();
}})()"#
        );
        if let Err(e) = self.eval(&js).await {
            // A synchronous navigation may tear down the context before the reply;
            // that still counts as a successful click.
            let msg = format!("{e:#}");
            if !(msg.contains("context was destroyed") || msg.contains("navigated or closed")) {
                return Err(e);
            }
        }
        self.wait_load(rx, &format!("clicking {css}")).await
    }

    /// `innerText` of the first element matching `css`.
    pub async fn text(&self, css: &str) -> Result<String> {
        let js = format!(
            r#"(() => {{
  const sel = {sel};
  const el = document.querySelector(sel);
  if (!el) throw new Error("text: no element matches " + sel);
  return el.innerText ?? el.textContent ?? "";
}})()"#,
            sel = js_str(css)?,
        );
        match self.eval(&js).await? {
            Value::String(s) => Ok(s),
            other => bail!("text({css}) returned non-string {other}"),
        }
    }

    /// Whether any element matches `css`.
    pub async fn exists(&self, css: &str) -> Result<bool> {
        let js = format!("document.querySelector({}) !== null", js_str(css)?);
        self.eval(&js)
            .await?
            .as_bool()
            .with_context(|| format!("exists({css}) did not return a boolean"))
    }

    /// The current document URL.
    pub async fn url(&self) -> Result<String> {
        match self.eval("location.href").await? {
            Value::String(s) => Ok(s),
            other => bail!("location.href returned non-string {other}"),
        }
    }

    /// Writes a full-page PNG to `path`, creating parent directories.
    pub async fn screenshot(&self, path: &Path) -> Result<()> {
        let metrics = self.cmd("Page.getLayoutMetrics", json!({})).await?;
        // cssContentSize is in CSS pixels (contentSize is device pixels on newer Chromes).
        let size = metrics
            .get("cssContentSize")
            .or_else(|| metrics.get("contentSize"))
            .context("Page.getLayoutMetrics returned no content size")?;
        let dim = |k: &str| size.get(k).and_then(Value::as_f64).unwrap_or(0.0).ceil();
        let (width, height) = (dim("width"), dim("height"));
        if width < 1.0 || height < 1.0 {
            bail!("page has empty content size {width}x{height}");
        }
        let shot = self
            .cmd(
                "Page.captureScreenshot",
                json!({
                    "format": "png",
                    "captureBeyondViewport": true,
                    "clip": { "x": 0, "y": 0, "width": width, "height": height, "scale": 1 },
                }),
            )
            .await?;
        let png = base64::engine::general_purpose::STANDARD
            .decode(str_field(&shot, "data")?)
            .context("decoding screenshot base64")?;
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
        }
        std::fs::write(path, png).with_context(|| format!("writing {}", path.display()))
    }
}

impl Drop for Page {
    fn drop(&mut self) {
        // Fire-and-forget: nobody awaits the reply, the reader simply discards it.
        let id = self.conn.next_id();
        let _ = self.conn.out.send(Conn::message(
            id,
            "Target.closeTarget",
            json!({ "targetId": self.target_id }),
            None,
        ));
    }
}

/// Encodes `s` as a JS string literal (JSON strings are valid JS expressions).
fn js_str(s: &str) -> Result<String> {
    serde_json::to_string(s).context("encoding JS string literal")
}

fn str_field(v: &Value, key: &str) -> Result<String> {
    v.get(key)
        .and_then(Value::as_str)
        .map(str::to_owned)
        .with_context(|| format!("CDP reply lacks string field {key:?}: {v}"))
}

/// `$CHROMIUM` if set, else the first known Chromium/Chrome binary on disk or on `$PATH`.
fn find_chromium() -> Result<PathBuf> {
    if let Some(p) = std::env::var_os("CHROMIUM").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    const NAMES: [&str; 4] = [
        "chromium",
        "chromium-browser",
        "google-chrome",
        "google-chrome-stable",
    ];
    let mut dirs = vec![PathBuf::from("/usr/bin")];
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    NAMES
        .iter()
        .flat_map(|n| dirs.iter().map(move |d| d.join(n)))
        .find(|p| p.is_file())
        .context("no Chromium found; install chromium or set CHROMIUM=/path/to/browser")
}
