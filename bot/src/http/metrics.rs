//! Request metrics in the Prometheus text format: callbacks by surface and outcome, a latency
//! histogram per surface, and commands by name. Hand-rolled: a few counters need no framework.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::sync::Mutex;
use std::time::Duration;

use crate::background::Loops;

/// Upper bounds (seconds) of the latency histogram buckets.
const BUCKETS: [f64; 12] = [
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0,
];

#[derive(Debug, Default, Clone)]
struct Histogram {
    /// Per bucket, not cumulative; the last slot is `+Inf`.
    counts: [u64; BUCKETS.len() + 1],
    sum: f64,
    count: u64,
}

impl Histogram {
    fn observe(&mut self, seconds: f64) {
        let slot = BUCKETS
            .iter()
            .position(|bound| seconds <= *bound)
            .unwrap_or(BUCKETS.len());
        self.counts[slot] += 1;
        self.sum += seconds;
        self.count += 1;
    }
}

#[derive(Debug, Default)]
struct Inner {
    callbacks: BTreeMap<(&'static str, &'static str), u64>,
    latency: BTreeMap<&'static str, Histogram>,
    commands: BTreeMap<&'static str, u64>,
    connections_open: u64,
    connections_closed: BTreeMap<&'static str, u64>,
    aibot_ws_states: BTreeMap<&'static str, u64>,
    aibot_ws_connected: bool,
}

/// The bot's metrics; cheap to update from every request.
#[derive(Debug, Default)]
pub struct Metrics {
    inner: Mutex<Inner>,
}

impl Metrics {
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        // A poisoned lock only means a panic mid-increment; the numbers are still usable.
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// One callback answered: its surface, outcome label and how long it took.
    pub fn callback(&self, surface: &'static str, outcome: &'static str, latency: Duration) {
        let mut inner = self.lock();
        *inner.callbacks.entry((surface, outcome)).or_insert(0) += 1;
        inner
            .latency
            .entry(surface)
            .or_default()
            .observe(latency.as_secs_f64());
    }

    /// One command handled, by its name (`帮助`, `投票`, …).
    pub fn command(&self, name: &'static str) {
        *self.lock().commands.entry(name).or_insert(0) += 1;
    }

    /// A client connection was taken on.
    pub fn connection_opened(&self) {
        self.lock().connections_open += 1;
    }

    /// A client connection ended.
    pub fn connection_ended(&self) {
        let mut inner = self.lock();
        inner.connections_open = inner.connections_open.saturating_sub(1);
    }

    /// The server closed (or refused) a connection for `reason`: `idle_timeout`,
    /// `header_timeout`, `body_timeout`, `evicted` (to make room), `refused` (no room).
    pub fn connection_closed(&self, reason: &'static str) {
        *self.lock().connections_closed.entry(reason).or_insert(0) += 1;
    }

    /// The AI bot's long connection changed state (`connecting`, `signed_in`, `refused`,
    /// `lost`, `replaced`, `released`, `standby`); `connected` is whether it is signed in now.
    pub fn aibot_ws_state(&self, state: &'static str, connected: bool) {
        let mut inner = self.lock();
        *inner.aibot_ws_states.entry(state).or_insert(0) += 1;
        inner.aibot_ws_connected = connected;
    }

    /// How many times the long connection entered `state`.
    pub fn aibot_ws_entered(&self, state: &str) -> u64 {
        self.lock()
            .aibot_ws_states
            .iter()
            .filter(|(s, _)| **s == state)
            .map(|(_, n)| *n)
            .sum()
    }

