//! `cdr-sink`: archive TSG Global CDRs into Parquet or CSV files on local disk
//! or S3, resumable and exactly once. This is the pipeline library behind the
//! `cdr-sink` binary, so embedders can run the same pipeline.
//!
//! What it is: flags validated into an [`ArchivePlan`] of units (type x window)
//! before any request; [`archive`] runs the units up to `--concurrency` at once,
//! each streaming pages from a [`PageSource`] through a [`Format`] into a
//! [`Destination`], committing its files and then its [ledger] entry; a re-run
//! skips finished units and redoes the others.
//!
//! What it is not: it speaks no HTTP itself (`cdr-transport` does), encodes no
//! format itself (`cdr-sink-parquet`, `cdr-sink-csv`), and talks to no store
//! itself (`cdr-sink-api`'s `LocalDir`, `cdr-sink-s3`).
//!
//! [`Format`]: cdr_sink_api::Format
//! [`Destination`]: cdr_sink_api::Destination

pub mod claim;
pub mod cli;
pub mod content;
pub mod export;
pub mod layout;
pub mod ledger;
pub mod pipeline;
pub mod plan;
pub mod progress;
pub mod rescan;
pub mod source;
pub mod status;
pub mod summary;
pub mod transport_source;
pub mod unit;
pub mod verify;

pub use pipeline::{ArchiveError, RunOptions, archive, resolve};
pub use plan::{ArchivePlan, FormatChoice, Output, PlanError, RawArchive, RollPolicy, Unit};
pub use progress::Progress;
pub use source::{PageData, PageSource, PageStream, SourceError};
pub use summary::Summary;
pub use transport_source::TransportSource;
