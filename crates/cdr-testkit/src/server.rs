use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, mpsc};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use aws_sdk_s3::Client;
use aws_sdk_s3::config::{
    BehaviorVersion, Credentials, Region, RequestChecksumCalculation, ResponseChecksumValidation,
};

/// The dummy access key id the test server accepts.
pub const ACCESS_KEY_ID: &str = "test";
/// The dummy secret access key the test server accepts.
pub const SECRET_ACCESS_KEY: &str = "test";
/// The region tests use.
pub const REGION: &str = "us-east-1";

const INSTALL_HINT: &str =
    "run `cargo xtask test` once: it makes the test environment target/test-env";
const READY_DEADLINE: Duration = Duration::from_secs(30);
/// The launcher that runs moto's server one request at a time (see the file).
const LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/moto_server.py");
/// The launcher's exit statuses: moto is missing, moto is too old.
const EXIT_MOTO_MISSING: i32 = 97;
const EXIT_MOTO_TOO_OLD: i32 = 98;

/// Why the test server could not be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TestkitError {
    #[error("no test environment: {} does not exist; {INSTALL_HINT}", python.display())]
    TestEnvMissing { python: PathBuf },
    #[error("moto server not found in the test environment: {INSTALL_HINT}")]
    MotoNotFound,
    #[error("moto {found} is too old (the SDK rejects its multipart answers): {INSTALL_HINT}")]
    MotoTooOld { found: String },
    #[error("could not start moto server: {0}")]
    Spawn(#[source] std::io::Error),
    #[error("moto server exited before answering ({status}): {stderr}")]
    Exited { status: String, stderr: String },
    #[error("S3 server at {endpoint} did not answer within {seconds} s")]
    NotReady { endpoint: String, seconds: u64 },
    #[error("test S3 server: {0}")]
    Shared(String),
    #[error("{operation} on the test S3 server: {message}")]
    S3 {
        operation: &'static str,
        message: String,
    },
}

/// A running S3-compatible server for tests.
#[derive(Debug)]
pub struct S3Server {
    endpoint: String,
    /// `None` when the server came from `CDR_TEST_S3_ENDPOINT`.
    moto: Option<Moto>,
}

/// The thread that started moto: the parent-death signal follows the thread
/// that forked, so this thread lives exactly as long as the server should.
#[derive(Debug)]
struct Moto {
    stop: mpsc::Sender<()>,
    keeper: Option<std::thread::JoinHandle<()>>,
}

impl Drop for Moto {
    fn drop(&mut self) {
        let _ = self.stop.send(());
        if let Some(keeper) = self.keeper.take() {
            let _ = keeper.join();
        }
    }
}

static SHARED: OnceLock<Result<S3Server, String>> = OnceLock::new();
static BUCKETS: AtomicU64 = AtomicU64::new(0);

impl S3Server {
    /// Uses the server at `CDR_TEST_S3_ENDPOINT` if set; otherwise starts moto's
    /// server from the test environment ([`test_python`]) on a free loopback
    /// port and waits until it answers HTTP. Blocks for up to 30 s.
    ///
    /// The server runs one request at a time, so its conditional writes
    /// (`If-None-Match: *`, `If-Match`) are atomic as on S3.
    pub fn start() -> Result<S3Server, TestkitError> {
        if let Some(endpoint) = std::env::var("CDR_TEST_S3_ENDPOINT")
            .ok()
            .filter(|e| !e.trim().is_empty())
        {
            return Ok(S3Server {
                endpoint: endpoint.trim_end_matches('/').to_string(),
                moto: None,
            });
        }
        start_moto_retrying(Conditions::Checked)
    }

    /// Starts a server of its own (never the shared one, nor
    /// `CDR_TEST_S3_ENDPOINT`) that ignores conditional writes: it strips
    /// `If-None-Match` and `If-Match` from every request, so a create-only
    /// write of an existing key overwrites it. For tests of what happens on
    /// a store that does not honour conditions.
    pub fn start_ignoring_conditions() -> Result<S3Server, TestkitError> {
        start_moto_retrying(Conditions::Ignored)
    }

