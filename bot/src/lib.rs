//! The rallybot application: configuration, HTTP endpoints, scheduler and push sender.

pub mod push;
pub mod scheduler;
pub mod simulator;
