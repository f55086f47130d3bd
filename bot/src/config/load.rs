//! Reading the settings: the file (or the defaults), then the `RALLYBOT_*__*` environment on top,
//! remembering where each value came from so that problems can say `file:line`.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{Settings, CONFIG_ENV, DEFAULT_CONFIG_FILE, ENV_PREFIX};

/// Where a key's value came from, so problems can say `file:line`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Origin {
    /// The built-in default.
    Default,
    /// A line (1-based) of the config file.
    File { path: PathBuf, line: usize },
    /// An environment variable.
    Env { var: String },
}

/// One thing wrong with the configuration, printed as `file:line: message`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigProblem {
    pub origin: Origin,
    pub message: String,
}

impl fmt::Display for ConfigProblem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match &self.origin {
            Origin::Default => write!(f, "<defaults>:0: {}", self.message),
            Origin::File { path, line } => {
                write!(f, "{}:{}: {}", path.display(), line, self.message)
            }
            Origin::Env { var } => write!(f, "<env {var}>:0: {}", self.message),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read config file {path}: {source}")]
    Read {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{}", .problems.iter().map(ToString::to_string).collect::<Vec<_>>().join("\n"))]
    Invalid { problems: Vec<ConfigProblem> },
}

/// Settings plus what is needed to say where each value came from.
#[derive(Debug, Clone)]
pub struct Loaded {
    pub settings: Settings,
    /// The config file that was read, if any.
    pub file: Option<PathBuf>,
    source: String,
    env_keys: BTreeMap<String, String>,
}

impl Loaded {
    /// Where the value at `key` (dotted, array items by index: `wecom.groups.0.webhook_key`)
    /// came from.
    pub fn origin(&self, key: &str) -> Origin {
        if let Some(var) = self.env_keys.get(key) {
            return Origin::Env { var: var.clone() };
        }
        // A key inside an array item overridden as a whole by the environment.
        for (overridden, var) in &self.env_keys {
            if key.starts_with(&format!("{overridden}.")) {
                return Origin::Env { var: var.clone() };
            }
        }
        match &self.file {
            Some(path) => match locate_key(&self.source, key) {
                Some(line) => Origin::File {
                    path: path.clone(),
                    line,
                },
                None => Origin::Default,
            },
            None => Origin::Default,
        }
    }

    pub(super) fn problem(&self, key: &str, message: impl Into<String>) -> ConfigProblem {
        ConfigProblem {
            origin: self.origin(key),
            message: message.into(),
        }
    }
}

impl Settings {
    /// Loads the settings: `path` if given, else `$RALLYBOT_CONFIG`, else `rallybot.toml` if
    /// it exists, else the defaults; then the `RALLYBOT_*__*` variables of `env` on top.
    pub fn load(
        path: Option<&Path>,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let env: Vec<(String, String)> = env.into_iter().collect();
        let from_env = env
            .iter()
            .find(|(k, _)| k == CONFIG_ENV)
            .map(|(_, v)| PathBuf::from(v));
        let (file, explicit) = match (path, from_env) {
            (Some(p), _) => (Some(p.to_path_buf()), true),
            (None, Some(p)) => (Some(p), true),
            (None, None) => (Some(PathBuf::from(DEFAULT_CONFIG_FILE)), false),
        };
        let (file, source) = match file {
            Some(p) => match std::fs::read_to_string(&p) {
                Ok(text) => (Some(p), text),
                // Only the implicit default file may be absent: a named file must exist.
                Err(e) if !explicit && e.kind() == std::io::ErrorKind::NotFound => {
                    (None, String::new())
                }
                Err(source) => return Err(ConfigError::Read { path: p, source }),
            },
            None => (None, String::new()),
        };
        Self::from_source(file, source, env)
    }

