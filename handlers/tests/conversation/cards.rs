//! `看看` and card clicks: a page of a track as a card with a button per entry; a click counted
//! through the same give as `投票`, once per callback, with the same refusals.

use rallybot_handlers::conversation::{ButtonKey, ChatKind, Inbound, Reply};

use crate::support::Harness;

/// Clicks `key` on the card `task_id` as `user`, under callback `callback`.
async fn click(h: &Harness, user: &str, key: &str, task_id: &str, callback: &str) -> Reply {
    h.conversation
        .click(
            &Inbound {
                chat_kind: ChatKind::Private,
                chat_id: user.to_string(),
                user: user.to_string(),
                text: key.to_string(),
                callback_key: callback.to_string(),
            },
            task_id,
        )
        .await
}

async fn stories() -> (Harness, Vec<String>) {
    let h = Harness::shipped().await;
    h.register("voter", 1, "李四", "大庆").await;
    let mut codes = Vec::new();
    for i in 0..7 {
        let author = format!("author{i}");
        h.register(&author, 10 + i, "张三", "哈尔滨").await;
        codes.push(
            h.approved_entry(&author, "C", &format!("https://example.org/story/{i}"))
                .await,
        );
    }
    (h, codes)
}

#[tokio::test]
async fn a_page_is_a_card_with_a_vote_button_per_entry() {
    let (h, codes) = stories().await;
    let reply = h.say(ChatKind::Private, "voter", "voter", "看看 C").await;
    let card = reply
        .card
        .clone()
        .expect("a votes track is browsed as a card");
    assert_eq!(card.buttons.len(), 6, "six buttons at most");
    assert_eq!(card.rows.len(), 6);
    assert!(card.task_id.len() <= 128);
    let key = ButtonKey::parse(&card.buttons[0].key).unwrap();
    assert_eq!(key.page, 1);
    assert!(codes.contains(&key.code.to_string()));
    assert!(
        card.buttons[0].text.starts_with("投 "),
        "{:?}",
        card.buttons
    );
    assert!(card.note.contains("看看 C 2"), "{}", card.note);
    // The same page as text, for surfaces without cards.
    assert!(
        reply.text.contains("第 1 页") && reply.text.contains("投票"),
        "{}",
        reply.text
    );

    let second = h
        .say(ChatKind::Group, "g1", "voter", "@rallybot browse C 2")
        .await;
    let card = second.card.unwrap();
    assert_eq!(card.buttons.len(), 1, "seven entries: one on page 2");
    assert_eq!(ButtonKey::parse(&card.buttons[0].key).unwrap().page, 2);
    // Another message, another task id.
    let again = h.say(ChatKind::Private, "voter", "voter", "看看 C").await;
    assert_ne!(again.card.unwrap().task_id, card.task_id);
}

#[tokio::test]
async fn likes_get_like_buttons_and_views_only_text() {
    let h = Harness::shipped().await;
    h.register("author", 1, "张三", "哈尔滨").await;
    h.approved_entry("author", "B", "https://example.org/talent")
        .await;
    h.approved_entry("author", "E", "https://example.org/plate")
        .await;
    let likes = h.say(ChatKind::Private, "author", "author", "看看 B").await;
    assert!(likes.card.unwrap().buttons[0].key.starts_with("like:"));
    let views = h.say(ChatKind::Private, "author", "author", "看看 E").await;
    assert!(views.card.is_none(), "a view must open the link");
    assert!(views.text.contains("E0001"), "{}", views.text);
    let none = h.say(ChatKind::Private, "author", "author", "看看 D").await;
    assert!(
        none.card.is_none() && none.text.contains("还没有"),
        "{}",
        none.text
    );
    let which = h.private("author", "看看").await;
    assert!(which.contains("请写明看哪个赛道"), "{which}");
}

