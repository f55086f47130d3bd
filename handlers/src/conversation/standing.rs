//! Standings: `排名` (my place, award zone and the gap to the next zone, per track) and `榜单`
//! (top N with award zones).

use std::collections::HashMap;

use chrono::{DateTime, Utc};

use super::flags::doubtful_note;
use super::text::{fit, titled, track_name, whole};
use super::{Answer, Conversation, Turn};
use crate::campaign::{EntrantKind, Track};
use crate::command::TOP_DEFAULT;
use crate::results;
use crate::scoring::{award_for_place, award_zones, next_better_zone, points_to_overtake, RankKey};
use crate::store::{Ranked, SnapshotHead, StandingAsk, StoreError};

/// Entries per track when `榜单` lists every track at once.
const OVERVIEW_PER_TRACK: u32 = 3;

impl Conversation {
    /// Who the caller competes as in a track: themselves, or their union in unit tracks.
    fn entrant_for(&self, turn: &Turn<'_>, track: &Track) -> Option<(EntrantKind, String)> {
        let caller = &turn.caller;
        match track.entrant {
            EntrantKind::Member => caller
                .member
                .as_ref()
                .map(|m| (EntrantKind::Member, m.userid.clone())),
            EntrantKind::Unit => caller
                .officer_union
                .clone()
                .or_else(|| caller.member.as_ref().map(|m| m.union_code.clone()))
                .map(|union| (EntrantKind::Unit, union)),
        }
    }

    pub(super) async fn rank(&self, turn: &Turn<'_>, query: Option<&str>) -> Answer {
        if turn.caller.member.is_none() && turn.caller.officer_union.is_none() {
            return Ok(self.register_first());
        }
        let tracks: Vec<&Track> = match query {
            Some(q) => match self.find_track(q) {
                Ok(track) => vec![track],
                Err(reply) => return Ok(reply),
            },
            None => self.campaign.tracks.iter().collect(),
        };
        let explicit = query.is_some();
        let entrants: Vec<(&Track, Option<(EntrantKind, String)>)> = tracks
            .into_iter()
            .map(|track| (track, self.entrant_for(turn, track)))
            .collect();
        // One round trip for every track.
        let asks: Vec<StandingAsk> = entrants
            .iter()
            .filter_map(|(track, who)| {
                let (kind, entrant) = who.as_ref()?;
                Some(standing_ask(track, *kind, entrant))
            })
            .collect();
        let mut standings = if asks.is_empty() {
            Vec::new()
        } else {
            self.store.standings(&asks).await?
        }
        .into_iter();
        let mut lines = Vec::new();
        for (track, who) in entrants {
            let Some((kind, entrant)) = who else {
                if explicit {
                    lines.push(format!(
                        "{}：你还没有实名登记，发送「注册」后参加。",
                        track_name(track)
                    ));
                }
                continue;
            };
            let Some(standing) = standings.next() else {
                return Err(StoreError::Backend(
                    "standings answered fewer entrants than asked".to_string(),
                ));
            };
            let whose = match kind {
                EntrantKind::Member => String::new(),
                EntrantKind::Unit => format!("{}：", self.union_name(&entrant)),
            };
            match &standing.ranked {
                Some(ranked) => {
                    let line = rank_line(turn, track, ranked, standing.ahead.as_ref());
                    let code = std::slice::from_ref(&ranked.entry.code);
                    let doubtful = self.doubtful_of(code, None).await?;
                    let note = doubtful_note(doubtful.get(&ranked.entry.code));
                    lines.push(format!("{}{whose}{line}{note}", track_name(track)));
                }
                None if explicit => lines.push(format!(
                    "{}{whose}还没有通过审核的作品。",
                    track_name(track)
                )),
                None => {}
            }
        }
        if lines.is_empty() {
            return Ok(
                "你还没有通过审核的作品，暂无排名。发送「帮助 提交」看看怎么参加。".to_string(),
            );
        }
        Ok(fit("我的排名：", &lines, |n| {
            format!("…另有 {n} 个赛道")
        }))
    }

