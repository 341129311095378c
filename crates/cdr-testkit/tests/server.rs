//! The test server itself: it serves S3 over HTTP, its inspection helpers see
//! what a bucket holds, and it stops when dropped.

use bytes::Bytes;
use cdr_testkit::{PendingUpload, S3Server};

#[tokio::test]
async fn a_started_server_serves_s3_and_stops_when_dropped() {
    let server = S3Server::start().unwrap_or_else(|e| panic!("{e}"));
    let bucket = server.new_bucket("testkit").await.expect("bucket");
    let client = server.client();
    client
        .put_object()
        .bucket(&bucket)
        .key("a/b.txt")
        .body(Bytes::from_static(b"hello").into())
        .send()
        .await
        .expect("put");
    let started = client
        .create_multipart_upload()
        .bucket(&bucket)
        .key("c/d.bin")
        .send()
        .await
        .expect("create upload");
    let upload_id = started.upload_id().expect("upload id").to_string();
    client
        .upload_part()
        .bucket(&bucket)
        .key("c/d.bin")
        .upload_id(&upload_id)
        .part_number(1)
        .body(Bytes::from_static(b"part").into())
        .send()
        .await
        .expect("upload part");

    assert_eq!(server.objects(&bucket).await.expect("objects"), ["a/b.txt"]);
    let pending = server.pending_uploads(&bucket).await.expect("uploads");
    assert_eq!(
        pending,
        [PendingUpload {
            key: "c/d.bin".to_string(),
            upload_id
        }]
    );
    assert_eq!(
        server
            .part_count(&bucket, &pending[0])
            .await
            .expect("parts"),
        1
    );

    if std::env::var_os("CDR_TEST_S3_ENDPOINT").is_some() {
        return; // An external server is not ours to stop.
    }
    let endpoint = server.endpoint();
    let addr = endpoint.trim_start_matches("http://").to_string();
    drop(server);
    // Dropping waits for the process to exit, so the port is closed now.
    assert!(
        std::net::TcpStream::connect(&addr).is_err(),
        "{endpoint} still answers"
    );
}
