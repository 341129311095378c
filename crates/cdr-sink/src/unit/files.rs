//! The files a unit is writing: each an upload that stays uncommitted until
//! the unit ends, hashed and counted as its bytes go out.

use bytes::Bytes;
use sha2::{Digest, Sha256};

use cdr_sink_api::{Encoder, ObjectKey, StoreError, Upload};

/// A file being written: its upload stays uncommitted until the unit ends.
pub(super) struct OpenFile {
    pub(super) key: ObjectKey,
    pub(super) upload: Box<dyn Upload>,
    pub(super) hasher: Sha256,
    pub(super) size: u64,
    pub(super) rows: u64,
}

/// Largest piece handed to a destination at once. An encoder's output comes
/// a row group at a time (megabytes); in pieces, no destination needs a
/// buffer of a row group's size to take it.
const WRITE_PIECE: usize = 256 * 1024;

impl OpenFile {
    pub(super) async fn write(&mut self, bytes: Vec<u8>) -> Result<(), StoreError> {
        if bytes.is_empty() {
            return Ok(());
        }
        self.hasher.update(&bytes);
        self.size += bytes.len() as u64;
        let bytes = Bytes::from(bytes);
        let mut at = 0;
        while at < bytes.len() {
            let end = bytes.len().min(at + WRITE_PIECE);
            self.upload.write(bytes.slice(at..end)).await?;
            at = end;
        }
        Ok(())
    }
}

/// The files of one unit: the one being written, those sealed (waiting for
/// the unit's end to be committed) and the quarantine file.
#[derive(Default)]
pub(super) struct Files {
    pub(super) current: Option<(Box<dyn Encoder>, OpenFile)>,
    pub(super) sealed: Vec<OpenFile>,
    /// The raw JSON of records that cannot be stored, one line each
    /// (`--on-bad-record quarantine`).
    pub(super) quarantine: Option<OpenFile>,
}

impl Files {
    pub(super) async fn abort_all(self) {
        let mut all: Vec<OpenFile> = self.sealed;
        if let Some((_, f)) = self.current {
            all.push(f);
        }
        all.extend(self.quarantine);
        for f in all {
            if let Err(e) = f.upload.abort().await {
                tracing::warn!("could not abort upload of {}: {e}", f.key);
            }
        }
    }
}
