//! `导出` through WeCom: the organizer's message goes through the real encrypted callback, the
//! answer comes at once, and the push sender builds the xlsx, uploads it (`media/upload`) and
//! sends it as a file message to that organizer only; the file the simulator received opens
//! with calamine and holds the right winners with their full phone numbers. Everyone else, and
//! every group, is refused.

use std::io::Cursor;
use std::time::Duration;

use crate::harness::{postgres, sample_phone, spawn_app, spawn_app_with, TestApp, TestOptions};
use calamine::{Data, Reader, Xlsx};
use rallybot::devtools::simulator::{Endpoint, Media};

/// Waits (bounded) for the `n`th file sent to `userid`.
async fn files_to(app: &TestApp, userid: &str, n: usize) -> Vec<Media> {
    let wait = app.simulator.wait_until(|all| {
        all.iter()
            .filter(|r| {
                r.delivered()
                    && r.msgtype() == Some("file")
                    && r.recipients().iter().any(|u| u == userid)
            })
            .count()
            >= n
    });
    tokio::time::timeout(Duration::from_secs(30), wait)
        .await
        .expect("the file arrives");
    app.simulator.files_delivered_to(userid)
}

/// The first sheet of an xlsx as rows of text (numbers without a fraction as integers).
fn rows_of(media: &Media) -> (String, Vec<Vec<String>>) {
    let mut book: Xlsx<_> =
        calamine::open_workbook_from_rs(Cursor::new(media.bytes.clone())).expect("an xlsx");
    let name = book.sheet_names()[0].clone();
    let range = book.worksheet_range(&name).unwrap();
    let rows = range
        .rows()
        .map(|row| {
            row.iter()
                .map(|cell| match cell {
                    Data::Float(f) if f.fract() == 0.0 => format!("{}", *f as i64),
                    Data::Empty => String::new(),
                    other => other.to_string(),
                })
                .collect()
        })
        .collect();
    (name, rows)
}

/// Three members with stories in 奋进故事, approved and voted on: 王五 8, 张三 5, 李四 2.
async fn campaign_with_winners(app: &TestApp) -> Vec<String> {
    let people = [
        ("zhangsan", "张三", 1),
        ("lisi", "李四", 2),
        ("wangwu", "王五", 3),
    ];
    let mut codes = Vec::new();
    for (user, name, n) in people {
        let done = app.register(user, name, n, "哈尔滨").await;
        assert!(done.contains("登记成功"), "{done}");
        let submitted = app
            .say_text(
                user,
                &format!("提交 奋进故事 https://mp.weixin.qq.com/s/{user} {name}的故事"),
            )
            .await;
        let code = submitted
            .split("作品号 ")
            .nth(1)
            .and_then(|rest| rest.get(..5))
            .unwrap_or_else(|| panic!("no code in {submitted}"))
            .to_string();
        let approved = app.say_text("reviewer", &format!("审核 {code} 通过")).await;
        assert!(approved.contains("已通过"), "{approved}");
        codes.push(code);
    }
    app.register("fan", "粉丝", 9, "大庆").await;
    for (voter, code, votes) in [
        ("fan", &codes[2], 5),
        ("zhangsan", &codes[2], 3),
        ("fan", &codes[0], 5),
        ("fan", &codes[1], 2),
    ] {
        let reply = app.say_text(voter, &format!("投票 {code} {votes}")).await;
        assert!(reply.contains(&format!("投 {votes} 票")), "{reply}");
    }
    codes
}

