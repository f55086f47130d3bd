//! The organizers' exports as files (SPEC §8, §9). What goes in them (sheets, columns, rows) is
//! `rallybot_handlers::export`; here are the formats (`xlsx`, `csv`) and `Exporter`, the one
//! entry point for everything that hands out an export: `rallybot export` (a file), the push
//! sender (a file message in WeCom) and the dashboard's download links (any `AsyncWrite`).
//!
//! How a file is made: the export reads the store page by page on the async side and sends the
//! rows through a small bounded channel to a blocking thread that writes them (rust_xlsxwriter
//! in constant-memory mode, or the CSV writer), so neither the rows nor the file are ever whole
//! in memory and the runtime's threads never block on the writing. Every export is recorded in
//! the audit log (who, which file, how many rows); a winners export, which carries full phone
//! numbers, is recorded before any byte of it leaves, and fails if it cannot be recorded.

mod csv;
mod xlsx;

use std::fs::File;
use std::io::{BufWriter, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use rallybot_handlers::campaign::Campaign;
use rallybot_handlers::export::{
    self as tables, ExportContext, ExportError, ExportKind, ExportRequest, Produced, Row,
    SheetHead, Sink, SinkError,
};
use rallybot_handlers::privacy::Privacy;
use rallybot_handlers::store::{Store, StoreError, Timestamp};
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

pub use self::csv::BOM;

/// A file format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    Xlsx,
    Csv,
}

impl Format {
    /// `xlsx` or `csv`, any case.
    pub fn parse(text: &str) -> Option<Format> {
        match text.trim().to_ascii_lowercase().as_str() {
            "xlsx" | "excel" => Some(Format::Xlsx),
            "csv" => Some(Format::Csv),
            _ => None,
        }
    }

    pub fn extension(self) -> &'static str {
        match self {
            Format::Xlsx => "xlsx",
            Format::Csv => "csv",
        }
    }

    /// The `Content-Type` of a download.
    pub fn content_type(self) -> &'static str {
        match self {
            Format::Xlsx => "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
            Format::Csv => "text/csv; charset=utf-8",
        }
    }
}

/// One export to make.
#[derive(Debug, Clone)]
pub struct ExportJob {
    pub request: ExportRequest,
    pub format: Format,
    /// The export time in titles and the file name; quotas are paced at it.
    pub now: Timestamp,
    /// Who asked, for the audit log: an organizer's userid, or `cli:<os user>`.
    pub actor: String,
    /// The audit record's key: an export recorded under a key is not recorded again (the push
    /// sender uses the push's key, so a retried delivery is one export). `None` for the CLI.
    pub audit_key: Option<String>,
    /// Stop with `ExportError::TooLarge` past this many rows (WeCom: a file that could not be
    /// sent anyway).
    pub max_rows: Option<u64>,
}

impl ExportJob {
    pub fn new(request: ExportRequest, format: Format, now: Timestamp, actor: &str) -> Self {
        Self {
            request,
            format,
            now,
            actor: actor.to_string(),
            audit_key: None,
            max_rows: None,
        }
    }
}

