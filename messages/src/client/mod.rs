//! Outbound WeCom API: access tokens, app messages (text, markdown, files, template cards and
//! their updates), temporary media
//! uploads, app group chats, group-robot webhooks and AI-bot `response_url` answers, behind the
//! [`WeComApi`] trait so the bot can fake it.
//!
//! Token handling: a cached token is used until shortly before it expires; on `40014`/`42001`
//! the token is refreshed once and the call retried once. Busy and rate-limit codes come back as
//! [`ErrorKind::Retryable`]: the caller waits ([`Backoff`]) and tries again; nothing here sleeps.

mod backoff;
mod error;
pub mod media;
mod token;

pub use backoff::Backoff;
pub use error::{ApiError, ErrorKind};
pub use media::MediaType;
pub use token::{
    AccessToken, MemoryTokenStore, SystemUnixClock, TokenStore, TokenStoreError, UnixClock,
    REFRESH_MARGIN_SECS,
};

use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use serde::Deserialize;
use serde_json::{json, Value};

use crate::text::{
    fit_bytes, AIBOT_CONTENT_LIMIT, APP_MARKDOWN_LIMIT, APP_TEXT_LIMIT, WEBHOOK_MARKDOWN_LIMIT,
    WEBHOOK_TEXT_LIMIT,
};
use token::TokenCache;

/// Where a webhook message goes: a configured key, or the full `WebhookUrl` of a robot callback.
#[derive(Clone, PartialEq, Eq)]
pub enum Webhook {
    /// `…/cgi-bin/webhook/send?key=KEY` on the client's base URL.
    Key(String),
    /// A complete URL, used as given.
    Url(String),
}

impl std::fmt::Debug for Webhook {
    // Anyone holding the key can post into the group: keep it out of logs.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Webhook::Key(_) => f.write_str("Webhook::Key(…)"),
            Webhook::Url(_) => f.write_str("Webhook::Url(…)"),
        }
    }
}

/// What WeCom returned for an accepted app message.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SendReceipt {
    /// For recalling the message.
    pub msg_id: Option<String>,
}

/// The outbound calls the bot makes. Content longer than the surface's byte limit is shortened
/// with [`crate::text::fit_bytes`]; split beforehand to deliver everything.
#[async_trait]
pub trait WeComApi: Send + Sync {
    /// `message/send` text to members (userids; `@all` for everyone who can see the app).
    async fn send_app_text(
        &self,
        to_users: &[String],
        content: &str,
    ) -> Result<SendReceipt, ApiError>;
    /// `message/send` markdown to members.
    async fn send_app_markdown(
        &self,
        to_users: &[String],
        content: &str,
    ) -> Result<SendReceipt, ApiError>;
    /// `appchat/send` text to a group the app created.
    async fn send_appchat_text(&self, chat_id: &str, content: &str) -> Result<(), ApiError>;
    /// `appchat/send` markdown to a group the app created.
    async fn send_appchat_markdown(&self, chat_id: &str, content: &str) -> Result<(), ApiError>;
    /// Webhook text, @-mentioning `mentions` (userids or `@all`).
    async fn send_webhook_text(
        &self,
        webhook: &Webhook,
        content: &str,
        mentions: &[String],
    ) -> Result<(), ApiError>;
    /// Webhook markdown (v1 subset, up to 4096 bytes).
    async fn send_webhook_markdown(&self, webhook: &Webhook, content: &str)
        -> Result<(), ApiError>;
    /// Answers an AI-bot message later through its one-shot `response_url` (markdown).
    async fn respond_aibot(&self, response_url: &str, markdown: &str) -> Result<(), ApiError>;
    /// `media/upload`: uploads a temporary file (shown as `filename`) and returns its
    /// `media_id`, valid three days. Sizes outside WeCom's limits are refused before sending.
    async fn upload_media(
        &self,
        kind: MediaType,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<String, ApiError>;
    /// `message/send` of an uploaded file (`msgtype: file`) to members.
    async fn send_app_file(
        &self,
        to_users: &[String],
        media_id: &str,
    ) -> Result<SendReceipt, ApiError>;
    /// `message/send` of a template card (`card` is the `template_card` object) to members.
    async fn send_app_template_card(
        &self,
        to_users: &[String],
        card: &Value,
    ) -> Result<SendReceipt, ApiError>;
    /// `message/update_template_card`: replaces a card for `userids`, spending the
    /// `response_code` of the click (valid 72 hours, usable once).
    async fn update_template_card(
        &self,
        userids: &[String],
        response_code: &str,
        card: &Value,
    ) -> Result<(), ApiError>;
}

/// Uploads may take much longer than a message: up to 20 MB on a slow uplink.
const UPLOAD_TIMEOUT: Duration = Duration::from_secs(120);

/// Settings of one app's client; `base_url` and `timeout` come from the bot's config.
#[derive(Clone)]
pub struct ClientConfig {
    /// e.g. `https://qyapi.weixin.qq.com`, or a local simulator.
    pub base_url: String,
    /// Per HTTP request.
    pub timeout: Duration,
    pub corp_id: String,
    /// The app's secret; never logged.
    pub corp_secret: String,
    pub agent_id: i64,
}

impl std::fmt::Debug for ClientConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ClientConfig")
            .field("base_url", &self.base_url)
            .field("timeout", &self.timeout)
            .field("corp_id", &self.corp_id)
            .field("agent_id", &self.agent_id)
            .finish_non_exhaustive()
    }
}

