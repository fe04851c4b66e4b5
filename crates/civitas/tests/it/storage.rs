//! The storage contract, run on whichever backend the suite is running on: migrations, backups, the audit
//! chain, the job queue.

use crate::helpers::{OWN, TestApp, fresh_database};
use reqwest::Method;
use serde_json::json;
use store::{backup, jobs};

#[test]
fn both_backends_have_the_same_migrations() {
    let (sqlite, postgres) = store::Db::migration_names();
    assert!(!sqlite.is_empty());
    assert_eq!(sqlite, postgres);
}

#[tokio::test]
async fn backups_cover_every_table() {
    let app = TestApp::new().await;
    let mut catalog = backup::catalog_tables(&app.db).await.unwrap();
    let mut listed: Vec<String> = backup::TABLES.iter().map(|t| (*t).to_owned()).collect();
    catalog.sort();
    listed.sort();
    assert_eq!(
        catalog, listed,
        "a table is missing from store::backup::TABLES"
    );
}

#[tokio::test]
async fn backup_and_restore_round_trip_every_row() {
    let app = TestApp::new().await;
    app.api(
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/sites"),
    )
    .json(&json!({ "name": "Hood School", "address": "298 Haverhill St", "kind": "school" }))
    .send()
    .await
    .unwrap();
    // Desk data too: a ticket with a reply and time; the search index is rebuilt on restore.
    let t: serde_json::Value = app
        .api("member-staff", Method::POST, "/api/v1/tickets")
        .json(&json!({ "subject": "Projector in room 4", "description": "No signal from the laptop" }))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let n = t["number"].as_i64().unwrap();
    app.api(
        "hub-agent",
        Method::POST,
        &format!("/api/v1/tickets/{n}/comments"),
    )
    .json(&json!({ "body": "Try the HDMI adapter in the drawer" }))
    .send()
    .await
    .unwrap();
    app.api("hub-agent", Method::POST, "/api/v1/time-entries")
        .json(&json!({ "ticket": n, "minutes": 20 }))
        .send()
        .await
        .unwrap();
    let mut first = Vec::new();
    let rows = backup::dump(&app.db, &mut first).await.unwrap();
    assert!(rows > 20);
    let dir = tempfile::tempdir().unwrap();
    let (restored, _) = fresh_database(&dir).await;
    assert_eq!(
        backup::restore(&restored, first.as_slice()).await.unwrap(),
        rows
    );
    let mut second = Vec::new();
    backup::dump(&restored, &mut second).await.unwrap();
    assert_eq!(
        String::from_utf8(first.clone()).unwrap(),
        String::from_utf8(second).unwrap()
    );
    assert_eq!(
        store::audit::verify(&restored).await.unwrap().first_bad_seq,
        None
    );
    let view = domain::authz::TicketView {
        all: store::Scope::Region,
        own: store::Scope::Orgs(Default::default()),
        user: app.who("hub-agent").user_id,
        internal: true,
    };
    let found = store::desk::tickets::list(
        &restored,
        &view,
        &store::desk::tickets::Filter {
            text: Some("HDMI".into()),
            ..Default::default()
        },
        &store::page::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(
        found.items.len(),
        1,
        "the search index is rebuilt, replies included"
    );
    // A second restore into the same (now full) database is refused and changes nothing.
    assert!(backup::restore(&restored, first.as_slice()).await.is_err());
}

#[tokio::test]
async fn the_audit_log_is_append_only_and_its_chain_verifies() {
    let app = TestApp::new().await;
    let v = store::audit::verify(&app.db).await.unwrap();
    assert!(v.entries > 10);
    assert_eq!(v.first_bad_seq, None);
    let url = &app.database_url;
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let tamper = sqlx::query("UPDATE audit_log SET actor = 'someone else' WHERE seq = 3")
        .execute(&pool)
        .await;
    assert!(
        tamper.is_err(),
        "the database refuses to edit the audit log"
    );
    let delete = sqlx::query("DELETE FROM audit_log WHERE seq = 3")
        .execute(&pool)
        .await;
    assert!(
        delete.is_err(),
        "the database refuses to delete from the audit log"
    );
}

#[tokio::test]
async fn a_tampered_chain_is_detected() {
    let app = TestApp::new().await;
    let url = &app.database_url;
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    // Someone with database access drops the guard and edits an entry: verify must notice.
    let drop = if url.starts_with("sqlite") {
        "DROP TRIGGER audit_log_no_update"
    } else {
        "DROP TRIGGER audit_log_no_change ON audit_log"
    };
    sqlx::query(drop).execute(&pool).await.unwrap();
    sqlx::query("UPDATE audit_log SET actor = 'someone else' WHERE seq = 4")
        .execute(&pool)
        .await
        .unwrap();
    let v = store::audit::verify(&app.db).await.unwrap();
    assert_eq!(v.first_bad_seq, Some(4));
}

#[tokio::test]
async fn jobs_run_once_per_key_and_retry_with_backoff() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(&dir).await;
    let now = store::now_ms();
    assert!(
        jobs::enqueue(&db, "demo.job", &json!({ "n": 1 }), now - 1, Some("demo:1"))
            .await
            .unwrap()
    );
    assert!(
        !jobs::enqueue(&db, "demo.job", &json!({ "n": 1 }), now - 1, Some("demo:1"))
            .await
            .unwrap(),
        "same key, same job"
    );
    let job = jobs::claim(&db, "w1", 60_000)
        .await
        .unwrap()
        .expect("a due job");
    assert_eq!(job.attempts, 1);
    assert!(
        jobs::claim(&db, "w2", 60_000).await.unwrap().is_none(),
        "a claimed job is not handed out twice"
    );
    jobs::fail(&db, &job, "boom").await.unwrap();
    assert!(
        jobs::claim(&db, "w2", 60_000).await.unwrap().is_none(),
        "a failed job waits out its back-off"
    );
    let listed = jobs::list(&db, Some("queued"), 10).await.unwrap();
    assert_eq!(listed[0].last_error.as_deref(), Some("boom"));
    assert!(listed[0].run_at > now);
}

#[tokio::test]
async fn concurrent_workers_never_claim_the_same_job() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(&dir).await;
    let now = store::now_ms();
    for i in 0..40 {
        jobs::enqueue(&db, "demo.job", &json!({ "i": i }), now - 1, None)
            .await
            .unwrap();
    }
    let mut handles = Vec::new();
    for w in 0..4 {
        let db = db.clone();
        handles.push(tokio::spawn(async move {
            let mut got = Vec::new();
            while let Some(j) = jobs::claim(&db, &format!("w{w}"), 60_000).await.unwrap() {
                got.push(j.id.clone());
                jobs::complete(&db, &j.id).await.unwrap();
            }
            got
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.unwrap());
    }
    let unique: std::collections::HashSet<_> = all.iter().collect();
    assert_eq!(all.len(), 40);
    assert_eq!(unique.len(), 40);
}
