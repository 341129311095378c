//! The claim document, as a claim object holds it, and the owner it names
//! (host, pid and a random run id).

use std::time::SystemTime;

use bytes::Bytes;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use cdr_core::CdrType;

use crate::hex::hex;

/// Version of the claim document written.
pub const CLAIM_VERSION: u32 = 1;

/// Who holds a claim.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    /// Random, different for every run.
    pub run_id: String,
}

impl Owner {
    /// This process, with a fresh random run id.
    pub fn this_process() -> Owner {
        let mut id = [0u8; 8];
        // Without the system's randomness, the time and pid still tell runs apart.
        if getrandom::fill(&mut id).is_err() {
            let nanos = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos() as u64);
            id = (nanos ^ u64::from(std::process::id()).rotate_left(32)).to_le_bytes();
        }
        Owner {
            host: host_name(),
            pid: std::process::id(),
            run_id: hex(&id),
        }
    }
}

impl std::fmt::Display for Owner {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} pid {} (run {})", self.host, self.pid, self.run_id)
    }
}

fn host_name() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer is valid for its length; gethostname writes at most
    // that many bytes and we stop at the first NUL.
    let rc = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) };
    if rc != 0 {
        return "unknown-host".into();
    }
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    let name = String::from_utf8_lossy(&buf[..end]).trim().to_string();
    if name.is_empty() {
        "unknown-host".into()
    } else {
        name
    }
}

/// What a claim object holds.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClaimDoc {
    pub claim_version: u32,
    pub cdr_type: CdrType,
    pub window_start: DateTime<Utc>,
    pub window_end: DateTime<Utc>,
    pub owner: Owner,
    /// The lease, in milliseconds, counted from the claim's last write.
    pub lease_ms: u64,
    /// Writes of this claim by its owner so far (each renewal adds one, so
    /// that every write has new bytes and so a new version).
    pub renewals: u64,
    /// What the owner does: `archive` or `replace`.
    pub purpose: String,
}

/// The content type of claim documents (and probes).
pub(super) const JSON: &str = "application/json";

/// The stored form of `doc`.
pub(super) fn encode(doc: &ClaimDoc) -> Bytes {
    // A struct of strings and numbers always serialises.
    Bytes::from(serde_json::to_vec_pretty(doc).unwrap_or_default())
}
