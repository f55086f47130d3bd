//! The organizers' four exports (SPEC §8, §9) as tables, without any file format: which sheets,
//! which columns with their Chinese headers, which rows in which order, read from the `Store`
//! page by page and handed to a `Sink` (the bot's xlsx and CSV writers, or memory).
//!
//! - `成绩` (results): per track, every approved entry in the order of `榜单`;
//! - `统计表` (quotas): one row per union in the union tree's order, rolled up as `进度` does;
//! - `获奖名单` (winners): everyone inside an award zone, with the full phone number;
//! - `明细` (ledger): every counted give and reading, with a pseudonymous member key.

mod ledger;
mod quotas;
mod results;
pub mod table;
mod winners;

use std::collections::HashMap;

use chrono::NaiveDateTime;
use serde::{Deserialize, Serialize};

use crate::campaign::{Campaign, Rule, Track, TrackMatch};
use crate::privacy::Privacy;
use crate::store::{AuditEvent, MemberRecord, Store, StoreError, Timestamp};
pub use table::{
    Cell, Column, ColumnKind, MemorySheet, MemorySink, Row, SheetHead, Sink, SinkError,
};

/// The `format` of an outbox push that asks the sender to build an export and send it to its
/// recipient as a file; its content is an `ExportRequest` as JSON.
pub const EXPORT_PUSH_FORMAT: &str = "export";

/// Rows read from the store per page (and handed to the sink at once).
pub const PAGE_ROWS: u32 = 5_000;

/// Which export.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ExportKind {
    Results,
    Quotas,
    Winners,
    Ledger,
}

impl ExportKind {
    pub const ALL: [ExportKind; 4] = [
        ExportKind::Winners,
        ExportKind::Quotas,
        ExportKind::Results,
        ExportKind::Ledger,
    ];

    /// The command line's name: `results`, `quotas`, `winners`, `ledger`.
    pub fn key(self) -> &'static str {
        match self {
            ExportKind::Results => "results",
            ExportKind::Quotas => "quotas",
            ExportKind::Winners => "winners",
            ExportKind::Ledger => "ledger",
        }
    }

    /// The chat's name (SPEC §9), also the file name: `成绩`, `统计表`, `获奖名单`, `明细`.
    pub fn word(self) -> &'static str {
        match self {
            ExportKind::Results => "成绩",
            ExportKind::Quotas => "统计表",
            ExportKind::Winners => "获奖名单",
            ExportKind::Ledger => "明细",
        }
    }

    /// What the file is, for titles: `成绩表`, `任务完成情况统计表`, `获奖名单`, `投票明细`.
    pub fn title(self) -> &'static str {
        match self {
            ExportKind::Results => "成绩表",
            ExportKind::Quotas => "任务完成情况统计表",
            ExportKind::Winners => "获奖名单",
            ExportKind::Ledger => "投票及积分明细",
        }
    }

    /// The kind a word names: the chat word, the command line's name, or a common synonym.
    pub fn parse(word: &str) -> Option<ExportKind> {
        let word = word.trim().to_lowercase();
        let kind = match word.as_str() {
            "成绩" | "成绩表" | "排名" | "榜单" | "results" | "result" => {
                ExportKind::Results
            }
            "统计表" | "统计" | "进度" | "任务" | "quotas" | "quota" | "progress" => {
                ExportKind::Quotas
            }
            "获奖名单" | "获奖" | "名单" | "获奖者" | "winners" | "winner" => {
                ExportKind::Winners
            }
            "明细" | "投票明细" | "流水" | "ledger" | "votes" => ExportKind::Ledger,
            _ => return None,
        };
        Some(kind)
    }

    /// Whether `--track` (or a track after the chat word) narrows it.
    pub fn takes_track(self) -> bool {
        !matches!(self, ExportKind::Quotas)
    }

    /// Whether the campaign must have tracks for it to say anything.
    pub fn needs_tracks(self) -> bool {
        matches!(self, ExportKind::Results | ExportKind::Winners)
    }
}

/// What to export: a kind, and for some kinds one track (its key).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ExportRequest {
    pub kind: ExportKind,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub track: Option<String>,
}

impl ExportRequest {
    pub fn new(kind: ExportKind) -> Self {
        Self { kind, track: None }
    }
}

/// What an export needs besides its request.
#[derive(Clone, Copy)]
pub struct ExportContext<'a> {
    pub campaign: &'a Campaign,
    pub store: &'a dyn Store,
    /// Needed by the winners export (phone numbers are decrypted) and the ledger (member keys
    /// are keyed with the pepper); the others do without.
    pub privacy: Option<&'a Privacy>,
    /// The export time shown in titles; also the time quota pace is measured at.
    pub now: Timestamp,
    /// Stop with `TooLarge` once a sheet would pass this many data rows (a file that could not
    /// be sent anyway); `None` = no limit.
    pub max_rows: Option<u64>,
}

