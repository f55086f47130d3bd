//! The shipped campaigns load with the numbers of their notices, and broken campaign files are
//! reported all at once with the right file and line.

// Helpers outside #[test] functions unwrap too: a failure there is a test failure.
#![allow(clippy::unwrap_used)]

use std::path::{Path, PathBuf};

use chrono::{DateTime, Utc};
use rallybot_handlers::campaign::{
    load_campaign, Audience, Campaign, EntrantKind, FairPlay, LoadError, MetricSource, Opening,
    Problem, Rule, UnionLevel, UnionMatch,
};
use rallybot_handlers::quota::{progress, DirectDone};

fn shipped(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("../deploy/campaigns")
        .join(name)
}

fn load_ok(path: &Path) -> Campaign {
    load_campaign(path).unwrap_or_else(|e| {
        let lines: Vec<String> = e.problems.iter().map(ToString::to_string).collect();
        panic!("{} did not load:\n{}", path.display(), lines.join("\n"))
    })
}

fn load_err(path: &Path) -> LoadError {
    match load_campaign(path) {
        Ok(_) => panic!("{} loaded but should not", path.display()),
        Err(e) => e,
    }
}

fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// The 1-based line of the first line of `text` containing `needle`.
fn line_of(text: &str, needle: &str) -> usize {
    text.lines()
        .position(|l| l.contains(needle))
        .unwrap_or_else(|| panic!("`{needle}` not in the text"))
        + 1
}

fn find<'a>(problems: &'a [Problem], file: &Path, line: usize, words: &str) -> &'a Problem {
    problems
        .iter()
        .find(|p| p.file == file && p.line == line && p.message.contains(words))
        .unwrap_or_else(|| {
            let all: Vec<String> = problems.iter().map(ToString::to_string).collect();
            panic!(
                "no problem `{words}` at {}:{line}; got:\n{}",
                file.display(),
                all.join("\n")
            )
        })
}

// ------------------------------------------------------------------ the shipped campaigns

#[test]
fn longjiang_has_the_five_tracks_of_the_notice() {
    let c = load_ok(&shipped("longjiang-2022.toml"));
    assert_eq!(c.key, "longjiang-2022");
    assert_eq!(c.timezone, chrono_tz::Asia::Shanghai);
    let tracks: Vec<(&str, &str, EntrantKind, &Rule)> = c
        .tracks
        .iter()
        .map(|t| (t.name.as_str(), t.code_prefix.as_str(), t.entrant, &t.rule))
        .collect();
    assert_eq!(
        tracks,
        [
            (
                "龙江红色足迹打卡",
                "A",
                EntrantKind::Unit,
                &Rule::Views {
                    per_work_per_day: 3
                }
            ),
            (
                "网络达人大舞台",
                "B",
                EntrantKind::Member,
                &Rule::Likes {
                    per_member_per_day: 3
                }
            ),
            (
                "传播网络正能量讲述奋进故事",
                "C",
                EntrantKind::Member,
                &Rule::Votes {
                    per_work_per_day: 5
                }
            ),
            (
                "喜迎二十大阅读经典好书",
                "D",
                EntrantKind::Member,
                &Rule::Votes {
                    per_work_per_day: 5
                }
            ),
            (
                "光盘我做主引领新食尚",
                "E",
                EntrantKind::Member,
                &Rule::Views {
                    per_work_per_day: 3
                }
            ),
        ]
    );
    let awards = |key: &str| -> Vec<(String, u32)> {
        c.track(key)
            .unwrap()
            .awards
            .iter()
            .map(|a| (a.name.clone(), a.count))
            .collect()
    };
    assert_eq!(
        awards("stories"),
        [("榜样典型".to_string(), 10), ("榜样提名".to_string(), 10)]
    );
    assert_eq!(
        awards("footprints"),
        [
            ("一等奖".to_string(), 10),
            ("二等奖".to_string(), 15),
            ("三等奖".to_string(), 25)
        ]
    );
}

