//! The `cdr-sim` binary: runs the simulator until Ctrl-C, printing its base URL
//! and credentials on start.

use std::collections::BTreeMap;
use std::io::Write;
use std::net::SocketAddr;
use std::num::NonZeroU32;
use std::process::ExitCode;
use std::time::Duration;

use cdr_core::CdrType;
use cdr_sim::{ExpiredAnswer, Faults, Quota, SimConfig, SimUser, UnknownMembers};
use chrono::{DateTime, Utc};
use clap::Parser;

/// A fake of the TSG Global CDR API (login, GraphQL `cdrRecords`, signed CSV
/// export) with deterministic data and fault injection, for tests, benchmarks
/// and demos.
#[derive(Debug, Parser)]
#[command(name = "cdr-sim", version)]
struct Args {
    /// Address to listen on (port 0: any free port; the URL is printed).
    #[arg(long, default_value = "127.0.0.1:0")]
    bind: SocketAddr,

    /// Seed of the generated data.
    #[arg(long, default_value_t = 0)]
    seed: u64,

    /// Records per hour of one type, as TYPE=N (e.g. `--rate sms=36000`);
    /// repeat for several types. Types not given keep their default
    /// (SMS 3600, MMS 600, VOICE 1200, API 300).
    #[arg(long = "rate", value_name = "TYPE=N", value_parser = parse_rate)]
    rates: Vec<(CdrType, u64)>,

    /// A basic user, as EMAIL:PASSWORD[:COMPANY_ID] (company 1 by default);
    /// repeat for several. Given users replace the default basic user.
    #[arg(long = "user", value_name = "EMAIL:PASSWORD[:COMPANY]")]
    users: Vec<String>,

    /// An admin user (may pass companyId), as EMAIL:PASSWORD; repeat for
    /// several. Given admins replace the default admin.
    #[arg(long = "admin", value_name = "EMAIL:PASSWORD")]
    admins: Vec<String>,

    /// A pre-issued token accepted for the first basic user; repeat for
    /// several (default `POAPK_sim-static-token`).
    #[arg(
        long = "static-token",
        value_name = "TOKEN",
        env = "CDR_SIM_STATIC_TOKEN"
    )]
    static_tokens: Vec<String>,

    /// Probability (0..=1) that a GraphQL request gets HTTP 429 at random,
    /// however fast requests come; half of them carry `Retry-After`. A rate
    /// limit that counts requests is `--quota`.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    rate_limit: f64,

    /// Seconds sent in `Retry-After` on injected 429s.
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    retry_after: u64,

    /// Probability that a GraphQL request gets HTTP 502 or 503 with an HTML body.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    server_error: f64,

    /// Probability that a GraphQL response is dropped after part of its body.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    reset: f64,

    /// Probability that a GraphQL response is a complete HTTP 200 whose JSON
    /// body is cut off.
    #[arg(long, default_value_t = 0.0, value_name = "P")]
    truncate: f64,

    /// Seed of the fault draws (faults are a function of it and the request number).
    #[arg(long, default_value_t = 0)]
    fault_seed: u64,

    /// Let export downloads draw faults too (429, 5xx, dropped halfway).
    #[arg(long)]
    export_faults: bool,

    /// At most N GraphQL requests in any window of `--quota-window-ms` (one
    /// second by default), over all clients: requests beyond get HTTP 429 at
    /// once, with `Retry-After` in whole seconds until the oldest accepted
    /// request leaves the window. Refused requests, logins and exports do
    /// not count.
    #[arg(long, value_name = "N")]
    quota: Option<NonZeroU32>,

    /// The sliding window of `--quota`, in milliseconds.
    #[arg(
        long,
        default_value_t = 1000,
        value_name = "MS",
        requires = "quota",
        value_parser = clap::value_parser!(u64).range(1..)
    )]
    quota_window_ms: u64,

    /// Refuse requests beyond `--quota` without `Retry-After`.
    #[arg(long, requires = "quota")]
    quota_no_retry_after: bool,

    /// Simulated latency of every GraphQL request, in milliseconds, from its
    /// arrival to its answer, service time included: the answer is sent MS
    /// after the request arrived (at once if serving took longer).
    #[arg(long, default_value_t = 0, value_name = "MS")]
    latency_ms: u64,

    /// Rows an export streams before its connection is dropped without a
    /// proper end (as a timed-out export would be).
    #[arg(long, value_name = "ROWS")]
    export_row_cap: Option<u64>,

    /// Login tokens expire after this many GraphQL requests.
    #[arg(long, value_name = "N")]
    token_ttl_requests: Option<u64>,

    /// HTTP status of the answer to an expired token (servers use 200, 400,
    /// 401 or 403).
    #[arg(long, default_value_t = 200, value_name = "STATUS")]
    expired_status: u16,

    /// Message of the GraphQL error that answers an expired token, e.g.
    /// "jwt expired".
    #[arg(
        long,
        default_value = "unauthenticated: the token has expired, log in again",
        value_name = "TEXT"
    )]
    expired_message: String,

    /// `extensions.code` of that error; empty for none.
    #[arg(long, default_value = "UNAUTHENTICATED", value_name = "CODE")]
    expired_code: String,

    /// Serve every N-th generated record of each hour as a union member
    /// clients have no fragment for, as TYPENAME:N[:TYPE,TYPE..] (e.g.
    /// `RcsCdr:1000:sms,mms`; no types: every type).
    #[arg(long, value_name = "TYPENAME:N[:TYPES]", value_parser = parse_unknown)]
    unknown_member: Option<UnknownMembers>,

    /// A fixed clock, RFC 3339 (e.g. 2026-11-02T00:00:00Z); default the system clock.
    #[arg(long, value_parser = parse_now)]
    now: Option<DateTime<Utc>>,

    /// Serve every page through the async-graphql executor (slower; for comparison).
    #[arg(long)]
    no_fast_path: bool,
}

