//! The outbox sender: drains queued pushes to WeCom within its rate limits, outside quiet hours,
//! retrying what can be retried and recording what cannot.

pub mod quiet;
pub mod window;
