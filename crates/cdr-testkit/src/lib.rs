//! `cdr-testkit`: test-only helpers for the cdr-sink crates.
//!
//! - [`S3Server`]: a real S3-compatible server over HTTP. Uses the server at
//!   `CDR_TEST_S3_ENDPOINT` if set, otherwise starts moto's server
//!   (`pip install 'moto[server]>=5.2.5'`) on a free loopback port and stops it
//!   when dropped or when the test process dies. [`S3Server::shared`] gives one
//!   server per test binary; tests keep apart with [`S3Server::new_bucket`].
//! - [`S3Server::pending_uploads`] and [`S3Server::objects`] show what a bucket
//!   holds, for assertions.
//! - [`records`]: deterministic sample CDRs, hand-picked edge cases and
//!   proptest strategies for every record kind, shared by the format crates'
//!   tests and benchmarks.
//! - [`FaultProxy`]: a TCP proxy that cuts large requests on demand, to break
//!   the network in the middle of an upload.
//!
//! It is not a mock: requests go over real HTTP to a real server. Not published.

mod proxy;
pub mod records;
mod server;

pub use proxy::FaultProxy;
pub use server::{ACCESS_KEY_ID, PendingUpload, REGION, S3Server, SECRET_ACCESS_KEY, TestkitError};