    /// Parses `source` (the text of `file`) and applies the environment overrides.
    pub fn from_source(
        file: Option<PathBuf>,
        source: String,
        env: impl IntoIterator<Item = (String, String)>,
    ) -> Result<Loaded, ConfigError> {
        let at_line = |line: usize| match &file {
            Some(path) => Origin::File {
                path: path.clone(),
                line,
            },
            None => Origin::Default,
        };
        // First the file alone, straight from its text, so errors carry a span.
        if let Err(e) = toml::from_str::<Settings>(&source) {
            let line = e
                .span()
                .map(|span| line_of_offset(&source, span.start))
                .unwrap_or(0);
            return Err(ConfigError::Invalid {
                problems: vec![ConfigProblem {
                    origin: at_line(line),
                    message: one_line(e.message()),
                }],
            });
        }
        let mut tree: toml::Table = source.parse().unwrap_or_default();
        let schema = toml::Table::try_from(Settings::default()).unwrap_or_default();
        let mut env_keys = BTreeMap::new();
        let mut problems = Vec::new();
        let mut env: Vec<(String, String)> = env.into_iter().collect();
        env.sort();
        for (var, raw) in env {
            let Some(rest) = var.strip_prefix(ENV_PREFIX) else {
                continue;
            };
            if !rest.contains("__") {
                continue; // RALLYBOT_CONFIG, RALLYBOT_TEST_DATABASE_URL, …
            }
            let origin = Origin::Env { var: var.clone() };
            let path: Vec<String> = rest.split("__").map(|p| p.to_ascii_lowercase()).collect();
            if path.iter().any(String::is_empty) {
                problems.push(ConfigProblem {
                    origin,
                    message: "malformed variable name".into(),
                });
                continue;
            }
            let value = env_value(&schema, &path, &raw);
            let mut candidate = tree.clone();
            if let Err(message) = set_path(&mut candidate, &path, value) {
                problems.push(ConfigProblem { origin, message });
                continue;
            }
            // Each variable is checked on its own so a problem names the variable.
            match toml::Value::Table(candidate.clone()).try_into::<Settings>() {
                Ok(_) => {
                    tree = candidate;
                    env_keys.insert(path.join("."), var);
                }
                Err(e) => problems.push(ConfigProblem {
                    origin,
                    message: one_line(e.message()),
                }),
            }
        }
        if !problems.is_empty() {
            return Err(ConfigError::Invalid { problems });
        }
        let settings: Settings =
            toml::Value::Table(tree)
                .try_into()
                .map_err(|e: toml::de::Error| ConfigError::Invalid {
                    problems: vec![ConfigProblem {
                        origin: at_line(0),
                        message: one_line(e.message()),
                    }],
                })?;
        Ok(Loaded {
            settings,
            file,
            source,
            env_keys,
        })
    }
}

fn one_line(message: &str) -> String {
    message.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Turns an environment value into a TOML value, guided by the type of the default value at
/// the same path (so `RALLYBOT_WECOM__APP__TOKEN=123` stays a string).
fn env_value(schema: &toml::Table, path: &[String], raw: &str) -> toml::Value {
    let mut node: Option<&toml::Value> = None;
    let mut table = Some(schema);
    for key in path {
        node = table.and_then(|t| t.get(key));
        table = node.and_then(toml::Value::as_table);
    }
    let parsed = || {
        format!("v = {raw}")
            .parse::<toml::Table>()
            .ok()
            .and_then(|mut t| t.remove("v"))
    };
    match node {
        Some(toml::Value::String(_)) => toml::Value::String(raw.to_string()),
        Some(toml::Value::Integer(_)) | Some(toml::Value::Boolean(_)) => {
            parsed().unwrap_or_else(|| toml::Value::String(raw.to_string()))
        }
        Some(toml::Value::Array(_)) => match parsed() {
            Some(v @ toml::Value::Array(_)) => v,
            // `a,b,c` for a list of strings.
            _ => toml::Value::Array(
                raw.split(',')
                    .map(str::trim)
                    .filter(|s| !s.is_empty())
                    .map(|s| toml::Value::String(s.to_string()))
                    .collect(),
            ),
        },
        _ => parsed().unwrap_or_else(|| toml::Value::String(raw.to_string())),
    }
}

fn set_path(tree: &mut toml::Table, path: &[String], value: toml::Value) -> Result<(), String> {
    let Some((last, parents)) = path.split_last() else {
        return Err("empty key".into());
    };
    let mut table = tree;
    for key in parents {
        let entry = table
            .entry(key.clone())
            .or_insert_with(|| toml::Value::Table(toml::Table::new()));
        table = match entry {
            toml::Value::Table(t) => t,
            _ => return Err(format!("`{key}` is not a section")),
        };
    }
    table.insert(last.clone(), value);
    Ok(())
}

fn line_of_offset(source: &str, offset: usize) -> usize {
    source
        .get(..offset.min(source.len()))
        .map_or(0, |s| s.matches('\n').count() + 1)
}

/// The table header a line opens, e.g. `[wecom.app]` → (`wecom.app`, false),
/// `[[wecom.groups]]` → (`wecom.groups`, true).
fn header_of(line: &str) -> Option<(String, bool)> {
    let line = line.split('#').next().unwrap_or("").trim();
    if let Some(inner) = line.strip_prefix("[[").and_then(|l| l.strip_suffix("]]")) {
        return Some((normalise_path(inner), true));
    }
    line.strip_prefix('[')
        .and_then(|l| l.strip_suffix(']'))
        .map(|inner| (normalise_path(inner), false))
}

fn normalise_path(path: &str) -> String {
    path.split('.')
        .map(|p| p.trim().trim_matches('"'))
        .collect::<Vec<_>>()
        .join(".")
}

/// The key a `key = value` line sets.
fn key_of(line: &str) -> Option<String> {
    let trimmed = line.trim_start();
    if trimmed.starts_with('#') || trimmed.starts_with('[') {
        return None;
    }
    let (key, _) = trimmed.split_once('=')?;
    Some(normalise_path(key))
}

/// The 1-based line that sets `key` (dotted; array-of-table items by index), if any.
fn locate_key(source: &str, key: &str) -> Option<usize> {
    let mut section = String::new();
    let mut counts: BTreeMap<String, usize> = BTreeMap::new();
    let mut section_line = None;
    for (i, line) in source.lines().enumerate() {
        if let Some((name, is_array)) = header_of(line) {
            section = if is_array {
                let n = counts.entry(name.clone()).or_insert(0);
                let current = format!("{name}.{n}");
                *n += 1;
                current
            } else {
                name
            };
            if section == key {
                section_line = Some(i + 1);
            }
            continue;
        }
        if let Some(k) = key_of(line) {
            let full = if section.is_empty() {
                k
            } else {
                format!("{section}.{k}")
            };
            if full == key {
                return Some(i + 1);
            }
        }
    }
    // A key left at its default: point at its section, or the section above.
    section_line.or_else(|| {
        key.rsplit_once('.')
            .and_then(|(parent, _)| locate_key(source, parent))
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::{CallbackCredentials, PushSettings, Secret};

    fn env(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    }

    fn example_path() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../deploy/rallybot.example.toml")
    }

    #[test]
    fn the_example_config_parses_and_sets_every_section() {
        let loaded = Settings::load(Some(&example_path()), Vec::new()).unwrap();
        let s = &loaded.settings;
        assert_eq!(s.server.listen.port(), 8080);
        assert_eq!(s.wecom.app.agent_id, 1000002);
        assert!(s.wecom.app.enabled());
        assert_eq!(s.wecom.app.encoding_aes_key.expose().len(), 43);
        assert!(!s.wecom.groups.is_empty());
        assert_eq!(s.wecom.groups[0].union, "hrb");
        assert_eq!(
            s.campaign.file,
            PathBuf::from("deploy/campaigns/longjiang-2022.toml")
        );
        assert!(!s.roles.organizers.is_empty());
        assert!(!s.clock.rehearsal);
        // The example documents the defaults; it must not drift from them.
        assert_eq!(s.push, PushSettings::default());
        assert_eq!(
            s.server,
            crate::config::ServerSettings {
                listen: s.server.listen,
                public_url: s.server.public_url.clone(),
                ..Default::default()
            }
        );
        assert!(loaded.origin("server.header_timeout") != Origin::Default);
        assert!(loaded.origin("push.claim_ttl") != Origin::Default);
    }

    #[test]
    fn absent_default_file_gives_defaults() {
        let loaded = Settings::from_source(None, String::new(), Vec::new()).unwrap();
        assert_eq!(loaded.settings.storage.url, "sqlite://rallybot.db");
        assert_eq!(loaded.settings.server.reply_deadline_ms, 4000);
        assert!(!loaded.settings.wecom.app.enabled());
    }

    #[test]
    fn a_named_file_that_does_not_exist_is_an_error() {
        let err = Settings::load(Some(Path::new("/nonexistent/rallybot.toml")), Vec::new());
        assert!(matches!(err, Err(ConfigError::Read { .. })));
    }

    #[test]
    fn environment_overrides_nested_keys_with_the_right_types() {
        let loaded = Settings::load(
            Some(&example_path()),
            env(&[
                ("RALLYBOT_WECOM__APP__SECRET", "s3cret"),
                ("RALLYBOT_WECOM__APP__TOKEN", "12345"),
                ("RALLYBOT_WECOM__APP__AGENT_ID", "42"),
                ("RALLYBOT_CLOCK__REHEARSAL", "true"),
                ("RALLYBOT_ROLES__ORGANIZERS", "alice, bob"),
                ("RALLYBOT_SERVER__LISTEN", "0.0.0.0:9000"),
                ("RALLYBOT_TEST_DATABASE_URL", "postgres://ignored"),
            ]),
        )
        .unwrap();
        let s = &loaded.settings;
        assert_eq!(s.wecom.app.secret.expose(), "s3cret");
        assert_eq!(s.wecom.app.token.expose(), "12345");
        assert_eq!(s.wecom.app.agent_id, 42);
        assert!(s.clock.rehearsal);
        assert_eq!(s.roles.organizers, vec!["alice", "bob"]);
        assert_eq!(s.server.listen.port(), 9000);
        assert_eq!(
            loaded.origin("wecom.app.secret"),
            Origin::Env {
                var: "RALLYBOT_WECOM__APP__SECRET".into()
            }
        );
    }

    #[test]
    fn config_env_names_the_file() {
        let path = example_path();
        let loaded = Settings::load(
            None,
            env(&[(CONFIG_ENV, path.to_str().unwrap_or_default())]),
        )
        .unwrap();
        assert_eq!(loaded.file.as_deref(), Some(path.as_path()));
    }

    #[test]
    fn secrets_never_print() {
        let loaded = Settings::from_source(
            None,
            String::new(),
            env(&[
                ("RALLYBOT_WECOM__APP__SECRET", "topsecretvalue"),
                ("RALLYBOT_PRIVACY__PEPPER", "pepper-value"),
            ]),
        )
        .unwrap();
        let debug = format!("{:?}", loaded.settings);
        assert!(!debug.contains("topsecretvalue"), "{debug}");
        assert!(!debug.contains("pepper-value"));
        let shown = toml::to_string(&loaded.settings).unwrap();
        assert!(!shown.contains("topsecretvalue"));
        assert_eq!(format!("{}", Secret::new("x")), "***");
    }

    #[test]
    fn unknown_keys_are_reported_with_their_line() {
        let source = "[server]\nlisten = \"127.0.0.1:1\"\n\n[wecom]\ncorp_idd = \"x\"\n";
        let err =
            Settings::from_source(Some("c.toml".into()), source.into(), Vec::new()).unwrap_err();
        let ConfigError::Invalid { problems } = err else {
            panic!("expected problems");
        };
        let text = problems[0].to_string();
        assert!(text.starts_with("c.toml:5: "), "{text}");
        assert!(text.contains("corp_idd"), "{text}");
    }

    #[test]
    fn syntax_errors_carry_the_line() {
        let source = "[server]\nlisten = \n";
        let err =
            Settings::from_source(Some("c.toml".into()), source.into(), Vec::new()).unwrap_err();
        let ConfigError::Invalid { problems } = err else {
            panic!("expected problems");
        };
        assert!(
            problems[0].to_string().starts_with("c.toml:2: "),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn a_bad_env_value_names_the_variable() {
        let err = Settings::from_source(
            None,
            String::new(),
            env(&[("RALLYBOT_WECOM__APP__AGENT_ID", "many")]),
        )
        .unwrap_err();
        let ConfigError::Invalid { problems } = err else {
            panic!("expected problems");
        };
        assert!(
            problems[0]
                .to_string()
                .starts_with("<env RALLYBOT_WECOM__APP__AGENT_ID>"),
            "{}",
            problems[0]
        );
    }

    #[test]
    fn push_settings_come_from_the_file_and_the_environment() {
        let source = "[push]\nlease_ttl = \"10s\"\nbatch = 50\n";
        let loaded = Settings::from_source(
            Some("c.toml".into()),
            source.into(),
            env(&[
                ("RALLYBOT_PUSH__CLAIM_TTL", "1m30s"),
                ("RALLYBOT_PUSH__CONCURRENCY", "3"),
            ]),
        )
        .unwrap();
        let push = &loaded.settings.push;
        assert_eq!(push.lease_ttl.get(), chrono::Duration::seconds(10));
        assert_eq!(push.batch.get(), 50);
        assert_eq!(push.claim_ttl.get(), chrono::Duration::seconds(90));
        assert_eq!(push.concurrency.get(), 3);
        // Untouched keys keep their defaults.
        assert_eq!(push.idle_poll, PushSettings::default().idle_poll);
        assert_eq!(
            loaded.origin("push.claim_ttl"),
            Origin::Env {
                var: "RALLYBOT_PUSH__CLAIM_TTL".into()
            }
        );
        assert!(loaded
            .problems()
            .iter()
            .all(|p| !p.message.contains("push.")));
        let config = crate::background::push::SenderConfig::from_settings(push, "host-1");
        assert_eq!(config.claim_ttl, chrono::Duration::seconds(90));
        assert_eq!(config.concurrency, 3);
    }

    #[test]
    fn bad_push_values_in_the_file_carry_their_line() {
        for (source, line, needle) in [
            (
                "[push]\nbatch = 10\nconcurrency = 0\n",
                3,
                "push.concurrency must be at least 1",
            ),
            ("[push]\nbatch = 0\n", 2, "push.batch must be at least 1"),
            ("[push]\nclaim_ttl = \"5 minutes\"\n", 2, "not a duration"),
            ("[push]\n\nidle_poll = \"0s\"\n", 3, "longer than zero"),
            ("[push]\nlease_ttl = 30\n", 2, "string"),
        ] {
            let err = Settings::from_source(Some("c.toml".into()), source.into(), Vec::new())
                .unwrap_err();
            let ConfigError::Invalid { problems } = err else {
                panic!("expected problems for {source:?}");
            };
            let text = problems[0].to_string();
            assert!(text.starts_with(&format!("c.toml:{line}: ")), "{text}");
            assert!(text.contains(needle), "{text}");
        }
    }

    #[test]
    fn bad_push_values_in_the_environment_name_their_variable() {
        let err = Settings::from_source(
            None,
            String::new(),
            env(&[
                ("RALLYBOT_PUSH__CONCURRENCY", "0"),
                ("RALLYBOT_PUSH__LEASE_TTL", "-30s"),
            ]),
        )
        .unwrap_err();
        let ConfigError::Invalid { problems } = err else {
            panic!("expected problems");
        };
        let texts: Vec<String> = problems.iter().map(ToString::to_string).collect();
        assert_eq!(texts.len(), 2, "{texts:#?}");
        assert!(texts
            .iter()
            .any(|t| t.starts_with("<env RALLYBOT_PUSH__CONCURRENCY>")
                && t.contains("push.concurrency must be at least 1")));
        assert!(texts
            .iter()
            .any(|t| t.starts_with("<env RALLYBOT_PUSH__LEASE_TTL>")
                && t.contains("longer than zero")));
    }
}
