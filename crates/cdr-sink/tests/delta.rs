//! `--table-format delta` with the real binary against the simulator, on
//! local disk and on the S3 test server, read back by an independent reader:
//! the Python `deltalake` package of the test environment.

mod common;

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use cdr_core::{CdrType, format_datetime};
use cdr_sim::{SimConfig, SimHandle};
use common::*;

const START: &str = "2026-11-01T00:00:00Z";
const END: &str = "2026-11-01T06:00:00Z";
const TYPES: &str = "SMS,MMS,VOICE,API";

fn config() -> SimConfig {
    SimConfig {
        rates: BTreeMap::from([
            (CdrType::Sms, 600),
            (CdrType::Mms, 60),
            (CdrType::Voice, 240),
            (CdrType::Api, 30),
        ]),
        ..SimConfig::default()
    }
}

/// Reads each type's table (at a version, or the latest) and prints, as
/// JSON, its version and its rows: timestamps as `ts:<microseconds>`,
/// decimals as `dec:<text>`, nulls empty. The partition column is left out.
const READER: &str = r#"
import json, os, sys
from deltalake import DeltaTable
import pyarrow as pa
import pyarrow.compute as pc

args = json.loads(sys.argv[1])
out = {}
for t in args["types"]:
    uri = args["base"].rstrip("/") + "/cdr_type=" + t
    dt = DeltaTable(uri, version=args.get("version"), storage_options=args.get("storage") or None)
    table = dt.to_pyarrow_table()
    columns = []
    for name in table.column_names:
        if name == "date":
            continue
        col = table.column(name)
        if pa.types.is_timestamp(col.type):
            columns.append(["" if v is None else "ts:%d" % v for v in pc.cast(col, pa.int64()).to_pylist()])
        elif pa.types.is_decimal(col.type):
            columns.append(["" if v is None else "dec:" + str(v) for v in col.to_pylist()])
        else:
            columns.append(["" if v is None else str(v) for v in col.to_pylist()])
    rows = [list(r) for r in zip(*columns)] if columns else []
    out[t] = {"version": dt.version(), "rows": rows}
print(json.dumps(out))
# Skip the interpreter's teardown: deltalake's and pyarrow's native threads
# can abort it ("terminate called without an active exception") after the
# answer is complete.
sys.stdout.flush()
os._exit(0)
"#;

/// Where the tables are, for the reader.
struct Tables {
    base: String,
    storage: Option<BTreeMap<&'static str, String>>,
}

impl Tables {
    fn local(out: &Path) -> Tables {
        Tables {
            base: out.display().to_string(),
            storage: None,
        }
    }

    fn s3(server: &cdr_testkit::S3Server, url: &str) -> Tables {
        Tables {
            base: url.to_string(),
            storage: Some(BTreeMap::from([
                ("AWS_ENDPOINT_URL", server.endpoint()),
                ("AWS_ACCESS_KEY_ID", "test".to_string()),
                ("AWS_SECRET_ACCESS_KEY", "test".to_string()),
                ("AWS_REGION", cdr_testkit::REGION.to_string()),
                ("AWS_ALLOW_HTTP", "true".to_string()),
            ])),
        }
    }

    /// Each type's table version and sorted rows, as `common::row` renders
    /// records, read at `version` (the latest when `None`).
    async fn read(
        &self,
        types: &[&str],
        version: Option<i64>,
    ) -> BTreeMap<String, (i64, Vec<Vec<String>>)> {
        let python = cdr_testkit::test_python().unwrap_or_else(|e| panic!("{e}"));
        let args = serde_json::json!({
            "base": self.base,
            "types": types,
            "version": version,
            "storage": self.storage,
        });
        let out = tokio::process::Command::new(python)
            .args(["-c", READER])
            .arg(args.to_string())
            .env("PYTHONDONTWRITEBYTECODE", "1")
            .env_remove("PYTHONPATH")
            .kill_on_drop(true)
            .output()
            .await
            .expect("python runs");
        assert!(out.status.success(), "reader: {}", text(&out.stderr));
        let doc: BTreeMap<String, serde_json::Value> =
            serde_json::from_slice(&out.stdout).expect("reader's JSON");
        doc.into_iter()
            .map(|(t, v)| {
                let version = v["version"].as_i64().expect("version");
                let mut rows: Vec<Vec<String>> = v["rows"]
                    .as_array()
                    .expect("rows")
                    .iter()
                    .map(|r| {
                        r.as_array()
                            .expect("row")
                            .iter()
                            .map(|c| normalise(c.as_str().expect("cell")))
                            .collect()
                    })
                    .collect();
                rows.sort();
                (t, (version, rows))
            })
            .collect()
    }
}

