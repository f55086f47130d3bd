//! Writes made once per chat message (see `rallybot_handlers::store`): such a write first
//! claims its `(callback_key, kind)` row in `effects`, inside its own transaction, and settles
//! its outcome there before committing. A retry of the message finds the outcome and writes
//! nothing; a twin running at the same time waits on the claim (the insert waits for the first
//! transaction) and then finds it, or claims afresh if the first rolled back.
//! Gives do the same inside their backend's own statement. A row's time is the database's own
//! clock: effects expire with the callback replies on real time, whatever the campaign clock
//! (which a rehearsal moves) says.

use serde::de::DeserializeOwned;
use serde::Serialize;

use super::dialect::Conn;
use crate::failure::Attempt;

/// What claiming a write found.
pub(crate) enum Claim<T> {
    /// First time: write, then `settle`.
    New,
    /// Written before under this message: its outcome.
    Done(T),
}

pub(crate) async fn claim<T: DeserializeOwned>(
    conn: &mut Conn,
    callback_key: &str,
    kind: &str,
) -> Attempt<Claim<T>> {
    let claimed = sqlx::query(
        "INSERT INTO effects (callback_key, kind, outcome) VALUES ($1, $2, '') \
         ON CONFLICT (callback_key, kind) DO NOTHING",
    )
    .bind(callback_key)
    .bind(kind)
    .execute(&mut *conn)
    .await?;
    if claimed.rows_affected() == 1 {
        return Ok(Claim::New);
    }
    let outcome: String =
        sqlx::query_scalar("SELECT outcome FROM effects WHERE callback_key = $1 AND kind = $2")
            .bind(callback_key)
            .bind(kind)
            .fetch_one(&mut *conn)
            .await?;
    Ok(Claim::Done(serde_json::from_str(&outcome)?))
}

/// Records the outcome of a claimed write, in the same transaction.
pub(crate) async fn settle<T: Serialize>(
    conn: &mut Conn,
    callback_key: &str,
    kind: &str,
    outcome: &T,
) -> Attempt<()> {
    sqlx::query("UPDATE effects SET outcome = $3 WHERE callback_key = $1 AND kind = $2")
        .bind(callback_key)
        .bind(kind)
        .bind(serde_json::to_string(outcome)?)
        .execute(conn)
        .await?;
    Ok(())
}
