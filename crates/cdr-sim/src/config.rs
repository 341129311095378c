//! Configuration of a simulator: data, users, faults, clock.

use std::collections::BTreeMap;
use std::fmt;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::time::Duration;

use cdr_core::CdrType;
use chrono::{DateTime, Utc};

use crate::SimError;
use crate::hooks::{ExpiredAnswer, UnknownMembers};

/// Everything a simulator is started with. Every field has a default (see
/// [`SimConfig::default`]); override what a test needs:
///
/// ```
/// use cdr_sim::{Faults, SimConfig};
/// let config = SimConfig {
///     seed: 7,
///     faults: Faults { rate_limit: 0.1, ..Faults::default() },
///     ..SimConfig::default()
/// };
/// assert_eq!(config.users.len(), 2);
/// ```
#[derive(Clone)]
pub struct SimConfig {
    /// Seed of the generated data (not of the faults: see [`Faults::seed`]).
    pub seed: u64,
    /// Address to listen on; default `127.0.0.1:0` (any free port).
    pub bind: SocketAddr,
    /// Records per hour per type; default SMS 3600, MMS 600, VOICE 1200, API 300.
    /// A type missing from the map has no records.
    pub rates: BTreeMap<CdrType, u64>,
    /// Users that can log in; default a basic user `user@example.com` /
    /// `user-password` of company `1` and an admin `admin@example.com` /
    /// `admin-password`.
    pub users: Vec<SimUser>,
    /// Pre-issued tokens accepted for the first basic user (they never expire);
    /// default `["POAPK_sim-static-token"]`.
    pub static_tokens: Vec<String>,
    /// Injected faults; default none.
    pub faults: Faults,
    /// A rate limit on GraphQL requests, a sliding window over all clients;
    /// default none. Not [`Faults::rate_limit`], which answers requests
    /// with a random 429 however fast they come.
    pub quota: Option<Quota>,
    /// Simulated service latency of every GraphQL request: the time from
    /// the request's arrival to its answer, service time included. The
    /// answer is built at once and sent when `latency` has passed since
    /// the request arrived (at once if building it took longer); default
    /// zero. Requests refused by the [`quota`](SimConfig::quota) are
    /// answered at once; logins and exports are not delayed.
    pub latency: Duration,
    /// Rows an export may stream before its connection is dropped without a
    /// proper end (as a timed-out export would be); default no cap.
    pub export_row_cap: Option<u64>,
    /// A token issued by login expires after this many GraphQL requests;
    /// default never.
    pub token_ttl_requests: Option<u64>,
    /// How a request with an expired token is answered; default HTTP 200
    /// with an `UNAUTHENTICATED` GraphQL error.
    pub expired_answer: ExpiredAnswer,
    /// Elements served as a union member clients do not know; default none
    /// (see [`SimHandle::set_unknown_members`](crate::SimHandle::set_unknown_members)).
    pub unknown_members: Option<UnknownMembers>,
    /// A fixed clock; `None` uses the system clock.
    pub now: Option<DateTime<Utc>>,
    /// Serve repeated query documents with the hand-written JSON writer
    /// instead of the async-graphql executor; default true.
    pub fast_path: bool,
}

impl Default for SimConfig {
    fn default() -> Self {
        SimConfig {
            seed: 0,
            bind: SocketAddr::from(([127, 0, 0, 1], 0)),
            rates: BTreeMap::from([
                (CdrType::Sms, 3600),
                (CdrType::Mms, 600),
                (CdrType::Voice, 1200),
                (CdrType::Api, 300),
            ]),
            users: vec![
                SimUser {
                    email: "user@example.com".into(),
                    password: "user-password".into(),
                    admin: false,
                    company_id: "1".into(),
                },
                SimUser {
                    email: "admin@example.com".into(),
                    password: "admin-password".into(),
                    admin: true,
                    company_id: "0".into(),
                },
            ],
            static_tokens: vec!["POAPK_sim-static-token".into()],
            faults: Faults::default(),
            quota: None,
            latency: Duration::ZERO,
            export_row_cap: None,
            token_ttl_requests: None,
            expired_answer: ExpiredAnswer::default(),
            unknown_members: None,
            now: None,
            fast_path: true,
        }
    }
}

impl fmt::Debug for SimConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimConfig")
            .field("seed", &self.seed)
            .field("bind", &self.bind)
            .field("rates", &self.rates)
            .field("users", &self.users)
            .field(
                "static_tokens",
                &format_args!("<{} redacted>", self.static_tokens.len()),
            )
            .field("faults", &self.faults)
            .field("quota", &self.quota)
            .field("latency", &self.latency)
            .field("export_row_cap", &self.export_row_cap)
            .field("token_ttl_requests", &self.token_ttl_requests)
            .field("expired_answer", &self.expired_answer)
            .field("unknown_members", &self.unknown_members)
            .field("now", &self.now)
            .field("fast_path", &self.fast_path)
            .finish()
    }
}

