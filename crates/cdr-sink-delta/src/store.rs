//! The Delta kernel reaches storage through an `object_store::ObjectStore`;
//! [`DestinationStore`] is one over a cdr-sink [`Destination`], so a table
//! lives wherever the archive does (local disk, S3, memory in tests), with
//! the destination's credentials, limits and error messages.
//!
//! The one guarantee Delta needs of storage is a create-only write of each
//! log entry: [`PutMode::Create`] is the destination's
//! [`Destination::put_if`] with [`Precondition::Absent`] (S3 `If-None-Match:
//! *`, an exclusive link on local disk), so two writers of one version never
//! both succeed. Whole objects only: the log, checkpoints and `_last_checkpoint`
//! are written with one put; multipart uploads are not offered.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;
use std::time::SystemTime;

use async_trait::async_trait;
use bytes::Bytes;
use cdr_sink_api::{Destination, ObjectKey, Precondition, StoreError};
use chrono::{DateTime, Utc};
use delta_kernel::object_store::path::Path;
use delta_kernel::object_store::{
    self as os, CopyMode, CopyOptions, GetOptions, GetResult, GetResultPayload, ListResult,
    MultipartUpload, ObjectMeta, ObjectStore, PutMode, PutMultipartOptions, PutOptions, PutPayload,
    PutResult,
};
use futures_util::stream::{self, BoxStream, StreamExt};

const STORE: &str = "cdr-sink destination";

/// An [`ObjectStore`] whose paths are keys of a [`Destination`].
#[derive(Debug, Clone)]
pub struct DestinationStore {
    dest: Arc<dyn Destination>,
}

impl DestinationStore {
    pub fn new(dest: Arc<dyn Destination>) -> DestinationStore {
        DestinationStore { dest }
    }
}

impl fmt::Display for DestinationStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "DestinationStore({})", self.dest.describe())
    }
}

fn key(path: &Path) -> os::Result<ObjectKey> {
    ObjectKey::new(path.as_ref()).map_err(|e| os::Error::Generic {
        store: STORE,
        source: Box::new(e),
    })
}

fn not_found(path: &Path) -> os::Error {
    os::Error::NotFound {
        path: path.to_string(),
        source: "no such object".into(),
    }
}

fn store_error(path: &Path, e: StoreError) -> os::Error {
    if e.is_precondition_failed() {
        os::Error::AlreadyExists {
            path: path.to_string(),
            source: Box::new(e),
        }
    } else {
        os::Error::Generic {
            store: STORE,
            source: Box::new(e),
        }
    }
}

fn time(t: Option<SystemTime>) -> DateTime<Utc> {
    t.map(DateTime::<Utc>::from).unwrap_or_default()
}

fn meta(m: cdr_sink_api::ObjectMeta) -> os::Result<ObjectMeta> {
    Ok(ObjectMeta {
        location: Path::parse(m.key.as_str())?,
        last_modified: time(m.modified),
        size: m.size,
        e_tag: None,
        version: None,
    })
}

/// The destination's listing prefix for an object-store prefix: a whole
/// path segment (`a/b` lists `a/b/x`, never `a/bc`).
fn list_prefix(prefix: Option<&Path>) -> String {
    match prefix.map(|p| p.as_ref()) {
        None | Some("") => String::new(),
        Some(p) => format!("{p}/"),
    }
}

impl DestinationStore {
    async fn head(&self, location: &Path) -> os::Result<ObjectMeta> {
        let k = key(location)?;
        let parent = k.parent();
        let listed = self
            .dest
            .list(&if parent.is_empty() {
                String::new()
            } else {
                format!("{parent}/")
            })
            .await
            .map_err(|e| store_error(location, e))?;
        let found = listed
            .into_iter()
            .find(|m| m.key == k)
            .ok_or_else(|| not_found(location))?;
        meta(found)
    }

    async fn list_all(&self, prefix: Option<&Path>) -> os::Result<Vec<ObjectMeta>> {
        let p = list_prefix(prefix);
        let listed = self.dest.list(&p).await.map_err(|e| os::Error::Generic {
            store: STORE,
            source: Box::new(e),
        })?;
        listed
            .into_iter()
            .filter(|m| m.key.as_str().starts_with(&p))
            .map(meta)
            .collect()
    }
}

