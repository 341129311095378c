//! HTTP: the axum router, its handlers, and the server's lifecycle.

use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State as AxumState};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use axum::serve::ListenerExt;
use bytes::Bytes;
use cdr_core::{Cdr, CdrType, Window, format_datetime};
use chrono::{DateTime, Utc};
use futures_util::StreamExt;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use rust_decimal::Decimal;
use serde::Deserialize;
use tokio::sync::oneshot;
use tokio::task::JoinHandle;

use crate::config::{Faults, SimConfig};
use crate::data::{instant_ns, window_ns};
use crate::faults::{Fault, draw};
use crate::gql::{RequestData, SimSchema, schema};
use crate::hooks::{ExpiredAnswer, Injected, Override, UnknownMembers};
use crate::state::{AuthError, State, bump};
use crate::{Counters, SimError, export, fast};

#[derive(Clone)]
struct App {
    state: Arc<State>,
    schema: SimSchema,
}

const JSON: &str = "application/json";

fn respond(status: StatusCode, content_type: &'static str, body: impl Into<Body>) -> Response {
    let mut r = Response::new(body.into());
    *r.status_mut() = status;
    r.headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

fn json(status: StatusCode, value: &serde_json::Value) -> Response {
    respond(status, JSON, serde_json::to_vec(value).unwrap_or_default())
}

fn unauthorized() -> Response {
    respond(
        StatusCode::UNAUTHORIZED,
        JSON,
        r#"{"errors":[{"message":"unauthorized","extensions":{"code":"UNAUTHORIZED"}}]}"#,
    )
}

fn expired(answer: &ExpiredAnswer) -> Response {
    let status = StatusCode::from_u16(answer.status).unwrap_or(StatusCode::OK);
    respond(status, JSON, answer.body())
}

fn rate_limited(retry_after: Option<u64>) -> Response {
    let mut r = respond(
        StatusCode::TOO_MANY_REQUESTS,
        JSON,
        r#"{"errors":[{"message":"too many requests"}]}"#,
    );
    if let Some(secs) = retry_after {
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from(secs));
    }
    r
}

fn server_error(code: u16) -> Response {
    let status = StatusCode::from_u16(code).unwrap_or(StatusCode::BAD_GATEWAY);
    let reason = status.canonical_reason().unwrap_or("Error");
    let body = format!(
        "<html>\r\n<head><title>{code} {reason}</title></head>\r\n<body>\r\n<center><h1>{code} {reason}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    );
    respond(status, "text/html", body)
}

/// Returns to the connection once before a body fails, so that the headers
/// and the bytes already produced are written out first (the connection only
/// flushes when the body has nothing ready); otherwise the client would see
/// the connection closed before any response rather than a broken body.
pub(crate) async fn let_the_connection_flush() {
    tokio::task::yield_now().await;
}

/// A 200 whose body stops after its first half: the connection is dropped
/// after the headers and part of the body were sent.
fn reset(body: Vec<u8>) -> Response {
    let len = body.len() / 2;
    let half = Bytes::from(body).slice(..len);
    let stream = futures_util::stream::iter([Ok(half)]).chain(futures_util::stream::once(async {
        let_the_connection_flush().await;
        Err(io::Error::new(
            io::ErrorKind::ConnectionReset,
            "connection reset by the simulator",
        ))
    }));
    respond(StatusCode::OK, JSON, Body::from_stream(stream))
}

/// A complete 200 message whose JSON body is cut in half.
fn truncate(mut body: Vec<u8>) -> Response {
    body.truncate(body.len() / 2);
    respond(StatusCode::OK, JSON, body)
}

async fn count_requests(
    AxumState(app): AxumState<App>,
    req: Request,
    next: Next,
) -> Result<Response, Infallible> {
    bump(&app.state.counters.requests);
    Ok(next.run(req).await)
}

#[derive(Deserialize)]
struct LoginBody {
    email: String,
    password: String,
}

async fn login(AxumState(app): AxumState<App>, body: Bytes) -> Response {
    let st = &app.state;
    let Ok(creds) = serde_json::from_slice::<LoginBody>(&body) else {
        bump(&st.counters.failed_logins);
        return json(
            StatusCode::BAD_REQUEST,
            &serde_json::json!({"errors": [{"id": "bad_request",
                "message": "Expected a JSON body {\"email\": ..., \"password\": ...}."}]}),
        );
    };
    let found = st
        .users
        .iter()
        .enumerate()
        .find(|(_, u)| u.email == creds.email && u.password == creds.password);
    let Some((index, user)) = found else {
        bump(&st.counters.failed_logins);
        return json(
            StatusCode::UNAUTHORIZED,
            &serde_json::json!({"errors": [{"id": "unauthorized", "message": "Invalid email or password."}]}),
        );
    };
    bump(&st.counters.logins);
    let token = st.issue_token(user);
    let local = user.email.split('@').next().unwrap_or("user");
    json(
        StatusCode::OK,
        &serde_json::json!({
            "token": token,
            "user": {
                "email": user.email,
                "first_name": "Sim",
                "id": index + 1,
                "last_name": local,
                "level": if user.admin { "admin" } else { "basic_user" },
            }
        }),
    )
}

#[derive(Deserialize)]
struct GraphQlBody {
    query: String,
    #[serde(default, rename = "operationName")]
    operation_name: Option<String>,
    #[serde(default)]
    variables: Option<serde_json::Value>,
}

async fn graphql(AxumState(app): AxumState<App>, headers: HeaderMap, body: Bytes) -> Response {
    let st = app.state.clone();
    let n = bump(&st.counters.graphql_requests);
    if !st.latency.is_zero() {
        // Simulated service latency, as the real service has.
        tokio::time::sleep(st.latency).await;
    }
    let fault = draw(&st.faults(), n);
    match fault {
        Fault::RateLimit { retry_after } => {
            bump(&st.counters.rate_limited);
            return rate_limited(retry_after);
        }
        Fault::ServerError(code) => {
            bump(&st.counters.server_errors);
            return server_error(code);
        }
        _ => {}
    }
    let user = match st.authenticate(&headers) {
        Ok(u) => u,
        Err(AuthError::Missing) => return unauthorized(),
        Err(AuthError::Expired) => {
            bump(&st.counters.expired_tokens);
            return expired(&st.expired_answer());
        }
    };
    let request: GraphQlBody = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return json(
                StatusCode::BAD_REQUEST,
                &serde_json::json!({"data": null, "errors": [{
                    "message": format!("invalid request body: {e}; expected JSON with `query`, `operationName` and `variables`")
                }]}),
            );
        }
    };
    let out = execute(&app, user, request).await;
    match fault {
        Fault::Reset => {
            bump(&st.counters.resets);
            reset(out)
        }
        Fault::Truncate => {
            bump(&st.counters.truncated);
            truncate(out)
        }
        _ => respond(StatusCode::OK, JSON, out),
    }
}

