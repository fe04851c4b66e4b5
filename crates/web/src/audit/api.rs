//! Browsing the audit log.

use super::ops::AuditQuery;
use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::ApiQuery;
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::extract::State;
use domain::authz::Permission;
use store::audit;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/audit",
        "Browse the audit log (newest first)",
        Needs::Perm(Permission::AuditRead),
        list_entries,
    )
}

async fn list_entries(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> ApiResult<Answer<impl Body>> {
    let f = q.filter(&s, &p, &scope).await?;
    Ok(Answer::page(
        audit::list(&s.db, &scope, &f, &q.page()?).await?,
    ))
}
