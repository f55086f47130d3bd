//! The organizers' export files, read back by an independent reader (calamine for xlsx, the
//! `csv` crate for CSV) and checked cell by cell against what the chat says (`榜单`, `进度`) and
//! against the store, with the whole bot answering through its callbacks; and `导出` in the
//! chat: organizers only, private chat only, one file push per message.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use calamine::{Data, Reader, Xlsx};
use chrono::{DateTime, Utc};
use rallybot::export::{ExportJob, Exporter, Format, BOM};
use rallybot::http::callback::surface::Surface;
use rallybot::Settings;
use rallybot_handlers::campaign::{load_campaign, Campaign};
use rallybot_handlers::export::{ExportKind, ExportRequest, EXPORT_PUSH_FORMAT};
use rallybot_handlers::privacy::Privacy;
use rallybot_handlers::store::PushTarget;
use rallybot_storage::PushRecord;

use crate::harness::settings::{ORGANIZER, REVIEWER};
use crate::harness::{sample_phone as phone, spawn_app, spawn_app_with, TestApp, TestOptions};

const HRB_OFFICER: &str = "hrb_officer01";

/// A time in the campaign's zone.
fn at(local: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(local)
        .expect("an RFC 3339 time")
        .with_timezone(&Utc)
}

/// The bot, spoken to as members and officers speak to it, with what these checks read.
struct Harness {
    app: TestApp,
    campaign: Arc<Campaign>,
    privacy: Arc<Privacy>,
}

impl Harness {
    /// The bundled 黑龙江 campaign, voting open.
    async fn shipped() -> Harness {
        Harness::of(spawn_app().await)
    }

    fn of(app: TestApp) -> Harness {
        let campaign = Arc::new(load_campaign(&app.settings.campaign.file).expect("campaign"));
        let privacy = &app.settings.privacy;
        let privacy = Privacy::new(privacy.pepper.expose(), privacy.key.expose()).expect("privacy");
        Harness {
            app,
            campaign,
            privacy: Arc::new(privacy),
        }
    }

    async fn private(&self, user: &str, text: &str) -> String {
        self.app.say_text(user, text).await
    }

    async fn group(&self, chat: &str, user: &str, text: &str) -> String {
        let reply = self.app.say_in_group(chat, user, text).await;
        reply.text.unwrap_or_default()
    }

    async fn register(&self, user: &str, n: u32, name: &str, union: &str) {
        let done = self.app.register(user, name, n, union).await;
        assert!(done.contains("登记成功"), "{done}");
    }

    /// Submits and approves an entry; returns its code.
    async fn approved_entry(&self, user: &str, track: &str, link: &str) -> String {
        let submitted = self.private(user, &format!("提交 {track} {link}")).await;
        let code = submitted
            .split("作品号 ")
            .nth(1)
            .and_then(|rest| rest.get(..5))
            .unwrap_or_else(|| panic!("no code in {submitted}"))
            .to_string();
        let approved = self.private(REVIEWER, &format!("审核 {code} 通过")).await;
        assert!(approved.contains("已通过"), "{approved}");
        code
    }

    /// Moves the bot's rehearsal clock.
    async fn set_time(&self, local: &str) {
        let moved = self
            .app
            .admin_clock(serde_json::json!({ "set": local }))
            .await;
        assert_eq!(moved.status().as_u16(), 200);
    }

    fn clock_now(&self) -> DateTime<Utc> {
        self.app.clock.now()
    }

    /// The whole audit log, oldest first.
    async fn audit(&self) -> Vec<rallybot_handlers::store::AuditEvent> {
        let log = self.app.store.audit_log(0, 10_000).await.unwrap();
        log.into_iter().map(|(_, event)| event).collect()
    }

    async fn pushes(&self) -> Vec<PushRecord> {
        self.app.store.pushes(None, 1000).await.unwrap()
    }

    /// Says `text` privately as the message `msg_id`; returns the reply.
    async fn say_as(&self, user: &str, text: &str, msg_id: u64) -> String {
        let client = &self.app.client;
        let plain = client.app_text_plain(user, text, msg_id);
        let reply = client.exchange(Surface::App, &plain).await.unwrap();
        reply.text.unwrap_or_default()
    }
}

/// A sheet as text, by absolute (row, column); numbers as Excel holds them.
struct Sheet {
    cells: HashMap<(u32, u32), Data>,
    rows: u32,
}

