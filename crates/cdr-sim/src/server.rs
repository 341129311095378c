//! HTTP: the axum router and its handlers.

use std::convert::Infallible;
use std::sync::Arc;

use axum::Router;
use axum::body::Body;
use axum::extract::{Path, RawQuery, Request, State as AxumState};
use axum::middleware::{self, Next};
use axum::response::Response;
use axum::routing::{get, post};
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode, header};
use serde::Deserialize;
use tokio::time::Instant;

use crate::doc::DocCache;
use crate::faults::{Fault, draw};
use crate::gql::{RequestData, SimSchema, schema};
use crate::pace::{Admission, answer_after};
use crate::respond::{
    JSON, expired, json, rate_limited, reset, respond, server_error, truncate, unauthorized,
};
use crate::state::{AuthError, AuthUser, State, bump};
use crate::{export, fast, link};

#[derive(Clone)]
struct App {
    state: Arc<State>,
    schema: SimSchema,
    /// Query documents seen, analysed for the fast path.
    docs: Arc<DocCache>,
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
    let arrival = Instant::now();
    let st = &app.state;
    let n = bump(&st.counters.graphql_requests);
    if let Some(quota) = &st.quota {
        match quota.admit(arrival) {
            Admission::Accepted => bump(&st.counters.quota_accepted),
            Admission::Refused { retry_after } => {
                // Refused in front of the service, so at once.
                bump(&st.counters.quota_refused);
                return rate_limited(retry_after);
            }
        };
    }
    // The answer is built first and leaves when the latency has passed.
    answer_after(arrival, st.latency, serve_graphql(&app, n, &headers, &body)).await
}

/// The answer to GraphQL request number `n` that the quota let through.
async fn serve_graphql(app: &App, n: u64, headers: &HeaderMap, body: &[u8]) -> Response {
    let st = &app.state;
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
    let user = match st.authenticate(headers) {
        Ok(u) => u,
        Err(AuthError::Missing) => return unauthorized(),
        Err(AuthError::Expired) => {
            bump(&st.counters.expired_tokens);
            return expired(&st.expired_answer());
        }
    };
    let request: GraphQlBody = match serde_json::from_slice(body) {
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
    let out = execute(app, user, request).await;
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
async fn execute(app: &App, user: AuthUser, request: GraphQlBody) -> Vec<u8> {
    let st = &app.state;
    let entry = app
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
    let Some(spec) = link::verify(&st.signer, &cdr_type, query.as_deref().unwrap_or("")) else {
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

/// The routes of a server over `state`.
pub(crate) fn router(state: Arc<State>) -> Router {
    let app = App {
        state,
        schema: schema(),
        docs: Arc::default(),
    };
    Router::new()
        .route("/account/login", post(login))
        .route("/graphql", post(graphql))
        .route("/export/{cdr_type}", get(export))
        .fallback(not_found)
        .layer(middleware::from_fn_with_state(app.clone(), count_requests))
        .with_state(app)
}
