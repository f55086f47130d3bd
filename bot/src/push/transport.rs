//! How a push reaches WeCom, behind a trait so the sender's rules (limits, retries, quiet hours)
//! are tested apart from HTTP.

use rallybot_storage::PushRecord;

/// Why a delivery did not go through, sorted by what the sender should do about it.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum DeliveryError {
    /// Worth trying again later: network errors, HTTP 5xx, -1 (busy), 45033 (concurrency), a
    /// token WeCom still refuses after one refresh.
    #[error("temporary failure: {0}")]
    Temporary(String),
    /// WeCom says we send too fast (45009): back off this recipient for a window.
    #[error("rate limited: {0}")]
    RateLimited(String),
    /// Will never succeed as it is: 60020 (server IP not trusted), 93000 (robot removed),
    /// unknown member, refused content. The push is marked failed with this reason.
    #[error("permanent failure: {0}")]
    Permanent(String),
}

impl std::fmt::Display for DeliveryErrorKind {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            DeliveryErrorKind::Temporary => "temporary",
            DeliveryErrorKind::RateLimited => "rate_limited",
            DeliveryErrorKind::Permanent => "permanent",
        })
    }
}

/// The kind of a [`DeliveryError`], for metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DeliveryErrorKind {
    Temporary,
    RateLimited,
    Permanent,
}

impl DeliveryError {
    pub fn kind(&self) -> DeliveryErrorKind {
        match self {
            DeliveryError::Temporary(_) => DeliveryErrorKind::Temporary,
            DeliveryError::RateLimited(_) => DeliveryErrorKind::RateLimited,
            DeliveryError::Permanent(_) => DeliveryErrorKind::Permanent,
        }
    }

    pub fn reason(&self) -> &str {
        match self {
            DeliveryError::Temporary(r)
            | DeliveryError::RateLimited(r)
            | DeliveryError::Permanent(r) => r,
        }
    }
}

/// Sends one push. Implementations make one attempt (plus at most one token refresh); retries
/// are the sender's business, through the outbox, so a claimed push is never in flight longer
/// than one request timeout.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    async fn deliver(&self, push: &PushRecord) -> Result<(), DeliveryError>;
}
