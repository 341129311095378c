//! The GraphQL document and variables of the `cdrRecords` query.

use serde::Serialize;

use crate::paginator::{PageQuery, PageRequest};
use crate::parse::format_datetime;
use crate::record::RecordKind;
use crate::schema::Column;

/// Which fields each union member selects. `__typename` is selected for every
/// element of `cdrs`, outside the fragments, so that a member without a
/// fragment (one added to the union after this version) still names itself;
/// `datetime` is always selected (windows are checked on it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Selection {
    /// Column indices per kind, in [`RecordKind::ALL`] order.
    fields: [Vec<usize>; RecordKind::ALL.len()],
}

/// A field name that the member does not have.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("unknown field `{field}` for {kind}; valid fields are: {valid}")]
pub struct UnknownField {
    pub field: String,
    pub kind: RecordKind,
    pub valid: String,
}

impl Default for Selection {
    fn default() -> Self {
        Selection::all()
    }
}

impl Selection {
    /// Every documented field of every member.
    pub fn all() -> Selection {
        Selection {
            fields: RecordKind::ALL.map(|k| (0..k.columns().len()).collect()),
        }
    }

    /// Narrows `kind` to the named fields (GraphQL or snake_case names), in the
    /// given order; `datetime` is added first when missing.
    pub fn narrow(mut self, kind: RecordKind, names: &[&str]) -> Result<Selection, UnknownField> {
        let mut idx = Vec::with_capacity(names.len() + 1);
        for name in names {
            let i = kind.column_index(name.trim()).ok_or_else(|| UnknownField {
                field: name.trim().to_string(),
                kind,
                valid: kind
                    .columns()
                    .iter()
                    .map(|c| c.graphql)
                    .collect::<Vec<_>>()
                    .join(", "),
            })?;
            if !idx.contains(&i) {
                idx.push(i);
            }
        }
        if !idx.contains(&0) {
            idx.insert(0, 0);
        }
        self.fields[kind.index()] = idx;
        Ok(self)
    }

    /// The selected columns of `kind`, in query order.
    pub fn columns(&self, kind: RecordKind) -> impl Iterator<Item = &'static Column> + '_ {
        let cols = kind.columns();
        self.fields[kind.index()].iter().map(move |&i| &cols[i])
    }
}

/// Builds the `cdrRecords` document. `$companyId` is declared and passed only
/// when `with_company` is set (only admin users may pass it); `exportLink` is
/// selected only when asked for, since it is a secret worth not spreading.
pub fn document(selection: &Selection, with_company: bool, with_export_link: bool) -> String {
    let mut d = String::with_capacity(1024);
    d.push_str("query CdrRecords($type: CdrType!, $startDatetime: DateTime!, $endDatetime: DateTime!, $cursor: String, $limit: Int");
    if with_company {
        d.push_str(", $companyId: ID");
    }
    d.push_str(") {\n  cdrRecords(type: $type, startDatetime: $startDatetime, endDatetime: $endDatetime, cursor: $cursor, limit: $limit");
    if with_company {
        d.push_str(", companyId: $companyId");
    }
    d.push_str(") {\n");
    if with_export_link {
        d.push_str("    exportLink\n");
    }
    d.push_str("    paginationInfo { nextCursor limit }\n    cdrs {\n      __typename\n");
    for kind in RecordKind::ALL {
        d.push_str("      ... on ");
        d.push_str(kind.typename());
        d.push_str(" {");
        for c in selection.columns(kind) {
            d.push(' ');
            d.push_str(c.graphql);
        }
        d.push_str(" }\n");
    }
    d.push_str("    }\n  }\n}\n");
    d
}

/// The variables of one request.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Variables<'a> {
    #[serde(rename = "type")]
    pub cdr_type: crate::CdrType,
    pub start_datetime: String,
    pub end_datetime: String,
    pub cursor: Option<&'a str>,
    pub limit: u32,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub company_id: Option<&'a str>,
}

