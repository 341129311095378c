//! `cargo xtask bench`: the archiver's speed and memory, measured.
//!
//! What it runs, each part in its own processes, release builds throughout:
//!
//! 1. **Simulator alone.** `cdr-sim` serving pages of 1000 records (its fast
//!    path, the archiver's own query document) to a minimal HTTP client with
//!    two connections: its ceiling on this machine, and its CPU time per
//!    million records.
//! 2. **End to end.** `cdr-sim` → `cdr-sink archive` → files on local disk
//!    with the archiver's default settings (`--limit 1000`, `--concurrency
//!    4`, `--window 1h`, Parquet with zstd): 1 and 10 million SMS records and
//!    1 million VOICE records as Parquet, 1 million SMS records as CSV. The
//!    simulator holds 250,000 records per hour of each type, so 1 million
//!    records are 4 hours (4 units, as many as run at once by default) and 10
//!    million are 40. Each run is a fresh archiver process; its wall time,
//!    CPU time and peak RSS come from `wait4`. The simulator runs meanwhile
//!    on the same two cores; its CPU time during the run is reported too.
//! 3. **Latency scaling.** 100 ms of simulated latency per page, concurrency
//!    1, 4, 16 and 64, each over enough 1-hour units of exactly 20 full pages
//!    (10 with `--quick`) to keep every unit slot busy (three units per slot;
//!    one unit at concurrency 1); throughput as a fraction of the ideal
//!    `concurrency x limit / latency`. Twice: with pages of 1000 SMS records
//!    (the default limit; at concurrency 64 that is 640,000 records/s, most
//!    of what the two cores can archive at all), and with pages of 100 MMS
//!    records, where the records' CPU cost is small and the series shows the
//!    scaling of concurrency alone.
//! 4. **Stages.** The criterion benchmarks of the decoder (`cdr-core`), Arrow
//!    batches and Parquet encoding (`cdr-sink-parquet`) and CSV encoding
//!    (`cdr-sink-csv`), on pages saved from the simulator, so that the stage
//!    costs belong to the same bytes the end-to-end runs move.
//!
//! Results: a table on stdout and JSON (`target/bench/bench.json`, or
//! `--out PATH`) for comparing commits. `--quick` runs a short version
//! (single runs, no 10 million run, short criterion measurements).

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant, SystemTime};

use anyhow::{Context, Result, bail};
use cdr_core::{CdrType, Selection, Window, document, format_datetime, parse_datetime};
use serde_json::{Value, json};

mod peers;
mod scale_out;

const TOKEN: &str = "POAPK_sim-static-token";
/// Records per hour per type in the end-to-end runs: 1 million records of a
/// type are 4 hours, as many units as the archiver runs at once by default.
const E2E_RATE: u64 = 250_000;
/// Hours of simulated data that hold 1 million records of a type.
const HOURS_PER_MILLION: u64 = 1_000_000 / E2E_RATE;
/// Where the simulated data starts; any past instant works.
const EPOCH: &str = "2026-01-01T00:00:00Z";
const LATENCY_MS: u64 = 100;
const LIMIT: u64 = 1000;
/// The page size of the second latency series, in which the CPU cost of the
/// records is small next to the round trips, so that it shows the scaling
/// of concurrency alone.
const SMALL_LIMIT: u64 = 100;
/// Pages per unit in the latency runs (10 with `--quick`): each 1-hour unit
/// holds exactly this many full pages, so that its fixed costs (listing its
/// partition, creating, syncing and renaming its file and ledger entry) are
/// small next to its round trips.
const LATENCY_PAGES: u64 = 20;

const HELP: &str = "\
cargo xtask bench [--quick] [--out PATH] [--no-build] [--bin-dir DIR] [--no-stages] [--peers]

Measures cdr-sink end to end (cdr-sim -> cdr-sink archive -> local Parquet/CSV),
its scaling with concurrency under simulated latency, the simulator alone, and
the stage benchmarks (decode, Arrow, Parquet, CSV). Prints a table and writes
JSON to target/bench/bench.json (or PATH).

  --quick      a short run: single runs, no 10-million-record run, short stage benchmarks
  --out PATH   where to write the JSON results
  --no-build   use the release binaries as they are
  --bin-dir DIR  use the cdr-sim and cdr-sink binaries in DIR (e.g. built from
               another commit, to compare); implies --no-build
  --no-stages  skip the criterion stage benchmarks
  --peers      also run the reference Python client (requests + pyarrow) beside
               cdr-sink, 1M SMS and 1M VOICE, and print the ratios (its
               environment is made in target/peer-env)
";

struct Options {
    quick: bool,
    out: Option<PathBuf>,
    build: bool,
    bin_dir: Option<PathBuf>,
    stages: bool,
    peers: bool,
}

