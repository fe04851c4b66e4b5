//! The service desk through the API: opening tickets, who sees them, working them through their SLA
//! clocks, approvals, ratings, search, and the errors a script author gets.

use crate::helpers::{OTHER, OWN, TestApp, get, json};
use reqwest::Method;
use serde_json::{Value, json};

async fn open(app: &TestApp, who: &str, body: Value) -> (u16, Value) {
    crate::helpers::send(app, who, Method::POST, "/api/v1/tickets", body).await
}

async fn patch(app: &TestApp, who: &str, number: i64, body: Value) -> (u16, Value) {
    crate::helpers::send(
        app,
        who,
        Method::PATCH,
        &format!("/api/v1/tickets/{number}"),
        body,
    )
    .await
}

async fn reply(app: &TestApp, who: &str, number: i64, body: Value) -> (u16, Value) {
    crate::helpers::send(
        app,
        who,
        Method::POST,
        &format!("/api/v1/tickets/{number}/comments"),
        body,
    )
    .await
}

fn numbers(list: &Value) -> Vec<i64> {
    list["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["number"].as_i64().unwrap())
        .collect()
}

#[tokio::test]
async fn staff_open_tickets_and_only_the_right_people_see_them() {
    let app = TestApp::new().await;
    let (status, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "Printer on 2nd floor jams", "description": "Every print jams.\r\nSince Monday.",
                "impact": "medium", "urgency": "high" }),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    let n = t["number"].as_i64().unwrap();
    assert_eq!(t["kind"], "incident");
    assert_eq!(t["priority"], "p2", "medium impact × high urgency is P2");
    assert_eq!(t["status"], "new");
    assert_eq!(t["description"], "Every print jams.\nSince Monday.");
    assert!(t["sla"]["response_due_at"].is_string());
    // Numbers are region-wide and increase.
    let (_, t2) = open(
        &app,
        "other-admin",
        json!({ "subject": "Stoneham VPN down", "description": "No VPN", "impact": "high", "urgency": "high" }),
    )
    .await;
    assert_eq!(t2["number"].as_i64().unwrap(), n + 1);
    assert_eq!(t2["priority"], "p1");

    let path = format!("/api/v1/tickets/{n}");
    for (who, expect) in [
        ("member-staff", 200),
        ("member-admin", 200),
        ("member-auditor", 200),
        ("hub-agent", 200),
        ("hub-auditor", 200),
        ("colleague", 404),
        ("other-admin", 404),
    ] {
        assert_eq!(get(&app, who, &path).await.0, expect, "{who} reading #{n}");
    }
    // Lists show the same boundaries.
    let (_, mine) = get(&app, "member-staff", "/api/v1/tickets").await;
    assert_eq!(numbers(&mine), [n]);
    let (_, colleague) = get(&app, "colleague", "/api/v1/tickets").await;
    assert!(numbers(&colleague).is_empty());
    let (_, admin) = get(&app, "member-admin", "/api/v1/tickets").await;
    assert_eq!(numbers(&admin), [n]);
    let (_, desk) = get(&app, "hub-agent", "/api/v1/tickets?sort=newest").await;
    assert_eq!(numbers(&desk), [n + 1, n]);
    let (_, filtered) = get(&app, "hub-agent", &format!("/api/v1/tickets?org={OTHER}")).await;
    assert_eq!(numbers(&filtered), [n + 1]);
    // Staff cannot open tickets for another member, nor on behalf of someone else.
    let (status, e) = open(
        &app,
        "member-staff",
        json!({ "org": OTHER, "subject": "x", "description": "y" }),
    )
    .await;
    assert_eq!(status, 422);
    assert_eq!(e["errors"][0]["field"], "org");
    let (status, e) = open(
        &app,
        "member-staff",
        json!({ "requester_email": "member-admin@north-reading.example.gov", "subject": "x", "description": "y" }),
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("requester_email"))
    );
    // Auditors read but never open.
    assert_eq!(
        open(
            &app,
            "member-auditor",
            json!({ "subject": "x", "description": "y" })
        )
        .await
        .0,
        403
    );
}

#[tokio::test]
async fn working_a_ticket_moves_its_sla_clocks() {
    let app = TestApp::new().await;
    let (_, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "Cannot reach town website", "description": "Times out", "impact": "low", "urgency": "low" }),
    )
    .await;
    let n = t["number"].as_i64().unwrap();
    assert_eq!(t["priority"], "p4");
    // The desk assigns it: status follows.
    let agent = app.who("hub-agent").user_id.to_string();
    let (status, t) = patch(&app, "hub-agent", n, json!({ "assignee_id": agent })).await;
    assert_eq!(status, 200, "{t}");
    assert_eq!(t["status"], "assigned");
    // The first public reply from the desk is the response.
    let (status, t) = reply(&app, "hub-agent", n, json!({ "body": "Looking into it." })).await;
    assert_eq!(status, 201, "{t}");
    assert!(t["first_response_at"].is_string());
    // An internal note: the requester never sees it.
    reply(
        &app,
        "hub-agent",
        n,
        json!({ "body": "DNS looks stale", "internal": true }),
    )
    .await;
    let (_, history) = get(
        &app,
        "member-staff",
        &format!("/api/v1/tickets/{n}/comments"),
    )
    .await;
    let bodies: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["body"].as_str())
        .collect();
    assert!(bodies.contains(&"Looking into it."));
    assert!(
        !bodies.iter().any(|b| b.contains("DNS")),
        "internal note leaked: {bodies:?}"
    );
    let (_, desk_history) = get(&app, "hub-agent", &format!("/api/v1/tickets/{n}/comments")).await;
    assert!(desk_history.to_string().contains("DNS looks stale"));
    // Members cannot write internal notes.
    let (status, e) = reply(
        &app,
        "member-staff",
        n,
        json!({ "body": "x", "internal": true }),
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("internal"))
    );
    // Waiting on the requester pauses the clock: no running deadline.
    let (_, t) = patch(
        &app,
        "hub-agent",
        n,
        json!({ "status": "waiting_on_requester" }),
    )
    .await;
    assert!(t["sla"]["clock"]["pauses"][0]["to"].is_null());
    assert!(t["sla"]["next_due_at"].is_null());
    // The requester's reply brings it back to work and the clock runs again.
    let (_, t) = reply(
        &app,
        "member-staff",
        n,
        json!({ "body": "It works from home, not from the office." }),
    )
    .await;
    assert_eq!(t["status"], "in_progress");
    assert!(t["sla"]["clock"]["pauses"][0]["to"].is_string());
    assert!(t["sla"]["next_due_at"].is_string());
    // Resolved: the clock stops; the requester rates it; others cannot.
    let (_, t) = patch(&app, "hub-agent", n, json!({ "status": "resolved" })).await;
    assert!(t["resolved_at"].is_string());
    assert!(t["sla"]["next_due_at"].is_null());
    let path = format!("/api/v1/tickets/{n}/rating");
    let (status, e) = crate::helpers::send(
        &app,
        "member-staff",
        Method::POST,
        &path,
        json!({ "score": 9 }),
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("score"))
    );
    let (status, t) = crate::helpers::send(
        &app,
        "member-staff",
        Method::POST,
        &path,
        json!({ "score": 5, "comment": "Quick, thanks" }),
    )
    .await;
    assert_eq!((status, t["csat_score"].as_i64()), (200, Some(5)));
    assert_eq!(
        app.api("hub-agent", Method::POST, &path)
            .json(&json!({ "score": 1 }))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    // A reply within the reopen window reopens it; once closed, no more replies.
    let (_, t) = reply(&app, "member-staff", n, json!({ "body": "It is back." })).await;
    assert_eq!(
        (t["status"].as_str(), t["reopen_count"].as_i64()),
        (Some("in_progress"), Some(1))
    );
    let (_, t) = patch(&app, "hub-agent", n, json!({ "status": "closed" })).await;
    assert_eq!(t["status"], "closed");
    let (status, e) = reply(&app, "member-staff", n, json!({ "body": "Again?" })).await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("body"))
    );
    let (status, e) = patch(&app, "hub-agent", n, json!({ "status": "in_progress" })).await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("status"))
    );
    // Members never work tickets.
    assert_eq!(
        patch(&app, "member-admin", n, json!({ "urgency": "high" }))
            .await
            .0,
        403
    );
}

