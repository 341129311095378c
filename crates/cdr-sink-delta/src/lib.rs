//! Delta Lake tables over a cdr-sink [`Destination`](cdr_sink_api::Destination).
//!
//! The archive's Parquet files are written by the archiver as always; this
//! crate makes them a Delta table, one commit per window, through the Delta
//! kernel (`delta_kernel`, on the workspace's arrow). The log lives beside
//! the files (`cdr_type=sms/_delta_log/`), and every log entry is written
//! create-only ([`store::DestinationStore`]), so concurrent writers never
//! overwrite one another's commits: no lock service is needed.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! use std::sync::Arc;
//! use arrow_schema::{DataType, Field, Schema, TimeUnit};
//! use cdr_sink_api::{Destination, ObjectKey, memory::MemoryDir};
//! use cdr_sink_delta::{DataFile, DeltaTable, Published, WindowCommit};
//!
//! let dest: Arc<dyn Destination> = Arc::new(MemoryDir::new("mem"));
//! let schema = Arc::new(Schema::new(vec![Field::new(
//!     "datetime",
//!     DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
//!     false,
//! )]));
//! let table = DeltaTable::open(dest.clone(), "cdr_type=sms", schema).await?;
//!
//! // The window's file is stored first (here: any bytes), then committed.
//! let path = "date=2026-11-01/part-a-00000.parquet";
//! dest.put(&ObjectKey::new(format!("cdr_type=sms/{path}"))?, "…".into(), "x").await?;
//! let window = WindowCommit {
//!     app_id: "cdr-sink/a".into(),
//!     generation: 1,
//!     date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
//!     prefix: "date=2026-11-01/part-a-".into(),
//!     files: vec![DataFile { path: path.into(), size: 3, rows: 1, modified: std::time::SystemTime::now() }],
//!     min_datetime: None,
//!     max_datetime: None,
//! };
//! assert!(matches!(table.publish(window.clone()).await?, Published::Committed { version: 1, added: 1, removed: 0 }));
//! // Publishing the same generation again writes nothing.
//! assert_eq!(table.publish(window).await?, Published::AlreadyInLog { version: 1 });
//! assert_eq!(table.active_files().await?, (1, vec![path.to_string()]));
//! # Ok(())
//! # }
//! ```

mod error;
mod stats;
pub mod store;
mod table;
mod window;

pub use error::DeltaError;
pub use stats::STATS_COLUMN;
pub use table::{CHECKPOINT_INTERVAL, DeltaTable, ENGINE_INFO, PARTITION_COLUMN};
pub use window::{DataFile, Published, WindowCommit};
