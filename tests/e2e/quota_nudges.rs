//! A city officer whose counties all lag (临汾, seed 004: 19 units × 8 metrics) gets the nudge
//! in several messages, each within WeCom's 2048-byte limit, with every county in one of them
//! and a key of its own for each part.

use std::collections::HashSet;
use std::path::PathBuf;

use chrono::{DateTime, Utc};
use rallybot::background::scheduler::PlannedPush;
use rallybot_handlers::campaign::load_campaign;

use crate::harness::background::at;

#[tokio::test]
async fn a_long_city_nudge_comes_in_parts_naming_every_county() {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy/campaigns/linfen-2020.toml");
    let campaign = load_campaign(&path).unwrap();
    let store = rallybot_storage::open("sqlite::memory:").await.unwrap();
    // Monday 3 August 2020, 09:00 in Linfen: the weekly nudge, nothing reported yet.
    let plan = rallybot::background::scheduler::plan(
        &campaign,
        store.as_ref(),
        &[],
        at("2020-08-03T00:00:00+08:00"),
        at("2020-08-04T00:00:00+08:00"),
    )
    .await
    .unwrap();

    let keys: HashSet<&str> = plan.iter().map(|p| p.key.as_str()).collect();
    assert_eq!(keys.len(), plan.len(), "every part has a key of its own");
    assert!(plan.iter().all(|p| p.content.len() <= 2048));

    let city = campaign
        .unions
        .list
        .iter()
        .find(|u| u.parent.is_none())
        .expect("the city union");
    let officer = format!("user:{}", city.officers[0]);
    let parts: Vec<&PlannedPush> = plan.iter().filter(|p| p.recipient == officer).collect();
    assert!(parts.len() > 1, "{} part(s)", parts.len());
    let first_key = format!("nudge/{}/{officer}", stamp(parts[0].occurrence));
    assert_eq!(parts[0].key, first_key);
    assert_eq!(parts[1].key, format!("{first_key}/part2"));
    assert!(parts[0].content.starts_with("【进度提醒】"));
    assert!(parts[1].content.starts_with("【进度提醒（续）】"));
    let all: String = parts.iter().map(|p| p.content.as_str()).collect();
    let counties: Vec<&str> = campaign
        .unions
        .list
        .iter()
        .filter(|u| u.parent.as_deref() == Some(city.code.as_str()))
        .map(|u| u.name.as_str())
        .collect();
    assert!(counties.len() >= 19, "{counties:?}");
    for county in counties {
        assert_eq!(
            all.matches(&format!("· {county}：")).count(),
            1,
            "{county} in the city officer's digest"
        );
    }
}

fn stamp(at: DateTime<Utc>) -> String {
    at.format("%Y-%m-%dT%H:%M:%SZ").to_string()
}
