//! Typed access to the tables of a parsed campaign TOML that reports a wrong or missing value as
//! a problem on its line and carries on, so one `check` run shows every mistake.

use std::ops::Range;

use toml_edit::{Item, TableLike, Value};

use super::problems::FileProblems;
use super::values::{parse_when, When};

/// A value and the 1-based line it was written on.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct At<T> {
    pub(crate) value: T,
    pub(crate) line: usize,
}

/// One table (`[nudges]`, one `[[stages]]` entry, an inline `{ … }`) being read.
pub(crate) struct Fields<'a> {
    table: &'a dyn TableLike,
    /// The table's own span, where "missing key" problems are reported.
    span: Option<Range<usize>>,
    /// How problems name this table, e.g. "stage 2" or "[nudges]".
    pub(crate) what: String,
}

fn value_type(value: &Value) -> &'static str {
    match value {
        Value::String(_) => "a string",
        Value::Integer(_) => "an integer",
        Value::Float(_) => "a number with a fraction",
        Value::Boolean(_) => "true/false",
        Value::Datetime(_) => "a date/time",
        Value::Array(_) => "a list",
        Value::InlineTable(_) => "a table",
    }
}

fn item_type(item: &Item) -> &'static str {
    match item {
        Item::Value(v) => value_type(v),
        Item::Table(_) => "a table",
        Item::ArrayOfTables(_) => "a list of tables",
        Item::None => "nothing",
    }
}

impl<'a> Fields<'a> {
    pub(crate) fn new(
        table: &'a dyn TableLike,
        span: Option<Range<usize>>,
        what: impl Into<String>,
    ) -> Self {
        Self {
            table,
            span,
            what: what.into(),
        }
    }

    /// The line of the table itself; 0 for the document root, which has no line of its own.
    pub(crate) fn line(&self, sink: &FileProblems) -> usize {
        sink.line_of_span(self.span.clone())
    }

    /// The span of `key`'s value (or of the key itself, or the table).
    fn span_of(&self, key: &str) -> Option<Range<usize>> {
        let (k, item) = self.table.get_key_value(key)?;
        item.span()
            .or_else(|| k.span())
            .or_else(|| self.span.clone())
    }

    /// The line `key` is on, or the table's line when it is absent.
    pub(crate) fn line_of(&self, sink: &FileProblems, key: &str) -> usize {
        match self.span_of(key) {
            Some(span) => sink.line_of(span.start),
            None => self.line(sink),
        }
    }

    /// Reports keys other than `allowed` (usually typos that would otherwise be ignored).
    pub(crate) fn reject_unknown(&self, sink: &mut FileProblems, allowed: &[&str]) {
        for (key, _) in self.table.iter() {
            if !allowed.contains(&key) {
                let line = self.line_of(sink, key);
                sink.at_line(
                    line,
                    format!(
                        "unknown key `{key}` in {}; expected one of: {}",
                        self.what,
                        allowed.join(", ")
                    ),
                );
            }
        }
    }

    pub(crate) fn has(&self, key: &str) -> bool {
        self.item(key).is_some()
    }

    pub(crate) fn is_str(&self, key: &str) -> bool {
        self.item(key).is_some_and(Item::is_str)
    }

    /// True when `key` is written as an empty list `[]`.
    pub(crate) fn is_empty_list(&self, key: &str) -> bool {
        self.item(key)
            .and_then(Item::as_array)
            .is_some_and(toml_edit::Array::is_empty)
    }

