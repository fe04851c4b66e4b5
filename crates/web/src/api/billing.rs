//! Shared-services economics over the API: usage metering (batches of records, the records behind a total,
//! monthly totals).

use super::list;
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams};
use crate::routes::Table;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::usage::{RawUsage, check_batch, meter_name};
use domain::validation::Collector;
use serde::Deserialize;
use store::billing::usage::{self, Filter};
use store::tenancy::orgs;

pub fn routes(t: Table) -> Table {
    t.post(
        "/api/v1/usage",
        "Record usage: a batch of up to 10,000 records, all or nothing (a record id seen before counts once)",
        "billing-manage",
        ingest,
    )
    .get(
        "/api/v1/usage",
        "List usage records (by member, meter and month)",
        "billing-read",
        list_usage,
    )
    .get(
        "/api/v1/usage/totals",
        "Usage totals per member, meter and month",
        "billing-read",
        totals,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub records: Vec<RawUsage>,
}

async fn ingest(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(batch): ApiJson<Batch>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingManage)?;
    let records = check_batch(&batch.records).map_err(|e| Failure::Invalid(e.0))?;
    let report = usage::ingest(&s.db, &scope, &p.actor(), &records).await?;
    Ok(Json(report).into_response())
}

/// A month as `YYYY-MM`.
pub fn month(field: &str, raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    let ok = raw.len() == 7
        && format!("{raw}-01").parse::<jiff::civil::Date>().is_ok()
        && raw.as_bytes()[4] == b'-';
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!("{raw:?} is not a month (write it like 2026-09)"),
        ))
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Organisation slug.
    pub org: Option<String>,
    pub meter: Option<String>,
    /// `YYYY-MM`.
    pub month: Option<String>,
    /// Totals: first and last month, `YYYY-MM`.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn given(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|x| !x.is_empty())
}

impl UsageQuery {
    async fn org(
        &self,
        s: &AppState,
        scope: &store::Scope,
        c: &mut Collector,
    ) -> Result<Option<domain::ids::OrgId>, Failure> {
        let Some(slug) = given(&self.org) else {
            return Ok(None);
        };
        match orgs::id_by_slug(&s.db, scope, slug).await {
            Ok(id) => Ok(Some(id)),
            Err(store::StoreError::NotFound) => {
                c.push(FieldError::new("org", "is not an organisation you can see"));
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

async fn list_usage(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let mut c = Collector::new();
    let f = Filter {
        org: q.org(&s, &scope, &mut c).await?,
        meter: given(&q.meter).and_then(|m| c.take(meter_name("meter", m))),
        month: given(&q.month).and_then(|m| c.take(month("month", m))),
    };
    c.finish()?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    Ok(list(
        usage::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

async fn totals(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let mut c = Collector::new();
    let org = q.org(&s, &scope, &mut c).await?;
    let from = match given(&q.from) {
        Some(m) => c.take(month("from", m)),
        None => {
            c.push(FieldError::new(
                "from",
                "is required: the first month, like 2026-07",
            ));
            None
        }
    };
    let to = match given(&q.to) {
        Some(m) => c.take(month("to", m)),
        None => from.clone(),
    };
    if let (Some(a), Some(b)) = (&from, &to)
        && a > b
    {
        c.push(FieldError::new("to", "must not be before from"));
    }
    c.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Failure::Invalid(vec![FieldError::new("from", "is required")]).into());
    };
    let items = usage::totals(&s.db, &scope, org, &from, &to).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}
