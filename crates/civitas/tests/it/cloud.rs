//! The regional cloud through the API and the pages: pools and their parts, allocations read from the CMDB,
//! who sees which allocations, growth and the forecast day a pool runs out, and the chargeback meters.

use crate::helpers::{OTHER, OWN, TestApp, fields, get, send, today};
use domain::cloud::Resources;
use reqwest::Method;
use serde_json::{Value, json};

async fn item(app: &TestApp, who: &str, body: Value) -> String {
    let (s, v) = send(app, who, Method::POST, "/api/v1/cis", body).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn relate(app: &TestApp, who: &str, from: &str, kind: &str, to: &str) {
    let (s, v) = send(
        app,
        who,
        Method::POST,
        &format!("/api/v1/cis/{from}/relations"),
        json!({ "kind": kind, "to_ci": to }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
}

/// A pool with a host and an array, a member VM and volume on it and another member's VM: returns
/// (pool id, host id, array id, the member's VM id).
async fn region(app: &TestApp) -> (String, String, String, String) {
    let site = item(
        app,
        "hub-admin",
        json!({ "type": "site", "name": "Data centre" }),
    )
    .await;
    let host = item(
        app,
        "hub-admin",
        json!({ "type": "server", "name": "esx-01", "attributes": { "vcpu": 64 } }),
    )
    .await;
    let array = item(
        app,
        "hub-admin",
        json!({ "type": "storage_volume", "name": "Array A", "attributes": { "size_gb": 100000 } }),
    )
    .await;
    let (s, pool) = send(
        app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": "Cluster A", "site_id": site, "vcpu": 100, "ram_gb": "400",
                "storage_gb": 10000, "backup_gb": 5000, "notes": "2:1 overcommit" }),
    )
    .await;
    assert_eq!(s, 201, "{pool}");
    assert_eq!(pool["site_name"], "Data centre");
    let pool = pool["id"].as_str().unwrap().to_owned();
    for part in [&host, &array] {
        let (s, v) = send(
            app,
            "hub-admin",
            Method::POST,
            &format!("/api/v1/cloud/pools/{pool}/parts"),
            json!({ "ci_id": part }),
        )
        .await;
        assert_eq!(s, 201, "{v}");
    }
    let vm = item(
        app,
        "member-admin",
        json!({ "type": "virtual_machine", "name": "nr-app-01",
                "attributes": { "vcpu": 4, "ram_gb": 16, "disk_gb": 100 } }),
    )
    .await;
    relate(app, "member-admin", &vm, "runs_on", &host).await;
    relate(app, "member-admin", &vm, "backs_up_to", &array).await;
    let volume = item(
        app,
        "member-admin",
        json!({ "type": "storage_volume", "name": "nr-data-01", "attributes": { "size_gb": 500 } }),
    )
    .await;
    relate(app, "member-admin", &volume, "runs_on", &array).await;
    let theirs = item(
        app,
        "other-admin",
        json!({ "type": "virtual_machine", "name": "st-app-01",
                "attributes": { "vcpu": 8, "ram_gb": 32, "disk_gb": 200 } }),
    )
    .await;
    relate(app, "other-admin", &theirs, "runs_on", &host).await;
    (pool, host, array, vm)
}

fn dimension<'a>(pool: &'a Value, name: &str) -> &'a Value {
    pool["dimensions"]
        .as_array()
        .unwrap()
        .iter()
        .find(|d| d["dimension"] == name)
        .unwrap()
}