/// The real WeCom client for one app (plus webhooks and AI-bot answers, which need no token).
pub struct WeComClient {
    http: reqwest::Client,
    config: ClientConfig,
    clock: Arc<dyn UnixClock>,
    tokens: TokenCache,
}

impl std::fmt::Debug for WeComClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WeComClient")
            .field("config", &self.config)
            .finish_non_exhaustive()
    }
}

#[derive(Deserialize)]
struct WeComResponse {
    #[serde(default)]
    errcode: i64,
    #[serde(default)]
    errmsg: String,
    access_token: Option<String>,
    expires_in: Option<i64>,
    #[serde(default)]
    invaliduser: String,
    msgid: Option<String>,
    media_id: Option<String>,
}

impl WeComClient {
    /// A client with an in-memory token store and the system clock.
    pub fn new(config: ClientConfig) -> Result<Self, ApiError> {
        Self::with_parts(
            config,
            Arc::new(MemoryTokenStore::default()),
            Arc::new(SystemUnixClock),
        )
    }

    /// A client whose tokens live in `store` (e.g. the bot's database, shared by instances) and
    /// whose expiry decisions use `clock`.
    pub fn with_parts(
        config: ClientConfig,
        store: Arc<dyn TokenStore>,
        clock: Arc<dyn UnixClock>,
    ) -> Result<Self, ApiError> {
        let http = reqwest::Client::builder()
            .timeout(config.timeout)
            .build()
            .map_err(|e| ApiError::Setup(e.to_string()))?;
        let app = format!("{}:{}", config.corp_id, config.agent_id);
        Ok(Self {
            http,
            tokens: TokenCache::new(app, store, clock.clone()),
            clock,
            config,
        })
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.config.base_url.trim_end_matches('/'))
    }

    async fn fetch_token(&self) -> Result<AccessToken, ApiError> {
        tracing::debug!(corp_id = %self.config.corp_id, agent_id = self.config.agent_id, "fetching access token");
        let request = self.http.get(self.url("/cgi-bin/gettoken")).query(&[
            ("corpid", self.config.corp_id.as_str()),
            ("corpsecret", self.config.corp_secret.as_str()),
        ]);
        let response = send(request).await?;
        match (response.access_token, response.expires_in) {
            (Some(value), Some(expires_in)) if !value.is_empty() && expires_in > 0 => Ok(
                AccessToken::issued(value, self.clock.now_unix(), expires_in),
            ),
            _ => Err(ApiError::Decode(
                "gettoken answered without access_token/expires_in".into(),
            )),
        }
    }

    /// POSTs `body` to a token-authenticated API path, refreshing the token once if refused.
    async fn post_with_token(&self, path: &str, body: &Value) -> Result<WeComResponse, ApiError> {
        let token = self.tokens.get(|| self.fetch_token()).await?;
        match self.post_once(path, &token.value, body).await {
            Err(e) if e.is_token_rejected() => {
                tracing::info!(path, errcode = ?e.errcode(), "access token refused; refreshing once");
                let fresh = self
                    .tokens
                    .replace(&token.value, || self.fetch_token())
                    .await?;
                self.post_once(path, &fresh.value, body).await
            }
            other => other,
        }
    }

    async fn post_once(
        &self,
        path: &str,
        token: &str,
        body: &Value,
    ) -> Result<WeComResponse, ApiError> {
        let request = self
            .http
            .post(self.url(path))
            .query(&[("access_token", token)])
            .json(body);
        send(request).await
    }

    /// POSTs one multipart upload to `media/upload`, refreshing the token once if refused.
    async fn upload_with_token(
        &self,
        kind: MediaType,
        boundary: &str,
        body: &[u8],
    ) -> Result<WeComResponse, ApiError> {
        let attempt = |token: String| {
            let request = self
                .http
                .post(self.url("/cgi-bin/media/upload"))
                .query(&[("access_token", token.as_str()), ("type", kind.as_str())])
                .header(reqwest::header::CONTENT_TYPE, media::content_type(boundary))
                .timeout(UPLOAD_TIMEOUT.max(self.config.timeout))
                .body(body.to_vec());
            send(request)
        };
        let token = self.tokens.get(|| self.fetch_token()).await?;
        match attempt(token.value.clone()).await {
            Err(e) if e.is_token_rejected() => {
                tracing::info!(errcode = ?e.errcode(), "access token refused on upload; refreshing once");
                let fresh = self
                    .tokens
                    .replace(&token.value, || self.fetch_token())
                    .await?;
                attempt(fresh.value).await
            }
            other => other,
        }
    }

    async fn send_app(&self, to_users: &[String], message: Value) -> Result<SendReceipt, ApiError> {
        let mut body = message;
        body["touser"] = json!(to_users.join("|"));
        body["agentid"] = json!(self.config.agent_id);
        let response = self.post_with_token("/cgi-bin/message/send", &body).await?;
        // errcode 0 with `invaliduser` set: delivered to the others, refused for these.
        let invalid = split_ids(&response.invaliduser);
        if !invalid.is_empty() {
            return Err(ApiError::InvalidRecipient {
                errcode: response.errcode,
                errmsg: response.errmsg,
                invalid_users: invalid,
            });
        }
        Ok(SendReceipt {
            msg_id: response.msgid.filter(|id| !id.is_empty()),
        })
    }

    async fn post_webhook(&self, webhook: &Webhook, body: &Value) -> Result<(), ApiError> {
        let request = match webhook {
            Webhook::Key(key) => self
                .http
                .post(self.url("/cgi-bin/webhook/send"))
                .query(&[("key", key.as_str())]),
            Webhook::Url(url) => self.http.post(url.as_str()),
        };
        send(request.json(body)).await.map(|_| ())
    }
}

