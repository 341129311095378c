//! Test-side helpers: a client for the simulator and a small JSON and CSV
//! reading of its answers that keeps exact number text (no `cdr-core`
//! decoding, so that a decoding bug there cannot hide one here).

#![allow(dead_code)]

use std::fmt;

use cdr_core::{Cdr, CdrType, Value, Window, format_datetime, parse_datetime};
use cdr_sim::{SimConfig, SimHandle};
use chrono::{DateTime, Utc};
use serde::Deserialize;
use serde::de::{MapAccess, Visitor};
use serde_json::value::RawValue;

/// The fixed clock of the tests: windows on 2026-11-01 are in the past.
pub fn now() -> DateTime<Utc> {
    t("2026-11-02T00:00:00Z")
}

pub fn t(s: &str) -> DateTime<Utc> {
    parse_datetime(s).unwrap()
}

pub fn window(a: &str, b: &str) -> Window {
    Window::new(t(a), t(b)).unwrap()
}

pub fn config() -> SimConfig {
    SimConfig {
        seed: 11,
        now: Some(now()),
        ..SimConfig::default()
    }
}

pub async fn sim() -> SimHandle {
    cdr_sim::start(config()).await.unwrap()
}

pub const USER: (&str, &str) = ("user@example.com", "user-password");
pub const ADMIN: (&str, &str) = ("admin@example.com", "admin-password");
pub const STATIC_TOKEN: &str = "POAPK_sim-static-token";

/// Every field of every member, `__typename` first, `paginationInfo` before `cdrs`.
pub const FULL_DOC: &str = "query CdrRecords($type: CdrType!, $startDatetime: DateTime!, $endDatetime: DateTime!, $cursor: String, $limit: Int, $companyId: ID) {
  cdrRecords(type: $type, startDatetime: $startDatetime, endDatetime: $endDatetime, cursor: $cursor, limit: $limit, companyId: $companyId) {
    exportLink
    paginationInfo { nextCursor limit }
    cdrs {
      ... on ApiCdr { __typename datetime from destination status charge type }
      ... on MessageCdr { __typename datetime fromNumber toNumber direction status charge type }
      ... on VoiceCdr { __typename datetime callId sourceAni destinationNumber didUsed sessionTime status calledRate charge callType aniIi }
    }
  }
}";

pub struct Client {
    pub http: reqwest::Client,
    pub base: String,
}

impl Client {
    pub fn new(sim: &SimHandle) -> Client {
        Client {
            http: reqwest::Client::new(),
            base: sim.base_url(),
        }
    }

    pub async fn login_raw(&self, email: &str, password: &str) -> (u16, serde_json::Value) {
        let r = self
            .http
            .post(format!("{}/account/login", self.base))
            .json(&serde_json::json!({"email": email, "password": password}))
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap())
    }

    pub async fn login(&self, who: (&str, &str)) -> String {
        let (status, body) = self.login_raw(who.0, who.1).await;
        assert_eq!(status, 200, "{body}");
        body["token"].as_str().unwrap().to_string()
    }

    /// Status and raw body of a GraphQL POST.
    pub async fn post(
        &self,
        token: Option<&str>,
        query: &str,
        variables: serde_json::Value,
    ) -> (u16, Vec<u8>) {
        let mut req = self
            .http
            .post(format!("{}/graphql", self.base))
            .json(&serde_json::json!({"query": query, "variables": variables}));
        if let Some(tok) = token {
            req = req.bearer_auth(tok);
        }
        let r = req.send().await.unwrap();
        let status = r.status().as_u16();
        (status, r.bytes().await.unwrap().to_vec())
    }

    /// A page that must succeed.
    pub async fn page(&self, token: &str, query: &str, variables: serde_json::Value) -> Page {
        let (status, body) = self.post(Some(token), query, variables).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        Page::read(&body)
    }

    /// The GraphQL error messages of a request that must fail with HTTP 200 and `data: null`.
    pub async fn errors(
        &self,
        token: &str,
        query: &str,
        variables: serde_json::Value,
    ) -> Vec<String> {
        let (status, body) = self.post(Some(token), query, variables).await;
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&body));
        graphql_errors(&body)
    }

    /// Every record of a window, paging with `limit`; also the page count.
    pub async fn all_pages(
        &self,
        token: &str,
        query: &str,
        t: CdrType,
        w: Window,
        limit: u32,
    ) -> (Vec<Record>, usize) {
        let mut cursor: Option<String> = None;
        let mut out = Vec::new();
        let mut pages = 0;
        loop {
            let page = self
                .page(token, query, vars(t, w, cursor.as_deref(), Some(limit)))
                .await;
            pages += 1;
            assert!(page.cdrs.len() <= limit as usize);
            assert_eq!(page.limit, Some(u64::from(limit)));
            if page.next_cursor.is_some() {
                assert_eq!(
                    page.cdrs.len(),
                    limit as usize,
                    "only the last page is short"
                );
            }
            out.extend(page.cdrs);
            match page.next_cursor {
                Some(c) => {
                    assert_ne!(Some(&c), cursor.as_ref(), "a cursor must not repeat");
                    cursor = Some(c);
                }
                None => break,
            }
        }
        (out, pages)
    }
}

