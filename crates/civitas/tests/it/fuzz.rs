//! Property tests over arbitrary input at the edges: whatever people (or attackers) type or send, the
//! answer is results, an empty list or a clear 4xx — never a 500.

use crate::helpers::{TestApp, json, send};
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
        .map(|_| strategy.new_tree(&mut runner).expect("a value").current())
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
    let (s, t) = send(&app, "member-staff", Method::POST, "/api/v1/tickets", json!({ "subject": "Wi-Fi quokka offline", "description": "The \"lobby\" quokka: offline AND unreachable" }))
    .await;
    assert_eq!(s, 201, "{t}");
    let (s, a) = send(&app, "hub-agent", Method::POST, "/api/v1/articles", json!({ "title": "Quokka offline", "body": "Restart the \"lobby\" quokka", "status": "published", "visibility": "members" }))
    .await;
    assert_eq!(s, 201, "{a}");
    // The reported cases first, then random text.
    let mut cases: Vec<String> = [
        "\"",
        "\0",
        "\"\"",
        "*",
        "-",
        "NEAR(",
        "a\0b",
        "quokka\"",
        "\"lobby\"",
    ]
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
            assert!(
                status == 200 || status == 422,
                "{path} {key}={q:?}: {status} {body}"
            );
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
        assert_eq!(
            found["items"].as_array().unwrap().len(),
            tickets,
            "tickets for {q:?}: {found}"
        );
        let (s, found) = json(
            app.api("member-staff", Method::GET, "/api/v1/articles")
                .query(&[("q", q)])
                .send()
                .await
                .unwrap(),
        )
        .await;
        assert_eq!(s, 200, "{found}");
        let n = found["items"]
            .as_array()
            .map_or_else(|| found.as_array().map_or(0, Vec::len), Vec::len);
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

/// A mail message: arbitrary bytes, or headers a mail server would pass with random values (from a known
/// sender, a stranger or nobody), random references and a random body.
fn message() -> impl Strategy<Value = Vec<u8>> {
    let header_value = prop_oneof![
        any::<String>(),
        "[ -~]{0,40}",
        Just("member-staff@north-reading.example.gov".to_owned())
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..1024),
        (
            prop_oneof![
                Just("member-staff@north-reading.example.gov".to_owned()),
                Just("stranger@elsewhere.example".to_owned()),
                any::<String>(),
            ],
            header_value.clone(),
            header_value.clone(),
            header_value,
            any::<String>(),
            proptest::collection::vec(any::<u8>(), 0..64),
        )
            .prop_map(|(from, subject, refs, extra, body, tail)| {
                let mut m = format!(
                    "From: {from}\r\nSubject: {subject}\r\nReferences: {refs}\r\nIn-Reply-To: {extra}\r\n\
                     Message-ID: <{}@fuzz.example>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{body}",
                    uuid::Uuid::now_v7()
                )
                .into_bytes();
                m.extend(tail);
                m
            }),
    ]
}

#[tokio::test]
async fn mail_ingest_stores_any_message_or_says_why() {
    let app = TestApp::new().await;
    let own = "servicedesk@melrose.example.gov";
    for raw in samples(message(), 64) {
        let outcome = civitas::mailgate::ingest(&app.db, &raw, own)
            .await
            .unwrap_or_else(|e| panic!("{:?}: not stored: {e:#}", String::from_utf8_lossy(&raw)));
        if let civitas::mailgate::Ingested::Quarantine(why)
        | civitas::mailgate::Ingested::Triage(why) = &outcome
        {
            assert!(!why.is_empty(), "a quarantined or triaged message says why");
        }
    }
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(v.intact(), "{v:?}");
}

/// A CSV file: arbitrary bytes, or rows under the import's header with random cells.
fn csv_file(header: &'static str) -> impl Strategy<Value = Vec<u8>> {
    let cell = prop_oneof![
        any::<String>(),
        "[ -~]{0,12}",
        Just("north-reading".to_owned()),
        Just("server".to_owned()),
        Just("2026-09".to_owned()),
        Just("backup.gb_month".to_owned()),
        Just("12.5".to_owned()),
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..512),
        proptest::collection::vec(proptest::collection::vec(cell, 0..7), 0..6).prop_map(
            move |rows| {
                let mut out = format!("{header}\n");
                for r in rows {
                    out.push_str(&r.join(","));
                    out.push('\n');
                }
                out.into_bytes()
            }
        ),
    ]
}

/// The answer is success or a 4xx with a problem body — never a 5xx.
async fn assert_clear(res: reqwest::Response, what: &str) {
    let status = res.status().as_u16();
    let problem = res.headers().get("content-type").is_some_and(|c| {
        c.to_str()
            .unwrap_or("")
            .starts_with("application/problem+json")
    });
    let body = res.text().await.unwrap();
    assert!(status < 500, "{what}: {status} {body}");
    if status >= 400 {
        assert!(problem, "{what}: a 4xx is problem+json: {status} {body}");
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        assert!(
            v["title"].is_string() && v["status"] == status,
            "{what}: {body}"
        );
    }
}

#[tokio::test]
async fn csv_imports_take_any_file_and_name_what_is_wrong() {
    let app = TestApp::new().await;
    for (path, who, header) in [
        (
            "/api/v1/cis/import?dry_run=true",
            "member-admin",
            "org,type,name,status,vcpu",
        ),
        ("/api/v1/cis/import", "hub-admin", "type,name,org"),
        (
            "/api/v1/usage/import?dry_run=true",
            "hub-admin",
            "id,org,meter,quantity,period",
        ),
        (
            "/api/v1/usage/import",
            "hub-admin",
            "id,org,meter,quantity,period,source",
        ),
    ] {
        for file in samples(csv_file(header), 24) {
            let res = app
                .api(who, Method::POST, path)
                .header("content-type", "text/csv")
                .body(file.clone())
                .send()
                .await
                .unwrap();
            assert_clear(res, &format!("{path} {:?}", String::from_utf8_lossy(&file))).await;
        }
    }
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(v.intact(), "{v:?}");
}