fn options(args: &[String]) -> Result<Option<Options>> {
    let mut o = Options {
        quick: false,
        out: None,
        build: true,
        bin_dir: None,
        stages: true,
        peers: false,
    };
    let mut args = args.iter();
    while let Some(a) = args.next() {
        match a.as_str() {
            "--quick" => o.quick = true,
            "--no-build" => o.build = false,
            "--no-stages" => o.stages = false,
            "--peers" => o.peers = true,
            "--out" => o.out = Some(args.next().context("--out needs a path")?.into()),
            "--bin-dir" => {
                o.bin_dir = Some(args.next().context("--bin-dir needs a directory")?.into());
                o.build = false;
            }
            "-h" | "--help" => {
                print!("{HELP}");
                return Ok(None);
            }
            other => bail!("unknown bench option `{other}`\n\n{HELP}"),
        }
    }
    Ok(Some(o))
}

pub fn run(args: &[String]) -> Result<()> {
    let Some(opts) = options(args)? else {
        return Ok(());
    };
    let started = Instant::now();
    let root = PathBuf::from(concat!(env!("CARGO_MANIFEST_DIR"), "/.."));
    let target = target_dir(&root)?;
    let bench_dir = target.join("bench");
    std::fs::create_dir_all(&bench_dir).context("creating target/bench")?;
    if opts.build {
        eprintln!("bench: building release binaries");
        cargo(
            &root,
            &["build", "--release", "-p", "cdr-sink", "-p", "cdr-sim"],
            &[],
        )?;
    }
    let bin_dir = opts
        .bin_dir
        .clone()
        .unwrap_or_else(|| target.join("release"));
    let bins = Bins {
        sim: bin_dir.join("cdr-sim"),
        sink: bin_dir.join("cdr-sink"),
    };
    for b in [&bins.sim, &bins.sink] {
        if !b.exists() {
            bail!("{} is missing: run without --no-build", b.display());
        }
    }
    let machine = machine();
    eprintln!(
        "bench: {} cores, {}, load average {}",
        machine["cores"], machine["cpu"], machine["load_average"]
    );

    let sim_alone = simulator_alone(&bins, &opts)?;
    let e2e = end_to_end(&bins, &bench_dir, &opts)?;
    let latency = latency_scaling(&bins, &bench_dir, &opts)?;
    let scale_out = scale_out::scale_out(&bins, &bench_dir, &opts)?;
    let peers = if opts.peers {
        Some(peers::peers(&bins, &root, &target, &bench_dir, &opts)?)
    } else {
        None
    };
    let stages = if opts.stages {
        Some(stages(&bins, &root, &target, &bench_dir, &opts)?)
    } else {
        None
    };

    let targets = targets(&e2e, &latency, &scale_out, stages.as_ref());
    let report = json!({
        "schema": 1,
        "commit": git(&root, &["rev-parse", "HEAD"]),
        "dirty": git(&root, &["status", "--porcelain"]).is_some_and(|s| !s.is_empty()),
        "unix_time": SystemTime::now().duration_since(SystemTime::UNIX_EPOCH).map_or(0, |d| d.as_secs()),
        "quick": opts.quick,
        "binaries": bin_dir.display().to_string(),
        "machine": machine,
        "simulator_alone": sim_alone,
        "end_to_end": e2e,
        "latency_scaling": latency,
        "scale_out": scale_out,
        "peers": peers,
        "stages": stages,
        "targets": targets,
        "bench_seconds": started.elapsed().as_secs_f64(),
    });
    print_table(&report);
    let out = opts.out.unwrap_or_else(|| bench_dir.join("bench.json"));
    std::fs::write(&out, serde_json::to_vec_pretty(&report)?)
        .with_context(|| format!("writing {}", out.display()))?;
    println!("\nresults: {}", out.display());
    Ok(())
}

struct Bins {
    sim: PathBuf,
    sink: PathBuf,
}

fn target_dir(root: &Path) -> Result<PathBuf> {
    if let Some(dir) = std::env::var_os("CARGO_TARGET_DIR") {
        let dir = PathBuf::from(dir);
        return Ok(if dir.is_absolute() {
            dir
        } else {
            root.join(dir)
        });
    }
    let meta = crate::deps::metadata()?;
    meta["target_directory"]
        .as_str()
        .map(PathBuf::from)
        .context("cargo metadata names no target directory")
}

fn cargo(root: &Path, args: &[&str], env: &[(&str, &Path)]) -> Result<()> {
    let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let mut cmd = Command::new(&cargo);
    cmd.current_dir(root).args(args);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let status = cmd
        .status()
        .with_context(|| format!("running cargo {}", args.join(" ")))?;
    if !status.success() {
        bail!("cargo {} failed ({status})", args.join(" "));
    }
    Ok(())
}

fn git(root: &Path, args: &[&str]) -> Option<String> {
    let out = Command::new("git")
        .current_dir(root)
        .args(args)
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().to_string())
}

