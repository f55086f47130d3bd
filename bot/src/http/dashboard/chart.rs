//! Charts as SVG drawn on the server: bars per day, scaled to the largest, with the day and
//! count of each bar as its tooltip. No script and nothing fetched: they show offline and on
//! any phone, and they are in the page the moment it arrives.

use std::fmt::Write as _;

use chrono::NaiveDate;

use super::html::{escape, number, stat};
use super::snapshot::{PerDay, Snapshot};

const WIDTH: f64 = 600.0;
const HEIGHT: f64 = 180.0;
const LEFT: f64 = 56.0;
const BOTTOM: f64 = 24.0;
const TOP: f64 = 14.0;

/// The days a chart spans: every day of `days`, filled with zeros in between.
pub fn span(first: NaiveDate, last: NaiveDate) -> Vec<NaiveDate> {
    first.iter_days().take_while(|d| *d <= last).collect()
}

/// One chart: a titled card with its total and a bar per day of `days`.
pub fn daily_bars(key: &str, title: &str, counts: &PerDay, days: &[NaiveDate]) -> String {
    let values: Vec<i64> = days
        .iter()
        .map(|d| counts.get(d).copied().unwrap_or(0))
        .collect();
    let max = values.iter().copied().max().unwrap_or(0).max(1);
    let plot_w = WIDTH - LEFT;
    let plot_h = HEIGHT - BOTTOM - TOP;
    #[allow(clippy::cast_precision_loss)] // a campaign has a few hundred days at most
    let slot = plot_w / days.len().max(1) as f64;
    let mut svg = format!(
        "<svg class=\"chart\" data-chart=\"{key}\" viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" \
         aria-label=\"{title}\"><line class=\"axis\" x1=\"{LEFT}\" y1=\"{base}\" x2=\"{WIDTH}\" \
         y2=\"{base}\"/><text x=\"{lx}\" y=\"{ty}\" text-anchor=\"end\">{maxl}</text>\
         <text x=\"{lx}\" y=\"{base}\" text-anchor=\"end\">0</text>",
        key = escape(key),
        title = escape(title),
        base = HEIGHT - BOTTOM,
        lx = LEFT - 4.0,
        ty = TOP + 4.0,
        maxl = number(max),
    );
    for (i, (day, value)) in days.iter().zip(&values).enumerate() {
        #[allow(clippy::cast_precision_loss)] // counts far below 2^52
        let h = plot_h * (*value as f64) / (max as f64);
        #[allow(clippy::cast_precision_loss)]
        let x = LEFT + slot * i as f64 + slot * 0.15;
        let _ = write!(
            svg,
            "<rect class=\"bar\" data-day=\"{day}\" data-value=\"{value}\" x=\"{x:.1}\" \
             y=\"{y:.1}\" width=\"{w:.1}\" height=\"{h:.1}\"><title>{md}：{n}</title></rect>",
            y = HEIGHT - BOTTOM - h,
            w = (slot * 0.7).max(0.5),
            md = day.format("%-m月%-d日"),
            n = number(*value),
        );
    }
    // Dates under the first, the middle and the last bar.
    let mut labelled: Vec<usize> = vec![0, days.len() / 2, days.len().saturating_sub(1)];
    labelled.dedup();
    for i in labelled {
        let Some(day) = days.get(i) else { continue };
        #[allow(clippy::cast_precision_loss)]
        let x = LEFT + slot * (i as f64 + 0.5);
        // The first and last labels lean inwards, so they stay inside the chart.
        let anchor = match i {
            0 => "start",
            i if i + 1 == days.len() => "end",
            _ => "middle",
        };
        let x = match anchor {
            "start" => LEFT,
            "end" => WIDTH,
            _ => x,
        };
        let _ = write!(
            svg,
            "<text x=\"{x:.1}\" y=\"{y}\" text-anchor=\"{anchor}\">{}</text>",
            day.format("%-m/%-d"),
            y = HEIGHT - 4.0
        );
    }
    svg.push_str("</svg>");
    format!(
        "<div class=\"chart-card\"><div class=\"head\">{} · 合计 {}</div>{svg}</div>",
        escape(title),
        stat(key, Snapshot::total(counts)),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_day_gets_a_bar_and_the_largest_fills_the_height() {
        let d = |n| NaiveDate::from_ymd_opt(2022, 8, n).unwrap();
        let counts: PerDay = [(d(1), 4), (d(3), 8)].into_iter().collect();
        let svg = daily_bars("votes", "每日投票", &counts, &span(d(1), d(4)));
        assert_eq!(svg.matches("<rect").count(), 4);
        assert!(svg.contains("data-day=\"2022-08-02\" data-value=\"0\""));
        assert!(svg.contains(&format!("height=\"{:.1}\"", HEIGHT - BOTTOM - TOP)));
        assert!(svg.contains("data-stat=\"votes\" data-value=\"12\""));
    }
}
