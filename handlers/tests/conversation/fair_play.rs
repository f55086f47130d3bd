//! Fair play: a reciprocal ring and a burst are flagged with their reasons (the burst as the
//! votes arrive, the ring by the periodic pass); their gives are 疑 (out of the score, shown
//! apart in 榜单); a reviewer lists them with `待核` and clears or voids them with `核实`, which
//! is audited; only reviewers may, and only in private.

use rallybot_handlers::fair_play;

use crate::support::{Harness, REVIEWER};

const NAMES: [&str; 9] = [
    "张三", "李四", "王五", "赵六", "孙七", "周八", "吴九", "郑十", "钱一",
];

/// Registers `m0`… as members of 哈尔滨 on 2022-08-10 09:00.
async fn members(h: &Harness, n: usize) {
    for (i, name) in NAMES.iter().enumerate().take(n) {
        h.register(&format!("m{i}"), i as u32 + 1, name, "哈尔滨")
            .await;
    }
}

async fn pass(h: &Harness) -> fair_play::PassReport {
    fair_play::Recent::default()
        .pass(&*h.store, h.conversation.campaign(), h.clock_now())
        .await
        .unwrap()
}

/// m0, m1 and m2 each enter a story and give each other's 5 votes a day, three days running;
/// m3 gives m0's story 2 votes. Returns the three codes.
async fn ring(h: &Harness) -> Vec<String> {
    members(h, 4).await;
    let codes = stories(h).await;
    for day in 10..13 {
        h.set_time(&format!("2022-08-{day}T12:00:00+08:00"));
        for voter in 0..3 {
            for (owner, code) in codes.iter().enumerate() {
                if owner != voter {
                    let reply = h
                        .group("g1", &format!("m{voter}"), &format!("投票 {code} 5"))
                        .await;
                    assert!(reply.contains("投 5 票"), "{reply}");
                }
            }
        }
    }
    h.group("g1", "m3", &format!("投票 {} 2", codes[0])).await;
    codes
}

#[tokio::test]
async fn a_ring_is_flagged_with_its_reason_and_voided_by_a_reviewer() {
    let h = Harness::shipped().await;
    let codes = ring(&h).await;
    assert_eq!(h.store.entry(&codes[0]).await.unwrap().unwrap().score, 32);
    assert!(h
        .private(REVIEWER, "待核")
        .await
        .contains("没有等待核实的疑票"));

    let report = pass(&h).await;
    assert_eq!(report.flagged, 1, "{report:?}");
    // The ring's gives are out of the scores; m3's 2 votes still count.
    assert_eq!(h.store.entry(&codes[0]).await.unwrap().unwrap().score, 2);
    assert_eq!(h.store.entry(&codes[1]).await.unwrap().unwrap().score, 0);
    // A second pass finds nothing new to flag.
    assert_eq!(pass(&h).await.flagged, 0);

    let flags = h.private(REVIEWER, "待核").await;
    assert!(flags.contains("待核实的疑票 1 条"), "{flags}");
    assert!(flags.contains("#1 互投圈"), "{flags}");
    assert!(flags.contains("90 票（18 次）"), "{flags}");
    assert!(
        flags.contains("3 名会员在 3 天里互相给对方的作品投票"),
        "{flags}"
    );
    assert!(flags.contains("张三（哈尔滨）"), "{flags}");
    assert!(flags.contains(&codes.join("、")), "{flags}");

    let top = h.private("m3", "榜单 C").await;
    assert!(
        top.contains(&format!(
            "{} 张三《测试作品》 2 票（另有疑票 30）",
            codes[0]
        )),
        "{top}"
    );
    let rank = h.private("m0", "排名 C").await;
    assert!(
        rank.contains("2 票）") && rank.contains("另有疑票 30"),
        "{rank}"
    );

    let void = h.private(REVIEWER, "核实 1 无效 三人互投刷票").await;
    assert!(
        void.contains("已核实疑票 #1 无效：90 票（18 次）作废"),
        "{void}"
    );
    assert_eq!(h.store.entry(&codes[0]).await.unwrap().unwrap().score, 2);
    let top = h.private("m3", "榜单 C").await;
    assert!(
        !top.contains("疑票"),
        "void gives are not 疑 any more: {top}"
    );
    assert!(h
        .private(REVIEWER, "待核")
        .await
        .contains("没有等待核实的疑票"));

    let again = h.private(REVIEWER, "核实 1 有效").await;
    assert!(
        again.contains("已于") && again.contains("核实为无效"),
        "{again}"
    );
    assert_eq!(h.store.entry(&codes[0]).await.unwrap().unwrap().score, 2);

    let audit: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action.starts_with("flag_"))
        .collect();
    assert_eq!(audit.len(), 1, "{audit:?}");
    assert_eq!(audit[0].action, "flag_void");
    assert_eq!(audit[0].actor, REVIEWER);
    assert_eq!(audit[0].subject, "flag:1");
    assert!(audit[0].detail.contains("三人互投刷票"), "{:?}", audit[0]);
}

