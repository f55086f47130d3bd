//! Quota reports and the audit log.

use rallybot_handlers::store::{AuditEvent, NewReport};

use crate::fixtures::{at, fresh_key, Shared};

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
