//! WAL checkpoints off the write path: copying the WAL back into the database (and syncing it)
//! runs on a connection of its own, a few times a second and whenever the write queue asks, so
//! no write waits behind it. The writer's own automatic checkpoint is only a backstop.

use std::time::Duration;

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

/// Longest time between two checkpoints: short enough that the WAL stays far below the
/// writer's own checkpoint threshold whatever is written.
const PERIOD: Duration = Duration::from_millis(250);

async fn run(pool: SqlitePool, mut woken: mpsc::Receiver<()>) {
    loop {
        tokio::select! {
            asked = woken.recv() => if asked.is_none() { break },
            () = tokio::time::sleep(PERIOD) => {}
        }
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