#[tokio::test]
async fn clearing_a_flag_counts_its_gives_again() {
    let h = Harness::shipped().await;
    let codes = ring(&h).await;
    pass(&h).await;
    let clear = h.private(REVIEWER, "verify 1 valid 同事互相支持").await;
    assert!(
        clear.contains("已核实疑票 #1 有效：90 票（18 次）恢复计入"),
        "{clear}"
    );
    assert_eq!(h.store.entry(&codes[0]).await.unwrap().unwrap().score, 32);
    assert_eq!(h.store.entry(&codes[2]).await.unwrap().unwrap().score, 30);
    // Cleared gives are not flagged again by the next pass.
    assert_eq!(pass(&h).await.flagged, 0);
    let audit = h.audit().await;
    assert!(audit.iter().any(|e| e.action == "flag_clear"), "{audit:?}");
}

#[tokio::test]
async fn a_burst_is_flagged_as_the_votes_arrive() {
    let h = Harness::shipped().await;
    members(&h, 9).await;
    let quiet = h
        .approved_entry("m0", "C", "https://example.org/quiet")
        .await;
    let loud = h
        .approved_entry("m1", "C", "https://example.org/loud")
        .await;
    // A quiet afternoon: one vote an hour for each (m2's five a day).
    for hour in 11..16 {
        h.set_time(&format!("2022-08-10T{hour}:00:00+08:00"));
        h.group("g1", "m2", &format!("投票 {quiet}")).await;
        h.group("g1", "m2", &format!("投票 {loud}")).await;
    }
    assert!(h
        .private(REVIEWER, "待核")
        .await
        .contains("没有等待核实的疑票"));
    // Then seven members give `loud` 5 votes each within a minute.
    h.set_time("2022-08-10T16:01:00+08:00");
    for voter in [3, 4, 5, 6, 7, 8, 0] {
        let reply = h
            .group("g1", &format!("m{voter}"), &format!("投票 {loud} 5"))
            .await;
        assert!(reply.contains("投 5 票"), "{reply}");
    }
    let flags = h.private(REVIEWER, "待核").await;
    assert!(flags.contains("#1 票数突增"), "{flags}");
    assert!(
        flags.contains(&format!("作品 {loud} 在 10 分钟内得到 30 票")),
        "{flags}"
    );
    // The pass adds the gives made after the watch raised it to the same flag.
    let report = pass(&h).await;
    assert_eq!(report.flagged, 1, "{report:?}");
    let all = h.store.flags(None, 10).await.unwrap();
    assert_eq!(all.len(), 1, "{all:?}");
    assert_eq!(all[0].amount, 35);
    assert_eq!(all[0].entries, vec![loud.clone()]);
    assert_eq!(h.store.entry(&loud).await.unwrap().unwrap().score, 5);
    let top = h.private("m0", "榜单 C").await;
    assert!(top.contains("另有疑票 35"), "{top}");
}