impl std::fmt::Debug for ExportContext<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExportContext")
            .field("campaign", &self.campaign.key)
            .field("now", &self.now)
            .field("max_rows", &self.max_rows)
            .finish_non_exhaustive()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Sink(#[from] SinkError),
    /// Winners need `privacy.key` to show phone numbers; the ledger needs `privacy.pepper`.
    #[error("the {0} export needs privacy.pepper and privacy.key")]
    NeedsPrivacy(&'static str),
    #[error("no track {0:?} in this campaign")]
    UnknownTrack(String),
    #[error("the {0} export is not per track")]
    NotPerTrack(&'static str),
    #[error("this campaign has no tracks")]
    NoTracks,
    #[error("this campaign has no quota metrics")]
    NoMetrics,
    /// More rows than `max_rows`: the export was stopped.
    #[error("more than {limit} rows")]
    TooLarge { limit: u64 },
}

/// What an export produced.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Produced {
    pub sheets: usize,
    /// Data rows over all sheets (titles, headers and notes not counted).
    pub rows: u64,
}

/// Reads what `request` asks for and hands it to `sink`.
pub async fn produce(
    request: &ExportRequest,
    ctx: &ExportContext<'_>,
    sink: &mut dyn Sink,
) -> Result<Produced, ExportError> {
    let track = match (&request.track, request.kind.takes_track()) {
        (None, _) => None,
        (Some(_), false) => return Err(ExportError::NotPerTrack(request.kind.key())),
        // A key, or any name the chat accepts for a track.
        (Some(key), true) => Some(
            find_track(ctx.campaign, key).ok_or_else(|| ExportError::UnknownTrack(key.clone()))?,
        ),
    };
    let mut out = Output {
        sink,
        produced: Produced::default(),
        sheet_rows: 0,
        max_rows: ctx.max_rows,
    };
    match request.kind {
        ExportKind::Results => results::produce(ctx, track, &mut out).await?,
        ExportKind::Quotas => quotas::produce(ctx, &mut out).await?,
        ExportKind::Winners => winners::produce(ctx, track, &mut out).await?,
        ExportKind::Ledger => ledger::produce(ctx, track, &mut out).await?,
    }
    Ok(out.produced)
}

/// The sink with the counting and the row limit.
struct Output<'s> {
    sink: &'s mut dyn Sink,
    produced: Produced,
    sheet_rows: u64,
    max_rows: Option<u64>,
}

impl Output<'_> {
    async fn sheet(&mut self, head: SheetHead) -> Result<(), ExportError> {
        self.produced.sheets += 1;
        self.sheet_rows = 0;
        Ok(self.sink.sheet(head).await?)
    }

    async fn rows(&mut self, rows: Vec<Row>) -> Result<(), ExportError> {
        if rows.is_empty() {
            return Ok(());
        }
        let count = rows.len() as u64;
        if let Some(limit) = self.max_rows {
            if self.produced.rows + count > limit {
                return Err(ExportError::TooLarge { limit });
            }
        }
        self.sheet_rows += count;
        self.produced.rows += count;
        Ok(self.sink.rows(rows).await?)
    }

    /// Rows already read, handed over a page at a time.
    async fn paged(&mut self, mut rows: Vec<Row>) -> Result<(), ExportError> {
        let page = PAGE_ROWS as usize;
        while !rows.is_empty() {
            let rest = rows.split_off(rows.len().min(page));
            self.rows(std::mem::replace(&mut rows, rest)).await?;
        }
        Ok(())
    }

    async fn notes(&mut self, lines: Vec<String>) -> Result<(), ExportError> {
        Ok(self.sink.notes(lines).await?)
    }
}

/// The tracks an export covers: the one asked for, or all of them in campaign order.
fn tracks<'c>(campaign: &'c Campaign, only: Option<&'c Track>) -> Vec<&'c Track> {
    match only {
        Some(track) => vec![track],
        None => campaign.tracks.iter().collect(),
    }
}

/// A track named the ways the chat accepts (key, code prefix, name or an unambiguous part of
/// it), for the command line and the chat's `导出 成绩 奋进故事`.
pub fn find_track<'c>(campaign: &'c Campaign, query: &str) -> Option<&'c Track> {
    match campaign.resolve_track(query) {
        TrackMatch::One(track) => Some(track),
        _ => None,
    }
}

