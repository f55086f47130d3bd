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

use crate::background::aibot_ws::{new_req_id, Link, SendError};
use crate::cards::{CardUpdate, CARD_PUSH_FORMAT, CARD_UPDATE_PUSH_FORMAT};
use crate::export::{ExportFailure, ExportJob, Exporter, Format};
use rallybot_messages::longconn::Frame;

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
    /// The AI bot's long connection, when `wecom.aibot.mode = "websocket"`: `PushTarget::Aibot`
    /// goes through it, and so do pushes to people when `users_via_aibot`.
    aibot: Option<Link>,
    /// No app secret in websocket mode: people are reached through the AI bot instead.
    users_via_aibot: bool,
    /// Builds export pushes; without it they fail.
    exports: Option<(Exporter, Arc<dyn Clock>)>,
    /// `WECOM_EXPORT_MAX_ROWS`, smaller in tests.
    export_max_rows: u64,
}

impl std::fmt::Debug for WeComTransport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("WeComTransport")
    }
}

impl WeComTransport {
    pub fn new(api: Arc<dyn WeComApi>) -> Self {
        Self {
            api,
            aibot: None,
            users_via_aibot: false,
            exports: None,
            export_max_rows: WECOM_EXPORT_MAX_ROWS,
        }
    }

    /// Sends `PushTarget::Aibot` pushes (and, with `users`, pushes to people) through the AI
    /// bot's long connection.
    pub fn with_aibot(mut self, link: Link, users: bool) -> Self {
        self.aibot = Some(link);
        self.users_via_aibot = users;
        self
    }

    /// `aibot_send_msg` of markdown to a chat or person, on the connection this instance holds.
    async fn send_aibot(&self, chat_id: &str, content: &str) -> Result<(), DeliveryError> {
        let frame = Frame::send_markdown(&new_req_id("aibot_send_msg"), chat_id, content);
        self.send_aibot_frame(frame).await
    }

    /// One `aibot_send_msg` frame on the connection this instance holds.
    async fn send_aibot_frame(&self, frame: Frame) -> Result<(), DeliveryError> {
        let Some(link) = &self.aibot else {
            return Err(DeliveryError::Permanent(
                "the AI bot's long connection is not configured (wecom.aibot.mode)".into(),
            ));
        };
        link.request(frame).await.map_err(|e| match e {
            SendError::Errcode(45009) => DeliveryError::RateLimited(e.to_string()),
            // Not the chat's fault: another instance or a redial will carry it.
            SendError::NotConnected | SendError::Closed | SendError::Timeout(_) => {
                DeliveryError::Temporary(e.to_string())
            }
            SendError::Errcode(-1 | 45033) => DeliveryError::Temporary(e.to_string()),
            SendError::Errcode(_) => DeliveryError::Permanent(e.to_string()),
        })
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
        if push.format == CARD_PUSH_FORMAT || push.format == CARD_UPDATE_PUSH_FORMAT {
            return self.deliver_card(push).await;
        }
        let markdown = push.format == "markdown";
        let result = match &push.target {
            PushTarget::User { userid } if self.users_via_aibot => {
                return self.send_aibot(userid, &push.content).await;
            }
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
            PushTarget::Aibot { chat_id } => return self.send_aibot(chat_id, &push.content).await,
        };
        result.map_err(|e| delivery_error(&e))
    }
}

