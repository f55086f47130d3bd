//! What the console does with one typed line: a `/command` changes who is speaking and where,
//! anything else travels to the bot as a WeCom message; the answer and any pushes come back
//! as printable text.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use crate::devtools::callback_client::BotReply;
use crate::devtools::simulator::{Endpoint, Received};
use crate::http::callback::surface::Surface;

use super::session::Session;
use super::ChatSurface;

/// Where the current user is talking.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Place {
    /// Private chat with the self-built app.
    Private,
    /// A group chat, by name.
    Group(String),
}

/// Which surface carries group messages.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupSurface {
    Robot,
    Aibot,
}

/// What a line asked for besides output.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Flow {
    Continue,
    Quit,
}

/// The default group's name.
pub const DEFAULT_GROUP: &str = "职工群";

/// The console's state: who speaks, where, and what has been shown.
#[derive(Debug)]
pub struct Console {
    pub user: String,
    pub place: Place,
    pub group_surface: GroupSurface,
    /// Group name → webhook key in the simulator.
    groups: BTreeMap<String, String>,
    /// Simulator records already printed.
    shown: u64,
    /// Everything goes through the AI bot's long connection.
    long_connection: bool,
    /// The last card shown, whose buttons `/点 N` clicks.
    card: Option<ShownCard>,
}

/// A card on screen: its task id and buttons, and where it came from (a click goes back the
/// same way).
#[derive(Debug, Clone, PartialEq, Eq)]
struct ShownCard {
    task_id: String,
    /// `(text, key)` of each button.
    buttons: Vec<(String, String)>,
    /// `None`: an app card in the private chat; `Some(chat)`: an AI-bot card, in a group
    /// (`Some(Some(chatid))`) or the single chat (`Some(None)`).
    aibot_chat: Option<Option<String>>,
}

pub const HELP: &str = "\
控制台命令 / console commands:
  /as <userid>        以另一个用户身份发言 / speak as another user
  /group [群名]       到群里发言（默认“职工群”），消息会自动 @ 机器人 / talk in a group (the bot is @-mentioned for you)
  /private            回到与应用的私聊 / back to the private chat with the app
  /surface robot|aibot  群消息走群机器人回调或智能机器人 / which surface carries group messages
  /点 <N>             点卡片上的第 N 个按钮（投票或点赞），也可 /click <N> / tap button N of the last card
  /clock              查看活动时钟 / show the campaign clock
  /clock set <时间>   例如 /clock set 2022-08-20T09:00:00+08:00
  /clock +24h         时钟前进（也可 +30m、+7d）/ move the clock forward
  /whoami             当前身份和位置 / who and where you are
  /help               本帮助 / this help
  /quit               退出（或 Ctrl-D）/ quit (or Ctrl-D)
其他输入都作为聊天消息发给机器人，例如：帮助、注册、提交、投票 C0001、剩余、排名、榜单、看看 C。
Anything else is sent to the bot as a chat message, e.g. 帮助, 注册, 投票 C0001.";

impl Console {
    pub fn new(user: &str) -> Self {
        Self::on(user, ChatSurface::App)
    }

    /// A console whose messages travel on `surface`.
    pub fn on(user: &str, surface: ChatSurface) -> Self {
        Self {
            user: user.to_string(),
            place: Place::Private,
            group_surface: match surface {
                ChatSurface::Aibot => GroupSurface::Aibot,
                _ => GroupSurface::Robot,
            },
            groups: BTreeMap::new(),
            shown: 0,
            long_connection: surface == ChatSurface::AibotWs,
            card: None,
        }
    }

    /// A message over the AI bot's long connection: the finished answer, or an empty one
    /// when it is pushed later.
    async fn say_over_long_connection(
        &self,
        session: &Session,
        chat: Option<&str>,
        text: &str,
        id: u64,
    ) -> BotReply {
        let mut body = serde_json::json!({
            "msgid": format!("ws{id}"),
            "aibotid": session.simulator.aibot_credentials().0,
            "chattype": if chat.is_some() { "group" } else { "single" },
            "from": { "userid": self.user },
            "msgtype": "text",
            "text": { "content": text },
        });
        if let Some(chat) = chat {
            body["chatid"] = serde_json::Value::String(chat.to_owned());
        }
        let Some(req_id) = session.simulator.aibot_deliver(body) else {
            return BotReply {
                status: 200,
                text: None,
                mentions: Vec::new(),
                card: None,
                card_users: Vec::new(),
            };
        };
        final_answer(session, &req_id).await
    }