impl Sheet {
    fn text(&self, row: u32, col: u32) -> String {
        match self.cells.get(&(row, col)) {
            None | Some(Data::Empty) => String::new(),
            Some(Data::String(s)) => s.clone(),
            Some(Data::Float(f)) if f.fract() == 0.0 => format!("{}", *f as i64),
            Some(other) => other.to_string(),
        }
    }

    fn number(&self, row: u32, col: u32) -> Option<f64> {
        match self.cells.get(&(row, col)) {
            Some(Data::Float(f)) => Some(*f),
            Some(Data::Int(n)) => Some(*n as f64),
            _ => None,
        }
    }

    /// The column whose header (in `header_row`) is `name`.
    fn column(&self, header_row: u32, name: &str) -> u32 {
        (0..64)
            .find(|&c| self.text(header_row, c) == name)
            .unwrap_or_else(|| panic!("no column {name:?} in row {header_row}"))
    }
}

fn open_xlsx(path: &Path) -> Vec<(String, Sheet)> {
    let mut book: Xlsx<_> = calamine::open_workbook(path).expect("the export opens as xlsx");
    let names = book.sheet_names();
    names
        .into_iter()
        .map(|name| {
            let range = book.worksheet_range(&name).unwrap();
            let mut cells = HashMap::new();
            let (top, left) = range.start().unwrap_or((0, 0));
            for (r, row) in range.rows().enumerate() {
                for (c, value) in row.iter().enumerate() {
                    cells.insert((top + r as u32, left + c as u32), value.clone());
                }
            }
            let rows = range.end().map_or(0, |(r, _)| r + 1);
            (name, Sheet { cells, rows })
        })
        .collect()
}

/// Rows of a CSV export: it starts with the BOM and parses.
fn read_csv(bytes: &[u8]) -> Vec<Vec<String>> {
    assert!(bytes.starts_with(BOM), "CSV starts with the UTF-8 BOM");
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .from_reader(&bytes[BOM.len()..]);
    reader
        .records()
        .map(|r| r.expect("valid CSV").iter().map(str::to_owned).collect())
        .collect()
}

fn exporter(h: &Harness) -> Exporter {
    Exporter::new(
        h.campaign.clone(),
        h.app.store.clone(),
        Some(h.privacy.clone()),
    )
}

fn job(h: &Harness, kind: ExportKind, track: Option<&str>, format: Format) -> ExportJob {
    ExportJob::new(
        ExportRequest {
            kind,
            track: track.map(str::to_owned),
        },
        format,
        h.clock_now(),
        ORGANIZER,
    )
}

async fn xlsx(h: &Harness, kind: ExportKind, track: Option<&str>) -> Vec<(String, Sheet)> {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("export.xlsx");
    exporter(h)
        .write_file(&job(h, kind, track, Format::Xlsx), &path)
        .await
        .unwrap();
    open_xlsx(&path)
}

async fn csv_rows(h: &Harness, kind: ExportKind, track: Option<&str>) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    exporter(h)
        .write_to(&job(h, kind, track, Format::Csv), &mut out)
        .await
        .unwrap();
    read_csv(&out)
}

/// The 黑龙江 campaign's 奋进故事 track (榜样典型 10, 榜样提名 10) with seven entrants: ties
/// reached at different times, one entrant with a second, weaker entry, one pending entry.
async fn stories() -> Harness {
    let h = Harness::shipped().await;
    let people = ["张三", "李四", "王五", "赵六", "孙七", "周八", "吴九"];
    for (i, name) in people.iter().enumerate() {
        let n = u32::try_from(i).unwrap() + 1;
        h.register(
            &format!("m{n}"),
            n,
            name,
            if n % 2 == 0 { "道里" } else { "大庆" },
        )
        .await;
    }
    h.register("fan1", 21, "粉丝甲", "哈尔滨").await;
    h.register("fan2", 22, "粉丝乙", "哈尔滨").await;
    let mut codes = Vec::new();
    for n in 1..=7 {
        let link = format!("https://mp.weixin.qq.com/s/story{n}");
        codes.push(h.approved_entry(&format!("m{n}"), "奋进故事", &link).await);
    }
    // m1's second, weaker story: it does not rank.
    let extra = h
        .approved_entry("m1", "奋进故事", "https://mp.weixin.qq.com/s/story1b")
        .await;
    h.private(
        "m2",
        "提交 奋进故事 https://mp.weixin.qq.com/s/pending 待审的",
    )
    .await;
    // Scores: m3 8, m1 5, m2 5 (reached later than m1: behind it), m5 5 (later still), m4 1.
    for (at_local, voter, code, n) in [
        ("2022-08-10T10:00:00+08:00", "fan1", 2, 5),
        ("2022-08-10T10:00:00+08:00", "fan2", 2, 3),
        ("2022-08-10T11:00:00+08:00", "fan1", 0, 5),
        ("2022-08-10T12:00:00+08:00", "fan1", 1, 5),
        ("2022-08-10T13:00:00+08:00", "fan2", 4, 5),
        ("2022-08-10T14:00:00+08:00", "fan2", 3, 1),
    ] {
        h.set_time(at_local).await;
        let reply = h.private(voter, &format!("投票 {} {n}", codes[code])).await;
        assert!(reply.contains(&format!("投 {n} 票")), "{reply}");
    }
    h.private("fan2", &format!("投票 {extra} 2")).await;
    h.set_time("2022-08-12T09:00:00+08:00").await;
    h
}