async fn the_organizer_receives_the_winners_as_a_file(app: TestApp) {
    let codes = campaign_with_winners(&app).await;
    let reply = app.say_text("organizer", "导出 获奖名单").await;
    assert!(reply.contains("正在生成获奖名单"), "{reply}");

    let files = files_to(&app, "organizer", 1).await;
    assert_eq!(files.len(), 1);
    let file = &files[0];
    assert_eq!(file.kind, "file");
    assert!(
        file.filename.starts_with("获奖名单-") && file.filename.ends_with(".xlsx"),
        "{}",
        file.filename
    );
    let (sheet, rows) = rows_of(file);
    assert_eq!(sheet, "获奖名单");
    let header = &rows[1];
    let col = |name: &str| header.iter().position(|h| h == name).unwrap();
    let winners: Vec<(String, String, String, String)> = rows[2..]
        .iter()
        .filter(|r| {
            r.get(col("赛道"))
                .is_some_and(|t| t == "传播网络正能量讲述奋进故事")
        })
        .map(|r| {
            (
                r[col("名次")].clone(),
                r[col("作品号")].clone(),
                r[col("获奖者")].clone(),
                r[col("手机号")].clone(),
            )
        })
        .collect();
    assert_eq!(
        winners,
        vec![
            ("1".into(), codes[2].clone(), "王五".into(), sample_phone(3)),
            ("2".into(), codes[0].clone(), "张三".into(), sample_phone(1)),
            ("3".into(), codes[1].clone(), "李四".into(), sample_phone(2)),
        ]
    );

    // Uploaded once as a file, sent to the organizer alone.
    let uploads: Vec<_> = app
        .simulator
        .received()
        .into_iter()
        .filter(|r| r.endpoint == Endpoint::MediaUpload)
        .collect();
    assert_eq!(uploads.len(), 1);
    assert_eq!(uploads[0].body["type"], "file");
    assert_eq!(uploads[0].body["filename"], file.filename.as_str());
    let sent = app
        .simulator
        .delivered_where(|r| r.msgtype() == Some("file"));
    assert_eq!(sent.len(), 1);
    assert_eq!(sent[0].recipients(), vec!["organizer".to_string()]);
    assert!(app.simulator.violations().is_empty());

    // Recorded: who, which file, under the push's key (once, whatever the retries).
    let audits: Vec<_> = app
        .store
        .audit_log(0, 1000)
        .await
        .unwrap()
        .into_iter()
        .map(|(_, e)| e)
        .filter(|e| e.action == "export")
        .collect();
    assert_eq!(audits.len(), 1, "{audits:?}");
    assert_eq!(audits[0].actor, "organizer");
    assert_eq!(audits[0].subject, "winners");
    assert!(audits[0].detail.contains(&file.filename), "{:?}", audits[0]);
    assert!(audits[0]
        .callback_key
        .as_deref()
        .is_some_and(|k| k.starts_with("export/") && k.ends_with("/organizer")));

    // The ledger comes the same way: one row per counted give, with the message behind it.
    let reply = app.say_text("organizer", "导出 明细").await;
    assert!(reply.contains("正在生成明细"), "{reply}");
    let files = files_to(&app, "organizer", 2).await;
    let (sheet, rows) = rows_of(&files[1]);
    assert_eq!(sheet, "明细");
    let ledger = app.store.ledger_page(0, 100, None).await.unwrap();
    let msg = rows[1].iter().position(|h| h == "消息编号").unwrap();
    let in_file: Vec<&String> = rows[2..]
        .iter()
        .filter(|r| r.first().is_some_and(|c| c.parse::<i64>().is_ok()))
        .map(|r| &r[msg])
        .collect();
    assert_eq!(in_file.len(), 4);
    for (cell, give) in in_file.iter().zip(&ledger) {
        assert_eq!(Some(*cell), give.callback_key.as_ref());
    }
    app.stop().await;
}

#[tokio::test]
async fn the_organizer_receives_the_winners_as_a_file_in_wecom() {
    the_organizer_receives_the_winners_as_a_file(spawn_app().await).await;
}

#[tokio::test]
async fn the_organizer_receives_the_winners_as_a_file_in_wecom_on_postgres() {
    let Some(backend) = postgres() else {
        return;
    };
    let app = spawn_app_with(TestOptions {
        backend,
        ..Default::default()
    })
    .await;
    the_organizer_receives_the_winners_as_a_file(app).await;
}

#[tokio::test]
async fn nobody_else_gets_an_export_and_groups_are_sent_to_private_chat() {
    let app = spawn_app().await;
    app.register("zhangsan", "张三", 1, "哈尔滨").await;
    for user in ["zhangsan", "reviewer", "hrb_officer01"] {
        let reply = app.say_text(user, "导出 获奖名单").await;
        assert!(reply.contains("仅供活动组织者使用"), "{user}: {reply}");
    }
    for user in ["organizer", "zhangsan"] {
        let reply = app.say_in_group("hrb-group", user, "导出 获奖名单").await;
        let text = reply.text.expect("a reply in the group");
        assert!(text.contains("只能在私聊中使用"), "{user}: {text}");
    }
    assert!(app.store.pushes(None, 100).await.unwrap().is_empty());
    assert!(app
        .simulator
        .received()
        .iter()
        .all(|r| r.endpoint != Endpoint::MediaUpload && r.msgtype() != Some("file")));
    app.stop().await;
}
