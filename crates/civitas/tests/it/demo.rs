//! The whole demo region — the code `civitas serve --demo` runs — loaded into a fresh database on the
//! backend under test, then worked through the real HTTP API as the hub's administrator and a member's:
//! an invoice run with billable time, the finance report, a member's savings, the desk reports, a CMDB impact
//! walk and the cloud forecast. Aggregates that PostgreSQL types differently from SQLite (`SUM` over a
//! `BIGINT` is `NUMERIC` there) fail here first.

use crate::helpers::{fresh_database, json};
use domain::tenancy::Email;
use reqwest::{Client, Method};
use serde_json::{Value, json};
use std::time::Instant;
use store::Db;

struct Demo {
    base: String,
    client: Client,
    hub: String,
    member: String,
    hub_session: String,
    db: Db,
    _dir: tempfile::TempDir,
}

impl Demo {
    async fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let (db, _) = fresh_database(&dir).await;
        let started = Instant::now();
        let summary = civitas::demo::load(&db).await.expect("the demo loads");
        eprintln!(
            "demo loaded in {:.1} s ({} tickets)",
            started.elapsed().as_secs_f64(),
            summary.tickets
        );
        assert!(
            summary.tickets > 1000,
            "a year of tickets: {}",
            summary.tickets
        );
        let token = |email: &'static str| {
            let db = db.clone();
            async move {
                let u = store::tenancy::users::find_by_email(&db, &Email::parse(email).unwrap())
                    .await
                    .unwrap()
                    .unwrap();
                store::auth::create_token(
                    &db,
                    &store::audit::Actor::system("test"),
                    u.id,
                    u.org_id,
                    "demo test",
                )
                .await
                .unwrap()
                .0
            }
        };
        let hub = token("admin@melrose.example.gov").await;
        let member = token("admin@north-reading.example.gov").await;
        let hub_user = store::tenancy::users::find_by_email(
            &db,
            &Email::parse("admin@melrose.example.gov").unwrap(),
        )
        .await
        .unwrap()
        .unwrap();
        let (hub_session, _) =
            store::auth::create_session(&db, hub_user.id, Some(hub_user.org_id), 3_600_000)
                .await
                .unwrap();
        let state = web::AppState::new(
            db.clone(),
            web::WebConfig {
                region_name: civitas::demo::REGION_NAME.into(),
                ..Default::default()
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        tokio::spawn(async move {
            let _ = axum::serve(listener, web::app(state)).await;
        });
        Self {
            base: format!("http://{addr}"),
            client: Client::new(),
            hub,
            member,
            hub_session,
            db,
            _dir: dir,
        }
    }

    async fn call(&self, token: &str, method: Method, path: &str, body: Option<Value>) -> Value {
        let mut req = self
            .client
            .request(method.clone(), format!("{}{path}", self.base))
            .bearer_auth(token);
        if let Some(b) = body {
            req = req.json(&b);
        }
        let (status, v) = json(req.send().await.unwrap()).await;
        assert!(
            (200..300).contains(&status),
            "{method} {path}: {status} {v}"
        );
        v
    }

    async fn hub_get(&self, path: &str) -> Value {
        self.call(&self.hub, Method::GET, path, None).await
    }

    /// A page as the hub's administrator: its status and HTML.
    async fn page(&self, path: &str) -> (u16, String) {
        let res = self
            .client
            .get(format!("{}{path}", self.base))
            .header("cookie", format!("civitas_session={}", self.hub_session))
            .send()
            .await
            .unwrap();
        (res.status().as_u16(), res.text().await.unwrap())
    }
}

fn cents(v: &Value) -> i64 {
    v.as_i64().unwrap_or_else(|| panic!("not cents: {v}"))
}

fn items(v: &Value) -> &Vec<Value> {
    v["items"]
        .as_array()
        .unwrap_or_else(|| panic!("no items: {v}"))
}

/// Today's month and fiscal quarter (fiscal years start in July and are named by the year they end in).
fn periods() -> (String, String) {
    let today = crate::helpers::today();
    let (y, m) = (i32::from(today.year()), i32::from(today.month()));
    let fy = if m >= 7 { y + 1 } else { y };
    let q = (m + 12 - 7) % 12 / 3 + 1;
    (format!("{y:04}-{m:02}"), format!("FY{fy}-Q{q}"))
}

