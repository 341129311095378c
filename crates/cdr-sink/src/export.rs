//! `cdr-sink export`: the provider's CSV export of a window, streamed to one
//! file or object, split into smaller windows whenever an export is cut off.
//!
//! Each (sub-)window's body is spooled to an anonymous temporary file while it
//! downloads; only a body that ended properly is appended to the output upload
//! (its header once, at the top). A cut body is discarded and its window split
//! in halves, which are exported in order, down to `min_window`. The output
//! therefore holds one header and every row exactly once, in datetime order,
//! and becomes visible only when the whole range has been exported.

use std::io::SeekFrom;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
use std::time::Instant;

use bytes::Bytes;
use chrono::TimeDelta;
use futures_util::StreamExt;
use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncSeekExt, AsyncWriteExt};
use tracing::{info, warn};

use cdr_core::{CdrType, Selection, Window};
use cdr_sink_api::{Destination, ObjectKey, StoreError, Upload};
use cdr_transport::{Client, ExportRequest, TransportError};

/// What to export.
#[derive(Debug, Clone)]
pub struct ExportJob {
    pub cdr_type: CdrType,
    pub window: Window,
    pub selection: Selection,
    pub company_id: Option<String>,
    /// Windows are not split below this length.
    pub min_window: TimeDelta,
}

/// Live counters of an export, for the progress display.
#[derive(Debug, Default)]
pub struct ExportProgress {
    pub bytes: AtomicU64,
    pub rows: AtomicU64,
    pub splits: AtomicU64,
    pub windows_done: AtomicU64,
}

/// The result of an export.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExportSummary {
    pub status: &'static str,
    pub output: String,
    pub cdr_type: String,
    pub window_start: chrono::DateTime<chrono::Utc>,
    pub window_end: chrono::DateTime<chrono::Utc>,
    pub rows: u64,
    pub bytes: u64,
    /// How many times a cut export was split in two.
    pub splits: u64,
    /// Sub-windows exported.
    pub windows: u64,
    pub retries: u64,
    pub duration_ms: u64,
}

impl std::fmt::Display for ExportSummary {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        writeln!(
            f,
            "exported {} [{}, {}) to {}: {} rows, {} bytes, {} windows, {} splits, {} retries, {} ms",
            self.cdr_type,
            cdr_core::format_datetime(&self.window_start),
            cdr_core::format_datetime(&self.window_end),
            self.output,
            crate::progress::group(self.rows),
            crate::progress::group(self.bytes),
            self.windows,
            self.splits,
            self.retries,
            self.duration_ms
        )
    }
}

/// Why an export failed; nothing was made visible.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ExportError {
    #[error(transparent)]
    Transport(#[from] TransportError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("spooling the export to a temporary file: {0}")]
    Spool(#[from] std::io::Error),
    #[error(
        "the export of {window} was cut off even at the minimum window of {min}: lower --min-window, or retry later"
    )]
    TooSmallToSplit { window: Window, min: String },
    /// `got` and `want` are the server's header lines, sanitized.
    #[error(
        "the export of {window} has another header than the first window's: `{got}` vs `{want}`"
    )]
    HeaderMismatch {
        window: Window,
        got: String,
        want: String,
    },
}

/// Exports `job` into `key` of `dest`.
pub async fn export(
    client: &Client,
    job: &ExportJob,
    dest: Arc<dyn Destination>,
    key: &ObjectKey,
    progress: Arc<ExportProgress>,
) -> Result<ExportSummary, ExportError> {
    let started = Instant::now();
    let retries_before = client.stats().retries;
    let mut upload = dest.begin(key, "text/csv; charset=utf-8").await?;
    match export_into(client, job, upload.as_mut(), &progress).await {
        Ok(bytes) => {
            upload.commit().await?;
            Ok(ExportSummary {
                status: "ok",
                output: dest.location(key),
                cdr_type: job.cdr_type.as_str().to_string(),
                window_start: job.window.start(),
                window_end: job.window.end(),
                rows: progress.rows.load(Relaxed),
                bytes,
                splits: progress.splits.load(Relaxed),
                windows: progress.windows_done.load(Relaxed),
                retries: client.stats().retries.saturating_sub(retries_before),
                duration_ms: started.elapsed().as_millis() as u64,
            })
        }
        Err(e) => {
            if let Err(abort) = upload.abort().await {
                warn!("could not abort the output upload: {abort}");
            }
            Err(e)
        }
    }
}

