//! The [`Client`]: its configuration checked and its connection pools
//! built, the state its clones share (the token, the counters, what the API
//! has answered), and the retry driver that every request goes through.
//!
//! What a client does lives in its submodules, each an `impl Client` of one
//! concept: [`session`] logs in and keeps the token, [`graphql`] sends a
//! query and reads its page, [`scrub`] makes server text safe to show, and
//! [`answer`] reads an HTTP answer's status and headers.

use std::fmt;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use cdr_core::Token;
use reqwest::Url;

use crate::config::{Auth, ClientConfig, Limits, RetryPolicy};
use crate::error::classify::Answered;
use crate::error::network::describe;
use crate::error::{AuthProblem, TransportError};
use crate::guard::{self, LinkPolicy};
use crate::retry::{Retrier, splitmix64};
use crate::stats::{Counters, Stats};
use crate::throttle::Throttle;

pub(crate) mod answer;
mod graphql;
pub(crate) mod scrub;
mod session;

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
    /// Admits GraphQL requests and paces logins, when there is one.
    pub(crate) throttle: Option<Throttle>,
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

impl Client {
    /// The limits its requests are admitted under, when it has them
    /// ([`ClientConfig::throttle`]); clones share them.
    pub fn throttle(&self) -> Option<&Throttle> {
        self.inner.throttle.as_ref()
    }

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
                throttle: config.throttle,
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
