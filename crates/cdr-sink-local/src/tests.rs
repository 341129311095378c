//! Tests of `LocalDir` as a whole, through the `Destination` trait: the
//! conformance suite, crashes, the write check, racing conditional writes,
//! planted links; and `plant`, the planted link other modules' tests use.

use std::path::{Path, PathBuf};

use bytes::Bytes;
use cdr_sink_api::{Destination, Leftovers, ObjectKey, Precondition, conformance};

use crate::LocalDir;

#[tokio::test]
async fn local_dir_passes_the_conformance_suite() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDir::new(dir.path().join("out"));
    conformance::run_all(&dest).await;
}

#[tokio::test]
async fn unfinished_upload_leaves_only_a_hidden_temporary() {
    let dir = tempfile::tempdir().unwrap();
    let dest = LocalDir::new(dir.path());
    let key = ObjectKey::new("a/b.csv").unwrap();
    let mut up = dest.begin(&key, "text/csv").await.unwrap();
    up.write(Bytes::from_static(b"partial")).await.unwrap();
    // Simulate a crash: forget the upload without running its destructor.
    std::mem::forget(up);
    let names: Vec<String> = std::fs::read_dir(dir.path().join("a"))
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names.len(), 1);
    assert!(names[0].starts_with(".b.csv."), "{names:?}");
    assert!(dest.list("").await.unwrap().is_empty());
    assert_eq!(
        dest.clean_incomplete(&Leftovers::all("a/")).await.unwrap(),
        1
    );
    assert_eq!(std::fs::read_dir(dir.path().join("a")).unwrap().count(), 0);
}

#[tokio::test]
async fn the_write_check_leaves_nothing_behind() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("keep.csv"), b"x").unwrap();
    LocalDir::new(dir.path()).check_writable().await.unwrap();
    let names: Vec<String> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["keep.csv"]);
}

#[tokio::test]
async fn conditional_writes_from_many_tasks_let_exactly_one_win() {
    let dir = tempfile::tempdir().unwrap();
    let dest = std::sync::Arc::new(LocalDir::new(dir.path()));
    let key = ObjectKey::new("_claims/unit.json").unwrap();
    let mut tasks = Vec::new();
    for n in 0..16u8 {
        let (dest, key) = (dest.clone(), key.clone());
        tasks.push(tokio::spawn(async move {
            dest.put_if(&key, Bytes::from(vec![n]), "x", &Precondition::Absent)
                .await
        }));
    }
    let mut won = 0;
    for t in tasks {
        match t.await.unwrap() {
            Ok(_) => won += 1,
            Err(e) => assert!(e.is_precondition_failed(), "{e}"),
        }
    }
    assert_eq!(won, 1);
    // The lock file is never listed as an object.
    let listed = dest.list("").await.unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
}

/// A directory with a file that must stay untouched, and a symbolic
/// link at `link` pointing to that file.
#[cfg(unix)]
pub(crate) fn plant(link: &Path) -> (tempfile::TempDir, PathBuf) {
    let victim_dir = tempfile::tempdir().unwrap();
    let victim = victim_dir.path().join("victim");
    std::fs::write(&victim, b"precious").unwrap();
    std::fs::create_dir_all(link.parent().unwrap()).unwrap();
    std::os::unix::fs::symlink(&victim, link).unwrap();
    (victim_dir, victim)
}

#[cfg(unix)]
#[tokio::test]
async fn writes_never_go_through_planted_links() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("out");
    let dest = LocalDir::new(&out);
    let key = ObjectKey::new("cdr_type=sms/date=2026-11-01/part-0.csv").unwrap();

    // A directory of the layout planted as a link elsewhere: refused.
    let elsewhere = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(out.join("cdr_type=sms")).unwrap();
    std::os::unix::fs::symlink(elsewhere.path(), out.join("cdr_type=sms/date=2026-11-01")).unwrap();
    let err = dest
        .begin(&key, "text/csv")
        .await
        .err()
        .unwrap()
        .to_string();
    assert!(err.contains("symbolic link"), "{err}");
    let err = dest
        .put(&key, Bytes::from_static(b"x"), "text/csv")
        .await
        .unwrap_err();
    assert!(err.to_string().contains("symbolic link"), "{err}");
    assert_eq!(std::fs::read_dir(elsewhere.path()).unwrap().count(), 0);

    // A link planted at the final name is replaced, not written through;
    // so is one planted as the directory's lock file.
    std::fs::remove_file(out.join("cdr_type=sms/date=2026-11-01")).unwrap();
    let final_path = out.join(key.as_str());
    let (_keep, victim) = plant(&final_path);
    let mut up = dest.begin(&key, "text/csv").await.unwrap();
    up.write(Bytes::from_static(b"ours\n")).await.unwrap();
    up.commit().await.unwrap();
    assert_eq!(std::fs::read(&final_path).unwrap(), b"ours\n");
    assert!(!std::fs::symlink_metadata(&final_path).unwrap().is_symlink());
    assert_eq!(std::fs::read(&victim).unwrap(), b"precious");

    let claim = ObjectKey::new("_cdr_sink/claims/x.json").unwrap();
    let (_keep2, victim2) = plant(&out.join("_cdr_sink/claims/.cdr-lock"));
    let err = dest
        .put_if(
            &claim,
            Bytes::from_static(b"{}"),
            "x",
            &Precondition::Absent,
        )
        .await
        .unwrap_err();
    assert!(err.to_string().contains("lock"), "{err}");
    assert_eq!(std::fs::read(&victim2).unwrap(), b"precious");
}

#[tokio::test]
async fn unwritable_root_is_reported_with_its_path() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("plain-file");
    std::fs::write(&file, b"x").unwrap();
    let dest = LocalDir::new(file.join("sub"));
    let err = dest.check_writable().await.unwrap_err().to_string();
    assert!(err.contains("plain-file"), "{err}");
}
