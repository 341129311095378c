//! The export link: the signed URL `exportLink` answers with, and its check
//! when a client follows it. Both sides live here, so that what is written
//! and what is read cannot drift apart.
//!
//! `{base}/export/{type}?start=..&end=..&fields=..[&company=..]&sig=..`:
//! datetimes in RFC 3339 UTC with `Z`, the GraphQL names of the selected
//! columns joined by commas, the company percent-encoded, and an HMAC of
//! type, window, company and fields ([`Signer::export_sig`]).

use cdr_core::{CdrType, RecordKind};
use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, percent_decode_str, utf8_percent_encode};

use crate::sign::{Scope, Signer};
use crate::text::{parse_rfc3339, write_datetime};

/// What a parameter value escapes: all but RFC 3986 unreserved characters.
const VALUE: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'.')
    .remove(b'_')
    .remove(b'~');

/// An export that passed the signature check.
#[derive(Debug, Clone)]
pub(crate) struct ExportSpec {
    pub scope: Scope,
    pub kind: RecordKind,
    /// Columns of `kind`, in the link's order.
    pub columns: Vec<usize>,
}

/// The signed export URL of `scope` with these columns of its member kind
/// (all of them when `columns` is empty), under `base_url`.
pub(crate) fn url(signer: &Signer, base_url: &str, scope: &Scope, columns: &[usize]) -> String {
    let fields = field_names(scope.t.record_kind(), columns);
    let sig = signer.export_sig(scope, &fields);
    let mut url = format!(
        "{base_url}/export/{}?start={}&end={}&fields={fields}",
        scope.t.as_lower(),
        datetime_param(scope.start_ns),
        datetime_param(scope.end_ns),
    );
    if let Some(c) = &scope.company {
        url.push_str("&company=");
        url.extend(utf8_percent_encode(c, VALUE));
    }
    url.push_str("&sig=");
    url.push_str(&sig);
    url
}

/// The comma-separated GraphQL names of an export's columns; all columns
/// when the query selected none.
fn field_names(kind: RecordKind, columns: &[usize]) -> String {
    let cols = kind.columns();
    let names: Vec<&str> = if columns.is_empty() {
        cols.iter().map(|c| c.graphql).collect()
    } else {
        columns
            .iter()
            .filter_map(|&i| cols.get(i).map(|c| c.graphql))
            .collect()
    };
    names.join(",")
}

/// A datetime as it appears in a link: RFC 3339 in UTC with `Z`.
fn datetime_param(ns: i64) -> String {
    let mut out = Vec::with_capacity(32);
    write_datetime(&mut out, ns);
    String::from_utf8_lossy(&out).into_owned()
}

/// Checks a followed link: its type (path) and query string. `None` means
/// refused (HTTP 403): unknown type, missing, repeated, unknown or malformed
/// parameter, or a signature that does not match.
pub(crate) fn verify(signer: &Signer, type_path: &str, query: &str) -> Option<ExportSpec> {
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
    let ns = |s: Option<String>| parse_rfc3339(&s?).and_then(|t| t.timestamp_nanos_opt());
    let scope = Scope {
        t,
        start_ns: ns(start)?,
        end_ns: ns(end)?,
        company,
    };
    let fields = fields?;
    if !signer.check_export(&scope, &fields, &sig?) {
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

/// Decodes `%XX` escapes and `+` (a space); `None` on a malformed escape or
/// text that is not UTF-8.
fn percent_decode(s: &str) -> Option<String> {
    // The crate passes a malformed escape through as it is; a link this
    // server wrote never has one.
    let well_formed = s.split('%').skip(1).all(|after| {
        after
            .as_bytes()
            .get(..2)
            .is_some_and(|hex| hex.iter().all(u8::is_ascii_hexdigit))
    });
    if !well_formed {
        return None;
    }
    let spaced = s.replace('+', " ");
    percent_decode_str(&spaced)
        .decode_utf8()
        .ok()
        .map(|text| text.into_owned())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percent_coding_round_trips() {
        for s in ["plain", "a b&c=d", "配達", "100%", "+x/y?"] {
            let e = utf8_percent_encode(s, VALUE).to_string();
            assert!(
                e.bytes()
                    .all(|b| b.is_ascii_alphanumeric() || b"-._~%".contains(&b)),
                "{e}"
            );
            assert_eq!(percent_decode(&e).as_deref(), Some(s));
        }
        assert_eq!(percent_decode("a+b").as_deref(), Some("a b"));
        assert_eq!(percent_decode("a%2Bb").as_deref(), Some("a+b"));
        assert_eq!(percent_decode("%4"), None);
        assert_eq!(percent_decode("%zz"), None);
        assert_eq!(percent_decode("%ff"), None);
    }

    #[test]
    fn a_link_is_read_back_as_it_was_written() {
        let signer = Signer::fresh(1);
        let scope = Scope {
            t: CdrType::Voice,
            start_ns: 1_000_000_000,
            end_ns: 3_600_000_000_000,
            company: Some("a b&c=d/é".into()),
        };
        let url = url(&signer, "http://127.0.0.1:1", &scope, &[10, 0]);
        let (path, query) = url.split_once('?').expect("a query");
        assert_eq!(path, "http://127.0.0.1:1/export/voice");
        let spec = verify(&signer, "voice", query).expect("accepted");
        assert_eq!(spec.scope, scope);
        assert_eq!(spec.kind, RecordKind::Voice);
        assert_eq!(spec.columns, vec![10, 0]);
        assert!(verify(&signer, "sms", query).is_none());
        assert!(verify(&Signer::fresh(1), "voice", query).is_none());
        let all = super::url(&signer, "", &scope, &[]);
        let spec = verify(&signer, "voice", all.split_once('?').unwrap().1).unwrap();
        assert_eq!(spec.columns.len(), RecordKind::Voice.columns().len());
    }
}
