//! The signed CSV export over real HTTP.

mod common;

use cdr_core::{Cdr, CdrType, MessageCdr, RecordKind};
use common::*;
use rust_decimal::Decimal;

/// Selects `fields` (in this order) for `kind`'s fragment, everything for the others.
fn narrowed_doc(kind: RecordKind, fields: &[&str]) -> String {
    let fragment = format!(
        "... on {} {{ __typename {} }}",
        kind.typename(),
        fields.join(" ")
    );
    let mut doc = String::from(
        "query E($type: CdrType!, $startDatetime: DateTime!, $endDatetime: DateTime!, $cursor: String, $limit: Int) {
           cdrRecords(type: $type, startDatetime: $startDatetime, endDatetime: $endDatetime, cursor: $cursor, limit: $limit) {
             paginationInfo { nextCursor }
             exportLink
             cdrs {\n",
    );
    for k in RecordKind::ALL {
        if k == kind {
            doc.push_str(&fragment);
        } else {
            doc.push_str(&format!(
                "... on {} {{ __typename datetime }}\n",
                k.typename()
            ));
        }
    }
    doc.push_str("} } }");
    doc
}

async fn export_link(
    c: &Client,
    token: &str,
    doc: &str,
    t: CdrType,
    w: cdr_core::Window,
) -> String {
    let page = c.page(token, doc, vars(t, w, None, Some(1))).await;
    page.export_link.expect("exportLink")
}

async fn download(c: &Client, link: &str) -> (u16, Result<String, reqwest::Error>) {
    let r = c.http.get(link).send().await.unwrap();
    let status = r.status().as_u16();
    let body = r
        .bytes()
        .await
        .map(|b| String::from_utf8(b.to_vec()).unwrap());
    (status, body)
}

#[tokio::test]
async fn export_csv_equals_the_ground_truth_for_the_selected_fields() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-10-31T23:00:00Z", "2026-11-01T03:00:00Z");
    // Late records with CSV-hostile text and an empty string.
    sim.insert_late(
        CdrType::Sms,
        vec![Cdr::Message(MessageCdr {
            datetime: t("2026-11-01T01:00:00.5Z"),
            from_number: Some(Default::default()),
            to_number: Some("say \"hi\", then\r\nleave".into()),
            direction: None,
            status: Some("ok".into()),
            charge: Some(Decimal::new(-1, 5)),
            r#type: Some("SMS".into()),
        })],
    );
    for (t, fields) in [
        (
            CdrType::Sms,
            vec!["charge", "datetime", "status", "fromNumber", "toNumber"],
        ),
        (
            CdrType::Mms,
            vec![
                "datetime",
                "fromNumber",
                "toNumber",
                "direction",
                "status",
                "charge",
                "type",
            ],
        ),
        (
            CdrType::Voice,
            vec![
                "sessionTime",
                "callId",
                "calledRate",
                "aniIi",
                "didUsed",
                "status",
            ],
        ),
        (
            CdrType::Api,
            vec!["type", "from", "destination", "status", "charge"],
        ),
    ] {
        let kind = t.record_kind();
        let link = export_link(&c, &token, &narrowed_doc(kind, &fields), t, w).await;
        assert!(
            link.starts_with(&format!("{}/export/", sim.base_url())),
            "{link}"
        );
        assert!(link.contains("&sig="), "{link}");
        let (status, body) = download(&c, &link).await;
        assert_eq!(status, 200);
        let body = body.unwrap();
        assert!(body.ends_with("\r\n"));
        let rows = parse_csv(&body);
        let header: Vec<String> = rows[0].iter().map(|h| h.clone().unwrap()).collect();
        assert_eq!(
            header, fields,
            "{t}: header = selected fields in query order"
        );
        let truth: Vec<Cdr> = sim.ground_truth(t, w).collect();
        assert_eq!(rows.len() - 1, truth.len(), "{t}");
        for (i, (row, want)) in rows[1..].iter().zip(&truth).enumerate() {
            let expected: Vec<Option<String>> = fields
                .iter()
                .map(|f| expected_text(want, kind.column_index(f).unwrap()))
                .collect();
            assert_eq!(row, &expected, "{t} row {i}");
        }
        let hostile = truth.iter().any(|r| {
            (0..kind.columns().len())
                .any(|c| expected_text(r, c).is_some_and(|s| s.contains([',', '"', '\n'])))
        });
        assert!(hostile, "{t}: the window holds CSV-hostile text");
    }
    assert_eq!(sim.counters().exports, 4);
}

#[tokio::test]
async fn export_links_do_not_depend_on_paging_and_select_all_when_nothing_is_selected() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:30:00Z");
    let first = c
        .page(&token, FULL_DOC, vars(CdrType::Api, w, None, Some(3)))
        .await;
    let second = c
        .page(
            &token,
            FULL_DOC,
            vars(CdrType::Api, w, first.next_cursor.as_deref(), Some(5)),
        )
        .await;
    assert_eq!(first.export_link, second.export_link);
    let doc = "query($s: DateTime!, $e: DateTime!) { cdrRecords(type: API, startDatetime: $s, endDatetime: $e) { exportLink cdrs { __typename } } }";
    let v = serde_json::json!({"s": "2026-11-01T00:00:00Z", "e": "2026-11-01T00:30:00Z"});
    let page = c.page(&token, doc, v).await;
    let (_, body) = download(&c, &page.export_link.unwrap()).await;
    let body = body.unwrap();
    assert!(
        body.starts_with("datetime,from,destination,status,charge,type\r\n"),
        "{body}"
    );
}