/// Returns the bytes written.
async fn export_into(
    client: &Client,
    job: &ExportJob,
    upload: &mut dyn Upload,
    progress: &ExportProgress,
) -> Result<u64, ExportError> {
    // Windows still to export, the next one last.
    let mut todo = vec![job.window];
    let mut header: Option<Vec<u8>> = None;
    let mut written = 0u64;
    while let Some(window) = todo.pop() {
        let request = ExportRequest {
            cdr_type: job.cdr_type,
            window,
            company_id: job.company_id.clone(),
            selection: job.selection.clone(),
        };
        let mut spool = tokio::fs::File::from_std(tempfile::tempfile()?);
        match download(client, request, &mut spool).await? {
            Downloaded::Cut(reason) => {
                let halves = window
                    .split()
                    .filter(|_| window.duration() / 2 >= job.min_window);
                let Some((first, second)) = halves else {
                    return Err(ExportError::TooSmallToSplit {
                        window,
                        min: format!("{}s", job.min_window.num_seconds()),
                    });
                };
                progress.splits.fetch_add(1, Relaxed);
                info!("export of {window} was cut off ({reason}); exporting its halves");
                todo.push(second);
                todo.push(first);
            }
            Downloaded::Whole(len) => {
                spool.seek(SeekFrom::Start(0)).await?;
                written += append(&mut spool, len, window, &mut header, upload, progress).await?;
                progress.windows_done.fetch_add(1, Relaxed);
            }
        }
    }
    if header.is_none() {
        // Every window was empty and the server sent no header: write ours.
        let names: Vec<&str> = job
            .selection
            .columns(job.cdr_type.record_kind())
            .map(|c| c.graphql)
            .collect();
        let line = format!("{}\n", names.join(","));
        written += line.len() as u64;
        upload.write(Bytes::from(line)).await?;
    }
    Ok(written)
}

enum Downloaded {
    Whole(u64),
    Cut(String),
}

async fn download(
    client: &Client,
    request: ExportRequest,
    spool: &mut tokio::fs::File,
) -> Result<Downloaded, ExportError> {
    let mut body = client.export(request).await?;
    let mut len = 0u64;
    let mut rows = RowCounter::default();
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => {
                rows.feed(&bytes);
                spool.write_all(&bytes).await?;
                len += bytes.len() as u64;
            }
            Err(TransportError::ExportCut { reason, .. }) => return Ok(Downloaded::Cut(reason)),
            Err(e) => return Err(e.into()),
        }
    }
    spool.flush().await?;
    // HTTP framing said the body was whole, but an export's rows end with a
    // newline outside quotes: a body ending inside a row (a connection closed
    // mid-row on a close-delimited response) was cut after all. A body of only
    // a header line may lack its newline.
    if rows.in_quotes || (rows.open_line && rows.rows > 0) {
        return Ok(Downloaded::Cut("the body ended inside a row".into()));
    }
    Ok(Downloaded::Whole(len))
}

