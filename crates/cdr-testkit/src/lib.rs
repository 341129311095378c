//! `cdr-testkit`: test-only helpers for the cdr-sink crates.
//!
//! - [`S3Server`]: a real S3-compatible server over HTTP. Uses the server at
//!   `CDR_TEST_S3_ENDPOINT` if set, otherwise starts moto's server on a free
//!   loopback port and stops it when dropped or when the test process dies.
//!   [`S3Server::shared`] gives one server per test binary; tests keep apart
//!   with [`S3Server::new_bucket`].
//! - moto runs from the test environment that `cargo xtask test` makes
//!   (`target/test-env`, see [`test_python`]), through the launcher
//!   `moto_server.py` beside this crate's manifest. The launcher serves one
//!   request at a time, so conditional writes (`PutObject` with
//!   `If-None-Match: *` or `If-Match`, `DeleteObject` with `If-Match`) are
//!   atomic as on S3: of any number of concurrent create-only writes of one
//!   key exactly one succeeds, the others get 412.
//!   [`S3Server::start_ignoring_conditions`] starts a server of its own that
//!   ignores those headers, like a store without conditional writes.
//! - Every answer carries a `Date` header and `HeadObject` a `Last-Modified`
//!   (both to the second), the store's clock that the claims protocol reads
//!   (`tests/conditions.rs` checks them).
//! - [`S3Server::pending_uploads`] and [`S3Server::objects`] show what a bucket
//!   holds, for assertions.
//! - [`records`]: deterministic sample CDRs, hand-picked edge cases and
//!   proptest strategies for every record kind, shared by the format crates'
//!   tests and benchmarks.
//! - [`FaultProxy`]: a TCP proxy that cuts large requests on demand, to break
//!   the network in the middle of an upload.
//!
//! - [`until`]: waits for a condition (a server's state, a child's
//!   progress), bounded only against hangs ([`HANG_GUARD`]).
//!
//! It is not a mock: requests go over real HTTP to a real server. Not published.
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
//! This crate is this workspace's test support, not meant for embedding.

mod error;
mod inspect;
mod moto;
mod proxy;
pub mod records;
mod server;
mod wait;

pub use error::TestkitError;
pub use inspect::PendingUpload;
pub use moto::test_python;
pub use proxy::FaultProxy;
pub use server::{ACCESS_KEY_ID, REGION, S3Server, SECRET_ACCESS_KEY};
pub use wait::{HANG_GUARD, until};
