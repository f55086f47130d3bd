//! 帮助: role- and stage-aware command lists, one command's usage, and unknown input.

use crate::support::{Harness, HRB_OFFICER, ORGANIZER, REVIEWER};

#[tokio::test]
async fn help_lists_what_this_user_may_do_now() {
    let h = Harness::shipped().await;
    let guest = h.group("g1", "guest", "帮助").await;
    assert!(
        guest.contains("注册") && guest.contains("（私聊）") && guest.contains("榜单"),
        "{guest}"
    );
    assert!(
        !guest.contains("投票 <作品号>") && !guest.contains("审核 <作品号>"),
        "{guest}"
    );

    h.register("m", 1, "张三", "哈尔滨").await;
    let member = h.private("m", "help").await;
    assert!(
        member.contains("投票 <作品号>") && member.contains("点赞") && member.contains("剩余"),
        "{member}"
    );
    assert!(
        !member.contains("阅读 <分钟>"),
        "no points track in this campaign: {member}"
    );
    assert!(
        !member.contains("上报 <指标>") && !member.contains("审核 <作品号>"),
        "{member}"
    );

    let officer = h.private(HRB_OFFICER, "帮助").await;
    assert!(
        officer.contains("上报") && officer.contains("进度"),
        "{officer}"
    );
    let reviewer = h.private(REVIEWER, "？").await;
    assert!(
        reviewer.contains("审核 <作品号>") && reviewer.contains("待审"),
        "{reviewer}"
    );
    let organizer = h.private(ORGANIZER, "帮助").await;
    assert!(
        organizer.contains("公告 [官员]") && organizer.contains("审核 <作品号>"),
        "{organizer}"
    );

    // Before the activity stage, submitting and voting are announced, not listed.
    h.set_time("2022-07-25T10:00:00+08:00");
    let early = h.private("m", "帮助").await;
    assert!(!early.contains("投票 <作品号>"), "{early}");
    assert!(
        early.contains("「提交」「投票」「点赞」将在活动开展阶段（8月1日）开放"),
        "{early}"
    );
}

#[tokio::test]
async fn help_for_one_command_shows_usage_and_rules() {
    let h = Harness::shipped().await;
    let vote = h.group("g1", "guest", "帮助 投票").await;
    assert!(vote.starts_with("投票 <作品号> [票数]"), "{vote}");
    assert!(
        vote.contains("vote") && vote.contains("每件作品每人每天最多 5 票"),
        "{vote}"
    );
    let like = h.group("g1", "guest", "help like").await;
    assert!(like.contains("每人每天共 3 次点赞"), "{like}");
    let submit = h.private("guest", "帮助 提交").await;
    assert!(submit.contains("A 龙江红色足迹打卡"), "{submit}");
}

#[tokio::test]
async fn unknown_input_gets_a_hint_not_silence() {
    let h = Harness::shipped().await;
    let reply = h.group("g1", "guest", "今天天气不错").await;
    assert!(reply.contains("帮助"), "{reply}");
    assert!(!reply.contains("天气"), "{reply}");
    let empty = h.group("g1", "guest", "").await;
    assert!(empty.contains("你可以发送"), "{empty}");
}

/// 临汾 2020 has no tracks (its works are collected on other platforms): help says what the
/// bot is for there, and 榜单、提交、投票、剩余 say so instead of an empty list of tracks.
#[tokio::test]
async fn a_campaign_without_tracks_says_so_in_help_and_replies() {
    let h = Harness::linfen().await;
    h.register("m", 1, "张三", "尧都").await;
    let help = h.private("m", "帮助").await;
    assert!(help.contains("没有设置作品赛道"), "{help}");
    for word in ["榜单 [赛道]", "排名 [赛道]", "查看 <作品号>", "剩余"] {
        assert!(!help.contains(word), "{word} listed: {help}");
    }
    assert!(help.contains("阶段"), "{help}");
    let officer = h.private("yaodu_officer01", "帮助").await;
    assert!(officer.contains("上报 <指标>"), "{officer}");

    for text in [
        "榜单",
        "榜单 微视频",
        "提交",
        "提交 微视频 https://example.org/v/1",
        "投票 A0001",
        "剩余",
        "排名",
        "帮助 提交",
    ] {
        let reply = h.private("m", text).await;
        assert!(reply.contains("没有设置作品赛道"), "{text}: {reply}");
        assert!(reply.contains("上报"), "{text}: {reply}");
        assert!(!reply.contains("可选赛道"), "{text}: {reply}");
    }
}