#[async_trait]
impl WeComApi for WeComClient {
    async fn send_app_text(
        &self,
        to_users: &[String],
        content: &str,
    ) -> Result<SendReceipt, ApiError> {
        let content = fit_bytes(content, APP_TEXT_LIMIT);
        self.send_app(
            to_users,
            json!({"msgtype": "text", "text": {"content": content}}),
        )
        .await
    }

    async fn send_app_markdown(
        &self,
        to_users: &[String],
        content: &str,
    ) -> Result<SendReceipt, ApiError> {
        let content = fit_bytes(content, APP_MARKDOWN_LIMIT);
        self.send_app(
            to_users,
            json!({"msgtype": "markdown", "markdown": {"content": content}}),
        )
        .await
    }

    async fn send_appchat_text(&self, chat_id: &str, content: &str) -> Result<(), ApiError> {
        let body = json!({
            "chatid": chat_id,
            "msgtype": "text",
            "text": {"content": fit_bytes(content, APP_TEXT_LIMIT)},
        });
        self.post_with_token("/cgi-bin/appchat/send", &body)
            .await
            .map(|_| ())
    }

    async fn send_appchat_markdown(&self, chat_id: &str, content: &str) -> Result<(), ApiError> {
        let body = json!({
            "chatid": chat_id,
            "msgtype": "markdown",
            "markdown": {"content": fit_bytes(content, APP_MARKDOWN_LIMIT)},
        });
        self.post_with_token("/cgi-bin/appchat/send", &body)
            .await
            .map(|_| ())
    }

