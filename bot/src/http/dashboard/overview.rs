//! `/dashboard`: the campaign at a glance — its stage and days left, the totals, the activity
//! per day as charts, and the four exports to download.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use chrono::{Days, NaiveDate};
use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::conversation::stage_lines;
use rallybot_handlers::conversation::text::{date_time, last_day};
use rallybot_handlers::store::Timestamp;
use rallybot_storage::PushStatus;

use super::chart::{daily_bars, span};
use super::html::{escape, page, stat};
use super::snapshot::{PerDay, Snapshot};
use super::{downloads, Dashboard, Refused};

/// The longest stretch a chart shows, ending today.
const CHART_DAYS: u64 = 120;

pub async fn show(
    State(state): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    state.page_session(&headers)?;
    let snapshot = state.aggregates.get().await?;
    let campaign = &state.campaign;
    let now = state.clock.now();
    let mut body = stage_html(campaign, now);

    body.push_str("<h2>总量</h2><div class=\"cards\">");
    let mut card = |name: &str, value: String| {
        let _ = write!(body, "<div class=\"card\">{name}{value}</div>");
    };
    card(
        "注册人数",
        stat("registrations", Snapshot::total(&snapshot.registrations)),
    );
    card(
        "作品（含待审核）",
        stat("entries", Snapshot::total(&snapshot.entries)),
    );
    card("待审核", stat("pending_reviews", snapshot.pending_reviews));
    for (kind, days) in &snapshot.gives {
        let name = kind.title().trim_start_matches("每日");
        card(
            name,
            stat(&format!("{}_total", kind.key()), Snapshot::total(days)),
        );
    }
    card(
        "推送失败",
        stat("pushes_failed", snapshot.pushes_with(PushStatus::Failed)),
    );

    body.push_str("</div><h2>每日动态</h2><div class=\"charts\">");
    let days = chart_days(campaign, now, &snapshot);
    body.push_str(&daily_bars(
        "registrations_daily",
        "每日注册",
        &snapshot.registrations,
        &days,
    ));
    body.push_str(&daily_bars(
        "entries_daily",
        "每日提交作品",
        &snapshot.entries,
        &days,
    ));
    for (kind, counts) in &snapshot.gives {
        body.push_str(&daily_bars(
            &format!("{}_daily", kind.key()),
            kind.title(),
            counts,
            &days,
        ));
    }
    body.push_str("</div>");
    body.push_str(&downloads::links());
    if let Some(at) = snapshot.taken_at {
        let _ = write!(
            body,
            "<p class=\"muted\">统计于 {}，每 {} 秒更新。</p>",
            date_time(campaign, at),
            super::snapshot::FRESH_FOR.as_secs()
        );
    }
    Ok(page(&campaign.name, "活动概览", "/dashboard", &body))
}

/// The stage, what it opens, its days left, the next stage and deadline: `阶段`'s lines.
fn stage_html(campaign: &Campaign, now: Timestamp) -> String {
    let mut lines: Vec<String> = stage_lines(campaign, now)
        .iter()
        .map(|line| escape(line))
        .collect();
    lines.push(format!(
        "<span class=\"muted\">现在：{}</span>",
        date_time(campaign, now)
    ));
    format!("<div class=\"card stage\">{}</div>", lines.join("<br>"))
}

/// From the campaign's first day (or the first day with activity) to today (or the last day
/// with activity), at most `CHART_DAYS` days, ending with the latest.
fn chart_days(campaign: &Campaign, now: Timestamp, snapshot: &Snapshot) -> Vec<NaiveDate> {
    let today = campaign.day_of(now);
    let first_stage = campaign.stages.first().map(|s| campaign.day_of(s.starts));
    let last_stage = campaign.stages.last().map(|s| last_day(campaign, s.ends));
    let series: Vec<&PerDay> = [&snapshot.registrations, &snapshot.entries]
        .into_iter()
        .chain(snapshot.gives.values())
        .collect();
    let data_first = series.iter().filter_map(|s| s.keys().next()).min().copied();
    let data_last = series
        .iter()
        .filter_map(|s| s.keys().next_back())
        .max()
        .copied();
    let first = [first_stage, data_first].into_iter().flatten().min();
    let end = last_stage.map_or(today, |l| l.min(today));
    let last = [Some(end), data_last].into_iter().flatten().max();
    let (Some(first), Some(last)) = (first, last) else {
        return vec![today];
    };
    let first = first.max(
        last.checked_sub_days(Days::new(CHART_DAYS - 1))
            .unwrap_or(first),
    );
    if first > last {
        return vec![last];
    }
    span(first, last)
}