pub fn vars(t: CdrType, w: Window, cursor: Option<&str>, limit: Option<u32>) -> serde_json::Value {
    serde_json::json!({
        "type": t.as_str(),
        "startDatetime": format_datetime(&w.start()),
        "endDatetime": format_datetime(&w.end()),
        "cursor": cursor,
        "limit": limit,
    })
}

/// The `message`s of a response that has `data: null` and an `errors` array.
pub fn graphql_errors(body: &[u8]) -> Vec<String> {
    let v: serde_json::Value = serde_json::from_slice(body).unwrap();
    assert!(v["data"].is_null(), "{v}");
    let errors = v["errors"]
        .as_array()
        .unwrap_or_else(|| panic!("no errors: {v}"));
    assert!(!errors.is_empty());
    errors
        .iter()
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

/// A JSON value as sent: null, a string (decoded) or a number (its exact text).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Raw {
    Null,
    Str(String),
    Num(String),
    Other(String),
}

impl Raw {
    fn of(raw: &RawValue) -> Raw {
        let text = raw.get().trim();
        if text == "null" {
            Raw::Null
        } else if text.starts_with('"') {
            Raw::Str(serde_json::from_str(text).unwrap())
        } else if text.starts_with(|c: char| c == '-' || c.is_ascii_digit()) {
            Raw::Num(text.to_string())
        } else {
            Raw::Other(text.to_string())
        }
    }

    /// The text of a string or number; `None` for null.
    pub fn text(&self) -> Option<&str> {
        match self {
            Raw::Null => None,
            Raw::Str(s) | Raw::Num(s) | Raw::Other(s) => Some(s),
        }
    }
}

/// An object's members in the order sent.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record(pub Vec<(String, Raw)>);

impl Record {
    pub fn get(&self, key: &str) -> Option<&Raw> {
        self.0.iter().find(|(k, _)| k == key).map(|(_, v)| v)
    }

    pub fn keys(&self) -> Vec<&str> {
        self.0.iter().map(|(k, _)| k.as_str()).collect()
    }
}

struct Ordered(Vec<(String, Box<RawValue>)>);

impl<'de> Deserialize<'de> for Ordered {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Ordered;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut m: A) -> Result<Ordered, A::Error> {
                let mut out = Vec::new();
                while let Some((k, v)) = m.next_entry::<String, Box<RawValue>>()? {
                    out.push((k, v));
                }
                Ok(Ordered(out))
            }
        }
        d.deserialize_map(V)
    }
}

/// One `cdrRecords` page.
#[derive(Debug, Clone)]
pub struct Page {
    pub export_link: Option<String>,
    pub next_cursor: Option<String>,
    pub limit: Option<u64>,
    pub cdrs: Vec<Record>,
    /// Keys of the `cdrRecords` object, in the order sent.
    pub keys: Vec<String>,
}

