//! The storage contract, run on whichever backend the suite is running on: migrations, backups, the audit
//! chain, the job queue.

use crate::helpers::{OWN, TestApp, fresh_database};
use reqwest::Method;
use serde_json::json;
use sqlx::Row;
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
        store::audit::verify(&restored, None)
            .await
            .unwrap()
            .first_bad_seq,
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
    let v = store::audit::verify(&app.db, None).await.unwrap();
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

/// Someone with database access (not the audit key) drops the guard triggers, as an attacker would.
async fn tamperer(app: &TestApp) -> sqlx::AnyPool {
    let url = &app.database_url;
    let pool = sqlx::AnyPool::connect(url).await.unwrap();
    let drops: &[&str] = if url.starts_with("sqlite") {
        &[
            "DROP TRIGGER audit_log_no_update",
            "DROP TRIGGER audit_log_no_delete",
        ]
    } else {
        &["DROP TRIGGER audit_log_no_change ON audit_log"]
    };
    for d in drops {
        sqlx::query(d).execute(&pool).await.unwrap();
    }
    pool
}

async fn run(pool: &sqlx::AnyPool, sql: &str) {
    sqlx::query(sql).execute(pool).await.unwrap();
}

async fn head_of(pool: &sqlx::AnyPool) -> (i64, String) {
    let r = sqlx::query("SELECT seq, hash FROM audit_head")
        .fetch_one(pool)
        .await
        .unwrap();
    (r.get("seq"), r.get("hash"))
}

