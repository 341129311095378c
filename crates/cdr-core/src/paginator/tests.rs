use super::*;
use crate::response::{BadRecord, UnknownMember};
use chrono::TimeDelta;
use proptest::prelude::*;

#[derive(Debug, Clone, PartialEq, Eq)]
struct Rec {
    id: usize,
    at: DateTime<Utc>,
}

impl Timestamped for Rec {
    fn datetime(&self) -> DateTime<Utc> {
        self.at
    }
}

fn t0() -> DateTime<Utc> {
    DateTime::from_timestamp(1_793_491_200, 0).unwrap() // 2026-11-01T00:00:00Z
}

fn query(limit: u32) -> PageQuery {
    PageQuery {
        cdr_type: CdrType::Sms,
        window: Window::new(t0(), t0() + TimeDelta::hours(1)).unwrap(),
        limit: Limit::new(limit.into()).unwrap(),
        company_id: None,
    }
}

fn page(records: Vec<Rec>, next: Option<&str>) -> Page<Rec> {
    Page {
        records,
        unknown: vec![],
        bad: vec![],
        next_cursor: next.map(str::to_string),
        limit: None,
        export_link: None,
    }
}

/// An in-memory server with the documented behaviour: opaque cursors that encode
/// an offset, page sizes of its own choosing up to the limit.
struct ModelServer {
    records: Vec<Rec>,
    sizes: Vec<usize>,
    served: usize,
}

impl ModelServer {
    fn answer(&mut self, req: PageRequest<'_>) -> Page<Rec> {
        let offset = match req.cursor {
            None => 0,
            Some(c) => c.split(':').nth(1).unwrap().parse::<usize>().unwrap(),
        };
        let want = self.sizes[self.served % self.sizes.len()].min(req.limit.get() as usize);
        self.served += 1;
        let end = (offset + want).min(self.records.len());
        // Each cursor is unique (it names the request that produced it), as an
        // opaque server cursor would be, even after an empty page.
        let next = (end < self.records.len()).then(|| format!("opaque:{end}:{}", self.served));
        page(self.records[offset..end].to_vec(), next.as_deref())
    }
}