    fn item(&self, key: &str) -> Option<&'a Item> {
        self.table.get(key).filter(|item| !item.is_none())
    }

    fn value(&self, sink: &mut FileProblems, key: &str, required: bool) -> Option<&'a Value> {
        match self.item(key) {
            None => {
                if required {
                    let line = self.line(sink);
                    sink.at_line(line, format!("{} has no `{key}`", self.what));
                }
                None
            }
            Some(Item::Value(v)) => Some(v),
            Some(other) => {
                let line = self.line_of(sink, key);
                sink.at_line(
                    line,
                    format!("`{key}` must be a value, found {}", item_type(other)),
                );
                None
            }
        }
    }

    fn wrong_type(&self, sink: &mut FileProblems, key: &str, expected: &str, found: &Value) {
        let line = sink.line_of_span(found.span());
        sink.at_line(
            line,
            format!("`{key}` must be {expected}, found {}", value_type(found)),
        );
    }

    pub(crate) fn str(
        &self,
        sink: &mut FileProblems,
        key: &str,
        required: bool,
    ) -> Option<At<String>> {
        let value = self.value(sink, key, required)?;
        match value.as_str() {
            Some(s) => Some(At {
                value: s.trim().to_string(),
                line: sink.line_of_span(value.span()),
            }),
            None => {
                self.wrong_type(sink, key, "a string in quotes", value);
                None
            }
        }
    }

    /// A required string that must not be blank.
    pub(crate) fn text(&self, sink: &mut FileProblems, key: &str) -> Option<At<String>> {
        let at = self.str(sink, key, true)?;
        if at.value.is_empty() {
            sink.at_line(at.line, format!("`{key}` must not be empty"));
            return None;
        }
        Some(at)
    }

    pub(crate) fn int(
        &self,
        sink: &mut FileProblems,
        key: &str,
        required: bool,
    ) -> Option<At<i64>> {
        let value = self.value(sink, key, required)?;
        match value.as_integer() {
            Some(n) => Some(At {
                value: n,
                line: sink.line_of_span(value.span()),
            }),
            None => {
                self.wrong_type(sink, key, "a whole number", value);
                None
            }
        }
    }

    /// A number; a whole number is accepted too (`slack = 0`).
    pub(crate) fn number(
        &self,
        sink: &mut FileProblems,
        key: &str,
        required: bool,
    ) -> Option<At<f64>> {
        let value = self.value(sink, key, required)?;
        let n = match value {
            Value::Float(f) => *f.value(),
            #[allow(clippy::cast_precision_loss)] // any sensible slack is tiny
            Value::Integer(i) => *i.value() as f64,
            other => {
                self.wrong_type(sink, key, "a number", other);
                return None;
            }
        };
        Some(At {
            value: n,
            line: sink.line_of_span(value.span()),
        })
    }

    pub(crate) fn bool(&self, sink: &mut FileProblems, key: &str) -> Option<At<bool>> {
        let value = self.value(sink, key, false)?;
        match value.as_bool() {
            Some(b) => Some(At {
                value: b,
                line: sink.line_of_span(value.span()),
            }),
            None => {
                self.wrong_type(sink, key, "true or false", value);
                None
            }
        }
    }

    /// A date or date-time, written bare (`2022-08-01`) or in quotes.
    pub(crate) fn when(&self, sink: &mut FileProblems, key: &str) -> Option<At<When>> {
        let value = self.value(sink, key, true)?;
        let line = sink.line_of_span(value.span());
        let text = match value {
            Value::Datetime(dt) => dt.value().to_string(),
            Value::String(s) => s.value().clone(),
            other => {
                self.wrong_type(sink, key, "a date like 2022-08-01", other);
                return None;
            }
        };
        match parse_when(&text) {
            Ok(when) => Some(At { value: when, line }),
            Err(message) => {
                sink.at_line(line, format!("`{key}`: {message}"));
                None
            }
        }
    }

    /// A list of strings; absent means empty.
    pub(crate) fn str_list(&self, sink: &mut FileProblems, key: &str) -> Vec<At<String>> {
        let Some(value) = self.value(sink, key, false) else {
            return Vec::new();
        };
        let Some(array) = value.as_array() else {
            self.wrong_type(sink, key, "a list like [\"a\", \"b\"]", value);
            return Vec::new();
        };
        array
            .iter()
            .filter_map(|v| match v.as_str() {
                Some(s) => Some(At {
                    value: s.trim().to_string(),
                    line: sink.line_of_span(v.span()),
                }),
                None => {
                    self.wrong_type(sink, key, "a list of strings", v);
                    None
                }
            })
            .collect()
    }

    /// The raw list under `key` with each element's line; absent means empty.
    pub(crate) fn list(
        &self,
        sink: &mut FileProblems,
        key: &str,
        required: bool,
    ) -> Vec<At<&'a Value>> {
        let Some(value) = self.value(sink, key, required) else {
            return Vec::new();
        };
        let Some(array) = value.as_array() else {
            self.wrong_type(sink, key, "a list in [ ]", value);
            return Vec::new();
        };
        array
            .iter()
            .map(|v| At {
                value: v,
                line: sink.line_of_span(v.span()),
            })
            .collect()
    }

    /// A sub-table: `[x]` or `x = { … }`.
    pub(crate) fn table(
        &self,
        sink: &mut FileProblems,
        key: &str,
        required: bool,
    ) -> Option<Fields<'a>> {
        match self.item(key) {
            None => {
                if required {
                    let line = self.line(sink);
                    sink.at_line(line, format!("{} has no `{key}`", self.what));
                }
                None
            }
            Some(Item::Table(t)) => Some(Fields::new(t, t.span(), format!("[{key}]"))),
            Some(Item::Value(Value::InlineTable(t))) => {
                Some(Fields::new(t, t.span(), format!("`{key}`")))
            }
            Some(other) => {
                let line = self.line_of(sink, key);
                sink.at_line(
                    line,
                    format!("`{key}` must be a table, found {}", item_type(other)),
                );
                None
            }
        }
    }

    /// The tables of `[[key]]` (or `key = [{ … }, …]`), each named "`label` N".
    pub(crate) fn tables(
        &self,
        sink: &mut FileProblems,
        key: &str,
        label: &str,
    ) -> Vec<Fields<'a>> {
        match self.item(key) {
            None => Vec::new(),
            Some(Item::ArrayOfTables(list)) => list
                .iter()
                .enumerate()
                .map(|(i, t)| Fields::new(t, t.span(), format!("{label} {}", i + 1)))
                .collect(),
            Some(Item::Value(Value::Array(list))) => list
                .iter()
                .enumerate()
                .filter_map(|(i, v)| match v.as_inline_table() {
                    Some(t) => Some(Fields::new(t, t.span(), format!("{label} {}", i + 1))),
                    None => {
                        self.wrong_type(sink, key, "a list of tables", v);
                        None
                    }
                })
                .collect(),
            Some(other) => {
                let line = self.line_of(sink, key);
                sink.at_line(
                    line,
                    format!(
                        "`{key}` must be written as [[{key}]] tables, found {}",
                        item_type(other)
                    ),
                );
                Vec::new()
            }
        }
    }
}

/// Reads an inline table value (`{ name = "一等奖", count = 10 }`) as fields.
pub(crate) fn inline_fields<'a>(value: &'a Value, what: impl Into<String>) -> Option<Fields<'a>> {
    value
        .as_inline_table()
        .map(|t| Fields::new(t, t.span().or_else(|| value.span()), what))
}
