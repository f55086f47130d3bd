//! `rallybot chat` with piped input: a newcomer's script runs end to end through the real
//! encrypted callbacks, and the transcript shows the replies and the pushes.

use std::io::Write as _;
use std::process::{Command, Stdio};

use crate::harness::processes::RALLYBOT;

#[test]
fn a_piped_script_registers_submits_approves_and_votes() {
    let script = format!(
        "# a newcomer's first session\n\
         帮助\n\
         注册 张伟 {id1} {phone1} 哈尔滨\n\
         确认\n\
         提交 奋进故事 https://mp.weixin.qq.com/s/console-story 我的故事\n\
         审核 C0001 通过\n\
         /as lisi\n\
         注册 李四 {id2} {phone2} 齐齐哈尔\n\
         确认\n\
         投票 C0001 2\n\
         剩余\n\
         /group\n\
         注册 李四 {id2} {phone2} 齐齐哈尔\n\
         榜单 C\n\
         /surface aibot\n\
         排名\n\
         /clock +1d\n\
         /private\n\
         /quit\n\
         this line is never read\n",
        id1 = rallybot::devtools::local::sample_id_number(11),
        phone1 = rallybot::devtools::local::sample_phone(11),
        id2 = rallybot::devtools::local::sample_id_number(12),
        phone2 = rallybot::devtools::local::sample_phone(12),
    );
    let output = run_chat(&["chat"], &script);
    let out = String::from_utf8_lossy(&output.stdout);
    let err = String::from_utf8_lossy(&output.stderr);
    assert!(
        output.status.success(),
        "exit {:?}\n{out}\n{err}",
        output.status
    );

    // The welcome explains the console in both languages.
    assert!(
        out.contains("/as <userid>") && out.contains("speak as another user"),
        "{out}"
    );
    // Each line was answered through the callbacks.
    assert!(out.contains("zhangwei@私聊> 帮助"), "{out}");
    assert!(out.contains("登记成功"), "{out}");
    assert!(out.contains("作品号 C0001"), "{out}");
    assert!(out.contains("lisi@私聊> 投票 C0001 2"), "{out}");
    assert!(out.contains("投 2 票"), "{out}");
    assert!(out.contains("C0001 剩 3"), "{out}");
    // In the group the registration is refused, the reply mentions lisi, nothing echoed.
    assert!(out.contains("lisi@群:职工群> 注册"), "{out}");
    let group_part = out.split("lisi@群:职工群> 注册").nth(1).unwrap_or("");
    let group_reply = group_part.lines().nth(1).unwrap_or("");
    assert!(
        group_reply.contains("@lisi") && group_reply.contains("私聊"),
        "{group_reply}"
    );
    assert!(!group_reply.contains(&rallybot::devtools::local::sample_id_number(12)));
    // Through the AI bot the same group gets answers too (a finished stream, decrypted).
    let aibot_part = out.split("/surface aibot").nth(1).unwrap_or("");
    assert!(aibot_part.contains("lisi@群:职工群> 排名"), "{out}");
    assert!(aibot_part.contains("bot › "), "{out}");
    // The review result reached the submitter as an app message through the simulator.
    assert!(out.contains("[推送 push → 私聊 zhangwei]"), "{out}");
    // /clock moved the campaign clock a day.
    assert!(out.contains("2022-08-11"), "{out}");
    // /quit stopped reading.
    assert!(
        out.contains("再见") && !out.contains("this line is never read"),
        "{out}"
    );
}

/// `rallybot chat --campaign deploy/campaigns/linfen-2020.toml`: the clock starts inside the
/// 活动推进 stage of 2020 (not today, after the campaign ended), and 榜单 and 提交 say that this
/// campaign has no tracks instead of listing none.
#[test]
fn chat_on_a_campaign_without_tracks_starts_in_an_active_stage_and_says_so() {
    let output = run_chat(
        &["chat", "--campaign", "deploy/campaigns/linfen-2020.toml"],
        "/clock\n阶段\n榜单\n提交 微视频 https://example.org/v/1\n/quit\n",
    );
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    assert!(out.contains("2020-06-24 09:"), "{out}");
    assert!(out.contains("活动推进"), "{out}");
    assert_eq!(out.matches("没有设置作品赛道").count(), 2, "{out}");
    assert!(!out.contains("可选赛道"), "{out}");
}

/// `看看` in the console shows the card; `/点 1` taps its button through a signed, encrypted
/// `template_card_event`, and the replaced card shows what is left today — in private chat
/// (the app) and in a group through the AI bot.
#[test]
fn a_card_is_shown_and_tapped_in_the_console() {
    let script = format!(
        "/点 1\n\
         注册 张伟 {id1} {phone1} 哈尔滨\n\
         确认\n\
         提交 奋进故事 https://mp.weixin.qq.com/s/console-card 卡片故事\n\
         审核 C0001 通过\n\
         /as lisi\n\
         注册 李四 {id2} {phone2} 齐齐哈尔\n\
         确认\n\
         看看 C\n\
         /点 1\n\
         /group\n\
         /surface aibot\n\
         看看 C\n\
         /click 1\n\
         /点 7\n\
         /quit\n",
        id1 = rallybot::devtools::local::sample_id_number(21),
        phone1 = rallybot::devtools::local::sample_phone(21),
        id2 = rallybot::devtools::local::sample_id_number(22),
        phone2 = rallybot::devtools::local::sample_phone(22),
    );
    let output = run_chat(&["chat"], &script);
    let out = String::from_utf8_lossy(&output.stdout);
    assert!(output.status.success(), "{out}");
    // Nothing to tap before a card was shown.
    assert!(out.contains("还没有可以点的卡片"), "{out}");
    // The app's card arrives as a pushed card with a numbered button.
    let private = out.split("lisi@私聊> 看看 C").nth(1).unwrap_or("");
    assert!(private.contains("[卡片 card]"), "{out}");
    assert!(private.contains("[1] 投 C0001"), "{out}");
    let tapped = private.split("lisi@私聊> /点 1").nth(1).unwrap_or("");
    assert!(tapped.contains("[卡片已更新 card updated]"), "{out}");
    assert!(tapped.contains("已投 C0001 · 今日还可投它 4 票"), "{out}");
    // Through the AI bot in a group: the card is the answer, the tap replaces it.
    let group = out.split("lisi@群:职工群> /click 1").nth(1).unwrap_or("");
    assert!(group.contains("今日还可投它 3 票"), "{out}");
    assert!(group.contains("用法 / usage: /点"), "{out}");
}

/// Runs `rallybot chat` with `args` from the repository's root and the default config, the
/// script piped in; returns what it printed and how it ended.
fn run_chat(args: &[&str], script: &str) -> std::process::Output {
    let mut child = Command::new(RALLYBOT)
        .args(args)
        .current_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/.."))
        .env_remove("RALLYBOT_CONFIG")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("rallybot chat starts");
    child
        .stdin
        .take()
        .expect("stdin")
        .write_all(script.as_bytes())
        .expect("script written");
    child.wait_with_output().expect("rallybot chat ends")
}
