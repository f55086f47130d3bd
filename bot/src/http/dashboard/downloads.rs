//! `/dashboard/export/<results|quotas|winners|ledger>?format=xlsx|csv`: the organizers' four
//! exports as downloads, behind the same session (a 401 without one), made by the one
//! `Exporter` the command line and the chat use and streamed into the response as it is
//! written. Each download is recorded in the audit log under the session's id
//! (`dashboard:<id>`); a winners file, which carries full phone numbers, is recorded before any
//! byte of it leaves, and refused when it cannot be.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use percent_encoding::{utf8_percent_encode, NON_ALPHANUMERIC};
use rallybot_handlers::export::{ExportKind, ExportRequest};
use serde::Deserialize;
use tokio::io::AsyncReadExt;

use super::{Dashboard, Refused};
use crate::export::{ExportJob, Format};

/// Bytes in flight between the export and the response.
const PIPE: usize = 1 << 16;

/// The download links, as the overview shows them.
pub fn links() -> String {
    let mut out = String::from("<h2>导出</h2><div class=\"downloads\">");
    for kind in ExportKind::ALL {
        out.push_str(&format!(
            "<div>{title}：<a href=\"/dashboard/export/{key}?format=xlsx\" \
             data-export=\"{key}-xlsx\">Excel</a> <a href=\"/dashboard/export/{key}?format=csv\" \
             data-export=\"{key}-csv\">CSV</a></div>",
            title = kind.title(),
            key = kind.key(),
        ));
    }
    out.push_str("</div><p class=\"muted\">获奖名单含完整手机号，每次下载都会记入审计日志。</p>");
    out
}

#[derive(Debug, Deserialize)]
pub struct Options {
    format: Option<String>,
}

pub async fn download(
    State(state): State<Arc<Dashboard>>,
    headers: HeaderMap,
    Path(kind): Path<String>,
    Query(options): Query<Options>,
) -> Result<Response, Refused> {
    let session = state.api_session(&headers)?;
    let kind = ExportKind::parse(&kind).ok_or(Refused::BadRequest("unknown export"))?;
    let format = match options.format.as_deref() {
        None => Format::Xlsx,
        Some(text) => Format::parse(text).ok_or(Refused::BadRequest("unknown format"))?,
    };
    let job = ExportJob::new(
        ExportRequest::new(kind),
        format,
        state.clock.now(),
        &format!("dashboard:{}", session.id),
    );
    let file_name = state.exporter.file_name(&job);

    // The export writes into one end of a pipe on a task of its own; the response reads the
    // other. The first bytes are awaited before answering, so an export that fails at once
    // (an unrecorded winners file, a database down) is a 503, not a truncated download.
    let (mut reader, mut writer) = tokio::io::duplex(PIPE);
    let exporter = state.exporter.clone();
    let making = tokio::spawn(async move {
        let result = exporter.write_to(&job, &mut writer).await;
        drop(writer);
        result
    });
    let mut first = vec![0u8; PIPE];
    let read = reader.read(&mut first).await.unwrap_or(0);
    if read == 0 {
        // Nothing came: the export either failed or made an empty file.
        let failure = match making.await {
            Ok(Ok(_)) => None,
            Ok(Err(e)) => Some(e.to_string()),
            Err(e) => Some(e.to_string()),
        };
        if let Some(error) = failure {
            tracing::error!(surface = "dashboard", export = kind.key(), %error, "download failed");
            return Ok((StatusCode::SERVICE_UNAVAILABLE, "导出失败，请稍后再试。").into_response());
        }
    } else {
        tokio::spawn(async move {
            match making.await {
                Ok(Ok(exported)) => tracing::info!(
                    surface = "dashboard",
                    export = kind.key(),
                    bytes = exported.bytes,
                    "download sent"
                ),
                Ok(Err(error)) => {
                    tracing::error!(surface = "dashboard", export = kind.key(), %error, "download stopped");
                }
                Err(error) => tracing::error!(surface = "dashboard", %error, "download task"),
            }
        });
    }
    first.truncate(read);
    let rest = futures::stream::unfold(reader, |mut reader| async move {
        let mut chunk = vec![0u8; PIPE];
        match reader.read(&mut chunk).await {
            Ok(0) => None,
            Ok(n) => {
                chunk.truncate(n);
                Some((Ok::<Bytes, std::io::Error>(Bytes::from(chunk)), reader))
            }
            Err(e) => Some((Err(e), reader)),
        }
    });
    let head = futures::stream::iter([Ok::<Bytes, std::io::Error>(Bytes::from(first))]);
    let body = Body::from_stream(futures::StreamExt::chain(head, rest));
    let disposition = format!(
        "attachment; filename=\"{}.{}\"; filename*=UTF-8''{}",
        kind.key(),
        format.extension(),
        utf8_percent_encode(&file_name, NON_ALPHANUMERIC)
    );
    Ok((
        [
            (header::CONTENT_TYPE, format.content_type().to_string()),
            (header::CONTENT_DISPOSITION, disposition),
            (header::CACHE_CONTROL, "no-store".to_string()),
        ],
        body,
    )
        .into_response())
}
