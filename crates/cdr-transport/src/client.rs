//! The [`Client`]: one connection pool, the token, and the retry driver that
//! every request goes through.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cdr_core::{
    Cdr, ErrorClass, GraphQlError, GraphQlErrors, Page, RecordKind, ResponseError, Token,
    decode_errors, decode_page_reusing,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, LOCATION, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::body::{read_capped, read_limited};
use crate::config::{Auth, ClientConfig, Limits, RetryPolicy};
use crate::error::classify::{Answered, Failure};
use crate::error::network::describe;
use crate::error::{AuthProblem, TransportError};
use crate::guard::{self, LinkPolicy};
use crate::retry::{Retrier, parse_retry_after, splitmix64};
use crate::stats::{Counters, Stats, bump};

/// A client of the TSG Global CDR API. Cheap to clone: clones share one
/// connection pool, one token and one set of counters
/// ([`Client::with_own_stats`] makes one with counters of its own).
#[derive(Clone)]
pub struct Client {
    pub(crate) inner: Arc<Inner>,
    pub(crate) counters: Arc<Counters>,
}

pub(crate) struct Inner {
    /// For the API: follows no redirect.
    pub(crate) http: reqwest::Client,
    /// For export downloads: follows a few checked redirects, and connects
    /// only to addresses the link policy allows.
    pub(crate) export_http: reqwest::Client,
    pub(crate) link_policy: LinkPolicy,
    pub(crate) limits: Limits,
    auth: Auth,
    retry: RetryPolicy,
    /// Bounds a whole API request; for an export, each wait for data and
    /// the reading of an error answer's body.
    pub(crate) timeout: Duration,
    pub(crate) base: Url,
    graphql_url: Url,
    login_url: Url,
    pub(crate) graphql_endpoint: String,
    login_endpoint: String,
    token: tokio::sync::Mutex<TokenState>,
    /// The newest token generation that the server accepted at least once.
    accepted_generation: AtomicU64,
    /// Whether login and GraphQL have answered with a success at least once:
    /// until then, a URL that cannot be reached fails fast.
    login_answered: AtomicBool,
    graphql_answered: AtomicBool,
    seed: AtomicU64,
    /// The latest tokens logins returned, redacted from server text by value.
    tokens_seen: Mutex<Vec<Token>>,
}

/// Login tokens remembered for redaction.
const TOKENS_REMEMBERED: usize = 4;

/// GraphQL errors kept from one answer; the rest are counted.
const MAX_ERRORS: usize = 5;

/// The cached login token; `generation` grows with every login so that
/// concurrent requests rejected with the same token log in only once.
#[derive(Default)]
struct TokenState {
    token: Option<Token>,
    generation: u64,
    /// Set once the server refused the credentials: later requests fail with
    /// it at once instead of logging in again (no storm of failed logins that
    /// could lock the account).
    refused: Option<(String, AuthProblem)>,
}

impl TokenState {
    fn check_refused(&self) -> Result<(), TransportError> {
        match &self.refused {
            Some((endpoint, problem)) => Err(TransportError::Auth {
                endpoint: endpoint.clone(),
                problem: problem.clone(),
            }),
            None => Ok(()),
        }
    }

    /// Remembers a refused login; passes every error through.
    fn note(&mut self, e: TransportError) -> TransportError {
        if let TransportError::Auth { endpoint, problem } = &e
            && matches!(problem, AuthProblem::BadCredentials(_))
        {
            self.refused = Some((endpoint.clone(), problem.clone()));
        }
        e
    }
}

impl fmt::Debug for Client {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Client")
            .field("endpoint", &self.inner.graphql_endpoint)
            .field("auth", &self.inner.auth)
            .field("retry", &self.inner.retry)
            .finish_non_exhaustive()
    }
}

/// `scheme://host[:port]/path` of a URL: no credentials, query or fragment.
pub(crate) fn endpoint_of(url: &Url) -> String {
    format!("{}{}", url.origin().ascii_serialization(), url.path())
}

fn config_error(message: impl Into<String>) -> TransportError {
    TransportError::Config {
        message: message.into(),
    }
}

