//! The CMDB through the API and the pages: items and their attributes, who sees and changes what, impact
//! analysis, history.

use crate::helpers::{OTHER, OWN, TestApp, fields, get, json, send};
use reqwest::Method;
use serde_json::{Value, json};

/// Records an item as `who`; returns its id.
async fn item(app: &TestApp, who: &str, body: Value) -> String {
    let (s, v) = send(app, who, Method::POST, "/api/v1/cis", body).await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn relate(app: &TestApp, who: &str, from: &str, kind: &str, to: &str) -> (u16, Value) {
    send(
        app,
        who,
        Method::POST,
        &format!("/api/v1/cis/{from}/relations"),
        json!({ "kind": kind, "to_ci": to }),
    )
    .await
}

#[tokio::test]
async fn items_carry_their_types_attributes_and_bad_ones_are_named() {
    let app = TestApp::new().await;
    let (s, types) = get(&app, "member-admin", "/api/v1/ci-types").await;
    assert_eq!(s, 200);
    assert_eq!(types["items"].as_array().unwrap().len(), 9);
    // Recorded by a member administrator: the member's own item by default.
    let (s, vm) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis",
        json!({ "type": "virtual_machine", "name": "nr-payroll-01",
                "attributes": { "vcpu": 4, "ram_gb": "16", "os": "Windows Server 2022" } }),
    )
    .await;
    assert_eq!(s, 201, "{vm}");
    assert_eq!(vm["org_id"], app.orgs[OWN].to_string());
    assert_eq!(vm["status"], "active");
    assert_eq!(
        vm["attributes"],
        json!({ "vcpu": 4, "ram_gb": 16, "os": "Windows Server 2022" })
    );
    let (s, e) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis",
        json!({ "type": "virtual_machine", "name": "", "status": "lost",
                "attributes": { "vcpu": -1, "colour": "blue" } }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        fields(&e),
        ["name", "status", "attributes.colour", "attributes.vcpu"]
    );
    // The same name and type twice in one organisation is a conflict; another member may use it.
    let (s, e) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis",
        json!({ "type": "virtual_machine", "name": "nr-payroll-01" }),
    )
    .await;
    assert_eq!(s, 409, "{e}");
    item(
        &app,
        "other-admin",
        json!({ "type": "virtual_machine", "name": "nr-payroll-01" }),
    )
    .await;
    // Not for another member, not as a member's staff.
    let (s, e) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis",
        json!({ "org": OTHER, "type": "server", "name": "theirs" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["org"]);
    let (s, _) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/cis",
        json!({ "type": "server", "name": "mine" }),
    )
    .await;
    assert_eq!(s, 403);
    // A change records what changed; a stale one changes nothing.
    let id = vm["id"].as_str().unwrap();
    let (s, v) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/cis/{id}"),
        json!({ "status": "retired", "attributes": { "vcpu": 8 } }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["attributes"], json!({ "vcpu": 8 }));
    let (_, h) = get(&app, "member-admin", &format!("/api/v1/cis/{id}/history")).await;
    let summary = h["items"][0]["summary"].as_str().unwrap();
    assert!(
        summary.contains("status: In service → Retired") && summary.contains("vcpu: 4 → 8"),
        "{summary}"
    );
    let (s, _) = json(
        app.api("member-admin", Method::PATCH, &format!("/api/v1/cis/{id}"))
            .header("if-match", "\"v1\"")
            .json(&json!({ "name": "renamed" }))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 412);
}