#[test]
fn longjiang_stages_deadlines_and_nudges() {
    let c = load_ok(&shipped("longjiang-2022.toml"));
    let stages: Vec<(&str, DateTime<Utc>, DateTime<Utc>)> = c
        .stages
        .iter()
        .map(|s| (s.name.as_str(), s.starts, s.ends))
        .collect();
    assert_eq!(
        stages,
        [
            (
                "宣传发动阶段",
                at("2022-07-21T00:00:00+08:00"),
                at("2022-08-01T00:00:00+08:00")
            ),
            (
                "活动开展阶段",
                at("2022-08-01T00:00:00+08:00"),
                at("2022-10-01T00:00:00+08:00")
            ),
            (
                "总结评比阶段",
                at("2022-10-11T00:00:00+08:00"),
                at("2022-11-01T00:00:00+08:00")
            ),
        ]
    );
    assert!(c.stages.iter().all(|s| s.announce.is_some()));
    // Voting opens at 00:00 on 8月1日 Beijing time, which is 16:00 UTC the day before.
    assert!(!c.is_open(Opening::Vote, at("2022-07-31T15:59:59Z")));
    assert!(c.is_open(Opening::Vote, at("2022-07-31T16:00:00Z")));
    assert!(c.is_open(Opening::Submit, at("2022-09-30T23:59:00+08:00")));
    assert!(!c.is_open(Opening::Submit, at("2022-10-01T00:00:00+08:00")));

    let submit = c.deadlines.iter().find(|d| d.key == "submit").unwrap();
    assert_eq!(submit.name, "作品提交截止");
    assert_eq!(submit.audience, Audience::All);
    assert_eq!(submit.due, at("2022-10-01T00:00:00+08:00"));
    let hours: Vec<i64> = submit.remind.iter().map(|d| d.num_hours()).collect();
    assert_eq!(hours, [7 * 24, 3 * 24, 24, 4]);
    let summary = c.deadlines.iter().find(|d| d.key == "summary").unwrap();
    assert_eq!(summary.audience, Audience::Officers);
    assert_eq!(summary.due, at("2022-11-01T00:00:00+08:00"));

    assert_eq!(c.nudges.cron, "0 0 10 * * MON-FRI");
    assert!((c.nudges.slack - 0.1).abs() < 1e-12);
    assert_eq!(c.nudges.quiet_start.to_string(), "21:00:00");
    assert_eq!(c.nudges.quiet_end.to_string(), "08:00:00");
    assert_eq!(c.nudges.missed_grace.num_hours(), 6);
    assert_eq!(c.nudges.leaderboard_cron.as_deref(), Some("0 0 20 * * *"));

    let offline = c.metric("offline").unwrap();
    assert_eq!(offline.name, "线下活动");
    assert_eq!(offline.source, MetricSource::Reported);
    assert_eq!(
        (offline.window_start, offline.window_end),
        (
            at("2022-08-01T00:00:00+08:00"),
            at("2022-10-01T00:00:00+08:00")
        )
    );
    assert_eq!(
        c.resolve_metric("线下活动").map(|m| m.key.as_str()),
        Some("offline")
    );
}

#[test]
fn longjiang_unions_carry_the_quota_table() {
    let c = load_ok(&shipped("longjiang-2022.toml"));
    let cities: Vec<&str> = c
        .unions
        .list
        .iter()
        .filter(|u| u.level == UnionLevel::City)
        .map(|u| u.short_name.as_str())
        .collect();
    assert_eq!(
        cities,
        [
            "哈尔滨",
            "齐齐哈尔",
            "牡丹江",
            "佳木斯",
            "大庆",
            "鸡西",
            "双鸭山",
            "伊春",
            "七台河",
            "鹤岗",
            "黑河",
            "绥化",
            "大兴安岭"
        ]
    );
    let root = c.unions.get("hlj").unwrap();
    assert_eq!(
        (root.name.as_str(), root.parent.as_deref()),
        ("黑龙江省总工会", None)
    );
    assert!(c.unions.children("hlj").count() >= 13);
    let p = progress(&c, &DirectDone::new(), at("2022-08-01T00:00:00+08:00"));
    assert_eq!(p.get("hlj", "offline").unwrap().target, Some(120));
    assert_eq!(p.get("hrb", "offline").unwrap().target, Some(10));
    assert_eq!(p.get("dxal", "offline").unwrap().target, Some(7));
    assert_eq!(p.get("hrb-daoli", "offline").unwrap().target, None);
    match c.unions.resolve("哈尔滨") {
        UnionMatch::One(u) => assert_eq!(u.code, "hrb"),
        other => panic!("{other:?}"),
    }
    let lineage: Vec<&str> = c
        .unions
        .lineage("hrb-daoli")
        .iter()
        .map(|u| u.code.as_str())
        .collect();
    assert_eq!(lineage, ["hrb-daoli", "hrb", "hlj"]);
}

