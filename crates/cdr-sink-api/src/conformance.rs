//! The behaviour every [`Destination`] must have, as one suite that each
//! implementation runs in its own tests (local directory, S3 server).
//!
//! The functions panic with a message on the first violation: they are test
//! code, exported so that every destination crate runs the same checks.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::{Destination, ObjectKey};

fn key(s: &str) -> ObjectKey {
    ObjectKey::new(s).expect("conformance keys are valid")
}

async fn read_all(dest: &dyn Destination, k: &ObjectKey) -> Vec<u8> {
    let mut s = dest.read(k).await.expect("read");
    let mut out = Vec::new();
    while let Some(chunk) = s.next().await {
        out.extend_from_slice(&chunk.expect("read chunk"));
    }
    out
}

/// Runs every check below against `dest`. Keys are written under `conformance/`.
pub async fn run_all(dest: &dyn Destination) {
    dest.check_writable().await.expect("check_writable");
    upload_is_invisible_until_commit(dest).await;
    abort_and_drop_leave_nothing(dest).await;
    large_objects_round_trip(dest, 3 * 1024 * 1024 + 17).await;
    put_get_list_delete(dest).await;
}

/// An upload's bytes appear only after commit, whole.
pub async fn upload_is_invisible_until_commit(dest: &dyn Destination) {
    let k = key("conformance/visible/cdr_type=sms/date=2026-11-01/part-0.csv");
    dest.delete(&k).await.expect("delete");
    let mut up = dest.begin(&k, "text/csv").await.expect("begin");
    up.write(Bytes::from_static(b"a,b\n")).await.expect("write");
    up.write(Bytes::from_static("1,ü\n".as_bytes()))
        .await
        .expect("write");
    assert!(
        dest.get(&k).await.expect("get").is_none(),
        "visible before commit"
    );
    assert!(
        dest.list("conformance/visible")
            .await
            .expect("list")
            .is_empty(),
        "listed before commit"
    );
    let meta = up.commit().await.expect("commit");
    assert_eq!(meta.key, k);
    assert_eq!(meta.size, 9);
    assert_eq!(
        dest.get(&k).await.expect("get").as_deref(),
        Some("a,b\n1,ü\n".as_bytes())
    );
    let listed = dest.list("conformance/visible").await.expect("list");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].key, k);
    assert_eq!(listed[0].size, 9);
    dest.delete(&k).await.expect("delete");
}

/// Abort, and a dropped upload, leave no object and no temporary state.
pub async fn abort_and_drop_leave_nothing(dest: &dyn Destination) {
    let k = key("conformance/abort/x.parquet");
    let mut up = dest
        .begin(&k, "application/octet-stream")
        .await
        .expect("begin");
    up.write(Bytes::from(vec![7u8; 1000])).await.expect("write");
    up.abort().await.expect("abort");
    assert!(
        dest.get(&k).await.expect("get").is_none(),
        "aborted upload visible"
    );
    assert_eq!(
        dest.clean_incomplete("conformance/abort")
            .await
            .expect("clean"),
        0,
        "abort left temporary state"
    );

    let mut up = dest
        .begin(&k, "application/octet-stream")
        .await
        .expect("begin");
    up.write(Bytes::from(vec![7u8; 1000])).await.expect("write");
    drop(up);
    assert!(
        dest.get(&k).await.expect("get").is_none(),
        "dropped upload visible"
    );
    assert!(
        dest.list("conformance/abort")
            .await
            .expect("list")
            .is_empty()
    );
    // Whatever a dropped upload left is removable and never listed.
    dest.clean_incomplete("conformance/abort")
        .await
        .expect("clean");
    assert!(
        dest.list("conformance/abort")
            .await
            .expect("list")
            .is_empty()
    );
}

/// An object written in many chunks reads back byte-equal, whole and streamed.
pub async fn large_objects_round_trip(dest: &dyn Destination, size: usize) {
    let k = key("conformance/large/blob.bin");
    let data: Vec<u8> = (0..size).map(|i| (i * 31 % 251) as u8).collect();
    let mut up = dest
        .begin(&k, "application/octet-stream")
        .await
        .expect("begin");
    for chunk in data.chunks(300_001) {
        up.write(Bytes::copy_from_slice(chunk))
            .await
            .expect("write");
    }
    let meta = up.commit().await.expect("commit");
    assert_eq!(meta.size, size as u64);
    let got = read_all(dest, &k).await;
    assert_eq!(got.len(), data.len());
    assert!(got == data, "large object differs after round trip");
    dest.delete(&k).await.expect("delete");
    assert!(dest.get(&k).await.expect("get").is_none());
}

/// Small objects: put replaces, get of a missing key is `None`, list is sorted
/// and honours segment-boundary prefixes, delete is idempotent.
pub async fn put_get_list_delete(dest: &dyn Destination) {
    let a = key("conformance/kv/_state/a.json");
    let b = key("conformance/kv/_state/b.json");
    let other = key("conformance/kv/_stateful/c.json");
    assert!(dest.get(&a).await.expect("get").is_none());
    dest.put(&b, Bytes::from_static(b"{}"), "application/json")
        .await
        .expect("put");
    dest.put(&a, Bytes::from_static(b"{\"v\":1}"), "application/json")
        .await
        .expect("put");
    dest.put(&a, Bytes::from_static(b"{\"v\":2}"), "application/json")
        .await
        .expect("put");
    dest.put(&other, Bytes::from_static(b"[]"), "application/json")
        .await
        .expect("put");
    assert_eq!(
        dest.get(&a).await.expect("get").as_deref(),
        Some(&b"{\"v\":2}"[..])
    );
    let listed: Vec<String> = dest
        .list("conformance/kv/_state")
        .await
        .expect("list")
        .into_iter()
        .map(|m| m.key.to_string())
        .collect();
    assert_eq!(listed, [a.to_string(), b.to_string()]);
    for k in [&a, &b, &other] {
        dest.delete(k).await.expect("delete");
        dest.delete(k).await.expect("second delete");
    }
    assert!(dest.list("conformance/kv").await.expect("list").is_empty());
}
