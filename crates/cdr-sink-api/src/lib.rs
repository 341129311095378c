//! `cdr-sink-api`: the two small traits that sinks meet at.
//!
//! - A [`Format`] makes [`Encoder`]s that turn CDRs of one record kind into the
//!   bytes of a file (Parquet, CSV). It knows nothing of where bytes go.
//! - A [`Destination`] stores bytes as named objects that appear atomically:
//!   [`Destination::begin`] returns an [`Upload`] whose bytes are invisible until
//!   [`Upload::commit`], and [`Upload::abort`] leaves nothing behind. It knows
//!   nothing of CDRs or formats.
//!
//! Neither trait names the other; the archiver joins them. Neither knows GraphQL
//! or HTTP, and this crate does no I/O. `cdr-sink-local` provides the local
//! directory destination and `cdr-sink-s3` the S3 one; every destination passes
//! the same [`conformance`] suite.
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
//! This crate is public API: implement its traits for a format or store of your
//! own, and `cdr-sink` runs it like its own.
//!
//! # Example: a format's encoder and the column set it writes
//!
//! ```
//! use cdr_core::RecordKind;
//! use cdr_sink_api::{ColumnSet, ObjectKey};
//!
//! let columns = ColumnSet::all(RecordKind::Voice);
//! let names: Vec<&str> = columns.iter().map(|(_, c)| c.name).collect();
//! assert_eq!(names[..3], ["datetime", "call_id", "source_ani"]);
//! let key = ObjectKey::new("cdr_type=voice/date=2026-11-01/part-0.parquet").unwrap();
//! assert_eq!(key.parent(), "cdr_type=voice/date=2026-11-01");
//! assert!(ObjectKey::new("../escape").is_err());
//! ```

mod destination;
mod format;
mod key;

pub mod conformance;
pub mod memory;

pub use destination::{
    ByteStream, Destination, Leftovers, ObjectMeta, Precondition, StoreError, Upload, Version,
    Versioned,
};
pub use format::{ColumnSet, EncodeError, Encoder, Format, ReadError, RowCounter};
pub use key::{InvalidKey, ObjectKey};
