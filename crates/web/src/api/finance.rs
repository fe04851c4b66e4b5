//! The hub's finance over the API: cost pools per service and fiscal year, standalone benchmarks, credits,
//! the finance report (recovery, margin, revenue, forecasts) and members' savings.

use super::{entity, given};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, if_match};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::{Permission, Scope};
use domain::billing::finance::{CostCategory, SizeBand, Standalone};
use domain::billing::money::MAX_CENTS;
use domain::ids::{AgreementId, ServiceId};
use domain::validation::{Collector, dollars, long_text, text};
use serde::Deserialize;
use store::billing::finance::{self, BenchmarkDraft, CostDraft, CreditDraft};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/costs",
        "The hub's costs per service and fiscal year (?fy=2027): staff, licences, hardware depreciation, network",
        "finance-read",
        list_costs,
    )
    .post(
        "/api/v1/costs",
        "Record a cost of a service for a fiscal year",
        "billing-manage",
        create_cost,
    )
    .get("/api/v1/costs/{id}", "One cost", "finance-read", get_cost)
    .patch(
        "/api/v1/costs/{id}",
        "Change a cost (If-Match)",
        "billing-manage",
        update_cost,
    )
    .delete(
        "/api/v1/costs/{id}",
        "Remove a cost entered in error (If-Match)",
        "billing-manage",
        delete_cost,
    )
    .get(
        "/api/v1/finance",
        "The hub's fiscal year (?fy=2027): cost, recovery rate and margin per service, revenue by member and service, next year's forecast per member",
        "finance-read",
        finance_report,
    )
    .get(
        "/api/v1/benchmarks",
        "Standalone cost benchmarks: what a member of each size band would pay a year to run a service alone, with sources",
        "billing-read",
        list_benchmarks,
    )
    .post(
        "/api/v1/benchmarks",
        "Record a standalone benchmark for a service and size band",
        "billing-manage",
        create_benchmark,
    )
    .get(
        "/api/v1/benchmarks/{id}",
        "One standalone benchmark",
        "billing-read",
        get_benchmark,
    )
    .patch(
        "/api/v1/benchmarks/{id}",
        "Change a benchmark's figures or source (If-Match)",
        "billing-manage",
        update_benchmark,
    )
    .get(
        "/api/v1/savings",
        "What sharing saves each member over a fiscal year (?fy=2027, ?org=slug): shared cost beside the standalone benchmark, per service",
        "billing-read",
        savings_report,
    )
    .get(
        "/api/v1/credits",
        "Credits granted to members (?agreement=id)",
        "billing-read",
        list_credits,
    )
    .post(
        "/api/v1/credits",
        "Grant a credit under an agreement: the invoice of the period containing its month carries it",
        "billing-manage",
        create_credit,
    )
    .delete(
        "/api/v1/credits/{id}",
        "Withdraw a credit no issued invoice carries yet",
        "billing-manage",
        delete_credit,
    )
}

/// A fiscal year as people write it: `2027` or `FY2027`.
pub fn parse_fy(field: &str, raw: &str) -> Result<i16, FieldError> {
    let t = raw.trim();
    let digits = t
        .strip_prefix("FY")
        .or_else(|| t.strip_prefix("fy"))
        .unwrap_or(t);
    digits
        .parse::<i16>()
        .ok()
        .filter(|y| (2000..=2100).contains(y))
        .ok_or_else(|| {
            FieldError::new(
                field,
                format!("{raw:?} is not a fiscal year (write it like 2027 or FY2027)"),
            )
        })
}

/// The fiscal year asked for, or the current one in the hub's calendar.
pub async fn fy_or_current(s: &AppState, raw: &Option<String>) -> Result<(i16, u8), Failure> {
    let start = super::billing::fy_start(s).await?;
    let fy = match given(raw) {
        Some(r) => parse_fy("fy", r).map_err(|e| Failure::Invalid(vec![e]))?,
        None => domain::billing::period::fiscal_year(super::time::today(), start),
    };
    Ok((fy, start))
}

fn required<'a>(c: &mut Collector, field: &str, raw: &'a Option<String>) -> Option<&'a str> {
    let v = given(raw);
    if v.is_none() {
        c.push(FieldError::new(field, "is required"));
    }
    v
}

fn money(c: &mut Collector, field: &str, raw: &str) -> Option<i64> {
    c.take(dollars(field, raw, MAX_CENTS))
}

fn incomplete() -> Failure {
    Failure::Invalid(vec![FieldError::new("body", "is incomplete")])
}

