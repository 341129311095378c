//! What a query document asks for, analysed once per distinct document
//! text: the columns each member kind selects (for export links), and, for
//! documents of the plain shape clients send (one `cdrRecords` field, inline
//! fragments on the union, no named fragments, no directives), a
//! [`FastPlan`]: where each argument comes from and the selected fields, in
//! query order, with their response keys. [`crate::fast`] writes pages with it.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, PoisonError, RwLock};

use async_graphql::Name;
use async_graphql::parser::types::{
    DocumentOperations, ExecutableDocument, Field, FragmentDefinition, OperationDefinition,
    OperationType, Selection, SelectionSet,
};
use async_graphql::parser::{Positioned, parse_query};
use cdr_core::RecordKind;
use serde_json::{Map, Value as Json};

use crate::text::{Piece, write_json_str};

/// Documents kept; past this the cache starts afresh.
const MAX_DOCUMENTS: usize = 256;
/// Deepest fragment nesting followed when collecting selected fields.
const MAX_DEPTH: u32 = 16;

/// What is known of one (document, operation name).
pub(crate) struct DocEntry {
    /// Selected columns per member kind ([`RecordKind::index`] order), for export links.
    pub export_fields: Arc<[Vec<usize>; RecordKind::ALL.len()]>,
    /// Set when the fast path can serve this document.
    pub plan: Option<FastPlan>,
    /// Whether async-graphql has executed this document without error.
    validated: AtomicBool,
}

impl DocEntry {
    pub(crate) fn is_validated(&self) -> bool {
        self.validated.load(Ordering::Relaxed)
    }

    pub(crate) fn mark_validated(&self) {
        self.validated.store(true, Ordering::Relaxed);
    }
}

type Entries = Vec<(Option<String>, Arc<DocEntry>)>;

/// Analysed documents keyed by their exact text.
#[derive(Default)]
pub(crate) struct DocCache {
    map: RwLock<HashMap<String, Entries>>,
}

impl DocCache {
    /// The entry of `query` run as `operation`, analysed on first sight.
    pub(crate) fn entry(&self, query: &str, operation: Option<&str>) -> Arc<DocEntry> {
        {
            let map = self.map.read().unwrap_or_else(PoisonError::into_inner);
            if let Some(found) = map
                .get(query)
                .and_then(|v| v.iter().find(|(op, _)| op.as_deref() == operation))
            {
                return found.1.clone();
            }
        }
        let entry = Arc::new(analyse(query, operation));
        let mut map = self.map.write().unwrap_or_else(PoisonError::into_inner);
        if map.len() >= MAX_DOCUMENTS {
            map.clear();
        }
        let entries = map.entry(query.to_string()).or_default();
        // Another request may have analysed the same document meanwhile.
        if let Some(found) = entries.iter().find(|(op, _)| op.as_deref() == operation) {
            return found.1.clone();
        }
        entries.push((operation.map(str::to_string), entry.clone()));
        entry
    }
}

/// Where an argument's value comes from.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ArgSource {
    Absent,
    Literal(Json),
    Variable { name: String, default: Option<Json> },
}

impl ArgSource {
    /// The value for this request; `None` when absent.
    pub(crate) fn value<'a>(&'a self, vars: &'a Map<String, Json>) -> Option<&'a Json> {
        match self {
            ArgSource::Absent => None,
            ArgSource::Literal(v) => Some(v),
            ArgSource::Variable { name, default } => vars.get(name).or(default.as_ref()),
        }
    }
}

/// Sources of the six arguments of `cdrRecords`.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Args {
    pub company_id: ArgSource,
    pub t: ArgSource,
    pub start: ArgSource,
    pub end: ArgSource,
    pub cursor: ArgSource,
    pub limit: ArgSource,
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum InfoField {
    Typename(Vec<u8>),
    NextCursor(Vec<u8>),
    Limit(Vec<u8>),
}

/// A field of a union member. The bytes are the key (with its leading comma
/// when not first); for `__typename` also the value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum MemberField {
    Typename(Piece),
    Column(Piece, usize),
}

#[derive(Debug, Clone, PartialEq)]
pub(crate) enum ResultField {
    Typename(Vec<u8>),
    ExportLink(Vec<u8>),
    PaginationInfo(Vec<u8>, Vec<InfoField>),
    Cdrs(Vec<u8>, Box<Members>),
}

/// What each element of `cdrs` is written with.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Members {
    /// Fields per member kind, in [`RecordKind::index`] order.
    pub kinds: [Vec<MemberField>; RecordKind::ALL.len()],
    /// The keys of the `__typename`s selected for every member (outside the
    /// fragments), all a member without a fragment gets; with its comma when
    /// not first.
    pub other: Vec<Vec<u8>>,
}

