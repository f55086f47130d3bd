//! Callback deduplication: WeCom resends a callback it saw no answer to (three attempts, about
//! 5 s apart), and the same message must never take effect twice (24 h, across restarts).
//!
//! Nothing is claimed before a command runs: a claim whose process died would leave the
//! retries unanswered and the command never run. Instead every write a command makes is made
//! once per callback key by the store (`rallybot_handlers::store`), so running a retry again is
//! safe, and how each callback was answered is recorded afterwards, off the request path, so a
//! retry of an answered callback gets the same answer (and is logged as the same command).
//! Within this process a retry of a callback still being answered gets an empty 200 (the
//! first attempt's answer is pushed if it comes too late), and one answered but not yet
//! recorded gets that answer.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::Duration;
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::command;
use rallybot_handlers::store::{StoreError, StoreResult};
use rallybot_storage::Database;
use serde::{Deserialize, Serialize};
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

use crate::background::supervise::{LoopStatus, StopSignal};

/// How long replies are kept (SPEC §2: at least 24 h).
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

/// The result of looking a callback up.
#[derive(Debug)]
pub enum Claimed {
    /// Not answered before (new, or a retry whose first attempt died unanswered): answer it,
    /// and record how through the guard.
    New(Answering),
    /// Answered before: answer as then (the reply again, or an empty 200 when it has none).
    Done(Finished),
    /// Being answered by this process right now: answer with an empty 200.
    InFlight,
}

/// A callback of this process that is being answered or whose answer is not recorded yet.
#[derive(Debug, Clone)]
enum Local {
    Answering,
    Answered(Finished),
}

/// Callbacks known to this process, by key.
type LocalMap = Arc<Mutex<HashMap<String, Local>>>;

fn lock(local: &LocalMap) -> MutexGuard<'_, HashMap<String, Local>> {
    // A poisoned lock only means a panic mid-update of plain values.
    local.lock().unwrap_or_else(|e| e.into_inner())
}

/// The most keys looked up or recorded in one round trip.
const MAX_BATCH: usize = 256;

struct Lookup {
    key: String,
    answer: oneshot::Sender<StoreResult<Option<String>>>,
}

impl std::fmt::Debug for Lookup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Lookup").finish_non_exhaustive()
    }
}

/// Looks callbacks up in the store and records their answers, in batches: while one batch is
/// read or written, the next one gathers, so the cost is one round trip per batch instead of
/// one per callback.
#[derive(Debug, Clone)]
pub struct Dedup {
    lookups: mpsc::Sender<Lookup>,
    answered: mpsc::UnboundedSender<(String, Finished)>,
    local: LocalMap,
}

impl Dedup {
    /// Starts the reader and the recorder; they end when every `Dedup` clone is dropped, the
    /// recorder after writing what was queued. The handle resolves when both are done.
    pub fn start(store: Arc<dyn Database>) -> (Dedup, JoinHandle<()>) {
        let (lookups, lookup_rx) = mpsc::channel::<Lookup>(4 * MAX_BATCH);
        let (answered, answered_rx) = mpsc::unbounded_channel::<(String, Finished)>();
        let local = LocalMap::default();
        let reader = tokio::spawn(look_up(store.clone(), lookup_rx));
        let recorder = tokio::spawn(record(store, answered_rx, local.clone()));
        let both = tokio::spawn(async move {
            let _ = reader.await;
            let _ = recorder.await;
        });
        let dedup = Dedup {
            lookups,
            answered,
            local,
        };
        (dedup, both)
    }

    /// Looks `key` up: in this process first, then in the store.
    pub async fn claim(&self, key: &str) -> StoreResult<Claimed> {
        {
            let mut local = lock(&self.local);
            match local.get(key) {
                Some(Local::Answering) => return Ok(Claimed::InFlight),
                Some(Local::Answered(finished)) => return Ok(Claimed::Done(finished.clone())),
                None => {
                    local.insert(key.to_owned(), Local::Answering);
                }
            }
        }
        // From here the guard forgets the key again unless an answer is recorded.
        let answering = Answering {
            key: key.to_owned(),
            dedup: self.clone(),
            finished: false,
        };
        let (answer, answered) = oneshot::channel();
        let lookup = Lookup {
            key: key.to_owned(),
            answer,
        };
        let gone = || StoreError::Backend("the callback reply reader has stopped".into());
        self.lookups.send(lookup).await.map_err(|_| gone())?;
        match answered.await.map_err(|_| gone())?? {
            Some(stored) => Ok(Claimed::Done(Finished::decode(&stored))),
            None => Ok(Claimed::New(answering)),
        }
    }

