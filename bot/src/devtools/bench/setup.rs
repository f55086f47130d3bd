//! The bot under load: built exactly as `serve` builds it (or the bare endpoint), with members
//! and one approved entry already in the database so 排名 and 投票 do real work.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use anyhow::Context as _;
use rallybot_handlers::campaign::{EntrantKind, Rule};
use rallybot_handlers::clock::{Clock, SystemClock};
use rallybot_handlers::link::Link;
use rallybot_handlers::store::{MemberRecord, NewEntry, Review, ReviewStatus, Store};
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use super::{Mode, TargetOptions};
use crate::app::App;
use crate::background::Wake;
use crate::config::WecomSettings;
use crate::http::admin::AdminState;
use crate::http::callback::dedup::Dedup;
use crate::http::callback::responder::Responder;
use crate::http::callback::CallbackState;
use crate::http::metrics::Metrics;

/// A fixed reply about as long as the 帮助 answer, for the bare endpoint.
pub const BARE_REPLY: &str = "可用命令：\n帮助 [命令] — 查看说明\n注册 — 实名登记（请私聊）\n我的 — 我的登记信息和作品\n提交 <赛道> <链接> [标题] — 提交作品\n投票 <作品号> [票数] — 为作品投票\n剩余 — 今天还能投几票\n排名 [赛道] — 我的排名\n榜单 [赛道] [N] — 排行榜\n阶段 — 当前阶段和截止时间";

/// A running target.
pub struct Target {
    pub base_url: String,
    /// The credentials callbacks must be signed with.
    pub wecom: WecomSettings,
    stop: oneshot::Sender<()>,
    server: JoinHandle<anyhow::Result<()>>,
    _dir: tempfile::TempDir,
}

impl Target {
    pub async fn start(options: &TargetOptions) -> anyhow::Result<Target> {
        let dir = tempfile::tempdir().context("creating a temporary directory")?;
        let db = options
            .db
            .clone()
            .unwrap_or_else(|| dir.path().join("bench.db"));
        let campaign_file = options
            .campaign
            .clone()
            .unwrap_or_else(crate::devtools::local::bundled_campaign);
        let mut settings = crate::devtools::local::local_settings(
            &format!("sqlite://{}", db.display()),
            "http://127.0.0.1:9",
            &campaign_file,
        );
        settings.log.level = "warn".into();
        if let Some(url) = &options.aibot_ws_url {
            // The generator is WeCom's end of the long connection and signs anyone in.
            let aibot = &mut settings.wecom.aibot;
            aibot.mode = crate::config::AibotMode::Websocket;
            aibot.ws_url = url.clone();
            aibot.bot_id = "aibbench".into();
            aibot.secret = crate::config::Secret::new("bench");
        }
        let (stop, stopped) = oneshot::channel::<()>();
        let shutdown = async {
            let _ = stopped.await;
        };
        let (base_url, server) = match options.mode {
            Mode::Python => {
                anyhow::bail!("the Python peer runs under gunicorn, not in this process")
            }
            Mode::Bot => {
                let app = App::build(settings.clone()).await?;
                let campaign = app.campaign();
                if let (Some(clock), Some(at)) = (
                    app.rehearsal_clock(),
                    crate::devtools::local::voting_time(&campaign),
                ) {
                    clock.set(at)?;
                }
                seed(app.store(), app.clock(), &campaign, options.users).await?;
                let base_url = format!("http://{}", app.local_addr());
                let server = tokio::spawn(app.run_until_stopped(shutdown));
                (base_url, server)
            }
            Mode::Bare | Mode::Dedup => {
                let store = crate::app::open_store(&settings.storage.url).await?;
                let state = Arc::new(CallbackState {
                    crypters: crate::app::crypters(&settings)?,
                    corp_id: settings.wecom.corp_id.clone(),
                    responder: Responder::Fixed(BARE_REPLY.into()),
                    dedup: (options.mode == Mode::Dedup).then(|| {
                        let (dedup, _writers) = Dedup::start(store.clone());
                        dedup
                    }),
                    store: store.clone(),
                    clock: Arc::new(SystemClock),
                    metrics: Arc::new(Metrics::new()),
                    reply_deadline: Duration::from_millis(settings.server.reply_deadline_ms),
                    welcome: String::new(),
                    known_groups: Mutex::new(HashMap::new()),
                    wake: Wake::new(),
                });
                let admin = Arc::new(AdminState {
                    token: settings.admin.token.clone(),
                    rehearsal: None,
                    wake: Wake::new(),
                });
                let health = Arc::new(crate::http::health::Health::new(
                    store.clone(),
                    crate::background::Loops::new(&settings),
                ));
                let metrics = state.metrics.clone();
                let router = crate::http::router(state, admin, health, None);
                let listener = tokio::net::TcpListener::bind(settings.server.listen).await?;
                let base_url = format!("http://{}", listener.local_addr()?);
                let limits = crate::http::server::Limits::from_settings(&settings.server);
                let server = tokio::spawn(async move {
                    crate::http::server::serve(listener, router, limits, metrics, shutdown)
                        .await
                        .context("bare endpoint")
                });
                (base_url, server)
            }
        };
        Ok(Target {
            base_url,
            wecom: settings.wecom,
            stop,
            server,
            _dir: dir,
        })
    }

