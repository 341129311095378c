//! `/graphql` over real HTTP: the union, paging against the ground truth,
//! argument rules, cursors, the fast path's equivalence with async-graphql.

mod common;

use cdr_core::{ApiCdr, Cdr, CdrType, MessageCdr, RecordKind, Timestamped, VoiceCdr};
use cdr_sim::SimConfig;
use common::*;
use rust_decimal::Decimal;

#[tokio::test]
async fn three_fragments_return_typed_records_for_every_type() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    for t in CdrType::ALL {
        let page = c.page(&token, FULL_DOC, vars(t, w, None, Some(1000))).await;
        assert_eq!(page.keys, ["exportLink", "paginationInfo", "cdrs"]);
        let kind = t.record_kind();
        assert!(!page.cdrs.is_empty(), "{t}");
        let mut money_forms = (0, 0);
        for r in &page.cdrs {
            let mut want: Vec<&str> = vec!["__typename"];
            want.extend(kind.columns().iter().map(|c| c.graphql));
            assert_eq!(r.keys(), want, "{t}: fields in query order");
            assert_eq!(r.get("__typename"), Some(&Raw::Str(kind.typename().into())));
            match r.get("charge") {
                Some(Raw::Num(_)) => money_forms.0 += 1,
                Some(Raw::Str(_)) => money_forms.1 += 1,
                _ => {}
            }
        }
        assert!(
            money_forms.0 > 0 && money_forms.1 > 0,
            "{t}: money as numbers and strings"
        );
    }
}

#[tokio::test]
async fn paging_with_limit_7_returns_exactly_the_ground_truth() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    // Each window starts on a day boundary, where a burst shares one datetime.
    for (t, end) in [
        (CdrType::Sms, "2026-11-01T00:10:00Z"),
        (CdrType::Mms, "2026-11-01T01:00:00Z"),
        (CdrType::Voice, "2026-11-01T00:30:00Z"),
        (CdrType::Api, "2026-11-01T02:00:00Z"),
    ] {
        let w = window("2026-11-01T00:00:00Z", end);
        let truth: Vec<Cdr> = sim.ground_truth(t, w).collect();
        let (got, pages) = c.all_pages(&token, FULL_DOC, t, w, 7).await;
        assert_eq!(got.len(), truth.len(), "{t}");
        assert_eq!(pages, truth.len().div_ceil(7), "{t}: no empty last page");
        let at_start = truth.iter().filter(|r| r.datetime() == w.start()).count();
        assert!(
            at_start > 7,
            "{t}: a burst wider than a page sits on the boundary"
        );
        for (i, (g, want)) in got.iter().zip(&truth).enumerate() {
            assert_same(g, want, i);
        }
    }
    assert!(sim.counters().fast_path_pages > 100, "{:?}", sim.counters());
}