/// A document the fast path serves.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct FastPlan {
    pub root_key: Vec<u8>,
    pub args: Args,
    pub result: Vec<ResultField>,
}

/// `"key":`, ready to write.
fn key_bytes(key: &str) -> Vec<u8> {
    let mut out = Vec::with_capacity(key.len() + 3);
    write_json_str(&mut out, key);
    out.push(b':');
    out
}

fn response_key(f: &Field) -> &str {
    f.alias
        .as_ref()
        .map_or(f.name.node.as_str(), |a| a.node.as_str())
}

pub(crate) fn analyse(query: &str, operation: Option<&str>) -> DocEntry {
    let mut entry = DocEntry {
        export_fields: Arc::new(Default::default()),
        plan: None,
        validated: AtomicBool::new(false),
    };
    let Ok(doc) = parse_query(query) else {
        return entry;
    };
    let Some(op) = pick_operation(&doc, operation) else {
        return entry;
    };
    entry.export_fields = Arc::new(export_fields(&doc, op));
    entry.plan = plan(op);
    entry
}

/// The operation async-graphql would run.
fn pick_operation<'a>(
    doc: &'a ExecutableDocument,
    name: Option<&str>,
) -> Option<&'a OperationDefinition> {
    match (&doc.operations, name) {
        (DocumentOperations::Single(op), None) => Some(&op.node),
        (DocumentOperations::Multiple(ops), Some(n)) => ops.get(n).map(|o| &o.node),
        (DocumentOperations::Multiple(ops), None) if ops.len() == 1 => {
            ops.values().next().map(|o| &o.node)
        }
        _ => None,
    }
}

type Fragments = HashMap<Name, Positioned<FragmentDefinition>>;

/// Fields of a selection set with fragments flattened, each with the type
/// condition it is under (`None` for the parent type itself).
fn flatten<'a>(
    set: &'a SelectionSet,
    fragments: &'a Fragments,
    cond: Option<&'a str>,
    depth: u32,
    out: &mut Vec<(Option<&'a str>, &'a Field)>,
) {
    if depth > MAX_DEPTH {
        return;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) => out.push((cond, &f.node)),
            Selection::InlineFragment(fr) => {
                let c = fr
                    .node
                    .type_condition
                    .as_ref()
                    .map(|t| t.node.on.node.as_str())
                    .or(cond);
                flatten(&fr.node.selection_set.node, fragments, c, depth + 1, out);
            }
            Selection::FragmentSpread(sp) => {
                if let Some(def) = fragments.get(&sp.node.fragment_name.node) {
                    let c = Some(def.node.type_condition.node.on.node.as_str());
                    flatten(&def.node.selection_set.node, fragments, c, depth + 1, out);
                }
            }
        }
    }
}

/// Whether a field under type condition `cond` inside `cdrs` applies to `kind`.
fn applies(cond: Option<&str>, kind: RecordKind) -> bool {
    match cond {
        None | Some("Cdr") => true,
        Some(name) => name == kind.typename(),
    }
}

/// The columns each member kind selects in `cdrs`, in query order, without
/// `__typename` and repeats.
fn export_fields(
    doc: &ExecutableDocument,
    op: &OperationDefinition,
) -> [Vec<usize>; RecordKind::ALL.len()] {
    let mut out: [Vec<usize>; RecordKind::ALL.len()] = Default::default();
    let mut top = Vec::new();
    flatten(&op.selection_set.node, &doc.fragments, None, 0, &mut top);
    for (_, root) in top.iter().filter(|(_, f)| f.name.node == "cdrRecords") {
        let mut result = Vec::new();
        flatten(
            &root.selection_set.node,
            &doc.fragments,
            None,
            0,
            &mut result,
        );
        for (_, cdrs) in result.iter().filter(|(_, f)| f.name.node == "cdrs") {
            let mut members = Vec::new();
            flatten(
                &cdrs.selection_set.node,
                &doc.fragments,
                None,
                0,
                &mut members,
            );
            for kind in RecordKind::ALL {
                let cols = &mut out[kind.index()];
                for (cond, f) in &members {
                    if !applies(*cond, kind) {
                        continue;
                    }
                    if let Some(i) = kind
                        .columns()
                        .iter()
                        .position(|c| c.graphql == f.name.node.as_str())
                        && !cols.contains(&i)
                    {
                        cols.push(i);
                    }
                }
            }
        }
    }
    out
}

/// Fields of a selection set made of plain fields only (no fragments, no
/// directives, no repeated response key).
fn plain_fields(set: &SelectionSet) -> Option<Vec<&Field>> {
    let mut out: Vec<&Field> = Vec::with_capacity(set.items.len());
    for item in &set.items {
        let Selection::Field(f) = &item.node else {
            return None;
        };
        let f = &f.node;
        if !f.directives.is_empty() || out.iter().any(|o| response_key(o) == response_key(f)) {
            return None;
        }
        out.push(f);
    }
    Some(out)
}

