//! Helpers shared by the integration tests: a scripted HTTP server, the
//! simulator client setup, and log capture.
#![allow(dead_code)] // each test binary uses a different part

use std::collections::{HashMap, VecDeque};
use std::net::SocketAddr;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use cdr_core::{Cdr, CdrType, Limit, Password, Window, parse_datetime};
use cdr_transport::{
    Auth, Client, ClientConfig, ExportRequest, RecordsRequest, RetryPolicy, TransportError,
};
use futures_util::TryStreamExt;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;

/// `[start, start + minutes)`, from an RFC 3339 start.
pub fn window(start: &str, minutes: i64) -> Window {
    let s = parse_datetime(start).unwrap();
    Window::new(s, s + chrono::TimeDelta::minutes(minutes)).unwrap()
}

/// Many quick retries: enough attempts to get through high fault rates.
pub fn patient() -> RetryPolicy {
    RetryPolicy {
        max_attempts: 40,
        initial_backoff: Duration::from_millis(1),
        max_backoff: Duration::from_millis(20),
        max_total: Duration::from_secs(60),
    }
}

pub fn login(email: &str, password: &str) -> Auth {
    Auth::Login {
        email: email.into(),
        password: Password::new(password),
    }
}

/// A client of the simulator at `base_url`.
pub fn sim_client(base_url: String, auth: Auth, retry: RetryPolicy) -> Client {
    let mut config = ClientConfig::new(auth)
        .with_base_url(base_url)
        .with_retry(retry);
    config.timeout = Duration::from_secs(10);
    config.connect_timeout = Duration::from_secs(2);
    Client::new(config).unwrap()
}

pub fn request(t: CdrType, w: Window, limit: i64) -> RecordsRequest {
    RecordsRequest {
        limit: Limit::new(limit).unwrap(),
        ..RecordsRequest::new(t, w)
    }
}

/// Every record of a stream, or its error.
pub async fn fetch(client: &Client, req: RecordsRequest) -> Result<Vec<Cdr>, TransportError> {
    let pages: Vec<_> = client.records(req).try_collect().await?;
    Ok(pages.into_iter().flat_map(|p| p.records).collect())
}

/// A whole export body, or the error that ended it.
pub async fn download(client: &Client, req: ExportRequest) -> Result<Vec<u8>, TransportError> {
    let mut body = client.export(req).await?;
    let mut out = Vec::new();
    while let Some(chunk) = body.try_next().await? {
        out.extend_from_slice(&chunk);
    }
    Ok(out)
}

/// What the server does with one request.
#[derive(Clone)]
pub enum Reply {
    /// Writes these bytes, then closes the connection.
    Bytes(Vec<u8>),
    /// Reads the request and never answers.
    Silence,
    /// Writes `head`, then `chunk` again and again until the client goes
    /// away, counting in [`Script::written`].
    Endless { head: Vec<u8>, chunk: Vec<u8> },
    /// Writes `head`, then one byte every `every` until the client goes away,
    /// counting in [`Script::written`].
    Drip { head: Vec<u8>, every: Duration },
}

/// A server that pops the next reply for each request path and counts requests.
#[derive(Clone, Default)]
pub struct Script {
    pub replies: Arc<Mutex<HashMap<String, VecDeque<Reply>>>>,
    pub seen: Arc<Mutex<Vec<(String, String)>>>,
    /// Every byte received, on any connection, request bodies included.
    pub received: Arc<Mutex<Vec<u8>>>,
    /// Body bytes written by `Endless` and `Drip` replies.
    pub written: Arc<AtomicU64>,
    /// Notified when an `Endless` or `Drip` reply stops because the client
    /// went away.
    pub gone: Arc<Notify>,
}

impl Script {
    pub fn push(&self, path: &str, reply: Reply) {
        self.replies
            .lock()
            .unwrap()
            .entry(path.to_string())
            .or_default()
            .push_back(reply);
    }

    pub fn requests(&self, path: &str) -> usize {
        self.seen
            .lock()
            .unwrap()
            .iter()
            .filter(|(p, _)| p == path)
            .count()
    }

    pub async fn start(&self) -> SocketAddr {
        self.start_on("127.0.0.1").await
    }

    /// Starts on a free port of `ip` (any address of 127.0.0.0/8 is this
    /// machine, which gives tests a second host).
    pub async fn start_on(&self, ip: &str) -> SocketAddr {
        let listener = TcpListener::bind((ip, 0)).await.unwrap();
        let addr = listener.local_addr().unwrap();
        let script = self.clone();
        tokio::spawn(async move {
            while let Ok((conn, _)) = listener.accept().await {
                tokio::spawn(script.clone().serve(conn));
            }
        });
        addr
    }