fn parse_rate(s: &str) -> Result<(CdrType, u64), String> {
    let (t, n) = s
        .split_once('=')
        .ok_or_else(|| format!("`{s}`: expected TYPE=N, e.g. sms=3600"))?;
    let t: CdrType = t.parse().map_err(|e| format!("{e}"))?;
    let n: u64 = n
        .trim()
        .parse()
        .map_err(|_| format!("`{n}`: expected a whole number of records per hour"))?;
    Ok((t, n))
}

fn parse_unknown(s: &str) -> Result<UnknownMembers, String> {
    let mut parts = s.splitn(3, ':');
    let typename = parts.next().unwrap_or_default().trim().to_string();
    let every_nth = parts
        .next()
        .and_then(|n| n.trim().parse::<u64>().ok())
        .ok_or_else(|| format!("`{s}`: expected TYPENAME:N[:TYPES], e.g. RcsCdr:1000"))?;
    let types = match parts.next() {
        Some(list) => cdr_core::parse_type_list(list).map_err(|e| e.to_string())?,
        None => Vec::new(),
    };
    let unknown = UnknownMembers {
        typename,
        types,
        every_nth,
    };
    unknown.validate().map_err(|e| e.to_string())?;
    Ok(unknown)
}

fn parse_now(s: &str) -> Result<DateTime<Utc>, String> {
    DateTime::parse_from_rfc3339(s.trim())
        .map(|t| t.with_timezone(&Utc))
        .map_err(|_| format!("`{s}`: expected an RFC 3339 datetime, e.g. 2026-11-02T00:00:00Z"))
}

fn parse_user(s: &str, admin: bool) -> Result<SimUser, String> {
    let mut parts = s.splitn(3, ':');
    let email = parts.next().unwrap_or_default();
    let password = parts.next().unwrap_or_default();
    if email.is_empty() || password.is_empty() {
        return Err(format!(
            "user `{email}`: expected EMAIL:PASSWORD{}",
            if admin { "" } else { "[:COMPANY]" }
        ));
    }
    Ok(SimUser {
        email: email.into(),
        password: password.into(),
        admin,
        company_id: parts.next().unwrap_or(if admin { "0" } else { "1" }).into(),
    })
}

fn config(args: Args) -> Result<SimConfig, String> {
    let mut config = SimConfig {
        seed: args.seed,
        bind: args.bind,
        faults: Faults {
            rate_limit: args.rate_limit,
            retry_after_secs: args.retry_after,
            server_error: args.server_error,
            reset: args.reset,
            truncate: args.truncate,
            seed: args.fault_seed,
        },
        quota: args.quota.map(|requests| Quota {
            requests,
            window: Duration::from_millis(args.quota_window_ms),
            retry_after: !args.quota_no_retry_after,
        }),
        latency: Duration::from_millis(args.latency_ms),
        export_row_cap: args.export_row_cap,
        token_ttl_requests: args.token_ttl_requests,
        expired_answer: ExpiredAnswer::new(
            args.expired_status,
            &args.expired_message,
            Some(args.expired_code.as_str()).filter(|c| !c.is_empty()),
        ),
        unknown_members: args.unknown_member,
        now: args.now,
        fast_path: !args.no_fast_path,
        ..SimConfig::default()
    };
    let mut rates = BTreeMap::new();
    rates.extend(config.rates.iter().map(|(t, n)| (*t, *n)));
    rates.extend(args.rates);
    config.rates = rates;
    let basic = args
        .users
        .iter()
        .map(|u| parse_user(u, false))
        .collect::<Result<Vec<_>, _>>()?;
    let admins = args
        .admins
        .iter()
        .map(|u| parse_user(u, true))
        .collect::<Result<Vec<_>, _>>()?;
    if !basic.is_empty() {
        config.users.retain(|u| u.admin);
        config.users.splice(0..0, basic);
    }
    if !admins.is_empty() {
        config.users.retain(|u| !u.admin);
        config.users.extend(admins);
    }
    if !args.static_tokens.is_empty() {
        config.static_tokens = args.static_tokens;
    }
    config.validate().map_err(|e| e.to_string())?;
    Ok(config)
}

#[tokio::main]
async fn main() -> ExitCode {
    let args = Args::parse();
    let config = match config(args) {
        Ok(c) => c,
        Err(e) => {
            eprintln!("cdr-sim: {e}");
            return ExitCode::from(2);
        }
    };
    let users = config.users.clone();
    let tokens = config.static_tokens.clone();
    let sim = match cdr_sim::start(config).await {
        Ok(s) => s,
        Err(e) => {
            eprintln!("cdr-sim: {e}");
            return ExitCode::FAILURE;
        }
    };
    let mut out = std::io::stdout().lock();
    let _ = writeln!(out, "cdr-sim listening on {}", sim.base_url());
    let _ = writeln!(out, "  login:   POST {}/account/login", sim.base_url());
    let _ = writeln!(out, "  graphql: POST {}/graphql", sim.base_url());
    for u in &users {
        let _ = writeln!(
            out,
            "  {} {} / {} (company {})",
            if u.admin { "admin:" } else { "user: " },
            u.email,
            u.password,
            u.company_id
        );
    }
    for t in &tokens {
        let _ = writeln!(out, "  static token: {t}");
    }
    let _ = out.flush();
    drop(out);
    if let Err(e) = tokio::signal::ctrl_c().await {
        eprintln!("cdr-sim: cannot wait for Ctrl-C: {e}");
    }
    sim.shutdown().await;
    ExitCode::SUCCESS
}
