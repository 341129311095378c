//! The behaviour every [`Destination`] must have, as one suite that each
//! implementation runs in its own tests (local directory, S3 server).
//!
//! The functions panic with a message on the first violation: they are test
//! code, exported so that every destination crate runs the same checks.

use bytes::Bytes;
use futures_util::StreamExt;

use crate::{Destination, Leftovers, ObjectKey, Precondition, Version};

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
    conditional_writes(dest).await;
    rename_moves_whole_objects(dest).await;
    leftovers_are_cleaned_by_scope_and_age(dest).await;
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
        dest.clean_incomplete(&Leftovers::all("conformance/abort/"))
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
    dest.clean_incomplete(&Leftovers::all("conformance/abort/"))
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

/// Create-only and compare-and-swap writes and deletes: exactly the writes
/// whose precondition holds succeed, and versions change with every write.
pub async fn conditional_writes(dest: &dyn Destination) {
    let k = key("conformance/cas/_claims/unit.json");
    dest.delete(&k).await.expect("delete");
    let absent = Precondition::Absent;
    let v1 = dest
        .put_if(
            &k,
            Bytes::from_static(b"{\"n\":1}"),
            "application/json",
            &absent,
        )
        .await
        .expect("create-only write of a new key");
    let refused = dest
        .put_if(
            &k,
            Bytes::from_static(b"{\"n\":2}"),
            "application/json",
            &absent,
        )
        .await
        .expect_err("a second create-only write must be refused");
    assert!(refused.is_precondition_failed(), "{refused}");
    let read = dest
        .get_versioned(&k)
        .await
        .expect("get_versioned")
        .expect("present");
    assert_eq!(read.body.as_ref(), b"{\"n\":1}");
    assert_eq!(read.version, v1);
    let now = dest.now().await.expect("now");
    let age = now
        .duration_since(read.modified)
        .unwrap_or_else(|e| e.duration());
    assert!(
        age < std::time::Duration::from_secs(120),
        "modified time and the store's clock disagree by {age:?}"
    );

    let stale = Precondition::Matches(Version::new("\"not-a-version\""));
    let err = dest
        .put_if(
            &k,
            Bytes::from_static(b"{\"n\":3}"),
            "application/json",
            &stale,
        )
        .await
        .expect_err("a compare-and-swap on a wrong version must be refused");
    assert!(err.is_precondition_failed(), "{err}");
    let v2 = dest
        .put_if(
            &k,
            Bytes::from_static(b"{\"n\":4}"),
            "application/json",
            &Precondition::Matches(v1.clone()),
        )
        .await
        .expect("compare-and-swap on the current version");
    assert_ne!(v1, v2, "a new write must get a new version");
    let err = dest
        .put_if(
            &k,
            Bytes::from_static(b"{\"n\":5}"),
            "application/json",
            &Precondition::Matches(v1.clone()),
        )
        .await
        .expect_err("a compare-and-swap on a replaced version must be refused");
    assert!(err.is_precondition_failed(), "{err}");
    assert_eq!(
        dest.get(&k).await.expect("get").as_deref(),
        Some(&b"{\"n\":4}"[..])
    );

    let err = dest
        .delete_if(&k, &v1)
        .await
        .expect_err("a conditional delete of a replaced version must be refused");
    assert!(err.is_precondition_failed(), "{err}");
    assert!(dest.get(&k).await.expect("get").is_some());
    dest.delete_if(&k, &v2).await.expect("conditional delete");
    assert!(dest.get_versioned(&k).await.expect("get").is_none());
    dest.delete_if(&k, &v2)
        .await
        .expect("a conditional delete of a missing key is no error");

    let missing = dest
        .put_if(
            &k,
            Bytes::from_static(b"{}"),
            "application/json",
            &Precondition::Matches(v2),
        )
        .await
        .expect_err("a compare-and-swap on a missing key must be refused");
    assert!(missing.is_precondition_failed(), "{missing}");
    assert!(dest.get(&k).await.expect("get").is_none());
}

/// `clean_incomplete` removes exactly the unfinished uploads its scope
/// covers: by key prefix (directory or name start) and by age.
pub async fn leftovers_are_cleaned_by_scope_and_age(dest: &dyn Destination) {
    let mine = key("conformance/left/cdr_type=sms/part-A-00000.csv");
    let sibling = key("conformance/left/cdr_type=sms/part-B-00000.csv");
    dest.clean_incomplete(&Leftovers::all("conformance/left/"))
        .await
        .expect("clean");
    for k in [&mine, &sibling] {
        let mut up = dest.begin(k, "text/csv").await.expect("begin");
        up.write(Bytes::from_static(b"x\n")).await.expect("write");
        // Stores what is buffered (S3: starts the multipart upload).
        up.finish_writes().await.expect("finish writes");
        // A crash: the upload is neither committed nor aborted, and its
        // destructor never runs.
        std::mem::forget(up);
    }
    let young = Leftovers::older_than("conformance/left/", std::time::Duration::from_secs(3600));
    assert_eq!(
        dest.clean_incomplete(&young).await.expect("clean"),
        0,
        "uploads younger than min_age must be left alone"
    );
    assert_eq!(
        dest.clean_incomplete(&Leftovers::all("conformance/left/cdr_type=sms/part-A-"))
            .await
            .expect("clean"),
        1,
        "exactly the upload under the name prefix"
    );
    assert_eq!(
        dest.clean_incomplete(&Leftovers::all("conformance/left/"))
            .await
            .expect("clean"),
        1,
        "the sibling upload is still there"
    );
    assert!(
        dest.list("conformance/left")
            .await
            .expect("list")
            .is_empty()
    );
}

/// `rename` moves an object, bytes and all, and leaves no temporary state.
pub async fn rename_moves_whole_objects(dest: &dyn Destination) {
    let from = key("conformance/mv/cdr_type=sms/part-0.csv");
    let to = key("conformance/mv/_aside/20261130T000000Z/cdr_type=sms/part-0.csv");
    dest.put(&from, Bytes::from_static(b"a,b\n1,2\n"), "text/csv")
        .await
        .expect("put");
    dest.rename(&from, &to).await.expect("rename");
    assert!(
        dest.get(&from).await.expect("get").is_none(),
        "still at the old key"
    );
    assert_eq!(
        dest.get(&to).await.expect("get").as_deref(),
        Some(&b"a,b\n1,2\n"[..])
    );
    assert_eq!(
        dest.clean_incomplete(&Leftovers::all("conformance/mv/"))
            .await
            .expect("clean"),
        0,
        "a rename left temporary state"
    );
    dest.delete(&to).await.expect("delete");
}
