//! Loading a campaign TOML and its unions CSV into a validated `Campaign`, reporting every
//! problem at once with file and line.

use std::path::{Path, PathBuf};

use super::campaign_file::read_campaign;
use super::model::Campaign;
use super::problems::FileProblems;
pub use super::problems::Problem;
use super::unions_file::read_unions;

/// All the problems of one load.
#[derive(Debug, thiserror::Error)]
#[error("{} problem(s) in the campaign files", problems.len())]
pub struct LoadError {
    pub problems: Vec<Problem>,
}

/// Loads and validates the campaign at `path` (the unions CSV path inside it is relative to the
/// campaign file's folder).
pub fn load_campaign(path: &Path) -> Result<Campaign, LoadError> {
    let text = match read_text(path) {
        Ok(text) => text,
        Err((line, message)) => {
            return Err(LoadError {
                problems: vec![Problem {
                    file: path.to_path_buf(),
                    line,
                    message,
                }],
            })
        }
    };
    let mut toml_problems = FileProblems::new(path, &text);
    let Some(draft) = read_campaign(&text, &mut toml_problems) else {
        return Err(LoadError {
            problems: toml_problems.problems,
        });
    };

    let mut csv_problems: Option<FileProblems> = None;
    let mut unions = None;
    if let Some(file) = &draft.unions_file {
        let csv_path: PathBuf = path
            .parent()
            .unwrap_or_else(|| Path::new(""))
            .join(&file.value);
        match read_text(&csv_path) {
            Err((0, message)) => {
                toml_problems.at_line(file.line, format!("unions file: {message}"));
            }
            Err((line, message)) => {
                let mut sink = FileProblems::new(&csv_path, "");
                sink.at_line(line, message);
                csv_problems = Some(sink);
            }
            Ok(csv_text) => {
                let mut sink = FileProblems::new(&csv_path, &csv_text);
                let metric_keys: Vec<&str> =
                    draft.metric_keys.iter().map(|m| m.value.as_str()).collect();
                let (list, columns) = read_unions(&csv_text, &metric_keys, &mut sink);
                for key in &draft.metric_keys {
                    if !columns.contains(&key.value) {
                        toml_problems.at_line(
                            key.line,
                            format!(
                                "metric `{}` has no column in the unions file {} (add a `{}` \
                                 column; leave its cells empty for no quotas)",
                                key.value,
                                csv_path.display(),
                                key.value
                            ),
                        );
                    }
                }
                csv_problems = Some(sink);
                unions = Some(list);
            }
        }
    }

    let mut problems = toml_problems.problems;
    problems.sort_by_key(|p| p.line);
    if let Some(sink) = csv_problems {
        let mut csv = sink.problems;
        csv.sort_by_key(|p| p.line);
        problems.extend(csv);
    }
    match unions {
        Some(unions) if problems.is_empty() => Ok(Campaign {
            key: draft.key,
            name: draft.name,
            timezone: draft.timezone,
            stages: draft.stages,
            tracks: draft.tracks,
            deadlines: draft.deadlines,
            metrics: draft.metrics,
            nudges: draft.nudges,
            fair_play: draft.fair_play,
            unions,
        }),
        _ => Err(LoadError { problems }),
    }
}

/// The file as UTF-8 text without a byte-order mark, or the line and reason it cannot be used
/// (line 0 when it cannot be read at all).
fn read_text(path: &Path) -> Result<String, (usize, String)> {
    let bytes =
        std::fs::read(path).map_err(|e| (0, format!("cannot read {}: {e}", path.display())))?;
    let bytes = bytes.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(&bytes);
    match std::str::from_utf8(bytes) {
        Ok(text) => Ok(text.to_string()),
        Err(e) => {
            let line = 1 + bytes[..e.valid_up_to()]
                .iter()
                .filter(|b| **b == b'\n')
                .count();
            Err((
                line,
                "this file is not UTF-8 text: save it as UTF-8 (in Excel: \"CSV UTF-8\")".into(),
            ))
        }
    }
}
