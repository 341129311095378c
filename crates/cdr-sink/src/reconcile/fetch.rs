//! The export of one window, downloaded and hashed as it streams by
//! ([`canonical_csv`](super::canonical_csv)), never stored. An export that is
//! cut off (the provider gives up after 20 minutes; a connection drops) is
//! read again as two halves, recursively down to [`MIN_SPLIT`], as `cdr-sink
//! export` does: the halves' records together are the window's, since the
//! content hash is a sum.

use chrono::TimeDelta;
use futures_util::StreamExt;
use tracing::info;

use cdr_core::{CdrType, Selection, Window};
use cdr_transport::{Client, ExportRequest, TransportError};

use super::CheckError;
use super::canonical_csv::{CsvError, ExportContent, ExportReader};
use crate::content::HashVersion;

/// Windows are not split below this length (`cdr-sink export`'s default
/// `--min-window`).
pub const MIN_SPLIT: TimeDelta = TimeDelta::minutes(1);

/// What one download came to.
enum Downloaded {
    Whole(ExportContent),
    Cut(String),
}

/// The records of `t` in `window` as the provider's export lists them,
/// hashed with `version`.
pub(super) async fn export_content(
    client: &Client,
    t: CdrType,
    window: Window,
    company_id: Option<&str>,
    version: HashVersion,
) -> Result<ExportContent, CheckError> {
    // Parts still to read, the next one last.
    let mut todo = vec![window];
    let mut total = ExportContent::new(version);
    while let Some(part) = todo.pop() {
        let request = ExportRequest {
            cdr_type: t,
            window: part,
            company_id: company_id.map(str::to_string),
            selection: Selection::all(),
        };
        let reader = ExportReader::new(t.record_kind(), total.clone());
        let malformed = |source| CheckError::Malformed {
            cdr_type: t,
            window,
            part: (part != window).then_some(part),
            source,
        };
        match download(client, request, reader).await {
            Ok(Downloaded::Whole(content)) => total = content,
            Ok(Downloaded::Cut(reason)) => {
                let halves = part.split().filter(|_| part.duration() / 2 >= MIN_SPLIT);
                let Some((first, second)) = halves else {
                    return Err(CheckError::Cut {
                        cdr_type: t,
                        window,
                        part,
                        reason,
                    });
                };
                info!("the export of {t} {part} was cut off ({reason}); reading its halves");
                todo.push(second);
                todo.push(first);
            }
            Err(Failed::Csv(e)) => return Err(malformed(e)),
            Err(Failed::Transport(source)) => {
                return Err(CheckError::Transport {
                    cdr_type: t,
                    window,
                    source,
                });
            }
        }
    }
    Ok(total)
}

enum Failed {
    Csv(CsvError),
    Transport(TransportError),
}

async fn download(
    client: &Client,
    request: ExportRequest,
    mut reader: ExportReader,
) -> Result<Downloaded, Failed> {
    let mut body = client.export(request).await.map_err(Failed::Transport)?;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(bytes) => reader.feed(&bytes).map_err(Failed::Csv)?,
            Err(TransportError::ExportCut { reason, .. }) => return Ok(Downloaded::Cut(reason)),
            Err(e) => return Err(Failed::Transport(e)),
        }
    }
    // HTTP framing said the body was whole, but one that ends inside a row
    // was cut all the same (a connection closed mid-row on a close-delimited
    // response).
    match reader.finish() {
        Ok(content) => Ok(Downloaded::Whole(content)),
        Err(CsvError::EndedInsideRow { row }) => {
            Ok(Downloaded::Cut(format!("the body ended inside row {row}")))
        }
        Err(e) => Err(Failed::Csv(e)),
    }
}