    /// How many callbacks of `surface` ended with `outcome` (for tests and the console).
    pub fn callbacks(&self, surface: &str, outcome: &str) -> u64 {
        self.lock()
            .callbacks
            .iter()
            .filter(|((s, o), _)| *s == surface && *o == outcome)
            .map(|(_, n)| *n)
            .sum()
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let inner = self.lock();
        let mut out = String::new();
        out.push_str(
            "# HELP rallybot_callbacks_total WeCom callbacks answered, by surface and outcome.\n",
        );
        out.push_str("# TYPE rallybot_callbacks_total counter\n");
        for ((surface, outcome), n) in &inner.callbacks {
            let _ = writeln!(
                out,
                "rallybot_callbacks_total{{surface=\"{surface}\",outcome=\"{}\"}} {n}",
                escape(outcome)
            );
        }
        out.push_str("# HELP rallybot_callback_latency_seconds Time to answer a WeCom callback.\n");
        out.push_str("# TYPE rallybot_callback_latency_seconds histogram\n");
        for (surface, h) in &inner.latency {
            let mut cumulative = 0;
            for (i, bound) in BUCKETS.iter().enumerate() {
                cumulative += h.counts[i];
                let _ = writeln!(
                    out,
                    "rallybot_callback_latency_seconds_bucket{{surface=\"{surface}\",le=\"{bound}\"}} {cumulative}"
                );
            }
            let _ = writeln!(
                out,
                "rallybot_callback_latency_seconds_bucket{{surface=\"{surface}\",le=\"+Inf\"}} {}",
                h.count
            );
            let _ = writeln!(
                out,
                "rallybot_callback_latency_seconds_sum{{surface=\"{surface}\"}} {}",
                h.sum
            );
            let _ = writeln!(
                out,
                "rallybot_callback_latency_seconds_count{{surface=\"{surface}\"}} {}",
                h.count
            );
        }
        out.push_str("# HELP rallybot_commands_total Commands handled, by name.\n");
        out.push_str("# TYPE rallybot_commands_total counter\n");
        for (command, n) in &inner.commands {
            let _ = writeln!(
                out,
                "rallybot_commands_total{{command=\"{}\"}} {n}",
                escape(command)
            );
        }
        out.push_str("# HELP rallybot_http_connections Client connections open now.\n");
        out.push_str("# TYPE rallybot_http_connections gauge\n");
        let _ = writeln!(out, "rallybot_http_connections {}", inner.connections_open);
        out.push_str(
            "# HELP rallybot_http_connections_closed_total Connections the server closed or refused, by reason.\n",
        );
        out.push_str("# TYPE rallybot_http_connections_closed_total counter\n");
        for (reason, n) in &inner.connections_closed {
            let _ = writeln!(
                out,
                "rallybot_http_connections_closed_total{{reason=\"{reason}\"}} {n}"
            );
        }
        if !inner.aibot_ws_states.is_empty() {
            out.push_str("# HELP rallybot_aibot_ws_state_changes_total The AI bot's long connection entering each state.\n");
            out.push_str("# TYPE rallybot_aibot_ws_state_changes_total counter\n");
            for (state, n) in &inner.aibot_ws_states {
                let _ = writeln!(
                    out,
                    "rallybot_aibot_ws_state_changes_total{{state=\"{state}\"}} {n}"
                );
            }
            out.push_str("# HELP rallybot_aibot_ws_connected Whether this instance holds the AI bot's long connection, signed in.\n");
            out.push_str("# TYPE rallybot_aibot_ws_connected gauge\n");
            let _ = writeln!(
                out,
                "rallybot_aibot_ws_connected {}",
                u8::from(inner.aibot_ws_connected)
            );
        }
        out
    }
}

/// The background loops: restarts after a panic, and whether each is up now.
pub fn render_loops(loops: &Loops) -> String {
    let now = tokio::time::Instant::now();
    let mut out = String::new();
    out.push_str(
        "# HELP rallybot_background_restarts_total Background loops restarted after a panic, by loop.\n",
    );
    out.push_str("# TYPE rallybot_background_restarts_total counter\n");
    for status in loops.all() {
        let _ = writeln!(
            out,
            "rallybot_background_restarts_total{{loop=\"{}\"}} {}",
            status.name(),
            status.restarts()
        );
    }
    out.push_str(
        "# HELP rallybot_background_up Whether a background loop is running and finishing ticks.\n",
    );
    out.push_str("# TYPE rallybot_background_up gauge\n");
    for status in loops.all() {
        let up = u8::from(status.problem(now).is_none());
        let _ = writeln!(
            out,
            "rallybot_background_up{{loop=\"{}\"}} {up}",
            status.name()
        );
    }
    out
}

/// Label values are escaped as the exposition format requires.
fn escape(value: &str) -> String {
    value
        .replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_counters_and_cumulative_buckets() {
        let m = Metrics::new();
        m.callback("app", "replied", Duration::from_millis(2));
        m.callback("app", "replied", Duration::from_millis(30));
        m.callback("robot", "bad_signature", Duration::from_micros(100));
        m.command("帮助");
        let text = m.render();
        assert!(text.contains("rallybot_callbacks_total{surface=\"app\",outcome=\"replied\"} 2"));
        assert!(text
            .contains("rallybot_callbacks_total{surface=\"robot\",outcome=\"bad_signature\"} 1"));
        assert!(text
            .contains("rallybot_callback_latency_seconds_bucket{surface=\"app\",le=\"0.0025\"} 1"));
        assert!(text
            .contains("rallybot_callback_latency_seconds_bucket{surface=\"app\",le=\"0.05\"} 2"));
        assert!(text.contains("rallybot_callback_latency_seconds_count{surface=\"app\"} 2"));
        assert!(text.contains("rallybot_commands_total{command=\"帮助\"} 1"));
        assert_eq!(m.callbacks("app", "replied"), 2);
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
    }
}