/// What was made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    /// `获奖名单-20221020-0930.xlsx`.
    pub file_name: String,
    pub produced: Produced,
    /// The file's size.
    pub bytes: u64,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportFailure {
    #[error(transparent)]
    Export(#[from] ExportError),
    #[error("writing the {0}")]
    Write(String),
    /// A winners export is refused when it cannot be recorded in the audit log.
    #[error("the export could not be recorded in the audit log: {0}")]
    Audit(StoreError),
}

impl ExportFailure {
    /// Whether trying again later may work (the database was busy or down).
    pub fn is_temporary(&self) -> bool {
        matches!(
            self,
            ExportFailure::Export(ExportError::Store(_)) | ExportFailure::Audit(_)
        )
    }
}

/// Writes tables in one format on a blocking thread.
trait TableWriter: Send {
    type Out;
    fn sheet(&mut self, head: SheetHead) -> Result<(), String>;
    fn rows(&mut self, rows: Vec<Row>) -> Result<(), String>;
    fn notes(&mut self, lines: Vec<String>) -> Result<(), String>;
    /// Completes the file (an xlsx is assembled here), flushes it and gives the output back.
    fn finish(self) -> Result<Self::Out, String>;
}

/// Writes what arrives until `Finish`; an export that stops before it leaves no file.
fn drive<T: TableWriter>(mut writer: T, rx: &mut mpsc::Receiver<Event>) -> Result<T::Out, String> {
    while let Some(event) = rx.blocking_recv() {
        match event {
            Event::Sheet(head) => writer.sheet(head)?,
            Event::Rows(rows) => writer.rows(rows)?,
            Event::Notes(lines) => writer.notes(lines)?,
            Event::Finish => return writer.finish(),
        }
    }
    Err("stopped before the end".to_string())
}

/// What the export side sends the writing thread.
enum Event {
    Sheet(SheetHead),
    Rows(Vec<Row>),
    Notes(Vec<String>),
    /// Everything was sent: complete the file.
    Finish,
}

/// The handlers' `Sink`, feeding the writing thread. Two pages in flight at most.
struct ChannelSink {
    tx: mpsc::Sender<Event>,
}

impl ChannelSink {
    async fn send(&self, event: Event) -> Result<(), SinkError> {
        self.tx
            .send(event)
            .await
            .map_err(|_| SinkError("the file writer stopped".to_string()))
    }
}

#[async_trait::async_trait]
impl Sink for ChannelSink {
    async fn sheet(&mut self, head: SheetHead) -> Result<(), SinkError> {
        self.send(Event::Sheet(head)).await
    }

    async fn rows(&mut self, rows: Vec<Row>) -> Result<(), SinkError> {
        self.send(Event::Rows(rows)).await
    }

    async fn notes(&mut self, lines: Vec<String>) -> Result<(), SinkError> {
        self.send(Event::Notes(lines)).await
    }
}

/// Makes exports as files; cheap to clone.
#[derive(Clone)]
pub struct Exporter {
    campaign: Arc<Campaign>,
    store: Arc<dyn Store>,
    privacy: Option<Arc<Privacy>>,
}

impl std::fmt::Debug for Exporter {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Exporter")
            .field("campaign", &self.campaign.key)
            .field("privacy", &self.privacy.is_some())
            .finish_non_exhaustive()
    }
}

impl Exporter {
    /// `privacy` is needed for the winners (phone numbers) and the ledger (member keys).
    pub fn new(
        campaign: Arc<Campaign>,
        store: Arc<dyn Store>,
        privacy: Option<Arc<Privacy>>,
    ) -> Self {
        Self {
            campaign,
            store,
            privacy,
        }
    }

    pub fn campaign(&self) -> &Campaign {
        &self.campaign
    }

    /// `获奖名单-20221020-0930.xlsx`.
    pub fn file_name(&self, job: &ExportJob) -> String {
        format!(
            "{}.{}",
            tables::file_stem(&self.campaign, &job.request, job.now),
            job.format.extension()
        )
    }

    /// Writes the export to the file at `path` (replacing it), and records it. A file left
    /// half-written by a failure is removed.
    pub async fn write_file(
        &self,
        job: &ExportJob,
        path: &Path,
    ) -> Result<Exported, ExportFailure> {
        let file = File::create(path)
            .map_err(|e| ExportFailure::Write(format!("file {}: {e}", path.display())))?;
        let result = async {
            let (produced, file) = self
                .make(job, BufWriter::with_capacity(1 << 16, file))
                .await?;
            let bytes = file
                .into_inner()
                .map_err(|e| ExportFailure::Write(e.to_string()))?
                .metadata()
                .map_err(|e| ExportFailure::Write(e.to_string()))?
                .len();
            let exported = Exported {
                file_name: self.file_name(job),
                produced,
                bytes,
            };
            self.record(job, &exported).await?;
            Ok(exported)
        }
        .await;
        if result.is_err() {
            let _ = std::fs::remove_file(path);
        }
        result
    }

