//! The rallybot application: configuration, HTTP endpoints, scheduler and push sender.

pub mod callback;
pub mod config;
pub mod conversation;
pub mod http;
pub mod push;
pub mod scheduler;
pub mod simulator;
