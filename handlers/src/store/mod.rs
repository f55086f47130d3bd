//! The `Store` trait: what the conversation logic keeps and reads; implemented on SQLite and
//! PostgreSQL in `storage`, and in memory here (`MemoryStore`, for tests that need no database).
//!
//! Rules for implementations:
//! - every call that enforces a limit does so atomically inside the database (a conditional
//!   upsert or one transaction), never count-then-insert;
//! - time is always passed in (`now`, `day`), never read from the system;
//! - unique-key violations become the domain errors below, not `StoreError::Backend`;
//! - a busy database is retried inside the store: "database is locked" never reaches a caller;
//! - every write a chat message causes carries the message's `callback_key` (its msgid, or the
//!   key of an event) and takes effect once per key: a retry of the message (WeCom resends one
//!   it saw no answer to; the bot runs the command again) gets the first outcome back instead
//!   of applying twice, also when both run at once on two instances.

mod flags;
mod memory;

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

pub use flags::{
    FlagDecided, FlagDecision, FlagRecord, FlagScope, FlagStatus, GiveFlag, GiveState, NewFlag,
    ReviewedBy, SignalKind, VoteRow,
};
pub use memory::MemoryStore;

use crate::link::Link;

pub type Timestamp = DateTime<Utc>;

/// Errors a store reports. Domain conflicts are variants; everything else is `Backend`.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("this ID number is already registered by another user")]
    IdNumberTaken,
    /// The same work (by `Link::key`) is entry `code` of the track already.
    #[error("this link was already entered in this track, as {code}")]
    DuplicateLink { code: String },
    #[error("no such entry")]
    NoSuchEntry,
    #[error("entry is not approved")]
    NotApproved,
    #[error("no such member")]
    NoSuchMember,
    #[error("storage backend: {0}")]
    Backend(String),
}

pub type StoreResult<T> = Result<T, StoreError>;

// ---------------------------------------------------------------- members

/// A member as stored: no plain ID number, phone encrypted.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberRecord {
    pub userid: String,
    pub name: String,
    /// Hex HMAC-SHA256 of the normalised ID number under `privacy.pepper`.
    pub id_hash: String,
    /// e.g. `230103********123X`.
    pub id_mask: String,
    /// AES-GCM ciphertext of the phone number (nonce included), base64.
    pub phone_enc: String,
    /// e.g. `138****1234`.
    pub phone_mask: String,
    pub union_code: String,
    pub registered_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum RegisterOutcome {
    /// A new member.
    Registered,
    /// The same userid registered again: name, phone and union were updated.
    Updated,
}

// ---------------------------------------------------------------- entries

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum EntrantKind {
    /// A person: the entrant id is a userid.
    Member,
    /// A union: the entrant id is a union code; entries are submitted by its officers.
    Unit,
}

impl EntrantKind {
    pub fn as_str(self) -> &'static str {
        match self {
            EntrantKind::Member => "member",
            EntrantKind::Unit => "unit",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReviewStatus {
    Pending,
    Approved,
    Rejected,
}

impl ReviewStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            ReviewStatus::Pending => "pending",
            ReviewStatus::Approved => "approved",
            ReviewStatus::Rejected => "rejected",
        }
    }
}

/// What a submission asks the store to create. The store allocates the code
/// (`code_prefix` + 4-digit sequence per track, e.g. `A0001`) atomically.
#[derive(Debug, Clone)]
pub struct NewEntry {
    pub track: String,
    pub code_prefix: String,
    pub entrant_kind: EntrantKind,
    /// userid for members, union code for units.
    pub entrant_id: String,
    pub submitter: String,
    /// The union the entry counts for in quotas (the member's union, or the unit itself).
    pub union_code: String,
    /// Shown as entered; unique per track by its key.
    pub link: Link,
    pub title: String,
    /// Entries of `points` tracks are created approved; everything else starts pending.
    pub status: ReviewStatus,
    pub now: Timestamp,
    /// The message that submitted it: submitting again under the same key returns this entry.
    pub callback_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct EntryRecord {
    /// Upper case, e.g. `A0017`.
    pub code: String,
    pub track: String,
    pub entrant_kind: EntrantKind,
    pub entrant_id: String,
    pub submitter: String,
    pub union_code: String,
    pub link: String,
    pub title: String,
    pub status: ReviewStatus,
    pub reason: Option<String>,
    pub reviewer: Option<String>,
    pub submitted_at: Timestamp,
    pub reviewed_at: Option<Timestamp>,
    /// Votes, likes, views or points received so far.
    pub score: i64,
    /// When the current score was reached (ties go to the earlier time); the approval
    /// time while the score is 0.
    pub score_reached_at: Option<Timestamp>,
}

#[derive(Debug, Clone)]
pub struct Review {
    pub code: String,
    pub approve: bool,
    pub reason: Option<String>,
    pub reviewer: String,
    pub now: Timestamp,
    /// The message that asked for it.
    pub callback_key: String,
}

/// A rejected entry submitted again with the same link (`Store::resubmit_entry`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resubmission {
    pub code: String,
    /// The link as now typed (its key is the entry's already).
    pub link: String,
    pub title: String,
    pub now: Timestamp,
    /// The message that asked for it.
    pub callback_key: String,
}

