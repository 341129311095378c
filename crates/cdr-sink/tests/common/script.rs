//! A scripted HTTP server: each request to a path gets the next reply pushed
//! for that path, byte for byte (a 404 when none is left), and the
//! connection is closed after it. For answers no real server is asked to
//! give on cue: bodies cut in the middle of a row, headers that change.

use std::collections::{HashMap, VecDeque};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

#[derive(Clone, Default)]
pub struct Script {
    replies: Arc<Mutex<HashMap<String, VecDeque<Vec<u8>>>>>,
    seen: Arc<Mutex<Vec<String>>>,
}

impl Script {
    /// Answers the next request to `path` (no query string) with `reply`.
    pub fn push(&self, path: &str, reply: Vec<u8>) {
        self.replies
            .lock()
            .expect("script")
            .entry(path.to_string())
            .or_default()
            .push_back(reply);
    }

    /// The paths requested so far, in order.
    pub fn seen(&self) -> Vec<String> {
        self.seen.lock().expect("script").clone()
    }

    /// Serves on a free port of 127.0.0.1 from a thread of its own.
    pub fn start(&self) -> SocketAddr {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind");
        let addr = listener.local_addr().expect("address");
        let script = self.clone();
        std::thread::spawn(move || {
            for conn in listener.incoming().flatten() {
                let script = script.clone();
                std::thread::spawn(move || script.serve(conn));
            }
        });
        addr
    }

    fn serve(&self, mut conn: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        };
        let head = String::from_utf8_lossy(&buf[..head_end]).to_string();
        let length: usize = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse().ok())?
            })
            .unwrap_or(0);
        while buf.len() < head_end + length {
            match conn.read(&mut chunk) {
                Ok(0) | Err(_) => return,
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
            }
        }
        let target = head.split(' ').nth(1).unwrap_or("");
        let path = target.split('?').next().unwrap_or("").to_string();
        self.seen.lock().expect("script").push(path.clone());
        let reply = self
            .replies
            .lock()
            .expect("script")
            .get_mut(&path)
            .and_then(VecDeque::pop_front)
            .unwrap_or_else(|| {
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n".to_vec()
            });
        let _ = conn.write_all(&reply);
        let _ = conn.flush();
        let _ = conn.shutdown(std::net::Shutdown::Both);
    }
}

/// A response with a `Content-Length`.
pub fn http(status: &str, headers: &str, body: &str) -> Vec<u8> {
    format!(
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
        body.len()
    )
    .into_bytes()
}

/// A response whose body ends where the connection closes (no length, no
/// chunks): HTTP cannot tell a whole body from a cut one.
pub fn close_delimited(body: &str) -> Vec<u8> {
    format!("HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nConnection: close\r\n\r\n{body}")
        .into_bytes()
}

/// The GraphQL answer that hands out `link` as the export link.
pub fn link_page(link: &str) -> Vec<u8> {
    http(
        "200 OK",
        "Content-Type: application/json\r\n",
        &format!(
            r#"{{"data":{{"cdrRecords":{{"exportLink":"{link}","paginationInfo":{{"nextCursor":null,"limit":1}},"cdrs":[]}}}}}}"#
        ),
    )
}