#[test]
fn linfen_has_the_county_task_table() {
    let c = load_ok(&shipped("linfen-2020.toml"));
    assert!(c.tracks.is_empty());
    let keys: Vec<&str> = c.metrics.iter().map(|m| m.key.as_str()).collect();
    assert_eq!(
        &keys[..8],
        [
            "offline",
            "video",
            "topic",
            "photo",
            "platform",
            "recital",
            "song",
            "microclass"
        ]
    );
    let names: Vec<&str> = c.metrics[..8].iter().map(|m| m.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "线下活动",
            "微视频",
            "专题活动",
            "摄影作品",
            "优秀平台",
            "诵读作品",
            "歌曲",
            "微课视频"
        ]
    );
    let counties: Vec<_> = c.unions.children("linfen").collect();
    assert_eq!(counties.len(), 19);
    for county in &counties {
        let set: Vec<&str> = keys[..8]
            .iter()
            .copied()
            .filter(|k| county.targets.contains_key(*k))
            .collect();
        assert_eq!(set.len(), 8, "{} has {set:?}", county.name);
    }
    let p = progress(&c, &DirectDone::new(), at("2020-07-01T00:00:00+08:00"));
    let total = |metric: &str| p.get("linfen", metric).unwrap().target;
    assert_eq!(total("photo"), Some(190));
    assert_eq!(total("offline"), Some(19));
    assert_eq!(total("microclass"), Some(19));
    // 诵读作品: 2 for 尧都、霍州、侯马, 1 for the other sixteen.
    assert_eq!(total("recital"), Some(22));
    assert_eq!(
        c.unions.get("yaodu").unwrap().targets.get("recital"),
        Some(&2)
    );
    assert_eq!(
        c.unions.get("hongtong").unwrap().targets.get("recital"),
        Some(&1)
    );
    assert_eq!(total("promoter"), Some(50));
    assert_eq!(c.unions.get("houma-kfq").unwrap().short_name, "侯马开发区");

    let report = c.deadlines.iter().find(|d| d.key == "report").unwrap();
    assert_eq!(report.audience, Audience::Officers);
    assert_eq!(report.due, at("2020-09-16T00:00:00+08:00"));
    let stage_names: Vec<&str> = c.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stage_names, ["活动启动", "活动推进", "评选总结"]);
}

#[test]
fn loudi_is_a_reading_challenge_with_point_bands() {
    let c = load_ok(&shipped("loudi-2022.toml"));
    assert_eq!(c.tracks.len(), 1);
    let t = &c.tracks[0];
    assert_eq!(t.name, "阅读挑战赛");
    assert_eq!(t.entrant, EntrantKind::Member);
    assert_eq!(
        t.rule,
        Rule::Points {
            bands: vec![(30, 5), (60, 8), (120, 10)]
        }
    );
    assert_eq!(t.awards.iter().map(|a| a.count).sum::<u32>(), 50);
    let challenge = &c.stages[0];
    assert_eq!(challenge.starts, at("2022-08-01T00:00:00+08:00"));
    assert_eq!(challenge.ends, at("2022-10-11T00:00:00+08:00"));
    let counties: Vec<&str> = c
        .unions
        .children("loudi")
        .map(|u| u.short_name.as_str())
        .collect();
    assert_eq!(
        counties,
        ["娄星", "冷水江", "涟源", "双峰", "新化", "娄底经开区"]
    );
    assert_eq!(
        c.metric("readers").unwrap().source,
        MetricSource::Entries("reading".into())
    );
}

// ------------------------------------------------------------------ broken files

/// Copies a shipped campaign and its unions file into `dir`, with edits applied to both texts.
fn broken_copy(
    dir: &Path,
    name: &str,
    csv_name: &str,
    edit_toml: &[(&str, &str)],
    edit_csv: &[(&str, &str)],
) -> (PathBuf, String, PathBuf, String) {
    let mut toml = std::fs::read_to_string(shipped(name)).unwrap();
    for (from, to) in edit_toml {
        assert!(toml.contains(from), "`{from}` not in {name}");
        toml = toml.replacen(from, to, 1);
    }
    let mut csv = std::fs::read_to_string(shipped(csv_name)).unwrap();
    for (from, to) in edit_csv {
        assert!(csv.contains(from), "`{from}` not in {csv_name}");
        csv = csv.replacen(from, to, 1);
    }
    let toml_path = dir.join(name);
    let csv_path = dir.join(csv_name);
    std::fs::write(&toml_path, &toml).unwrap();
    std::fs::write(&csv_path, &csv).unwrap();
    (toml_path, toml, csv_path, csv)
}