/// `1. C0003 王五《…》 8 票` lines of `榜单`: (place, code, name, score).
fn top_lines(reply: &str) -> Vec<(u64, String, String, i64)> {
    reply
        .lines()
        .filter_map(|line| {
            let (place, rest) = line.split_once(". ")?;
            let place: u64 = place.trim().parse().ok()?;
            let mut parts = rest.split(' ');
            let code = parts.next()?.to_string();
            let who = parts.next()?;
            let name = who.split('《').next()?.to_string();
            let score: i64 = parts.next()?.parse().ok()?;
            Some((place, code, name, score))
        })
        .collect()
}

#[tokio::test]
async fn results_match_the_top_list_cell_by_cell() {
    let h = stories().await;
    let chat = top_lines(&h.private("m1", "榜单 奋进故事 50").await);
    assert_eq!(chat.len(), 7, "{chat:?}");
    // Ties on 5: m1 reached it first, then m2, then m5.
    let order: Vec<&str> = chat.iter().map(|c| c.2.as_str()).collect();
    assert_eq!(
        order,
        ["王五", "张三", "李四", "孙七", "赵六", "周八", "吴九"]
    );

    let book = xlsx(&h, ExportKind::Results, Some("stories")).await;
    assert_eq!(book.len(), 1);
    let (name, sheet) = &book[0];
    assert_eq!(name, "C 传播网络正能量讲述奋进故事");
    assert!(sheet.text(0, 0).contains("成绩表"), "{}", sheet.text(0, 0));
    let col = |header: &str| sheet.column(1, header);
    let (place, zone, code, who, union, score, unit, link) = (
        col("名次"),
        col("奖项"),
        col("作品号"),
        col("参赛者"),
        col("所属工会"),
        col("得分"),
        col("计分"),
        col("作品链接"),
    );
    let ranking = h.app.store.ranking("stories").await.unwrap();
    for (i, (chat_place, chat_code, chat_name, chat_score)) in chat.iter().enumerate() {
        let row = 2 + i as u32;
        assert_eq!(sheet.number(row, place), Some(*chat_place as f64));
        assert_eq!(&sheet.text(row, code), chat_code);
        assert_eq!(&sheet.text(row, who), chat_name);
        assert_eq!(sheet.number(row, score), Some(*chat_score as f64));
        assert_eq!(sheet.text(row, unit), "票");
        // Against the store too: link, union, award zone.
        let entry = &ranking[i].entry;
        assert_eq!(sheet.text(row, link), entry.link);
        let expected_zone = if *chat_place <= 10 {
            "榜样典型"
        } else {
            "榜样提名"
        };
        assert_eq!(sheet.text(row, zone), expected_zone);
        let expected_union = if chat_name == "李四" || chat_name == "赵六" || chat_name == "周八"
        {
            "道里区总工会"
        } else {
            "大庆市总工会"
        };
        assert_eq!(sheet.text(row, union), expected_union, "{chat_name}");
    }
    // m1's weaker entry is listed after the ranking, without a place; the pending one is not.
    let last = 2 + 7;
    assert_eq!(sheet.text(last, place), "");
    assert_eq!(sheet.text(last, zone), "不计排名");
    assert_eq!(sheet.text(last, who), "张三");
    assert_eq!(sheet.number(last, score), Some(2.0));
    assert!(
        sheet.text(last + 2, 0).starts_with("注："),
        "notes under the table"
    );
    assert!(!(0..sheet.rows).any(|r| sheet.text(r, link).contains("pending")));

    // The CSV holds the same table.
    let rows = csv_rows(&h, ExportKind::Results, Some("C")).await;
    assert_eq!(rows[0][0], "赛道");
    assert_eq!(rows.len(), 1 + 8);
    for (i, (chat_place, chat_code, chat_name, chat_score)) in chat.iter().enumerate() {
        let r = &rows[1 + i];
        assert_eq!(r[1], chat_place.to_string());
        assert_eq!(&r[3], chat_code);
        assert_eq!(&r[5], chat_name);
        assert_eq!(r[7], chat_score.to_string());
    }

    // All tracks: one sheet each, in campaign order.
    let all = xlsx(&h, ExportKind::Results, None).await;
    let names: Vec<&str> = all.iter().map(|(n, _)| n.as_str()).collect();
    assert_eq!(names.len(), h.campaign.tracks.len());
    assert_eq!(names[2], "C 传播网络正能量讲述奋进故事");
}

