//! [`PageSource`] over `cdr-transport`'s HTTP client.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use futures_util::StreamExt;

use cdr_core::{Cdr, CdrType, Limit};
use cdr_transport::{Client, RecordPool, RecordsRequest};

use crate::plan::Unit;
use crate::source::{PageData, PageSource, PageStream, SourceError};

/// Spare page vectors kept for reuse, at the least: each unit's fetcher takes
/// one as its encoder gives one back.
const SPARE_PAGES: usize = 8;

/// Spare page vectors kept per unit fetching at once when the run starts.
/// With many units, answers arrive in bursts: a pool of 8 dropped most of
/// the vectors a burst gave back, and the next burst decoded into fresh
/// allocations (at concurrency 64, a tenth of the CPU went to the
/// allocator). The pool never holds more than the pages that were in flight
/// together. Sized from the start, not from `auto`'s `--max-concurrency`: a
/// pool of 64 with the defaults (4 to 6 units) kept memory the heap then
/// missed, and raised page faults by half (measured in docs/performance.md).
const SPARE_PAGES_PER_UNIT: usize = 2;

/// Pages from the TSG API. Each type gets a client of its own that shares the
/// login and connection pool, so that retries can be reported per type. Pages
/// are decoded into the memory of pages given back with
/// [`PageSource::recycle`].
pub struct TransportSource {
    clients: BTreeMap<CdrType, (Client, Arc<AtomicU64>)>,
    fallback: Client,
    limit: Limit,
    company_id: Option<String>,
    spare: RecordPool,
}

impl TransportSource {
    pub fn new(client: Client, limit: Limit, company_id: Option<String>) -> TransportSource {
        let clients = CdrType::ALL
            .into_iter()
            .map(|t| (t, (client.with_own_stats(), Arc::new(AtomicU64::new(0)))))
            .collect();
        TransportSource {
            clients,
            fallback: client,
            limit,
            company_id,
            spare: RecordPool::new(SPARE_PAGES),
        }
    }

    /// Keeps spare page vectors for `units` units fetching at once when the
    /// run starts (see [`SPARE_PAGES_PER_UNIT`]); at least 8.
    pub fn for_units(mut self, units: usize) -> TransportSource {
        let n = SPARE_PAGES.max(units.saturating_mul(SPARE_PAGES_PER_UNIT));
        self.spare = RecordPool::new(n);
        self
    }
}

impl PageSource for TransportSource {
    fn throttle(&self) -> Option<cdr_transport::Throttle> {
        self.fallback.throttle().cloned()
    }

    fn pages(&self, unit: &Unit) -> PageStream {
        let (client, seen) = match self.clients.get(&unit.cdr_type) {
            Some((c, s)) => (c.clone(), s.clone()),
            None => (self.fallback.clone(), Arc::new(AtomicU64::new(0))),
        };
        let mut request = RecordsRequest::new(unit.cdr_type, unit.window);
        request.limit = self.limit;
        request.company_id = self.company_id.clone();
        let stats_client = client.clone();
        client
            .records_reusing(request, self.spare.clone())
            .map(move |page| {
                // Retries of this type so far, handed out once each.
                let now = stats_client.stats().retries;
                let retries = now.saturating_sub(seen.fetch_max(now, Relaxed));
                page.map(|p| PageData {
                    records: p.records,
                    unknown: p.unknown,
                    bad: p.bad,
                    retries,
                })
                .map_err(|e| {
                    // No unit can succeed when the API cannot be reached or
                    // refuses the credentials: the run stops.
                    if e.is_fatal() {
                        SourceError::fatal(e)
                    } else {
                        SourceError::new(e)
                    }
                })
            })
            .boxed()
    }

    fn recycle(&self, records: Vec<Cdr>) {
        self.spare.put(records);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn spare_pages_grow_with_the_units_that_fetch_at_once() {
        use cdr_transport::{Auth, ClientConfig};
        let config = ClientConfig::new(Auth::Token(cdr_core::Token::new("t")))
            .with_base_url("http://127.0.0.1:1");
        let client = Client::new(config).expect("a client");
        let source = TransportSource::new(client, Limit::MAX, None);
        assert_eq!(source.spare.capacity(), SPARE_PAGES);
        let source = source.for_units(64);
        assert_eq!(source.spare.capacity(), 64 * SPARE_PAGES_PER_UNIT);
        assert_eq!(source.for_units(1).spare.capacity(), SPARE_PAGES);
    }
}
