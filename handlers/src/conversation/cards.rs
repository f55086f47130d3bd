//! Tap to vote: `看看 <赛道> [页]` answers with a page of a track's approved entries as a card
//! with one vote (or like) button per entry, and a click on a button is counted through the
//! same `give` as `投票`/`点赞`, then answered with that page again, updated for the voter.
//!
//! The card here says what to show, not how WeCom spells it: the bot turns it into a
//! `button_interaction` template card where the surface has cards, and sends `Reply::text`
//! where it has none.

use chrono::{DateTime, Utc};
use sha2::{Digest, Sha256};

use super::text::{short, titled, track_name, whole};
use super::{Conversation, Inbound, Notes, Reply, Turn, BUSY};
use crate::campaign::{EntrantKind, Opening, Rule, Track};
use crate::command::CommandKind;
use crate::identity::EntryCode;
use crate::store::{DailyLimit, GiveOutcome, Ranked, StoreError};

/// WeCom shows at most six buttons on a button card: one page holds one entry per button.
pub const CARD_MAX_BUTTONS: usize = 6;
/// WeCom's limit on a card's `task_id`.
pub const TASK_ID_MAX_BYTES: usize = 128;

/// A card to show: a title, one row per entry, one button per entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Card {
    /// Unique per card sent (WeCom: at most 128 bytes of letters, digits and `_-@`); a click
    /// carries it back, and the card's update keeps it.
    pub task_id: String,
    pub title: String,
    /// Under the title: the track's daily limit, or what the last click did.
    pub desc: String,
    pub rows: Vec<CardRow>,
    pub buttons: Vec<CardButton>,
    /// Below the rows: why a click was not counted, or how to see the next page.
    pub note: String,
    /// Shown beside the answer's text (`榜单`: the standings, then a card to vote from)
    /// rather than instead of it (`看看`: the card says it all).
    pub with_text: bool,
}

/// One entry on a card: its code, and who made it with its score.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardRow {
    pub key: String,
    pub value: String,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardButton {
    pub text: String,
    /// What a click sends back ([`ButtonKey`]).
    pub key: String,
}

/// What a button asks for: `vote:A0017:2` gives A0017 one vote, from page 2 of its track.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ButtonKey {
    /// `Vote` or `Like`.
    pub kind: CommandKind,
    pub code: EntryCode,
    pub page: u32,
}

impl ButtonKey {
    pub fn encode(&self) -> String {
        let verb = if self.kind == CommandKind::Like {
            "like"
        } else {
            "vote"
        };
        format!("{verb}:{}:{}", self.code, self.page)
    }

    /// Reads a key this bot put on a button; `None` for anything else.
    pub fn parse(key: &str) -> Option<ButtonKey> {
        let mut parts = key.trim().splitn(3, ':');
        let kind = match parts.next()? {
            "vote" => CommandKind::Vote,
            "like" => CommandKind::Like,
            _ => return None,
        };
        let code = EntryCode::parse(parts.next()?).ok()?;
        let page = parts.next()?.parse::<u32>().ok().filter(|p| *p >= 1)?;
        Some(ButtonKey { kind, code, page })
    }
}

/// The command a track's buttons stand for: votes and likes can be tapped; views must open the
/// link and points come from reading, so those tracks are browsed as text.
fn button_kind(rule: &Rule) -> Option<CommandKind> {
    match rule {
        Rule::Votes { .. } => Some(CommandKind::Vote),
        Rule::Likes { .. } => Some(CommandKind::Like),
        Rule::Views { .. } | Rule::Points { .. } => None,
    }
}

/// A task id for the card answering `callback_key`: the same for WeCom's retries of one
/// message, different for every other message, and only of the characters WeCom allows.
pub fn task_id(prefix: &str, page: u32, callback_key: &str) -> String {
    let digest = Sha256::digest(callback_key.as_bytes());
    let prefix: String = prefix
        .chars()
        .filter(char::is_ascii_alphanumeric)
        .take(16)
        .collect();
    format!("look-{prefix}-{page}-{}", hex::encode(&digest[..12]))
}

/// One page of a track, as text and (where buttons make sense) as a card.
struct Shown {
    text: String,
    card: Option<Card>,
}

impl Conversation {
    /// `看看 [赛道] [页]`. The card, when there is one, goes out through the turn.
    pub(super) async fn browse(
        &self,
        turn: &Turn<'_>,
        query: Option<&str>,
        page: u32,
    ) -> Result<String, StoreError> {
        let track = match (query, self.campaign.tracks.as_slice()) {
            (Some(q), _) => match self.find_track(q) {
                Ok(track) => track,
                Err(reply) => return Ok(reply),
            },
            (None, [only]) => only,
            (None, _) => {
                return Ok(format!(
                    "请写明看哪个赛道，例如「看看 {}」。赛道：\n{}",
                    self.campaign
                        .tracks
                        .first()
                        .map_or("A", |t| t.code_prefix.as_str()),
                    super::text::track_choices(&self.campaign.tracks)
                ))
            }
        };
        let task = task_id(&track.code_prefix, page, &turn.msg.callback_key);
        let shown = self.page_card(track, page, turn.now, task).await?;
        if let Some(card) = shown.card {
            turn.offer_card(card);
        }
        Ok(shown.text)
    }

