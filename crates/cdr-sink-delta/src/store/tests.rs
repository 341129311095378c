use std::sync::Arc;

use cdr_sink_api::memory::MemoryDir;
use delta_kernel::object_store::{GetOptions, GetRange, ObjectStoreExt, PutMode};
use futures_util::TryStreamExt;

use super::*;

fn store() -> DestinationStore {
    DestinationStore::new(Arc::new(MemoryDir::new("mem")))
}

#[tokio::test]
async fn create_only_puts_refuse_an_existing_object() {
    let s = store();
    let p = Path::from("t/_delta_log/00000000000000000001.json");
    s.put_opts(&p, Bytes::from("a").into(), PutMode::Create.into())
        .await
        .unwrap();
    let err = s
        .put_opts(&p, Bytes::from("b").into(), PutMode::Create.into())
        .await
        .unwrap_err();
    assert!(matches!(err, os::Error::AlreadyExists { .. }), "{err}");
    let got = s.get(&p).await.unwrap().bytes().await.unwrap();
    assert_eq!(got, Bytes::from("a"), "the first write stands");
    // An overwrite replaces.
    s.put(&p, Bytes::from("c").into()).await.unwrap();
    assert_eq!(s.get(&p).await.unwrap().bytes().await.unwrap(), "c");
}

#[tokio::test]
async fn listings_are_by_whole_segments_and_offsets_exclusive() {
    let s = store();
    for k in ["t/a/1", "t/a/2", "t/ab/3", "t/4"] {
        s.put(&Path::from(k), Bytes::from("x").into())
            .await
            .unwrap();
    }
    let names = |v: Vec<ObjectMeta>| {
        v.into_iter()
            .map(|m| m.location.to_string())
            .collect::<Vec<_>>()
    };
    let listed = s
        .list(Some(&Path::from("t/a")))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names(listed), ["t/a/1", "t/a/2"]);
    let after = s
        .list_with_offset(Some(&Path::from("t/a")), &Path::from("t/a/1"))
        .try_collect()
        .await
        .unwrap();
    assert_eq!(names(after), ["t/a/2"]);
    let top = s.list_with_delimiter(Some(&Path::from("t"))).await.unwrap();
    assert_eq!(names(top.objects), ["t/4"]);
    let dirs: Vec<String> = top.common_prefixes.iter().map(|p| p.to_string()).collect();
    assert_eq!(dirs, ["t/a", "t/ab"]);
}

#[tokio::test]
async fn ranges_heads_and_missing_objects() {
    let s = store();
    let p = Path::from("t/f");
    s.put(&p, Bytes::from("0123456789").into()).await.unwrap();
    assert_eq!(s.get_range(&p, 2..5).await.unwrap(), "234");
    let tail = s
        .get_opts(
            &p,
            GetOptions {
                range: Some(GetRange::Suffix(3)),
                ..Default::default()
            },
        )
        .await
        .unwrap();
    assert_eq!(tail.range, 7..10);
    assert_eq!(tail.bytes().await.unwrap(), "789");
    assert_eq!(s.head(&p).await.unwrap().size, 10);
    let missing = Path::from("t/none");
    assert!(matches!(
        s.head(&missing).await,
        Err(os::Error::NotFound { .. })
    ));
    assert!(matches!(
        s.get(&missing).await,
        Err(os::Error::NotFound { .. })
    ));
    s.copy_if_not_exists(&p, &Path::from("t/g")).await.unwrap();
    let again = s
        .copy_if_not_exists(&p, &Path::from("t/g"))
        .await
        .unwrap_err();
    assert!(matches!(again, os::Error::AlreadyExists { .. }), "{again}");
}