#[tokio::test]
async fn only_reviewers_decide_and_only_in_private() {
    let h = Harness::shipped().await;
    members(&h, 1).await;
    assert!(h.private("m0", "待核").await.contains("只有审核员"));
    assert!(h.private("m0", "核实 1 有效").await.contains("只有审核员"));
    let group = h.group("g1", REVIEWER, "待核").await;
    assert!(group.contains("只能在私聊中使用"), "{group}");
    let group = h.group("g1", REVIEWER, "核实 1 无效").await;
    assert!(group.contains("只能在私聊中使用"), "{group}");
    let unknown = h.private(REVIEWER, "核实 7 无效").await;
    assert!(unknown.contains("没有编号为 7 的疑票"), "{unknown}");
    let unclear = h.private(REVIEWER, "核实 7").await;
    assert!(
        unclear.contains("有效") && unclear.contains("无效"),
        "{unclear}"
    );
}

/// The counted tracks a pass examines.
fn counted_tracks(h: &Harness) -> usize {
    let campaign = h.conversation.campaign();
    campaign
        .tracks
        .iter()
        .filter(|t| rallybot_handlers::results::frozen_track(t))
        .count()
}

#[tokio::test]
async fn passes_kept_between_read_only_the_new_gives_and_still_see_a_ring() {
    let h = Harness::shipped().await;
    members(&h, 4).await;
    let codes = stories(&h).await;
    let tracks = counted_tracks(&h);
    let mut recent = fair_play::Recent::default();
    let mut examined = 0;
    for day in 10..13 {
        h.set_time(&format!("2022-08-{day}T12:00:00+08:00"));
        for voter in 0..3 {
            for (owner, code) in codes.iter().enumerate() {
                if owner != voter {
                    h.group("g1", &format!("m{voter}"), &format!("投票 {code} 5"))
                        .await;
                }
            }
        }
        let now = h.clock_now();
        let report = recent
            .pass(&*h.store, h.conversation.campaign(), now)
            .await
            .unwrap();
        examined += 6;
        // Each pass reads the day's six gives, and the day before's six again: they were the
        // last read, and the settling overlap reads the five minutes before the last read.
        // Earlier days are held, not read again.
        let read = if day == 10 { 6 } else { 12 };
        assert_eq!(report.read, read, "day {day}: {report:?}");
        assert_eq!(report.gives, examined, "day {day}: {report:?}");
        assert_eq!(
            report.flagged,
            usize::from(day == 12),
            "day {day}: {report:?}"
        );
        // With nothing new, the next pass reads the settling overlap and examines nothing.
        let again = recent
            .pass(&*h.store, h.conversation.campaign(), now)
            .await
            .unwrap();
        assert_eq!(
            (again.gives, again.unchanged, again.flagged),
            (0, tracks, 0),
            "{again:?}"
        );
    }
    assert_eq!(h.store.entry(&codes[0]).await.unwrap().unwrap().score, 0);

    // A give whose time is before the last one read (it committed late) is still added once.
    let now = h.clock_now() + chrono::Duration::minutes(3);
    h.set_time("2022-08-12T11:58:00+08:00");
    h.group("g1", "m3", &format!("投票 {} 1", codes[1])).await;
    let late = recent
        .pass(&*h.store, h.conversation.campaign(), now)
        .await
        .unwrap();
    assert_eq!(late.gives, examined + 1, "{late:?}");
    let again = recent
        .pass(&*h.store, h.conversation.campaign(), now)
        .await
        .unwrap();
    assert_eq!(again.unchanged, tracks, "{again:?}");

    // Eight days on, the ring's gives are out of the lookback: only the new give is examined.
    h.set_time("2022-08-20T12:00:00+08:00");
    h.group("g1", "m3", &format!("投票 {} 1", codes[2])).await;
    let later = recent
        .pass(&*h.store, h.conversation.campaign(), h.clock_now())
        .await
        .unwrap();
    assert_eq!((later.read, later.gives), (1, 1), "{later:?}");
}

/// m0, m1 and m2 each enter a story; their codes.
async fn stories(h: &Harness) -> Vec<String> {
    let mut codes = Vec::new();
    for i in 0..3 {
        let link = format!("https://example.org/ring/{i}");
        codes.push(h.approved_entry(&format!("m{i}"), "C", &link).await);
    }
    codes
}