    /// Page `page` of `track` with a button per entry while voting is open.
    async fn page_card(
        &self,
        track: &Track,
        page: u32,
        now: DateTime<Utc>,
        task_id: String,
    ) -> Result<Shown, StoreError> {
        let per_page = CARD_MAX_BUTTONS as u32;
        let Some(shown) = self.top_page(track, per_page, page, now).await? else {
            return Ok(Shown {
                text: format!("{}还没有通过审核的作品。", track_name(track)),
                card: None,
            });
        };
        if shown.rows.is_empty() {
            return Ok(Shown {
                text: format!(
                    "{}共 {} 件作品，没有第 {page} 页。发送「看看 {}」从第 1 页看起。",
                    track_name(track),
                    shown.total_seen,
                    track.code_prefix
                ),
                card: None,
            });
        }
        let unit = track.rule.unit();
        let mut rows = Vec::new();
        for ranked in &shown.rows {
            rows.push(CardRow {
                key: ranked.entry.code.clone(),
                value: format!(
                    "{}{} {} {unit}",
                    self.entrant_name(ranked).await?,
                    titled(&ranked.entry, 10),
                    ranked.entry.score
                ),
            });
        }
        let next = shown
            .more
            .then(|| format!("发送「看看 {} {}」看下一页。", track.code_prefix, page + 1));
        let kind = button_kind(&track.rule).filter(|_| self.campaign.is_open(Opening::Vote, now));
        let mut lines: Vec<String> = shown
            .rows
            .iter()
            .zip(&rows)
            .map(|(r, row)| format!("{}. {} {}", r.place, row.key, row.value))
            .collect();
        let how = match kind {
            Some(kind) => format!(
                "发送「{} 作品号」{}，例如「{} {}」。",
                kind.word(),
                kind.word(),
                kind.word(),
                rows[0].key
            ),
            None => String::new(),
        };
        lines.extend([how, next.clone().unwrap_or_default()]);
        lines.retain(|l| !l.is_empty());
        let header = format!("{} 第 {page} 页：", track_name(track));
        let text = whole(&header, &lines);
        let Some(kind) = kind else {
            return Ok(Shown { text, card: None });
        };
        let buttons = shown
            .rows
            .iter()
            .filter_map(|r| {
                let key = ButtonKey {
                    kind,
                    code: EntryCode::parse(&r.entry.code).ok()?,
                    page,
                };
                Some(CardButton {
                    text: format!(
                        "{} {}",
                        if kind == CommandKind::Like {
                            "赞"
                        } else {
                            "投"
                        },
                        r.entry.code
                    ),
                    key: key.encode(),
                })
            })
            .collect();
        let card = Card {
            task_id,
            title: short(&format!("{} 第 {page} 页", track_name(track)), 26),
            desc: limit_line(&track.rule),
            rows,
            buttons,
            note: next.unwrap_or_default(),
            with_text: false,
        };
        Ok(Shown {
            text,
            card: Some(card),
        })
    }

    /// `榜单` of one track offers, beside its text, a card of the `看看` page that starts its
    /// page's first place, to vote from.
    pub(super) async fn offer_top_card(
        &self,
        turn: &Turn<'_>,
        track: &Track,
        first_place: u64,
    ) -> Result<(), StoreError> {
        if button_kind(&track.rule).is_none() || !self.campaign.is_open(Opening::Vote, turn.now) {
            return Ok(());
        }
        let per_page = CARD_MAX_BUTTONS as u64;
        let page = u32::try_from(first_place.saturating_sub(1) / per_page + 1).unwrap_or(1);
        let task = task_id(&track.code_prefix, page, &turn.msg.callback_key);
        if let Some(mut card) = self.page_card(track, page, turn.now, task).await?.card {
            card.with_text = true;
            turn.offer_card(card);
        }
        Ok(())
    }

    /// The entrant's name: the member's, or the union's in unit tracks.
    pub(super) async fn entrant_name(&self, ranked: &Ranked) -> Result<String, StoreError> {
        let entry = &ranked.entry;
        Ok(match entry.entrant_kind {
            EntrantKind::Unit => self
                .campaign
                .unions
                .get(&entry.entrant_id)
                .map_or_else(|| entry.entrant_id.clone(), |u| u.name.clone()),
            EntrantKind::Member => self
                .store
                .member(&entry.entrant_id)
                .await?
                .map(|m| m.name)
                .unwrap_or_default(),
        })
    }

