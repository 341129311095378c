//! The deployment files read as what they claim to be: the Kubernetes
//! manifests parse (PyYAML, from the test environment) and have the shape the
//! docs describe, the IAM policy grants what the archiver needs, and the
//! Dockerfile builds with `--locked` on the pinned toolchain and runs as a
//! non-root user. No container runtime or cluster is involved.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::Value;

fn root() -> PathBuf {
    let xtask = Path::new(env!("CARGO_MANIFEST_DIR"));
    xtask.parent().expect("workspace root").to_path_buf()
}

fn read(path: &str) -> String {
    std::fs::read_to_string(root().join(path)).unwrap_or_else(|e| panic!("{path}: {e}"))
}

/// Every document of a YAML file, as JSON.
fn yaml(path: &str) -> Vec<Value> {
    let python = cdr_testkit::test_python().unwrap_or_else(|e| panic!("{e}"));
    let out = Command::new(python)
        .args([
            "-c",
            "import json, sys, yaml\n\
             with open(sys.argv[1]) as f:\n    \
                 print(json.dumps(list(yaml.safe_load_all(f))))",
        ])
        .arg(root().join(path))
        .output()
        .expect("python runs");
    assert!(
        out.status.success(),
        "{path} does not parse: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json")
}

fn one(path: &str, kind: &str) -> Value {
    let docs = yaml(path);
    assert_eq!(docs.len(), 1, "{path}: one document");
    let doc = docs.into_iter().next().expect("document");
    assert_eq!(doc["kind"], kind, "{path}");
    doc
}

fn strings(v: &Value) -> Vec<&str> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|s| s.as_str().unwrap_or_else(|| panic!("not a string: {s}")))
        .collect()
}

/// The flag values of an `archive` command line.
fn flag<'a>(args: &[&'a str], name: &str) -> Option<&'a str> {
    args.iter()
        .position(|a| *a == name)
        .and_then(|i| args.get(i + 1).copied())
}

/// What every archive pod must have: the ServiceAccount, the Secret, resources,
/// a non-root user, the archive command with a lease and an S3 output.
fn check_pod(path: &str, pod: &Value) -> Vec<String> {
    assert_eq!(pod["serviceAccountName"], "cdr-sink", "{path}");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true, "{path}");
    let containers = pod["containers"].as_array().expect("containers");
    assert_eq!(containers.len(), 1, "{path}");
    let c = &containers[0];
    assert_eq!(
        c["envFrom"][0]["secretRef"]["name"], "tsg-credentials",
        "{path}"
    );
    for key in ["requests", "limits"] {
        assert!(
            c["resources"][key]["memory"].is_string(),
            "{path}: {key}.memory"
        );
    }
    let args = strings(&c["args"]);
    assert_eq!(args[0], "archive", "{path}");
    assert_eq!(flag(&args, "--lease"), Some("5m"), "{path}");
    assert!(
        flag(&args, "--out").is_some_and(|o| o.starts_with("s3://")),
        "{path}"
    );
    let text = serde_json::to_string(c).expect("json");
    assert!(
        !text.contains("JOB_COMPLETION_INDEX"),
        "{path}: pods need no shard"
    );
    args.iter().map(|a| a.to_string()).collect()
}

#[test]
fn the_cronjob_archives_every_hour_with_a_deadline() {
    let cron = one("deploy/cronjob.yaml", "CronJob");
    assert_eq!(cron["apiVersion"], "batch/v1");
    assert_eq!(cron["spec"]["schedule"], "20 * * * *");
    let job = &cron["spec"]["jobTemplate"]["spec"];
    let deadline = job["activeDeadlineSeconds"].as_u64().expect("deadline");
    assert!(
        (60..3600).contains(&deadline),
        "a run ends before the next: {deadline}"
    );
    let args = check_pod("deploy/cronjob.yaml", &job["template"]["spec"]);
    assert!(args.iter().any(|a| a == "--incremental"), "{args:?}");
}