#[tokio::test]
async fn a_click_is_one_vote_and_a_retry_counts_once() {
    let (h, _) = stories().await;
    let card = h
        .say(ChatKind::Private, "voter", "voter", "看看 C")
        .await
        .card
        .unwrap();
    let button = &card.buttons[0];
    let code = ButtonKey::parse(&button.key).unwrap().code.to_string();
    let first = click(&h, "voter", &button.key, &card.task_id, "click/1").await;
    assert!(
        first.text.contains("已投") && first.text.contains("还可投它 4 票"),
        "{}",
        first.text
    );
    let updated = first.card.expect("the card is updated");
    assert_eq!(
        updated.task_id, card.task_id,
        "the update keeps the clicked card's task id"
    );
    assert!(updated.desc.contains("还可投它 4 票"), "{}", updated.desc);
    // WeCom's retry of the same click.
    let retry = click(&h, "voter", &button.key, &card.task_id, "click/1").await;
    assert!(retry.text.contains("还可投它 4 票"), "{}", retry.text);
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 1);
    // Clicks and 投票 share the day's five.
    for i in 2..=5 {
        click(
            &h,
            "voter",
            &button.key,
            &card.task_id,
            &format!("click/{i}"),
        )
        .await;
    }
    let full = click(&h, "voter", &button.key, &card.task_id, "click/6").await;
    assert!(full.text.contains("投满 5 票"), "{}", full.text);
    let refused = full.card.unwrap();
    assert_eq!(refused.desc, "未计入");
    assert!(refused.note.contains("投满"), "{}", refused.note);
    assert!(h
        .private("voter", &format!("投票 {code}"))
        .await
        .contains("投满"));
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 5);
    let votes = h
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == "vote")
        .count();
    assert_eq!(votes, 5);
}

#[tokio::test]
async fn refused_clicks_count_nothing() {
    let h = Harness::mini().await;
    h.register("author", 1, "张三", "测试县").await;
    let code = h
        .approved_entry("author", "P", "https://mp.weixin.qq.com/s/photo")
        .await;
    let key = format!("vote:{code}:1");
    let own = click(&h, "author", &key, "t1", "c1").await;
    assert!(own.text.contains("不能给自己的作品"), "{}", own.text);
    assert_eq!(own.card.unwrap().desc, "未计入");
    let guest = click(&h, "stranger", &key, "t1", "c2").await;
    assert!(guest.text.contains("实名登记"), "{}", guest.text);
    let stale = click(&h, "author", "whatever", "t1", "c3").await;
    assert!(stale.text.contains("按钮已失效") && stale.card.is_none());
    // After the activity stage, voting is closed.
    h.register("voter", 2, "李四", "测试县").await;
    h.set_time("2022-10-08T09:00:00+08:00");
    let closed = click(&h, "voter", &key, "t1", "c4").await;
    assert!(
        closed.text.contains("不能投票") || closed.text.contains("结束"),
        "{}",
        closed.text
    );
    assert_eq!(h.store.entry(&code).await.unwrap().unwrap().score, 0);
}

#[tokio::test]
async fn top_of_one_track_offers_a_card_beside_its_text() {
    let (h, _) = stories().await;
    let reply = h.say(ChatKind::Private, "voter", "voter", "榜单 C").await;
    assert!(reply.text.contains("榜单（前 7）"), "{}", reply.text);
    let card = reply.card.expect("a card to vote from");
    assert!(card.with_text, "the standings stay the answer");
    assert_eq!(card.buttons.len(), 6);
    assert_eq!(ButtonKey::parse(&card.buttons[0].key).unwrap().page, 1);
    // Every track at once, or a track nobody votes on: text only.
    assert!(h
        .say(ChatKind::Private, "voter", "voter", "榜单")
        .await
        .card
        .is_none());
    assert!(h
        .say(ChatKind::Private, "voter", "voter", "榜单 E")
        .await
        .card
        .is_none());
    // 看看 stands alone.
    let browse = h.say(ChatKind::Private, "voter", "voter", "看看 C").await;
    assert!(!browse.card.unwrap().with_text);
}