#[tokio::test]
async fn the_fast_path_writes_the_same_bytes_as_async_graphql() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:59:00Z", "2026-11-01T01:01:00Z");
    // Late records bring nanosecond datetimes, every escape class and big decimals.
    let late_dt = |s: &str| t(s);
    sim.insert_late(
        CdrType::Voice,
        vec![
            Cdr::Voice(VoiceCdr {
                datetime: late_dt("2026-11-01T00:59:30.123456789Z"),
                call_id: Some("tab\tquote\"back\\slash\u{1}\u{7f}/".into()),
                source_ani: None,
                destination_number: Some(Default::default()),
                did_used: Some("配達済み 📞".into()),
                session_time: Some(i64::from(i32::MAX) + 5),
                status: Some("a,b\r\nc".into()),
                called_rate: Some(Decimal::from_i128_with_scale(
                    -12_345_678_901_234_567_890,
                    7,
                )),
                charge: Some(Decimal::from_i128_with_scale(0, 3)),
                call_type: None,
                ani_ii: Some("00".into()),
            }),
            Cdr::Voice(VoiceCdr {
                datetime: late_dt("2026-11-01T01:00:00Z"),
                call_id: None,
                source_ani: None,
                destination_number: None,
                did_used: None,
                session_time: None,
                status: None,
                called_rate: None,
                charge: Some(Decimal::new(5, 5)),
                call_type: None,
                ani_ii: None,
            }),
        ],
    );
    let docs = [
        FULL_DOC.to_string(),
        // Aliases, __typename on every level, paginationInfo last, fragments nested.
        "query P($type: CdrType!, $s: DateTime!, $e: DateTime!, $cursor: String, $limit: Int = 40) {
           page: cdrRecords(type: $type, startDatetime: $s, endDatetime: $e, cursor: $cursor, limit: $limit) {
             __typename
             link: exportLink
             records: cdrs {
               __typename
               ... on VoiceCdr { rate: calledRate datetime ... on VoiceCdr { callId } sessionTime didUsed status destinationNumber charge aniIi }
               ... on MessageCdr { charge }
             }
             paginationInfo { limit __typename nextCursor }
           }
         }"
        .to_string(),
    ];
    for doc in docs {
        let mut cursor: Option<String> = None;
        for i in 0..4 {
            let mut v = vars(CdrType::Voice, w, cursor.as_deref(), Some(17));
            v["s"] = v["startDatetime"].clone();
            v["e"] = v["endDatetime"].clone();
            // A document text not seen before goes through async-graphql once.
            let doc = format!("{doc}\n# page {i}");
            let before = sim.counters().fast_path_pages;
            let (s1, slow) = c.post(Some(&token), &doc, v.clone()).await;
            assert_eq!(
                sim.counters().fast_path_pages,
                before,
                "first sight is slow"
            );
            let (s2, fast) = c.post(Some(&token), &doc, v.clone()).await;
            assert_eq!((s1, s2), (200, 200));
            assert_eq!(
                sim.counters().fast_path_pages,
                before + 1,
                "the repeat is fast"
            );
            assert_eq!(
                String::from_utf8_lossy(&fast),
                String::from_utf8_lossy(&slow),
                "fast path differs from async-graphql"
            );
            let value: serde_json::Value = serde_json::from_slice(&fast).unwrap();
            let result = &value["data"]
                .as_object()
                .unwrap()
                .values()
                .next()
                .unwrap()
                .clone();
            cursor = result["paginationInfo"]["nextCursor"]
                .as_str()
                .map(str::to_string);
            if cursor.is_none() {
                break;
            }
        }
    }
    // A server without the fast path serves the same records.
    let slow_sim = cdr_sim::start(SimConfig {
        fast_path: false,
        ..config()
    })
    .await
    .unwrap();
    let slow_client = Client::new(&slow_sim);
    let slow_token = slow_client.login(USER).await;
    let (got, _) = slow_client
        .all_pages(&slow_token, FULL_DOC, CdrType::Sms, w, 50)
        .await;
    let truth: Vec<Cdr> = slow_sim.ground_truth(CdrType::Sms, w).collect();
    assert_eq!(got.len(), truth.len());
    for (i, (g, want)) in got.iter().zip(&truth).enumerate() {
        assert_same(g, want, i);
    }
    assert_eq!(slow_sim.counters().fast_path_pages, 0);
}

#[tokio::test]
async fn every_broken_rule_is_a_graphql_error() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let ok = vars(CdrType::Sms, w, None, Some(10));
    // The document is valid: a first request puts it on the fast path.
    c.page(&token, FULL_DOC, ok.clone()).await;
    c.page(&token, FULL_DOC, ok.clone()).await;
    let with = |k: &str, v: serde_json::Value| {
        let mut x = ok.clone();
        x[k] = v;
        x
    };
    let cases = [
        ("limit 0", with("limit", 0.into()), "limit"),
        ("limit 1001", with("limit", 1001.into()), "limit"),
        ("limit -1", with("limit", (-1).into()), "limit"),
        ("limit not an Int", with("limit", "7".into()), "Int"),
        (
            "start = end",
            with("endDatetime", "2026-11-01T00:00:00Z".into()),
            "must be before",
        ),
        (
            "start > end",
            with("startDatetime", "2026-11-01T02:00:00Z".into()),
            "must be before",
        ),
        (
            "end in the future",
            with("endDatetime", "2026-11-02T00:00:06Z".into()),
            "later than now",
        ),
        (
            "bad datetime",
            with("endDatetime", "tomorrow".into()),
            "DateTime",
        ),
        (
            "companyId as a basic user",
            with("companyId", "2".into()),
            "companyId",
        ),
        ("unknown type", with("type", "FAX".into()), "CdrType"),
        ("lowercase type", with("type", "sms".into()), "CdrType"),
        (
            "missing type",
            with("type", serde_json::Value::Null),
            "type",
        ),
        ("tampered cursor", with("cursor", "AAAA".into()), "cursor"),
    ];
    for (name, v, needle) in cases {
        let errors = c.errors(&token, FULL_DOC, v).await;
        assert!(
            errors.iter().any(|m| m.contains(needle)),
            "{name}: {errors:?} should mention {needle}"
        );
    }
    // Within the 5 s tolerance the end may lie past now.
    c.page(
        &token,
        FULL_DOC,
        with("endDatetime", "2026-11-02T00:00:04Z".into()),
    )
    .await;
    // Documents that do not validate.
    for (name, doc, needle) in [
        (
            "unknown field",
            FULL_DOC.replace("fromNumber", "fromNumber faxNumber"),
            "faxNumber",
        ),
        (
            "field of another member",
            FULL_DOC.replace("... on ApiCdr { __typename", "... on ApiCdr { __typename callId"),
            "callId",
        ),
        (
            "union field without fragment",
            FULL_DOC.replace("cdrs {", "cdrs { datetime"),
            "datetime",
        ),
        (
            "literal enum",
            "{ cdrRecords(type: FAX, startDatetime: \"2026-11-01T00:00:00Z\", endDatetime: \"2026-11-01T01:00:00Z\") { cdrs { __typename } } }".into(),
            "FAX",
        ),
        ("syntax", "query { cdrRecords(".into(), ""),
    ] {
        let errors = c.errors(&token, &doc, ok.clone()).await;
        assert!(errors.iter().any(|m| m.contains(needle)), "{name}: {errors:?}");
    }
}

