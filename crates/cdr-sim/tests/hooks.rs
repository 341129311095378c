//! The hooks tests inject with: unknown members, corrupt values, records of
//! the wrong member, expired-token wordings, a shrinking data set and
//! re-rating. For each: the served JSON really changes, the ground truth
//! agrees with what an archive should hold, and `injected` says what else
//! the listing holds.

mod common;

use cdr_core::{Cdr, CdrType, RecordKind, VoiceCdr, Window};
use cdr_sim::{ExpiredAnswer, SimHandle, UnknownMembers};
use common::*;
use rust_decimal::Decimal;

/// The document `cdr-core` builds: `__typename` outside the fragments.
const CLIENT_DOC: &str = "query CdrRecords($type: CdrType!, $startDatetime: DateTime!, $endDatetime: DateTime!, $cursor: String, $limit: Int) {
  cdrRecords(type: $type, startDatetime: $startDatetime, endDatetime: $endDatetime, cursor: $cursor, limit: $limit) {
    exportLink
    paginationInfo { nextCursor limit }
    cdrs {
      __typename
      ... on ApiCdr { datetime from destination status charge type }
      ... on MessageCdr { datetime fromNumber toNumber direction status charge type }
      ... on VoiceCdr { datetime callId sourceAni destinationNumber didUsed sessionTime status calledRate charge callType aniIi }
    }
  }
}";

/// Every element of `t` in `w`, in pages of `limit`, with `doc`.
async fn served(sim: &SimHandle, doc: &str, t: CdrType, w: Window, limit: u32) -> Vec<Record> {
    let c = Client::new(sim);
    let token = c.login(USER).await;
    c.all_pages(&token, doc, t, w, limit).await.0
}

fn typename(r: &Record) -> Option<&str> {
    r.get("__typename").and_then(Raw::text)
}

/// The served elements that are records of `t`'s member, checked against
/// the ground truth field by field.
fn assert_records_are_the_ground_truth(sim: &SimHandle, got: &[Record], t: CdrType, w: Window) {
    let name = t.record_kind().typename();
    let records: Vec<&Record> = got.iter().filter(|r| typename(r) == Some(name)).collect();
    let truth: Vec<Cdr> = sim.ground_truth(t, w).collect();
    assert_eq!(records.len(), truth.len(), "{t} {w}");
    for (i, (g, want)) in records.iter().zip(&truth).enumerate() {
        assert_same(g, want, i);
    }
}

#[tokio::test]
async fn unknown_members_replace_every_nth_record_and_leave_the_ground_truth() {
    let sim = sim().await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:20:00Z");
    let before: Vec<Cdr> = sim.ground_truth(CdrType::Sms, w).collect();
    sim.set_unknown_members(Some(UnknownMembers {
        typename: "RcsCdr".into(),
        types: vec![CdrType::Sms],
        every_nth: 50,
    }))
    .unwrap();
    // Pages of 7: the first of every document goes through async-graphql.
    let got = served(&sim, CLIENT_DOC, CdrType::Sms, w, 7).await;
    assert_eq!(
        got.len(),
        before.len(),
        "instead of records, not beside them"
    );
    let rcs: Vec<usize> = (0..got.len())
        .filter(|&i| typename(&got[i]) == Some("RcsCdr"))
        .collect();
    // Records 49, 99, ... of the hour; the window starts on the hour.
    assert_eq!(
        rcs,
        (0..got.len() / 50).map(|k| k * 50 + 49).collect::<Vec<_>>()
    );
    for &i in &rcs {
        assert_eq!(got[i].keys(), ["__typename"], "only what a server sends");
    }
    let injected = sim.injected(CdrType::Sms, w);
    assert_eq!(injected.unknown["RcsCdr"], rcs.len() as u64);
    assert_eq!(injected.total(), rcs.len() as u64);
    assert_records_are_the_ground_truth(&sim, &got, CdrType::Sms, w);
    assert_eq!(
        sim.ground_truth(CdrType::Sms, w).count() + rcs.len(),
        before.len()
    );

    // A document without `__typename` outside the fragments gets an empty object.
    let got = served(&sim, FULL_DOC, CdrType::Sms, w, 1000).await;
    assert_eq!(got.iter().filter(|r| r.0.is_empty()).count(), rcs.len());
    // Other types are untouched, and the hook can be switched off.
    let mms = served(&sim, CLIENT_DOC, CdrType::Mms, w, 1000).await;
    assert!(mms.iter().all(|r| typename(r) == Some("MessageCdr")));
    sim.set_unknown_members(None).unwrap();
    let got = served(&sim, CLIENT_DOC, CdrType::Sms, w, 1000).await;
    assert!(got.iter().all(|r| typename(r) == Some("MessageCdr")));
    assert_eq!(sim.injected(CdrType::Sms, w).total(), 0);
    // Names of known members, or none, are refused.
    for bad in ["VoiceCdr", "", "Rcs Cdr"] {
        let e = sim
            .set_unknown_members(Some(UnknownMembers {
                typename: bad.into(),
                types: vec![],
                every_nth: 3,
            }))
            .unwrap_err();
        assert!(e.to_string().contains("unknown member"), "{e}");
    }
}

