//! The server's lifecycle and the handle that tests, benchmarks and the demo
//! drive it through: start and stop, counters, ground truth, and the hooks.

use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::serve::ListenerExt;
use cdr_core::{Cdr, CdrType, Window, format_datetime};
use chrono::{DateTime, Utc};
use rust_decimal::Decimal;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Faults, SimConfig};
use crate::data::{instant_ns, window_ns};
use crate::hooks::{ExpiredAnswer, Injected, Override, UnknownMembers};
use crate::server::router;
use crate::state::State;
use crate::{Counters, SimError};

/// A running simulator. Dropping it stops the server; [`SimHandle::shutdown`]
/// also waits for it to end.
pub struct SimHandle {
    state: Arc<State>,
    addr: SocketAddr,
    stop: Option<oneshot::Sender<()>>,
    task: Option<JoinHandle<io::Result<()>>>,
}

impl std::fmt::Debug for SimHandle {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SimHandle")
            .field("addr", &self.addr)
            .finish()
    }
}

/// Starts a simulator on `config.bind` and serves it on the current tokio
/// runtime until the handle is shut down or dropped.
pub async fn start(config: SimConfig) -> Result<SimHandle, SimError> {
    config.validate()?;
    let listener = tokio::net::TcpListener::bind(config.bind)
        .await
        .map_err(|source| SimError::Bind {
            addr: config.bind,
            source,
        })?;
    let addr = listener.local_addr().map_err(|source| SimError::Bind {
        addr: config.bind,
        source,
    })?;
    let state = Arc::new(State::new(&config, format!("http://{addr}")));
    state.set_unknown_members(config.unknown_members.as_ref());
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = listener.tap_io(|tcp| {
        // Small responses must not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
    });
    let routes = router(state.clone());
    let task = tokio::spawn(async move {
        axum::serve(listener, routes)
            .with_graceful_shutdown(async {
                let _ = stopped.await;
            })
            .await
    });
    Ok(SimHandle {
        state,
        addr,
        stop: Some(stop),
        task: Some(task),
    })
}

impl SimHandle {
    /// `http://127.0.0.1:PORT`, without a trailing slash.
    pub fn base_url(&self) -> String {
        self.state.base_url.clone()
    }

    /// The address the server listens on.
    pub fn addr(&self) -> SocketAddr {
        self.addr
    }

    /// A snapshot of the request and fault counters.
    pub fn counters(&self) -> Counters {
        self.state.counters.snapshot()
    }

