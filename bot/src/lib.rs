//! The rallybot application. Where things are:
//! - `app`: the composition root, `App::build(settings)` + `run_until_stopped(shutdown)`;
//! - `http`: the router: WeCom callback endpoints (`http/callback`), `/healthz`, `/metrics`,
//!   `/admin/*`; and the server under it (`http/server`: connection cap and timeouts);
//! - `cards`: the conversation's cards as WeCom template cards, and the pushes that carry them;
//! - `background`: the scheduler and the push sender, started, supervised and stopped together;
//! - `config`: the `Settings` tree; `telemetry`: logging; `cli`: the `rallybot` subcommands;
//! - `devtools`: for trying and measuring, not serving: the WeCom simulator, the chat console,
//!   the load generator, the callback client, local sample settings.

pub mod app;
pub mod background;
pub mod cards;
pub mod cli;
pub mod config;
pub mod devtools;
pub mod export;
pub mod http;
pub mod telemetry;

pub use app::App;
pub use config::Settings;