    /// `榜单`: one page of a track's standings, whole (a long one continues over several
    /// messages), or the top of every track when none is named.
    pub(super) async fn top(
        &self,
        turn: &Turn<'_>,
        query: Option<&str>,
        n: Option<u32>,
        page: u32,
    ) -> Answer {
        let now = turn.now;
        let track = match (query, self.campaign.tracks.as_slice()) {
            (Some(q), _) => match self.find_track(q) {
                Ok(track) => track,
                Err(reply) => return Ok(reply),
            },
            (None, [only]) => only,
            (None, []) => return Ok("本次活动没有设置赛道。".to_string()),
            (None, _) => return self.top_overview(n, page, now).await,
        };
        let n = n.unwrap_or(TOP_DEFAULT);
        let Some(shown) = self.top_page(track, n, page, now).await? else {
            let empty = format!("{}还没有通过审核的作品。", track_name(track));
            // A late change can leave a frozen version with no entry at all: say which.
            let frozen =
                results::frozen_now(self.store.as_ref(), &self.campaign, &track.key, now).await?;
            return Ok(match frozen {
                Some(head) => format!("{empty}{}", self.frozen_note(&head)),
                None => empty,
            });
        };
        if shown.rows.is_empty() {
            return Ok(format!(
                "{}榜单共 {} 名，没有第 {page} 页。发送「榜单 {}」从第 1 名看起。",
                track_name(track),
                shown.total_seen,
                track.code_prefix
            ));
        }
        let doubtful = self.page_doubtful(&shown).await?;
        let mut lines = self.top_lines(track, &shown.rows, &doubtful).await?;
        if shown.more {
            lines.push(next_page_hint(track, n, page));
        }
        if let Some(frozen) = &shown.frozen {
            lines.push(self.frozen_note(frozen));
        }
        let (first, last) = shown.places();
        if shown.frozen.is_none() {
            self.offer_top_card(turn, track, first).await?;
        }
        let header = if page == 1 {
            format!("{}榜单（前 {last}）：", track_name(track))
        } else {
            format!("{}榜单（第 {first}–{last} 名）：", track_name(track))
        };
        Ok(whole(&header, &lines))
    }

    /// Page `page` (from 1) of `n` entries of a track; `None` when the track has no ranked
    /// entry at all.
    /// Once voting is closed and the track's results are frozen, the page comes from the
    /// latest snapshot, not the live ranking.
    pub(super) async fn top_page(
        &self,
        track: &Track,
        n: u32,
        page: u32,
        now: DateTime<Utc>,
    ) -> Result<Option<Page>, StoreError> {
        let skip = n.saturating_mul(page.saturating_sub(1));
        // One more than the page, to know whether another page follows.
        let wanted = skip.saturating_add(n).saturating_add(1);
        let frozen =
            results::frozen_now(self.store.as_ref(), &self.campaign, &track.key, now).await?;
        let ranked = match &frozen {
            Some(head) => self.store.frozen_ranking(head.id, Some(wanted)).await?,
            None => self.store.top(&track.key, wanted).await?,
        };
        if ranked.is_empty() {
            return Ok(None);
        }
        let total_seen = ranked.len();
        let more = ranked.len() > (skip as usize).saturating_add(n as usize);
        let rows = ranked
            .into_iter()
            .skip(skip as usize)
            .take(n as usize)
            .collect();
        Ok(Some(Page {
            rows,
            more,
            total_seen,
            frozen,
        }))
    }

    /// `结果已于 6月30日 24:00 投票截止时冻结（快照 #3，第 1 版）。`
    fn frozen_note(&self, head: &SnapshotHead) -> String {
        let close = head.cutoff.with_timezone(&self.campaign.timezone);
        format!(
            "结果已于 {} 投票截止时冻结（快照 #{}，第 {} 版）。",
            close.format("%-m月%-d日 %H:%M"),
            head.id,
            head.version
        )
    }

    /// The rows of a page with the award zone each begins, and the zone a page starts inside.
    async fn top_lines(
        &self,
        track: &Track,
        rows: &[Ranked],
        doubtful: &HashMap<String, i64>,
    ) -> Result<Vec<String>, StoreError> {
        let zones = award_zones(&track.awards);
        let past_awards = zones.last().map(|z| z.last_place + 1);
        let mut lines = Vec::new();
        for (i, r) in rows.iter().enumerate() {
            let zone = zones
                .iter()
                .find(|z| (z.first_place..=z.last_place).contains(&r.place));
            match zone {
                Some(zone) if zone.first_place == r.place || i == 0 => lines.push(format!(
                    "【{}】第 {}–{} 名",
                    zone.tier.name, zone.first_place, zone.last_place
                )),
                None if past_awards == Some(r.place) || (i == 0 && past_awards.is_some()) => {
                    lines.push("【其他】".to_string());
                }
                _ => {}
            }
            lines.push(self.top_line(track, r, doubtful).await?);
        }
        Ok(lines)
    }

