//! Callback deduplication: WeCom retries a callback it thinks went unanswered, and the same
//! msgid must never take effect twice (24 h, across restarts). The claim is written to the
//! store before the command runs; the reply is recorded afterwards, off the request path, so a
//! retry can get the same answer.

use std::sync::Arc;

use chrono::Duration;
use rallybot_handlers::store::{CallbackClaim, Store, StoreResult, Timestamp};
use serde::{Deserialize, Serialize};
use tokio::sync::mpsc;
use tokio::task::JoinHandle;

/// How long dedup keys are kept (SPEC §2: at least 24 h).
pub const RETENTION_HOURS: i64 = 24;

/// What is remembered about a finished callback, so a retry can be answered the same way.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StoredReply {
    pub text: String,
    pub mention: bool,
}

impl StoredReply {
    /// The stored form; the empty string means "answered with an empty 200".
    fn encode(reply: Option<&StoredReply>) -> String {
        reply
            .and_then(|r| serde_json::to_string(r).ok())
            .unwrap_or_default()
    }

    fn decode(stored: &str) -> Option<StoredReply> {
        if stored.is_empty() {
            return None;
        }
        serde_json::from_str(stored).ok()
    }
}

/// The result of claiming a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// First time: run the command.
    New,
    /// Done before: answer with this reply again (or an empty 200 when `None`).
    Done(Option<StoredReply>),
    /// Claimed by an attempt that has not finished yet: answer with an empty 200.
    InFlight,
}

/// Claims callbacks in the store and records their replies in the background.
#[derive(Debug, Clone)]
pub struct Dedup {
    store: Arc<dyn Store>,
    finished: mpsc::UnboundedSender<(String, String)>,
}

impl Dedup {
    /// Starts the background writer; it ends when every `Dedup` clone is dropped, after writing
    /// what was queued.
    pub fn start(store: Arc<dyn Store>) -> (Dedup, JoinHandle<()>) {
        let (tx, mut rx) = mpsc::unbounded_channel::<(String, String)>();
        let writer_store = store.clone();
        let writer = tokio::spawn(async move {
            while let Some((key, reply)) = rx.recv().await {
                if let Err(e) = writer_store.finish_callback(&key, &reply).await {
                    // The claim stands; a retry will get an empty 200 instead of the reply.
                    tracing::warn!(error = %e, "could not record a callback reply");
                }
            }
        });
        (
            Dedup {
                store,
                finished: tx,
            },
            writer,
        )
    }

    /// Claims `key` durably (the store has committed when this returns `New`).
    pub async fn claim(&self, key: &str, now: Timestamp) -> StoreResult<Claimed> {
        Ok(match self.store.claim_callback(key, now).await? {
            CallbackClaim::New => Claimed::New,
            CallbackClaim::Seen { reply: Some(r) } => Claimed::Done(StoredReply::decode(&r)),
            CallbackClaim::Seen { reply: None } => Claimed::InFlight,
        })
    }

    /// Records how `key` was answered: `Some` for a passive reply, `None` for an empty 200
    /// (the reply went out as a push).
    pub fn finish(&self, key: &str, reply: Option<&StoredReply>) {
        // Only fails when the writer is gone (shutdown): the retry then gets an empty 200.
        let _ = self
            .finished
            .send((key.to_string(), StoredReply::encode(reply)));
    }
}

/// Deletes dedup keys older than the retention, once an hour, until the app stops.
pub async fn purge_loop(store: Arc<dyn Store>, clock: Arc<dyn rallybot_handlers::clock::Clock>) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(3600));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        interval.tick().await;
        let before = clock.now() - Duration::hours(RETENTION_HOURS);
        match store.purge_callbacks(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "old callback dedup keys purged"),
            Err(e) => tracing::warn!(error = %e, "could not purge callback dedup keys"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stored_replies_round_trip_and_empty_means_no_reply() {
        let r = StoredReply {
            text: "你好 \"x\"".into(),
            mention: true,
        };
        assert_eq!(StoredReply::decode(&StoredReply::encode(Some(&r))), Some(r));
        assert_eq!(StoredReply::encode(None), "");
        assert_eq!(StoredReply::decode(""), None);
    }
}
