//! The shared state of one server: configuration, clock, tokens, late
//! records, counters; argument checking and page building shared by the
//! async-graphql path and the fast path.

use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, RwLock};
use std::time::Duration;

use cdr_core::{Cdr, CdrType, format_datetime};
use chrono::{DateTime, TimeDelta, Utc};
use http::HeaderMap;

use crate::config::{Faults, SimConfig, SimUser};
use crate::data::{DataModel, Key, type_index};
use crate::hooks::{ExpiredAnswer, TypeHooks, UnknownMembers};
use crate::pace::Limiter;
use crate::sign::{Scope, Signer};
use crate::source::{LATE_ID_BASE, Late, Row, Source, late_key};
use crate::{Counters, faults};

/// How far past the server's now `endDatetime` may lie (clock skew).
pub(crate) const FUTURE_TOLERANCE: TimeDelta = TimeDelta::seconds(5);
/// Page size when `limit` is not given.
pub(crate) const DEFAULT_LIMIT: u32 = 100;
const MAX_LIMIT: i64 = 1000;

fn read<T: Clone>(lock: &RwLock<T>) -> T {
    lock.read().unwrap_or_else(PoisonError::into_inner).clone()
}

fn write<T>(lock: &RwLock<T>, value: T) {
    *lock.write().unwrap_or_else(PoisonError::into_inner) = value;
}

/// Who a request is from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct AuthUser {
    pub admin: bool,
    pub company_id: String,
}

impl AuthUser {
    fn of(u: &SimUser) -> AuthUser {
        AuthUser {
            admin: u.admin,
            company_id: u.company_id.clone(),
        }
    }
}

/// Why a request's token is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum AuthError {
    /// No bearer token, or one this server never issued: HTTP 401.
    Missing,
    /// A token that was valid and has expired: a GraphQL error.
    Expired,
}

struct TokenState {
    user: AuthUser,
    uses: u64,
    ttl: Option<u64>,
    /// Set by [`State::expire_tokens`].
    expired: bool,
}

/// The arguments of `cdrRecords` as given, before the service's rules.
#[derive(Debug, Clone)]
pub(crate) struct RawArgs {
    pub t: CdrType,
    pub start: DateTime<Utc>,
    pub end: DateTime<Utc>,
    pub cursor: Option<String>,
    pub limit: Option<i64>,
    pub company_id: Option<String>,
}

/// Arguments that passed every rule.
#[derive(Debug, Clone)]
pub(crate) struct PageArgs {
    pub scope: Scope,
    pub after: Option<Key>,
    pub limit: u32,
}

/// A rule an argument broke; the message is what the GraphQL error says.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub(crate) enum ArgError {
    #[error("invalid argument `limit`: {0} is out of range; use a page size from 1 to 1000")]
    Limit(i64),
    #[error("invalid arguments: startDatetime {start} must be before endDatetime {end}")]
    Order { start: String, end: String },
    #[error(
        "invalid argument `endDatetime`: {end} is later than now ({now}); the maximum allowed value is now"
    )]
    Future { end: String, now: String },
    #[error("invalid argument `companyId`: only admin users may pass it")]
    Company,
    #[error("invalid argument: datetimes must lie between the years 1678 and 2261")]
    Range,
    #[error("invalid cursor: it was modified or belongs to another query")]
    Cursor,
}

/// One page: its rows, the source they are viewed through, the next cursor.
pub(crate) struct Page {
    pub source: Source,
    pub rows: Vec<Row>,
    pub next_cursor: Option<String>,
}

#[derive(Default)]
pub(crate) struct AtomicCounters {
    pub requests: AtomicU64,
    pub graphql_requests: AtomicU64,
    pub logins: AtomicU64,
    pub failed_logins: AtomicU64,
    pub exports: AtomicU64,
    pub rate_limited: AtomicU64,
    pub quota_accepted: AtomicU64,
    pub quota_refused: AtomicU64,
    pub server_errors: AtomicU64,
    pub resets: AtomicU64,
    pub truncated: AtomicU64,
    pub expired_tokens: AtomicU64,
    pub fast_path_pages: AtomicU64,
    pub aborted_exports: AtomicU64,
}

pub(crate) fn bump(c: &AtomicU64) -> u64 {
    c.fetch_add(1, Ordering::Relaxed)
}

impl AtomicCounters {
    pub(crate) fn snapshot(&self) -> Counters {
        let g = |c: &AtomicU64| c.load(Ordering::Relaxed);
        Counters {
            requests: g(&self.requests),
            graphql_requests: g(&self.graphql_requests),
            logins: g(&self.logins),
            failed_logins: g(&self.failed_logins),
            exports: g(&self.exports),
            rate_limited: g(&self.rate_limited),
            quota_accepted: g(&self.quota_accepted),
            quota_refused: g(&self.quota_refused),
            server_errors: g(&self.server_errors),
            resets: g(&self.resets),
            truncated: g(&self.truncated),
            expired_tokens: g(&self.expired_tokens),
            fast_path_pages: g(&self.fast_path_pages),
            aborted_exports: g(&self.aborted_exports),
        }
    }
}

