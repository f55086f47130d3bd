//! Callback deduplication: WeCom retries a callback it thinks went unanswered, and the same
//! msgid must never take effect twice (24 h, across restarts). The claim is written to the
//! store before the command runs; the reply and the command's label are recorded afterwards, off
//! the request path, so a retry gets the same answer and is logged as the same command.

use std::sync::Arc;

use chrono::Duration;
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::command;
use rallybot_handlers::store::{StoreError, StoreResult};
use rallybot_storage::{CallbackClaim, Database};
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

/// How long dedup keys are kept (SPEC §2: at least 24 h).
pub const RETENTION_HOURS: i64 = 24;

/// A passive reply as it was sent, so a retry can be sent the same.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredReply {
    pub text: String,
    pub mention: bool,
}

/// What is remembered about a finished callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finished {
    /// The passive reply; `None` when the answer was an empty 200 (any reply went as a push).
    pub reply: Option<StoredReply>,
    /// The command label of the first attempt (`-` for records written without one).
    pub command: &'static str,
}

/// The stored form: JSON `{"text", "mention", "command"}`, `text` and `mention` only with a
/// reply; the empty string (written before labels were kept) is an empty 200 without a label.
/// A record without `text` reads as "no reply" for older versions too.
#[derive(Debug, Serialize, Deserialize)]
struct Record {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    text: Option<String>,
    #[serde(default)]
    mention: bool,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    command: Option<String>,
}

impl Finished {
    fn encode(&self) -> String {
        let record = Record {
            text: self.reply.as_ref().map(|r| r.text.clone()),
            mention: self.reply.as_ref().is_some_and(|r| r.mention),
            command: Some(self.command.to_owned()),
        };
        serde_json::to_string(&record).unwrap_or_default()
    }

    fn decode(stored: &str) -> Finished {
        let record: Option<Record> = serde_json::from_str(stored).ok();
        let Some(record) = record else {
            return Finished {
                reply: None,
                command: "-",
            };
        };
        Finished {
            reply: record.text.map(|text| StoredReply {
                text,
                mention: record.mention,
            }),
            // Back to the label's own static text; anything unknown is no command.
            command: record.command.as_deref().map_or("-", |word| {
                command::label(command::lookup(word).map(|spec| spec.kind))
            }),
        }
    }
}

/// The result of claiming a callback.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claimed {
    /// First time: run the command.
    New,
    /// Done before: answer as then (the reply again, or an empty 200 when it has none).
    Done(Finished),
    /// Claimed by an attempt that has not finished yet: answer with an empty 200.
    InFlight,
}

/// The most keys claimed or finished in one round trip.
const MAX_BATCH: usize = 256;

struct ClaimRequest {
    key: String,
    answer: oneshot::Sender<StoreResult<Claimed>>,
}

/// Claims callbacks in the store and records their replies, in batches: while one batch is
/// being written, the next one gathers (group commit), so the dedup write costs one round trip
/// per batch instead of one per callback. A claim is answered only after its batch committed.
#[derive(Debug, Clone)]
pub struct Dedup {
    claims: mpsc::Sender<ClaimRequest>,
    finished: mpsc::UnboundedSender<(String, String)>,
}

impl std::fmt::Debug for ClaimRequest {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClaimRequest").finish_non_exhaustive()
    }
}

impl Dedup {
    /// Starts the claim and reply writers; they end when every `Dedup` clone is dropped, after
    /// writing what was queued. The handle resolves when both are done.
    pub fn start(store: Arc<dyn Database>) -> (Dedup, JoinHandle<()>) {
        let (claims, claim_rx) = mpsc::channel::<ClaimRequest>(4 * MAX_BATCH);
        let (finished, finish_rx) = mpsc::unbounded_channel::<(String, String)>();
        let claimer = tokio::spawn(claim_writer(store.clone(), claim_rx));
        let finisher = tokio::spawn(finish_writer(store, finish_rx));
        let both = tokio::spawn(async move {
            let _ = claimer.await;
            let _ = finisher.await;
        });
        (Dedup { claims, finished }, both)
    }

    /// Claims `key` durably (the store has committed when this returns `New`).
    pub async fn claim(&self, key: &str) -> StoreResult<Claimed> {
        let (answer, answered) = oneshot::channel();
        let request = ClaimRequest {
            key: key.to_string(),
            answer,
        };
        let gone = || StoreError::Backend("the dedup writer has stopped".into());
        self.claims.send(request).await.map_err(|_| gone())?;
        answered.await.map_err(|_| gone())?
    }

    /// Records how `key` was answered.
    pub fn finish(&self, key: &str, finished: &Finished) {
        // Only fails when the writer is gone (shutdown): the retry then gets an empty 200.
        let _ = self.finished.send((key.to_string(), finished.encode()));
    }
}