    /// The prompt: `zhangwei@私聊> ` or `zhangwei@群:职工群> `.
    pub fn prompt(&self) -> String {
        match &self.place {
            Place::Private => format!("{}@私聊> ", self.user),
            Place::Group(name) => format!("{}@群:{name}> ", self.user),
        }
    }

    fn group_key(&mut self, name: &str) -> String {
        let next = format!("group{}", self.groups.len() + 1);
        self.groups.entry(name.to_string()).or_insert(next).clone()
    }

    fn group_name_of_key(&self, key: &str) -> Option<&str> {
        self.groups
            .iter()
            .find(|(_, k)| k.as_str() == key)
            .map(|(name, _)| name.as_str())
    }

    /// Handles one line; returns what to print.
    pub async fn line(&mut self, session: &Session, line: &str) -> (String, Flow) {
        let line = line.trim();
        if line.is_empty() {
            return (String::new(), Flow::Continue);
        }
        if let Some(command) = line.strip_prefix('/') {
            return self.command(session, command).await;
        }
        let mut out = match self.say(session, line).await {
            Ok(reply) => self.show_reply(&reply),
            Err(e) => format!("!! 发送失败 / could not send: {e:#}\n"),
        };
        session.settle().await;
        out.push_str(&self.new_pushes(session));
        (out, Flow::Continue)
    }

    async fn command(&mut self, session: &Session, command: &str) -> (String, Flow) {
        let (name, rest) = command
            .split_once(char::is_whitespace)
            .map_or((command, ""), |(n, r)| (n, r.trim()));
        let out = match name {
            "quit" | "exit" | "q" => return ("再见 / bye\n".into(), Flow::Quit),
            "help" | "h" | "?" => format!("{HELP}\n"),
            "as" if !rest.is_empty() => {
                self.user = rest.to_string();
                format!("现在以 {rest} 的身份发言 / now speaking as {rest}\n")
            }
            "group" => {
                let name = if rest.is_empty() { DEFAULT_GROUP } else { rest };
                self.group_key(name);
                self.place = Place::Group(name.to_string());
                format!("在群「{name}」中发言，消息会 @ 机器人 / talking in group {name}\n")
            }
            "private" => {
                self.place = Place::Private;
                "回到与应用的私聊 / back to the private chat\n".into()
            }
            "surface" => match rest {
                "robot" => {
                    self.group_surface = GroupSurface::Robot;
                    "群消息走群机器人回调 / group messages use the group robot callback\n".into()
                }
                "aibot" => {
                    self.group_surface = GroupSurface::Aibot;
                    "群消息走智能机器人 / group messages use the AI bot\n".into()
                }
                _ => "用法 / usage: /surface robot|aibot\n".into(),
            },
            "whoami" => format!(
                "{} @ {}\n",
                self.user,
                match &self.place {
                    Place::Private => "私聊 / private".to_string(),
                    Place::Group(g) => format!("群 / group {g}"),
                }
            ),
            "clock" => self.clock(session, rest).await,
            "点" | "click" | "tap" => {
                let mut out = self.click(session, rest).await;
                session.settle().await;
                out.push_str(&self.new_pushes(session));
                out
            }
            _ => format!(
                "未知的控制台命令 /{name}，输入 /help 查看 / unknown console command, try /help\n"
            ),
        };
        (out, Flow::Continue)
    }

    async fn clock(&self, session: &Session, rest: &str) -> String {
        let request = if rest.is_empty() {
            None
        } else if let Some(at) = rest.strip_prefix("set ") {
            Some(serde_json::json!({ "set": at.trim() }))
        } else if let Some(by) = rest.strip_prefix("advance ") {
            Some(serde_json::json!({ "advance": by.trim() }))
        } else if let Some(by) = rest.strip_prefix('+') {
            Some(serde_json::json!({ "advance": by.trim() }))
        } else {
            return "用法 / usage: /clock | /clock set <RFC 3339> | /clock +24h\n".into();
        };
        if let Some(body) = request {
            if let Err(e) = session.move_clock(body).await {
                return format!("!! {e:#}\n");
            }
        }
        let now = session
            .clock
            .now()
            .with_timezone(&session.campaign.timezone);
        let stage = session.campaign.stage_at(session.clock.now()).map_or(
            "（不在任何阶段 / between stages）".to_string(),
            |s| s.name.clone(),
        );
        format!(
            "活动时钟 / campaign clock: {} · {stage}\n",
            now.format("%Y-%m-%d %H:%M %Z")
        )
    }