/// Recomputes every hash from the first entry with `rule` (given the previous hash and the entry's
/// fields) and points the head at the result, as someone rewriting history would.
async fn rechain(
    pool: &sqlx::AnyPool,
    rule: impl Fn(&str, &domain::audit::ChainedFields<'_>) -> String,
) {
    let rows = sqlx::query(
        "SELECT seq, at, org_id, actor_user_id, actor, action, entity_kind, entity_id, before_json, \
         after_json FROM audit_log ORDER BY seq",
    )
    .fetch_all(pool)
    .await
    .unwrap();
    let mut prev = domain::audit::GENESIS_HASH.to_owned();
    for r in &rows {
        let text = |c: &str| r.get::<Option<String>, _>(c);
        let (org, user, before, after) = (
            text("org_id"),
            text("actor_user_id"),
            text("before_json"),
            text("after_json"),
        );
        let (actor, action, kind, id): (String, String, String, String) = (
            r.get("actor"),
            r.get("action"),
            r.get("entity_kind"),
            r.get("entity_id"),
        );
        let seq: i64 = r.get("seq");
        let hash = rule(
            &prev,
            &domain::audit::ChainedFields {
                seq,
                at_ms: r.get("at"),
                org_id: org.as_deref(),
                actor_user_id: user.as_deref(),
                actor: &actor,
                action: &action,
                entity_kind: &kind,
                entity_id: &id,
                before: before.as_deref(),
                after: after.as_deref(),
            },
        );
        sqlx::query("UPDATE audit_log SET prev_hash = $1, hash = $2 WHERE seq = $3")
            .bind(prev.clone())
            .bind(hash.clone())
            .bind(seq)
            .execute(pool)
            .await
            .unwrap();
        prev = hash;
    }
    sqlx::query("UPDATE audit_head SET hash = $1")
        .bind(prev)
        .execute(pool)
        .await
        .unwrap();
}

/// `verify` fails, first at `seq` (`None`: no entry is wrong, only the head), with a problem that says
/// `what`.
async fn assert_caught(app: &TestApp, case: &str, seq: impl Into<Option<i64>>, what: &str) {
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(!v.intact(), "{case}: tampering went unnoticed: {v:?}");
    assert_eq!(v.first_bad_seq, seq.into(), "{case}: {v:?}");
    assert!(
        v.problems.iter().any(|p| p.contains(what)),
        "{case}: the problems say {what:?}: {:?}",
        v.problems
    );
}

#[tokio::test]
async fn a_clean_log_verifies_and_reports_its_head() {
    let app = TestApp::new().await;
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(v.intact(), "{v:?}");
    assert!(v.entries > 20);
    assert_eq!(v.legacy_entries, 0, "a new database has only keyed entries");
    assert_eq!(v.head.count, v.entries);
    assert_eq!(v.head, store::audit::head(&app.db).await.unwrap());
    // An outside record of this head still matches after more changes.
    let record = v.head.clone();
    let (s, body) = crate::helpers::send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/orgs/north-reading/departments",
        json!({ "name": "Parks" }),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let later = store::audit::verify(&app.db, Some(&record)).await.unwrap();
    assert!(later.intact(), "{later:?}");
    assert!(later.head.count > record.count);
    // A record that the log no longer passes through is reported.
    let forged = domain::audit::Checkpoint {
        hash: "ab".repeat(32),
        count: record.count,
    };
    let v = store::audit::verify(&app.db, Some(&forged)).await.unwrap();
    assert!(!v.intact());
    assert_eq!(v.first_bad_seq, Some(record.count));
    assert!(v.problems[0].contains("outside record"), "{:?}", v.problems);
}

#[tokio::test]
async fn deleting_the_last_entries_is_detected_with_or_without_rewinding_the_head() {
    let app = TestApp::new().await;
    let pool = tamperer(&app).await;
    let (n, _) = head_of(&pool).await;
    assert!(n > 20);
    let record = store::audit::head(&app.db).await.unwrap();
    run(
        &pool,
        &format!("DELETE FROM audit_log WHERE seq > {}", n - 10),
    )
    .await;
    assert_caught(
        &app,
        "last 10 deleted",
        n - 9,
        &format!("entries {} to {n} were removed", n - 9),
    )
    .await;
    // Rewinding the head to the new last entry: the head's seal no longer matches.
    let last: String = sqlx::query("SELECT hash FROM audit_log WHERE seq = $1")
        .bind(n - 10)
        .fetch_one(&pool)
        .await
        .unwrap()
        .get("hash");
    sqlx::query("UPDATE audit_head SET seq = $1, hash = $2")
        .bind(n - 10)
        .bind(last)
        .execute(&pool)
        .await
        .unwrap();
    // Every entry left checks out: the verdict names no entry, only the head's seal.
    assert_caught(
        &app,
        "head rewound",
        None,
        "the seal of the audit head does not match",
    )
    .await;
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert_eq!(v.head_seal, store::audit::HeadSeal::Differs);
    let verdict = v.summary();
    assert!(
        verdict.contains("the seal of the audit head does not match")
            && verdict.contains("the head was altered")
            && verdict.contains("audit key is not this installation's")
            && !verdict.contains("entry "),
        "{verdict}"
    );
    // Even with the seal removed, and against an outside record taken before.
    run(&pool, "UPDATE audit_head SET mac = NULL").await;
    assert_caught(&app, "seal removed", None, "not sealed").await;
    let verdict = store::audit::verify(&app.db, None).await.unwrap().summary();
    assert!(
        verdict.contains("carries no seal") && !verdict.contains("entry "),
        "{verdict}"
    );
    let v = store::audit::verify(&app.db, Some(&record)).await.unwrap();
    assert!(
        v.problems
            .iter()
            .any(|p| p.contains(&format!("names {n} entries"))),
        "{:?}",
        v.problems
    );
}

#[tokio::test]
async fn emptying_the_log_is_detected() {
    let app = TestApp::new().await;
    let pool = tamperer(&app).await;
    let (n, _) = head_of(&pool).await;
    run(&pool, "DELETE FROM audit_log").await;
    assert_caught(
        &app,
        "table emptied",
        1,
        &format!("entries 1 to {n} were removed"),
    )
    .await;
    // And with the head put back to the start, as on a new database.
    sqlx::query("UPDATE audit_head SET seq = 0, hash = $1")
        .bind(domain::audit::GENESIS_HASH)
        .execute(&pool)
        .await
        .unwrap();
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(!v.intact(), "{v:?}");
    assert!(v.problems[0].contains("seal"), "{:?}", v.problems);
}

#[tokio::test]
async fn changing_any_column_is_detected_where_it_happened() {
    for (column, value) in [
        ("actor_user_id", "'00000000-0000-7000-8000-000000000000'"),
        ("actor", "'someone else'"),
        ("org_id", "'another-org'"),
        ("after_json", "'{}'"),
        ("at", "1"),
    ] {
        let app = TestApp::new().await;
        let pool = tamperer(&app).await;
        run(
            &pool,
            &format!("UPDATE audit_log SET {column} = {value} WHERE seq = 4"),
        )
        .await;
        assert_caught(&app, column, 4, "entry 4").await;
    }
}

#[tokio::test]
async fn a_chain_recomputed_without_the_key_is_detected() {
    // Plain SHA-256 (the old rule) over an edited entry, head moved to the new last hash.
    let app = TestApp::new().await;
    let pool = tamperer(&app).await;
    run(
        &pool,
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5",
    )
    .await;
    rechain(&pool, domain::audit::entry_hash_v1).await;
    assert_caught(
        &app,
        "sha-256 rechain",
        1,
        "recomputed without the audit key",
    )
    .await;
    // The keyed rule with a guessed key, head sealed with it too.
    let app = TestApp::new().await;
    let pool = tamperer(&app).await;
    let guess = domain::audit::AuditKey::parse(&"g".repeat(64)).unwrap();
    run(
        &pool,
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5",
    )
    .await;
    rechain(&pool, |p, f| domain::audit::entry_hash(&guess, p, f)).await;
    let (n, h) = head_of(&pool).await;
    sqlx::query("UPDATE audit_head SET mac = $1")
        .bind(domain::audit::head_mac(&guess, n, &h, 0))
        .execute(&pool)
        .await
        .unwrap();
    assert_caught(&app, "guessed key", 1, "recomputed without the audit key").await;
    // Passing every entry off as a legacy one (version 1, which anyone can compute).
    let app = TestApp::new().await;
    let pool = tamperer(&app).await;
    run(
        &pool,
        "UPDATE audit_log SET actor = 'someone else' WHERE seq = 5",
    )
    .await;
    run(&pool, "UPDATE audit_head SET legacy_seq = seq").await;
    rechain(&pool, domain::audit::entry_hash_v1).await;
    assert_caught(
        &app,
        "downgrade",
        None,
        "the seal of the audit head does not match",
    )
    .await;
}

#[tokio::test]
async fn upgrading_a_database_keeps_old_entries_under_the_old_rule_and_seals_the_head() {
    // A database as the code before migration 0014 left it: version-1 hashes, no legacy_seq, no seal.
    let app = TestApp::new().await;
    let pool = tamperer(&app).await;
    rechain(&pool, domain::audit::entry_hash_v1).await;
    run(&pool, "DELETE FROM _sqlx_migrations WHERE version = 14").await;
    run(&pool, "ALTER TABLE audit_head DROP COLUMN legacy_seq").await;
    run(&pool, "ALTER TABLE audit_head DROP COLUMN mac").await;
    let (n, _) = head_of(&pool).await;
    // The upgrade: the migration marks where the old rule ends, the binary seals the head at once.
    app.db.migrate().await.unwrap();
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(v.intact(), "{v:?}");
    assert_eq!((v.entries, v.legacy_entries), (n, n));
    // New entries are keyed; a later start does not seal again (so a removed seal stays removed).
    let (s, body) = crate::helpers::send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/orgs/north-reading/departments",
        json!({ "name": "Parks" }),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(
        v.intact() && v.entries > n && v.legacy_entries == n,
        "{v:?}"
    );
    run(&pool, "UPDATE audit_head SET mac = NULL").await;
    app.db.migrate().await.unwrap();
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(!v.intact() && v.problems[0].contains("not sealed"), "{v:?}");
}

#[tokio::test]
async fn entries_from_before_the_key_are_checked_with_the_old_rule_and_counted() {
    // A database upgraded with entries written before the audit key: they carry the version-1 hash, the
    // migration recorded where they end, and the upgrade sealed the head.
    let app = TestApp::new().await;
    let pool = tamperer(&app).await;
    rechain(&pool, domain::audit::entry_hash_v1).await;
    let (n, h) = head_of(&pool).await;
    let key = domain::audit::AuditKey::parse(crate::helpers::AUDIT_KEY).unwrap();
    sqlx::query("UPDATE audit_head SET legacy_seq = seq, mac = $1")
        .bind(domain::audit::head_mac(&key, n, &h, n))
        .execute(&pool)
        .await
        .unwrap();
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(v.intact(), "{v:?}");
    assert_eq!(v.legacy_entries, n);
    // New entries are keyed and chain after the legacy ones.
    let (s, body) = crate::helpers::send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/orgs/north-reading/departments",
        json!({ "name": "Parks" }),
    )
    .await;
    assert_eq!(s, 201, "{body}");
    let v = store::audit::verify(&app.db, None).await.unwrap();
    assert!(v.intact(), "{v:?}");
    assert_eq!(v.legacy_entries, n);
    assert!(v.entries > n);
    // A legacy entry changed is still caught by the old rule.
    run(
        &pool,
        "UPDATE audit_log SET action = 'org.nothing' WHERE seq = 2",
    )
    .await;
    assert_caught(&app, "legacy edit", 2, "entry 2 (org.nothing").await;
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

#[tokio::test]
async fn a_claim_takes_a_batch_oldest_first_and_the_next_marks_it_done() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(&dir).await;
    let now = store::now_ms();
    for i in 0..10_i64 {
        jobs::enqueue(&db, "demo.job", &json!({ "i": i }), now - 100 + i, None)
            .await
            .unwrap();
    }
    // One not yet due.
    jobs::enqueue(&db, "demo.later", &json!({}), now + 3_600_000, None)
        .await
        .unwrap();
    let batch = jobs::cycle(&db, &[], "w1", 60_000, 4, true).await.unwrap();
    let order: Vec<i64> = batch
        .iter()
        .map(|j| j.payload["i"].as_i64().unwrap())
        .collect();
    assert_eq!(order, vec![0, 1, 2, 3], "the oldest four, oldest first");
    let stats = jobs::stats(&db, store::now_ms()).await.unwrap();
    assert_eq!(stats.running, 4);
    assert_eq!(stats.due_total(), 6, "the job due in an hour is not due");
    assert!(stats.oldest_due_age_ms(store::now_ms()) >= 96);
    // The next claim marks the first batch done in the same transaction.
    let ids: Vec<String> = batch.iter().map(|j| j.id.clone()).collect();
    let rest = jobs::cycle(&db, &ids, "w1", 60_000, 100, false)
        .await
        .unwrap();
    assert_eq!(rest.len(), 6);
    assert_eq!(jobs::list(&db, Some("done"), 100).await.unwrap().len(), 4);
    let stats = jobs::stats(&db, store::now_ms()).await.unwrap();
    assert_eq!((stats.due_total(), stats.running), (0, 6));
}

