//! Enterprise architecture through the API and the pages: the standards catalog, principles, exception
//! requests and decisions, reminders before expiry, and the compliance list.

use crate::helpers::{TestApp, fields, get, send, today};
use reqwest::Method;
use serde_json::{Value, json};

async fn item(app: &TestApp, who: &str, body: Value) -> String {
    let (s, v) = send(app, who, Method::POST, "/api/v1/cis", body).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn standards_find_the_items_on_hold_and_exceptions_cover_them_until_they_end() {
    let app = TestApp::new().await;
    // The hub keeps the catalog; members read it.
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/standards",
        json!({ "name": "", "area": "clouds", "match_terms": ["ok", ""] }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["name", "area", "ring"]);
    let (s, old) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/standards",
        json!({ "name": "Windows Server 2012", "area": "infrastructure", "ring": "retire",
                "match_terms": ["Windows Server 2012"], "instead": "Windows Server 2022" }),
    )
    .await;
    assert_eq!(s, 201, "{old}");
    let old_id = old["id"].as_str().unwrap().to_owned();
    let (s, _) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/standards",
        json!({ "name": "Windows Server 2022", "area": "infrastructure", "ring": "adopt",
                "match_terms": ["Windows Server 2022"] }),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/standards",
        json!({ "name": "Mine", "area": "platforms", "ring": "adopt" }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, list) = get(&app, "member-staff", "/api/v1/standards").await;
    assert_eq!(s, 403, "{list}");
    let (_, list) = get(&app, "member-auditor", "/api/v1/standards").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (s, p) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/principles",
        json!({ "title": "Share before you buy", "statement": "Use a shared service where one exists." }),
    )
    .await;
    assert_eq!(s, 201, "{p}");

    // Items on the retired OS: the member's, the other member's, and one on the adopted OS.
    let mine = item(
        &app,
        "member-admin",
        json!({ "type": "virtual_machine", "name": "nr-assess-01", "attributes": { "os": "Windows Server 2012 R2" } }),
    )
    .await;
    item(
        &app,
        "other-admin",
        json!({ "type": "virtual_machine", "name": "st-old-01", "attributes": { "os": "Windows Server 2012" } }),
    )
    .await;
    item(
        &app,
        "member-admin",
        json!({ "type": "virtual_machine", "name": "nr-new-01", "attributes": { "os": "Windows Server 2022" } }),
    )
    .await;
    let (_, c) = get(&app, "member-admin", "/api/v1/compliance").await;
    let names: Vec<&str> = c["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["ci_name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["nr-assess-01"]);
    assert_eq!(c["items"][0]["exception_id"], Value::Null);
    let (_, c) = get(&app, "hub-admin", "/api/v1/compliance").await;
    assert_eq!(c["items"].as_array().unwrap().len(), 2);

    // The member asks; bad requests are named field by field.
    let (s, e) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/exceptions",
        json!({ "risk": "huge", "requested_until": "soon" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        fields(&e),
        ["standard_id", "title", "reason", "risk", "requested_until"]
    );
    let (s, x) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/exceptions",
        json!({ "standard_id": old_id, "ci_id": mine, "title": "Keep the assessing server a year",
                "reason": "The vendor certifies the 2022 upgrade next spring.", "risk": "medium",
                "mitigation": "Isolated VLAN, no internet access" }),
    )
    .await;
    assert_eq!(s, 201, "{x}");
    assert_eq!(x["status"], "requested");
    let id = x["id"].as_str().unwrap().to_owned();
    // Not for another member's item, and not visible to another member.
    let (s, _) = get(&app, "other-admin", &format!("/api/v1/exceptions/{id}")).await;
    assert_eq!(s, 404);
    // Only the hub decides; approval needs an end within two years; rejection a reason.
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/exceptions/{id}/decision"),
        json!({ "status": "approved", "expires_on": "2027-01-01" }),
    )
    .await;
    assert_eq!(s, 403);
    let far = today() + jiff::Span::new().days(800);
    for (body, field) in [
        (json!({ "status": "approved" }), "expires_on"),
        (
            json!({ "status": "approved", "expires_on": far.to_string() }),
            "expires_on",
        ),
        (json!({ "status": "rejected" }), "note"),
        (json!({ "status": "maybe" }), "status"),
    ] {
        let (s, e) = send(
            &app,
            "hub-admin",
            Method::POST,
            &format!("/api/v1/exceptions/{id}/decision"),
            body,
        )
        .await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(fields(&e), [field]);
    }
    let ends = today() + jiff::Span::new().days(20);
    let (s, x) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/exceptions/{id}/decision"),
        json!({ "status": "approved", "expires_on": ends.to_string(), "note": "Until the upgrade" }),
    )
    .await;
    assert_eq!(s, 200, "{x}");
    assert_eq!(x["status"], "approved");
    let (s, _) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/exceptions/{id}/decision"),
        json!({ "status": "rejected", "note": "Changed our mind" }),
    )
    .await;
    assert_eq!(s, 409);
    // The finding is now covered.
    let (_, c) = get(&app, "member-admin", "/api/v1/compliance").await;
    assert_eq!(c["items"][0]["exception_id"], id.as_str());
    // Reminders: 30 days before is already reached (20 left): one reminder, once.
    let due = store::architecture::due_reminders(&app.db, today())
        .await
        .unwrap();
    assert_eq!(due.len(), 1);
    assert_eq!(due[0].days, 30);
    assert_eq!(
        due[0].email.as_deref(),
        Some("member-admin@north-reading.example.gov")
    );
    assert!(
        store::architecture::due_reminders(&app.db, today())
            .await
            .unwrap()
            .is_empty()
    );
    let in_a_fortnight = today() + jiff::Span::new().days(14);
    let due = store::architecture::due_reminders(&app.db, in_a_fortnight)
        .await
        .unwrap();
    assert_eq!(due[0].days, 7);
    // After it ends, the item is out of standard again.
    let after = ends + jiff::Span::new().days(1);
    let findings = store::architecture::compliance(&app.db, &store::Scope::Region, after)
        .await
        .unwrap();
    assert!(findings.iter().all(|f| f.exception_id.is_none()));
    // The hub moves the 2022 standard to hold: the new VM shows up too.
    let (_, list) = get(&app, "hub-admin", "/api/v1/standards").await;
    let new_id = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["name"] == "Windows Server 2022")
        .unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let (s, v) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/standards/{new_id}"),
        json!({ "ring": "hold" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, c) = get(&app, "member-admin", "/api/v1/compliance").await;
    assert_eq!(c["items"].as_array().unwrap().len(), 2);
    // The member withdraws the exception once the server is upgraded.
    let (s, x) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/exceptions/{id}/withdraw"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{x}");
    assert_eq!(x["status"], "withdrawn");
}

