//! The GraphQL schema of the service on async-graphql: `cdrRecords`, the `Cdr`
//! union, `CdrType`, and the `DateTime` and `Decimal` scalars. Every query
//! document is parsed and validated here at least once; pages of documents
//! that the fast path cannot serve are executed here too.

use std::sync::Arc;

use async_graphql::{
    Context, EmptyMutation, EmptySubscription, Enum, ErrorExtensions, ID, InputValueError,
    InputValueResult, Name, Object, Scalar, ScalarType, Schema, SimpleObject, Union, Value,
};
use cdr_core::{ApiCdr, Cdr, CdrType, MessageCdr, RecordKind, VoiceCdr, format_datetime};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;

use crate::link;
use crate::state::{ArgError, AuthUser, RawArgs, State};
use crate::text::{parse_rfc3339, write_decimal};

/// The object key by which `serde_json` (and async-graphql's `raw_value`
/// feature) recognise a raw JSON value; it lets a money value be written as a
/// JSON number with its exact decimal text.
const RAW_VALUE_TOKEN: &str = "$serde_json::private::RawValue";

pub(crate) type SimSchema = Schema<QueryRoot, EmptyMutation, EmptySubscription>;

pub(crate) fn schema() -> SimSchema {
    Schema::build(QueryRoot, EmptyMutation, EmptySubscription).finish()
}

/// What the resolver needs of the request besides its arguments.
pub(crate) struct RequestData {
    pub state: Arc<State>,
    pub user: AuthUser,
    /// Selected columns per member kind ([`RecordKind::index`] order), for the export link.
    pub export_fields: Arc<[Vec<usize>; RecordKind::ALL.len()]>,
}

/// An RFC 3339 instant; parsed with `Z` or an offset, written in UTC with `Z`.
pub(crate) struct DateTimeScalar(pub DateTime<Utc>);

#[Scalar(name = "DateTime")]
impl ScalarType for DateTimeScalar {
    fn parse(value: Value) -> InputValueResult<Self> {
        match &value {
            Value::String(s) => parse_rfc3339(s).map(DateTimeScalar).ok_or_else(|| {
                InputValueError::custom(format!(
                    "invalid datetime `{s}`: expected RFC 3339, e.g. 2026-11-01T00:00:00Z"
                ))
            }),
            _ => Err(InputValueError::expected_type(value)),
        }
    }

    fn to_value(&self) -> Value {
        Value::String(format_datetime(&self.0))
    }
}

/// An exact decimal amount, written as a JSON number or a JSON string (both
/// occur) with its exact text.
pub(crate) struct Money {
    text: String,
    as_string: bool,
}

impl Money {
    fn new(d: Decimal, as_string: bool) -> Money {
        let mut out = Vec::with_capacity(24);
        write_decimal(&mut out, d.mantissa(), d.scale());
        Money {
            text: String::from_utf8_lossy(&out).into_owned(),
            as_string,
        }
    }
}

#[Scalar(name = "Decimal")]
impl ScalarType for Money {
    fn parse(value: Value) -> InputValueResult<Self> {
        let text = match &value {
            Value::String(s) => s.clone(),
            Value::Number(n) => n.to_string(),
            _ => return Err(InputValueError::expected_type(value)),
        };
        let d = Decimal::from_str_exact(text.trim())
            .map_err(|_| InputValueError::custom(format!("invalid decimal `{text}`")))?;
        Ok(Money::new(d, matches!(value, Value::String(_))))
    }

    fn to_value(&self) -> Value {
        if self.as_string {
            Value::String(self.text.clone())
        } else {
            Value::Object(
                [(Name::new(RAW_VALUE_TOKEN), Value::String(self.text.clone()))]
                    .into_iter()
                    .collect(),
            )
        }
    }
}

#[derive(Enum, Clone, Copy, PartialEq, Eq)]
#[graphql(name = "CdrType", rename_items = "UPPERCASE")]
pub(crate) enum GqlCdrType {
    Sms,
    Mms,
    Voice,
    Api,
}

impl From<GqlCdrType> for CdrType {
    fn from(t: GqlCdrType) -> CdrType {
        match t {
            GqlCdrType::Sms => CdrType::Sms,
            GqlCdrType::Mms => CdrType::Mms,
            GqlCdrType::Voice => CdrType::Voice,
            GqlCdrType::Api => CdrType::Api,
        }
    }
}

pub(crate) struct ApiObj(ApiCdr, bool);
pub(crate) struct MessageObj(MessageCdr, bool);
pub(crate) struct VoiceObj(VoiceCdr, bool);

fn money(d: &Option<Decimal>, as_string: bool) -> Option<Money> {
    d.map(|d| Money::new(d, as_string))
}

