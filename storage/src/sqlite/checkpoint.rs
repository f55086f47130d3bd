//! WAL checkpoints off the write path: copying the WAL back into the database (and syncing it)
//! runs on a connection of its own when the give queue asks, so votes do not wait behind it.
//! The writer's own automatic checkpoint stays as a backstop for other writes.

use sqlx::SqlitePool;
use tokio::sync::mpsc;

#[derive(Debug)]
pub(super) struct Checkpointer {
    wake: mpsc::Sender<()>,
}

impl Checkpointer {
    /// Starts the checkpointing task on `pool` (one read-write connection); it ends, closing the
    /// pool, when the checkpointer is dropped.
    pub(super) fn start(pool: SqlitePool) -> Self {
        let (wake, woken) = mpsc::channel(1);
        tokio::spawn(run(pool, woken));
        Self { wake }
    }

    /// Asks for a checkpoint soon; asking again before it ran asks for nothing more.
    pub(super) fn request(&self) {
        let _ = self.wake.try_send(());
    }
}

async fn run(pool: SqlitePool, mut woken: mpsc::Receiver<()>) {
    while woken.recv().await.is_some() {
        // PASSIVE never waits for readers or the writer: what cannot be copied now is copied
        // next time.
        if let Err(error) = sqlx::query("PRAGMA wal_checkpoint(PASSIVE)")
            .execute(&pool)
            .await
        {
            tracing::warn!(%error, "WAL checkpoint failed");
        }
    }
    pool.close().await;
}