#[tokio::test]
async fn a_lease_that_ran_out_is_taken_back_by_another_worker() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(&dir).await;
    jobs::enqueue(&db, "demo.job", &json!({}), store::now_ms() - 1, None)
        .await
        .unwrap();
    // A worker claims it with a lease that is over at once, then dies.
    let first = jobs::cycle(&db, &[], "dead", -1, 10, false).await.unwrap();
    assert_eq!(first.len(), 1);
    assert!(
        jobs::cycle(&db, &[], "w2", 60_000, 10, false)
            .await
            .unwrap()
            .is_empty(),
        "a leased job is not due"
    );
    let again = jobs::cycle(&db, &[], "w2", 60_000, 10, true).await.unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first[0].id);
    assert_eq!(again[0].attempts, 2);
}

#[tokio::test]
async fn finished_jobs_are_purged_after_the_retention_and_nothing_else() {
    let dir = tempfile::tempdir().unwrap();
    let (db, _) = fresh_database(&dir).await;
    let now = store::now_ms();
    for i in 0..3 {
        jobs::enqueue(&db, "demo.job", &json!({ "i": i }), now - 1, None)
            .await
            .unwrap();
    }
    let batch = jobs::cycle(&db, &[], "w", 60_000, 2, false).await.unwrap();
    let ids: Vec<String> = batch.iter().map(|j| j.id.clone()).collect();
    jobs::cycle(&db, &ids, "w", 60_000, 0, false).await.unwrap();
    // Retention not yet over: nothing goes.
    assert_eq!(jobs::purge(&db, now - 60_000).await.unwrap(), 0);
    // Over (a cut-off after they finished): the two finished jobs go, the queued one stays.
    tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    assert_eq!(jobs::purge(&db, store::now_ms()).await.unwrap(), 2);
    assert_eq!(jobs::list(&db, None, 10).await.unwrap().len(), 1);
    assert_eq!(jobs::list(&db, Some("queued"), 10).await.unwrap().len(), 1);
}

