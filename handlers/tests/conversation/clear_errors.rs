//! Errors that say what is wrong: counts that are negative, zero, fractions or words; voting
//! on a reading entry; a space inside a name; someone else's ID number refused when typed;
//! `帮助` with a word that is no command; `剩余` when voting is over.

use crate::support::{id_number, phone, Harness, HRB_OFFICER};

#[tokio::test]
async fn counts_say_they_must_be_positive_whole_numbers() {
    let h = Harness::shipped().await;
    h.register("m1", 1, "张三", "哈尔滨").await;
    let code = h
        .approved_entry("m1", "奋进故事", "https://mp.weixin.qq.com/s/e1")
        .await;
    let negative = h.private("m1", &format!("投票 {code} -1")).await;
    assert!(
        negative.contains("票数不能是负数") && negative.contains("正整数"),
        "{negative}"
    );
    assert!(!negative.contains("应为数字"), "{negative}");
    let words = h.group("g1", "m1", &format!("投票 {code} 两票")).await;
    assert!(words.contains("阿拉伯数字"), "{words}");
    let fraction = h.private("m1", &format!("投票 {code} 1.5")).await;
    assert!(fraction.contains("只能是整数"), "{fraction}");
    let report = h.private(HRB_OFFICER, "上报 线下活动 -1").await;
    assert!(
        report.contains("数量不能是负数，应为 1 到 100000 之间的正整数"),
        "{report}"
    );

    let h = Harness::mini().await;
    h.register("r", 1, "张三", "测试县").await;
    let read = h.private("r", "阅读 -5").await;
    assert!(
        read.contains("阅读分钟数不能是负数，应为 1 到 1440 之间的正整数"),
        "{read}"
    );
    let too_long = h.private("r", "阅读 2000").await;
    assert!(too_long.contains("最多 1440"), "{too_long}");
}

#[tokio::test]
async fn voting_for_a_reading_entry_advises_reading() {
    let h = Harness::mini().await;
    h.register("r", 1, "张三", "测试县").await;
    h.register("fan", 2, "李四", "测试县").await;
    assert!(h.private("r", "阅读 45").await.contains("今天累计"));
    let vote = h.private("fan", "投票 R0001").await;
    assert!(vote.contains("「阅读 分钟数」"), "{vote}");
    assert!(!vote.contains("查看 R0001"), "{vote}");
}

#[tokio::test]
async fn a_space_inside_the_name_is_asked_about() {
    let h = Harness::shipped().await;
    let asked = h
        .private(
            "u1",
            &format!("注册 李 四 {} {} 哈尔滨", id_number(1), phone(1)),
        )
        .await;
    assert!(asked.contains("「李 四」中间有空格"), "{asked}");
    assert!(asked.contains("例如「李四」"), "{asked}");
    assert!(
        !asked.contains("身份证号应为") && !asked.contains("手机号应为"),
        "{asked}"
    );
    let summary = h.private("u1", "李四").await;
    assert!(
        summary.contains("姓名：李四") && summary.contains("哈尔滨市总工会"),
        "{summary}"
    );
    assert!(h.private("u1", "确认").await.contains("登记成功"));

    let latin = h
        .private(
            "u2",
            &format!("注册 Zhang Wei {} {} 哈尔滨", id_number(2), phone(2)),
        )
        .await;
    assert!(latin.contains("「Zhang Wei」中间有空格"), "{latin}");
    let summary = h.private("u2", "ZhangWei").await;
    assert!(summary.contains("姓名：ZhangWei"), "{summary}");
}

#[tokio::test]
async fn someone_elses_id_number_is_refused_when_typed() {
    let h = Harness::shipped().await;
    h.register("first", 7, "王五", "哈尔滨").await;
    // Step by step: refused at the ID step, asked again, whose it is never said.
    h.private("second", "注册").await;
    h.private("second", "赵六").await;
    let refused = h.private("second", &id_number(7)).await;
    assert!(refused.contains("已由其他账号登记"), "{refused}");
    assert!(
        !refused.contains("王五") && !refused.contains("first"),
        "{refused}"
    );
    assert!(refused.contains("身份证号"), "{refused}");
    let next = h.private("second", &id_number(8)).await;
    assert!(next.contains("手机号"), "{next}");
    // In one line: refused before any summary.
    let one_line = h
        .private(
            "third",
            &format!("注册 孙七 {} {} 哈尔滨", id_number(7), phone(3)),
        )
        .await;
    assert!(one_line.contains("已由其他账号登记"), "{one_line}");
    assert!(
        !one_line.contains("请核对") && !one_line.contains("王五"),
        "{one_line}"
    );
}

#[tokio::test]
async fn help_says_a_word_is_no_command() {
    let h = Harness::shipped().await;
    let help = h.private("guest", "帮助 xyz").await;
    assert!(help.starts_with("「xyz」不是命令"), "{help}");
    assert!(help.contains("注册"), "{help}");
    assert!(h
        .private("guest", "帮助 投票")
        .await
        .contains("投票 <作品号>"));
}

#[tokio::test]
async fn left_after_voting_says_only_what_is_true() {
    let h = Harness::shipped().await;
    h.register("m1", 1, "张三", "哈尔滨").await;
    // 10月1日–10日: voting has ended, the 总结评比阶段 begins on 10月11日.
    h.set_time("2022-10-05T09:00:00+08:00");
    let left = h.private("m1", "剩余").await;
    assert!(left.contains("投票已经结束"), "{left}");
    assert!(
        left.contains("总结评比阶段") && left.contains("10月11日"),
        "{left}"
    );
    assert!(
        !left.contains("额度") && !left.contains("今天还剩") && !left.contains("各可"),
        "{left}"
    );
    // Before voting opens, it says when, and what each day will allow then.
    h.set_time("2022-07-25T09:00:00+08:00");
    let early = h.private("m1", "剩余").await;
    assert!(
        early.contains("8月1日") && early.contains("开放后每天"),
        "{early}"
    );
    // …and nothing in it speaks of today: nothing can be given today.
    assert!(!early.contains("今天"), "{early}");
    assert!(early.contains("每件作品各可投 5 票"), "{early}");
}
