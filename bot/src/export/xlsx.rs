//! Tables as an xlsx workbook (rust_xlsxwriter): each sheet opens with its title on a merged
//! first row, then one header row (two when columns are grouped: the group merged over its
//! columns, e.g. 线下活动 over 任务/完成/完成率/进度), frozen; Chinese headers, widths and number
//! formats from the column kinds; notes under the data. Every worksheet is in constant-memory
//! mode (rows go to a temporary file as they come), and a sheet that reaches Excel's
//! 1,048,576-row limit continues on another (`明细 (2)`).

use std::collections::HashSet;
use std::io::{Seek, Write};

use rallybot_handlers::export::{Cell, ColumnKind, Row, SheetHead};
use rust_xlsxwriter::{Color, Format, FormatAlign, FormatBorder, Workbook, Worksheet};

use super::TableWriter;

/// The last row index Excel allows (1,048,576 rows).
const LAST_ROW: u32 = 1_048_575;
/// Rows kept free at the end of a sheet for its notes.
const NOTE_ROOM: u32 = 16;
/// Excel's limit on the characters of one cell.
const MAX_CELL_CHARS: usize = 32_767;

/// The formats of one sheet's columns.
struct Formats {
    title: Format,
    header: Format,
    note: Format,
    columns: Vec<Format>,
}

fn column_format(kind: ColumnKind) -> Format {
    let format = Format::new().set_align(FormatAlign::VerticalCenter);
    match kind {
        ColumnKind::Text => format,
        ColumnKind::Code => format.set_num_format("@"),
        ColumnKind::Link => format.set_font_color(Color::Blue),
        ColumnKind::Integer => format.set_num_format("#,##0"),
        ColumnKind::Percent => format.set_num_format("0.0%"),
        ColumnKind::DateTime => format.set_num_format("yyyy-mm-dd hh:mm:ss"),
    }
}

/// The sheet being written.
struct Current {
    head: SheetHead,
    formats: Formats,
    /// The next row to write.
    row: u32,
    /// Which part of a split sheet this is (1 for the first).
    part: u32,
}

pub struct XlsxWriter<W: Write + Seek + Send> {
    workbook: Workbook,
    out: Option<W>,
    current: Option<Current>,
    names: HashSet<String>,
}

impl<W: Write + Seek + Send> XlsxWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            workbook: Workbook::new(),
            out: Some(out),
            current: None,
            names: HashSet::new(),
        }
    }

    fn sheet_now(&mut self) -> Result<&mut Worksheet, String> {
        let index = self.workbook.worksheets().len();
        if index == 0 {
            return Err("no sheet started".to_string());
        }
        self.workbook
            .worksheet_from_index(index - 1)
            .map_err(|e| e.to_string())
    }

    /// A sheet name Excel accepts and no other sheet has: without `[]:*?/\`, at most 31
    /// characters, `(2)`, `(3)` … appended to repeats.
    fn unique_name(&mut self, wanted: &str) -> String {
        let clean: String = wanted
            .chars()
            .filter(|c| !matches!(c, '[' | ']' | ':' | '*' | '?' | '/' | '\\'))
            .collect();
        let clean = clean.trim().trim_matches('\'').to_string();
        let clean = if clean.is_empty() {
            "Sheet".to_string()
        } else {
            clean
        };
        let mut n = 1;
        loop {
            let suffix = if n == 1 {
                String::new()
            } else {
                format!(" ({n})")
            };
            let room = 31usize.saturating_sub(suffix.chars().count());
            let name: String = clean.chars().take(room).collect::<String>() + &suffix;
            if self.names.insert(name.to_lowercase()) {
                return name;
            }
            n += 1;
        }
    }

    /// Adds a worksheet and writes its title and header rows.
    fn open(&mut self, head: SheetHead, part: u32) -> Result<(), String> {
        let name = if part == 1 {
            self.unique_name(&head.name)
        } else {
            self.unique_name(&format!("{} ({part})", head.name))
        };
        let formats = Formats {
            title: Format::new().set_bold().set_font_size(14),
            header: Format::new()
                .set_bold()
                .set_align(FormatAlign::Center)
                .set_align(FormatAlign::VerticalCenter)
                .set_text_wrap()
                .set_background_color(Color::RGB(0xDD_EB_F7))
                .set_border(FormatBorder::Thin),
            note: Format::new().set_italic().set_font_color(Color::Gray),
            columns: head.columns.iter().map(|c| column_format(c.kind)).collect(),
        };
        let columns = head.columns.clone();
        let title = if part == 1 {
            head.title.clone()
        } else {
            format!("{}（续 {part}）", head.title)
        };
        let freeze_columns = head.freeze_columns;
        let sheet = self.workbook.add_worksheet_with_constant_memory();
        let e = |e: rust_xlsxwriter::XlsxError| e.to_string();
        sheet.set_name(&name).map_err(e)?;
        for (i, column) in columns.iter().enumerate() {
            let col = u16::try_from(i).map_err(|_| "too many columns".to_string())?;
            sheet
                .set_column_width(col, f64::from(column.width.max(4)))
                .map_err(e)?;
        }
        let last_col = u16::try_from(columns.len().saturating_sub(1))
            .map_err(|_| "too many columns".to_string())?;
        if last_col > 0 {
            sheet
                .merge_range(0, 0, 0, last_col, &title, &formats.title)
                .map_err(e)?;
        } else {
            sheet
                .write_string_with_format(0, 0, &title, &formats.title)
                .map_err(e)?;
        }
        sheet.set_row_height(0, 24).map_err(e)?;
        let grouped = columns.iter().any(|c| c.group.is_some());
        let header_rows: u32 = if grouped { 2 } else { 1 };
        if grouped {
            // Row 1: each group merged over its columns; ungrouped headers merged over both rows.
            let mut col = 0usize;
            while col < columns.len() {
                let c = u16::try_from(col).map_err(|_| "too many columns".to_string())?;
                match &columns[col].group {
                    None => {
                        sheet
                            .merge_range(1, c, 2, c, &columns[col].header, &formats.header)
                            .map_err(e)?;
                        col += 1;
                    }
                    Some(group) => {
                        let mut end = col;
                        while end + 1 < columns.len()
                            && columns[end + 1].group.as_ref() == Some(group)
                        {
                            end += 1;
                        }
                        let last =
                            u16::try_from(end).map_err(|_| "too many columns".to_string())?;
                        if end > col {
                            sheet
                                .merge_range(1, c, 1, last, group, &formats.header)
                                .map_err(e)?;
                        } else {
                            sheet
                                .write_string_with_format(1, c, group, &formats.header)
                                .map_err(e)?;
                        }
                        col = end + 1;
                    }
                }
            }
            for (i, column) in columns.iter().enumerate() {
                if column.group.is_some() {
                    let c = u16::try_from(i).map_err(|_| "too many columns".to_string())?;
                    sheet
                        .write_string_with_format(2, c, &column.header, &formats.header)
                        .map_err(e)?;
                }
            }
        } else {
            for (i, column) in columns.iter().enumerate() {
                let c = u16::try_from(i).map_err(|_| "too many columns".to_string())?;
                sheet
                    .write_string_with_format(1, c, &column.header, &formats.header)
                    .map_err(e)?;
            }
        }
        sheet
            .set_freeze_panes(1 + header_rows, freeze_columns)
            .map_err(e)?;
        self.current = Some(Current {
            head,
            formats,
            row: 1 + header_rows,
            part,
        });
        Ok(())
    }
}

