//! The units' CPU pool: checking, fingerprinting and encoding pages run on
//! a fixed set of threads ([`off_runtime`]), never on the runtime's workers
//! that read answers and send requests, nor on its growing blocking pool.

use std::sync::Arc;

/// Runs CPU-heavy work (checking, fingerprinting and encoding a page: about
/// a millisecond) on the CPU threads of [`cpu_pool`], so that it never
/// delays the runtime's tasks that read answers and send the next requests:
/// with many units at once, pages arrive together, and work queued on the
/// runtime's workers would hold back every unit's next request. `None` when
/// the work was dropped unrun (its thread is gone).
pub(super) async fn off_runtime<T: Send + 'static>(
    work: impl FnOnce() -> T + Send + 'static,
) -> Option<T> {
    let (tx, rx) = tokio::sync::oneshot::channel();
    let job = Box::new(move || {
        let _ = tx.send(std::panic::catch_unwind(std::panic::AssertUnwindSafe(work)));
    });
    if let Err(std::sync::mpsc::SendError(job)) = cpu_pool().send(job) {
        // No CPU thread could be started: work where we are.
        job();
    }
    match rx.await {
        Ok(Ok(done)) => Some(done),
        Ok(Err(panic)) => std::panic::resume_unwind(panic),
        Err(_) => None,
    }
}

type Job = Box<dyn FnOnce() + Send>;

/// One thread per core for the units' CPU work, started on first use. A fixed
/// set of threads (rather than the runtime's blocking pool, which grows a
/// thread per waiting job) keeps the allocator's per-thread arenas, and with
/// them memory, few.
fn cpu_pool() -> &'static std::sync::mpsc::Sender<Job> {
    static POOL: std::sync::OnceLock<std::sync::mpsc::Sender<Job>> = std::sync::OnceLock::new();
    POOL.get_or_init(|| {
        let (tx, rx) = std::sync::mpsc::channel::<Job>();
        let rx = Arc::new(std::sync::Mutex::new(rx));
        let threads = std::thread::available_parallelism().map_or(2, |n| n.get());
        for n in 0..threads {
            let rx = rx.clone();
            let _ = std::thread::Builder::new()
                .name(format!("cdr-sink-cpu-{n}"))
                .spawn(move || {
                    loop {
                        let job = match rx.lock() {
                            Ok(rx) => rx.recv(),
                            Err(_) => return,
                        };
                        match job {
                            Ok(job) => job(),
                            Err(_) => return,
                        }
                    }
                });
        }
        // Without threads the receiver is gone and sends fail: the caller
        // then works in place.
        drop(rx);
        tx
    })
}