#[tokio::test]
async fn the_architecture_pages_show_the_radar_and_take_requests_and_decisions() {
    let app = TestApp::new().await;
    let page = |who: &'static str, path: String| {
        let app = &app;
        async move {
            let res = app.page(who, Method::GET, &path).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (s, html) = page("hub-admin", "/architecture".into()).await;
    assert_eq!(s, 200);
    assert!(html.contains("No standards yet"));
    let res = app
        .form(
            "hub-admin",
            "/architecture/standards",
            &[
                ("name", "SQL Server 2014"),
                ("area", "platforms"),
                ("ring", ""),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.unwrap().contains("id=\"error-ring\""));
    let res = app
        .form(
            "hub-admin",
            "/architecture/standards",
            &[
                ("name", "SQL Server 2014"),
                ("area", "platforms"),
                ("ring", "retire"),
                ("match_terms", "SQL Server 2014\r\n"),
                ("instead", "SQL Server 2022"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let standard = res.headers()["location"]
        .to_str()
        .unwrap()
        .trim_start_matches("/architecture/standards/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, html) = page("member-admin", "/architecture".into()).await;
    assert!(html.contains("SQL Server 2014") && html.contains("<circle"));
    assert!(!html.contains("Add a standard"));
    let db = item(
        &app,
        "member-admin",
        json!({ "type": "database", "name": "Tax database", "attributes": { "engine": "SQL Server", "version": "2014" } }),
    )
    .await;
    let (_, html) = page("member-admin", "/architecture/compliance".into()).await;
    assert!(html.contains("Tax database"), "{html}");
    // Ask from the page: errors beside the fields, then a request.
    let res = app
        .form(
            "member-admin",
            "/architecture/exceptions",
            &[("standard_id", &standard), ("title", "Keep it")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("id=\"error-reason\"") || html.contains("#field-reason"),
        "{html}"
    );
    let res = app
        .form(
            "member-admin",
            "/architecture/exceptions",
            &[
                ("org", "north-reading"),
                ("standard_id", &standard),
                ("ci_id", &db),
                ("title", "Keep the tax database"),
                (
                    "reason",
                    "The assessing vendor supports only 2014 until June.",
                ),
                ("risk", "high"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location
        .trim_start_matches("/architecture/exceptions/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, html) = page("member-admin", format!("/architecture/exceptions/{id}")).await;
    assert!(html.contains("Awaiting review") && !html.contains("Record the decision"));
    let (_, html) = page("hub-admin", format!("/architecture/exceptions/{id}")).await;
    assert!(html.contains("Record the decision"));
    let ends = (today() + jiff::Span::new().days(90)).to_string();
    let res = app
        .form(
            "hub-admin",
            &format!("/architecture/exceptions/{id}/decision"),
            &[
                ("version", "1"),
                ("status", "approved"),
                ("expires_on", &ends),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, html) = page("member-admin", "/architecture/compliance".into()).await;
    assert!(html.contains(&format!("Until {ends}")), "{html}");
    let (s, _) = page("other-admin", format!("/architecture/exceptions/{id}")).await;
    assert_eq!(s, 404);
}

#[tokio::test]
async fn the_requester_is_mailed_before_an_exception_ends_once_per_reminder() {
    let app = TestApp::new().await;
    let smtp = crate::mail::SmtpSink::start();
    let runner = civitas::runner::Runner::new(app.db.clone())
        .with_mailer(Some(crate::mail::mailer(smtp.port)));
    let (_, st) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/standards",
        json!({ "name": "Exchange 2016", "area": "applications", "ring": "retire" }),
    )
    .await;
    let (s, x) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/exceptions",
        json!({ "standard_id": st["id"], "title": "Keep the police mail server",
                "reason": "The records system sends through it.", "risk": "high" }),
    )
    .await;
    assert_eq!(s, 201, "{x}");
    let id = x["id"].as_str().unwrap();
    let ends = today() + jiff::Span::new().days(5);
    let (s, _) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/exceptions/{id}/decision"),
        json!({ "status": "approved", "expires_on": ends.to_string() }),
    )
    .await;
    assert_eq!(s, 200);
    runner.schedule().await.unwrap();
    crate::mail::drain(&runner).await;
    let reminders: Vec<String> = smtp
        .messages()
        .into_iter()
        .filter(|m| m.contains("Exception ends"))
        // Quoted-printable soft line breaks, if the body was wrapped.
        .map(|m| {
            m.replace("=\r\n", "")
                .replace("=\n", "")
                .replace("=3D", "=")
        })
        .collect();
    assert_eq!(reminders.len(), 1, "{reminders:?}");
    assert!(reminders[0].contains("member-admin@north-reading.example.gov"));
    assert!(reminders[0].contains(&format!(
        "https://it.melrose.example.gov/architecture/exceptions/{id}"
    )));
    let (_, x) = get(&app, "member-admin", &format!("/api/v1/exceptions/{id}")).await;
    assert_eq!(x["reminders_sent"], json!([7]));
    // The same slot again sends nothing more.
    assert!(
        store::architecture::due_reminders(&app.db, today())
            .await
            .unwrap()
            .is_empty()
    );
}
