//! The 系列活动's participation target: 人次 (every counted give, reading, report and
//! registration) against the campaign's 500万, and each union's 人次 and coverage (registered ÷
//! members) ranked in `进度` for organizers.

use std::path::Path;

use crate::support::{Harness, ORGANIZER};

/// The bundled 系列活动 with 会员数 filled in for 哈尔滨 (1000) and 大庆 (10).
async fn series_with_members() -> Harness {
    let shipped = Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/campaigns");
    let dir = tempfile::tempdir().unwrap();
    let toml = std::fs::read_to_string(shipped.join("longjiang-series-2022.toml")).unwrap();
    std::fs::write(dir.path().join("longjiang-series-2022.toml"), toml).unwrap();
    let csv = std::fs::read_to_string(shipped.join("longjiang-series-2022-unions.csv")).unwrap();
    let csv: Vec<String> = csv
        .lines()
        .map(|line| {
            let mut cells: Vec<String> = line.split(',').map(str::to_owned).collect();
            match cells[0].as_str() {
                "hrb" => cells[6] = "1000".to_owned(),
                "dq" => cells[6] = "10".to_owned(),
                _ => {}
            }
            cells.join(",")
        })
        .collect();
    std::fs::write(
        dir.path().join("longjiang-series-2022-unions.csv"),
        csv.join("\n"),
    )
    .unwrap();
    let path = dir.path().join("longjiang-series-2022.toml");
    Harness::build(dir, &path).await
}

#[tokio::test]
async fn organizers_see_participation_against_the_target_and_unions_ranked() {
    let h = series_with_members().await;
    // 哈尔滨: two registrations and three gives; 大庆: two registrations and a report.
    h.register("m1", 1, "张三", "哈尔滨").await;
    h.register("m2", 2, "李四", "哈尔滨").await;
    h.register("d1", 3, "王五", "大庆").await;
    h.register("d2", 4, "赵六", "大庆").await;
    let code = h
        .approved_entry("m1", "奋进故事", "https://mp.weixin.qq.com/s/p1")
        .await;
    assert!(h
        .private("m2", &format!("投票 {code} 5"))
        .await
        .contains("已为"));
    assert!(h
        .private("m1", &format!("投票 {code} 1"))
        .await
        .contains("已为"));
    let hint = h.private("m2", &format!("投票 {code} 1")).await;
    assert!(
        hint.contains("投满"),
        "a refused give is no participation: {hint}"
    );
    let report = h.private("dq_officer01", "上报 宣讲 3 走进大庆油田").await;
    assert!(report.contains("已上报"), "{report}");

    let progress = h.private(ORGANIZER, "进度").await;
    // 4 registrations + 2 gives + 1 report.
    assert!(progress.contains("参与人次：7/5000000"), "{progress}");
    let ranking = progress
        .split("参与人次排名")
        .nth(1)
        .unwrap_or_else(|| panic!("no ranking: {progress}"));
    let lines: Vec<&str> = ranking.lines().skip(1).collect();
    assert!(
        lines[0].starts_with("1. 哈尔滨市总工会 4 人次；覆盖 0.2%（2/1000）"),
        "{ranking}"
    );
    assert!(
        lines[1].starts_with("2. 大庆市总工会 3 人次；覆盖 20.0%（2/10）"),
        "{ranking}"
    );
    // Every city and industry union is ranked, those without 会员数 without a coverage.
    assert!(ranking.contains("黑河市总工会 0 人次"), "{ranking}");
    assert!(lines.len() >= 15, "{ranking}");
}
