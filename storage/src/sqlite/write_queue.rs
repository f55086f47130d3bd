//! Writes on SQLite, with group commit: concurrent gives, registrations and records (dialogue
//! states, audit rows) queue up for one task that applies all that are waiting in a single
//! write transaction, sent as one statement list: a burst of messages pays for one commit
//! (and one write of each touched page) and one hand-off to the writer's thread and back,
//! instead of a transaction and several round trips each.

use rallybot_handlers::store::{
    Give, GiveOutcome, MemberRecord, RegisterOutcome, StoreError, StoreResult,
};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Checkpointer;
use super::dialect::{day, stamp};
use crate::codec;
use crate::failure::{retrying, Attempt, Failure};
use crate::writes::Record;

/// Writes applied in one transaction at most, which bounds the wait one batch adds.
const MAX_BATCH: usize = 128;
/// Writes waiting at most; further callers wait to be queued.
const MAX_WAITING: usize = 4096;
/// Writes between two checkpoint requests (a write dirties a handful of pages).
const WRITES_PER_CHECKPOINT: usize = 500;

/// One queued write.
#[derive(Debug)]
enum Write {
    Give(Give),
    Register {
        member: MemberRecord,
        callback_key: String,
    },
    Record(Record),
}

/// What a write came to.
#[derive(Debug)]
enum Written {
    Give(GiveOutcome),
    Register(RegisterOutcome),
    Recorded,
}

struct Request {
    write: Write,
    reply: oneshot::Sender<StoreResult<Written>>,
}

#[derive(Debug, Clone)]
pub(super) struct WriteQueue {
    requests: mpsc::Sender<Request>,
}

impl WriteQueue {
    /// Starts the applying task on the current runtime; it ends when the last queue is dropped,
    /// and with it the checkpointer.
    pub(super) fn start(writer: SqlitePool, checkpointer: Option<Checkpointer>) -> Self {
        let (requests, waiting) = mpsc::channel(MAX_WAITING);
        tokio::spawn(apply_batches(writer, waiting, checkpointer));
        Self { requests }
    }

    pub(super) async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        match self.submit(Write::Give(give.clone())).await? {
            Written::Give(outcome) => Ok(outcome),
            other => Err(mismatched(&other)),
        }
    }

    pub(super) async fn register(
        &self,
        member: &MemberRecord,
        callback_key: &str,
    ) -> StoreResult<RegisterOutcome> {
        let write = Write::Register {
            member: member.clone(),
            callback_key: callback_key.to_owned(),
        };
        match self.submit(write).await? {
            Written::Register(outcome) => Ok(outcome),
            other => Err(mismatched(&other)),
        }
    }

    pub(super) async fn record(&self, record: Record) -> StoreResult<()> {
        match self.submit(Write::Record(record)).await? {
            Written::Recorded => Ok(()),
            other => Err(mismatched(&other)),
        }
    }

    async fn submit(&self, write: Write) -> StoreResult<Written> {
        let (reply, outcome) = oneshot::channel();
        if self.requests.send(Request { write, reply }).await.is_err() {
            return Err(stopped());
        }
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the database writer has stopped".to_owned())
}

fn mismatched(written: &Written) -> StoreError {
    StoreError::Backend(format!(
        "the database writer answered {written:?} out of turn"
    ))
}

async fn apply_batches(
    writer: SqlitePool,
    mut waiting: mpsc::Receiver<Request>,
    checkpointer: Option<Checkpointer>,
) {
    let mut batch = Vec::with_capacity(MAX_BATCH);
    let mut since_checkpoint = 0;
    while waiting.recv_many(&mut batch, MAX_BATCH).await > 0 {
        since_checkpoint += batch.len();
        if since_checkpoint >= WRITES_PER_CHECKPOINT {
            since_checkpoint = 0;
            if let Some(checkpointer) = &checkpointer {
                checkpointer.request();
            }
        }
        let writes: Vec<&Write> = batch.iter().map(|request| &request.write).collect();
        let outcomes =
            match retrying(|| apply(&writer, &writes)).await {
                Ok(outcomes) => outcomes,
                // One write that fails for good must not fail the others: apply them one by one.
                Err(_) if writes.len() > 1 => {
                    let mut outcomes = Vec::with_capacity(writes.len());
                    for write in &writes {
                        let alone = retrying(|| apply(&writer, std::slice::from_ref(write))).await;
                        outcomes.push(alone.and_then(|mut outcome| {
                            outcome.pop().unwrap_or_else(|| Err(stopped()))
                        }));
                    }
                    outcomes
                }
                Err(error) => vec![Err(error)],
            };
        for (request, outcome) in batch.drain(..).zip(outcomes) {
            // The caller may have gone away; its write stands all the same.
            let _ = request.reply.send(outcome);
        }
    }
}

