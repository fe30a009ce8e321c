//! The bridge between stored LINE channels and the Messaging API client: a
//! client per channel built from the sealed settings, and the call log that
//! keeps LINE's `x-line-request-id` with every call (issue 5).

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use hiroba_line::client::{ApiResponse, CallMeta, Error};
use hiroba_line::{Client, ClientConfig};
use hiroba_store::line::{self, Channel, ChannelSettings, NewApiCall};
use hiroba_store::{Db, SecretBox, StoreError};

/// A client for a channel's settings; `timeout` per attempt, `retries` after
/// the first attempt. `http://` media URLs pass the client's checks only for a
/// channel that is not on LINE's own host (the simulator of an http demo):
/// LINE itself refuses them.
pub fn client_for(
    settings: &ChannelSettings,
    timeout: Duration,
    retries: u32,
) -> Result<Client, String> {
    let mut config = ClientConfig::new(settings.access_token.clone());
    config.api_base = settings.api_base.clone();
    config.api_data_base = settings.api_data_base.clone();
    config.timeout = timeout;
    config.max_retries = retries;
    config.allow_http_media = settings.api_base.trim_end_matches('/') != line::LINE_API_BASE;
    Client::new(config).map_err(|e| e.to_string())
}

/// Messaging API clients per channel, rebuilt when the stored settings change.
pub struct ChannelClients {
    clients: HashMap<Channel, (ChannelSettings, Arc<Client>)>,
    /// Per attempt, and retries after the first attempt.
    policy: (Duration, u32),
    /// The address residents reach Hiroba at (links to LIFF pages when a
    /// channel has no LIFF app).
    public_url: String,
}

impl Default for ChannelClients {
    fn default() -> Self {
        Self {
            clients: HashMap::new(),
            policy: (Duration::from_secs(5), 1),
            public_url: String::new(),
        }
    }
}

impl ChannelClients {
    /// Clients for short calls (profiles): 5 s per attempt, one retry.
    pub fn new() -> Self {
        Self::default()
    }

    /// Clients for deliveries: a multicast may take longer, and a retry with
    /// the same key is harmless, so more of them are made before the batch
    /// is handed back to the worker's own backoff.
    pub fn for_deliveries() -> Self {
        Self::with_policy(Duration::from_secs(20), 3)
    }

    /// Clients with `timeout` per attempt and `retries` after the first.
    pub fn with_policy(timeout: Duration, retries: u32) -> Self {
        Self {
            clients: HashMap::new(),
            policy: (timeout, retries),
            public_url: String::new(),
        }
    }

    /// Reloads the channels' settings; clients of unchanged channels are kept.
    pub async fn refresh(&mut self, db: &Db, secrets: &SecretBox) -> Result<(), StoreError> {
        for channel in Channel::ALL {
            let Some(settings) = line::load_channel(db, secrets, channel).await? else {
                self.clients.remove(&channel);
                continue;
            };
            if self
                .clients
                .get(&channel)
                .is_some_and(|(known, _)| *known == settings)
            {
                continue;
            }
            match client_for(&settings, self.policy.0, self.policy.1) {
                Ok(client) => {
                    self.clients.insert(channel, (settings, Arc::new(client)));
                }
                Err(e) => {
                    tracing::error!(%channel, error = %e, "LINE client cannot be built");
                    self.clients.remove(&channel);
                }
            }
        }
        Ok(())
    }

    pub fn get(&self, channel: Channel) -> Option<Arc<Client>> {
        self.clients.get(&channel).map(|(_, c)| c.clone())
    }

    /// The stored settings of a channel (its LIFF app, for links).
    pub fn settings(&self, channel: Channel) -> Option<&ChannelSettings> {
        self.clients.get(&channel).map(|(s, _)| s)
    }

    pub fn set_public_url(&mut self, url: &str) {
        self.public_url = url.to_owned();
    }

    pub fn public_url(&self) -> &str {
        &self.public_url
    }
}

/// What a finished call leaves for the log: status, request ids, retry key and
/// attempts from LINE's answer, or the error when there was none.
pub fn call_record<T>(
    endpoint: &str,
    purpose: &str,
    result: &Result<ApiResponse<T>, Error>,
    started: Instant,
) -> NewApiCall {
    let (meta, error): (Option<&CallMeta>, String) = match result {
        Ok(res) => (Some(&res.meta), String::new()),
        Err(e) => (e.meta(), e.to_string()),
    };
    record_of(endpoint, purpose, meta, error, started)
}

pub fn record_of(
    endpoint: &str,
    purpose: &str,
    meta: Option<&CallMeta>,
    error: String,
    started: Instant,
) -> NewApiCall {
    NewApiCall {
        endpoint: endpoint.to_owned(),
        purpose: purpose.to_owned(),
        status: meta.map(|m| m.status).filter(|s| *s != 0),
        request_id: meta.and_then(|m| m.request_id.clone()).unwrap_or_default(),
        accepted_request_id: meta
            .and_then(|m| m.accepted_request_id.clone())
            .unwrap_or_default(),
        retry_key: meta.and_then(|m| m.retry_key.clone()).unwrap_or_default(),
        attempts: meta.map_or(0, |m| m.attempts),
        error,
        duration_ms: i64::try_from(started.elapsed().as_millis()).unwrap_or(i64::MAX),
    }
}

/// Logs a finished call; a failure to log is reported, never raised: LINE
/// has acted on the call either way.
pub async fn log_call<T>(
    db: &Db,
    channel: Channel,
    endpoint: &str,
    purpose: &str,
    result: &Result<ApiResponse<T>, Error>,
    started: Instant,
) {
    let record = call_record(endpoint, purpose, result, started);
    if let Err(e) = line::log_api_call(db, channel, &record).await {
        tracing::error!(%channel, error = %e, "LINE API call not logged");
    }
}
