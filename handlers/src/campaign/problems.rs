//! Collecting load problems: the `Problem` type `rallybot check` prints, and a per-file sink
//! that turns byte offsets into 1-based line numbers.

use std::ops::Range;
use std::path::{Path, PathBuf};

/// One problem found while loading: where and what.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Problem {
    pub file: PathBuf,
    /// 1-based; 0 when the problem is not tied to a line.
    pub line: usize,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.file.display(), self.message)
        } else {
            write!(f, "{}:{}: {}", self.file.display(), self.line, self.message)
        }
    }
}

/// The problems found in one file, with what is needed to place them.
#[derive(Debug)]
pub(crate) struct FileProblems {
    file: PathBuf,
    /// Byte offset at which each line starts.
    line_starts: Vec<usize>,
    pub(crate) problems: Vec<Problem>,
}

impl FileProblems {
    pub(crate) fn new(file: &Path, text: &str) -> Self {
        let line_starts = std::iter::once(0)
            .chain(text.match_indices('\n').map(|(i, _)| i + 1))
            .collect();
        Self {
            file: file.to_path_buf(),
            line_starts,
            problems: Vec::new(),
        }
    }

    /// The 1-based line holding byte `offset`.
    pub(crate) fn line_of(&self, offset: usize) -> usize {
        self.line_starts
            .partition_point(|&start| start <= offset)
            .max(1)
    }

    /// The line a span starts on; 0 when there is no span.
    pub(crate) fn line_of_span(&self, span: Option<Range<usize>>) -> usize {
        span.map_or(0, |s| self.line_of(s.start))
    }

    pub(crate) fn at_line(&mut self, line: usize, message: impl Into<String>) {
        self.problems.push(Problem {
            file: self.file.clone(),
            line,
            message: message.into(),
        });
    }

    pub(crate) fn at_span(&mut self, span: Option<Range<usize>>, message: impl Into<String>) {
        let line = self.line_of_span(span);
        self.at_line(line, message);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn offsets_map_to_lines() {
        let p = FileProblems::new(Path::new("x.toml"), "a = 1\nb = 2\n\nc = 3");
        assert_eq!(p.line_of(0), 1);
        assert_eq!(p.line_of(5), 1); // the newline itself
        assert_eq!(p.line_of(6), 2);
        assert_eq!(p.line_of(12), 3);
        assert_eq!(p.line_of(13), 4);
        assert_eq!(p.line_of(100), 4);
    }

    #[test]
    fn display_has_file_and_line() {
        let mut p = FileProblems::new(Path::new("c.toml"), "x\ny\n");
        p.at_line(2, "bad");
        p.at_line(0, "missing");
        assert_eq!(p.problems[0].to_string(), "c.toml:2: bad");
        assert_eq!(p.problems[1].to_string(), "c.toml: missing");
    }
}
