//! One Delta table: created on first use, then changed one window at a time
//! by [`DeltaTable::publish`].

use std::collections::{HashMap, HashSet};
use std::sync::Arc;
use std::time::{SystemTime, UNIX_EPOCH};

use arrow_array::{Array, StringArray};
use arrow_schema::SchemaRef as ArrowSchemaRef;
use cdr_sink_api::Destination;
use delta_kernel::committer::FileSystemCommitter;
use delta_kernel::engine::arrow_conversion::TryFromArrow;
use delta_kernel::engine::arrow_data::ArrowEngineData;
use delta_kernel::expressions::Scalar;
use delta_kernel::schema::{DataType, StructField, StructType};
use delta_kernel::snapshot::{Snapshot, SnapshotRef};
use delta_kernel::transaction::create_table::create_table;
use delta_kernel::transaction::data_layout::DataLayout;
use delta_kernel::transaction::{CommitResult, UpdateTableOperation};
use delta_kernel::{Engine, FileMeta, FilteredEngineData};
use delta_kernel_default_engine::executor::tokio::TokioMultiThreadExecutor;
use delta_kernel_default_engine::parquet::DataFileMetadata;
use delta_kernel_default_engine::{DefaultEngine, DefaultEngineBuilder, build_add_file_metadata};
use url::Url;

use crate::error::DeltaError;
use crate::stats::{STATS_COLUMN, file_stats};
use crate::store::DestinationStore;
use crate::window::{DataFile, Published, WindowCommit};

/// Who wrote a commit, as its `commitInfo.engineInfo` says.
pub const ENGINE_INFO: &str = concat!("cdr-sink/", env!("CARGO_PKG_VERSION"));

/// The partition column of every table: the day of a window's start, as the
/// archive's `date=YYYY-MM-DD` directories name it.
pub const PARTITION_COLUMN: &str = "date";

/// A checkpoint is written after every this many commits.
pub const CHECKPOINT_INTERVAL: u64 = 10;

/// How many times a commit that lost a race for its version is built again
/// on the newer table before giving up. Each lost race means another
/// writer's commit landed, so this bounds contention, not waiting.
const MAX_CONFLICTS: u32 = 100;

/// The scheme of the URLs the kernel is given: paths under it are keys of
/// the destination (see [`DestinationStore`]).
const SCHEME: &str = "cdr-sink";

type Kernel = DefaultEngine<TokioMultiThreadExecutor>;

/// A Delta table under `root` (e.g. `cdr_type=sms/`) of a destination.
#[derive(Clone)]
pub struct DeltaTable {
    inner: Arc<Inner>,
}

struct Inner {
    engine: Kernel,
    url: Url,
    root: String,
    describe: String,
    schema: ArrowSchemaRef,
}

impl std::fmt::Debug for DeltaTable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DeltaTable")
            .field("location", &self.inner.describe)
            .finish_non_exhaustive()
    }
}

impl DeltaTable {
    /// The table under `root` (a directory key such as `cdr_type=sms`) of
    /// `dest`, holding files of `schema`, created if it does not exist yet.
    /// Fails with [`DeltaError::SchemaMismatch`] when it exists with other
    /// columns. Must be called inside a Tokio runtime.
    pub async fn open(
        dest: Arc<dyn Destination>,
        root: &str,
        schema: ArrowSchemaRef,
    ) -> Result<DeltaTable, DeltaError> {
        let root = root.trim_end_matches('/').to_string();
        let describe = format!(
            "{}{root}/",
            dest.describe().trim_end_matches('/').to_owned() + "/"
        );
        let url =
            Url::parse(&format!("{SCHEME}:///{root}/")).map_err(|e| DeltaError::Location {
                location: describe.clone(),
                message: e.to_string(),
            })?;
        let store = Arc::new(DestinationStore::new(dest.clone()));
        let executor = Arc::new(TokioMultiThreadExecutor::new(
            tokio::runtime::Handle::current(),
        ));
        let engine = DefaultEngineBuilder::new(store)
            .with_task_executor(executor)
            .build();
        let table = DeltaTable {
            inner: Arc::new(Inner {
                engine,
                url,
                root,
                describe,
                schema,
            }),
        };
        let log = format!("{}/_delta_log/", table.inner.root);
        let exists = !dest.list(&log).await.map_err(DeltaError::Store)?.is_empty();
        let t = table.clone();
        blocking(move || {
            if !exists {
                t.create()?;
            }
            t.check_schema()
        })
        .await?;
        Ok(table)
    }

    /// Where the table is, for messages.
    pub fn describe(&self) -> &str {
        &self.inner.describe
    }

    /// The table's directory key, without a trailing `/`.
    pub fn root(&self) -> &str {
        &self.inner.root
    }

