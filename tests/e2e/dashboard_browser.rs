//! The dashboard in a real browser: Debian's headless Chromium, driven through its
//! chromedriver over WebDriver (fantoccini), signs in with the token as an organizer would,
//! waits for the charts, reads the figures as the browser shows them and compares them with
//! the store, checks that the page fits a phone's width, and saves a screenshot to
//! `docs/dashboard.png` (shown in README.md) when `RALLYBOT_UPDATE_SCREENSHOT` is set, else
//! under the target directory. Without chromium and chromedriver the test is
//! skipped with a message, except under `CI`, where it fails (`.ci/run` installs them).

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use fantoccini::wd::Capabilities;
use fantoccini::{Client, ClientBuilder, Locator};
use hyper_util::client::legacy::connect::HttpConnector;
use serde_json::json;

use crate::dashboard::{campaign_with_activity, Activity};
use crate::harness::{spawn_app, TestApp};

/// `chromedriver` killed when the test ends, however it ends.
struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn on_path(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join(name))
            .find(|candidate| candidate.is_file())
    })
}

/// chromium and chromedriver, or `None` (after deciding whether that is allowed).
fn browser() -> Option<(PathBuf, PathBuf)> {
    let chromium = ["chromium", "chromium-browser"]
        .into_iter()
        .find_map(on_path);
    let driver = on_path("chromedriver");
    if let (Some(chromium), Some(driver)) = (chromium, driver) {
        return Some((chromium, driver));
    }
    if std::env::var_os("CI").is_some() {
        panic!("chromium or chromedriver missing and CI is set: run .ci/run, which installs them");
    }
    println!(
        "skipped: the dashboard browser test needs chromium and chromedriver \
         (apt-get install chromium chromium-driver)"
    );
    None
}

