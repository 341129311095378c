//! `cdr-sim`: a faithful fake of the TSG Global CDR API over real HTTP, for
//! tests, benchmarks and the demo.
//!
//! What it is: an axum server with the service's three endpoints, as
//! `tsg-api.md` documents them:
//!
//! - `POST /account/login` — the configured users ([`SimConfig::users`]); the
//!   documented 200 body (`token`, `user { email first_name id last_name level }`)
//!   and 401 body (`{"errors":[{"id":"unauthorized","message":"Invalid email or password."}]}`).
//! - `POST /graphql` with `Authorization: Bearer <token>` — the `cdrRecords`
//!   query on async-graphql, so documents are parsed and validated as a real
//!   server does (fragments on the `Cdr` union, variable types, unknown fields
//!   rejected). Rules: `limit` 1..=1000 (default 100); `startDatetime` before
//!   `endDatetime`; `endDatetime` at most 5 s past now; `companyId` only for
//!   admins; cursors bound to their query. Broken rules are GraphQL errors
//!   (HTTP 200, `data: null`). A missing or unknown token is HTTP 401 with
//!   `{"errors":[{"message":"unauthorized",...}]}`; an expired one gets the
//!   configured [`ExpiredAnswer`] (default: HTTP 200 and a GraphQL error
//!   `unauthenticated: ...` with the code `UNAUTHENTICATED`).
//! - `GET /export/{type}?start=..&end=..&fields=..[&company=..]&sig=..` — the
//!   URL `exportLink` returns, signed with HMAC-SHA256 (a changed parameter
//!   gets 403). It streams the CSV of the whole window with the fields the
//!   query selected for the matching member, in query order: a header of the
//!   GraphQL field names, RFC 3339 UTC datetimes with `Z`, exact decimals,
//!   empty cells for null, RFC 4180 quoting, CRLF line ends.
//!
//! What it is not: it does not decode responses with `cdr-core` (it parses
//! requests with async-graphql and writes its own JSON, so a client decoding
//! bug cannot hide itself), and it knows nothing of `cdr-transport`.
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
//! This crate is a tool, not meant for embedding: start it in your tests in
//! place of the real API, as the examples do.
//!
//! # Data
//!
//! Records are generated on demand from a seed and a records-per-hour rate per
//! type ([`DataModel`]): a window of ten million records costs no memory and a
//! page costs O(page size). The data has bursts of hundreds of records sharing
//! one datetime, records exactly on hour and day boundaries, nulls in every
//! nullable field, non-ASCII and CSV-hostile text (commas, quotes, line
//! breaks), and money with 0 to 5 decimals, written as a JSON number for some
//! records and a JSON string for others. Pages are ordered by datetime, then a
//! stable id; cursors are opaque, HMAC-signed with a per-server key and bound to
//! type, window and company. [`SimHandle::ground_truth`] (or [`ground_truth`]
//! without a server) lists exactly what the server serves, in its order.
//!
//! # Faults
//!
//! [`Faults`] draws, per GraphQL request number and deterministically for its
//! seed, at most one of: 429 (half with `Retry-After`), 502/503 with an HTML
//! body, a connection dropped after the headers and part of the body, a
//! complete 200 whose JSON is cut off. Also: tokens that expire after
//! [`SimConfig::token_ttl_requests`] requests, exports capped at
//! [`SimConfig::export_row_cap`] rows (the body then ends in an error), and,
//! with [`SimHandle::set_export_faults`], the same draws for exports. Every
//! request kind and injected fault is counted in [`Counters`].
//!
//! # Rate limit and latency
//!
//! [`SimConfig::quota`] ([`Quota`], binary `--quota N` and
//! `--quota-window-ms MS`) limits GraphQL requests as a real service's
//! gateway does: at most N accepted in any sliding window (one second by
//! default), over all clients. A request beyond is answered at once with
//! HTTP 429, `{"errors":[{"message":"too many requests"}]}` and
//! `Retry-After`: the whole seconds until the oldest accepted request leaves
//! the window, rounded up, at least 1 (`Quota::retry_after: false`, binary
//! `--quota-no-retry-after`: no header). Refused requests do not use the
//! budget; logins and exports are not counted. [`Counters::quota_accepted`]
//! and [`Counters::quota_refused`] count the two answers. Unlike the random
//! 429 of [`Faults::rate_limit`], it answers to how fast requests come.
//!
//! [`SimConfig::latency`] (binary `--latency-ms`) is the time from a GraphQL
//! request's arrival to its answer, service time included: the answer is
//! built at once and leaves `latency` after the request arrived (at once if
//! building it took longer). So a client keeping N requests in flight gets
//! N answers per latency, as long as the server builds pages faster than
//! that. Logins, exports and requests the quota refuses are not delayed.
//!
//! # Hooks: data an archive must not lose or store wrongly
//!
//! Each hook is deterministic, changes what queries serve (and exports, where
//! noted), and is reflected in [`SimHandle::ground_truth`], which lists the
//! records an archive should hold; [`SimHandle::injected`] lists, per window,
//! what the listing holds besides them.
//!
//! | hook | binary flag | served | ground truth |
//! |---|---|---|---|
//! | [`SimHandle::set_unknown_members`]: every n-th generated record of each hour served as a member clients have no fragment for ([`UnknownMembers`]) | `--unknown-member RcsCdr:N[:TYPES]` | instead of the record, in its place: `{"__typename":"RcsCdr"}` (what the document selects outside fragments); not in exports | without it |
//! | [`SimHandle::corrupt`]: a value of one record replaced by JSON text, e.g. `"N/A"` or `0.123456789012` for `charge` | | the text as given; exports show its string content | without the record |
//! | [`SimHandle::insert_wrong_member`]: a record of another member (a `VoiceCdr` among SMS) | | as that member; not in exports | without it |
//! | [`SimHandle::set_expired_answer`] (status, message, code) and [`SimHandle::expire_tokens`] | `--expired-status`, `--expired-message`, `--expired-code` | the answer to an expired token | |
//! | [`SimHandle::remove`], [`SimHandle::retain_from`]: records vanish (a data set that shrinks between runs) | | gone | gone |
//! | [`SimHandle::rerate`]: charges of a window change by an amount (same records) | | new amounts | new amounts |
//!
//! Members of unknown type and replaced values cannot be expressed in the
//! schema's types, so while one is set, pages of the documents the fast path
//! serves (the plain shape clients send) are written by the hand-written
//! writer even on first sight (async-graphql still validates the document);
//! pages of other documents are served without them.
//!
//! # Speed
//!
//! The first request of each distinct query document goes through
//! async-graphql's executor, which validates it; later pages of the same
//! document text are written by a hand-written JSON writer (the "fast path"),
//! with the same bytes (a test compares both). Measured with
//! `cargo bench -p cdr-sim --bench serve` on the project's 2-core machine
//! (shared with other builds while measuring), pages of 1000 records over HTTP,
//! reqwest client in the same process, median of 5 runs:
//!
//! | what | records/s |
//! |---|---|
//! | fast path, one client paging SMS sequentially | about 2.0 million |
//! | fast path, one client paging VOICE (larger records) | about 1.4 million |
//! | fast path, two clients at once (both cores) | about 3.3 to 3.9 million |
//! | async-graphql executor (`fast_path: false`) | about 0.15 million |
//!
//! Rendering alone (no HTTP) writes about 6 million SMS or 2.8 million VOICE
//! records per second on one core; a sequential client mostly waits on the
//! round trip.
//!
//! # Example
//!
//! ```
//! # tokio::runtime::Runtime::new()?.block_on(async {
//! let sim = cdr_sim::start(cdr_sim::SimConfig::default()).await?;
//! println!("simulator at {}", sim.base_url());
//!
//! let login: serde_json::Value = reqwest::Client::new()
//!     .post(format!("{}/account/login", sim.base_url()))
//!     .json(&serde_json::json!({"email": "user@example.com", "password": "user-password"}))
//!     .send()
//!     .await?
//!     .json()
//!     .await?;
//! assert!(login["token"].as_str().unwrap_or("").starts_with("POAPK_"));
//! assert_eq!(login["user"]["level"], "basic_user");
//! assert_eq!(sim.counters().logins, 1);
//! sim.shutdown().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # })?;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod cells;
mod config;
mod data;
mod doc;
mod export;
mod fast;
mod faults;
mod gql;
mod handle;
mod hooks;
mod link;
mod pace;
mod respond;
mod server;
mod sign;
mod source;
mod state;
mod text;

