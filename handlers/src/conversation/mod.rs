//! The conversation: one inbound chat message in, one reply out, with roles, stages and the
//! privacy rule applied. `Conversation::handle` is the only entry point the bot calls; its
//! `Reply` also says which command the message was read as and whether pushes were queued.

mod broadcast;
pub mod cards;
mod dialogue;
mod entries;
mod exports;
mod flags;
mod giving;
mod help;
mod progress;
mod register;
mod stage;
mod standing;
pub mod text;

pub use cards::{ButtonKey, Card, CardButton, CardRow};
pub use stage::{openings_text, stage_lines};

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use chrono::{DateTime, Utc};

use crate::campaign::Campaign;
use crate::clock::Clock;
use crate::command::{self, Command, CommandKind, ParseError};
use crate::fair_play::Watch;
use crate::identity::contains_personal_number;
use crate::privacy::Privacy;
use crate::store::{AuditEvent, GiveOutcome, MemberRecord, NewPush, Store, StoreError};

use dialogue::{DialogueState, Loaded};

/// Who may review and organize, from config `[roles]`. Organizers are reviewers too.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Roles {
    pub organizers: Vec<String>,
    pub reviewers: Vec<String>,
}

/// Where a message was said.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChatKind {
    /// A 1:1 chat with the app or the bot.
    Private,
    /// A group chat; only @-mentions reach the bot.
    Group,
}

/// One message to the bot, as the surfaces hand it over.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Inbound {
    pub chat_kind: ChatKind,
    /// The group's chat id, or for private chats an id of the 1:1 chat (the userid will do).
    pub chat_id: String,
    /// The sender's WeCom userid.
    pub user: String,
    /// What they wrote, @-mention included.
    pub text: String,
    /// What identifies this message across WeCom's retries (its msgid, or the key of an
    /// event): every write the answer makes is made once per key, so answering a retry again
    /// is safe (see `store`).
    pub callback_key: String,
}

/// The bot's answer, with what the endpoint that carried the message needs to know of the turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reply {
    pub text: String,
    /// In groups the reply @-mentions the sender.
    pub mention_sender: bool,
    /// The command the message was read as (also when its arguments were wrong); `None` when it
    /// was no command. Read from the same parse that chose the answer.
    pub command: Option<CommandKind>,
    /// Whether answering queued pushes (a review result, a broadcast): the push sender should
    /// look at the outbox now rather than at its next poll.
    pub queued_pushes: bool,
    /// The answer as a card, where the surface shows cards (`看看`); `text` says the same for
    /// surfaces without. Answering a click, the card replaces the clicked one for the clicker.
    pub card: Option<Card>,
}

impl Reply {
    /// The command's name for request logs and metrics (see [`command::label`]).
    pub fn command_label(&self) -> &'static str {
        command::label(self.command)
    }
}

/// The reply when the store fails: the worker can simply try again.
pub const BUSY: &str = "系统繁忙，请稍后再试。";

/// The group privacy warning. It never repeats what was written.
pub const PRIVACY_WARNING: &str = "为保护个人信息，请不要在群里发送身份证号、手机号等登记信息。\
请在企业微信「工作台」打开本活动应用（或点我的头像发起私聊），在私聊中发送「注册」完成实名登记。";

/// The campaign's conversation logic, shared by every surface.
#[derive(Debug, Clone)]
pub struct Conversation {
    campaign: Arc<Campaign>,
    store: Arc<dyn Store>,
    clock: Arc<dyn Clock>,
    privacy: Arc<Privacy>,
    roles: Roles,
    /// The bot's own names, stripped from the start of group messages (`@rallybot`).
    bot_names: Vec<String>,
    /// The fair-play checks made as gives arrive, shared by every clone.
    watch: Arc<Watch>,
}

/// What the logic answers, or the store failure that stopped it.
type Answer = Result<String, StoreError>;

/// Everything known about the sender of one message.
#[derive(Debug, Clone)]
pub(crate) struct Caller {
    pub userid: String,
    pub member: Option<MemberRecord>,
    /// The union this user is an officer of (the first one listed).
    pub officer_union: Option<String>,
    pub reviewer: bool,
    pub organizer: bool,
}

