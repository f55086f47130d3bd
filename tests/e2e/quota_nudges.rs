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
    // Monday 7 September 2020, 09:00 in Linfen: the weekly nudge a week before the deadline,
    // nothing reported yet.
    let plan = rallybot::background::scheduler::plan(
        &campaign,
        store.as_ref(),
        &[],
        at("2020-09-07T00:00:00+08:00"),
        at("2020-09-08T00:00:00+08:00"),
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

fn linfen() -> rallybot_handlers::campaign::Campaign {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("deploy/campaigns/linfen-2020.toml");
    load_campaign(&path).unwrap()
}

/// Fair nudges: nobody on the first morning of a window (nor in the week of grace the campaign
/// file sets by default), a target of 1 not expected while its pace is about 0.2, and every
/// lagging line says by when the target must be met.
#[tokio::test]
async fn nudges_wait_for_a_real_lag_and_say_by_when() {
    let store = rallybot_storage::open("sqlite::memory:").await.unwrap();
    let longjiang =
        load_campaign(&crate::harness::settings::campaign_path()).expect("the bundled campaign");
    // 1 August 2022, the first morning of the 61-day 线下活动 window, and the rest of the week.
    let first_week = rallybot::background::scheduler::plan(
        &longjiang,
        store.as_ref(),
        &[],
        at("2022-08-01T00:00:00+08:00"),
        at("2022-08-06T00:00:00+08:00"),
    )
    .await
    .unwrap();
    let nudges: Vec<&PlannedPush> = first_week.iter().filter(|p| p.job == "nudge").collect();
    assert!(
        nudges.is_empty(),
        "{:?}",
        nudges.first().map(|p| &p.content)
    );

    // A week later 齐齐哈尔 (0 of 10) is behind: 7 of 61 days over → 1.
    let second_week = rallybot::background::scheduler::plan(
        &longjiang,
        store.as_ref(),
        &[],
        at("2022-08-08T00:00:00+08:00"),
        at("2022-08-09T00:00:00+08:00"),
    )
    .await
    .unwrap();
    let qqhr = second_week
        .iter()
        .find(|p| p.job == "nudge" && p.recipient == "user:qqhr_officer01")
        .expect("齐齐哈尔 is nudged on 8月8日");
    assert!(
        qqhr.content
            .contains("线下活动：已完成0/10（按进度应达1），须于9月30日24:00前完成10，还剩54天"),
        "{}",
        qqhr.content
    );

    // 临汾, Monday 6 July 2020: 24 of 96 days over. A county's 线下活动 target of 1 is at a
    // pace of 0.25 — not yet due; its 摄影作品 target of 10 is (2.5, 2 with the 20% slack).
    let linfen = linfen();
    let plan = rallybot::background::scheduler::plan(
        &linfen,
        store.as_ref(),
        &[],
        at("2020-07-06T00:00:00+08:00"),
        at("2020-07-07T00:00:00+08:00"),
    )
    .await
    .unwrap();
    let yaodu = plan
        .iter()
        .find(|p| p.recipient == "user:yaodu_officer01")
        .expect("尧都 lags on 摄影作品");
    assert!(
        yaodu
            .content
            .contains("摄影作品：已完成0/10（按进度应达3）"),
        "{}",
        yaodu.content
    );
    assert!(!yaodu.content.contains("线下活动"), "{}", yaodu.content);
    assert!(!yaodu.content.contains("应达1）"), "{}", yaodu.content);
}

/// The province's officers learn which of the 13 cities lag, furthest behind first (nothing done
/// before little done), not only the province's own total; a city that kept pace is left out.
#[tokio::test]
async fn province_officers_get_a_digest_of_the_cities_behind_furthest_first() {
    use rallybot_handlers::store::NewReport;
    let store = rallybot_storage::open("sqlite::memory:").await.unwrap();
    let longjiang =
        load_campaign(&crate::harness::settings::campaign_path()).expect("the bundled campaign");
    for (union, amount) in [("hrb", 10), ("mdj", 3), ("dq", 1)] {
        store
            .add_report(&NewReport {
                union_code: union.into(),
                metric: "offline".into(),
                amount,
                note: "走进企业".into(),
                reporter: format!("{union}_officer01"),
                now: at("2022-08-20T10:00:00+08:00"),
                callback_key: format!("report/{union}"),
            })
            .await
            .unwrap();
    }
    // Thursday 1 September 2022: 31 of 61 days over, a target of 10 expects 5.
    let plan = rallybot::background::scheduler::plan(
        &longjiang,
        store.as_ref(),
        &[],
        at("2022-09-01T00:00:00+08:00"),
        at("2022-09-02T00:00:00+08:00"),
    )
    .await
    .unwrap();
    let province: String = plan
        .iter()
        .filter(|p| p.recipient == "user:hlj_xuanjiao01")
        .map(|p| p.content.as_str())
        .collect();
    assert!(
        province.contains("黑龙江省总工会以下指标落后于进度"),
        "{province}"
    );
    assert!(
        province.contains("下属单位落后情况（12个，落后最多的在前）"),
        "{province}"
    );
    let place = |name: &str| {
        province
            .find(&format!("· {name}："))
            .unwrap_or_else(|| panic!("{name} missing from {province}"))
    };
    assert!(!province.contains("· 哈尔滨市总工会："), "{province}");
    assert!(province.contains("· 齐齐哈尔市总工会：线下活动 0/10（应达5）"));
    for idle in ["齐齐哈尔", "佳木斯", "鸡西", "绥化", "大兴安岭"] {
        assert!(
            place(&format!("{idle}市总工会")) < place("大庆市总工会"),
            "{idle}: {province}"
        );
    }
    assert!(
        place("大庆市总工会") < place("牡丹江市总工会"),
        "{province}"
    );
}