/// `2022-10-20 09:30` in the campaign's time zone.
pub fn local_minute(campaign: &Campaign, at: Timestamp) -> String {
    at.with_timezone(&campaign.timezone)
        .format("%Y-%m-%d %H:%M")
        .to_string()
}

/// Local time for a time cell.
fn local(campaign: &Campaign, at: Timestamp) -> NaiveDateTime {
    at.with_timezone(&campaign.timezone).naive_local()
}

/// `<campaign>　<what>（导出时间 2022-10-20 09:30）`.
fn title(campaign: &Campaign, what: &str, now: Timestamp) -> String {
    format!(
        "{}　{what}（导出时间 {}）",
        campaign.name,
        local_minute(campaign, now)
    )
}

/// The file name without extension: `获奖名单-20221020-0930`, with the track's name when the
/// export is of one track (`成绩-传播网络正能量讲述奋进故事-20221020-0930`).
pub fn file_stem(campaign: &Campaign, request: &ExportRequest, now: Timestamp) -> String {
    let stamp = now
        .with_timezone(&campaign.timezone)
        .format("%Y%m%d-%H%M")
        .to_string();
    let track = request
        .track
        .as_deref()
        .and_then(|key| find_track(campaign, key))
        .map(|t| format!("-{}", safe_file_part(&t.name)))
        .unwrap_or_default();
    format!("{}{track}-{stamp}", request.kind.word())
}

/// A name part without the characters file systems and WeCom's file names refuse.
fn safe_file_part(text: &str) -> String {
    text.chars()
        .filter(|c| {
            !matches!(c, '/' | '\\' | ':' | '*' | '?' | '"' | '<' | '>' | '|') && !c.is_control()
        })
        .collect()
}

/// The audit record of one export: who (a userid, or `cli:<os user>`), which file, how many
/// rows. Winners exports must always be recorded: they carry full phone numbers.
pub fn audit_event(
    request: &ExportRequest,
    actor: &str,
    file_name: &str,
    produced: Produced,
    now: Timestamp,
    callback_key: Option<String>,
) -> AuditEvent {
    let track = request
        .track
        .as_deref()
        .map(|t| format!(" track={t}"))
        .unwrap_or_default();
    AuditEvent {
        at: now,
        actor: actor.to_string(),
        action: "export".to_string(),
        subject: request.kind.key().to_string(),
        detail: format!("file={file_name} rows={}{track}", produced.rows),
        callback_key,
    }
}

/// The word for what a track's ledger rows are: 投票, 点赞, 浏览, 阅读积分.
fn give_word(rule: &Rule) -> &'static str {
    match rule {
        Rule::Votes { .. } => "投票",
        Rule::Likes { .. } => "点赞",
        Rule::Views { .. } => "浏览",
        Rule::Points { .. } => "阅读积分",
    }
}

/// Members by userid, read in batches.
async fn members_of(
    store: &dyn Store,
    userids: Vec<String>,
) -> Result<HashMap<String, MemberRecord>, StoreError> {
    let mut userids = userids;
    userids.sort();
    userids.dedup();
    let mut found = HashMap::with_capacity(userids.len());
    for batch in userids.chunks(500) {
        for member in store.members_by_userid(batch).await? {
            found.insert(member.userid.clone(), member);
        }
    }
    Ok(found)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kinds_parse_from_chat_words_and_cli_names() {
        for kind in ExportKind::ALL {
            assert_eq!(ExportKind::parse(kind.word()), Some(kind));
            assert_eq!(ExportKind::parse(kind.key()), Some(kind));
            assert_eq!(
                ExportKind::parse(&kind.key().to_uppercase()),
                Some(kind),
                "case-insensitive"
            );
        }
        assert_eq!(ExportKind::parse("别的"), None);
    }

    #[test]
    fn requests_round_trip_as_push_content() {
        let request = ExportRequest {
            kind: ExportKind::Results,
            track: Some("stories".into()),
        };
        let json = serde_json::to_string(&request).unwrap();
        assert_eq!(json, r#"{"kind":"results","track":"stories"}"#);
        assert_eq!(
            serde_json::from_str::<ExportRequest>(&json).unwrap(),
            request
        );
        let plain: ExportRequest = serde_json::from_str(r#"{"kind":"winners"}"#).unwrap();
        assert_eq!(plain, ExportRequest::new(ExportKind::Winners));
    }

    #[test]
    fn file_name_parts_lose_unsafe_characters() {
        assert_eq!(safe_file_part("a/b:c*d"), "abcd");
        assert_eq!(safe_file_part("光盘我做主"), "光盘我做主");
    }
}
