//! `/dashboard/tracks`: each track's top list, ranked exactly as `榜单` ranks it (the store's
//! `top`), split into its award zones, with what each entrant lacks to reach the last place of
//! every better zone (as `排名` computes it).

use std::collections::HashMap;
use std::fmt::Write as _;
use std::sync::Arc;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use rallybot_handlers::campaign::{EntrantKind, Track};
use rallybot_handlers::conversation::text::track_name;
use rallybot_handlers::scoring::{award_zones, points_to_overtake, AwardZone, RankKey};
use rallybot_handlers::store::{Ranked, Timestamp};

use super::html::{escape, number, page};
use super::{Dashboard, Refused};

/// Places listed below the last award zone.
const BEYOND_ZONES: u64 = 5;
/// Places listed in a track without award zones.
const WITHOUT_ZONES: u32 = 20;

pub async fn show(
    State(state): State<Arc<Dashboard>>,
    headers: HeaderMap,
) -> Result<Response, Refused> {
    state.page_session(&headers)?;
    let campaign = &state.campaign;
    let now = state.clock.now();
    let mut body = String::from("<p>");
    for track in &campaign.tracks {
        let _ = write!(
            body,
            "<a href=\"#track-{}\">{}</a> ",
            escape(&track.key),
            escape(&track_name(track))
        );
    }
    body.push_str("</p>");
    for track in &campaign.tracks {
        let zones = award_zones(&track.awards);
        let n = zones.last().map_or(WITHOUT_ZONES, |z| {
            u32::try_from(z.last_place + BEYOND_ZONES).unwrap_or(u32::MAX)
        });
        let ranked = state.store.top(&track.key, n).await?;
        let names = entrant_names(&state, &ranked).await?;
        body.push_str(&track_table(track, &zones, &ranked, &names, now));
    }
    Ok(page(
        &campaign.name,
        "各赛道榜单",
        "/dashboard/tracks",
        &body,
    ))
}

/// Entrants' names: members' from the store (one batch), units' from the union tree.
async fn entrant_names(
    state: &Dashboard,
    ranked: &[Ranked],
) -> Result<HashMap<String, String>, Refused> {
    let members: Vec<String> = ranked
        .iter()
        .filter(|r| r.entry.entrant_kind == EntrantKind::Member)
        .map(|r| r.entry.entrant_id.clone())
        .collect();
    let mut names: HashMap<String, String> = state
        .store
        .members_by_userid(&members)
        .await?
        .into_iter()
        .map(|m| (m.userid, m.name))
        .collect();
    for r in ranked {
        if r.entry.entrant_kind == EntrantKind::Unit {
            if let Some(union) = state.campaign.unions.get(&r.entry.entrant_id) {
                names.insert(r.entry.entrant_id.clone(), union.name.clone());
            }
        }
    }
    Ok(names)
}