    async fn send_webhook_text(
        &self,
        webhook: &Webhook,
        content: &str,
        mentions: &[String],
    ) -> Result<(), ApiError> {
        let mut text = json!({"content": fit_bytes(content, WEBHOOK_TEXT_LIMIT)});
        if !mentions.is_empty() {
            text["mentioned_list"] = json!(mentions);
        }
        self.post_webhook(webhook, &json!({"msgtype": "text", "text": text}))
            .await
    }

    async fn send_webhook_markdown(
        &self,
        webhook: &Webhook,
        content: &str,
    ) -> Result<(), ApiError> {
        let body = json!({
            "msgtype": "markdown",
            "markdown": {"content": fit_bytes(content, WEBHOOK_MARKDOWN_LIMIT)},
        });
        self.post_webhook(webhook, &body).await
    }

    async fn respond_aibot(&self, response_url: &str, markdown: &str) -> Result<(), ApiError> {
        let body = json!({
            "msgtype": "markdown",
            "markdown": {"content": fit_bytes(markdown, AIBOT_CONTENT_LIMIT)},
        });
        send(self.http.post(response_url).json(&body))
            .await
            .map(|_| ())
    }

    async fn upload_media(
        &self,
        kind: MediaType,
        filename: &str,
        bytes: Vec<u8>,
    ) -> Result<String, ApiError> {
        if !kind.accepts(bytes.len()) {
            return Err(ApiError::MediaSize {
                kind: kind.as_str(),
                bytes: bytes.len(),
                min: media::MEDIA_MIN_EXCLUSIVE + 1,
                max: kind.max_bytes(),
            });
        }
        let boundary = media::boundary_for(&bytes);
        let body = media::multipart_body(&boundary, filename, &bytes);
        drop(bytes);
        let response = self.upload_with_token(kind, &boundary, &body).await?;
        response
            .media_id
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ApiError::Decode("media/upload answered without media_id".into()))
    }

    async fn send_app_file(
        &self,
        to_users: &[String],
        media_id: &str,
    ) -> Result<SendReceipt, ApiError> {
        self.send_app(
            to_users,
            json!({"msgtype": "file", "file": {"media_id": media_id}}),
        )
        .await
    }

    async fn send_app_template_card(
        &self,
        to_users: &[String],
        card: &Value,
    ) -> Result<SendReceipt, ApiError> {
        self.send_app(
            to_users,
            json!({"msgtype": "template_card", "template_card": card}),
        )
        .await
    }

    async fn update_template_card(
        &self,
        userids: &[String],
        response_code: &str,
        card: &Value,
    ) -> Result<(), ApiError> {
        let mut body = crate::card::app_update(userids, response_code, card);
        body["agentid"] = json!(self.config.agent_id);
        self.post_with_token("/cgi-bin/message/update_template_card", &body)
            .await
            .map(|_| ())
    }
}

/// Sends a request and turns the WeCom answer into a response or a typed error.
async fn send(request: reqwest::RequestBuilder) -> Result<WeComResponse, ApiError> {
    // `without_url`: request URLs carry the secret, the access token or the webhook key.
    let response = request
        .send()
        .await
        .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    let status = response.status();
    if !status.is_success() {
        return Err(ApiError::Http {
            status: status.as_u16(),
        });
    }
    let body = response
        .bytes()
        .await
        .map_err(|e| ApiError::Transport(e.without_url().to_string()))?;
    let parsed: WeComResponse =
        serde_json::from_slice(&body).map_err(|e| ApiError::Decode(e.to_string()))?;
    if parsed.errcode != 0 {
        return Err(error::classify(
            parsed.errcode,
            parsed.errmsg,
            split_ids(&parsed.invaliduser),
        ));
    }
    Ok(parsed)
}

fn split_ids(joined: &str) -> Vec<String> {
    joined
        .split('|')
        .filter(|id| !id.is_empty())
        .map(str::to_owned)
        .collect()
}
