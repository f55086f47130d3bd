//! A real `rallybot serve` child process: the built binary with a config file and environment
//! overrides, its output kept in a log file for failure messages, and killed when dropped so a
//! failing test leaves nothing running.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::time::{Duration, Instant};

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
        let mut command = Command::new(env!("CARGO_BIN_EXE_rallybot"));
        command.arg("--config").arg(config).arg("serve");
        for (key, _) in std::env::vars() {
            if key.starts_with("RALLYBOT_") || key == "RUST_LOG" {
                command.env_remove(key);
            }
        }
        let child = command
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
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
}

impl Drop for Serve {
    fn drop(&mut self) {
        // Already reaped processes answer an error here; nothing is left to do for them.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