impl WeComTransport {
    /// A template card to a person (`message/send`) or an AI-bot chat (`aibot_send_msg`), or
    /// the replacement of a clicked app card (`message/update_template_card`).
    async fn deliver_card(&self, push: &PushRecord) -> Result<(), DeliveryError> {
        let unreadable =
            |e: serde_json::Error| DeliveryError::Permanent(format!("unreadable card push: {e}"));
        if push.format == CARD_UPDATE_PUSH_FORMAT {
            let PushTarget::User { userid } = &push.target else {
                return Err(DeliveryError::Permanent(
                    "an app card is replaced for one person".to_string(),
                ));
            };
            let update = CardUpdate::from_content(&push.content).map_err(unreadable)?;
            return self
                .api
                .update_template_card(
                    std::slice::from_ref(userid),
                    &update.response_code,
                    &update.template_card,
                )
                .await
                .map_err(|e| delivery_error(&e));
        }
        let card: serde_json::Value = serde_json::from_str(&push.content).map_err(unreadable)?;
        let req_id = new_req_id("aibot_send_msg");
        match &push.target {
            PushTarget::User { userid } if self.users_via_aibot => {
                self.send_aibot_frame(Frame::send_card(&req_id, userid, &card))
                    .await
            }
            PushTarget::User { userid } => self
                .api
                .send_app_template_card(std::slice::from_ref(userid), &card)
                .await
                .map(|_| ())
                .map_err(|e| delivery_error(&e)),
            PushTarget::Aibot { chat_id } => {
                self.send_aibot_frame(Frame::send_card(&req_id, chat_id, &card))
                    .await
            }
            PushTarget::Webhook { .. } | PushTarget::ResponseUrl { .. } => Err(
                DeliveryError::Permanent("cards go to people and AI-bot chats only".to_string()),
            ),
        }
    }

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
        job.max_rows = Some(self.export_max_rows);
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
                    "{}没能导出，请联系系统管理员查看服务器日志（{failure}）。",
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

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use chrono::NaiveDate;
    use rallybot_handlers::clock::FixedClock;
    use rallybot_handlers::export::{ExportKind, ExportRequest};
    use rallybot_handlers::privacy::Privacy;
    use rallybot_handlers::store::Reading;
    use rallybot_messages::client::SendReceipt;
    use rallybot_storage::PushStatus;

    use super::*;

    /// Records what would have gone to WeCom.
    #[derive(Default)]
    struct FakeApi {
        texts: Mutex<Vec<(Vec<String>, String)>>,
        uploads: Mutex<Vec<(String, usize)>>,
        files: Mutex<Vec<(Vec<String>, String)>>,
    }

    #[async_trait::async_trait]
    impl WeComApi for FakeApi {
        async fn send_app_text(
            &self,
            to: &[String],
            content: &str,
        ) -> Result<SendReceipt, ApiError> {
            self.texts
                .lock()
                .unwrap()
                .push((to.to_vec(), content.to_string()));
            Ok(SendReceipt::default())
        }
        async fn send_app_markdown(&self, _: &[String], _: &str) -> Result<SendReceipt, ApiError> {
            unreachable!()
        }
        async fn send_appchat_text(&self, _: &str, _: &str) -> Result<(), ApiError> {
            unreachable!()
        }
        async fn send_appchat_markdown(&self, _: &str, _: &str) -> Result<(), ApiError> {
            unreachable!()
        }
        async fn send_webhook_text(
            &self,
            _: &Webhook,
            _: &str,
            _: &[String],
        ) -> Result<(), ApiError> {
            unreachable!()
        }
        async fn send_webhook_markdown(&self, _: &Webhook, _: &str) -> Result<(), ApiError> {
            unreachable!()
        }
        async fn respond_aibot(&self, _: &str, _: &str) -> Result<(), ApiError> {
            unreachable!()
        }
        async fn upload_media(
            &self,
            kind: MediaType,
            filename: &str,
            bytes: Vec<u8>,
        ) -> Result<String, ApiError> {
            assert_eq!(kind, MediaType::File);
            self.uploads
                .lock()
                .unwrap()
                .push((filename.to_string(), bytes.len()));
            Ok("media-1".to_string())
        }
        async fn send_app_file(
            &self,
            to: &[String],
            media_id: &str,
        ) -> Result<SendReceipt, ApiError> {
            self.files
                .lock()
                .unwrap()
                .push((to.to_vec(), media_id.to_string()));
            Ok(SendReceipt::default())
        }

        async fn send_app_template_card(
            &self,
            _: &[String],
            _: &serde_json::Value,
        ) -> Result<SendReceipt, ApiError> {
            unreachable!("exports send no cards")
        }

        async fn update_template_card(
            &self,
            _: &[String],
            _: &str,
            _: &serde_json::Value,
        ) -> Result<(), ApiError> {
            unreachable!("exports send no cards")
        }
    }

