//! rallybot's logic without I/O: commands, campaign rules, scoring, quotas and replies, plus the
//! `Store` and `Clock` traits the rest of the bot implements.

pub mod campaign;
pub mod clock;
pub mod command;
pub mod conversation;
pub mod export;
pub mod fair_play;
pub mod identity;
pub mod link;
pub mod privacy;
pub mod quota;
pub mod results;
pub mod scoring;
pub mod store;
