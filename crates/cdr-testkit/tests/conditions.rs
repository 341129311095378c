//! Conditional writes on the test server, with the raw SDK client: what the
//! archive's claims rely on (create-only PUT, compare-and-swap PUT and DELETE,
//! the store's clock in `Date` and `Last-Modified`), atomic under concurrency,
//! and a server started to ignore the conditions.

use std::sync::{Arc, Mutex};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::http::HttpResponse;
use aws_sdk_s3::config::interceptors::BeforeDeserializationInterceptorContextRef;
use aws_sdk_s3::config::{ConfigBag, Intercept, RuntimeComponents};
use aws_sdk_s3::error::BoxError;
use aws_sdk_s3::error::SdkError;
use bytes::Bytes;
use cdr_testkit::S3Server;

/// The HTTP status of a failed request (`None` when no answer came).
fn status<E>(e: &SdkError<E, HttpResponse>) -> Option<u16> {
    e.raw_response().map(|r| r.status().as_u16())
}

async fn create_only(client: &Client, bucket: &str, key: &str, body: impl Into<Bytes>) -> u16 {
    match client
        .put_object()
        .bucket(bucket)
        .key(key)
        .if_none_match("*")
        .body(body.into().into())
        // Unsigned, so that racing writers are not spaced out by hashing.
        .customize()
        .disable_payload_signing()
        .send()
        .await
    {
        Ok(_) => 200,
        Err(e) => status(&e).unwrap_or_else(|| panic!("no answer: {e:?}")),
    }
}

async fn body(client: &Client, bucket: &str, key: &str) -> Vec<u8> {
    let got = client
        .get_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("get");
    got.body.collect().await.expect("body").to_vec()
}

async fn etag(client: &Client, bucket: &str, key: &str) -> String {
    let head = client
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
        .expect("head");
    head.e_tag().expect("etag").to_string()
}

