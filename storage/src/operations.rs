//! `Operations`: what only the bot's plumbing keeps in the database (callback replies, the
//! sender's side of the outbox, access tokens, leases, scheduler marks), and `Database`, the
//! whole of what a backend offers; the conversation sees only `rallybot_handlers::store::Store`.

use rallybot_handlers::store::{GroupRecord, PushTarget, Store, StoreResult, Timestamp};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushStatus {
    Pending,
    Sending,
    Sent,
    Failed,
}

impl PushStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            PushStatus::Pending => "pending",
            PushStatus::Sending => "sending",
            PushStatus::Sent => "sent",
            PushStatus::Failed => "failed",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PushRecord {
    pub id: i64,
    pub key: String,
    pub target: PushTarget,
    pub format: String,
    pub content: String,
    pub mentions: Vec<String>,
    pub status: PushStatus,
    pub attempts: u32,
    pub not_before: Timestamp,
    pub last_error: Option<String>,
    pub created_at: Timestamp,
    pub sent_at: Option<Timestamp>,
}

/// A cached access token shared by all instances.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRecord {
    pub token: String,
    pub expires_at: Timestamp,
}

/// The shared rehearsal clock: its offset from real time, the `clock.start` it was set from,
/// and the version of its last move.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RehearsalRecord {
    pub offset_ms: i64,
    pub origin: String,
    pub version: i64,
}

/// What the bot needs beyond the conversation's `Store`: the same rules hold (atomic inside the
/// database, time passed in, busy databases retried inside).
#[async_trait::async_trait]
pub trait Operations: Send + Sync + std::fmt::Debug {
    // callback replies (kept ≥ 24 h, across restarts)
    /// How each of `keys` was answered, in order, in one round trip; `None` for a key with no
    /// reply recorded (new, still running, or run by a process that died before answering).
    async fn callback_replies(&self, keys: &[String]) -> StoreResult<Vec<Option<String>>>;
    /// Records how callbacks were answered, at `now`; a key answered again keeps the last
    /// reply.
    async fn record_callback_replies(
        &self,
        answered: &[(String, String)],
        now: Timestamp,
    ) -> StoreResult<()>;
    /// Forgets the replies given and the once-per-message effects (see `Store`) recorded before
    /// `before`; returns how many replies.
    async fn purge_callbacks(&self, before: Timestamp) -> StoreResult<u64>;

    // groups
    /// Inserts or refreshes a group (by `chat_id`).
    async fn upsert_group(&self, group: &GroupRecord) -> StoreResult<()>;

    // outbox (enqueuing is the conversation's: `Store::enqueue_push`)
    /// Claims up to `limit` due pushes (pending with `not_before <= now`, or `sending` whose
    /// lease expired) for `lease_until`; safe with several instances (`FOR UPDATE SKIP LOCKED`
    /// or a single conditional UPDATE).
    async fn claim_pushes(
        &self,
        now: Timestamp,
        lease_until: Timestamp,
        limit: u32,
    ) -> StoreResult<Vec<PushRecord>>;
    async fn mark_push_sent(&self, id: i64, now: Timestamp) -> StoreResult<()>;
    /// Back to pending, due again at `retry_at`, with the error recorded and attempts + 1.
    async fn retry_push(&self, id: i64, retry_at: Timestamp, error: &str) -> StoreResult<()>;
    async fn fail_push(&self, id: i64, error: &str) -> StoreResult<()>;
    /// Back to pending, due again at `not_before`, without counting an attempt or touching
    /// `last_error`: the sender held it back (rate limit, quiet hours), nothing went wrong.
    async fn release_push(&self, id: i64, not_before: Timestamp) -> StoreResult<()>;
    /// Most recent first, optionally only one status.
    async fn pushes(&self, status: Option<PushStatus>, limit: u32) -> StoreResult<Vec<PushRecord>>;

    // the organizers' dashboard (aggregates it caches and refreshes in the background)
    /// Members per registration hour (UTC hours since the epoch), in hour order.
    async fn registrations_by_hour(&self) -> StoreResult<Vec<(i64, i64)>>;
    /// Entries per `(track, submission hour)`, whatever their status, in that order.
    async fn entries_by_hour(&self) -> StoreResult<Vec<(String, i64, i64)>>;
    /// The ledger's amounts per `(track, hour)` among the rows with an id in `(after, upto]`:
    /// a reader adds up what was added since it last looked instead of reading it all again.
    async fn ledger_by_hour(&self, after: i64, upto: i64) -> StoreResult<Vec<(String, i64, i64)>>;
    /// The highest ledger id (0 when the ledger is empty).
    async fn last_ledger_id(&self) -> StoreResult<i64>;
    /// How many pushes have each status (statuses no push has are left out).
    async fn push_counts(&self) -> StoreResult<Vec<(PushStatus, i64)>>;
    /// How many entries wait for review.
    async fn pending_entry_count(&self) -> StoreResult<i64>;

    // shared state between instances
    async fn load_token(&self, app: &str) -> StoreResult<Option<TokenRecord>>;
    async fn save_token(&self, app: &str, token: &TokenRecord) -> StoreResult<()>;
    /// Takes or renews the named lease for `holder` until `until`; false when another holder's
    /// lease is still valid at `now`. A dead holder's lease simply expires.
    async fn try_lease(
        &self,
        name: &str,
        holder: &str,
        now: Timestamp,
        until: Timestamp,
    ) -> StoreResult<bool>;
    /// Scheduler bookkeeping: the last occurrence of `job` that was enqueued.
    async fn job_mark(&self, job: &str) -> StoreResult<Option<Timestamp>>;
    async fn set_job_mark(&self, job: &str, at: Timestamp) -> StoreResult<()>;
    /// The shared rehearsal clock, once a rehearsing instance has set it.
    async fn rehearsal_clock(&self) -> StoreResult<Option<RehearsalRecord>>;
    /// Stores a move of the rehearsal clock; returns its version, one more than the last.
    async fn save_rehearsal_clock(&self, offset_ms: i64, origin: &str) -> StoreResult<i64>;

    /// Closes every pooled connection (SQLite checkpoints its WAL on the last close) and lets
    /// go of the serving lock, if this store holds one. Calls after it fail.
    async fn close(&self);
}

/// Everything a backend offers: what the bot holds, handing `Arc<dyn Store>` to the
/// conversation.
pub trait Database: Store + Operations {}

impl<T: Store + Operations + ?Sized> Database for T {}
