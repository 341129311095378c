//! `cdr-transport`: talks to the TSG Global CDR API over HTTP.
//!
//! What it is: a [`Client`] (reqwest with rustls, on tokio) that logs in and
//! keeps the token ([`Auth`]), retries what is worth retrying with exponential
//! backoff, jitter and `Retry-After` ([`RetryPolicy`]), and offers two ways to
//! get CDRs out:
//!
//! - [`Client::records`]: a lazy stream of pages that drives `cdr-core`'s
//!   [`Paginator`](cdr_core::Paginator) from the first cursor to the last,
//!   resumable from a [`Checkpoint`](cdr_core::Checkpoint) ([`Client::pages`],
//!   [`Client::records_from`]);
//! - [`Client::export`]: the signed CSV export of a window, streamed as it
//!   arrives, with a distinct [`TransportError::ExportCut`] when the body is cut
//!   so that the caller can split the window.
//!
//! A broken or hostile server cannot make it misbehave: login and GraphQL
//! requests follow no redirect (the password and token go to the configured
//! URL only), an export link and its few redirects must lead to a public
//! `https` address (checked as written and as resolved, never loopback,
//! private, link-local or a metadata service), every body is read within a
//! [`Limits`] setting (page size, error body size, export deadline and
//! minimum rate), and the server's text is sanitized
//! ([`cdr_core::sanitize`]) before it enters an error or a log line.
//!
//! Errors are typed ([`TransportError`]) and say what to do; counters of
//! requests, retries by reason, logins, pages and records are shared by a
//! client's clones ([`Client::stats`], [`Client::with_own_stats`]). Passwords, tokens and export links never
//! appear in errors, logs or `Debug` output.
//!
//! What it is not: it knows no file format and no store (no Parquet, CSV
//! encoding or S3), and no GraphQL beyond sending `cdr-core`'s document and
//! handing its bytes to `cdr-core`'s decoder.
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
//! This crate is public API: stream records into your own code with it (the
//! `stream` example); `cdr-sink` fetches through it.
//!
//! # Example: log in and count the SMS records of a window
//!
//! ```
//! # // The example runs against the simulator, started here on a free port.
//! # tokio::runtime::Runtime::new().unwrap().block_on(async {
//! # let sim = cdr_sim::start(cdr_sim::SimConfig::default()).await.unwrap();
//! # let base_url = sim.base_url();
//! use cdr_core::{CdrType, Password, Window, parse_datetime};
//! use cdr_transport::{Auth, Client, ClientConfig, RecordsRequest};
//! use futures_util::TryStreamExt;
//!
//! let client = Client::new(
//!     ClientConfig::new(Auth::Login {
//!         email: "user@example.com".into(),
//!         password: Password::new("user-password"),
//!     })
//!     .with_base_url(base_url), // omit for the production API
//! )?;
//! client.login().await?; // fails fast on bad credentials
//!
//! let window = Window::new(
//!     parse_datetime("2026-11-01T00:00:00Z")?,
//!     parse_datetime("2026-11-01T01:00:00Z")?,
//! )?;
//! let mut pages = client.records(RecordsRequest::new(CdrType::Sms, window));
//! let mut count = 0;
//! while let Some(page) = pages.try_next().await? {
//!     count += page.records.len();
//! }
//! println!("{count} SMS records in {window}");
//! # assert_eq!(count, sim.ground_truth(CdrType::Sms, window).count());
//! # assert_eq!(client.stats().records, count as u64);
//! # sim.shutdown().await;
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! # }).unwrap();
//! ```

pub mod adaptive;
mod body;
mod client;
mod config;
mod credentials;
mod error;
mod export;
mod guard;
mod reason;
mod records;
mod retry;
mod stats;
mod throttle;

pub use client::Client;
pub use config::{Auth, ClientConfig, DEFAULT_BASE_URL, Limits, RetryPolicy};
pub use credentials::CredentialsError;
pub use error::{AuthProblem, ExportLimit, NetworkKind, TransportError};
pub use export::{ExportBody, ExportRequest};
pub use reason::RetryReason;
pub use records::{CheckpointedPage, RecordPool, RecordsRequest};
pub use retry::parse_retry_after;
pub use stats::Stats;
pub use throttle::{Admission, Concurrency, Resting, Throttle, ThrottleReport};
