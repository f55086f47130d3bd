//! `获奖名单`: everyone inside an award zone, track by track and zone by zone, with what the
//! organizers need to "contact the winners, check their identity and mail the prizes" (seed
//! 000): name, union, masked ID number and the full phone number. This is the one place a
//! phone number is ever shown in clear (SPEC §4); the caller records every such export in the
//! audit log.
//!
//! A unit track's winner is a union; its contact is the officer who submitted the entry, with
//! their registration when they have one.

use super::table::{Cell, Column, ColumnKind, Row, SheetHead};
use super::{members_of, title, tracks, ExportContext, ExportError, Output};
use crate::campaign::{EntrantKind, Track};
use crate::privacy::Privacy;
use crate::scoring::award_zones;
use crate::store::{MemberRecord, Ranked};

/// The phone cell of a member whose number cannot be decrypted (another `privacy.key`).
pub const PHONE_UNREADABLE: &str = "（无法解密）";

pub(super) async fn produce(
    ctx: &ExportContext<'_>,
    only: Option<&Track>,
    out: &mut Output<'_>,
) -> Result<(), ExportError> {
    let privacy = ctx.privacy.ok_or(ExportError::NeedsPrivacy("winners"))?;
    let tracks = tracks(ctx.campaign, only);
    if tracks.is_empty() {
        return Err(ExportError::NoTracks);
    }
    out.sheet(head(ctx)).await?;
    let mut unreadable = 0usize;
    for track in tracks {
        let zones = award_zones(&track.awards);
        let Some(last) = zones.last().map(|z| z.last_place) else {
            continue;
        };
        let winners = ctx
            .store
            .top(&track.key, u32::try_from(last).unwrap_or(u32::MAX))
            .await?;
        let userids = winners.iter().map(|r| contact_of(r).to_string()).collect();
        let members = members_of(ctx.store, userids).await?;
        let mut rows = Vec::with_capacity(winners.len());
        for ranked in &winners {
            let Some(zone) = zones
                .iter()
                .find(|z| (z.first_place..=z.last_place).contains(&ranked.place))
            else {
                continue;
            };
            let contact = members.get(contact_of(ranked));
            let (row, readable) = row(ctx, privacy, track, &zone.tier.name, ranked, contact);
            if !readable {
                unreadable += 1;
            }
            rows.push(row);
        }
        out.paged(rows).await?;
    }
    let mut notes = vec![
        "注：手机号为完整号码，仅供联系获奖职工核对身份信息、邮寄发放奖品使用，请妥善保管，不得外传。\
         每次导出本表都记入审计日志。"
            .to_string(),
        "单位赛道的获奖者为单位，联系人为提交作品的联络员。".to_string(),
    ];
    if unreadable > 0 {
        notes.push(format!(
            "有 {unreadable} 个手机号无法解密（privacy.key 与登记时不同？），已标为「{PHONE_UNREADABLE}」。"
        ));
    }
    out.notes(notes).await
}

/// Whose registration a winner is reached through: the member, or for a unit the officer who
/// submitted the entry.
fn contact_of(ranked: &Ranked) -> &str {
    match ranked.entry.entrant_kind {
        EntrantKind::Member => &ranked.entry.entrant_id,
        EntrantKind::Unit => &ranked.entry.submitter,
    }
}

fn head(ctx: &ExportContext<'_>) -> SheetHead {
    SheetHead {
        name: "获奖名单".to_string(),
        title: title(ctx.campaign, "获奖名单", ctx.now),
        columns: vec![
            Column::new("赛道", ColumnKind::Text, 24),
            Column::new("奖项", ColumnKind::Text, 10),
            Column::new("名次", ColumnKind::Integer, 6),
            Column::new("作品号", ColumnKind::Code, 8),
            Column::new("作品标题", ColumnKind::Text, 28),
            Column::new("获奖者", ColumnKind::Text, 18),
            Column::new("所属工会", ColumnKind::Text, 20),
            Column::new("联系人", ColumnKind::Text, 10),
            Column::new("身份证号（脱敏）", ColumnKind::Code, 20),
            Column::new("手机号", ColumnKind::Code, 13),
            Column::new("企业微信账号", ColumnKind::Code, 16),
            Column::new("得分", ColumnKind::Integer, 8),
        ],
        freeze_columns: 0,
    }
}

/// One winner's row, and whether the phone number could be read.
fn row(
    ctx: &ExportContext<'_>,
    privacy: &Privacy,
    track: &Track,
    zone: &str,
    ranked: &Ranked,
    contact: Option<&MemberRecord>,
) -> (Row, bool) {
    let entry = &ranked.entry;
    let union_name = |code: &str| {
        ctx.campaign
            .unions
            .get(code)
            .map_or_else(|| code.to_string(), |u| u.name.clone())
    };
    let (winner, union) = match (entry.entrant_kind, contact) {
        (EntrantKind::Unit, _) => (union_name(&entry.entrant_id), union_name(&entry.entrant_id)),
        (EntrantKind::Member, Some(m)) => (m.name.clone(), union_name(&m.union_code)),
        (EntrantKind::Member, None) => (entry.entrant_id.clone(), union_name(&entry.union_code)),
    };
    let mut readable = true;
    let (name, id_mask, phone) = match contact {
        Some(m) => {
            let phone = match privacy.decrypt_phone(&m.phone_enc) {
                Ok(phone) => phone.reveal().to_string(),
                Err(_) => {
                    readable = false;
                    PHONE_UNREADABLE.to_string()
                }
            };
            (m.name.clone(), m.id_mask.clone(), phone)
        }
        // An officer who never registered: reached by WeCom only.
        None => (String::new(), String::new(), String::new()),
    };
    let place = i64::try_from(ranked.place).unwrap_or(i64::MAX);
    let row = vec![
        Cell::text(&track.name),
        Cell::text(zone),
        Cell::Int(place),
        Cell::text(&entry.code),
        Cell::text(&entry.title),
        Cell::Text(winner),
        Cell::Text(union),
        Cell::Text(name),
        Cell::Text(id_mask),
        Cell::Text(phone),
        Cell::text(contact_of(ranked)),
        Cell::Int(entry.score),
    ];
    (row, readable)
}
