//! What a bucket holds, for assertions: objects, unfinished multipart
//! uploads and their parts.

use percent_encoding::{AsciiSet, NON_ALPHANUMERIC, utf8_percent_encode};

use crate::error::{TestkitError, s3_error};
use crate::server::S3Server;

impl S3Server {
    /// Multipart uploads started and neither completed nor aborted, sorted by key.
    pub async fn pending_uploads(&self, bucket: &str) -> Result<Vec<PendingUpload>, TestkitError> {
        let client = self.client();
        let mut out = Vec::new();
        let mut markers: Option<(String, String)> = None;
        loop {
            let mut request = client.list_multipart_uploads().bucket(bucket);
            if let Some((key, id)) = &markers {
                request = request.key_marker(key).upload_id_marker(id);
            }
            let page = request
                .send()
                .await
                .map_err(|e| s3_error("list multipart uploads", e))?;
            for upload in page.uploads() {
                out.push(PendingUpload {
                    key: upload.key().unwrap_or_default().to_string(),
                    upload_id: upload.upload_id().unwrap_or_default().to_string(),
                });
            }
            let next = (
                page.next_key_marker().unwrap_or_default().to_string(),
                page.next_upload_id_marker().unwrap_or_default().to_string(),
            );
            if !page.is_truncated().unwrap_or(false)
                || next.0.is_empty()
                || markers.as_ref() == Some(&next)
            {
                break;
            }
            markers = Some(next);
        }
        out.sort();
        Ok(out)
    }

    /// Every object key in the bucket, sorted.
    pub async fn objects(&self, bucket: &str) -> Result<Vec<String>, TestkitError> {
        let mut pages = self
            .client()
            .list_objects_v2()
            .bucket(bucket)
            .into_paginator()
            .send();
        let mut out = Vec::new();
        while let Some(page) = pages.next().await {
            let page = page.map_err(|e| s3_error("list objects", e))?;
            out.extend(
                page.contents()
                    .iter()
                    .filter_map(|o| o.key().map(str::to_string)),
            );
        }
        out.sort();
        Ok(out)
    }

    /// How many parts an unfinished multipart upload holds.
    pub async fn part_count(
        &self,
        bucket: &str,
        upload: &PendingUpload,
    ) -> Result<usize, TestkitError> {
        let listed = self
            .client()
            .list_parts()
            .bucket(bucket)
            .key(&upload.key)
            .upload_id(&upload.upload_id)
            .send()
            .await;
        match listed {
            Ok(parts) => Ok(parts.parts().len()),
            // moto (5.2.5) answers ListParts with a `ListPartsResponse` root that
            // the SDK rejects; moto needs no signature, so ask it directly.
            Err(e) => match self.raw_part_count(bucket, upload).await {
                Some(n) => Ok(n),
                None => Err(s3_error("list parts", e)),
            },
        }
    }

    /// ListParts as a plain unsigned HTTP/1.0 GET, counting `<Part>` elements.
    async fn raw_part_count(&self, bucket: &str, upload: &PendingUpload) -> Option<usize> {
        use tokio::io::{AsyncReadExt, AsyncWriteExt};
        let authority = self.endpoint_str().strip_prefix("http://")?;
        let path = format!(
            "/{}/{}?uploadId={}",
            percent_encode(bucket),
            percent_encode(&upload.key),
            percent_encode(&upload.upload_id)
        );
        let mut stream = tokio::net::TcpStream::connect(authority).await.ok()?;
        let request = format!("GET {path} HTTP/1.0\r\nHost: {authority}\r\n\r\n");
        stream.write_all(request.as_bytes()).await.ok()?;
        let mut response = Vec::new();
        stream.read_to_end(&mut response).await.ok()?;
        let response = String::from_utf8_lossy(&response);
        let ok = response.starts_with("HTTP/1.0 200") || response.starts_with("HTTP/1.1 200");
        ok.then(|| response.matches("<Part>").count())
    }
}

/// An unfinished multipart upload.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct PendingUpload {
    pub key: String,
    pub upload_id: String,
}

/// What a path segment escapes here: all but unreserved characters and `/`.
const PATH: &AsciiSet = &NON_ALPHANUMERIC
    .remove(b'-')
    .remove(b'_')
    .remove(b'.')
    .remove(b'~')
    .remove(b'/');

/// Percent-encodes everything but unreserved characters and `/`.
fn percent_encode(s: &str) -> String {
    utf8_percent_encode(s, PATH).to_string()
}
