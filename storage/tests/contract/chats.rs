//! Callback dedup, dialogues and groups.

use rallybot_handlers::store::{CallbackClaim, DialogueRecord, GroupRecord};

use crate::fixtures::{at, Shared};

pub async fn a_callback_is_claimed_once_then_seen_with_its_reply(store: Shared) {
    assert_eq!(
        store.claim_callback("msg-1", at(0)).await.unwrap(),
        CallbackClaim::New
    );
    assert_eq!(
        store.claim_callback("msg-1", at(1)).await.unwrap(),
        CallbackClaim::Seen { reply: None }
    );
    store
        .finish_callback("msg-1", "已投票，今日还可投 4 票")
        .await
        .unwrap();
    assert_eq!(
        store.claim_callback("msg-1", at(2)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("已投票，今日还可投 4 票".to_owned())
        }
    );
    assert_eq!(
        store.claim_callback("msg-2", at(3)).await.unwrap(),
        CallbackClaim::New
    );
}

pub async fn purging_forgets_old_callbacks(store: Shared) {
    store.claim_callback("old-1", at(0)).await.unwrap();
    store.claim_callback("old-2", at(10)).await.unwrap();
    store.claim_callback("new-1", at(100)).await.unwrap();
    store.finish_callback("old-1", "旧的回复").await.unwrap();
    store.finish_callback("new-1", "新的回复").await.unwrap();
    assert_eq!(store.purge_callbacks(at(100)).await.unwrap(), 2);
    assert_eq!(store.purge_callbacks(at(100)).await.unwrap(), 0);
    assert_eq!(
        store.claim_callback("old-1", at(200)).await.unwrap(),
        CallbackClaim::New
    );
    // The purged reply went with its claim.
    assert_eq!(
        store.claim_callback("old-1", at(201)).await.unwrap(),
        CallbackClaim::Seen { reply: None }
    );
    assert_eq!(
        store.claim_callback("new-1", at(200)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("新的回复".to_owned())
        }
    );
}

pub async fn dialogues_are_kept_per_chat_and_user(store: Shared) {
    assert_eq!(store.dialogue("chat", "zhangsan").await.unwrap(), None);
    let step = |state: &str, secs| DialogueRecord {
        chat: "chat".to_owned(),
        user: "zhangsan".to_owned(),
        state: state.to_owned(),
        updated_at: at(secs),
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

pub async fn groups_are_learned_and_refreshed(store: Shared) {
    assert!(store.groups().await.unwrap().is_empty());
    let group = |chat_id: &str, name: &str, union_code: Option<&str>, secs| GroupRecord {
        chat_id: chat_id.to_owned(),
        name: name.to_owned(),
        webhook_url: format!("https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key={chat_id}"),
        union_code: union_code.map(str::to_owned),
        learned_at: at(secs),
    };
    store
        .upsert_group(&group("wr2", "二群", None, 1))
        .await
        .unwrap();
    store
        .upsert_group(&group("config:all", "全体", Some("U1"), 2))
        .await
        .unwrap();
    store
        .upsert_group(&group("wr2", "二群（新）", Some("U2"), 3))
        .await
        .unwrap();
    assert_eq!(
        store.groups().await.unwrap(),
        vec![
            group("config:all", "全体", Some("U1"), 2),
            group("wr2", "二群（新）", Some("U2"), 3)
        ]
    );
}

pub async fn callbacks_are_claimed_and_finished_in_batches(store: Shared) {
    assert!(store.claim_callbacks(&[], at(0)).await.unwrap().is_empty());
    store.claim_callback("old", at(0)).await.unwrap();
    store.finish_callback("old", "old reply").await.unwrap();
    store.claim_callback("unfinished", at(0)).await.unwrap();

    let keys: Vec<String> = ["a", "old", "b", "a", "unfinished"]
        .iter()
        .map(|k| (*k).to_owned())
        .collect();
    assert_eq!(
        store.claim_callbacks(&keys, at(1)).await.unwrap(),
        vec![
            CallbackClaim::New,
            CallbackClaim::Seen {
                reply: Some("old reply".to_owned())
            },
            CallbackClaim::New,
            CallbackClaim::Seen { reply: None },
            CallbackClaim::Seen { reply: None },
        ]
    );

    store.finish_callbacks(&[]).await.unwrap();
    store
        .finish_callbacks(&[
            ("a".to_owned(), "reply a".to_owned()),
            ("b".to_owned(), "reply b".to_owned()),
        ])
        .await
        .unwrap();
    assert_eq!(
        store.claim_callback("a", at(2)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("reply a".to_owned())
        }
    );
    assert_eq!(
        store.claim_callback("b", at(2)).await.unwrap(),
        CallbackClaim::Seen {
            reply: Some("reply b".to_owned())
        }
    );
    // Batch claims are purged like single ones.
    assert_eq!(store.purge_callbacks(at(2)).await.unwrap(), 4);
}
