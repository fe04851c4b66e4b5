//! Issue 13: seats are billed from the hub's record of a member's active accounts — the peak over the days
//! billed — not from the count at the moment of the invoice run, which the member's administrator controls.

use crate::helpers::{OTHER, OWN, TestApp, get, send, today};
use jiff::civil::Date;
use reqwest::Method;
use serde_json::{Value, json};

/// A seat card ($3 a person a month) and an agreement for `org` charging it, from 2025.
async fn seat_agreements(app: &TestApp, orgs: &[&str]) {
    let (s, card) = send(
        app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": app.desk.services["accounts"].to_string(), "name": "Accounts — per person",
                "model": "per_unit", "unit": "person", "meter": "derived.seats", "price": "3",
                "effective_from": "2025-01-01" }),
    )
    .await;
    assert_eq!(s, 201, "{card}");
    for org in orgs {
        let (s, a) = send(
            app,
            "hub-admin",
            Method::POST,
            "/api/v1/agreements",
            json!({ "org": org, "title": "Accounts", "status": "active", "starts_on": "2025-01-01",
                    "approving_body": "Select Board" }),
        )
        .await;
        assert_eq!(s, 201, "{a}");
        let (s, sub) = send(
            app,
            "hub-admin",
            Method::POST,
            &format!(
                "/api/v1/agreements/{}/subscriptions",
                a["id"].as_str().unwrap()
            ),
            json!({ "rate_card_id": card["id"], "starts_on": "2025-01-01" }),
        )
        .await;
        assert_eq!(s, 201, "{sub}");
    }
}

async fn active(app: &TestApp, org: &str) -> i64 {
    sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE active = 1 AND org_id = $1")
        .bind(app.orgs[org].to_string())
        .fetch_one(app.db.read_pool())
        .await
        .unwrap()
}

/// An account is added to `org` (by the hub administrator: a member administrator invites, and the account
/// exists once the invitation is accepted); returns its id.
async fn add(app: &TestApp, org: &str, name: &str) -> String {
    let (s, u) = send(
        app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/orgs/{org}/users"),
        json!({ "email": format!("{name}@{org}.example.gov"), "name": name, "role": "member-staff", "password": "lantern-orchard-quietly" }),
    )
    .await;
    assert_eq!(s, 201, "{u}");
    u["id"].as_str().unwrap().to_owned()
}

async fn set(app: &TestApp, who: &str, id: &str, action: &str) {
    let (s, u) = send(
        app,
        who,
        Method::POST,
        &format!("/api/v1/users/{id}/{action}"),
        json!({}),
    )
    .await;
    assert_eq!(s, 200, "{action}: {u}");
}

/// Runs `period` and returns each member's seat line.
async fn seat_lines(app: &TestApp, period: &str) -> std::collections::HashMap<String, Value> {
    let (s, r) = send(
        app,
        "hub-admin",
        Method::POST,
        "/api/v1/invoice-runs",
        json!({ "period": period }),
    )
    .await;
    assert_eq!(s, 201, "{r}");
    let (_, list) = get(
        app,
        "hub-admin",
        &format!("/api/v1/invoices?period={period}"),
    )
    .await;
    let mut out = std::collections::HashMap::new();
    for i in list["items"].as_array().unwrap() {
        let (_, inv) = get(
            app,
            "hub-admin",
            &format!("/api/v1/invoices/{}", i["id"].as_str().unwrap()),
        )
        .await;
        out.insert(
            i["org_id"].as_str().unwrap().to_owned(),
            inv["lines"][0].clone(),
        );
    }
    out
}

fn days(from: Date, until: Date) -> impl Iterator<Item = Date> {
    std::iter::successors(Some(from), |d| d.tomorrow().ok()).take_while(move |d| *d < until)
}