// ---------------------------------------------------------------------------------------------------
// Costs

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FyQuery {
    pub fy: Option<String>,
    /// Savings: one member's slug.
    pub org: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCost {
    pub service_id: Option<String>,
    /// `2027` or `FY2027`.
    pub fiscal_year: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
    /// Dollars, as text: `"48000.00"`.
    pub amount: Option<String>,
}

/// A cost's fields; on an edit, what is not given keeps its current value.
pub fn parse_cost(raw: &RawCost, current: Option<&finance::Cost>) -> Result<CostDraft, Failure> {
    let mut c = Collector::new();
    let service_id: Option<ServiceId> = match (given(&raw.service_id), current) {
        (None, Some(cur)) => Some(cur.service_id),
        (raw_id, _) => required(&mut c, "service_id", &raw_id.map(str::to_owned)).and_then(|v| {
            c.take(
                v.parse()
                    .map_err(|_| FieldError::new("service_id", "is not an id")),
            )
        }),
    };
    let fiscal_year = match (given(&raw.fiscal_year), current) {
        (None, Some(cur)) => Some(cur.fiscal_year),
        (None, None) => {
            c.push(FieldError::new(
                "fiscal_year",
                "is required, like 2027 or FY2027",
            ));
            None
        }
        (Some(v), _) => c.take(parse_fy("fiscal_year", v)),
    };
    let category = match (given(&raw.category), current) {
        (None, Some(cur)) => Some(cur.category),
        (None, None) => {
            c.push(FieldError::new(
                "category",
                format!(
                    "is required: one of {}",
                    CostCategory::ALL
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
        (Some(v), _) => c.take(CostCategory::parse(v)),
    };
    let description = match (&raw.description, current) {
        (None, Some(cur)) => Some(cur.description.clone()),
        (d, _) => c.take(text("description", d.as_deref().unwrap_or(""), 200)),
    };
    let amount = match (given(&raw.amount), current) {
        (None, Some(cur)) => Some(cur.amount_cents),
        (None, None) => {
            c.push(FieldError::new(
                "amount",
                "is required, in dollars (\"48000.00\")",
            ));
            None
        }
        (Some(v), _) => money(&mut c, "amount", v),
    };
    c.finish()?;
    match (service_id, fiscal_year, category, description, amount) {
        (Some(service_id), Some(fiscal_year), Some(category), Some(description), Some(amount)) => {
            Ok(CostDraft {
                service_id,
                fiscal_year,
                category,
                description,
                amount_cents: amount,
            })
        }
        _ => Err(incomplete()),
    }
}

async fn list_costs(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<FyQuery>,
) -> ApiResult<Response> {
    p.require_region(Permission::FinanceRead)?;
    let fy = given(&q.fy)
        .map(|r| parse_fy("fy", r))
        .transpose()
        .map_err(|e| Failure::Invalid(vec![e]))?;
    Ok(Json(serde_json::json!({ "items": finance::costs(&s.db, fy).await? })).into_response())
}

async fn create_cost(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCost>,
) -> ApiResult<Response> {
    p.require_region(Permission::BillingManage)?;
    let d = parse_cost(&raw, None)?;
    let out = finance::add_cost(&s.db, &p.actor(), &d).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

async fn get_cost(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require_region(Permission::FinanceRead)?;
    let out = finance::cost_entry(&s.db, &id).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

async fn update_cost(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawCost>,
) -> ApiResult<Response> {
    p.require_region(Permission::BillingManage)?;
    let current = finance::cost_entry(&s.db, &id).await?;
    let d = parse_cost(&raw, Some(&current))?;
    let out = finance::update_cost(&s.db, &p.actor(), &id, if_match(&headers)?, &d).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

async fn delete_cost(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    p.require_region(Permission::BillingManage)?;
    finance::delete_cost(&s.db, &p.actor(), &id, if_match(&headers)?).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn finance_report(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<FyQuery>,
) -> ApiResult<Response> {
    p.require_region(Permission::FinanceRead)?;
    if q.org.is_some() {
        return Err(Failure::Invalid(vec![FieldError::new(
            "org",
            "is not a filter of the finance report (it covers the region)",
        )])
        .into());
    }
    let (fy, start) = fy_or_current(&s, &q.fy).await?;
    Ok(Json(finance::report(&s.db, fy, start).await?).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Benchmarks

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawBenchmark {
    pub service_id: Option<String>,
    pub size_band: Option<String>,
    /// Dollars a year, as text.
    pub staff: Option<String>,
    pub licences: Option<String>,
    pub hardware: Option<String>,
    pub source: Option<String>,
    pub note: Option<String>,
}

pub fn parse_benchmark(
    raw: &RawBenchmark,
    current: Option<&finance::Benchmark>,
) -> Result<BenchmarkDraft, Failure> {
    let mut c = Collector::new();
    let service_id: Option<ServiceId> = match (given(&raw.service_id), current) {
        (None, Some(cur)) => Some(cur.service_id),
        (None, None) => {
            c.push(FieldError::new("service_id", "is required"));
            None
        }
        (Some(v), _) => c.take(
            v.parse()
                .map_err(|_| FieldError::new("service_id", "is not an id")),
        ),
    };
    let size_band = match (given(&raw.size_band), current) {
        (None, Some(cur)) => Some(cur.size_band),
        (None, None) => {
            c.push(FieldError::new(
                "size_band",
                format!(
                    "is required: one of {}",
                    SizeBand::ALL
                        .iter()
                        .map(|b| b.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
        (Some(v), _) => c.take(SizeBand::parse(v)),
    };
    let cur = current.map(|b| b.standalone);
    let mut figure = |field: &str, raw: &Option<String>, keep: Option<i64>| match (given(raw), keep)
    {
        (None, Some(k)) => Some(k),
        (None, None) => Some(0),
        (Some(v), _) => money(&mut c, field, v),
    };
    let staff = figure("staff", &raw.staff, cur.map(|s| s.staff_cents));
    let licences = figure("licences", &raw.licences, cur.map(|s| s.licences_cents));
    let hardware = figure("hardware", &raw.hardware, cur.map(|s| s.hardware_cents));
    let source = match (&raw.source, current) {
        (None, Some(cur)) => Some(cur.source.clone()),
        (s, _) => c.take(
            text("source", s.as_deref().unwrap_or(""), 300).map_err(|e| {
                FieldError::new(
                    "source",
                    format!("{}: say where the figures come from", e.message),
                )
            }),
        ),
    };
    let note = match (&raw.note, current) {
        (None, Some(cur)) => Some(cur.note.clone()),
        (None, None) => Some(String::new()),
        (Some(n), _) if n.trim().is_empty() => Some(String::new()),
        (Some(n), _) => c.take(long_text("note", n, 2_000)),
    };
    c.finish()?;
    match (
        service_id, size_band, staff, licences, hardware, source, note,
    ) {
        (
            Some(service_id),
            Some(size_band),
            Some(staff_cents),
            Some(licences_cents),
            Some(hardware_cents),
            Some(source),
            Some(note),
        ) => Ok(BenchmarkDraft {
            service_id,
            size_band,
            standalone: Standalone {
                staff_cents,
                licences_cents,
                hardware_cents,
            },
            source,
            note,
        }),
        _ => Err(incomplete()),
    }
}

async fn list_benchmarks(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    p.require(Permission::BillingRead)?;
    Ok(Json(serde_json::json!({ "items": finance::benchmarks(&s.db).await? })).into_response())
}

async fn create_benchmark(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawBenchmark>,
) -> ApiResult<Response> {
    p.require_region(Permission::BillingManage)?;
    let d = parse_benchmark(&raw, None)?;
    let out = finance::add_benchmark(&s.db, &p.actor(), &d).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

async fn get_benchmark(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Permission::BillingRead)?;
    let out = finance::benchmark_entry(&s.db, &id).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

async fn update_benchmark(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawBenchmark>,
) -> ApiResult<Response> {
    p.require_region(Permission::BillingManage)?;
    let current = finance::benchmark_entry(&s.db, &id).await?;
    let d = parse_benchmark(&raw, Some(&current))?;
    let out = finance::update_benchmark(&s.db, &p.actor(), &id, if_match(&headers)?, &d).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

async fn savings_report(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<FyQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
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

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreditQuery {
    pub agreement: Option<String>,
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCredit {
    pub agreement_id: Option<String>,
    /// `YYYY-MM`: the invoice of the period containing it carries the credit.
    pub month: Option<String>,
    /// Dollars, as text.
    pub amount: Option<String>,
    pub reason: Option<String>,
}

pub fn parse_credit(raw: &RawCredit) -> Result<CreditDraft, Failure> {
    let mut c = Collector::new();
    let agreement_id: Option<AgreementId> = required(&mut c, "agreement_id", &raw.agreement_id)
        .and_then(|v| {
            c.take(
                v.parse()
                    .map_err(|_| FieldError::new("agreement_id", "is not an id")),
            )
        });
    let month = match given(&raw.month) {
        None => {
            c.push(FieldError::new("month", "is required, like 2026-09"));
            None
        }
        Some(m) => c.take(super::billing::month("month", m)),
    };
    let amount = match given(&raw.amount) {
        None => {
            c.push(FieldError::new(
                "amount",
                "is required, in dollars (\"250.00\")",
            ));
            None
        }
        Some(v) => match money(&mut c, "amount", v) {
            Some(0) => {
                c.push(FieldError::new("amount", "must be more than zero"));
                None
            }
            a => a,
        },
    };
    let reason = c.take(text("reason", raw.reason.as_deref().unwrap_or(""), 200));
    c.finish()?;
    match (agreement_id, month, amount, reason) {
        (Some(agreement_id), Some(month), Some(amount_cents), Some(reason)) => Ok(CreditDraft {
            agreement_id,
            month,
            amount_cents,
            reason,
        }),
        _ => Err(incomplete()),
    }
}

async fn list_credits(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<CreditQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let agreement = given(&q.agreement)
        .map(|a| {
            a.parse::<AgreementId>()
                .map_err(|_| FieldError::new("agreement", "is not an id"))
        })
        .transpose()
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let items = finance::credits(&s.db, &scope, agreement).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

pub async fn grant_credit(
    s: &AppState,
    p: &Principal,
    raw: &RawCredit,
) -> Result<finance::Credit, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let d = parse_credit(raw)?;
    Ok(finance::add_credit(&s.db, &scope, &p.actor(), &d).await?)
}

async fn create_credit(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCredit>,
) -> ApiResult<Response> {
    let out = grant_credit(&s, &p, &raw).await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn delete_credit(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingManage)?;
    finance::delete_credit(&s.db, &scope, &p.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}