/// Starts chromedriver on a free loopback port and waits until it answers.
async fn start_driver(driver: &Path) -> (Driver, String) {
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let child = Command::new(driver)
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver starts");
    let driver = Driver(child);
    let url = format!("http://127.0.0.1:{port}");
    for _ in 0..100 {
        if reqwest::get(format!("{url}/status")).await.is_ok() {
            return (driver, url);
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("chromedriver did not answer on {url}");
}

async fn connect(url: &str, chromium: &Path) -> Client {
    let mut capabilities = Capabilities::new();
    capabilities.insert(
        "goog:chromeOptions".to_string(),
        json!({
            "binary": chromium,
            "args": [
                "--headless=new",
                "--no-sandbox",
                "--disable-gpu",
                "--disable-dev-shm-usage",
                "--hide-scrollbars",
                "--lang=zh-CN",
                "--window-size=1280,1600",
            ],
        }),
    );
    ClientBuilder::new(HttpConnector::new())
        .capabilities(capabilities)
        .connect(url)
        .await
        .expect("a browser session")
}

/// The number an element shows (`1,234` → 1234).
async fn shown_number(client: &Client, css: &str) -> i64 {
    let text = client
        .find(Locator::Css(css))
        .await
        .unwrap_or_else(|e| panic!("{css}: {e}"))
        .text()
        .await
        .unwrap();
    text.replace(',', "")
        .trim()
        .parse()
        .unwrap_or_else(|_| panic!("{css} shows {text:?}"))
}

#[tokio::test]
async fn an_organizer_signs_in_and_sees_the_store_in_chromium() {
    let Some((chromium, driver)) = browser() else {
        return;
    };
    let app = spawn_app().await;
    let activity = campaign_with_activity(&app).await;
    app.figures.refresh().await.unwrap();
    let (_driver, url) = start_driver(&driver).await;
    let client = connect(&url, &chromium).await;
    let outcome = drive(&client, &app, &activity).await;
    let _ = client.close().await;
    app.stop().await;
    outcome.unwrap();
}

/// What the browser does; errors come back so that the browser is closed either way.
async fn drive(client: &Client, app: &TestApp, activity: &Activity) -> Result<(), String> {
    let base = &app.base_url;
    let token = app.settings.admin.token.expose();
    let err = |e: fantoccini::error::CmdError| e.to_string();

    // Without a session the dashboard sends the browser to the sign-in form.
    client
        .goto(&format!("{base}/dashboard"))
        .await
        .map_err(err)?;
    let at = client.current_url().await.map_err(err)?;
    assert_eq!(at.path(), "/dashboard/login");
    client
        .find(Locator::Css("input#token"))
        .await
        .map_err(err)?
        .send_keys(token)
        .await
        .map_err(err)?;
    client
        .find(Locator::Css("form.signin button[type=submit]"))
        .await
        .map_err(err)?
        .click()
        .await
        .map_err(err)?;

    // Signed in: the charts draw, the URL never held the token, scripts cannot read the cookie.
    client
        .wait()
        .at_most(Duration::from_secs(20))
        .for_element(Locator::Css("svg[data-chart=votes_daily] rect"))
        .await
        .map_err(err)?;
    let at = client.current_url().await.map_err(err)?;
    assert_eq!(at.path(), "/dashboard");
    assert!(!at.as_str().contains(token), "the token in the URL: {at}");
    let cookies = client
        .execute("return document.cookie", vec![])
        .await
        .map_err(err)?;
    assert!(
        !cookies.to_string().contains("rallybot_session"),
        "the session cookie is HttpOnly: {cookies}"
    );
    let charts = client
        .find_all(Locator::Css("svg.chart"))
        .await
        .map_err(err)?;
    assert!(charts.len() >= 3, "{} charts", charts.len());

    // The figures as the browser shows them are the store's.
    let registered: i64 = app
        .store
        .registrations_by_union()
        .await
        .map_err(|e| e.to_string())?
        .iter()
        .map(|(_, n)| n)
        .sum();
    assert_eq!(
        shown_number(client, "[data-stat=registrations]").await,
        registered
    );
    assert_eq!(
        shown_number(client, "[data-stat=votes_total]").await,
        activity.votes
    );
    let pending = app
        .store
        .pending_entries(100)
        .await
        .map_err(|e| e.to_string())?
        .len() as i64;
    assert_eq!(
        shown_number(client, "[data-stat=pending_reviews]").await,
        pending
    );
    let screenshot = client.screenshot().await.map_err(err)?;
    assert!(
        screenshot.starts_with(b"\x89PNG"),
        "the screenshot is not a PNG"
    );
    // README's picture is replaced only when asked, so a test run leaves the tree clean.
    let path = if std::env::var_os("RALLYBOT_UPDATE_SCREENSHOT").is_some() {
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../docs/dashboard.png")
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("dashboard.png")
    };
    std::fs::write(&path, &screenshot).map_err(|e| format!("{}: {e}", path.display()))?;

    // The top list as the browser shows it: the store's first place and score.
    client
        .goto(&format!("{base}/dashboard/tracks"))
        .await
        .map_err(err)?;
    let top = app
        .store
        .top("stories", 1)
        .await
        .map_err(|e| e.to_string())?;
    let first = &top[0].entry;
    let css = format!(
        "table[data-track=stories] tr[data-code={}] td[data-score]",
        first.code
    );
    assert_eq!(shown_number(client, &css).await, first.score);

    // On a phone's width nothing is wider than the screen.
    client.set_window_size(390, 844).await.map_err(err)?;
    for path in [
        "/dashboard",
        "/dashboard/quotas?union=hlj",
        "/dashboard/outbox",
    ] {
        client.goto(&format!("{base}{path}")).await.map_err(err)?;
        let fits = client
            .execute(
                "return document.documentElement.scrollWidth <= window.innerWidth",
                vec![],
            )
            .await
            .map_err(err)?;
        assert_eq!(fits, json!(true), "{path} is wider than a phone");
    }
    Ok(())
}
