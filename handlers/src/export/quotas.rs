//! `统计表`: the quota table laid out as the notices lay theirs out (seed 000 附件1, seed 004's
//! 19 × 8 任务分解表): 序号, 单位, then per metric 任务 / 完成 / 完成率 / 进度, and the root union
//! last as 合计. Below the root, unions come in the tree's order (each followed by its own
//! children, numbered `1`, `1.1`, `1.2`, `2` …), every row rolled up and paced exactly as `进度`
//! computes it (`quota::progress` over `quota::gather_direct_done`).

use super::table::{Cell, Column, ColumnKind, Row, SheetHead};
use super::{local_minute, title, ExportContext, ExportError, Output};
use crate::campaign::{Campaign, Metric, Union, UnionLevel};
use crate::quota::{self, MetricProgress, Progress};

/// The 进度 cell of a union that is behind: `落后（应完成约 5）`, as `进度` says it.
pub fn pace_text(p: &MetricProgress, metric: &Metric, now: crate::store::Timestamp) -> String {
    let Some(target) = p.target else {
        return String::new();
    };
    if p.done >= target {
        "已完成".to_string()
    } else if p.behind {
        format!("落后（应完成约 {:.0}）", p.expected_now.ceil())
    } else if now < metric.window_start {
        "未开始".to_string()
    } else {
        "正常".to_string()
    }
}

/// How a union is shown: its place in the numbering, and whether its row is the root's 合计.
struct Line<'c> {
    number: String,
    union: &'c Union,
    total: bool,
}

/// The unions in the table's order: below each root its descendants depth-first in file
/// order, then the root itself as 合计; a root without children is an ordinary row.
fn lines(campaign: &Campaign) -> Vec<Line<'_>> {
    let unions = &campaign.unions;
    let roots = unions.list.iter().filter(|u| {
        u.parent
            .as_deref()
            .is_none_or(|parent| unions.get(parent).is_none())
    });
    let mut out = Vec::new();
    let mut lone = 0usize;
    for root in roots {
        if unions.children(&root.code).next().is_none() {
            lone += 1;
            out.push(Line {
                number: lone.to_string(),
                union: root,
                total: false,
            });
            continue;
        }
        walk(campaign, &root.code, "", 1, &mut out);
        out.push(Line {
            number: String::new(),
            union: root,
            total: true,
        });
    }
    out
}

fn walk<'c>(
    campaign: &'c Campaign,
    parent: &'c str,
    prefix: &str,
    depth: usize,
    out: &mut Vec<Line<'c>>,
) {
    for (i, child) in campaign.unions.children(parent).enumerate() {
        let number = format!("{prefix}{}", i + 1);
        out.push(Line {
            number: number.clone(),
            union: child,
            total: false,
        });
        // The depth guard is defensive: the loader rejects cycles.
        if depth < 16 {
            walk(campaign, &child.code, &format!("{number}."), depth + 1, out);
        }
    }
}

fn level_word(level: UnionLevel) -> &'static str {
    match level {
        UnionLevel::Province => "省级",
        UnionLevel::City => "市级",
        UnionLevel::County => "县级",
        UnionLevel::Industry => "产业",
        UnionLevel::Grassroots => "基层",
    }
}

/// Whether any union sets a target for the metric: metrics without any (注册人数 in the 黑龙江
/// campaign) get only a 完成 column.
fn has_targets(campaign: &Campaign, metric: &Metric) -> bool {
    campaign
        .unions
        .list
        .iter()
        .any(|u| u.targets.contains_key(&metric.key))
}

fn head(ctx: &ExportContext<'_>) -> SheetHead {
    let mut columns = vec![
        Column::new("序号", ColumnKind::Code, 6),
        Column::new("单位", ColumnKind::Text, 26),
        Column::new("层级", ColumnKind::Text, 6),
    ];
    for metric in &ctx.campaign.metrics {
        let name = metric.name.as_str();
        if has_targets(ctx.campaign, metric) {
            columns.push(Column::grouped(name, "任务", ColumnKind::Integer, 7));
            columns.push(Column::grouped(name, "完成", ColumnKind::Integer, 7));
            columns.push(Column::grouped(name, "完成率", ColumnKind::Percent, 8));
            columns.push(Column::grouped(name, "进度", ColumnKind::Text, 18));
        } else {
            columns.push(Column::grouped(name, "完成", ColumnKind::Integer, 9));
        }
    }
    SheetHead {
        name: "统计表".to_string(),
        title: title(ctx.campaign, "任务完成情况统计表", ctx.now),
        columns,
        // 序号 and 单位 stay in view while scrolling through the metrics.
        freeze_columns: 2,
    }
}