    /// Every record of `t` in `w` that an archive should hold, in server
    /// order (datetime, then id): what queries list, late and re-rated
    /// records included, without what cannot be stored: members served as
    /// an unknown type, records with a corrupt value, records of another
    /// member (see [`SimHandle::injected`] for those).
    pub fn ground_truth(&self, t: CdrType, w: Window) -> impl Iterator<Item = Cdr> + '_ {
        let (start, end) = window_ns(w);
        let mut source = self.state.source(t, start, end, None);
        std::iter::from_fn(move || {
            loop {
                let row = source.next_row()?;
                let view = source.view(&row);
                if view.is_record_of(t) {
                    return Some(view.to_cdr());
                }
            }
        })
    }

    /// What the listing of `t` in `w` holds besides [`SimHandle::ground_truth`]:
    /// elements served as unknown members, records with corrupt values and
    /// records of another member, by position in the listing.
    pub fn injected(&self, t: CdrType, w: Window) -> Injected {
        let (start, end) = window_ns(w);
        let mut source = self.state.source(t, start, end, None);
        let mut out = Injected::default();
        let mut position = 0u64;
        while let Some(row) = source.next_row() {
            let view = source.view(&row);
            if let Some(name) = view.unknown() {
                *out.unknown.entry(name.to_string()).or_default() += 1;
            } else if view.kind() != t.record_kind() {
                out.wrong_member.push((position, view.kind()));
            } else if let Some(overrides) = view.overrides() {
                // The first replaced field in the order the member lists them.
                let column = overrides.iter().map(|o| o.column).min().unwrap_or(0);
                let field = view.kind().columns().get(column).map_or("", |c| c.graphql);
                out.corrupt.push((position, field.to_string()));
            }
            position += 1;
        }
        out
    }

    /// Fixes the clock (`None`: the system clock).
    pub fn set_now(&self, now: Option<chrono::DateTime<chrono::Utc>>) {
        self.state.set_now(now);
    }

    /// Adds records that later queries, exports and [`SimHandle::ground_truth`]
    /// list, merged in (datetime, id) order after generated records of the same
    /// datetime. Records of another member kind than `t`'s are skipped.
    pub fn insert_late(&self, t: CdrType, records: Vec<Cdr>) {
        self.state.insert_late(t, records, false);
    }

    /// Lists records of another member than `t`'s among `t`'s records (a
    /// `VoiceCdr` in an SMS answer, say), placed like late records. They are
    /// served by queries, not by exports, and are not in the ground truth.
    /// Records of `t`'s own member are skipped. Returns how many were added.
    pub fn insert_wrong_member(&self, t: CdrType, records: Vec<Cdr>) -> usize {
        self.state.insert_late(t, records, true)
    }

    /// Serves every `every_nth` generated record of the listed types as a
    /// union member clients have no fragment for (`None`: none); see
    /// [`UnknownMembers`]. [`SimHandle::injected`] counts them per window.
    pub fn set_unknown_members(&self, unknown: Option<UnknownMembers>) -> Result<(), SimError> {
        if let Some(u) = &unknown {
            u.validate()?;
        }
        self.state.set_unknown_members(unknown.as_ref());
        Ok(())
    }

    /// Serves record number `index` (from 0, in server order) of `t`'s
    /// listing of `w` with the JSON text `raw_json` as the value of `field`
    /// (a GraphQL field of its member), e.g. `"N/A"` (with the quotes) or
    /// `0.123456789012` for `charge`. Queries serve the text as it is,
    /// exports its string content (or the text). The record leaves the
    /// ground truth; [`SimHandle::injected`] lists it. Returns the record as
    /// it was.
    pub fn corrupt(
        &self,
        t: CdrType,
        w: Window,
        index: u64,
        field: &str,
        raw_json: &str,
    ) -> Result<Cdr, SimError> {
        let value: serde_json::Value = serde_json::from_str(raw_json).map_err(|e| {
            SimError::Config(format!("corrupt value `{raw_json}` is not JSON: {e}"))
        })?;
        let (start, end) = window_ns(w);
        let mut source = self.state.source(t, start, end, None);
        let row = source
            .nth_row(index)
            .ok_or_else(|| SimError::Config(format!("{t} {w} holds no record number {index}")))?;
        let view = source.view(&row);
        let kind = view.kind();
        let column = kind
            .columns()
            .iter()
            .position(|c| c.graphql == field)
            .ok_or_else(|| SimError::Config(format!("{kind} has no field `{field}`")))?;
        let (key, record) = (view.key(), view.to_cdr());
        let csv = match value {
            serde_json::Value::String(s) => s,
            _ => raw_json.trim().to_string(),
        };
        let value = Override {
            column,
            json: raw_json.trim().to_string(),
            csv,
        };
        self.state.change_hooks(t, |h| h.corrupt(key, value));
        Ok(record)
    }

    /// Changes the charge of every record of `t` in `w` by `add` (records
    /// without a charge keep none): the listing holds the same records with
    /// other amounts, as after a re-rating. Queries, exports and the ground
    /// truth all show the new amounts.
    pub fn rerate(&self, t: CdrType, w: Window, add: Decimal) {
        let (start, end) = window_ns(w);
        self.state.change_hooks(t, |h| h.rerate(start, end, add));
    }

    /// Removes every record of `t` in `w` from later queries, exports and the
    /// ground truth: a data set that shrinks between runs.
    pub fn remove(&self, t: CdrType, w: Window) {
        let (start, end) = window_ns(w);
        self.state.change_hooks(t, |h| h.remove(start, end));
    }

    /// Removes every record of `t` before `from` (as a service that keeps
    /// records for a limited time would).
    pub fn retain_from(&self, t: CdrType, from: DateTime<Utc>) {
        let end = instant_ns(from);
        self.state.change_hooks(t, |h| h.remove(i64::MIN, end));
        tracing::debug!(%t, from = %format_datetime(&from), "records before this instant removed");
    }

    /// How later requests with an expired login token are answered.
    pub fn set_expired_answer(&self, answer: ExpiredAnswer) {
        self.state.set_expired_answer(answer);
    }

    /// Expires every token issued by login so far: their next request gets
    /// the expired answer (static tokens do not expire).
    pub fn expire_tokens(&self) {
        self.state.expire_tokens();
    }

    /// Replaces the fault settings for the following requests (probabilities
    /// are clamped into 0..=1).
    pub fn set_faults(&self, faults: Faults) {
        self.state.set_faults(faults);
    }

    /// Whether export requests draw faults too (429, 5xx, or a connection
    /// dropped halfway through the CSV); default false.
    pub fn set_export_faults(&self, on: bool) {
        self.state
            .export_faults
            .store(on, std::sync::atomic::Ordering::Relaxed);
    }

    /// Caps the rows of later exports (`None`: no cap).
    pub fn set_export_row_cap(&self, cap: Option<u64>) {
        self.state.set_export_row_cap(cap);
    }

    /// Stops accepting connections, lets open requests finish (up to 5 s),
    /// and waits for the server to end.
    pub async fn shutdown(mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
        if let Some(mut task) = self.task.take()
            && tokio::time::timeout(Duration::from_secs(5), &mut task)
                .await
                .is_err()
        {
            task.abort();
        }
    }
}

impl Drop for SimHandle {
    fn drop(&mut self) {
        if let Some(stop) = self.stop.take() {
            let _ = stop.send(());
        }
    }
}