/// The response body of one GraphQL request, on the fast path when possible.
async fn execute(app: &App, user: crate::state::AuthUser, request: GraphQlBody) -> Vec<u8> {
    let st = &app.state;
    let entry = st
        .docs
        .entry(&request.query, request.operation_name.as_deref());
    let empty = serde_json::Map::new();
    let vars = request
        .variables
        .as_ref()
        .and_then(|v| v.as_object())
        .unwrap_or(&empty);
    // Members of unknown type and values the schema's types cannot hold
    // are written by the hand-written writer only; async-graphql still
    // validates each document once.
    let hooked = st.hooks_change_rendering();
    if (st.fast_path || hooked)
        && entry.is_validated()
        && let Some(plan) = &entry.plan
        && let Some(out) = fast::render(plan, st, &user, vars, &entry.export_fields)
    {
        bump(&st.counters.fast_path_pages);
        return out;
    }
    let mut req = async_graphql::Request::new(request.query).data(RequestData {
        state: st.clone(),
        user: user.clone(),
        export_fields: entry.export_fields.clone(),
    });
    if let Some(op) = request.operation_name {
        req = req.operation_name(op);
    }
    if let Some(v) = request.variables.clone() {
        req = req.variables(async_graphql::Variables::from_json(v));
    }
    let response = app.schema.execute(req).await;
    if response.errors.is_empty() {
        entry.mark_validated();
        if hooked
            && let Some(plan) = &entry.plan
            && let Some(out) = fast::render(plan, st, &user, vars, &entry.export_fields)
        {
            bump(&st.counters.fast_path_pages);
            return out;
        }
    }
    serde_json::to_vec(&response).unwrap_or_else(|e| {
        serde_json::to_vec(&serde_json::json!({"data": null, "errors": [{"message": format!("internal error: {e}")}]}))
            .unwrap_or_default()
    })
}

async fn export(
    AxumState(app): AxumState<App>,
    Path(cdr_type): Path<String>,
    RawQuery(query): RawQuery,
) -> Response {
    let st = app.state.clone();
    let Some(spec) = export::verify(&st, &cdr_type, query.as_deref().unwrap_or("")) else {
        return respond(
            StatusCode::FORBIDDEN,
            "text/plain",
            "forbidden: invalid or tampered export link\n",
        );
    };
    let n = bump(&st.counters.exports);
    let mut cap = st.export_row_cap();
    if export::faults_enabled(&st) {
        match draw(&st.faults(), n ^ 0xe7_0000_0000) {
            Fault::RateLimit { retry_after } => {
                bump(&st.counters.rate_limited);
                return rate_limited(retry_after);
            }
            Fault::ServerError(code) => {
                bump(&st.counters.server_errors);
                return server_error(code);
            }
            Fault::Reset | Fault::Truncate => {
                bump(&st.counters.resets);
                // Dropped somewhere in the middle of the window.
                let total = st
                    .model
                    .count_ns(spec.scope.t, spec.scope.start_ns, spec.scope.end_ns);
                cap = Some(cap.map_or(total / 2, |c| c.min(total / 2)));
            }
            Fault::None => {}
        }
    }
    let mut r = respond(
        StatusCode::OK,
        "text/csv; charset=utf-8",
        Body::from_stream(export::csv_body(st, spec, cap)),
    );
    r.headers_mut().insert(
        header::CONTENT_DISPOSITION,
        HeaderValue::from_static("attachment; filename=\"cdrs.csv\""),
    );
    r
}

async fn not_found() -> Response {
    respond(StatusCode::NOT_FOUND, "text/plain", "not found\n")
}

fn router(app: App) -> Router {
    Router::new()
        .route("/account/login", post(login))
        .route("/graphql", post(graphql))
        .route("/export/{cdr_type}", get(export))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .with_state(app)
}

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
    let app = App {
        state: state.clone(),
        schema: schema(),
    };
    let (stop, stopped) = oneshot::channel::<()>();
    let listener = listener.tap_io(|tcp| {
        // Small responses must not wait for Nagle's algorithm.
        if let Err(e) = tcp.set_nodelay(true) {
            tracing::debug!("TCP_NODELAY not set: {e}");
        }
    });
    let task = tokio::spawn(async move {
        axum::serve(listener, router(app))
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
