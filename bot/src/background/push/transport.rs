//! How a push reaches WeCom: the `Transport` trait, so the sender's rules (limits, retries,
//! quiet hours) are tested apart from HTTP, and `WeComTransport`, the real one: pushes become
//! `message/send`, webhook or `response_url` calls, API errors become retry decisions, and
//! access tokens are kept in the database so every instance uses (and refreshes) the same one.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rallybot_handlers::clock::Clock;
use rallybot_handlers::store::PushTarget;
use rallybot_messages::client::{
    AccessToken, ApiError, ClientConfig, ErrorKind, TokenStore, TokenStoreError, UnixClock,
    WeComApi, WeComClient, Webhook,
};
use rallybot_storage::{Database, PushRecord, TokenRecord};

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

/// Sends one push. Implementations make one attempt (plus at most one token refresh); retries
/// are the sender's business, through the outbox, so a claimed push is never in flight longer
/// than one request timeout.
#[async_trait::async_trait]
pub trait Transport: Send + Sync + std::fmt::Debug {
    async fn deliver(&self, push: &PushRecord) -> Result<(), DeliveryError>;
}

/// Sends pushes through a [`WeComApi`] (the real client, or a fake in tests).
pub struct WeComTransport {
    api: Arc<dyn WeComApi>,
}

impl std::fmt::Debug for WeComTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeComTransport")
    }
}

impl WeComTransport {
    pub fn new(api: Arc<dyn WeComApi>) -> Self {
        Self { api }
    }

    /// The production wiring: a [`WeComClient`] whose access token lives in `store` (shared by
    /// every instance) and whose expiry follows `clock`.
    pub fn connect(
        config: ClientConfig,
        store: Arc<dyn Database>,
        clock: Arc<dyn Clock>,
    ) -> Result<Self, ApiError> {
        let client = WeComClient::with_parts(
            config,
            Arc::new(StoreTokens::new(store)),
            Arc::new(ClockSeconds(clock)),
        )?;
        Ok(Self::new(Arc::new(client)))
    }
}

#[async_trait::async_trait]
impl Transport for WeComTransport {
    async fn deliver(&self, push: &PushRecord) -> Result<(), DeliveryError> {
        let markdown = push.format == "markdown";
        let result = match &push.target {
            PushTarget::User { userid } => {
                let to = [userid.clone()];
                if markdown {
                    self.api.send_app_markdown(&to, &push.content).await
                } else {
                    self.api.send_app_text(&to, &push.content).await
                }
                .map(|_| ())
            }
            PushTarget::Webhook { url } => {
                let webhook = Webhook::Url(url.clone());
                if markdown {
                    self.api
                        .send_webhook_markdown(&webhook, &push.content)
                        .await
                } else {
                    self.api
                        .send_webhook_text(&webhook, &push.content, &push.mentions)
                        .await
                }
            }
            PushTarget::ResponseUrl { url } => self.api.respond_aibot(url, &push.content).await,
        };
        result.map_err(|e| delivery_error(&e))
    }
}

/// What the sender does about an API error.
pub fn delivery_error(error: &ApiError) -> DeliveryError {
    let reason = error.to_string();
    match error.kind() {
        ErrorKind::Retryable if error.errcode() == Some(45009) => {
            DeliveryError::RateLimited(reason)
        }
        ErrorKind::Retryable => DeliveryError::Temporary(reason),
        ErrorKind::Configuration => {
            // Logged loudly once per push: nothing will be delivered until an operator acts.
            tracing::error!(%reason, "WeCom configuration error (for 60020: add this server's IP to the app's 企业可信IP)");
            DeliveryError::Permanent(format!("configuration: {reason}"))
        }
        ErrorKind::InvalidWebhook | ErrorKind::InvalidRecipient | ErrorKind::Permanent => {
            DeliveryError::Permanent(reason)
        }
    }
}

/// Access tokens kept in the bot's database (`Operations::load_token` / `save_token`), shared by
/// every instance.
#[derive(Debug)]
pub struct StoreTokens {
    store: Arc<dyn Database>,
}

impl StoreTokens {
    pub fn new(store: Arc<dyn Database>) -> Self {
        Self { store }
    }
}

#[async_trait::async_trait]
impl TokenStore for StoreTokens {
    async fn load(&self, app: &str) -> Result<Option<AccessToken>, TokenStoreError> {
        let record = self
            .store
            .load_token(app)
            .await
            .map_err(|e| TokenStoreError(e.to_string()))?;
        Ok(record.map(|r| AccessToken {
            value: r.token,
            expires_at: r.expires_at.timestamp(),
        }))
    }

    async fn save(&self, app: &str, token: &AccessToken) -> Result<(), TokenStoreError> {
        let expires_at: DateTime<Utc> = Utc
            .timestamp_opt(token.expires_at, 0)
            .single()
            .ok_or_else(|| TokenStoreError(format!("bad expiry {}", token.expires_at)))?;
        self.store
            .save_token(
                app,
                &TokenRecord {
                    token: token.value.clone(),
                    expires_at,
                },
            )
            .await
            .map_err(|e| TokenStoreError(e.to_string()))
    }
}

/// The bot's [`Clock`] as the client's [`UnixClock`], so token expiry follows rehearsal and
/// test clocks.
#[derive(Debug)]
pub struct ClockSeconds(pub Arc<dyn Clock>);

impl UnixClock for ClockSeconds {
    fn now_unix(&self) -> i64 {
        self.0.now().timestamp()
    }
}