    /// One server for the whole test binary, started on first use. It is
    /// killed when the test process exits.
    pub fn shared() -> Result<&'static S3Server, TestkitError> {
        SHARED
            .get_or_init(|| S3Server::start().map_err(|e| e.to_string()))
            .as_ref()
            .map_err(|e| TestkitError::Shared(e.clone()))
    }

    /// The base URL, e.g. `http://127.0.0.1:40123`.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone()
    }

    /// Credentials the server accepts: `CDR_TEST_S3_ACCESS_KEY_ID` and
    /// `CDR_TEST_S3_SECRET_ACCESS_KEY` for an external server if set, else the
    /// dummy [`ACCESS_KEY_ID`] / [`SECRET_ACCESS_KEY`].
    pub fn credentials(&self) -> Credentials {
        let var = |name: &str, default: &str| {
            std::env::var(name)
                .ok()
                .filter(|_| self.moto.is_none())
                .unwrap_or_else(|| default.to_string())
        };
        Credentials::new(
            var("CDR_TEST_S3_ACCESS_KEY_ID", ACCESS_KEY_ID),
            var("CDR_TEST_S3_SECRET_ACCESS_KEY", SECRET_ACCESS_KEY),
            None,
            None,
            "cdr-testkit",
        )
    }

    /// A raw SDK client for this server: path-style, checksums only where
    /// required. Build one per Tokio runtime (each test has its own): pooled
    /// connections belong to the runtime that opened them.
    pub fn client(&self) -> Client {
        let config = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .endpoint_url(&self.endpoint)
            .region(Region::new(REGION))
            .credentials_provider(self.credentials())
            .force_path_style(true)
            .request_checksum_calculation(RequestChecksumCalculation::WhenRequired)
            .response_checksum_validation(ResponseChecksumValidation::WhenRequired)
            .build();
        Client::from_conf(config)
    }

    /// Creates `name`; an existing bucket of ours is fine.
    pub async fn create_bucket(&self, name: &str) -> Result<(), TestkitError> {
        match self.client().create_bucket().bucket(name).send().await {
            Ok(_) => Ok(()),
            Err(e)
                if e.as_service_error()
                    .is_some_and(|s| s.is_bucket_already_owned_by_you()) =>
            {
                Ok(())
            }
            Err(e) => Err(s3_error("create bucket", e)),
        }
    }

    /// Creates a bucket with a fresh name starting with `hint`, so that tests
    /// sharing a server never see each other's objects.
    pub async fn new_bucket(&self, hint: &str) -> Result<String, TestkitError> {
        let name = unique_bucket_name(hint);
        self.create_bucket(&name).await?;
        Ok(name)
    }

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
        let authority = self.endpoint.strip_prefix("http://")?;
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

fn s3_error<E, R>(operation: &'static str, e: aws_sdk_s3::error::SdkError<E, R>) -> TestkitError
where
    E: std::error::Error + 'static,
    R: std::fmt::Debug,
{
    TestkitError::S3 {
        operation,
        message: aws_sdk_s3::error::DisplayErrorContext(e).to_string(),
    }
}

fn unique_bucket_name(hint: &str) -> String {
    let clean: String = hint
        .chars()
        .map(|c| c.to_ascii_lowercase())
        .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
        .take(30)
        .collect();
    let clean = clean.trim_matches('-');
    let clean = if clean.is_empty() { "test" } else { clean };
    // The time part keeps runs apart on a long-lived external server.
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.subsec_nanos());
    format!(
        "{clean}-{}-{}-{nanos:x}",
        std::process::id(),
        BUCKETS.fetch_add(1, Ordering::Relaxed)
    )
}

/// Percent-encodes everything but unreserved characters and `/`.
fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

fn free_port() -> Result<u16, TestkitError> {
    let listener = TcpListener::bind("127.0.0.1:0").map_err(TestkitError::Spawn)?;
    listener
        .local_addr()
        .map(|a| a.port())
        .map_err(TestkitError::Spawn)
}

/// The Python of the test environment that `cargo xtask test` makes:
/// `CDR_TEST_PYTHON` if set (xtask sets it), else
/// `<workspace>/target/test-env/bin/python`. An error that says to run
/// `cargo xtask test` when it does not exist.
pub fn test_python() -> Result<PathBuf, TestkitError> {
    let python = std::env::var_os("CDR_TEST_PYTHON")
        .filter(|p| !p.is_empty())
        .map(PathBuf::from)
        .unwrap_or_else(default_test_python);
    if python.is_file() {
        Ok(python)
    } else {
        Err(TestkitError::TestEnvMissing { python })
    }
}

/// `<workspace>/target/test-env/bin/python`, the workspace being two levels
/// above this crate.
fn default_test_python() -> PathBuf {
    let manifest = Path::new(env!("CARGO_MANIFEST_DIR"));
    let workspace = manifest.ancestors().nth(2).unwrap_or(manifest);
    workspace
        .join("target")
        .join("test-env")
        .join("bin")
        .join("python")
}

/// Whether the server honours conditional writes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Conditions {
    Checked,
    Ignored,
}

fn start_moto_retrying(conditions: Conditions) -> Result<S3Server, TestkitError> {
    let python = test_python()?;
    // A port freed just before moto binds it can be taken by someone else.
    let mut last = None;
    for _ in 0..3 {
        match start_moto(&python, conditions) {
            Ok(server) => return Ok(server),
            Err(TestkitError::Exited { status, stderr })
                if stderr.contains("Address already in use") =>
            {
                last = Some(TestkitError::Exited { status, stderr });
            }
            Err(e) => return Err(e),
        }
    }
    Err(last.unwrap_or(TestkitError::MotoNotFound))
}

