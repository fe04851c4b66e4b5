//! The isolation matrix, continued: after the hub links records across members — a relationship from a
//! member's item to another member's, a hub item related and linked to another member's records, a ticket
//! link between members, internal and other-member articles on a ticket — nothing a member can fetch
//! (history, the audit log as JSON and CSV, the ticket and item pages, lists and exports) contains a name,
//! title or number of the other member's records. And every change to a ticket is its own audit entry.

use crate::helpers::{OTHER, OWN, TestApp, call, get, send};
use reqwest::Method;
use serde_json::{Value, json};

/// Distinctive strings of the other member's records (and of the hub's internal article).
const OTHER_CI: &str = "Stoneham police CJIS db ZQX";
const OTHER_SUBJECT: &str = "Stoneham jail camera offline QZV";
const OTHER_NUMBER: i64 = 987_651;
const INTERNAL_ARTICLE: &str = "Internal runbook ZKW";
const OTHER_ARTICLE: &str = "Stoneham-only article QJX";

async fn created(app: &TestApp, who: &str, path: &str, body: Value) -> Value {
    let (s, v) = send(app, who, Method::POST, path, body).await;
    assert!(s == 201 || s == 200 || s == 204, "{path}: {s} {v}");
    v
}

async fn ticket(app: &TestApp, who: &str, subject: &str) -> Value {
    created(
        app,
        who,
        "/api/v1/tickets",
        json!({ "subject": subject, "description": "details", "impact": "medium", "urgency": "medium" }),
    )
    .await
}

async fn body_of(res: reqwest::Response) -> (u16, String) {
    let s = res.status().as_u16();
    (s, res.text().await.unwrap())
}

/// The records the hub links across members.
struct Linked {
    /// North-reading's item, related to stoneham's.
    nr_ci: String,
    /// The hub's item, related to stoneham's and linked to its ticket and to north-reading's.
    hub_ci: String,
    other_ci: String,
    /// North-reading's ticket, linked to two of stoneham's, with an internal and a stoneham article.
    nr: i64,
    internal_article: String,
    /// The ids of the other member's records and of the articles north-reading cannot read.
    hidden_ids: Vec<String>,
}

/// A connection of the test's own to its database, for what the API cannot do.
async fn pool(app: &TestApp) -> sqlx::AnyPool {
    sqlx::AnyPool::connect(&app.database_url).await.unwrap()
}