use cdr_core::{Cdr, CdrType, Window};

pub use config::{Faults, Quota, SimConfig, SimUser};
pub use data::DataModel;
pub use handle::{SimHandle, start};
pub use hooks::{ExpiredAnswer, Injected, UnknownMembers};

/// Why a simulator could not start.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SimError {
    /// The address could not be bound: choose another `bind` address or port.
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: std::net::SocketAddr,
        source: std::io::Error,
    },
    /// The configuration is inconsistent; the message says what to change.
    #[error("invalid simulator configuration: {0}")]
    Config(String),
}

/// A snapshot of what a simulator has served.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Counters {
    /// Every HTTP request.
    pub requests: u64,
    /// Requests to `/graphql`, those the quota refused included.
    pub graphql_requests: u64,
    /// Successful logins.
    pub logins: u64,
    /// Refused logins (bad credentials or body).
    pub failed_logins: u64,
    /// Export downloads with a valid signature.
    pub exports: u64,
    /// Injected 429 answers ([`Faults::rate_limit`]; not the quota's).
    pub rate_limited: u64,
    /// GraphQL requests the [`Quota`] accepted (none without one).
    pub quota_accepted: u64,
    /// GraphQL requests the [`Quota`] refused with HTTP 429.
    pub quota_refused: u64,
    /// Injected 502/503 answers.
    pub server_errors: u64,
    /// Injected dropped connections.
    pub resets: u64,
    /// Injected cut-off JSON bodies.
    pub truncated: u64,
    /// Requests refused because their token had expired.
    pub expired_tokens: u64,
    /// GraphQL responses written by the fast path.
    pub fast_path_pages: u64,
    /// Exports whose body ended in an error (row cap or injected fault).
    pub aborted_exports: u64,
}

/// The generated records of `t` in `w` for `config`'s seed and rates, in server
/// order, without a server (late records are only known to a [`SimHandle`]).
pub fn ground_truth(
    config: &SimConfig,
    t: CdrType,
    w: Window,
) -> impl Iterator<Item = Cdr> + use<> {
    DataModel::new(config.seed, &config.rates).records(t, w)
}
