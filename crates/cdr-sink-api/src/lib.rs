//! `cdr-sink-api`: the two small traits that sinks meet at, and the local
//! directory destination.
//!
//! - A [`Format`] makes [`Encoder`]s that turn CDRs of one record kind into the
//!   bytes of a file (Parquet, CSV). It knows nothing of where bytes go.
//! - A [`Destination`] stores bytes as named objects that appear atomically:
//!   [`Destination::begin`] returns an [`Upload`] whose bytes are invisible until
//!   [`Upload::commit`], and [`Upload::abort`] leaves nothing behind. It knows
//!   nothing of CDRs or formats.
//!
//! Neither trait names the other; the archiver joins them. Neither knows GraphQL
//! or HTTP. [`LocalDir`] is the local-disk destination; `cdr-sink-s3` provides S3.
//! Every destination passes the same [`conformance`] suite.
//!
//! # Example
//!
//! ```
//! use cdr_sink_api::{Destination, LocalDir, ObjectKey};
//!
//! # tokio::runtime::Builder::new_current_thread().build().unwrap().block_on(async {
//! let dir = tempfile::tempdir().unwrap();
//! let dest = LocalDir::new(dir.path());
//! let key = ObjectKey::new("cdr_type=sms/date=2026-11-01/part-0.csv").unwrap();
//! let mut upload = dest.begin(&key, "text/csv").await.unwrap();
//! upload.write("datetime\n".into()).await.unwrap();
//! // Not visible to readers before the commit.
//! assert!(dest.get(&key).await.unwrap().is_none());
//! let meta = upload.commit().await.unwrap();
//! assert_eq!(meta.size, 9);
//! assert_eq!(dest.get(&key).await.unwrap().unwrap(), "datetime\n");
//! # });
//! ```

mod destination;
mod format;
mod key;
mod local;

pub mod conformance;

pub use destination::{ByteStream, Destination, ObjectMeta, StoreError, Upload};
pub use format::{ColumnSet, EncodeError, Encoder, Format};
pub use key::{InvalidKey, ObjectKey};
pub use local::LocalDir;