/// The per-connection batch tables and their triggers (see the files for how a batch is
/// applied).
pub(super) const SETUP: &str = concat!(
    include_str!("give_batch.sql"),
    include_str!("write_batch.sql")
);
/// Removes the batch triggers (migrations run without them).
pub(super) const TEARDOWN: &str = "DROP TRIGGER IF EXISTS temp.give_batch_apply; \
     DROP TRIGGER IF EXISTS temp.write_batch_register; \
     DROP TRIGGER IF EXISTS temp.write_batch_save_dialogue; \
     DROP TRIGGER IF EXISTS temp.write_batch_clear_dialogue; \
     DROP TRIGGER IF EXISTS temp.write_batch_audit";

/// The whole transaction as one statement list, so a batch is one round trip to the writer's
/// thread: the gives into `give_batch` (`$1`), whose trigger applies each row as it is
/// inserted, in order; then the registrations and records into `write_batch` (`$2`), whose
/// triggers apply each by its kind; then each table's outcomes, as one JSON row each. A give
/// and another write in one batch come from different messages, which no order binds.
const APPLY_BATCH: &str = "BEGIN IMMEDIATE; \
     DELETE FROM give_batch; \
     INSERT INTO give_batch \
         (seq, member, day, track, scope, code, amount, day_limit, at, action, callback_key) \
     SELECT key, value ->> 'member', value ->> 'day', value ->> 'track', value ->> 'scope', \
            value ->> 'code', value ->> 'amount', value ->> 'limit', value ->> 'at', \
            value ->> 'action', value ->> 'callback_key' \
     FROM json_each($1) ORDER BY key; \
     DELETE FROM write_batch; \
     INSERT INTO write_batch (seq, kind, args) \
     SELECT key, value ->> 'kind', value -> 'args' FROM json_each($2) ORDER BY key; \
     SELECT json_group_array(json_array(status, used, score, granted, replayed)) \
     FROM (SELECT * FROM give_batch ORDER BY seq); \
     SELECT json_group_array(json_array(kind, outcome)) \
     FROM (SELECT * FROM write_batch ORDER BY seq); \
     COMMIT";

/// Writes with their place in the batch.
type Positioned<'a> = Vec<(usize, &'a Write)>;

/// Applies the writes in one transaction. A refused give or registration is an outcome, not a
/// failure.
async fn apply(writer: &SqlitePool, writes: &[&Write]) -> Attempt<Vec<StoreResult<Written>>> {
    let (gives, others): (Positioned, Positioned) = writes
        .iter()
        .copied()
        .enumerate()
        .partition(|(_, write)| matches!(write, Write::Give(_)));
    let give_rows: Vec<serde_json::Value> = gives.iter().filter_map(|(_, w)| give_row(w)).collect();
    let other_rows: Vec<serde_json::Value> =
        others.iter().filter_map(|(_, w)| other_row(w)).collect();
    let mut conn = writer.acquire().await?;
    let applied: Result<Vec<String>, sqlx::Error> = sqlx::query_scalar(APPLY_BATCH)
        .bind(serde_json::Value::Array(give_rows).to_string())
        .bind(serde_json::Value::Array(other_rows).to_string())
        .fetch_all(&mut *conn)
        .await;
    let applied = match applied {
        Ok(applied) => applied,
        Err(error) => {
            // The list stopped at the failing statement: undo what it began, if anything.
            let _ = sqlx::query("ROLLBACK").execute(&mut *conn).await;
            return Err(error.into());
        }
    };
    // Committed: from here on an error must not make the batch be applied again.
    let unread = || {
        writes
            .iter()
            .map(|_| {
                Err(StoreError::Backend(
                    "a write's outcome could not be read".to_owned(),
                ))
            })
            .collect()
    };
    let (Some(give_outcomes), Some(other_outcomes)) = (applied.first(), applied.get(1)) else {
        return Ok(unread());
    };
    let (Ok(give_outcomes), Ok(other_outcomes)) =
        (read_gives(give_outcomes), read_others(other_outcomes))
    else {
        return Ok(unread());
    };
    if give_outcomes.len() != gives.len() || other_outcomes.len() != others.len() {
        return Ok(unread());
    }
    let mut outcomes: Vec<Option<StoreResult<Written>>> = writes.iter().map(|_| None).collect();
    for ((at, _), outcome) in gives
        .iter()
        .chain(&others)
        .zip(give_outcomes.into_iter().chain(other_outcomes))
    {
        if let Some(slot) = outcomes.get_mut(*at) {
            *slot = Some(outcome);
        }
    }
    Ok(outcomes
        .into_iter()
        .map(|outcome| outcome.unwrap_or_else(|| Err(stopped())))
        .collect())
}