/// A JSON body: arbitrary bytes, or an object with the fields write endpoints read, of random types.
fn json_body() -> impl Strategy<Value = Vec<u8>> {
    let leaf = prop_oneof![
        Just(serde_json::Value::Null),
        any::<bool>().prop_map(serde_json::Value::from),
        any::<i64>().prop_map(serde_json::Value::from),
        any::<f64>()
            .prop_filter("finite", |f| f.is_finite())
            .prop_map(serde_json::Value::from),
        any::<String>().prop_map(serde_json::Value::from),
        "[ -~]{0,12}".prop_map(serde_json::Value::from),
    ];
    let value = leaf.prop_recursive(2, 8, 4, |inner| {
        prop_oneof![
            proptest::collection::vec(inner.clone(), 0..4).prop_map(serde_json::Value::from),
            proptest::collection::hash_map("[a-z_]{1,8}", inner, 0..4)
                .prop_map(|m| serde_json::Value::Object(m.into_iter().collect())),
        ]
    });
    let fields = [
        "subject",
        "description",
        "name",
        "address",
        "kind",
        "type",
        "status",
        "ticket",
        "minutes",
        "title",
        "body",
        "org",
        "period",
        "records",
        "price",
        "population",
        "attributes",
        "date",
    ];
    prop_oneof![
        proptest::collection::vec(any::<u8>(), 0..256),
        proptest::collection::vec((0..fields.len(), value.clone()), 0..6).prop_map(move |kv| {
            let m: serde_json::Map<String, serde_json::Value> = kv
                .into_iter()
                .map(|(i, v)| (fields[i].to_owned(), v))
                .collect();
            serde_json::to_vec(&m).unwrap_or_default()
        }),
        value.prop_map(|v| serde_json::to_vec(&v).unwrap_or_default()),
    ]
}

#[tokio::test]
async fn any_json_body_to_a_write_endpoint_gets_a_clear_answer() {
    let app = TestApp::new().await;
    let org = format!("/api/v1/orgs/{}", crate::helpers::OWN);
    let endpoints: Vec<(Method, String, &str)> = vec![
        (Method::POST, "/api/v1/tickets".into(), "member-staff"),
        (Method::POST, format!("{org}/departments"), "member-admin"),
        (Method::POST, format!("{org}/sites"), "member-admin"),
        (Method::PATCH, org.clone(), "member-admin"),
        (Method::POST, "/api/v1/cis".into(), "member-admin"),
        (Method::POST, "/api/v1/time-entries".into(), "hub-agent"),
        (Method::POST, "/api/v1/articles".into(), "hub-agent"),
        (Method::POST, "/api/v1/rate-cards".into(), "hub-admin"),
        (Method::POST, "/api/v1/agreements".into(), "hub-admin"),
        (Method::POST, "/api/v1/usage".into(), "hub-admin"),
        (Method::POST, "/api/v1/invoice-runs".into(), "hub-admin"),
    ];
    let bodies = samples(json_body(), 24);
    for (method, path, who) in &endpoints {
        for body in &bodies {
            let res = app
                .api(who, method.clone(), path)
                .header("content-type", "application/json")
                .body(body.clone())
                .send()
                .await
                .unwrap();
            assert_clear(
                res,
                &format!("{method} {path} {:?}", String::from_utf8_lossy(body)),
            )
            .await;
        }
    }
}

#[tokio::test]
async fn any_form_body_to_a_page_gets_a_page_not_a_500() {
    let app = TestApp::new().await;
    let own = crate::helpers::OWN;
    let forms: [(&str, String); 6] = [
        ("member-staff", "/tickets".into()),
        ("member-admin", format!("/orgs/{own}/departments")),
        ("member-admin", format!("/orgs/{own}/sites")),
        ("hub-agent", "/kb".into()),
        ("hub-agent", "/tickets/bulk".into()),
        ("member-admin", "/cmdb".into()),
    ];
    let field = prop_oneof![
        Just("subject"),
        Just("description"),
        Just("name"),
        Just("address"),
        Just("kind"),
        Just("title"),
        Just("body"),
        Just("status"),
        Just("minutes"),
        Just("ticket"),
        Just("x"),
    ];
    let bodies = samples(
        prop_oneof![
            proptest::collection::vec(any::<u8>(), 0..256),
            proptest::collection::vec((field, any::<String>()), 0..6).prop_map(|kv| {
                serde_urlencoded::to_string(&kv)
                    .unwrap_or_default()
                    .into_bytes()
            }),
        ],
        24,
    );
    for (who, path) in &forms {
        let csrf = app.who(who).csrf.clone();
        for body in &bodies {
            let mut b = format!("_csrf={csrf}&").into_bytes();
            b.extend_from_slice(body);
            let res = app
                .page(who, Method::POST, path)
                .header("content-type", "application/x-www-form-urlencoded")
                .header("x-csrf-token", &csrf)
                .body(b)
                .send()
                .await
                .unwrap();
            let status = res.status().as_u16();
            assert!(
                status < 500 && status != 404 && status != 405,
                "POST {path} {:?}: {status}",
                String::from_utf8_lossy(body)
            );
        }
    }
}