    fn forget(&self, key: &str) {
        let mut local = lock(&self.local);
        if matches!(local.get(key), Some(Local::Answering)) {
            local.remove(key);
        }
    }
}

/// A callback being answered. `finish` records the answer; dropped without it (the answer
/// failed), the callback is forgotten, so a retry is answered afresh.
#[derive(Debug)]
pub struct Answering {
    key: String,
    dedup: Dedup,
    finished: bool,
}

impl Answering {
    pub fn key(&self) -> &str {
        &self.key
    }

    /// Records how the callback was answered.
    pub fn finish(mut self, finished: Finished) {
        self.finished = true;
        lock(&self.dedup.local).insert(self.key.clone(), Local::Answered(finished.clone()));
        // Only fails when the recorder is gone (shutdown): a retry is then answered afresh.
        if self
            .dedup
            .answered
            .send((self.key.clone(), finished))
            .is_err()
        {
            lock(&self.dedup.local).remove(&self.key);
        }
    }
}

impl Drop for Answering {
    fn drop(&mut self) {
        if !self.finished {
            self.dedup.forget(&self.key);
        }
    }
}

async fn look_up(store: Arc<dyn Database>, mut lookups: mpsc::Receiver<Lookup>) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    while lookups.recv_many(&mut batch, MAX_BATCH).await > 0 {
        gather(&mut lookups, &mut batch).await;
        let keys: Vec<String> = batch.iter().map(|l| l.key.clone()).collect();
        match store.callback_replies(&keys).await {
            Ok(replies) if replies.len() == batch.len() => {
                for (lookup, reply) in batch.drain(..).zip(replies) {
                    let _ = lookup.answer.send(Ok(reply));
                }
            }
            Ok(replies) => {
                let message = format!(
                    "the store answered {} replies for {} keys",
                    replies.len(),
                    batch.len()
                );
                for lookup in batch.drain(..) {
                    let _ = lookup
                        .answer
                        .send(Err(StoreError::Backend(message.clone())));
                }
            }
            Err(e) => {
                let message = e.to_string();
                for lookup in batch.drain(..) {
                    let _ = lookup
                        .answer
                        .send(Err(StoreError::Backend(message.clone())));
                }
            }
        }
    }
}

/// Lets the requests that are ready to run queue their keys before a batch goes to the store:
/// one yield to the scheduler, then whatever arrived meanwhile. Without it a batch holds the
/// few keys that came while the last one was read, and every batch is a hand-off to the
/// database's thread and back; with it, one hand-off answers every request of the round.
async fn gather(lookups: &mut mpsc::Receiver<Lookup>, batch: &mut Vec<Lookup>) {
    if batch.len() >= MAX_BATCH {
        return;
    }
    tokio::task::yield_now().await;
    while batch.len() < MAX_BATCH {
        match lookups.try_recv() {
            Ok(lookup) => batch.push(lookup),
            Err(_) => break,
        }
    }
}

/// The most answers recorded in one round trip.
const MAX_RECORD_BATCH: usize = 1024;

/// How long the recorder lets answers gather after each write. Nothing waits for these writes
/// (WeCom retries after seconds, not milliseconds, and this process answers its own retries
/// meanwhile), so fewer, larger writes leave the database writer free for the votes that
/// callers do wait for.
const RECORD_GATHERING: std::time::Duration = std::time::Duration::from_millis(20);

