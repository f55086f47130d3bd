//! `/dashboard/quotas`: each metric's progress bar for a union and for each of its child
//! unions, with the pace marker (where the union should be by now) and the ones behind
//! flagged; a child's name drills down (province → city → county), the trail leads back up.
//! Rolled up and paced exactly as `进度` does it (`quota::progress`), from the cached counts.

use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::{Query, State};
use axum::http::HeaderMap;
use axum::response::Response;
use rallybot_handlers::campaign::{Metric, Union};
use rallybot_handlers::quota::{self, MetricProgress, Progress};
use serde::Deserialize;

use super::html::{escape, number, page};
use super::{Dashboard, Refused};

#[derive(Debug, Deserialize)]
pub struct Which {
    union: Option<String>,
}

pub async fn show(
    State(state): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Query(which): Query<Which>,
) -> Result<Response, Refused> {
    state.page_session(&headers)?;
    let campaign = &state.campaign;
    let snapshot = state.aggregates.get().await?;
    let progress = quota::progress(campaign, &snapshot.direct, state.clock.now());
    let unions = &campaign.unions;
    let mut body = String::new();
    if campaign.metrics.is_empty() {
        body.push_str("<p>本次活动没有设置任务指标。</p>");
        return Ok(page(&campaign.name, "任务进度", "/dashboard/quotas", &body));
    }
    let selected = match which.union.as_deref() {
        Some(code) => Some(
            unions
                .get(code)
                .ok_or(Refused::BadRequest("no such union"))?,
        ),
        None => None,
    };
    let listed: Vec<&Union> = match selected {
        Some(union) => {
            // The trail back up: 黑龙江省总工会 › 哈尔滨市总工会.
            let mut trail: Vec<String> = unions
                .lineage(&union.code)
                .iter()
                .rev()
                .map(|u| union_link(u))
                .collect();
            trail.insert(0, "<a href=\"/dashboard/quotas\">全部</a>".to_string());
            let _ = write!(body, "<p>{}</p>", trail.join(" › "));
            body.push_str(&union_block(union, &campaign.metrics, &progress, false));
            unions.children(&union.code).collect()
        }
        None => unions.list.iter().filter(|u| u.parent.is_none()).collect(),
    };
    if !listed.is_empty() {
        if selected.is_some() {
            body.push_str("<h2>下级单位</h2>");
        }
        for union in listed {
            let drills = unions.children(&union.code).next().is_some();
            body.push_str(&union_block(union, &campaign.metrics, &progress, drills));
        }
    }
    body.push_str(
        "<p class=\"muted\">竖线为按时间进度此刻应完成的位置；⚠ 表示落后于进度（含容差）。</p>",
    );
    Ok(page(&campaign.name, "任务进度", "/dashboard/quotas", &body))
}

fn union_link(union: &Union) -> String {
    format!(
        "<a href=\"/dashboard/quotas?union={}\">{}</a>",
        percent_encoding::utf8_percent_encode(&union.code, percent_encoding::NON_ALPHANUMERIC),
        escape(&union.name)
    )
}

/// One union: its name (a link when it has child unions) and a bar per metric.
fn union_block(union: &Union, metrics: &[Metric], progress: &Progress, drills: bool) -> String {
    let name = if drills {
        union_link(union)
    } else {
        escape(&union.name)
    };
    let mut out = format!(
        "<div class=\"quota\" data-union=\"{}\"><div class=\"head\"><b>{name}</b></div>",
        escape(&union.code)
    );
    for metric in metrics {
        if let Some(p) = progress.get(&union.code, &metric.key) {
            out.push_str(&metric_bar(metric, p));
        }
    }
    out.push_str("</div>");
    out
}

/// `线下活动 4 / 10（40%）` with the bar, the pace marker and the flag when behind.
fn metric_bar(metric: &Metric, p: &MetricProgress) -> String {
    let done = format!(
        "<span data-metric=\"{}\" data-done=\"{}\">{}</span>",
        escape(&metric.key),
        p.done,
        number(p.done)
    );
    let Some(target) = p.target.filter(|t| *t > 0) else {
        return format!(
            "<div class=\"metric\">{}：{done}</div>",
            escape(&metric.name)
        );
    };
    #[allow(clippy::cast_precision_loss)] // quota numbers are small
    let percent = p.done as f64 * 100.0 / target as f64;
    #[allow(clippy::cast_precision_loss)]
    let pace = (p.expected_now * 100.0 / target as f64).clamp(0.0, 100.0);
    let flag = if p.behind {
        format!(
            " <span class=\"flag\">⚠ 落后，此刻应完成约 {:.0}</span>",
            p.expected_now.ceil()
        )
    } else {
        String::new()
    };
    let left = if p.days_left > 0 {
        format!("，还剩 {} 天", p.days_left)
    } else {
        String::new()
    };
    format!(
        "<div class=\"metric{behind}\">{name}：{done} / <span data-target>{target}</span>（{percent:.0}%）{flag}\
         <span class=\"muted\">{left}</span>\
         <div class=\"bar-track\" title=\"应完成 {expected:.1}\"><div class=\"bar-fill\" \
         style=\"width:{fill:.1}%\"></div><div class=\"pace\" style=\"left:{pace:.1}%\"></div></div></div>",
        behind = if p.behind { " behind" } else { "" },
        name = escape(&metric.name),
        target = number(target),
        expected = p.expected_now,
        fill = percent.min(100.0),
    )
}
