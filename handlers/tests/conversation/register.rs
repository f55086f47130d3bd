//! Registration: the step-by-step dialogue, the one-line form, cancel, expiry, duplicates, and
//! what is (not) stored.

use crate::support::{id_number, phone, Harness};
use chrono::Duration;

#[tokio::test]
async fn step_by_step_registration_stores_only_hashes_masks_and_ciphertext() {
    let h = Harness::shipped().await;
    let id = id_number(1);
    let start = h.private("u1", "注册").await;
    assert!(start.contains("姓名"), "{start}");
    assert!(h.private("u1", "张三").await.contains("身份证号"));

    // The dialogue state in the store never holds the clear ID number or phone.
    let asked_phone = h.private("u1", &id.to_lowercase()).await;
    assert!(asked_phone.contains("手机号"), "{asked_phone}");
    let state = h.store.dialogue("u1", "u1").await.unwrap().unwrap().state;
    assert!(
        !state.contains(&id) && !state.contains(&id.to_lowercase()),
        "{state}"
    );
    assert!(
        state.contains(&format!("{}********{}", &id[..6], &id[14..])),
        "{state}"
    );

    assert!(h.private("u1", &phone(1)).await.contains("工会"));
    let state = h.store.dialogue("u1", "u1").await.unwrap().unwrap().state;
    assert!(!state.contains(&phone(1)), "{state}");

    let summary = h.private("u1", "哈尔滨").await;
    assert!(summary.contains("哈尔滨市总工会"), "{summary}");
    assert!(summary.contains("230103********"), "{summary}");
    assert!(summary.contains("139****0001"), "{summary}");
    assert!(
        !summary.contains(&id) && !summary.contains(&phone(1)),
        "{summary}"
    );

    let done = h.private("u1", "确认").await;
    assert!(done.contains("登记成功"), "{done}");
    let member = h.store.member("u1").await.unwrap().expect("registered");
    assert_eq!(member.name, "张三");
    assert_eq!(member.union_code, "hrb");
    assert_eq!(member.phone_mask, "139****0001");
    assert_eq!(member.id_hash.len(), 64);
    let everything = format!("{member:?}");
    assert!(!everything.contains(&id) && !everything.contains(&phone(1)));
    assert!(h.open_dialogue("u1").await.is_none());

    let audit = h.audit().await;
    assert_eq!(audit.len(), 1);
    assert_eq!(audit[0].action, "register");
    let detail = format!("{:?}", audit[0]);
    assert!(
        !detail.contains(&id) && !detail.contains(&phone(1)),
        "{detail}"
    );

    let me = h.private("u1", "我的").await;
    assert!(me.contains("张三") && me.contains("139****0001"), "{me}");
    assert!(!me.contains(&phone(1)));
}

#[tokio::test]
async fn wrong_answers_are_asked_again() {
    let h = Harness::shipped().await;
    h.private("u1", "注册").await;
    assert!(h.private("u1", "张3").await.contains("姓名只能包含"));
    assert!(h.private("u1", "李四").await.contains("身份证号"));
    let mut bad = id_number(2);
    let last = if bad.ends_with('0') { '1' } else { '0' };
    bad.replace_range(17..18, &last.to_string());
    let reply = h.private("u1", &bad).await;
    assert!(reply.contains("校验位"), "{reply}");
    assert!(!reply.contains(&bad));
    // Typed in groups of digits, full-width or with a lower-case x, it is still the same number.
    let id = id_number(2);
    let spaced = format!("{} {} {}", &id[..6], &id[6..14], id[14..].to_lowercase());
    assert!(h.private("u1", &spaced).await.contains("手机号"));
    assert!(h.private("u1", "12345").await.contains("11 位"));
    assert!(h
        .private("u1", "１３９-００００-０００２")
        .await
        .contains("工会"));
    let unknown = h.private("u1", "火星").await;
    assert!(unknown.contains("没有找到"), "{unknown}");
    let ambiguous = h.private("u1", "区总工会").await;
    assert!(
        ambiguous.contains("道里区总工会") && ambiguous.contains("南岗区总工会"),
        "{ambiguous}"
    );
    assert!(h.private("u1", "南岗区总工会").await.contains("确认"));
    assert!(h.private("u1", "confirm").await.contains("登记成功"));
    assert_eq!(
        h.store.member("u1").await.unwrap().unwrap().union_code,
        "hrb-nangang"
    );
}

