//! The audit log page.

use super::ops::AuditQuery;
use crate::AppState;
use crate::auth::Principal;
use crate::error::PageResult;
use crate::extract::PageQueryString;
use crate::extract::encode_cursor;
use crate::page::{Frame, local_time, render};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::authz::Permission;

pub fn routes(t: Table) -> Table {
    t.get(
        "/audit",
        "The audit log",
        Needs::Perm(Permission::AuditRead),
        page,
    )
}

struct Row {
    seq: i64,
    at_iso: String,
    at_local: String,
    actor: String,
    org: String,
    action: String,
    entity: String,
}

#[derive(Template)]
#[template(path = "audit/audit.html")]
struct AuditPage {
    f: Frame,
    rows: Vec<Row>,
    orgs: Vec<(String, String)>,
    q_org: String,
    q_action: String,
    q_actor: String,
    next: Option<String>,
    csv_href: String,
}

async fn page(
    State(s): State<AppState>,
    p: Principal,
    Granted(granted): Granted,
    PageQueryString(q): PageQueryString<AuditQuery>,
) -> PageResult<Response> {
    let scope = granted;
    let filter = q.filter(&s, &p, &scope).await?;
    if q.format.as_deref() == Some("csv") {
        let mut rows = Vec::new();
        let mut page = store::page::PageRequest::first(200);
        loop {
            let r = store::audit::list(&s.db, &scope, &filter, &page).await?;
            rows.extend(r.items.into_iter().map(|e| {
                vec![
                    e.seq.to_string(),
                    jiff::Timestamp::from_millisecond(e.at)
                        .map(|t| t.to_string())
                        .unwrap_or_default(),
                    e.org_slug.unwrap_or_else(|| "region".into()),
                    e.actor,
                    e.action,
                    e.entity_kind,
                    e.entity_id,
                    e.hash,
                ]
            }));
            match r.next_cursor {
                Some(c) if rows.len() < crate::page::CSV_MAX_ROWS => page.after = Some(c),
                _ => break,
            }
        }
        let header = [
            "seq",
            "at",
            "organisation",
            "actor",
            "action",
            "entity_kind",
            "entity_id",
            "hash",
        ];
        return Ok(crate::page::csv_response("audit-log.csv", &header, rows));
    }
    let result = store::audit::list(&s.db, &scope, &filter, &q.page()?).await?;
    let tz = "America/New_York";
    let rows = result
        .items
        .into_iter()
        .map(|e| Row {
            seq: e.seq,
            at_iso: jiff::Timestamp::from_millisecond(e.at)
                .map(|t| t.to_string())
                .unwrap_or_default(),
            at_local: local_time(e.at, tz),
            actor: e.actor,
            org: e.org_slug.unwrap_or_else(|| "region".into()),
            action: e.action,
            entity: format!(
                "{} {}",
                e.entity_kind,
                e.entity_id.chars().take(8).collect::<String>()
            ),
        })
        .collect();
    // Every organisation in scope (a region has at most a few hundred), for the filter.
    let orgs = store::tenancy::orgs::names(&s.db, &scope, None, 2000)
        .await?
        .into_iter()
        .map(|o| (o.slug, o.name))
        .collect();
    let enc = crate::page::urlencode;
    let next = result.next_cursor.map(|c| {
        format!(
            "/audit?org={}&action={}&actor={}&cursor={}",
            enc(q.org.as_deref().unwrap_or("")),
            enc(q.action.as_deref().unwrap_or("")),
            enc(q.actor.as_deref().unwrap_or("")),
            encode_cursor(&c)
        )
    });
    let f = Frame::new(&s, &p, "Audit log", "audit").await?;
    Ok(render(&AuditPage {
        f,
        rows,
        orgs,
        csv_href: format!(
            "/audit?org={}&action={}&actor={}&format=csv",
            enc(q.org.as_deref().unwrap_or("")),
            enc(q.action.as_deref().unwrap_or("")),
            enc(q.actor.as_deref().unwrap_or(""))
        ),
        q_org: q.org.unwrap_or_default(),
        q_action: q.action.unwrap_or_default(),
        q_actor: q.actor.unwrap_or_default(),
        next,
    }))
}
