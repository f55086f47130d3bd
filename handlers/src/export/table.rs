//! The shape of an export, independent of the file format: sheets with a title, columns (with an
//! optional group heading over several of them, like a metric over its 任务/完成/完成率/进度),
//! typed cells, and notes under the table. The rows are handed to a `Sink` page by page, so a
//! writer never needs the whole table at once.

use chrono::NaiveDateTime;

/// What a column holds, so writers can choose number formats and widths.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnKind {
    /// Free text: names, titles.
    Text,
    /// Text that must stay exactly as written (entry codes, masked ID numbers, phone numbers,
    /// message ids): never read as a number.
    Code,
    /// A link.
    Link,
    /// A whole number (places, scores, counts).
    Integer,
    /// A fraction shown as a percentage.
    Percent,
    /// A local date and time.
    DateTime,
}

/// One column of a sheet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    pub header: String,
    /// A heading shared by neighbouring columns (e.g. the metric name over its four columns);
    /// writers that have one header row join it to the header (`线下活动·任务`).
    pub group: Option<String>,
    pub kind: ColumnKind,
    /// A sensible display width in characters (a CJK character counts as two).
    pub width: u16,
}

impl Column {
    pub fn new(header: &str, kind: ColumnKind, width: u16) -> Self {
        Self {
            header: header.to_string(),
            group: None,
            kind,
            width,
        }
    }

    pub fn grouped(group: &str, header: &str, kind: ColumnKind, width: u16) -> Self {
        Self {
            group: Some(group.to_string()),
            ..Self::new(header, kind, width)
        }
    }

    /// The header with its group, for formats with a single header row.
    pub fn full_header(&self) -> String {
        match &self.group {
            Some(group) => format!("{group}·{}", self.header),
            None => self.header.clone(),
        }
    }
}

/// One cell.
#[derive(Debug, Clone, PartialEq)]
pub enum Cell {
    Empty,
    Text(String),
    Int(i64),
    /// A fraction (0.25 is 25 %).
    Percent(f64),
    /// Local time in the campaign's time zone.
    Time(NaiveDateTime),
}

impl Cell {
    pub fn text(value: impl Into<String>) -> Cell {
        Cell::Text(value.into())
    }

    /// The text a plain-text format (CSV) writes: integers as digits, percentages with one
    /// decimal (`66.7%`), times as `2022-08-10 09:00:00`.
    pub fn plain(&self) -> String {
        match self {
            Cell::Empty => String::new(),
            Cell::Text(text) => text.clone(),
            Cell::Int(n) => n.to_string(),
            Cell::Percent(f) => format!("{:.1}%", f * 100.0),
            Cell::Time(t) => t.format("%Y-%m-%d %H:%M:%S").to_string(),
        }
    }
}

pub type Row = Vec<Cell>;

/// A sheet: its name (a tab in a workbook), the title line above the table and the columns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SheetHead {
    /// At most 31 characters, none of `[]:*?/\` (a workbook's rules; writers check again).
    pub name: String,
    /// `黑龙江… 获奖名单（导出时间 2022-10-20 09:30）`.
    pub title: String,
    pub columns: Vec<Column>,
    /// Columns kept in view when scrolling sideways (besides the header rows, always kept).
    pub freeze_columns: u16,
}

/// Why a sink could not take what it was given (a full disk, a closed connection).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct SinkError(pub String);

/// Where an export's tables go: a file writer, a stream, or memory. Calls come in order: a
/// sheet, its rows in pages, its notes, then the next sheet.
#[async_trait::async_trait]
pub trait Sink: Send {
    async fn sheet(&mut self, head: SheetHead) -> Result<(), SinkError>;
    /// The next rows of the current sheet, each with one cell per column.
    async fn rows(&mut self, rows: Vec<Row>) -> Result<(), SinkError>;
    /// Lines under the current sheet's table (`注：…`).
    async fn notes(&mut self, lines: Vec<String>) -> Result<(), SinkError>;
}

/// A sheet as `MemorySink` keeps it.
#[derive(Debug, Clone, PartialEq)]
pub struct MemorySheet {
    pub head: SheetHead,
    pub rows: Vec<Row>,
    pub notes: Vec<String>,
}

impl MemorySheet {
    /// The index of the column with this header (or `group·header`).
    pub fn column(&self, header: &str) -> Option<usize> {
        self.head
            .columns
            .iter()
            .position(|c| c.header == header || c.full_header() == header)
    }
}

/// Keeps everything in memory: for small exports and tests.
#[derive(Debug, Default)]
pub struct MemorySink {
    pub sheets: Vec<MemorySheet>,
}

#[async_trait::async_trait]
impl Sink for MemorySink {
    async fn sheet(&mut self, head: SheetHead) -> Result<(), SinkError> {
        self.sheets.push(MemorySheet {
            head,
            rows: Vec::new(),
            notes: Vec::new(),
        });
        Ok(())
    }

    async fn rows(&mut self, rows: Vec<Row>) -> Result<(), SinkError> {
        let sheet = self
            .sheets
            .last_mut()
            .ok_or_else(|| SinkError("rows before any sheet".to_string()))?;
        sheet.rows.extend(rows);
        Ok(())
    }

    async fn notes(&mut self, lines: Vec<String>) -> Result<(), SinkError> {
        let sheet = self
            .sheets
            .last_mut()
            .ok_or_else(|| SinkError("notes before any sheet".to_string()))?;
        sheet.notes.extend(lines);
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn plain_text_of_cells() {
        assert_eq!(Cell::Empty.plain(), "");
        assert_eq!(Cell::Int(-3).plain(), "-3");
        assert_eq!(Cell::Percent(2.0 / 3.0).plain(), "66.7%");
        let t = NaiveDate::from_ymd_opt(2022, 8, 10)
            .unwrap()
            .and_hms_opt(9, 5, 7)
            .unwrap();
        assert_eq!(Cell::Time(t).plain(), "2022-08-10 09:05:07");
        let c = Column::grouped("线下活动", "任务", ColumnKind::Integer, 6);
        assert_eq!(c.full_header(), "线下活动·任务");
    }
}
