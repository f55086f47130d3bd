//! Quotas in the chat: `进度` (a union's progress and its child unions', rolled up and paced by
//! `crate::quota`) and the officers' `上报`.

use super::text::whole;
use super::{Answer, Conversation, Turn};
use crate::campaign::{Metric, MetricSource, Union, UnionMatch};
use crate::quota::{self, MetricProgress, Progress};
use crate::store::NewReport;

/// `4/10（40%）`, or just the count for metrics without a target.
fn done_text(p: &MetricProgress) -> String {
    match p.target {
        Some(target) if target > 0 => {
            let percent = p.done.saturating_mul(100) / target;
            format!("{}/{target}（{percent}%）", p.done)
        }
        _ => p.done.to_string(),
    }
}

impl Conversation {
    /// The union whose progress the caller asked for, or why they may not see it.
    fn progress_union(&self, turn: &Turn<'_>, query: Option<&str>) -> Result<&Union, String> {
        let unions = &self.campaign.unions;
        let own = turn
            .caller
            .officer_union
            .as_deref()
            .and_then(|c| unions.get(c));
        if !turn.caller.organizer && own.is_none() {
            return Err("「进度」供各单位联络员和活动组织者使用。".to_string());
        }
        let Some(query) = query else {
            return own
                .or_else(|| unions.list.iter().find(|u| u.parent.is_none()))
                .ok_or_else(|| "工会名单是空的。".to_string());
        };
        let union = match unions.resolve(query) {
            UnionMatch::One(union) => union,
            UnionMatch::Ambiguous(candidates) => {
                let names: Vec<&str> = candidates.iter().map(|u| u.name.as_str()).collect();
                return Err(format!("有多个工会符合，请写全称：{}", names.join("、")));
            }
            UnionMatch::None(_) => return Err("没有找到这个工会。".to_string()),
        };
        let allowed = turn.caller.organizer
            || own.is_some_and(|own| {
                unions
                    .lineage(&union.code)
                    .iter()
                    .any(|u| u.code == own.code)
            });
        if allowed {
            Ok(union)
        } else {
            Err("只能查看本单位及下级单位的进度。".to_string())
        }
    }

    pub(super) async fn progress(&self, turn: &Turn<'_>, query: Option<&str>) -> Answer {
        let union = match self.progress_union(turn, query) {
            Ok(union) => union,
            Err(reply) => return Ok(reply),
        };
        if self.campaign.metrics.is_empty() {
            return Ok("本次活动没有设置任务指标。".to_string());
        }
        let progress = quota::progress(
            &self.campaign,
            &quota::gather_direct_done(&self.campaign, self.store.as_ref()).await?,
            turn.now,
        );
        let mut lines = Vec::new();
        for metric in &self.campaign.metrics {
            let Some(p) = progress.get(&union.code, &metric.key) else {
                continue;
            };
            let mut line = format!("· {}：{}", metric.name, done_text(p));
            if p.target.is_some() {
                if p.behind {
                    line.push_str(&format!(
                        "，按进度应完成约 {:.0}，落后⚠",
                        p.expected_now.ceil()
                    ));
                }
                if p.days_left > 0 {
                    line.push_str(&format!("，还剩 {} 天", p.days_left));
                }
            }
            lines.push(line);
        }
        let children: Vec<&Union> = self.campaign.unions.children(&union.code).collect();
        if !children.is_empty() {
            lines.push("下级单位：".to_string());
            for child in &children {
                lines.push(self.child_line(child, &self.campaign.metrics, &progress));
            }
            lines.extend(self.participation_ranking(&children, &progress));
        }
        let header = format!(
            "{} 任务进度（截至 {}）：",
            union.name,
            super::text::date_time(&self.campaign, turn.now)
        );
        Ok(whole(&header, &lines))
    }

