//! Shared-services economics through the API: usage metering.

use crate::helpers::{OTHER, OWN, TestApp, get, json, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn post_usage(app: &TestApp, who: &str, body: Value) -> (u16, Value) {
    send(app, who, Method::POST, "/api/v1/usage", body).await
}

fn record(id: &str, org: &str, meter: &str, quantity: Value, period: &str) -> Value {
    json!({ "id": id, "org": org, "meter": meter, "quantity": quantity, "period": period, "source": "vcenter" })
}

#[tokio::test]
async fn usage_sent_twice_counts_once_and_adds_up_per_member_meter_and_month() {
    let app = TestApp::new().await;
    let batch = json!({ "records": [
        record("vc-1", OWN, "storage.gb_month", json!("1200.5"), "2026-09"),
        record("vc-2", OWN, "storage.gb_month", json!("0.25"), "2026-09-30"),
        record("vc-3", OWN, "storage.gb_month", json!(10), "2026-10-01"),
        record("vc-4", OTHER, "vm", json!(4), "2026-09"),
        // The same id twice in one batch counts once.
        record("vc-4", OTHER, "vm", json!(4), "2026-09"),
    ] });
    let (s, r) = post_usage(&app, "hub-admin", batch.clone()).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(4), Some(1))
    );
    // The whole batch again: nothing new.
    let (s, r) = post_usage(&app, "hub-admin", batch).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(5))
    );
    let (s, t) = get(
        &app,
        "hub-admin",
        "/api/v1/usage/totals?from=2026-09&to=2026-10",
    )
    .await;
    assert_eq!(s, 200, "{t}");
    let items = t["items"].as_array().unwrap();
    let find = |org: &str, meter: &str, month: &str| {
        let id = app.orgs[org].to_string();
        items
            .iter()
            .find(|i| i["org_id"] == id && i["meter"] == meter && i["month"] == month)
            .cloned()
            .unwrap_or(Value::Null)
    };
    // Exact decimals, never floats: 1200.5 + 0.25.
    assert_eq!(
        find(OWN, "storage.gb_month", "2026-09")["quantity"],
        "1200.75"
    );
    assert_eq!(find(OWN, "storage.gb_month", "2026-09")["records"], 2);
    assert_eq!(find(OWN, "storage.gb_month", "2026-10")["quantity"], "10");
    assert_eq!(find(OTHER, "vm", "2026-09")["quantity"], "4");
    // The records behind a total, paged.
    let (s, page) = get(
        &app,
        "hub-admin",
        &format!("/api/v1/usage?org={OWN}&meter=storage.gb_month&month=2026-09&limit=1"),
    )
    .await;
    assert_eq!(s, 200, "{page}");
    assert_eq!(page["items"][0]["id"], "vc-1");
    let cursor = page["next_cursor"].as_str().unwrap();
    let (_, next) = get(
        &app,
        "hub-admin",
        &format!(
            "/api/v1/usage?org={OWN}&meter=storage.gb_month&month=2026-09&limit=1&cursor={cursor}"
        ),
    )
    .await;
    assert_eq!(next["items"][0]["id"], "vc-2");
    assert!(next.get("next_cursor").is_none(), "{next}");
    // One audit entry per batch that stored something.
    let (_, audit) = get(&app, "hub-admin", "/api/v1/audit?action=usage.ingest").await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1, "{audit}");
}