#[async_trait]
impl ObjectStore for DestinationStore {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> os::Result<PutResult> {
        let k = key(location)?;
        let body = Bytes::from(payload);
        let content_type = if location.as_ref().ends_with(".json") {
            "application/json"
        } else {
            "application/octet-stream"
        };
        match opts.mode {
            PutMode::Overwrite => {
                self.dest
                    .put(&k, body, content_type)
                    .await
                    .map_err(|e| store_error(location, e))?;
                Ok(PutResult {
                    e_tag: None,
                    version: None,
                    extensions: Default::default(),
                })
            }
            PutMode::Create => {
                let version = self
                    .dest
                    .put_if(&k, body, content_type, &Precondition::Absent)
                    .await
                    .map_err(|e| store_error(location, e))?;
                Ok(PutResult {
                    e_tag: Some(version.to_string()),
                    version: None,
                    extensions: Default::default(),
                })
            }
            PutMode::Update(_) => Err(os::Error::NotImplemented {
                operation: "put_opts with PutMode::Update".into(),
                implementer: self.to_string(),
            }),
        }
    }

    async fn put_multipart_opts(
        &self,
        _location: &Path,
        _opts: PutMultipartOptions,
    ) -> os::Result<Box<dyn MultipartUpload>> {
        Err(os::Error::NotImplemented {
            operation: "put_multipart_opts".into(),
            implementer: self.to_string(),
        })
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> os::Result<GetResult> {
        if options.head {
            let meta = self.head(location).await?;
            return Ok(GetResult {
                payload: GetResultPayload::Stream(stream::empty().boxed()),
                range: 0..meta.size,
                meta,
                attributes: Default::default(),
                extensions: Default::default(),
            });
        }
        let k = key(location)?;
        let got = self
            .dest
            .get_versioned(&k)
            .await
            .map_err(|e| store_error(location, e))?
            .ok_or_else(|| not_found(location))?;
        let size = got.body.len() as u64;
        let meta = ObjectMeta {
            location: location.clone(),
            last_modified: time(Some(got.modified)),
            size,
            e_tag: Some(got.version.to_string()),
            version: None,
        };
        options.check_preconditions(&meta)?;
        let range: Range<u64> = match &options.range {
            Some(r) => r.as_range(size).map_err(|e| os::Error::Generic {
                store: STORE,
                source: Box::new(e),
            })?,
            None => 0..size,
        };
        // The range lies within the body: `as_range` checked it against `size`.
        let body = got.body.slice(range.start as usize..range.end as usize);
        Ok(GetResult {
            payload: GetResultPayload::Stream(stream::once(async move { Ok(body) }).boxed()),
            meta,
            range,
            attributes: Default::default(),
            extensions: Default::default(),
        })
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, os::Result<Path>>,
    ) -> BoxStream<'static, os::Result<Path>> {
        let dest = self.dest.clone();
        locations
            .then(move |p| {
                let dest = dest.clone();
                async move {
                    let p = p?;
                    dest.delete(&key(&p)?)
                        .await
                        .map_err(|e| store_error(&p, e))?;
                    Ok(p)
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, os::Result<ObjectMeta>> {
        let this = self.clone();
        let prefix = prefix.cloned();
        stream::once(async move { this.list_all(prefix.as_ref()).await })
            .flat_map(|r| match r {
                Ok(v) => stream::iter(v.into_iter().map(Ok)).boxed(),
                Err(e) => stream::once(async move { Err(e) }).boxed(),
            })
            .boxed()
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> os::Result<ListResult> {
        let p = list_prefix(prefix);
        let mut common_prefixes: Vec<Path> = Vec::new();
        let mut objects = Vec::new();
        for m in self.list_all(prefix).await? {
            let rest = &m.location.as_ref()[p.len()..];
            match rest.split_once('/') {
                Some((dir, _)) => {
                    let dir = Path::parse(format!("{p}{dir}"))?;
                    if common_prefixes.last() != Some(&dir) {
                        common_prefixes.push(dir);
                    }
                }
                None => objects.push(m),
            }
        }
        common_prefixes.dedup();
        Ok(ListResult {
            common_prefixes,
            objects,
            extensions: Default::default(),
        })
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> os::Result<()> {
        let body = self
            .dest
            .get(&key(from)?)
            .await
            .map_err(|e| store_error(from, e))?
            .ok_or_else(|| not_found(from))?;
        let mode = match options.mode {
            CopyMode::Overwrite => PutMode::Overwrite,
            CopyMode::Create => PutMode::Create,
        };
        self.put_opts(to, body.into(), mode.into()).await?;
        Ok(())
    }
}

#[cfg(test)]
mod tests;
