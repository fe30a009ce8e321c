//! Group commit for the LINE webhook (issue 5): concurrent webhook requests
//! hand their events to one writer task, which stores everything waiting in a
//! single transaction (one multi-row statement per channel, so a burst of
//! single-event requests costs one round trip, not one each) and then answers
//! each request. A request is answered
//! 200 only after its events are committed, so nothing is acknowledged that
//! could be lost; but a burst of requests costs one commit instead of one
//! each (on SQLite every commit takes the single writer's turn).

use std::collections::HashMap;
use std::sync::Mutex;
use std::time::{Duration, Instant};

use hiroba_store::line::{self, Channel, NewEvent};
use hiroba_store::{Db, SecretBox};
use tokio::sync::{mpsc, oneshot};

/// Most events written in one transaction.
const MAX_EVENTS: usize = 5_000;
/// Requests waiting for the writer before new ones wait to be queued.
const QUEUE: usize = 1_024;
/// How long a channel secret read from the database is trusted. A secret
/// changed on another instance is picked up within this time (LINE redelivers
/// what was refused meanwhile); a change on this instance applies at once.
const SECRET_TTL: Duration = Duration::from_secs(5);

struct Job {
    channel: Channel,
    events: Vec<NewEvent>,
    done: oneshot::Sender<Result<(), String>>,
}

pub struct Ingest {
    queue: mpsc::Sender<Job>,
    secrets: Mutex<HashMap<Channel, (Instant, Option<String>)>>,
}

impl Ingest {
    /// Starts the writer task on the current runtime.
    pub fn spawn(db: Db) -> Self {
        let (queue, jobs) = mpsc::channel(QUEUE);
        tokio::spawn(writer(db, jobs));
        Self {
            queue,
            secrets: Mutex::new(HashMap::new()),
        }
    }

    /// Stores the events durably (redeliveries are skipped by their
    /// `webhookEventId`); answers once they are committed.
    pub async fn store(&self, channel: Channel, events: Vec<NewEvent>) -> Result<(), String> {
        let (done, answer) = oneshot::channel();
        self.queue
            .send(Job {
                channel,
                events,
                done,
            })
            .await
            .map_err(|_| "the webhook writer has stopped".to_owned())?;
        answer
            .await
            .map_err(|_| "the webhook writer has stopped".to_owned())?
    }

    /// The channel's secret, from a short-lived cache.
    pub async fn channel_secret(
        &self,
        db: &Db,
        secrets: &SecretBox,
        channel: Channel,
    ) -> Result<Option<String>, hiroba_store::StoreError> {
        if let Ok(cache) = self.secrets.lock()
            && let Some((read, secret)) = cache.get(&channel)
            && read.elapsed() < SECRET_TTL
        {
            return Ok(secret.clone());
        }
        let secret = line::load_channel(db, secrets, channel)
            .await?
            .map(|s| s.channel_secret)
            .filter(|s| !s.is_empty());
        if let Ok(mut cache) = self.secrets.lock() {
            cache.insert(channel, (Instant::now(), secret.clone()));
        }
        Ok(secret)
    }

    /// Drops the cached secrets (this instance changed a channel).
    pub fn forget_secrets(&self) {
        if let Ok(mut cache) = self.secrets.lock() {
            cache.clear();
        }
    }
}

async fn writer(db: Db, mut jobs: mpsc::Receiver<Job>) {
    while let Some(first) = jobs.recv().await {
        let mut count = first.events.len();
        let mut batch = vec![first];
        while count < MAX_EVENTS {
            match jobs.try_recv() {
                Ok(job) => {
                    count += job.events.len();
                    batch.push(job);
                }
                Err(_) => break,
            }
        }
        let written = async {
            let mut tx = db.begin().await?;
            let mut inserted = 0;
            for channel in Channel::ALL {
                let events: Vec<&NewEvent> = batch
                    .iter()
                    .filter(|job| job.channel == channel)
                    .flat_map(|job| &job.events)
                    .collect();
                if !events.is_empty() {
                    inserted += line::insert_events(&mut tx, channel, &events).await?;
                }
            }
            tx.commit().await?;
            Ok::<_, hiroba_store::StoreError>(inserted)
        }
        .await;
        match written {
            Ok(inserted) => {
                tracing::debug!(received = count, inserted, "LINE webhook events stored");
                for job in batch {
                    let _ = job.done.send(Ok(()));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for job in batch {
                    let _ = job.done.send(Err(message.clone()));
                }
            }
        }
    }
}
