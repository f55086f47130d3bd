//! Every end-to-end test of rallybot, in one binary: one module per user-visible feature, all
//! built from one harness (`harness`).

// Test helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod harness;

mod aibot_websocket;
mod background_survives;
mod bad_input;
mod chat_console;
mod connections;
mod crash_recovery;
mod dashboard;
mod dashboard_browser;
mod downtime;
mod export_files;
mod exports;
mod fair_play;
mod frozen_results;
mod group_mentions;
mod group_privacy;
mod health;
mod insecure_setups;
mod journey;
mod late_replies;
mod load_generator;
mod monitoring;
mod province_rehearsal;
mod push_delivery_faults;
mod quiet_hours;
mod quota_nudges;
mod rate_limits;
mod rehearsal_clock;
mod retries;
mod scheduled_pushes;
mod several_instances;
mod shutdown;
mod vote_cards;
mod voting;
mod wecom_setup;
mod wecom_simulator;
mod whole_lists;