#[tokio::test]
async fn members_see_only_their_own_usage() {
    let app = TestApp::new().await;
    let (s, _) = post_usage(
        &app,
        "hub-admin",
        json!({ "records": [
            record("a", OWN, "mailboxes", json!(40), "2026-09"),
            record("b", OTHER, "mailboxes", json!(25), "2026-09"),
        ] }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, mine) = get(&app, "member-admin", "/api/v1/usage?month=2026-09").await;
    assert_eq!(s, 200);
    let ids: Vec<&str> = mine["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|i| i["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["a"]);
    let (_, totals) = get(&app, "member-admin", "/api/v1/usage/totals?from=2026-09").await;
    assert_eq!(totals["items"].as_array().unwrap().len(), 1);
    // Asking for another member's usage by name is refused with the field named.
    let (s, e) = get(
        &app,
        "member-admin",
        &format!("/api/v1/usage?month=2026-09&org={OTHER}"),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    // Members do not record usage; staff do not read it.
    let (s, _) = post_usage(
        &app,
        "member-admin",
        json!({ "records": [record("c", OWN, "mailboxes", json!(1), "2026-09")] }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, _) = get(&app, "member-staff", "/api/v1/usage?month=2026-09").await;
    assert_eq!(s, 403);
}

#[tokio::test]
async fn a_batch_with_a_bad_record_stores_nothing_and_names_each_problem() {
    let app = TestApp::new().await;
    let (s, e) = post_usage(
        &app,
        "hub-admin",
        json!({ "records": [
            record("ok-1", OWN, "vm", json!(2), "2026-09"),
            record("", OWN, "VM Hours", json!("-3"), "September"),
            record("ok-2", "no-such-town", "vm", json!(1), "2026-09"),
        ] }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        [
            "records[1].id",
            "records[1].meter",
            "records[1].quantity",
            "records[1].period"
        ],
        "{e}"
    );
    // Fix that record: the unknown member is named next, and still nothing is stored.
    let (s, e) = post_usage(
        &app,
        "hub-admin",
        json!({ "records": [
            record("ok-1", OWN, "vm", json!(2), "2026-09"),
            record("ok-2", "no-such-town", "vm", json!(1), "2026-09"),
        ] }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "records[1].org", "{e}");
    let (_, list) = get(&app, "hub-admin", "/api/v1/usage?month=2026-09").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    // A float quantity is refused rather than rounded; so are empty and oversized batches.
    let (s, e) = post_usage(
        &app,
        "hub-admin",
        json!({ "records": [record("f", OWN, "vm", json!(0.1), "2026-09")] }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("as a string"), "{e}");
    let (s, _) = post_usage(&app, "hub-admin", json!({ "records": [] })).await;
    assert_eq!(s, 422);
    let many: Vec<Value> = (0..10_001)
        .map(|i| record(&format!("m{i}"), OWN, "vm", json!(1), "2026-09"))
        .collect();
    let (s, e) = post_usage(&app, "hub-admin", json!({ "records": many })).await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("at most 10000"), "{e}");
    let (s, e) = get(&app, "hub-admin", "/api/v1/usage").await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "month");
    let (s, e) = get(&app, "hub-admin", "/api/v1/usage/totals?from=2026-13").await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "from");
}

#[tokio::test]
async fn a_rate_card_keeps_every_price_from_its_date() {
    let app = TestApp::new().await;
    let email = app.desk.services["email"].to_string();
    let (s, card) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": email, "name": "Email — per mailbox", "model": "per_unit", "unit": "mailbox",
                "price": "6.50", "effective_from": "2026-07-01", "note": "FY2027 rate" }),
    )
    .await;
    assert_eq!(s, 201, "{card}");
    assert_eq!(card["rates"][0]["price"], "6.50");
    let id = card["id"].as_str().unwrap().to_owned();
    let (s, card) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/rate-cards/{id}/rates"),
        json!({ "price": "6.75", "effective_from": "2027-07-01" }),
    )
    .await;
    assert_eq!(s, 201, "{card}");
    let prices: Vec<&str> = card["rates"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r["price"].as_str().unwrap())
        .collect();
    assert_eq!(prices, ["6.50", "6.75"]);
    // A second price on the same date is a conflict, named.
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/rate-cards/{id}/rates"),
        json!({ "price": "7", "effective_from": "2027-07-01" }),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    assert!(e.to_string().contains("effective_from"), "{e}");
    // Members read the prices; only the hub sets them.
    let (s, list) = send(
        &app,
        "member-admin",
        Method::GET,
        "/api/v1/rate-cards",
        Value::Null,
    )
    .await;
    assert_eq!(s, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/rate-cards/{id}/rates"),
        json!({ "price": "1", "effective_from": "2028-07-01" }),
    )
    .await;
    assert_eq!(s, 403);
    // Bad cards are refused field by field; a float price is never accepted.
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": "nope", "name": "", "model": "hourly", "price": "-1", "effective_from": "July" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["service_id", "name", "model", "price", "effective_from"],
        "{e}"
    );
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": email, "name": "Help hours", "model": "prepaid_hours", "price": 1500, "effective_from": "2026-07-01" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "overage", "{e}");
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": email, "name": "Float", "model": "fixed", "price": 12.5, "effective_from": "2026-07-01" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
}