#[tokio::test]
async fn create_only_and_compare_and_swap_writes_are_checked() {
    let server = S3Server::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = server.new_bucket("conditions").await.expect("bucket");
    let client = server.client();

    // Create-only: the first wins, the second is refused.
    assert_eq!(
        create_only(&client, &bucket, "claim", &b"first"[..]).await,
        200
    );
    assert_eq!(
        create_only(&client, &bucket, "claim", &b"second"[..]).await,
        412
    );
    assert_eq!(body(&client, &bucket, "claim").await, b"first");

    // Compare-and-swap PUT: a wrong ETag is refused, the right one replaces.
    let first = etag(&client, &bucket, "claim").await;
    let wrong = client
        .put_object()
        .bucket(&bucket)
        .key("claim")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(Bytes::from_static(b"stolen").into())
        .send()
        .await
        .expect_err("a wrong If-Match is refused");
    assert_eq!(status(&wrong), Some(412), "{wrong:?}");
    assert_eq!(body(&client, &bucket, "claim").await, b"first");
    client
        .put_object()
        .bucket(&bucket)
        .key("claim")
        .if_match(&first)
        .body(Bytes::from_static(b"renewed").into())
        .send()
        .await
        .expect("the current ETag replaces");
    assert_eq!(body(&client, &bucket, "claim").await, b"renewed");
    let renewed = etag(&client, &bucket, "claim").await;
    assert_ne!(renewed, first);
    // The old ETag no longer matches.
    let stale = client
        .put_object()
        .bucket(&bucket)
        .key("claim")
        .if_match(&first)
        .body(Bytes::from_static(b"late").into())
        .send()
        .await
        .expect_err("a stale If-Match is refused");
    assert_eq!(status(&stale), Some(412), "{stale:?}");

    // Compare-and-swap DELETE: a wrong ETag leaves the object, the right one deletes it.
    let refused = client
        .delete_object()
        .bucket(&bucket)
        .key("claim")
        .if_match(&first)
        .send()
        .await
        .expect_err("a delete with a wrong If-Match is refused");
    assert_eq!(status(&refused), Some(412), "{refused:?}");
    assert_eq!(server.objects(&bucket).await.expect("objects"), ["claim"]);
    client
        .delete_object()
        .bucket(&bucket)
        .key("claim")
        .if_match(&renewed)
        .send()
        .await
        .expect("a delete with the current ETag");
    assert!(server.objects(&bucket).await.expect("objects").is_empty());

    // A deleted key can be created again.
    assert_eq!(
        create_only(&client, &bucket, "claim", &b"again"[..]).await,
        200
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_create_only_writes_have_exactly_one_winner() {
    const WRITERS: u8 = 10;
    const ROUNDS: usize = 4;
    // Bodies larger than moto's in-memory buffer (5 MiB): it writes them to a
    // temporary file between its check and its write, with Python's lock
    // released, which is when a racing request gets through. Without the
    // launcher's lock, several writers of a round win (or fail with 500).
    const SIZE: usize = 6 << 20;
    let server = S3Server::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = server.new_bucket("race").await.expect("bucket");
    let client = server.client();
    for round in 0..ROUNDS {
        let key = format!("claims/unit-{round}");
        let start = Arc::new(tokio::sync::Barrier::new(WRITERS.into()));
        let writers: Vec<_> = (0..WRITERS)
            .map(|w| {
                let (client, bucket, key, start) = (
                    client.clone(),
                    bucket.clone(),
                    key.clone(),
                    Arc::clone(&start),
                );
                tokio::spawn(async move {
                    let body = Bytes::from(vec![w; SIZE]);
                    start.wait().await;
                    (create_only(&client, &bucket, &key, body).await, w)
                })
            })
            .collect();
        let mut winners = Vec::new();
        let mut statuses = Vec::new();
        for writer in writers {
            let (code, w) = writer.await.expect("writer");
            statuses.push(code);
            if code == 200 {
                winners.push(w);
            }
        }
        statuses.sort_unstable();
        assert_eq!(winners.len(), 1, "round {round}: statuses {statuses:?}");
        assert!(
            statuses[1..].iter().all(|&s| s == 412),
            "round {round}: statuses {statuses:?}"
        );
        let stored = body(&client, &bucket, &key).await;
        assert!(
            stored.len() == SIZE && stored.iter().all(|&b| b == winners[0]),
            "round {round}: the stored object is not the winner's"
        );
    }
}

/// Keeps the `Date` header of the last answer.
#[derive(Debug, Clone, Default)]
struct DateHeader(Arc<Mutex<Option<String>>>);

impl Intercept for DateHeader {
    fn name(&self) -> &'static str {
        "DateHeader"
    }

    fn read_before_deserialization(
        &self,
        context: &BeforeDeserializationInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        *self.0.lock().unwrap() = context.response().headers().get("date").map(str::to_string);
        Ok(())
    }
}

#[tokio::test]
async fn answers_carry_the_stores_clock() {
    let server = S3Server::shared().unwrap_or_else(|e| panic!("{e}"));
    let bucket = server.new_bucket("clock").await.expect("bucket");
    let client = server.client();
    let date = DateHeader::default();
    client
        .put_object()
        .bucket(&bucket)
        .key("claim")
        .if_none_match("*")
        .body(Bytes::from_static(b"x").into())
        .customize()
        .interceptor(date.clone())
        .send()
        .await
        .expect("put");
    let date = date
        .0
        .lock()
        .unwrap()
        .clone()
        .expect("PutObject answers with a Date");
    assert!(date.ends_with(" GMT"), "{date}");

    let head = client
        .head_object()
        .bucket(&bucket)
        .key("claim")
        .send()
        .await
        .expect("head");
    let modified = head.last_modified().expect("HeadObject has Last-Modified");
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .expect("clock")
        .as_secs() as i64;
    assert!(
        (modified.secs() - now).abs() < 60,
        "Last-Modified {modified} is not about now"
    );

    // A refused write answers with the store's clock too.
    let refused = client
        .put_object()
        .bucket(&bucket)
        .key("claim")
        .if_none_match("*")
        .body(Bytes::from_static(b"y").into())
        .send()
        .await
        .expect_err("refused");
    assert!(
        refused
            .raw_response()
            .and_then(|r| r.headers().get("date"))
            .is_some(),
        "{refused:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_server_can_ignore_conditions() {
    let server = S3Server::start_ignoring_conditions().unwrap_or_else(|e| panic!("{e}"));
    let bucket = server.new_bucket("ignoring").await.expect("bucket");
    let client = server.client();

    assert_eq!(
        create_only(&client, &bucket, "claim", &b"first"[..]).await,
        200
    );
    assert_eq!(
        create_only(&client, &bucket, "claim", &b"second"[..]).await,
        200
    );
    assert_eq!(body(&client, &bucket, "claim").await, b"second");
    client
        .put_object()
        .bucket(&bucket)
        .key("claim")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .body(Bytes::from_static(b"third").into())
        .send()
        .await
        .expect("a wrong If-Match is ignored");
    client
        .delete_object()
        .bucket(&bucket)
        .key("claim")
        .if_match("\"0123456789abcdef0123456789abcdef\"")
        .send()
        .await
        .expect("a delete with a wrong If-Match is ignored");
    assert!(server.objects(&bucket).await.expect("objects").is_empty());

    // Its own server: the shared one still checks conditions.
    let shared = S3Server::shared().unwrap_or_else(|e| panic!("{e}"));
    assert_ne!(shared.endpoint(), server.endpoint());
}
