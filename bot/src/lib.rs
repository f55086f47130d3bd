//! The rallybot application: configuration, HTTP endpoints, scheduler and push sender.

pub mod app;
pub mod bench;
pub mod callback;
pub mod callback_client;
pub mod chat;
pub mod check;
pub mod cli;
pub mod config;
pub mod conversation;
pub mod http;
pub mod local;
pub mod push;
pub mod scheduler;
pub mod simulator;
pub mod telemetry;
pub mod wakeups;

pub use app::App;
pub use config::Settings;
