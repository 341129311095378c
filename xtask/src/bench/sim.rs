//! The simulator the runs archive from: its process, its data (rates,
//! instants, windows) and the constants the scenarios share.

use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Child, Command, Stdio};

use anyhow::{Context, Result};
use cdr_core::{Window, format_datetime, parse_datetime};

use super::process::proc_cpu_seconds;

/// The simulator's static login token.
pub(super) const TOKEN: &str = "POAPK_sim-static-token";
/// Records per hour per type in the end-to-end runs: 1 million records of a
/// type are 4 hours, as many units as the archiver runs at once by default.
pub(super) const E2E_RATE: u64 = 250_000;
/// Where the simulated data starts; any past instant works.
const EPOCH: &str = "2026-01-01T00:00:00Z";
/// Simulated latency per page in the latency and scale-out runs.
pub(super) const LATENCY_MS: u64 = 100;
/// Records per page: the archiver's default limit.
pub(super) const LIMIT: u64 = 1000;

/// A running `cdr-sim`, stopped when dropped.
pub(super) struct Sim {
    child: Child,
    /// `http://ADDR`.
    pub url: String,
}

impl Sim {
    /// Starts `bin` with `args` and reads the address it listens on.
    pub fn start(bin: &Path, args: &[String]) -> Result<Sim> {
        let mut child = Command::new(bin)
            .args(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .with_context(|| format!("starting {}", bin.display()))?;
        let stdout = child.stdout.take().context("the simulator's stdout")?;
        let mut first = String::new();
        BufReader::new(stdout)
            .read_line(&mut first)
            .context("reading the simulator's address")?;
        let url = first
            .trim()
            .strip_prefix("cdr-sim listening on ")
            .with_context(|| format!("unexpected first line from cdr-sim: {first:?}"))?
            .to_string();
        Ok(Sim { child, url })
    }

    /// `HOST:PORT`.
    pub fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// CPU seconds the simulator has used so far.
    pub fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(self.child.id())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Simulator arguments: `rate` records per hour of SMS and VOICE, none of
/// the others.
pub(super) fn rates(rate: u64) -> Vec<String> {
    simulator_args([("sms", rate), ("voice", rate)], None)
}

/// Simulator arguments: the records per hour of each type named in `rates`
/// (none of the others), and a latency per page if any.
pub(super) fn simulator_args<const N: usize>(
    rates: [(&str, u64); N],
    latency_ms: Option<u64>,
) -> Vec<String> {
    let rate = |t: &str| rates.iter().find(|(name, _)| *name == t).map_or(0, |r| r.1);
    let mut args: Vec<String> = ["sms", "mms", "voice", "api"]
        .iter()
        .flat_map(|t| ["--rate".to_string(), format!("{t}={}", rate(t))])
        .collect();
    if let Some(ms) = latency_ms {
        args.extend(["--latency-ms".to_string(), ms.to_string()]);
    }
    args
}

/// The instant `hours` after [`EPOCH`], as an argument.
pub(super) fn instant(hours: u64) -> Result<String> {
    let t = parse_datetime(EPOCH)? + chrono::TimeDelta::hours(hours as i64);
    Ok(format_datetime(&t))
}

/// The window of `hours` hours from `start_hours` after [`EPOCH`].
pub(super) fn window(start_hours: u64, hours: u64) -> Result<Window> {
    Ok(Window::new(
        parse_datetime(&instant(start_hours)?)?,
        parse_datetime(&instant(start_hours + hours)?)?,
    )?)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn simulator_args_name_every_type_and_the_latency() {
        assert_eq!(
            simulator_args([("mms", 7)], Some(100)).join(" "),
            "--rate sms=0 --rate mms=7 --rate voice=0 --rate api=0 --latency-ms 100"
        );
        assert_eq!(
            rates(5).join(" "),
            "--rate sms=5 --rate mms=0 --rate voice=5 --rate api=0"
        );
    }
}