fn track_table(
    track: &Track,
    zones: &[AwardZone<'_>],
    ranked: &[Ranked],
    names: &HashMap<String, String>,
    now: Timestamp,
) -> String {
    let unit = track.rule.unit();
    let mut out = format!(
        "<h2 id=\"track-{key}\">{name}</h2><div class=\"scroll\"><table data-track=\"{key}\">\
         <tr><th class=\"n\">名次</th><th>编号</th><th>参赛者</th><th>作品</th>\
         <th class=\"n\">得分（{unit}）</th><th>距各奖项</th></tr>",
        key = escape(&track.key),
        name = escape(&track_name(track)),
    );
    if ranked.is_empty() {
        out.push_str("<tr><td colspan=\"6\">还没有通过审核的作品。</td></tr>");
    }
    // The entry at the last place of each zone, which an entrant must pass to enter it.
    let zone_ends: Vec<(&AwardZone<'_>, Option<&Ranked>)> = zones
        .iter()
        .map(|z| (z, ranked.iter().find(|r| r.place == z.last_place)))
        .collect();
    for r in ranked {
        if let Some(zone) = zones.iter().find(|z| z.first_place == r.place) {
            let _ = write!(
                out,
                "<tr class=\"zone\"><th colspan=\"6\">{}（第 {}–{} 名）</th></tr>",
                escape(&zone.tier.name),
                zone.first_place,
                zone.last_place
            );
        } else if zones.last().is_some_and(|z| z.last_place + 1 == r.place) {
            out.push_str("<tr class=\"zone\"><th colspan=\"6\">未进入获奖区间</th></tr>");
        }
        let entry = &r.entry;
        let gaps: Vec<String> = zone_ends
            .iter()
            .filter(|(zone, _)| zone.last_place < r.place)
            .filter_map(|(zone, end)| {
                let end = (*end)?;
                let gap =
                    points_to_overtake(entry.score, &entry.code, RankKey::of(&end.entry), now);
                Some(format!("{} 差 {gap}", escape(&zone.tier.name)))
            })
            .collect();
        let who = names
            .get(&entry.entrant_id)
            .map_or_else(|| escape(&entry.entrant_id), |n| escape(n));
        let _ = write!(
            out,
            "<tr data-code=\"{code}\"><td class=\"n\" data-place>{place}</td><td>{code}</td>\
             <td>{who}</td><td>{title}</td><td class=\"n\" data-score=\"{score}\">{shown}</td>\
             <td>{gaps}</td></tr>",
            code = escape(&entry.code),
            place = r.place,
            title = escape(&entry.title),
            score = entry.score,
            shown = number(entry.score),
            gaps = gaps.join("；"),
        );
    }
    out.push_str("</table></div>");
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};
    use rallybot_handlers::campaign::{AwardTier, Rule};
    use rallybot_handlers::store::{EntryRecord, ReviewStatus};

    fn ranked(place: u64, code: &str, score: i64) -> Ranked {
        let at = Utc.with_ymd_and_hms(2022, 8, 10, 1, 0, 0).unwrap();
        Ranked {
            place,
            entry: EntryRecord {
                code: code.into(),
                track: "stories".into(),
                entrant_kind: EntrantKind::Member,
                entrant_id: format!("u-{code}"),
                submitter: format!("u-{code}"),
                union_code: "hrb".into(),
                link: "https://example.org".into(),
                title: format!("<i>{code}</i>"),
                status: ReviewStatus::Approved,
                reason: None,
                reviewer: None,
                submitted_at: at,
                reviewed_at: Some(at),
                score,
                score_reached_at: Some(at),
            },
        }
    }

    #[test]
    fn each_entry_shows_what_it_lacks_for_every_better_zone() {
        let track = Track {
            key: "stories".into(),
            name: "奋进故事".into(),
            code_prefix: "C".into(),
            entrant: EntrantKind::Member,
            rule: Rule::Votes {
                per_work_per_day: 5,
            },
            awards: vec![
                AwardTier {
                    name: "一等奖".into(),
                    count: 1,
                },
                AwardTier {
                    name: "二等奖".into(),
                    count: 1,
                },
            ],
            link_hosts: Vec::new(),
            self_vote: true,
        };
        let zones = award_zones(&track.awards);
        let list = [
            ranked(1, "C0001", 20),
            ranked(2, "C0002", 12),
            ranked(3, "C0003", 5),
        ];
        let now = Utc.with_ymd_and_hms(2022, 8, 11, 1, 0, 0).unwrap();
        let html = track_table(&track, &zones, &list, &HashMap::new(), now);
        let row = |code: &str| {
            html.split(&format!("<tr data-code=\"{code}\">"))
                .nth(1)
                .unwrap()
                .split("</tr>")
                .next()
                .unwrap()
                .to_string()
        };
        // Scores equal to the one ahead lose the tie (it was reached first): one more is needed.
        assert!(
            row("C0003").contains("一等奖 差 16；二等奖 差 8"),
            "{}",
            row("C0003")
        );
        assert!(row("C0002").contains("一等奖 差 9"), "{}", row("C0002"));
        assert!(!row("C0002").contains("二等奖 差"));
        assert!(row("C0001").ends_with("<td></td>"), "{}", row("C0001"));
        assert!(html.contains("一等奖（第 1–1 名）") && html.contains("未进入获奖区间"));
        assert!(
            html.contains("&lt;i&gt;C0003&lt;/i&gt;"),
            "titles are escaped"
        );
    }
}
