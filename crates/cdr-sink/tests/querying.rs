//! `docs/querying.md` runs: its tested Python snippets (DuckDB, Polars) query
//! archives that the real `cdr-sink` binary wrote from the simulator, and what
//! they answer equals the simulator's records. So the document cannot rot.
//!
//! A tested snippet is a ```` ```python ```` block right after a line
//! `<!-- doc-test: NAME (VARIABLE) -->`: it is run as it stands, from a
//! directory whose `archive/` is the archive, with the test environment's
//! Python (`cargo xtask test` makes it); then VARIABLE (a DuckDB relation or
//! a Polars frame) must hold one row per type: `cdr_type`, records, charge.

mod common;

use std::collections::BTreeMap;
use std::path::Path;

use cdr_core::{CdrType, Value};
use cdr_sim::SimConfig;
use common::*;
use rust_decimal::Decimal;

const DOC: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/querying.md");
const START: &str = "2026-11-01T00:00:00Z";
const END: &str = "2026-11-02T06:00:00Z";
/// 2026-11-01 in America/New_York, the local day of the doc's examples: 25
/// hours, as daylight saving time ends that day.
const LOCAL_DAY: (&str, &str) = ("2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z");

/// Prints the result variable as JSON rows of strings, after the snippet ran.
const EPILOGUE: &str = r#"
import json as _json
_value = {VARIABLE}
if hasattr(_value, "fetchall"):  # a DuckDB relation
    _rows = _value.fetchall()
else:  # a Polars DataFrame or LazyFrame
    if hasattr(_value, "collect"):
        _value = _value.collect()
    _rows = _value.rows()
print("doc-test-result " + _json.dumps([[None if v is None else str(v) for v in r] for r in _rows]))
# Skip the interpreter's teardown, where native reader threads (deltalake,
# pyarrow) can abort the process after the answer is complete.
import os as _os, sys as _sys
_sys.stdout.flush()
_os._exit(0)
"#;

#[derive(Debug)]
struct Snippet {
    name: String,
    variable: String,
    code: String,
}

/// The tested snippets of `doc`, in order.
fn snippets(doc: &str) -> Vec<Snippet> {
    let mut out = Vec::new();
    let mut lines = doc.lines();
    while let Some(line) = lines.next() {
        let Some(marker) = line
            .trim()
            .strip_prefix("<!-- doc-test:")
            .and_then(|m| m.strip_suffix("-->"))
        else {
            continue;
        };
        let (name, variable) = marker
            .trim()
            .split_once(" (")
            .and_then(|(n, v)| Some((n.trim(), v.strip_suffix(')')?.trim())))
            .unwrap_or_else(|| {
                panic!("malformed marker `{line}`: use <!-- doc-test: NAME (VARIABLE) -->")
            });
        let fence = lines.by_ref().find(|l| !l.trim().is_empty());
        assert_eq!(
            fence.map(str::trim),
            Some("```python"),
            "{name}: the marker must be followed by a ```python block"
        );
        let code: Vec<&str> = lines.by_ref().take_while(|l| l.trim() != "```").collect();
        out.push(Snippet {
            name: name.to_string(),
            variable: variable.to_string(),
            code: code.join("\n") + "\n",
        });
    }
    out
}

/// Per lowercase type: records and the sum of `charge` (normalised).
type Totals = BTreeMap<String, (u64, String)>;

