//! Tables as CSV: UTF-8 with a byte-order mark (so Excel on Windows reads the Chinese right),
//! one header row (grouped columns as `线下活动·任务`), then the data. A CSV file holds one
//! table: sheets that follow each other (the results' tracks) must have the same columns and
//! continue it; titles and notes belong to the workbook and are left out.

use std::io::Write;

use rallybot_handlers::export::{Row, SheetHead};

use super::TableWriter;

/// The UTF-8 byte-order mark.
pub const BOM: &[u8] = b"\xEF\xBB\xBF";

pub struct CsvWriter<W: Write + Send> {
    /// The output until the first write, which starts with the BOM.
    raw: Option<W>,
    out: Option<::csv::Writer<W>>,
    /// The header written, and the column count every later sheet must match.
    header: Option<Vec<String>>,
}

impl<W: Write + Send> CsvWriter<W> {
    pub fn new(out: W) -> Self {
        Self {
            raw: Some(out),
            out: None,
            header: None,
        }
    }

    fn writer(&mut self) -> Result<&mut ::csv::Writer<W>, String> {
        if let Some(mut raw) = self.raw.take() {
            raw.write_all(BOM).map_err(|e| e.to_string())?;
            self.out = Some(::csv::WriterBuilder::new().from_writer(raw));
        }
        self.out
            .as_mut()
            .ok_or_else(|| "already finished".to_string())
    }
}

impl<W: Write + Send> TableWriter for CsvWriter<W> {
    type Out = W;

    fn sheet(&mut self, head: SheetHead) -> Result<(), String> {
        let header: Vec<String> = head.columns.iter().map(|c| c.full_header()).collect();
        match &self.header {
            None => {
                self.writer()?
                    .write_record(&header)
                    .map_err(|e| e.to_string())?;
                self.header = Some(header);
                Ok(())
            }
            Some(first) if first.len() == header.len() => Ok(()),
            Some(first) => Err(format!(
                "a CSV file holds one table: sheet {:?} has {} columns, the first had {}",
                head.name,
                header.len(),
                first.len()
            )),
        }
    }

    fn rows(&mut self, rows: Vec<Row>) -> Result<(), String> {
        let out = self.writer()?;
        let mut record = Vec::new();
        for cells in rows {
            record.clear();
            record.extend(cells.iter().map(|c| c.plain()));
            out.write_record(&record).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    fn notes(&mut self, _lines: Vec<String>) -> Result<(), String> {
        Ok(())
    }

    fn finish(mut self) -> Result<W, String> {
        self.writer()?;
        let mut out = self.out.take().ok_or("already finished")?;
        out.flush().map_err(|e| e.to_string())?;
        let mut inner = out.into_inner().map_err(|e| e.to_string())?;
        inner.flush().map_err(|e| e.to_string())?;
        Ok(inner)
    }
}

#[cfg(test)]
mod tests {
    use rallybot_handlers::export::{Cell, Column, ColumnKind};

    use super::*;

    fn head(name: &str, columns: usize) -> SheetHead {
        let mut all = vec![
            Column::new("赛道", ColumnKind::Text, 10),
            Column::grouped("线下活动", "任务", ColumnKind::Integer, 7),
        ];
        all.truncate(columns);
        SheetHead {
            name: name.to_string(),
            title: "title".to_string(),
            columns: all,
            freeze_columns: 0,
        }
    }

    #[test]
    fn one_table_with_bom_and_joined_group_headers() {
        let mut writer = CsvWriter::new(Vec::new());
        writer.sheet(head("A", 2)).unwrap();
        writer
            .rows(vec![vec![Cell::text("光盘, \"我\"做主"), Cell::Int(3)]])
            .unwrap();
        writer.notes(vec!["注：不进 CSV".into()]).unwrap();
        writer.sheet(head("B", 2)).unwrap();
        writer
            .rows(vec![vec![Cell::text("阅读"), Cell::Percent(0.5)]])
            .unwrap();
        let bytes = writer.finish().unwrap();
        assert!(bytes.starts_with(BOM));
        let text = String::from_utf8(bytes[BOM.len()..].to_vec()).unwrap();
        assert_eq!(
            text,
            "赛道,线下活动·任务\n\"光盘, \"\"我\"\"做主\",3\n阅读,50.0%\n"
        );
    }

    #[test]
    fn sheets_with_other_columns_cannot_share_a_file() {
        let mut writer = CsvWriter::new(Vec::new());
        writer.sheet(head("A", 2)).unwrap();
        assert!(writer.sheet(head("B", 1)).is_err());
    }

    #[test]
    fn an_empty_export_is_still_a_file_with_a_bom() {
        let writer = CsvWriter::new(Vec::new());
        assert_eq!(writer.finish().unwrap(), BOM);
    }
}
