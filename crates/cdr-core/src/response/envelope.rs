//! The serde decoder of a whole body: every body `decode_page` accepts, and
//! the errors of the others, worded with the JSON path at fault. The elements
//! of `cdrs` are kept as text and handed to the element decoder one by one.

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use super::element::decode_member;
use super::errors::{GraphQlError, GraphQlErrors, ResponseError};
use super::page::Page;
use crate::record::RecordKind;
use crate::secret::ExportLink;

/// A serde error as a [`ResponseError`]: a body that is not JSON (or is cut
/// short) is [`ResponseError::Decode`], JSON of another shape
/// [`ResponseError::Shape`].
fn serde_error(e: &serde_json::Error) -> ResponseError {
    let message = e.to_string();
    match e.classify() {
        serde_json::error::Category::Data => ResponseError::Shape { message },
        _ => ResponseError::Decode { message },
    }
}

/// The general decoder: every body [`decode_page`](super::decode_page)
/// accepts, and the errors. Records of member `expected` with a text field
/// longer than `max_text` bytes are bad.
pub(crate) fn decode_with_serde(
    body: &[u8],
    expected: RecordKind,
    max_text: usize,
) -> Result<Page, ResponseError> {
    let env: Envelope = serde_json::from_slice(body).map_err(|e| serde_error(&e))?;
    let has_page = env.data.as_ref().is_some_and(|d| d.cdr_records.is_some());
    if let Some(errors) = env.errors
        && (!errors.is_empty() || !has_page)
    {
        return Err(ResponseError::GraphQl(GraphQlErrors(errors)));
    }
    let body = env
        .data
        .and_then(|d| d.cdr_records)
        .ok_or(ResponseError::MissingData)?;
    let mut page = Page {
        records: Vec::with_capacity(body.cdrs.len()),
        unknown: Vec::new(),
        bad: Vec::new(),
        next_cursor: body.pagination_info.next_cursor,
        limit: body.pagination_info.limit,
        export_link: body.export_link.map(ExportLink::new),
    };
    for (index, raw) in body.cdrs.iter().enumerate() {
        let member = decode_member(raw.get(), index, expected, max_text).map_err(|message| {
            ResponseError::Shape {
                message: format!("data.cdrRecords.cdrs[{index}]: {message}"),
            }
        })?;
        page.push(member);
    }
    Ok(page)
}

#[derive(Deserialize)]
struct Envelope<'a> {
    #[serde(borrow)]
    data: Option<Data<'a>>,
    errors: Option<Vec<GraphQlError>>,
}

#[derive(Deserialize)]
struct Data<'a> {
    #[serde(rename = "cdrRecords", borrow)]
    cdr_records: Option<PageBody<'a>>,
}

/// `paginationInfo`, its `nextCursor` and `cdrs` are required: a page that
/// lacks them must not pass for the last page (pagination ends only on an
/// explicit `nextCursor: null`). The elements of `cdrs` are kept as text and
/// decoded one by one, so that a bad one is reported with its own text.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PageBody<'a> {
    export_link: Option<String>,
    pagination_info: PaginationInfo,
    #[serde(borrow)]
    cdrs: Vec<&'a RawValue>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct PaginationInfo {
    #[serde(deserialize_with = "present")]
    next_cursor: Option<String>,
    limit: Option<u32>,
}

/// Deserializes an `Option` whose key must be present (a missing key is an
/// error, `null` is `None`).
fn present<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
    Option::<String>::deserialize(d)
}
