//! End-to-end tests of rallybot, one module per user-visible feature.

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod background_survives;
mod bad_input;
mod connections;
mod day_rollover;
mod dedup;
mod endpoints;
mod exports;
mod group_privacy;
mod health;
mod journey;
mod late_reply;
mod outbox_faults;
mod outbox_harness;
mod outbox_lease;
mod outbox_pacing;
mod outbox_quiet;
mod outbox_restart;
mod outbox_shutdown;
mod outbox_two_instances;
mod schedule_missed;
mod schedule_nudge_parts;
mod schedule_season;
mod simulator_wecom;