pub(crate) struct State {
    pub model: DataModel,
    pub signer: Signer,
    pub base_url: String,
    pub users: Vec<SimUser>,
    static_tokens: Vec<String>,
    static_user: AuthUser,
    /// The rate limit on GraphQL requests, if any.
    pub quota: Option<Limiter>,
    pub latency: Duration,
    token_ttl: Option<u64>,
    pub fast_path: bool,
    now: RwLock<Option<DateTime<Utc>>>,
    faults: RwLock<Faults>,
    pub export_faults: AtomicBool,
    export_row_cap: RwLock<Option<u64>>,
    tokens: Mutex<HashMap<String, TokenState>>,
    token_seq: AtomicU64,
    late: RwLock<[Arc<Vec<Late>>; 4]>,
    late_seq: AtomicU64,
    hooks: RwLock<[Arc<TypeHooks>; 4]>,
    expired_answer: RwLock<ExpiredAnswer>,
    pub counters: AtomicCounters,
}

impl State {
    pub(crate) fn new(config: &SimConfig, base_url: String) -> State {
        let static_user = config.users.iter().find(|u| !u.admin).map_or_else(
            || AuthUser {
                admin: false,
                company_id: "1".into(),
            },
            AuthUser::of,
        );
        State {
            model: DataModel::new(config.seed, &config.rates),
            signer: Signer::fresh(config.seed),
            base_url,
            users: config.users.clone(),
            static_tokens: config.static_tokens.clone(),
            static_user,
            quota: config.quota.map(Limiter::new),
            latency: config.latency,
            token_ttl: config.token_ttl_requests,
            fast_path: config.fast_path,
            now: RwLock::new(config.now),
            faults: RwLock::new(faults::sanitize(config.faults)),
            export_faults: AtomicBool::new(false),
            export_row_cap: RwLock::new(config.export_row_cap),
            tokens: Mutex::new(HashMap::new()),
            token_seq: AtomicU64::new(0),
            late: RwLock::new(Default::default()),
            late_seq: AtomicU64::new(0),
            hooks: RwLock::new(Default::default()),
            expired_answer: RwLock::new(config.expired_answer.clone()),
            counters: AtomicCounters::default(),
        }
    }

    pub(crate) fn now(&self) -> DateTime<Utc> {
        read(&self.now).unwrap_or_else(Utc::now)
    }

    pub(crate) fn set_now(&self, now: Option<DateTime<Utc>>) {
        write(&self.now, now);
    }

    pub(crate) fn faults(&self) -> Faults {
        read(&self.faults)
    }

    pub(crate) fn set_faults(&self, f: Faults) {
        write(&self.faults, faults::sanitize(f));
    }

    pub(crate) fn export_row_cap(&self) -> Option<u64> {
        read(&self.export_row_cap)
    }

    pub(crate) fn set_export_row_cap(&self, cap: Option<u64>) {
        write(&self.export_row_cap, cap);
    }

    pub(crate) fn late(&self, t: CdrType) -> Arc<Vec<Late>> {
        self.late.read().unwrap_or_else(PoisonError::into_inner)[type_index(t)].clone()
    }

    pub(crate) fn hooks(&self, t: CdrType) -> Arc<TypeHooks> {
        self.hooks.read().unwrap_or_else(PoisonError::into_inner)[type_index(t)].clone()
    }

    /// Changes the hooks of `t` (copy on write: listings under way keep the
    /// hooks they started with).
    pub(crate) fn change_hooks(&self, t: CdrType, change: impl FnOnce(&mut TypeHooks)) {
        let mut guard = self.hooks.write().unwrap_or_else(PoisonError::into_inner);
        let slot = &mut guard[type_index(t)];
        let mut hooks = slot.as_ref().clone();
        change(&mut hooks);
        *slot = Arc::new(hooks);
    }

    /// Whether some type's pages need the hand-written writer.
    pub(crate) fn hooks_change_rendering(&self) -> bool {
        self.hooks
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .iter()
            .any(|h| h.changes_rendering())
    }

    pub(crate) fn set_unknown_members(&self, unknown: Option<&UnknownMembers>) {
        for t in CdrType::ALL {
            self.change_hooks(t, |h| {
                h.set_unknown(unknown.filter(|u| u.applies_to(t)));
            });
        }
    }

    /// The records of `t` in `[start_ns, end_ns)` after `after`, as listed.
    pub(crate) fn source(
        &self,
        t: CdrType,
        start_ns: i64,
        end_ns: i64,
        after: Option<Key>,
    ) -> Source {
        Source::new(
            self.model,
            t,
            self.late(t),
            self.hooks(t),
            start_ns,
            end_ns,
            after,
        )
    }

    pub(crate) fn expired_answer(&self) -> ExpiredAnswer {
        read(&self.expired_answer)
    }

    pub(crate) fn set_expired_answer(&self, answer: ExpiredAnswer) {
        write(&self.expired_answer, answer);
    }

    /// Expires every token issued by login so far.
    pub(crate) fn expire_tokens(&self) {
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        for state in tokens.values_mut() {
            state.expired = true;
        }
    }