async fn claim_writer(store: Arc<dyn Database>, mut requests: mpsc::Receiver<ClaimRequest>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while requests.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let keys: Vec<String> = batch.iter().map(|r| r.key.clone()).collect();
        // The transport's real time: dedup keys expire on it, whatever the campaign clock says.
        let result = store.claim_callbacks(&keys, SystemClock.now()).await;
        match result {
            Ok(claims) if claims.len() == batch.len() => {
                let mut seen = std::collections::HashSet::new();
                for (request, claim) in batch.drain(..).zip(claims) {
                    // A retry in the same batch as its original is the original's twin.
                    let claimed = if seen.insert(request.key.clone()) {
                        Claimed::from(claim)
                    } else {
                        Claimed::InFlight
                    };
                    let _ = request.answer.send(Ok(claimed));
                }
            }
            Ok(claims) => {
                let message = format!(
                    "the store answered {} claims for {} keys",
                    claims.len(),
                    batch.len()
                );
                for request in batch.drain(..) {
                    let _ = request
                        .answer
                        .send(Err(StoreError::Backend(message.clone())));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for request in batch.drain(..) {
                    let _ = request
                        .answer
                        .send(Err(StoreError::Backend(message.clone())));
                }
            }
        }
    }
}

/// The most replies recorded in one round trip.
const MAX_FINISH_BATCH: usize = 1024;

/// How long the reply writer lets replies gather after each write. Nothing waits for these
/// writes (WeCom retries after seconds, not milliseconds), so fewer, larger writes leave the
/// single database writer free for the claims and votes that callers do wait for.
const FINISH_GATHERING: std::time::Duration = std::time::Duration::from_millis(20);

async fn finish_writer(
    store: Arc<dyn Database>,
    mut done: mpsc::UnboundedReceiver<(String, String)>,
) {
    let mut batch = Vec::with_capacity(MAX_FINISH_BATCH);
    while done.recv_many(&mut batch, MAX_FINISH_BATCH).await > 0 {
        if let Err(e) = store.finish_callbacks(&batch).await {
            // The claims stand; their retries get an empty 200 instead of the reply.
            tracing::warn!(error = %e, count = batch.len(), "could not record callback replies");
        }
        batch.clear();
        if !done.is_closed() {
            tokio::time::sleep(FINISH_GATHERING).await;
        }
    }
}

impl From<CallbackClaim> for Claimed {
    fn from(claim: CallbackClaim) -> Self {
        match claim {
            CallbackClaim::New => Claimed::New,
            CallbackClaim::Seen { reply: Some(r) } => Claimed::Done(Finished::decode(&r)),
            CallbackClaim::Seen { reply: None } => Claimed::InFlight,
        }
    }
}

/// Deletes dedup keys older than the retention, once an hour, until the app stops.
pub async fn purge_loop(store: Arc<dyn Database>, clock: Arc<dyn Clock>) {
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

    async fn store() -> (Arc<dyn Database>, tempfile::TempDir) {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("dedup.db").display());
        (rallybot_storage::open(&url).await.unwrap(), dir)
    }

    #[tokio::test]
    async fn concurrent_claims_of_one_key_give_exactly_one_new() {
        let (store, _dir) = store().await;
        let (dedup, _writers) = Dedup::start(store);
        let mut tasks = Vec::new();
        for i in 0..300 {
            let dedup = dedup.clone();
            // 100 keys, each claimed three times at once.
            tasks.push(tokio::spawn(async move {
                (
                    i % 100,
                    dedup.claim(&format!("k{}", i % 100)).await.unwrap(),
                )
            }));
        }
        let mut new_per_key = [0u32; 100];
        for task in tasks {
            let (key, claimed) = task.await.unwrap();
            match claimed {
                Claimed::New => new_per_key[key] += 1,
                Claimed::InFlight => {}
                Claimed::Done(_) => panic!("nothing was finished yet"),
            }
        }
        assert!(new_per_key.iter().all(|n| *n == 1), "{new_per_key:?}");
    }

    #[tokio::test]
    async fn a_finished_reply_is_given_to_later_claims() {
        let (store, _dir) = store().await;
        let (dedup, writers) = Dedup::start(store.clone());
        assert_eq!(dedup.claim("a").await.unwrap(), Claimed::New);
        assert_eq!(dedup.claim("b").await.unwrap(), Claimed::New);
        let replied = Finished {
            reply: Some(StoredReply {
                text: "已投 1 票".into(),
                mention: false,
            }),
            command: "投票",
        };
        let pushed = Finished {
            reply: None,
            command: "其他",
        };
        dedup.finish("a", &replied);
        dedup.finish("b", &pushed);
        drop(dedup);
        writers.await.unwrap(); // everything queued is written before the writers end
        let (dedup, _writers) = Dedup::start(store);
        assert_eq!(dedup.claim("a").await.unwrap(), Claimed::Done(replied));
        assert_eq!(dedup.claim("b").await.unwrap(), Claimed::Done(pushed));
        assert_eq!(dedup.claim("c").await.unwrap(), Claimed::New);
    }

    #[test]
    fn stored_replies_round_trip_and_empty_means_no_reply() {
        let r = Finished {
            reply: Some(StoredReply {
                text: "你好 \"x\"".into(),
                mention: true,
            }),
            command: "排名",
        };
        assert_eq!(Finished::decode(&r.encode()), r);
        let none = Finished {
            reply: None,
            command: "其他",
        };
        assert_eq!(Finished::decode(&none.encode()), none);
        // Written before labels were kept.
        let unlabelled = |reply| Finished {
            reply,
            command: "-",
        };
        assert_eq!(Finished::decode(""), unlabelled(None));
        assert_eq!(
            Finished::decode(r#"{"text":"好","mention":false}"#),
            unlabelled(Some(StoredReply {
                text: "好".into(),
                mention: false
            }))
        );
    }
}