/// The claim reads one index range on SQLite whatever the queue's length: no scan of the table and no
/// sort of every due job (the old claim sorted them all, 12 ms a claim at 80,000 queued).
#[tokio::test]
async fn a_claim_reads_an_index_range_without_sorting() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = fresh_database(&dir).await;
    if !url.starts_with("sqlite:") {
        return; // The plan below is SQLite's; PostgreSQL's planner is checked by the same queries' results.
    }
    let plan = |sql: &'static str| {
        let db = db.clone();
        async move {
            let rows = sqlx::query(sql).fetch_all(db.read_pool()).await.unwrap();
            rows.iter()
                .map(|r| sqlx::Row::try_get::<String, _>(r, "detail").unwrap())
                .collect::<Vec<_>>()
                .join("; ")
        }
    };
    for (sql, index) in [
        (
            "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE status = 'queued' AND run_at <= 1 ORDER BY run_at LIMIT 64",
            "USING INDEX jobs_queued",
        ),
        (
            "EXPLAIN QUERY PLAN SELECT id FROM jobs WHERE status = 'running' AND locked_until < 1 ORDER BY locked_until LIMIT 64",
            "USING INDEX jobs_leased",
        ),
    ] {
        let plan = plan(sql).await;
        assert!(plan.contains(index), "{plan}");
        assert!(!plan.contains("TEMP B-TREE"), "{plan}");
    }
}