fn start_moto(python: &Path, conditions: Conditions) -> Result<S3Server, TestkitError> {
    let port = free_port()?;
    let endpoint = format!("http://127.0.0.1:{port}");
    let (started, spawned) = mpsc::channel();
    let (stop, stopped) = mpsc::channel::<()>();
    let mut command = moto_command(python, port, conditions);
    let keeper = std::thread::Builder::new()
        .name(format!("moto-{port}"))
        .spawn(move || keep_moto(&mut command, started, stopped))
        .map_err(TestkitError::Spawn)?;
    let moto = Moto {
        stop,
        keeper: Some(keeper),
    };
    let stderr: Arc<Mutex<VecDeque<u8>>> = match spawned.recv() {
        Ok(Ok(stderr)) => stderr,
        Ok(Err(e)) => return Err(e),
        Err(_) => {
            return Err(TestkitError::Spawn(std::io::Error::other(
                "keeper thread died",
            )));
        }
    };
    let addr = SocketAddr::from(([127, 0, 0, 1], port));
    let deadline = Instant::now() + READY_DEADLINE;
    loop {
        if answers_http(addr) {
            return Ok(S3Server {
                endpoint,
                moto: Some(moto),
            });
        }
        if moto.keeper.as_ref().is_some_and(|k| k.is_finished()) {
            // The keeper ends when the child exits.
            let text = stderr
                .lock()
                .map(|mut b| String::from_utf8_lossy(b.make_contiguous()).into_owned())
                .unwrap_or_default();
            drop(moto);
            return Err(classify_exit(text));
        }
        if Instant::now() > deadline {
            return Err(TestkitError::NotReady {
                endpoint,
                seconds: READY_DEADLINE.as_secs(),
            });
        }
        // Polling a starting server: a short pause between connection attempts.
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn classify_exit(stderr: String) -> TestkitError {
    let status = stderr
        .lines()
        .rev()
        .find(|l| l.starts_with("exit status"))
        .unwrap_or("exited")
        .to_string();
    if status == format!("exit status {EXIT_MOTO_MISSING}") {
        TestkitError::MotoNotFound
    } else if status == format!("exit status {EXIT_MOTO_TOO_OLD}") {
        TestkitError::MotoTooOld {
            found: stderr.lines().next().unwrap_or("?").trim().to_string(),
        }
    } else {
        let tail: String = stderr.lines().rev().take(5).collect::<Vec<_>>().join(" | ");
        TestkitError::Exited {
            status,
            stderr: tail,
        }
    }
}

type Started = Result<Arc<Mutex<VecDeque<u8>>>, TestkitError>;

/// Spawns moto, reports back, then waits for a stop request (or for the
/// [`Moto`] handle to be dropped), kills the child and reaps it. If the child
/// exits by itself, its exit status is appended to the kept stderr.
fn keep_moto(command: &mut Command, started: mpsc::Sender<Started>, stopped: mpsc::Receiver<()>) {
    let mut child = match spawn_moto(command) {
        Ok(child) => child,
        Err(e) => {
            let _ = started.send(Err(e));
            return;
        }
    };
    let stderr = Arc::new(Mutex::new(VecDeque::new()));
    let drain = child.stderr.take().map(|pipe| {
        let stderr = Arc::clone(&stderr);
        std::thread::spawn(move || drain_into(pipe, &stderr))
    });
    let _ = started.send(Ok(Arc::clone(&stderr)));
    loop {
        match stopped.recv_timeout(Duration::from_millis(100)) {
            Err(mpsc::RecvTimeoutError::Timeout) => {
                if let Ok(Some(status)) = child.try_wait() {
                    if let Some(drain) = drain {
                        let _ = drain.join();
                    }
                    if let Ok(mut buf) = stderr.lock() {
                        buf.extend(
                            format!("\nexit status {}\n", status.code().unwrap_or(-1)).bytes(),
                        );
                    }
                    return;
                }
            }
            // Asked to stop, or the handle is gone.
            Ok(()) | Err(mpsc::RecvTimeoutError::Disconnected) => {
                let _ = child.kill();
                let _ = child.wait();
                return;
            }
        }
    }
}

/// The launcher on `port`, run by the test environment's `python`.
fn moto_command(python: &Path, port: u16, conditions: Conditions) -> Command {
    let mut command = Command::new(python);
    command
        .arg(LAUNCHER)
        .args(["--host", "127.0.0.1", "--port", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    if conditions == Conditions::Ignored {
        command.arg("--ignore-conditions");
    }
    command
}

fn spawn_moto(command: &mut Command) -> Result<Child, TestkitError> {
    die_with_parent(command);
    command.spawn().map_err(TestkitError::Spawn)
}

/// Asks the kernel to kill the child when the thread that spawned it ends,
/// which for the keeper thread means when the test process dies, however it dies.
#[cfg(target_os = "linux")]
fn die_with_parent(command: &mut Command) {
    use std::os::unix::process::CommandExt;
    // SAFETY: the closure runs in the forked child before exec and calls only
    // async-signal-safe functions (prctl, getppid, _exit).
    let parent = std::process::id() as libc::pid_t;
    unsafe {
        command.pre_exec(move || {
            if libc::prctl(libc::PR_SET_PDEATHSIG, libc::SIGKILL) != 0 {
                return Err(std::io::Error::last_os_error());
            }
            // The parent may have died before the prctl call.
            if libc::getppid() != parent {
                libc::_exit(1);
            }
            Ok(())
        });
    }
}

#[cfg(not(target_os = "linux"))]
fn die_with_parent(_command: &mut Command) {}

/// Keeps the last few KiB of the child's stderr (moto logs every request
/// there, so an undrained pipe would fill up and stall the server).
fn drain_into(mut pipe: impl Read, keep: &Mutex<VecDeque<u8>>) {
    const KEEP: usize = 8 * 1024;
    let mut buf = [0u8; 4096];
    loop {
        match pipe.read(&mut buf) {
            Ok(0) | Err(_) => return,
            Ok(n) => {
                if let Ok(mut kept) = keep.lock() {
                    kept.extend(&buf[..n]);
                    let excess = kept.len().saturating_sub(KEEP);
                    kept.drain(..excess);
                }
            }
        }
    }
}

/// Whether something at `addr` answers an HTTP request with an HTTP status line.
fn answers_http(addr: SocketAddr) -> bool {
    let Ok(mut stream) = TcpStream::connect_timeout(&addr, Duration::from_millis(500)) else {
        return false;
    };
    let _ = stream.set_read_timeout(Some(Duration::from_secs(2)));
    let _ = stream.set_write_timeout(Some(Duration::from_secs(2)));
    if stream
        .write_all(b"GET / HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut head = [0u8; 5];
    stream.read_exact(&mut head).is_ok() && &head == b"HTTP/"
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bucket_names_are_valid_and_unique() {
        let a = unique_bucket_name("Conformance Suite!");
        let b = unique_bucket_name("Conformance Suite!");
        assert_ne!(a, b);
        for name in [
            a,
            b,
            unique_bucket_name(""),
            unique_bucket_name(&"x".repeat(80)),
        ] {
            assert!((3..=63).contains(&name.len()), "{name}");
            assert!(
                name.chars()
                    .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-'),
                "{name}"
            );
            assert!(!name.starts_with('-') && !name.ends_with('-'), "{name}");
        }
    }

    #[test]
    fn exits_are_explained() {
        assert!(matches!(
            classify_exit("\nexit status 97\n".into()),
            TestkitError::MotoNotFound
        ));
        assert!(matches!(
            classify_exit("\nexit status 197\n".into()),
            TestkitError::Exited { .. }
        ));
        let old = classify_exit("5.2.1\n\nexit status 98\n".into());
        assert!(old.to_string().contains("moto 5.2.1 is too old"), "{old}");
        assert!(old.to_string().contains("run `cargo xtask test`"), "{old}");
        let other = classify_exit("Traceback\nOSError: boom\n\nexit status 1\n".into());
        assert!(other.to_string().contains("OSError: boom"), "{other}");
        assert_eq!(
            TestkitError::MotoNotFound.to_string(),
            "moto server not found in the test environment: run `cargo xtask test` once: \
             it makes the test environment target/test-env"
        );
        let missing = TestkitError::TestEnvMissing {
            python: PathBuf::from("/w/target/test-env/bin/python"),
        };
        assert_eq!(
            missing.to_string(),
            "no test environment: /w/target/test-env/bin/python does not exist; \
             run `cargo xtask test` once: it makes the test environment target/test-env"
        );
    }

    #[test]
    fn the_default_test_python_is_under_the_workspace_target() {
        let python = default_test_python();
        assert!(
            python.ends_with("target/test-env/bin/python"),
            "{}",
            python.display()
        );
        let workspace = python.ancestors().nth(4).expect("workspace");
        let manifest = std::fs::read_to_string(workspace.join("Cargo.toml")).unwrap_or_default();
        assert!(manifest.contains("[workspace]"), "{}", workspace.display());
        assert!(Path::new(LAUNCHER).is_file(), "{LAUNCHER}");
    }
}
