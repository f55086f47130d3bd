//! The 成绩 export lists every approved entry once, ranked or not, even when votes arriving
//! during the export move which of an entrant's entries ranks.

use rallybot_handlers::export::{self, ExportContext, ExportKind, ExportRequest, MemorySink};
use rallybot_handlers::store::{DailyLimit, Give};

use crate::store_failure::Flaky;
use crate::support::Harness;

const STORIES: &str = "stories";

#[tokio::test]
async fn votes_arriving_during_the_results_export_neither_drop_nor_double_an_entry() {
    let h = Harness::shipped().await;
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
    // m1 ranks with `best` (3), ahead of m2 (2); `other` (1) does not rank.
    h.group("g1", "m2", &format!("投票 {best} 3")).await;
    h.group("g1", "m2", &format!("投票 {other} 1")).await;
    h.group("g1", "m1", &format!("投票 {third} 2")).await;

    // Votes arrive while the export reads, one before each store call: which of m1's entries
    // ranks goes to `other`, then back to `best`.
    let store = Flaky::around(h.store.clone());
    let later = |n: i64, code: &str, amount: u32| Give {
        track: STORIES.to_owned(),
        member: format!("later{n}"),
        entry_code: code.to_owned(),
        amount,
        limit: DailyLimit::PerWorkPerDay(5),
        day: h.clock_now().date_naive(),
        now: h.clock_now() + chrono::Duration::seconds(n),
        action: "vote".to_owned(),
        callback_key: format!("later/{n}"),
    };
    store.meanwhile([later(1, &other, 3), later(2, &third, 1), later(3, &best, 2)]);
    let ctx = ExportContext {
        campaign: h.conversation.campaign(),
        store: &store,
        privacy: None,
        now: h.clock_now(),
        max_rows: None,
    };
    let request = ExportRequest {
        kind: ExportKind::Results,
        track: Some(STORIES.to_owned()),
    };
    let mut sink = MemorySink::default();
    export::produce(&request, &ctx, &mut sink).await.unwrap();

    let sheet = &sink.sheets[0];
    let code = sheet.column("作品号").unwrap();
    let mut listed: Vec<String> = sheet.rows.iter().map(|row| row[code].plain()).collect();
    listed.sort();
    let mut approved = vec![best, other, third];
    approved.sort();
    assert_eq!(listed, approved);
}