#[tokio::test]
async fn accounts_disabled_before_the_run_are_still_billed_at_the_periods_peak() {
    let app = TestApp::new().await;
    seat_agreements(&app, &[OWN, OTHER]).await;
    // Last month, as the hub's daily job saw it.
    let first_of_this = today().first_of_month();
    let period_start = first_of_this.yesterday().unwrap().first_of_month();
    let period = format!("{:04}-{:02}", period_start.year(), period_start.month());
    let all: Vec<Date> = days(period_start, first_of_this).collect();
    let n = active(&app, OWN).await;
    for d in &all[..14] {
        store::tenancy::seats::record(&app.db, *d).await.unwrap();
    }
    // Two accounts created mid-period count from the day they existed.
    let a = add(&app, OWN, "ada").await;
    let b = add(&app, OWN, "bo").await;
    for d in &all[14..all.len() - 1] {
        store::tenancy::seats::record(&app.db, *d).await.unwrap();
    }
    // The day before the run, the member's administrator disables three accounts…
    set(&app, "member-admin", &a, "disable").await;
    set(&app, "member-admin", &b, "disable").await;
    let staff = app.who("member-staff").user_id.to_string();
    set(&app, "member-admin", &staff, "disable").await;
    let last = *all.last().unwrap();
    store::tenancy::seats::record(&app.db, last).await.unwrap();
    assert_eq!(active(&app, OWN).await, n - 1);
    // …and the other member's administrator adds accounts of its own.
    let o = active(&app, OTHER).await;
    for name in ["cy", "di", "ed"] {
        add(&app, OTHER, name).await;
    }
    store::tenancy::seats::record(&app.db, last).await.unwrap();
    let lines = seat_lines(&app, &period).await;
    let own = &lines[&app.orgs[OWN].to_string()];
    // The peak (n + 2 from the 15th), not the n − 1 active at the run.
    assert_eq!(own["quantity"], (n + 2).to_string(), "{own}");
    assert_eq!(own["amount_cents"], (n + 2) * 300);
    let month = [
        "Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec",
    ][usize::try_from(period_start.month() - 1).unwrap()];
    let said = format!(
        "peak of {} active accounts, 1–{} {month}",
        n + 2,
        last.day()
    );
    assert!(
        own["description"].as_str().unwrap().ends_with(&said),
        "{own} should end with {said:?}"
    );
    assert_eq!(own["trace"]["seats"]["recorded_days"], all.len());
    assert_eq!(own["trace"]["seats"]["peak_on"], all[14].to_string());
    // The other member's line is its own peak: its new accounts on the last day.
    let other = &lines[&app.orgs[OTHER].to_string()];
    assert_eq!(other["quantity"], (o + 3).to_string(), "{other}");
    // Enabling the accounts again after the run changes nothing already billed…
    set(&app, "member-admin", &a, "enable").await;
    let again = seat_lines(&app, &period).await;
    assert_eq!(
        again[&app.orgs[OWN].to_string()]["quantity"],
        own["quantity"]
    );
    // …and disabling more before a rerun lowers nothing either.
    set(&app, "member-admin", &a, "disable").await;
    set(
        &app,
        "member-admin",
        &app.who("colleague").user_id.to_string(),
        "disable",
    )
    .await;
    store::tenancy::seats::record(&app.db, last).await.unwrap();
    let again = seat_lines(&app, &period).await;
    assert_eq!(
        again[&app.orgs[OWN].to_string()]["quantity"],
        own["quantity"]
    );
}

#[tokio::test]
async fn an_account_added_and_disabled_between_daily_records_still_counts_that_day() {
    let app = TestApp::new().await;
    seat_agreements(&app, &[OWN, OTHER]).await;
    let today = today();
    let period = format!("{:04}-{:02}", today.year(), today.month());
    // No daily job has run: the accounts created by the fixture were recorded as they were made.
    let n = active(&app, OWN).await;
    let o = active(&app, OTHER).await;
    // Created and disabled again within the day, with two more disabled, before the run.
    let a = add(&app, OWN, "flo").await;
    set(&app, "member-admin", &a, "disable").await;
    set(
        &app,
        "member-admin",
        &app.who("member-staff").user_id.to_string(),
        "disable",
    )
    .await;
    set(
        &app,
        "member-admin",
        &app.who("colleague").user_id.to_string(),
        "disable",
    )
    .await;
    assert_eq!(active(&app, OWN).await, n - 2);
    let lines = seat_lines(&app, &period).await;
    let own = &lines[&app.orgs[OWN].to_string()];
    assert_eq!(own["quantity"], (n + 1).to_string(), "{own}");
    assert!(
        own["description"]
            .as_str()
            .unwrap()
            .contains(&format!("peak of {} active accounts", n + 1)),
        "{own}"
    );
    assert_eq!(own["trace"]["seats"]["peak_on"], today.to_string());
    // The other member is billed on its own accounts only.
    let other = &lines[&app.orgs[OTHER].to_string()];
    assert_eq!(other["quantity"], o.to_string(), "{other}");
    // The member sees the same line, with where its figure comes from.
    let (s, list) = get(
        &app,
        "member-admin",
        &format!("/api/v1/invoices?period={period}"),
    )
    .await;
    assert_eq!(s, 200);
    let id = list["items"][0]["id"].as_str().unwrap();
    let res = app
        .page(
            "member-admin",
            Method::GET,
            &format!("/billing/invoices/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let html = res.text().await.unwrap();
    assert!(
        html.contains(&format!("peak of {} active accounts", n + 1)),
        "the invoice page shows the figure's source"
    );
}

#[tokio::test]
async fn the_job_runner_records_every_members_active_accounts_for_the_day() {
    let app = TestApp::new().await;
    assert!(
        civitas::runner::RECURRING
            .iter()
            .any(|(kind, period)| *kind == "seats.daily" && *period == 60 * 60 * 1000)
    );
    let runner = civitas::runner::Runner::new(app.db.clone());
    runner.schedule().await.unwrap();
    crate::mail::drain(&runner).await;
    let done: Vec<_> = store::jobs::list(&app.db, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "seats.daily")
        .map(|j| j.status)
        .collect();
    assert_eq!(done, ["done"], "the daily record ran");
    let today = today();
    let recorded = store::tenancy::seats::between(&app.db, today, today.tomorrow().unwrap())
        .await
        .unwrap();
    for org in [OWN, OTHER] {
        assert_eq!(
            recorded[&app.orgs[org]],
            [(today, active(&app, org).await)],
            "{org}"
        );
    }
}