fn parse_base(text: &str) -> Result<Url, TransportError> {
    let url = Url::parse(text.trim()).map_err(|e| {
        config_error(format!(
            "the API base URL is not a URL ({e}): give e.g. {}",
            crate::DEFAULT_BASE_URL
        ))
    })?;
    if !matches!(url.scheme(), "http" | "https") || url.host_str().is_none() {
        return Err(config_error(
            "the API base URL must start with https:// (or http://) and name a host",
        ));
    }
    if !url.username().is_empty() || url.password().is_some() {
        return Err(config_error(
            "the API base URL must not hold credentials: pass them as the client's auth",
        ));
    }
    if url.query().is_some() || url.fragment().is_some() {
        return Err(config_error(
            "the API base URL must not have a query string or fragment",
        ));
    }
    Ok(url)
}

fn under(base: &Url, path: &str) -> Url {
    let mut url = base.clone();
    let prefix = base.path().trim_end_matches('/');
    url.set_path(&format!("{prefix}/{path}"));
    url
}

/// Text on one line: runs of whitespace (newlines included) become one space.
fn one_line(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// What the server says in an error answer's body, on one line and not yet
/// sanitized: its GraphQL-style error messages, or else the body's text
/// (without the tags of an HTML page).
pub(crate) fn server_text(body: &[u8]) -> String {
    if let Some(errors) = decode_errors(body) {
        return one_line(&errors.to_string());
    }
    let text = String::from_utf8_lossy(body);
    if !text.trim_start().starts_with('<') {
        return one_line(&text);
    }
    let mut words = String::with_capacity(text.len());
    let mut in_tag = false;
    for c in text.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                words.push(' ');
            }
            c if !in_tag => words.push(c),
            _ => {}
        }
    }
    one_line(&words)
}

/// Where a redirect points, as `host[:port]` and nothing of its path or
/// query (which may be signed), or a note that it names nowhere.
fn redirect_host(from: &Url, headers: &HeaderMap) -> String {
    let target = headers
        .get(LOCATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| from.join(v.trim()).ok());
    match target {
        Some(url) => match (url.host_str(), url.port()) {
            (Some(host), Some(port)) => format!("{host}:{port}"),
            (Some(host), None) => host.to_string(),
            (None, _) => "a URL without a host".to_string(),
        },
        None => "nowhere readable (no usable Location header)".to_string(),
    }
}

/// Whether a status is a redirect that a client would follow.
fn is_redirect(status: StatusCode) -> bool {
    matches!(status.as_u16(), 301 | 302 | 303 | 307 | 308)
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// The error for an unexpected HTTP status (not success, not 401), with the
/// server's (sanitized) words about it.
pub(crate) fn status_error(
    endpoint: &str,
    status: StatusCode,
    headers: &HeaderMap,
    detail: String,
) -> TransportError {
    let retry_after = retry_after(headers);
    if status == StatusCode::TOO_MANY_REQUESTS {
        TransportError::RateLimited {
            endpoint: endpoint.to_string(),
            attempts: 1,
            retry_after,
        }
    } else {
        TransportError::Server {
            endpoint: endpoint.to_string(),
            status: status.as_u16(),
            attempts: 1,
            detail,
            retry_after,
        }
    }
}

#[derive(Serialize)]
struct LoginBody<'a> {
    email: &'a str,
    password: &'a str,
}

#[derive(Deserialize)]
struct LoginAnswer {
    token: Option<String>,
}