    /// A reply as printed; a card in it becomes the one `/点` clicks.
    fn show_reply(&mut self, reply: &BotReply) -> String {
        let Some(card) = &reply.card else {
            return render_reply(reply);
        };
        let chat = match self.place.clone() {
            Place::Group(name) => Some(format!("chat-{}", self.group_key(&name))),
            Place::Private => None,
        };
        let mut out = match &reply.text {
            Some(text) if !text.trim().is_empty() => render_reply(reply),
            _ => String::new(),
        };
        out.push_str("bot › [卡片 card]\n");
        out.push_str(&self.show_card(card, Some(chat)));
        out
    }

    /// Prints `card` and remembers it for `/点`.
    fn show_card(
        &mut self,
        card: &serde_json::Value,
        aibot_chat: Option<Option<String>>,
    ) -> String {
        let shown = ShownCard {
            task_id: str_of(card, "task_id").to_string(),
            buttons: card
                .get("button_list")
                .and_then(serde_json::Value::as_array)
                .map(|list| {
                    list.iter()
                        .map(|b| (str_of(b, "text").to_string(), str_of(b, "key").to_string()))
                        .collect()
                })
                .unwrap_or_default(),
            aibot_chat,
        };
        let out = render_card(card);
        if !shown.buttons.is_empty() {
            self.card = Some(shown);
        }
        out
    }

    /// `/点 N`: clicks button N of the last card, through the real callback path.
    async fn click(&mut self, session: &Session, rest: &str) -> String {
        let Some(card) = self.card.clone() else {
            return "还没有可以点的卡片，先发送「看看 赛道」/ no card yet, send 看看 <track> first\n"
                .into();
        };
        let picked = rest
            .trim()
            .parse::<usize>()
            .ok()
            .and_then(|n| n.checked_sub(1))
            .and_then(|i| card.buttons.get(i));
        let Some((text, key)) = picked else {
            return format!(
                "用法 / usage: /点 <1–{}>（按钮编号 / the button's number）\n",
                card.buttons.len()
            );
        };
        let client = &session.client;
        let id = client.next_msg_id();
        let answered = match &card.aibot_chat {
            None => {
                let code = session.simulator.card_click_code();
                let plain = client.app_card_click_plain(&self.user, key, &card.task_id, &code);
                client.exchange(Surface::App, &plain).await
            }
            Some(chat) if self.long_connection => {
                let body = crate::devtools::callback_client::aibot_card_click(
                    chat.as_deref(),
                    &self.user,
                    key,
                    &card.task_id,
                    &format!("wsev{id}"),
                );
                match session.simulator.aibot_deliver_event(body) {
                    Some(req_id) => Ok(final_answer(session, &req_id).await),
                    None => return "!! 长连接未连上 / the long connection is down\n".into(),
                }
            }
            Some(chat) => {
                let plain = client.aibot_card_click_plain(
                    chat.as_deref(),
                    &self.user,
                    key,
                    &card.task_id,
                    id,
                );
                client.exchange(Surface::Aibot, &plain).await
            }
        };
        let mut out = format!("（已点 / tapped「{text}」）\n");
        match answered {
            Ok(reply) if reply.card.is_some() => {
                out.push_str("bot › [卡片已更新 card updated]\n");
                if let Some(new) = &reply.card {
                    out.push_str(&self.show_card(new, card.aibot_chat.clone()));
                }
            }
            Ok(reply) if reply.text.is_some() => out.push_str(&render_reply(&reply)),
            Ok(_) => {}
            Err(e) => {
                let _ = writeln!(out, "!! 发送失败 / could not send: {e:#}");
            }
        }
        out
    }