#[tokio::test]
async fn members_see_their_own_items_and_the_hubs_and_change_only_their_own() {
    let app = TestApp::new().await;
    let array = item(
        &app,
        "hub-admin",
        json!({ "type": "storage_volume", "name": "Regional array A", "attributes": { "size_gb": 200000 } }),
    )
    .await;
    let mine = item(
        &app,
        "member-admin",
        json!({ "type": "application", "name": "Assessor" }),
    )
    .await;
    let theirs = item(
        &app,
        "other-admin",
        json!({ "type": "application", "name": "Permits" }),
    )
    .await;
    let (_, list) = get(&app, "member-admin", "/api/v1/cis").await;
    let names: Vec<&str> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Assessor", "Regional array A"]);
    assert_eq!(
        get(&app, "member-admin", &format!("/api/v1/cis/{theirs}"))
            .await
            .0,
        404
    );
    // The hub's item is there to read and relate to, not to change.
    let (s, _) = send(
        &app,
        "member-admin",
        Method::PATCH,
        &format!("/api/v1/cis/{array}"),
        json!({ "status": "retired" }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, r) = relate(&app, "member-admin", &mine, "runs_on", &array).await;
    assert_eq!(s, 201, "{r}");
    // Not to another member's item, which is not there to see.
    let (s, e) = relate(&app, "member-admin", &mine, "depends_on", &theirs).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["to_ci"]);
    let (s, e) = relate(&app, "member-admin", &mine, "runs_on", &array).await;
    assert_eq!(s, 409, "the same relationship twice: {e}");
    let (s, e) = relate(&app, "member-admin", &mine, "sits_near", &array).await;
    assert_eq!((s, fields(&e)), (422, vec!["kind".to_owned()]));
    // The other member's removal of our relationship is refused.
    let rid = r["id"].as_str().unwrap();
    let (s, _) = send(
        &app,
        "other-admin",
        Method::DELETE,
        &format!("/api/v1/ci-relations/{rid}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 404);
    let (s, _) = send(
        &app,
        "member-admin",
        Method::DELETE,
        &format!("/api/v1/ci-relations/{rid}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 204);
}

#[tokio::test]
async fn impact_analysis_names_every_service_application_and_member_affected() {
    let app = TestApp::new().await;
    // The hub's array carries two VMs; each member's application runs on one; a business service of each
    // depends on its application; a backup job backs up to the array (not an outage).
    let array = item(
        &app,
        "hub-admin",
        json!({ "type": "storage_volume", "name": "Array A" }),
    )
    .await;
    let vm1 = item(
        &app,
        "hub-admin",
        json!({ "type": "virtual_machine", "name": "vm-01" }),
    )
    .await;
    let vm2 = item(
        &app,
        "hub-admin",
        json!({ "type": "virtual_machine", "name": "vm-02" }),
    )
    .await;
    for vm in [&vm1, &vm2] {
        assert_eq!(
            relate(&app, "hub-admin", vm, "runs_on", &array).await.0,
            201
        );
    }
    let job = item(
        &app,
        "hub-admin",
        json!({ "type": "server", "name": "backup-01" }),
    )
    .await;
    relate(&app, "hub-admin", &job, "backs_up_to", &array).await;
    let assessor = item(
        &app,
        "member-admin",
        json!({ "type": "application", "name": "Assessor" }),
    )
    .await;
    relate(&app, "member-admin", &assessor, "runs_on", &vm1).await;
    let service = item(
        &app,
        "member-admin",
        json!({ "type": "business_service", "name": "Property tax bills" }),
    )
    .await;
    relate(&app, "member-admin", &service, "depends_on", &assessor).await;
    let permits = item(
        &app,
        "other-admin",
        json!({ "type": "application", "name": "Permits" }),
    )
    .await;
    relate(&app, "other-admin", &permits, "runs_on", &vm2).await;

    let (s, hub) = get(&app, "hub-admin", &format!("/api/v1/cis/{array}/impact")).await;
    assert_eq!(s, 200, "{hub}");
    let reached: Vec<(&str, u64)> = hub["affected"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["depth"].as_u64().unwrap()))
        .collect();
    let mut sorted = reached.clone();
    sorted.sort();
    assert_eq!(
        sorted,
        [
            ("Assessor", 2),
            ("Permits", 2),
            ("Property tax bills", 3),
            ("vm-01", 1),
            ("vm-02", 1)
        ]
    );
    assert!(
        reached.windows(2).all(|w| w[0].1 <= w[1].1),
        "nearest first: {reached:?}"
    );
    assert_eq!(hub["services"], json!(["Property tax bills"]));
    assert_eq!(hub["applications"], json!(["Assessor", "Permits"]));
    let members: Vec<&str> = hub["members"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| m.as_str().unwrap())
        .collect();
    assert_eq!(members.len(), 3, "the hub and both members: {members:?}");
    // Two steps deep, the service is not reached.
    let (_, short) = get(
        &app,
        "hub-admin",
        &format!("/api/v1/cis/{array}/impact?depth=2"),
    )
    .await;
    assert_eq!(short["affected"].as_array().unwrap().len(), 4);
    let (s, e) = get(
        &app,
        "hub-admin",
        &format!("/api/v1/cis/{array}/impact?depth=99"),
    )
    .await;
    assert_eq!((s, fields(&e)), (422, vec!["depth".to_owned()]));
    // A member sees what it may: its own application and service, not the other member's.
    let (_, member) = get(&app, "member-admin", &format!("/api/v1/cis/{array}/impact")).await;
    assert_eq!(member["applications"], json!(["Assessor"]));
    assert!(!member.to_string().contains("Permits"), "{member}");
    // The item's page shows the same tree.
    let page = app
        .page("member-admin", Method::GET, &format!("/cmdb/{array}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("Property tax bills")
            && page.contains("runs on vm-01")
            && !page.contains("Permits"),
        "{page}"
    );
}

#[tokio::test]
async fn items_are_recorded_and_changed_from_the_pages_with_errors_beside_the_fields() {
    let app = TestApp::new().await;
    let admin = app.who("member-admin").clone();
    let post = |path: String, fields: Vec<(&'static str, &'static str)>| {
        let mut fields: Vec<(&str, String)> =
            fields.into_iter().map(|(k, v)| (k, v.to_owned())).collect();
        fields.push(("_csrf", admin.csrf.clone()));
        app.page("member-admin", Method::POST, &path)
            .form(&fields)
            .send()
    };
    let form = app
        .page("member-admin", Method::GET, "/cmdb/new?type=server")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        form.contains("name=\"attr_warranty_end\"") && form.contains("CPU cores"),
        "{form}"
    );
    let res = post(
        "/cmdb".into(),
        vec![
            ("type", "server"),
            ("org", OWN),
            ("name", "nr-fs-01"),
            ("status", "active"),
            ("attr_warranty_end", "2027-02-30"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 422);
    let page = res.text().await.unwrap();
    assert!(
        page.contains("error-attributes_warranty_end") && page.contains("value=\"nr-fs-01\""),
        "{page}"
    );
    let res = post(
        "/cmdb".into(),
        vec![
            ("type", "server"),
            ("org", OWN),
            ("name", "nr-fs-01"),
            ("status", "active"),
            ("attr_warranty_end", "2027-06-30"),
            ("attr_vcpu", "16"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let (_, list) = get(&app, "member-admin", "/api/v1/cis?q=fs-01").await;
    let c = &list["items"][0];
    assert_eq!(
        c["attributes"],
        json!({ "warranty_end": "2027-06-30", "vcpu": 16 })
    );
    let id = c["id"].as_str().unwrap();
    let res = post(
        format!("/cmdb/{id}"),
        vec![
            ("type", "server"),
            ("name", "nr-fs-01"),
            ("status", "maintenance"),
            ("attr_vcpu", "16"),
        ],
    )
    .await
    .unwrap();
    assert_eq!(res.status(), 303);
    let (_, c) = get(&app, "member-admin", &format!("/api/v1/cis/{id}")).await;
    assert_eq!(c["status"], "maintenance");
    assert_eq!(
        c["attributes"],
        json!({ "vcpu": 16 }),
        "an emptied field clears it"
    );
}

async fn import(app: &TestApp, who: &str, query: &str, csv: &str) -> (u16, Value) {
    json(
        app.api(who, Method::POST, &format!("/api/v1/cis/import{query}"))
            .header("content-type", "text/csv")
            .body(csv.to_owned())
            .send()
            .await
            .unwrap(),
    )
    .await
}

#[tokio::test]
async fn an_items_csv_is_checked_row_by_row_imported_all_or_nothing_and_exports_back() {
    let app = TestApp::new().await;
    item(
        &app,
        "member-admin",
        json!({ "type": "server", "name": "nr-fs-01", "attributes": { "vcpu": 4 } }),
    )
    .await;
    let bad = format!(
        "org,type,name,status,vcpu,vendor\n\
         {OWN},server,nr-fs-01,active,8,\n\
         {OTHER},server,theirs,active,,\n\
         {OWN},toaster,t1,active,,\n\
         {OWN},server,nr-db-01,lost,-3,\n\
         {OWN},server,nr-fs-01,active,2,\n\
         {OWN},server,nr-web-01,active,,Acme\n"
    );
    let (s, e) = import(&app, "member-admin", "", &bad).await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        fields(&e),
        [
            "row 3.org",
            "row 4.type",
            "row 5.status",
            "row 5.attributes.vcpu",
            "row 7.attributes.vendor"
        ]
    );
    let (_, list) = get(&app, "member-admin", "/api/v1/cis").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "nothing imported"
    );
    // The same item twice in a file is named at its second row.
    let twice = format!("org,type,name\n{OWN},server,a\n{OWN},server,a\n");
    let (s, e) = import(&app, "member-admin", "", &twice).await;
    assert_eq!((s, fields(&e)), (422, vec!["row 3.name".to_owned()]));

    let good = format!(
        "org,type,name,status,vcpu,vendor\n\
         {OWN},server,nr-fs-01,active,8,\n\
         {OWN},server,nr-db-01,planned,16,\n\
         {OWN},application,Assessor,active,,Patriot Properties\n"
    );
    let (s, dry) = import(&app, "member-admin", "?dry_run=true", &good).await;
    assert_eq!(s, 200, "{dry}");
    assert_eq!(
        (
            dry["created"].as_u64(),
            dry["updated"].as_u64(),
            dry["dry_run"].as_bool()
        ),
        (Some(2), Some(1), Some(true))
    );
    let (_, list) = get(&app, "member-admin", "/api/v1/cis").await;
    assert_eq!(
        list["items"].as_array().unwrap().len(),
        1,
        "a dry run stores nothing"
    );
    let (s, done) = import(&app, "member-admin", "", &good).await;
    assert_eq!(s, 200, "{done}");
    assert_eq!(
        (done["created"].as_u64(), done["updated"].as_u64()),
        (Some(2), Some(1))
    );
    let (_, list) = get(&app, "member-admin", "/api/v1/cis?q=nr-fs").await;
    let fs = &list["items"][0];
    assert_eq!(fs["attributes"], json!({ "vcpu": 8 }));
    let (_, h) = get(
        &app,
        "member-admin",
        &format!("/api/v1/cis/{}/history", fs["id"].as_str().unwrap()),
    )
    .await;
    assert_eq!(h["items"][0]["summary"], "Changed by a CSV import");

    // The export is the import's format: sent back, it changes nothing.
    let res = app
        .api("member-admin", Method::GET, "/api/v1/cis/export")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let csv = res.text().await.unwrap();
    assert!(csv.starts_with("org,type,name,status,"), "{csv}");
    assert!(
        csv.contains(&format!("{OWN},server,nr-db-01,planned,")),
        "{csv}"
    );
    let (s, again) = import(&app, "member-admin", "", &csv).await;
    assert_eq!(s, 200, "{again}");
    assert_eq!(
        (
            again["created"].as_u64(),
            again["updated"].as_u64(),
            again["unchanged"].as_u64()
        ),
        (Some(0), Some(0), Some(3))
    );
}

#[tokio::test]
async fn the_desk_links_tickets_to_items_and_an_item_shows_its_open_tickets() {
    let app = TestApp::new().await;
    let (s, t) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "The assessor's database is down", "description": "Since 9:00" }),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let number = t["number"].as_i64().unwrap();
    let mine = item(
        &app,
        "member-admin",
        json!({ "type": "database", "name": "Assessing DB" }),
    )
    .await;
    let hubs = item(
        &app,
        "hub-admin",
        json!({ "type": "virtual_machine", "name": "vm-07" }),
    )
    .await;
    let theirs = item(
        &app,
        "other-admin",
        json!({ "type": "database", "name": "Their DB" }),
    )
    .await;
    let link = |ci: &str| {
        let body = json!({ "ci_id": ci });
        let app = &app;
        async move {
            send(
                app,
                "hub-agent",
                Method::POST,
                &format!("/api/v1/tickets/{number}/cis"),
                body,
            )
            .await
        }
    };
    assert_eq!(link(&mine).await.0, 201);
    assert_eq!(link(&hubs).await.0, 201);
    // Another member's item is not this ticket's.
    let (s, e) = link(&theirs).await;
    assert_eq!((s, fields(&e)), (422, vec!["ci_id".to_owned()]));
    // Members work no tickets.
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/tickets/{number}/cis"),
        json!({ "ci_id": mine }),
    )
    .await;
    assert_eq!(s, 403);
    let (_, items) = get(
        &app,
        "member-admin",
        &format!("/api/v1/tickets/{number}/cis"),
    )
    .await;
    let names: Vec<&str> = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["Assessing DB", "vm-07"]);
    let page = app
        .page("member-admin", Method::GET, &format!("/cmdb/{mine}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        page.contains("The assessor&#39;s database is down")
            || page.contains("The assessor's database is down"),
        "{page}"
    );
    let (_, h) = get(&app, "member-admin", &format!("/api/v1/cis/{mine}/history")).await;
    assert!(
        h["items"][0]["summary"]
            .as_str()
            .unwrap()
            .starts_with(&format!("Linked to ticket #{number}"))
    );
    let (s, _) = send(
        &app,
        "hub-agent",
        Method::DELETE,
        &format!("/api/v1/tickets/{number}/cis/{mine}"),
        Value::Null,
    )
    .await;
    assert_eq!(s, 204);
    let (_, items) = get(
        &app,
        "member-admin",
        &format!("/api/v1/tickets/{number}/cis"),
    )
    .await;
    assert_eq!(items["items"].as_array().unwrap().len(), 1);
}

#[tokio::test]
async fn many_items_change_status_at_once_all_or_nothing() {
    let app = TestApp::new().await;
    let a = item(
        &app,
        "member-admin",
        json!({ "type": "network_device", "name": "sw-1" }),
    )
    .await;
    let b = item(
        &app,
        "member-admin",
        json!({ "type": "network_device", "name": "sw-2" }),
    )
    .await;
    let hubs = item(
        &app,
        "hub-admin",
        json!({ "type": "server", "name": "esx-01" }),
    )
    .await;
    // With the hub's item among them, nothing changes.
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis/bulk",
        json!({ "ids": [a, b, hubs], "status": "retired" }),
    )
    .await;
    assert_eq!(s, 403);
    let (_, c) = get(&app, "member-admin", &format!("/api/v1/cis/{a}")).await;
    assert_eq!(c["status"], "active");
    let (s, e) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis/bulk",
        json!({ "ids": ["nope"], "status": "gone" }),
    )
    .await;
    assert_eq!(
        (s, fields(&e)),
        (422, vec!["ids[0]".to_owned(), "status".to_owned()])
    );
    let (s, r) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis/bulk",
        json!({ "ids": [a, b], "status": "retired" }),
    )
    .await;
    assert_eq!((s, r["changed"].as_u64()), (200, Some(2)), "{r}");
    let (_, h) = get(&app, "member-admin", &format!("/api/v1/cis/{b}/history")).await;
    assert_eq!(
        h["items"][0]["summary"],
        "status: In service → Retired (bulk change)"
    );
}