impl Client {
    /// Checks the configuration and builds the connection pool. Makes no request.
    pub fn new(config: ClientConfig) -> Result<Client, TransportError> {
        let base = parse_base(&config.base_url)?;
        if let Auth::Login { email, .. } = &config.auth
            && email.trim().is_empty()
        {
            return Err(config_error("the login email is empty: set TSG_EMAIL"));
        }
        if let Auth::Token(t) = &config.auth
            && t.expose().trim().is_empty()
        {
            return Err(config_error("the token is empty: set TSG_TOKEN"));
        }
        if config.retry.max_attempts == 0 {
            return Err(config_error(
                "retry.max_attempts is 0: allow at least 1 attempt",
            ));
        }
        check_limits(&config.limits)?;
        let local = guard::is_loopback_host(&base);
        if base.scheme() == "http" && !local && !config.allow_insecure_http {
            return Err(config_error(format!(
                "the API URL {} is plain http to another machine, so the password and token would cross the network unencrypted: use https://, or pass --allow-insecure-http",
                base.origin().ascii_serialization()
            )));
        }
        let built = |b: reqwest::ClientBuilder| {
            b.connect_timeout(config.connect_timeout)
                .read_timeout(config.timeout)
                .user_agent(config.user_agent.as_str())
                .referer(false)
                .build()
                .map_err(|e| {
                    config_error(format!(
                        "cannot build the HTTP client: {}",
                        describe(&e.without_url())
                    ))
                })
        };
        // Credentials go to the configured URL only: no redirect is followed.
        let mut api = reqwest::Client::builder().redirect(reqwest::redirect::Policy::none());
        for (name, ip) in &config.resolve {
            api = api.resolve(name, SocketAddr::new(*ip, 0));
        }
        let http = built(api)?;
        let link_policy = LinkPolicy::new(local, config.resolve.clone());
        let export_http = built(
            reqwest::Client::builder()
                .redirect(guard::redirect_policy(
                    link_policy.clone(),
                    config.limits.export_max_redirects,
                ))
                .dns_resolver(Arc::new(link_policy.clone())),
        )?;
        let graphql_url = under(&base, "graphql");
        let login_url = under(&base, "account/login");
        // Jitter only needs to differ between processes and clients.
        let seed = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos() as u64)
            ^ u64::from(std::process::id()).rotate_left(32);
        Ok(Client {
            inner: Arc::new(Inner {
                http,
                export_http,
                link_policy,
                limits: config.limits,
                auth: config.auth,
                retry: config.retry,
                timeout: config.timeout,
                graphql_endpoint: endpoint_of(&graphql_url),
                login_endpoint: endpoint_of(&login_url),
                base,
                graphql_url,
                login_url,
                token: tokio::sync::Mutex::new(TokenState::default()),
                accepted_generation: AtomicU64::new(0),
                login_answered: AtomicBool::new(false),
                graphql_answered: AtomicBool::new(false),
                seed: AtomicU64::new(seed),
                tokens_seen: Mutex::new(Vec::new()),
            }),
            counters: Arc::default(),
        })
    }

    /// A snapshot of the counters shared by this client and its clones.
    pub fn stats(&self) -> Stats {
        self.counters.snapshot()
    }

    /// A client that shares this one's connection pool and token but counts
    /// into counters of its own, starting at zero: e.g. one per CDR type, to
    /// report retries per type.
    pub fn with_own_stats(&self) -> Client {
        Client {
            inner: Arc::clone(&self.inner),
            counters: Arc::default(),
        }
    }

    /// The GraphQL endpoint, as it appears in errors and logs.
    pub fn endpoint(&self) -> &str {
        &self.inner.graphql_endpoint
    }

    /// Server text made safe for errors and logs ([`cdr_core::sanitize`]),
    /// with this client's password and tokens redacted by value, and the
    /// values in `extra` too.
    pub(crate) fn scrub_with(&self, text: &str, extra: &[&str]) -> String {
        let seen = self
            .inner
            .tokens_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        let mut secrets: Vec<&str> = seen.iter().map(Token::expose).collect();
        match &self.inner.auth {
            Auth::Token(t) => secrets.push(t.expose()),
            Auth::Login { password, .. } => secrets.push(password.expose()),
        }
        secrets.extend_from_slice(extra);
        cdr_core::sanitize(text, &secrets)
    }

    /// [`Client::scrub_with`] with this client's secrets alone.
    pub(crate) fn scrub(&self, text: &str) -> String {
        self.scrub_with(text, &[])
    }

    /// GraphQL errors with their text sanitized and their number bounded;
    /// only `message`, `path` and `extensions.code` are kept.
    fn scrub_errors(&self, errors: GraphQlErrors) -> GraphQlErrors {
        use serde_json::Value;
        let total = errors.0.len();
        let mut kept: Vec<GraphQlError> = errors
            .0
            .into_iter()
            .take(MAX_ERRORS)
            .map(|e| {
                let code = e.code().map(|c| self.scrub(c));
                let path = e.path.map(|p| {
                    p.into_iter()
                        .take(8)
                        .map(|v| match v {
                            Value::String(s) => Value::String(self.scrub(&s)),
                            Value::Number(n) => Value::Number(n),
                            _ => Value::Null,
                        })
                        .collect()
                });
                let extensions = code.map(|c| {
                    let mut map = serde_json::Map::new();
                    map.insert("code".into(), Value::String(c));
                    map
                });
                GraphQlError {
                    message: self.scrub(&e.message),
                    path,
                    extensions,
                }
            })
            .collect();
        if total > MAX_ERRORS {
            kept.push(GraphQlError {
                message: format!("(and {} more)", total - MAX_ERRORS),
                path: None,
                extensions: None,
            });
        }
        GraphQlErrors(kept)
    }

    /// Remembers a token a login returned, to redact it from server text.
    fn note_token(&self, token: &Token) {
        let mut seen = self
            .inner
            .tokens_seen
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        if seen.len() >= TOKENS_REMEMBERED {
            seen.remove(0);
        }
        seen.push(token.clone());
    }

    /// Logs in now, to check the credentials before work starts, and caches the
    /// token. Bad credentials fail at once with [`TransportError::Auth`]. With
    /// a static token there is nothing to check before the first query, and
    /// this does nothing.
    pub async fn login(&self) -> Result<(), TransportError> {
        if let Auth::Login { .. } = &self.inner.auth {
            let mut state = self.inner.token.lock().await;
            state.check_refused()?;
            let token = self.login_request().await.map_err(|e| state.note(e))?;
            state.generation += 1;
            state.token = Some(token);
        }
        Ok(())
    }

    pub(crate) fn retrier<'a>(&'a self, endpoint: &'a str) -> Retrier<'a> {
        let mut seed = self.inner.seed.fetch_add(1, Ordering::Relaxed);
        Retrier::new(
            self.inner.retry,
            splitmix64(&mut seed),
            &self.counters,
            endpoint,
        )
    }

    /// Whether the API, and the endpoint `graphql` or login, answered before.
    fn answered(&self, graphql: bool) -> Answered {
        let login = self.inner.login_answered.load(Ordering::Relaxed);
        let query = self.inner.graphql_answered.load(Ordering::Relaxed);
        Answered {
            api: login || query,
            endpoint: if graphql { query } else { login },
        }
    }

    /// The token to send and its generation, logging in when none is cached.
    async fn token(&self) -> Result<(Token, u64), TransportError> {
        match &self.inner.auth {
            Auth::Token(t) => Ok((t.clone(), 0)),
            Auth::Login { .. } => {
                let mut state = self.inner.token.lock().await;
                if let Some(t) = &state.token {
                    return Ok((t.clone(), state.generation));
                }
                state.check_refused()?;
                let token = self.login_request().await.map_err(|e| state.note(e))?;
                state.generation += 1;
                state.token = Some(token.clone());
                Ok((token, state.generation))
            }
        }
    }

    /// Replaces the token of generation `rejected`, unless a concurrent request
    /// already did.
    async fn relogin(&self, rejected: u64) -> Result<(), TransportError> {
        let mut state = self.inner.token.lock().await;
        if state.generation != rejected && state.token.is_some() {
            return Ok(());
        }
        state.check_refused()?;
        state.token = None;
        let token = self.login_request().await.map_err(|e| state.note(e))?;
        state.generation += 1;
        state.token = Some(token);
        Ok(())
    }

    /// One login, with retries for transient failures but none for refused
    /// credentials.
    async fn login_request(&self) -> Result<Token, TransportError> {
        let Auth::Login { email, password } = &self.inner.auth else {
            return Err(config_error("login needs an email and a password"));
        };
        let body = serde_json::to_vec(&LoginBody {
            email,
            password: password.expose(),
        })
        .map_err(|_| config_error("cannot encode the login request"))?;
        let body = Bytes::from(body);
        let endpoint = &self.inner.login_endpoint;
        let span = tracing::info_span!("tsg_login", endpoint = %endpoint);
        async {
            let mut retrier = self.retrier(endpoint);
            loop {
                match self.login_once(body.clone()).await {
                    Ok(token) => {
                        tracing::debug!("logged in");
                        return Ok(token);
                    }
                    Err(e) => retrier.after_failure_with(e, self.answered(false)).await?,
                }
            }
        }
        .instrument(span)
        .await
    }

    async fn login_once(&self, body: Bytes) -> Result<Token, TransportError> {
        let inner = &*self.inner;
        let endpoint = inner.login_endpoint.as_str();
        bump(&self.counters.requests, 1);
        bump(&self.counters.logins, 1);
        let response = inner
            .http
            .post(inner.login_url.clone())
            .timeout(inner.timeout)
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| TransportError::network(endpoint, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if is_redirect(status) {
            return Err(TransportError::Redirected {
                endpoint: endpoint.to_string(),
                status: status.as_u16(),
                host: self.scrub(&redirect_host(&inner.login_url, &headers)),
            });
        }
        if status.is_success() {
            let bytes = read_limited(response, inner.limits.max_page_bytes, endpoint).await?;
            inner.login_answered.store(true, Ordering::Relaxed);
            // serde's messages may quote values, so only the position is kept.
            let answer: LoginAnswer =
                serde_json::from_slice(&bytes).map_err(|e| TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message: format!(
                        "the login answer is not the expected JSON ({:?} error at line {} column {})",
                        e.classify(),
                        e.line(),
                        e.column()
                    ),
                })?;
            match answer.token {
                Some(t) if !t.is_empty() => {
                    let token = Token::new(t);
                    self.note_token(&token);
                    Ok(token)
                }
                _ => Err(TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message: "the login answer holds no `token` string".into(),
                }),
            }
        } else {
            let bytes = read_capped(response, inner.limits.max_error_body_bytes).await;
            let detail = self.scrub(&server_text(&bytes));
            if matches!(
                status,
                StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
            ) {
                Err(TransportError::Auth {
                    endpoint: endpoint.to_string(),
                    problem: AuthProblem::BadCredentials(detail),
                })
            } else {
                Err(status_error(endpoint, status, &headers, detail))
            }
        }
    }

    /// Sends one GraphQL body (a `cdrRecords` query for records of `kind`)
    /// and decodes the page, with retries, and a fresh login when the token
    /// is rejected. The page's records reuse the allocations of `spare` (see
    /// [`cdr_core::decode_page_reusing`]).
    ///
    /// A rejected token (HTTP 401 or 403, or a GraphQL error that blames
    /// the token, on any status) leads to one login, shared with concurrent
    /// requests rejected with the same token, and the request is repeated at
    /// once, without backoff. A static token is not renewed, and a token from
    /// a fresh login that is refused at once is not renewed again: both end
    /// with [`TransportError::Auth`].
    pub(crate) async fn fetch_page(
        &self,
        body: Bytes,
        kind: RecordKind,
        spare: Vec<Cdr>,
    ) -> Result<Page, TransportError> {
        self.fetch_page_peeking(body, kind, spare, &mut |_| {})
            .await
    }

    /// Like [`Client::fetch_page`], handing the body of every successful
    /// answer to `peek` before it is decoded.
    pub(crate) async fn fetch_page_peeking(
        &self,
        body: Bytes,
        kind: RecordKind,
        spare: Vec<Cdr>,
        peek: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Page, TransportError> {
        let endpoint = self.inner.graphql_endpoint.as_str();
        let mut retrier = self.retrier(endpoint);
        let mut relogged = false;
        let mut spare = Some(spare);
        loop {
            let (token, generation) = self.token().await?;
            let spare = spare.take().unwrap_or_default();
            let attempt = self.graphql_once(body.clone(), &token, kind, spare, &mut *peek);
            match attempt.await {
                Ok(page) => {
                    self.inner
                        .accepted_generation
                        .fetch_max(generation, Ordering::Relaxed);
                    return Ok(page);
                }
                Err(Failure::Error(e)) => {
                    retrier.after_failure_with(e, self.answered(true)).await?
                }
                Err(Failure::Unauthorized { endpoint, detail }) => {
                    if let Auth::Token(_) = &self.inner.auth {
                        return Err(TransportError::Auth {
                            endpoint,
                            problem: AuthProblem::TokenRejected(detail),
                        });
                    }
                    // A token that was never accepted and is rejected right
                    // after this request's own login means the account cannot
                    // do this: another login would not help. A token accepted
                    // before has merely expired.
                    let accepted =
                        self.inner.accepted_generation.load(Ordering::Relaxed) >= generation;
                    if (relogged && !accepted) || !retrier.note_relogin() {
                        return Err(TransportError::Auth {
                            endpoint,
                            problem: AuthProblem::FreshTokenRejected(detail),
                        });
                    }
                    relogged = true;
                    self.relogin(generation).await?;
                }
            }
        }
    }

    async fn graphql_once(
        &self,
        body: Bytes,
        token: &Token,
        kind: RecordKind,
        spare: Vec<Cdr>,
        peek: &mut (dyn FnMut(&[u8]) + Send),
    ) -> Result<Page, Failure> {
        let inner = &*self.inner;
        let endpoint = inner.graphql_endpoint.as_str();
        bump(&self.counters.requests, 1);
        let response = inner
            .http
            .post(inner.graphql_url.clone())
            .timeout(inner.timeout)
            .bearer_auth(token.expose())
            .header(CONTENT_TYPE, "application/json")
            .header(ACCEPT, "application/json")
            .body(body)
            .send()
            .await
            .map_err(|e| TransportError::network(endpoint, e))?;
        let status = response.status();
        let headers = response.headers().clone();
        if is_redirect(status) {
            return Err(TransportError::Redirected {
                endpoint: endpoint.to_string(),
                status: status.as_u16(),
                host: self.scrub(&redirect_host(&inner.graphql_url, &headers)),
            }
            .into());
        }
        if status.is_success() {
            let bytes = read_limited(response, inner.limits.max_page_bytes, endpoint).await?;
            inner.graphql_answered.store(true, Ordering::Relaxed);
            peek(&bytes);
            // Bad values and unknown members are part of the page; only a
            // body cut short (or not JSON) is worth asking again.
            return match decode_page_reusing(&bytes, kind, spare) {
                Ok(mut page) => {
                    self.scrub_page(&mut page);
                    Ok(page)
                }
                Err(ResponseError::GraphQl(errors)) => Err(self.graphql_failure(endpoint, errors)),
                Err(ResponseError::Decode { message }) => Err(TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message: self.scrub(&message),
                }
                .into()),
                Err(ResponseError::Shape { message }) => Err(TransportError::Unexpected {
                    endpoint: endpoint.to_string(),
                    message: self.scrub(&message),
                }
                .into()),
                Err(other) => Err(TransportError::Unexpected {
                    endpoint: endpoint.to_string(),
                    message: self.scrub(&other.to_string()),
                }
                .into()),
            };
        }
        let bytes = read_capped(response, inner.limits.max_error_body_bytes).await;
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(Failure::Unauthorized {
                endpoint: endpoint.to_string(),
                detail: self.scrub(&server_text(&bytes)),
            });
        }
        if status == StatusCode::BAD_REQUEST
            && let Some(errors) = decode_errors(&bytes)
        {
            // The server blames the request (HTTP 400): whatever the message
            // says, sending it again cannot help, unless it names the token.
            return Err(match self.graphql_failure(endpoint, errors) {
                Failure::Error(TransportError::GraphQl {
                    endpoint,
                    class: ErrorClass::Other,
                    errors,
                }) => Failure::Error(TransportError::GraphQl {
                    endpoint,
                    class: ErrorClass::InvalidArgument,
                    errors,
                }),
                other => other,
            });
        }
        let detail = self.scrub(&server_text(&bytes));
        Err(status_error(endpoint, status, &headers, detail).into())
    }

    /// The failure for a GraphQL `errors` array, classified by the server's
    /// own words and then sanitized.
    fn graphql_failure(&self, endpoint: &str, errors: GraphQlErrors) -> Failure {
        let class = errors.class();
        let errors = self.scrub_errors(errors);
        match class {
            ErrorClass::Unauthorized => Failure::Unauthorized {
                endpoint: endpoint.to_string(),
                detail: self.scrub(&one_line(&errors.to_string())),
            },
            class => Failure::Error(TransportError::GraphQl {
                endpoint: endpoint.to_string(),
                class,
                errors,
            }),
        }
    }

    /// Sanitizes the server text a page carries into messages and logs: the
    /// type names of unknown members and of bad records, and what is wrong
    /// with the latter. A bad record's `raw` JSON stays as it was sent: it is
    /// data, kept aside for the operator, not a message.
    fn scrub_page(&self, page: &mut Page) {
        for member in &mut page.unknown {
            member.typename = self.scrub(&member.typename);
        }
        for bad in &mut page.bad {
            bad.typename = self.scrub(&bad.typename);
            bad.message = self.scrub(&bad.message);
        }
    }
}

