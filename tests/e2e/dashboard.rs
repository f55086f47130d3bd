//! `/dashboard` over HTTP: who gets in (the token in a form, once, for a cookie that expires;
//! never the token in a URL, a forged or expired cookie, or no cookie) and that what the pages
//! show is what the store holds — totals, the charts' days, quota progress, top lists, reviews,
//! the outbox — and that the downloads are the exports, audited.

use std::io::Cursor;

use calamine::{Reader, Xlsx};
use chrono::Duration;
use rallybot::http::dashboard::session::{Sessions, COOKIE};
use rallybot_handlers::clock::SystemClock;
use rallybot_handlers::quota;
use reqwest::header::{CONTENT_TYPE, COOKIE as COOKIE_HEADER, LOCATION, SET_COOKIE};
use reqwest::StatusCode;
use std::sync::Arc;

use crate::harness::{postgres, spawn_app, spawn_app_with, TestApp, TestOptions};

/// What `campaign_with_activity` did, to compare with the pages.
pub struct Activity {
    /// The 奋进故事 entries of 张三, 李四 and 王五.
    pub codes: Vec<String>,
    pub members: i64,
    pub entries: i64,
    pub votes: i64,
    /// Votes of the first day and of the next (the clock moved a day between them).
    pub votes_by_day: [i64; 2],
    pub pending: String,
}

/// Four members in 哈尔滨 and 大庆; three stories approved and voted on over two days (王五 8,
/// 张三 5, 李四 2), a fourth waiting for review; 哈尔滨 reports 3 线下活动 (of its 10).
pub async fn campaign_with_activity(app: &TestApp) -> Activity {
    let mut codes = Vec::new();
    for (user, name, n) in [
        ("zhangsan", "张三", 1),
        ("lisi", "李四", 2),
        ("wangwu", "王五", 3),
    ] {
        let done = app.register(user, name, n, "哈尔滨").await;
        assert!(done.contains("登记成功"), "{done}");
        codes.push(submit(app, user, &format!("{name}的故事")).await);
        let approved = app
            .say_text("reviewer", &format!("审核 {} 通过", codes.last().unwrap()))
            .await;
        assert!(approved.contains("已通过"), "{approved}");
    }
    app.register("fan", "粉丝", 9, "大庆").await;
    let pending = submit(app, "fan", "<b>待审</b>的故事").await;
    for (day, voter, code, votes) in [
        (0, "fan", &codes[2], 5),
        (0, "zhangsan", &codes[2], 3),
        (1, "fan", &codes[0], 5),
        (1, "fan", &codes[1], 2),
    ] {
        if day == 1 && votes == 5 {
            let moved = app
                .admin_clock(serde_json::json!({ "advance": "24h" }))
                .await;
            assert!(moved.status().is_success());
        }
        let reply = app.say_text(voter, &format!("投票 {code} {votes}")).await;
        assert!(reply.contains(&format!("投 {votes} 票")), "{reply}");
    }
    let reported = app.say_text("hrb_officer01", "上报 线下活动 3").await;
    assert!(reported.contains("已上报"), "{reported}");
    Activity {
        codes,
        members: 4,
        entries: 4,
        votes: 15,
        votes_by_day: [8, 7],
        pending,
    }
}

async fn submit(app: &TestApp, user: &str, title: &str) -> String {
    let submitted = app
        .say_text(
            user,
            &format!("提交 奋进故事 https://mp.weixin.qq.com/s/{user} {title}"),
        )
        .await;
    submitted
        .split("作品号 ")
        .nth(1)
        .and_then(|rest| rest.get(..5))
        .unwrap_or_else(|| panic!("no code in {submitted}"))
        .to_string()
}

/// A client that shows redirects instead of following them.
fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .unwrap()
}

/// Signs in with `token` in the form body; the response as it came.
async fn post_sign_in(app: &TestApp, path: &str, token: &str) -> reqwest::Response {
    client()
        .post(format!("{}{path}", app.base_url))
        .form(&[("token", token)])
        .send()
        .await
        .unwrap()
}

/// Signs in with the right token: the `name=value` of the session cookie.
pub async fn sign_in(app: &TestApp) -> String {
    let response = post_sign_in(app, "/dashboard/login", app.settings.admin.token.expose()).await;
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    assert_eq!(response.headers()[LOCATION], "/dashboard");
    let cookie = response.headers()[SET_COOKIE].to_str().unwrap().to_string();
    for flag in [
        "HttpOnly",
        "SameSite=Strict",
        "Path=/dashboard",
        "Max-Age=43200",
    ] {
        assert!(cookie.contains(flag), "{flag} in {cookie}");
    }
    // The test bot is reached over http: no Secure flag (unit-tested for https).
    assert!(!cookie.contains("Secure"), "{cookie}");
    assert!(!cookie.contains(app.settings.admin.token.expose()));
    cookie.split(';').next().unwrap().to_string()
}