fn truth(sim: &cdr_sim::SimHandle, start: &str, end: &str) -> Totals {
    let w = window(start, end);
    CdrType::ALL
        .iter()
        .map(|&ty| {
            let charge = ty.record_kind().column_index("charge").expect("charge");
            let (mut n, mut sum) = (0u64, Decimal::ZERO);
            for r in sim.ground_truth(ty, w) {
                n += 1;
                if let Value::Decimal(d) = r.value(charge) {
                    sum += d;
                }
            }
            (ty.as_lower().to_string(), (n, sum.normalize().to_string()))
        })
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Runs `snippet` from `dir` and reads its result rows.
async fn run(python: &Path, dir: &Path, snippet: &Snippet) -> Totals {
    let script = dir.join(format!("doc-test-{}.py", snippet.name));
    let code = snippet.code.clone() + &EPILOGUE.replace("{VARIABLE}", &snippet.variable);
    std::fs::write(&script, code).expect("write script");
    let out = tokio::process::Command::new(python)
        .arg(&script)
        .current_dir(dir)
        .env("PYTHONDONTWRITEBYTECODE", "1")
        .env_remove("PYTHONPATH")
        .kill_on_drop(true)
        .output()
        .await
        .expect("python runs");
    let stdout = text(&out.stdout);
    assert!(
        out.status.success(),
        "{}: {}\n{stdout}{}",
        snippet.name,
        out.status,
        text(&out.stderr)
    );
    let json = stdout
        .lines()
        .find_map(|l| l.strip_prefix("doc-test-result "))
        .unwrap_or_else(|| panic!("{}: no result in\n{stdout}", snippet.name));
    let rows: Vec<Vec<Option<String>>> = serde_json::from_str(json).expect("result rows");
    rows.into_iter()
        .map(|row| {
            let [Some(ty), Some(records), charge] = &row[..] else {
                panic!(
                    "{}: a row must be cdr_type, records, charge: {row:?}",
                    snippet.name
                );
            };
            let charge = charge
                .as_deref()
                .map(|c| c.parse::<Decimal>().expect("decimal charge"))
                .unwrap_or_default();
            (
                ty.clone(),
                (
                    records.parse().expect("record count"),
                    charge.normalize().to_string(),
                ),
            )
        })
        .collect()
}

async fn archive(sim: &cdr_sim::SimHandle, out: &Path, format: &str, table_format: &str) {
    let o = bin(sim)
        .args([
            "archive",
            "--type",
            "SMS,MMS,VOICE,API",
            "--start",
            START,
            "--end",
            END,
            "--format",
            format,
            "--table-format",
            table_format,
            "--quiet",
        ])
        .arg("--out")
        .arg(out)
        .output()
        .await
        .expect("binary runs");
    assert!(o.status.success(), "stderr: {}", text(&o.stderr));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_query_docs_snippets_answer_the_ground_truth() {
    let python = cdr_testkit::test_python().unwrap_or_else(|e| panic!("{e}"));
    let doc = std::fs::read_to_string(DOC).expect("docs/querying.md");
    let snippets = snippets(&doc);
    let names: Vec<&str> = snippets.iter().map(|s| s.name.as_str()).collect();
    assert_eq!(
        names,
        [
            "duckdb-totals",
            "duckdb-csv-totals",
            "polars-totals",
            "polars-delta-totals",
            "duckdb-local-day",
            "polars-local-day"
        ],
        "the tested snippets of docs/querying.md"
    );

    let sim = sim(SimConfig {
        rates: [
            (CdrType::Sms, 120),
            (CdrType::Mms, 30),
            (CdrType::Voice, 60),
            (CdrType::Api, 20),
        ]
        .into(),
        ..SimConfig::default()
    })
    .await;
    let dir = tempfile::tempdir().expect("tempdir");
    let parquet = dir.path().join("parquet");
    let csv = dir.path().join("csv");
    let delta = dir.path().join("delta");
    archive(&sim, &parquet.join("archive"), "parquet", "files").await;
    archive(&sim, &csv.join("archive"), "csv", "files").await;
    archive(&sim, &delta.join("archive"), "parquet", "delta").await;

    let all = truth(&sim, START, END);
    let local_day = truth(&sim, LOCAL_DAY.0, LOCAL_DAY.1);
    assert!(all.values().all(|(n, _)| *n > 0), "{all:?}");
    assert!(local_day != all, "the local day is a part of the archive");

    for snippet in &snippets {
        let (archive_dir, want) = match snippet.name.as_str() {
            "duckdb-totals" | "polars-totals" => (&parquet, &all),
            "duckdb-csv-totals" => (&csv, &all),
            "polars-delta-totals" => (&delta, &all),
            "duckdb-local-day" | "polars-local-day" => (&parquet, &local_day),
            other => panic!("no expectation for doc-test `{other}`"),
        };
        let got = run(&python, archive_dir, snippet).await;
        assert_eq!(&got, want, "{}", snippet.name);
    }
}

#[test]
fn snippets_are_found_after_their_markers() {
    let doc = "text\n<!-- doc-test: a (x) -->\n\n```python\nx = 1\n```\n\n```python\nnot = tested\n```\n\
               <!-- doc-test: b-2 (day) -->\n```python\nday = 2\nprint(day)\n```\n";
    let found = snippets(doc);
    assert_eq!(found.len(), 2);
    assert_eq!(
        (
            found[0].name.as_str(),
            found[0].variable.as_str(),
            found[0].code.as_str()
        ),
        ("a", "x", "x = 1\n")
    );
    assert_eq!(
        (
            found[1].name.as_str(),
            found[1].variable.as_str(),
            found[1].code.as_str()
        ),
        ("b-2", "day", "day = 2\nprint(day)\n")
    );
}