    fn engine(&self) -> &dyn Engine {
        &self.inner.engine
    }

    fn snapshot(&self) -> Result<SnapshotRef, DeltaError> {
        Ok(Snapshot::builder_for(self.inner.url.as_str()).build(self.engine())?)
    }

    /// The kernel schema of the table: the files' columns, then the partition column.
    fn table_schema(&self) -> Result<StructType, DeltaError> {
        let files = StructType::try_from_arrow(self.inner.schema.as_ref())?;
        let mut fields: Vec<StructField> = files.fields().cloned().collect();
        fields.push(StructField::not_null(PARTITION_COLUMN, DataType::DATE));
        Ok(StructType::try_new(fields)?)
    }

    fn create(&self) -> Result<(), DeltaError> {
        let schema = Arc::new(self.table_schema()?);
        let mut properties = vec![(
            "delta.checkpointInterval".to_string(),
            CHECKPOINT_INTERVAL.to_string(),
        )];
        if self.inner.schema.field_with_name(STATS_COLUMN).is_ok() {
            properties.push((
                "delta.dataSkippingStatsColumns".to_string(),
                STATS_COLUMN.to_string(),
            ));
        }
        let built = create_table(self.inner.url.as_str(), schema, ENGINE_INFO, true)
            .with_table_properties(properties)
            .with_data_layout(DataLayout::partitioned([PARTITION_COLUMN]))
            .build(self.engine(), Box::new(FileSystemCommitter::new()));
        let txn = match built {
            Ok(txn) => txn,
            // Another writer created it since this one looked: its schema
            // is checked next.
            Err(delta_kernel::KernelError::TableAlreadyExistsAtPath(_)) => return Ok(()),
            Err(e) => return Err(e.into()),
        };
        match txn.commit(self.engine())? {
            // Another writer created it first: its schema is checked next.
            CommitResult::Committed(_) | CommitResult::Conflicted(_) => Ok(()),
            CommitResult::Retryable(_) => Err(DeltaError::Retryable {
                table: self.inner.describe.clone(),
            }),
        }
    }

    fn check_schema(&self) -> Result<(), DeltaError> {
        let found = self.snapshot()?.schema();
        let expected = self.table_schema()?;
        if found.as_ref() != &expected {
            return Err(DeltaError::SchemaMismatch {
                table: self.inner.describe.clone(),
                expected: names(&expected),
                found: names(&found),
            });
        }
        Ok(())
    }

    /// Makes the table's files of one window exactly `window.files`, in one
    /// commit that also records `(window.app_id, window.generation)` as an
    /// application transaction: the files of the window not in the list are
    /// removed, the listed files not in the table are added.
    ///
    /// Idempotent: when the log already holds this window at this
    /// generation or a later one, nothing is written. Of several writers
    /// publishing one window at once, one commits and the others find its
    /// commit. A commit that loses its version to another window's commit is
    /// built again on the newer table.
    pub async fn publish(&self, window: WindowCommit) -> Result<Published, DeltaError> {
        let t = self.clone();
        blocking(move || t.publish_blocking(&window)).await
    }