/// A give as a row of `give_batch`.
fn give_row(write: &Write) -> Option<serde_json::Value> {
    let Write::Give(give) = write else {
        return None;
    };
    let code = codec::normalize_code(&give.entry_code);
    let (scope, limit) = codec::usage_scope(give.limit, &code);
    Some(serde_json::json!({
        "member": give.member,
        "day": day(give.day),
        "track": give.track,
        "scope": scope,
        "code": code,
        "amount": give.amount,
        "limit": limit,
        "at": stamp(give.now),
        "action": give.action,
        "callback_key": give.callback_key,
    }))
}

/// The gives' outcomes, in order.
fn read_gives(outcomes: &str) -> Attempt<Vec<StoreResult<Written>>> {
    let applied: Vec<(Option<String>, i64, i64, i64, i64)> = serde_json::from_str(outcomes)?;
    Ok(applied
        .into_iter()
        .map(
            |(status, used, score, granted, replayed)| match status.as_deref() {
                None => Err(StoreError::NoSuchEntry),
                Some("approved") => Ok(Written::Give(GiveOutcome {
                    granted: codec::to_u32(granted),
                    used_today: codec::to_u32(used + granted),
                    // A retried give added nothing now: the score is as it stands.
                    entry_score: if replayed == 0 {
                        score + granted
                    } else {
                        score
                    },
                })),
                Some(_) => Err(StoreError::NotApproved),
            },
        )
        .collect())
}

/// The registrations' and records' outcomes, in order.
fn read_others(outcomes: &str) -> Attempt<Vec<StoreResult<Written>>> {
    let applied: Vec<(String, Option<String>)> = serde_json::from_str(outcomes)?;
    applied
        .into_iter()
        .map(
            |(kind, outcome)| match (kind.as_str(), outcome.as_deref()) {
                ("register", Some("Registered")) => {
                    Ok(Ok(Written::Register(RegisterOutcome::Registered)))
                }
                ("register", Some("Updated")) => {
                    Ok(Ok(Written::Register(RegisterOutcome::Updated)))
                }
                ("register", Some("taken")) => Ok(Err(StoreError::IdNumberTaken)),
                ("register", other) => Err(Failure::Corrupt(format!(
                    "registration applied as {other:?}"
                ))),
                _ => Ok(Ok(Written::Recorded)),
            },
        )
        .collect()
}

/// A registration or record as a row of `write_batch`: its kind and its values.
fn other_row(write: &Write) -> Option<serde_json::Value> {
    let (kind, args) = match write {
        Write::Register {
            member,
            callback_key,
        } => (
            "register",
            serde_json::json!({
                "userid": member.userid,
                "name": member.name,
                "id_hash": member.id_hash,
                "id_mask": member.id_mask,
                "phone_enc": member.phone_enc,
                "phone_mask": member.phone_mask,
                "union_code": member.union_code,
                "registered_at": stamp(member.registered_at),
                "callback_key": callback_key,
            }),
        ),
        Write::Record(Record::SaveDialogue(dialogue)) => (
            "save_dialogue",
            serde_json::json!({
                "chat": dialogue.chat,
                "user": dialogue.user,
                "state": dialogue.state,
                "updated_at": stamp(dialogue.updated_at),
                "callback_key": dialogue.callback_key,
                "reply": dialogue.reply,
            }),
        ),
        Write::Record(Record::ClearDialogue { chat, user }) => (
            "clear_dialogue",
            serde_json::json!({ "chat": chat, "user": user }),
        ),
        Write::Record(Record::Audit(event)) => (
            "audit",
            serde_json::json!({
                "at": stamp(event.at),
                "actor": event.actor,
                "action": event.action,
                "subject": event.subject,
                "detail": event.detail,
                "callback_key": event.callback_key,
            }),
        ),
        Write::Give(_) => return None,
    };
    Some(serde_json::json!({ "kind": kind, "args": args }))
}