    /// Writes the export into `out` (e.g. a download's body) and records it. CSV streams as it
    /// is made; an xlsx, which is only complete at its end, and every winners export, which is
    /// recorded before it leaves, go through a temporary file first.
    pub async fn write_to<W>(&self, job: &ExportJob, out: &mut W) -> Result<Exported, ExportFailure>
    where
        W: AsyncWrite + Unpin + Send,
    {
        let via_file = job.format == Format::Xlsx || job.request.kind == ExportKind::Winners;
        if via_file {
            let temp = tempfile::tempfile()
                .map_err(|e| ExportFailure::Write(format!("temporary file: {e}")))?;
            let (produced, temp) = self
                .make(job, BufWriter::with_capacity(1 << 16, temp))
                .await?;
            let mut temp = temp
                .into_inner()
                .map_err(|e| ExportFailure::Write(e.to_string()))?;
            let bytes = temp
                .seek(SeekFrom::End(0))
                .map_err(|e| ExportFailure::Write(e.to_string()))?;
            temp.seek(SeekFrom::Start(0))
                .map_err(|e| ExportFailure::Write(e.to_string()))?;
            let exported = Exported {
                file_name: self.file_name(job),
                produced,
                bytes,
            };
            self.record(job, &exported).await?;
            let mut temp = tokio::fs::File::from_std(temp);
            tokio::io::copy(&mut temp, out)
                .await
                .map_err(|e| ExportFailure::Write(e.to_string()))?;
            out.flush()
                .await
                .map_err(|e| ExportFailure::Write(e.to_string()))?;
            return Ok(exported);
        }
        // CSV straight through: the writing thread hands chunks to this task, which writes them.
        let (chunks_tx, mut chunks) = mpsc::channel::<Vec<u8>>(4);
        let writer = NoSeek(BufWriter::with_capacity(
            1 << 16,
            ChunkWriter { tx: chunks_tx },
        ));
        // The writer (and with it the sending end) is dropped as soon as the file is complete,
        // which ends the copying below.
        let making = async { self.make(job, writer).await.map(|(produced, _)| produced) };
        let copying = async {
            let mut bytes = 0u64;
            while let Some(chunk) = chunks.recv().await {
                out.write_all(&chunk)
                    .await
                    .map_err(|e| ExportFailure::Write(e.to_string()))?;
                bytes += chunk.len() as u64;
            }
            out.flush()
                .await
                .map_err(|e| ExportFailure::Write(e.to_string()))?;
            Ok::<u64, ExportFailure>(bytes)
        };
        let (made, copied) = tokio::join!(making, copying);
        let produced = made?;
        let bytes = copied?;
        let exported = Exported {
            file_name: self.file_name(job),
            produced,
            bytes,
        };
        self.record(job, &exported).await?;
        Ok(exported)
    }

    /// Produces the tables and writes them into `out` on a blocking thread; gives `out` back.
    async fn make<W>(&self, job: &ExportJob, out: W) -> Result<(Produced, W), ExportFailure>
    where
        W: Write + Seek + Send + 'static,
    {
        let (tx, mut rx) = mpsc::channel::<Event>(2);
        let format = job.format;
        let writing = tokio::task::spawn_blocking(move || match format {
            Format::Xlsx => drive(xlsx::XlsxWriter::new(out), &mut rx),
            Format::Csv => drive(csv::CsvWriter::new(out), &mut rx),
        });
        let mut sink = ChannelSink { tx };
        let ctx = ExportContext {
            campaign: &self.campaign,
            store: self.store.as_ref(),
            privacy: self.privacy.as_deref(),
            now: job.now,
            max_rows: job.max_rows,
        };
        let produced = tables::produce(&job.request, &ctx, &mut sink).await;
        let finishing = match &produced {
            Ok(_) => sink.send(Event::Finish).await.map_err(ExportError::from),
            Err(_) => Ok(()),
        };
        drop(sink);
        let written = writing
            .await
            .map_err(|e| ExportFailure::Write(format!("the writing thread: {e}")));
        // The export's own error explains a stopped writer best.
        let produced = produced?;
        finishing?;
        let out = written?.map_err(ExportFailure::Write)?;
        Ok((produced, out))
    }

    /// The audit record of a made export.
    async fn record(&self, job: &ExportJob, exported: &Exported) -> Result<(), ExportFailure> {
        let event = tables::audit_event(
            &job.request,
            &job.actor,
            &exported.file_name,
            exported.produced,
            job.now,
            job.audit_key.clone(),
        );
        match self.store.audit(&event).await {
            Ok(()) => Ok(()),
            Err(error) if job.request.kind == ExportKind::Winners => {
                Err(ExportFailure::Audit(error))
            }
            Err(error) => {
                // The other exports carry no personal data: the file is still good.
                tracing::warn!(%error, export = job.request.kind.key(), "export not recorded in the audit log");
                Ok(())
            }
        }
    }
}

/// A stream for CSV, which never seeks; seeking it is an error.
struct NoSeek<W>(W);

impl<W: Write> Write for NoSeek<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.write(buf)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

impl<W> Seek for NoSeek<W> {
    fn seek(&mut self, _: SeekFrom) -> std::io::Result<u64> {
        Err(std::io::Error::other("a CSV stream cannot seek"))
    }
}

/// Hands what the writing thread writes to the async side, a chunk at a time.
struct ChunkWriter {
    tx: mpsc::Sender<Vec<u8>>,
}

impl Write for ChunkWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.tx.blocking_send(buf.to_vec()).map_err(|_| {
            std::io::Error::new(std::io::ErrorKind::BrokenPipe, "the download was closed")
        })?;
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Where `rallybot export` writes when no `--output` is given: the file's own name in the
/// current directory.
pub fn default_path(file_name: &str) -> PathBuf {
    PathBuf::from(file_name)
}