/// Cores, CPU model, memory and load: results from a shared machine are
/// only comparable with these beside them.
fn machine() -> Value {
    let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
    let cpu = cpuinfo
        .lines()
        .find_map(|l| l.strip_prefix("model name"))
        .map(|l| l.trim_start_matches([' ', '\t', ':']).to_string())
        .unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let mem_kb: u64 = meminfo
        .lines()
        .find_map(|l| l.strip_prefix("MemTotal:"))
        .and_then(|l| l.split_whitespace().next()?.parse().ok())
        .unwrap_or(0);
    json!({
        "cores": std::thread::available_parallelism().map_or(0, |n| n.get()),
        "cpu": cpu,
        "memory_gib": (mem_kb as f64 / 1024.0 / 1024.0 * 10.0).round() / 10.0,
        "load_average": load_average(),
    })
}

fn load_average() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .unwrap_or_default()
        .split_whitespace()
        .take(3)
        .collect::<Vec<_>>()
        .join(" ")
}

/// A running `cdr-sim`, stopped when dropped.
struct Sim {
    child: Child,
    url: String,
}

impl Sim {
    fn start(bin: &Path, args: &[String]) -> Result<Sim> {
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

    fn addr(&self) -> &str {
        self.url.trim_start_matches("http://")
    }

    /// CPU seconds the simulator has used so far.
    fn cpu_seconds(&self) -> f64 {
        proc_cpu_seconds(self.child.id())
    }
}

impl Drop for Sim {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// User plus system CPU seconds of a process, from `/proc/PID/stat`.
fn proc_cpu_seconds(pid: u32) -> f64 {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).unwrap_or_default();
    // Fields after the command name, which is in parentheses and may hold spaces.
    let rest = stat.rsplit_once(')').map_or("", |(_, r)| r);
    let fields: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        fields
            .get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(0.0)
    };
    // utime and stime are fields 14 and 15 of the whole line: 11 and 12 here.
    // SAFETY: sysconf only reads a configuration value.
    let hz = unsafe { libc::sysconf(libc::_SC_CLK_TCK) }.max(1) as f64;
    (ticks(11) + ticks(12)) / hz
}

fn rates(rate: u64) -> Vec<String> {
    ["sms", "voice"]
        .iter()
        .flat_map(|t| ["--rate".to_string(), format!("{t}={rate}")])
        .chain(["--rate", "mms=0", "--rate", "api=0"].map(String::from))
        .collect()
}

fn instant(hours: u64) -> Result<String> {
    let t = parse_datetime(EPOCH)? + chrono::TimeDelta::hours(hours as i64);
    Ok(format_datetime(&t))
}

/// A keep-alive HTTP/1.1 connection that posts GraphQL requests: as little
/// client as possible, so that the simulator is what is measured.
struct Http {
    stream: TcpStream,
    addr: String,
    buf: Vec<u8>,
}