/// What a review did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reviewed {
    /// The entry after the review.
    pub entry: EntryRecord,
    /// Whether this review set the status (also when it is the retry of the message that
    /// did); `false` when the entry already had the status asked for.
    pub changed: bool,
}

// ---------------------------------------------------------------- scoring

/// The daily limit that applies to one give.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DailyLimit {
    /// At most N per (member, entry, day): `votes` and `views` tracks.
    PerWorkPerDay(u32),
    /// At most N per (member, track, day) across all entries: `likes` tracks.
    PerMemberPerDay(u32),
}

/// One vote / like / view request. The store grants `min(amount, what is left)`, and records
/// a counted give in the audit log in the same transaction (actor: the member, subject: the
/// entry, detail: `granted=N used_today=M`).
#[derive(Debug, Clone)]
pub struct Give {
    pub track: String,
    pub member: String,
    pub entry_code: String,
    pub amount: u32,
    pub limit: DailyLimit,
    /// The calendar day in the campaign's time zone.
    pub day: NaiveDate,
    pub now: Timestamp,
    /// The audit action of a counted give: `vote`, `like` or `view`.
    pub action: String,
    /// The message that gave; kept with the ledger row of a counted give.
    pub callback_key: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct GiveOutcome {
    /// How many were counted (0 when the limit was already reached).
    pub granted: u32,
    /// How many this member has used against the limit today, after this give.
    pub used_today: u32,
    /// The entry's score after this give.
    pub entry_score: i64,
}

/// A reading report for a `points` track; the member is the entry.
#[derive(Debug, Clone)]
pub struct Reading {
    pub track: String,
    pub code_prefix: String,
    pub member: String,
    pub union_code: String,
    pub minutes: u32,
    /// `(min_minutes, points)` ascending, e.g. `[(30,5),(60,8),(120,10)]`.
    pub bands: Vec<(u32, u32)>,
    pub day: NaiveDate,
    pub now: Timestamp,
    /// The message that reported the minutes.
    pub callback_key: String,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadingOutcome {
    pub entry_code: String,
    pub minutes_today: u32,
    pub points_today: u32,
    pub total_points: i64,
}

/// What one member used today in one track, per target entry (`entry_code` empty for
/// per-member limits).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UsageRow {
    pub track: String,
    pub entry_code: String,
    pub used: u32,
}

/// An entrant's best entry with its place (1-based, no shared places).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Ranked {
    pub place: u64,
    pub entry: EntryRecord,
}

/// One entrant's question to `standings`: where do they stand in `track`, and who holds the
/// nearest of `marks` ahead of them.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StandingAsk {
    pub track: String,
    pub kind: EntrantKind,
    /// userid for members, union code for units.
    pub entrant: String,
    /// Places worth reaching, e.g. the last place of each award zone (any order; 0 is none).
    pub marks: Vec<u32>,
}

/// The answer to one `StandingAsk`, ranked exactly as `rank_of` and `top` rank.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Standing {
    /// The entrant's best entry and its place; `None` without an approved entry.
    pub ranked: Option<Ranked>,
    /// The entry at the nearest mark ahead of the entrant: the greatest asked mark smaller than
    /// its place. `None` when the entrant is not ranked or no mark is ahead of it.
    pub ahead: Option<Ranked>,
}