/// Opening a ticket wakes the job runner at once (on both backends): its notification is claimed when it is
/// queued, not at the runner's next look a second later, so a stream of openings never leaves a second's
/// worth of jobs due and unclaimed.
#[tokio::test]
async fn opening_a_ticket_wakes_the_job_runner() {
    let app = TestApp::new().await;
    let woken = app.db.jobs_queued().notified();
    tokio::pin!(woken);
    // Nothing was queued since the runner-less app started: no wake-up is pending.
    assert!(
        tokio::time::timeout(std::time::Duration::from_millis(50), woken.as_mut())
            .await
            .is_err()
    );
    let (s, t) = crate::helpers::send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Scanner offline", "description": "Since this morning." }),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    tokio::time::timeout(std::time::Duration::from_secs(5), woken)
        .await
        .expect("the opening woke the runner");
    // The runner, started idle, claims and finishes that notification well within its one-second look.
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(civitas::runner::Runner::new(app.db.clone()).run_until(stop_rx));
    tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    let (s, t) = crate::helpers::send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Badge reader", "description": "Door 3." }),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let opened = std::time::Instant::now();
    let mut claimed = None;
    while opened.elapsed() < std::time::Duration::from_secs(5) {
        let q = jobs::stats(&app.db, store::now_ms()).await.unwrap();
        if q.due_total() == 0 {
            claimed = Some(opened.elapsed());
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(5)).await;
    }
    stop_tx.send(true).unwrap();
    runner.await.unwrap();
    let claimed = claimed.expect("the notification was claimed");
    assert!(
        claimed < std::time::Duration::from_millis(300),
        "claimed {claimed:?} after the opening"
    );
}

