//! What a unit learns of its records on their way to the encoder: that each
//! is of the kind asked for, their datetime range, and their content hash,
//! all of which go into the ledger entry.

use chrono::Utc;

use cdr_core::{Cdr, CdrType, Timestamped};

use super::error::UnitError;
use crate::content::ContentHash;

/// What a unit learns of its records on their way to the encoder.
#[derive(Default)]
pub(super) struct Fingerprint {
    pub(super) min: Option<chrono::DateTime<Utc>>,
    pub(super) max: Option<chrono::DateTime<Utc>>,
    pub(super) content: ContentHash,
}

impl Fingerprint {
    /// Checks that every record is of the kind asked for, and counts the
    /// records into the datetime range and the content hash.
    pub(super) fn add(&mut self, asked: CdrType, records: &[Cdr]) -> Result<(), UnitError> {
        let kind = asked.record_kind();
        if let Some(bad) = records.iter().find(|r| r.kind() != kind) {
            return Err(UnitError::WrongKind {
                asked,
                got: bad.kind(),
            });
        }
        for r in records {
            let t = r.datetime();
            self.min = Some(self.min.map_or(t, |m| m.min(t)));
            self.max = Some(self.max.map_or(t, |m| m.max(t)));
        }
        self.content.add_all(records);
        Ok(())
    }
}