    fn publish_blocking(&self, w: &WindowCommit) -> Result<Published, DeltaError> {
        let generation = i64::from(w.generation);
        let mut conflicts = 0;
        loop {
            let snapshot = self.snapshot()?;
            if let Some(v) = snapshot.get_app_id_version(&w.app_id, self.engine())?
                && v >= generation
            {
                return Ok(Published::AlreadyInLog {
                    version: snapshot.version(),
                });
            }
            let mut txn = snapshot
                .clone()
                .update_table(UpdateTableOperation::Write, ENGINE_INFO, true)
                .with_transaction_id(w.app_id.clone(), generation)
                .build(self.engine(), Box::new(FileSystemCommitter::new()))?;

            let wanted: HashSet<&str> = w.files.iter().map(|f| f.path.as_str()).collect();
            let mut active = HashSet::new();
            let mut removed = 0;
            let scan = snapshot.clone().scan_builder().build()?;
            for meta in scan.scan_metadata(self.engine())? {
                let (data, selected) = meta?.scan_files.into_parts();
                let batch = ArrowEngineData::try_from_engine_data(data)?;
                let paths = path_column(&batch)?;
                let mut remove = vec![false; paths.len()];
                for (i, r) in remove.iter_mut().enumerate() {
                    if !selected.get(i).copied().unwrap_or(true) || paths.is_null(i) {
                        continue;
                    }
                    let p = paths.value(i);
                    if wanted.contains(p) {
                        active.insert(p.to_string());
                    } else if p.starts_with(&w.prefix) {
                        *r = true;
                        removed += 1;
                    }
                }
                if remove.contains(&true) {
                    txn.remove_files(FilteredEngineData::try_new(batch, remove)?);
                }
            }

            let mut added = 0;
            let to_add: Vec<&DataFile> = w
                .files
                .iter()
                .filter(|f| !active.contains(&f.path))
                .collect();
            if !to_add.is_empty() {
                let context = txn
                    .write_state()?
                    .write_context_builder()
                    .with_partition_values(HashMap::from([(
                        PARTITION_COLUMN.to_string(),
                        Scalar::Date(days_since_epoch(w.date)),
                    )]))
                    .build()?;
                let with_bounds = w.files.len() == 1;
                for f in to_add {
                    let location =
                        self.inner
                            .url
                            .join(&f.path)
                            .map_err(|e| DeltaError::Location {
                                location: f.path.clone(),
                                message: e.to_string(),
                            })?;
                    let stats = file_stats(
                        &self.inner.schema,
                        f.rows,
                        w.min_datetime,
                        w.max_datetime,
                        with_bounds,
                    )?;
                    let meta = FileMeta::new(location, millis(f.modified), f.size);
                    txn.add_files(build_add_file_metadata(
                        DataFileMetadata::new(meta, stats),
                        &context,
                    )?);
                    added += 1;
                }
            }

            match txn.commit(self.engine())? {
                CommitResult::Committed(done) => {
                    let version = done.commit_version();
                    if version % CHECKPOINT_INTERVAL == 0
                        && let Some(snapshot) = done.post_commit_snapshot()
                    {
                        // A checkpoint only speeds up readers; a failed one is
                        // written by a later commit.
                        if let Err(e) = snapshot.checkpoint(self.engine(), None) {
                            tracing::warn!(table = %self.inner.describe, version, error = %e, "checkpoint not written");
                        }
                    }
                    return Ok(Published::Committed {
                        version,
                        added,
                        removed,
                    });
                }
                CommitResult::Conflicted(_) | CommitResult::Retryable(_) => {
                    conflicts += 1;
                    if conflicts >= MAX_CONFLICTS {
                        return Err(DeltaError::Contended {
                            table: self.inner.describe.clone(),
                            attempts: conflicts,
                        });
                    }
                }
            }
        }
    }

    /// The table's current version and the paths of its active files (relative
    /// to the table's root), sorted.
    pub async fn active_files(&self) -> Result<(u64, Vec<String>), DeltaError> {
        let t = self.clone();
        blocking(move || {
            let snapshot = t.snapshot()?;
            let mut out = Vec::new();
            let scan = snapshot.clone().scan_builder().build()?;
            for meta in scan.scan_metadata(t.engine())? {
                let (data, selected) = meta?.scan_files.into_parts();
                let batch = ArrowEngineData::try_from_engine_data(data)?;
                let paths = path_column(&batch)?;
                for i in 0..paths.len() {
                    if selected.get(i).copied().unwrap_or(true) && !paths.is_null(i) {
                        out.push(paths.value(i).to_string());
                    }
                }
            }
            out.sort();
            Ok((snapshot.version(), out))
        })
        .await
    }
}

fn path_column(batch: &ArrowEngineData) -> Result<StringArray, DeltaError> {
    batch
        .record_batch()
        .column_by_name("path")
        .and_then(|c| c.as_any().downcast_ref::<StringArray>())
        .cloned()
        .ok_or(DeltaError::Unexpected(
            "scan rows without a `path` column of strings",
        ))
}

fn names(schema: &StructType) -> String {
    schema
        .fields()
        .map(|f| format!("{} {}", f.name(), f.data_type()))
        .collect::<Vec<_>>()
        .join(", ")
}

fn days_since_epoch(date: chrono::NaiveDate) -> i32 {
    let epoch = chrono::NaiveDate::from_ymd_opt(1970, 1, 1).unwrap_or_default();
    // A date of this archive lies within ±5.8 million years of 1970.
    (date - epoch).num_days() as i32
}

fn millis(t: SystemTime) -> i64 {
    t.duration_since(UNIX_EPOCH)
        .map(|d| d.as_millis().min(i64::MAX as u128) as i64)
        .unwrap_or(0)
}

/// Runs kernel work, which blocks on its own I/O, off the runtime's workers.
async fn blocking<T: Send + 'static>(
    f: impl FnOnce() -> Result<T, DeltaError> + Send + 'static,
) -> Result<T, DeltaError> {
    tokio::task::spawn_blocking(f).await.map_err(|e| {
        DeltaError::Unexpected(if e.is_panic() {
            "the Delta kernel panicked"
        } else {
            "a Delta task was cancelled"
        })
    })?
}
