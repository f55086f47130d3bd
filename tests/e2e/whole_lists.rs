//! Long answers arrive whole on every surface, within its byte limit: `榜单 阅读 50` on the app
//! comes as a passive reply plus pushed messages of at most 2048 bytes, the places 1–50 all in
//! them, in order; in a group through the robot, the same in the group; the AI bot answers
//! it in one message.

use std::path::PathBuf;
use std::time::Duration;

use crate::harness::{spawn_app_with, TestApp, TestOptions};
use rallybot::devtools::simulator::Endpoint;
use rallybot::http::callback::surface::Surface;
use rallybot::Settings;

const DIGITS: [char; 10] = ['零', '一', '二', '三', '四', '五', '六', '七', '八', '九'];

fn loudi(settings: &mut Settings) {
    settings.campaign.file =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/campaigns/loudi-2022.toml");
}

/// 娄底 with 55 readers, reader `i` having read `30 + i` minutes today. Long names make the
/// list of 50 longer than one message.
async fn loudi_with_readers() -> TestApp {
    let app = spawn_app_with(TestOptions {
        configure: loudi,
        ..Default::default()
    })
    .await;
    for i in 0..55u32 {
        let name = format!(
            "阿依古丽·买买提·读者{}{}",
            DIGITS[(i / 10) as usize],
            DIGITS[(i % 10) as usize]
        );
        let user = format!("reader{i}");
        let done = app.register(&user, &name, i + 1, "娄星").await;
        assert!(done.contains("登记成功"), "{done}");
        let read = app.say_text(&user, &format!("阅读 {}", 30 + i)).await;
        assert!(read.contains("今天累计"), "{read}");
    }
    app
}

/// Every `N. R…` place line of `text`, in order.
fn places(text: &str) -> Vec<u32> {
    text.lines()
        .filter_map(|line| {
            let (place, rest) = line.split_once(". ")?;
            rest.starts_with('R').then(|| place.trim().parse().ok())?
        })
        .collect()
}

#[tokio::test]
async fn fifty_places_arrive_whole_on_every_surface() {
    let app = loudi_with_readers().await;
    let before = app.simulator.delivered_where(|_| true).len();

    // The app: a passive reply, the rest pushed to the member.
    let first = app.say_text("reader1", "榜单 阅读 50").await;
    assert!(first.len() <= 2048, "{} bytes", first.len());
    assert!(
        places(&first).len() < 50,
        "the list needs more than one message"
    );
    tokio::time::timeout(
        Duration::from_secs(20),
        app.simulator.wait_for_delivered(before + 1),
    )
    .await
    .expect("the rest of the list is pushed");
    let pushed = app.simulator.delivered_to_user("reader1");
    let mut whole = first.clone();
    for message in &pushed {
        let content = message.content().unwrap_or_default();
        assert!(content.len() <= 2048, "{} bytes", content.len());
        whole.push('\n');
        whole.push_str(content);
    }
    assert_eq!(places(&whole), (1..=50).collect::<Vec<_>>(), "{whole}");
    assert!(whole.contains("【三等奖】第 26–50 名"), "{whole}");

    // A group through the robot: passive reply plus the group webhook, each mentioning.
    let reply = app.say_in_group("readers", "reader2", "榜单 阅读 50").await;
    let first = reply.text.unwrap_or_default();
    assert!(first.len() <= 2048);
    assert_eq!(reply.mentions, vec!["reader2".to_string()]);
    let delivered = app.simulator.delivered_where(|_| true).len();
    tokio::time::timeout(Duration::from_secs(20), async {
        while app.simulator.delivered_to_webhook("readers").is_empty() {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await
    .unwrap_or_else(|_| panic!("nothing pushed to the group ({delivered} delivered)"));
    let mut whole = first;
    for message in app.simulator.delivered_to_webhook("readers") {
        assert!(message.content().unwrap_or_default().len() <= 2048);
        assert_eq!(message.mentions(), vec!["reader2".to_string()]);
        whole.push('\n');
        whole.push_str(message.content().unwrap_or_default());
    }
    assert_eq!(places(&whole), (1..=50).collect::<Vec<_>>(), "{whole}");

    // The AI bot answers once, whole.
    let plain = app.client.aibot_text_plain(
        Some("ai-readers"),
        "reader3",
        "@rallybot 榜单 阅读 50",
        &app.simulator.issue_response_url(),
        app.client.next_msg_id(),
    );
    let reply = app.client.exchange(Surface::Aibot, &plain).await.unwrap();
    let text = reply.text.unwrap_or_default();
    assert_eq!(places(&text), (1..=50).collect::<Vec<_>>(), "{text}");
    assert!(app
        .simulator
        .delivered_where(|r| r.endpoint == Endpoint::AibotResponse)
        .is_empty());
    app.stop().await;
}
