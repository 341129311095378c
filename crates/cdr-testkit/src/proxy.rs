//! [`FaultProxy`]: a loopback TCP proxy that cuts large requests on
//! demand, to break the network in the middle of an upload.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::task::JoinSet;

/// A loopback TCP proxy in front of a server that can break the network on
/// demand: once [`FaultProxy::cut_requests_over`] is called, any connection
/// that sends more than the given number of bytes without an answer in
/// between (a large request body, such as a multipart part) is dropped
/// mid-request. Small requests still pass, as on a link that fails under load.
///
/// Runs on the Tokio runtime it was started on; dropping it closes every
/// connection.
#[derive(Debug)]
pub struct FaultProxy {
    addr: SocketAddr,
    limit: Arc<AtomicU64>,
    cut: Arc<AtomicU64>,
    accept: tokio::task::JoinHandle<()>,
}

impl FaultProxy {
    /// Listens on a free loopback port and forwards to `upstream`
    /// (`http://host:port`).
    pub async fn start(upstream: &str) -> std::io::Result<FaultProxy> {
        let authority = upstream
            .split("://")
            .nth(1)
            .unwrap_or(upstream)
            .trim_end_matches('/')
            .to_string();
        let listener = TcpListener::bind("127.0.0.1:0").await?;
        let addr = listener.local_addr()?;
        let limit = Arc::new(AtomicU64::new(u64::MAX));
        let cut = Arc::new(AtomicU64::new(0));
        let accept = tokio::spawn(accept_loop(
            listener,
            authority,
            Arc::clone(&limit),
            Arc::clone(&cut),
        ));
        Ok(FaultProxy {
            addr,
            limit,
            cut,
            accept,
        })
    }

    /// The proxy's base URL.
    pub fn endpoint(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// From now on, drop connections that send more than `bytes` before the
    /// server answers.
    pub fn cut_requests_over(&self, bytes: u64) {
        self.limit.store(bytes, Ordering::SeqCst);
    }

    /// Lets everything through again.
    pub fn heal(&self) {
        self.limit.store(u64::MAX, Ordering::SeqCst);
    }

    /// How many connections have been cut so far.
    pub fn cuts(&self) -> u64 {
        self.cut.load(Ordering::SeqCst)
    }
}

impl Drop for FaultProxy {
    fn drop(&mut self) {
        // The accept task owns the connection tasks; aborting it drops them all.
        self.accept.abort();
    }
}

async fn accept_loop(
    listener: TcpListener,
    upstream: String,
    limit: Arc<AtomicU64>,
    cut: Arc<AtomicU64>,
) {
    let mut connections = JoinSet::new();
    loop {
        tokio::select! {
            accepted = listener.accept() => {
                let Ok((client, _)) = accepted else { continue };
                connections.spawn(forward(client, upstream.clone(), Arc::clone(&limit), Arc::clone(&cut)));
            }
            // Reap finished connections so the set does not grow.
            Some(_) = connections.join_next(), if !connections.is_empty() => {}
        }
    }
}

async fn forward(client: TcpStream, upstream: String, limit: Arc<AtomicU64>, cut: Arc<AtomicU64>) {
    let Ok(server) = TcpStream::connect(&upstream).await else {
        return;
    };
    let _ = client.set_nodelay(true);
    let _ = server.set_nodelay(true);
    let (mut client_read, mut client_write) = client.into_split();
    let (mut server_read, mut server_write) = server.into_split();
    // Bytes the client sent since the server last answered.
    let unanswered = Arc::new(AtomicU64::new(0));

    let upstream_dir = {
        let unanswered = Arc::clone(&unanswered);
        async move {
            let mut buf = vec![0u8; 64 * 1024];
            loop {
                let n = client_read.read(&mut buf).await?;
                if n == 0 {
                    server_write.shutdown().await?;
                    return Ok::<_, std::io::Error>(());
                }
                let sent = unanswered.fetch_add(n as u64, Ordering::SeqCst) + n as u64;
                if sent > limit.load(Ordering::SeqCst) {
                    cut.fetch_add(1, Ordering::SeqCst);
                    return Err(std::io::Error::other("cut"));
                }
                server_write.write_all(&buf[..n]).await?;
            }
        }
    };
    let downstream_dir = async move {
        let mut buf = vec![0u8; 64 * 1024];
        loop {
            let n = server_read.read(&mut buf).await?;
            if n == 0 {
                client_write.shutdown().await?;
                return Ok::<_, std::io::Error>(());
            }
            unanswered.store(0, Ordering::SeqCst);
            client_write.write_all(&buf[..n]).await?;
        }
    };
    // An error in either direction (including a cut) drops both sockets.
    let _ = tokio::try_join!(upstream_dir, downstream_dir);
}
