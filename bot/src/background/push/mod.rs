//! The push sender: drains queued pushes to WeCom within its rate limits (`window`), outside
//! quiet hours (`quiet`), retrying what can be retried and recording what cannot (`sender`),
//! one instance at a time (`lease`), through a `transport`.

mod config;
mod lease;
pub mod quiet;
pub mod sender;
pub mod transport;
pub mod window;

pub use config::SenderConfig;
pub use quiet::QuietHours;
pub use sender::{Sender, SenderError, TickReport, IMMEDIATE_PREFIXES, SENDER_LEASE};
pub use transport::{ClockSeconds, DeliveryError, StoreTokens, Transport, WeComTransport};