// ---------------------------------------------------------------- quotas and audit

#[derive(Debug, Clone)]
pub struct NewReport {
    pub union_code: String,
    pub metric: String,
    pub amount: i64,
    pub note: String,
    pub reporter: String,
    pub now: Timestamp,
    /// The message that reported it.
    pub callback_key: String,
}

/// An append-only audit record. `actor` is a userid; `detail` never holds an ID number or a
/// phone number in clear (use the masks).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditEvent {
    pub at: Timestamp,
    pub actor: String,
    /// `register`, `submit`, `review`, `vote`, `like`, `view`, `read`, `report`, `broadcast`.
    pub action: String,
    pub subject: String,
    pub detail: String,
    /// The message that caused it; an event with the key and action of one already recorded
    /// is not recorded again. `None` for what no message caused.
    pub callback_key: Option<String>,
}

// ---------------------------------------------------------------- dialogues

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DialogueRecord {
    pub chat: String,
    pub user: String,
    /// The dialogue state, JSON; holds only hashes, masks and ciphertexts of personal data.
    pub state: String,
    pub updated_at: Timestamp,
    /// The message whose answer brought the dialogue to this state, and that answer: a retry of
    /// that message is answered the same instead of being read as the next answer.
    pub callback_key: String,
    pub reply: String,
}

// ---------------------------------------------------------------- groups and outbox

/// A group chat the bot can push to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GroupRecord {
    /// Chat id from a robot callback, or `config:<name>` for configured groups.
    pub chat_id: String,
    pub name: String,
    /// Full webhook URL (`…/cgi-bin/webhook/send?key=…`).
    pub webhook_url: String,
    pub union_code: Option<String>,
    pub learned_at: Timestamp,
}

/// Where a push goes.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum PushTarget {
    /// An app message to one member (`message/send`).
    User { userid: String },
    /// A group robot webhook.
    Webhook { url: String },
    /// A one-shot AI-bot `response_url`.
    ResponseUrl { url: String },
    /// A group (its chatid) or a person (their userid) through the AI bot's long connection
    /// (`aibot_send_msg`, markdown).
    Aibot { chat_id: String },
}

/// The scheme of a group's "webhook URL" when the group is reached through the AI bot's long
/// connection instead of a group robot: `aibot:<chatid>`.
pub const AIBOT_GROUP_SCHEME: &str = "aibot:";

/// The URL a group reached through the AI bot's long connection is stored with.
pub fn aibot_group_url(chat_id: &str) -> String {
    format!("{AIBOT_GROUP_SCHEME}{chat_id}")
}

impl PushTarget {
    /// Where a push to a stored group goes: its group robot webhook, or the AI bot's long
    /// connection for groups learned there.
    pub fn for_group(webhook_url: String) -> PushTarget {
        match webhook_url.strip_prefix(AIBOT_GROUP_SCHEME) {
            Some(chat_id) => PushTarget::Aibot {
                chat_id: chat_id.to_owned(),
            },
            None => PushTarget::Webhook { url: webhook_url },
        }
    }