#[tokio::test]
async fn pools_count_what_the_cmdb_allocates_and_members_see_only_their_own_share() {
    let app = TestApp::new().await;
    let (pool, host, _array, vm) = region(&app).await;
    let (s, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{pool}")).await;
    assert_eq!(s, 200, "{p}");
    // 4 + 8 vCPU; 16 + 32 GB; disks 100 + 200 and the 500 GB volume; the VM's 100 GB disk backed up.
    assert_eq!(
        p["allocated"],
        json!({ "vcpu": 12, "ram_gb": 48, "storage_gb": 800, "backup_gb": 100 })
    );
    assert_eq!(dimension(&p, "vcpu")["utilisation_percent"], "12");
    assert_eq!(dimension(&p, "storage_gb")["utilisation_percent"], "8");
    assert_eq!(p["allocations"].as_array().unwrap().len(), 2);
    assert_eq!(p["parts"].as_array().unwrap().len(), 2);
    // No history yet: no forecast.
    assert_eq!(
        dimension(&p, "vcpu")["runs_out"],
        json!({ "state": "too_little_history" })
    );
    // A member sees the pool and its totals, but only its own allocation.
    let (s, mine) = get(&app, "member-admin", &format!("/api/v1/cloud/pools/{pool}")).await;
    assert_eq!(s, 200);
    assert_eq!(mine["allocated"]["vcpu"], 12);
    let orgs: Vec<&str> = mine["allocations"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| a["org_name"].as_str().unwrap())
        .collect();
    assert_eq!(orgs, ["Town of North Reading"]);
    let (_, list) = get(&app, "member-admin", "/api/v1/cloud/allocations").await;
    assert_eq!(list["items"].as_array().unwrap().len(), 1);
    assert_eq!(
        list["items"][0]["allocated"],
        json!({ "vcpu": 4, "ram_gb": 16, "storage_gb": 600, "backup_gb": 100 })
    );
    let (s, e) = get(
        &app,
        "member-admin",
        &format!("/api/v1/cloud/allocations?org={OTHER}"),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["org"]);
    let (_, all) = get(&app, "hub-admin", "/api/v1/cloud/allocations").await;
    assert_eq!(all["items"].as_array().unwrap().len(), 2);
    // A retired VM gives its capacity back.
    let (s, v) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/cis/{vm}"),
        json!({ "status": "retired" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{pool}")).await;
    assert_eq!(
        p["allocated"],
        json!({ "vcpu": 8, "ram_gb": 32, "storage_gb": 700, "backup_gb": 0 })
    );
    // Only the hub manages pools; a host belongs to one pool; only the hub's hosts and arrays join one.
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": "Mine", "vcpu": 8 }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, other) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": "Cluster B", "vcpu": 64 }),
    )
    .await;
    assert_eq!(s, 201, "{other}");
    let other = other["id"].as_str().unwrap();
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/cloud/pools/{other}/parts"),
        json!({ "ci_id": host }),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    assert!(e.to_string().contains("Cluster A"), "{e}");
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/cloud/pools/{other}/parts"),
        json!({ "ci_id": vm }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["ci_id"]);
    // Taking the host out of the pool takes its VMs' allocation with it.
    let (s, _) = send(
        &app,
        "hub-admin",
        Method::DELETE,
        &format!("/api/v1/cloud/pools/{pool}/parts/{host}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 204);
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{pool}")).await;
    assert_eq!(p["allocated"]["vcpu"], 0);
}

#[tokio::test]
async fn bad_pools_are_refused_field_by_field_and_stale_changes_change_nothing() {
    let app = TestApp::new().await;
    let server = item(
        &app,
        "hub-admin",
        json!({ "type": "server", "name": "esx-09" }),
    )
    .await;
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": " ", "site_id": server, "vcpu": -4, "ram_gb": 1.5, "storage_gb": "lots",
                "backup_gb": [1] }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        fields(&e),
        ["name", "vcpu", "ram_gb", "storage_gb", "backup_gb"]
    );
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": "Empty" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["vcpu"]);
    // A site must be one of the hub's sites.
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": "Cluster A", "site_id": server, "vcpu": 10 }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["site_id"]);
    let (s, p) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": "Cluster A", "vcpu": 10 }),
    )
    .await;
    assert_eq!(s, 201, "{p}");
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/pools",
        json!({ "name": "Cluster A", "vcpu": 10 }),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    let id = p["id"].as_str().unwrap();
    let res = app
        .api(
            "hub-admin",
            Method::PATCH,
            &format!("/api/v1/cloud/pools/{id}"),
        )
        .header("if-match", "\"v1\"")
        .json(&json!({ "vcpu": 20 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 200);
    let res = app
        .api(
            "hub-admin",
            Method::PATCH,
            &format!("/api/v1/cloud/pools/{id}"),
        )
        .header("if-match", "\"v1\"")
        .json(&json!({ "vcpu": 30 }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 412);
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{id}")).await;
    assert_eq!(p["capacity"]["vcpu"], 20);
    assert_eq!(p["name"], "Cluster A");
}

#[tokio::test]
async fn growth_forecasts_the_day_a_pool_runs_out_and_meters_feed_chargeback() {
    let app = TestApp::new().await;
    let (pool, ..) = region(&app).await;
    let today = today();
    // Thirty days of history for the member: 10 vCPU growing by one a day, to 39 yesterday.
    let rows: Vec<_> = (0..30)
        .map(|i| {
            let day = today - jiff::Span::new().days(30 - i);
            (
                pool.parse().unwrap(),
                app.orgs[OWN],
                day,
                Resources {
                    vcpu: 10 + i,
                    ram_gb: 64,
                    storage_gb: 600,
                    backup_gb: 0,
                },
            )
        })
        .collect();
    store::cloud::record_history(&app.db, &rows).await.unwrap();
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{pool}")).await;
    let vcpu = dimension(&p, "vcpu");
    assert_eq!(vcpu["trend"]["per_day"], "1");
    assert_eq!(vcpu["trend"]["level"], "39");
    // 39 + d ≥ 100 first at d = 61 days after yesterday.
    let expected = today - jiff::Span::new().days(1) + jiff::Span::new().days(61);
    assert_eq!(
        vcpu["runs_out"],
        json!({ "state": "on", "date": expected.to_string() })
    );
    assert_eq!(p["first_to_run_out"][0], "vcpu");
    // Memory did not grow: not foreseen.
    assert_eq!(
        dimension(&p, "ram_gb")["runs_out"],
        json!({ "state": "not_foreseen" })
    );
    assert_eq!(p["history"].as_array().unwrap().len(), 30);

    // Metering a day from its record: each member's share of the month, the hub's own VMs not billed.
    let yesterday = today - jiff::Span::new().days(1);
    let (s, m) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/meter",
        json!({ "day": yesterday.to_string() }),
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["accepted"], 3);
    let (_, again) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/meter",
        json!({ "day": yesterday.to_string() }),
    )
    .await;
    assert_eq!(again["accepted"], 0);
    assert_eq!(again["duplicates"], 3);
    let month = yesterday.strftime("%Y-%m").to_string();
    let (_, totals) = get(
        &app,
        "hub-admin",
        &format!("/api/v1/usage/totals?from={month}&to={month}"),
    )
    .await;
    let find = |meter: &str| {
        totals["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|i| i["meter"] == meter && i["org_id"] == app.orgs[OWN].to_string())
            .cloned()
            .unwrap_or(Value::Null)
    };
    let days = i64::from(yesterday.days_in_month());
    let share = |amount: i64| {
        let d = i64::from(yesterday.day());
        let micros = d * amount * 1_000_000 / days - (d - 1) * amount * 1_000_000 / days;
        rust_decimal::Decimal::new(micros, 6)
            .normalize()
            .to_string()
    };
    assert_eq!(find("cloud.vcpu_month")["quantity"], share(39));
    assert_eq!(find("cloud.ram_gb_month")["quantity"], share(64));
    assert_eq!(find("cloud.storage_gb_month")["quantity"], share(600));
    // Today is metered from a record taken now (the other member's live allocation too).
    let (s, m) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/cloud/meter",
        json!({ "day": today.to_string() }),
    )
    .await;
    assert_eq!(s, 200, "{m}");
    assert_eq!(m["accepted"], 6);
    // Bad days, and people who do not bill, are refused.
    let tomorrow = today + jiff::Span::new().days(1);
    for (body, field) in [
        (json!({ "day": tomorrow.to_string() }), "day"),
        (json!({ "day": "2026-02-30" }), "day"),
    ] {
        let (s, e) = send(&app, "hub-admin", Method::POST, "/api/v1/cloud/meter", body).await;
        assert_eq!(s, 422, "{e}");
        assert_eq!(fields(&e), [field]);
    }
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cloud/meter",
        json!({}),
    )
    .await;
    assert_eq!(s, 403);
    // The daily job records today and meters yesterday, and may run again.
    let (rows, _) = store::cloud::daily(&app.db, today).await.unwrap();
    assert_eq!(rows, 2);
    let (rows, _) = store::cloud::daily(&app.db, today).await.unwrap();
    assert_eq!(rows, 2);
}