impl Http {
    fn connect(addr: &str) -> Result<Http> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            addr: addr.to_string(),
            buf: Vec::with_capacity(512 * 1024),
        })
    }

    /// Posts `body` to `/graphql` and returns the response body.
    fn graphql(&mut self, body: &[u8]) -> Result<&[u8]> {
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        self.stream.write_all(head.as_bytes())?;
        self.stream.write_all(body)?;
        self.buf.clear();
        let mut chunk = [0u8; 64 * 1024];
        let header_end = loop {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the simulator closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            bail!(
                "the simulator answered {}",
                head.lines().next().unwrap_or("")
            );
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .context("the simulator's answer has no content-length")?;
        let end = header_end + length;
        while self.buf.len() < end {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the simulator closed the connection mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(&self.buf[header_end..end])
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The archiver's request body for one page.
fn page_request(t: CdrType, window: &Window, cursor: Option<&str>) -> Vec<u8> {
    let doc = document(&Selection::all(), false, false);
    serde_json::to_vec(&json!({
        "query": doc,
        "variables": {
            "type": t.as_str(),
            "startDatetime": format_datetime(&window.start()),
            "endDatetime": format_datetime(&window.end()),
            "cursor": cursor,
            "limit": LIMIT,
        }
    }))
    .unwrap_or_default()
}

/// The next cursor, read from the front of a page (the simulator writes
/// `paginationInfo` first).
fn next_cursor(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(400)];
    let at = find(head, b"\"nextCursor\":\"")? + 14;
    let len = find(&head[at..], b"\"")?;
    Some(String::from_utf8_lossy(&head[at..at + len]).into_owned())
}

/// Pages through `window` of `t`, handing each body to `each`; returns the pages.
fn page_through(
    http: &mut Http,
    t: CdrType,
    window: &Window,
    mut each: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<u64> {
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = http.graphql(&page_request(t, window, cursor.as_deref()))?;
        pages += 1;
        cursor = next_cursor(body);
        if !each(body)? || cursor.is_none() {
            return Ok(pages);
        }
    }
}

fn window(start_hours: u64, hours: u64) -> Result<Window> {
    Ok(Window::new(
        parse_datetime(&instant(start_hours)?)?,
        parse_datetime(&instant(start_hours + hours)?)?,
    )?)
}

fn simulator_alone(bins: &Bins, opts: &Options) -> Result<Value> {
    eprintln!("bench: the simulator alone");
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let seconds = if opts.quick { 2.0 } else { 5.0 };
    let mut out = BTreeMap::new();
    for (t, name) in [(CdrType::Sms, "sms"), (CdrType::Voice, "voice")] {
        // One page through the executor first: the fast path serves repeats.
        let mut warm = Http::connect(sim.addr())?;
        warm.graphql(&page_request(t, &window(0, 1)?, None))?;
        let cpu_before = sim.cpu_seconds();
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
        let records = pages * LIMIT;
        out.insert(
            name,
            json!({
                "clients": 2,
                "pages": pages,
                "records_per_s": records as f64 / wall,
                "mb_per_s": bytes as f64 / wall / 1e6,
                "bytes_per_record": bytes as f64 / records.max(1) as f64,
                "sim_cpu_s_per_million": cpu / records.max(1) as f64 * 1e6,
            }),
        );
    }
    Ok(json!(out))
}

/// One archiver run's measurements.
struct RunResult {
    records: u64,
    wall_s: f64,
    cpu_s: f64,
    max_rss_kb: u64,
    sim_cpu_s: f64,
}

/// Runs `cdr-sink archive` with `args` and measures it with `wait4`.
fn archive(bins: &Bins, sim: &Sim, dir: &Path, args: &[String]) -> Result<RunResult> {
    if dir.exists() {
        std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    }
    std::fs::create_dir_all(dir)?;
    let summary = dir.join("summary.json");
    let out = dir.join("out");
    let sim_before = sim.cpu_seconds();
    let begun = Instant::now();
    let child = Command::new(&bins.sink)
        .arg("archive")
        .args(args)
        .arg("--out")
        .arg(&out)
        .args(["--api-url", &sim.url, "--quiet", "--summary-json"])
        .arg(&summary)
        .env("TSG_TOKEN", TOKEN)
        .env_remove("TSG_EMAIL")
        .env_remove("TSG_PASSWORD")
        .env_remove("RUST_LOG")
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .context("starting cdr-sink")?;
    let (status, usage, stderr) = wait4(child)?;
    let wall_s = begun.elapsed().as_secs_f64();
    let sim_cpu_s = sim.cpu_seconds() - sim_before;
    if status != 0 {
        bail!(
            "cdr-sink archive {} failed (status {status}): {stderr}",
            args.join(" ")
        );
    }
    let summary: Value = serde_json::from_slice(
        &std::fs::read(&summary).context("reading the archiver's summary")?,
    )?;
    let records = summary["types"].as_object().map_or(0, |types| {
        types.values().filter_map(|t| t["records"].as_u64()).sum()
    });
    let tv = |t: libc::timeval| t.tv_sec as f64 + t.tv_usec as f64 / 1e6;
    let result = RunResult {
        records,
        wall_s,
        cpu_s: tv(usage.ru_utime) + tv(usage.ru_stime),
        max_rss_kb: usage.ru_maxrss as u64,
        sim_cpu_s,
    };
    std::fs::remove_dir_all(dir).with_context(|| format!("clearing {}", dir.display()))?;
    Ok(result)
}

/// Waits for `child` and returns its wait status, resource usage and stderr.
fn wait4(mut child: Child) -> Result<(i32, libc::rusage, String)> {
    let mut stderr = String::new();
    if let Some(mut e) = child.stderr.take() {
        e.read_to_string(&mut stderr)?;
    }
    let pid = child.id() as libc::pid_t;
    let mut status = 0;
    // SAFETY: rusage is plain data, valid when zeroed.
    let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: waits for our own child, writing into the two locals above.
    let r = unsafe { libc::wait4(pid, &mut status, 0, &mut usage) };
    if r != pid {
        bail!("wait4 failed: {}", std::io::Error::last_os_error());
    }
    Ok((status, usage, stderr))
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    match v.len() {
        0 => 0.0,
        n if n % 2 == 1 => v[n / 2],
        n => (v[n / 2 - 1] + v[n / 2]) / 2.0,
    }
}

struct Scenario {
    name: &'static str,
    cdr_type: CdrType,
    format: &'static str,
    hours: u64,
    runs: usize,
}

fn end_to_end(bins: &Bins, bench_dir: &Path, opts: &Options) -> Result<Value> {
    let full = !opts.quick;
    let scenarios = [
        Scenario {
            name: "parquet_sms_1m",
            cdr_type: CdrType::Sms,
            format: "parquet",
            hours: HOURS_PER_MILLION,
            runs: if full { 5 } else { 3 },
        },
        Scenario {
            name: "parquet_sms_10m",
            cdr_type: CdrType::Sms,
            format: "parquet",
            hours: 10 * HOURS_PER_MILLION,
            runs: if full { 2 } else { 0 },
        },
        Scenario {
            name: "parquet_voice_1m",
            cdr_type: CdrType::Voice,
            format: "parquet",
            hours: HOURS_PER_MILLION,
            runs: if full { 3 } else { 1 },
        },
        Scenario {
            name: "csv_sms_1m",
            cdr_type: CdrType::Sms,
            format: "csv",
            hours: HOURS_PER_MILLION,
            runs: if full { 3 } else { 1 },
        },
    ];
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let model = cdr_sim::DataModel::new(
        0,
        &BTreeMap::from([(CdrType::Sms, E2E_RATE), (CdrType::Voice, E2E_RATE)]),
    );
    let mut out = BTreeMap::new();
    for s in scenarios.iter().filter(|s| s.runs > 0) {
        let range = window(0, s.hours)?;
        let expected = model.count(s.cdr_type, range);
        let args: Vec<String> = [
            "--type",
            s.cdr_type.as_str(),
            "--start",
            &instant(0)?,
            "--end",
            &instant(s.hours)?,
            "--format",
            s.format,
        ]
        .map(String::from)
        .to_vec();
        let mut runs = Vec::new();
        for n in 0..s.runs {
            eprintln!("bench: {} run {} of {}", s.name, n + 1, s.runs);
            let r = archive(bins, &sim, &bench_dir.join("run"), &args)?;
            if r.records != expected {
                bail!(
                    "{}: the archiver wrote {} records, the simulator holds {expected}",
                    s.name,
                    r.records
                );
            }
            runs.push(r);
        }
        let per_million = |x: f64, r: &RunResult| x / r.records as f64 * 1e6;
        out.insert(
            s.name,
            json!({
                "type": s.cdr_type.as_str(),
                "format": s.format,
                "records": expected,
                "runs": runs.len(),
                "records_per_s": median(runs.iter().map(|r| r.records as f64 / r.wall_s).collect()),
                "records_per_s_each": runs.iter().map(|r| (r.records as f64 / r.wall_s).round()).collect::<Vec<_>>(),
                "wall_s": median(runs.iter().map(|r| r.wall_s).collect()),
                "cpu_s_per_million": median(runs.iter().map(|r| per_million(r.cpu_s, r)).collect()),
                "cpu_cores_used": median(runs.iter().map(|r| r.cpu_s / r.wall_s).collect()),
                "peak_rss_mb": median(runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).collect()),
                "peak_rss_mb_max": runs.iter().map(|r| r.max_rss_kb as f64 / 1024.0).fold(0.0, f64::max),
                "sim_cpu_s_per_million": median(runs.iter().map(|r| per_million(r.sim_cpu_s, r)).collect()),
            }),
        );
    }
    Ok(json!(out))
}

fn latency_scaling(bins: &Bins, bench_dir: &Path, opts: &Options) -> Result<Value> {
    let pages = if opts.quick { 10 } else { LATENCY_PAGES };
    // SMS in pages of 1000 (the default limit) and MMS in pages of 100, each
    // type with exactly LATENCY_PAGES full pages per hour.
    let args = [
        "--rate".to_string(),
        format!("sms={}", pages * LIMIT),
        "--rate".to_string(),
        format!("mms={}", pages * SMALL_LIMIT),
        "--rate".to_string(),
        "voice=0".to_string(),
        "--rate".to_string(),
        "api=0".to_string(),
        "--latency-ms".to_string(),
        LATENCY_MS.to_string(),
    ];
    let sim = Sim::start(&bins.sim, &args)?;
    let mut variants = Vec::new();
    let mut start = 0;
    for (cdr_type, limit) in [("SMS", LIMIT), ("MMS", SMALL_LIMIT)] {
        let ideal_per_slot = limit as f64 / (LATENCY_MS as f64 / 1000.0);
        let mut levels = Vec::new();
        // Units per concurrency slot: enough that every slot stays busy.
        let waves = |c: u64| match (c, opts.quick) {
            (1, _) => 1,
            (_, true) => 2,
            (_, false) => 3,
        };
        for c in [1u64, 4, 16, 64] {
            let units = c * waves(c);
            eprintln!(
                "bench: latency {LATENCY_MS} ms, limit {limit}, concurrency {c}, {units} units"
            );
            let args: Vec<String> = [
                "--type",
                cdr_type,
                "--start",
                &instant(start)?,
                "--end",
                &instant(start + units)?,
                "--window",
                "1h",
                "--limit",
                &limit.to_string(),
                "--concurrency",
                &c.to_string(),
            ]
            .map(String::from)
            .to_vec();
            start += units;
            let r = archive(bins, &sim, &bench_dir.join("run"), &args)?;
            let per_s = r.records as f64 / r.wall_s;
            let ideal = c as f64 * ideal_per_slot;
            levels.push(json!({
                "concurrency": c,
                "units": units,
                "records": r.records,
                "wall_s": r.wall_s,
                "records_per_s": per_s,
                "ideal_records_per_s": ideal,
                "fraction_of_ideal": per_s / ideal,
                "cpu_s_per_million": r.cpu_s / r.records.max(1) as f64 * 1e6,
                "peak_rss_mb": r.max_rss_kb as f64 / 1024.0,
            }));
        }
        variants.push(json!({
            "type": cdr_type,
            "latency_ms": LATENCY_MS,
            "limit": limit,
            "pages_per_unit": pages,
            "levels": levels,
        }));
    }
    Ok(json!(variants))
}

/// Saves `count` pages of each type from the simulator for the stage benchmarks.
fn save_pages(bins: &Bins, dir: &Path, count: u64) -> Result<()> {
    if dir.exists() {
        std::fs::remove_dir_all(dir)?;
    }
    std::fs::create_dir_all(dir)?;
    let sim = Sim::start(&bins.sim, &rates(E2E_RATE))?;
    let mut http = Http::connect(sim.addr())?;
    for (t, prefix) in [(CdrType::Sms, "sms"), (CdrType::Voice, "voice")] {
        let mut n = 0;
        page_through(&mut http, t, &window(0, 1)?, |body| {
            std::fs::write(dir.join(format!("{prefix}-{n:03}.json")), body)?;
            n += 1;
            Ok(n < count)
        })?;
    }
    Ok(())
}

fn stages(
    bins: &Bins,
    root: &Path,
    target: &Path,
    bench_dir: &Path,
    opts: &Options,
) -> Result<Value> {
    let pages = bench_dir.join("pages");
    save_pages(bins, &pages, 100)?;
    let timing: &[&str] = if opts.quick {
        &[
            "--warm-up-time",
            "0.3",
            "--measurement-time",
            "0.5",
            "--sample-size",
            "10",
        ]
    } else {
        &["--warm-up-time", "1", "--measurement-time", "4"]
    };
    let since = SystemTime::now();
    for (package, bench) in [
        ("cdr-core", "decode"),
        ("cdr-sink-parquet", "encode"),
        ("cdr-sink-csv", "encode"),
    ] {
        eprintln!("bench: stage benchmarks of {package}");
        let mut args = vec!["bench", "-p", package, "--bench", bench, "--"];
        args.extend(timing);
        cargo(root, &args, &[("CDR_BENCH_PAGES", &pages)])?;
    }
    let mut out = BTreeMap::new();
    for group in ["decode", "arrow", "parquet", "csv"] {
        collect_criterion(&target.join("criterion").join(group), since, &mut out)?;
    }
    Ok(json!(out))
}

/// Reads criterion's results written since `since` under `dir`: records per
/// second from the median time per iteration and the elements per iteration.
fn collect_criterion(
    dir: &Path,
    since: SystemTime,
    out: &mut BTreeMap<String, Value>,
) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries.flatten() {
        let path = entry.path();
        if !path.is_dir() {
            continue;
        }
        let new = path.join("new");
        let benchmark = new.join("benchmark.json");
        let fresh = std::fs::metadata(&benchmark)
            .and_then(|m| m.modified())
            .is_ok_and(|t| t >= since);
        if !fresh {
            collect_criterion(&path, since, out)?;
            continue;
        }
        let read = |p: PathBuf| -> Result<Value> {
            Ok(serde_json::from_slice(
                &std::fs::read(&p).with_context(|| format!("reading {}", p.display()))?,
            )?)
        };
        let meta = read(benchmark)?;
        let estimates = read(new.join("estimates.json"))?;
        let ns = estimates["median"]["point_estimate"]
            .as_f64()
            .unwrap_or(0.0);
        let elements = meta["throughput"]["Elements"].as_f64().unwrap_or(0.0);
        let id = meta["full_id"].as_str().unwrap_or("?").to_string();
        out.insert(
            id,
            json!({
                "records_per_s": if ns > 0.0 { elements / (ns / 1e9) } else { 0.0 },
                "ns_per_record": if elements > 0.0 { ns / elements } else { 0.0 },
            }),
        );
    }
    Ok(())
}

