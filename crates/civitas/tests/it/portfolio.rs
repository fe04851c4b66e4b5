//! The application portfolio through the API and the pages: records and scores, TIME quadrants, who may
//! assess what, the redundancy finder and retirement plans.

use crate::helpers::{OTHER, TestApp, fields, get, send};
use reqwest::Method;
use serde_json::{Value, json};

async fn application(app: &TestApp, who: &str, name: &str, vendor: &str) -> String {
    let (s, v) = send(
        app,
        who,
        Method::POST,
        "/api/v1/cis",
        json!({ "type": "application", "name": name, "attributes": { "vendor": vendor } }),
    )
    .await;
    assert_eq!(s, 201, "{v}");
    v["id"].as_str().unwrap().to_owned()
}

async fn assess(app: &TestApp, who: &str, id: &str, body: Value) -> (u16, Value) {
    send(
        app,
        who,
        Method::PUT,
        &format!("/api/v1/portfolio/{id}"),
        body,
    )
    .await
}

#[tokio::test]
async fn applications_are_scored_into_time_quadrants_by_their_owners() {
    let app = TestApp::new().await;
    let (s, caps) = get(&app, "member-staff", "/api/v1/capabilities").await;
    assert_eq!(s, 403, "{caps}");
    let (s, caps) = get(&app, "member-admin", "/api/v1/capabilities").await;
    assert_eq!(s, 200);
    assert!(
        caps["items"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["slug"] == "permitting")
    );
    let (_, q) = get(&app, "member-admin", "/api/v1/portfolio/questionnaire").await;
    assert_eq!(q["items"].as_array().unwrap().len(), 6);

    let permits = application(&app, "member-admin", "PermitEyes", "Full Circle").await;
    // Not assessed yet: listed, without a quadrant.
    let (_, list) = get(&app, "member-admin", "/api/v1/portfolio").await;
    assert_eq!(list["items"][0]["assessed"], false);
    assert_eq!(list["items"][0]["quadrant"], Value::Null);
    let (s, a) = assess(
        &app,
        "member-admin",
        &permits,
        json!({ "capability": "permitting", "users": "1,200", "annual_cost": "18500.00",
                "contract_end": "2027-06-30", "support_end": "2026-12-31",
                "answers": { "reach": 5, "mandate": 4, "fit": "4", "support": 2, "reliability": 1, "integration": 2 },
                "retire_by": "2027-06-30", "plan": "Move with the region" }),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["business_value"], "4.3");
    assert_eq!(a["technical_condition"], "1.7");
    assert_eq!(a["quadrant"], "migrate");
    assert_eq!(a["annual_cost_cents"], 1_850_000);
    assert_eq!(a["users"], 1200);
    assert_eq!(a["vendor"], "Full Circle");
    assert_eq!(a["capability_name"], "Permitting and licensing");
    // Bad input: every field named, nothing stored.
    let (s, e) = assess(
        &app,
        "member-admin",
        &permits,
        json!({ "users": -3, "annual_cost": "12.345", "contract_end": "June",
                "answers": { "reach": 7, "colour": 1 }, "replacement_id": "x" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(
        fields(&e),
        [
            "users",
            "annual_cost",
            "answers.colour",
            "answers.reach",
            "contract_end",
            "replacement_id"
        ]
    );
    let (s, e) = assess(
        &app,
        "member-admin",
        &permits,
        json!({ "capability": "astrology" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["capability"]);
    let (_, a) = get(
        &app,
        "member-admin",
        &format!("/api/v1/portfolio/{permits}"),
    )
    .await;
    assert_eq!(a["quadrant"], "migrate");
    // A stale change changes nothing.
    let res = app
        .api(
            "member-admin",
            Method::PUT,
            &format!("/api/v1/portfolio/{permits}"),
        )
        .header("if-match", "\"v7\"")
        .json(&json!({ "capability": "permitting" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 412);
    // Another member's application is not found; staff may not assess; the hub may.
    let theirs = application(&app, "other-admin", "ViewPoint Cloud", "OpenGov").await;
    let (s, _) = assess(&app, "member-admin", &theirs, json!({})).await;
    assert_eq!(s, 404);
    let (s, _) = get(&app, "member-admin", &format!("/api/v1/portfolio/{theirs}")).await;
    assert_eq!(s, 404);
    let (s, _) = assess(&app, "member-staff", &permits, json!({})).await;
    assert_eq!(s, 403);
    let (s, a) = assess(
        &app,
        "hub-admin",
        &theirs,
        json!({ "capability": "permitting", "answers": { "reach": 2, "support": 5 } }),
    )
    .await;
    assert_eq!(s, 200, "{a}");
    assert_eq!(a["quadrant"], "tolerate");
    // A server is not an application.
    let (s, v) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/cis",
        json!({ "type": "server", "name": "srv" }),
    )
    .await;
    assert_eq!(s, 201);
    let (s, _) = assess(&app, "member-admin", v["id"].as_str().unwrap(), json!({})).await;
    assert_eq!(s, 404);
    // Filters.
    let (_, migrate) = get(&app, "hub-admin", "/api/v1/portfolio?quadrant=migrate").await;
    assert_eq!(migrate["items"].as_array().unwrap().len(), 1);
    let (s, e) = get(&app, "hub-admin", "/api/v1/portfolio?quadrant=keep").await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["quadrant"]);
    let (_, theirs_only) = get(&app, "hub-admin", &format!("/api/v1/portfolio?org={OTHER}")).await;
    assert_eq!(theirs_only["items"].as_array().unwrap().len(), 1);
    // The hub adds to the taxonomy; members do not.
    let (s, _) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/capabilities",
        json!({ "slug": "cemetery", "name": "Cemetery management" }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, e) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/capabilities",
        json!({ "slug": "Cemetery!", "name": "" }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["slug", "name"]);
    let (s, c) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/capabilities",
        json!({ "slug": "cemetery", "name": "Cemetery management" }),
    )
    .await;
    assert_eq!(s, 201, "{c}");
    let (s, _) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/capabilities",
        json!({ "slug": "cemetery", "name": "Burial grounds" }),
    )
    .await;
    assert_eq!(s, 409);
}

#[tokio::test]
async fn the_finder_groups_capabilities_across_members_and_plans_retirements() {
    let app = TestApp::new().await;
    let hub_erp = application(&app, "hub-admin", "Munis", "Tyler").await;
    let mine = application(&app, "member-admin", "Harpers Payroll", "Harpers").await;
    let theirs = application(&app, "other-admin", "Workforce Now", "ADP").await;
    let records = application(&app, "member-admin", "Laserfiche", "Laserfiche").await;
    for (who, id, cost) in [
        ("hub-admin", &hub_erp, "90000"),
        ("member-admin", &mine, "12000"),
        ("other-admin", &theirs, "15000.50"),
    ] {
        let (s, v) = assess(
            &app,
            who,
            id,
            json!({ "capability": "payroll", "annual_cost": cost, "users": 50 }),
        )
        .await;
        assert_eq!(s, 200, "{v}");
    }
    let (s, v) = assess(
        &app,
        "member-admin",
        &records,
        json!({ "capability": "records", "annual_cost": "8000" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    // The hub sees the region: payroll three times, the shared one the target; records once, no group.
    let (_, r) = get(&app, "hub-admin", "/api/v1/portfolio/redundancy").await;
    let groups = r["items"].as_array().unwrap();
    assert_eq!(groups.len(), 1, "{r}");
    assert_eq!(groups[0]["capability"], "payroll");
    assert_eq!(groups[0]["target"], "Munis");
    assert_eq!(groups[0]["combined_cost_cents"], 11_700_050);
    assert_eq!(groups[0]["candidates_cost_cents"], 2_700_050);
    assert_eq!(groups[0]["candidates"].as_array().unwrap().len(), 2);
    // A member sees its own and the hub's: its payroll against the shared one, not the other member's.
    let (_, r) = get(&app, "member-admin", "/api/v1/portfolio/redundancy").await;
    let groups = r["items"].as_array().unwrap();
    assert_eq!(groups.len(), 1);
    assert_eq!(groups[0]["combined_cost_cents"], 10_200_000);
    assert!(!r.to_string().contains("Workforce Now"));
    // A retirement plan, replaced by the shared ERP.
    let (s, v) = assess(
        &app,
        "member-admin",
        &mine,
        json!({ "capability": "payroll", "annual_cost": "12000", "retire_by": "2027-06-30",
                "replacement_id": hub_erp, "plan": "Payroll moves to the shared ERP in July" }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    assert_eq!(v["replacement_name"], "Munis");
    let (s, e) = assess(
        &app,
        "member-admin",
        &mine,
        json!({ "replacement_id": theirs }),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    assert_eq!(fields(&e), ["replacement_id"]);
    let (_, plans) = get(&app, "member-admin", "/api/v1/portfolio/retirements").await;
    assert_eq!(plans["items"].as_array().unwrap().len(), 1);
    assert_eq!(plans["items"][0]["retire_by"], "2027-06-30");
    let (_, plans) = get(&app, "other-admin", "/api/v1/portfolio/retirements").await;
    assert!(plans["items"].as_array().unwrap().is_empty());

    // The pages.
    let page = |who: &'static str, path: String| {
        let app = &app;
        async move {
            let res = app.page(who, Method::GET, &path).send().await.unwrap();
            (res.status().as_u16(), res.text().await.unwrap())
        }
    };
    let (s, html) = page("hub-admin", "/portfolio".into()).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("Harpers Payroll") && html.contains("Workforce Now"),
        "{html}"
    );
    let (_, html) = page("member-admin", "/portfolio".into()).await;
    assert!(!html.contains("Workforce Now"));
    let (s, html) = page("hub-admin", "/portfolio/redundancy".into()).await;
    assert_eq!(s, 200);
    assert!(
        html.contains("Consolidate onto <strong>Munis</strong>"),
        "{html}"
    );
    let (s, html) = page("member-admin", "/portfolio/retirements".into()).await;
    assert_eq!(s, 200);
    assert!(html.contains("Payroll moves to the shared ERP"));
    // The record form: answers as radio buttons, a bad one named beside its group.
    let (s, html) = page("member-admin", format!("/portfolio/{records}")).await;
    assert_eq!(s, 200);
    assert!(html.contains("name=\"answer_reach\""));
    let res = app
        .form(
            "member-admin",
            &format!("/portfolio/{records}"),
            &[
                ("capability", "records"),
                ("answer_reach", "9"),
                ("users", "40"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("href=\"#field-answer_reach\""), "{html}");
    let res = app
        .form(
            "member-admin",
            &format!("/portfolio/{records}"),
            &[
                ("version", "1"),
                ("capability", "records"),
                ("users", "40"),
                ("annual_cost", "8000"),
                ("answer_reach", "4"),
                ("answer_mandate", "5"),
                ("answer_fit", "3"),
                ("answer_support", "4"),
                ("answer_reliability", "4"),
                ("answer_integration", "5"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, a) = get(
        &app,
        "member-admin",
        &format!("/api/v1/portfolio/{records}"),
    )
    .await;
    assert_eq!(a["quadrant"], "invest");
    assert_eq!(a["users"], 40);
    // The other member's staff cannot open it.
    let (s, _) = page("other-admin", format!("/portfolio/{records}")).await;
    assert_eq!(s, 404);
}
