//! The regional cloud over the API: pools and their capacity, the hosts and arrays they are made of, what
//! each organisation is allocated (from the CMDB), utilisation, growth and the forecast day each pool runs
//! out; metering for chargeback.

use super::ops::{RawPart, RawPool, attach, change_pool, pool_id, record_pool};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiCreate, ApiJson, ApiQuery, if_match};
use crate::json::{Answer, Body};
use crate::json::{entity, given};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::ids::CiId;
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Value, json};
use store::cloud::{self};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/cloud/pools",
        "The regional cloud's pools: capacity, allocation, utilisation, growth per day and the day each runs out",
        Needs::Perm(Permission::CmdbRead),
        list_pools,
    )
    .post(
        "/api/v1/cloud/pools",
        "Add a pool (a cluster with its storage and backup) with its capacity",
        Needs::Hub(Permission::CmdbManage),
        create_pool,
    )
    .get(
        "/api/v1/cloud/pools/{id}",
        "One pool: use, trend, allocations by organisation (those you may see), its hosts and arrays, daily history",
        Needs::Perm(Permission::CmdbRead),
        get_pool,
    )
    .patch(
        "/api/v1/cloud/pools/{id}",
        "Change a pool's name, site, capacity or notes (If-Match)",
        Needs::Hub(Permission::CmdbManage),
        update_pool,
    )
    .post(
        "/api/v1/cloud/pools/{id}/parts",
        "Make one of the hub's hosts (server) or arrays (storage volume) part of the pool ({\"ci_id\": …})",
        Needs::Hub(Permission::CmdbManage),
        add_part,
    )
    .delete(
        "/api/v1/cloud/pools/{id}/parts/{ci}",
        "Take a host or array out of the pool",
        Needs::Hub(Permission::CmdbManage),
        remove_part,
    )
    .get(
        "/api/v1/cloud/allocations",
        "What each organisation you may see is allocated from each pool now (?org=slug for one)",
        Needs::Perm(Permission::CmdbRead),
        allocations,
    )
    .post(
        "/api/v1/cloud/snapshot",
        "Record today's allocations (the daily job does this; the record feeds trends and meters)",
        Needs::Hub(Permission::CmdbManage),
        snapshot,
    )
    .post(
        "/api/v1/cloud/meter",
        "Meter a day's allocations as usage for chargeback ({\"day\": \"2026-11-30\"}; cloud.vcpu_month, cloud.ram_gb_month, cloud.storage_gb_month); metering a day twice counts once",
        Needs::Hub(Permission::BillingManage),
        meter,
    )
}

async fn list_pools(State(s): State<AppState>, Granted(scope): Granted) -> ApiResult<Response> {
    let items = cloud::overview(&s.db, &scope, crate::clock::today()).await?;
    Ok(Json(json!({ "items": items })).into_response())
}

async fn create_pool(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawPool>,
) -> ApiResult<Answer<impl Body>> {
    let out = record_pool(&s, &p, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn get_pool(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let id = pool_id(&id)?;
    let today = crate::clock::today();
    let out = cloud::pool_overview(&s.db, &scope, id, today).await?;
    let parts = cloud::parts(&s.db, id).await?;
    let since = today
        .checked_sub(jiff::Span::new().days(cloud::TREND_DAYS))
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let history: Vec<Value> = cloud::history(&s.db, id, since, today)
        .await?
        .into_iter()
        .map(|(day, r)| json!({ "day": day, "allocated": r }))
        .collect();
    let mut body = serde_json::to_value(&out).map_err(|e| Failure::Internal(e.to_string()))?;
    if let Some(o) = body.as_object_mut() {
        o.insert("parts".into(), json!(parts));
        o.insert("history".into(), json!(history));
    }
    Ok(entity(StatusCode::OK, out.pool.version, &body))
}

async fn update_pool(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawPool>,
) -> ApiResult<Answer<impl Body>> {
    let out = change_pool(&s, &p, pool_id(&id)?, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn add_part(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawPart>,
) -> ApiResult<Answer<impl Body>> {
    let out = attach(&s, &p, pool_id(&id)?, &raw).await?;
    Ok(Answer::new(StatusCode::CREATED, &out))
}

async fn remove_part(
    State(s): State<AppState>,
    p: Principal,
    Path((id, ci)): Path<(String, String)>,
) -> ApiResult<Response> {
    let ci: CiId = ci.parse().map_err(|_| Failure::NotFound)?;
    cloud::remove_part(&s.db, &p.actor(), pool_id(&id)?, ci).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AllocQuery {
    pub org: Option<String>,
}

async fn allocations(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<AllocQuery>,
) -> ApiResult<Response> {
    let org = match given(&q.org) {
        None => None,
        Some(slug) => Some(
            store::tenancy::orgs::id_by_slug(&s.db, &scope, slug)
                .await
                .map_err(|_| {
                    Failure::Invalid(vec![FieldError::new(
                        "org",
                        format!("no organisation {slug:?} that you may see"),
                    )])
                })?,
        ),
    };
    let pools = cloud::pools(&s.db).await?;
    let items: Vec<Value> = cloud::allocations(&s.db)
        .await?
        .into_iter()
        .filter(|a| scope.contains(a.org_id) && org.is_none_or(|o| o == a.org_id))
        .map(|a| {
            let pool = pools.iter().find(|p| p.id == a.pool_id);
            json!({
                "pool_id": a.pool_id,
                "pool_name": pool.map(|p| p.name.as_str()),
                "org_id": a.org_id,
                "org_name": a.org_name,
                "allocated": a.allocated,
                "items": a.items,
            })
        })
        .collect();
    Ok(Json(json!({ "items": items })).into_response())
}

async fn snapshot(State(s): State<AppState>) -> ApiResult<Response> {
    let day = crate::clock::today();
    let rows = cloud::snapshot(&s.db, day).await?;
    Ok(Json(json!({ "day": day, "rows": rows })).into_response())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawMeter {
    pub day: Option<String>,
}

async fn meter(State(s): State<AppState>, ApiJson(raw): ApiJson<RawMeter>) -> ApiResult<Response> {
    let today = crate::clock::today();
    let day = match given(&raw.day) {
        None => today
            .yesterday()
            .map_err(|e| Failure::Internal(e.to_string()))?,
        Some(v) => v.parse::<Date>().map_err(|_| {
            Failure::Invalid(vec![FieldError::new(
                "day",
                format!("{v:?} is not a date (write it like 2026-11-30)"),
            )])
        })?,
    };
    if day > today {
        return Err(Failure::Invalid(vec![FieldError::new(
            "day",
            "is in the future: a day is metered once it has begun",
        )])
        .into());
    }
    let report = cloud::meter(&s.db, day, today).await?;
    Ok(
        Json(json!({ "day": day, "accepted": report.accepted, "duplicates": report.duplicates }))
            .into_response(),
    )
}