async fn get(app: &TestApp, path: &str, cookie: Option<&str>) -> reqwest::Response {
    let mut request = client().get(format!("{}{path}", app.base_url));
    if let Some(cookie) = cookie {
        request = request.header(COOKIE_HEADER, cookie);
    }
    request.send().await.unwrap()
}

/// A page's HTML, which must be there.
pub async fn page(app: &TestApp, path: &str, cookie: &str) -> String {
    let response = get(app, path, Some(cookie)).await;
    assert_eq!(response.status(), StatusCode::OK, "{path}");
    response.text().await.unwrap()
}

/// The figure a page shows under `data-stat="key"`.
pub fn stat(html: &str, key: &str) -> i64 {
    let marker = format!("data-stat=\"{key}\" data-value=\"");
    let start = html
        .find(&marker)
        .unwrap_or_else(|| panic!("no {key} on the page"))
        + marker.len();
    html[start..].split('"').next().unwrap().parse().unwrap()
}

/// Every `attribute="value"` on the page, in order.
fn values_of(html: &str, attribute: &str) -> Vec<String> {
    html.split(&format!("{attribute}=\""))
        .skip(1)
        .map(|rest| rest.split('"').next().unwrap().to_string())
        .collect()
}

fn assert_sent_to_sign_in(response: &reqwest::Response, why: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER, "{why}");
    assert_eq!(response.headers()[LOCATION], "/dashboard/login", "{why}");
}

#[tokio::test]
async fn only_a_signed_in_organizer_gets_in() {
    let app = spawn_app().await;
    let token = app.settings.admin.token.expose().to_string();

    // No cookie: pages go to the sign-in form, downloads are refused.
    assert_sent_to_sign_in(&get(&app, "/dashboard", None).await, "no cookie");
    assert_sent_to_sign_in(&get(&app, "/dashboard/tracks", None).await, "no cookie");
    let download = get(&app, "/dashboard/export/winners?format=xlsx", None).await;
    assert_eq!(download.status(), StatusCode::UNAUTHORIZED);
    let form = get(&app, "/dashboard/login", None).await;
    assert_eq!(form.status(), StatusCode::OK);
    let form = form.text().await.unwrap();
    assert!(form.contains("method=\"post\"") && form.contains("type=\"password\""));

    // The token in a URL opens nothing, whether on a page or on the sign-in.
    let in_url = get(&app, &format!("/dashboard?token={token}"), None).await;
    assert_sent_to_sign_in(&in_url, "token in the query");
    let in_url = post_sign_in(&app, &format!("/dashboard/login?token={token}"), "").await;
    assert_eq!(in_url.status(), StatusCode::UNAUTHORIZED);
    assert!(in_url.headers().get(SET_COOKIE).is_none());

    // A wrong token: refused, no cookie, the form again with the reason.
    let wrong = post_sign_in(&app, "/dashboard/login", &format!("{token}x")).await;
    assert_eq!(wrong.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong.headers().get(SET_COOKIE).is_none());
    assert!(wrong.text().await.unwrap().contains("口令不正确"));

    // A forged cookie and an expired one (made with the right token) are refused.
    let forged = format!("{COOKIE}=4102444800.00ff.deadbeef");
    assert_sent_to_sign_in(&get(&app, "/dashboard", Some(&forged)).await, "forged");
    let sessions = Sessions::new(
        app.settings.admin.token.clone(),
        &app.settings.server.public_url,
        Arc::new(SystemClock),
    );
    let expired = format!(
        "{COOKIE}={}",
        sessions.issue(sessions.now() - Duration::seconds(1))
    );
    assert_sent_to_sign_in(&get(&app, "/dashboard", Some(&expired)).await, "expired");
    let download = get(&app, "/dashboard/export/results", Some(&expired)).await;
    assert_eq!(download.status(), StatusCode::UNAUTHORIZED);

    // The right token in the form: a cookie that opens every page.
    let cookie = sign_in(&app).await;
    for path in [
        "/dashboard",
        "/dashboard/quotas",
        "/dashboard/quotas?union=hrb",
        "/dashboard/tracks",
        "/dashboard/reviews",
        "/dashboard/outbox",
    ] {
        let html = page(&app, path, &cookie).await;
        assert!(!html.contains(&token), "{path} shows the token");
    }
    let response = get(&app, "/dashboard", Some(&cookie)).await;
    let csp = response.headers()["content-security-policy"]
        .to_str()
        .unwrap();
    assert!(csp.contains("default-src 'none'"), "{csp}");

    // Signing out clears the cookie.
    let out = client()
        .post(format!("{}/dashboard/logout", app.base_url))
        .header(COOKIE_HEADER, &cookie)
        .send()
        .await
        .unwrap();
    assert_eq!(out.status(), StatusCode::SEE_OTHER);
    assert!(out.headers()[SET_COOKIE]
        .to_str()
        .unwrap()
        .contains("Max-Age=0"));
    app.stop().await;
}

