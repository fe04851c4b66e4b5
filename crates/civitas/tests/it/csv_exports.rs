//! Every CSV download neutralises cells a spreadsheet would run as formulas (`web::csv_export`): a value
//! planted in each export comes out as text, with a `'` in front.

use crate::helpers::{OWN, TestApp, send};
use domain::authz::{Role, Scope};
use reqwest::Method;
use serde_json::{Value, json};

const PLANTED: &str = "=HYPERLINK(\"http://x.invalid\",\"click\")";

/// Downloads `path` as `who` and checks it: no cell starts a formula, and the planted value is there as
/// text (`'=HYPERLINK…`, possibly followed by more text in the same cell).
async fn check(app: &TestApp, who: &str, path: &str) {
    check_with(app, who, path, true).await;
}

async fn check_with(app: &TestApp, who: &str, path: &str, expect_planted: bool) {
    let res = app.page(who, Method::GET, path).send().await.unwrap();
    assert_eq!(res.status(), 200, "{path}");
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv"),
        "{path}"
    );
    let body = res.text().await.unwrap();
    let mut reader = csv::ReaderBuilder::new()
        .has_headers(false)
        .flexible(true)
        .from_reader(body.as_bytes());
    let mut planted = false;
    for record in reader.records() {
        for cell in record.unwrap().iter() {
            let number = cell
                .strip_prefix('-')
                .unwrap_or(cell)
                .parse::<f64>()
                .is_ok();
            assert!(
                !cell.starts_with(['=', '+', '-', '@', '\t', '\r']) || number,
                "{path}: a live formula in {cell:?}\n{body}"
            );
            planted |= cell.starts_with(&format!("'{PLANTED}"));
        }
    }
    assert!(
        planted || !expect_planted,
        "{path}: the planted value is there, as text\n{body}"
    );
}

#[tokio::test]
async fn directory_people_and_organisation_exports_neutralise_formulas() {
    let app = TestApp::new().await;
    let (s, v) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/sites"),
        json!({ "name": PLANTED, "address": "1 Main St", "kind": "school" }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    let (s, v) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/departments"),
        json!({ "name": PLANTED }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    store::tenancy::users::create(
        &app.db,
        &Scope::Region,
        &store::audit::Actor::system("test"),
        app.orgs[OWN],
        store::tenancy::users::NewUser {
            email: &domain::tenancy::Email::parse("formula@north-reading.example.gov").unwrap(),
            name: PLANTED,
            role: Role::MemberStaff,
            password_hash: None,
        },
    )
    .await
    .unwrap();
    let (s, v) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/orgs/{OWN}"),
        json!({ "name": PLANTED }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    check(
        &app,
        "member-admin",
        &format!("/orgs/{OWN}/sites?format=csv"),
    )
    .await;
    check(
        &app,
        "member-admin",
        &format!("/orgs/{OWN}/departments?format=csv"),
    )
    .await;
    check(
        &app,
        "member-admin",
        &format!("/orgs/{OWN}/users?format=csv"),
    )
    .await;
    check(&app, "hub-admin", "/orgs?format=csv").await;
    // The audit log's CSV has no free-text column (slugs, emails, actions, ids): nothing to plant, but it
    // goes through the same writer.
    check_with(&app, "hub-admin", "/audit?format=csv", false).await;
}

#[tokio::test]
async fn cmdb_export_neutralises_formulas() {
    let app = TestApp::new().await;
    let (s, v) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis",
        json!({ "type": "server", "name": PLANTED, "attributes": { "model": "@evil" } }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    check(&app, "member-admin", "/api/v1/cis/export").await;
}

#[tokio::test]
async fn timesheet_and_report_exports_neutralise_formulas() {
    let app = TestApp::new().await;
    // The member's name is a report key and a timesheet column; the subject and note are timesheet cells.
    let (s, v) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/orgs/{OWN}"),
        json!({ "name": PLANTED }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (s, t) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": PLANTED, "description": "-1+1" }),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let (s, e) = send(
        &app,
        "hub-agent",
        Method::POST,
        "/api/v1/time-entries",
        json!({ "ticket": t["number"], "minutes": 30, "note": "+cmd|' /C calc'!A0" }),
    )
    .await;
    assert_eq!(s, 201, "{e}");
    check(&app, "hub-agent", "/timesheet?format=csv").await;
    check(&app, "hub-agent", "/reports?format=csv&table=member").await;
}

#[tokio::test]
async fn invoice_csv_neutralises_formulas_and_keeps_amounts_numeric() {
    let app = TestApp::new().await;
    let (s, card) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": app.desk.services["email"].to_string(), "name": PLANTED, "model": "fixed",
                "unit": "month", "meter": "", "price": "100", "effective_from": "2026-07-01" }),
    )
    .await;
    assert_eq!(s, 201, "{card}");
    let (s, a) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/agreements",
        json!({ "org": OWN, "title": "Shared services", "status": "active", "cadence": "monthly",
                "starts_on": "2026-07-01", "approving_body": "Select Board" }),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let (s, sub) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!(
            "/api/v1/agreements/{}/subscriptions",
            a["id"].as_str().unwrap()
        ),
        json!({ "rate_card_id": card["id"], "quantity": 1, "starts_on": "2026-07-01" }),
    )
    .await;
    assert_eq!(s, 201, "{sub}");
    let (s, run) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/invoice-runs",
        json!({ "period": "2026-09" }),
    )
    .await;
    assert_eq!(s, 201, "{run}");
    let (_, list) = send(
        &app,
        "hub-admin",
        Method::GET,
        "/api/v1/invoices?period=2026-09",
        Value::Null,
    )
    .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let path = format!("/billing/invoices/{id}?format=csv");
    check(&app, "hub-admin", &path).await;
    let body = app
        .page("hub-admin", Method::GET, &path)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        body.contains(",100.00,"),
        "the amount stays a number: {body}"
    );
}