    /// The child unions by participation (人次), most first, each with its coverage (members
    /// registered ÷ members, the target of a `registrations` metric) where the unions file
    /// gives its members: who is "参与度高、覆盖面广". Nothing without a participation metric.
    fn participation_ranking(&self, children: &[&Union], progress: &Progress) -> Vec<String> {
        let metrics = &self.campaign.metrics;
        let Some(participation) = metrics
            .iter()
            .find(|m| m.source == MetricSource::Participation)
        else {
            return Vec::new();
        };
        let coverage = metrics
            .iter()
            .find(|m| m.source == MetricSource::Registrations);
        let mut ranked: Vec<(&Union, i64, Option<String>)> = children
            .iter()
            .map(|child| {
                let done = progress
                    .get(&child.code, &participation.key)
                    .map_or(0, |p| p.done);
                let covered = coverage
                    .and_then(|m| progress.get(&child.code, &m.key))
                    .and_then(|p| {
                        let members = p.target.filter(|t| *t > 0)?;
                        let permille = p.done.saturating_mul(1000) / members;
                        Some(format!(
                            "覆盖 {}.{}%（{}/{members}）",
                            permille / 10,
                            permille % 10,
                            p.done
                        ))
                    });
                (*child, done, covered)
            })
            .collect();
        // Stable: unions with as many 人次 keep the unions file's order.
        ranked.sort_by_key(|r| std::cmp::Reverse(r.1));
        let mut lines = vec![format!("{}排名（人次，从高到低）：", participation.name)];
        for (place, (child, done, covered)) in ranked.into_iter().enumerate() {
            let covered = covered.map(|c| format!("；{c}")).unwrap_or_default();
            lines.push(format!(
                "{}. {} {done} 人次{covered}",
                place + 1,
                child.name
            ));
        }
        lines
    }

    /// `· 道里区总工会：线下活动 1/3⚠；注册人数 20`.
    fn child_line(&self, child: &Union, metrics: &[Metric], progress: &Progress) -> String {
        let parts: Vec<String> = metrics
            .iter()
            .filter_map(|m| {
                let p = progress.get(&child.code, &m.key)?;
                let target = p.target.map(|t| format!("/{t}")).unwrap_or_default();
                let flag = if p.behind { "⚠" } else { "" };
                Some(format!("{} {}{target}{flag}", m.name, p.done))
            })
            .collect();
        format!("· {}：{}", child.name, parts.join("；"))
    }

    pub(super) async fn report(
        &self,
        turn: &Turn<'_>,
        metric_query: &str,
        amount: i64,
        note: Option<&str>,
    ) -> Answer {
        let Some(union_code) = turn.caller.officer_union.clone() else {
            return Ok("「上报」供各单位联络员使用。".to_string());
        };
        let reportable: Vec<&Metric> = self
            .campaign
            .metrics
            .iter()
            .filter(|m| m.source == MetricSource::Reported)
            .collect();
        let names = || {
            reportable
                .iter()
                .map(|m| m.name.as_str())
                .collect::<Vec<_>>()
                .join("、")
        };
        if reportable.is_empty() {
            return Ok("本次活动没有需要上报的指标。".to_string());
        }
        let exact = reportable
            .iter()
            .copied()
            .find(|m| m.key.eq_ignore_ascii_case(metric_query) || m.name == metric_query);
        let partial: Vec<&Metric> = reportable
            .iter()
            .copied()
            .filter(|m| m.name.contains(metric_query))
            .collect();
        let metric = match (exact, partial.as_slice()) {
            (Some(m), _) => m,
            (None, [m]) => *m,
            _ => return Ok(format!("没有找到这个指标。可上报的指标：{}", names())),
        };
        let note = note.map(|n| super::text::short(n, 100)).unwrap_or_default();
        self.store
            .add_report(&NewReport {
                union_code: union_code.clone(),
                metric: metric.key.clone(),
                amount,
                note: note.clone(),
                reporter: turn.caller.userid.clone(),
                now: turn.now,
                callback_key: turn.msg.callback_key.clone(),
            })
            .await?;
        self.audit(
            turn,
            "report",
            &union_code,
            format!("metric={} amount={amount} note={note}", metric.key),
        )
        .await;
        let progress = quota::progress(
            &self.campaign,
            &quota::gather_direct_done(&self.campaign, self.store.as_ref()).await?,
            turn.now,
        );
        let total = progress
            .get(&union_code, &metric.key)
            .map(|p| format!("{}累计 {}。", metric.name, done_text(p)))
            .unwrap_or_default();
        Ok(format!(
            "已上报：{} {} +{amount}{}。\n{total}",
            self.union_name(&union_code),
            metric.name,
            if note.is_empty() {
                String::new()
            } else {
                format!("（{note}）")
            }
        ))
    }
}