#[tokio::test]
async fn one_line_registration_jumps_to_the_summary() {
    let h = Harness::shipped().await;
    let summary = h
        .private(
            "u2",
            &format!("注册，王五，{}，{}，大庆", id_number(3), phone(3)),
        )
        .await;
    assert!(
        summary.contains("王五") && summary.contains("大庆市总工会"),
        "{summary}"
    );
    assert!(
        h.store.member("u2").await.unwrap().is_none(),
        "nothing is stored before 确认"
    );
    assert!(h.private("u2", "确认").await.contains("登记成功"));
    assert!(h.store.member("u2").await.unwrap().is_some());

    let errors = h.private("u3", "注册 王 123 456 大庆").await;
    assert!(
        errors.contains("姓名") && errors.contains("身份证号") && errors.contains("手机号"),
        "{errors}"
    );
    assert!(h.open_dialogue("u3").await.is_none());
}

#[tokio::test]
async fn cancel_at_any_step_forgets_the_answers() {
    let h = Harness::shipped().await;
    h.private("u1", "注册").await;
    h.private("u1", "张三").await;
    h.private("u1", &id_number(4)).await;
    let cancelled = h.private("u1", "取消").await;
    assert!(cancelled.contains("已取消"), "{cancelled}");
    assert!(h.open_dialogue("u1").await.is_none());
    assert!(h.store.member("u1").await.unwrap().is_none());
    // With nothing open, 取消 and 确认 say so.
    assert!(h.private("u1", "取消").await.contains("没有需要"));
    assert!(h.private("u1", "确认").await.contains("没有需要"));
}

#[tokio::test]
async fn a_dialogue_expires_after_ten_minutes_of_silence() {
    let h = Harness::shipped().await;
    h.private("u1", "注册").await;
    h.clock.advance(Duration::minutes(9));
    assert!(
        h.private("u1", "张三").await.contains("身份证号"),
        "9 minutes is still in time"
    );
    h.clock
        .advance(Duration::minutes(10) + Duration::seconds(1));
    let expired = h.private("u1", &id_number(5)).await;
    assert!(expired.contains("超过 10 分钟"), "{expired}");
    assert!(!expired.contains(&id_number(5)));
    assert!(h.open_dialogue("u1").await.is_none());
    // A one-line registration left unconfirmed expires the same way.
    h.private(
        "u1",
        &format!("注册 张三 {} {} 哈尔滨", id_number(5), phone(5)),
    )
    .await;
    h.clock.advance(Duration::minutes(11));
    assert!(h.private("u1", "确认").await.contains("超过 10 分钟"));
    assert!(h.store.member("u1").await.unwrap().is_none());
}

#[tokio::test]
async fn one_id_number_registers_one_member() {
    let h = Harness::shipped().await;
    h.register("u1", 6, "张三", "哈尔滨").await;
    // Refused as soon as the number is typed, not after a summary.
    let refused = h
        .private(
            "u2",
            &format!("注册 张三 {} {} 哈尔滨", id_number(6), phone(7)),
        )
        .await;
    assert!(refused.contains("已由其他账号登记"), "{refused}");
    assert!(h.store.member("u2").await.unwrap().is_none());

    // The same user may update phone and union, but not change the ID number.
    h.private(
        "u1",
        &format!("注册 张三 {} {} 大庆", id_number(6), phone(8)),
    )
    .await;
    assert!(h.private("u1", "确认").await.contains("已更新"));
    assert_eq!(
        h.store.member("u1").await.unwrap().unwrap().union_code,
        "dq"
    );
    let changed = h
        .private(
            "u1",
            &format!("注册 张三 {} {} 大庆", id_number(9), phone(8)),
        )
        .await;
    assert!(changed.contains("身份证号不能更改"), "{changed}");
}

#[tokio::test]
async fn other_commands_still_work_during_a_dialogue() {
    let h = Harness::shipped().await;
    h.private("u1", "注册").await;
    let stage = h.private("u1", "阶段").await;
    assert!(stage.contains("活动开展阶段"), "{stage}");
    // The dialogue is still waiting for the name.
    assert!(h.private("u1", "张三").await.contains("身份证号"));
}
