//! 排名 (place, award zone, gap to the next zone) and 榜单 (top N with award zones).

use crate::support::Harness;

/// Mini campaign, photo track (一等奖 1, 二等奖 2): P0001 5 votes, P0002 3, P0003 1, P0004 0.
async fn ranked_photos() -> Harness {
    let h = Harness::mini().await;
    for (i, user) in ["a", "b", "c", "d", "fan"].iter().enumerate() {
        let n = u32::try_from(i).unwrap() + 1;
        h.register(
            user,
            n,
            &format!("选手{}", ["甲", "乙", "丙", "丁", "戊"][i]),
            "测试市",
        )
        .await;
    }
    for (user, votes) in [("a", 5), ("b", 3), ("c", 1), ("d", 0)] {
        let link = format!("https://mp.weixin.qq.com/s/{user}");
        let code = h.approved_entry(user, "光影", &link).await;
        if votes > 0 {
            let reply = h.private("fan", &format!("投票 {code} {votes}")).await;
            assert!(reply.contains(&format!("投 {votes} 票")), "{reply}");
        }
    }
    h
}

#[tokio::test]
async fn rank_shows_place_zone_and_gap() {
    let h = ranked_photos().await;
    let first = h.private("a", "排名 光影").await;
    assert!(
        first.contains("第 1 名") && first.contains("一等奖区间") && first.contains("暂列第一"),
        "{first}"
    );
    let third = h.group("g1", "c", "排名 光影").await;
    assert!(
        third.contains("第 3 名（P0003，1 票）") && third.contains("二等奖区间"),
        "{third}"
    );
    assert!(third.contains("距一等奖（前 1 名）还差 5 票"), "{third}");
    let fourth = h.private("d", "rank P").await;
    assert!(
        fourth.contains("第 4 名") && fourth.contains("暂未进入获奖区间"),
        "{fourth}"
    );
    assert!(fourth.contains("距二等奖（前 3 名）还差 2 票"), "{fourth}");
    // Without a track: every track the member has a ranking in.
    let all = h.private("d", "排名").await;
    assert!(
        all.contains("《光影摄影》") && !all.contains("《阅读挑战赛》"),
        "{all}"
    );
    assert!(h
        .private("fan", "排名")
        .await
        .contains("还没有通过审核的作品"));
    assert!(h.private("guest", "排名").await.contains("注册"));
}

#[tokio::test]
async fn top_lists_award_zones() {
    let h = ranked_photos().await;
    let top = h.group("g1", "guest", "榜单 光影").await;
    let lines: Vec<&str> = top.lines().collect();
    assert_eq!(lines[0], "《光影摄影》榜单（前 4）：", "{top}");
    assert_eq!(lines[1], "【一等奖】第 1–1 名");
    assert!(
        lines[2].starts_with("1. P0001 选手甲《测试作品》 5 票"),
        "{top}"
    );
    assert_eq!(lines[3], "【二等奖】第 2–3 名");
    assert!(
        lines[4].starts_with("2. P0002") && lines[5].starts_with("3. P0003"),
        "{top}"
    );
    assert_eq!(lines[6], "【其他】");
    assert!(
        lines[7].starts_with("4. P0004") && lines[7].ends_with("0 票"),
        "{top}"
    );

    let two = h.group("g1", "guest", "top P 2").await;
    assert!(two.contains("前 2") && !two.contains("P0003"), "{two}");
    // No track named: a short overview of every track.
    let overview = h.group("g1", "guest", "榜单").await;
    assert!(
        overview.contains("《阅读挑战赛》") && overview.contains("《光影摄影》"),
        "{overview}"
    );
    assert!(
        overview.contains("P0003") && !overview.contains("P0004"),
        "{overview}"
    );
}

#[tokio::test]
async fn a_long_top_list_is_whole() {
    let h = Harness::shipped().await;
    for i in 0..55u32 {
        let user = format!("m{i}");
        h.register(&user, 100 + i, "阿依古丽·买买提", "哈尔滨")
            .await;
        h.approved_entry(&user, "C", &format!("https://example.org/{i}"))
            .await;
    }
    let top = h.group("g1", "m1", "榜单 C 50").await;
    // Whole: the surfaces carry it over several messages.
    assert!(top.contains("\n50. C") && !top.contains("\n51. C"), "{top}");
    assert!(top.contains("【榜样典型】第 1–10 名"), "{top}");
}
