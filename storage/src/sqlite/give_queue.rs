//! Gives on SQLite, with group commit: concurrent gives queue up for one task that applies all
//! that are waiting in a single write transaction and a handful of statements, so a burst of
//! votes pays for one commit (and one write of each touched page) instead of one per vote.

use rallybot_handlers::store::{Give, GiveOutcome, StoreError, StoreResult};
use sqlx::SqlitePool;
use tokio::sync::{mpsc, oneshot};

use super::checkpoint::Checkpointer;
use super::dialect::{begin_write, day, stamp};
use crate::codec;
use crate::failure::{retrying, Attempt, Failure};

/// Gives applied in one transaction at most, which bounds the wait one batch adds.
const MAX_BATCH: usize = 128;
/// Gives waiting at most; further callers wait to be queued.
const MAX_WAITING: usize = 4096;
/// Gives between two checkpoint requests (a give dirties a handful of pages).
const GIVES_PER_CHECKPOINT: usize = 500;

struct Request {
    give: Give,
    reply: oneshot::Sender<StoreResult<GiveOutcome>>,
}

#[derive(Debug, Clone)]
pub(super) struct GiveQueue {
    requests: mpsc::Sender<Request>,
}

impl GiveQueue {
    /// Starts the applying task on the current runtime; it ends when the last queue is dropped,
    /// and with it the checkpointer.
    pub(super) fn start(writer: SqlitePool, checkpointer: Option<Checkpointer>) -> Self {
        let (requests, waiting) = mpsc::channel(MAX_WAITING);
        tokio::spawn(apply_batches(writer, waiting, checkpointer));
        Self { requests }
    }

    pub(super) async fn give(&self, give: &Give) -> StoreResult<GiveOutcome> {
        let (reply, outcome) = oneshot::channel();
        let request = Request {
            give: give.clone(),
            reply,
        };
        if self.requests.send(request).await.is_err() {
            return Err(stopped());
        }
        outcome.await.unwrap_or_else(|_| Err(stopped()))
    }
}

fn stopped() -> StoreError {
    StoreError::Backend("the vote writer has stopped".to_owned())
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
        if since_checkpoint >= GIVES_PER_CHECKPOINT {
            since_checkpoint = 0;
            if let Some(checkpointer) = &checkpointer {
                checkpointer.request();
            }
        }
        let gives: Vec<&Give> = batch.iter().map(|request| &request.give).collect();
        let outcomes =
            match retrying(|| apply(&writer, &gives)).await {
                Ok(outcomes) => outcomes,
                // One give that fails for good must not fail the others: apply them one by one.
                Err(_) if gives.len() > 1 => {
                    let mut outcomes = Vec::with_capacity(gives.len());
                    for give in &gives {
                        let alone = retrying(|| apply(&writer, std::slice::from_ref(give))).await;
                        outcomes.push(alone.and_then(|mut outcome| {
                            outcome.pop().unwrap_or_else(|| Err(stopped()))
                        }));
                    }
                    outcomes
                }
                Err(error) => vec![Err(error)],
            };
        for (request, outcome) in batch.drain(..).zip(outcomes) {
            // The caller may have gone away; its give counted all the same.
            let _ = request.reply.send(outcome);
        }
    }
}

/// The per-connection batch table and its trigger (see the file for how a batch is applied).
pub(super) const SETUP: &str = include_str!("give_batch.sql");
/// Removes the batch trigger (migrations run without it).
pub(super) const TEARDOWN: &str = "DROP TRIGGER IF EXISTS temp.give_batch_apply";

/// Applies the gives in order in one transaction; a refused give is an outcome, not a failure.
async fn apply(writer: &SqlitePool, gives: &[&Give]) -> Attempt<Vec<StoreResult<GiveOutcome>>> {
    let batch: Vec<serde_json::Value> = gives
        .iter()
        .map(|give| {
            let code = codec::normalize_code(&give.entry_code);
            let (scope, limit) = codec::usage_scope(give.limit, &code);
            serde_json::json!({
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
            })
        })
        .collect();
    let mut tx = begin_write(writer).await?;
    // One round trip: empty the table, hand over the whole batch (the trigger applies it row by
    // row, in order) and read all outcomes back as one JSON row. `fetch_all` runs every
    // statement of the list.
    let outcomes: Vec<String> = sqlx::query_scalar(
        "DELETE FROM give_batch; \
         INSERT INTO give_batch \
             (seq, member, day, track, scope, code, amount, day_limit, at, action, \
              callback_key) \
         SELECT key, value ->> 'member', value ->> 'day', value ->> 'track', \
                value ->> 'scope', value ->> 'code', value ->> 'amount', value ->> 'limit', \
                value ->> 'at', value ->> 'action', value ->> 'callback_key' \
         FROM json_each($1) ORDER BY key; \
         SELECT json_group_array(json_array(status, used, score, granted, replayed)) \
         FROM (SELECT * FROM give_batch ORDER BY seq)",
    )
    .bind(serde_json::Value::Array(batch).to_string())
    .fetch_all(&mut *tx)
    .await?;
    // Checked before committing: a batch that failed after its commit would be applied twice.
    let outcomes = outcomes.first().map_or("[]", String::as_str);
    let applied: Vec<(Option<String>, i64, i64, i64, i64)> = serde_json::from_str(outcomes)?;
    if applied.len() != gives.len() {
        return Err(Failure::Corrupt(format!(
            "{} gives applied for {} asked",
            applied.len(),
            gives.len()
        )));
    }
    tx.commit().await?;
    Ok(applied
        .into_iter()
        .map(
            |(status, used, score, granted, replayed)| match status.as_deref() {
                None => Err(StoreError::NoSuchEntry),
                Some("approved") => Ok(GiveOutcome {
                    granted: codec::to_u32(granted),
                    used_today: codec::to_u32(used + granted),
                    // A retried give added nothing now: the score is as it stands.
                    entry_score: if replayed == 0 {
                        score + granted
                    } else {
                        score
                    },
                }),
                Some(_) => Err(StoreError::NotApproved),
            },
        )
        .collect())
}