/// A burst of notifications drains through the server's own loop: every job finished, none left due, and
/// the queue's gauges say so.
#[tokio::test]
async fn the_runner_drains_a_burst_of_notifications() {
    let app = TestApp::new().await;
    let (s, t) = crate::helpers::send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Printer jams", "description": "Tray 2." }),
    )
    .await;
    assert_eq!(s, 201, "{t}");
    let number = t["number"].as_i64().unwrap();
    let now = store::now_ms();
    for i in 0..500 {
        jobs::enqueue(
            &app.db,
            "desk.notify",
            &json!({ "number": number, "event": "opened", "actor": null, "ref": format!("burst-{i}") }),
            now - 1,
            None,
        )
        .await
        .unwrap();
    }
    let (stop_tx, stop_rx) = tokio::sync::watch::channel(false);
    let runner = tokio::spawn(civitas::runner::Runner::new(app.db.clone()).run_until(stop_rx));
    let mut drained = false;
    for _ in 0..600 {
        let q = jobs::stats(&app.db, store::now_ms()).await.unwrap();
        if q.due_total() == 0 && q.running == 0 {
            drained = true;
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    stop_tx.send(true).unwrap();
    runner.await.unwrap();
    let q = jobs::stats(&app.db, store::now_ms()).await.unwrap();
    assert!(
        drained,
        "the burst was not drained within a minute: {q:?} {:?}",
        jobs::list(&app.db, Some("running"), 5).await.unwrap()
    );
    let notify_done = jobs::list(&app.db, Some("done"), 1000)
        .await
        .unwrap()
        .iter()
        .filter(|j| j.kind == "desk.notify")
        .count();
    assert!(notify_done >= 500, "{notify_done} notifications done");
    let metrics = app
        .client
        .get(app.url("/metrics"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(metrics.contains("civitas_jobs_due_total 0"), "{metrics}");
    assert!(
        metrics.contains("civitas_jobs_oldest_due_age_seconds 0"),
        "{metrics}"
    );
    assert!(
        metrics.contains("civitas_db_connections_open{pool=\"write\"}"),
        "{metrics}"
    );
    assert!(
        metrics.contains("civitas_job_duration_seconds"),
        "{metrics}"
    );
}

/// On SQLite no writer checkpoints inside its commits (a job runner's claim would otherwise copy the whole
/// log while openings wait): a thread checkpoints beside the writer every second, so the log still starts
/// afresh after writes that open no tickets.
#[tokio::test]
async fn the_write_ahead_log_is_checkpointed_when_only_the_pool_writes() {
    let dir = tempfile::tempdir().unwrap();
    let (db, url) = fresh_database(&dir).await;
    if !url.starts_with("sqlite:") {
        return; // PostgreSQL has no write-ahead log of ours to keep.
    }
    let wal = dir.path().join("civitas.db-wal");
    let burst = |from: i64| {
        let db = db.clone();
        async move {
            for i in from..from + 1_500 {
                jobs::enqueue(
                    &db,
                    "demo.job",
                    &json!({ "i": i, "pad": "x".repeat(500) }),
                    0,
                    None,
                )
                .await
                .unwrap();
            }
        }
    };
    burst(0).await;
    let after_one = std::fs::metadata(&wal).unwrap().len();
    tokio::time::sleep(std::time::Duration::from_millis(2_500)).await;
    burst(1_500).await;
    let after_two = std::fs::metadata(&wal).unwrap().len();
    assert!(
        after_two < after_one + after_one / 2,
        "the log grew from {after_one} to {after_two} bytes: it was not checkpointed between the bursts"
    );
}

#[tokio::test]
async fn the_runner_records_an_audit_checkpoint_every_hour() {
    let app = TestApp::new().await;
    assert!(
        civitas::runner::RECURRING
            .iter()
            .any(|(kind, period)| *kind == "audit.checkpoint" && *period == 60 * 60 * 1000)
    );
    let runner = civitas::runner::Runner::new(app.db.clone());
    runner.schedule().await.unwrap();
    crate::mail::drain(&runner).await;
    let done: Vec<_> = jobs::list(&app.db, None, 100)
        .await
        .unwrap()
        .into_iter()
        .filter(|j| j.kind == "audit.checkpoint")
        .map(|j| j.status)
        .collect();
    assert_eq!(done, ["done"], "the checkpoint job ran");
}