/// The issue's targets, each with its measured value and whether it is met.
fn targets(e2e: &Value, latency: &Value, scale_out: &Value, stages: Option<&Value>) -> Value {
    let f = |v: &Value| v.as_f64();
    let mut out = Vec::new();
    let mut add = |name: &str, value: Option<f64>, goal: &str, met: Option<bool>| {
        out.push(json!({ "target": name, "value": value, "goal": goal, "met": met }));
    };
    for scenario in ["parquet_sms_1m", "parquet_sms_10m"] {
        let v = f(&e2e[scenario]["records_per_s"]);
        add(
            &format!("records/s end to end, {scenario}"),
            v,
            ">= 1,000,000",
            v.map(|v| v >= 1e6),
        );
    }
    if let Some(stages) = stages {
        for (scenario, decode) in [
            ("parquet_sms_1m", "decode/reusing/MessageCdr"),
            ("parquet_voice_1m", "decode/reusing/VoiceCdr"),
        ] {
            let ratio = f(&e2e[scenario]["records_per_s"])
                .zip(f(&stages[decode]["records_per_s"]))
                .map(|(e, d)| e / d);
            add(
                &format!("{scenario} / {decode}"),
                ratio,
                ">= 0.5",
                ratio.map(|r| r >= 0.5),
            );
        }
    }
    let small = f(&e2e["parquet_sms_1m"]["peak_rss_mb_max"]);
    let large = f(&e2e["parquet_sms_10m"]["peak_rss_mb_max"]);
    let growth = small.zip(large).map(|(s, l)| l / s);
    add(
        "peak RSS 10M / 1M SMS records",
        growth,
        "<= 1.2",
        growth.map(|g| g <= 1.2),
    );
    for scenario in [
        "parquet_sms_1m",
        "parquet_sms_10m",
        "parquet_voice_1m",
        "csv_sms_1m",
    ] {
        let v = f(&e2e[scenario]["peak_rss_mb_max"]);
        add(
            &format!("peak RSS MB, {scenario}"),
            v,
            "<= 64",
            v.map(|v| v <= 64.0),
        );
    }
    for series in latency.as_array().into_iter().flatten() {
        let worst = series["levels"]
            .as_array()
            .into_iter()
            .flatten()
            .filter_map(|l| f(&l["fraction_of_ideal"]))
            .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))));
        add(
            &format!(
                "latency scaling, lowest fraction of ideal up to 64, limit {}",
                series["limit"]
            ),
            worst,
            ">= 0.9",
            worst.map(|w| w >= 0.9),
        );
    }
    let worst = scale_out["levels"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| f(&l["fraction_of_n_times_one"]))
        .fold(None, |m: Option<f64>, x| Some(m.map_or(x, |m| m.min(x))));
    add(
        "scale-out, lowest fraction of N x one worker (1, 2, 4 workers)",
        worst,
        ">= 0.9",
        worst.map(|w| w >= 0.9),
    );
    json!(out)
}

