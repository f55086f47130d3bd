//! The rehearsal clock shared by every instance on one database: where it starts
//! (`clock.start`), each move published (`/admin/clock`) and followed by the other instances
//! before each scheduler tick.
//!
//! A move is stored as the clock's offset from real time with a version one higher than the
//! last; an instance adopts a version it has not applied yet, unless it moved its own clock
//! since it read that version (`move_here`): what it read is then older than its own move, and
//! adopting it would set the clock back. Moves made in-process without publishing (the console
//! and tests set the clock directly) stay local until the next published move.

use std::sync::atomic::{AtomicI64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

use chrono::{DateTime, Duration, Utc};
use rallybot_handlers::campaign::{parse_instant, Campaign};
use rallybot_handlers::clock::{Clock, OutOfRange, RehearsalClock, SystemClock};
use rallybot_handlers::store::StoreError;
use rallybot_storage::Database;

/// A rehearsal clock and the database it is shared through.
#[derive(Debug)]
pub struct SharedRehearsal {
    clock: Arc<RehearsalClock>,
    store: Arc<dyn Database>,
    /// `clock.start` as configured: stored beside the offset, so that a changed start restarts
    /// the rehearsal while an unchanged one carries on.
    origin: String,
    /// The version of the last move this instance applied or made.
    applied: AtomicI64,
    /// Moves made here (`move_here`); held while one is made, and while `follow` decides.
    local_moves: Mutex<u64>,
}

#[derive(Debug, thiserror::Error)]
pub enum RehearsalError {
    #[error("clock.start {start:?}: {reason}")]
    Start { start: String, reason: String },
    #[error("the shared rehearsal clock: {0}")]
    Store(#[from] StoreError),
}

/// The moment `clock.start` names: empty or `campaign` = the start of the campaign's first
/// stage, `now` = real time, else a time as campaign files write it.
pub fn start_time(start: &str, campaign: &Campaign) -> Result<DateTime<Utc>, RehearsalError> {
    let refuse = |reason: String| RehearsalError::Start {
        start: start.to_owned(),
        reason,
    };
    match start.trim() {
        "" | "campaign" => campaign
            .stages
            .iter()
            .map(|s| s.starts)
            .min()
            .ok_or_else(|| refuse("the campaign has no stages; give a time instead".into())),
        "now" => Ok(SystemClock.now()),
        other => parse_instant(other, campaign.timezone).map_err(refuse),
    }
}

impl SharedRehearsal {
    /// Joins the rehearsal stored in the database if it was started from the same
    /// `clock.start`; otherwise starts it there and publishes that.
    pub async fn join(
        clock: Arc<RehearsalClock>,
        store: Arc<dyn Database>,
        start: &str,
        campaign: &Campaign,
    ) -> Result<Self, RehearsalError> {
        let shared = Self {
            clock,
            store,
            origin: start.trim().to_owned(),
            applied: AtomicI64::new(0),
            local_moves: Mutex::new(0),
        };
        if let Some(stored) = shared.store.rehearsal_clock().await? {
            if stored.origin == shared.origin
                && shared
                    .clock
                    .set_offset(Duration::milliseconds(stored.offset_ms))
                    .is_ok()
            {
                shared.applied.store(stored.version, Ordering::SeqCst);
                tracing::info!(now = %shared.clock.now(), "joined the shared rehearsal clock");
                return Ok(shared);
            }
        }
        let at = start_time(start, campaign)?;
        shared.clock.set(at).map_err(|e| RehearsalError::Start {
            start: start.to_owned(),
            reason: e.to_string(),
        })?;
        shared.publish().await?;
        tracing::info!(now = %at, "rehearsal clock started");
        Ok(shared)
    }

    pub fn clock(&self) -> Arc<RehearsalClock> {
        self.clock.clone()
    }

    /// Stores the clock's current offset as a new move, for the other instances.
    pub async fn publish(&self) -> Result<(), StoreError> {
        let offset = self.clock.offset().num_milliseconds();
        let version = self
            .store
            .save_rehearsal_clock(offset, &self.origin)
            .await?;
        self.applied.store(version, Ordering::SeqCst);
        Ok(())
    }

    /// Moves this instance's clock with `change` (then `publish` it). A `follow` that read the
    /// shared clock before this move adopts nothing it read.
    pub fn move_here(
        &self,
        change: impl FnOnce(&RehearsalClock) -> Result<DateTime<Utc>, OutOfRange>,
    ) -> Result<DateTime<Utc>, OutOfRange> {
        let mut moves = self.lock_moves();
        let moved = change(&self.clock)?;
        *moves += 1;
        Ok(moved)
    }

    fn lock_moves(&self) -> MutexGuard<'_, u64> {
        // A poisoned lock only means a panic while a plain counter was held.
        self.local_moves.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adopts a move another instance published since; true when the clock moved.
    pub async fn follow(&self) -> Result<bool, StoreError> {
        let moves_before = *self.lock_moves();
        let Some(stored) = self.store.rehearsal_clock().await? else {
            return Ok(false);
        };
        let moves = self.lock_moves();
        // A move made here while reading is newer than what was read, whatever its version
        // (the move's own may not be stored yet).
        if *moves != moves_before {
            return Ok(false);
        }
        // Versions only grow: one read before this instance published a move of its own is
        // older than that move, and adopting it would set the clock back.
        if stored.version <= self.applied.load(Ordering::SeqCst) {
            return Ok(false);
        }
        self.applied.store(stored.version, Ordering::SeqCst);
        match self
            .clock
            .set_offset(Duration::milliseconds(stored.offset_ms))
        {
            Ok(now) => {
                tracing::info!(now = %now, "rehearsal clock moved by another instance");
                Ok(true)
            }
            Err(error) => {
                tracing::warn!(%error, "a stored rehearsal clock move is out of range; ignored");
                Ok(false)
            }
        }
    }
}