fn records_strategy() -> impl Strategy<Value = Vec<Rec>> {
    // Few distinct datetimes, so many records share one; sorted by datetime.
    prop::collection::vec(0i64..40, 0..400).prop_map(|mut secs| {
        secs.sort_unstable();
        secs.into_iter()
            .enumerate()
            .map(|(id, s)| Rec {
                id,
                at: t0() + TimeDelta::seconds(s * 90),
            })
            .collect()
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn every_record_exactly_once_in_order_across_save_and_restore(
        records in records_strategy(),
        limit in 1u32..50,
        sizes in prop::collection::vec(0usize..60, 1..8),
        restore_at in prop::collection::hash_set(0u64..100, 0..5),
    ) {
        // A server may return empty pages before the end; a page size of 0 in
        // `sizes` models that, but the model must make progress eventually.
        let mut sizes = sizes;
        if sizes.iter().all(|&s| s == 0) { sizes.push(1); }
        let mut server = ModelServer { records: records.clone(), sizes, served: 0 };
        let mut p = Paginator::new(query(limit));
        let mut out: Vec<Rec> = Vec::new();
        let bound = records.len() * 10 + 20;
        let mut steps = 0;
        while let Some(req) = p.next_request() {
            steps += 1;
            prop_assert!(steps <= bound, "did not terminate");
            let reply = server.answer(req);
            p.on_page(&reply).map_err(|e| TestCaseError::fail(e.to_string()))?;
            out.extend(reply.records);
            if restore_at.contains(&p.pages()) {
                let saved = serde_json::to_string(&p.checkpoint()).unwrap();
                let cp: Checkpoint = serde_json::from_str(&saved).unwrap();
                p = Paginator::resume(query(limit), cp);
            }
        }
        prop_assert_eq!(&out, &records);
        prop_assert_eq!(p.records(), records.len() as u64);
        prop_assert!(p.is_finished());
        prop_assert!(p.next_request().is_none());
    }

    #[test]
    fn a_looping_server_is_an_error_not_an_endless_loop(
        loop_back_to in 0usize..5,
        pages_before in 1usize..20,
    ) {
        let mut p = Paginator::new(query(10));
        let cursors: Vec<String> = (0..pages_before).map(|i| format!("c{i}")).collect();
        let mut result = Ok(());
        for i in 0..pages_before + 2 {
            // After `pages_before` pages, the server hands out an old cursor again.
            let next = if i < pages_before { cursors[i].clone() } else { cursors[loop_back_to.min(pages_before - 1)].clone() };
            result = p.on_page(&page(vec![], Some(&next)));
            if result.is_err() { break; }
        }
        prop_assert!(
            matches!(result, Err(PaginationError::RepeatedCursor { .. })),
            "{:?}",
            result
        );
    }
}

#[test]
fn ends_only_on_null_cursor() {
    let mut p = Paginator::new(query(10));
    assert_eq!(p.next_request().unwrap().cursor, None);
    // An empty page with a cursor is not the end.
    p.on_page(&page(vec![], Some("a"))).unwrap();
    assert!(!p.is_finished());
    assert_eq!(p.next_request().unwrap().cursor, Some("a"));
    assert_eq!(p.next_request().unwrap().page, 1);
    p.on_page(&page(vec![], None)).unwrap();
    assert!(p.is_finished());
    assert_eq!(
        p.on_page(&page(vec![], None)),
        Err(PaginationError::Finished)
    );
}

#[test]
fn rejects_oversized_pages_counting_unknown_members_and_bad_records() {
    let mut p = Paginator::new(query(2));
    let rec = |id| Rec { id, at: t0() };
    let mut big = page(vec![rec(0), rec(1)], None);
    big.unknown.push(UnknownMember {
        index: 2,
        typename: "FaxCdr".into(),
    });
    assert_eq!(
        p.on_page(&big),
        Err(PaginationError::PageTooLarge {
            page: 0,
            got: 3,
            limit: 2
        })
    );
    // Nothing advanced: the same request is asked again.
    assert_eq!(p.next_request().unwrap().page, 0);
    big.unknown.clear();
    big.bad.push(BadRecord {
        index: 0,
        typename: "MessageCdr".into(),
        field: "charge".into(),
        message: "invalid decimal `N/A`".into(),
        raw: "{}".into(),
    });
    assert!(matches!(
        p.on_page(&big),
        Err(PaginationError::PageTooLarge { got: 3, .. })
    ));
    big.bad.clear();
    p.on_page(&big).unwrap();
    assert_eq!(p.records(), 2);
}

#[test]
fn rejects_records_outside_the_window_at_both_edges() {
    let end = t0() + TimeDelta::hours(1);
    for (at, ok) in [
        (t0(), true),
        (end - TimeDelta::nanoseconds(1), true),
        (end, false),
        (t0() - TimeDelta::nanoseconds(1), false),
    ] {
        let mut p = Paginator::new(query(10));
        let r = p.on_page(&page(vec![Rec { id: 0, at }], None));
        assert_eq!(r.is_ok(), ok, "{at}");
        if !ok {
            assert!(matches!(
                r,
                Err(PaginationError::OutsideWindow { index: 0, .. })
            ));
        }
    }
}

#[test]
fn repeated_cursor_is_detected_immediately() {
    let mut p = Paginator::new(query(10));
    p.on_page(&page(vec![], Some("same"))).unwrap();
    assert_eq!(
        p.on_page(&page(vec![], Some("same"))),
        Err(PaginationError::RepeatedCursor { page: 1 })
    );
}

#[test]
fn limits() {
    assert!(Limit::new(0).is_err());
    assert!(Limit::new(1001).is_err());
    assert_eq!(Limit::new(1000).unwrap(), Limit::MAX);
    let msg = Limit::new(5000).unwrap_err().to_string();
    assert!(msg.contains("1 to 1000"), "{msg}");
    assert!(serde_json::from_str::<Limit>("0").is_err());
}
