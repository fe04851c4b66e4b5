//! The hub's finance over the API: cost pools per service and fiscal year, standalone benchmarks, credits,
//! the finance report (recovery, margin, revenue, forecasts) and members' savings.

use crate::AppState;
use crate::auth::Principal;
use crate::billing::ops::finance::{
    RawBenchmark, RawCost, RawCredit, fy_or_current, grant_credit, parse_benchmark, parse_cost,
};
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiCreate, ApiJson, ApiQuery, if_match};
use crate::json::given;
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::{Permission, Scope};
use domain::billing::period::parse_fiscal_year;
use domain::ids::AgreementId;
use serde::Deserialize;
use store::billing::finance::{self};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/costs",
        "The hub's costs per service and fiscal year (?fy=2027): staff, licences, hardware depreciation, network",
        Needs::Hub(Permission::FinanceRead),
        list_costs,
    )
    .post(
        "/api/v1/costs",
        "Record a cost of a service for a fiscal year",
        Needs::Hub(Permission::BillingManage),
        create_cost,
    )
    .get("/api/v1/costs/{id}", "One cost", Needs::Hub(Permission::FinanceRead), get_cost)
    .patch(
        "/api/v1/costs/{id}",
        "Change a cost (If-Match)",
        Needs::Hub(Permission::BillingManage),
        update_cost,
    )
    .delete(
        "/api/v1/costs/{id}",
        "Remove a cost entered in error (If-Match)",
        Needs::Hub(Permission::BillingManage),
        delete_cost,
    )
    .get(
        "/api/v1/finance",
        "The hub's fiscal year (?fy=2027): cost, recovery rate and margin per service, revenue by member and service, next year's forecast per member",
        Needs::Hub(Permission::FinanceRead),
        finance_report,
    )
    .get(
        "/api/v1/benchmarks",
        "Standalone cost benchmarks: what a member of each size band would pay a year to run a service alone, with sources",
        Needs::Perm(Permission::BillingRead),
        list_benchmarks,
    )
    .post(
        "/api/v1/benchmarks",
        "Record a standalone benchmark for a service and size band",
        Needs::Hub(Permission::BillingManage),
        create_benchmark,
    )
    .get(
        "/api/v1/benchmarks/{id}",
        "One standalone benchmark",
        Needs::Perm(Permission::BillingRead),
        get_benchmark,
    )
    .patch(
        "/api/v1/benchmarks/{id}",
        "Change a benchmark's figures or source (If-Match)",
        Needs::Hub(Permission::BillingManage),
        update_benchmark,
    )
    .get(
        "/api/v1/savings",
        "What sharing saves each member over a fiscal year (?fy=2027, ?org=slug): shared cost beside the standalone benchmark, per service",
        Needs::Perm(Permission::BillingRead),
        savings_report,
    )
    .get(
        "/api/v1/credits",
        "Credits granted to members (?agreement=id)",
        Needs::Perm(Permission::BillingRead),
        list_credits,
    )
    .post(
        "/api/v1/credits",
        "Grant a credit under an agreement: the invoice of the period containing its month carries it",
        Needs::Perm(Permission::BillingManage),
        create_credit,
    )
    .delete(
        "/api/v1/credits/{id}",
        "Withdraw a credit no issued invoice carries yet",
        Needs::Perm(Permission::BillingManage),
        delete_credit,
    )
}

// ---------------------------------------------------------------------------------------------------
// Costs

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FyQuery {
    pub fy: Option<String>,
    /// Savings: one member's slug.
    pub org: Option<String>,
}

async fn list_costs(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<FyQuery>,
) -> ApiResult<Answer<impl Body>> {
    let fy = given(&q.fy)
        .map(|r| parse_fiscal_year("fy", r))
        .transpose()
        .map_err(|e| Failure::Invalid(vec![e]))?;
    Ok(Answer::items(finance::costs(&s.db, fy).await?))
}

async fn create_cost(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawCost>,
) -> ApiResult<Answer<impl Body>> {
    let d = parse_cost(&raw, None)?;
    let out = finance::add_cost(&s.db, &p.actor(), &d).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn get_cost(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let out = finance::cost_entry(&s.db, &id).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn update_cost(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawCost>,
) -> ApiResult<Answer<impl Body>> {
    let current = finance::cost_entry(&s.db, &id).await?;
    let d = parse_cost(&raw, Some(&current))?;
    let out = finance::update_cost(&s.db, &p.actor(), &id, if_match(&headers)?, &d).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn delete_cost(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    finance::delete_cost(&s.db, &p.actor(), &id, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn finance_report(
    State(s): State<AppState>,
    ApiQuery(q): ApiQuery<FyQuery>,
) -> ApiResult<Answer<impl Body>> {
    if q.org.is_some() {
        return Err(Failure::Invalid(vec![FieldError::new(
            "org",
            "is not a filter of the finance report (it covers the region)",
        )])
        .into());
    }
    let (fy, start) = fy_or_current(&s, &q.fy).await?;
    Ok(Answer::ok(&finance::report(&s.db, fy, start).await?))
}

async fn list_benchmarks(State(s): State<AppState>) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::items(finance::benchmarks(&s.db).await?))
}

async fn create_benchmark(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawBenchmark>,
) -> ApiResult<Answer<impl Body>> {
    let d = parse_benchmark(&raw, None)?;
    let out = finance::add_benchmark(&s.db, &p.actor(), &d).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn get_benchmark(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let out = finance::benchmark_entry(&s.db, &id).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn update_benchmark(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawBenchmark>,
) -> ApiResult<Answer<impl Body>> {
    let current = finance::benchmark_entry(&s.db, &id).await?;
    let d = parse_benchmark(&raw, Some(&current))?;
    let out = finance::update_benchmark(&s.db, &p.actor(), &id, if_match(&headers)?, &d).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn savings_report(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<FyQuery>,
) -> ApiResult<Response> {
    let (fy, start) = fy_or_current(&s, &q.fy).await?;
    let scope = match given(&q.org) {
        None => scope,
        Some(slug) => match store::tenancy::orgs::id_by_slug(&s.db, &scope, slug).await {
            Ok(id) => Scope::Orgs([id].into()),
            Err(store::StoreError::NotFound) => {
                return Err(Failure::Invalid(vec![FieldError::new(
                    "org",
                    "is not an organisation you can see",
                )])
                .into());
            }
            Err(e) => return Err(e.into()),
        },
    };
    Ok(Json(finance::savings(&s.db, &scope, fy, start).await?).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Credits

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CreditQuery {
    pub agreement: Option<String>,
}

async fn list_credits(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<CreditQuery>,
) -> ApiResult<Answer<impl Body>> {
    let agreement = given(&q.agreement)
        .map(|a| {
            a.parse::<AgreementId>()
                .map_err(|_| FieldError::new("agreement", "is not an id"))
        })
        .transpose()
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let items = finance::credits(&s.db, &scope, agreement).await?;
    Ok(Answer::items(items))
}

async fn create_credit(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawCredit>,
) -> ApiResult<Answer<impl Body>> {
    let out = grant_credit(&s, &p, &raw).await?;
    Ok(Answer::new(StatusCode::CREATED, &out))
}

async fn delete_credit(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    finance::delete_credit(&s.db, &scope, &p.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
