//! `civitas backup` and `civitas restore`: every table to JSON Lines and back. The first line is a header;
//! each following line is `{"table": …, "row": {column: value}}`. Restore needs an empty, migrated database
//! of the same backend family and loads everything in one transaction: all or nothing.

use crate::{Backend, Db, Result, StoreError};
use serde_json::{Map, Value};
use sqlx::{Any, Row, Transaction, ValueRef};
use std::io::{BufRead, Write};

/// Every table, parents before children. A test checks this list against the database's catalog, so a
/// new table cannot be forgotten by backups.
pub const TABLES: &[&str] = &[
    "region",
    "orgs",
    "org_closures",
    "departments",
    "sites",
    "users",
    "grants",
    "sessions",
    "api_tokens",
    "invitations",
    "sign_in_throttle",
    "idempotency_keys",
    "audit_head",
    "audit_log",
    "jobs",
    "counters",
    "desk_settings",
    "sla_policies",
    "teams",
    "team_members",
    "services",
    "catalog_items",
    "tickets",
    "ticket_events",
    "ticket_watchers",
    "ticket_links",
    "attachments",
    "notification_optouts",
    "time_entries",
    "timers",
    "mail_messages",
    "canned_replies",
    "kb_articles",
    "ticket_articles",
    "mail_templates",
    "rate_cards",
    "rates",
    "agreements",
    "agreement_amendments",
    "agreement_documents",
    "subscriptions",
    "usage_records",
    "usage_totals",
    "invoices",
    "invoice_lines",
    "payments",
    "cost_pools",
    "standalone_benchmarks",
    "billing_credits",
    "cis",
    "ci_relations",
    "ci_events",
    "ticket_cis",
    "cloud_pools",
    "cloud_pool_cis",
    "cloud_usage",
    "capabilities",
    "app_portfolio",
    "tech_standards",
    "architecture_principles",
    "architecture_exceptions",
    "org_proposals",
    "seat_counts",
];

/// Whether a table is a derived search index (FTS5 and its shadow tables, or the PostgreSQL twin): not
/// backed up, rebuilt after a restore.
fn is_search_index(name: &str) -> bool {
    name.ends_with("_fts") || name.contains("_fts_")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Int,
    Bool,
    Text,
    /// Bytes, written as hex.
    Blob,
}

async fn columns(db: &Db, table: &str) -> Result<Vec<(String, Kind)>> {
    let kind = |t: &str| {
        let t = t.to_ascii_lowercase();
        if t.contains("int") {
            Kind::Int
        } else if t.contains("blob") || t.contains("bytea") {
            Kind::Blob
        } else if t.contains("bool") {
            Kind::Bool
        } else {
            Kind::Text
        }
    };
    let rows = match db.backend() {
        Backend::Sqlite => sqlx::query(&format!("SELECT name, type FROM pragma_table_info('{table}') ORDER BY cid"))
            .fetch_all(&db.read)
            .await?
            .iter()
            .map(|r| Ok((r.try_get::<String, _>("name")?, kind(&r.try_get::<String, _>("type")?))))
            .collect::<Result<Vec<_>>>()?,
        Backend::Postgres => sqlx::query(
            "SELECT column_name::text AS name, data_type::text AS type FROM information_schema.columns \
             WHERE table_schema = current_schema() AND table_name = $1 ORDER BY ordinal_position",
        )
        .bind(table)
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get::<String, _>("name")?, kind(&r.try_get::<String, _>("type")?))))
        .collect::<Result<Vec<_>>>()?,
    };
    Ok(rows)
}

/// The application tables the database actually has (migration bookkeeping excluded).
pub async fn catalog_tables(db: &Db) -> Result<Vec<String>> {
    let sql = match db.backend() {
        Backend::Sqlite => {
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%' AND name NOT LIKE '_sqlx%' ORDER BY name"
        }
        Backend::Postgres => {
            "SELECT table_name::text AS name FROM information_schema.tables WHERE table_schema = current_schema() AND table_name NOT LIKE '_sqlx%' ORDER BY table_name"
        }
    };
    let names = sqlx::query(sql)
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok(r.try_get("name")?))
        .collect::<Result<Vec<String>>>()?;
    Ok(names.into_iter().filter(|n| !is_search_index(n)).collect())
}

/// Writes every row of every table; returns the number of rows written.
pub async fn dump(db: &Db, out: &mut impl Write) -> Result<u64> {
    let io = |e: std::io::Error| StoreError::Corrupt(format!("writing the backup: {e}"));
    writeln!(
        out,
        "{}",
        serde_json::json!({ "format": "civitas-backup", "version": 1, "tables": TABLES })
    )
    .map_err(io)?;
    let mut n = 0;
    for table in TABLES {
        let cols = columns(db, table).await?;
        // A stable order (every column, left to right), so that two dumps of the same data are identical.
        let order: Vec<String> = (1..=cols.len()).map(|i| i.to_string()).collect();
        let rows = sqlx::query(&format!(
            "SELECT * FROM {table} ORDER BY {}",
            order.join(", ")
        ))
        .fetch_all(&db.read)
        .await?;
        for r in &rows {
            let mut obj = Map::new();
            for (name, kind) in &cols {
                let v = if r.try_get_raw(name.as_str())?.is_null() {
                    Value::Null
                } else {
                    match kind {
                        Kind::Int => Value::from(r.try_get::<i64, _>(name.as_str())?),
                        Kind::Bool => Value::from(r.try_get::<bool, _>(name.as_str())?),
                        Kind::Text => Value::from(r.try_get::<String, _>(name.as_str())?),
                        Kind::Blob => {
                            Value::from(hex::encode(r.try_get::<Vec<u8>, _>(name.as_str())?))
                        }
                    }
                };
                obj.insert(name.clone(), v);
            }
            writeln!(out, "{}", serde_json::json!({ "table": table, "row": obj })).map_err(io)?;
            n += 1;
        }
    }
    Ok(n)
}

