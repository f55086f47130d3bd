//! The Python peer (`--mode python`): PyPI's `wecom_bot_svr` (Flask + WXBizMsgCrypt) answering
//! group-robot callbacks with a fixed text under gunicorn with gevent and 3 workers — the route
//! most WeCom bots take. The bench installs it into a venv of its own the first time.

use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::Context as _;

use super::Ready;

/// The peer's application module, written next to the venv.
const APP: &str = include_str!("python_peer.py");
/// What the bench installs, pinned so runs stay comparable.
/// (gunicorn's gevent worker imports `packaging` without declaring it.)
const PACKAGES: [&str; 4] = [
    "wecom_bot_svr==0.3.4",
    "gunicorn==27.0.1",
    "gevent==26.9.0",
    "packaging==26.4",
];
/// gunicorn workers, as the usual deployment of such a bot on a 2-core machine runs it.
const WORKERS: &str = "3";

/// Where the venv lives: `$XDG_CACHE_HOME/rallybot/bench-python` (or under `~/.cache`).
fn venv_dir() -> PathBuf {
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|home| PathBuf::from(home).join(".cache")))
        .unwrap_or_else(std::env::temp_dir);
    cache.join("rallybot").join("bench-python")
}

/// Creates the venv and installs the peer unless that was done before.
fn ensure_venv(dir: &Path) -> anyhow::Result<()> {
    let python = dir.join("bin").join("python");
    let installed = python.exists()
        && Command::new(&python)
            .args(["-c", "import wecom_bot_svr, gunicorn, gevent, packaging"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .is_ok_and(|s| s.success());
    if !installed {
        eprintln!(
            "installing the Python peer ({}) into {}",
            PACKAGES.join(", "),
            dir.display()
        );
        let created = Command::new("python3")
            .args(["-m", "venv"])
            .arg(dir)
            .status()
            .context("running python3 -m venv (is Python 3 installed?)")?;
        anyhow::ensure!(created.success(), "python3 -m venv failed ({created})");
        let pip = Command::new(dir.join("bin").join("pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(PACKAGES)
            .status()
            .context("running pip")?;
        anyhow::ensure!(
            pip.success(),
            "pip could not install the Python peer ({pip})"
        );
    }
    std::fs::write(dir.join("python_peer.py"), APP).context("writing the peer's module")?;
    Ok(())
}

/// Starts gunicorn with the peer on a free port of 127.0.0.1 and waits until it accepts
/// connections. `reply` is the fixed text it answers.
pub fn start(reply: &str) -> anyhow::Result<(Child, Ready)> {
    let dir = venv_dir();
    ensure_venv(&dir)?;
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .context("finding a free port")?
        .port();
    let token = crate::devtools::local::random_alnum(16);
    let encoding_aes_key = crate::devtools::local::random_alnum(43);
    let mut child = Command::new(dir.join("bin").join("gunicorn"))
        .args(["--worker-class", "gevent", "--workers", WORKERS])
        .args(["--bind", &format!("127.0.0.1:{port}")])
        .args(["--log-level", "warning", "--chdir"])
        .arg(&dir)
        .arg("python_peer:app")
        .env("WX_BOT_TOKEN", &token)
        .env("WX_BOT_AES_KEY", &encoding_aes_key)
        .env("RALLYBOT_PEER_REPLY", reply)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::inherit())
        .spawn()
        .context("starting gunicorn")?;
    let deadline = Instant::now() + Duration::from_secs(30);
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        if let Ok(Some(status)) = child.try_wait() {
            anyhow::bail!("gunicorn ended at start ({status}); its errors are above");
        }
        anyhow::ensure!(
            Instant::now() < deadline,
            "gunicorn did not listen on 127.0.0.1:{port} within 30 s"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // Every worker imports the app after the port opens; give them a moment.
    std::thread::sleep(Duration::from_secs(2));
    Ok((
        child,
        Ready {
            base_url: format!("http://127.0.0.1:{port}"),
            corp_id: String::new(),
            agent_id: 0,
            token: String::new(),
            encoding_aes_key: String::new(),
            robot_token: token,
            robot_encoding_aes_key: encoding_aes_key,
        },
    ))
}