/// `· 线下活动：2/10（20%）…` → (done, target, behind) from a `进度` reply for its own union.
fn own_progress(reply: &str, metric: &str) -> (i64, Option<i64>, bool) {
    let line = reply
        .lines()
        .find(|l| l.starts_with(&format!("· {metric}：")))
        .unwrap_or_else(|| panic!("no {metric} in {reply}"));
    let figures = line[format!("· {metric}：").len()..]
        .split(['（', '，'])
        .next()
        .unwrap();
    let (done, target) = match figures.split_once('/') {
        Some((d, t)) => (d.parse().unwrap(), Some(t.parse().unwrap())),
        None => (figures.parse().unwrap(), None),
    };
    (done, target, line.contains("落后"))
}

#[tokio::test]
async fn quotas_match_progress_for_every_union() {
    let h = Harness::shipped().await;
    h.private(HRB_OFFICER, "上报 线下活动 3 走进企业").await;
    h.private("hrb-daoli_officer01", "上报 线下活动 2 宣讲")
        .await;
    h.private("dq_officer01", "上报 线下活动 7").await;
    h.register("m1", 1, "张三", "道里").await;
    h.register("m2", 2, "李四", "大庆").await;
    h.register("m3", 3, "王五", "南岗").await;
    h.set_time("2022-08-31T10:00:00+08:00").await;

    let book = xlsx(&h, ExportKind::Quotas, None).await;
    let (name, sheet) = &book[0];
    assert_eq!(name, "统计表");
    // Two header rows: the metric over its columns, then 任务/完成/完成率/进度.
    assert_eq!(sheet.text(1, 0), "序号");
    assert_eq!(sheet.text(1, 1), "单位");
    let offline = sheet.column(1, "线下活动");
    assert_eq!(sheet.text(2, offline), "任务");
    assert_eq!(sheet.text(2, offline + 1), "完成");
    assert_eq!(sheet.text(2, offline + 2), "完成率");
    assert_eq!(sheet.text(2, offline + 3), "进度");
    let registrations = sheet.column(1, "注册人数");
    assert_eq!(sheet.text(2, registrations), "完成");

    let campaign = &h.campaign;
    let unions = &campaign.unions.list;
    let data: Vec<u32> = (3..sheet.rows)
        .filter(|&r| !sheet.text(r, 1).is_empty() && !sheet.text(r, 0).starts_with("注"))
        .collect();
    assert_eq!(data.len(), unions.len(), "one row per union");
    // The root comes last, as the notices' 合计.
    let last = *data.last().unwrap();
    assert_eq!(sheet.text(last, 1), "合计（黑龙江省总工会）");
    assert_eq!(sheet.text(3, 0), "1");
    assert_eq!(sheet.text(3, 1), "哈尔滨市总工会");
    assert_eq!(sheet.text(4, 0), "1.1");
    for row in data {
        let label = sheet.text(row, 1);
        let union = label
            .strip_prefix("合计（")
            .and_then(|l| l.strip_suffix('）'))
            .unwrap_or(&label)
            .to_string();
        let reply = h.private(ORGANIZER, &format!("进度 {union}")).await;
        assert!(reply.starts_with(&union), "{reply}");
        let (done, target, behind) = own_progress(&reply, "线下活动");
        assert_eq!(sheet.number(row, offline + 1), Some(done as f64), "{union}");
        assert_eq!(
            sheet.number(row, offline),
            target.map(|t| t as f64),
            "{union}"
        );
        match target {
            Some(t) if t > 0 => {
                let ratio = sheet.number(row, offline + 2).unwrap();
                assert!((ratio - done as f64 / t as f64).abs() < 1e-9, "{union}");
                let pace = sheet.text(row, offline + 3);
                assert_eq!(
                    pace.starts_with("落后"),
                    behind,
                    "{union}: {pace} vs {reply}"
                );
            }
            _ => assert_eq!(sheet.text(row, offline + 2), ""),
        }
        let (registered, _, _) = own_progress(&reply, "注册人数");
        assert_eq!(
            sheet.number(row, registrations),
            Some(registered as f64),
            "{union}"
        );
    }

    // The CSV: one header row with the metric joined to each column.
    let rows = csv_rows(&h, ExportKind::Quotas, None).await;
    assert_eq!(
        &rows[0][..7],
        [
            "序号",
            "单位",
            "层级",
            "线下活动·任务",
            "线下活动·完成",
            "线下活动·完成率",
            "线下活动·进度"
        ]
    );
    let total = rows.last().unwrap();
    assert_eq!(total[1], "合计（黑龙江省总工会）");
    assert_eq!(total[3], "120");
    assert_eq!(total[4], "12");
    assert_eq!(total[5], "10.0%");
}

