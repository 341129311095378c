//! Scenario 1, the simulator alone: pages of 1000 records (its fast path,
//! the archiver's own query document) served to a minimal client with two
//! connections: its ceiling on this machine, and its CPU time per million
//! records. The client's own CPU time is measured too: what receiving the
//! bytes alone costs (the kernel's socket reads and a copy), with no
//! decoding, which no archiver can spend less than.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use anyhow::Result;
use cdr_core::CdrType;
use serde::Serialize;

use super::http::{Http, page_request, page_through};
use super::options::Options;
use super::process::{Bins, proc_cpu_seconds};
use super::sim::{E2E_RATE, LIMIT, Sim, rates, window};

/// What the simulator alone serves of one type.
#[derive(Debug, Clone, Default, Serialize)]
pub(super) struct SimAlone {
    pub clients: u32,
    pub pages: u64,
    pub records_per_s: f64,
    pub mb_per_s: f64,
    pub bytes_per_record: f64,
    pub sim_cpu_s_per_million: f64,
    /// The minimal client's CPU (both threads, user and system) per million
    /// records: the cost of receiving the bytes and nothing more.
    pub client_cpu_s_per_million: f64,
}

/// Two clients paging SMS, then VOICE, for a few seconds each.
pub(super) fn run(bins: &Bins, opts: &Options) -> Result<BTreeMap<&'static str, SimAlone>> {
    eprintln!("bench: the simulator alone");
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let seconds = if opts.quick { 2.0 } else { 5.0 };
    let mut out = BTreeMap::new();
    for (t, name) in [(CdrType::Sms, "sms"), (CdrType::Voice, "voice")] {
        // One page through the executor first: the fast path serves repeats.
        let mut warm = Http::connect(sim.addr())?;
        warm.graphql(&page_request(t, &window(0, 1)?, None))?;
        let cpu_before = sim.cpu_seconds();
        let client_before = proc_cpu_seconds(std::process::id());
        let begun = Instant::now();
        let deadline = begun + Duration::from_secs_f64(seconds);
        let workers: Vec<_> = (0..2u64)
            .map(|n| {
                let addr = sim.addr().to_string();
                std::thread::spawn(move || -> Result<(u64, u64)> {
                    let mut http = Http::connect(&addr)?;
                    let (mut pages, mut bytes) = (0u64, 0u64);
                    let mut hour = n;
                    while Instant::now() < deadline {
                        pages += page_through(&mut http, t, &window(100 + hour, 1)?, |b| {
                            bytes += b.len() as u64;
                            Ok(Instant::now() < deadline)
                        })?;
                        hour += 2;
                    }
                    Ok((pages, bytes))
                })
            })
            .collect();
        let (mut pages, mut bytes) = (0, 0);
        for w in workers {
            let (p, b) = w
                .join()
                .map_err(|_| anyhow::anyhow!("a client thread panicked"))??;
            pages += p;
            bytes += b;
        }
        let wall = begun.elapsed().as_secs_f64();
        let cpu = sim.cpu_seconds() - cpu_before;
        let client_cpu = proc_cpu_seconds(std::process::id()) - client_before;
        let records = pages * LIMIT;
        out.insert(
            name,
            SimAlone {
                clients: 2,
                pages,
                records_per_s: records as f64 / wall,
                mb_per_s: bytes as f64 / wall / 1e6,
                bytes_per_record: bytes as f64 / records.max(1) as f64,
                sim_cpu_s_per_million: cpu / records.max(1) as f64 * 1e6,
                client_cpu_s_per_million: client_cpu / records.max(1) as f64 * 1e6,
            },
        );
    }
    Ok(out)
}
