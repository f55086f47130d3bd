//! `明细`: every counted give and reading, oldest first, so an organizer can answer a complaint
//! about a vote: when (local time), which track and entry, how many, which message (its msgid)
//! and a pseudonymous member key (`Privacy::member_key`), never a name, ID or phone number.
//! Read in keyset pages (`Store::ledger_page`): the whole ledger is never in memory.

use super::table::{Cell, Column, ColumnKind, Row, SheetHead};
use super::{give_word, local, local_minute, title, ExportContext, ExportError, Output, PAGE_ROWS};
use crate::campaign::Track;
use crate::store::Timestamp;

pub(super) async fn produce(
    ctx: &ExportContext<'_>,
    only: Option<&Track>,
    out: &mut Output<'_>,
) -> Result<(), ExportError> {
    let privacy = ctx.privacy.ok_or(ExportError::NeedsPrivacy("ledger"))?;
    let what = match only {
        Some(track) => format!("投票及积分明细　《{}》", track.name),
        None => "投票及积分明细".to_string(),
    };
    out.sheet(SheetHead {
        name: "明细".to_string(),
        title: title(ctx.campaign, &what, ctx.now),
        columns: vec![
            Column::new("记录号", ColumnKind::Integer, 10),
            Column::new("时间", ColumnKind::DateTime, 20),
            Column::new("赛道", ColumnKind::Text, 24),
            Column::new("类型", ColumnKind::Text, 8),
            Column::new("作品号", ColumnKind::Code, 8),
            Column::new("成员代号", ColumnKind::Code, 18),
            Column::new("数量", ColumnKind::Integer, 6),
            Column::new("消息编号", ColumnKind::Code, 24),
            Column::new("备注", ColumnKind::Text, 30),
        ],
        freeze_columns: 0,
    })
    .await?;
    let track_key = only.map(|t| t.key.as_str());
    let mut after = 0;
    loop {
        let page = ctx.store.ledger_page(after, PAGE_ROWS, track_key).await?;
        let Some(last) = page.last() else {
            break;
        };
        after = last.id;
        let full = page.len() >= PAGE_ROWS as usize;
        let rows: Vec<Row> = page
            .into_iter()
            .map(|give| {
                let track = ctx.campaign.track(&give.track);
                vec![
                    Cell::Int(give.id),
                    Cell::Time(local(ctx.campaign, give.at)),
                    Cell::Text(track.map_or_else(|| give.track.clone(), |t| t.name.clone())),
                    Cell::text(track.map_or("", |t| give_word(&t.rule))),
                    Cell::Text(give.entry_code),
                    Cell::Text(privacy.member_key(&give.member)),
                    Cell::Int(give.amount),
                    Cell::Text(give.callback_key.unwrap_or_default()),
                    Cell::Text(withdrawn_note(ctx, give.withdrawn)),
                ]
            })
            .collect();
        out.rows(rows).await?;
        if !full {
            break;
        }
    }
    out.notes(vec![
        "注：成员代号是由成员账号计算的匿名代号，同一成员始终相同，不含姓名、身份证号或手机号。\
         消息编号是该次投票（点赞、浏览、阅读）消息的编号，可据此核对投诉。\
         备注「作品已撤下」的记录保留在明细中，但作品审核通过后又被驳回，不再计入排名。"
            .to_string(),
    ])
    .await
}

/// `作品已撤下（2022-10-05 09:00）：与已获奖作品重复`, or nothing for a give that counts.
fn withdrawn_note(ctx: &ExportContext<'_>, withdrawn: Option<(Timestamp, String)>) -> String {
    let Some((at, reason)) = withdrawn else {
        return String::new();
    };
    let when = local_minute(ctx.campaign, at);
    if reason.is_empty() {
        format!("作品已撤下（{when}）")
    } else {
        format!("作品已撤下（{when}）：{reason}")
    }
}