fn plan(op: &OperationDefinition) -> Option<FastPlan> {
    if op.ty != OperationType::Query || !op.directives.is_empty() {
        return None;
    }
    let [root] = plain_fields(&op.selection_set.node)?[..] else {
        return None;
    };
    if root.name.node != "cdrRecords" {
        return None;
    }
    let mut args = Args {
        company_id: ArgSource::Absent,
        t: ArgSource::Absent,
        start: ArgSource::Absent,
        end: ArgSource::Absent,
        cursor: ArgSource::Absent,
        limit: ArgSource::Absent,
    };
    for (name, value) in &root.arguments {
        // The AST value type is not exported; a value that is exactly one
        // variable is recognised by failing to become constant and printing
        // as that variable.
        let source = match value.node.clone().into_const_with(Err) {
            Ok(c) => ArgSource::Literal(c.into_json().ok()?),
            Err(v) if value.node.to_string() == format!("${v}") => {
                let def = op
                    .variable_definitions
                    .iter()
                    .find(|d| d.node.name.node == v)?;
                ArgSource::Variable {
                    name: v.to_string(),
                    default: def
                        .node
                        .default_value
                        .as_ref()
                        .map(|d| d.node.clone().into_json())
                        .transpose()
                        .ok()?,
                }
            }
            Err(_) => return None,
        };
        let slot = match name.node.as_str() {
            "companyId" => &mut args.company_id,
            "type" => &mut args.t,
            "startDatetime" => &mut args.start,
            "endDatetime" => &mut args.end,
            "cursor" => &mut args.cursor,
            "limit" => &mut args.limit,
            _ => return None,
        };
        *slot = source;
    }
    let mut result = Vec::new();
    for f in plain_fields(&root.selection_set.node)? {
        let key = key_bytes(response_key(f));
        result.push(match f.name.node.as_str() {
            "__typename" => ResultField::Typename(key),
            "exportLink" => ResultField::ExportLink(key),
            "paginationInfo" => {
                let mut info = Vec::new();
                for g in plain_fields(&f.selection_set.node)? {
                    let k = key_bytes(response_key(g));
                    info.push(match g.name.node.as_str() {
                        "__typename" => InfoField::Typename(k),
                        "nextCursor" => InfoField::NextCursor(k),
                        "limit" => InfoField::Limit(k),
                        _ => return None,
                    });
                }
                ResultField::PaginationInfo(key, info)
            }
            "cdrs" => ResultField::Cdrs(key, Box::new(member_plan(&f.selection_set.node)?)),
            _ => return None,
        });
    }
    Some(FastPlan {
        root_key: key_bytes(response_key(root)),
        args,
        result,
    })
}

/// Collects the union's selection with inline fragments only.
fn inline_only<'a>(
    set: &'a SelectionSet,
    cond: Option<&'a str>,
    depth: u32,
    out: &mut Vec<(Option<&'a str>, &'a Field)>,
) -> Option<()> {
    if depth > MAX_DEPTH {
        return None;
    }
    for item in &set.items {
        match &item.node {
            Selection::Field(f) if f.node.directives.is_empty() => out.push((cond, &f.node)),
            Selection::InlineFragment(fr) if fr.node.directives.is_empty() => {
                let c = fr
                    .node
                    .type_condition
                    .as_ref()
                    .map(|t| t.node.on.node.as_str())
                    .or(cond);
                inline_only(&fr.node.selection_set.node, c, depth + 1, out)?;
            }
            _ => return None,
        }
    }
    Some(())
}

