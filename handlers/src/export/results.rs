//! `成绩`: one sheet per track, every approved entry in the order `榜单` shows them (score,
//! then the earlier time it was reached, then the code), with place and award zone; then the
//! approved entries that do not rank because their entrant has a better one, without a place.
//! Both come from one read of the approved entries, so a give arriving meanwhile cannot list
//! an entry twice or leave it out. Gives held as 疑 by an open fair-play flag are not in the score:
//! they have a column of their own (as frozen, once results are).

use std::collections::HashMap;

use super::table::{Cell, Column, ColumnKind, Row, SheetHead};
use super::{members_of, title, tracks, ExportContext, ExportError, Output, PAGE_ROWS};
use crate::campaign::{EntrantKind, Track};
use crate::results;
use crate::scoring::{award_for_place, rank_entries, unranked_entries};
use crate::store::{EntryRecord, MemberRecord, SnapshotHead};

/// The 奖项 of an approved entry that does not rank.
pub const NOT_RANKED: &str = "不计排名";

pub(super) async fn produce(
    ctx: &ExportContext<'_>,
    only: Option<&Track>,
    out: &mut Output<'_>,
) -> Result<(), ExportError> {
    let tracks = tracks(ctx.campaign, only);
    if tracks.is_empty() {
        return Err(ExportError::NoTracks);
    }
    for track in tracks {
        out.sheet(head(ctx, track)).await?;
        // Once voting is closed, the places and scores frozen at its end.
        let frozen = results::frozen_now(ctx.store, ctx.campaign, &track.key, ctx.now).await?;
        let approved = ctx.store.approved_entries(&track.key).await?;
        let ranked = match &frozen {
            Some(head) => ctx.store.frozen_ranking(head.id, None).await?,
            None => rank_entries(&approved),
        };
        let frozen_doubtful: Option<HashMap<String, i64>> = match &frozen {
            Some(head) => Some(
                ctx.store
                    .snapshot_places(head.id)
                    .await?
                    .into_iter()
                    .filter(|p| p.doubtful > 0)
                    .map(|p| (p.code, p.doubtful))
                    .collect(),
            ),
            None => None,
        };
        // A page at a time: the members of a page are read with it, its rows handed on.
        for page in ranked.chunks(PAGE_ROWS as usize) {
            let entries: Vec<&EntryRecord> = page.iter().map(|r| &r.entry).collect();
            let members = members_of(ctx.store, member_ids(&entries)).await?;
            let doubtful = match &frozen_doubtful {
                Some(frozen) => frozen.clone(),
                None => doubtful_of(ctx, &entries).await?,
            };
            let rows = page
                .iter()
                .map(|r| {
                    let zone = award_for_place(&track.awards, r.place)
                        .map(|tier| tier.name.clone())
                        .unwrap_or_default();
                    let place = i64::try_from(r.place).unwrap_or(i64::MAX);
                    let who = entrant(ctx, &members, &r.entry);
                    let doubtful = doubtful.get(&r.entry.code).copied().unwrap_or(0);
                    row(track, Cell::Int(place), zone, &r.entry, who, doubtful)
                })
                .collect();
            out.rows(rows).await?;
        }
        for page in unranked_entries(&approved, &ranked).chunks(PAGE_ROWS as usize) {
            let members = members_of(ctx.store, member_ids(page)).await?;
            let doubtful = doubtful_of(ctx, page).await?;
            let rows = page
                .iter()
                .map(|entry| {
                    let who = entrant(ctx, &members, entry);
                    let doubtful = doubtful.get(&entry.code).copied().unwrap_or(0);
                    row(
                        track,
                        Cell::Empty,
                        NOT_RANKED.to_string(),
                        entry,
                        who,
                        doubtful,
                    )
                })
                .collect();
            out.rows(rows).await?;
        }
        out.notes(notes(track, frozen.as_ref())).await?;
    }
    Ok(())
}