/// Loads a backup into an empty, migrated database. Nothing is written unless everything loads.
pub async fn restore(db: &Db, input: impl BufRead) -> Result<u64> {
    let bad = |m: String| StoreError::Invalid(domain::Invalid::one("backup", m));
    let existing: i64 = sqlx::query("SELECT COUNT(*) AS n FROM orgs")
        .fetch_one(&db.read)
        .await?
        .try_get("n")?;
    if existing > 0 {
        return Err(bad(
            "the target database is not empty; restore into a new data directory or database"
                .into(),
        ));
    }
    let mut kinds = std::collections::HashMap::new();
    for t in TABLES {
        kinds.insert((*t).to_owned(), columns(db, t).await?);
    }
    let mut tx = db.begin_write().await?;
    // The migrations seed a few rows (audit head, counters, desk settings, the capability taxonomy); the
    // backup carries the real ones.
    for seeded in ["audit_head", "counters", "desk_settings", "capabilities"] {
        sqlx::query(&format!("DELETE FROM {seeded}"))
            .execute(&mut *tx)
            .await?;
    }
    let mut n = 0;
    for (i, line) in input.lines().enumerate() {
        let line = line.map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
        let v: Value =
            serde_json::from_str(&line).map_err(|e| bad(format!("line {}: {e}", i + 1)))?;
        if i == 0 {
            if v.get("format").and_then(Value::as_str) != Some("civitas-backup") {
                return Err(bad("line 1: not a Civitas backup".into()));
            }
            continue;
        }
        let table = v
            .get("table")
            .and_then(Value::as_str)
            .ok_or_else(|| bad(format!("line {}: no table", i + 1)))?;
        let cols = kinds
            .get(table)
            .ok_or_else(|| bad(format!("line {}: unknown table {table}", i + 1)))?;
        let row = v
            .get("row")
            .and_then(Value::as_object)
            .ok_or_else(|| bad(format!("line {}: no row", i + 1)))?;
        insert_row(&mut tx, table, cols, row)
            .await
            .map_err(|e| match e {
                StoreError::Db(e) => bad(format!("line {}: {e}", i + 1)),
                other => other,
            })?;
        n += 1;
    }
    if db.backend() == Backend::Postgres {
        // Identity columns restored with their values: the next generated value follows the largest.
        sqlx::query("SELECT setval(pg_get_serial_sequence('usage_records', 'seq'), COALESCE((SELECT MAX(seq) FROM usage_records), 0) + 1, false)")
            .execute(&mut *tx)
            .await?;
    }
    tx.commit().await?;
    db.orgs.invalidate();
    crate::desk::search::rebuild(db).await?;
    crate::desk::kb::rebuild(db).await?;
    Ok(n)
}

async fn insert_row(
    tx: &mut Transaction<'_, Any>,
    table: &str,
    cols: &[(String, Kind)],
    row: &Map<String, Value>,
) -> Result<()> {
    let names: Vec<&str> = cols.iter().map(|(n, _)| n.as_str()).collect();
    let marks: Vec<String> = (1..=cols.len()).map(|i| format!("${i}")).collect();
    let sql = format!(
        "INSERT INTO {table} ({}) VALUES ({})",
        names.join(", "),
        marks.join(", ")
    );
    let mut q = sqlx::query(&sql);
    for (name, kind) in cols {
        let v = row.get(name).unwrap_or(&Value::Null);
        q = match (kind, v) {
            (Kind::Int, Value::Null) => q.bind(None::<i64>),
            (Kind::Int, v) => q.bind(v.as_i64().ok_or_else(|| {
                StoreError::Corrupt(format!("{table}.{name} must be an integer"))
            })?),
            (Kind::Bool, Value::Null) => q.bind(None::<bool>),
            (Kind::Bool, v) => q.bind(
                v.as_bool()
                    .or_else(|| v.as_i64().map(|i| i != 0))
                    .ok_or_else(|| {
                        StoreError::Corrupt(format!("{table}.{name} must be a boolean"))
                    })?,
            ),
            (Kind::Text, Value::Null) => q.bind(None::<String>),
            (Kind::Text, Value::String(s)) => q.bind(s.clone()),
            (Kind::Text, other) => q.bind(other.to_string()),
            (Kind::Blob, Value::Null) => q.bind(None::<Vec<u8>>),
            (Kind::Blob, v) => q.bind(
                v.as_str()
                    .and_then(|h| hex::decode(h).ok())
                    .ok_or_else(|| StoreError::Corrupt(format!("{table}.{name} must be hex")))?,
            ),
        };
    }
    q.execute(&mut **tx).await?;
    Ok(())
}