/// One message being answered.
#[derive(Debug)]
pub(crate) struct Turn<'a> {
    pub msg: &'a Inbound,
    pub now: DateTime<Utc>,
    pub caller: Caller,
    /// Set by [`Conversation::enqueue`] when a push was newly queued.
    queued_pushes: &'a AtomicBool,
    /// The card the answer offers, if any.
    card: &'a Mutex<Option<Card>>,
    /// What the store granted when this turn gave (`Conversation::give`).
    given: Mutex<Option<GiveOutcome>>,
}

impl Turn<'_> {
    pub fn in_group(&self) -> bool {
        self.msg.chat_kind == ChatKind::Group
    }

    /// Offers the answer as a card too (the text stays the answer where there are no cards).
    pub fn offer_card(&self, card: Card) {
        *self.card.lock().unwrap_or_else(|e| e.into_inner()) = Some(card);
    }

    /// Notes what a give was granted, so a card click can say what it did.
    pub fn note_given(&self, outcome: GiveOutcome) {
        *self.given.lock().unwrap_or_else(|e| e.into_inner()) = Some(outcome);
    }

    pub fn given(&self) -> Option<GiveOutcome> {
        *self.given.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// What a turn learns besides its text while answering, for the `Reply`.
#[derive(Debug, Default)]
struct Notes {
    command: Option<CommandKind>,
    queued_pushes: AtomicBool,
    card: Mutex<Option<Card>>,
}

impl Conversation {
    pub fn new(
        campaign: Arc<Campaign>,
        store: Arc<dyn Store>,
        clock: Arc<dyn Clock>,
        privacy: Arc<Privacy>,
        roles: Roles,
    ) -> Self {
        Self {
            campaign,
            store,
            clock,
            privacy,
            roles,
            bot_names: Vec::new(),
            watch: Arc::new(Watch::default()),
        }
    }

    /// The names users @-mention the bot by, e.g. `["rallybot", "工会小助手"]`.
    pub fn with_bot_names(mut self, names: Vec<String>) -> Self {
        self.bot_names = names;
        self
    }

    pub fn campaign(&self) -> &Campaign {
        &self.campaign
    }

    /// Answers one message. Never fails: problems become polite replies.
    pub async fn handle(&self, msg: &Inbound) -> Reply {
        let now = self.clock.now();
        let mut notes = Notes::default();
        let text = match self.respond(msg, now, &mut notes).await {
            Ok(text) => text,
            Err(error) => {
                // The error text comes from the database driver, never from user input.
                tracing::warn!(%error, chat_kind = ?msg.chat_kind, "store failed while answering");
                BUSY.to_string()
            }
        };
        Reply {
            text,
            mention_sender: msg.chat_kind == ChatKind::Group,
            command: notes.command,
            queued_pushes: notes.queued_pushes.into_inner(),
            card: notes.card.into_inner().unwrap_or_else(|e| e.into_inner()),
        }
    }

    async fn respond(&self, msg: &Inbound, now: DateTime<Utc>, notes: &mut Notes) -> Answer {
        match msg.chat_kind {
            ChatKind::Group => self.respond_in_group(msg, now, notes).await,
            ChatKind::Private => self.respond_in_private(msg, now, notes).await,
        }
    }

    async fn respond_in_group(
        &self,
        msg: &Inbound,
        now: DateTime<Utc>,
        notes: &mut Notes,
    ) -> Answer {
        let parsed = Command::parse(&msg.text, &self.bot_names);
        notes.command = command::kind_of(&parsed);
        // Checked before anything is read or stored: personal data in a group is only warned about.
        if contains_personal_number(&msg.text) {
            return Ok(PRIVACY_WARNING.to_string());
        }
        match &parsed {
            Ok(Command::Register(Some(_))) => return Ok(PRIVACY_WARNING.to_string()),
            Err(ParseError {
                kind: CommandKind::Register,
                ..
            }) => return Ok(PRIVACY_WARNING.to_string()),
            Ok(command) => {
                if let Some(kind) = command.kind() {
                    if kind.spec().private_only {
                        return Ok(help::private_only(kind));
                    }
                }
            }
            Err(_) => {}
        }
        let turn = self.turn(msg, now, notes).await?;
        match parsed {
            Ok(Command::Cancel | Command::Confirm) => Ok(help::nothing_pending()),
            Ok(command) => self.dispatch(&turn, command).await,
            Err(error) => Ok(error.to_string()),
        }
    }

    async fn respond_in_private(
        &self,
        msg: &Inbound,
        now: DateTime<Utc>,
        notes: &mut Notes,
    ) -> Answer {
        let loaded = dialogue::load(&*self.store, msg, now).await?;
        // Inside a dialogue only a command word standing alone counts: an answer such as a union
        // name must not be taken for a command that happens to start it.
        let parsed = match loaded {
            Loaded::Active(_) => Command::parse_strict(&msg.text, &self.bot_names),
            Loaded::Expired | Loaded::None | Loaded::Replay(_) => {
                Command::parse(&msg.text, &self.bot_names)
            }
        };
        notes.command = command::kind_of(&parsed);
        let turn = self.turn(msg, now, notes).await?;
        match loaded {
            Loaded::Replay(reply) => Ok(reply),
            Loaded::Active(state) => self.respond_in_dialogue(&turn, state, parsed).await,
            Loaded::Expired => match parsed {
                Ok(Command::Unknown | Command::Confirm) => Ok(dialogue::expired_reply()),
                Ok(Command::Cancel) => Ok(help::nothing_pending()),
                Ok(command) => self.dispatch(&turn, command).await,
                Err(error) => Ok(error.to_string()),
            },
            Loaded::None => match parsed {
                Ok(Command::Cancel | Command::Confirm) => Ok(help::nothing_pending()),
                Ok(command) => self.dispatch(&turn, command).await,
                Err(error) if self.without_tracks(error.kind) => Ok(help::no_tracks(error.kind)),
                Err(error) => Ok(error.to_string()),
            },
        }
    }

    /// A message while a registration or broadcast dialogue is open: `取消`/`确认` steer it, a
    /// command word standing alone is answered as usual, anything else answers the question.
    async fn respond_in_dialogue(
        &self,
        turn: &Turn<'_>,
        state: DialogueState,
        parsed: Result<Command, ParseError>,
    ) -> Answer {
        match parsed {
            Ok(Command::Cancel) => {
                let reply = match state {
                    DialogueState::Register(_) => "已取消登记，填写的信息没有保存。",
                    DialogueState::Broadcast(_) => "已取消公告，没有发送。",
                    DialogueState::Withdraw(_) => "已取消驳回，作品仍是已通过状态。",
                    DialogueState::Closed => return Ok(help::nothing_pending()),
                };
                dialogue::close(&*self.store, turn.msg, turn.now, reply.to_string()).await
            }
            Ok(Command::Confirm) => match state {
                DialogueState::Register(draft) => self.confirm_registration(turn, draft).await,
                DialogueState::Broadcast(draft) => self.send_broadcast(turn, draft).await,
                DialogueState::Withdraw(draft) => self.confirm_withdraw(turn, draft).await,
                DialogueState::Closed => Ok(help::nothing_pending()),
            },
            Ok(Command::Unknown) => match state {
                DialogueState::Register(draft) => self.registration_answer(turn, draft).await,
                DialogueState::Broadcast(_) => Ok(broadcast::awaiting_confirmation()),
                DialogueState::Withdraw(draft) => Ok(format!(
                    "请回复「确认」驳回作品 {}，或回复「取消」保留它。",
                    draft.code
                )),
                DialogueState::Closed => Ok(help::unknown()),
            },
            Ok(command) => self.dispatch(turn, command).await,
            Err(error) => Ok(error.to_string()),
        }
    }

    async fn turn<'a>(
        &self,
        msg: &'a Inbound,
        now: DateTime<Utc>,
        notes: &'a Notes,
    ) -> Result<Turn<'a>, StoreError> {
        let member = self.store.member(&msg.user).await?;
        let organizer = self.roles.organizers.contains(&msg.user);
        let caller = Caller {
            userid: msg.user.clone(),
            member,
            officer_union: self
                .campaign
                .unions
                .officer_of(&msg.user)
                .next()
                .map(|u| u.code.clone()),
            reviewer: organizer || self.roles.reviewers.contains(&msg.user),
            organizer,
        };
        Ok(Turn {
            msg,
            now,
            caller,
            queued_pushes: &notes.queued_pushes,
            card: &notes.card,
            given: Mutex::new(None),
        })
    }

    /// Whether `kind` is a track command in a campaign that has none.
    fn without_tracks(&self, kind: CommandKind) -> bool {
        self.campaign.tracks.is_empty() && help::needs_tracks(kind)
    }

    async fn dispatch(&self, turn: &Turn<'_>, command: Command) -> Answer {
        if let Some(kind) = command.kind().filter(|k| self.without_tracks(*k)) {
            return Ok(help::no_tracks(kind));
        }
        match command {
            Command::Help { topic, unknown } => Ok(self.help(turn, topic, unknown.as_deref())),
            Command::Register(form) => self.start_registration(turn, form).await,
            Command::Me => self.me(turn).await,
            Command::Submit { track, link, title } => {
                self.submit(turn, &track, &link, title.as_deref()).await
            }
            Command::Vote { code, amount } => {
                self.give(turn, CommandKind::Vote, &code, amount).await
            }
            Command::Like { code } => self.give(turn, CommandKind::Like, &code, 1).await,
            Command::View { code } => self.give(turn, CommandKind::View, &code, 1).await,
            Command::Read { minutes } => self.read(turn, minutes).await,
            Command::Left => self.left(turn).await,
            Command::Rank { track } => self.rank(turn, track.as_deref()).await,
            Command::Top { track, n, page } => self.top(turn, track.as_deref(), n, page).await,
            Command::Browse { track, page } => self.browse(turn, track.as_deref(), page).await,
            Command::Stage => Ok(self.stage(turn.now)),
            Command::Progress { union } => self.progress(turn, union.as_deref()).await,
            Command::Report {
                metric,
                amount,
                note,
            } => self.report(turn, &metric, amount, note.as_deref()).await,
            Command::Review {
                code,
                decision,
                reason,
            } => self.review(turn, &code, decision, reason.as_deref()).await,
            Command::Pending => self.pending(turn).await,
            Command::Broadcast { audience, content } => {
                self.preview_broadcast(turn, audience, &content).await
            }
            Command::Export { kind, track } => self.export(turn, kind, track.as_deref()).await,
            Command::Flags => self.open_flags(turn).await,
            Command::Verify { id, valid, reason } => {
                self.verify(turn, id, valid, reason.as_deref()).await
            }
            // Outside a dialogue there is nothing to cancel or confirm.
            Command::Cancel | Command::Confirm => Ok(help::nothing_pending()),
            Command::Unknown => Ok(help::unknown()),
        }
    }

    /// Queues a push for the sender; a push queued for the first time is noted in the turn's
    /// reply. False when its key was queued before (nothing new to send).
    async fn enqueue(&self, turn: &Turn<'_>, push: &NewPush) -> Result<bool, StoreError> {
        let fresh = self.store.enqueue_push(push).await?;
        if fresh {
            turn.queued_pushes.store(true, Ordering::Relaxed);
        }
        Ok(fresh)
    }

    /// Appends an audit record. A failure here must not undo or hide the change the user made,
    /// so it is logged and the reply goes out as usual.
    async fn audit(&self, turn: &Turn<'_>, action: &str, subject: &str, detail: String) {
        let event = AuditEvent {
            at: turn.now,
            actor: turn.caller.userid.clone(),
            action: action.to_string(),
            subject: subject.to_string(),
            detail,
            callback_key: Some(turn.msg.callback_key.clone()),
        };
        if let Err(error) = self.store.audit(&event).await {
            tracing::warn!(%error, action, "audit record not written");
        }
    }
}