#[Object(name = "ApiCdr")]
impl ApiObj {
    async fn datetime(&self) -> DateTimeScalar {
        DateTimeScalar(self.0.datetime)
    }
    async fn from(&self) -> Option<&str> {
        self.0.from.as_deref()
    }
    async fn destination(&self) -> Option<&str> {
        self.0.destination.as_deref()
    }
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    async fn charge(&self) -> Option<Money> {
        money(&self.0.charge, self.1)
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> Option<&str> {
        self.0.r#type.as_deref()
    }
}

#[Object(name = "MessageCdr")]
impl MessageObj {
    async fn datetime(&self) -> DateTimeScalar {
        DateTimeScalar(self.0.datetime)
    }
    async fn from_number(&self) -> Option<&str> {
        self.0.from_number.as_deref()
    }
    async fn to_number(&self) -> Option<&str> {
        self.0.to_number.as_deref()
    }
    async fn direction(&self) -> Option<&str> {
        self.0.direction.as_deref()
    }
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    async fn charge(&self) -> Option<Money> {
        money(&self.0.charge, self.1)
    }
    #[graphql(name = "type")]
    async fn kind(&self) -> Option<&str> {
        self.0.r#type.as_deref()
    }
}

#[Object(name = "VoiceCdr")]
impl VoiceObj {
    async fn datetime(&self) -> DateTimeScalar {
        DateTimeScalar(self.0.datetime)
    }
    async fn call_id(&self) -> Option<&str> {
        self.0.call_id.as_deref()
    }
    async fn source_ani(&self) -> Option<&str> {
        self.0.source_ani.as_deref()
    }
    async fn destination_number(&self) -> Option<&str> {
        self.0.destination_number.as_deref()
    }
    async fn did_used(&self) -> Option<&str> {
        self.0.did_used.as_deref()
    }
    /// Whole seconds.
    async fn session_time(&self) -> Option<i64> {
        self.0.session_time
    }
    async fn status(&self) -> Option<&str> {
        self.0.status.as_deref()
    }
    async fn called_rate(&self) -> Option<Money> {
        money(&self.0.called_rate, self.1)
    }
    async fn charge(&self) -> Option<Money> {
        money(&self.0.charge, self.1)
    }
    async fn call_type(&self) -> Option<&str> {
        self.0.call_type.as_deref()
    }
    async fn ani_ii(&self) -> Option<&str> {
        self.0.ani_ii.as_deref()
    }
}

#[derive(Union)]
#[graphql(name = "Cdr")]
pub(crate) enum CdrUnion {
    Api(ApiObj),
    Message(MessageObj),
    Voice(VoiceObj),
}

impl CdrUnion {
    fn new(cdr: Cdr, money_as_string: bool) -> CdrUnion {
        match cdr {
            Cdr::Api(r) => CdrUnion::Api(ApiObj(r, money_as_string)),
            Cdr::Message(r) => CdrUnion::Message(MessageObj(r, money_as_string)),
            Cdr::Voice(r) => CdrUnion::Voice(VoiceObj(r, money_as_string)),
        }
    }
}

#[derive(SimpleObject)]
pub(crate) struct PaginationInfo {
    /// Pass it back as `cursor` for the next page; null at the end.
    next_cursor: Option<String>,
    limit: i32,
}

#[derive(SimpleObject)]
pub(crate) struct PaginatedCdrResult {
    /// Signed URL of a CSV export of the whole window with the selected fields.
    export_link: Option<String>,
    pagination_info: PaginationInfo,
    cdrs: Vec<CdrUnion>,
}

pub(crate) fn arg_error(e: ArgError) -> async_graphql::Error {
    async_graphql::Error::new(e.to_string()).extend_with(|_, ext| ext.set("code", "BAD_USER_INPUT"))
}

pub(crate) struct QueryRoot;

#[Object]
impl QueryRoot {
    /// CDRs of one type in `[startDatetime, endDatetime)`, a page at a time.
    #[allow(clippy::too_many_arguments)]
    async fn cdr_records(
        &self,
        ctx: &Context<'_>,
        company_id: Option<ID>,
        #[graphql(name = "type")] cdr_type: GqlCdrType,
        start_datetime: DateTimeScalar,
        end_datetime: DateTimeScalar,
        cursor: Option<String>,
        limit: Option<i32>,
    ) -> async_graphql::Result<PaginatedCdrResult> {
        let req = ctx.data::<RequestData>()?;
        let t = CdrType::from(cdr_type);
        let raw = RawArgs {
            t,
            start: start_datetime.0,
            end: end_datetime.0,
            cursor,
            limit: limit.map(i64::from),
            company_id: company_id.map(|c| c.0),
        };
        let args = req.state.check(&req.user, raw).map_err(arg_error)?;
        let page = req.state.page(&args);
        let export_link = link::url(
            &req.state.signer,
            &req.state.base_url,
            &args.scope,
            &req.export_fields[t.record_kind().index()],
        );
        let cdrs = page
            .rows
            .iter()
            .map(|row| {
                let view = page.source.view(row);
                CdrUnion::new(view.to_cdr(), view.money_as_string())
            })
            .collect();
        Ok(PaginatedCdrResult {
            export_link: Some(export_link),
            pagination_info: PaginationInfo {
                next_cursor: page.next_cursor,
                limit: args.limit as i32,
            },
            cdrs,
        })
    }
}