    fn push(request: &ExportRequest) -> PushRecord {
        let now = NaiveDate::from_ymd_opt(2022, 8, 10)
            .unwrap()
            .and_hms_opt(1, 0, 0)
            .unwrap()
            .and_utc();
        PushRecord {
            id: 1,
            key: "export/msg-1/org".to_string(),
            target: PushTarget::User {
                userid: "org".to_string(),
            },
            format: EXPORT_PUSH_FORMAT.to_string(),
            content: serde_json::to_string(request).unwrap(),
            mentions: Vec::new(),
            status: PushStatus::Sending,
            attempts: 0,
            not_before: now,
            last_error: None,
            created_at: now,
            sent_at: None,
        }
    }

    #[tokio::test]
    async fn an_export_is_uploaded_and_sent_as_a_file_or_explained_when_too_large() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("t.db").display());
        let store = rallybot_storage::open(&url).await.unwrap();
        // Three ledger rows: reading points on three days.
        for d in 1..=3 {
            let day = NaiveDate::from_ymd_opt(2022, 8, d).unwrap();
            store
                .add_reading(&Reading {
                    track: "reading".into(),
                    code_prefix: "R".into(),
                    member: "m1".into(),
                    union_code: "hrb".into(),
                    minutes: 30,
                    bands: vec![(30, 5)],
                    day,
                    now: day.and_hms_opt(2, 0, 0).unwrap().and_utc(),
                    callback_key: format!("msg-{d}"),
                })
                .await
                .unwrap();
        }
        let campaign =
            rallybot_handlers::campaign::load_campaign(&crate::devtools::local::bundled_campaign())
                .unwrap();
        let exporter = Exporter::new(
            Arc::new(campaign),
            store.clone(),
            Some(Arc::new(Privacy::for_development())),
        );
        let clock: Arc<dyn Clock> = Arc::new(FixedClock::new(
            NaiveDate::from_ymd_opt(2022, 8, 10)
                .unwrap()
                .and_hms_opt(1, 0, 0)
                .unwrap()
                .and_utc(),
        ));
        let api = Arc::new(FakeApi::default());
        let mut transport = WeComTransport::new(api.clone()).with_exports(exporter, clock.clone());
        let ledger = ExportRequest::new(ExportKind::Ledger);

        transport.deliver(&push(&ledger)).await.unwrap();
        let uploads = api.uploads.lock().unwrap().clone();
        assert_eq!(uploads.len(), 1);
        assert_eq!(uploads[0].0, "明细-20220810-0900.xlsx");
        assert_eq!(
            *api.files.lock().unwrap(),
            vec![(vec!["org".to_string()], "media-1".to_string())]
        );
        assert!(api.texts.lock().unwrap().is_empty());

        // Past the limit: no file is built in vain, the organizer is told where to get it.
        transport.export_max_rows = 2;
        transport.deliver(&push(&ledger)).await.unwrap();
        assert_eq!(api.uploads.lock().unwrap().len(), 1);
        let texts = api.texts.lock().unwrap().clone();
        assert_eq!(texts.len(), 1);
        assert_eq!(texts[0].0, vec!["org".to_string()]);
        assert!(texts[0].1.contains("20 MB"), "{}", texts[0].1);
        assert!(
            texts[0].1.contains("rallybot export ledger"),
            "{}",
            texts[0].1
        );
        assert!(texts[0].1.contains("导出 明细 赛道名"), "{}", texts[0].1);

        // An export that cannot be made says so instead of failing silently.
        let unknown = ExportRequest {
            kind: ExportKind::Results,
            track: Some("no-such-track".into()),
        };
        transport.deliver(&push(&unknown)).await.unwrap();
        assert!(api.texts.lock().unwrap()[1].1.contains("没能导出"));

        // Audited once under the push key, however often it was built.
        let audits: Vec<_> = store
            .audit_log(0, 100)
            .await
            .unwrap()
            .into_iter()
            .filter(|(_, e)| e.action == "export")
            .collect();
        assert_eq!(audits.len(), 1);
        assert_eq!(
            audits[0].1.callback_key.as_deref(),
            Some("export/msg-1/org")
        );
        store.close().await;
    }
}