#[test]
fn every_problem_is_reported_at_once_with_file_and_line() {
    let dir = tempfile::tempdir().unwrap();
    let (toml_path, toml, csv_path, csv) = broken_copy(
        dir.path(),
        "longjiang-2022.toml",
        "longjiang-2022-unions.csv",
        &[
            ("per_member_per_day = 3 }", "per_member_per_day = -3 }"),
            ("code_prefix = \"E\"", "code_prefix = \"e1\""),
            ("code_prefix = \"D\"", "code_prefix = \"C\""),
            ("key = \"review\"\nname = \"总结评比阶段\"\nstarts = 2022-10-11", "key = \"review\"\nname = \"总结评比阶段\"\nstarts = 2022-09-20"),
            ("audience = \"officers\"", "audience = \"leaders\""),
            ("remind = [\"7d\", \"3d\", \"1d\", \"4h\"]", "remind = [\"7d\", \"3x\", \"1d\", \"2h\"]"),
            ("slack = 0.1 ", "slack = 1.5 "),
            ("grace = \"7d\"", "grace = \"a week\""),
            ("cron = \"0 10 * * MON-FRI\"", "cron = \"0 10 * *\""),
            ("source = \"registrations\"", "source = \"entries:photos\""),
            ("opens = [\"submit\", \"vote\"]", "opens = [\"submit\", \"vote\", \"read\"]"),
            ("rule = { kind = \"views\", per_work_per_day = 3 }", "rule = { kind = \"clicks\", per_work_per_day = 3 }"),
            ("awards = [\n  { name = \"榜样典型\", count = 10 },\n  { name = \"榜样提名\", count = 10 },\n]", "awards = []"),
            ("ends = 2022-07-31", "ends = \"2022-07-32\""),
            ("self_vote = true", "self_vot = true"),
        ],
        &[
            ("jx,鸡西市总工会,hlj,city,jx_officer01,9,", "jx,鸡西市总工会,hlj,city,jx_officer01,nine,"),
            ("hh,黑河市总工会,hlj,city,hh_officer01,9,", "hh,黑河市总工会,hlj,city,hh_officer01,-9,"),
            ("hrb-hulan,呼兰区总工会,hrb,county", "hrb-hulan,呼兰区总工会,harbin,county"),
            ("hlj-nlsl,黑龙江省农林水利工会,hlj,industry", "hrb,黑龙江省农林水利工会,hlj,industrial"),
            ("qth,七台河市总工会,hlj,", "qth,七台河市总工会,hg,"),
            ("hg,鹤岗市总工会,hlj,", "hg,鹤岗市总工会,qth,"),
        ],
    );
    let e = load_err(&toml_path);
    let p = &e.problems;
    let t = |needle: &str| line_of(&toml, needle);
    let c = |needle: &str| line_of(&csv, needle);

    find(p, &toml_path, t("cron = \"0 10 * *\""), "5 fields");
    find(p, &toml_path, t("slack = 1.5"), "less than 1");
    find(p, &toml_path, t("grace = \"a week\""), "`grace`");
    find(p, &toml_path, t("2022-07-32"), "not a date");
    find(p, &toml_path, t("\"read\"]"), "unknown opening `read`");
    find(
        p,
        &toml_path,
        t("starts = 2022-09-20"),
        "stages must not overlap",
    );
    find(
        p,
        &toml_path,
        t("kind = \"clicks\""),
        "unknown rule kind `clicks`",
    );
    find(
        p,
        &toml_path,
        t("self_vot = true"),
        "unknown key `self_vot`",
    );
    find(p, &toml_path, t("per_member_per_day = -3"), "between 1 and");
    find(p, &toml_path, t("awards = []"), "`awards` is empty");
    let second_c = toml.match_indices("code_prefix = \"C\"").nth(1).unwrap().0;
    let second_c_line = toml[..second_c].lines().count() + 1;
    find(p, &toml_path, second_c_line, "duplicate code prefix `C`");
    find(
        p,
        &toml_path,
        t("code_prefix = \"e1\""),
        "upper-case letters",
    );
    find(p, &toml_path, t("\"3x\""), "`3x` is not a duration");
    find(
        p,
        &toml_path,
        t("\"3x\""),
        "2h reminder of `submit` falls in the quiet hours",
    );
    find(
        p,
        &toml_path,
        t("audience = \"leaders\""),
        "unknown audience `leaders`",
    );
    find(p, &toml_path, t("entries:photos"), "unknown track `photos`");

    find(p, &csv_path, c("nine"), "target `nine`");
    find(p, &csv_path, c("hh_officer01,-9"), "target `-9`");
    find(p, &csv_path, c("harbin"), "parent `harbin`");
    find(p, &csv_path, c("industrial"), "unknown level `industrial`");
    find(p, &csv_path, c("industrial"), "duplicate union code `hrb`");
    find(
        p,
        &csv_path,
        c("qth,七台河市总工会"),
        "cycle: qth → hg → qth",
    );

    // TOML problems first, each file in line order, and printed as file:line: message.
    let files: Vec<&Path> = p.iter().map(|p| p.file.as_path()).collect();
    let first_csv = files.iter().position(|f| *f == csv_path).unwrap();
    assert!(files[..first_csv].iter().all(|f| *f == toml_path));
    assert!(files[first_csv..].iter().all(|f| *f == csv_path));
    assert!(p[..first_csv].windows(2).all(|w| w[0].line <= w[1].line));
    let shown = p[0].to_string();
    assert!(
        shown.starts_with(&format!("{}:{}: ", toml_path.display(), p[0].line)),
        "{shown}"
    );
}

