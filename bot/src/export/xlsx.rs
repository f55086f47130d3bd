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
    /// The last row data may go in before a sheet continues on the next.
    last_data_row: u32,
}

impl<W: Write + Seek + Send> XlsxWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            workbook: Workbook::new(),
            out: Some(out),
            current: None,
            names: HashSet::new(),
            last_data_row: LAST_ROW - NOTE_ROOM,
        }
    }

    /// A writer whose sheets continue after `last_data_row` (tests of the split).
    #[cfg(test)]
    fn with_last_data_row(out: W, last_data_row: u32) -> Self {
        Self {
            last_data_row,
            ..Self::new(out)
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
                Some(current) => current.row > self.last_data_row,
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

#[cfg(test)]
mod tests {
    use std::io::{Cursor, Read};

    use calamine::{Data, Reader, Xlsx};
    use chrono::NaiveDate;
    use rallybot_handlers::export::Column;

    use super::*;

    fn head(name: &str) -> SheetHead {
        SheetHead {
            name: name.to_string(),
            title: format!("测试活动　{name}（导出时间 2022-10-20 09:30）"),
            columns: vec![
                Column::new("序号", ColumnKind::Code, 6),
                Column::new("单位", ColumnKind::Text, 26),
                Column::grouped("线下活动", "任务", ColumnKind::Integer, 7),
                Column::grouped("线下活动", "完成", ColumnKind::Integer, 7),
                Column::grouped("线下活动", "完成率", ColumnKind::Percent, 8),
                Column::new("时间", ColumnKind::DateTime, 20),
            ],
            freeze_columns: 2,
        }
    }

    fn row(n: i64) -> Row {
        let t = NaiveDate::from_ymd_opt(2022, 8, 10)
            .unwrap()
            .and_hms_opt(9, 0, 0)
            .unwrap();
        vec![
            Cell::Text(n.to_string()),
            Cell::text("哈尔滨市总工会"),
            Cell::Int(10),
            Cell::Int(n),
            Cell::Percent(n as f64 / 10.0),
            Cell::Time(t),
        ]
    }

    fn sheet_xml(bytes: &[u8], n: usize) -> String {
        let mut zip = zip::ZipArchive::new(Cursor::new(bytes)).unwrap();
        let mut xml = String::new();
        zip.by_name(&format!("xl/worksheets/sheet{n}.xml"))
            .unwrap()
            .read_to_string(&mut xml)
            .unwrap();
        xml
    }

    #[test]
    fn a_sheet_has_a_title_grouped_headers_frozen_panes_and_typed_cells() {
        let mut writer = XlsxWriter::new(Cursor::new(Vec::new()));
        writer.sheet(head("统计表")).unwrap();
        writer.rows(vec![row(4), row(10)]).unwrap();
        writer.notes(vec!["注：完成数含下级单位。".into()]).unwrap();
        let bytes = writer.finish().unwrap().into_inner();

        let mut book: Xlsx<_> =
            calamine::open_workbook_from_rs(Cursor::new(bytes.clone())).unwrap();
        assert_eq!(book.sheet_names(), ["统计表"]);
        let range = book.worksheet_range("统计表").unwrap();
        let at = |r: u32, c: u32| range.get_value((r, c)).cloned().unwrap_or(Data::Empty);
        assert_eq!(
            at(0, 0),
            Data::String("测试活动　统计表（导出时间 2022-10-20 09:30）".into())
        );
        // Ungrouped headers span both header rows; the group spans its columns.
        assert_eq!(at(1, 0), Data::String("序号".into()));
        assert_eq!(at(1, 2), Data::String("线下活动".into()));
        assert_eq!(at(2, 2), Data::String("任务".into()));
        assert_eq!(at(2, 4), Data::String("完成率".into()));
        assert_eq!(at(1, 5), Data::String("时间".into()));
        assert_eq!(at(3, 0), Data::String("4".into()));
        assert_eq!(at(3, 3), Data::Float(4.0));
        assert_eq!(at(3, 4), Data::Float(0.4));
        let Data::DateTime(t) = at(3, 5) else {
            panic!("not a date: {:?}", at(3, 5));
        };
        assert_eq!(t.as_datetime().unwrap().to_string(), "2022-08-10 09:00:00");
        assert_eq!(at(6, 0), Data::String("注：完成数含下级单位。".into()));

        let xml = sheet_xml(&bytes, 1);
        assert!(
            xml.contains(r#"<pane xSplit="2" ySplit="3" topLeftCell="C4""#),
            "{xml}"
        );
        assert!(xml.contains(r#"<mergeCell ref="A1:F1"/>"#), "{xml}");
        assert!(xml.contains(r#"<mergeCell ref="C2:E2"/>"#), "{xml}");
        assert!(xml.contains(r#"<mergeCell ref="A2:A3"/>"#), "{xml}");
        assert!(
            xml.contains(r#"<col min="2" max="2" width="26.7109375""#),
            "{xml}"
        );
    }

    #[test]
    fn a_full_sheet_continues_on_another_with_the_same_header() {
        let mut writer = XlsxWriter::with_last_data_row(Cursor::new(Vec::new()), 9);
        writer.sheet(head("明细")).unwrap();
        // Rows 3..=9 fit (7 rows); 16 rows make three sheets.
        writer.rows((1..=16).map(row).collect()).unwrap();
        writer.notes(vec!["注".into()]).unwrap();
        let bytes = writer.finish().unwrap().into_inner();
        let mut book: Xlsx<_> = calamine::open_workbook_from_rs(Cursor::new(bytes)).unwrap();
        assert_eq!(book.sheet_names(), ["明细", "明细 (2)", "明细 (3)"]);
        let mut seen = Vec::new();
        for name in book.sheet_names() {
            let range = book.worksheet_range(&name).unwrap();
            assert_eq!(range.get_value((2, 3)), Some(&Data::String("完成".into())));
            let title = range.get_value((0, 0)).unwrap().to_string();
            if name != "明细" {
                assert!(title.contains("（续"), "{title}");
            }
            for r in 3..=9 {
                if let Some(Data::Float(n)) = range.get_value((r, 3)) {
                    seen.push(*n as i64);
                }
            }
        }
        assert_eq!(seen, (1..=16).collect::<Vec<_>>());
    }

    #[test]
    fn sheet_names_are_made_acceptable_and_unique() {
        let mut writer = XlsxWriter::new(Cursor::new(Vec::new()));
        assert_eq!(
            writer.unique_name("A 红色足迹/打卡: [一]"),
            "A 红色足迹打卡 一"
        );
        assert_eq!(writer.unique_name("明细"), "明细");
        assert_eq!(writer.unique_name("明细"), "明细 (2)");
        let long = "传".repeat(40);
        assert_eq!(writer.unique_name(&long).chars().count(), 31);
        assert_eq!(writer.unique_name(&long).chars().count(), 31);
    }
}
