//! `cdr-fuzz`: what each fuzz target checks, as plain functions of the input
//! bytes, so that the fuzz engine (`fuzz/`, run by `cargo xtask fuzz`) and the
//! ordinary test suite (which replays the committed corpora, `corpus/`) run the
//! same checks.
//!
//! Each check takes any bytes and panics when a property of the code under
//! test does not hold; a panic is what the fuzz engine reports as a crash.
//! The properties are the contracts of the parsers that read what a server, a
//! file or a user hands us: they never panic, and what they accept is
//! consistent.
//!
//! What it is not: the fuzz engine. It depends on no fuzzing crate, so the
//! workspace builds and tests without one.
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

pub mod csv_lines;
pub mod cursor;
pub mod object_key;
pub mod page;
#[cfg(feature = "s3")]
pub mod s3_url;
pub mod window_label;

/// A fuzz target: its name (also the corpus folder's) and its check.
#[derive(Debug, Clone, Copy)]
pub struct Target {
    pub name: &'static str,
    pub check: fn(&[u8]),
}

/// Every target, in `cargo xtask fuzz --list` order.
pub const TARGETS: &[Target] = &[
    Target {
        name: "page",
        check: page::check,
    },
    Target {
        name: "cursor",
        check: cursor::check,
    },
    Target {
        name: "csv_lines",
        check: csv_lines::check,
    },
    Target {
        name: "object_key",
        check: object_key::check,
    },
    #[cfg(feature = "s3")]
    Target {
        name: "s3_url",
        check: s3_url::check,
    },
    Target {
        name: "window_label",
        check: window_label::check,
    },
];