#[test]
fn a_toml_syntax_error_names_its_line() {
    let dir = tempfile::tempdir().unwrap();
    let (toml_path, toml, _, _) = broken_copy(
        dir.path(),
        "loudi-2022.toml",
        "loudi-2022-unions.csv",
        &[("ends = 2022-10-10", "ends = 2022-10-10 x")],
        &[],
    );
    let e = load_err(&toml_path);
    assert_eq!(e.problems.len(), 1, "{:?}", e.problems);
    let problem = &e.problems[0];
    assert_eq!(problem.line, line_of(&toml, "ends = 2022-10-10 x"));
    assert!(
        problem.message.starts_with("TOML syntax error"),
        "{problem}"
    );
}

#[test]
fn metric_columns_must_match_between_the_files() {
    let dir = tempfile::tempdir().unwrap();
    let (toml_path, toml, csv_path, _) = broken_copy(
        dir.path(),
        "loudi-2022.toml",
        "loudi-2022-unions.csv",
        &[],
        &[("registrations,readers", "members,readers")],
    );
    let e = load_err(&toml_path);
    find(
        &e.problems,
        &toml_path,
        line_of(&toml, "key = \"registrations\""),
        "no column",
    );
    find(&e.problems, &csv_path, 1, "`members` is not a metric");
}

#[test]
fn a_missing_unions_file_is_reported_at_the_unions_key() {
    let dir = tempfile::tempdir().unwrap();
    let (toml_path, toml, _, _) = broken_copy(
        dir.path(),
        "loudi-2022.toml",
        "loudi-2022-unions.csv",
        &[(
            "unions = \"loudi-2022-unions.csv\"",
            "unions = \"nowhere.csv\"",
        )],
        &[],
    );
    let e = load_err(&toml_path);
    find(
        &e.problems,
        &toml_path,
        line_of(&toml, "nowhere.csv"),
        "cannot read",
    );
}

// ------------------------------------------------------------------ the CSV as organizers save it

const SMALL_CAMPAIGN: &str = r#"
key = "small"
name = "小活动"
unions = "unions.csv"

[[stages]]
key = "run"
name = "进行中"
starts = "2024-03-01"
ends = 2024-03-31T18:00:00+08:00
opens = ["submit", "vote"]

[[tracks]]
key = "photos"
name = "摄影作品"
code_prefix = "P"
rule = { kind = "votes", per_work_per_day = 2 }
awards = [{ name = "优秀奖", count = 3 }]
link_hosts = ["weixin.qq.com", ".Example.org"]
self_vote = false

[[metrics]]
key = "shots"
name = "作品数"
source = "entries:photos"
"#;