    pub async fn stop(self) -> anyhow::Result<()> {
        let _ = self.stop.send(());
        self.server.await.context("the bot task")?
    }
}

/// The members the bench registers and sends as: `bench000000`, `bench000001`, …
pub fn user_ids(count: u32) -> Vec<String> {
    (0..count.max(1)).map(|i| format!("bench{i:06}")).collect()
}

/// Registers the `user_ids(count)` members and one approved entry (printed) in the first
/// votes track.
async fn seed(
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    campaign: &rallybot_handlers::campaign::Campaign,
    count: u32,
) -> anyhow::Result<()> {
    let now = clock.now();
    let union = campaign
        .unions
        .list
        .iter()
        .find(|u| u.parent.is_some())
        .or_else(|| campaign.unions.list.first())
        .map(|u| u.code.clone())
        .unwrap_or_default();
    let started = std::time::Instant::now();
    let users = user_ids(count);
    for (i, userid) in users.iter().enumerate() {
        let member = MemberRecord {
            userid: userid.clone(),
            name: format!("测试{i}"),
            id_hash: format!("{:064x}", i + 1),
            id_mask: "230103********000X".into(),
            phone_enc: String::new(),
            phone_mask: "139****0000".into(),
            union_code: union.clone(),
            registered_at: now,
        };
        store
            .register_member(&member, &format!("bench/register/{userid}"))
            .await
            .with_context(|| format!("registering {userid}"))?;
    }
    if let Some(track) = campaign
        .tracks
        .iter()
        .find(|t| matches!(t.rule, Rule::Votes { .. }) && t.entrant == EntrantKind::Member)
    {
        let entry = store
            .submit_entry(&NewEntry {
                track: track.key.clone(),
                code_prefix: track.code_prefix.clone(),
                entrant_kind: EntrantKind::Member,
                entrant_id: users[0].clone(),
                submitter: users[0].clone(),
                union_code: union.clone(),
                link: Link::parse("https://www.example.org/bench/entry")
                    .context("the bench entry's link")?,
                title: "压测作品".into(),
                status: ReviewStatus::Pending,
                now,
                callback_key: "bench/submit".into(),
            })
            .await
            .context("submitting the bench entry")?;
        store
            .review_entry(&Review {
                code: entry.code.clone(),
                approve: true,
                reason: None,
                reviewer: users[0].clone(),
                now,
                callback_key: "bench/review".into(),
            })
            .await
            .context("approving the bench entry")?;
        // Standard output carries the ready line for the generator.
        eprintln!(
            "seeded {} members and approved entry {} in track {} in {:.1?}",
            users.len(),
            entry.code,
            track.name,
            started.elapsed()
        );
    }
    Ok(())
}
