//! The command line of `cargo xtask bench`.

use std::path::PathBuf;

use anyhow::{Context, Result, bail};

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

/// What the command line asks for.
pub(super) struct Options {
    /// A short run: single runs, no 10-million-record run, short stages.
    pub quick: bool,
    /// Where the JSON goes (default `target/bench/bench.json`).
    pub out: Option<PathBuf>,
    /// Whether to build the release binaries first.
    pub build: bool,
    /// Where the binaries are (default the release target directory).
    pub bin_dir: Option<PathBuf>,
    /// Whether to run the criterion stage benchmarks.
    pub stages: bool,
    /// Whether to run the Python peer beside cdr-sink.
    pub peers: bool,
}

/// The options of `args`; `None` when they asked for help (printed).
pub(super) fn options(args: &[String]) -> Result<Option<Options>> {
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