impl Page {
    pub fn read(body: &[u8]) -> Page {
        #[derive(Deserialize)]
        struct Envelope {
            data: Box<RawValue>,
            #[serde(default)]
            errors: Option<serde_json::Value>,
        }
        let env: Envelope = serde_json::from_slice(body)
            .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(body)));
        assert!(env.errors.is_none(), "{:?}", env.errors);
        let data: Ordered = serde_json::from_str(env.data.get()).unwrap();
        let result: Ordered = serde_json::from_str(data.0[0].1.get()).unwrap();
        let mut page = Page {
            export_link: None,
            next_cursor: None,
            limit: None,
            cdrs: Vec::new(),
            keys: result.0.iter().map(|(k, _)| k.clone()).collect(),
        };
        for (k, v) in &result.0 {
            match k.as_str() {
                "exportLink" => page.export_link = serde_json::from_str(v.get()).unwrap(),
                "paginationInfo" => {
                    let info: serde_json::Value = serde_json::from_str(v.get()).unwrap();
                    page.next_cursor = info["nextCursor"].as_str().map(str::to_string);
                    page.limit = info["limit"].as_u64();
                }
                "cdrs" => {
                    let list: Vec<Ordered> = serde_json::from_str(v.get()).unwrap();
                    page.cdrs = list
                        .into_iter()
                        .map(|o| Record(o.0.iter().map(|(k, v)| (k.clone(), Raw::of(v))).collect()))
                        .collect();
                }
                _ => {}
            }
        }
        page
    }
}

/// The expected text of column `col` of a ground-truth record; `None` for null.
pub fn expected_text(c: &Cdr, col: usize) -> Option<String> {
    match c.value(col) {
        Value::Null => None,
        Value::Timestamp(t) => Some(format_datetime(&t)),
        Value::Decimal(d) => Some(d.to_string()),
        Value::Int64(v) => Some(v.to_string()),
        Value::Str(s) => Some(s.to_string()),
    }
}

/// Checks a served record against a ground-truth record, field by field:
/// `__typename`, every selected column's text and JSON type.
pub fn assert_same(got: &Record, want: &Cdr, index: usize) {
    let kind = want.kind();
    assert_eq!(
        got.get("__typename"),
        Some(&Raw::Str(kind.typename().to_string())),
        "record {index}"
    );
    for (key, raw) in &got.0 {
        if key == "__typename" {
            continue;
        }
        let col = kind
            .columns()
            .iter()
            .position(|c| c.graphql == key)
            .unwrap_or_else(|| panic!("unknown field {key} in {got:?}"));
        let want_text = expected_text(want, col);
        assert_eq!(
            raw.text().map(str::to_string),
            want_text,
            "record {index} field {key}: {got:?}"
        );
        match (kind.columns()[col].ty, raw) {
            (_, Raw::Null) => {}
            (cdr_core::ColumnType::Decimal, Raw::Num(_) | Raw::Str(_)) => {}
            (cdr_core::ColumnType::Int64, Raw::Num(_)) => {}
            (cdr_core::ColumnType::Timestamp | cdr_core::ColumnType::Utf8, Raw::Str(_)) => {}
            (ty, raw) => panic!("record {index} field {key}: {raw:?} is not a JSON {ty:?}"),
        }
    }
}

/// Parses RFC 4180 CSV: `None` for an empty unquoted field, `Some("")` for `""`.
pub fn parse_csv(text: &str) -> Vec<Vec<Option<String>>> {
    let mut rows = Vec::new();
    let mut row = Vec::new();
    let mut chars = text.chars().peekable();
    let mut field = String::new();
    let mut quoted = false;
    let mut any = false;
    while let Some(c) = chars.next() {
        if quoted {
            if c == '"' {
                if chars.peek() == Some(&'"') {
                    chars.next();
                    field.push('"');
                } else {
                    quoted = false;
                }
            } else {
                field.push(c);
            }
            continue;
        }
        match c {
            '"' => {
                quoted = true;
                any = true;
            }
            ',' => {
                row.push((any || !field.is_empty()).then(|| std::mem::take(&mut field)));
                any = false;
            }
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                row.push((any || !field.is_empty()).then(|| std::mem::take(&mut field)));
                any = false;
                rows.push(std::mem::take(&mut row));
            }
            c => field.push(c),
        }
    }
    assert!(!quoted, "unterminated quoted field");
    assert!(
        row.is_empty() && field.is_empty(),
        "last line lacks its line end"
    );
    rows
}

/// Byte offsets just after each record's line end (outside quoted fields).
pub fn record_ends(text: &str) -> Vec<usize> {
    let mut ends = Vec::new();
    let mut quoted = false;
    for (i, b) in text.bytes().enumerate() {
        match b {
            b'"' => quoted = !quoted,
            b'\n' if !quoted => ends.push(i + 1),
            _ => {}
        }
    }
    ends
}