#[tokio::test]
async fn pools_are_added_and_changed_from_the_pages_with_errors_beside_the_fields() {
    let app = TestApp::new().await;
    let (pool, _, _, _) = region(&app).await;
    let page = |who: &'static str, path: String| {
        let app = &app;
        async move {
            let res = app.page(who, Method::GET, &path).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (s, html) = page("hub-admin", "/cloud".into()).await;
    assert_eq!(s, 200);
    assert!(html.contains("Cluster A"), "{html}");
    assert!(html.contains("12 of 100 (12%)"), "{html}");
    assert!(html.contains("Town of Stoneham"));
    // A member sees its own allocation only.
    let (s, html) = page("member-admin", "/cloud".into()).await;
    assert_eq!(s, 200);
    assert!(html.contains("Your allocations"));
    assert!(html.contains("Town of North Reading"));
    assert!(!html.contains("Town of Stoneham"));
    assert!(!html.contains("Add a pool"));
    let (s, _) = page("member-admin", "/cloud/new".into()).await;
    assert_eq!(s, 403);
    let (s, html) = page("hub-admin", format!("/cloud/{pool}")).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("esx-01") && html.contains("Array A"),
        "{html}"
    );
    assert!(html.contains("Too little history"));

    // Add: a bad capacity is named beside its field, and nothing is stored.
    let res = app
        .form(
            "hub-admin",
            "/cloud",
            &[("name", "Cluster C"), ("vcpu", "many"), ("ram_gb", "")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"error-vcpu\""), "{html}");
    assert!(html.contains("value=\"Cluster C\""));
    let res = app
        .form(
            "hub-admin",
            "/cloud",
            &[
                ("name", "Cluster C"),
                ("vcpu", "1,024"),
                ("storage_gb", "50000"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let id = location
        .trim_start_matches("/cloud/")
        .split('?')
        .next()
        .unwrap()
        .to_owned();
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{id}")).await;
    assert_eq!(p["capacity"]["vcpu"], 1024);
    // Change it, add a host from the page's list, take it out again.
    let (s, html) = page("hub-admin", format!("/cloud/{id}/edit")).await;
    assert_eq!(s, 200);
    assert!(html.contains("value=\"1024\""));
    let res = app
        .form(
            "hub-admin",
            &format!("/cloud/{id}"),
            &[
                ("version", "1"),
                ("name", "Cluster C"),
                ("vcpu", "2048"),
                ("storage_gb", "50000"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let host = item(
        &app,
        "hub-admin",
        json!({ "type": "server", "name": "esx-c-01" }),
    )
    .await;
    let (_, html) = page("hub-admin", format!("/cloud/{id}")).await;
    assert!(html.contains(&format!("value=\"{host}\"")), "{html}");
    let res = app
        .form(
            "hub-admin",
            &format!("/cloud/{id}/parts"),
            &[("ci_id", &host)],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let res = app
        .form("hub-admin", &format!("/cloud/{id}/parts"), &[("ci_id", "")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{id}")).await;
    assert_eq!(p["capacity"]["vcpu"], 2048);
    assert_eq!(p["parts"][0]["name"], "esx-c-01");
    let res = app
        .form(
            "hub-admin",
            &format!("/cloud/{id}/parts/{host}/delete"),
            &[],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/cloud/pools/{id}")).await;
    assert!(p["parts"].as_array().unwrap().is_empty());
}

#[tokio::test]
async fn a_member_shrinking_its_vm_before_the_daily_record_is_still_metered_at_the_days_peak() {
    let app = TestApp::new().await;
    let (_pool, _host, _array, vm) = region(&app).await;
    let today = today();
    let own = app.orgs[OWN];
    let other = app.orgs[OTHER];
    let vcpu_on = |totals: &[(domain::ids::OrgId, String, bool, Resources)], org| {
        totals
            .iter()
            .find(|t| t.0 == org)
            .map(|t| t.3.vcpu)
            .unwrap_or(0)
    };
    // The hour's record sees the 4-vCPU VM.
    store::cloud::snapshot(&app.db, today).await.unwrap();
    // The member's administrator shrinks it to one vCPU and retires its volume before the next record…
    let (s, v) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/cis/{vm}"),
        json!({ "attributes": { "vcpu": 1, "ram_gb": 2, "disk_gb": 100 } }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    store::cloud::snapshot(&app.db, today).await.unwrap();
    // …and the day is still metered on what it held that day: 4 vCPU, 16 GB.
    let totals = store::cloud::day_totals(&app.db, today).await.unwrap();
    assert_eq!(vcpu_on(&totals, own), 4);
    let mine = totals.iter().find(|t| t.0 == own).unwrap();
    assert_eq!(mine.3.ram_gb, 16);
    // The other member's record is its own.
    assert_eq!(vcpu_on(&totals, other), 8);
    let records = store::cloud::meter_records(today, &totals);
    let vcpu = records
        .iter()
        .find(|r| r.org == OWN && r.meter == "cloud.vcpu_month")
        .unwrap();
    let days = i64::from(today.days_in_month());
    let d = i64::from(today.day());
    assert_eq!(
        vcpu.quantity_micros,
        d * 4 * 1_000_000 / days - (d - 1) * 4 * 1_000_000 / days
    );
    // A day the VM is small from start to end is metered small.
    let tomorrow = today.tomorrow().unwrap();
    store::cloud::snapshot(&app.db, tomorrow).await.unwrap();
    let totals = store::cloud::day_totals(&app.db, tomorrow).await.unwrap();
    assert_eq!(vcpu_on(&totals, own), 1);
}