#[tokio::test]
async fn an_agreement_keeps_its_amendments_and_members_see_only_their_own() {
    let app = TestApp::new().await;
    let email = app.desk.services["email"].to_string();
    let (_, card) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": email, "name": "Email — per mailbox", "model": "per_unit", "unit": "mailbox",
                "price": "6.50", "effective_from": "2026-07-01" }),
    )
    .await;
    let (s, a) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/agreements",
        json!({ "org": OWN, "title": "Shared IT services FY2027", "status": "active", "cadence": "quarterly",
                "starts_on": "2026-07-01", "ends_on": "2029-07-01", "renewal": "by_vote",
                "approving_body": "Select Board", "vote_date": "2026-05-12" }),
    )
    .await;
    assert_eq!(s, 201, "{a}");
    let id = a["id"].as_str().unwrap().to_owned();
    let (s, sub) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/agreements/{id}/subscriptions"),
        json!({ "rate_card_id": card["id"], "quantity": 120, "starts_on": "2026-07-01" }),
    )
    .await;
    assert_eq!(s, 201, "{sub}");
    let sub_id = sub["id"].as_str().unwrap().to_owned();
    // A stale edit changes nothing (412); a current one is an amendment.
    let stale = app
        .api(
            "hub-admin",
            Method::PATCH,
            &format!("/api/v1/subscriptions/{sub_id}"),
        )
        .header("If-Match", "\"v7\"")
        .json(&json!({ "quantity": "130" }))
        .send()
        .await
        .unwrap();
    assert_eq!(stale.status(), 412);
    let (s, sub) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/subscriptions/{sub_id}"),
        json!({ "quantity": "130", "ends_on": "2027-07-01" }),
    )
    .await;
    assert_eq!(s, 200, "{sub}");
    assert_eq!(sub["quantity"], "130");
    // The member's administrator reads it, with its history in order; another member cannot see it.
    let (s, full) = send(
        &app,
        "member-admin",
        Method::GET,
        &format!("/api/v1/agreements/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{full}");
    let summaries: Vec<&str> = full["amendments"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["summary"].as_str().unwrap())
        .collect();
    assert_eq!(summaries.len(), 3, "{summaries:?}");
    assert_eq!(summaries[0], "Agreement recorded");
    assert!(
        summaries[2].contains("quantity") && summaries[2].contains("ends on"),
        "{summaries:?}"
    );
    assert_eq!(full["subscriptions"][0]["quantity"], "130");
    let (s, _) = send(
        &app,
        "other-admin",
        Method::GET,
        &format!("/api/v1/agreements/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 404);
    let (_, theirs) = send(
        &app,
        "other-admin",
        Method::GET,
        "/api/v1/agreements",
        Value::Null,
    )
    .await;
    assert_eq!(theirs["items"].as_array().unwrap().len(), 0);
    // Terms are checked: a subscription outside the agreement, an end before the start.
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/agreements/{id}/subscriptions"),
        json!({ "rate_card_id": card["id"], "starts_on": "2026-01-01" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "starts_on");
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/agreements/{id}"),
        json!({ "ends_on": "2026-06-30" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "ends_on");
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/agreements",
        json!({ "org": OTHER, "starts_on": "2026-07-01", "status": "active" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["title", "approving_body"], "{e}");
}

/// Lines as (description, amount) pairs, for comparing runs.
fn line_pairs(inv: &Value) -> Vec<(String, i64)> {
    inv["lines"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            (
                l["description"].as_str().unwrap().to_owned(),
                l["amount_cents"].as_i64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn a_month_is_invoiced_from_rates_usage_and_days_and_issued_invoices_never_change() {
    let app = TestApp::new().await;
    let card = |service: &str, name: &str, model: &str, unit: &str, meter: &str, price: &str| {
        json!({ "service_id": app.desk.services[service].to_string(), "name": name, "model": model, "unit": unit,
                "meter": meter, "price": price, "effective_from": "2026-07-01" })
    };
    let mut cards = Vec::new();
    for body in [
        card("email", "Email", "per_unit", "mailbox", "", "6.50"),
        card(
            "backup",
            "Backup",
            "per_unit",
            "GB-month",
            "backup.gb_month",
            "0.042",
        ),
        card("security", "CISO", "fixed", "month", "", "1800"),
    ] {
        let (s, c) = send(&app, "hub-admin", Method::POST, "/api/v1/rate-cards", body).await;
        assert_eq!(s, 201, "{c}");
        cards.push(c["id"].as_str().unwrap().to_owned());
    }
    let (_, a) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/agreements",
        json!({ "org": OWN, "title": "Shared services", "status": "active", "cadence": "monthly",
                "starts_on": "2026-07-01", "approving_body": "Select Board" }),
    )
    .await;
    let agreement = a["id"].as_str().unwrap().to_owned();
    for (card, quantity, starts) in [
        (&cards[0], json!(120), "2026-07-01"),
        (&cards[1], json!(1), "2026-07-01"),
        (&cards[2], json!(1), "2026-09-11"),
    ] {
        let (s, sub) = send(
            &app,
            "hub-admin",
            Method::POST,
            &format!("/api/v1/agreements/{agreement}/subscriptions"),
            json!({ "rate_card_id": card, "quantity": quantity, "starts_on": starts }),
        )
        .await;
        assert_eq!(s, 201, "{sub}");
    }
    post_usage(
        &app,
        "hub-admin",
        json!({ "records": [record("b-1", OWN, "backup.gb_month", json!("1000.5"), "2026-09")] }),
    )
    .await;
    let run = |period: &'static str| {
        let app = &app;
        async move {
            send(
                app,
                "hub-admin",
                Method::POST,
                "/api/v1/invoice-runs",
                json!({ "period": period }),
            )
            .await
        }
    };
    let (s, report) = run("2026-09").await;
    assert_eq!(s, 201, "{report}");
    assert_eq!(report["drafts"], 1, "{report}");
    let (_, list) = send(
        &app,
        "hub-admin",
        Method::GET,
        "/api/v1/invoices?period=2026-09",
        Value::Null,
    )
    .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, inv) = send(
        &app,
        "hub-admin",
        Method::GET,
        &format!("/api/v1/invoices/{id}"),
        Value::Null,
    )
    .await;
    // 120 × $6.50; 1,000.5 GB-months × $0.042 = $42.021 → $42.02; $1,800 × 20 of 30 days = $1,200.
    let amounts: Vec<i64> = line_pairs(&inv).iter().map(|l| l.1).collect();
    assert_eq!(amounts, [78_000, 4_202, 120_000], "{inv}");
    assert_eq!(inv["total_cents"], 202_202);
    assert_eq!(inv["lines"][1]["trace"]["records"], 1, "{inv}");
    assert!(
        inv["lines"][2]["description"]
            .as_str()
            .unwrap()
            .contains("20 of 30 days")
    );
    // Running the month again gives the same drafts.
    let (_, again) = run("2026-09").await;
    assert_eq!(again["total_cents"], report["total_cents"]);
    let (_, list) = send(
        &app,
        "hub-admin",
        Method::GET,
        "/api/v1/invoices?period=2026-09",
        Value::Null,
    )
    .await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, inv2) = send(
        &app,
        "hub-admin",
        Method::GET,
        &format!("/api/v1/invoices/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(line_pairs(&inv2), line_pairs(&inv));
    // Issued: numbered, and a later run leaves it alone even if usage arrives late.
    let (s, issued) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{id}/issue"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{issued}");
    assert_eq!(issued["number"], "INV-000001");
    post_usage(
        &app,
        "hub-admin",
        json!({ "records": [record("b-2", OWN, "backup.gb_month", json!(500), "2026-09")] }),
    )
    .await;
    let (_, later) = run("2026-09").await;
    assert_eq!(
        (later["drafts"].as_u64(), later["already_issued"].as_u64()),
        (Some(0), Some(1)),
        "{later}"
    );
    let (_, still) = send(
        &app,
        "hub-admin",
        Method::GET,
        &format!("/api/v1/invoices/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(line_pairs(&still), line_pairs(&inv2));
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{id}/issue"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 422, "{e}");
    // The PDF and the CSV say the same, line by line (snapshots of their text).
    let pdf = app
        .api(
            "member-admin",
            Method::GET,
            &format!("/api/v1/invoices/{id}/pdf"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(pdf.headers()["content-type"], "application/pdf");
    let text = web::pdf::shown_text(&pdf.bytes().await.unwrap());
    let due = issued["due_on"].as_str().unwrap();
    let issued_on = text
        .iter()
        .position(|t| t == "Issued")
        .map(|i| text[i + 1].clone())
        .unwrap();
    let expected = [
        "Test Region",
        "Invoice INV-000001",
        "Member",
        "Town of North Reading",
        "Period",
        "2026-09",
        "Issued",
        &issued_on,
        "Due",
        due,
        "Status",
        "Issued",
        "Description",
        "Quantity",
        "Unit price",
        "Amount",
        "Email, 2026-09",
        "120",
        "$6.50",
        "$780.00",
        "Backup, 2026-09: 1000.5 GB-month recorded",
        "1000.5",
        "$0.042",
        "$42.02",
        "CISO, 2026-09, 20 of 30 days",
        "1",
        "$1,800.00",
        "$1,200.00",
        "Total",
        "$2,022.02",
        "Amounts in US dollars. Each line is traced to its rate, days and usage in Civitas.",
        "Page 1 of 1",
    ];
    assert_eq!(text, expected, "{text:#?}");
    let csv = app
        .page(
            "hub-admin",
            Method::GET,
            &format!("/billing/invoices/{id}?format=csv"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        csv.lines().take(4).collect::<Vec<_>>(),
        [
            "invoice,member,period,line,description,quantity,unit_price,amount,trace",
            r#"INV-000001,north-reading,2026-09,1,"Email, 2026-09",120,6.50,780.00,"{""month"":""2026-09"",""rate_from"":""2026-07-01""}""#,
            r#"INV-000001,north-reading,2026-09,2,"Backup, 2026-09: 1000.5 GB-month recorded",1000.5,0.042,42.02,"{""meter"":""backup.gb_month"",""month"":""2026-09"",""rate_from"":""2026-07-01"",""records"":1}""#,
            r#"INV-000001,north-reading,2026-09,3,"CISO, 2026-09, 20 of 30 days",1,1800,1200.00,"{""days"":[10,30],""month"":""2026-09"",""rate_from"":""2026-07-01""}""#,
        ],
        "{csv}"
    );
    // The member sees its invoice and the lines behind it; another member does not.
    let (s, mine) = send(
        &app,
        "member-admin",
        Method::GET,
        &format!("/api/v1/invoices/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 200, "{mine}");
    let (s, _) = send(
        &app,
        "other-admin",
        Method::GET,
        &format!("/api/v1/invoices/{id}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 404);
    // Payments: never more than is due; paid in full, the invoice is paid.
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{id}/payments"),
        json!({ "amount": "5000" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("$2,022.02"), "{e}");
    let (s, part) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{id}/payments"),
        json!({ "amount": "1000", "method": "ach" }),
    )
    .await;
    assert_eq!(
        (s, part["status"].as_str()),
        (201, Some("issued")),
        "{part}"
    );
    let (_, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{id}/void"),
        json!({ "reason": "Wrong count" }),
    )
    .await;
    assert!(e.to_string().contains("payments"), "{e}");
    let (_, paid) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{id}/payments"),
        json!({ "amount": "1022.02" }),
    )
    .await;
    assert_eq!(paid["status"], "paid", "{paid}");
    // October: issued, then voided — the credit note takes the next number and the opposite amount.
    run("2026-10").await;
    let (_, oct) = send(
        &app,
        "hub-admin",
        Method::GET,
        "/api/v1/invoices?period=2026-10",
        Value::Null,
    )
    .await;
    let oct_id = oct["items"][0]["id"].as_str().unwrap().to_owned();
    let (_, o) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{oct_id}/issue"),
        Value::Null,
    )
    .await;
    assert_eq!(o["number"], "INV-000002");
    let (s, credit) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/invoices/{oct_id}/void"),
        json!({ "reason": "Agreement amended" }),
    )
    .await;
    assert_eq!(s, 200, "{credit}");
    assert_eq!(credit["number"], "INV-000003");
    assert_eq!(credit["kind"], "credit_note");
    assert_eq!(
        credit["total_cents"].as_i64(),
        o["total_cents"].as_i64().map(|t| -t)
    );
    // A quarter runs only quarterly agreements; a bad period is named.
    let (_, q) = run("FY2027-Q2").await;
    assert_eq!(q["drafts"], 0, "{q}");
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/invoice-runs",
        json!({ "period": "2026-13" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "period");
}

async fn import(app: &TestApp, query: &str, csv: &str) -> (u16, Value) {
    json(
        app.api(
            "hub-admin",
            Method::POST,
            &format!("/api/v1/usage/import{query}"),
        )
        .header("content-type", "text/csv")
        .body(csv.to_owned())
        .send()
        .await
        .unwrap(),
    )
    .await
}

#[tokio::test]
async fn a_usage_csv_is_checked_row_by_row_and_imports_all_or_nothing() {
    let app = TestApp::new().await;
    let good = format!(
        "org,id,meter,quantity,period,source\n{OWN},c-1,vm,4,2026-09,vcenter\n{OWN},c-2,storage.gb_month,120.25,2026-09-14,netapp\n{OTHER},c-3,vm,2,2026-09,vcenter\n"
    );
    // A dry run says what would happen and stores nothing.
    let (s, r) = import(&app, "?dry_run=true", &good).await;
    assert_eq!(s, 200, "{r}");
    assert_eq!(
        (r["dry_run"].as_bool(), r["accepted"].as_u64()),
        (Some(true), Some(3)),
        "{r}"
    );
    let (_, list) = get(&app, "hub-admin", "/api/v1/usage?month=2026-09").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 0, "{list}");
    let (_, audit) = get(&app, "hub-admin", "/api/v1/audit?action=usage.ingest").await;
    assert_eq!(
        audit["items"].as_array().unwrap().len(),
        0,
        "a dry run leaves no trace"
    );
    // For real; the same file again is all duplicates.
    let (s, r) = import(&app, "", &good).await;
    assert_eq!((s, r["accepted"].as_u64()), (200, Some(3)), "{r}");
    let (_, r) = import(&app, "?dry_run=true", &good).await;
    assert_eq!(
        (r["accepted"].as_u64(), r["duplicates"].as_u64()),
        (Some(0), Some(3)),
        "{r}"
    );
    // Bad rows are named by their line in the file (the header is row 1); nothing of the file is stored.
    let bad = format!(
        "id,org,meter,quantity,period\nd-1,{OWN},vm,1,2026-09\nd-2,{OWN},vm,-1,2026-09\nd-3,{OWN},VM!,1,2026-9\nd-4,nowhere,vm,1,2026-09\n"
    );
    let (s, e) = import(&app, "", &bad).await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(
        fields,
        ["row 3.quantity", "row 4.meter", "row 4.period"],
        "{e}"
    );
    let fixed = bad
        .replace("-1,2026-09", "1,2026-09")
        .replace("VM!,1,2026-9", "vm,1,2026-09");
    let (s, e) = import(&app, "", &fixed).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(e["errors"][0]["field"], "row 5.org", "{e}");
    let (_, list) = get(&app, "hub-admin", "/api/v1/usage?month=2026-09&meter=vm").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        2,
        "only the good file's rows: {list}"
    );
    // The same through the billing page's upload form: checked, then refused with the rows named.
    let hub = app.who("hub-admin").clone();
    let upload = |csv: String, dry: bool| {
        let mut form = reqwest::multipart::Form::new().text("_csrf", hub.csrf.clone());
        if dry {
            form = form.text("dry_run", "true");
        }
        form.part(
            "file",
            reqwest::multipart::Part::text(csv)
                .file_name("usage.csv")
                .mime_str("text/csv")
                .unwrap(),
        )
    };
    let res = app
        .page("hub-admin", Method::POST, "/billing/usage/import")
        .multipart(upload(
            format!("id,org,meter,quantity,period\np-1,{OWN},vm,3,2026-10\n"),
            true,
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("would store 1 new records") && page.contains("Nothing was stored"),
        "{page}"
    );
    let res = app
        .page("hub-admin", Method::POST, "/billing/usage/import")
        .multipart(upload(bad.clone(), false))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("Nothing was imported") && page.contains("row 3.quantity"),
        "{page}"
    );
    // A file without the needed columns is refused as a whole.
    let (s, e) = import(&app, "", "id,org,quantity\nx,y,1\n").await;
    assert_eq!(s, 422, "{e}");
    assert!(e.to_string().contains("no column meter, period"), "{e}");
}

#[tokio::test]
async fn the_hub_records_agreements_and_prices_on_pages_with_errors_beside_the_fields() {
    let app = TestApp::new().await;
    let hub = app.who("hub-admin").clone();
    let post = |path: &'static str, fields: Vec<(&'static str, String)>| {
        let mut fields = fields;
        fields.push(("_csrf", hub.csrf.clone()));
        app.page("hub-admin", Method::POST, path)
            .form(&fields)
            .send()
    };
    // A rate card without a price: the form comes back with the name kept and the price named.
    let res = post(
        "/billing/rate-cards",
        vec![
            ("service_id", app.desk.services["email"].to_string()),
            ("name", "Email — per mailbox".into()),
            ("model", "per_unit".into()),
            ("unit", "mailbox".into()),
            ("effective_from", "2026-07-01".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("price: is required") && page.contains("value=\"Email — per mailbox\""),
        "{page}"
    );
    let res = post(
        "/billing/rate-cards",
        vec![
            ("service_id", app.desk.services["email"].to_string()),
            ("name", "Email — per mailbox".into()),
            ("model", "per_unit".into()),
            ("unit", "mailbox".into()),
            ("price", "6.50".into()),
            ("effective_from", "2026-07-01".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303, "a saved form redirects to what it made");
    let (_, cards) = get(&app, "hub-admin", "/api/v1/rate-cards").await;
    let card = cards["items"][0]["id"].as_str().unwrap().to_owned();
    // An active agreement without who approved it is refused; with it, recorded.
    let res = post(
        "/billing/agreements",
        vec![
            ("org", OWN.into()),
            ("title", "Shared IT services".into()),
            ("status", "active".into()),
            ("cadence", "monthly".into()),
            ("starts_on", "2026-07-01".into()),
            ("renewal", "annual".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("approving_body: is required for an active agreement")
    );
    let res = post(
        "/billing/agreements",
        vec![
            ("org", OWN.into()),
            ("title", "Shared IT services".into()),
            ("status", "active".into()),
            ("cadence", "monthly".into()),
            ("starts_on", "2026-07-01".into()),
            ("renewal", "annual".into()),
            ("approving_body", "Select Board".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303, "a saved form redirects to what it made");
    let (_, list) = get(&app, "hub-admin", "/api/v1/agreements").await;
    let id = list["items"][0]["id"].as_str().unwrap().to_owned();
    let path: &'static str =
        Box::leak(format!("/billing/agreements/{id}/subscriptions").into_boxed_str());
    let res = post(
        path,
        vec![
            ("rate_card_id", card),
            ("quantity", "140".into()),
            ("starts_on", "2026-07-01".into()),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303, "a saved form redirects to what it made");
    let (_, a) = get(&app, "member-admin", &format!("/api/v1/agreements/{id}")).await;
    assert_eq!(a["subscriptions"][0]["quantity"], "140", "{a}");
}

#[tokio::test]
async fn a_seat_card_charges_each_person_with_an_active_account() {
    let app = TestApp::new().await;
    let (_, card) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/rate-cards",
        json!({ "service_id": app.desk.services["accounts"].to_string(), "name": "Accounts — per person",
                "model": "per_unit", "unit": "person", "meter": "derived.seats", "price": "3",
                "effective_from": "2026-07-01" }),
    )
    .await;
    let (_, a) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/agreements",
        json!({ "org": OWN, "title": "Accounts", "status": "active", "starts_on": "2026-07-01",
                "approving_body": "Select Board" }),
    )
    .await;
    send(
        &app,
        "hub-admin",
        Method::POST,
        &format!(
            "/api/v1/agreements/{}/subscriptions",
            a["id"].as_str().unwrap()
        ),
        json!({ "rate_card_id": card["id"], "starts_on": "2026-07-01" }),
    )
    .await;
    let people: i64 =
        sqlx::query_scalar::<_, i64>("SELECT COUNT(*) FROM users WHERE active = 1 AND org_id = $1")
            .bind(app.orgs[OWN].to_string())
            .fetch_one(app.db.read_pool())
            .await
            .unwrap();
    assert!(people > 0);
    send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/invoice-runs",
        json!({ "period": "2026-09" }),
    )
    .await;
    let (_, list) = get(&app, "hub-admin", "/api/v1/invoices?period=2026-09").await;
    let id = list["items"][0]["id"].as_str().unwrap();
    let (_, inv) = get(&app, "hub-admin", &format!("/api/v1/invoices/{id}")).await;
    assert_eq!(inv["lines"][0]["quantity"], people.to_string(), "{inv}");
    assert_eq!(inv["total_cents"], people * 300);
}