fn print_table(r: &Value) {
    let m = &r["machine"];
    println!(
        "\ncdr-sink bench{} — {} cores ({}), load average at start {}, commit {}{}",
        if r["quick"].as_bool() == Some(true) {
            " (quick)"
        } else {
            ""
        },
        m["cores"],
        m["cpu"].as_str().unwrap_or(""),
        m["load_average"].as_str().unwrap_or(""),
        r["commit"].as_str().map_or("?", |c| &c[..c.len().min(10)]),
        if r["dirty"].as_bool() == Some(true) {
            " (dirty)"
        } else {
            ""
        },
    );
    println!("\nsimulator alone (2 clients, pages of 1000)");
    println!(
        "  {:<8} {:>12} {:>10} {:>16}",
        "type", "records/s", "MB/s", "sim CPU s / 1M"
    );
    if let Some(sims) = r["simulator_alone"].as_object() {
        for (name, s) in sims {
            println!(
                "  {:<8} {:>12} {:>10.0} {:>16.2}",
                name,
                group(s["records_per_s"].as_f64()),
                s["mb_per_s"].as_f64().unwrap_or(0.0),
                s["sim_cpu_s_per_million"].as_f64().unwrap_or(0.0)
            );
        }
    }
    println!(
        "\nend to end: cdr-sim -> cdr-sink archive -> local disk (median of runs; both on the same cores)"
    );
    println!(
        "  {:<18} {:>5} {:>12} {:>12} {:>10} {:>12} {:>12}",
        "scenario", "runs", "records/s", "CPU s / 1M", "cores", "peak RSS MB", "sim CPU/1M"
    );
    if let Some(e2e) = r["end_to_end"].as_object() {
        for (name, s) in e2e {
            println!(
                "  {:<18} {:>5} {:>12} {:>12.2} {:>10.2} {:>12.1} {:>12.2}",
                name,
                s["runs"].as_u64().unwrap_or(0),
                group(s["records_per_s"].as_f64()),
                s["cpu_s_per_million"].as_f64().unwrap_or(0.0),
                s["cpu_cores_used"].as_f64().unwrap_or(0.0),
                s["peak_rss_mb"].as_f64().unwrap_or(0.0),
                s["sim_cpu_s_per_million"].as_f64().unwrap_or(0.0),
            );
        }
    }
    for l in r["latency_scaling"].as_array().into_iter().flatten() {
        println!(
            "\nlatency scaling: {} ms per page, {} pages of {} per unit ({})",
            l["latency_ms"],
            l["pages_per_unit"],
            l["limit"],
            l["type"].as_str().unwrap_or("")
        );
        println!(
            "  {:>11} {:>6} {:>12} {:>12} {:>9} {:>11} {:>12}",
            "concurrency", "units", "records/s", "ideal", "fraction", "CPU s / 1M", "peak RSS MB"
        );
        for level in l["levels"].as_array().into_iter().flatten() {
            println!(
                "  {:>11} {:>6} {:>12} {:>12} {:>9.2} {:>11.2} {:>12.1}",
                level["concurrency"].as_u64().unwrap_or(0),
                level["units"].as_u64().unwrap_or(0),
                group(level["records_per_s"].as_f64()),
                group(level["ideal_records_per_s"].as_f64()),
                level["fraction_of_ideal"].as_f64().unwrap_or(0.0),
                level["cpu_s_per_million"].as_f64().unwrap_or(0.0),
                level["peak_rss_mb"].as_f64().unwrap_or(0.0),
            );
        }
    }
    let so = &r["scale_out"];
    if so["levels"].is_array() {
        println!(
            "\nscale-out: workers of one plan on one --out, {} ms per page, concurrency {} each",
            so["latency_ms"], so["concurrency_per_worker"]
        );
        println!(
            "  {:>7} {:>6} {:>12} {:>14} {:>11} {:>16}",
            "workers", "units", "records/s", "of N x one", "CPU s / 1M", "units per worker"
        );
        for level in so["levels"].as_array().into_iter().flatten() {
            println!(
                "  {:>7} {:>6} {:>12} {:>14.2} {:>11.2} {:>16}",
                level["workers"].as_u64().unwrap_or(0),
                level["units"].as_u64().unwrap_or(0),
                group(level["records_per_s"].as_f64()),
                level["fraction_of_n_times_one"].as_f64().unwrap_or(0.0),
                level["cpu_s_per_million"].as_f64().unwrap_or(0.0),
                level["units_done_per_worker"].to_string(),
            );
        }
    }
    peers::print(&r["peers"]);
    if let Some(stages) = r["stages"].as_object() {
        println!("\nstages (criterion, one core, pages saved from the simulator)");
        println!(
            "  {:<28} {:>12} {:>10}",
            "benchmark", "records/s", "ns/record"
        );
        for (name, s) in stages {
            println!(
                "  {:<28} {:>12} {:>10.0}",
                name,
                group(s["records_per_s"].as_f64()),
                s["ns_per_record"].as_f64().unwrap_or(0.0)
            );
        }
    }
    println!("\ntargets");
    for t in r["targets"].as_array().into_iter().flatten() {
        let mark = match t["met"].as_bool() {
            Some(true) => "met",
            Some(false) => "MISSED",
            None => "n/a",
        };
        let value = t["value"].as_f64().map_or("-".to_string(), |v| {
            if v >= 1000.0 {
                group(Some(v))
            } else {
                format!("{v:.2}")
            }
        });
        println!(
            "  {:<66} {:>12} {:<13} {}",
            t["target"].as_str().unwrap_or(""),
            value,
            t["goal"].as_str().unwrap_or(""),
            mark
        );
    }
    println!(
        "\nbench took {:.0} s",
        r["bench_seconds"].as_f64().unwrap_or(0.0)
    );
}