    /// `榜单` with no track: the top `n` (default 3) of every track.
    async fn top_overview(&self, n: Option<u32>, page: u32, now: DateTime<Utc>) -> Answer {
        let n = n.unwrap_or(OVERVIEW_PER_TRACK);
        let mut lines = Vec::new();
        let mut more = false;
        for track in &self.campaign.tracks {
            lines.push(track_name(track));
            match self.top_page(track, n, page, now).await? {
                Some(shown) if !shown.rows.is_empty() => {
                    more |= shown.more;
                    let doubtful = self.page_doubtful(&shown).await?;
                    if let Some(frozen) = &shown.frozen {
                        lines.push(format!("  {}", self.frozen_note(frozen)));
                    }
                    for r in &shown.rows {
                        lines.push(format!("  {}", self.top_line(track, r, &doubtful).await?));
                    }
                }
                _ => lines.push("  暂无作品".to_string()),
            }
        }
        if more {
            lines.push(format!(
                "发送「榜单 {n} 第{}页」看各赛道接下来的 {n} 名。",
                page + 1
            ));
        }
        lines.push("发送「榜单 赛道 N」查看某个赛道的前 N 名，例如「榜单 A 20」。".to_string());
        let from = n.saturating_mul(page - 1) + 1;
        let header = if page == 1 {
            format!("各赛道前 {n} 名：")
        } else {
            format!("各赛道第 {from}–{} 名：", from + n - 1)
        };
        Ok(whole(&header, &lines))
    }

    /// The 疑 counts of a page's entries (as frozen, once results are).
    async fn page_doubtful(&self, page: &Page) -> Result<HashMap<String, i64>, StoreError> {
        let codes: Vec<String> = page.rows.iter().map(|r| r.entry.code.clone()).collect();
        self.doubtful_of(&codes, page.frozen.as_ref().map(|head| head.id))
            .await
    }

    /// `1. A0017 张三《标题》 35 票（另有疑票 4）`: with the entrant's name, or the union for
    /// unit tracks, and the gives held as 疑 apart from the score.
    async fn top_line(
        &self,
        track: &Track,
        r: &Ranked,
        doubtful: &HashMap<String, i64>,
    ) -> Result<String, StoreError> {
        let entry = &r.entry;
        let who = self.entrant_name(r).await?;
        Ok(format!(
            "{}. {} {who}{} {} {}{}",
            r.place,
            entry.code,
            titled(entry, 10),
            entry.score,
            track.rule.unit(),
            doubtful_note(doubtful.get(&entry.code))
        ))
    }
}

/// One page of a track's standings.
pub(super) struct Page {
    pub rows: Vec<Ranked>,
    /// Whether more entries follow the page.
    pub more: bool,
    /// How many ranked entries were read (all there are when `more` is false).
    pub total_seen: usize,
    /// The snapshot the page was read from, once results are frozen.
    pub frozen: Option<SnapshotHead>,
}

impl Page {
    fn places(&self) -> (u64, u64) {
        let place = |r: Option<&Ranked>| r.map_or(0, |r| r.place);
        (place(self.rows.first()), place(self.rows.last()))
    }
}

/// `发送「榜单 A 第2页」查看第 11–20 名。`
fn next_page_hint(track: &Track, n: u32, page: u32) -> String {
    let from = n.saturating_mul(page) + 1;
    let count = if n == TOP_DEFAULT {
        String::new()
    } else {
        format!(" {n}")
    };
    format!(
        "发送「榜单 {}{count} 第{}页」查看第 {from}–{} 名。",
        track.code_prefix,
        page + 1,
        from + n - 1
    )
}

/// The caller's place in `track`, and who holds the last place of the next better award zone:
/// that is the nearest zone end ahead of the caller.
fn standing_ask(track: &Track, kind: EntrantKind, entrant: &str) -> StandingAsk {
    StandingAsk {
        track: track.key.clone(),
        kind,
        entrant: entrant.to_string(),
        marks: award_zones(&track.awards)
            .iter()
            .map(|zone| u32::try_from(zone.last_place).unwrap_or(u32::MAX))
            .collect(),
    }
}

/// `第 12 名（A0017，35 票），二等奖区间；距一等奖还差 7 票`, `ahead` being the entry at the
/// last place of the next better zone.
fn rank_line(turn: &Turn<'_>, track: &Track, ranked: &Ranked, ahead: Option<&Ranked>) -> String {
    let unit = track.rule.unit();
    let entry = &ranked.entry;
    let mut line = format!(
        "第 {} 名（{}，{} {unit}）",
        ranked.place, entry.code, entry.score
    );
    match award_for_place(&track.awards, ranked.place) {
        Some(tier) => line.push_str(&format!("，{}区间", tier.name)),
        None if !track.awards.is_empty() => line.push_str("，暂未进入获奖区间"),
        None => {}
    }
    let Some(zone) = next_better_zone(&track.awards, ranked.place) else {
        if ranked.place == 1 {
            line.push_str("，暂列第一！");
        }
        return line;
    };
    if let Some(other) = ahead.filter(|r| r.place == zone.last_place) {
        let gap = points_to_overtake(
            entry.score,
            &entry.code,
            RankKey::of(&other.entry),
            turn.now,
        );
        line.push_str(&format!(
            "；距{}（前 {} 名）还差 {gap} {unit}",
            zone.tier.name, zone.last_place
        ));
    }
    line
}