fn row(ctx: &ExportContext<'_>, line: &Line<'_>, progress: &Progress) -> Row {
    // The hierarchy shows in 序号 (1, 1.1, …) and 层级; names stay as the unions file has
    // them, so they can be matched and sorted.
    let label = if line.total {
        format!("合计（{}）", line.union.name)
    } else {
        line.union.name.clone()
    };
    let mut cells = vec![
        Cell::text(&line.number),
        Cell::Text(label),
        Cell::text(level_word(line.union.level)),
    ];
    for metric in &ctx.campaign.metrics {
        let p = progress.get(&line.union.code, &metric.key);
        let done = Cell::Int(p.map_or(0, |p| p.done));
        if !has_targets(ctx.campaign, metric) {
            cells.push(done);
            continue;
        }
        match p.and_then(|p| p.target.map(|t| (p, t))) {
            Some((p, target)) => {
                cells.push(Cell::Int(target));
                cells.push(done);
                #[allow(clippy::cast_precision_loss)] // quota numbers are small
                let ratio = (target > 0).then(|| p.done as f64 / target as f64);
                cells.push(ratio.map_or(Cell::Empty, Cell::Percent));
                cells.push(Cell::Text(pace_text(p, metric, ctx.now)));
            }
            None => {
                cells.push(Cell::Empty);
                cells.push(done);
                cells.push(Cell::Empty);
                cells.push(Cell::Empty);
            }
        }
    }
    cells
}

pub(super) async fn produce(
    ctx: &ExportContext<'_>,
    out: &mut Output<'_>,
) -> Result<(), ExportError> {
    if ctx.campaign.metrics.is_empty() {
        return Err(ExportError::NoMetrics);
    }
    let progress = quota::progress(
        ctx.campaign,
        &quota::gather_direct_done(ctx.campaign, ctx.store).await?,
        ctx.now,
    );
    out.sheet(head(ctx)).await?;
    let rows = lines(ctx.campaign)
        .iter()
        .map(|line| row(ctx, line, &progress))
        .collect();
    out.paged(rows).await?;
    let slack = ctx.campaign.nudges.slack;
    out.notes(vec![
        "注：完成数含下级单位；单位未单列任务数的，任务数为下级单位任务数之和。".to_string(),
        format!(
            "进度按各指标的时间进度计算：完成数低于「任务数 × 已过时间比例 × {:.0}%」为落后，与「进度」命令一致。统计截至 {}。",
            (1.0 - slack) * 100.0,
            local_minute(ctx.campaign, ctx.now)
        ),
    ])
    .await
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::path::Path;

    fn campaign(name: &str) -> Campaign {
        let path = Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../deploy/campaigns")
            .join(name);
        crate::campaign::load_campaign(&path).unwrap()
    }

    #[test]
    fn the_tree_is_laid_out_children_first_with_the_root_as_total() {
        let c = campaign("longjiang-2022.toml");
        let order: Vec<(String, &str, bool)> = lines(&c)
            .iter()
            .map(|l| (l.number.clone(), l.union.code.as_str(), l.total))
            .collect();
        assert_eq!(order.first().unwrap(), &("1".to_string(), "hrb", false));
        assert_eq!(order[1], ("1.1".to_string(), "hrb-daoli", false));
        assert_eq!(order[3], ("1.3".to_string(), "hrb-hulan", false));
        assert_eq!(order[4], ("2".to_string(), "qqhr", false));
        assert_eq!(order.last().unwrap(), &(String::new(), "hlj", true));
        assert_eq!(order.len(), c.unions.list.len());

        // Seed 004: 19 counties then the city as 合计.
        let c = campaign("linfen-2020.toml");
        let order = lines(&c);
        assert_eq!(order.len(), 20);
        assert_eq!(order[18].number, "19");
        assert!(order[19].total);
        assert_eq!(order[19].union.code, "linfen");
    }
}