    async fn say(&mut self, session: &Session, text: &str) -> anyhow::Result<BotReply> {
        let client = &session.client;
        let id = client.next_msg_id();
        let reply = match self.place.clone() {
            Place::Private if self.long_connection => {
                self.say_over_long_connection(session, None, text, id).await
            }
            Place::Private => {
                let plain = client.app_text_plain(&self.user, text, id);
                client.exchange(Surface::App, &plain).await?
            }
            Place::Group(name) => {
                let key = self.group_key(&name);
                // Only @-mentions reach the bot in groups.
                let bot = session
                    .settings
                    .wecom
                    .bot_names
                    .first()
                    .cloned()
                    .unwrap_or_else(|| "rallybot".into());
                let text = if text.starts_with('@') || text.starts_with('＠') {
                    text.to_string()
                } else {
                    format!("@{bot} {text}")
                };
                if self.long_connection {
                    let chat = format!("chat-{key}");
                    return Ok(self
                        .say_over_long_connection(session, Some(&chat), &text, id)
                        .await);
                }
                match self.group_surface {
                    GroupSurface::Robot => {
                        let webhook = session.simulator.webhook_url(&key);
                        let plain = client.robot_text_plain(
                            &format!("chat-{key}"),
                            true,
                            &self.user,
                            &text,
                            &webhook,
                            id,
                        );
                        client.exchange(Surface::Robot, &plain).await?
                    }
                    GroupSurface::Aibot => {
                        let response_url = session.simulator.issue_response_url();
                        let plain = client.aibot_text_plain(
                            Some(&format!("chat-{key}")),
                            &self.user,
                            &text,
                            &response_url,
                            id,
                        );
                        client.exchange(Surface::Aibot, &plain).await?
                    }
                }
            }
        };
        Ok(reply)
    }

    /// Pushes the simulator received since the last call, as text.
    pub fn new_pushes(&mut self, session: &Session) -> String {
        let mut out = String::new();
        for received in session.simulator.delivered() {
            if received.seq < self.shown {
                continue;
            }
            self.shown = received.seq + 1;
            out.push_str(&self.render_push(session, &received));
        }
        out
    }

    fn render_push(&mut self, session: &Session, received: &Received) -> String {
        if let Some(card) = received.template_card() {
            let (what, origin) = match received.endpoint {
                Endpoint::UpdateTemplateCard => ("卡片已更新 card updated", None),
                Endpoint::AibotSend => (
                    "卡片 card",
                    Some(received.key.clone().filter(|k| k.starts_with("chat-"))),
                ),
                _ => ("卡片 card", None),
            };
            let to = received
                .destinations()
                .join(" ")
                .replace("user:", "私聊 ")
                .replace("aibot:", "智能机器人 ");
            let mut out = format!("  [推送 push → {to}] [{what}]\n");
            out.push_str(&self.show_card(card, origin));
            return out;
        }
        let content = received.content().unwrap_or("");
        let to = match received.endpoint {
            Endpoint::MessageSend => format!("私聊 {}", received.recipients().join("|")),
            Endpoint::Webhook => {
                let key = received.key.as_deref().unwrap_or("");
                format!("群 {}", self.group_name_of_key(key).unwrap_or(key))
            }
            Endpoint::AppchatSend => "应用群聊".to_string(),
            Endpoint::AibotResponse => "智能机器人回复".to_string(),
            Endpoint::AibotSend => {
                let chat = received.key.as_deref().unwrap_or("");
                let name = chat
                    .strip_prefix("chat-")
                    .and_then(|key| self.group_name_of_key(key))
                    .unwrap_or(chat);
                format!("智能机器人 {name}")
            }
            // Answers to what was said are printed as the bot's replies.
            Endpoint::AibotRespond
            | Endpoint::UpdateTemplateCard
            | Endpoint::GetToken
            | Endpoint::MediaUpload
            | Endpoint::AibotSubscribe
            | Endpoint::AibotPing => return String::new(),
        };
        let mentions = received.mentions();
        let mut out = format!("  [推送 push → {to}]");
        if !mentions.is_empty() {
            let _ = write!(out, " @{}", mentions.join(" @"));
        }
        out.push('\n');
        if received.msgtype() == Some("file") {
            let _ = writeln!(out, "  │ {}", render_file(session, received));
            return out;
        }
        for line in content.lines() {
            let _ = writeln!(out, "  │ {line}");
        }
        out
    }
}