impl<'a> Variables<'a> {
    /// The variables for `request` of `query`.
    pub fn new(query: &'a PageQuery, request: &PageRequest<'a>) -> Variables<'a> {
        Variables {
            cdr_type: query.cdr_type,
            start_datetime: format_datetime(&query.window.start()),
            end_datetime: format_datetime(&query.window.end()),
            cursor: request.cursor,
            limit: request.limit.get(),
            company_id: query.company_id.as_deref(),
        }
    }
}

/// A GraphQL POST body.
#[derive(Debug, Clone, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequestBody<'a> {
    pub query: &'a str,
    pub operation_name: &'static str,
    pub variables: Variables<'a>,
}

impl<'a> RequestBody<'a> {
    /// The body for `request` of `query`, using `document`.
    pub fn new(
        document: &'a str,
        query: &'a PageQuery,
        request: &PageRequest<'a>,
    ) -> RequestBody<'a> {
        RequestBody {
            query: document,
            operation_name: "CdrRecords",
            variables: Variables::new(query, request),
        }
    }

    /// The body as JSON bytes.
    pub fn to_vec(&self) -> Vec<u8> {
        // Serializing these plain structs to a Vec cannot fail.
        serde_json::to_vec(self).unwrap_or_default()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{CdrType, Limit, Window, parse_datetime};

    #[test]
    fn document_selects_typename_for_every_element_and_a_fragment_per_member() {
        let d = document(&Selection::all(), false, false);
        // Outside the fragments: a member without one still names itself.
        assert!(d.contains("cdrs {\n      __typename\n      ... on"), "{d}");
        assert_eq!(d.matches("__typename").count(), 1, "{d}");
        for kind in RecordKind::ALL {
            let frag = format!("... on {} {{ datetime", kind.typename());
            assert!(d.contains(&frag), "{d}");
        }
        assert!(d.contains("sessionTime status calledRate charge callType aniIi"));
        assert!(!d.contains("companyId"));
        assert!(!d.contains("exportLink"));
        let d = document(&Selection::all(), true, true);
        assert!(d.contains("$companyId: ID"));
        assert!(d.contains("companyId: $companyId"));
        assert!(d.contains("exportLink"));
    }

    #[test]
    fn narrowing_keeps_order_and_datetime() {
        let s = Selection::all()
            .narrow(RecordKind::Voice, &["charge", "call_id"])
            .unwrap();
        let names: Vec<_> = s.columns(RecordKind::Voice).map(|c| c.graphql).collect();
        assert_eq!(names, ["datetime", "charge", "callId"]);
        let d = document(&s, false, false);
        assert!(d.contains("... on VoiceCdr { datetime charge callId }"));
        assert!(d.contains("... on ApiCdr { datetime from destination"));
        let e = Selection::all()
            .narrow(RecordKind::Api, &["fromNumber"])
            .unwrap_err();
        assert!(
            e.to_string().contains("valid fields are: datetime, from"),
            "{e}"
        );
    }

    #[test]
    fn variables_omit_company_unless_given() {
        let mut q = PageQuery {
            cdr_type: CdrType::Mms,
            window: Window::new(
                parse_datetime("2026-11-01T00:00:00Z").unwrap(),
                parse_datetime("2026-11-01T01:00:00.5Z").unwrap(),
            )
            .unwrap(),
            limit: Limit::MAX,
            company_id: None,
        };
        let req = PageRequest {
            cursor: None,
            limit: Limit::MAX,
            page: 0,
        };
        let v = serde_json::to_value(Variables::new(&q, &req)).unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "type": "MMS",
                "startDatetime": "2026-11-01T00:00:00Z",
                "endDatetime": "2026-11-01T01:00:00.500Z",
                "cursor": null,
                "limit": 1000
            })
        );
        q.company_id = Some("42".into());
        let body = RequestBody::new("query {}", &q, &req).to_vec();
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["variables"]["companyId"], "42");
        assert_eq!(v["operationName"], "CdrRecords");
    }
}