#[test]
fn the_backfill_is_an_indexed_job_with_one_command_for_every_pod() {
    let job = one("deploy/backfill-job.yaml", "Job");
    let spec = &job["spec"];
    assert_eq!(spec["completionMode"], "Indexed");
    let n = spec["parallelism"].as_u64().expect("parallelism");
    assert!(n > 1, "{n}");
    assert_eq!(spec["completions"].as_u64(), Some(n));
    assert!(spec["activeDeadlineSeconds"].as_u64().is_some());
    let args = check_pod("deploy/backfill-job.yaml", &spec["template"]["spec"]);
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    assert!(flag(&args, "--start").is_some() && flag(&args, "--end").is_some());
}

#[test]
fn the_service_account_carries_the_iam_role() {
    let sa = one("deploy/serviceaccount.yaml", "ServiceAccount");
    assert_eq!(sa["metadata"]["name"], "cdr-sink");
    let role = sa["metadata"]["annotations"]["eks.amazonaws.com/role-arn"]
        .as_str()
        .expect("IRSA annotation");
    assert!(role.starts_with("arn:aws:iam::"), "{role}");
}

#[test]
fn the_iam_policy_grants_what_the_archiver_needs() {
    let policy: Value = serde_json::from_str(&read("deploy/iam-policy.json")).expect("JSON");
    assert_eq!(policy["Version"], "2012-10-17");
    let mut s3 = Vec::new();
    let mut kms = Vec::new();
    for statement in policy["Statement"].as_array().expect("statements") {
        assert_eq!(statement["Effect"], "Allow");
        for action in strings(&statement["Action"]) {
            if action.starts_with("kms:") {
                kms.push(action);
            } else {
                s3.push(action);
            }
        }
    }
    s3.sort_unstable();
    assert_eq!(
        s3,
        [
            "s3:AbortMultipartUpload",
            "s3:DeleteObject",
            "s3:GetObject",
            "s3:ListBucket",
            "s3:ListBucketMultipartUploads",
            "s3:ListMultipartUploadParts",
            "s3:PutObject",
        ]
    );
    kms.sort_unstable();
    assert_eq!(kms, ["kms:Decrypt", "kms:GenerateDataKey"]);
}

#[test]
fn the_dockerfile_builds_locked_on_the_pinned_toolchain_and_runs_unprivileged() {
    let dockerfile = read("Dockerfile");
    let toolchain = read("rust-toolchain.toml");
    let channel = toolchain
        .lines()
        .find_map(|l| l.trim().strip_prefix("channel = "))
        .map(|c| c.trim_matches('"'))
        .expect("channel");
    let froms: Vec<&str> = dockerfile
        .lines()
        .filter_map(|l| l.strip_prefix("FROM "))
        .collect();
    assert_eq!(froms.len(), 2, "two stages: {froms:?}");
    assert!(
        froms[0].starts_with(&format!("rust:{channel}-")),
        "the builder runs rust-toolchain.toml's {channel}: {}",
        froms[0]
    );
    // The runtime image is the builder's Debian release (glibc).
    let release = froms[0]
        .split_whitespace()
        .next()
        .and_then(|image| image.rsplit('-').next())
        .expect("release");
    assert!(
        froms[1].starts_with(&format!("debian:{release}-slim")),
        "{}",
        froms[1]
    );
    assert!(dockerfile.contains("cargo build --release --locked --package cdr-sink"));
    assert!(dockerfile.contains("ca-certificates"));
    let user = dockerfile
        .lines()
        .rev()
        .find_map(|l| l.strip_prefix("USER "))
        .expect("USER");
    assert!(
        !user.starts_with("root") && !user.starts_with('0'),
        "{user}"
    );
    assert!(dockerfile.contains("ENTRYPOINT [\"cdr-sink\"]"));
    let ignored = read(".dockerignore");
    for path in ["target", ".git"] {
        assert!(ignored.lines().any(|l| l.trim() == path), "{path}");
    }
}