/// `[文件] 获奖名单-20221020-0930.xlsx (12 KB) saved to /tmp/rallybot-chat/…`: the file is
/// written to the session's files folder so it can be opened.
fn render_file(session: &Session, received: &Received) -> String {
    let Some(media) = received
        .media_id()
        .and_then(|id| session.simulator.media(id))
    else {
        return "[文件] （模拟器里找不到这个文件 / unknown media_id）".to_string();
    };
    let size = match media.bytes.len() {
        n if n < 1024 => format!("{n} B"),
        n if n < 1024 * 1024 => format!("{} KB", n.div_ceil(1024)),
        n => format!("{:.1} MB", n as f64 / (1024.0 * 1024.0)),
    };
    let path = session.files_dir.join(&media.filename);
    let saved = std::fs::create_dir_all(&session.files_dir)
        .and_then(|()| std::fs::write(&path, &media.bytes));
    match saved {
        Ok(()) => format!(
            "[文件] {} ({size}) saved to {}",
            media.filename,
            path.display()
        ),
        Err(e) => format!("[文件] {} ({size}), not saved: {e}", media.filename),
    }
}

/// The finished answer to the long-connection callback `req_id` (text or card), or an empty
/// one when it is pushed later.
async fn final_answer(session: &Session, req_id: &str) -> BotReply {
    let frame = session
        .simulator
        .aibot_final_frame(req_id, std::time::Duration::from_secs(10))
        .await;
    BotReply {
        status: 200,
        text: frame.as_ref().and_then(|f| f.content().map(str::to_owned)),
        mentions: Vec::new(),
        card: frame.as_ref().and_then(|f| f.template_card().cloned()),
        card_users: Vec::new(),
    }
}

fn str_of<'a>(value: &'a serde_json::Value, field: &str) -> &'a str {
    value
        .get(field)
        .and_then(serde_json::Value::as_str)
        .unwrap_or("")
}

/// A template card as console lines: title, rows, note, and numbered buttons for `/点 N`.
pub fn render_card(card: &serde_json::Value) -> String {
    let mut out = String::new();
    let title = card.get("main_title").cloned().unwrap_or_default();
    let _ = writeln!(out, "  ┌ {}", str_of(&title, "title"));
    if !str_of(&title, "desc").is_empty() {
        let _ = writeln!(out, "  │ {}", str_of(&title, "desc"));
    }
    for row in card
        .get("horizontal_content_list")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
    {
        let _ = writeln!(
            out,
            "  │ {}  {}",
            str_of(row, "keyname"),
            str_of(row, "value")
        );
    }
    if !str_of(card, "sub_title_text").is_empty() {
        let _ = writeln!(out, "  │ {}", str_of(card, "sub_title_text"));
    }
    let buttons: Vec<String> = card
        .get("button_list")
        .and_then(serde_json::Value::as_array)
        .into_iter()
        .flatten()
        .enumerate()
        .map(|(i, b)| format!("[{}] {}", i + 1, str_of(b, "text")))
        .collect();
    if buttons.is_empty() {
        out.push_str("  └\n");
    } else {
        let _ = writeln!(
            out,
            "  └ {}   （/点 N 点按钮 / tap with /点 N）",
            buttons.join("  ")
        );
    }
    out
}

fn render_reply(reply: &BotReply) -> String {
    match &reply.text {
        None if reply.status == 200 => {
            "bot › （已收到，稍后推送回复 / acknowledged, the reply will be pushed）\n".into()
        }
        None => format!(
            "!! 机器人返回 HTTP {} / the bot answered HTTP {}\n",
            reply.status, reply.status
        ),
        Some(text) => {
            let mut out = String::from("bot › ");
            if !reply.mentions.is_empty() {
                let _ = write!(out, "@{} ", reply.mentions.join(" @"));
            }
            // The mention is shown above, not as the AI bot's `<@userid>` markup.
            let (_, text) = crate::devtools::callback_client::aibot_mentions(text);
            let mut lines = text.lines();
            out.push_str(lines.next().unwrap_or(""));
            out.push('\n');
            for line in lines {
                let _ = writeln!(out, "      {line}");
            }
            out
        }
    }
}
