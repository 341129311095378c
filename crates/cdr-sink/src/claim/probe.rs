//! The store probe: claims rest on conditional writes, so before a run
//! claims anything it checks that the store enforces them, and refuses a
//! store that ignores them ([`ProbeError`]).

use std::time::Duration;

use bytes::Bytes;

use cdr_sink_api::{Destination, Precondition, StoreError, Version, Versioned};

use super::doc::{JSON, Owner};
use crate::layout;

/// A store that does not enforce conditional writes cannot coordinate runs.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ProbeError {
    #[error(
        "{store} ignored a create-only write (If-None-Match): cdr-sink coordinates runs with conditional writes and cannot use this store safely; use a store that supports them (AWS S3, recent MinIO) or another --out"
    )]
    IgnoresCreateOnly { store: String },
    #[error(
        "{store} ignored a compare-and-swap write (If-Match): cdr-sink coordinates runs with conditional writes and cannot use this store safely; use a store that supports them (AWS S3, recent MinIO) or another --out"
    )]
    IgnoresCompareAndSwap { store: String },
    #[error("probing {store} for conditional writes: {source}")]
    Store {
        store: String,
        #[source]
        source: StoreError,
    },
}

/// Checks that `dest` enforces conditional writes: a create-only write done
/// twice must be refused the second time, and a compare-and-swap on a wrong
/// version too. Writes and removes one object under `_cdr_sink/probe/`.
pub async fn probe(dest: &dyn Destination, owner: &Owner) -> Result<(), ProbeError> {
    let store = dest.describe();
    let failed = |source| ProbeError::Store {
        store: store.clone(),
        source,
    };
    let key = layout::probe_key(&owner.run_id).map_err(|e| failed(e.into()))?;
    let body = || Bytes::from(format!("{{\"owner\":\"{}\"}}", owner.run_id));
    let first = dest
        .put_if(&key, body(), JSON, &Precondition::Absent)
        .await
        .map_err(failed)?;
    let outcome = async {
        match dest.put_if(&key, body(), JSON, &Precondition::Absent).await {
            Ok(_) => {
                return Err(ProbeError::IgnoresCreateOnly {
                    store: store.clone(),
                });
            }
            Err(e) if e.is_precondition_failed() => {}
            Err(e) => return Err(failed(e)),
        }
        let wrong = Precondition::Matches(Version::new(format!("\"{}-not-it\"", first)));
        match dest.put_if(&key, body(), JSON, &wrong).await {
            Ok(_) => Err(ProbeError::IgnoresCompareAndSwap {
                store: store.clone(),
            }),
            Err(e) if e.is_precondition_failed() => Ok(()),
            Err(e) => Err(failed(e)),
        }
    }
    .await;
    // The probe goes whatever the outcome (a store that ignored the
    // conditions may have changed its version: delete unconditionally).
    let removed = dest.delete(&key).await.map_err(failed);
    outcome?;
    removed?;
    clean_old_probes(dest).await;
    Ok(())
}

/// A probe older than this was left by a killed run: a live run removes its
/// own within a few requests.
const STALE_PROBE: Duration = Duration::from_secs(600);

/// Removes probes left by runs killed in the middle of theirs.
async fn clean_old_probes(dest: &dyn Destination) {
    let Ok(listed) = dest.list(&layout::probe_prefix()).await else {
        return;
    };
    let Ok(now) = dest.now().await else {
        return;
    };
    for meta in listed {
        if let Ok(Some(Versioned { modified, .. })) = dest.get_versioned(&meta.key).await
            && now.duration_since(modified).unwrap_or_default() > STALE_PROBE
        {
            let _ = dest.delete(&meta.key).await;
        }
    }
}