#[tokio::test]
async fn requests_that_cost_money_wait_for_the_members_approval() {
    let app = TestApp::new().await;
    let laptop = app.desk.items["New laptop"].to_string();
    // The form is checked: required answers and choices, named by field.
    let (status, e) = open(
        &app,
        "member-staff",
        json!({ "catalog_item_id": laptop, "subject": "Laptop for the clerk", "description": "New hire",
                "form": { "model": "Gold", "colour": "red" } }),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["form.model", "form.for_whom", "form.colour"]);
    let (status, t) = open(
        &app,
        "member-staff",
        json!({ "catalog_item_id": laptop, "subject": "Laptop for the clerk", "description": "New hire",
                "form": { "model": "Power", "for_whom": "Jo Clerk" } }),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    let n = t["number"].as_i64().unwrap();
    assert_eq!(
        (
            t["kind"].as_str(),
            t["approval"].as_str(),
            t["cost_cents"].as_i64()
        ),
        (Some("service_request"), Some("pending"), Some(129_900))
    );
    assert!(
        t["sla"]["next_due_at"].is_null(),
        "no clock before approval"
    );
    // Work cannot start before approval.
    let (status, _) = patch(&app, "hub-agent", n, json!({ "status": "in_progress" })).await;
    assert_eq!(status, 422);
    let path = format!("/api/v1/tickets/{n}/approval");
    // Staff and the hub cannot approve; a rejection needs a reason.
    assert_eq!(
        app.api("member-staff", Method::POST, &path)
            .json(&json!({ "decision": "approve" }))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    assert_eq!(
        app.api("hub-admin", Method::POST, &path)
            .json(&json!({ "decision": "approve" }))
            .send()
            .await
            .unwrap()
            .status(),
        403
    );
    let (status, e) = crate::helpers::send(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "decision": "reject" }),
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("reason"))
    );
    let (status, t) = crate::helpers::send(
        &app,
        "member-admin",
        Method::POST,
        &path,
        json!({ "decision": "approve" }),
    )
    .await;
    assert_eq!((status, t["approval"].as_str()), (200, Some("approved")));
    assert!(
        t["sla"]["next_due_at"].is_string(),
        "the clock runs once approved"
    );
    // The pending queue for member admins.
    let (_, pending) = get(&app, "member-admin", "/api/v1/tickets?approval=pending").await;
    assert!(numbers(&pending).is_empty());
}

#[tokio::test]
async fn full_text_search_finds_subjects_descriptions_and_replies() {
    let app = TestApp::new().await;
    let (_, a) = open(&app, "member-staff", json!({ "subject": "Scanner offline", "description": "The scanner in the clerk's office is offline." })).await;
    let (_, b) = open(
        &app,
        "member-staff",
        json!({ "subject": "Email bounce", "description": "Mail to the assessor bounces." }),
    )
    .await;
    let (a, b) = (a["number"].as_i64().unwrap(), b["number"].as_i64().unwrap());
    reply(
        &app,
        "hub-agent",
        b,
        json!({ "body": "The mailbox quota was exceeded; raised it." }),
    )
    .await;
    let (_, hits) = get(&app, "hub-agent", "/api/v1/tickets?q=scanner").await;
    assert_eq!(numbers(&hits), [a]);
    let (_, hits) = get(&app, "hub-agent", "/api/v1/tickets?q=quota").await;
    assert_eq!(numbers(&hits), [b], "replies are searched");
    // Search respects visibility and never chokes on query syntax.
    let (_, hits) = get(&app, "colleague", "/api/v1/tickets?q=scanner").await;
    assert!(numbers(&hits).is_empty());
    for q in ["\"unbalanced", "a AND OR", "-x*", "(", "NEAR("] {
        let (status, _) = get(
            &app,
            "hub-agent",
            &format!("/api/v1/tickets?q={}", urlencoding(q)),
        )
        .await;
        assert_eq!(status, 200, "query {q:?}");
    }
}

fn urlencoding(s: &str) -> String {
    s.bytes().map(|b| format!("%{b:02X}")).collect()
}