#[tokio::test]
async fn tampered_export_links_get_403() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let link = export_link(&c, &token, FULL_DOC, CdrType::Sms, w).await;
    let (status, _) = download(&c, &link).await;
    assert_eq!(status, 200);
    let tampered = [
        link.replace("/export/sms", "/export/mms"),
        link.replace("start=2026-11-01T00:00:00Z", "start=2026-10-01T00:00:00Z"),
        link.replace("end=2026-11-01T01:00:00Z", "end=2026-11-01T02:00:00Z"),
        link.replace("fields=datetime,", "fields="),
        link.replace("company=1", "company=2"),
        link.replace("&company=1", ""),
        format!("{link}&extra=1"),
        {
            let (head, sig) = link.split_once("&sig=").unwrap();
            let mut s = sig.to_string().into_bytes();
            s[3] = if s[3] == b'A' { b'B' } else { b'A' };
            format!("{head}&sig={}", String::from_utf8(s).unwrap())
        },
        link.split("&sig=").next().unwrap().to_string(),
        format!("{}/export/sms", sim.base_url()),
        format!("{}/export/fax?sig=x", sim.base_url()),
    ];
    for bad in tampered {
        assert_ne!(bad, link);
        let (status, _) = download(&c, &bad).await;
        assert_eq!(status, 403, "{bad}");
    }
    // The link works without the token: it is public to whoever holds it.
    let r = reqwest::get(&link).await.unwrap();
    assert_eq!(r.status(), 200);
    assert_eq!(sim.counters().exports, 2);
}

#[tokio::test]
async fn the_row_cap_drops_the_connection_before_the_end() {
    let sim = cdr_sim::start(cdr_sim::SimConfig {
        export_row_cap: Some(1000),
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T02:00:00Z");
    assert_eq!(sim.ground_truth(CdrType::Sms, w).count(), 7200);
    let link = export_link(&c, &token, FULL_DOC, CdrType::Sms, w).await;
    sim.set_export_row_cap(None);
    let (_, full) = download(&c, &link).await;
    let full = full.unwrap();
    let ends = record_ends(&full);
    assert_eq!(ends.len(), 7201);
    sim.set_export_row_cap(Some(1000));
    let mut r = c.http.get(&link).send().await.unwrap();
    assert_eq!(r.status(), 200, "headers arrive");
    let mut received = Vec::new();
    let err = loop {
        match r.chunk().await {
            Ok(Some(chunk)) => received.extend_from_slice(&chunk),
            Ok(None) => panic!("the body ended properly after {} bytes", received.len()),
            Err(e) => break e,
        }
    };
    assert!(err.is_body() || err.is_decode(), "{err:?}");
    // What arrived is a prefix of the export: the header, then at most the cap.
    assert!(full.as_bytes().starts_with(&received));
    assert!(
        received.len() > ends[0] && received.len() <= ends[1000],
        "{}",
        received.len()
    );
    assert_eq!(sim.counters().aborted_exports, 1);
    // Exactly at the cap the export ends properly.
    sim.set_export_row_cap(Some(300));
    let api = export_link(
        &c,
        &token,
        FULL_DOC,
        CdrType::Api,
        window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z"),
    )
    .await;
    let (_, body) = download(&c, &api).await;
    assert_eq!(parse_csv(&body.unwrap()).len(), 301);
    assert_eq!(sim.counters().aborted_exports, 1);
}

#[tokio::test]
async fn export_faults_apply_only_when_enabled() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T01:00:00Z");
    let link = export_link(&c, &token, FULL_DOC, CdrType::Sms, w).await;
    sim.set_faults(cdr_sim::Faults {
        reset: 1.0,
        seed: 1,
        ..cdr_sim::Faults::default()
    });
    let (status, body) = download(&c, &link).await;
    assert_eq!(status, 200);
    assert!(body.is_ok(), "exports draw no faults by default");
    sim.set_export_faults(true);
    let (_, body) = download(&c, &link).await;
    assert!(body.is_err(), "an export fault drops the connection");
    assert_eq!(sim.counters().aborted_exports, 1);
}