    /// The key the sender's rate limits are kept under.
    pub fn rate_key(&self) -> String {
        match self {
            PushTarget::User { userid } => format!("user:{userid}"),
            PushTarget::Webhook { url } => format!("webhook:{url}"),
            PushTarget::ResponseUrl { url } => format!("response:{url}"),
            PushTarget::Aibot { chat_id } => format!("aibot:{chat_id}"),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewPush {
    /// `job/occurrence/recipient`, unique: enqueuing the same key twice is a no-op.
    pub key: String,
    pub target: PushTarget,
    /// `text` or `markdown`.
    pub format: String,
    pub content: String,
    /// Users to @-mention (webhook text only).
    pub mentions: Vec<String>,
    pub not_before: Timestamp,
    pub now: Timestamp,
}

// ---------------------------------------------------------------- exports

/// One counted give or reading as the ledger keeps it (append-only, for the organizers' exports
/// and complaints about a vote).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// Increasing; pages are read after the last id seen.
    pub id: i64,
    pub track: String,
    /// The member's userid (exports show a pseudonymous key instead).
    pub member: String,
    pub entry_code: String,
    pub amount: i64,
    pub at: Timestamp,
    /// The message that gave (its msgid, or the key of an event); `None` for rows written
    /// before messages were kept with them.
    pub callback_key: Option<String>,
    /// When the entry was rejected after this give was counted, and why: the give is kept,
    /// but the entry no longer ranks.
    pub withdrawn: Option<(Timestamp, String)>,
    /// The fair-play flag that holds this give, if any (see `GiveFlag::state`).
    pub flag: Option<GiveFlag>,
}

// ---------------------------------------------------------------- frozen results

/// One place of a frozen snapshot.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FrozenPlace {
    pub place: u64,
    pub code: String,
    pub score: i64,
    /// Gives held as 疑 (doubtful) by an open fair-play flag for this entry when it was
    /// frozen: not in `score`, shown apart.
    pub doubtful: i64,
    /// The award tier's name, empty outside the award zones.
    pub zone: String,
}

/// A snapshot to store: a track's standings when a voting stage ended, signed by `hash`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewSnapshot {
    /// The stage's key.
    pub stage: String,
    pub track: String,
    /// Ledger rows before this moment count (the stage's end).
    pub cutoff: Timestamp,
    pub frozen_at: Timestamp,
    /// How many ledger rows were counted, and the greatest id among those read.
    pub ledger_rows: i64,
    pub last_ledger_id: i64,
    /// SHA-256 (hex) chained over the counted ledger rows in id order, then the places.
    pub hash: String,
    pub places: Vec<FrozenPlace>,
    /// What the freeze pass read before working this snapshot out (`results::inputs_key`):
    /// stored with it, or on the latest version when that has the same hash.
    pub inputs: String,
}

/// What can change a track's frozen results, read without reading its ledger
/// (`Store::result_inputs`): a freeze pass that finds these as they were when the latest
/// snapshot was found current has nothing new to read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResultInputs {
    /// The track's ledger rows given before the cutoff. Rows are never deleted, so any new
    /// one raises this, whatever its id (ids are not handed out in commit order everywhere).
    pub ledger_rows: i64,
    /// The greatest id among them (0 when there is none).
    pub last_ledger_id: i64,
    /// The track's change count: raised by every write that changes what a snapshot reads
    /// besides new ledger rows — an entry's review status (with its gives' withdrawn marks),
    /// an entry created approved, a fair-play flag raised or decided.
    pub changes: i64,
}

/// A stored snapshot, without its places.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnapshotHead {
    /// The snapshot number, unique among all snapshots.
    pub id: i64,
    pub stage: String,
    pub track: String,
    /// 1 for the first freeze of the stage and track, then 2, 3… for late changes.
    pub version: i64,
    pub cutoff: Timestamp,
    pub frozen_at: Timestamp,
    pub ledger_rows: i64,
    pub last_ledger_id: i64,
    pub hash: String,
    /// The inputs as of the latest freeze pass that found this snapshot current (see
    /// `NewSnapshot::inputs`); not part of the snapshot, which never changes. `None` for one
    /// stored before they were kept.
    pub inputs: Option<String>,
}

/// The persistence the conversation needs. One implementation per backend in `storage` and one
/// in memory (`MemoryStore`), all three checked by one contract suite; logic tests run against
/// the one in memory. What only the bot's plumbing needs (callback dedup, delivery, leases,
/// tokens) is not here.
#[async_trait::async_trait]
pub trait Store: Send + Sync + std::fmt::Debug {
    // members
    /// Registers `member`, or updates name/phone/union when the same userid registers again
    /// with the same ID number. A different userid with the same `id_hash` → `IdNumberTaken`;
    /// the same userid with a different `id_hash` → `IdNumberTaken` as well (one person, one
    /// ID number). Once per `callback_key`: a retry gets the first outcome.
    async fn register_member(
        &self,
        member: &MemberRecord,
        callback_key: &str,
    ) -> StoreResult<RegisterOutcome>;
    async fn member(&self, userid: &str) -> StoreResult<Option<MemberRecord>>;
    /// The userid registered with this ID number hash, if any: registration refuses someone
    /// else's number when it is typed, not only at `确认`.
    async fn id_holder(&self, id_hash: &str) -> StoreResult<Option<String>>;
    /// Number of members per union code (direct membership only; roll-up is done by the caller).
    async fn registrations_by_union(&self) -> StoreResult<Vec<(String, i64)>>;

