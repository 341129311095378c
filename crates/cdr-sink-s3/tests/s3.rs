//! The S3 destination against a real S3-compatible server over HTTP (moto,
//! started once for this test binary; see `cdr-testkit`).

use std::time::Duration;

use aws_sdk_s3::types::ServerSideEncryption;
use bytes::Bytes;
use cdr_sink_api::{Destination, Leftovers, ObjectKey, StoreError, conformance};
use cdr_sink_s3::{ChecksumMode, Credentials, MIN_PART_SIZE, S3Destination, S3Options, Sse};
use cdr_testkit::{FaultProxy, REGION, S3Server};
use futures_util::StreamExt;

const MIB: usize = 1024 * 1024;

fn server() -> &'static S3Server {
    S3Server::shared().unwrap_or_else(|e| panic!("{e}"))
}

/// Options for the test server: explicit endpoint, region and dummy
/// credentials (never the environment's), and the smallest parts S3 allows.
fn options(endpoint: &str) -> S3Options {
    S3Options {
        endpoint: Some(endpoint.to_string()),
        region: Some(REGION.to_string()),
        credentials: Some(server().credentials()),
        part_size: MIN_PART_SIZE,
        ..S3Options::default()
    }
}

/// A fresh bucket and a destination on `s3://bucket/{prefix}`.
async fn destination(hint: &str, prefix: &str, options: S3Options) -> (S3Destination, String) {
    let bucket = server().new_bucket(hint).await.expect("create bucket");
    let dest = S3Destination::from_url(&format!("s3://{bucket}/{prefix}"), options)
        .await
        .expect("destination");
    (dest, bucket)
}

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).expect("valid key")
}

fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 7 % 253) as u8).collect()
}

async fn pending(bucket: &str) -> Vec<String> {
    server()
        .pending_uploads(bucket)
        .await
        .expect("list uploads")
        .into_iter()
        .map(|u| u.key)
        .collect()
}

async fn objects(bucket: &str) -> Vec<String> {
    server().objects(bucket).await.expect("list objects")
}

/// Waits until the only pending upload in `bucket` is `s3_key` with `parts` parts stored.
async fn until_parts_stored(bucket: &str, s3_key: &str, parts: usize) {
    cdr_testkit::until(&format!("{parts} parts of {s3_key} are stored"), || async {
        let uploads = server()
            .pending_uploads(bucket)
            .await
            .expect("list uploads");
        match uploads.as_slice() {
            [u] if u.key == s3_key => {
                server().part_count(bucket, u).await.expect("list parts") >= parts
            }
            _ => false,
        }
    })
    .await;
}

async fn read_all(dest: &S3Destination, k: &ObjectKey) -> Vec<u8> {
    let mut stream = dest.read(k).await.expect("read");
    let mut out = Vec::new();
    while let Some(chunk) = stream.next().await {
        out.extend_from_slice(&chunk.expect("chunk"));
    }
    out
}