    async fn serve(self, mut conn: TcpStream) {
        let mut buf = Vec::new();
        let mut chunk = [0u8; 4096];
        let head_end = loop {
            if let Some(i) = buf.windows(4).position(|w| w == b"\r\n\r\n") {
                break i + 4;
            }
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    self.received.lock().unwrap().extend_from_slice(&chunk[..n]);
                    buf.extend_from_slice(&chunk[..n]);
                }
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
            match conn.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(n) => {
                    self.received.lock().unwrap().extend_from_slice(&chunk[..n]);
                    buf.extend_from_slice(&chunk[..n]);
                }
            }
        }
        let target = head.split(' ').nth(1).unwrap_or("").to_string();
        let path = target.split('?').next().unwrap_or("").to_string();
        self.seen.lock().unwrap().push((path.clone(), head));
        let reply = self
            .replies
            .lock()
            .unwrap()
            .get_mut(&path)
            .and_then(VecDeque::pop_front);
        match reply {
            Some(Reply::Bytes(b)) => {
                let _ = conn.write_all(&b).await;
                let _ = conn.flush().await;
            }
            Some(Reply::Silence) => {
                tokio::time::sleep(Duration::from_secs(30)).await;
            }
            Some(Reply::Endless { head, chunk }) => {
                if conn.write_all(&head).await.is_ok() {
                    while conn.write_all(&chunk).await.is_ok() {
                        self.written
                            .fetch_add(chunk.len() as u64, Ordering::Relaxed);
                    }
                }
                self.gone.notify_one();
            }
            Some(Reply::Drip { head, every }) => {
                if conn.write_all(&head).await.is_ok() {
                    loop {
                        tokio::time::sleep(every).await;
                        if conn.write_all(b"x").await.is_err() || conn.flush().await.is_err() {
                            break;
                        }
                        self.written.fetch_add(1, Ordering::Relaxed);
                    }
                }
                self.gone.notify_one();
            }
            None => {
                let _ = conn
                    .write_all(
                        b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                    )
                    .await;
            }
        }
    }
}

pub fn http(status: &str, headers: &str, body: &str) -> Reply {
    Reply::Bytes(
        format!(
            "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n{headers}\r\n{body}",
            body.len()
        )
        .into_bytes(),
    )
}

pub fn json(body: &str) -> Reply {
    http("200 OK", "Content-Type: application/json\r\n", body)
}

pub const EMPTY_PAGE: &str =
    r#"{"data":{"cdrRecords":{"paginationInfo":{"nextCursor":null,"limit":1000},"cdrs":[]}}}"#;

pub fn page_json(cdrs: &[&str], next: Option<&str>) -> Reply {
    let next = next.map_or("null".to_string(), |c| format!("\"{c}\""));
    json(&format!(
        r#"{{"data":{{"cdrRecords":{{"paginationInfo":{{"nextCursor":{next},"limit":3}},"cdrs":[{}]}}}}}}"#,
        cdrs.join(",")
    ))
}

pub const SMS_AT_0: &str =
    r#"{"__typename":"MessageCdr","datetime":"2026-11-01T00:00:00Z","charge":"0.0040"}"#;
pub const FAX: &str = r#"{"__typename":"FaxCdr","datetime":"2026-11-01T00:00:00Z","pages":2}"#;
pub const TELEX: &str = r#"{"__typename":"TelexCdr"}"#;

/// A writer into a shared buffer, for capturing log lines.
#[derive(Clone, Default)]
pub struct Captured(Arc<Mutex<Vec<u8>>>);

impl std::io::Write for Captured {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Captured {
    /// Everything written so far.
    pub fn text(&self) -> String {
        String::from_utf8_lossy(&self.0.lock().unwrap()).into_owned()
    }
}

/// Installs, once per test binary, a global subscriber that writes every event
/// of this crate (TRACE and up, with span context) to one buffer, and returns
/// the buffer. Call it first thing in each test that reads logs.
pub fn capture_logs() -> &'static Captured {
    static LOGS: OnceLock<Captured> = OnceLock::new();
    LOGS.get_or_init(|| {
        let logs = Captured::default();
        let writer = logs.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_env_filter("cdr_transport=trace")
            .with_ansi(false)
            .finish();
        tracing::subscriber::set_global_default(subscriber).unwrap();
        logs
    })
}
