//! The figures a member is billed on are the hub's record: a member's edit of its population is refused,
//! a member proposes a change, the hub accepts or rejects it, the organisation's history shows both, and
//! the invoice run bills the hub's figure throughout.

use crate::helpers::{HUB, OWN, TestApp, fields, get, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn ok(app: &TestApp, who: &str, method: Method, path: &str, body: Value) -> Value {
    let (s, v) = send(app, who, method.clone(), path, body).await;
    assert!((200..300).contains(&s), "{method} {path} as {who}: {s} {v}");
    v
}

/// An ERP charged per resident ($1.15 a year) to the member under a monthly agreement.
async fn per_capita_erp(app: &TestApp) {
    let card = ok(
        app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": app.desk.services["erp"].to_string(), "name": "Financial ERP",
                "model": "per_capita", "unit": "resident", "price": "1.15", "effective_from": "2026-07-01" }),
    )
    .await;
    let a = ok(
        app,
        "hub-admin",
        Method::POST,
        "/api/v1/agreements",
        json!({ "org": OWN, "title": "Shared services", "status": "active", "cadence": "monthly",
                "starts_on": "2026-07-01", "approving_body": "Select Board" }),
    )
    .await;
    ok(
        app,
        "hub-admin",
        Method::POST,
        &format!(
            "/api/v1/agreements/{}/subscriptions",
            a["id"].as_str().unwrap()
        ),
        json!({ "rate_card_id": card["id"], "starts_on": "2026-07-01" }),
    )
    .await;
}

/// Runs September 2026 and returns the ERP line of the member's draft: (residents, cents).
async fn erp_line(app: &TestApp) -> (String, i64) {
    ok(
        app,
        "hub-admin",
        Method::POST,
        "/api/v1/invoice-runs",
        json!({ "period": "2026-09" }),
    )
    .await;
    let (_, list) = get(
        app,
        "hub-admin",
        "/api/v1/invoices?period=2026-09&org=north-reading",
    )
    .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, inv) = get(app, "hub-admin", &format!("/api/v1/invoices/{id}")).await;
    let line = inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["description"].as_str().unwrap().contains("ERP"))
        .unwrap_or_else(|| panic!("no ERP line: {inv}"))
        .clone();
    (
        line["quantity"].as_str().unwrap().to_owned(),
        line["amount_cents"].as_i64().unwrap(),
    )
}

async fn population(app: &TestApp) -> i64 {
    get(app, "hub-admin", &format!("/api/v1/orgs/{OWN}"))
        .await
        .1["population"]
        .as_i64()
        .unwrap()
}

