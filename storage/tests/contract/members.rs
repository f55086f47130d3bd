//! Members: registration, the one-person-one-ID-number rule, lookups and counts.

use rallybot_handlers::store::{RegisterOutcome, StoreError};

use crate::fixtures::{at, fresh_key, member, Shared};

pub async fn registering_again_updates_name_phone_and_union(store: Shared) {
    let first = member("zhangsan", "hash-1", "U1");
    assert_eq!(
        store.register_member(&first, &fresh_key()).await.unwrap(),
        RegisterOutcome::Registered
    );
    assert_eq!(store.member("zhangsan").await.unwrap(), Some(first.clone()));

    let mut again = first.clone();
    again.name = "张三".to_owned();
    again.phone_enc = "new-ciphertext".to_owned();
    again.phone_mask = "139****0000".to_owned();
    again.union_code = "U2".to_owned();
    again.registered_at = at(3600);
    assert_eq!(
        store.register_member(&again, &fresh_key()).await.unwrap(),
        RegisterOutcome::Updated
    );
    let stored = store.member("zhangsan").await.unwrap().unwrap();
    assert_eq!(stored.name, "张三");
    assert_eq!(stored.phone_enc, "new-ciphertext");
    assert_eq!(stored.phone_mask, "139****0000");
    assert_eq!(stored.union_code, "U2");
    // The first registration time stays.
    assert_eq!(stored.registered_at, at(0));
}

pub async fn an_id_number_belongs_to_one_user(store: Shared) {
    store
        .register_member(&member("zhangsan", "hash-1", "U1"), &fresh_key())
        .await
        .unwrap();
    let error = store
        .register_member(&member("lisi", "hash-1", "U1"), &fresh_key())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::IdNumberTaken), "{error:?}");
    assert_eq!(store.member("lisi").await.unwrap(), None);
}

pub async fn the_holder_of_an_id_number_is_known_before_registering(store: Shared) {
    assert_eq!(store.id_holder("hash-1").await.unwrap(), None);
    store
        .register_member(&member("zhangsan", "hash-1", "U1"), &fresh_key())
        .await
        .unwrap();
    assert_eq!(
        store.id_holder("hash-1").await.unwrap().as_deref(),
        Some("zhangsan")
    );
    assert_eq!(store.id_holder("hash-2").await.unwrap(), None);
}

pub async fn a_user_cannot_change_id_number(store: Shared) {
    let first = member("zhangsan", "hash-1", "U1");
    store.register_member(&first, &fresh_key()).await.unwrap();
    let mut other_number = member("zhangsan", "hash-2", "U2");
    other_number.name = "someone else".to_owned();
    let error = store
        .register_member(&other_number, &fresh_key())
        .await
        .unwrap_err();
    assert!(matches!(error, StoreError::IdNumberTaken), "{error:?}");
    assert_eq!(store.member("zhangsan").await.unwrap(), Some(first));
}

pub async fn unknown_member_is_none(store: Shared) {
    assert_eq!(store.member("nobody").await.unwrap(), None);
}

pub async fn registrations_are_counted_per_union(store: Shared) {
    assert!(store.registrations_by_union().await.unwrap().is_empty());
    for (userid, union_code) in [("a", "U1"), ("b", "U2"), ("c", "U1"), ("d", "U3")] {
        store
            .register_member(
                &member(userid, &format!("hash-{userid}"), union_code),
                &fresh_key(),
            )
            .await
            .unwrap();
    }
    // Moving a member moves their count.
    store
        .register_member(&member("d", "hash-d", "U1"), &fresh_key())
        .await
        .unwrap();
    assert_eq!(
        store.registrations_by_union().await.unwrap(),
        vec![("U1".to_owned(), 3), ("U2".to_owned(), 1)]
    );
}