#[test]
fn unions_csv_with_bom_crlf_and_children_before_parents() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("small.toml");
    std::fs::write(&toml_path, SMALL_CAMPAIGN).unwrap();
    let csv = "\u{feff}code,name,parent,level,officers,shots\r\n\
               c2,乙县总工会,city,县,c2a,\r\n\
               city,某某市总工会,prov,市,ca|cb,12\r\n\
               \r\n\
               prov,某某省总工会,,province,,\r\n\
               c1,甲区总工会,city,county, c1a | c1b ,5\r\n";
    std::fs::write(dir.path().join("unions.csv"), csv).unwrap();
    let c = load_ok(&toml_path);

    let codes: Vec<&str> = c.unions.list.iter().map(|u| u.code.as_str()).collect();
    assert_eq!(codes, ["c2", "city", "prov", "c1"]);
    let city = c.unions.get("city").unwrap();
    assert_eq!(city.level, UnionLevel::City);
    assert_eq!(city.officers, ["ca", "cb"]);
    assert_eq!(city.short_name, "某某");
    assert_eq!(c.unions.get("c1").unwrap().officers, ["c1a", "c1b"]);
    assert_eq!(c.unions.get("c2").unwrap().level, UnionLevel::County);
    let lineage: Vec<&str> = c
        .unions
        .lineage("c1")
        .iter()
        .map(|u| u.code.as_str())
        .collect();
    assert_eq!(lineage, ["c1", "city", "prov"]);

    let t = c.track("photos").unwrap();
    assert_eq!(t.entrant, EntrantKind::Member);
    assert!(!t.self_vote);
    assert_eq!(t.link_hosts, ["weixin.qq.com", "example.org"]);
    assert_eq!(c.stages[0].ends, at("2024-03-31T18:00:00+08:00"));
    // Without a window the metric follows the stages; without [nudges] the defaults apply.
    let shots = c.metric("shots").unwrap();
    assert_eq!(shots.window_start, at("2024-03-01T00:00:00+08:00"));
    assert_eq!(shots.window_end, c.stages[0].ends);
    assert_eq!(c.nudges.cron, "0 0 10 * * MON-FRI");
    assert_eq!(c.nudges.missed_grace.num_hours(), 6);
    assert_eq!(c.nudges.grace.num_days(), 7);

    let p = progress(&c, &DirectDone::new(), at("2024-03-10T00:00:00+08:00"));
    assert_eq!(p.get("prov", "shots").unwrap().target, Some(12));
}

#[test]
fn a_csv_saved_in_gbk_is_refused_with_a_hint() {
    let dir = tempfile::tempdir().unwrap();
    let toml_path = dir.path().join("small.toml");
    std::fs::write(&toml_path, SMALL_CAMPAIGN).unwrap();
    // "code,name,parent,level,officers,shots\nprov,省总工会,,province,,\n" with the name in GBK.
    let mut bytes = b"code,name,parent,level,officers,shots\nprov,".to_vec();
    bytes.extend_from_slice(&[0xca, 0xa1, 0xd7, 0xdc, 0xb9, 0xa4, 0xbb, 0xe1]);
    bytes.extend_from_slice(b",,province,,\n");
    let csv_path = dir.path().join("unions.csv");
    std::fs::write(&csv_path, bytes).unwrap();
    let e = load_err(&toml_path);
    find(&e.problems, &csv_path, 2, "not UTF-8");
}

/// Every campaign in `deploy/campaigns/` loads: the five bundled ones, 青海 and the 系列活动
/// included.
#[test]
fn every_bundled_campaign_loads() {
    let dir = shipped("");
    let mut names: Vec<String> = std::fs::read_dir(&dir)
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().into_string().ok())
        .filter(|name| name.ends_with(".toml"))
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "linfen-2020.toml",
            "longjiang-2022.toml",
            "longjiang-series-2022.toml",
            "loudi-2022.toml",
            "qinghai-2022.toml",
        ]
    );
    for name in &names {
        let c = load_ok(&shipped(name));
        assert!(!c.stages.is_empty(), "{name}");
    }
}

