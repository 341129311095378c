//! The fast path: later pages of a document that async-graphql has once
//! executed without error are written directly as JSON, from the document's
//! [`FastPlan`] and with the hand-written writer of [`crate::text`].
//!
//! It serves only documents that have a plan ([`crate::doc`]) and only
//! requests whose arguments pass every rule. Anything else goes to
//! async-graphql, which produces the same answer, or the standard error.

use cdr_core::{CdrType, RecordKind};
use serde_json::{Map, Value as Json};

use crate::doc::{ArgSource, Args, FastPlan, InfoField, MemberField, ResultField};
use crate::link;
use crate::state::{AuthUser, RawArgs, State};
use crate::text::{DatetimeCache, parse_rfc3339, write_json_cell, write_json_str};

/// Arguments as the request gives them; `None` when any is not exactly of
/// the simple form (the async-graphql path then coerces or reports it).
fn raw_args(args: &Args, vars: &Map<String, Json>) -> Option<RawArgs> {
    let nullable_str = |src: &ArgSource| match src.value(vars) {
        None | Some(Json::Null) => Some(None),
        Some(Json::String(s)) => Some(Some(s.clone())),
        Some(_) => None,
    };
    let datetime = |src: &ArgSource| match src.value(vars) {
        Some(Json::String(s)) => parse_rfc3339(s),
        _ => None,
    };
    let t = match args.t.value(vars) {
        Some(Json::String(s)) => CdrType::ALL.into_iter().find(|t| t.as_str() == s)?,
        _ => return None,
    };
    let limit = match args.limit.value(vars) {
        None | Some(Json::Null) => None,
        Some(Json::Number(n)) => Some(i64::from(i32::try_from(n.as_i64()?).ok()?)),
        Some(_) => return None,
    };
    Some(RawArgs {
        t,
        start: datetime(&args.start)?,
        end: datetime(&args.end)?,
        cursor: nullable_str(&args.cursor)?,
        limit,
        company_id: nullable_str(&args.company_id)?,
    })
}

/// The complete JSON response for one page, or `None` when the request must
/// go through async-graphql.
pub(crate) fn render(
    plan: &FastPlan,
    state: &State,
    user: &AuthUser,
    vars: &Map<String, Json>,
    export_fields: &[Vec<usize>; RecordKind::ALL.len()],
) -> Option<Vec<u8>> {
    let raw = raw_args(&plan.args, vars)?;
    let args = state.check(user, raw).ok()?;
    let page = state.page(&args);
    let kind = args.scope.t.record_kind();
    let mut datetimes = DatetimeCache::default();
    let mut out = Vec::with_capacity(256 + page.rows.len() * 320);
    out.extend_from_slice(b"{\"data\":{");
    out.extend_from_slice(&plan.root_key);
    out.push(b'{');
    for (i, field) in plan.result.iter().enumerate() {
        if i > 0 {
            out.push(b',');
        }
        match field {
            ResultField::Typename(k) => {
                out.extend_from_slice(k);
                out.extend_from_slice(b"\"PaginatedCdrResult\"");
            }
            ResultField::ExportLink(k) => {
                out.extend_from_slice(k);
                let link = link::url(
                    &state.signer,
                    &state.base_url,
                    &args.scope,
                    &export_fields[kind.index()],
                );
                write_json_str(&mut out, &link);
            }
            ResultField::PaginationInfo(k, info) => {
                out.extend_from_slice(k);
                out.push(b'{');
                for (j, f) in info.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    match f {
                        InfoField::Typename(k) => {
                            out.extend_from_slice(k);
                            out.extend_from_slice(b"\"PaginationInfo\"");
                        }
                        InfoField::NextCursor(k) => {
                            out.extend_from_slice(k);
                            match &page.next_cursor {
                                Some(c) => write_json_str(&mut out, c),
                                None => out.extend_from_slice(b"null"),
                            }
                        }
                        InfoField::Limit(k) => {
                            out.extend_from_slice(k);
                            crate::text::write_u64(&mut out, u64::from(args.limit));
                        }
                    }
                }
                out.push(b'}');
            }
            ResultField::Cdrs(k, members) => {
                out.extend_from_slice(k);
                out.push(b'[');
                for (j, row) in page.rows.iter().enumerate() {
                    if j > 0 {
                        out.push(b',');
                    }
                    let view = page.source.view(row);
                    out.push(b'{');
                    if let Some(typename) = view.unknown() {
                        for k in &members.other {
                            out.extend_from_slice(k);
                            write_json_str(&mut out, typename);
                        }
                        out.push(b'}');
                        continue;
                    }
                    let money_as_string = view.money_as_string();
                    let overrides = view.overrides();
                    for f in &members.kinds[view.kind().index()] {
                        match f {
                            MemberField::Typename(piece) => piece.put(&mut out),
                            MemberField::Column(k, col) => {
                                k.put(&mut out);
                                match overrides.and_then(|o| o.iter().find(|o| o.column == *col)) {
                                    Some(o) => out.extend_from_slice(o.json.as_bytes()),
                                    None => write_json_cell(
                                        &mut out,
                                        view.cell(*col),
                                        money_as_string,
                                        &mut datetimes,
                                    ),
                                }
                            }
                        }
                    }
                    out.push(b'}');
                }
                out.push(b']');
            }
        }
    }
    out.extend_from_slice(b"}}}");
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::doc::analyse;
    use crate::doc::tests::DOC;

    #[test]
    fn literal_arguments_are_kept() {
        let doc = "{ cdrRecords(type: VOICE, startDatetime: \"2026-01-01T00:00:00Z\", endDatetime: \"2026-01-01T01:00:00Z\", limit: 7) { cdrs { __typename } } }";
        let plan = analyse(doc, None).plan.expect("plan");
        let vars = Map::new();
        let raw = raw_args(&plan.args, &vars).expect("args");
        assert_eq!(raw.t, CdrType::Voice);
        assert_eq!(raw.limit, Some(7));
        assert_eq!(raw.cursor, None);
    }

    #[test]
    fn odd_variable_values_are_left_to_async_graphql() {
        let plan = analyse(DOC, None).plan.expect("plan");
        let base = serde_json::json!({"type": "SMS", "s": "2026-01-01T00:00:00Z", "e": "2026-01-01T01:00:00Z"});
        let ok = base.as_object().unwrap().clone();
        assert_eq!(raw_args(&plan.args, &ok).unwrap().limit, Some(50));
        for (k, v) in [
            ("type", serde_json::json!("sms")),
            ("type", serde_json::json!(3)),
            ("s", serde_json::json!("yesterday")),
            ("limit", serde_json::json!(7.5)),
            ("limit", serde_json::json!("7")),
            ("limit", serde_json::json!(1u64 << 40)),
            ("cursor", serde_json::json!(5)),
        ] {
            let mut vars = ok.clone();
            vars.insert(k.into(), v.clone());
            assert!(raw_args(&plan.args, &vars).is_none(), "{k} = {v}");
        }
        let mut vars = ok.clone();
        vars.insert("limit".into(), Json::Null);
        assert_eq!(raw_args(&plan.args, &vars).unwrap().limit, None);
    }
}
