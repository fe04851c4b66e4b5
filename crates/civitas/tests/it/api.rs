//! The JSON API as a script author meets it: errors that name the field, ETags, idempotent retries,
//! keyset pagination, tokens.

use crate::helpers::{OTHER, OWN, TestApp, call, get, json, send};
use reqwest::Method;
use serde_json::json;

#[tokio::test]
async fn me_reports_the_person_and_their_grants() {
    let app = TestApp::new().await;
    let (status, body) = get(&app, "member-admin", "/api/v1/me").await;
    assert_eq!(status, 200);
    assert_eq!(
        body["user"]["email"],
        "member-admin@north-reading.example.gov"
    );
    assert_eq!(body["grants"][0]["role"], "member-admin");
    assert_eq!(body["grants"][0]["org_slug"], OWN);
    assert!(
        body["user"].get("password_hash").is_none(),
        "the hash must never be serialised"
    );
}

#[tokio::test]
async fn requests_without_valid_credentials_get_401_problems() {
    let app = TestApp::new().await;
    let res = app
        .client
        .get(app.url("/api/v1/orgs"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let res = app
        .client
        .get(app.url("/api/v1/orgs"))
        .bearer_auth("cvt_not-a-token")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_member_lists_only_itself_and_the_hub_lists_everyone() {
    let app = TestApp::new().await;
    let (_, body) = get(&app, "member-staff", "/api/v1/orgs").await;
    let slugs: Vec<&str> = body["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, [OWN]);
    let (_, body) = get(&app, "hub-agent", "/api/v1/orgs").await;
    assert_eq!(body["items"].as_array().unwrap().len(), 3);
}

#[tokio::test]
async fn bad_input_names_the_field() {
    let app = TestApp::new().await;
    let res = app
        .api("hub-admin", Method::POST, "/api/v1/orgs")
        .json(&json!({ "name": "", "kind": "village", "population": -5 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["content-type"], "application/problem+json");
    let (status, body) = json(res).await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert!(
        fields.contains(&"name") && fields.contains(&"kind") && fields.contains(&"population"),
        "{body}"
    );

    let (status, body) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/orgs",
        json!({ "name": "Reading", "kind": "town", "population": "many" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "population", "{body}");

    let (status, _) = json(
        app.api("hub-admin", Method::POST, "/api/v1/orgs")
            .header("content-type", "application/json")
            .body("{not json")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 400);

    let (status, body) = get(&app, "hub-admin", "/api/v1/orgs?limit=0").await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "limit");

    let (status, body) = get(&app, "hub-admin", "/api/v1/orgs?limit=lots").await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "limit");
}

#[tokio::test]
async fn a_taken_slug_or_email_is_a_conflict_on_that_field() {
    let app = TestApp::new().await;
    let (status, body) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/orgs",
        json!({ "name": "Stoneham", "slug": OTHER, "kind": "town" }),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["errors"][0]["field"], "slug");
    let (status, body) = send(&app, "member-admin", Method::POST, &format!("/api/v1/orgs/{OWN}/users"), json!({ "email": "member-staff@north-reading.example.gov", "name": "Twin", "role": "member-staff" }))
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["errors"][0]["field"], "email");
}

#[tokio::test]
async fn a_stale_if_match_is_refused_and_nothing_is_overwritten() {
    let app = TestApp::new().await;
    let path = format!("/api/v1/orgs/{OWN}");
    let res = app
        .api("member-admin", Method::GET, &path)
        .send()
        .await
        .unwrap();
    let etag = res.headers()["etag"].to_str().unwrap().to_owned();
    let res = app
        .api("hub-admin", Method::PATCH, &path)
        .header("if-match", &etag)
        .json(&json!({ "population": 16000 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let new_etag = res.headers()["etag"].to_str().unwrap().to_owned();
    assert_ne!(etag, new_etag);
    let (status, body) = json(
        app.api("member-admin", Method::PATCH, &path)
            .header("if-match", &etag)
            .json(&json!({ "population": 1 }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 412, "{body}");
    let (_, body) = get(&app, "member-admin", &path).await;
    assert_eq!(body["population"], 16000);
}

#[tokio::test]
async fn members_edit_settings_but_only_the_hub_renames() {
    let app = TestApp::new().await;
    let path = format!("/api/v1/orgs/{OWN}");
    let (status, body) = send(&app, "member-admin", Method::PATCH, &path, json!({ "time_zone": "America/Chicago", "fiscal_year_start_month": 1, "business_hours": ["07:00-15:30", "07:00-15:30", "07:00-15:30", "07:00-15:30", "07:00-12:00", "", ""] }))
    .await;
    assert_eq!(status, 200, "{body}");
    assert_eq!(body["time_zone"], "America/Chicago");
    // The name is the hub's record: refused, naming the field, so that the rest of a form can be kept.
    let (status, body) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &path,
        json!({ "name": "Republic of North Reading" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "name");
    let (status, body) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &path,
        json!({ "business_hours": ["17:00-08:00", "", "", "", "", "", ""] }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"][0]["field"], "business_hours.monday");
    let (status, _) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &path,
        json!({ "name": "Town of North Reading, MA" }),
    )
    .await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn an_idempotency_key_makes_a_retry_safe() {
    let app = TestApp::new().await;
    let path = format!("/api/v1/orgs/{OWN}/departments");
    let send = |body: serde_json::Value| {
        app.api("member-admin", Method::POST, &path)
            .header("idempotency-key", "k-1")
            .json(&body)
            .send()
    };
    let first = send(json!({ "name": "Assessors" })).await.unwrap();
    assert_eq!(first.status(), 201);
    let (_, a) = json(first).await;
    let second = send(json!({ "name": "Assessors" })).await.unwrap();
    assert_eq!(second.status(), 201);
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    let (_, b) = json(second).await;
    assert_eq!(a["id"], b["id"]);
    let (_, list) = get(&app, "member-admin", &path).await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (status, body) = json(send(json!({ "name": "Collector" })).await.unwrap()).await;
    assert_eq!(status, 422, "same key, different request: {body}");
}

#[tokio::test]
async fn lists_page_by_cursor_without_gaps_or_repeats() {
    let app = TestApp::new().await;
    let path = format!("/api/v1/orgs/{OWN}/departments");
    for i in 0..7 {
        let res = app
            .api("member-admin", Method::POST, &path)
            .json(&json!({ "name": format!("Dept {i}") }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    let mut seen = Vec::new();
    let mut cursor: Option<String> = None;
    loop {
        let url = match &cursor {
            Some(c) => format!("{path}?limit=3&cursor={c}"),
            None => format!("{path}?limit=3"),
        };
        let (status, body) = get(&app, "member-admin", &url).await;
        assert_eq!(status, 200);
        for d in body["items"].as_array().unwrap() {
            seen.push(d["name"].as_str().unwrap().to_owned());
        }
        match body.get("next_cursor").and_then(|c| c.as_str()) {
            Some(c) => cursor = Some(c.to_owned()),
            None => break,
        }
    }
    assert_eq!(
        seen,
        (0..7).map(|i| format!("Dept {i}")).collect::<Vec<_>>()
    );
    let (status, body) = get(&app, "member-admin", &format!("{path}?cursor=%%%")).await;
    assert_eq!(status, 422, "{body}");
}

#[tokio::test]
async fn sites_and_departments_round_trip_with_audit() {
    let app = TestApp::new().await;
    let (status, site) = send(&app, "member-admin", Method::POST, &format!("/api/v1/orgs/{OWN}/sites"), json!({ "name": "Batchelder School", "address": "175 Park St, North Reading, MA", "kind": "school" }))
    .await;
    assert_eq!(status, 201, "{site}");
    let id = site["id"].as_str().unwrap();
    let (status, edited) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/sites/{id}"),
        json!({ "kind": "library" }),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(edited["kind"], "library");
    assert_eq!(edited["name"], "Batchelder School");
    let (status, body) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/sites"),
        json!({ "name": "X", "kind": "castle" }),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = body["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["address", "kind"]);
    let res = app
        .api(
            "member-admin",
            Method::DELETE,
            &format!("/api/v1/sites/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let (_, log) = get(
        &app,
        "member-auditor",
        &format!("/api/v1/audit?entity_id={id}"),
    )
    .await;
    let actions: Vec<&str> = log["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["site.delete", "site.update", "site.create"]);
    assert_eq!(
        log["items"][0]["actor"],
        "member-admin@north-reading.example.gov"
    );
    assert_eq!(log["items"][1]["before"]["kind"], "school");
    assert_eq!(log["items"][1]["after"]["kind"], "library");
}

#[tokio::test]
async fn tokens_are_shown_once_work_and_can_be_revoked() {
    let app = TestApp::new().await;
    let (status, created) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tokens",
        json!({ "name": "laptop" }),
    )
    .await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_owned();
    assert!(token.starts_with("cvt_"));
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let (_, list) = get(&app, "member-staff", "/api/v1/tokens").await;
    assert!(
        list["items"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t.get("token").is_none()),
        "a listed token never shows its secret"
    );
    // Another person cannot revoke it.
    let id = created["id"].as_str().unwrap();
    let res = app
        .api(
            "member-admin",
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .api(
            "member-staff",
            Method::DELETE,
            &format!("/api/v1/tokens/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
}

#[tokio::test]
async fn a_disabled_person_loses_access_at_once() {
    let app = TestApp::new().await;
    let id = app.who("member-staff").user_id;
    let (status, _) = call(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/users/{id}/disable"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.api("member-staff", Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
    assert_eq!(
        app.page("member-staff", Method::GET, "/account")
            .send()
            .await
            .unwrap()
            .status(),
        303
    );
    let (status, _) = call(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/users/{id}/enable"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(
        app.api("member-staff", Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
}

#[tokio::test]
async fn grants_respect_hub_and_member_roles() {
    let app = TestApp::new().await;
    let grant = |who: &str, slug: &str, email: &str, role: &str| {
        app.api(who, Method::POST, &format!("/api/v1/orgs/{slug}/grants"))
            .json(&json!({ "email": email, "role": role }))
            .send()
    };
    // A member admin cannot make anyone a hub admin (hub roles live only in the hub).
    let (status, body) = json(
        grant(
            "member-admin",
            OWN,
            "member-staff@north-reading.example.gov",
            "hub-admin",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(body["errors"][0]["field"], "role");
    let (status, g) = json(
        grant(
            "member-admin",
            OWN,
            "member-staff@north-reading.example.gov",
            "auditor",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 201, "{g}");
    let (status, _) = json(
        grant(
            "member-admin",
            OTHER,
            "member-staff@north-reading.example.gov",
            "member-admin",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 404);
    // The shared IT director: a hub admin grants a member-admin role in a second member.
    let (status, _) = json(
        grant(
            "hub-admin",
            OTHER,
            "member-admin@north-reading.example.gov",
            "member-admin",
        )
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 201);
    let (_, list) = get(&app, "member-admin", "/api/v1/orgs").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let id = g["id"].as_str().unwrap();
    assert_eq!(
        app.api(
            "member-admin",
            Method::DELETE,
            &format!("/api/v1/grants/{id}")
        )
        .send()
        .await
        .unwrap()
        .status(),
        204
    );
}

#[tokio::test]
async fn the_openapi_document_lists_every_api_route() {
    let app = TestApp::new().await;
    let (status, doc) = json(
        app.client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(doc["openapi"], "3.1.0");
    for r in web::registered_routes()
        .iter()
        .filter(|r| r.path.starts_with("/api/v1/"))
    {
        assert!(
            doc["paths"][r.path][r.method.to_lowercase()].is_object(),
            "{} {} missing from OpenAPI",
            r.method,
            r.path
        );
    }
    let res = app.client.get(app.url("/api/docs")).send().await.unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("/assets/vendor/swagger-ui/swagger-ui-bundle.js")
    );
    let res = app
        .client
        .get(app.url("/assets/vendor/swagger-ui/swagger-ui-bundle.js"))
        .send()
        .await
        .unwrap();
    assert_eq!(
        res.status(),
        200,
        "the viewer works offline: its script is embedded"
    );
}

#[tokio::test]
async fn operations_endpoints_answer() {
    let app = TestApp::new().await;
    assert_eq!(
        app.client
            .get(app.url("/healthz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    assert_eq!(
        app.client
            .get(app.url("/readyz"))
            .send()
            .await
            .unwrap()
            .status(),
        200
    );
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(&app.who("hub-admin").token)
        .send()
        .await
        .unwrap();
    assert!(res.headers().contains_key("x-request-id"));
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        metrics.contains("civitas_http_request_duration_seconds_count"),
        "{metrics}"
    );
    assert!(metrics.contains("route=\"/api/v1/me\""), "{metrics}");
}

#[tokio::test]
async fn the_organisation_list_serves_the_same_documents_as_the_records() {
    let app = TestApp::new().await;
    let res = app
        .api("hub-admin", Method::PATCH, &format!("/api/v1/orgs/{OWN}"))
        .json(&json!({ "population": 15500, "county": "Essex County" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let mut from_list = Vec::new();
    let mut cursor = String::new();
    loop {
        let (status, page) = get(&app, "hub-admin", &format!("/api/v1/orgs?limit=1{cursor}")).await;
        assert_eq!(status, 200, "{page}");
        from_list.extend(page["items"].as_array().unwrap().iter().cloned());
        match page.get("next_cursor").and_then(|c| c.as_str()) {
            Some(c) => cursor = format!("&cursor={c}"),
            None => break,
        }
    }
    let slugs: Vec<&str> = from_list
        .iter()
        .map(|o| o["slug"].as_str().unwrap())
        .collect();
    assert_eq!(slugs, ["melrose", OWN, OTHER]);
    for item in &from_list {
        let (_, record) = get(
            &app,
            "hub-admin",
            &format!("/api/v1/orgs/{}", item["slug"].as_str().unwrap()),
        )
        .await;
        assert_eq!(item, &record);
    }
    let (_, filtered) = get(&app, "hub-admin", "/api/v1/orgs?q=stone").await;
    assert_eq!(filtered["items"].as_array().unwrap().len(), 1);
    let (_, none) = get(&app, "hub-admin", "/api/v1/orgs?q=atlantis").await;
    assert_eq!(none["items"], json!([]));
    // What a person types is matched literally: `%` and `_` are not wildcards.
    for q in ["%25", "north_reading", "_"] {
        let (_, none) = get(&app, "hub-admin", &format!("/api/v1/orgs?q={q}")).await;
        assert_eq!(none["items"], json!([]), "{q}");
    }
    let (_, none) = get(
        &app,
        "hub-admin",
        &format!("/api/v1/orgs/{OWN}/users?q=%25"),
    )
    .await;
    assert_eq!(none["items"], json!([]), "{none}");
}

#[tokio::test]
async fn two_servers_on_one_database_serve_the_same_region() {
    let app = TestApp::new().await;
    let other = app.second_server().await;
    // A change through one server is read through the other.
    let (status, dept) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/departments"),
        json!({ "name": "Veterans' Services" }),
    )
    .await;
    assert_eq!(status, 201);
    let res = app
        .client
        .get(format!(
            "{other}/api/v1/departments/{}",
            dept["id"].as_str().unwrap()
        ))
        .bearer_auth(&app.who("member-admin").token)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // A session started on one works on the other (sessions live in the database).
    let res = app
        .client
        .get(format!("{other}/account"))
        .header(
            "cookie",
            format!("civitas_session={}", app.who("member-staff").session),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    // An idempotency key used on one server is honoured by the other.
    let send = |base: String| {
        app.client
            .post(format!("{base}/api/v1/orgs/{OWN}/departments"))
            .bearer_auth(&app.who("member-admin").token)
            .header("idempotency-key", "shared-key")
            .json(&json!({ "name": "Council on Aging" }))
            .send()
    };
    let first = send(app.base.clone()).await.unwrap();
    assert_eq!(first.status(), 201);
    let second = send(other.clone()).await.unwrap();
    assert_eq!(second.headers()["idempotent-replayed"], "true");
    // The audit chain stays whole with concurrent writes through both servers.
    let mut handles = Vec::new();
    for i in 0..20 {
        let base = if i % 2 == 0 {
            app.base.clone()
        } else {
            other.clone()
        };
        let req = app
            .client
            .post(format!("{base}/api/v1/orgs/{OWN}/departments"))
            .bearer_auth(&app.who("member-admin").token)
            .json(&json!({ "name": format!("Committee {i}") }));
        handles.push(tokio::spawn(req.send()));
    }
    for h in handles {
        assert_eq!(h.await.unwrap().unwrap().status(), 201);
    }
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert_eq!(v.first_bad_seq, None);
}

#[tokio::test]
async fn the_calendar_lists_holidays_and_local_closures() {
    let app = TestApp::new().await;
    let path = format!("/api/v1/orgs/{OWN}/closures");
    let (status, _) = send(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "date": "2027-02-16", "name": "Snow day" }),
    )
    .await;
    assert_eq!(status, 201);
    let (status, body) = send(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "date": "2027-02-16", "name": "Again" }),
    )
    .await;
    assert_eq!(status, 409);
    assert_eq!(body["errors"][0]["field"], "date");
    let (status, body) = send(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "date": "15/02/2027", "name": "" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(body["errors"].as_array().unwrap().len(), 2);
    let (status, days) = get(
        &app,
        "member-staff",
        &format!("/api/v1/orgs/{OWN}/days-off?from=2027-01-01&to=2027-04-30"),
    )
    .await;
    assert_eq!(status, 200, "{days}");
    let names: Vec<&str> = days["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|d| d["name"].as_str().unwrap())
        .collect();
    assert_eq!(
        names,
        [
            "New Year's Day",
            "Martin Luther King Jr. Day",
            "Washington's Birthday",
            "Snow day",
            "Patriots' Day"
        ]
    );
    let (status, _) = get(
        &app,
        "member-staff",
        &format!("/api/v1/orgs/{OWN}/days-off?from=2027-01-01&to=2040-01-01"),
    )
    .await;
    assert_eq!(status, 422, "ranges are bounded");
    let res = app
        .api(
            "member-admin",
            Method::DELETE,
            &format!("{path}/2027-02-16"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let res = app
        .api(
            "member-admin",
            Method::DELETE,
            &format!("{path}/2027-02-16"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
}

#[tokio::test]
async fn an_administrator_can_revoke_a_persons_leaked_token() {
    let app = TestApp::new().await;
    let staff = app.who("member-staff").user_id;
    let (status, list) = get(
        &app,
        "member-admin",
        &format!("/api/v1/users/{staff}/tokens"),
    )
    .await;
    assert_eq!(status, 200);
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), 1);
    assert!(
        items[0].get("token").is_none() && items[0].get("token_hash").is_none(),
        "never the secret"
    );
    let id = items[0]["id"].as_str().unwrap();
    // Another member's administrator cannot even see it.
    let res = app
        .api(
            "other-admin",
            Method::DELETE,
            &format!("/api/v1/users/{staff}/tokens/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let res = app
        .api(
            "member-admin",
            Method::DELETE,
            &format!("/api/v1/users/{staff}/tokens/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    assert_eq!(
        app.api("member-staff", Method::GET, "/api/v1/me")
            .send()
            .await
            .unwrap()
            .status(),
        401
    );
}

#[tokio::test]
async fn the_organisation_list_shows_a_change_at_once_and_on_another_server_within_a_second() {
    let app = TestApp::new().await;
    let other = app.second_server().await;
    let population = |base: String| {
        let req = app
            .client
            .get(format!("{base}/api/v1/orgs?q={OWN}"))
            .bearer_auth(&app.who("hub-admin").token);
        async move {
            let (status, page) = json(req.send().await.unwrap()).await;
            assert_eq!(status, 200, "{page}");
            page["items"][0]["population"].clone()
        }
    };
    // Both servers have read (and keep in memory) the directory before the change.
    let before = population(app.base.clone()).await;
    assert_eq!(population(other.clone()).await, before);
    let res = app
        .api("hub-admin", Method::PATCH, &format!("/api/v1/orgs/{OWN}"))
        .json(&json!({ "population": 16001 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert_eq!(
        population(app.base.clone()).await,
        16001,
        "the server that wrote"
    );
    let started = std::time::Instant::now();
    while population(other.clone()).await != 16001 {
        assert!(
            started.elapsed() < std::time::Duration::from_secs(3),
            "the other server still lists the old population"
        );
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    // A new member is listed at once too.
    let (status, _) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/orgs",
        json!({ "name": "Wakefield", "kind": "town" }),
    )
    .await;
    assert_eq!(status, 201);
    let (_, page) = get(&app, "hub-admin", "/api/v1/orgs?q=wakefield").await;
    assert_eq!(page["items"][0]["slug"], "wakefield", "{page}");
}

#[tokio::test]
async fn the_route_table_refuses_a_caller_without_the_permission_before_reading_the_body() {
    let app = TestApp::new().await;
    // Member staff may not price services: refused as such, whatever the body says.
    for body in [json!({}), json!({ "price": "not a number", "extra": true })] {
        let (status, e) = send(
            &app,
            "member-staff",
            Method::POST,
            "/api/v1/rate-cards",
            body,
        )
        .await;
        assert_eq!(status, 403, "{e}");
        assert_eq!(e["code"], "forbidden", "{e}");
    }
    // A hub-only route refuses a member's grant of the same permission (a member admin's cmdb-manage).
    let (status, e) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/standards",
        json!({ "name": "x" }),
    )
    .await;
    assert_eq!(status, 403, "{e}");
    // Signed out: 401 for the API, the sign-in page for a page.
    let res = app
        .client
        .get(app.url("/api/v1/rate-cards"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 401);
    let res = app.client.get(app.url("/billing")).send().await.unwrap();
    assert!(
        res.url().path() == "/sign-in" || res.status() == 303,
        "{}",
        res.url()
    );
}

#[tokio::test]
async fn a_department_or_site_still_in_use_is_not_deleted_and_the_answer_says_why() {
    let app = TestApp::new().await;
    let (s, dept) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/departments"),
        json!({ "name": "Assessors" }),
    )
    .await;
    assert_eq!(s, 201, "{dept}");
    let (s, site) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/sites"),
        json!({ "name": "Annex", "address": "1 Main St", "kind": "city-hall" }),
    )
    .await;
    assert_eq!(s, 201, "{site}");
    let (s, t) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Printer in the annex", "description": "Offline.",
                "department_id": dept["id"], "site_id": site["id"] }),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    for (what, rec) in [("departments", &dept), ("sites", &site)] {
        let path = format!("/api/v1/{what}/{}", rec["id"].as_str().unwrap());
        let (s, e) = send(&app, "member-admin", Method::DELETE, &path, json!({})).await;
        assert_eq!(s, 409, "{what}: {e}");
        assert_eq!(e["errors"][0]["field"], "id", "{e}");
        assert!(
            e["detail"]
                .as_str()
                .unwrap_or_default()
                .contains("still in use"),
            "{e}"
        );
        let (s, _) = get(&app, "member-admin", &path).await;
        assert_eq!(s, 200, "{what} is still there");
    }
}

/// Where a creation's document says fields are required, an empty body is refused naming exactly those: the
/// document and the parser agree (a client generated from the document fills what the server asks for).
#[tokio::test]
async fn every_creation_documents_the_fields_it_requires() {
    let app = TestApp::new().await;
    let (_, doc) = json(
        app.client
            .get(app.url("/api/openapi.json"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    let mut checked = 0;
    for (path, item) in doc["paths"].as_object().into_iter().flatten() {
        let schema = &item["post"]["requestBody"]["content"]["application/json"]["schema"];
        let Some(required) = schema["required"].as_array() else {
            continue;
        };
        if path.replace("{slug}", "").contains('{') {
            continue;
        }
        let mut want: Vec<String> = required
            .iter()
            .filter_map(|f| f.as_str().map(str::to_owned))
            .collect();
        want.sort();
        let url = path.replace("{slug}", OWN);
        let (status, e) = send(&app, "hub-admin", Method::POST, &url, json!({})).await;
        assert_eq!(status, 422, "POST {url} with nothing: {e}");
        let mut got = crate::helpers::fields(&e);
        got.sort();
        got.dedup();
        assert_eq!(
            got, want,
            "POST {path}: refused fields against the document's"
        );
        checked += 1;
    }
    assert!(
        checked >= 12,
        "{checked} creations document their required fields"
    );
}
