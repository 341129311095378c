//! The CSV export behind `exportLink`: link parameters, signature check and
//! the streamed body, generated a chunk at a time.

use std::io;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use bytes::Bytes;
use cdr_core::{CdrType, RecordKind};
use futures_util::Stream;

use crate::data::Source;
use crate::sign::Scope;
use crate::state::{State, bump};
use crate::text::{Cell, DatetimeCache, write_csv_cell_with, write_datetime};

/// Bytes generated before a chunk is handed to the connection.
const CHUNK: usize = 64 * 1024;

/// A datetime as it appears in a link: RFC 3339 in UTC with `Z`.
pub(crate) fn datetime_param(ns: i64) -> String {
    let mut out = Vec::with_capacity(32);
    write_datetime(&mut out, ns);
    String::from_utf8_lossy(&out).into_owned()
}

fn unreserved(b: u8) -> bool {
    b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~')
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub(crate) fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for &b in s.as_bytes() {
        if unreserved(b) {
            out.push(char::from(b));
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Decodes `%XX` escapes and `+` (a space); `None` on a malformed escape or
/// text that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' => {
                let hex = std::str::from_utf8(bytes.get(i + 1..i + 3)?).ok()?;
                out.push(u8::from_str_radix(hex, 16).ok()?);
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8(out).ok()
}

/// An export that passed the signature check.
#[derive(Debug, Clone)]
pub(crate) struct ExportSpec {
    pub scope: Scope,
    pub kind: RecordKind,
    pub columns: Vec<usize>,
}

/// Checks an export request: its type (path) and query string. `None` means
/// refused (HTTP 403): unknown type, missing or malformed parameter, or a
/// signature that does not match.
pub(crate) fn verify(state: &State, type_path: &str, query: &str) -> Option<ExportSpec> {
    let t: CdrType = type_path.parse().ok()?;
    let (mut start, mut end, mut fields, mut company, mut sig) = (None, None, None, None, None);
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
        let v = percent_decode(v)?;
        let slot = match k {
            "start" => &mut start,
            "end" => &mut end,
            "fields" => &mut fields,
            "company" => &mut company,
            "sig" => &mut sig,
            _ => return None,
        };
        if slot.replace(v).is_some() {
            return None;
        }
    }
    let ns =
        |s: Option<String>| crate::text::parse_rfc3339(&s?).and_then(|t| t.timestamp_nanos_opt());
    let scope = Scope {
        t,
        start_ns: ns(start)?,
        end_ns: ns(end)?,
        company,
    };
    let fields = fields?;
    if !state.signer.check_export(&scope, &fields, &sig?) {
        return None;
    }
    let kind = t.record_kind();
    let columns = fields
        .split(',')
        .map(|f| kind.columns().iter().position(|c| c.graphql == f))
        .collect::<Option<Vec<usize>>>()?;
    Some(ExportSpec {
        scope,
        kind,
        columns,
    })
}

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
            crate::server::let_the_connection_flush().await;
        }
        let item = st.step()?;
        Some((item, st))
    })
}

/// Whether export requests also draw faults.
pub(crate) fn faults_enabled(state: &State) -> bool {
    state.export_faults.load(Ordering::Relaxed)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding_round_trips() {
        for s in ["plain", "a b&c=d", "配達", "100%", "+x/y?"] {
            let e = percent_encode(s);
            assert!(e.bytes().all(|b| unreserved(b) || b == b'%'), "{e}");
            assert_eq!(percent_decode(&e).as_deref(), Some(s));
        }
        assert_eq!(percent_decode("a+b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }
}
