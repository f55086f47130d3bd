//! What a reply reports besides its text: the command the message was read as (for logs and
//! metrics) and whether pushes were queued (so the push sender is woken only then).

use crate::support::{Harness, ORGANIZER, REVIEWER};
use rallybot_handlers::command::CommandKind;
use rallybot_handlers::conversation::ChatKind;

#[tokio::test]
async fn the_reply_names_the_command_it_answered() {
    let h = Harness::shipped().await;
    let said = |text: &'static str| h.say(ChatKind::Private, "u1", "u1", text);
    let help = said("帮助").await;
    assert_eq!(help.command, Some(CommandKind::Help));
    assert_eq!(help.command_label(), "帮助");
    // A command with wrong arguments is still that command.
    assert_eq!(said("vote").await.command, Some(CommandKind::Vote));
    let chatter = said("你好").await;
    assert_eq!(chatter.command, None);
    assert_eq!(chatter.command_label(), "其他");
    // In a group, also when the privacy rule answers.
    let group = h
        .say(
            ChatKind::Group,
            "g1",
            "u1",
            "@rallybot 注册 张三 1 2 哈尔滨",
        )
        .await;
    assert_eq!(group.command, Some(CommandKind::Register));
    assert!(!help.queued_pushes && !chatter.queued_pushes && !group.queued_pushes);
}

#[tokio::test]
async fn only_turns_that_queue_pushes_say_so() {
    let h = Harness::shipped().await;
    h.register("u1", 1, "张三", "哈尔滨").await;
    h.private(
        "u1",
        "提交 奋进故事 https://mp.weixin.qq.com/s/story-1 标题",
    )
    .await;
    let review = h
        .say(ChatKind::Private, REVIEWER, REVIEWER, "审核 C0001 通过")
        .await;
    assert_eq!(review.command, Some(CommandKind::Review));
    assert!(review.queued_pushes, "the submitter's notice was queued");

    h.add_group("chat-hrb", "哈尔滨职工群").await;
    let preview = h
        .say(ChatKind::Private, ORGANIZER, ORGANIZER, "公告 明天开始投票")
        .await;
    assert!(!preview.queued_pushes, "a preview queues nothing");
    let confirm = h.say(ChatKind::Private, ORGANIZER, ORGANIZER, "确认").await;
    assert_eq!(confirm.command, Some(CommandKind::Confirm));
    assert!(confirm.queued_pushes);
    // 确认 with nothing to confirm queues nothing.
    let again = h.say(ChatKind::Private, ORGANIZER, ORGANIZER, "确认").await;
    assert!(!again.queued_pushes);
}
