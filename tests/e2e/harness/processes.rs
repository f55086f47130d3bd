//! Real `rallybot serve` processes: what they share (a scratch database and a config file
//! written from the test settings, with the test's simulator as WeCom) and each child process (`Serve`: the built
//! binary with the config file and environment overrides, its output kept in a log file for
//! failure messages, killed when dropped so a failing test leaves nothing running).
//!
//! The binary is this package's `rallybot_under_test` (`bin/rallybot_under_test.rs`), whose
//! `main` is the `rallybot` binary's: Cargo tells a test where binaries of its own package are.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

use rallybot::Settings;
use rallybot_storage::scratch::Scratch;

use super::{config_file, scratch, settings, Backend};

/// The `rallybot` binary, built in this package.
pub const RALLYBOT: &str = env!("CARGO_BIN_EXE_rallybot_under_test");

/// What the `serve` processes of one test share.
pub struct Processes {
    config: PathBuf,
    database: Scratch,
    settings: Settings,
}

impl Processes {
    /// A fresh database on `backend` and a config file for it with `api_base` (the simulator)
    /// as WeCom, written from the test settings as `configure` changes them (it is given a
    /// directory for files of its own). The processes keep real time: no rehearsal clock.
    pub async fn new(
        backend: Backend,
        api_base: &str,
        configure: impl FnOnce(&mut Settings, &Path),
    ) -> Processes {
        let database = scratch(backend).await;
        let mut settings = settings(database.url(), api_base);
        settings.clock.rehearsal = false;
        settings.log.level = "info".into();
        configure(&mut settings, database.dir());
        let config = database.dir().join("rallybot.toml");
        std::fs::write(&config, config_file(&settings)).expect("write the config");
        Processes {
            config,
            database,
            settings,
        }
    }

    /// The settings the config file holds.
    pub fn settings(&self) -> &Settings {
        &self.settings
    }

    /// The database the processes share.
    pub fn url(&self) -> &str {
        self.database.url()
    }

    /// Starts `rallybot --config … serve` named `name` with `env` on top of the config file.
    pub fn serve(&self, name: &str, env: &[(String, String)]) -> Serve {
        Serve::start(name, &self.config, env, self.database.dir())
    }

    /// Drops the database; the processes must be gone by then.
    pub async fn finish(self) {
        self.database
            .remove()
            .await
            .expect("drop the test database");
    }
}

#[derive(Debug)]
pub struct Serve {
    name: String,
    child: Child,
    log: PathBuf,
}

impl Serve {
    /// Starts `rallybot --config <config> serve` with `env` on top of a clean environment (no
    /// `RALLYBOT_*` or `RUST_LOG` from the test's own), logging to `<dir>/<name>.log`.
    pub fn start(name: &str, config: &Path, env: &[(String, String)], dir: &Path) -> Serve {
        let log = dir.join(format!("{name}.log"));
        let out = File::create(&log).expect("create the log file");
        let err = out.try_clone().expect("share the log file");
        let mut command = Command::new(RALLYBOT);
        command.arg("--config").arg(config).arg("serve");
        for (key, _) in std::env::vars() {
            if key.starts_with("RALLYBOT_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let child = command
            .envs(env.iter().map(|(k, v)| (k, v)))
            // A pipe nobody writes to, as `rallybot rehearse` gives its processes: it ends when
            // the test does, or at `close_stdin`.
            .stdin(Stdio::piped())
            .stdout(out)
            .stderr(err)
            .spawn()
            .expect("rallybot serve starts");
        Serve {
            name: name.to_owned(),
            child,
            log,
        }
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// SIGKILL (what `Child::kill` sends on Unix): no shutdown, no flush, as in a crash or an
    /// OOM kill. Returns once the process is gone.
    pub fn kill9(&mut self) {
        self.child.kill().expect("SIGKILL the serve process");
        self.child.wait().expect("reap the serve process");
    }

    /// Closes the process's stdin, as the end of the process that started it would.
    pub fn close_stdin(&mut self) {
        drop(self.child.stdin.take());
    }

    /// Panics with the process's log if it has exited on its own.
    pub fn assert_running(&mut self) {
        if let Ok(Some(status)) = self.child.try_wait() {
            panic!(
                "{} exited on its own ({status}); its log:\n{}",
                self.name,
                self.log_text()
            );
        }
    }

    /// Waits up to `limit` for `text` in the log; false if it did not come.
    pub fn wait_for_log(&mut self, text: &str, limit: Duration) -> bool {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if self.log_text().contains(text) {
                return true;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        false
    }

    /// Waits up to `limit` for the process to exit on its own.
    pub fn wait_for_exit(&mut self, limit: Duration) -> Option<ExitStatus> {
        let deadline = Instant::now() + limit;
        while Instant::now() < deadline {
            if let Ok(Some(status)) = self.child.try_wait() {
                return Some(status);
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        None
    }

    pub fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Waits until the process serves and returns its base URL (`http://127.0.0.1:<port>`,
    /// from the `serving` log line, since the config asks for port 0).
    pub fn base_url(&mut self, limit: Duration) -> String {
        assert!(
            self.wait_for_log("serving", limit),
            "{} did not start serving:\n{}",
            self.name,
            self.log_text()
        );
        let log = self.log_text();
        let addr = log
            .lines()
            .filter(|line| line.contains("serving"))
            .find_map(|line| {
                let from = line.find("addr=")? + "addr=".len();
                let rest = &line[from..];
                Some(rest.split_whitespace().next()?.trim_matches('"').to_owned())
            })
            .unwrap_or_else(|| panic!("no address in the serving line of {}:\n{log}", self.name));
        format!("http://{addr}")
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Already reaped processes answer an error here; nothing is left to do for them.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The binary under test is the `rallybot` binary: the same `main`, allocator included.
#[test]
fn the_binary_under_test_is_rallybot() {
    let code = |path: &str| {
        let text = std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join(path))
            .expect("read a main.rs");
        // The file's own header says which binary it is; the rest must be the same.
        text.lines()
            .filter(|line| !line.starts_with("//!"))
            .collect::<Vec<_>>()
            .join("\n")
    };
    assert_eq!(
        code("bin/rallybot_under_test.rs"),
        code("../bot/src/main.rs")
    );
}
