//! Records that cannot be stored, kept aside (`--on-bad-record quarantine`):
//! their raw JSON, one line each with where they were and what is wrong, in
//! the unit's quarantine file beside the ledger.

use sha2::{Digest, Sha256};

use cdr_sink_api::{EncodeError, StoreError};

use super::error::UnitError;
use super::files::{Files, OpenFile};
use super::job::{UnitContext, UnitJob};
use crate::layout;

/// One line of a quarantine file.
#[derive(serde::Serialize)]
struct QuarantineLine<'a> {
    /// 1-based, counting every element the API returned for the window.
    position: u64,
    page: u64,
    typename: &'a str,
    field: &'a str,
    problem: &'a str,
    /// The element as the server sent it.
    record: &'a serde_json::value::RawValue,
}

/// Writes the raw JSON of `bad` records, one line each with where they were
/// and what is wrong, to the unit's quarantine file (begun on first use).
pub(super) async fn quarantine(
    ctx: &UnitContext,
    job: &UnitJob<'_>,
    files: &mut Files,
    first: u64,
    page: u64,
    bad: &[cdr_core::BadRecord],
) -> Result<(), UnitError> {
    if files.quarantine.is_none() {
        let key = layout::quarantine_key(job.unit.cdr_type, &job.unit.window, job.generation)
            .map_err(StoreError::from)?;
        let upload = ctx.dest.begin(&key, "application/x-ndjson").await?;
        files.quarantine = Some(OpenFile {
            key,
            upload,
            hasher: Sha256::new(),
            size: 0,
            rows: 0,
        });
    }
    let Some(file) = files.quarantine.as_mut() else {
        return Ok(());
    };
    let mut lines = Vec::new();
    for b in bad {
        // The server's text as it was, when it is JSON (it always is, coming
        // from a decoded page); a string otherwise.
        let record = serde_json::from_str::<Box<serde_json::value::RawValue>>(&b.raw)
            .or_else(|_| serde_json::value::to_raw_value(&b.raw))
            .map_err(|e| EncodeError::Format {
                format: "quarantine",
                message: e.to_string(),
            })?;
        let line = QuarantineLine {
            position: first + b.index as u64 + 1,
            page,
            typename: &b.typename,
            field: &b.field,
            problem: &b.message,
            record: &record,
        };
        let text = serde_json::to_vec(&line).map_err(|e| EncodeError::Format {
            format: "quarantine",
            message: e.to_string(),
        })?;
        lines.extend_from_slice(&text);
        lines.push(b'\n');
        file.rows += 1;
    }
    file.write(lines).await?;
    Ok(())
}