#[tokio::test]
async fn conformance_suite_under_a_prefix() {
    let (dest, bucket) = destination(
        "conformance",
        "archive/cdrs/",
        options(&server().endpoint()),
    )
    .await;
    conformance::run_all(&dest).await;
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
    assert_eq!(pending(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn conformance_suite_at_the_bucket_root_with_sdk_checksums() {
    let (dest, bucket) = destination(
        "conformance-root",
        "",
        S3Options {
            checksums: ChecksumMode::Default,
            ..options(&server().endpoint())
        },
    )
    .await;
    conformance::run_all(&dest).await;
    assert_eq!(pending(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_large_object_is_uploaded_in_parts_and_reads_back_equal() {
    for checksums in [ChecksumMode::Auto, ChecksumMode::Default] {
        let (dest, bucket) = destination(
            "multipart",
            "p/",
            S3Options {
                checksums,
                ..options(&server().endpoint())
            },
        )
        .await;
        let k = key("cdr_type=voice/date=2026-11-01/part-0.parquet");
        let body = data(12 * MIB + 123);
        let mut up = dest
            .begin(&k, "application/vnd.apache.parquet")
            .await
            .expect("begin");
        // One write larger than a part, then many small ones.
        up.write(Bytes::copy_from_slice(&body[..6 * MIB]))
            .await
            .expect("write");
        for chunk in body[6 * MIB..].chunks(700_001) {
            up.write(Bytes::copy_from_slice(chunk))
                .await
                .expect("write");
        }
        // Two full parts are stored; the rest waits for commit. Nothing is visible.
        until_parts_stored(&bucket, &format!("p/{k}"), 2).await;
        assert!(dest.get(&k).await.expect("get").is_none());
        assert!(dest.list("").await.expect("list").is_empty());

        let meta = up.commit().await.expect("commit");
        assert_eq!(
            (meta.key.clone(), meta.size),
            (k.clone(), body.len() as u64)
        );
        assert_eq!(pending(&bucket).await, Vec::<String>::new());
        let head = server()
            .client()
            .head_object()
            .bucket(&bucket)
            .key(format!("p/{k}"))
            .send()
            .await
            .expect("head");
        // A multipart object's ETag ends with its part count.
        assert!(
            head.e_tag()
                .is_some_and(|t| t.trim_matches('"').ends_with("-3")),
            "{checksums:?}: {:?}",
            head.e_tag()
        );
        assert_eq!(head.content_type(), Some("application/vnd.apache.parquet"));
        assert_eq!(head.content_length(), Some(body.len() as i64));
        assert!(
            read_all(&dest, &k).await == body,
            "{checksums:?}: bytes differ"
        );
        let listed = dest.list("cdr_type=voice").await.expect("list");
        assert_eq!(
            listed.iter().map(|m| (&m.key, m.size)).collect::<Vec<_>>(),
            [(&meta.key, meta.size)]
        );
        assert!(
            listed[0].modified.is_some(),
            "a listing says when each object was written"
        );
    }
}

#[tokio::test]
async fn objects_of_exactly_one_part_and_of_no_bytes_are_stored() {
    let (dest, _bucket) = destination("edges", "", options(&server().endpoint())).await;
    let one = key("one-part.bin");
    let body = data(MIN_PART_SIZE);
    let mut up = dest
        .begin(&one, "application/octet-stream")
        .await
        .expect("begin");
    up.write(Bytes::from(body.clone())).await.expect("write");
    assert_eq!(
        up.commit().await.expect("commit").size,
        MIN_PART_SIZE as u64
    );
    assert!(read_all(&dest, &one).await == body);

    let empty = key("empty.csv");
    let up = dest.begin(&empty, "text/csv").await.expect("begin");
    assert_eq!(up.commit().await.expect("commit").size, 0);
    assert_eq!(
        dest.get(&empty).await.expect("get").as_deref(),
        Some(&b""[..])
    );
}

#[tokio::test]
async fn finished_writes_are_stored_but_invisible_until_commit() {
    let (dest, bucket) = destination("finish", "", options(&server().endpoint())).await;
    // A small file and one of one part and a tail: after finish_writes every
    // byte is stored as a part of a pending upload, nothing stays buffered.
    for (name, len) in [("small.csv", 1000), ("tail.csv", MIN_PART_SIZE + 1234)] {
        let k = key(name);
        let body = data(len);
        let mut up = dest.begin(&k, "text/csv").await.expect("begin");
        up.write(Bytes::from(body.clone())).await.expect("write");
        up.finish_writes().await.expect("finish writes");
        assert!(pending(&bucket).await.contains(&name.to_string()));
        assert!(!objects(&bucket).await.contains(&name.to_string()));
        assert!(
            up.write(Bytes::from_static(b"x")).await.is_err(),
            "writes after finish_writes"
        );
        assert_eq!(up.commit().await.expect("commit").size, len as u64);
        assert!(read_all(&dest, &k).await == body);
    }
    assert_eq!(pending(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn aborting_mid_upload_leaves_nothing() {
    let (dest, bucket) = destination("abort", "", options(&server().endpoint())).await;
    let k = key("a/part-0.csv");
    let mut up = dest.begin(&k, "text/csv").await.expect("begin");
    for chunk in data(11 * MIB).chunks(MIB) {
        up.write(Bytes::copy_from_slice(chunk))
            .await
            .expect("write");
    }
    until_parts_stored(&bucket, "a/part-0.csv", 2).await;
    // As when the encoder fails: the caller aborts.
    up.abort().await.expect("abort");
    assert_eq!(pending(&bucket).await, Vec::<String>::new());
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn dropping_an_upload_mid_way_aborts_it() {
    let (dest, bucket) = destination("drop", "", options(&server().endpoint())).await;
    let k = key("d/part-0.csv");
    let mut up = dest.begin(&k, "text/csv").await.expect("begin");
    for chunk in data(11 * MIB).chunks(MIB) {
        up.write(Bytes::copy_from_slice(chunk))
            .await
            .expect("write");
    }
    until_parts_stored(&bucket, "d/part-0.csv", 2).await;
    drop(up);
    // The abort runs in a spawned task.
    cdr_testkit::until("the dropped upload is aborted", || async {
        pending(&bucket).await.is_empty()
    })
    .await;
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn an_upload_whose_write_was_cancelled_cannot_be_committed() {
    let (dest, bucket) = destination("cancel", "", options(&server().endpoint())).await;
    let k = key("c/part-0.csv");
    let mut up = dest.begin(&k, "text/csv").await.expect("begin");
    up.write(Bytes::from(data(MIB))).await.expect("write");
    // The write needs the network, so it is still running when cut off: the
    // bytes it took are unaccounted for.
    let cancelled =
        tokio::time::timeout(Duration::ZERO, up.write(Bytes::from(data(5 * MIB)))).await;
    assert!(cancelled.is_err(), "the write finished without the network");
    assert!(matches!(
        up.write(Bytes::from_static(b"x")).await,
        Err(StoreError::Closed(_))
    ));
    assert!(matches!(up.commit().await, Err(StoreError::Closed(_))));
    assert!(dest.get(&k).await.expect("get").is_none());
    // Whatever reached the server before the cut is incomplete state only.
    dest.clean_incomplete(&Leftovers::all(""))
        .await
        .expect("clean");
    assert_eq!(pending(&bucket).await, Vec::<String>::new());
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_network_failure_mid_upload_aborts_it() {
    let bucket = server().new_bucket("network").await.expect("bucket");
    let proxy = FaultProxy::start(&server().endpoint())
        .await
        .expect("proxy");
    let dest = S3Destination::from_url(&format!("s3://{bucket}/"), options(&proxy.endpoint()))
        .await
        .expect("destination");
    let k = key("n/part-0.parquet");
    let mut up = dest
        .begin(&k, "application/octet-stream")
        .await
        .expect("begin");
    up.write(Bytes::from(data(MIN_PART_SIZE)))
        .await
        .expect("write");
    until_parts_stored(&bucket, "n/part-0.parquet", 1).await;

    // The link now breaks under every large request; small ones still pass.
    proxy.cut_requests_over(MIB as u64);
    up.write(Bytes::from(data(MIN_PART_SIZE)))
        .await
        .expect("write queues the part");
    let err = up.commit().await.expect_err("commit over a broken link");
    assert!(proxy.cuts() >= 1);
    assert!(err.is_retryable(), "{err}");
    let msg = err.to_string();
    assert!(
        msg.contains(&format!("s3://{bucket}/n/part-0.parquet")),
        "{msg}"
    );
    assert!(!msg.contains('\n'), "{msg}");
    // The failed upload aborted itself: no object, no stored parts.
    assert_eq!(pending(&bucket).await, Vec::<String>::new());
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn a_second_destination_at_an_unreachable_endpoint_fails_cleanly() {
    let (dest, bucket) = destination("unreachable", "out/", options(&server().endpoint())).await;
    let k = key("u/part-0.csv");
    let mut up = dest.begin(&k, "text/csv").await.expect("begin");
    up.write(Bytes::from(data(MIN_PART_SIZE + 10)))
        .await
        .expect("write");

    // Nothing listens on a port that was just freed.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let secret = "s3cr3t-never-shown";
    let broken = S3Destination::from_url(
        &format!("s3://{bucket}/out/"),
        S3Options {
            credentials: Some(Credentials::new("AKIDTEST", secret, None, None, "test")),
            ..options(&format!("http://127.0.0.1:{port}"))
        },
    )
    .await
    .expect("destination");
    // Our Debug leaves the credentials out (the SDK's would show the key id).
    let shown = format!("{broken:?}");
    assert!(
        !shown.contains(secret) && !shown.contains("AKIDTEST"),
        "{shown}"
    );

    let err = broken.check_writable().await.expect_err("unreachable");
    let msg = err.to_string();
    assert!(err.is_retryable(), "{msg}");
    assert!(
        msg.contains(&format!("`{bucket}`")) && msg.contains("cannot reach"),
        "{msg}"
    );
    assert!(!msg.contains('\n') && !msg.contains(secret), "{msg}");

    let mut other = broken.begin(&k, "text/csv").await.expect("begin");
    let err = other
        .write(Bytes::from(data(MIN_PART_SIZE)))
        .await
        .expect_err("the first part cannot start an upload");
    assert!(err.is_retryable(), "{err}");
    assert!(
        err.to_string()
            .contains(&format!("s3://{bucket}/out/u/part-0.csv")),
        "{err}"
    );
    assert!(matches!(
        other.write(Bytes::from_static(b"x")).await,
        Err(StoreError::Closed(_))
    ));

    // The first destination is unaffected.
    up.commit().await.expect("commit");
    assert_eq!(objects(&bucket).await, ["out/u/part-0.csv"]);
    assert_eq!(pending(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn clean_incomplete_aborts_uploads_left_by_a_crash() {
    let (dest, bucket) = destination("crash", "archive/", options(&server().endpoint())).await;
    let client = server().client();
    // Uploads started by a process that then died: one under the prefix given
    // to clean_incomplete, one in a sibling whose name merely starts the same,
    // one outside the destination.
    for s3_key in [
        "archive/cdr_type=sms/part-0.csv",
        "archive/cdr_type=smsx/part-1.csv",
        "other/part-2.csv",
    ] {
        let started = client
            .create_multipart_upload()
            .bucket(&bucket)
            .key(s3_key)
            .send()
            .await
            .expect("create upload");
        client
            .upload_part()
            .bucket(&bucket)
            .key(s3_key)
            .upload_id(started.upload_id().expect("id"))
            .part_number(1)
            .body(Bytes::from_static(b"partial").into())
            .send()
            .await
            .expect("upload part");
    }
    // And one of ours, forgotten without its destructor, as in a SIGKILL.
    let mut up = dest
        .begin(&key("cdr_type=sms/part-3.csv"), "text/csv")
        .await
        .expect("begin");
    up.write(Bytes::from(data(MIN_PART_SIZE)))
        .await
        .expect("write");
    cdr_testkit::until("the part is stored", || async {
        let uploads = server().pending_uploads(&bucket).await.expect("list");
        match uploads
            .iter()
            .find(|u| u.key == "archive/cdr_type=sms/part-3.csv")
        {
            Some(u) => server().part_count(&bucket, u).await.expect("parts") == 1,
            None => false,
        }
    })
    .await;
    std::mem::forget(up);

    assert!(
        dest.list("").await.expect("list").is_empty(),
        "pending uploads are not objects"
    );
    assert_eq!(
        dest.clean_incomplete(&Leftovers::all("cdr_type=sms/"))
            .await
            .expect("clean"),
        2
    );
    assert_eq!(
        pending(&bucket).await,
        ["archive/cdr_type=smsx/part-1.csv", "other/part-2.csv"]
    );
    assert_eq!(
        dest.clean_incomplete(&Leftovers::all(""))
            .await
            .expect("clean"),
        1
    );
    assert_eq!(pending(&bucket).await, ["other/part-2.csv"]);
    assert_eq!(
        dest.clean_incomplete(&Leftovers::all(""))
            .await
            .expect("clean"),
        0
    );
    assert_eq!(objects(&bucket).await, Vec::<String>::new());
}

#[tokio::test]
async fn server_side_encryption_is_requested() {
    let cases = [
        (Sse::S3, ServerSideEncryption::Aes256, None),
        (
            Sse::Kms {
                key_id: Some("alias/cdr-archive".to_string()),
            },
            ServerSideEncryption::AwsKms,
            Some("alias/cdr-archive"),
        ),
    ];
    for (sse, expected, kms_key) in cases {
        let (dest, bucket) = destination(
            "sse",
            "",
            S3Options {
                sse: Some(sse.clone()),
                ..options(&server().endpoint())
            },
        )
        .await;
        let small = key("small.json");
        dest.put(&small, Bytes::from_static(b"{}"), "application/json")
            .await
            .expect("put");
        let single = key("single.csv");
        let mut up = dest.begin(&single, "text/csv").await.expect("begin");
        up.write(Bytes::from_static(b"a\n")).await.expect("write");
        up.commit().await.expect("commit");
        let multi = key("multi.bin");
        let mut up = dest
            .begin(&multi, "application/octet-stream")
            .await
            .expect("begin");
        up.write(Bytes::from(data(MIN_PART_SIZE + 1)))
            .await
            .expect("write");
        up.commit().await.expect("commit");

        for k in [small, single, multi] {
            let head = server()
                .client()
                .head_object()
                .bucket(&bucket)
                .key(k.as_str())
                .send()
                .await
                .expect("head");
            assert_eq!(
                head.server_side_encryption(),
                Some(&expected),
                "{sse:?} {k}"
            );
            assert_eq!(head.ssekms_key_id(), kms_key, "{sse:?} {k}");
        }
    }
}

#[tokio::test]
async fn a_missing_bucket_is_named_in_a_one_line_error() {
    let bucket = format!("cdr-no-such-bucket-{}", std::process::id());
    let dest = S3Destination::from_url(
        &format!("s3://{bucket}/cdrs/"),
        options(&server().endpoint()),
    )
    .await
    .expect("destination");
    let err = dest.check_writable().await.expect_err("missing bucket");
    let msg = err.to_string();
    assert_eq!(
        msg,
        format!(
            "check writable s3://{bucket}/cdrs/: bucket `{bucket}` does not exist: create it or correct the bucket in the URL"
        )
    );
    assert!(!err.is_retryable());
    // A missing bucket is an error, not a missing object.
    assert!(dest.get(&key("x.json")).await.is_err());
    assert!(dest.list("").await.is_err());
}

#[tokio::test]
async fn reading_a_missing_object_names_it() {
    let (dest, bucket) = destination("missing", "p/", options(&server().endpoint())).await;
    let Err(err) = dest.read(&key("nope.csv")).await else {
        panic!("read of a missing object succeeded");
    };
    assert!(!err.is_retryable());
    assert!(
        err.to_string()
            .contains(&format!("s3://{bucket}/p/nope.csv")),
        "{err}"
    );
}

#[tokio::test]
async fn listing_follows_continuation_pages() {
    let (dest, bucket) = destination("many", "m/", options(&server().endpoint())).await;
    let client = server().client();
    let total = 1003;
    let mut tasks = tokio::task::JoinSet::new();
    for batch in (0..total).collect::<Vec<_>>().chunks(100) {
        for &i in batch {
            let client = client.clone();
            let bucket = bucket.clone();
            tasks.spawn(async move {
                client
                    .put_object()
                    .bucket(bucket)
                    .key(format!("m/d/part-{i:05}.csv"))
                    .body(Bytes::from_static(b"x").into())
                    .send()
                    .await
                    .map(|_| ())
            });
        }
        while let Some(done) = tasks.join_next().await {
            done.expect("task").expect("put");
        }
    }
    let listed = dest.list("d").await.expect("list");
    assert_eq!(listed.len(), total);
    assert_eq!(listed[0].key, key("d/part-00000.csv"));
    assert_eq!(
        listed[total - 1].key,
        key(&format!("d/part-{:05}.csv", total - 1))
    );
    assert!(listed.windows(2).all(|w| w[0].key < w[1].key));
    assert!(listed.iter().all(|m| m.size == 1));
}

#[tokio::test]
async fn bad_urls_and_options_are_rejected_before_any_request() {
    for (url, expected) in [
        ("https://bucket/prefix", "AWS_ENDPOINT_URL"),
        ("s3://Bucket_Name/x/", "is not a bucket name"),
        ("s3://bucket/a//b/", "empty, `.` or `..` segment"),
        ("s3://key:secret@bucket/", "no credentials"),
    ] {
        let err = S3Destination::from_url(url, options(&server().endpoint()))
            .await
            .expect_err(url)
            .to_string();
        assert!(err.contains(expected), "{url}: {err}");
        assert!(!err.contains("secret@"), "{err}");
    }
    let err = S3Destination::from_url(
        "s3://bucket/",
        S3Options {
            part_size: MIB,
            ..options(&server().endpoint())
        },
    )
    .await
    .expect_err("small parts")
    .to_string();
    assert!(err.contains("part size 1048576"), "{err}");
}

/// A writer into a shared buffer, for capturing log lines.
#[derive(Clone, Default)]
struct Captured(std::sync::Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// The credentials given to this crate appear in nothing it shows: not in
/// the Debug of the destination, not in the Display or Debug of the errors
/// of a store that cannot be reached or that refuses a write, and not in its
/// log lines (every level, this crate's own) of uploads started, stored,
/// aborted and dropped. The access key id is checked too: the SDK shows it
/// in its own Debug, so its absence proves that our code never formats the
/// credentials at all.
#[tokio::test]
async fn no_credential_appears_in_what_the_destination_shows() {
    const KEY_ID: &str = "AKID-never-shown";
    const SECRET: &str = "s3cr3t-never-shown";
    let logs = Captured::default();
    let writer = logs.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_env_filter("cdr_sink_s3=trace")
        .with_ansi(false)
        .finish();
    // This thread's events only: the test runs on one thread.
    let _guard = tracing::subscriber::set_default(subscriber);

    let with_secret = |endpoint: &str| S3Options {
        credentials: Some(Credentials::new(KEY_ID, SECRET, None, None, "test")),
        ..options(endpoint)
    };
    let mut shown = Vec::new();
    // The test server takes any credentials.
    let (dest, bucket) = destination("secrets", "out/", with_secret(&server().endpoint())).await;
    shown.push(format!("{dest:?}"));
    // An upload that stores a part, then is aborted; one that is dropped.
    let mut up = dest
        .begin(&key("s/a.csv"), "text/csv")
        .await
        .expect("begin");
    up.write(Bytes::from(data(MIN_PART_SIZE + 1)))
        .await
        .expect("write");
    up.finish_writes().await.expect("finish");
    up.abort().await.expect("abort");
    let mut up = dest
        .begin(&key("s/b.csv"), "text/csv")
        .await
        .expect("begin");
    up.write(Bytes::from(data(MIN_PART_SIZE + 1)))
        .await
        .expect("write");
    up.finish_writes().await.expect("finish");
    drop(up);
    cdr_testkit::until("the dropped upload is aborted", || async {
        pending(&bucket).await.is_empty()
    })
    .await;
    // A refused conditional write, and a store nothing listens on.
    let k = key("s/c.json");
    dest.put_if(
        &k,
        Bytes::from_static(b"{}"),
        "application/json",
        &cdr_sink_api::Precondition::Absent,
    )
    .await
    .expect("create");
    let refused = dest
        .put_if(
            &k,
            Bytes::from_static(b"{}"),
            "application/json",
            &cdr_sink_api::Precondition::Absent,
        )
        .await
        .expect_err("refused");
    shown.push(format!("{refused}\n{refused:?}"));
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port();
    let broken = S3Destination::from_url(
        &format!("s3://{bucket}/out/"),
        with_secret(&format!("http://127.0.0.1:{port}")),
    )
    .await
    .expect("destination");
    shown.push(format!("{broken:?}"));
    let err = broken.check_writable().await.expect_err("unreachable");
    shown.push(format!("{err}\n{err:?}"));
    let mut up = broken
        .begin(&key("s/d.csv"), "text/csv")
        .await
        .expect("begin");
    let err = up
        .write(Bytes::from(data(MIN_PART_SIZE)))
        .await
        .expect_err("unreachable");
    shown.push(format!("{err}\n{err:?}"));

    let logs = String::from_utf8_lossy(&logs.0.lock().expect("log buffer")).into_owned();
    // The log lines of those uploads were captured.
    for line in ["multipart upload started", "multipart upload aborted"] {
        assert!(logs.contains(line), "no `{line}` in:\n{logs}");
    }
    shown.push(logs);
    for text in &shown {
        for secret in [KEY_ID, SECRET] {
            assert!(!text.contains(secret), "`{secret}` shown in:\n{text}");
        }
    }
}