#[tokio::test]
async fn cursors_are_bound_to_their_query_and_server() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let page = c
        .page(&token, FULL_DOC, vars(CdrType::Sms, w, None, Some(5)))
        .await;
    let cursor = page.next_cursor.unwrap();
    // The same query continues.
    let next = c
        .page(
            &token,
            FULL_DOC,
            vars(CdrType::Sms, w, Some(&cursor), Some(5)),
        )
        .await;
    assert_eq!(next.cdrs.len(), 5);
    // Another type, window or company refuses it.
    let other_window = window("2026-11-01T00:00:00Z", "2026-11-01T02:00:00Z");
    for v in [
        vars(CdrType::Mms, w, Some(&cursor), Some(5)),
        vars(CdrType::Sms, other_window, Some(&cursor), Some(5)),
    ] {
        let errors = c.errors(&token, FULL_DOC, v).await;
        assert!(errors[0].contains("invalid cursor"), "{errors:?}");
    }
    let admin = c.login(ADMIN).await;
    let mut as_admin = vars(CdrType::Sms, w, Some(&cursor), Some(5));
    as_admin["companyId"] = "1".into();
    // The admin's query of company 1 is a different query from the basic user's.
    let mut fresh = as_admin.clone();
    fresh["cursor"] = serde_json::Value::Null;
    let admin_page = c.page(&admin, FULL_DOC, fresh).await;
    assert_eq!(admin_page.cdrs.len(), 5);
    let admin_cursor = admin_page.next_cursor.unwrap();
    let mut foreign = vars(CdrType::Sms, w, Some(&admin_cursor), Some(5));
    foreign["companyId"] = "2".into();
    assert!(c.errors(&admin, FULL_DOC, foreign).await[0].contains("invalid cursor"));
    // Every single-character change is refused.
    for i in [0, cursor.len() / 2, cursor.len() - 1] {
        let mut bytes = cursor.clone().into_bytes();
        bytes[i] = if bytes[i] == b'a' { b'b' } else { b'a' };
        let tampered = String::from_utf8(bytes).unwrap();
        let errors = c
            .errors(
                &token,
                FULL_DOC,
                vars(CdrType::Sms, w, Some(&tampered), Some(5)),
            )
            .await;
        assert!(errors[0].contains("invalid cursor"), "{errors:?}");
    }
    // Another server (same seed) refuses it.
    let other = cdr_sim::start(config()).await.unwrap();
    let oc = Client::new(&other);
    let ot = oc.login(USER).await;
    let errors = oc
        .errors(&ot, FULL_DOC, vars(CdrType::Sms, w, Some(&cursor), Some(5)))
        .await;
    assert!(errors[0].contains("invalid cursor"), "{errors:?}");
}

#[tokio::test]
async fn admins_may_pass_company_id() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let admin = c.login(ADMIN).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:10:00Z");
    let mut v = vars(CdrType::Api, w, None, Some(100));
    v["companyId"] = "42".into();
    let page = c.page(&admin, FULL_DOC, v).await;
    assert_eq!(page.cdrs.len(), sim.ground_truth(CdrType::Api, w).count());
    let link = page.export_link.unwrap();
    assert!(link.contains("company=42"), "{link}");
    // A numeric ID is accepted too (async-graphql path).
    let mut v = vars(CdrType::Api, w, None, Some(100));
    v["companyId"] = 42.into();
    c.page(&admin, FULL_DOC, v).await;
}