fn normalise(cell: &str) -> String {
    if let Some(us) = cell.strip_prefix("ts:") {
        let us: i64 = us.parse().expect("microseconds");
        format_datetime(&chrono::DateTime::from_timestamp_micros(us).expect("instant"))
    } else if let Some(d) = cell.strip_prefix("dec:") {
        d.parse::<rust_decimal::Decimal>()
            .expect("decimal")
            .normalize()
            .to_string()
    } else {
        cell.to_string()
    }
}

fn rows_only(
    read: &BTreeMap<String, (i64, Vec<Vec<String>>)>,
) -> BTreeMap<String, Vec<Vec<String>>> {
    read.iter()
        .map(|(t, (_, r))| (t.clone(), r.clone()))
        .collect()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

const ALL: [&str; 4] = ["sms", "mms", "voice", "api"];

fn all_truth(sim: &SimHandle) -> BTreeMap<String, Vec<Vec<String>>> {
    truth(sim, &CdrType::ALL, &hours_between(START, END))
}

async fn archive(
    sim: &SimHandle,
    out: &str,
    env: &[(&str, String)],
    extra: &[&str],
) -> std::process::Output {
    let mut cmd = bin(sim);
    for (k, v) in env {
        cmd.env(k, v);
    }
    cmd.env_remove("AWS_PROFILE")
        .args(["archive", "--type", TYPES, "--start", START, "--end", END])
        .args(["--table-format", "delta", "--limit", "200", "--quiet"])
        .args(["--out", out])
        .args(extra)
        .output()
        .await
        .expect("binary runs")
}

fn s3_env(server: &cdr_testkit::S3Server) -> Vec<(&'static str, String)> {
    vec![
        ("AWS_ENDPOINT_URL", server.endpoint()),
        ("AWS_ACCESS_KEY_ID", "test".into()),
        ("AWS_SECRET_ACCESS_KEY", "test".into()),
        ("AWS_REGION", cdr_testkit::REGION.into()),
    ]
}

/// Runs `cdr-sink verify` on `out` and asserts that it found nothing.
async fn verify_is_clean(sim: &SimHandle, out: &str, env: &[(&str, String)]) {
    let o = bin(sim)
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
        .args(["verify", "--out", out])
        .output()
        .await
        .expect("binary runs");
    assert!(
        o.status.success(),
        "verify: {}{}",
        text(&o.stdout),
        text(&o.stderr)
    );
}

/// Archives every type as Delta tables, reads them back, runs again (nothing
/// new: no new version), and verifies.
async fn tables_read_back_as_the_ground_truth(out: &str, tables: Tables, env: &[(&str, String)]) {
    let sim = sim(config()).await;
    let o = archive(&sim, out, env, &[]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let read = tables.read(&ALL, None).await;
    assert_same(&rows_only(&read), &all_truth(&sim));
    // The table's creation, then one commit per window.
    for (t, (version, _)) in &read {
        assert_eq!(*version, 6, "{t}");
    }

    let o = archive(&sim, out, env, &[]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let again = tables.read(&ALL, None).await;
    assert_eq!(again, read, "a run with nothing new commits nothing");

    verify_is_clean(&sim, out, env).await;

    // Without the flag, the output is refused: its windows would be missing
    // from the tables.
    let mut cmd = bin(&sim);
    let o = cmd
        .envs(env.iter().map(|(k, v)| (*k, v.clone())))
        .args(["archive", "--type", "SMS", "--start", END, "--end"])
        .arg("2026-11-01T07:00:00Z")
        .args(["--out", out])
        .output()
        .await
        .expect("binary runs");
    assert_eq!(o.status.code(), Some(2), "{}", text(&o.stderr));
    assert!(
        text(&o.stderr).contains("--table-format delta"),
        "{}",
        text(&o.stderr)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_tables_read_back_as_the_ground_truth_local() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("archive");
    let out_text = out.display().to_string();
    tables_read_back_as_the_ground_truth(&out_text, Tables::local(&out), &[]).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delta_tables_read_back_as_the_ground_truth_s3() {
    let server = cdr_testkit::S3Server::shared().expect("S3 test server (moto) starts");
    let bucket = server.new_bucket("delta").await.expect("bucket");
    let url = format!("s3://{bucket}/cdrs/");
    tables_read_back_as_the_ground_truth(&url, Tables::s3(server, &url), &s3_env(server)).await;
}

/// `verify` compares the tables with the ledger: a window finished in the
/// ledger whose commit is missing (a run that stopped between the two), and
/// a file the table shows that no entry lists. The next run publishes the
/// missing window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verify_finds_a_table_that_disagrees_with_the_ledger() {
    use std::sync::Arc;

    use cdr_sink::verify::{ProblemKind, VerifyOptions, verify};
    use cdr_sink_api::Destination;

    let sim = sim(config()).await;
    let dir = tempfile::tempdir().unwrap();
    let dest: Arc<dyn Destination> = Arc::new(cdr_sink_local::LocalDir::new(dir.path()));
    let raw = cdr_sink::RawArchive {
        start: START.into(),
        end: END.into(),
        table_format: "delta".into(),
        ..raw("SMS", "parquet")
    };
    let now = t("2026-11-02T00:00:00Z");
    let s = run_at(&sim, dest.clone(), &raw, now).await.unwrap();
    assert!(s.is_ok(), "{s}");
    let options = VerifyOptions {
        types: vec![],
        concurrency: 2,
        out: "OUT".into(),
    };
    assert!(verify(&dest, &options).await.unwrap().is_ok());

    // The last commit is lost (units run at once, so its window is any of
    // them): that window is finished in the ledger only.
    let log = dir.path().join("cdr_type=sms/_delta_log");
    std::fs::remove_file(log.join(format!("{:020}.json", 6))).unwrap();
    let report = verify(&dest, &options).await.unwrap();
    let kinds: Vec<ProblemKind> = report.problems.iter().map(|p| p.kind).collect();
    assert_eq!(kinds, [ProblemKind::NotInTable], "{report}");
    let lost = report.problems[0].window_start.expect("the window");
    assert!(
        report.repair[0].contains(&format!("--start {}", format_datetime(&lost))),
        "{report}"
    );
    assert_eq!(report.repair.len(), 1, "{report}");
    assert!(
        report.repair[0].ends_with("--table-format delta"),
        "{report}"
    );

    // The next run publishes it, and nothing else.
    let s = run_at(&sim, dest.clone(), &raw, now).await.unwrap();
    assert!(s.is_ok(), "{s}");
    assert!(verify(&dest, &options).await.unwrap().is_ok());
    assert!(log.join(format!("{:020}.json", 6)).is_file());
    assert!(!log.join(format!("{:020}.json", 7)).is_file());

    // A file the table shows that no ledger entry lists.
    let table = cdr_sink::delta::open_table(dest.clone(), CdrType::Sms)
        .await
        .unwrap();
    let stray = "date=2026-11-01/part-stray-00000.parquet";
    std::fs::write(dir.path().join("cdr_type=sms").join(stray), b"x").unwrap();
    table
        .publish(cdr_sink_delta::WindowCommit {
            app_id: "someone-else/stray".into(),
            generation: 0,
            date: chrono::NaiveDate::from_ymd_opt(2026, 11, 1).unwrap(),
            prefix: "date=2026-11-01/part-stray-".into(),
            files: vec![cdr_sink_delta::DataFile {
                path: stray.into(),
                size: 1,
                rows: 1,
                modified: std::time::SystemTime::now(),
            }],
            min_datetime: None,
            max_datetime: None,
        })
        .await
        .unwrap();
    let report = verify(&dest, &options).await.unwrap();
    let kinds: Vec<ProblemKind> = report.problems.iter().map(|p| p.kind).collect();
    assert!(
        kinds.contains(&ProblemKind::NotInLedgerButInTable),
        "{report}"
    );
}

/// Where a test's archive is: a local directory or a prefix of a bucket on
/// the S3 test server.
enum Out {
    Local(tempfile::TempDir),
    S3(String),
}

impl Out {
    fn local() -> Out {
        Out::Local(tempfile::tempdir().unwrap())
    }

    async fn s3(hint: &str) -> Out {
        let server = cdr_testkit::S3Server::shared().expect("S3 test server (moto) starts");
        let bucket = server.new_bucket(hint).await.expect("bucket");
        Out::S3(format!("s3://{bucket}/cdrs/"))
    }

    /// `--out`.
    fn out(&self) -> String {
        match self {
            Out::Local(dir) => dir.path().join("archive").display().to_string(),
            Out::S3(url) => url.clone(),
        }
    }

    fn env(&self) -> Vec<(&'static str, String)> {
        match self {
            Out::Local(_) => Vec::new(),
            Out::S3(_) => s3_env(cdr_testkit::S3Server::shared().expect("S3 test server")),
        }
    }

    fn tables(&self) -> Tables {
        match self {
            Out::Local(dir) => Tables::local(&dir.path().join("archive")),
            Out::S3(url) => Tables::s3(
                cdr_testkit::S3Server::shared().expect("S3 test server"),
                url,
            ),
        }
    }

    async fn dest(&self) -> std::sync::Arc<dyn cdr_sink_api::Destination> {
        match self {
            Out::Local(dir) => {
                std::sync::Arc::new(cdr_sink_local::LocalDir::new(dir.path().join("archive")))
            }
            Out::S3(url) => s3_at(url).await,
        }
    }
}

/// The actions of each commit of `t`'s table, by version, read from the
/// store as any reader would.
async fn log_actions(out: &Out, t: &str) -> BTreeMap<u64, Vec<serde_json::Value>> {
    let dest = out.dest().await;
    let mut commits = BTreeMap::new();
    for meta in dest
        .list(&format!("cdr_type={t}/_delta_log/"))
        .await
        .unwrap()
    {
        let Some(version) = meta
            .key
            .file_name()
            .strip_suffix(".json")
            .and_then(|v| v.parse::<u64>().ok())
        else {
            continue;
        };
        let body = dest.get(&meta.key).await.unwrap().expect("a listed commit");
        let actions = std::str::from_utf8(&body)
            .unwrap()
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        commits.insert(version, actions);
    }
    commits
}

/// A re-rated window is replaced by `--rescan` in one commit: the version
/// before it shows the old charges only, the version after the new ones only.
/// The old generation's files stay in place, so the version before still
/// reads whole, until `--keep-replaced` has passed; then a run deletes them.
async fn a_replacement_is_one_version(out: Out) {
    let sim = sim(config()).await;
    let tables = out.tables();
    let o = archive(&sim, &out.out(), &out.env(), &[]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let old_truth = all_truth(&sim);
    let before = tables.read(&["sms"], None).await;
    let v = before["sms"].0;
    assert_eq!(before["sms"].1, old_truth["sms"]);

    sim.rerate(
        CdrType::Sms,
        window("2026-11-01T03:10:00Z", "2026-11-01T03:20:00Z"),
        rust_decimal::Decimal::new(1, 4),
    );
    let new_truth = all_truth(&sim);
    assert_ne!(old_truth["sms"], new_truth["sms"]);
    let o = archive(&sim, &out.out(), &out.env(), &["--rescan", "6h"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));

    let after = tables.read(&["sms"], None).await;
    assert_eq!(after["sms"].0, v + 1, "one commit replaces the window");
    assert_eq!(after["sms"].1, new_truth["sms"]);
    // That commit removes the old generation's files and adds the new one's.
    let log = log_actions(&out, "sms").await;
    let actions = &log[&(v as u64 + 1)];
    let removed: Vec<&str> = actions
        .iter()
        .filter_map(|a| a["remove"]["path"].as_str())
        .collect();
    let added: Vec<&str> = actions
        .iter()
        .filter_map(|a| a["add"]["path"].as_str())
        .collect();
    assert!(
        !removed.is_empty()
            && removed
                .iter()
                .all(|p| p.contains("T030000Z-") && !p.contains("-g0001-")),
        "{removed:?}"
    );
    assert!(
        !added.is_empty() && added.iter().all(|p| p.contains("-g0001-")),
        "{added:?}"
    );
    let txn: Vec<(&str, i64)> = actions
        .iter()
        .filter_map(|a| Some((a["txn"]["appId"].as_str()?, a["txn"]["version"].as_i64()?)))
        .collect();
    assert_eq!(txn, [("cdr-sink/20261101T030000Z-20261101T040000Z", 1)]);

    // Time travel: the version before the replacement still reads whole, and
    // verify accepts the files it alone names.
    let old = tables.read(&["sms"], Some(v)).await;
    assert_eq!(old["sms"], (v, old_truth["sms"].clone()));
    verify_is_clean(&sim, &out.out(), &out.env()).await;

    // Once --keep-replaced has passed, the next run deletes them; the table
    // still reads as the new ground truth.
    let o = archive(&sim, &out.out(), &out.env(), &["--keep-replaced", "0s"]).await;
    assert!(o.status.success(), "{}", text(&o.stderr));
    let names: Vec<String> = out
        .dest()
        .await
        .list("cdr_type=sms/")
        .await
        .unwrap()
        .into_iter()
        .map(|m| m.key.file_name().to_string())
        .collect();
    for path in &removed {
        let name = path.rsplit('/').next().unwrap_or(path);
        assert!(!names.iter().any(|n| n == name), "{name} is still there");
    }
    let latest = tables.read(&["sms"], None).await;
    assert_eq!(latest["sms"], (v + 1, new_truth["sms"].clone()));
    verify_is_clean(&sim, &out.out(), &out.env()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_is_one_version_local() {
    a_replacement_is_one_version(Out::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replacement_is_one_version_s3() {
    a_replacement_is_one_version(Out::s3("delta-rescan").await).await;
}

/// Two processes archiving the same range onto one output at once: every
/// window is committed once, whoever fetched it.
async fn two_workers_commit_each_window_once(out: Out) {
    let sim = sim(config()).await;
    let (path, env) = (out.out(), out.env());
    let (a, b) = tokio::join!(
        archive(&sim, &path, &env, &["--concurrency", "2"]),
        archive(&sim, &path, &env, &["--concurrency", "2"])
    );
    assert!(a.status.success(), "{}", text(&a.stderr));
    assert!(b.status.success(), "{}", text(&b.stderr));
    let read = out.tables().read(&ALL, None).await;
    assert_same(&rows_only(&read), &all_truth(&sim));
    for t in ALL {
        let mut txns = Vec::new();
        let mut adds = BTreeSet::new();
        for actions in log_actions(&out, t).await.values() {
            for a in actions {
                if let Some(id) = a["txn"]["appId"].as_str() {
                    txns.push(id.to_string());
                }
                if let Some(p) = a["add"]["path"].as_str() {
                    assert!(adds.insert(p.to_string()), "{t}: {p} added twice");
                }
            }
        }
        txns.sort();
        let windows = txns.len();
        txns.dedup();
        assert_eq!((windows, txns.len()), (6, 6), "{t}: one commit per window");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_commit_each_window_once_local() {
    two_workers_commit_each_window_once(Out::local()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_commit_each_window_once_s3() {
    two_workers_commit_each_window_once(Out::s3("delta-workers").await).await;
}

/// The real binary SIGKILLed at several moments of a run with
/// `--table-format delta`: after each kill, the reader sees every window of
/// each table whole (exactly its records) or not at all; the run after the
/// last kill completes the tables.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_run_leaves_each_window_whole_or_invisible() {
    use std::time::{Duration, Instant};

    // Latency per page makes each run long enough to be killed in the middle.
    let sim = sim(SimConfig {
        latency: Duration::from_millis(4),
        ..config()
    })
    .await;
    let out = Out::local();
    let root = match &out {
        Out::Local(dir) => dir.path().join("archive"),
        Out::S3(_) => unreachable!("local"),
    };
    let command = || {
        let mut cmd = bin(&sim);
        cmd.args([
            "archive",
            "--type",
            "SMS,VOICE",
            "--start",
            START,
            "--end",
            END,
        ])
        .args([
            "--table-format",
            "delta",
            "--limit",
            "50",
            "--concurrency",
            "3",
        ])
        .args(["--roll-rows", "400", "--lease", "5s", "--out"])
        .arg(&root)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
        cmd
    };
    // Each window's rows in the ground truth, by type.
    let hours = hours_between(START, END);
    let by_window = |t: CdrType| -> Vec<Vec<Vec<String>>> {
        hours
            .iter()
            .map(|w| {
                let mut rows: Vec<Vec<String>> = sim.ground_truth(t, *w).map(|r| row(&r)).collect();
                rows.sort();
                rows
            })
            .collect()
    };
    let truth_windows = [
        ("sms", by_window(CdrType::Sms)),
        ("voice", by_window(CdrType::Voice)),
    ];
    let mut kills = 0;
    let mut checked = 0;
    for k in [1usize, 3, 8, 21, 55, 89] {
        let before = files(&root).len();
        let mut child = command().spawn().expect("spawn");
        let mut exited = None;
        let deadline = Instant::now() + Duration::from_secs(300);
        while exited.is_none() && files(&root).len() < before + k && Instant::now() < deadline {
            exited = child.try_wait().expect("try_wait");
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
        if exited.is_none() {
            child.start_kill().expect("SIGKILL");
            child.wait().await.expect("reaped");
            kills += 1;
        }
        let present: Vec<&str> = ["sms", "voice"]
            .into_iter()
            // A table exists once its first commit does.
            .filter(|t| {
                root.join(format!("cdr_type={t}/_delta_log/{:020}.json", 0))
                    .is_file()
            })
            .collect();
        if present.is_empty() {
            continue;
        }
        let read = Tables::local(&root).read(&present, None).await;
        for (t, windows) in &truth_windows {
            let Some((_, rows)) = read.get(*t) else {
                continue;
            };
            // Every row the reader sees belongs to a window it sees whole.
            let mut shown = 0;
            for want in windows {
                let seen = want
                    .iter()
                    .filter(|r| rows.binary_search(r).is_ok())
                    .count();
                assert!(
                    seen == 0 || seen == want.len(),
                    "after kill {kills}: {t}: a window shows {seen} of its {} records",
                    want.len()
                );
                shown += seen;
            }
            assert_eq!(
                shown,
                rows.len(),
                "after kill {kills}: {t}: rows of no window"
            );
            checked += 1;
        }
    }
    assert!(kills >= 3, "only {kills} runs were killed mid-way");
    assert!(checked >= 2, "the tables were read after {checked} kills");
    let status = command().status().await.unwrap();
    assert!(status.success());
    let read = Tables::local(&root).read(&["sms", "voice"], None).await;
    assert_same(
        &rows_only(&read),
        &truth(&sim, &[CdrType::Sms, CdrType::Voice], &hours),
    );
}