#[tokio::test]
async fn a_member_cannot_set_the_population_it_is_billed_on() {
    let app = TestApp::new().await;
    per_capita_erp(&app).await;
    let billed = erp_line(&app).await;
    assert_eq!(billed.0, "15343");
    // The red team's request: refused, naming the field and the way to change it.
    let (s, e) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/orgs/{OWN}"),
        json!({ "population": 1 }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["population"]);
    assert!(
        e["detail"]
            .as_str()
            .unwrap()
            .contains("/api/v1/orgs/north-reading/proposals"),
        "{e}"
    );
    // Through the settings form too.
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/settings"),
            &[
                ("name", "Town of North Reading"),
                ("kind", "town"),
                ("population", "1"),
                ("time_zone", "America/New_York"),
                ("fiscal_year_start_month", "7"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.unwrap().contains("the hub&#39;s record"));
    assert_eq!(population(&app).await, 15_343);
    assert_eq!(erp_line(&app).await, billed);
    // The member's other settings stay its own, and sending the figure on record is no change.
    ok(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/orgs/{OWN}"),
        json!({ "population": 15343, "county": "Middlesex County", "fiscal_year_start_month": 7 }),
    )
    .await;
    // The hub sets its record directly.
    ok(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/orgs/{OWN}"),
        json!({ "population": 15400 }),
    )
    .await;
    assert_eq!(erp_line(&app).await.0, "15400");
}

#[tokio::test]
async fn a_proposal_changes_the_bill_only_when_the_hub_accepts_it() {
    let app = TestApp::new().await;
    per_capita_erp(&app).await;
    let path = format!("/api/v1/orgs/{OWN}/proposals");
    // Checked whole: a figure, a reason.
    let (s, e) = send(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "value": "many" }),
    )
    .await;
    assert_eq!(
        (s, fields(&e)),
        (422, vec!["value".into(), "reason".into()])
    );
    let (s, e) = send(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "value": 15343, "reason": "same" }),
    )
    .await;
    assert_eq!((s, fields(&e)), (422, vec!["value".to_owned()]), "{e}");
    let made = ok(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "value": "16,000", "reason": "The 2025 estimate", "source": "US Census Bureau, Vintage 2025" }),
    )
    .await;
    assert_eq!(made["status"], "pending");
    assert_eq!(made["current_value"], 15343);
    assert_eq!(made["proposed_value"], 16000);
    let id = made["id"].as_str().unwrap().to_owned();
    // Proposed is not accepted: the bill stays on the hub's figure.
    assert_eq!(erp_line(&app).await.0, "15343");
    // The other member sees nothing of it; member staff read it; only the hub decides.
    assert_eq!(get(&app, "other-admin", &path).await.0, 404);
    let (_, theirs) = get(&app, "other-admin", "/api/v1/proposals").await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0, "{theirs}");
    assert_eq!(
        get(&app, "member-staff", &path).await.1["items"][0]["id"],
        id.as_str()
    );
    let decision = format!("/api/v1/proposals/{id}/decision");
    for who in ["member-admin", "other-admin", "hub-agent"] {
        let (s, _) = send(
            &app,
            who,
            Method::POST,
            &decision,
            json!({ "decision": "accept" }),
        )
        .await;
        assert_eq!(s, 403, "{who}");
    }
    let (_, pending) = get(&app, "hub-admin", "/api/v1/proposals?status=pending").await;
    assert_eq!(pending["items"][0]["id"], id.as_str());
    // A rejection says why.
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &decision,
        json!({ "decision": "reject" }),
    )
    .await;
    assert_eq!((s, fields(&e)), (422, vec!["note".to_owned()]));
    let accepted = ok(
        &app,
        "hub-admin",
        Method::POST,
        &decision,
        json!({ "decision": "accept", "note": "Matches the Census release" }),
    )
    .await;
    assert_eq!(accepted["status"], "accepted");
    assert_eq!(accepted["decided_by"], "hub-admin@melrose.example.gov");
    assert_eq!(population(&app).await, 16_000);
    let (residents, cents) = erp_line(&app).await;
    assert_eq!(residents, "16000");
    assert_eq!(cents, 153_333); // 16,000 × $1.15 ÷ 12
    // Decided once.
    let (s, _) = send(
        &app,
        "hub-admin",
        Method::POST,
        &decision,
        json!({ "decision": "reject", "note": "Changed my mind" }),
    )
    .await;
    assert_eq!(s, 409);
    // A rejected proposal changes nothing.
    let second = ok(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "value": 1, "reason": "Fewer residents" }),
    )
    .await;
    let rejected = ok(
        &app,
        "hub-admin",
        Method::POST,
        &format!(
            "/api/v1/proposals/{}/decision",
            second["id"].as_str().unwrap()
        ),
        json!({ "decision": "reject", "note": "No source given" }),
    )
    .await;
    assert_eq!(rejected["decision_note"], "No source given");
    assert_eq!(population(&app).await, 16_000);
    assert_eq!(erp_line(&app).await.0, "16000");
    // The member's history shows each step: proposed, accepted, the record changed, rejected.
    let (_, audit) = get(
        &app,
        "member-admin",
        &format!("/api/v1/audit?org={OWN}&action=org."),
    )
    .await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert_eq!(
        actions[..5],
        [
            "org.proposal.reject",
            "org.proposal",
            "org.update",
            "org.proposal.accept",
            "org.proposal"
        ],
        "{audit}"
    );
    let update = &audit["items"][2];
    assert_eq!(update["before"]["population"], 15343, "{update}");
    assert_eq!(update["after"]["population"], 16000, "{update}");
    assert_eq!(
        audit["items"][3]["after"]["decision_note"],
        "Matches the Census release"
    );
}

