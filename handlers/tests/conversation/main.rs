//! Conversation tests: `Conversation::handle` against a `MemoryStore` and a fixed clock, one
//! module per feature.

// Helpers outside `#[test]` functions unwrap too: a failed unwrap is a failed test.
#![allow(clippy::unwrap_used)]

mod broadcast;
mod cards;
mod clear_errors;
mod entries;
mod fair_play;
mod frozen_results;
mod help;
mod links;
mod participation;
mod privacy_rule;
mod progress;
mod reading;
mod register;
mod results_export;
mod retries;
mod review_again;
mod stages;
mod standing;
mod store_failure;
mod support;
mod turn_report;
mod voting;
mod whole_lists;