#[tokio::test]
async fn a_burst_of_wrong_tokens_closes_the_sign_in_form_for_a_while() {
    let app = spawn_app().await;
    let token = app.settings.admin.token.expose().to_string();
    for attempt in 0..10 {
        let wrong = post_sign_in(&app, "/dashboard/login", &format!("guess{attempt}")).await;
        assert_eq!(
            wrong.status(),
            StatusCode::UNAUTHORIZED,
            "attempt {attempt}"
        );
    }
    // Even the right token is refused until the minute is over, and the form says so.
    let right = post_sign_in(&app, "/dashboard/login", &token).await;
    assert_eq!(right.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(right.headers().get(SET_COOKIE).is_none());
    let page = right.text().await.unwrap();
    assert!(page.contains("口令错误次数过多"), "{page}");
    app.stop().await;
}

#[tokio::test]
async fn without_an_admin_token_there_is_no_dashboard() {
    let app = spawn_app_with(TestOptions {
        configure: |s| {
            s.admin.token = rallybot::config::Secret::default();
            s.clock.rehearsal = false;
        },
        ..TestOptions::default()
    })
    .await;
    assert_eq!(
        get(&app, "/dashboard", None).await.status(),
        StatusCode::NOT_FOUND
    );
    let empty = post_sign_in(&app, "/dashboard/login", "").await;
    assert_eq!(empty.status(), StatusCode::NOT_FOUND);
    app.stop().await;
}

async fn the_pages_show_what_the_store_holds(app: TestApp) {
    let activity = campaign_with_activity(&app).await;
    app.figures.refresh().await.unwrap();
    let cookie = sign_in(&app).await;
    let store = &app.store;
    let campaign = rallybot::app::open_campaign(&app.settings).unwrap();

    // Overview: the totals and today's bars.
    let html = page(&app, "/dashboard", &cookie).await;
    assert!(html.contains("活动开展阶段"), "the stage");
    assert!(html.contains("还剩"), "days left");
    let registered: i64 = store
        .registrations_by_union()
        .await
        .unwrap()
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(registered, activity.members);
    assert_eq!(stat(&html, "registrations"), registered);
    assert_eq!(stat(&html, "entries"), activity.entries);
    assert_eq!(stat(&html, "votes_total"), activity.votes);
    assert_eq!(
        stat(&html, "pending_reviews"),
        store.pending_entries(100).await.unwrap().len() as i64
    );
    let today = campaign.day_of(app.clock.now());
    let votes_chart = html
        .split("data-chart=\"votes_daily\"")
        .nth(1)
        .unwrap()
        .split("</svg>")
        .next()
        .unwrap();
    for (day, votes) in [today.pred_opt().unwrap(), today]
        .into_iter()
        .zip(activity.votes_by_day)
    {
        let bar = votes_chart
            .split(&format!("data-day=\"{day}\" data-value=\""))
            .nth(1)
            .unwrap_or_else(|| panic!("a bar for {day}"));
        assert_eq!(bar.split('"').next().unwrap(), votes.to_string(), "{day}");
    }
    for kind in ["winners", "quotas", "results", "ledger"] {
        assert!(
            html.contains(&format!("data-export=\"{kind}-xlsx\"")),
            "{kind}"
        );
    }

    // Top lists: the store's ranking, place by place, with the zones and the gaps.
    let html = page(&app, "/dashboard/tracks", &cookie).await;
    let table = html
        .split("data-track=\"stories\"")
        .nth(1)
        .unwrap()
        .split("</table>")
        .next()
        .unwrap();
    let top = store.top("stories", 25).await.unwrap();
    let shown: Vec<String> = values_of(table, "data-code");
    let expected: Vec<String> = top.iter().map(|r| r.entry.code.clone()).collect();
    assert_eq!(shown, expected);
    assert_eq!(
        shown,
        [
            activity.codes[2].clone(),
            activity.codes[0].clone(),
            activity.codes[1].clone()
        ]
    );
    let scores: Vec<String> = values_of(table, "data-score");
    assert_eq!(scores, ["8", "5", "2"]);
    assert!(table.contains("榜样典型（第 1–10 名）"), "the first zone");

    // Quotas: 哈尔滨's 线下活动 and the province's registrations, as `进度` computes them.
    let progress = quota::progress(
        &campaign,
        &quota::gather_direct_done(&campaign, store.as_ref())
            .await
            .unwrap(),
        app.clock.now(),
    );
    let html = page(&app, "/dashboard/quotas?union=hrb", &cookie).await;
    let hrb = progress.get("hrb", "offline").unwrap();
    assert_eq!(hrb.done, 3);
    assert!(html.contains(&format!(
        "data-metric=\"offline\" data-done=\"{}\"",
        hrb.done
    )));
    assert!(html.contains("class=\"pace\""), "the pace marker");
    let html = page(&app, "/dashboard/quotas", &cookie).await;
    let hlj = progress.get("hlj", "registrations").unwrap();
    assert_eq!(hlj.done, activity.members);
    assert!(html.contains(&format!(
        "data-metric=\"registrations\" data-done=\"{}\"",
        hlj.done
    )));
    assert!(
        html.contains("href=\"/dashboard/quotas?union=hlj\""),
        "drills down"
    );
    let html = page(&app, "/dashboard/quotas?union=hlj", &cookie).await;
    assert!(
        html.contains("href=\"/dashboard/quotas?union=hrb\""),
        "drills to the cities"
    );

    // Reviews: the waiting entry, its title shown as text.
    let html = page(&app, "/dashboard/reviews", &cookie).await;
    assert_eq!(stat(&html, "pending_reviews"), 1);
    assert!(html.contains(&format!("data-code=\"{}\"", activity.pending)));
    assert!(html.contains("&lt;b&gt;待审&lt;/b&gt;的故事"), "escaped");

    // Outbox: the counts of the store.
    let html = page(&app, "/dashboard/outbox", &cookie).await;
    for (status, n) in store.push_counts().await.unwrap() {
        assert_eq!(stat(&html, &format!("pushes_{}", status.as_str())), n);
    }

    // Downloads: the winners as the exporter makes them, recorded under the session.
    let response = get(&app, "/dashboard/export/winners?format=xlsx", Some(&cookie)).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers()[CONTENT_TYPE]
        .to_str()
        .unwrap()
        .contains("spreadsheetml"));
    let bytes = response.bytes().await.unwrap();
    let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes.to_vec())).unwrap();
    let sheet = book.sheet_names()[0].clone();
    let cells: Vec<String> = book
        .worksheet_range(&sheet)
        .unwrap()
        .rows()
        .flat_map(|r| r.iter().map(ToString::to_string).collect::<Vec<_>>())
        .collect();
    for name in ["王五", "张三", "李四"] {
        assert!(cells.iter().any(|c| c == name), "{name} among the winners");
    }
    let audit = store.audit_log(0, 1000).await.unwrap();
    assert!(
        audit.iter().any(|(_, e)| e.action == "export"
            && e.subject == "winners"
            && e.actor.starts_with("dashboard:")),
        "the winners download is audited: {audit:?}"
    );
    let csv = get(&app, "/dashboard/export/results?format=csv", Some(&cookie)).await;
    assert_eq!(csv.status(), StatusCode::OK);
    let csv = csv.bytes().await.unwrap();
    assert!(csv.starts_with(rallybot::export::BOM), "UTF-8 with BOM");
    assert!(String::from_utf8_lossy(&csv).contains(&activity.codes[2]));
    app.stop().await;
}

#[tokio::test]
async fn the_pages_show_what_the_store_holds_on_sqlite() {
    the_pages_show_what_the_store_holds(spawn_app().await).await;
}

#[tokio::test]
async fn the_pages_show_what_the_store_holds_on_postgres() {
    let Some(backend) = postgres() else { return };
    the_pages_show_what_the_store_holds(
        spawn_app_with(TestOptions {
            backend,
            ..TestOptions::default()
        })
        .await,
    )
    .await;
}