#[tokio::test]
async fn corrupt_values_are_served_as_given_and_leave_the_ground_truth() {
    let sim = sim().await;
    let w = window("2026-11-01T01:00:00Z", "2026-11-01T01:05:00Z");
    let truth: Vec<Cdr> = sim.ground_truth(CdrType::Sms, w).collect();
    let original = sim
        .corrupt(CdrType::Sms, w, 3, "charge", r#""N/A""#)
        .unwrap();
    assert_eq!(original, truth[3]);
    sim.corrupt(CdrType::Sms, w, 8, "charge", "0.123456789012")
        .unwrap();
    sim.corrupt(CdrType::Sms, w, 9, "datetime", r#""2026-13-01T00:00:00Z""#)
        .unwrap();
    let got = served(&sim, CLIENT_DOC, CdrType::Sms, w, 5).await;
    assert_eq!(got.len(), truth.len());
    assert_eq!(got[3].get("charge"), Some(&Raw::Str("N/A".into())));
    assert_eq!(
        got[8].get("charge"),
        Some(&Raw::Num("0.123456789012".into()))
    );
    assert_eq!(
        got[9].get("datetime"),
        Some(&Raw::Str("2026-13-01T00:00:00Z".into()))
    );
    // The other fields of a corrupt record are served as they were.
    assert_eq!(
        got[3].get("fromNumber").and_then(Raw::text),
        expected_text(&truth[3], 1).as_deref()
    );
    let injected = sim.injected(CdrType::Sms, w);
    assert_eq!(
        injected.corrupt,
        [
            (3, "charge".to_string()),
            (8, "charge".to_string()),
            (9, "datetime".to_string())
        ]
    );
    let now: Vec<Cdr> = sim.ground_truth(CdrType::Sms, w).collect();
    let mut want = truth.clone();
    for i in [9, 8, 3] {
        want.remove(i);
    }
    assert_eq!(now, want);

    // Voice: a session time that is not a whole number.
    sim.corrupt(CdrType::Voice, w, 0, "sessionTime", "1.5")
        .unwrap();
    let voice = served(&sim, CLIENT_DOC, CdrType::Voice, w, 1000).await;
    assert_eq!(voice[0].get("sessionTime"), Some(&Raw::Num("1.5".into())));

    // The export shows the text, unquoted.
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let page = c
        .page(&token, CLIENT_DOC, vars(CdrType::Sms, w, None, Some(1)))
        .await;
    let csv = c
        .http
        .get(page.export_link.unwrap())
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let rows = parse_csv(&csv);
    let charge = rows[0]
        .iter()
        .position(|h| h.as_deref() == Some("charge"))
        .unwrap();
    assert_eq!(rows[1 + 3][charge].as_deref(), Some("N/A"));
    assert_eq!(rows[1 + 8][charge].as_deref(), Some("0.123456789012"));
    assert_eq!(rows.len(), 1 + truth.len());

    // What cannot be corrupted is refused.
    for (index, field, raw) in [
        (3, "fromNumber", "not json"),
        (3, "callId", "1"),
        (100_000, "charge", "1"),
    ] {
        let e = sim.corrupt(CdrType::Sms, w, index, field, raw).unwrap_err();
        assert!(!e.to_string().is_empty());
    }
}

#[tokio::test]
async fn a_record_of_the_wrong_member_is_served_but_not_in_the_ground_truth() {
    let sim = sim().await;
    let w = window("2026-11-01T02:00:00Z", "2026-11-01T02:05:00Z");
    let truth: Vec<Cdr> = sim.ground_truth(CdrType::Sms, w).collect();
    let voice = Cdr::Voice(VoiceCdr {
        datetime: t("2026-11-01T02:01:00Z"),
        call_id: Some("misfiled".into()),
        source_ani: None,
        destination_number: None,
        did_used: None,
        session_time: Some(7),
        status: None,
        called_rate: None,
        charge: None,
        call_type: None,
        ani_ii: None,
    });
    assert_eq!(
        sim.insert_wrong_member(CdrType::Sms, vec![voice.clone()]),
        1
    );
    // A record of the type's own member is not a wrong one.
    assert_eq!(
        sim.insert_wrong_member(CdrType::Sms, vec![truth[0].clone()]),
        0
    );
    let got = served(&sim, CLIENT_DOC, CdrType::Sms, w, 1000).await;
    assert_eq!(got.len(), truth.len() + 1);
    let at: Vec<usize> = (0..got.len())
        .filter(|&i| typename(&got[i]) == Some("VoiceCdr"))
        .collect();
    assert_eq!(at.len(), 1);
    assert_same(&got[at[0]], &voice, at[0]);
    assert_eq!(
        sim.injected(CdrType::Sms, w).wrong_member,
        [(at[0] as u64, RecordKind::Voice)]
    );
    assert_records_are_the_ground_truth(&sim, &got, CdrType::Sms, w);
    assert_eq!(sim.ground_truth(CdrType::Sms, w).count(), truth.len());
}

#[tokio::test]
async fn expired_tokens_are_answered_in_the_configured_wording() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z");
    let v = vars(CdrType::Sms, w, None, Some(5));
    for answer in [
        ExpiredAnswer::new(200, "jwt expired", None),
        ExpiredAnswer::new(400, "Token expired", None),
        ExpiredAnswer::new(401, "invalid token", None),
        ExpiredAnswer::new(403, "token is invalid", Some("FORBIDDEN")),
        ExpiredAnswer::new(200, "Something went wrong", Some("UNAUTHENTICATED")),
    ] {
        sim.set_expired_answer(answer.clone());
        let token = c.login(USER).await;
        c.page(&token, CLIENT_DOC, v.clone()).await;
        sim.expire_tokens();
        let (status, body) = c.post(Some(&token), CLIENT_DOC, v.clone()).await;
        assert_eq!(status, answer.status, "{answer:?}");
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert!(body["data"].is_null());
        assert_eq!(body["errors"][0]["message"], answer.message.as_str());
        assert_eq!(
            body["errors"][0]["extensions"]["code"].as_str(),
            answer.code.as_deref()
        );
        // A fresh login works; static tokens never expire.
        let fresh = c.login(USER).await;
        c.page(&fresh, CLIENT_DOC, v.clone()).await;
        c.page(STATIC_TOKEN, CLIENT_DOC, v.clone()).await;
    }
    assert_eq!(sim.counters().expired_tokens, 5);
}

#[tokio::test]
async fn removed_records_vanish_from_pages_exports_and_the_ground_truth() {
    let sim = sim().await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T03:00:00Z");
    let all: Vec<Cdr> = sim.ground_truth(CdrType::Voice, w).collect();
    let gap = window("2026-11-01T00:30:00Z", "2026-11-01T01:30:00Z");
    sim.remove(CdrType::Voice, gap);
    let want: Vec<Cdr> = all
        .iter()
        .filter(|r| !gap.contains(cdr_core::Timestamped::datetime(*r)))
        .cloned()
        .collect();
    assert!(want.len() < all.len() && !want.is_empty());
    assert_eq!(
        sim.ground_truth(CdrType::Voice, w).collect::<Vec<_>>(),
        want
    );
    // Paging across the gap serves exactly what is left.
    let got = served(&sim, CLIENT_DOC, CdrType::Voice, w, 97).await;
    assert_records_are_the_ground_truth(&sim, &got, CdrType::Voice, w);
    assert_eq!(got.len(), want.len());

    // Everything before an instant, for one type only.
    let from = t("2026-11-01T02:00:00Z");
    sim.retain_from(CdrType::Voice, from);
    let left: Vec<Cdr> = sim.ground_truth(CdrType::Voice, w).collect();
    assert!(!left.is_empty());
    assert!(
        left.iter()
            .all(|r| cdr_core::Timestamped::datetime(r) >= from)
    );
    let got = served(&sim, CLIENT_DOC, CdrType::Voice, w, 1000).await;
    assert_eq!(got.len(), left.len());
    assert!(sim.ground_truth(CdrType::Sms, w).count() > 3 * 3000);
}

#[tokio::test]
async fn rerating_changes_charges_in_place() {
    let sim = sim().await;
    let w = window("2026-11-01T04:00:00Z", "2026-11-01T04:10:00Z");
    let rated = window("2026-11-01T04:02:00Z", "2026-11-01T04:05:00Z");
    let before: Vec<Cdr> = sim.ground_truth(CdrType::Api, w).collect();
    let add = Decimal::new(125, 3);
    sim.rerate(CdrType::Api, rated, add);
    let after: Vec<Cdr> = sim.ground_truth(CdrType::Api, w).collect();
    assert_eq!(after.len(), before.len(), "the same records");
    let mut changed = 0;
    for (b, a) in before.iter().zip(&after) {
        let (Cdr::Api(b), Cdr::Api(a)) = (b, a) else {
            panic!("not API records");
        };
        let inside = rated.contains(b.datetime);
        match (b.charge, a.charge) {
            (Some(x), Some(y)) if inside => {
                assert_eq!(y, x + add);
                changed += 1;
            }
            (x, y) => assert_eq!(x, y, "outside the window or without a charge"),
        }
        assert_eq!((&b.from, &b.status), (&a.from, &a.status));
    }
    assert!(changed > 0);
    // The pages serve the new amounts.
    let got = served(&sim, CLIENT_DOC, CdrType::Api, w, 10).await;
    assert_records_are_the_ground_truth(&sim, &got, CdrType::Api, w);
}
