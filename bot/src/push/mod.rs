//! The outbox sender: drains queued pushes to WeCom within its rate limits, outside quiet hours,
//! retrying what can be retried and recording what cannot.

mod lease;
pub mod outbox;
pub mod quiet;
pub mod sender;
pub mod transport;
pub mod wecom;
pub mod window;

pub use outbox::{list_outbox, parse_status, print_outbox};
pub use quiet::QuietHours;
pub use sender::{Sender, SenderConfig, SenderError, TickReport, IMMEDIATE_PREFIXES, SENDER_LEASE};
pub use transport::{DeliveryError, Transport};
pub use wecom::{ClockSeconds, StoreTokens, WeComTransport};
