//! The harness for conversation tests: a `Conversation` on a fresh `MemoryStore`, a `FixedClock`,
//! and helpers that speak as a user in a private chat or a group.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use rallybot_handlers::campaign::load_campaign;
use rallybot_handlers::clock::FixedClock;
use rallybot_handlers::conversation::{ChatKind, Conversation, Inbound, Reply, Roles};
use rallybot_handlers::privacy::Privacy;
use rallybot_handlers::store::{AuditEvent, GroupRecord, MemoryStore, NewPush, Store};
use tempfile::TempDir;

/// Numbers the messages tests say, so each has a callback key of its own.
static NEXT_MESSAGE: AtomicU64 = AtomicU64::new(1);

pub const ORGANIZER: &str = "org_wang";
pub const REVIEWER: &str = "rev_li";
/// An officer of 哈尔滨市总工会 in the shipped unions file.
pub const HRB_OFFICER: &str = "hrb_officer01";

/// `2022-08-10T09:00:00+08:00`-style local time in Asia/Shanghai.
pub fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(local)
        .expect("test timestamps are RFC 3339")
        .with_timezone(&Utc)
}

/// A valid ID number (GB 11643) for test person `n`.
pub fn id_number(n: u32) -> String {
    const WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
    const CHECKS: &[u8; 11] = b"10X98765432";
    let birth = NaiveDate::from_ymd_opt(1980, 1, 1).unwrap() + Duration::days(i64::from(n) * 37);
    let body = format!("230103{}{:03}", birth.format("%Y%m%d"), n % 1000);
    let sum: u32 = body
        .bytes()
        .zip(WEIGHTS)
        .map(|(d, w)| u32::from(d - b'0') * w)
        .sum();
    format!("{body}{}", CHECKS[(sum % 11) as usize] as char)
}

/// A valid mobile number for test person `n`.
pub fn phone(n: u32) -> String {
    format!("1390000{:04}", n % 10_000)
}

pub fn shipped_campaign() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/campaigns/longjiang-2022.toml")
}

/// A small campaign with what the shipped one lacks: a points (reading) track and a track with
/// `self_vote = false` and `link_hosts`.
pub fn write_mini_campaign(dir: &Path) -> PathBuf {
    std::fs::write(
        dir.join("mini-unions.csv"),
        "code,name,parent,level,officers,offline\n\
         prov,测试省总工会,,province,prov_officer,\n\
         city,测试市总工会,prov,city,city_officer,4\n\
         county,测试县总工会,city,county,county_officer,2\n",
    )
    .unwrap();
    let toml = r#"
key = "mini"
name = "小型测试活动"
unions = "mini-unions.csv"

[nudges]
cron = "0 10 * * MON-FRI"
slack = 0.1
quiet_hours = "21:00-08:00"
missed_grace = "6h"

[[stages]]
key = "warmup"
name = "预热阶段"
starts = 2022-07-21
ends = 2022-07-31
opens = []

[[stages]]
key = "activity"
name = "活动开展阶段"
starts = 2022-08-01
ends = 2022-09-30
opens = ["submit", "vote"]

[[tracks]]
key = "reading"
name = "阅读挑战赛"
code_prefix = "R"
entrant = "member"
rule = { kind = "points", bands = [[30, 5], [60, 8], [120, 10]] }
awards = [{ name = "一等奖", count = 1 }, { name = "二等奖", count = 2 }]

[[tracks]]
key = "photo"
name = "光影摄影"
code_prefix = "P"
entrant = "member"
rule = { kind = "votes", per_work_per_day = 5 }
awards = [{ name = "一等奖", count = 1 }, { name = "二等奖", count = 2 }]
link_hosts = ["weixin.qq.com"]
self_vote = false

[[metrics]]
key = "offline"
name = "线下活动"
source = "reported"
window = "activity"
"#;
    let path = dir.join("mini.toml");
    std::fs::write(&path, toml).unwrap();
    path
}

#[derive(Debug)]
pub struct Harness {
    pub conversation: Conversation,
    /// The store as the conversation sees it.
    pub store: Arc<dyn Store>,
    /// The same store, for what only the bot's plumbing does (groups, the push queue).
    memory: Arc<MemoryStore>,
    pub clock: Arc<FixedClock>,
    /// The mini campaign's files (empty for the shipped campaign).
    _dir: TempDir,
}

impl Harness {
    /// The shipped 黑龙江 campaign at 2022-08-10 09:00 (活动开展阶段).
    pub async fn shipped() -> Self {
        let dir = tempfile::tempdir().unwrap();
        Self::build(dir, &shipped_campaign()).await
    }