async fn record(
    store: Arc<dyn Database>,
    mut answered: mpsc::UnboundedReceiver<(String, Finished)>,
    local: LocalMap,
) {
    let mut batch = Vec::with_capacity(MAX_RECORD_BATCH);
    while answered.recv_many(&mut batch, MAX_RECORD_BATCH).await > 0 {
        let rows: Vec<(String, String)> = batch
            .iter()
            .map(|(key, finished)| (key.clone(), finished.encode()))
            .collect();
        // The transport's real time: replies expire on it, whatever the campaign clock says.
        if let Err(e) = store
            .record_callback_replies(&rows, SystemClock.now())
            .await
        {
            // A retry is then answered afresh: its writes are made once all the same.
            tracing::warn!(error = %e, count = rows.len(), "could not record callback replies");
        }
        {
            let mut local = lock(&local);
            for (key, _) in batch.drain(..) {
                if matches!(local.get(&key), Some(Local::Answered(_))) {
                    local.remove(&key);
                }
            }
        }
        if !answered.is_closed() {
            tokio::time::sleep(RECORD_GATHERING).await;
        }
    }
}

/// Forgets replies (and the once-per-message effects) older than the retention, once an hour,
/// until stopped; each round is a beat of `status` (supervised with the background loops).
pub async fn purge_loop(
    store: Arc<dyn Database>,
    status: Arc<LoopStatus>,
    mut until_stopped: StopSignal,
) {
    let mut interval = tokio::time::interval(std::time::Duration::from_secs(3600));
    interval.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            _ = interval.tick() => {}
            () = &mut until_stopped => return,
        }
        // Retention is real time: replies are kept for WeCom's retries, whatever a rehearsal's
        // clock says.
        let before = SystemClock.now() - Duration::hours(RETENTION_HOURS);
        match store.purge_callbacks(before).await {
            Ok(0) => {}
            Ok(n) => tracing::info!(purged = n, "old callback replies purged"),
            Err(e) => tracing::warn!(error = %e, "could not purge callback replies"),
        }
        status.beat();
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

    fn voted() -> Finished {
        Finished {
            reply: Some(StoredReply {
                text: "已投 1 票".into(),
                mention: false,
            }),
            command: "投票",
        }
    }

    #[tokio::test]
    async fn a_callback_being_answered_is_in_flight_for_its_retries_in_this_process() {
        let (store, _dir) = store().await;
        let (dedup, _writers) = Dedup::start(store);
        let Claimed::New(answering) = dedup.claim("k").await.unwrap() else {
            panic!("a new key is new");
        };
        assert!(matches!(dedup.claim("k").await.unwrap(), Claimed::InFlight));
        answering.finish(voted());
        assert!(matches!(dedup.claim("k").await.unwrap(), Claimed::Done(f) if f == voted()));
    }

    #[tokio::test]
    async fn an_answer_that_failed_leaves_the_retry_to_be_answered_afresh() {
        let (store, _dir) = store().await;
        let (dedup, _writers) = Dedup::start(store);
        let Claimed::New(answering) = dedup.claim("k").await.unwrap() else {
            panic!("a new key is new");
        };
        drop(answering); // e.g. the conversation task panicked
        assert!(matches!(dedup.claim("k").await.unwrap(), Claimed::New(_)));
    }

    #[tokio::test]
    async fn recorded_answers_are_given_to_retries_after_a_restart() {
        let (store, _dir) = store().await;
        let (dedup, writers) = Dedup::start(store.clone());
        let pushed = Finished {
            reply: None,
            command: "其他",
        };
        for (key, finished) in [("a", voted()), ("b", pushed.clone())] {
            let Claimed::New(answering) = dedup.claim(key).await.unwrap() else {
                panic!("a new key is new");
            };
            answering.finish(finished);
        }
        // The process dies while answering `c`: nothing of it is recorded.
        assert!(matches!(dedup.claim("c").await.unwrap(), Claimed::New(_)));
        drop(dedup);
        writers.await.unwrap(); // everything queued is written before the writers end
        let (dedup, _writers) = Dedup::start(store);
        assert!(matches!(dedup.claim("a").await.unwrap(), Claimed::Done(f) if f == voted()));
        assert!(matches!(dedup.claim("b").await.unwrap(), Claimed::Done(f) if f == pushed));
        // Never answered: its retry runs again (its writes are made once by the store).
        assert!(matches!(dedup.claim("c").await.unwrap(), Claimed::New(_)));
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
