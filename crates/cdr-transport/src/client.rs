//! The [`Client`]: one connection pool, the token, and the retry driver that
//! every request goes through.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::time::{Duration, SystemTime};

use bytes::Bytes;
use cdr_core::{
    Cdr, ErrorClass, Page, RecordKind, ResponseError, Token, decode_errors, decode_page_reusing,
};
use reqwest::header::{ACCEPT, CONTENT_TYPE, HeaderMap, RETRY_AFTER};
use reqwest::{StatusCode, Url};
use serde::{Deserialize, Serialize};
use tracing::Instrument;

use crate::config::{Auth, ClientConfig, RetryPolicy};
use crate::error::{Answered, AuthProblem, Failure, TransportError};
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
    pub(crate) http: reqwest::Client,
    auth: Auth,
    retry: RetryPolicy,
    timeout: Duration,
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
}

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

/// The server's error messages in a body, on one line and shortened, or
/// nothing.
fn server_message(body: &[u8]) -> String {
    const MAX: usize = 300;
    let mut text = decode_errors(body)
        .map(|e| {
            e.to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ")
        })
        .unwrap_or_default();
    if text.len() > MAX {
        let mut cut = MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        text.truncate(cut);
        text.push('…');
    }
    text
}

fn retry_after(headers: &HeaderMap) -> Option<Duration> {
    let value = headers.get(RETRY_AFTER)?.to_str().ok()?;
    parse_retry_after(value, SystemTime::now())
}

/// The error for an unexpected HTTP status (not success, not 401).
pub(crate) fn status_error(
    endpoint: &str,
    status: StatusCode,
    headers: &HeaderMap,
    body: &[u8],
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
            detail: server_message(body),
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
        let http = reqwest::Client::builder()
            .connect_timeout(config.connect_timeout)
            .read_timeout(config.timeout)
            .user_agent(config.user_agent.as_str())
            .build()
            .map_err(|e| {
                config_error(format!(
                    "cannot build the HTTP client: {}",
                    crate::error::describe(&e.without_url())
                ))
            })?;
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
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TransportError::network(endpoint, e))?;
        if status.is_success() {
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
                Some(t) if !t.is_empty() => Ok(Token::new(t)),
                _ => Err(TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message: "the login answer holds no `token` string".into(),
                }),
            }
        } else if matches!(
            status,
            StatusCode::UNAUTHORIZED | StatusCode::FORBIDDEN | StatusCode::BAD_REQUEST
        ) {
            Err(TransportError::Auth {
                endpoint: endpoint.to_string(),
                problem: AuthProblem::BadCredentials(server_message(&bytes)),
            })
        } else {
            Err(status_error(endpoint, status, &headers, &bytes))
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
        let bytes = response
            .bytes()
            .await
            .map_err(|e| TransportError::network(endpoint, e))?;
        if status.is_success() {
            inner.graphql_answered.store(true, Ordering::Relaxed);
            peek(&bytes);
            // Bad values and unknown members are part of the page; only a
            // body cut short (or not JSON) is worth asking again.
            return match decode_page_reusing(&bytes, kind, spare) {
                Ok(page) => Ok(page),
                Err(ResponseError::GraphQl(errors)) => Err(graphql_failure(endpoint, errors)),
                Err(ResponseError::Decode { message }) => Err(TransportError::Decode {
                    endpoint: endpoint.to_string(),
                    attempts: 1,
                    message,
                }
                .into()),
                Err(ResponseError::Shape { message }) => Err(TransportError::Unexpected {
                    endpoint: endpoint.to_string(),
                    message,
                }
                .into()),
                Err(other) => Err(TransportError::Unexpected {
                    endpoint: endpoint.to_string(),
                    message: other.to_string(),
                }
                .into()),
            };
        }
        if status == StatusCode::UNAUTHORIZED || status == StatusCode::FORBIDDEN {
            return Err(Failure::Unauthorized {
                endpoint: endpoint.to_string(),
                detail: server_message(&bytes),
            });
        }
        if status == StatusCode::BAD_REQUEST
            && let Some(errors) = decode_errors(&bytes)
        {
            // The server blames the request (HTTP 400): whatever the message
            // says, sending it again cannot help, unless it names the token.
            return Err(match graphql_failure(endpoint, errors) {
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
        Err(status_error(endpoint, status, &headers, &bytes).into())
    }
}

fn graphql_failure(endpoint: &str, errors: cdr_core::GraphQlErrors) -> Failure {
    match errors.class() {
        ErrorClass::Unauthorized => Failure::Unauthorized {
            endpoint: endpoint.to_string(),
            detail: errors
                .to_string()
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" "),
        },
        class => Failure::Error(TransportError::GraphQl {
            endpoint: endpoint.to_string(),
            class,
            errors,
        }),
    }
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
        let body = br#"{"errors":[{"id":"unauthorized","message":"Invalid email or password."}]}"#;
        assert_eq!(server_message(body), "Invalid email or password.");
        assert_eq!(server_message(b"<html>502 Bad Gateway</html>"), "");
        let lines = br#"{"errors":[{"message":"token expired\n  log in\r\nagain"}]}"#;
        assert_eq!(server_message(lines), "token expired log in again");
        let long = format!(r#"{{"errors":[{{"message":"{}"}}]}}"#, "é".repeat(400));
        let m = server_message(long.as_bytes());
        assert!(m.len() <= 304 && m.ends_with('…'), "{}", m.len());
    }
}
