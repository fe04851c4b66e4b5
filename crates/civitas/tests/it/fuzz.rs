//! Property tests over arbitrary input at the edges: whatever people (or attackers) type or send, the
//! answer is results, an empty list or a clear 4xx — never a 500.

use crate::helpers::{TestApp, json};
use proptest::prelude::*;
use proptest::strategy::ValueTree;
use proptest::test_runner::{Config, TestRunner};
use reqwest::Method;
use serde_json::json;

/// `n` values of `strategy`, from a runner seeded per test (proptest's default: reproducible from the
/// printed value when a case fails).
fn samples<S: Strategy>(strategy: S, n: usize) -> Vec<S::Value> {
    let mut runner = TestRunner::new(Config::default());
    (0..n)
        .map(|_| {
            strategy
                .new_tree(&mut runner)
                .expect("a value")
                .current()
        })
        .collect()
}

/// Search text: anything at all, and text made of the characters query languages give meaning to.
fn search_text() -> impl Strategy<Value = String> {
    prop_oneof![
        any::<String>(),
        "[\"*^:()+\\-{}\\[\\]'\\\\&|!<>~\\x00\\t\\r\\n ]{0,12}",
        "(AND|OR|NOT|NEAR|wifi|printer|\"|\\*|\\x00|-|:| ){0,8}",
    ]
}

#[tokio::test]
async fn any_search_text_gives_results_or_an_empty_list() {
    let app = TestApp::new().await;
    let (s, t) = json(
        app.api("member-staff", Method::POST, "/api/v1/tickets")
            .json(&json!({ "subject": "Wi-Fi quokka offline", "description": "The \"lobby\" quokka: offline AND unreachable" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let (s, a) = json(
        app.api("hub-agent", Method::POST, "/api/v1/articles")
            .json(&json!({ "title": "Quokka offline", "body": "Restart the \"lobby\" quokka", "status": "published", "visibility": "members" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    // The reported cases first, then random text.
    let mut cases: Vec<String> = ["\"", "\0", "\"\"", "*", "-", "NEAR(", "a\0b", "quokka\"", "\"lobby\""]
        .iter()
        .map(|s| (*s).to_owned())
        .collect();
    cases.extend(samples(search_text(), 48));
    for q in &cases {
        for (who, path, key) in [
            ("hub-agent", "/api/v1/tickets?open=any", "q"),
            ("member-staff", "/api/v1/articles", "q"),
        ] {
            let res = app
                .api(who, Method::GET, path)
                .query(&[(key, q)])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            let body = res.text().await.unwrap();
            assert!(status == 200 || status == 422, "{path} {key}={q:?}: {status} {body}");
        }
        for (who, path, key) in [
            ("hub-agent", "/tickets", "q"),
            ("member-staff", "/kb", "q"),
            ("member-staff", "/kb/suggest", "subject"),
        ] {
            let res = app
                .page(who, Method::GET, path)
                .query(&[(key, q)])
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            assert!(status < 500, "{path} {key}={q:?}: {status}");
        }
    }
    // Words still find what they should, with the syntax characters around them taken as text.
    for (q, tickets, articles) in [
        ("quokka", 1, 1),
        ("\"lobby\"", 1, 1),
        ("quokka*", 1, 1),
        ("\"", 0, 0),
    ] {
        let (s, found) = json(
            app.api("hub-agent", Method::GET, "/api/v1/tickets?open=any")
                .query(&[("q", q)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{found}");
        assert_eq!(found["items"].as_array().unwrap().len(), tickets, "tickets for {q:?}: {found}");
        let (s, found) = json(
            app.api("member-staff", Method::GET, "/api/v1/articles")
                .query(&[("q", q)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{found}");
        let n = found["items"].as_array().map_or_else(|| found.as_array().map_or(0, Vec::len), Vec::len);
        assert_eq!(n, articles, "articles for {q:?}: {found}");
    }
}

#[tokio::test]
async fn the_store_searches_any_text_on_this_backend() {
    let app = TestApp::new().await;
    let view = domain::authz::TicketView {
        all: store::Scope::Region,
        own: store::Scope::Orgs(Default::default()),
        user: app.who("hub-agent").user_id,
        internal: true,
    };
    for q in samples(search_text(), 192) {
        let f = store::desk::tickets::Filter {
            text: Some(q.clone()),
            ..Default::default()
        };
        store::desk::tickets::list(&app.db, &view, &f, &store::page::PageRequest::first(5))
            .await
            .unwrap_or_else(|e| panic!("tickets q={q:?}: {e}"));
        store::desk::kb::search(&app.db, &store::desk::kb::Reader::Desk, Some(&q), None, 5)
            .await
            .unwrap_or_else(|e| panic!("articles q={q:?}: {e}"));
    }
}
