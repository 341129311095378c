//! The CSV export behind `exportLink` (the link itself is [`crate::link`]'s):
//! the streamed body, generated a chunk at a time.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use cdr_core::RecordKind;
use futures_util::Stream;

use crate::link::ExportSpec;
use crate::source::Source;
use crate::state::{State, bump};
use crate::text::{Cell, DatetimeCache, write_csv_cell_with};

/// Bytes generated before a chunk is handed to the connection.
const CHUNK: usize = 64 * 1024;

/// How an export stream ends.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Phase {
    Rows,
    /// The cap was reached with rows left: the next poll fails the body.
    Abort,
    Done,
}

struct ExportState {
    state: Arc<State>,
    source: Source,
    kind: RecordKind,
    columns: Vec<usize>,
    header: Option<Vec<u8>>,
    sent: u64,
    cap: Option<u64>,
    phase: Phase,
    datetimes: DatetimeCache,
}

impl ExportState {
    /// The next chunk of CSV, or the error that aborts the body.
    fn step(&mut self) -> Option<Result<Bytes, io::Error>> {
        match self.phase {
            Phase::Done => return None,
            Phase::Abort => {
                self.phase = Phase::Done;
                bump(&self.state.counters.aborted_exports);
                return Some(Err(io::Error::new(
                    io::ErrorKind::TimedOut,
                    "export aborted before its end",
                )));
            }
            Phase::Rows => {}
        }
        let mut out = self.header.take().unwrap_or_default();
        out.reserve(CHUNK + 1024);
        while out.len() < CHUNK {
            let Some(row) = self.source.next_row() else {
                self.phase = Phase::Done;
                break;
            };
            if self.cap.is_some_and(|cap| self.sent >= cap) {
                self.phase = Phase::Abort;
                break;
            }
            let view = self.source.view(&row);
            // Members of unknown type and records of another member have no
            // row in a CSV of this member's columns.
            if view.unknown().is_some() || view.kind() != self.kind {
                continue;
            }
            let overrides = view.overrides();
            for (i, &col) in self.columns.iter().enumerate() {
                if i > 0 {
                    out.push(b',');
                }
                match overrides.and_then(|o| o.iter().find(|o| o.column == col)) {
                    Some(o) => {
                        write_csv_cell_with(&mut out, Cell::Str(&o.csv), &mut self.datetimes)
                    }
                    None => write_csv_cell_with(&mut out, view.cell(col), &mut self.datetimes),
                }
            }
            out.extend_from_slice(b"\r\n");
            self.sent += 1;
        }
        if out.is_empty() {
            return self.step();
        }
        Some(Ok(Bytes::from(out)))
    }
}

/// The CSV body of an export: a header of the selected GraphQL field names,
/// then one CRLF-terminated row per record. With `cap`, at most that many
/// rows are sent; when more remain, the body ends in an error so that the
/// connection is dropped without a proper end.
pub(crate) fn csv_body(
    state: Arc<State>,
    spec: ExportSpec,
    cap: Option<u64>,
) -> impl Stream<Item = Result<Bytes, io::Error>> + Send + 'static {
    let s = &spec.scope;
    let source = state.source(s.t, s.start_ns, s.end_ns, None);
    let cols = spec.kind.columns();
    let mut header = Vec::new();
    for (i, &c) in spec.columns.iter().enumerate() {
        if i > 0 {
            header.push(b',');
        }
        header.extend_from_slice(cols[c].graphql.as_bytes());
    }
    header.extend_from_slice(b"\r\n");
    let st = ExportState {
        state,
        source,
        kind: spec.kind,
        columns: spec.columns,
        header: Some(header),
        sent: 0,
        cap,
        phase: Phase::Rows,
        datetimes: DatetimeCache::default(),
    };
    futures_util::stream::unfold(st, |mut st| async move {
        if st.phase == Phase::Abort {
            crate::respond::let_the_connection_flush().await;
        }
        let item = st.step()?;
        Some((item, st))
    })
}

/// Whether export requests also draw faults.
pub(crate) fn faults_enabled(state: &State) -> bool {
    state.export_faults.load(Ordering::Relaxed)
}