impl SimConfig {
    /// Checks what [`crate::start`] would refuse: fault probabilities outside
    /// 0..=1 or adding up to more than 1, a quota with a zero window, no
    /// user, duplicate emails, an unknown member that is not one (see
    /// [`UnknownMembers::validate`]).
    pub fn validate(&self) -> Result<(), SimError> {
        self.faults.validate()?;
        if let Some(q) = &self.quota {
            q.validate()?;
        }
        if let Some(u) = &self.unknown_members {
            u.validate()?;
        }
        if self.users.is_empty() {
            return Err(SimError::Config("at least one user is needed".into()));
        }
        for (i, u) in self.users.iter().enumerate() {
            if self.users[..i].iter().any(|o| o.email == u.email) {
                return Err(SimError::Config(format!("duplicate user `{}`", u.email)));
            }
        }
        Ok(())
    }
}

/// A customer-portal user that can log in.
#[derive(Clone, PartialEq, Eq)]
pub struct SimUser {
    pub email: String,
    pub password: String,
    /// Admin users may pass `companyId`.
    pub admin: bool,
    /// The company a basic user's queries list.
    pub company_id: String,
}

impl fmt::Debug for SimUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("SimUser")
            .field("email", &self.email)
            .field("password", &"<redacted>")
            .field("admin", &self.admin)
            .field("company_id", &self.company_id)
            .finish()
    }
}

/// A rate limit as an API gateway applies it: at most
/// [`requests`](Quota::requests) GraphQL requests in any
/// [`window`](Quota::window), a sliding window over the requests of all
/// clients together.
///
/// Counted: requests to `/graphql` that the quota accepts, whatever the
/// service then answers (a page, an error, an injected fault). Not counted:
/// logins, export downloads, and the refused requests themselves, which use
/// neither the budget nor a token's requests. A request beyond the budget is
/// answered at once, without [`SimConfig::latency`], with HTTP 429, the body
/// `{"errors":[{"message":"too many requests"}]}` and, unless switched off,
/// `Retry-After`: the whole seconds until the oldest accepted request leaves
/// the window, rounded up, at least 1. [`Counters::quota_accepted`] and
/// [`Counters::quota_refused`] count both kinds.
///
/// Unrelated to [`Faults::rate_limit`], a probability of a random 429 that
/// knows nothing of how fast requests come.
///
/// [`Counters::quota_accepted`]: crate::Counters::quota_accepted
/// [`Counters::quota_refused`]: crate::Counters::quota_refused
///
/// ```
/// use std::num::NonZeroU32;
/// use cdr_sim::{Quota, SimConfig};
/// let config = SimConfig {
///     quota: NonZeroU32::new(50).map(Quota::per_second),
///     ..SimConfig::default()
/// };
/// assert!(config.validate().is_ok());
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Quota {
    /// Requests accepted in any window.
    pub requests: NonZeroU32,
    /// The length of the sliding window; not zero.
    pub window: Duration,
    /// Whether refusals carry `Retry-After` (a client that must guess its
    /// pause is tested without it).
    pub retry_after: bool,
}

impl Quota {
    /// `requests` per second (a one-second window), refusals with `Retry-After`.
    pub fn per_second(requests: NonZeroU32) -> Quota {
        Quota {
            requests,
            window: Duration::from_secs(1),
            retry_after: true,
        }
    }

    /// Checks that the window is longer than zero.
    pub fn validate(&self) -> Result<(), SimError> {
        if self.window.is_zero() {
            return Err(SimError::Config(
                "the quota's window must be longer than zero".into(),
            ));
        }
        Ok(())
    }
}

/// Faults injected into GraphQL requests: each request, by its number, draws
/// at most one fault from these probabilities, deterministically for a
/// [`Faults::seed`]. Their sum must not exceed 1.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Faults {
    /// HTTP 429 at random, however fast requests come; half of them carry
    /// `Retry-After: retry_after_secs`. A rate limit that counts requests is
    /// [`SimConfig::quota`].
    pub rate_limit: f64,
    /// Value of the `Retry-After` header, in seconds; default 0 so that tests
    /// stay fast.
    pub retry_after_secs: u64,
    /// HTTP 502 or 503 with an HTML body.
    pub server_error: f64,
    /// Headers and part of the body sent, then the connection is dropped.
    pub reset: f64,
    /// HTTP 200 with a complete message whose JSON body is cut off.
    pub truncate: f64,
    /// Seed of the draws.
    pub seed: u64,
}

impl Default for Faults {
    fn default() -> Self {
        Faults {
            rate_limit: 0.0,
            retry_after_secs: 0,
            server_error: 0.0,
            reset: 0.0,
            truncate: 0.0,
            seed: 0,
        }
    }
}

impl Faults {
    /// Checks that each probability lies in 0..=1 and that they add up to at most 1.
    pub fn validate(&self) -> Result<(), SimError> {
        let ps = [
            ("rate_limit", self.rate_limit),
            ("server_error", self.server_error),
            ("reset", self.reset),
            ("truncate", self.truncate),
        ];
        for (name, p) in ps {
            if !(0.0..=1.0).contains(&p) {
                return Err(SimError::Config(format!(
                    "fault probability {name} = {p} is not in 0..=1"
                )));
            }
        }
        let sum: f64 = ps.iter().map(|(_, p)| p).sum();
        if sum > 1.0 + 1e-9 {
            return Err(SimError::Config(format!(
                "fault probabilities add up to {sum}, more than 1"
            )));
        }
        Ok(())
    }
}