/// The 疑 amount of each entry as it stands.
async fn doubtful_of(
    ctx: &ExportContext<'_>,
    entries: &[&EntryRecord],
) -> Result<HashMap<String, i64>, ExportError> {
    let codes: Vec<String> = entries.iter().map(|e| e.code.clone()).collect();
    Ok(ctx.store.doubtful(&codes).await?.into_iter().collect())
}

fn member_ids(entries: &[&EntryRecord]) -> Vec<String> {
    entries
        .iter()
        .filter(|e| e.entrant_kind == EntrantKind::Member)
        .map(|e| e.entrant_id.clone())
        .collect()
}

/// `(参赛者, 所属工会)`: the member's name and union, or the unit's name.
fn entrant(
    ctx: &ExportContext<'_>,
    members: &HashMap<String, MemberRecord>,
    entry: &EntryRecord,
) -> (String, String) {
    match entry.entrant_kind {
        EntrantKind::Unit => (union_name(ctx, &entry.entrant_id), String::new()),
        EntrantKind::Member => match members.get(&entry.entrant_id) {
            Some(m) => (m.name.clone(), union_name(ctx, &m.union_code)),
            None => (entry.entrant_id.clone(), union_name(ctx, &entry.union_code)),
        },
    }
}

fn union_name(ctx: &ExportContext<'_>, code: &str) -> String {
    ctx.campaign
        .unions
        .get(code)
        .map_or_else(|| code.to_string(), |u| u.name.clone())
}

/// The same columns for every track, so the sheets can follow each other in one CSV table.
fn head(ctx: &ExportContext<'_>, track: &Track) -> SheetHead {
    SheetHead {
        name: format!("{} {}", track.code_prefix, track.name),
        title: title(
            ctx.campaign,
            &format!("成绩表　《{}》", track.name),
            ctx.now,
        ),
        columns: vec![
            Column::new("赛道", ColumnKind::Text, 24),
            Column::new("名次", ColumnKind::Integer, 6),
            Column::new("奖项", ColumnKind::Text, 10),
            Column::new("作品号", ColumnKind::Code, 8),
            Column::new("作品标题", ColumnKind::Text, 30),
            Column::new("参赛者", ColumnKind::Text, 18),
            Column::new("所属工会", ColumnKind::Text, 20),
            Column::new("得分", ColumnKind::Integer, 9),
            Column::new("计分", ColumnKind::Text, 7),
            Column::new("疑票", ColumnKind::Integer, 7),
            Column::new("作品链接", ColumnKind::Link, 48),
        ],
        freeze_columns: 0,
    }
}

fn row(
    track: &Track,
    place: Cell,
    zone: String,
    entry: &EntryRecord,
    who: (String, String),
    doubtful: i64,
) -> Row {
    vec![
        Cell::text(&track.name),
        place,
        Cell::Text(zone),
        Cell::text(&entry.code),
        Cell::text(&entry.title),
        Cell::Text(who.0),
        Cell::Text(who.1),
        Cell::Int(entry.score),
        Cell::text(track.rule.unit()),
        Cell::Int(doubtful),
        Cell::text(&entry.link),
    ]
}

fn notes(track: &Track, frozen: Option<&SnapshotHead>) -> Vec<String> {
    let who = match track.entrant {
        EntrantKind::Member => "每位参赛者",
        EntrantKind::Unit => "本赛道以单位参赛，「参赛者」为单位名称；每个参赛单位",
    };
    let mut notes = vec![format!(
        "注：名次与「榜单」一致：得分高者在前，得分相同时先达到该得分者在前，再按作品号排列。\
         {who}只取得分最高的一个作品参加排名，其余作品列于表末，标为「{NOT_RANKED}」。"
    )];
    notes.push(
        "「疑票」是公平性检查标记、等待审核员核实的投票，暂不计入得分；核实有效后恢复计入，无效则作废。"
            .to_string(),
    );
    if let Some(head) = frozen {
        notes.push(format!(
            "名次与得分为投票截止时冻结的结果（快照 #{}，第 {} 版，校验值 {}）。",
            head.id, head.version, head.hash
        ));
    }
    notes
}