fn member_plan(set: &SelectionSet) -> Option<Members> {
    let mut items = Vec::new();
    inline_only(set, None, 0, &mut items)?;
    let mut out: [Vec<MemberField>; RecordKind::ALL.len()] = Default::default();
    for kind in RecordKind::ALL {
        let mut keys: Vec<(&str, &str)> = Vec::new();
        let fields = &mut out[kind.index()];
        for (cond, f) in &items {
            if !applies(*cond, kind) {
                continue;
            }
            let key = response_key(f);
            if !f.selection_set.node.items.is_empty() || !f.arguments.is_empty() {
                return None;
            }
            // The same field twice under one key is merged, as GraphQL
            // merges it (`__typename` outside and inside a fragment, say).
            match keys.iter().find(|(k, _)| *k == key) {
                Some((_, name)) if *name == f.name.node.as_str() => continue,
                Some(_) => return None,
                None => keys.push((key, f.name.node.as_str())),
            }
            // Keys after the first carry their separating comma.
            let mut k = if fields.is_empty() {
                Vec::new()
            } else {
                vec![b',']
            };
            k.extend_from_slice(&key_bytes(key));
            let name = f.name.node.as_str();
            fields.push(if name == "__typename" {
                write_json_str(&mut k, kind.typename());
                MemberField::Typename(Piece::new(&k))
            } else {
                let col = kind.columns().iter().position(|c| c.graphql == name)?;
                MemberField::Column(Piece::new(&k), col)
            });
        }
    }
    let mut other: Vec<Vec<u8>> = Vec::new();
    let mut seen: Vec<&str> = Vec::new();
    for (cond, f) in &items {
        if matches!(cond, None | Some("Cdr"))
            && f.name.node == "__typename"
            && !seen.contains(&response_key(f))
        {
            seen.push(response_key(f));
            let mut k = if other.is_empty() {
                Vec::new()
            } else {
                vec![b',']
            };
            k.extend_from_slice(&key_bytes(response_key(f)));
            other.push(k);
        }
    }
    Some(Members { kinds: out, other })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A query with aliases and nested fragments, for the tests of this
    /// module and of `fast`.
    pub(crate) const DOC: &str = "query Q($type: CdrType!, $s: DateTime!, $e: DateTime!, $cursor: String, $limit: Int = 50) {
      r: cdrRecords(type: $type, startDatetime: $s, endDatetime: $e, cursor: $cursor, limit: $limit) {
        paginationInfo { nextCursor limit }
        cdrs {
          __typename
          ... on ApiCdr { datetime c: charge }
          ... on MessageCdr { datetime fromNumber }
          ... on VoiceCdr { datetime ... on VoiceCdr { aniIi } }
        }
        exportLink
      }
    }";

    #[test]
    fn plain_documents_get_a_plan_in_query_order() {
        let e = analyse(DOC, None);
        let plan = e.plan.expect("plan");
        assert_eq!(plan.root_key, b"\"r\":");
        assert_eq!(
            plan.args.limit,
            ArgSource::Variable {
                name: "limit".into(),
                default: Some(Json::from(50))
            }
        );
        assert_eq!(plan.args.company_id, ArgSource::Absent);
        let ResultField::Cdrs(_, members) = &plan.result[1] else {
            panic!("cdrs second: {:?}", plan.result);
        };
        let voice = &members.kinds[RecordKind::Voice.index()];
        assert_eq!(
            voice,
            &vec![
                MemberField::Typename(Piece::new(b"\"__typename\":\"VoiceCdr\"")),
                MemberField::Column(Piece::new(b",\"datetime\":"), 0),
                MemberField::Column(Piece::new(b",\"aniIi\":"), 10),
            ]
        );
        assert!(matches!(plan.result[2], ResultField::ExportLink(_)));
        assert_eq!(e.export_fields[RecordKind::Api.index()], vec![0, 4]);
        assert_eq!(e.export_fields[RecordKind::Message.index()], vec![0, 1]);
    }

    #[test]
    fn the_same_field_twice_is_merged_and_typename_outside_serves_unknown_members() {
        let doc = "{ cdrRecords(type: VOICE, startDatetime: \"2026-01-01T00:00:00Z\", endDatetime: \"2026-01-01T01:00:00Z\") {
            cdrs { __typename t: __typename ... on VoiceCdr { __typename callId callId } } } }";
        let plan = analyse(doc, None).plan.expect("plan");
        let ResultField::Cdrs(_, members) = &plan.result[0] else {
            panic!("{:?}", plan.result);
        };
        let voice = &members.kinds[RecordKind::Voice.index()];
        assert_eq!(voice.len(), 3, "{voice:?}");
        assert_eq!(
            members.other,
            vec![b"\"__typename\":".to_vec(), b",\"t\":".to_vec()]
        );
        // One key for two different fields cannot be merged.
        let clash = doc.replace("t: __typename", "callId: __typename");
        assert!(analyse(&clash, None).plan.is_none());
    }

    #[test]
    fn unusual_documents_have_no_plan_but_export_fields() {
        let spread = "query { cdrRecords(type: SMS, startDatetime: \"2026-01-01T00:00:00Z\", endDatetime: \"2026-01-01T01:00:00Z\") {
            cdrs { ...M } } } fragment M on MessageCdr { status datetime }";
        let e = analyse(spread, None);
        assert!(e.plan.is_none());
        assert_eq!(e.export_fields[RecordKind::Message.index()], vec![4, 0]);
        let directive = DOC.replace("exportLink", "exportLink @skip(if: true)");
        assert!(analyse(&directive, None).plan.is_none());
        assert!(analyse("query { __typename }", None).plan.is_none());
        assert!(analyse("not graphql", None).plan.is_none());
        assert!(analyse(DOC, Some("Other")).plan.is_none());
        assert!(analyse(DOC, Some("Q")).plan.is_some());
    }
}
