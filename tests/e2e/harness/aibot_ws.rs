//! The AI bot's long connection in tests: the app with `wecom.aibot.mode = "websocket"` signed
//! in to the simulator's WebSocket, and members talking to it through frames the simulator
//! delivers (as WeCom would), answered with `aibot_respond_msg`.

use std::sync::{Arc, OnceLock};
use std::time::Duration;

use chrono::{DateTime, Utc};

use rallybot::config::{AibotMode, HumanDuration, Secret};
use rallybot::devtools::simulator::Simulator;
use rallybot::Settings;
use rallybot_handlers::clock::{Clock, SystemClock};
use serde_json::{json, Value};

use super::app::start;
use super::{scratch, settings, Backend, TestApp};

/// How long a test waits for an answer over the long connection.
pub const ANSWER_WAIT: Duration = Duration::from_secs(15);

/// Points `settings` at the simulator's long connection: websocket mode, its bot id and
/// secret, a 1 s heartbeat, quick lease hand-over, and no app secret, so pushes to people go
/// through `aibot_send_msg` too.
pub fn use_websocket(settings: &mut Settings, simulator: &Simulator) {
    let (bot_id, secret) = simulator.aibot_credentials();
    let aibot = &mut settings.wecom.aibot;
    aibot.mode = AibotMode::Websocket;
    aibot.bot_id = bot_id;
    aibot.secret = Secret::new(secret);
    aibot.ws_url = simulator.aibot_ws_url();
    aibot.heartbeat = HumanDuration::parse("1s").expect("a duration");
    settings.wecom.app.secret = Secret::default();
    settings.push.lease_ttl = HumanDuration::parse("3s").expect("a duration");
}

/// The app in websocket mode on `backend`, once its connection is live. `configure` runs last.
pub async fn spawn_ws_app(backend: Backend, configure: fn(&mut Settings)) -> TestApp {
    launch(backend, configure, Arc::new(SystemClock), None).await
}

/// A clock that reads another once given one (the app's rehearsal clock, which exists only
/// after the simulator), and the system's until then.
#[derive(Debug, Default)]
pub struct Following(OnceLock<Arc<dyn Clock>>);

impl Clock for Following {
    fn now(&self) -> DateTime<Utc> {
        self.0
            .get()
            .map_or_else(|| SystemClock.now(), |clock| clock.now())
    }
}

/// `spawn_ws_app` with the rehearsal clock at `at` and the simulator keeping the bot's time,
/// so that WeCom's per-minute limits count in rehearsal time as the bot's own limits do.
pub async fn spawn_ws_rehearsal(
    backend: Backend,
    at: DateTime<Utc>,
    configure: fn(&mut Settings),
) -> TestApp {
    let following = Arc::new(Following::default());
    let app = launch(backend, configure, following.clone(), Some(at)).await;
    let _ = following.0.set(app.clock.clone());
    app
}

async fn launch(
    backend: Backend,
    configure: fn(&mut Settings),
    simulator_clock: Arc<dyn Clock>,
    at: Option<DateTime<Utc>>,
) -> TestApp {
    let database = scratch(backend).await;
    let simulator = Simulator::start(simulator_clock)
        .await
        .expect("simulator starts");
    let mut settings = settings(database.url(), &simulator.base_url());
    use_websocket(&mut settings, &simulator);
    configure(&mut settings);
    let app = start(settings, at, simulator, database).await;
    if app.settings.wecom.aibot.secret.expose() == app.simulator.aibot_credentials().1 {
        tokio::time::timeout(ANSWER_WAIT, app.simulator.aibot_wait_live())
            .await
            .expect("the bot signs in to the long connection");
    }
    app
}

/// A second instance in websocket mode on the database at `storage_url`, dialling `ws_url`
/// (another simulator's long connection); not waited for: it may stand by.
pub async fn spawn_standby(backend: Backend, storage_url: &str, ws_url: &str) -> TestApp {
    let database = scratch(backend).await;
    let simulator = Simulator::start(Arc::new(SystemClock))
        .await
        .expect("simulator starts");
    let mut settings = settings(storage_url, &simulator.base_url());
    use_websocket(&mut settings, &simulator);
    settings.wecom.aibot.ws_url = ws_url.to_owned();
    start(settings, None, simulator, database).await
}

/// Delivers `body` to whichever connection is live at the simulator and waits for the finished
/// answer; panics naming `text` when none comes.
pub async fn exchange(simulator: &Simulator, body: Value, text: &str) -> String {
    simulator
        .aibot_exchange(body, ANSWER_WAIT)
        .await
        .unwrap_or_else(|| panic!("no answer over the long connection to {text:?}"))
}

/// The one-line registration of test member `n`.
pub fn registration(name: &str, n: u32, union: &str) -> String {
    format!(
        "注册 {name} {} {} {union}",
        super::sample_id_number(n),
        super::sample_phone(n)
    )
}

/// A member's text as the body of an `aibot_msg_callback`; `chat` `None` is single chat.
pub fn message(msgid: &str, chat: Option<&str>, user: &str, text: &str) -> Value {
    let mut body = json!({
        "msgid": msgid,
        "aibotid": "aibsim0001",
        "chattype": if chat.is_some() { "group" } else { "single" },
        "from": { "userid": user },
        "msgtype": "text",
        "text": { "content": text },
    });
    if let Some(chat) = chat {
        body["chatid"] = Value::String(chat.to_owned());
    }
    body
}

impl TestApp {
    /// A fresh msgid for a long-connection message.
    pub fn ws_msgid(&self) -> String {
        format!("ws{}", self.client.next_msg_id())
    }

    /// `user` says `text` privately over the long connection; the finished answer.
    pub async fn ws_say(&self, user: &str, text: &str) -> String {
        let body = message(&self.ws_msgid(), None, user, text);
        exchange(&self.simulator, body, text).await
    }

    /// `user` says `text` in the group `chat`, the bot @-mentioned.
    pub async fn ws_say_in_group(&self, chat: &str, user: &str, text: &str) -> String {
        let body = message(
            &self.ws_msgid(),
            Some(chat),
            user,
            &format!("@rallybot {text}"),
        );
        self.simulator
            .aibot_exchange(body, ANSWER_WAIT)
            .await
            .unwrap_or_else(|| panic!("no answer in {chat} to {text:?}"))
    }

    /// One-line registration and its confirmation, privately over the long connection.
    pub async fn ws_register(&self, user: &str, name: &str, n: u32, union: &str) -> String {
        let summary = self.ws_say(user, &registration(name, n, union)).await;
        assert!(summary.contains("确认"), "{summary}");
        self.ws_say(user, "确认").await
    }
}