#[tokio::test]
async fn the_whole_demo_runs_invoices_reports_impact_and_forecasts() {
    let d = Demo::start().await;

    // Billable time today on a ticket of a member billed for time, so the run has minutes to sum.
    let (month, quarter) = periods();
    let billed_for_time: Vec<(String, i64)> = sqlx::query_as(
        "SELECT i.org_id, MIN(t.number) FROM invoices i JOIN invoice_lines l ON l.invoice_id = i.id \
         JOIN tickets t ON t.org_id = i.org_id \
         WHERE l.trace LIKE '%\"minutes\"%' GROUP BY i.org_id ORDER BY i.org_id",
    )
    .fetch_all(d.db.read_pool())
    .await
    .unwrap();
    assert!(
        !billed_for_time.is_empty(),
        "the demo's issued invoices charge billable time"
    );
    let (org_id, ticket) = billed_for_time[0].clone();
    let before: i64 = sqlx::query_scalar(
        "SELECT COALESCE(CAST(SUM(minutes) AS BIGINT), 0) FROM time_entries WHERE ticket_id = \
         (SELECT id FROM tickets WHERE number = $1)",
    )
    .bind(ticket)
    .fetch_one(d.db.read_pool())
    .await
    .unwrap();
    d.call(
        &d.hub,
        Method::POST,
        "/api/v1/time-entries",
        Some(json!({ "ticket": ticket, "minutes": 45, "activity": "support", "billable": true })),
    )
    .await;
    // The ticket's page adds up its time.
    let (status, html) = d.page(&format!("/tickets/{ticket}")).await;
    assert_eq!(status, 200, "{html}");
    let total = before + 45;
    let shown = match (total / 60, total % 60) {
        (0, m) => format!("{m} min logged"),
        (h, 0) => format!("{h} h logged"),
        (h, m) => format!("{h} h {m:02} min logged"),
    };
    assert!(html.contains(&shown), "the ticket page shows {shown}");
    let after: i64 = sqlx::query_scalar(
        "SELECT COALESCE(CAST(SUM(minutes) AS BIGINT), 0) FROM time_entries WHERE ticket_id = \
         (SELECT id FROM tickets WHERE number = $1)",
    )
    .bind(ticket)
    .fetch_one(d.db.read_pool())
    .await
    .unwrap();
    assert_eq!(after, total);

    // The invoice run of this month and this quarter, every line adding up to its invoice.
    let mut drafts = 0;
    let mut minutes_billed = 0;
    for period in [&month, &quarter] {
        let run = d
            .call(
                &d.hub,
                Method::POST,
                "/api/v1/invoice-runs",
                Some(json!({ "period": period })),
            )
            .await;
        assert!(
            run["problems"].as_array().unwrap().is_empty(),
            "{period}: {run}"
        );
        let list = d
            .hub_get(&format!("/api/v1/invoices?period={period}&limit=100"))
            .await;
        let mut total = 0;
        for inv in items(&list)
            .iter()
            .filter(|i| i["status"] == "draft" && i["kind"] == "invoice")
        {
            let full = d
                .hub_get(&format!("/api/v1/invoices/{}", inv["id"].as_str().unwrap()))
                .await;
            let lines = full["lines"].as_array().unwrap();
            assert!(!lines.is_empty(), "{full}");
            let sum: i64 = lines.iter().map(|l| cents(&l["amount_cents"])).sum();
            assert_eq!(sum, cents(&full["total_cents"]), "{full}");
            total += sum;
            if full["org_id"] == org_id.as_str() {
                minutes_billed += lines
                    .iter()
                    .filter_map(|l| l["trace"]["minutes"].as_i64())
                    .sum::<i64>();
            }
            drafts += 1;
        }
        assert_eq!(total, cents(&run["total_cents"]), "{period}: {run}");
    }
    assert!(drafts > 0, "the runs drafted invoices");
    assert!(
        minutes_billed >= 45,
        "the time logged today is billed: {minutes_billed} minutes"
    );

    // The hub's finance: services with costs and what they billed; the totals add up.
    let finance = d.hub_get("/api/v1/finance").await;
    let services = finance["services"].as_array().unwrap();
    assert!(services.len() >= 5, "{finance}");
    let billed: i64 = services.iter().map(|s| cents(&s["billed_cents"])).sum();
    assert!(billed > 0, "{finance}");
    assert_eq!(
        cents(&finance["margin_cents"]),
        cents(&finance["billed_cents"]) - cents(&finance["cost_cents"]),
        "{finance}"
    );
    let members = finance["members"].as_array().unwrap();
    assert_eq!(members.len(), civitas::demo::MEMBERS.len(), "{finance}");
    assert!(cents(&finance["forecast_cents"]) > 0, "{finance}");
    for m in members {
        let by_service: i64 = m["forecast"].as_object().unwrap().values().map(cents).sum();
        assert_eq!(by_service, cents(&m["forecast_cents"]), "{m}");
    }

    // A member's savings, as its administrator: its own member only, with benchmarks.
    let savings = d
        .call(&d.member, Method::GET, "/api/v1/savings", None)
        .await;
    let own = savings["members"].as_array().unwrap();
    assert_eq!(own.len(), 1, "{savings}");
    assert_eq!(own[0]["slug"], "north-reading");
    assert_eq!(own[0]["population"], 15_343);
    let rows = own[0]["services"].as_array().unwrap();
    assert!(!rows.is_empty(), "{savings}");
    assert!(cents(&own[0]["shared_cents"]) > 0, "{savings}");
    assert_eq!(
        cents(&own[0]["saved_cents"]),
        cents(&own[0]["standalone_cents"]) - cents(&own[0]["shared_cents"]),
        "{savings}"
    );

    // The desk reports: a year of tickets by month, member and service.
    let desk = d.hub_get("/api/v1/reports/desk").await;
    let by_month = desk["by_month"].as_array().unwrap();
    assert!(by_month.len() >= 12, "{desk}");
    let opened: i64 = by_month.iter().map(|m| m["opened"].as_i64().unwrap()).sum();
    assert!(opened > 1000, "{desk}");
    assert_eq!(
        desk["by_member"].as_array().unwrap().len(),
        civitas::demo::MEMBERS.len(),
        "{desk}"
    );
    assert!(!desk["by_service"].as_array().unwrap().is_empty(), "{desk}");
    let (status, html) = d.page("/reports").await;
    assert_eq!(status, 200, "{html}");

    // The CMDB: what stops when one of the hub's hosts does.
    let hosts = d.hub_get("/api/v1/cis?type=server&limit=100").await;
    let host = items(&hosts)
        .iter()
        .find(|c| c["name"] == "esx-a-01")
        .unwrap_or_else(|| panic!("the demo's first host: {hosts}"));
    let impact = d
        .hub_get(&format!(
            "/api/v1/cis/{}/impact",
            host["id"].as_str().unwrap()
        ))
        .await;
    let affected = impact["affected"].as_array().unwrap();
    assert!(
        affected.iter().any(|a| a["ci_type"] == "virtual_machine"),
        "{impact}"
    );
    assert!(
        affected.iter().any(|a| a["depth"].as_i64().unwrap() >= 2),
        "the walk goes past the VMs: {impact}"
    );

    // The regional cloud: each pool's trend and the day it runs out.
    let pools = d.hub_get("/api/v1/cloud/pools").await;
    assert_eq!(items(&pools).len(), 2, "{pools}");
    for pool in items(&pools) {
        let dims = pool["dimensions"].as_array().unwrap();
        let vcpu = dims.iter().find(|x| x["dimension"] == "vcpu").unwrap();
        assert!(vcpu["allocated"].as_i64().unwrap() > 0, "{pool}");
        assert!(vcpu["trend"]["per_day"].is_string(), "{pool}");
        assert!(vcpu["runs_out"]["state"].is_string(), "{pool}");
        let one = d
            .hub_get(&format!(
                "/api/v1/cloud/pools/{}",
                pool["id"].as_str().unwrap()
            ))
            .await;
        assert!(one.to_string().len() > 1000, "a pool's history: {one}");
    }
    assert!(
        items(&pools)
            .iter()
            .any(|p| p["first_to_run_out"][1]["date"].is_string()),
        "eighteen months of growth forecast a day: {pools}"
    );
    for page in [
        "/cloud",
        "/billing/finance",
        "/billing/savings?org=north-reading",
        "/cmdb",
    ] {
        let (status, html) = d.page(page).await;
        assert_eq!(status, 200, "{page}: {html}");
    }
}
