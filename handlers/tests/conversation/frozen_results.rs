//! Frozen results after the close: a freeze pass reads a track's ledger again only when
//! something its standings are worked out from changed — a late ledger row before the cutoff,
//! a review (withdrawn gives, an entry back to 待审核), a fair-play flag raised or decided —
//! and then stores a new version where the standings changed; a pass with nothing changed
//! reads no ledger and stores nothing. Votes of a later stage in the same track, arriving
//! while a snapshot is worked out, leave it as it would be without them.

use rallybot_handlers::results::{self, FreezePass};
use rallybot_handlers::store::{
    DailyLimit, FlagDecision, FlagScope, Give, NewFlag, Resubmission, Review, SignalKind,
};

use crate::store_failure::Flaky;
use crate::support::{at, Harness, REVIEWER};

const STORIES: &str = "stories";

/// A pass over the 活动开展阶段 (the shipped campaign's voting stage) at the harness's time.
async fn pass(h: &Harness) -> FreezePass {
    let campaign = h.conversation.campaign();
    let stage = campaign
        .stages
        .iter()
        .find(|s| s.key == "activity")
        .unwrap();
    results::freeze_stage(&*h.store, campaign, stage, h.clock_now())
        .await
        .unwrap()
}

/// One pass read only the stories track and stored `stored` versions of it.
#[track_caller]
fn read_stories(pass: &FreezePass, stored: usize) {
    assert_eq!((pass.read, pass.unchanged), (1, 4), "{pass:?}");
    assert_eq!(pass.stored.len(), stored, "{pass:?}");
    assert!(pass.stored.iter().all(|head| head.track == STORIES));
}

/// A pass after `read_stories`: nothing changed, nothing read.
#[track_caller]
fn read_nothing(pass: &FreezePass) {
    assert_eq!((pass.read, pass.unchanged), (0, 5), "{pass:?}");
    assert!(pass.stored.is_empty(), "{pass:?}");
}

async fn latest_version(h: &Harness) -> i64 {
    h.store
        .snapshots(Some(STORIES))
        .await
        .unwrap()
        .last()
        .map_or(0, |head| head.version)
}

fn review(code: &str, approve: bool, hour: u32) -> Review {
    Review {
        code: code.to_owned(),
        approve,
        reason: (!approve).then(|| "late complaint".to_owned()),
        reviewer: REVIEWER.to_owned(),
        now: at(&format!("2022-10-02T{hour:02}:00:00+08:00")),
        callback_key: format!("review/{code}/{hour}"),
    }
}

#[tokio::test]
async fn a_pass_reads_the_ledger_again_only_after_a_change_that_can_move_the_results() {
    let h = Harness::shipped().await;
    h.register("m1", 1, "张三", "哈尔滨").await;
    h.register("m2", 2, "李四", "哈尔滨").await;
    let first = h
        .approved_entry("m1", "奋进故事", "https://example.org/story/1")
        .await;
    let second = h
        .approved_entry("m2", "奋进故事", "https://example.org/story/2")
        .await;
    let voted = h.group("g1", "m2", &format!("投票 {first} 3")).await;
    assert!(voted.contains("投 3 票"), "{voted}");
    h.group("g1", "m1", &format!("投票 {second} 1")).await;

    // The close: every track is read and frozen once.
    h.set_time("2022-10-01T00:00:00+08:00");
    let closing = pass(&h).await;
    assert_eq!((closing.read, closing.unchanged), (5, 0), "{closing:?}");
    assert_eq!(closing.stored.len(), 5);
    // The hourly passes after it: nothing changed, nothing read, nothing stored.
    h.set_time("2022-10-01T01:00:00+08:00");
    read_nothing(&pass(&h).await);
    h.set_time("2022-10-01T02:00:00+08:00");
    read_nothing(&pass(&h).await);
    assert_eq!(latest_version(&h).await, 1);

    // An entry rejected after the close: its votes are withdrawn, a new version.
    h.store
        .review_entry(&review(&first, false, 9))
        .await
        .unwrap();
    read_stories(&pass(&h).await, 1);
    read_nothing(&pass(&h).await);
    // Approved again: its votes count again, the next version.
    h.store
        .review_entry(&review(&first, true, 10))
        .await
        .unwrap();
    read_stories(&pass(&h).await, 1);
    read_nothing(&pass(&h).await);
    assert_eq!(latest_version(&h).await, 3);

    // A vote given before the close that lands late (a rehearsal clock moved back).
    h.set_time("2022-09-30T23:00:00+08:00");
    let late = h.group("g1", "m2", &format!("投票 {first} 2")).await;
    assert!(late.contains("投 2 票"), "{late}");
    h.set_time("2022-10-02T11:00:00+08:00");
    read_stories(&pass(&h).await, 1);
    read_nothing(&pass(&h).await);

    // A fair-play flag raised after the close on votes before it: 疑, a new version.
    let raised = h
        .store
        .raise_flag(&NewFlag {
            track: STORIES.to_owned(),
            kind: SignalKind::Burst,
            subject: first.clone(),
            reason: "a burst".to_owned(),
            evidence: "figures".to_owned(),
            scope: FlagScope {
                entries: vec![first.clone()],
                members: Vec::new(),
                from: at("2022-08-01T00:00:00+08:00"),
                until: at("2022-10-01T00:00:00+08:00"),
            },
            now: h.clock_now(),
        })
        .await
        .unwrap()
        .unwrap();
    read_stories(&pass(&h).await, 1);
    read_nothing(&pass(&h).await);
    // The flag decided: voided, the votes stay out (no longer 疑), a new version.
    h.store
        .decide_flag(&FlagDecision {
            id: raised.id,
            valid: false,
            reviewer: REVIEWER.to_owned(),
            reason: Some("checked".to_owned()),
            now: h.clock_now(),
            callback_key: "verify/1".to_owned(),
        })
        .await
        .unwrap()
        .unwrap();
    read_stories(&pass(&h).await, 1);
    read_nothing(&pass(&h).await);
    assert_eq!(latest_version(&h).await, 6);

    // Rejected, then submitted again: read twice; the second leaves the standings as they
    // were (a pending entry does not rank), so nothing is stored, and the next pass reads
    // nothing again.
    h.store
        .review_entry(&review(&second, false, 12))
        .await
        .unwrap();
    read_stories(&pass(&h).await, 1);
    let again = h
        .store
        .resubmit_entry(&Resubmission {
            code: second.clone(),
            link: "https://example.org/story/2".to_owned(),
            title: "修改稿".to_owned(),
            now: h.clock_now(),
            callback_key: "resubmit/1".to_owned(),
        })
        .await
        .unwrap();
    assert!(again.is_some());
    read_stories(&pass(&h).await, 0);
    read_nothing(&pass(&h).await);
    assert_eq!(latest_version(&h).await, 7);
}