async fn linked_region(app: &TestApp) -> Linked {
    let nr_ci = created(
        app,
        "member-admin",
        "/api/v1/cis",
        json!({ "type": "network_device", "name": "nr-firewall" }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let other_ci = created(
        app,
        "other-admin",
        "/api/v1/cis",
        json!({ "type": "database", "name": OTHER_CI }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let hub_ci = created(
        app,
        "hub-admin",
        "/api/v1/cis",
        json!({ "type": "server", "name": "esx-01" }),
    )
    .await["id"]
        .as_str()
        .unwrap()
        .to_owned();
    // The hub relates north-reading's item, and its own, to stoneham's.
    for from in [&nr_ci, &hub_ci] {
        created(
            app,
            "hub-agent",
            &format!("/api/v1/cis/{from}/relations"),
            json!({ "kind": "connected_to", "to_ci": other_ci }),
        )
        .await;
    }
    // Stoneham's ticket gets a distinctive number; north-reading's staff opens one after it.
    sqlx::query("UPDATE counters SET value = $1 WHERE name = 'ticket'")
        .bind(OTHER_NUMBER - 1)
        .execute(&pool(app).await)
        .await
        .unwrap();
    let other_t = ticket(app, "other-admin", OTHER_SUBJECT).await;
    assert_eq!(other_t["number"], OTHER_NUMBER);
    let nr_t = ticket(app, "member-staff", "Our firewall drops VPN").await;
    let nr = nr_t["number"].as_i64().unwrap();
    // Ticket links both ways, the hub's item linked to stoneham's ticket and to ours.
    created(
        app,
        "hub-agent",
        &format!("/api/v1/tickets/{nr}/links"),
        json!({ "other": OTHER_NUMBER }),
    )
    .await;
    let third_t = ticket(app, "other-admin", "Stoneham second ticket QZV").await;
    let third = third_t["number"].as_i64().unwrap();
    created(
        app,
        "hub-agent",
        &format!("/api/v1/tickets/{third}/links"),
        json!({ "other": nr }),
    )
    .await;
    for n in [OTHER_NUMBER, nr] {
        created(
            app,
            "hub-agent",
            &format!("/api/v1/tickets/{n}/cis"),
            json!({ "ci_id": hub_ci }),
        )
        .await;
    }
    // Internal and stoneham-only articles linked to north-reading's ticket.
    let mut articles = Vec::new();
    for body in [
        json!({ "title": INTERNAL_ARTICLE, "body": "internal steps", "status": "published", "visibility": "internal" }),
        json!({ "title": OTHER_ARTICLE, "body": "theirs", "status": "published", "visibility": "member", "org": OTHER }),
    ] {
        let a = created(app, "hub-agent", "/api/v1/articles", body).await;
        created(
            app,
            "hub-agent",
            &format!("/api/v1/tickets/{nr}/articles"),
            json!({ "article": a["id"] }),
        )
        .await;
        articles.push(a["id"].as_str().unwrap().to_owned());
    }
    let mut hidden_ids = vec![
        other_ci.clone(),
        other_t["id"].as_str().unwrap().to_owned(),
        third_t["id"].as_str().unwrap().to_owned(),
    ];
    hidden_ids.extend(articles.iter().cloned());
    Linked {
        nr_ci,
        hub_ci,
        other_ci,
        nr,
        internal_article: articles.swap_remove(0),
        hidden_ids,
    }
}

#[tokio::test]
async fn nothing_a_member_fetches_names_another_members_records_linked_by_the_hub() {
    let app = TestApp::new().await;
    let Linked {
        nr_ci,
        hub_ci,
        nr,
        hidden_ids,
        ..
    } = linked_region(&app).await;
    let paths = [
        format!("/api/v1/cis/{nr_ci}/history"),
        format!("/api/v1/cis/{hub_ci}/history"),
        format!("/api/v1/cis/{nr_ci}"),
        format!("/api/v1/cis/{nr_ci}/relations"),
        format!("/api/v1/cis/{hub_ci}/relations"),
        format!("/api/v1/cis/{hub_ci}/impact"),
        "/api/v1/cis".to_owned(),
        "/api/v1/cis/export".to_owned(),
        format!("/api/v1/tickets/{nr}"),
        format!("/api/v1/tickets/{nr}/comments"),
        format!("/api/v1/tickets/{nr}/links"),
        format!("/api/v1/tickets/{nr}/articles"),
        format!("/api/v1/tickets/{nr}/cis"),
        "/api/v1/tickets".to_owned(),
        "/api/v1/articles".to_owned(),
        "/api/v1/audit?limit=200".to_owned(),
        format!("/cmdb/{nr_ci}"),
        format!("/cmdb/{hub_ci}"),
        "/cmdb/export".to_owned(),
        format!("/tickets/{nr}"),
        "/tickets?format=csv".to_owned(),
        "/kb".to_owned(),
        "/audit".to_owned(),
        "/audit?format=csv".to_owned(),
    ];
    let mut secrets = hidden_ids;
    secrets.extend([
        OTHER_CI.to_owned(),
        "ZQX".to_owned(),
        OTHER_SUBJECT.to_owned(),
        "QZV".to_owned(),
        OTHER_NUMBER.to_string(),
        INTERNAL_ARTICLE.to_owned(),
        "ZKW".to_owned(),
        OTHER_ARTICLE.to_owned(),
        "QJX".to_owned(),
    ]);
    let mut fetched = 0;
    for who in ["member-admin", "member-staff", "member-auditor"] {
        for path in &paths {
            let req = if path.starts_with("/api/") {
                app.api(who, Method::GET, path)
            } else {
                app.page(who, Method::GET, path)
            };
            let (status, body) = body_of(req.send().await.unwrap()).await;
            assert!(status < 500, "{who} {path}: {status}");
            if status != 200 {
                continue;
            }
            fetched += 1;
            for s in &secrets {
                assert!(
                    !body.contains(s.as_str()),
                    "{who} {path} carries {s:?}:\n{body}"
                );
            }
        }
    }
    assert!(fetched > 50, "only {fetched} answers were read");
    // The member reads that links exist, in the documented words.
    let (_, h) = get(
        &app,
        "member-admin",
        &format!("/api/v1/cis/{nr_ci}/history"),
    )
    .await;
    assert_eq!(
        h["items"][0]["summary"], "nr-firewall is connected to an item of another organisation",
        "{h}"
    );
    let (_, h) = get(
        &app,
        "member-admin",
        &format!("/api/v1/cis/{hub_ci}/history"),
    )
    .await;
    let summaries: Vec<&str> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["summary"].as_str().unwrap())
        .collect();
    assert!(
        summaries.contains(&"Linked to a ticket of another organisation")
            && summaries.contains(&"esx-01 is connected to an item of another organisation")
            && summaries
                .iter()
                .any(|s| s.starts_with(&format!("Linked to ticket #{nr}: "))),
        "{summaries:?}"
    );
    let (_, h) = get(
        &app,
        "member-admin",
        &format!("/api/v1/tickets/{nr}/comments"),
    )
    .await;
    let links: Vec<&Value> = h["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| {
            e["data"]
                .get("link")
                .or_else(|| e["data"].get("linked_from"))
        })
        .collect();
    assert_eq!(
        links,
        [
            &json!(["related", "a ticket of another organisation"]),
            &json!(["related", "a ticket of another organisation"])
        ]
    );
    // The articles' entries are listed, by id only.
    let (_, audit) = get(
        &app,
        "member-auditor",
        "/api/v1/audit?action=ticket.article",
    )
    .await;
    let linked: Vec<&Value> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| &e["after"])
        .collect();
    assert_eq!(linked.len(), 2, "{audit}");
    assert!(
        linked
            .iter()
            .all(|a| a["article"].is_string() && a.get("title").is_none())
    );
    // The hub reads every name.
    let (_, h) = get(&app, "hub-auditor", &format!("/api/v1/cis/{nr_ci}/history")).await;
    assert_eq!(
        h["items"][0]["summary"],
        format!("nr-firewall is connected to {OTHER_CI}")
    );
    let (_, h) = get(&app, "hub-agent", &format!("/api/v1/tickets/{nr}/comments")).await;
    assert!(
        h.to_string()
            .contains(&format!("[\"related\",{OTHER_NUMBER}]")),
        "{h}"
    );
    let (_, h) = get(&app, "hub-admin", &format!("/api/v1/cis/{hub_ci}/history")).await;
    assert!(
        h.to_string().contains(&format!(
            "Linked to ticket #{OTHER_NUMBER}: {OTHER_SUBJECT}"
        )),
        "{h}"
    );
}

/// Entries written before names were left out (as in existing databases) are served without them.
#[tokio::test]
async fn old_entries_that_carry_names_are_served_without_them() {
    let app = TestApp::new().await;
    let Linked {
        nr_ci,
        other_ci,
        nr,
        internal_article: internal,
        ..
    } = linked_region(&app).await;
    let (_, t) = get(&app, "hub-admin", &format!("/api/v1/tickets/{nr}")).await;
    let ticket_id = t["id"].as_str().unwrap().to_owned();
    // What the earlier code wrote: names in the audit entries and the summary, numbers in the history.
    let actor = store::audit::Actor::system("test");
    let pool = pool(&app).await;
    let mut tx = pool.begin().await.unwrap();
    let relation = json!({ "id": "r1", "from_ci": nr_ci, "from_name": "nr-firewall",
                           "to_ci": other_ci, "to_name": OTHER_CI, "kind": "connected_to" });
    for (action, entity, after) in [
        ("ci.relate", ("ci", nr_ci.clone()), relation.clone()),
        (
            "ticket.article",
            ("ticket", ticket_id.clone()),
            json!({ "article": internal, "title": INTERNAL_ARTICLE }),
        ),
    ] {
        store::audit::append(
            &mut tx,
            &actor,
            store::audit::Change {
                org_id: Some(app.orgs[OWN]),
                action,
                entity_kind: entity.0,
                entity_id: entity.1,
                before: None,
                after: Some(after),
            },
        )
        .await
        .unwrap();
    }
    sqlx::query("INSERT INTO ci_events (id, ci_id, at, actor_name, summary, before, after) VALUES ('e1', $1, 1, 'old', $2, NULL, $3)")
        .bind(&nr_ci)
        .bind(format!("nr-firewall is connected to {OTHER_CI}"))
        .bind(relation.to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    sqlx::query("INSERT INTO ticket_events (id, ticket_id, org_id, at, actor_id, actor_name, kind, public, body, data) VALUES ($1, $2, $3, 1, NULL, 'old', 'change', 1, NULL, $4)")
        .bind(domain::ids::TicketEventId::new().to_string())
        .bind(&ticket_id)
        .bind(app.orgs[OWN].to_string())
        .bind(json!({ "link": ["related", OTHER_NUMBER] }).to_string())
        .execute(&mut *tx)
        .await
        .unwrap();
    tx.commit().await.unwrap();
    for (who, path) in [
        ("member-admin", "/api/v1/audit?limit=200".to_owned()),
        ("member-auditor", "/api/v1/audit?limit=200".to_owned()),
        ("member-admin", format!("/api/v1/cis/{nr_ci}/history")),
        ("member-staff", format!("/api/v1/tickets/{nr}/comments")),
        ("member-admin", format!("/tickets/{nr}")),
        ("member-admin", format!("/cmdb/{nr_ci}")),
    ] {
        let req = if path.starts_with("/api/") {
            app.api(who, Method::GET, &path)
        } else {
            app.page(who, Method::GET, &path)
        };
        let (status, body) = body_of(req.send().await.unwrap()).await;
        assert_eq!(status, 200, "{path}");
        for s in [OTHER_CI, INTERNAL_ARTICLE, &OTHER_NUMBER.to_string()] {
            assert!(!body.contains(s), "{who} {path} carries {s:?}:\n{body}");
        }
    }
    let (_, audit) = get(&app, "member-admin", "/api/v1/audit?action=ci.relate").await;
    let old = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["after"]["to_name"].is_string())
        .unwrap();
    assert_eq!(old["after"]["to_name"], "an item of another organisation");
    assert_eq!(old["after"]["from_name"], "nr-firewall");
    // The region's readers read the entry as written.
    let (_, audit) = get(&app, "hub-auditor", "/api/v1/audit?action=ci.relate").await;
    assert!(audit.to_string().contains(OTHER_CI));
}

#[tokio::test]
async fn every_change_to_a_ticket_is_its_own_audit_entry() {
    let app = TestApp::new().await;
    let t = ticket(&app, "member-staff", "Scanner offline").await;
    let (n, id) = (
        t["number"].as_i64().unwrap(),
        t["id"].as_str().unwrap().to_owned(),
    );
    let other = ticket(&app, "member-admin", "Scanner driver").await["number"]
        .as_i64()
        .unwrap();
    let path = |p: &str| format!("/api/v1/tickets/{n}{p}");
    created(
        &app,
        "member-staff",
        &path("/comments"),
        json!({ "body": "Still broken" }),
    )
    .await;
    created(
        &app,
        "hub-agent",
        &path("/comments"),
        json!({ "body": "Driver issue, checking", "internal": true }),
    )
    .await;
    created(
        &app,
        "hub-agent",
        &path("/watchers"),
        json!({ "email": "colleague@north-reading.example.gov" }),
    )
    .await;
    created(
        &app,
        "hub-agent",
        &path("/links"),
        json!({ "other": other }),
    )
    .await;
    let agent = app.who("hub-agent").user_id.to_string();
    let (s, v) = send(
        &app,
        "hub-agent",
        Method::PATCH,
        &path(""),
        json!({ "status": "in_progress", "assignee_id": agent }),
    )
    .await;
    assert_eq!(s, 200, "{v}");
    let actions = |audit: &Value| -> Vec<String> {
        let mut a: Vec<String> = audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .map(|e| e["action"].as_str().unwrap().to_owned())
            .collect();
        a.sort();
        a
    };
    let (_, audit) = get(
        &app,
        "hub-auditor",
        &format!("/api/v1/audit?entity_id={id}"),
    )
    .await;
    assert_eq!(
        actions(&audit),
        [
            "ticket.assign",
            "ticket.link",
            "ticket.note",
            "ticket.open",
            "ticket.reply",
            "ticket.status",
            "ticket.watcher_add"
        ],
        "{audit}"
    );
    // Each entry says what changed, and no entry carries the text of a reply or a note.
    let entry = |action: &str| {
        audit["items"]
            .as_array()
            .unwrap()
            .iter()
            .find(|e| e["action"] == action)
            .unwrap()
            .clone()
    };
    assert_eq!(entry("ticket.status")["after"]["status"], "in_progress");
    assert_eq!(entry("ticket.assign")["after"]["assignee_id"], agent);
    assert_eq!(entry("ticket.link")["after"]["relation"], "related");
    assert!(!audit.to_string().contains("Driver issue"));
    // The member's auditor reads every entry but the internal note's.
    let (_, audit) = get(
        &app,
        "member-auditor",
        &format!("/api/v1/audit?entity_id={id}"),
    )
    .await;
    let seen = actions(&audit);
    assert!(!seen.contains(&"ticket.note".to_owned()), "{seen:?}");
    assert!(seen.contains(&"ticket.reply".to_owned()), "{seen:?}");
    let (_, audit) = get(&app, "member-admin", "/api/v1/audit?action=ticket.note").await;
    assert_eq!(audit["items"], json!([]));
    // The other side of the link has its own entry.
    let (_, o) = get(&app, "hub-admin", &format!("/api/v1/tickets/{other}")).await;
    let (_, audit) = get(
        &app,
        "hub-admin",
        &format!("/api/v1/audit?entity_id={}", o["id"].as_str().unwrap()),
    )
    .await;
    assert!(
        actions(&audit).contains(&"ticket.link".to_owned()),
        "{audit}"
    );
    // Removing the watcher is one more.
    let colleague = app.who("colleague").user_id;
    let (s, _) = call(
        &app,
        "hub-agent",
        Method::DELETE,
        &format!("/api/v1/tickets/{n}/watchers/{colleague}"),
    )
    .await;
    assert_eq!(s, 204);
    let (_, audit) = get(
        &app,
        "hub-admin",
        "/api/v1/audit?action=ticket.watcher_remove",
    )
    .await;
    assert_eq!(audit["items"].as_array().unwrap().len(), 1);
}
