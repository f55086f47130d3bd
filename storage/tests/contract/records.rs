//! Quota reports and the audit log.

use rallybot_handlers::store::{AuditEvent, NewReport};

use crate::fixtures::{approval, approved_votes, at, day, fresh_key, member, vote, Shared};

fn report(union_code: &str, metric: &str, amount: i64) -> NewReport {
    NewReport {
        union_code: union_code.to_owned(),
        metric: metric.to_owned(),
        amount,
        note: "线下活动".to_owned(),
        reporter: "officer".to_owned(),
        now: at(0),
        callback_key: fresh_key(),
    }
}

pub async fn reports_are_summed_per_union_and_metric(store: Shared) {
    assert!(store
        .reported_by_union("activities")
        .await
        .unwrap()
        .is_empty());
    for (union_code, metric, amount) in [
        ("U2", "activities", 3),
        ("U1", "activities", 2),
        ("U1", "activities", 5),
        ("U1", "articles", 7),
        ("U2", "activities", -1),
    ] {
        store
            .add_report(&report(union_code, metric, amount))
            .await
            .unwrap();
    }
    assert_eq!(
        store.reported_by_union("activities").await.unwrap(),
        vec![("U1".to_owned(), 7), ("U2".to_owned(), 2)]
    );
    assert_eq!(
        store.reported_by_union("articles").await.unwrap(),
        vec![("U1".to_owned(), 7)]
    );
}

fn event(n: i64) -> AuditEvent {
    AuditEvent {
        at: at(n),
        actor: format!("user{n}"),
        action: "vote".to_owned(),
        subject: format!("A{n:04}"),
        detail: format!("{{\"granted\":{n}}}"),
        callback_key: None,
    }
}

pub async fn the_audit_log_reads_back_in_order_by_pages(store: Shared) {
    assert!(store.audit_log(0, 10).await.unwrap().is_empty());
    for n in 1..=5 {
        store.audit(&event(n)).await.unwrap();
    }
    let first = store.audit_log(0, 3).await.unwrap();
    assert_eq!(
        first.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        vec![event(1), event(2), event(3)]
    );
    let ids: Vec<i64> = first.iter().map(|(id, _)| *id).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let rest = store.audit_log(ids[2], 10).await.unwrap();
    assert_eq!(
        rest.iter().map(|(_, e)| e.clone()).collect::<Vec<_>>(),
        vec![event(4), event(5)]
    );
    assert!(store.audit_log(rest[1].0, 10).await.unwrap().is_empty());
}

/// 人次 per union: each counted give of its members, each report, each registration; gives to
/// an entry withdrawn after approval no longer count, and a give's amount does not multiply.
pub async fn participation_counts_every_give_report_and_registration(store: Shared) {
    assert!(store.participation_by_union().await.unwrap().is_empty());
    for (userid, hash, union) in [("fan1", "h1", "U1"), ("fan2", "h2", "U2")] {
        store
            .register_member(&member(userid, hash, union), &fresh_key())
            .await
            .unwrap();
    }
    let entries = approved_votes(&store, 2, at(0)).await;
    for (fan, entry, amount) in [("fan1", 0, 3), ("fan1", 1, 1), ("fan2", 0, 2)] {
        store
            .give(&vote(fan, &entries[entry].code, amount, day(0), at(10)))
            .await
            .unwrap();
    }
    store.add_report(&report("U2", "offline", 4)).await.unwrap();
    store.add_report(&report("U3", "offline", 1)).await.unwrap();
    // U1: a registration and two gives; U2: a registration, a give and a report; U3: a report.
    assert_eq!(
        store.participation_by_union().await.unwrap(),
        vec![
            ("U1".to_owned(), 3),
            ("U2".to_owned(), 3),
            ("U3".to_owned(), 1)
        ]
    );
    let mut rejection = approval(&entries[0].code, at(100));
    rejection.approve = false;
    store.review_entry(&rejection).await.unwrap();
    assert_eq!(
        store.participation_by_union().await.unwrap(),
        vec![
            ("U1".to_owned(), 2),
            ("U2".to_owned(), 2),
            ("U3".to_owned(), 1)
        ]
    );
}
