//! 阅读: reading minutes per day map to points on a points track.

use crate::support::Harness;

#[tokio::test]
async fn minutes_add_up_per_day_and_map_to_bands() {
    let h = Harness::mini().await;
    h.register("r", 1, "张三", "测试县").await;
    let first = h.private("r", "阅读 45").await;
    assert!(
        first.contains("今天累计 45 分钟，得 5 分") && first.contains("总积分 5 分"),
        "{first}"
    );
    assert!(first.contains("再读 15 分钟，今天可得 8 分"), "{first}");
    let more = h.group("g1", "r", "read 20分钟").await;
    assert!(
        more.contains("今天累计 65 分钟，得 8 分") && more.contains("总积分 8 分"),
        "{more}"
    );
    // A new local day starts from zero; the total keeps growing.
    h.set_time("2022-08-11T00:10:00+08:00");
    let next = h.private("r", "阅读 130").await;
    assert!(
        next.contains("今天累计 130 分钟，得 10 分") && next.contains("总积分 18 分"),
        "{next}"
    );
    assert!(next.contains("最高积分档"), "{next}");
    let rank = h.private("r", "排名 阅读").await;
    assert!(rank.contains("第 1 名") && rank.contains("18 分"), "{rank}");
    assert!(h.private("r", "阅读 0").await.contains("用法：阅读"));
    assert!(h.private("r", "阅读 2000").await.contains("最多 1440"));
    // Points tracks take no links.
    assert!(h
        .private("r", "提交 阅读 https://example.org/x")
        .await
        .contains("阅读 分钟数"));
}

#[tokio::test]
async fn campaigns_without_a_points_track_say_so() {
    let h = Harness::shipped().await;
    h.register("r", 1, "张三", "哈尔滨").await;
    assert!(h.private("r", "阅读 30").await.contains("没有阅读积分赛道"));
}
