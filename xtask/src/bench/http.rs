//! A minimal HTTP client for the simulator: as little client as possible,
//! so that the simulator is what is measured.

use std::io::{Read, Write};
use std::net::TcpStream;

use anyhow::{Context, Result, bail};
use cdr_core::{CdrType, Selection, Window, document, format_datetime};
use serde_json::json;

use super::sim::{LIMIT, TOKEN};

/// A keep-alive HTTP/1.1 connection that posts GraphQL requests: as little
/// client as possible, so that the simulator is what is measured.
pub(super) struct Http {
    stream: TcpStream,
    addr: String,
    buf: Vec<u8>,
}

impl Http {
    pub fn connect(addr: &str) -> Result<Http> {
        let stream = TcpStream::connect(addr).with_context(|| format!("connecting to {addr}"))?;
        stream.set_nodelay(true)?;
        Ok(Http {
            stream,
            addr: addr.to_string(),
            buf: Vec::with_capacity(512 * 1024),
        })
    }

    /// Posts `body` to `/graphql` and returns the response body.
    pub fn graphql(&mut self, body: &[u8]) -> Result<&[u8]> {
        let head = format!(
            "POST /graphql HTTP/1.1\r\nHost: {}\r\nAuthorization: Bearer {TOKEN}\r\n\
             Content-Type: application/json\r\nAccept: application/json\r\nContent-Length: {}\r\n\r\n",
            self.addr,
            body.len()
        );
        self.stream.write_all(head.as_bytes())?;
        self.stream.write_all(body)?;
        self.buf.clear();
        let mut chunk = [0u8; 64 * 1024];
        let header_end = loop {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the simulator closed the connection");
            }
            self.buf.extend_from_slice(&chunk[..n]);
            if let Some(at) = find(&self.buf, b"\r\n\r\n") {
                break at + 4;
            }
        };
        let head = String::from_utf8_lossy(&self.buf[..header_end]).to_ascii_lowercase();
        if !head.starts_with("http/1.1 200") {
            bail!(
                "the simulator answered {}",
                head.lines().next().unwrap_or("")
            );
        }
        let length: usize = head
            .lines()
            .find_map(|l| l.strip_prefix("content-length:"))
            .and_then(|v| v.trim().parse().ok())
            .context("the simulator's answer has no content-length")?;
        let end = header_end + length;
        while self.buf.len() < end {
            let n = self.stream.read(&mut chunk)?;
            if n == 0 {
                bail!("the simulator closed the connection mid-body");
            }
            self.buf.extend_from_slice(&chunk[..n]);
        }
        Ok(&self.buf[header_end..end])
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// The archiver's request body for one page.
pub(super) fn page_request(t: CdrType, window: &Window, cursor: Option<&str>) -> Vec<u8> {
    let doc = document(&Selection::all(), false, false);
    serde_json::to_vec(&json!({
        "query": doc,
        "variables": {
            "type": t.as_str(),
            "startDatetime": format_datetime(&window.start()),
            "endDatetime": format_datetime(&window.end()),
            "cursor": cursor,
            "limit": LIMIT,
        }
    }))
    .unwrap_or_default()
}

/// The next cursor, read from the front of a page (the simulator writes
/// `paginationInfo` first).
fn next_cursor(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(400)];
    let at = find(head, b"\"nextCursor\":\"")? + 14;
    let len = find(&head[at..], b"\"")?;
    Some(String::from_utf8_lossy(&head[at..at + len]).into_owned())
}

/// Pages through `window` of `t`, handing each body to `each`; returns the pages.
pub(super) fn page_through(
    http: &mut Http,
    t: CdrType,
    window: &Window,
    mut each: impl FnMut(&[u8]) -> Result<bool>,
) -> Result<u64> {
    let mut cursor: Option<String> = None;
    let mut pages = 0;
    loop {
        let body = http.graphql(&page_request(t, window, cursor.as_deref()))?;
        pages += 1;
        cursor = next_cursor(body);
        if !each(body)? || cursor.is_none() {
            return Ok(pages);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_next_cursor_is_read_from_a_page_head() {
        let page = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":"abc","limit":2},"cdrs":[]}}}"#;
        assert_eq!(next_cursor(page).as_deref(), Some("abc"));
        let last = br#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null},"cdrs":[]}}}"#;
        assert_eq!(next_cursor(last), None);
    }
}