/// Rejects limits that would refuse everything or never end.
fn check_limits(limits: &Limits) -> Result<(), TransportError> {
    if limits.max_page_bytes == 0 {
        return Err(config_error(
            "limits.max_page_bytes is 0: allow pages of at least some bytes (default 64 MiB)",
        ));
    }
    if limits.export_deadline.is_zero() {
        return Err(config_error(
            "limits.export_deadline is 0: give exports some time (default 30 minutes)",
        ));
    }
    if limits.export_min_rate > 0 && limits.export_rate_period.is_zero() {
        return Err(config_error(
            "limits.export_rate_period is 0: measure the export rate over some time (default 60 s), or set export_min_rate to 0",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ClientConfig;
    use cdr_core::Password;

    fn config(base: &str) -> ClientConfig {
        ClientConfig::new(Auth::Token(Token::new("POAPK_x"))).with_base_url(base)
    }

    #[test]
    fn endpoints_under_the_base() {
        for (base, graphql) in [
            ("https://api.example.com", "https://api.example.com/graphql"),
            (
                "https://api.example.com/",
                "https://api.example.com/graphql",
            ),
            (
                "http://127.0.0.1:8080/tsg/",
                "http://127.0.0.1:8080/tsg/graphql",
            ),
        ] {
            let c = Client::new(config(base)).unwrap();
            assert_eq!(c.endpoint(), graphql);
            assert_eq!(
                c.inner.login_url.as_str(),
                graphql.replace("graphql", "account/login")
            );
        }
    }

    #[test]
    fn bad_configurations_say_what_to_change() {
        let check = |cfg: ClientConfig, needle: &str| {
            let e = Client::new(cfg).unwrap_err();
            assert!(matches!(e, TransportError::Config { .. }), "{e:?}");
            assert!(e.to_string().contains(needle), "{e}");
            assert!(!e.to_string().contains("hunter2"), "{e}");
        };
        check(config("api.example.com"), "not a URL");
        check(config("ftp://api.example.com"), "https://");
        check(config("https://u:hunter2@api.example.com"), "credentials");
        check(
            config("https://api.example.com/?sig=hunter2"),
            "query string",
        );
        check(
            ClientConfig::new(Auth::Login {
                email: " ".into(),
                password: Password::new("hunter2"),
            }),
            "TSG_EMAIL",
        );
        check(ClientConfig::new(Auth::Token(Token::new(""))), "TSG_TOKEN");
        let mut c = config("https://api.example.com");
        c.retry.max_attempts = 0;
        check(c, "at least 1");
    }

    #[test]
    fn debug_output_hides_secrets() {
        let c = Client::new(ClientConfig::new(Auth::Login {
            email: "a@b.c".into(),
            password: Password::new("hunter2"),
        }))
        .unwrap();
        let shown = format!("{c:?}");
        assert!(
            shown.contains("api.portal.tsgglobal.world/graphql"),
            "{shown}"
        );
        assert!(!shown.contains("hunter2"), "{shown}");
        let shown = format!("{:?}", config("https://h").auth);
        assert!(!shown.contains("POAPK_x"), "{shown}");
    }

    #[test]
    fn server_messages_are_read_and_shortened() {
        let c = Client::new(ClientConfig::new(Auth::Login {
            email: "a@b.c".into(),
            password: Password::new("hunter2"),
        }))
        .unwrap();
        let message = |body: &[u8]| c.scrub(&server_text(body));
        let body = br#"{"errors":[{"id":"unauthorized","message":"Invalid email or password."}]}"#;
        assert_eq!(message(body), "Invalid email or password.");
        let nginx = b"<html>\r\n<head><title>502 Bad Gateway</title></head>\r\n<body><h1>502 Bad Gateway</h1><hr>nginx</body></html>";
        assert_eq!(message(nginx), "502 Bad Gateway 502 Bad Gateway nginx");
        assert_eq!(message(b"busy\n"), "busy");
        let lines = br#"{"errors":[{"message":"token expired\n  log in\r\nagain"}]}"#;
        assert_eq!(message(lines), "token expired log in again");
        let long = format!(r#"{{"errors":[{{"message":"{}"}}]}}"#, "é".repeat(400));
        let m = message(long.as_bytes());
        assert!(m.chars().count() <= 301 && m.ends_with('…'), "{}", m.len());
        let hostile = "\x1b[2Jwrong password hunter2 for POAPK_abc\x07";
        assert_eq!(
            message(hostile.as_bytes()),
            "\\u{1b}[2Jwrong password <redacted> for <redacted>\\u{7}"
        );
    }

    #[test]
    fn redirects_name_only_their_host() {
        let from = Url::parse("https://api.example.com/graphql").unwrap();
        let check = |location: Option<&str>, want: &str| {
            let mut headers = HeaderMap::new();
            if let Some(l) = location {
                headers.insert(LOCATION, l.parse().unwrap());
            }
            assert_eq!(redirect_host(&from, &headers), want, "{location:?}");
        };
        check(
            Some("https://evil.example:8443/steal?sig=S"),
            "evil.example:8443",
        );
        check(Some("/elsewhere?x=1"), "api.example.com");
        check(Some("//other.example/x"), "other.example");
        check(None, "nowhere readable (no usable Location header)");
        assert!(is_redirect(StatusCode::TEMPORARY_REDIRECT));
        assert!(!is_redirect(StatusCode::NOT_MODIFIED));
    }

    #[test]
    fn plain_http_is_refused_unless_local_or_allowed() {
        let e = Client::new(config("http://api.example.com")).unwrap_err();
        let text = e.to_string();
        assert!(text.contains("--allow-insecure-http"), "{text}");
        assert!(text.contains("http://api.example.com"), "{text}");
        assert!(!text.contains('\n'), "{text}");
        let mut allowed = config("http://api.example.com");
        allowed.allow_insecure_http = true;
        assert!(Client::new(allowed).is_ok());
        for local in [
            "http://127.0.0.1:8080",
            "http://[::1]:8080",
            "http://localhost:8080",
            "http://api.localhost",
            "https://api.example.com",
        ] {
            assert!(Client::new(config(local)).is_ok(), "{local}");
        }
    }

    #[test]
    fn limits_that_cannot_work_are_refused() {
        let mut c = config("https://h");
        c.limits.max_page_bytes = 0;
        assert!(
            Client::new(c)
                .unwrap_err()
                .to_string()
                .contains("max_page_bytes")
        );
        let mut c = config("https://h");
        c.limits.export_deadline = Duration::ZERO;
        assert!(
            Client::new(c)
                .unwrap_err()
                .to_string()
                .contains("export_deadline")
        );
        let mut c = config("https://h");
        c.limits.export_rate_period = Duration::ZERO;
        assert!(
            Client::new(c.clone())
                .unwrap_err()
                .to_string()
                .contains("export_rate_period")
        );
        c.limits.export_min_rate = 0;
        assert!(Client::new(c).is_ok());
    }
}