fn clip(text: &str) -> &str {
    if text.len() <= MAX_CELL_CHARS {
        return text;
    }
    let mut end = MAX_CELL_CHARS;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}

fn write_cell(
    sheet: &mut Worksheet,
    row: u32,
    col: u16,
    cell: &Cell,
    format: &Format,
) -> Result<(), String> {
    let e = |e: rust_xlsxwriter::XlsxError| e.to_string();
    match cell {
        Cell::Empty => {}
        Cell::Text(text) if text.is_empty() => {}
        Cell::Text(text) => {
            sheet
                .write_string_with_format(row, col, clip(text), format)
                .map_err(e)?;
        }
        #[allow(clippy::cast_precision_loss)] // counts and ids stay far below 2^53
        Cell::Int(n) => {
            sheet
                .write_number_with_format(row, col, *n as f64, format)
                .map_err(e)?;
        }
        Cell::Percent(f) => {
            sheet
                .write_number_with_format(row, col, *f, format)
                .map_err(e)?;
        }
        Cell::Time(t) => {
            sheet
                .write_datetime_with_format(row, col, t, format)
                .map_err(e)?;
        }
    }
    Ok(())
}

impl<W: Write + Seek + Send> TableWriter for XlsxWriter<W> {
    type Out = W;

    fn sheet(&mut self, head: SheetHead) -> Result<(), String> {
        self.open(head, 1)
    }

    fn rows(&mut self, rows: Vec<Row>) -> Result<(), String> {
        for cells in rows {
            let full = match &self.current {
                Some(current) => current.row > LAST_ROW - NOTE_ROOM,
                None => return Err("rows before any sheet".to_string()),
            };
            if full {
                let current = self.current.take().ok_or("no sheet")?;
                self.open(current.head, current.part + 1)?;
            }
            let current = self.current.take().ok_or("no sheet")?;
            let sheet = self.sheet_now()?;
            for (i, cell) in cells.iter().enumerate() {
                let Some(format) = current.formats.columns.get(i) else {
                    break;
                };
                let col = u16::try_from(i).map_err(|_| "too many columns".to_string())?;
                write_cell(sheet, current.row, col, cell, format)?;
            }
            self.current = Some(Current {
                row: current.row + 1,
                ..current
            });
        }
        Ok(())
    }

    fn notes(&mut self, lines: Vec<String>) -> Result<(), String> {
        let Some(current) = self.current.take() else {
            return Err("notes before any sheet".to_string());
        };
        let mut row = current.row + 1;
        let sheet = self.sheet_now()?;
        for line in lines.iter().take(NOTE_ROOM as usize - 1) {
            sheet
                .write_string_with_format(row, 0, clip(line), &current.formats.note)
                .map_err(|e| e.to_string())?;
            row += 1;
        }
        self.current = Some(Current { row, ..current });
        Ok(())
    }

    fn finish(mut self) -> Result<W, String> {
        if self.workbook.worksheets().is_empty() {
            self.workbook.add_worksheet();
        }
        let mut out = self.out.take().ok_or("already finished")?;
        self.workbook
            .save_to_writer(&mut out)
            .map_err(|e| e.to_string())?;
        out.flush().map_err(|e| e.to_string())?;
        Ok(out)
    }
}
