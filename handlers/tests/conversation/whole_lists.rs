//! Long answers are whole: `榜单 阅读 50` lists all 50 places (三等奖 26–50 included), `进度` of
//! a city lists every county, `榜单 D 第2页` pages on, and `榜单 5` is the top 5 of every track.

use crate::support::{Harness, HRB_OFFICER, ORGANIZER};

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

/// A distinct valid name for reader `i`.
fn reader_name(i: u32) -> String {
    let digit = |d: u32| DIGITS[(d % 10) as usize];
    format!("读者{}{}", digit(i / 10), digit(i))
}

/// `count` readers of 娄底, reader `i` having read `10 + i` minutes on each of `i % 5 + 1` days.
async fn loudi_with_readers(count: u32) -> Harness {
    let h = Harness::bundled("loudi-2022").await;
    for i in 0..count {
        h.register(&format!("reader{i}"), i + 1, &reader_name(i), "娄星")
            .await;
    }
    for day in 0..5 {
        h.set_time(&format!("2022-08-{:02}T09:00:00+08:00", 10 + day));
        for i in 0..count {
            if day <= i % 5 {
                let reply = h
                    .private(&format!("reader{i}"), &format!("阅读 {}", 30 + i))
                    .await;
                assert!(reply.contains("今天累计"), "{reply}");
            }
        }
    }
    h
}

#[tokio::test]
async fn fifty_places_are_listed_whole() {
    let h = loudi_with_readers(55).await;
    let top = h.group("g1", "reader1", "榜单 阅读 50").await;
    for place in 1..=50 {
        assert!(
            top.contains(&format!("\n{place}. R")),
            "place {place} missing:\n{top}"
        );
    }
    assert!(!top.contains("\n51. "), "{top}");
    assert!(top.contains("【三等奖】第 26–50 名"), "{top}");
    assert!(!top.contains("略"), "{top}");
    assert!(top.contains("第1页") || top.contains("第2页"), "{top}");
}

#[tokio::test]
async fn pages_continue_where_the_last_one_stopped() {
    let h = loudi_with_readers(25).await;
    let first = h.private("reader1", "榜单 R").await;
    assert!(
        first.contains("第 1–10 名") && first.contains("\n10. R"),
        "{first}"
    );
    assert!(first.contains("「榜单 R 第2页」"), "{first}");
    let second = h.private("reader1", "榜单 R 第2页").await;
    assert!(second.contains("第 11–20 名"), "{second}");
    assert!(
        second.contains("\n11. R") && second.contains("\n20. R"),
        "{second}"
    );
    assert!(
        !second.contains("\n10. R") && !second.contains("\n21. R"),
        "{second}"
    );
    // Page 2 starts inside the 二等奖 zone: it says so.
    assert!(second.contains("【二等奖】第 11–25 名"), "{second}");
    let third = h.private("reader1", "榜单 阅读 第 3 页").await;
    assert!(
        third.contains("\n25. R") && !third.contains("第4页"),
        "{third}"
    );
    let beyond = h.private("reader1", "榜单 R 第9页").await;
    assert!(beyond.contains("共 25 名，没有第 9 页"), "{beyond}");
}

#[tokio::test]
async fn a_number_alone_is_the_top_n_of_every_track() {
    let h = Harness::shipped().await;
    let mut codes = Vec::new();
    for i in 0..6 {
        let user = format!("m{i}");
        h.register(&user, i + 1, &reader_name(i), "哈尔滨").await;
        let link = format!("https://mp.weixin.qq.com/s/top{i}");
        codes.push(h.approved_entry(&user, "光盘", &link).await);
    }
    for code in &codes {
        let view = h.private("m1", &format!("查看 {code}")).await;
        assert!(view.contains("https://"), "{view}");
    }
    let top5 = h.private("m1", "榜单 5").await;
    assert!(top5.contains("各赛道前 5 名"), "{top5}");
    assert!(
        top5.contains("\n  5. E") && !top5.contains("\n  6. E"),
        "{top5}"
    );
    let top3 = h.private("m1", "榜单").await;
    assert!(
        top3.contains("\n  3. E") && !top3.contains("\n  4. E"),
        "{top3}"
    );
}

#[tokio::test]
async fn a_city_officer_sees_every_county() {
    let h = Harness::bundled("linfen-2020").await;
    h.set_time("2020-07-01T09:00:00+08:00");
    let progress = h.group("g1", "lf_xuanchuan01", "进度").await;
    let counties = progress
        .lines()
        .filter(|l| l.starts_with("· ") && l.contains("：线下"))
        .count();
    assert_eq!(counties, 19, "{progress}");
    assert!(progress.contains("临汾开发区工会"), "{progress}");
    assert!(!progress.contains("另有"), "{progress}");
    // Organizers too, and the province officers of 黑龙江 with its 13 cities.
    let h = Harness::shipped().await;
    let all = h.private(ORGANIZER, "进度 黑龙江").await;
    assert!(
        all.contains("黑河市总工会") && all.contains("大兴安岭"),
        "{all}"
    );
    assert!(!h.private(HRB_OFFICER, "进度").await.contains("另有"));
}