#[tokio::test]
async fn the_settings_page_proposes_and_the_hub_decides_there() {
    let app = TestApp::new().await;
    let settings = format!("/orgs/{OWN}/settings");
    let page = |who: &'static str, path: String| {
        let app = &app;
        async move {
            let res = app.page(who, Method::GET, &path).send().await.unwrap();
            assert_eq!(res.status().as_u16(), 200, "{path} as {who}");
            res.text().await.unwrap()
        }
    };
    // The member reads the hub's figure and proposes; it has no field to set it.
    let html = page("member-admin", settings.clone()).await;
    assert!(!html.contains("name=\"population\""));
    assert!(html.contains("15,343"));
    assert!(html.contains(&format!("action=\"/orgs/{OWN}/proposals\"")));
    assert!(html.contains("No changes have been proposed."));
    // A proposal without its reason: the form again, with the error beside the field.
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/proposals"),
            &[("value", "15,900"), ("reason", "")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"error-reason\""), "{html}");
    assert!(html.contains("value=\"15,900\""));
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/proposals"),
            &[
                ("value", "15,900"),
                ("reason", "Town census of 2026"),
                ("source", "Town Clerk's annual census"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let html = page("member-admin", format!("{settings}?notice=proposed")).await;
    assert!(html.contains("Your proposal is sent to the hub"));
    assert!(html.contains("Town census of 2026"));
    assert!(html.contains("Awaiting the hub&#39;s decision"));
    assert!(
        !html.contains("/decision\""),
        "the member has no decision form"
    );
    // Another member's staff and administrator see nothing of it.
    let (_, other) = get(&app, "other-admin", "/api/v1/proposals").await;
    assert!(other["items"].as_array().unwrap().is_empty());
    // The hub's organisation list says proposals await it.
    let list = page("hub-admin", "/orgs".to_owned()).await;
    assert!(list.contains("1 proposed change(s) from members await your decision"));
    assert!(list.contains(&format!("href=\"/orgs/{HUB}/settings#proposals\"")));
    // The hub's settings page lists every member's pending proposals with accept and reject.
    let hub = page("hub-admin", format!("/orgs/{HUB}/settings")).await;
    assert!(hub.contains("Proposed changes from members"));
    assert!(hub.contains("Town of North Reading"));
    let (_, pending) = get(&app, "hub-admin", "/api/v1/proposals?status=pending").await;
    let id = pending["items"][0]["id"].as_str().unwrap().to_owned();
    assert!(hub.contains(&format!("action=\"/orgs/proposals/{id}/decision\"")));
    // Rejecting without a note: the page again, saying so.
    let res = app
        .form(
            "hub-admin",
            &format!("/orgs/proposals/{id}/decision"),
            &[("decision", "reject"), ("note", ""), ("back", HUB)],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    assert!(res.text().await.unwrap().contains("tell the member why"));
    let res = app
        .form(
            "hub-admin",
            &format!("/orgs/proposals/{id}/decision"),
            &[("decision", "accept"), ("note", ""), ("back", HUB)],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    assert_eq!(
        res.headers()["location"],
        format!("/orgs/{HUB}/settings?notice=decided#proposals").as_str()
    );
    let hub = page("hub-admin", format!("/orgs/{HUB}/settings")).await;
    assert!(hub.contains("No proposals await a decision."));
    assert!(
        !page("hub-admin", "/orgs".to_owned())
            .await
            .contains("await your decision")
    );
    let html = page("member-admin", settings.clone()).await;
    assert!(html.contains("15,900"));
    assert!(html.contains("Accepted"));
    // The hub's administrator edits the member's figure in the form.
    let html = page("hub-admin", settings).await;
    assert!(html.contains("name=\"population\""));
}

#[tokio::test]
async fn a_members_name_and_kind_are_the_hubs_and_a_member_admin_is_told_so_by_field() {
    let app = TestApp::new().await;
    let (s, e) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/orgs/{OWN}"),
        json!({ "name": "Renamed", "kind": "city" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["name", "kind"]);
    // The settings form with its name emptied: the form again, naming the field, not a bare 403 page.
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/settings"),
            &[
                ("name", ""),
                ("kind", "town"),
                ("time_zone", "America/New_York"),
                ("fiscal_year_start_month", "7"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let page = res.text().await.unwrap();
    assert!(page.contains("is set by the hub"), "{page}");
    assert!(
        page.contains("name=\"time_zone\""),
        "the form is shown again"
    );
    // The hub renames it.
    let (s, o) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/orgs/{OWN}"),
        json!({ "name": "Town of North Reading (renamed)" }),
    )
    .await;
    assert_eq!(s, 200, "{o}");
    assert_eq!(o["name"], "Town of North Reading (renamed)");
}