    // entries
    /// Creates an entry with the next code of its track. A link with the key of one already in
    /// the track → `DuplicateLink` naming that entry. Once per `callback_key`: a retry gets the
    /// entry the first created.
    async fn submit_entry(&self, entry: &NewEntry) -> StoreResult<EntryRecord>;
    /// Case-insensitive lookup by code.
    async fn entry(&self, code: &str) -> StoreResult<Option<EntryRecord>>;
    /// Oldest first.
    async fn pending_entries(&self, limit: u32) -> StoreResult<Vec<EntryRecord>>;
    /// Sets an entry's status; `changed` is false when it had that status already (unless
    /// this is the retry of the message that set it). `NoSuchEntry` for an unknown code.
    /// Rejecting an approved entry keeps its gives in the ledger, marked withdrawn (when, and
    /// the reason); approving it again clears the mark.
    async fn review_entry(&self, review: &Review) -> StoreResult<Reviewed>;
    /// Puts a rejected entry back to pending under its code, with the link and title given;
    /// `None` when it is not rejected (or does not exist). Once per `callback_key`.
    async fn resubmit_entry(&self, again: &Resubmission) -> StoreResult<Option<EntryRecord>>;
    /// Entries submitted by this user or entered by them, newest first.
    async fn entries_of(&self, submitter_or_entrant: &str) -> StoreResult<Vec<EntryRecord>>;
    /// Approved entries per union code of one track.
    async fn approved_entries_by_union(&self, track: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Every approved entry of a track, ranked or not, by code, read at one moment: gives
    /// arriving meanwhile may move the scores, never an entry in or out of the list.
    async fn approved_entries(&self, track: &str) -> StoreResult<Vec<EntryRecord>>;

    // scoring
    /// Counts votes/likes/views within the daily limit, atomically. The entry must be approved
    /// (`NotApproved`) and exist (`NoSuchEntry`). Once per `callback_key`: a retry gets the
    /// first outcome (with the entry's score as it is now).
    async fn give(&self, give: &Give) -> StoreResult<GiveOutcome>;
    /// Adds reading minutes for the day and re-scores the member's entry of a points track,
    /// creating that (approved) entry on first use. Once per `callback_key`.
    async fn add_reading(&self, reading: &Reading) -> StoreResult<ReadingOutcome>;
    /// What `member` used today, in every track.
    async fn usage(&self, member: &str, day: NaiveDate) -> StoreResult<Vec<UsageRow>>;
    /// Top `n` entrants of a track (each by its best approved entry).
    async fn top(&self, track: &str, n: u32) -> StoreResult<Vec<Ranked>>;
    /// The place of one entrant's best entry in a track (`standings` for one entrant).
    async fn rank_of(
        &self,
        track: &str,
        entrant_kind: EntrantKind,
        entrant_id: &str,
    ) -> StoreResult<Option<Ranked>> {
        let ask = StandingAsk {
            track: track.to_owned(),
            kind: entrant_kind,
            entrant: entrant_id.to_owned(),
            marks: Vec::new(),
        };
        Ok(self
            .standings(std::slice::from_ref(&ask))
            .await?
            .pop()
            .and_then(|standing| standing.ranked))
    }
    /// All ranked entrants of a track, in order (for exports).
    async fn ranking(&self, track: &str) -> StoreResult<Vec<Ranked>>;
    /// Where each asked entrant stands, and who holds the nearest asked mark ahead of it, in
    /// one round trip; one `Standing` per ask, in the order of `asks`.
    async fn standings(&self, asks: &[StandingAsk]) -> StoreResult<Vec<Standing>>;

    // quotas
    /// Once per `callback_key`.
    async fn add_report(&self, report: &NewReport) -> StoreResult<()>;
    /// Sum of reported amounts per union code for one metric.
    async fn reported_by_union(&self, metric: &str) -> StoreResult<Vec<(String, i64)>>;
    /// Participation (人次) per union code, direct only: the counted gives and readings of its
    /// members (gives to a withdrawn entry no longer count), its `上报` rows, its registrations.
    async fn participation_by_union(&self) -> StoreResult<Vec<(String, i64)>>;

    // audit
    async fn audit(&self, event: &AuditEvent) -> StoreResult<()>;
    /// Oldest first, at most `limit`, starting after row `after` (0 = from the start).
    async fn audit_log(&self, after: i64, limit: u32) -> StoreResult<Vec<(i64, AuditEvent)>>;

    // dialogues (multi-step registration, broadcast confirmation)
    async fn dialogue(&self, chat: &str, user: &str) -> StoreResult<Option<DialogueRecord>>;
    async fn save_dialogue(&self, dialogue: &DialogueRecord) -> StoreResult<()>;
    /// Forgets a dialogue (one that went silent for too long).
    async fn clear_dialogue(&self, chat: &str, user: &str) -> StoreResult<()>;

    // groups (the conversation only reads them)
    async fn groups(&self) -> StoreResult<Vec<GroupRecord>>;

    // exports (the organizers' files: results, winners, ledger)
    /// Members with these userids, in any order; unknown userids are left out.
    async fn members_by_userid(&self, userids: &[String]) -> StoreResult<Vec<MemberRecord>>;
    /// Ledger rows with an id above `after`, oldest first, at most `limit`, only of `track`
    /// when given: keyset pages, so an export never holds the whole ledger.
    async fn ledger_page(
        &self,
        after: i64,
        limit: u32,
        track: Option<&str>,
    ) -> StoreResult<Vec<LedgerRow>>;

    // frozen results
    /// Stores `snapshot` as the next version of its stage and track, unless the latest one has
    /// the same hash (nothing changed): `None` then, and the latest one's `inputs` become the
    /// snapshot's; `None` as well when another instance stored that version at the same
    /// moment. A snapshot's places, counts and hash never change once stored.
    async fn freeze_results(&self, snapshot: &NewSnapshot) -> StoreResult<Option<SnapshotHead>>;
    /// What can change the frozen results of `track` for a stage ending at `cutoff`, read
    /// without reading its ledger rows themselves.
    async fn result_inputs(&self, track: &str, cutoff: Timestamp) -> StoreResult<ResultInputs>;
    /// Stored snapshots, of one track or all, oldest first.
    async fn snapshots(&self, track: Option<&str>) -> StoreResult<Vec<SnapshotHead>>;
    /// The places of snapshot `id`, in order.
    async fn snapshot_places(&self, id: i64) -> StoreResult<Vec<FrozenPlace>>;
    /// The first `limit` places (or all) of snapshot `id` with their entries as they are now,
    /// but each with the place and score it was frozen with; places whose entry is gone are
    /// left out.
    async fn frozen_ranking(&self, id: i64, limit: Option<u32>) -> StoreResult<Vec<Ranked>>;

    // fair play
    /// Records a signal: the gives of `flag.scope` that no flag holds yet go to the open flag
    /// of its kind and subject (opened now when there is none, else its reason and evidence
    /// refreshed), and leave their entries' scores as 疑. `None` when no such give is left:
    /// nothing is written then.
    async fn raise_flag(&self, flag: &NewFlag) -> StoreResult<Option<FlagRecord>>;
    /// Flags with `status` (any when `None`), oldest first, at most `limit`.
    async fn flags(&self, status: Option<FlagStatus>, limit: u32) -> StoreResult<Vec<FlagRecord>>;
    async fn flag(&self, id: i64) -> StoreResult<Option<FlagRecord>>;
    /// Clears (`valid`: the gives count again) or voids (they stay out) an open flag; a flag
    /// decided before is left as it is (`changed` false). Once per `callback_key`. `None` for
    /// an unknown id.
    async fn decide_flag(&self, decision: &FlagDecision) -> StoreResult<Option<FlagDecided>>;
    /// The 疑 amount (gives held by open flags) per entry among `codes`, in code order;
    /// entries without any are left out.
    async fn doubtful(&self, codes: &[String]) -> StoreResult<Vec<(String, i64)>>;
    /// The gives of `track` after `after` in (time, id) order, at most `limit`: keyset pages
    /// for the periodic fair-play pass (start with `(since, 0)`).
    async fn vote_rows(
        &self,
        track: &str,
        after: (Timestamp, i64),
        limit: u32,
    ) -> StoreResult<Vec<VoteRow>>;

    // outbox (the conversation queues review results and broadcasts)
    /// Enqueues a push; returns false when a push with the same key already exists.
    async fn enqueue_push(&self, push: &NewPush) -> StoreResult<bool>;
}