    /// Adds records of `t`'s member kind (with `wrong_member`, of any other
    /// kind instead); others, and datetimes that cannot be represented, are
    /// skipped. Returns how many were added.
    pub(crate) fn insert_late(&self, t: CdrType, records: Vec<Cdr>, wrong_member: bool) -> usize {
        let mut guard = self.late.write().unwrap_or_else(PoisonError::into_inner);
        let slot = &mut guard[type_index(t)];
        let mut list: Vec<Late> = slot.as_ref().clone();
        let before = list.len();
        for cdr in records {
            if (cdr.kind() == t.record_kind()) == wrong_member {
                tracing::warn!(%t, kind = %cdr.kind(), wrong_member, "late record of an unexpected kind skipped");
                continue;
            }
            let id = LATE_ID_BASE + self.late_seq.fetch_add(1, Ordering::Relaxed);
            match late_key(&cdr, id) {
                Some(key) => list.push(Late { key, cdr }),
                None => tracing::warn!(%t, "late record with an unrepresentable datetime skipped"),
            }
        }
        list.sort_by_key(|l| l.key);
        let added = list.len() - before;
        *slot = Arc::new(list);
        added
    }

    /// Issues a login token for `user`.
    pub(crate) fn issue_token(&self, user: &SimUser) -> String {
        let token = self
            .signer
            .token(self.token_seq.fetch_add(1, Ordering::Relaxed));
        self.tokens
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .insert(
                token.clone(),
                TokenState {
                    user: AuthUser::of(user),
                    uses: 0,
                    ttl: self.token_ttl,
                    expired: false,
                },
            );
        token
    }

    /// The user behind the request's `Authorization: Bearer` token; counts one
    /// use of an issued token.
    pub(crate) fn authenticate(&self, headers: &HeaderMap) -> Result<AuthUser, AuthError> {
        let value = headers
            .get(http::header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .ok_or(AuthError::Missing)?
            .trim();
        let (scheme, token) = value.split_once(' ').ok_or(AuthError::Missing)?;
        if !scheme.eq_ignore_ascii_case("bearer") {
            return Err(AuthError::Missing);
        }
        let token = token.trim();
        if self.static_tokens.iter().any(|t| t == token) {
            return Ok(self.static_user.clone());
        }
        let mut tokens = self.tokens.lock().unwrap_or_else(PoisonError::into_inner);
        let state = tokens.get_mut(token).ok_or(AuthError::Missing)?;
        if state.expired || state.ttl.is_some_and(|ttl| state.uses >= ttl) {
            return Err(AuthError::Expired);
        }
        state.uses += 1;
        Ok(state.user.clone())
    }

    /// Applies the service's rules to the arguments.
    pub(crate) fn check(&self, user: &AuthUser, raw: RawArgs) -> Result<PageArgs, ArgError> {
        let limit = match raw.limit {
            None => DEFAULT_LIMIT,
            Some(n) if (1..=MAX_LIMIT).contains(&n) => n as u32,
            Some(n) => return Err(ArgError::Limit(n)),
        };
        if raw.company_id.is_some() && !user.admin {
            return Err(ArgError::Company);
        }
        if raw.start >= raw.end {
            return Err(ArgError::Order {
                start: format_datetime(&raw.start),
                end: format_datetime(&raw.end),
            });
        }
        let now = self.now();
        if raw.end > now + FUTURE_TOLERANCE {
            return Err(ArgError::Future {
                end: format_datetime(&raw.end),
                now: format_datetime(&now),
            });
        }
        let (Some(start_ns), Some(end_ns)) = (
            raw.start.timestamp_nanos_opt(),
            raw.end.timestamp_nanos_opt(),
        ) else {
            return Err(ArgError::Range);
        };
        let scope = Scope {
            t: raw.t,
            start_ns,
            end_ns,
            company: if user.admin {
                raw.company_id
            } else {
                Some(user.company_id.clone())
            },
        };
        let after = match raw.cursor {
            None => None,
            Some(c) => Some(
                self.signer
                    .open_cursor(&scope, &c)
                    .ok_or(ArgError::Cursor)?,
            ),
        };
        Ok(PageArgs {
            scope,
            after,
            limit,
        })
    }

    /// Up to `limit` rows after the cursor, and the cursor of the next page
    /// when one more row exists.
    pub(crate) fn page(&self, args: &PageArgs) -> Page {
        let s = &args.scope;
        let mut source = self.source(s.t, s.start_ns, s.end_ns, args.after);
        let mut rows = Vec::with_capacity(args.limit as usize);
        while rows.len() < args.limit as usize {
            match source.next_row() {
                Some(r) => rows.push(r),
                None => break,
            }
        }
        let next_cursor = match rows.last() {
            Some(last) if rows.len() == args.limit as usize => {
                let key = source.view(last).key();
                // Looking one row ahead spares the client an empty last page.
                let more = source.next_row().is_some();
                more.then(|| self.signer.cursor(s, key))
            }
            _ => None,
        };
        Page {
            source,
            rows,
            next_cursor,
        }
    }
}