/// The 临汾 campaign's 19 × 8 task table (seed 004): 19 county rows then the city as 合计.
#[tokio::test]
async fn the_county_task_table_is_laid_out_like_the_notice() {
    fn linfen(settings: &mut Settings) {
        settings.campaign.file =
            PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../deploy/campaigns/linfen-2020.toml");
    }
    let h = Harness::of(
        spawn_app_with(TestOptions {
            at: Some(at("2020-07-15T10:00:00+08:00")),
            configure: linfen,
            ..Default::default()
        })
        .await,
    );
    let reported = h.private("yaodu_officer01", "上报 摄影作品 4").await;
    assert!(reported.contains("已上报"), "{reported}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("t.xlsx");
    exporter(&h)
        .write_file(&job(&h, ExportKind::Quotas, None, Format::Xlsx), &file)
        .await
        .unwrap();
    let book = open_xlsx(&file);
    let sheet = &book[0].1;
    let metrics: Vec<String> = (3..60)
        .map(|c| sheet.text(1, c))
        .filter(|t| !t.is_empty())
        .collect();
    assert_eq!(
        metrics,
        [
            "线下活动",
            "微视频",
            "专题活动",
            "摄影作品",
            "优秀平台",
            "诵读作品",
            "歌曲",
            "微课视频",
            "宣传员",
            "注册人数"
        ]
    );
    assert_eq!(sheet.text(3, 0), "1");
    assert_eq!(sheet.text(3, 1), "尧都区总工会");
    assert_eq!(sheet.text(21, 0), "19");
    assert_eq!(sheet.text(21, 1), "临汾开发区工会");
    assert_eq!(sheet.text(22, 1), "合计（临汾市总工会）");
    let photo = sheet.column(1, "摄影作品");
    assert_eq!(sheet.number(3, photo), Some(10.0));
    assert_eq!(sheet.number(3, photo + 1), Some(4.0));
    // The notice's 合计 row: 19 × 10 photos.
    assert_eq!(sheet.number(22, photo), Some(190.0));
    assert_eq!(sheet.number(22, photo + 1), Some(4.0));
    let progress = h.private(ORGANIZER, "进度 临汾市总工会").await;
    assert!(progress.contains("摄影作品：4/190"), "{progress}");
}

#[tokio::test]
async fn winners_have_full_phone_numbers_and_every_export_is_audited() {
    let h = stories().await;
    let book = xlsx(&h, ExportKind::Winners, None).await;
    let (name, sheet) = &book[0];
    assert_eq!(name, "获奖名单");
    let col = |header: &str| sheet.column(1, header);
    let (track, zone, place, code, winner, union, id, tel, account) = (
        col("赛道"),
        col("奖项"),
        col("名次"),
        col("作品号"),
        col("获奖者"),
        col("所属工会"),
        col("身份证号（脱敏）"),
        col("手机号"),
        col("企业微信账号"),
    );
    let ranking = h.app.store.ranking("stories").await.unwrap();
    // Every ranked entrant of 奋进故事 is inside its 20 award places.
    let rows: Vec<u32> = (2..sheet.rows)
        .filter(|&r| sheet.text(r, track) == "传播网络正能量讲述奋进故事")
        .collect();
    assert_eq!(rows.len(), ranking.len());
    for (row, ranked) in rows.iter().zip(&ranking) {
        let userid = &ranked.entry.entrant_id;
        let n: u32 = userid.trim_start_matches('m').parse().unwrap();
        let member = h.app.store.member(userid).await.unwrap().unwrap();
        assert_eq!(sheet.number(*row, place), Some(ranked.place as f64));
        assert_eq!(sheet.text(*row, code), ranked.entry.code);
        assert_eq!(sheet.text(*row, winner), member.name);
        assert_eq!(sheet.text(*row, zone), "榜样典型");
        assert_eq!(sheet.text(*row, account), *userid);
        // The full phone number, as registered; the ID number stays masked.
        assert_eq!(sheet.text(*row, tel), phone(n));
        assert_eq!(sheet.text(*row, id), member.id_mask);
        assert!(sheet.text(*row, id).contains("********"));
        assert!(!sheet.text(*row, union).is_empty());
    }
    // Nobody without an approved entry is a winner.
    assert!(!(0..sheet.rows).any(|r| sheet.text(r, winner).starts_with("粉丝")));

    let rows = csv_rows(&h, ExportKind::Winners, Some("stories")).await;
    assert_eq!(rows.len(), 1 + ranking.len());
    assert_eq!(rows[1][tel as usize], phone(3), "王五 leads");

    let audits: Vec<_> = h
        .audit()
        .await
        .into_iter()
        .filter(|e| e.action == "export")
        .collect();
    assert_eq!(audits.len(), 2, "{audits:?}");
    assert!(audits
        .iter()
        .all(|e| e.actor == ORGANIZER && e.subject == "winners"));
    assert!(
        audits[0]
            .detail
            .contains("file=获奖名单-20220812-0900.xlsx"),
        "{:?}",
        audits[0]
    );
    assert!(audits[1].detail.contains(".csv") && audits[1].detail.contains("track=stories"));
    // The audit log holds no phone number.
    assert!(audits.iter().all(|e| !e.detail.contains(&phone(3))));
}

#[tokio::test]
async fn the_ledger_has_one_row_per_counted_give_with_its_message() {
    let h = stories().await;
    // Two more gives with known message ids; the second is over the limit and not counted.
    let code = h
        .app
        .store
        .ranking("stories")
        .await
        .unwrap()
        .last()
        .unwrap()
        .entry
        .code
        .clone();
    let (counted_msg, refused_msg) = ("app:msg:900001", "app:msg:900002");
    h.say_as("m7", &format!("投票 {code} 5"), 900_001).await;
    let refused = h.say_as("m7", &format!("投票 {code} 1"), 900_002).await;
    assert!(refused.contains("投满"), "{refused}");

    let mut counted = Vec::new();
    let mut after = 0;
    loop {
        let page = h.app.store.ledger_page(after, 1000, None).await.unwrap();
        let Some(last) = page.last() else { break };
        after = last.id;
        counted.extend(page);
    }
    let book = xlsx(&h, ExportKind::Ledger, None).await;
    let (name, sheet) = &book[0];
    assert_eq!(name, "明细");
    let col = |header: &str| sheet.column(1, header);
    let (id, time, track, kind, entry, who, amount, msg) = (
        col("记录号"),
        col("时间"),
        col("赛道"),
        col("类型"),
        col("作品号"),
        col("成员代号"),
        col("数量"),
        col("消息编号"),
    );
    let rows: Vec<u32> = (2..sheet.rows)
        .filter(|&r| sheet.number(r, id).is_some())
        .collect();
    assert_eq!(rows.len(), counted.len(), "one row per counted give");
    let privacy = &h.privacy;
    for (row, give) in rows.iter().zip(&counted) {
        assert_eq!(sheet.number(*row, id), Some(give.id as f64));
        assert_eq!(sheet.text(*row, entry), give.entry_code);
        assert_eq!(sheet.number(*row, amount), Some(give.amount as f64));
        assert_eq!(sheet.text(*row, track), "传播网络正能量讲述奋进故事");
        assert_eq!(sheet.text(*row, kind), "投票");
        assert_eq!(
            Some(&sheet.text(*row, msg)),
            give.callback_key.as_ref(),
            "the message behind the give"
        );
        // A pseudonymous key, never the userid.
        assert_eq!(sheet.text(*row, who), privacy.member_key(&give.member));
        assert!(!sheet.text(*row, who).contains(&give.member));
        let Some(Data::DateTime(local)) = sheet.cells.get(&(*row, time)) else {
            panic!("time is a date cell");
        };
        let shanghai = give.at.with_timezone(&h.campaign.timezone).naive_local();
        assert_eq!(local.as_datetime().unwrap(), shanghai);
    }
    let last = rows.last().unwrap();
    assert_eq!(sheet.text(*last, msg), counted_msg);
    assert!(!(0..sheet.rows).any(|r| sheet.text(r, msg) == refused_msg));
    // No name, phone or userid anywhere in the file.
    for r in 0..sheet.rows {
        for c in 0..10 {
            let text = sheet.text(r, c);
            assert!(!text.contains("粉丝") && !text.contains("fan1") && !text.contains(&phone(21)));
        }
    }
    let rows = csv_rows(&h, ExportKind::Ledger, Some("stories")).await;
    assert_eq!(rows.len(), 1 + counted.len());
    assert_eq!(rows.last().unwrap()[7], counted_msg);
}

#[tokio::test]
async fn export_in_the_chat_queues_one_file_for_the_organizer() {
    let h = Harness::shipped().await;
    let reply = h.say_as(ORGANIZER, "导出 获奖名单", 900_010).await;
    assert!(reply.contains("正在生成获奖名单"), "{reply}");
    // WeCom's retry of the same message queues nothing more.
    let again = h.say_as(ORGANIZER, "导出 获奖名单", 900_010).await;
    assert_eq!(again, reply);
    let pushes = h.pushes().await;
    assert_eq!(pushes.len(), 1, "{pushes:?}");
    let push = &pushes[0];
    assert_eq!(push.key, format!("export/app:msg:900010/{ORGANIZER}"));
    assert_eq!(
        push.target,
        PushTarget::User {
            userid: ORGANIZER.into()
        }
    );
    assert_eq!(push.format, EXPORT_PUSH_FORMAT);
    let request: ExportRequest = serde_json::from_str(&push.content).unwrap();
    assert_eq!(request, ExportRequest::new(ExportKind::Winners));

    let results = h.private(ORGANIZER, "export results 奋进故事").await;
    assert!(
        results.contains("成绩（传播网络正能量讲述奋进故事）"),
        "{results}"
    );
    let pushes = h.pushes().await;
    let request: ExportRequest = serde_json::from_str(&pushes[0].content).unwrap();
    assert_eq!(request.track.as_deref(), Some("stories"));

    assert!(h.private(ORGANIZER, "导出").await.contains("导出 统计表"));
    assert!(h
        .private(ORGANIZER, "导出 统计表 奋进故事")
        .await
        .contains("不分赛道"));
    assert!(h
        .private(ORGANIZER, "导出 全部")
        .await
        .contains("获奖名单、统计表"));
    assert_eq!(h.pushes().await.len(), 2);
}

#[tokio::test]
async fn export_is_refused_to_others_and_in_groups() {
    let h = Harness::shipped().await;
    h.register("m1", 1, "张三", "哈尔滨").await;
    for user in ["m1", HRB_OFFICER, REVIEWER, "guest"] {
        let reply = h.private(user, "导出 获奖名单").await;
        assert!(reply.contains("仅供活动组织者使用"), "{user}: {reply}");
    }
    // In a group, even the organizer is sent to the private chat, and nothing is queued.
    let group = h.group("g1", ORGANIZER, "导出 获奖名单").await;
    assert!(group.contains("只能在私聊中使用"), "{group}");
    let group = h.group("g1", "m1", "export winners").await;
    assert!(group.contains("只能在私聊中使用"), "{group}");
    assert!(h.pushes().await.is_empty());
    // Organizers see it in their help; members do not.
    assert!(h.private(ORGANIZER, "帮助").await.contains("导出"));
    assert!(!h.private("m1", "帮助").await.contains("导出"));
}