/// A whole number with thousands separators.
fn group(v: Option<f64>) -> String {
    let n = v.unwrap_or(0.0).round() as u64;
    let digits = n.to_string();
    let mut out = String::new();
    for (i, c) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn medians_of_odd_and_even_counts() {
        assert_eq!(median(vec![]), 0.0);
        assert_eq!(median(vec![3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(vec![4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn thousands_are_grouped() {
        assert_eq!(group(Some(0.4)), "0");
        assert_eq!(group(Some(999.0)), "999");
        assert_eq!(group(Some(1_000.0)), "1,000");
        assert_eq!(group(Some(1_234_567.0)), "1,234,567");
        assert_eq!(group(None), "0");
    }

    #[test]
    fn the_next_cursor_is_read_from_a_page_head() {
        let page = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":"abc","limit":2},"cdrs":[]}}}"#;
        assert_eq!(next_cursor(page).as_deref(), Some("abc"));
        let last = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[]}}}"#;
        assert_eq!(next_cursor(last), None);
    }

    #[test]
    fn targets_are_judged_from_the_measurements() {
        let e2e = json!({
            "parquet_sms_1m": {"records_per_s": 1.2e6, "peak_rss_mb_max": 50.0},
            "parquet_sms_10m": {"records_per_s": 0.9e6, "peak_rss_mb_max": 70.0},
            "parquet_voice_1m": {"records_per_s": 0.5e6, "peak_rss_mb_max": 60.0},
            "csv_sms_1m": {"records_per_s": 1.0e6, "peak_rss_mb_max": 30.0},
        });
        let latency = json!([{"limit": 1000, "levels": [
            {"fraction_of_ideal": 0.95}, {"fraction_of_ideal": 0.85}
        ]}]);
        let stages = json!({
            "decode/reusing/MessageCdr": {"records_per_s": 2.0e6},
            "decode/reusing/VoiceCdr": {"records_per_s": 2.0e6},
        });
        let t = targets(&e2e, &latency, &json!({}), Some(&stages));
        let met = |name: &str| {
            t.as_array()
                .unwrap()
                .iter()
                .find(|x| x["target"].as_str().unwrap().contains(name))
                .map(|x| x["met"].clone())
                .unwrap()
        };
        assert_eq!(met("end to end, parquet_sms_1m"), json!(true));
        assert_eq!(met("end to end, parquet_sms_10m"), json!(false));
        assert_eq!(met("parquet_sms_1m / decode"), json!(true));
        assert_eq!(met("parquet_voice_1m / decode"), json!(false));
        assert_eq!(met("10M / 1M"), json!(false));
        assert_eq!(met("peak RSS MB, parquet_sms_10m"), json!(false));
        assert_eq!(met("peak RSS MB, csv_sms_1m"), json!(true));
        assert_eq!(met("latency scaling"), json!(false));
        // Without stage results, the ratio targets are not judged at all.
        let t = targets(&e2e, &latency, &json!({}), None);
        assert!(!t.to_string().contains("decode/reusing"));
    }
}
