//! Dialogues and groups.

use rallybot_handlers::store::{DialogueRecord, GroupRecord};

use crate::fixtures::{at, Shared};
use crate::harness::Seeded;

pub async fn dialogues_are_kept_per_chat_and_user(store: Shared) {
    assert_eq!(store.dialogue("chat", "zhangsan").await.unwrap(), None);
    let step = |state: &str, secs| DialogueRecord {
        chat: "chat".to_owned(),
        user: "zhangsan".to_owned(),
        state: state.to_owned(),
        updated_at: at(secs),
        callback_key: String::new(),
        reply: String::new(),
    };
    store
        .save_dialogue(&step("{\"step\":\"name\"}", 1))
        .await
        .unwrap();
    store
        .save_dialogue(&step("{\"step\":\"phone\"}", 2))
        .await
        .unwrap();
    assert_eq!(
        store.dialogue("chat", "zhangsan").await.unwrap(),
        Some(step("{\"step\":\"phone\"}", 2))
    );
    assert_eq!(
        store.dialogue("other-chat", "zhangsan").await.unwrap(),
        None
    );
    assert_eq!(store.dialogue("chat", "lisi").await.unwrap(), None);
    store.clear_dialogue("chat", "zhangsan").await.unwrap();
    assert_eq!(store.dialogue("chat", "zhangsan").await.unwrap(), None);
    // Clearing nothing is fine.
    store.clear_dialogue("chat", "zhangsan").await.unwrap();
}

/// Groups are learned by the bot's plumbing (`Operations::upsert_group`); the conversation
/// reads them.
pub async fn groups_are_learned_and_refreshed(seeded: Seeded) {
    let store = &seeded.store;
    assert!(store.groups().await.unwrap().is_empty());
    let group = |chat_id: &str, name: &str, union_code: Option<&str>, secs| GroupRecord {
        chat_id: chat_id.to_owned(),
        name: name.to_owned(),
        webhook_url: format!("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={chat_id}"),
        union_code: union_code.map(str::to_owned),
        learned_at: at(secs),
    };
    seeded.learn_group(&group("wr2", "二群", None, 1)).await;
    seeded
        .learn_group(&group("config:all", "全体", Some("U1"), 2))
        .await;
    seeded
        .learn_group(&group("wr2", "二群（新）", Some("U2"), 3))
        .await;
    assert_eq!(
        store.groups().await.unwrap(),
        vec![
            group("config:all", "全体", Some("U1"), 2),
            group("wr2", "二群（新）", Some("U2"), 3)
        ]
    );
}
