//! Login, bearer tokens, static tokens and token expiry over real HTTP.

mod common;

use cdr_core::CdrType;
use cdr_sim::SimConfig;
use common::*;

#[tokio::test]
async fn login_answers_the_documented_200_and_401_bodies() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let (status, body) = c.login_raw(USER.0, USER.1).await;
    assert_eq!(status, 200);
    assert!(body["token"].as_str().unwrap().starts_with("POAPK_"));
    let user = &body["user"];
    assert_eq!(user["email"], USER.0);
    assert_eq!(user["level"], "basic_user");
    for k in ["first_name", "id", "last_name"] {
        assert!(!user[k].is_null(), "{k}: {body}");
    }
    let (status, body) = c.login_raw(ADMIN.0, ADMIN.1).await;
    assert_eq!(status, 200);
    assert_eq!(body["user"]["level"], "admin");
    for (email, password) in [
        (USER.0, "wrong"),
        ("nobody@example.com", USER.1),
        (ADMIN.0, USER.1),
    ] {
        let (status, body) = c.login_raw(email, password).await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            serde_json::json!({"errors": [{"id": "unauthorized", "message": "Invalid email or password."}]})
        );
    }
    let r = c
        .http
        .post(format!("{}/account/login", c.base))
        .body("not json")
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 400);
    let counters = sim.counters();
    assert_eq!((counters.logins, counters.failed_logins), (2, 4));
    // Two tokens of one user are distinct and both work.
    let a = c.login(USER).await;
    let b = c.login(USER).await;
    assert_ne!(a, b);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z");
    for tok in [&a, &b] {
        c.page(tok, FULL_DOC, vars(CdrType::Sms, w, None, Some(5)))
            .await;
    }
}

#[tokio::test]
async fn missing_or_unknown_tokens_get_401_and_static_tokens_work() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z");
    let v = vars(CdrType::Sms, w, None, Some(5));
    for token in [None, Some("POAPK_unknown"), Some("")] {
        let (status, body) = c.post(token, FULL_DOC, v.clone()).await;
        assert_eq!(status, 401, "{token:?}");
        let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(body["errors"][0]["message"], "unauthorized");
    }
    // Not a bearer scheme.
    let r = c
        .http
        .post(format!("{}/graphql", c.base))
        .header("authorization", format!("Basic {STATIC_TOKEN}"))
        .json(&serde_json::json!({"query": FULL_DOC, "variables": v}))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status(), 401);
    // The static token acts as the basic user: listing works, companyId does not.
    let page = c.page(STATIC_TOKEN, FULL_DOC, v.clone()).await;
    assert_eq!(page.cdrs.len(), 5);
    let mut with_company = v.clone();
    with_company["companyId"] = "1".into();
    let errors = c.errors(STATIC_TOKEN, FULL_DOC, with_company).await;
    assert!(errors[0].contains("companyId"), "{errors:?}");
}

#[tokio::test]
async fn tokens_expire_after_n_requests_and_a_new_login_recovers() {
    let sim = cdr_sim::start(SimConfig {
        token_ttl_requests: Some(3),
        ..config()
    })
    .await
    .unwrap();
    let c = Client::new(&sim);
    let w = window("2026-11-01T00:00:00Z", "2026-11-01T00:01:00Z");
    let v = vars(CdrType::Sms, w, None, Some(5));
    let token = c.login(USER).await;
    for _ in 0..3 {
        c.page(&token, FULL_DOC, v.clone()).await;
    }
    for _ in 0..2 {
        let (status, body) = c.post(Some(&token), FULL_DOC, v.clone()).await;
        assert_eq!(
            status, 200,
            "an expired token is a GraphQL error, not a 401"
        );
        let errors = graphql_errors(&body);
        assert!(errors[0].contains("unauthenticated"), "{errors:?}");
    }
    assert_eq!(sim.counters().expired_tokens, 2);
    let fresh = c.login(USER).await;
    c.page(&fresh, FULL_DOC, v.clone()).await;
    // Static tokens do not expire.
    for _ in 0..5 {
        c.page(STATIC_TOKEN, FULL_DOC, v.clone()).await;
    }
    assert_eq!(sim.counters().expired_tokens, 2);
}

#[tokio::test]
async fn the_clock_can_be_moved() {
    let sim = sim().await;
    let c = Client::new(&sim);
    let token = c.login(USER).await;
    let w = window("2026-11-02T00:00:00Z", "2026-11-02T01:00:00Z");
    let errors = c
        .errors(&token, FULL_DOC, vars(CdrType::Sms, w, None, Some(5)))
        .await;
    assert!(errors[0].contains("later than now"), "{errors:?}");
    sim.set_now(Some(t("2026-11-02T01:00:00Z")));
    let page = c
        .page(&token, FULL_DOC, vars(CdrType::Sms, w, None, Some(5)))
        .await;
    assert_eq!(page.cdrs.len(), 5);
    // The system clock: 2026-11-02 may still lie ahead of it or not; a window
    // far in the future is refused either way.
    sim.set_now(None);
    let far = window("2999-01-01T00:00:00Z", "2999-01-01T01:00:00Z");
    let errors = c
        .errors(&token, FULL_DOC, vars(CdrType::Sms, far, None, Some(5)))
        .await;
    assert!(errors[0].contains("later than now"), "{errors:?}");
}
