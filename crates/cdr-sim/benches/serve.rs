//! Records per second the simulator serves over HTTP with pages of 1000:
//! pages through whole windows with reqwest (client in the same process) and
//! prints each run and the median. Run with `cargo bench -p cdr-sim --bench serve`.

use std::collections::BTreeMap;
use std::time::Instant;

use cdr_core::{CdrType, Window, format_datetime, parse_datetime};
use cdr_sim::{DataModel, SimConfig, SimHandle};

const DOC: &str = "query CdrRecords($type: CdrType!, $startDatetime: DateTime!, $endDatetime: DateTime!, $cursor: String, $limit: Int) {
  cdrRecords(type: $type, startDatetime: $startDatetime, endDatetime: $endDatetime, cursor: $cursor, limit: $limit) {
    paginationInfo { nextCursor limit }
    cdrs {
      ... on ApiCdr { __typename datetime from destination status charge type }
      ... on MessageCdr { __typename datetime fromNumber toNumber direction status charge type }
      ... on VoiceCdr { __typename datetime callId sourceAni destinationNumber didUsed sessionTime status calledRate charge callType aniIi }
    }
  }
}";

/// The cursor of a page, read from the front of the body (`paginationInfo`
/// comes first) without parsing the records.
fn next_cursor(body: &[u8]) -> Option<String> {
    let head = &body[..body.len().min(512)];
    let head = match std::str::from_utf8(head) {
        Ok(s) => s,
        // The cut may split a character; the cursor lies before it.
        Err(e) => std::str::from_utf8(&head[..e.valid_up_to()]).ok()?,
    };
    let at = head.find("\"nextCursor\":")? + "\"nextCursor\":".len();
    let rest = head[at..].strip_prefix('"')?;
    Some(rest[..rest.find('"')?].to_string())
}

/// Pages through `w` and returns (records, pages, seconds).
async fn page_through(sim: &SimHandle, t: CdrType, w: Window) -> (u64, u64, f64) {
    let http = reqwest::Client::new();
    let base = sim.base_url();
    let token = "POAPK_sim-static-token";
    let started = Instant::now();
    let mut cursor: Option<String> = None;
    let mut pages = 0u64;
    loop {
        let body = serde_json::json!({
            "query": DOC,
            "variables": {
                "type": t.as_str(),
                "startDatetime": format_datetime(&w.start()),
                "endDatetime": format_datetime(&w.end()),
                "cursor": cursor,
                "limit": 1000,
            }
        });
        let mut r = http
            .post(format!("{base}/graphql"))
            .bearer_auth(token)
            .json(&body)
            .send()
            .await
            .expect("request");
        assert_eq!(r.status(), 200);
        // Only the head is kept (the cursor is there): the client should cost
        // as little as possible next to the server it measures.
        let mut head = Vec::with_capacity(512);
        while let Some(chunk) = r.chunk().await.expect("body") {
            if head.len() < 512 {
                head.extend_from_slice(&chunk[..chunk.len().min(512 - head.len())]);
            }
        }
        pages += 1;
        cursor = next_cursor(&head);
        if cursor.is_none() {
            break;
        }
    }
    let secs = started.elapsed().as_secs_f64();
    let records = sim_model(sim).count(t, w);
    assert_eq!(
        pages,
        records.div_ceil(1000),
        "every page but the last is full"
    );
    (records, pages, secs)
}

/// The bench's data model (same seed and rates as its servers).
fn sim_model(_sim: &SimHandle) -> DataModel {
    DataModel::new(0, &rates())
}

fn rates() -> BTreeMap<CdrType, u64> {
    BTreeMap::from([(CdrType::Sms, 3_600_000), (CdrType::Voice, 3_600_000)])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn window(a: &str, b: &str) -> Window {
    Window::new(
        parse_datetime(a).expect("start"),
        parse_datetime(b).expect("end"),
    )
    .expect("window")
}

async fn bench() {
    let config = |fast_path| SimConfig {
        rates: rates(),
        now: Some(parse_datetime("2026-11-02T00:00:00Z").expect("now")),
        fast_path,
        ..SimConfig::default()
    };
    let sim = cdr_sim::start(config(true)).await.expect("start");
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:30:00Z");
    println!("fast path, one client, pages of 1000:");
    for t in [CdrType::Sms, CdrType::Voice] {
        let mut rates = Vec::new();
        for run in 0..5 {
            let (records, pages, secs) = page_through(&sim, t, w).await;
            let rate = records as f64 / secs;
            println!(
                "  {t} run {run}: {records} records in {pages} pages, {secs:.2} s, {rate:.0} records/s"
            );
            rates.push(rate);
        }
        println!("  {t} median: {:.0} records/s", median(rates));
    }

    println!("fast path, two clients on two windows at once:");
    let mut rates = Vec::new();
    for run in 0..3 {
        let started = Instant::now();
        let (a, b) = tokio::join!(
            page_through(
                &sim,
                CdrType::Sms,
                window("2026-11-01T01:00:00Z", "2026-11-01T01:30:00Z")
            ),
            page_through(
                &sim,
                CdrType::Sms,
                window("2026-11-01T02:00:00Z", "2026-11-01T02:30:00Z")
            ),
        );
        let secs = started.elapsed().as_secs_f64();
        let rate = (a.0 + b.0) as f64 / secs;
        println!(
            "  run {run}: {} records, {secs:.2} s, {rate:.0} records/s",
            a.0 + b.0
        );
        rates.push(rate);
    }
    println!("  median: {:.0} records/s", median(rates));
    sim.shutdown().await;

    let slow = cdr_sim::start(config(false)).await.expect("start");
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z");
    println!("async-graphql executor (fast path off), one client:");
    let mut rates = Vec::new();
    for run in 0..3 {
        let (records, pages, secs) = page_through(&slow, CdrType::Sms, w).await;
        let rate = records as f64 / secs;
        println!(
            "  run {run}: {records} records in {pages} pages, {secs:.2} s, {rate:.0} records/s"
        );
        rates.push(rate);
    }
    println!("  median: {:.0} records/s", median(rates));
    slow.shutdown().await;
}

fn main() {
    // `cargo test --benches` passes no `--bench`; keep that run short.
    if !std::env::args().any(|a| a == "--bench") {
        println!("run with `cargo bench -p cdr-sim --bench serve`");
        return;
    }
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .expect("runtime")
        .block_on(bench());
}