    /// A click on a card button (`msg.text` is the button's key, `task_id` the card's): counted
    /// exactly as `投票 <作品号>` / `点赞 <作品号>` would be, then answered with the card's page
    /// again for this voter, saying what the click did. Never fails: problems become the
    /// card's note, or the text when there is no card to show.
    pub async fn click(&self, msg: &Inbound, task_id: &str) -> Reply {
        let now = self.clock.now();
        let notes = Notes::default();
        let key = ButtonKey::parse(&msg.text);
        let text = match &key {
            None => Ok("这个按钮已失效。请重新发送「看看 赛道」，在新卡片上投票。".to_string()),
            Some(key) => self.answer_click(msg, key, task_id, now, &notes).await,
        };
        let (text, card) = match text {
            Ok(text) => (
                text,
                notes.card.into_inner().unwrap_or_else(|e| e.into_inner()),
            ),
            Err(error) => {
                tracing::warn!(%error, "store failed while answering a card click");
                (BUSY.to_string(), None)
            }
        };
        Reply {
            text,
            mention_sender: false,
            command: key.map(|k| k.kind),
            queued_pushes: notes.queued_pushes.into_inner(),
            card,
        }
    }

    async fn answer_click(
        &self,
        msg: &Inbound,
        key: &ButtonKey,
        task_id: &str,
        now: DateTime<Utc>,
        notes: &Notes,
    ) -> Result<String, StoreError> {
        let turn = self.turn(msg, now, notes).await?;
        let answer = self.give(&turn, key.kind, &key.code, 1).await?;
        let given = turn.given();
        let Some(track) = self.campaign.track_of_code(key.code.as_str()) else {
            return Ok(answer);
        };
        let (desc, note, text) = match given {
            Some(outcome) if outcome.granted > 0 => {
                let status = counted_status(key, track, &outcome);
                (status.clone(), String::new(), status)
            }
            _ => ("未计入".to_string(), short(&answer, 100), answer),
        };
        let mut shown = self
            .page_card(track, key.page, now, task_id.to_string())
            .await?;
        if let Some(card) = &mut shown.card {
            card.desc = desc;
            if !note.is_empty() {
                card.note = note;
            }
        }
        if let Some(card) = shown.card {
            turn.offer_card(card);
        }
        Ok(text)
    }
}

/// `已投 A0017 · 今日还可投 4 票`, or for likes `已赞 B0003 · 今日还可点赞 2 次`.
fn counted_status(key: &ButtonKey, track: &Track, outcome: &GiveOutcome) -> String {
    let (cap, per_work) = match track.rule.daily_limit() {
        Some(DailyLimit::PerWorkPerDay(n)) => (n, true),
        Some(DailyLimit::PerMemberPerDay(n)) => (n, false),
        None => (0, false),
    };
    let left = cap.saturating_sub(outcome.used_today);
    match (key.kind, per_work) {
        (CommandKind::Like, _) => format!("已赞 {} · 今日还可点赞 {left} 次", key.code),
        (_, true) => format!("已投 {} · 今日还可投它 {left} 票", key.code),
        (_, false) => format!("已投 {} · 今日还可投 {left} 票", key.code),
    }
}

/// `每件作品每人每天最多 5 票` under a card's title.
fn limit_line(rule: &Rule) -> String {
    match rule {
        Rule::Votes { per_work_per_day } => format!("每件作品每人每天最多 {per_work_per_day} 票"),
        Rule::Likes { per_member_per_day } => format!("每人每天共 {per_member_per_day} 次点赞"),
        Rule::Views { .. } | Rule::Points { .. } => String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn button_keys_round_trip() {
        let key = ButtonKey {
            kind: CommandKind::Like,
            code: EntryCode::parse("b3").unwrap(),
            page: 2,
        };
        assert_eq!(key.encode(), "like:B0003:2");
        assert_eq!(ButtonKey::parse(&key.encode()), Some(key));
        for bad in ["", "vote", "vote:A1", "vote:A1:0", "give:A1:1", "vote:!!:1"] {
            assert_eq!(ButtonKey::parse(bad), None, "{bad}");
        }
    }

    #[test]
    fn task_ids_fit_wecom_and_follow_the_message() {
        let a = task_id("A", 1, "app:msg:1");
        assert_eq!(a, task_id("A", 1, "app:msg:1"));
        assert_ne!(a, task_id("A", 1, "app:msg:2"));
        let long = task_id(&"长X".repeat(100), 200, &"k".repeat(5000));
        assert!(long.len() <= TASK_ID_MAX_BYTES);
        assert!(long
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "_-@".contains(c)));
    }
}
