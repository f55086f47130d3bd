//! What waits for someone: `/dashboard/reviews` (the entries waiting for review, oldest first)
//! and `/dashboard/outbox` (pushes pending, sent and failed, with the reason of each failure).

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use rallybot_handlers::conversation::text::{date_time, short};
use rallybot_handlers::store::PushTarget;
use rallybot_storage::{PushRecord, PushStatus};

use super::html::{escape, page, stat};
use super::{Dashboard, Refused};

/// Entries listed on the reviews page.
const LISTED_REVIEWS: u32 = 50;

pub async fn reviews(
    State(state): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    state.page_session(&headers)?;
    let campaign = &state.campaign;
    // Both read on the spot: an indexed count and the oldest rows of a partial index.
    let waiting = state.store.pending_entry_count().await?;
    let entries = state.store.pending_entries(LISTED_REVIEWS).await?;
    let mut body = format!(
        "<p>等待审核：{} 件。审核员在私聊中发送「待审」查看，「审核 编号 通过」或「审核 编号 驳回 理由」处理。</p>",
        stat("pending_reviews", waiting)
    );
    body.push_str(
        "<div class=\"scroll\"><table><tr><th>编号</th><th>赛道</th><th>作品</th>\
         <th>链接</th><th>提交时间</th></tr>",
    );
    for entry in &entries {
        let track = campaign
            .track(&entry.track)
            .map_or(entry.track.as_str(), |t| t.name.as_str());
        // Only web links become links; anything else is shown as text.
        let link = if entry.link.starts_with("https://") || entry.link.starts_with("http://") {
            format!(
                "<a href=\"{0}\" rel=\"noopener noreferrer\" target=\"_blank\">{1}</a>",
                escape(&entry.link),
                escape(&short(&entry.link, 40))
            )
        } else {
            escape(&entry.link)
        };
        let _ = write!(
            body,
            "<tr data-code=\"{code}\"><td>{code}</td><td>{track}</td><td>{title}</td>\
             <td>{link}</td><td>{at}</td></tr>",
            code = escape(&entry.code),
            track = escape(track),
            title = escape(&entry.title),
            at = date_time(campaign, entry.submitted_at),
        );
    }
    if entries.is_empty() {
        body.push_str("<tr><td colspan=\"5\">没有等待审核的作品。</td></tr>");
    }
    body.push_str("</table></div>");
    Ok(page(
        &campaign.name,
        "待审核作品",
        "/dashboard/reviews",
        &body,
    ))
}

pub async fn outbox(
    State(state): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    state.page_session(&headers)?;
    let campaign = &state.campaign;
    let snapshot = state.aggregates.get().await?;
    let mut body = String::from("<div class=\"cards\">");
    for (status, name) in [
        (PushStatus::Pending, "待发送"),
        (PushStatus::Sending, "发送中"),
        (PushStatus::Sent, "已发送"),
        (PushStatus::Failed, "失败"),
    ] {
        let _ = write!(
            body,
            "<div class=\"card\">{name}{}</div>",
            stat(
                &format!("pushes_{}", status.as_str()),
                snapshot.pushes_with(status)
            )
        );
    }
    body.push_str("</div>");
    for (title, list, reason) in [
        ("失败的推送（最近 20 条）", &snapshot.failed, true),
        ("待发送（最近 20 条）", &snapshot.waiting, true),
        ("已发送（最近 20 条）", &snapshot.sent, false),
    ] {
        let _ = write!(body, "<h2>{title}</h2>");
        body.push_str(&push_table(campaign, list, reason));
    }
    if let Some(at) = snapshot.taken_at {
        let _ = write!(
            body,
            "<p class=\"muted\">统计于 {}。</p>",
            date_time(campaign, at)
        );
    }
    Ok(page(&campaign.name, "推送队列", "/dashboard/outbox", &body))
}

/// Where a push goes, in words; webhook and response URLs carry keys and are never shown.
fn recipient(target: &PushTarget) -> String {
    match target {
        PushTarget::User { userid } => format!("成员 {}", escape(userid)),
        PushTarget::Webhook { .. } => "群机器人".to_string(),
        PushTarget::ResponseUrl { .. } => "智能机器人回复".to_string(),
        PushTarget::Aibot { chat_id } => format!("智能机器人长连接 {}", escape(chat_id)),
    }
}

fn push_table(
    campaign: &rallybot_handlers::campaign::Campaign,
    pushes: &[PushRecord],
    with_reason: bool,
) -> String {
    let mut out = String::from(
        "<div class=\"scroll\"><table><tr><th>时间</th><th>发给</th><th>内容</th>\
         <th class=\"n\">尝试</th>",
    );
    out.push_str(if with_reason {
        "<th>原因</th></tr>"
    } else {
        "</tr>"
    });
    for push in pushes {
        let at = push.sent_at.unwrap_or(push.not_before);
        let content = if push.format == "export" {
            "（导出文件）".to_string()
        } else {
            short(&push.content, 60)
        };
        let _ = write!(
            out,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td class=\"n\">{}</td>",
            date_time(campaign, at),
            recipient(&push.target),
            escape(&content),
            push.attempts
        );
        if with_reason {
            let _ = write!(
                out,
                "<td>{}</td>",
                escape(push.last_error.as_deref().unwrap_or(""))
            );
        }
        out.push_str("</tr>");
    }
    if pushes.is_empty() {
        out.push_str("<tr><td colspan=\"5\">无</td></tr>");
    }
    out.push_str("</table></div>");
    out
}
