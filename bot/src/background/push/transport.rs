//! How a push reaches WeCom: the `Transport` trait, so the sender's rules (limits, retries,
//! quiet hours) are tested apart from HTTP, and `WeComTransport`, the real one: pushes become
//! `message/send`, webhook or `response_url` calls, API errors become retry decisions, and
//! access tokens are kept in the database so every instance uses (and refreshes) the same one.
//!
//! An export push (format `export`, from an organizer's `导出`) is built here: the xlsx is
//! made (`crate::export`, recorded in the audit log under the push's key, so a retried
//! delivery is one export), uploaded with `media/upload` and sent as a file message to that
//! organizer. A file WeCom would refuse (over 20 MB, or a ledger past `WECOM_EXPORT_MAX_ROWS`,
//! which is stopped early instead of being built in vain) is replaced by a text saying how to
//! get it.

use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use rallybot_handlers::clock::Clock;
use rallybot_handlers::export::{ExportError, ExportRequest, EXPORT_PUSH_FORMAT};
use rallybot_handlers::store::PushTarget;
use rallybot_messages::client::media::FILE_MAX_BYTES;
use rallybot_messages::client::{
    AccessToken, ApiError, ClientConfig, ErrorKind, MediaType, TokenStore, TokenStoreError,
    UnixClock, WeComApi, WeComClient, Webhook,
};
use rallybot_storage::{Database, PushRecord, TokenRecord};

use crate::export::{ExportFailure, ExportJob, Exporter, Format};

/// Rows an export sent in WeCom may have. A ledger row takes about 45–60 bytes of xlsx
/// (BENCHMARKS.md), so this stays under WeCom's 20 MB for a file and builds in about 2–3 s;
/// bigger exports are for `rallybot export` (the size is checked again after building).
pub const WECOM_EXPORT_MAX_ROWS: u64 = 250_000;

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
    /// Builds export pushes; without it they fail.
    exports: Option<(Exporter, Arc<dyn Clock>)>,
}

impl std::fmt::Debug for WeComTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeComTransport")
    }
}

impl WeComTransport {
    pub fn new(api: Arc<dyn WeComApi>) -> Self {
        Self { api, exports: None }
    }

    /// Builds export pushes with `exporter`, titled with `clock`'s time.
    pub fn with_exports(mut self, exporter: Exporter, clock: Arc<dyn Clock>) -> Self {
        self.exports = Some((exporter, clock));
        self
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
        if push.format == EXPORT_PUSH_FORMAT {
            return self.deliver_export(push).await;
        }
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

impl WeComTransport {
    /// Builds the export an organizer asked for and sends it to them as a file.
    async fn deliver_export(&self, push: &PushRecord) -> Result<(), DeliveryError> {
        let PushTarget::User { userid } = &push.target else {
            return Err(DeliveryError::Permanent(
                "an export is sent to one person".to_string(),
            ));
        };
        let Some((exporter, clock)) = &self.exports else {
            return Err(DeliveryError::Permanent(
                "exports are not set up in this sender".to_string(),
            ));
        };
        let request: ExportRequest = serde_json::from_str(&push.content)
            .map_err(|e| DeliveryError::Permanent(format!("unreadable export request: {e}")))?;
        let mut job = ExportJob::new(request, Format::Xlsx, clock.now(), userid);
        job.audit_key = Some(push.key.clone());
        job.max_rows = Some(WECOM_EXPORT_MAX_ROWS);
        let mut file = Vec::new();
        let to = [userid.clone()];
        let exported = match exporter.write_to(&job, &mut file).await {
            Ok(exported) => exported,
            Err(ExportFailure::Export(ExportError::TooLarge { limit })) => {
                let text = too_large(&job, &format!("超过 {limit} 行"));
                return self.explain(&to, &text).await;
            }
            Err(failure) if failure.is_temporary() => {
                return Err(DeliveryError::Temporary(failure.to_string()));
            }
            Err(failure) => {
                tracing::warn!(error = %failure, export = job.request.kind.key(), "export failed");
                let text = format!(
                    "{}导出失败：{failure}。请联系系统管理员。",
                    job.request.kind.word()
                );
                return self.explain(&to, &text).await;
            }
        };
        if file.len() > FILE_MAX_BYTES {
            let text = too_large(&job, &format!("文件有 {:.1} MB", mb(file.len())));
            return self.explain(&to, &text).await;
        }
        let media_id = self
            .api
            .upload_media(MediaType::File, &exported.file_name, file)
            .await
            .map_err(|e| delivery_error(&e))?;
        self.api
            .send_app_file(&to, &media_id)
            .await
            .map(|_| ())
            .map_err(|e| delivery_error(&e))
    }

    /// Tells the organizer why no file comes.
    async fn explain(&self, to: &[String], text: &str) -> Result<(), DeliveryError> {
        self.api
            .send_app_text(to, text)
            .await
            .map(|_| ())
            .map_err(|e| delivery_error(&e))
    }
}

#[allow(clippy::cast_precision_loss)] // file sizes
fn mb(bytes: usize) -> f64 {
    bytes as f64 / (1024.0 * 1024.0)
}

/// The text sent instead of a file too big for WeCom.
fn too_large(job: &ExportJob, why: &str) -> String {
    let kind = job.request.kind;
    let per_track = if kind.takes_track() {
        format!(
            "可以按赛道分别导出（例如「导出 {} 赛道名」），或",
            kind.word()
        )
    } else {
        String::new()
    };
    format!(
        "{}{why}，超过企业微信文件消息 20 MB 的上限，无法在这里发送。{per_track}         请服务器管理员运行 rallybot export {} --format xlsx（或 csv）导出完整文件。",
        kind.word(),
        kind.key()
    )
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