#[test]
fn qinghai_has_its_stages_12351_plan_and_collections() {
    let c = load_ok(&shipped("qinghai-2022.toml"));
    let stages: Vec<&str> = c.stages.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(stages, ["活动启动", "活动开展", "初步评选", "总结上报"]);
    let recommend = c.deadlines.iter().find(|d| d.key == "recommend").unwrap();
    assert_eq!(recommend.due, at("2022-09-09T00:00:00+08:00"));
    let p = progress(&c, &DirectDone::new(), at("2022-08-10T09:00:00+08:00"));
    let target = |metric: &str| p.get("qh", metric).unwrap().target;
    assert_eq!(target("grassroots"), Some(50));
    assert_eq!(target("promoters"), Some(200));
    assert_eq!(target("offline"), Some(50));
    assert_eq!(target("face_to_face"), Some(500));
    assert!(c.metrics.iter().all(|m| m.source == MetricSource::Reported));
    // 附件1: 线下活动 allocated to 13 units, 65 场 in all.
    let allocated: i64 = c
        .unions
        .children("qh")
        .filter_map(|u| p.get(&u.code, "offline")?.target)
        .sum();
    assert_eq!(allocated, 65);
    for part in [
        "歌曲",
        "微视频",
        "摄影",
        "诵读",
        "网络达人",
        "普惠服务优秀平台",
    ] {
        assert!(
            c.tracks.iter().any(|t| t.name.contains(part)),
            "no track for {part}"
        );
    }
}

#[test]
fn the_series_has_a_participation_target_of_five_million() {
    let c = load_ok(&shipped("longjiang-series-2022.toml"));
    let participation = c
        .metrics
        .iter()
        .find(|m| m.source == MetricSource::Participation)
        .unwrap();
    let p = progress(&c, &DirectDone::new(), at("2022-08-10T09:00:00+08:00"));
    assert_eq!(
        p.get("hlj", &participation.key).unwrap().target,
        Some(5_000_000)
    );
    assert!(c
        .metrics
        .iter()
        .any(|m| m.source == MetricSource::Registrations));
    assert_eq!(c.unions.children("hlj").count(), 15);
    let statistics = c.deadlines.iter().find(|d| d.key == "statistics").unwrap();
    assert_eq!(statistics.due, at("2022-12-11T00:00:00+08:00"));
}

// ------------------------------------------------------------------ fair play

#[test]
fn fair_play_thresholds_have_defaults_and_are_checked() {
    let shipped_one = load_ok(&shipped("longjiang-2022.toml"));
    assert_eq!(shipped_one.fair_play, FairPlay::default());
    assert!(shipped_one.fair_play.enabled);

    let dir = tempfile::tempdir().unwrap();
    let table = "\n[fair_play]\nevery = \"5m\"\nburst_min = 50\nburst_factor = 8\nring_days = 4\nfresh_share = 0.9\n\n[nudges]";
    let (toml_path, _, _, _) = broken_copy(
        dir.path(),
        "longjiang-2022.toml",
        "longjiang-2022-unions.csv",
        &[("\n[nudges]", table)],
        &[],
    );
    let tuned = load_ok(&toml_path).fair_play;
    assert_eq!(tuned.every, chrono::Duration::minutes(5));
    assert_eq!((tuned.burst_min, tuned.ring_days), (50, 4));
    assert!((tuned.burst_factor - 8.0).abs() < f64::EPSILON);
    assert!((tuned.fresh_share - 0.9).abs() < f64::EPSILON);
    assert_eq!(tuned.ring_members, FairPlay::default().ring_members);

    let bad = "\n[fair_play]\nevery = \"often\"\nburst_factor = 0.5\nunit_share = 2\nring_members = 1\nring_size = 3\n\n[nudges]";
    let (toml_path, toml, _, _) = broken_copy(
        dir.path(),
        "longjiang-2022.toml",
        "longjiang-2022-unions.csv",
        &[("\n[nudges]", bad)],
        &[],
    );
    let e = load_err(&toml_path);
    find(
        &e.problems,
        &toml_path,
        line_of(&toml, "every = \"often\""),
        "`every`",
    );
    find(
        &e.problems,
        &toml_path,
        line_of(&toml, "burst_factor = 0.5"),
        "burst_factor",
    );
    find(
        &e.problems,
        &toml_path,
        line_of(&toml, "unit_share = 2"),
        "share",
    );
    find(
        &e.problems,
        &toml_path,
        line_of(&toml, "ring_members = 1"),
        "ring_members",
    );
    find(
        &e.problems,
        &toml_path,
        line_of(&toml, "ring_size = 3"),
        "ring_size",
    );
}