    /// A campaign shipped in `deploy/campaigns/` (`"loudi-2022"`), same time.
    pub async fn bundled(name: &str) -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path =
            Path::new(env!("CARGO_MANIFEST_DIR")).join(format!("../deploy/campaigns/{name}.toml"));
        Self::build(dir, &path).await
    }

    /// The shipped 临汾 2020 campaign (no tracks) on 2020-07-06 09:00 (活动推进).
    pub async fn linfen() -> Self {
        let h = Self::bundled("linfen-2020").await;
        h.set_time("2020-07-06T09:00:00+08:00");
        h
    }

    /// The small campaign of `write_mini_campaign`, same time.
    pub async fn mini() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let path = write_mini_campaign(dir.path());
        Self::build(dir, &path).await
    }

    /// A harness on the campaign at `campaign_path`; `dir` holds its files while it lives.
    pub async fn build(dir: TempDir, campaign_path: &Path) -> Self {
        let campaign = match load_campaign(campaign_path) {
            Ok(c) => Arc::new(c),
            Err(e) => panic!("campaign does not load: {:?}", e.problems),
        };
        let memory = Arc::new(MemoryStore::new());
        let store: Arc<dyn Store> = memory.clone();
        let clock = Arc::new(FixedClock::new(at("2022-08-10T09:00:00+08:00")));
        let roles = Roles {
            organizers: vec![ORGANIZER.to_string()],
            reviewers: vec![REVIEWER.to_string()],
        };
        let conversation = Conversation::new(
            campaign.clone(),
            store.clone(),
            clock.clone(),
            Arc::new(Privacy::for_development()),
            roles,
        )
        .with_bot_names(vec!["rallybot".to_string()]);
        Self {
            conversation,
            store,
            memory,
            clock,
            _dir: dir,
        }
    }

    pub fn set_time(&self, local: &str) {
        self.clock.set(at(local));
    }

    /// Says `text` as a new message (a callback key of its own).
    pub async fn say(&self, kind: ChatKind, chat: &str, user: &str, text: &str) -> Reply {
        let key = format!("msg/{}", NEXT_MESSAGE.fetch_add(1, Ordering::Relaxed));
        self.say_again(kind, chat, user, text, &key).await
    }

    /// Says `text` under a given callback key: the same key again is WeCom's retry of it.
    pub async fn say_again(
        &self,
        kind: ChatKind,
        chat: &str,
        user: &str,
        text: &str,
        callback_key: &str,
    ) -> Reply {
        self.conversation
            .handle(&Inbound {
                chat_kind: kind,
                chat_id: chat.to_string(),
                user: user.to_string(),
                text: text.to_string(),
                callback_key: callback_key.to_string(),
            })
            .await
    }

    /// Says `text` in the user's private chat; returns the reply text.
    pub async fn private(&self, user: &str, text: &str) -> String {
        let reply = self.say(ChatKind::Private, user, user, text).await;
        assert!(!reply.mention_sender, "private replies mention nobody");
        reply.text
    }

    /// Says `text` in group `chat`, @-mentioning the bot; returns the reply text.
    pub async fn group(&self, chat: &str, user: &str, text: &str) -> String {
        let reply = self
            .say(ChatKind::Group, chat, user, &format!("@rallybot {text}"))
            .await;
        assert!(reply.mention_sender, "group replies mention the sender");
        reply.text
    }

    /// Registers test person `n` as `user` in union `union` with the one-line form.
    pub async fn register(&self, user: &str, n: u32, name: &str, union: &str) {
        let summary = self
            .private(
                user,
                &format!("注册 {name} {} {} {union}", id_number(n), phone(n)),
            )
            .await;
        assert!(summary.contains("确认"), "{summary}");
        let done = self.private(user, "确认").await;
        assert!(done.contains("登记成功"), "{done}");
    }

    /// Submits a link as `user` and has the reviewer approve it; returns the entry code.
    pub async fn approved_entry(&self, user: &str, track: &str, link: &str) -> String {
        let reply = self
            .private(user, &format!("提交 {track} {link} 测试作品"))
            .await;
        let code = entry_code_in(&reply).unwrap_or_else(|| panic!("no entry code in: {reply}"));
        let review = self.private(REVIEWER, &format!("审核 {code} 通过")).await;
        assert!(review.contains("已通过"), "{review}");
        code
    }

    /// The state of `user`'s private dialogue while one is open: `None` when there never was
    /// one or it is over (a finished dialogue is kept only to answer retries of its last step).
    pub async fn open_dialogue(&self, user: &str) -> Option<String> {
        let record = self.store.dialogue(user, user).await.unwrap()?;
        (!record.state.contains("\"closed\"")).then_some(record.state)
    }

    pub async fn audit(&self) -> Vec<AuditEvent> {
        self.store
            .audit_log(0, 1000)
            .await
            .unwrap()
            .into_iter()
            .map(|(_, e)| e)
            .collect()
    }

    /// The queued pushes, most recent first.
    pub async fn pushes(&self) -> Vec<NewPush> {
        let mut pushes = self.memory.pushes().unwrap();
        pushes.reverse();
        pushes
    }

    /// A group the bot knows, as if learned from a robot callback.
    pub async fn add_group(&self, chat_id: &str, name: &str) {
        self.memory
            .add_group(&GroupRecord {
                chat_id: chat_id.to_string(),
                name: name.to_string(),
                webhook_url: format!("http://127.0.0.1:9/cgi-bin/webhook/send?key={chat_id}"),
                union_code: None,
                learned_at: self.clock_now(),
            })
            .unwrap();
    }

    pub fn clock_now(&self) -> DateTime<Utc> {
        use rallybot_handlers::clock::Clock;
        self.clock.now()
    }
}

/// The first entry code (`A0017`) in a reply.
pub fn entry_code_in(text: &str) -> Option<String> {
    let chars: Vec<char> = text.chars().collect();
    (0..chars.len()).find_map(|i| {
        let starts =
            chars[i].is_ascii_uppercase() && (i == 0 || !chars[i - 1].is_ascii_alphanumeric());
        if !starts {
            return None;
        }
        let digits: String = chars[i + 1..]
            .iter()
            .take_while(|c| c.is_ascii_digit())
            .collect();
        (digits.len() == 4).then(|| format!("{}{digits}", chars[i]))
    })
}