#[tokio::test]
async fn bad_ticket_input_names_the_field_and_stale_updates_are_refused() {
    let app = TestApp::new().await;
    let (status, e) = open(
        &app,
        "member-staff",
        json!({ "subject": "", "description": "x", "impact": "huge" }),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["subject", "impact"]);
    let (status, e) = open(
        &app,
        "member-staff",
        json!({ "subject": "x", "description": "y", "colour": "red" }),
    )
    .await;
    assert_eq!(status, 422, "{e}");
    assert!(e.to_string().contains("colour"));
    let (_, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "x", "description": "y" }),
    )
    .await;
    let n = t["number"].as_i64().unwrap();
    let res = app
        .api("hub-agent", Method::PATCH, &format!("/api/v1/tickets/{n}"))
        .header("if-match", "\"v99\"")
        .json(&json!({ "urgency": "high" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let (status, e) = get(
        &app,
        "hub-agent",
        "/api/v1/tickets?status=open&sort=sideways",
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["status", "sort"]);
    assert_eq!(get(&app, "hub-agent", "/api/v1/tickets/abc").await.0, 404);
    let (status, _) = patch(
        &app,
        "hub-agent",
        n,
        json!({ "assignee_id": app.who("member-staff").user_id.to_string() }),
    )
    .await;
    assert_eq!(status, 422, "only hub agents can be assignees");
    let _ = OWN;
}

#[tokio::test]
async fn the_queue_is_sorted_by_sla_due_and_pages_by_cursor() {
    let app = TestApp::new().await;
    // P4 first, P1 last: the queue still puts the P1 (earliest deadline) first.
    let mut made = Vec::new();
    for (impact, urgency) in [("low", "low"), ("medium", "medium"), ("high", "high")] {
        let (_, t) = open(&app, "member-staff", json!({ "subject": format!("{impact}/{urgency}"), "description": "d", "impact": impact, "urgency": urgency })).await;
        made.push(t["number"].as_i64().unwrap());
    }
    let (_, page1) = get(&app, "hub-agent", "/api/v1/tickets?limit=2").await;
    assert_eq!(numbers(&page1), [made[2], made[1]]);
    let cursor = page1["next_cursor"].as_str().unwrap();
    let (_, page2) = get(
        &app,
        "hub-agent",
        &format!("/api/v1/tickets?limit=2&cursor={cursor}"),
    )
    .await;
    assert_eq!(numbers(&page2), [made[0]]);
    assert!(page2.get("next_cursor").is_none());

    // A status filter, for one member or the region, with or without an openness that agrees with it.
    let (s, _) = patch(&app, "hub-agent", made[1], json!({ "status": "resolved" })).await;
    assert_eq!(s, 200);
    for path in [
        "/api/v1/tickets?status=resolved".to_owned(),
        format!("/api/v1/tickets?status=resolved&org={OWN}"),
        format!("/api/v1/tickets?status=resolved&org={OWN}&open=done"),
    ] {
        let (_, list) = get(&app, "hub-agent", &path).await;
        assert_eq!(numbers(&list), [made[1]], "{path}");
    }
    let (_, list) = get(
        &app,
        "hub-agent",
        &format!("/api/v1/tickets?status=new&org={OWN}"),
    )
    .await;
    assert_eq!(numbers(&list), [made[2], made[0]]);
}

pub(crate) async fn html(res: reqwest::Response) -> (u16, String) {
    let status = res.status().as_u16();
    (status, res.text().await.unwrap())
}

#[tokio::test]
async fn the_portal_and_the_agent_workspace_work_without_javascript() {
    let app = TestApp::new().await;
    // Staff browse the catalog and open a request from an item's form.
    let (status, page) = html(
        app.page("member-staff", Method::GET, "/catalog")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Email and collaboration") && page.contains("New laptop"));
    let item = app.desk.items["Map request"].to_string();
    let (status, page) = html(
        app.page(
            "member-staff",
            Method::GET,
            &format!("/tickets/new?item={item}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(
        page.contains("name=\"form_purpose\""),
        "the item's questions are on the form"
    );
    // A mistake: the page comes back with the error beside the field and the input kept.
    let res = app
        .form(
            "member-staff",
            "/tickets",
            &[
                ("catalog_item_id", &item),
                ("subject", "Zoning map"),
                ("description", "For the board"),
                ("form_copies", "many"),
                ("impact", "low"),
                ("urgency", "low"),
            ],
        )
        .send()
        .await
        .unwrap();
    let (status, page) = html(res).await;
    assert_eq!(status, 422);
    assert!(page.contains("error-summary") && page.contains("must be a whole number"));
    assert!(page.contains("value=\"Zoning map\""), "input kept");
    let res = app
        .form(
            "member-staff",
            "/tickets",
            &[
                ("catalog_item_id", &item),
                ("subject", "Zoning map"),
                ("description", "For the board"),
                ("form_purpose", "Planning board"),
                ("form_copies", "3"),
                ("impact", "low"),
                ("urgency", "low"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let location = res.headers()["location"].to_str().unwrap().to_owned();
    let number: i64 = location
        .trim_start_matches("/tickets/")
        .split('?')
        .next()
        .unwrap()
        .parse()
        .unwrap();
    let (status, page) = html(
        app.page("member-staff", Method::GET, &location)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200);
    assert!(page.contains("Your ticket is open") && page.contains("Planning board"));
    // The agent finds it unassigned, takes it in bulk, and writes an internal note and a reply.
    let (_, queue) = html(
        app.page("hub-agent", Method::GET, "/tickets?assignee=none")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(queue.contains(&format!("#{number}")));
    let n = number.to_string();
    let res = app
        .form(
            "hub-agent",
            "/tickets/bulk",
            &[
                ("ticket", &n),
                ("assignee_id", "me"),
                ("back", "/tickets?assignee=me"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    // Back to the view the agent was on, saying what happened (once, however often it is done).
    let to = res.headers()["location"].to_str().unwrap().to_owned();
    assert_eq!(to, "/tickets?assignee=me&notice=tickets-updated");
    let (_, back) = html(
        app.page("hub-agent", Method::GET, &to)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(back.contains("The chosen tickets are updated."), "{back}");
    let again = app
        .form(
            "hub-agent",
            "/tickets/bulk",
            &[("ticket", &n), ("status", "in_progress"), ("back", &to)],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(again.headers()["location"], to.as_str());
    let (_, mine) = html(
        app.page("hub-agent", Method::GET, "/tickets")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        mine.contains(&format!("#{number}")),
        "the default desk view is mine"
    );
    let path = format!("/tickets/{number}/comments");
    app.form(
        "hub-agent",
        &path,
        &[
            ("body", "Checking the parcel layer"),
            ("visibility", "internal"),
        ],
    )
    .send()
    .await
    .unwrap();
    app.form(
        "hub-agent",
        &path,
        &[
            ("body", "Your maps are being printed"),
            ("visibility", "public"),
        ],
    )
    .send()
    .await
    .unwrap();
    let (_, desk_page) = html(
        app.page("hub-agent", Method::GET, &format!("/tickets/{number}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(
        desk_page.contains("Checking the parcel layer") && desk_page.contains("Work this ticket")
    );
    let (_, staff_page) = html(
        app.page("member-staff", Method::GET, &format!("/tickets/{number}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(staff_page.contains("Your maps are being printed"));
    assert!(
        !staff_page.contains("parcel layer"),
        "internal notes stay internal"
    );
    assert!(!staff_page.contains("Work this ticket"));
    // An empty reply is refused with the field named.
    let (status, page) = html(
        app.form("member-staff", &path, &[("body", "  ")])
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 422);
    assert!(page.contains("error-body"));
}

fn ny(y: i16, m: i8, d: i8, h: i8, min: i8) -> i64 {
    jiff::tz::TimeZone::get("America/New_York")
        .unwrap()
        .to_timestamp(jiff::civil::date(y, m, d).at(h, min, 0, 0))
        .unwrap()
        .as_millisecond()
}

#[tokio::test]
async fn the_sweep_warns_at_75_percent_records_breaches_and_escalates() {
    use store::desk::tickets;
    let app = TestApp::new().await;
    let sys = store::audit::Actor::system("test");
    // Breached tickets go to the Security team in this region.
    let mut settings = store::desk::catalog::settings(&app.db).await.unwrap();
    settings.escalation_team_id = Some(app.desk.teams["Security"]);
    store::desk::catalog::update_settings(&app.db, &sys, None, &settings)
        .await
        .unwrap();
    // A P1 opened Monday 16 November 2026 at 9:00 in North Reading: 30 minutes to respond.
    let opened = ny(2026, 11, 16, 9, 0);
    let new = tickets::NewTicket {
        org_id: app.orgs[OWN],
        kind: domain::desk::TicketKind::Incident,
        subject: "Email down for the whole town hall".into(),
        description: "Nobody can send or receive.".into(),
        requester_id: app.who("member-staff").user_id,
        department_id: None,
        site_id: None,
        service_id: Some(app.desk.services["email"]),
        catalog_item_id: None,
        form_answers: Default::default(),
        category: String::new(),
        impact: domain::desk::Impact::High,
        urgency: domain::desk::Urgency::High,
        source: domain::desk::Source::Phone,
        team_id: None,
        opened_at: Some(opened),
    };
    let t = tickets::open(&app.db, &store::Scope::Region, &sys, new)
        .await
        .unwrap();
    assert_eq!(t.sla.response_due_at, Some(ny(2026, 11, 16, 9, 30)));
    // 9:20 is 67%: nothing yet. 9:23 is 77%: at risk. 9:31: the response is late.
    assert_eq!(
        tickets::sla_sweep(&app.db, ny(2026, 11, 16, 9, 20))
            .await
            .unwrap()
            .checked,
        0
    );
    let s = tickets::sla_sweep(&app.db, ny(2026, 11, 16, 9, 23))
        .await
        .unwrap();
    assert_eq!(s.at_risk, [t.number]);
    let s = tickets::sla_sweep(&app.db, ny(2026, 11, 16, 9, 31))
        .await
        .unwrap();
    assert_eq!(
        (s.breached.as_slice(), s.escalated.as_slice()),
        ([t.number].as_slice(), [t.number].as_slice())
    );
    // Once recorded, a breach is not recorded again.
    let s = tickets::sla_sweep(&app.db, ny(2026, 11, 16, 9, 45))
        .await
        .unwrap();
    assert!(s.breached.is_empty() && s.at_risk.is_empty());
    let (_, body) = get(&app, "hub-agent", &format!("/api/v1/tickets/{}", t.number)).await;
    assert_eq!(body["sla"]["response_breached"], true);
    assert_eq!(body["team_id"], app.desk.teams["Security"].to_string());
    let (_, history) = get(
        &app,
        "hub-agent",
        &format!("/api/v1/tickets/{}/comments", t.number),
    )
    .await;
    assert!(history.to_string().contains("response_breached"));
    // The escalation is an assignment of its own in the audit log.
    let (_, audit) = get(&app, "hub-admin", "/api/v1/audit?action=ticket.assign").await;
    let entry = &audit["items"][0];
    assert_eq!(
        (&entry["actor"], &entry["after"]["team_id"]),
        (
            &json!("system:sla"),
            &json!(app.desk.teams["Security"].to_string())
        ),
        "{audit}"
    );
    // The requester's view does not show the desk's internal SLA entries.
    let (_, theirs) = get(
        &app,
        "member-staff",
        &format!("/api/v1/tickets/{}/comments", t.number),
    )
    .await;
    assert!(!theirs.to_string().contains("response_breached"));
    // The assignee-less breach notifies the desk: jobs are queued for the mailer.
    let queued = store::jobs::list(&app.db, Some("queued"), 100)
        .await
        .unwrap();
    assert!(
        queued
            .iter()
            .any(|j| j.kind == "desk.notify" && j.payload["event"] == "sla_breached")
    );
}

#[tokio::test]
async fn a_calendar_change_recomputes_open_tickets() {
    use store::desk::tickets;
    let app = TestApp::new().await;
    let sys = store::audit::Actor::system("test");
    // A P4 opened Friday 20 November 2026 at 16:00: 9 business hours to respond → Monday 16:00.
    let new = tickets::NewTicket {
        org_id: app.orgs[OWN],
        kind: domain::desk::TicketKind::Incident,
        subject: "Toner low".into(),
        description: "Front desk printer".into(),
        requester_id: app.who("member-staff").user_id,
        department_id: None,
        site_id: None,
        service_id: Some(app.desk.services["devices"]),
        catalog_item_id: None,
        form_answers: Default::default(),
        category: String::new(),
        impact: domain::desk::Impact::Low,
        urgency: domain::desk::Urgency::Low,
        source: domain::desk::Source::Portal,
        team_id: None,
        opened_at: Some(ny(2026, 11, 20, 16, 0)),
    };
    let t = tickets::open(&app.db, &store::Scope::Region, &sys, new)
        .await
        .unwrap();
    assert_eq!(t.sla.response_due_at, Some(ny(2026, 11, 23, 16, 0)));
    // The town closes on Monday 23 November: the deadline moves to Tuesday, through the job queue.
    let res = app
        .api(
            "member-admin",
            Method::POST,
            &format!("/api/v1/orgs/{OWN}/closures"),
        )
        .json(&json!({ "date": "2026-11-23", "name": "Water main break" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 201);
    let job = store::jobs::list(&app.db, Some("queued"), 100)
        .await
        .unwrap()
        .into_iter()
        .find(|j| j.kind == "desk.sla_recompute")
        .expect("a recompute job is queued with the change");
    assert_eq!(job.payload["org"], app.orgs[OWN].to_string());
    let runner = civitas::runner::Runner::new(app.db.clone());
    crate::mail::drain(&runner).await;
    let (_, body) = get(&app, "hub-agent", &format!("/api/v1/tickets/{}", t.number)).await;
    let due = jiff::Timestamp::from_millisecond(ny(2026, 11, 24, 16, 0))
        .unwrap()
        .to_string();
    assert_eq!(body["sla"]["response_due_at"], due);
}

#[tokio::test]
async fn agents_log_time_and_members_see_what_was_spent_on_them() {
    let app = TestApp::new().await;
    let (_, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "New printer setup", "description": "Front office" }),
    )
    .await;
    let n = t["number"].as_i64().unwrap();
    let post = |who: &'static str, body: Value| {
        let req = app
            .api(who, Method::POST, "/api/v1/time-entries")
            .json(&body);
        async move { json(req.send().await.unwrap()).await }
    };
    let (status, e) = post("hub-agent", json!({ "ticket": n, "minutes": 45, "activity": "onsite", "date": "2026-11-20", "note": "Installed drivers" })).await;
    assert_eq!(status, 201, "{e}");
    assert_eq!(
        (
            e["minutes"].as_i64(),
            e["billable"].as_bool(),
            e["ticket_number"].as_i64()
        ),
        (Some(45), Some(true), Some(n))
    );
    // Bad input names the field.
    let (status, e) = post(
        "hub-agent",
        json!({ "ticket": n, "minutes": 0, "activity": "napping", "date": "2999-01-01" }),
    )
    .await;
    assert_eq!(status, 422);
    let fields: Vec<&str> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap())
        .collect();
    assert_eq!(fields, ["minutes", "activity", "date"]);
    // Members never log time; staff do not see it; the member's administrator does, the other member not.
    assert_eq!(
        post("member-admin", json!({ "ticket": n, "minutes": 5 }))
            .await
            .0,
        403
    );
    assert_eq!(
        get(&app, "member-staff", "/api/v1/time-entries").await.0,
        403
    );
    let (_, mine) = get(
        &app,
        "member-admin",
        &format!("/api/v1/time-entries?ticket={n}"),
    )
    .await;
    assert_eq!(mine["items"].as_array().unwrap().len(), 1);
    let (_, theirs) = get(
        &app,
        "other-admin",
        &format!("/api/v1/time-entries?ticket={n}"),
    )
    .await;
    assert!(theirs["items"].as_array().unwrap().is_empty());
    // The timer: one at a time; stopping logs at least a minute.
    let start = |body: Value| {
        app.api("hub-agent", Method::POST, "/api/v1/timer/start")
            .json(&body)
            .send()
    };
    assert_eq!(start(json!({ "ticket": n })).await.unwrap().status(), 201);
    let (status, e) = json(start(json!({ "ticket": n })).await.unwrap()).await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (409, Some("timer")),
        "{e}"
    );
    let (status, e) = crate::helpers::send(
        &app,
        "hub-agent",
        Method::POST,
        "/api/v1/timer/stop",
        json!({ "note": "Follow-up call" }),
    )
    .await;
    assert_eq!((status, e["minutes"].as_i64()), (201, Some(1)));
    let (status, e) = crate::helpers::send(
        &app,
        "hub-agent",
        Method::POST,
        "/api/v1/timer/stop",
        json!({}),
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("timer"))
    );
    // The weekly timesheet and its CSV.
    let res = app
        .page("hub-agent", Method::GET, "/timesheet?week=2026-11-18")
        .send()
        .await
        .unwrap();
    let page = res.text().await.unwrap();
    assert!(
        page.contains(&format!("#{n}")) && page.contains("45 min"),
        "the week of Nov 16–22 shows the entry"
    );
    let csv = app
        .page(
            "hub-agent",
            Method::GET,
            "/timesheet?week=2026-11-18&format=csv",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let mut lines = csv.lines();
    assert_eq!(
        lines.next(),
        Some("date,person,member,ticket,subject,minutes,activity,billable,note")
    );
    assert_eq!(lines.next(), Some(format!("2026-11-20,hub-agent,Town of North Reading,{n},New printer setup,45,onsite,true,Installed drivers").as_str()));
    // Only one's own entries can be removed (administrators excepted).
    let id = mine["items"][0]["id"].as_str().unwrap().to_owned();
    let other_agent_delete = app
        .api(
            "hub-admin",
            Method::DELETE,
            &format!("/api/v1/time-entries/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(
        other_agent_delete.status(),
        204,
        "a hub administrator may remove anyone's entry"
    );
}

#[tokio::test]
async fn problems_link_incidents_and_duplicates_merge() {
    let app = TestApp::new().await;
    let (_, a) = open(
        &app,
        "member-staff",
        json!({ "subject": "Wi-Fi drops in the library", "description": "Again" }),
    )
    .await;
    let (_, b) = open(
        &app,
        "colleague",
        json!({ "subject": "Library wifi keeps dropping", "description": "Same here" }),
    )
    .await;
    let (_, p) = open(&app, "hub-agent", json!({ "org": OWN, "kind": "problem", "subject": "Library access point firmware", "description": "Root cause" })).await;
    let (a, b, p) = (
        a["number"].as_i64().unwrap(),
        b["number"].as_i64().unwrap(),
        p["number"].as_i64().unwrap(),
    );
    let post = |path: String, body: Value| {
        let req = app.api("hub-agent", Method::POST, &path).json(&body);
        async move { json(req.send().await.unwrap()).await }
    };
    // Caused-by needs a problem on the other end.
    let (status, e) = post(
        format!("/api/v1/tickets/{a}/links"),
        json!({ "other": b, "kind": "caused_by" }),
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("other"))
    );
    let (status, links) = post(
        format!("/api/v1/tickets/{a}/links"),
        json!({ "other": p, "kind": "caused_by" }),
    )
    .await;
    assert_eq!(status, 201, "{links}");
    assert_eq!(links["items"][0]["relation"], "caused_by");
    let (_, from_problem) = get(&app, "hub-agent", &format!("/api/v1/tickets/{p}/links")).await;
    assert_eq!(
        (
            from_problem["items"][0]["number"].as_i64(),
            from_problem["items"][0]["relation"].as_str()
        ),
        (Some(a), Some("causes"))
    );
    // The colleague's duplicate merges into the first ticket: it closes, and its requester now follows #a.
    let (status, merged) = post(format!("/api/v1/tickets/{b}/merge"), json!({ "into": a })).await;
    assert_eq!(status, 200, "{merged}");
    assert_eq!(merged["status"], "closed");
    let (status, _) = get(&app, "colleague", &format!("/api/v1/tickets/{a}")).await;
    assert_eq!(status, 200, "the colleague watches the surviving ticket");
    let (_, watchers) = get(
        &app,
        "member-staff",
        &format!("/api/v1/tickets/{a}/watchers"),
    )
    .await;
    assert_eq!(watchers["items"][0]["name"], "colleague");
    // Members add colleagues of their own organisation only.
    let res = app
        .api(
            "member-staff",
            Method::POST,
            &format!("/api/v1/tickets/{a}/watchers"),
        )
        .json(&json!({ "email": format!("other-admin@{OTHER}.example.gov") }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
}

#[tokio::test]
async fn the_knowledge_base_shows_each_reader_what_is_theirs() {
    let app = TestApp::new().await;
    let write = |body: Value| {
        let req = app
            .api("hub-agent", Method::POST, "/api/v1/articles")
            .json(&body);
        async move { json(req.send().await.unwrap()).await }
    };
    let (status, public) = write(json!({ "title": "Connect to the town Wi-Fi", "body": "Choose TownHall-Staff and sign in with your email.", "category": "Network", "status": "published", "visibility": "members" })).await;
    assert_eq!(status, 201, "{public}");
    write(json!({ "title": "Wi-Fi controller admin notes", "body": "Controller at 10.0.0.5", "status": "published", "visibility": "internal" })).await;
    write(json!({ "title": "Wi-Fi draft", "body": "Work in progress", "visibility": "members" }))
        .await;
    let (_, own) = write(json!({ "title": "North Reading library Wi-Fi", "body": "Library network details", "status": "published", "visibility": "member", "org": OWN })).await;
    let (status, e) = write(json!({ "title": "x", "body": "y", "visibility": "member" })).await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("org"))
    );
    let titles = |v: &Value| -> Vec<String> {
        v["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|a| a["title"].as_str().unwrap().to_owned())
            .collect()
    };
    let (_, staff) = get(&app, "member-staff", "/api/v1/articles?q=wifi").await;
    let seen = titles(&staff);
    assert!(
        seen.contains(&"Connect to the town Wi-Fi".to_owned())
            && seen.contains(&"North Reading library Wi-Fi".to_owned()),
        "{seen:?}"
    );
    assert!(
        !seen
            .iter()
            .any(|t| t.contains("admin notes") || t.contains("draft")),
        "{seen:?}"
    );
    let (_, other) = get(&app, "other-admin", "/api/v1/articles?q=wifi").await;
    assert!(!titles(&other).contains(&"North Reading library Wi-Fi".to_owned()));
    let (_, desk) = get(&app, "hub-agent", "/api/v1/articles?q=wifi").await;
    assert_eq!(
        titles(&desk).len(),
        seen.len() + 2,
        "the desk also sees drafts and internal notes"
    );
    assert_eq!(
        get(
            &app,
            "other-admin",
            &format!("/api/v1/articles/{}", own["id"].as_str().unwrap())
        )
        .await
        .0,
        404
    );
    // Members cannot write.
    let res = app
        .api("member-admin", Method::POST, "/api/v1/articles")
        .json(&json!({ "title": "x", "body": "y" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 403);
    // The portal's suggestions while typing a subject.
    let html = app
        .page(
            "member-staff",
            Method::GET,
            "/kb/suggest?subject=wifi+keeps+dropping",
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Connect to the town Wi-Fi") && !html.contains("controller"));
    // The desk links an article to a ticket; the requester sees it there.
    let (_, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "Cannot get on Wi-Fi", "description": "New laptop" }),
    )
    .await;
    let n = t["number"].as_i64().unwrap();
    let res = app
        .api(
            "hub-agent",
            Method::POST,
            &format!("/api/v1/tickets/{n}/articles"),
        )
        .json(&json!({ "article": public["id"] }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 204);
    let page = app
        .page("member-staff", Method::GET, &format!("/tickets/{n}"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("Connect to the town Wi-Fi"));
}

#[tokio::test]
async fn reports_count_what_each_reader_may_see() {
    let app = TestApp::new().await;
    let (_, a) = open(
        &app,
        "member-staff",
        json!({ "subject": "One", "description": "x" }),
    )
    .await;
    open(
        &app,
        "member-staff",
        json!({ "subject": "Two", "description": "x" }),
    )
    .await;
    open(
        &app,
        "other-admin",
        json!({ "subject": "Three", "description": "x" }),
    )
    .await;
    let n = a["number"].as_i64().unwrap();
    reply(
        &app,
        "hub-agent",
        n,
        json!({ "body": "Done: restarted it." }),
    )
    .await;
    patch(&app, "hub-agent", n, json!({ "status": "resolved" })).await;
    app.api(
        "member-staff",
        Method::POST,
        &format!("/api/v1/tickets/{n}/rating"),
    )
    .json(&json!({ "score": 4 }))
    .send()
    .await
    .unwrap();
    let (status, region) = get(&app, "hub-agent", "/api/v1/reports/desk").await;
    assert_eq!(status, 200, "{region}");
    assert_eq!(
        (
            region["total"]["opened"].as_i64(),
            region["total"]["resolved"].as_i64()
        ),
        (Some(3), Some(1))
    );
    assert_eq!(region["total"]["sla_attainment_percent"], 100.0);
    assert_eq!(region["total"]["first_contact_resolution_percent"], 100.0);
    assert_eq!(region["total"]["csat"], 4.0);
    assert_eq!(region["by_member"].as_array().unwrap().len(), 2);
    // A member's administrator sees their own member only; staff see no reports.
    let (_, own) = get(&app, "member-admin", "/api/v1/reports/desk").await;
    assert_eq!(own["total"]["opened"], 2);
    let (status, e) = get(
        &app,
        "member-admin",
        &format!("/api/v1/reports/desk?org={OTHER}"),
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("org"))
    );
    assert_eq!(
        get(&app, "member-staff", "/api/v1/reports/desk").await.0,
        403
    );
    let (status, e) = get(
        &app,
        "hub-agent",
        "/api/v1/reports/desk?from=2026-12-01&to=2026-01-01",
    )
    .await;
    assert_eq!(
        (status, e["errors"][0]["field"].as_str()),
        (422, Some("to"))
    );
    // The page and its CSV.
    let page = app
        .page("hub-agent", Method::GET, "/reports")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(page.contains("<svg") && page.contains("Figures by member"));
    let csv = app
        .page("hub-agent", Method::GET, "/reports?format=csv&table=member")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(csv.starts_with("key,opened,resolved,sla_attainment_percent"));
    assert!(csv.contains("Town of North Reading,2,1,100.0"));
}

#[tokio::test]
async fn the_hub_sets_the_desk_up_through_the_api_and_the_settings_page() {
    let app = TestApp::new().await;
    // Everyone signed in can read the settings; only the catalog's managers change them.
    let (s, st) = get(&app, "member-staff", "/api/v1/desk/settings").await;
    assert_eq!(s, 200);
    assert_eq!(st["priority_matrix"][0][0], "p1");
    let put = |who: &'static str, body: Value, etag: Option<&'static str>| {
        let mut r = app
            .api(who, Method::PUT, "/api/v1/desk/settings")
            .json(&body);
        if let Some(e) = etag {
            r = r.header("If-Match", e);
        }
        async move { json(r.send().await.unwrap()).await }
    };
    let (s, _) = put("hub-agent", json!({ "reopen_days": 3 }), None).await;
    assert_eq!(s, 403);
    // A matrix that ranks low impact above high is refused, naming the field; so is a reopen window of a year.
    let (s, e) = put(
        "hub-admin",
        json!({ "priority_matrix": [["p4","p4","p4"],["p1","p1","p1"],["p1","p1","p1"]], "reopen_days": 365 }),
        None,
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<_> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|x| x["field"].as_str())
        .collect();
    assert_eq!(fields, ["priority_matrix", "reopen_days"], "{e}");
    // Medium/medium becomes P2; a stale version is refused and nothing changes.
    let (s, st) = put(
        "hub-admin",
        json!({ "priority_matrix": [["p1","p2","p3"],["p2","p2","p4"],["p3","p4","p4"]] }),
        Some("\"v1\""),
    )
    .await;
    assert_eq!(s, 200, "{st}");
    assert_eq!(st["version"], 2);
    let (s, _) = put("hub-admin", json!({ "reopen_days": 1 }), Some("\"v1\"")).await;
    assert_eq!(s, 412);
    let (_, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "Slow VPN", "description": "d", "impact": "medium", "urgency": "medium" }),
    )
    .await;
    assert_eq!(t["priority"], "p2");

    // Teams: members must be agents of the hub.
    let (s, e) = crate::helpers::send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/teams",
        json!({ "name": "GIS", "members": [format!("member-staff@{OWN}.example.gov")] }),
    )
    .await;
    assert_eq!(
        (s, e["errors"][0]["field"].as_str()),
        (422, Some("members[0]")),
        "{e}"
    );
    let (s, team) = crate::helpers::send(&app, "hub-admin", Method::POST, "/api/v1/teams", json!({ "name": "GIS", "description": "Maps and parcels", "members": ["hub-agent@melrose.example.gov"] }))
    .await;
    assert_eq!(s, 201, "{team}");
    assert_eq!(team["members"].as_array().map(Vec::len), Some(1));
    let (s, _) = put(
        "hub-admin",
        json!({ "escalation_team_id": team["id"] }),
        None,
    )
    .await;
    assert_eq!(s, 200);

    // The page: the same checks, errors beside the fields.
    let (s, body) = html(
        app.page("hub-admin", Method::GET, "/desk/settings")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 200);
    assert!(body.contains("Priority for impact medium and urgency medium") && body.contains("GIS"));
    let (s, _) = html(
        app.page("member-admin", Method::GET, "/desk/settings")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 403);
    let mut fields = vec![("reopen_days", "7"), ("attachment_max_mb", "2.5")];
    let cells = [
        ("pm_high_high", "p1"),
        ("pm_high_medium", "p2"),
        ("pm_high_low", "p3"),
        ("pm_medium_high", "p2"),
        ("pm_medium_medium", "p3"),
        ("pm_medium_low", "p4"),
        ("pm_low_high", "p3"),
        ("pm_low_medium", "p4"),
        ("pm_low_low", "p4"),
    ];
    fields.extend_from_slice(&cells);
    let res = app
        .form("hub-admin", "/desk/settings", &fields)
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, st) = get(&app, "hub-agent", "/api/v1/desk/settings").await;
    assert_eq!(
        (
            st["reopen_days"].as_i64(),
            st["attachment_max_bytes"].as_i64(),
            st["priority_matrix"][1][1].as_str()
        ),
        (Some(7), Some(2_621_440), Some("p3"))
    );
    fields[1] = ("attachment_max_mb", "a lot");
    let (s, body) = html(
        app.form("hub-admin", "/desk/settings", &fields)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        body.contains("attachment_max_mb: must be a number of megabytes"),
        "{body}"
    );

    // A service added and withdrawn from the page leaves the portal's catalog.
    let (_, policies) = get(&app, "hub-admin", "/api/v1/sla-policies").await;
    let policy = policies["items"][0]["id"].as_str().unwrap().to_owned();
    let res = app
        .form(
            "hub-admin",
            "/desk/services",
            &[
                ("name", "Drone mapping"),
                ("category", "Applications"),
                ("support_hours", "Business hours"),
                ("sla_policy_id", &policy),
                ("active", "true"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, catalog) = html(
        app.page("member-staff", Method::GET, "/catalog")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(catalog.contains("Drone mapping"));
    let (_, services) = get(&app, "hub-admin", "/api/v1/services").await;
    let id = services["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|x| x["name"] == "Drone mapping")
        .and_then(|x| x["id"].as_str())
        .unwrap()
        .to_owned();
    let res = app
        .form(
            "hub-admin",
            &format!("/desk/services/{id}"),
            &[("version", "1")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303, "an unticked box withdraws it");
    let (_, catalog) = html(
        app.page("member-staff", Method::GET, "/catalog")
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(!catalog.contains("Drone mapping"));
}

#[tokio::test]
async fn files_are_attached_from_the_ticket_page_within_the_limit() {
    let app = TestApp::new().await;
    let (_, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "Error on sign-in", "description": "See the screenshot." }),
    )
    .await;
    let n = t["number"].as_i64().unwrap();
    let upload = |name: &'static str, bytes: Vec<u8>| {
        let form = reqwest::multipart::Form::new()
            .text("_csrf", app.who("member-staff").csrf.clone())
            .part(
                "file",
                reqwest::multipart::Part::bytes(bytes)
                    .file_name(name)
                    .mime_str("text/plain")
                    .unwrap(),
            );
        app.page(
            "member-staff",
            Method::POST,
            &format!("/tickets/{n}/attachments"),
        )
        .multipart(form)
    };
    let res = upload("error.txt", b"Error 0x80070005 at sign-in".to_vec())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, page) = html(
        app.page("member-staff", Method::GET, &format!("/tickets/{n}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(page.contains("error.txt"), "the file is listed");
    let (_, files) = get(
        &app,
        "member-staff",
        &format!("/api/v1/tickets/{n}/attachments"),
    )
    .await;
    assert_eq!(files["items"][0]["filename"], "error.txt", "{files}");

    // Over the limit: the page says so beside the field, and nothing is kept.
    let (s, _) = crate::helpers::send(
        &app,
        "hub-admin",
        Method::PUT,
        "/api/v1/desk/settings",
        json!({ "attachment_max_bytes": 2048 }),
    )
    .await;
    assert_eq!(s, 200);
    let (s, page) = html(upload("big.log", vec![b'x'; 4096]).send().await.unwrap()).await;
    assert_eq!(s, 422);
    assert!(page.contains("file: is larger than the limit"), "{page}");
    // No CSRF token: refused.
    let res = app
        .page(
            "member-staff",
            Method::POST,
            &format!("/tickets/{n}/attachments"),
        )
        .multipart(reqwest::multipart::Form::new().part(
            "file",
            reqwest::multipart::Part::bytes(b"x".to_vec()).file_name("x.txt"),
        ))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 400);
    let (_, files) = get(
        &app,
        "member-staff",
        &format!("/api/v1/tickets/{n}/attachments"),
    )
    .await;
    assert_eq!(files["items"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn a_request_form_is_built_on_the_page_and_asked_on_the_portal() {
    let app = TestApp::new().await;
    let service = app.desk.services["gis"].to_string();
    // Mistakes are named at the question they belong to, and nothing is saved.
    let (s, body) = html(
        app.form(
            "hub-admin",
            "/desk/items",
            &[
                ("service_id", &service),
                ("name", "Parcel map printout"),
                ("cost", "12,34"),
                ("active", "true"),
                ("rows", "3"),
                ("q0_label", "Parcel ID"),
                ("q2_label", "Paper size"),
                ("q2_kind", "choice"),
            ],
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        body.contains("cost: must be an amount of dollars"),
        "{body}"
    );
    let (s, body) = html(
        app.form(
            "hub-admin",
            "/desk/items",
            &[
                ("service_id", &service),
                ("name", "Parcel map printout"),
                ("cost", "$1,250.50"),
                ("active", "true"),
                ("rows", "3"),
                ("q0_label", "Parcel ID"),
                ("q2_label", "Paper size"),
                ("q2_kind", "choice"),
            ],
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(
        body.contains(r##"href="#field-q2_choices""##)
            && body.contains("needs at least one choice"),
        "the error points at the third row, the one without choices: {body}"
    );
    let (_, items) = get(&app, "hub-admin", "/api/v1/catalog-items").await;
    assert!(!items.to_string().contains("Parcel map printout"));

    let res = app
        .form(
            "hub-admin",
            "/desk/items",
            &[
                ("service_id", &service),
                ("name", "Parcel map printout"),
                ("description", "A printed map of one parcel."),
                ("cost", "$1,250.50"),
                ("active", "true"),
                ("rows", "3"),
                ("q0_label", "Parcel ID"),
                ("q0_required", "true"),
                ("q2_label", "Paper size"),
                ("q2_kind", "choice"),
                ("q2_choices", "Letter\r\nTabloid\r\n\r\n"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, items) = get(&app, "hub-admin", "/api/v1/catalog-items").await;
    let item = items["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["name"] == "Parcel map printout")
        .unwrap()
        .clone();
    assert_eq!(item["cost_cents"], 125_050, "exact cents");
    assert_eq!(
        item["form"],
        json!([
            { "key": "parcel_id", "label": "Parcel ID", "kind": "text", "required": true },
            { "key": "paper_size", "label": "Paper size", "kind": "choice", "required": false,
              "choices": ["Letter", "Tabloid"] },
        ])
    );
    let id = item["id"].as_str().unwrap().to_owned();

    // The portal asks the questions.
    let (_, portal) = html(
        app.page(
            "member-staff",
            Method::GET,
            &format!("/tickets/new?item={id}"),
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert!(
        portal.contains("Parcel ID") && portal.contains("Tabloid"),
        "{portal}"
    );

    // The edit form shows the questions with room for more; a question whose label is emptied goes.
    let (_, edit) = html(
        app.page("hub-admin", Method::GET, &format!("/desk/items/{id}"))
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert!(edit.contains(r#"name="rows" value="5""#), "{edit}");
    assert!(edit.contains(r#"value="paper_size""#));
    let res = app
        .form(
            "hub-admin",
            &format!("/desk/items/{id}"),
            &[
                ("version", "1"),
                ("name", "Parcel map printout"),
                ("cost", "1250.50"),
                ("active", "true"),
                ("rows", "5"),
                ("q0_label", ""),
                ("q0_key", "parcel_id"),
                ("q1_label", "Paper size"),
                ("q1_key", "paper_size"),
                ("q1_kind", "choice"),
                ("q1_choices", "Letter\nTabloid\nE-size"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, after) = get(&app, "hub-admin", &format!("/api/v1/catalog-items/{id}")).await;
    assert_eq!(after["form"].as_array().unwrap().len(), 1, "{after}");
    assert_eq!(after["form"][0]["choices"][2], "E-size");
    // A stale form is refused rather than overwriting the newer edit.
    let (s, _) = html(
        app.form(
            "hub-admin",
            &format!("/desk/items/{id}"),
            &[("version", "1"), ("name", "Old"), ("rows", "0")],
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 412);
    let (_, audit) = get(
        &app,
        "hub-admin",
        "/api/v1/audit?action=catalog_item.update",
    )
    .await;
    assert!(!audit["items"].as_array().unwrap().is_empty(), "{audit}");
}

#[tokio::test]
async fn sla_policies_are_edited_on_the_page_and_through_the_api() {
    let app = TestApp::new().await;
    let id = app.desk.standard.to_string();
    let (s, p) = get(&app, "member-staff", &format!("/api/v1/sla-policies/{id}")).await;
    assert_eq!(s, 200);
    assert_eq!(p["version"], 1);
    // A slower P1 than P2 is refused, named at the field.
    let mut fields: Vec<(String, String)> = vec![
        ("version".into(), "1".into()),
        ("name".into(), "Standard".into()),
        ("coverage".into(), "business_hours".into()),
    ];
    for (i, (r, s)) in [(30, 240), (60, 540), (240, 1620), (540, 2700)]
        .iter()
        .enumerate()
    {
        fields.push((
            format!("targets_p{}_response_minutes", i + 1),
            r.to_string(),
        ));
        fields.push((
            format!("targets_p{}_resolution_minutes", i + 1),
            s.to_string(),
        ));
    }
    let mut bad = fields.clone();
    bad[3].1 = "90".into();
    bad[5].1 = "ninety".into();
    let send = |f: Vec<(String, String)>| {
        app.page("hub-admin", Method::POST, &format!("/desk/policies/{id}"))
            .header("x-csrf-token", app.who("hub-admin").csrf.clone())
            .form(&f)
    };
    let (s, body) = html(send(bad.clone()).send().await.unwrap()).await;
    assert_eq!(s, 422);
    assert!(
        body.contains("targets_p2_response_minutes: must be a whole number of minutes"),
        "{body}"
    );
    bad[5].1 = "20".into();
    let (s, body) = html(send(bad.clone()).send().await.unwrap()).await;
    assert_eq!(s, 422);
    assert!(
        body.contains("P2 cannot have shorter targets than P1"),
        "{body}"
    );

    fields[3].1 = "15".into();
    let res = send(fields.clone()).send().await.unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let (_, p) = get(&app, "hub-admin", &format!("/api/v1/sla-policies/{id}")).await;
    assert_eq!(p["name"], "Standard");
    assert_eq!(p["targets"][0]["response_minutes"], 15);
    assert_eq!(p["version"], 2);

    // Through the API: If-Match is honoured, fields left out stay.
    let res = app
        .api(
            "hub-admin",
            Method::PATCH,
            &format!("/api/v1/sla-policies/{id}"),
        )
        .header("if-match", "\"v1\"")
        .json(&json!({ "coverage": "always_on" }))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 412);
    let (s, p) = json(
        app.api(
            "hub-admin",
            Method::PATCH,
            &format!("/api/v1/sla-policies/{id}"),
        )
        .header("if-match", "\"v2\"")
        .json(&json!({ "coverage": "always_on" }))
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{p}");
    assert_eq!(p["coverage"], "always_on");
    assert_eq!(p["targets"][0]["response_minutes"], 15);
    let (s, _) = crate::helpers::send(
        &app,
        "hub-agent",
        Method::PATCH,
        &format!("/api/v1/sla-policies/{id}"),
        json!({ "name": "Mine" }),
    )
    .await;
    assert_eq!(s, 403);
    // A ticket opened now is held to the new targets.
    let (_, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "Outage", "description": "Down", "impact": "high", "urgency": "high",
                "service_id": app.desk.services["email"].to_string() }),
    )
    .await;
    assert_eq!(t["sla"]["response_target_s"], 15 * 60, "{t}");
}

#[tokio::test]
async fn tickets_opened_at_once_are_all_written_numbered_indexed_and_audited() {
    let app = TestApp::new().await;
    let (_, before) = get(
        &app,
        "hub-agent",
        "/api/v1/tickets?open=any&limit=1&sort=newest",
    )
    .await;
    let last = before["items"][0]["number"].as_i64().unwrap_or(0);
    // Forty requests at the same moment (on SQLite they are written in groups, in one transaction each).
    let mut handles = Vec::new();
    for i in 0..40 {
        let who = if i % 2 == 0 {
            "member-staff"
        } else {
            "member-admin"
        };
        let req = app
            .api(who, Method::POST, "/api/v1/tickets")
            .json(&json!({ "subject": format!("Stapler {i} jammed"), "description": "zanzibar quartz", "impact": "low" }));
        handles.push(tokio::spawn(req.send()));
    }
    let mut numbers = Vec::new();
    for h in handles {
        let (s, t) = json(h.await.unwrap().unwrap()).await;
        assert_eq!(s, 201, "{t}");
        assert_eq!(t["status"], "new");
        assert!(t["sla"]["resolution_due_at"].is_string(), "{t}");
        numbers.push(t["number"].as_i64().unwrap());
    }
    numbers.sort_unstable();
    assert_eq!(
        numbers,
        ((last + 1)..=(last + 40)).collect::<Vec<_>>(),
        "consecutive numbers, none lost or repeated"
    );
    // Each is searchable, has its history and its audit entry; the chain is whole.
    let (_, found) = get(
        &app,
        "hub-agent",
        "/api/v1/tickets?q=zanzibar&open=any&limit=100",
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 40, "{found}");
    let (_, history) = get(
        &app,
        "hub-agent",
        &format!("/api/v1/tickets/{}/comments", numbers[0]),
    )
    .await;
    assert!(history.to_string().contains("created"), "{history}");
    let (_, audit) = get(
        &app,
        "hub-admin",
        "/api/v1/audit?action=ticket.open&limit=100",
    )
    .await;
    assert!(audit["items"].as_array().unwrap().len() >= 40);
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert_eq!(v.first_bad_seq, None);
}

/// On SQLite, tickets are written by a connection of their own beside sqlx's writer (see `store::direct`).
/// When something else holds the database — a long import, a backup, the CLI — openings must wait for it and
/// then be written, whole and in order, not fail or vanish.
#[tokio::test]
async fn tickets_opened_while_another_writer_holds_the_database_wait_and_are_written() {
    let app = TestApp::new().await;
    if !app.database_url.starts_with("sqlite:") {
        // PostgreSQL has no database-wide write lock to hold; the path under test is SQLite's.
        return;
    }
    use sqlx::Connection as _;
    let mut other = sqlx::SqliteConnection::connect(&app.database_url)
        .await
        .unwrap();
    sqlx::Executor::execute(&mut other, "BEGIN IMMEDIATE")
        .await
        .unwrap();
    let mut handles = Vec::new();
    for i in 0..6 {
        let req = app
            .api("member-staff", Method::POST, "/api/v1/tickets")
            .json(
                &json!({ "subject": format!("Locked out {i}"), "description": "quixotic walrus" }),
            );
        handles.push(tokio::spawn(req.send()));
    }
    tokio::time::sleep(std::time::Duration::from_millis(400)).await;
    assert!(
        handles.iter().all(|h| !h.is_finished()),
        "no opening can be written while another writer holds the database"
    );
    sqlx::Executor::execute(&mut other, "COMMIT").await.unwrap();
    let mut numbers = Vec::new();
    for h in handles {
        let (s, t) = json(h.await.unwrap().unwrap()).await;
        assert_eq!(s, 201, "{t}");
        numbers.push(t["number"].as_i64().unwrap());
    }
    numbers.sort_unstable();
    numbers.dedup();
    assert_eq!(numbers.len(), 6, "six tickets, six numbers");
    assert_eq!(numbers[5] - numbers[0], 5, "consecutive: {numbers:?}");
    // And the direct writer takes over again afterwards.
    let (s, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "After the lock", "description": "quixotic walrus" }),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    assert_eq!(t["number"].as_i64().unwrap(), numbers[5] + 1);
    let (_, found) = get(
        &app,
        "hub-agent",
        "/api/v1/tickets?q=quixotic&open=any&limit=100",
    )
    .await;
    assert_eq!(found["items"].as_array().unwrap().len(), 7, "{found}");
    assert_eq!(
        store::audit::verify(&app.db, None)
            .await
            .unwrap()
            .first_bad_seq,
        None
    );
}

/// The queue's tab whose `data-view` is `key`: its link and whether it is the current one.
fn queue_tab(page: &str, key: &str) -> Option<(String, bool)> {
    let at = page.find(&format!("data-view=\"{key}\""))?;
    let start = page[..at].rfind("<a ")?;
    let tag = &page[start..at];
    let href = tag
        .split("href=\"")
        .nth(1)?
        .split('"')
        .next()?
        .replace("&amp;", "&");
    Some((href, tag.contains("aria-current=\"page\"")))
}

#[tokio::test]
async fn every_queue_tab_lists_what_its_label_says() {
    let app = TestApp::new().await;
    let (status, t) = open(
        &app,
        "member-staff",
        json!({ "subject": "Scanner on the second floor", "description": "It jams." }),
    )
    .await;
    assert_eq!(status, 201, "{t}");
    let number = format!("#{}", t["number"]);
    let page = |who: &'static str, path: String| {
        let app = &app;
        async move { html(app.page(who, Method::GET, &path).send().await.unwrap()).await }
    };
    // The desk lands on its own tickets; the new one is nobody's yet.
    let (_, mine) = page("hub-agent", "/tickets".into()).await;
    assert!(!mine.contains(&number));
    assert_eq!(queue_tab(&mine, "mine").map(|t| t.1), Some(true));
    // "All open" lists every open ticket, and says it is the tab shown.
    let (href, _) = queue_tab(&mine, "open").expect("an All open tab");
    let (status, all) = page("hub-agent", href).await;
    assert_eq!(status, 200);
    assert!(
        all.contains(&number),
        "All open lists the unassigned ticket"
    );
    assert_eq!(queue_tab(&all, "open").map(|t| t.1), Some(true));
    assert_eq!(queue_tab(&all, "mine").map(|t| t.1), Some(false));
    // Every other tab of the desk opens and is the current one when followed.
    for key in ["unassigned", "breaching"] {
        let (href, _) = queue_tab(&mine, key).expect(key);
        let (status, shown) = page("hub-agent", href).await;
        assert_eq!(status, 200);
        assert_eq!(queue_tab(&shown, key).map(|t| t.1), Some(true), "{key}");
    }
    // A member administrator's "All open" lists its member's open tickets.
    let (_, admin) = page("member-admin", "/tickets".into()).await;
    let (href, _) = queue_tab(&admin, "open").expect("a member admin's All open tab");
    let (_, admin_all) = page("member-admin", href).await;
    assert!(admin_all.contains(&number));
    // An auditor opens no tickets: no "My requests" tab, and the queue shows the open tickets at once.
    let (_, audit) = page("hub-auditor", "/tickets".into()).await;
    assert!(queue_tab(&audit, "requested").is_none());
    assert!(
        audit.contains(&number),
        "the auditor's queue lists open tickets"
    );
}