#[tokio::test]
async fn pages_end_with_a_null_cursor_and_empty_windows_are_empty() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let total = sim.ground_truth(CdrType::Api, w).count();
    assert_eq!(total, 300);
    // A page that holds exactly the rest ends the listing.
    let page = c
        .page(&token, FULL_DOC, vars(CdrType::Api, w, None, Some(300)))
        .await;
    assert_eq!(page.cdrs.len(), 300);
    assert_eq!(page.next_cursor, None);
    // The default limit is 100.
    let page = c
        .page(&token, FULL_DOC, vars(CdrType::Api, w, None, None))
        .await;
    assert_eq!(page.cdrs.len(), 100);
    assert_eq!(page.limit, Some(100));
    // Half-open: a window of one microsecond on the day boundary holds the burst;
    // the one that ends there holds nothing of it.
    let tiny = window("2026-11-01T00:00:00Z", "2026-11-01T00:00:00.000001Z");
    let burst = sim.ground_truth(CdrType::Api, tiny).count();
    assert!(burst > 1);
    let page = c
        .page(&token, FULL_DOC, vars(CdrType::Api, tiny, None, Some(1000)))
        .await;
    assert_eq!(page.cdrs.len(), burst);
    let before = window("2026-10-31T23:59:59Z", "2026-11-01T00:00:00Z");
    let page = c
        .page(
            &token,
            FULL_DOC,
            vars(CdrType::Api, before, None, Some(1000)),
        )
        .await;
    assert!(
        page.cdrs
            .iter()
            .all(|r| r.get("datetime") != Some(&Raw::Str("2026-11-01T00:00:00Z".into())))
    );
}

#[tokio::test]
async fn late_records_appear_in_later_queries_in_order() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T03:00:00Z", "2026-11-01T03:05:00Z");
    let before: Vec<Cdr> = sim.ground_truth(CdrType::Mms, w).collect();
    let mut late = Vec::new();
    for (i, at) in ["2026-11-01T03:00:00Z", "2026-11-01T03:02:30.000000001Z"]
        .iter()
        .enumerate()
    {
        late.push(Cdr::Message(MessageCdr {
            datetime: t(at),
            from_number: Some(format!("late-{i}").into()),
            to_number: None,
            direction: None,
            status: Some("late".into()),
            charge: Some(Decimal::new(12345, 5)),
            r#type: Some("MMS".into()),
        }));
    }
    // A record of another kind is not an MMS record.
    late.push(Cdr::Api(ApiCdr {
        datetime: t("2026-11-01T03:01:00Z"),
        from: None,
        destination: None,
        status: None,
        charge: None,
        r#type: None,
    }));
    sim.insert_late(CdrType::Mms, late);
    let after: Vec<Cdr> = sim.ground_truth(CdrType::Mms, w).collect();
    assert_eq!(after.len(), before.len() + 2);
    assert!(after.windows(2).all(|p| p[0].datetime() <= p[1].datetime()));
    let (got, _) = c.all_pages(&token, FULL_DOC, CdrType::Mms, w, 7).await;
    assert_eq!(got.len(), after.len());
    for (i, (g, want)) in got.iter().zip(&after).enumerate() {
        assert_same(g, want, i);
    }
    assert!(
        got.iter()
            .any(|r| r.get("datetime") == Some(&Raw::Str("2026-11-01T03:02:30.000000001Z".into())))
    );
}

#[tokio::test]
async fn ground_truth_without_a_server_matches_the_server() {
    let sim = sim().await;
    let w = window("2026-11-01T10:00:00Z", "2026-11-01T10:20:00Z");
    for t in CdrType::ALL {
        let a: Vec<Cdr> = sim.ground_truth(t, w).collect();
        let b: Vec<Cdr> = cdr_sim::ground_truth(&config(), t, w).collect();
        assert_eq!(a, b);
        assert!(a.iter().all(|r| r.kind() == t.record_kind()));
        assert!(a.iter().all(|r| w.contains(r.datetime())));
    }
    assert!(matches!(
        cdr_sim::ground_truth(&config(), CdrType::Voice, w).next(),
        Some(Cdr::Voice(_))
    ));
    assert_eq!(RecordKind::Voice.typename(), "VoiceCdr");
}