#[tokio::test]
async fn a_pass_left_unread_stores_what_a_full_read_would() {
    let h = Harness::shipped().await;
    h.register("m1", 1, "张三", "哈尔滨").await;
    let code = h
        .approved_entry("m1", "奋进故事", "https://example.org/story/1")
        .await;
    h.group("g1", "m1", &format!("投票 {code} 4")).await;
    h.set_time("2022-10-01T00:00:00+08:00");
    pass(&h).await;
    h.set_time("2022-10-01T05:00:00+08:00");
    read_nothing(&pass(&h).await);
    // Worked out from the ledger regardless: the same hash as the stored version.
    let campaign = h.conversation.campaign();
    let stage = campaign
        .stages
        .iter()
        .find(|s| s.key == "activity")
        .unwrap();
    let track = campaign.tracks.iter().find(|t| t.key == STORIES).unwrap();
    let fresh = results::snapshot(&*h.store, stage, track, String::new(), h.clock_now())
        .await
        .unwrap();
    let stored = h.store.snapshots(Some(STORIES)).await.unwrap();
    assert_eq!(stored.len(), 1);
    assert_eq!(stored[0].hash, fresh.hash);
    assert_eq!(fresh.places[0].score, 4);
}

#[tokio::test]
async fn votes_arriving_while_a_snapshot_is_worked_out_leave_it_as_it_was() {
    let h = Harness::shipped().await;
    // Frozen: m1 ranks with `best` (3), ahead of m2 (2); `other` (1) does not rank.
    let (best, other, third) = two_entrants(&h).await;
    h.set_time("2022-10-02T00:00:00+08:00");
    let campaign = h.conversation.campaign();
    let stage = campaign
        .stages
        .iter()
        .find(|s| s.key == "activity")
        .unwrap();
    let track = campaign.tracks.iter().find(|t| t.key == STORIES).unwrap();
    let frozen = results::snapshot(&*h.store, stage, track, String::new(), h.clock_now())
        .await
        .unwrap();
    let places: Vec<(&str, i64)> = frozen
        .places
        .iter()
        .map(|p| (p.code.as_str(), p.score))
        .collect();
    assert_eq!(places, [(best.as_str(), 3), (third.as_str(), 2)]);

    // A later stage votes in the track while the snapshot is worked out, one vote before each
    // store call: which of m1's entries ranks live goes to `other`, stays, then back to `best`
    // (read as ranked, then unranked, `best` would be in neither list).
    let store = Flaky::around(h.store.clone());
    store.meanwhile([
        later_vote(&h, 1, &other, 3),
        later_vote(&h, 2, &third, 1),
        later_vote(&h, 3, &best, 2),
    ]);
    let again = results::snapshot(&store, stage, track, String::new(), h.clock_now())
        .await
        .unwrap();
    assert_eq!(again.places, frozen.places);
    assert_eq!(again.hash, frozen.hash);
}

/// m1 enters `best` and `other`, m2 `third`, all approved in 奋进故事; they get 3, 1 and 2
/// votes, so m1 ranks with `best`, ahead of m2, and `other` does not rank. The three codes.
pub(crate) async fn two_entrants(h: &Harness) -> (String, String, String) {
    h.register("m1", 1, "张三", "哈尔滨").await;
    h.register("m2", 2, "李四", "哈尔滨").await;
    let best = h
        .approved_entry("m1", "奋进故事", "https://example.org/story/1")
        .await;
    let other = h
        .approved_entry("m1", "奋进故事", "https://example.org/story/2")
        .await;
    let third = h
        .approved_entry("m2", "奋进故事", "https://example.org/story/3")
        .await;
    h.group("g1", "m2", &format!("投票 {best} 3")).await;
    h.group("g1", "m2", &format!("投票 {other} 1")).await;
    h.group("g1", "m1", &format!("投票 {third} 2")).await;
    (best, other, third)
}

/// The `n`th vote of a member nobody else knows, `n` seconds after the harness's time, for a
/// store to give while something else reads (`Flaky::meanwhile`).
pub(crate) fn later_vote(h: &Harness, n: i64, code: &str, amount: u32) -> Give {
    Give {
        track: STORIES.to_owned(),
        member: format!("later{n}"),
        entry_code: code.to_owned(),
        amount,
        limit: DailyLimit::PerWorkPerDay(5),
        day: h.clock_now().date_naive(),
        now: h.clock_now() + chrono::Duration::seconds(n),
        action: "vote".to_owned(),
        callback_key: format!("later/{n}"),
    }
}