/// Appends a spooled body to the upload: its header only for the first window.
async fn append(
    spool: &mut tokio::fs::File,
    len: u64,
    window: Window,
    header: &mut Option<Vec<u8>>,
    upload: &mut dyn Upload,
    progress: &ExportProgress,
) -> Result<u64, ExportError> {
    if len == 0 {
        return Ok(0);
    }
    let mut buf = vec![0u8; 256 * 1024];
    let mut at_start = true;
    let mut written = 0u64;
    let mut rows = RowCounter::default();
    loop {
        let n = spool.read(&mut buf).await?;
        if n == 0 {
            break;
        }
        let mut chunk = &buf[..n];
        if at_start {
            at_start = false;
            // The header is the first line: field names hold no newline.
            let end = chunk
                .iter()
                .position(|&b| b == b'\n')
                .map_or(chunk.len(), |i| i + 1);
            let this = &chunk[..end];
            match header {
                None => {
                    *header = Some(this.to_vec());
                    written += this.len() as u64;
                    upload.write(Bytes::copy_from_slice(this)).await?;
                }
                Some(want) if want.as_slice() == this => {}
                Some(want) => {
                    let shown = |line: &[u8]| {
                        cdr_core::sanitize(String::from_utf8_lossy(line).trim_end(), &[])
                    };
                    return Err(ExportError::HeaderMismatch {
                        window,
                        got: shown(this),
                        want: shown(want),
                    });
                }
            }
            chunk = &chunk[end..];
        }
        if chunk.is_empty() {
            continue;
        }
        rows.feed(chunk);
        written += chunk.len() as u64;
        upload.write(Bytes::copy_from_slice(chunk)).await?;
    }
    if rows.open_line {
        // `download` checked that the body ends at a row boundary; a header-only
        // body without a newline is the one case left.
        written += 1;
        upload.write(Bytes::from_static(b"\n")).await?;
    }
    progress.bytes.fetch_add(written, Relaxed);
    progress.rows.fetch_add(rows.rows, Relaxed);
    Ok(written)
}

/// Counts CSV records (newlines outside quotes) in a stream of chunks.
#[derive(Default)]
struct RowCounter {
    in_quotes: bool,
    rows: u64,
    /// Whether bytes were seen since the last record's newline.
    open_line: bool,
}

impl RowCounter {
    fn feed(&mut self, chunk: &[u8]) {
        for &b in chunk {
            match b {
                b'"' => self.in_quotes = !self.in_quotes,
                b'\n' if !self.in_quotes => {
                    self.rows += 1;
                    self.open_line = false;
                    continue;
                }
                _ => {}
            }
            self.open_line = true;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_are_counted_outside_quotes_across_chunks() {
        let mut c = RowCounter::default();
        for chunk in [
            &b"a,\"x\n"[..],
            b"y\",1\nb,2\n",
            b"c,\"\"\"q\"\"\"\n",
            b"d,4",
        ] {
            c.feed(chunk);
        }
        assert_eq!(c.rows, 3);
        assert!(c.open_line);
        c.feed(b"\n");
        assert_eq!(c.rows, 4);
        assert!(!c.open_line);
    }

    #[tokio::test]
    async fn a_mismatched_header_is_shown_sanitized() {
        let dest = cdr_sink_api::memory::MemoryDir::new("mem");
        let key = ObjectKey::new("x.csv").unwrap();
        let mut upload = dest.begin(&key, "text/csv").await.unwrap();
        let body = format!("\x1b]0;owned\x07datetime,{}\n1,2\n", "c".repeat(5000));
        let mut spool = tokio::fs::File::from_std(tempfile::tempfile().unwrap());
        spool.write_all(body.as_bytes()).await.unwrap();
        spool.seek(SeekFrom::Start(0)).await.unwrap();
        let window = Window::new(
            cdr_core::parse_datetime("2026-11-01T00:00:00Z").unwrap(),
            cdr_core::parse_datetime("2026-11-01T01:00:00Z").unwrap(),
        )
        .unwrap();
        let mut header = Some(b"datetime,charge\n".to_vec());
        let progress = ExportProgress::default();
        let err = append(
            &mut spool,
            body.len() as u64,
            window,
            &mut header,
            upload.as_mut(),
            &progress,
        )
        .await
        .unwrap_err();
        let text = err.to_string();
        assert!(matches!(err, ExportError::HeaderMismatch { .. }), "{text}");
        assert!(!text.contains('\x1b') && !text.contains('\x07'), "{text}");
        assert!(
            text.contains("`\\u{1b}]0;owned\\u{7}datetime,ccc"),
            "{text}"
        );
        assert!(text.contains("` vs `datetime,charge`"), "{text}");
        assert!(text.len() < 1000, "{}", text.len());
    }
}
