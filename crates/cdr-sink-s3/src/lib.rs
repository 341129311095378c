//! `cdr-sink-s3`: an S3 bucket and prefix as a [`cdr_sink_api::Destination`].
//!
//! What it is:
//! - [`S3Destination::from_url`] takes `s3://bucket/prefix/` and [`S3Options`],
//!   and builds an `aws-sdk-s3` client from the standard AWS chain
//!   (`AWS_REGION`, `AWS_ACCESS_KEY_ID`, `AWS_PROFILE`, `AWS_ENDPOINT_URL`, ...).
//!   Object keys are `prefix + key`.
//! - Uploads stream: bytes are cut into parts of [`S3Options::part_size`]
//!   (at least 5 MiB) and sent as a multipart upload, with at most
//!   [`S3Options::max_parts_in_flight`] parts in flight, so memory per upload is
//!   bounded by `part_size * (1 + max_parts_in_flight)` whatever the object's size.
//!   An object smaller than one part is stored with one PutObject at commit.
//! - Nothing is visible before commit: a multipart upload becomes an object only
//!   when completed. Any failure, and [`cdr_sink_api::Upload::abort`], aborts the
//!   multipart upload; dropping an unfinished upload spawns the abort on the
//!   current Tokio runtime. Uploads left by a crash are removed by
//!   [`cdr_sink_api::Destination::clean_incomplete`].
//! - A custom endpoint (MinIO, Ceph, R2, ...) is addressed path-style, and by
//!   default ([`ChecksumMode::Auto`]) gets checksums only where S3 requires them,
//!   since many such stores reject the SDK's default checksums.
//!
//! What it is not: it knows nothing of CDRs, formats or GraphQL, and it never
//! puts credentials or signed URLs into errors or `Debug` output.
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
//! This crate is public API: a destination for an S3 bucket, for `cdr-sink` or
//! your own code.
//!
//! # Example
//!
//! Building a destination needs a server; parsing the URL does not:
//!
//! ```
//! use cdr_sink_s3::S3Url;
//!
//! let url: S3Url = "s3://my-archive/cdrs".parse().unwrap();
//! assert_eq!(url.bucket(), "my-archive");
//! assert_eq!(url.prefix(), "cdrs/");
//! assert_eq!(url.to_string(), "s3://my-archive/cdrs/");
//!
//! let err = "s3://My_Archive/cdrs/".parse::<S3Url>().unwrap_err();
//! assert!(err.to_string().contains("is not a bucket name"));
//! ```
//!
//! With a server (here an S3-compatible store on port 9000):
//!
//! ```no_run
//! # async fn demo() -> Result<(), Box<dyn std::error::Error>> {
//! use cdr_sink_api::{Destination, ObjectKey};
//! use cdr_sink_s3::{S3Destination, S3Options, Sse};
//!
//! let options = S3Options {
//!     endpoint: Some("http://127.0.0.1:9000".into()),
//!     sse: Some(Sse::S3),
//!     ..S3Options::default()
//! };
//! let dest = S3Destination::from_url("s3://my-archive/cdrs/", options).await?;
//! dest.check_writable().await?;
//! let key = ObjectKey::new("cdr_type=sms/date=2026-11-01/part-0.csv")?;
//! let mut upload = dest.begin(&key, "text/csv").await?;
//! upload.write("datetime\n".into()).await?;
//! upload.commit().await?;
//! # Ok(())
//! # }
//! ```

mod clock;
mod destination;
mod error;
mod options;
mod requests;
mod upload;
mod url;

pub use destination::S3Destination;
pub use error::ConfigError;
pub use options::{ChecksumMode, DEFAULT_PART_SIZE, MAX_PART_SIZE, MIN_PART_SIZE, S3Options, Sse};
pub use url::S3Url;

/// Credentials for [`S3Options::credentials`] (their `Debug` hides the secret).
pub use aws_sdk_s3::config::Credentials;
