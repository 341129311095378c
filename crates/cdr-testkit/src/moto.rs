//! The moto process: the test environment's Python, the launcher on a free
//! port, a keeper thread that stops it with the handle or the test process,
//! and its exit explained.

use std::collections::VecDeque;
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use crate::error::TestkitError;

const READY_DEADLINE: Duration = Duration::from_secs(30);
/// The launcher that runs moto's server one request at a time (see the file).
const LAUNCHER: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/moto_server.py");
/// The launcher's exit statuses: moto is missing, moto is too old.
const EXIT_MOTO_MISSING: i32 = 97;
const EXIT_MOTO_TOO_OLD: i32 = 98;

/// The thread that started moto: the parent-death signal follows the thread
/// that forked, so this thread lives exactly as long as the server should.
#[derive(Debug)]
pub(crate) struct Moto {
    /// `http://127.0.0.1:PORT`.
    pub endpoint: String,
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
pub(crate) enum Conditions {
    Checked,
    Ignored,
}

/// Starts the launcher, trying another port when the chosen one was taken.
pub(crate) fn start_moto_retrying(conditions: Conditions) -> Result<Moto, TestkitError> {
    let python = test_python()?;
    // A port freed just before moto binds it can be taken by someone else.
    let mut last = None;
    for _ in 0..3 {
        match start_moto(&python, conditions) {
            Ok(moto) => return Ok(moto),
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

fn start_moto(python: &Path, conditions: Conditions) -> Result<Moto, TestkitError> {
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
        endpoint,
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
            return Ok(moto);
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
                endpoint: moto.endpoint.clone(),
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
