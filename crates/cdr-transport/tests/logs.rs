//! What the client logs: one warning per unknown member type, retries with
//! their reason, and never a secret. Log capture is process-wide, so these
//! tests live in their own test binary.

mod common;

use cdr_core::{CdrType, Limit, Token};
use cdr_sim::{Faults, SimConfig, SimUser};
use cdr_transport::{
    Auth, Client, ClientConfig, ExportRequest, RecordsRequest, RetryPolicy, TransportError,
};
use common::{
    FAX, SMS_AT_0, Script, TELEX, capture_logs, download, fetch, login, page_json, patient,
    request, sim_client, window,
};
use futures_util::TryStreamExt;

#[tokio::test]
async fn unknown_members_are_counted_and_skipped_with_one_warning_per_type() {
    let logs = capture_logs();
    let script = Script::default();
    let addr = script.start().await;
    script.push("/graphql", page_json(&[SMS_AT_0, FAX, FAX], Some("c1")));
    script.push("/graphql", page_json(&[FAX, TELEX, SMS_AT_0], None));
    let c = Client::new(
        ClientConfig::new(Auth::Token(Token::new("POAPK_wire")))
            .with_base_url(format!("http://{addr}"))
            .with_retry(RetryPolicy::none()),
    )
    .unwrap();
    let w = window("2026-11-01T00:00:00Z", 60);
    let req = RecordsRequest {
        limit: Limit::new(3).unwrap(),
        ..RecordsRequest::new(CdrType::Sms, w)
    };
    let pages: Vec<_> = c.records(req).try_collect().await.unwrap();
    assert_eq!(pages.len(), 2);
    assert_eq!(pages.iter().map(|p| p.records.len()).sum::<usize>(), 2);
    assert_eq!(pages[1].unknown.len(), 2, "still listed in the page");
    let s = c.stats();
    assert_eq!((s.pages, s.records, s.skipped_unknown), (2, 2, 4));

    let text = logs.text();
    let warnings: Vec<&str> = text
        .lines()
        .filter(|l| l.contains("WARN") && l.contains("unknown type"))
        .collect();
    assert_eq!(warnings.len(), 2, "{text}");
    assert!(warnings[0].contains("typename=FaxCdr"), "{text}");
    assert!(warnings[1].contains("typename=TelexCdr"), "{text}");
    // The span names the type, the window and the page.
    let span = "cdr_page{cdr_type=SMS window=[2026-11-01T00:00:00Z, 2026-11-01T01:00:00Z)";
    assert!(warnings[0].contains(&format!("{span} page=0}}")), "{text}");
    assert!(warnings[1].contains(&format!("{span} page=1}}")), "{text}");
}

#[tokio::test]
async fn no_secret_appears_in_errors_or_logs_of_a_faulty_run() {
    const PASSWORD: &str = "pw-Sekrit-4242";
    let logs = capture_logs();

    let mut users = SimConfig::default().users;
    users.push(SimUser {
        email: "ops@example.com".into(),
        password: PASSWORD.into(),
        admin: false,
        company_id: "1".into(),
    });
    let sim = cdr_sim::start(SimConfig {
        users,
        token_ttl_requests: Some(3),
        export_row_cap: Some(200),
        faults: Faults {
            rate_limit: 0.15,
            retry_after_secs: 0,
            server_error: 0.15,
            reset: 0.15,
            truncate: 0.15,
            seed: 8,
        },
        ..SimConfig::default()
    })
    .await
    .unwrap();
    sim.set_export_faults(true);
    let w = window("2026-11-01T00:00:00Z", 30);
    let mut shown = Vec::new();
    let show = |shown: &mut Vec<String>, e: &TransportError| {
        shown.push(format!("{e}\n{e:?}\n{e:#?}"));
    };

    let c = sim_client(
        sim.base_url(),
        login("ops@example.com", PASSWORD),
        patient(),
    );
    shown.push(format!("{c:?}"));
    let got = fetch(&c, request(CdrType::Sms, w, 50)).await.unwrap();
    assert_eq!(got.len(), sim.ground_truth(CdrType::Sms, w).count());
    // Exports: cut by the row cap, or failing early after too few attempts.
    for retry in [patient(), RetryPolicy::none()] {
        let c = sim_client(sim.base_url(), login("ops@example.com", PASSWORD), retry);
        for t in CdrType::ALL {
            match download(&c, ExportRequest::new(t, w)).await {
                Ok(_) => {}
                Err(e) => show(&mut shown, &e),
            }
        }
    }
    let fragile = sim_client(
        sim.base_url(),
        login("ops@example.com", PASSWORD),
        RetryPolicy::none(),
    );
    for _ in 0..5 {
        if let Err(e) = fetch(&fragile, request(CdrType::Mms, w, 10)).await {
            show(&mut shown, &e);
        }
    }
    let wrong = sim_client(
        sim.base_url(),
        login("ops@example.com", "pw-Wrong-4242"),
        patient(),
    );
    show(&mut shown, &wrong.login().await.unwrap_err());
    let revoked = sim_client(
        sim.base_url(),
        Auth::Token(Token::new("POAPK_revoked-Sekrit")),
        patient(),
    );
    show(
        &mut shown,
        &fetch(&revoked, request(CdrType::Sms, w, 50))
            .await
            .unwrap_err(),
    );
    let mut req = request(CdrType::Sms, w, 50);
    req.company_id = Some("2".into());
    show(&mut shown, &fetch(&c, req).await.unwrap_err());
    sim.shutdown().await;

    let stats = c.stats();
    assert!(
        stats.retries > 0 && stats.retries_unauthorized > 0,
        "{stats:?}"
    );
    let errors = shown.join("\n");
    assert!(errors.contains("was cut after"), "{errors}");
    assert!(errors.contains("login refused"), "{errors}");
    assert!(errors.contains("set a fresh TSG_TOKEN"), "{errors}");
    let logs = logs.text();
    assert!(logs.contains("retrying request"), "{logs}");
    assert!(logs.contains("reason=unauthorized"), "{logs}");
    assert!(logs.contains("export cut short"), "{logs}");
    for text in [&errors, &logs] {
        for secret in [
            PASSWORD,
            "pw-Wrong-4242",
            "POAPK_",
            "Sekrit",
            "sig=",
            "/export/sms",
            "fields=",
        ] {
            assert!(!text.contains(secret), "`{secret}` leaked into:\n{text}");
        }
    }
}
