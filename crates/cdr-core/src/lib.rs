//! `cdr-core`: the pure model of TSG Global call and message detail records.
//!
//! What it is: the [`CdrType`] enum and which union member answers each type,
//! the record types ([`ApiCdr`], [`MessageCdr`], [`VoiceCdr`]) and their union
//! [`Cdr`], the column [schema](RecordKind::columns) every sink uses, half-open
//! time [`Window`]s and their [planning](plan), the GraphQL [`document`] and
//! [`Variables`] of `cdrRecords`, decoding of its responses ([`decode_page`]:
//! records, [`UnknownMember`]s and [`BadRecord`]s; [`PageDecoder`] for a text
//! limit other than [`MAX_TEXT_BYTES`]), the classification of
//! GraphQL errors ([`ErrorClass`]), the money range the archive holds
//! ([`check_money`]), the sans-I/O pagination state machine [`Paginator`], and
//! [`sanitize`], which makes server text safe to print.
//!
//! What it is not: it performs no I/O of any kind. It has no HTTP client, no
//! async runtime, no file access and no clock (`now` is always an argument).
//! `cdr-transport` runs it over HTTP; sinks read its schema.
//!
//! # Which crates to embed
//!
//! The public API for embedders is `cdr-core` (the model), `cdr-transport` (the
//! API client), `cdr-sink-api` (the `Format` and `Destination` traits),
//! `cdr-sink-parquet` and `cdr-sink-csv` (the formats), `cdr-sink-local` and
//! `cdr-sink-s3` (the destinations) and `cdr-sink` (the archiver as a library).
//! Tools not meant for embedding: `cdr-sim` (the simulator, usable in
//! embedders' tests), `cdr-testkit` and `cdr-fuzz` (this workspace's test
//! support) and `xtask` (its build tasks). Programs to copy are the examples of
//! `cdr-transport` (`stream`), `cdr-sink-parquet` (`encode`) and `cdr-sink`
//! (`library`).
//!
//! This crate is public API, at the bottom: every other crate builds on its
//! types.
//!
//! # Example: build a query and drive the paginator over two pages
//!
//! ```
//! use cdr_core::*;
//!
//! let window = Window::new(
//!     parse_datetime("2026-11-01T00:00:00Z")?,
//!     parse_datetime("2026-11-01T01:00:00Z")?,
//! )?;
//! let query = PageQuery { cdr_type: "sms".parse()?, window, limit: Limit::new(2)?, company_id: None };
//! let doc = document(&Selection::all(), false, false);
//! let mut paginator = Paginator::new(query.clone());
//!
//! // Two hand-written answers, as the server would send them.
//! let answers = [
//!     r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":"abc","limit":2},"cdrs":[
//!         {"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":0.0035},
//!         {"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"0.0035"}]}}}"#,
//!     r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null,"limit":2},"cdrs":[
//!         {"__typename":"MessageCdr","datetime":"2026-11-01T00:59:59.999Z","charge":null}]}}}"#,
//! ];
//! let kind = query.cdr_type.record_kind(); // the member that answers SMS
//! let mut records = Vec::new();
//! let mut answers = answers.iter();
//! while let Some(request) = paginator.next_request() {
//!     let body = RequestBody::new(&doc, &query, &request).to_vec(); // what to POST
//!     assert!(!body.is_empty());
//!     let page = decode_page(answers.next().unwrap().as_bytes(), kind)?;
//!     paginator.on_page(&page)?;
//!     records.extend(page.records);
//! }
//! assert_eq!(records.len(), 3);
//! assert_eq!(paginator.pages(), 2);
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cdr_type;
mod cells;
mod field;
mod paginator;
mod parse;
mod query;
mod record;
mod response;
mod sanitize;
mod schema;
mod secret;
mod window;

/// The text of a record's field. A value of up to 24 bytes (phone numbers,
/// statuses, call ids: nearly all the API sends) is held inside the record
/// itself rather than in an allocation of its own, so a page's records lie
/// together in memory and are read, hashed and encoded without a jump per
/// field; longer values are allocated. It dereferences to `str` and is made
/// from `&str` or `String` with `.into()` (or [`compact_str::format_compact!`]).
pub type Text = compact_str::CompactString;
/// The crate of [`Text`], for its macros and traits.
pub use compact_str;

pub use cdr_type::{CdrType, UnknownCdrType, parse_type_list};
pub use cells::CellError;
pub use field::Value;
pub use paginator::{
    Checkpoint, Limit, LimitError, PageQuery, PageRequest, PaginationError, Paginator,
};
pub use parse::{ValueError, format_datetime, parse_datetime, parse_decimal, parse_integer};
pub use query::{RequestBody, Selection, UnknownField, Variables, document};
pub use record::{ApiCdr, Cdr, MessageCdr, RecordKind, Timestamped, VoiceCdr};
pub use response::{
    BadRecord, ErrorClass, GraphQlError, GraphQlErrors, MAX_TEXT_BYTES, Page, PageDecoder,
    ResponseError, UnknownMember, decode_errors, decode_page, decode_page_both_ways,
    decode_page_reusing, peek_next_cursor,
};
pub use sanitize::{REDACTED, SANITIZED_MAX_CHARS, sanitize, sanitize_to};
pub use schema::{
    Column, ColumnType, MONEY_INTEGER_DIGITS, MONEY_PRECISION, MONEY_SCALE, MoneyError,
    SCHEMA_VERSION, check_money,
};
pub use secret::{ExportLink, Password, Token};
pub use window::{Plan, Step, Window, WindowError, parse_duration, plan, whole_second};

/// Re-exported so that users of the record types need no direct dependency.
pub use chrono;
pub use rust_decimal;
