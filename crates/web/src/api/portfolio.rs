//! The application portfolio over the API: the capability taxonomy, the questionnaire, each application's
//! portfolio record and TIME quadrant, the redundancy finder and the retirement plans.

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
use domain::billing::money::MAX_CENTS;
use domain::ids::CiId;
use domain::portfolio::{QUESTIONS, Quadrant, check_answers};
use domain::validation::{Collector, dollars, optional_text, text};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Map, Value, json};
use store::portfolio::{self, AppDraft, Capability, Filter};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/capabilities",
        "The shared taxonomy of business capabilities (permitting, payroll, GIS, …)",
        "cmdb-read",
        list_capabilities,
    )
    .post(
        "/api/v1/capabilities",
        "Add a capability to the taxonomy ({\"slug\", \"name\", \"description\"})",
        "cmdb-manage",
        create_capability,
    )
    .get(
        "/api/v1/portfolio/questionnaire",
        "The questions that score an application's business value and technical condition (answers 1 to 5)",
        "cmdb-read",
        questionnaire,
    )
    .get(
        "/api/v1/portfolio",
        "The applications you may see with their portfolio records (?org=, ?capability=, ?quadrant=tolerate|invest|migrate|eliminate)",
        "cmdb-read",
        list_apps,
    )
    .get(
        "/api/v1/portfolio/redundancy",
        "Capabilities served by several applications across departments and members: combined cost, the product to consolidate onto, the candidates",
        "cmdb-read",
        redundancy,
    )
    .get(
        "/api/v1/portfolio/retirements",
        "Applications with a retirement plan, soonest first",
        "cmdb-read",
        retirements,
    )
    .get(
        "/api/v1/portfolio/{id}",
        "An application's portfolio record (id: the application's CMDB item)",
        "cmdb-read",
        get_app,
    )
    .put(
        "/api/v1/portfolio/{id}",
        "Set an application's portfolio record: capability, users, annual cost, contract and support end, answers, retirement plan (If-Match)",
        "cmdb-manage",
        save_app,
    )
}

fn ci_id(raw: &str) -> Result<CiId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

async fn list_capabilities(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    p.require(Permission::CmdbRead)?;
    Ok(Json(json!({ "items": portfolio::capabilities(&s.db).await? })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCapability {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
}

async fn create_capability(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCapability>,
) -> ApiResult<Response> {
    p.require_region(Permission::CmdbManage)?;
    let mut c = Collector::new();
    let slug = c.take(
        text("slug", raw.slug.as_deref().unwrap_or(""), 40).and_then(|s| {
            if s.chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '-')
            {
                Ok(s)
            } else {
                Err(FieldError::new(
                    "slug",
                    "may hold only lower-case letters, digits and hyphens (crm-311)",
                ))
            }
        }),
    );
    let name = c.take(text("name", raw.name.as_deref().unwrap_or(""), 120));
    let description = c
        .take(optional_text(
            "description",
            raw.description.as_deref(),
            500,
        ))
        .map(Option::unwrap_or_default);
    c.finish()?;
    let (Some(slug), Some(name), Some(description)) = (slug, name, description) else {
        return Err(Failure::Invalid(vec![FieldError::new("body", "is incomplete")]).into());
    };
    let out = portfolio::add_capability(
        &s.db,
        &p.actor(),
        &Capability {
            slug,
            name,
            description,
        },
    )
    .await?;
    Ok((StatusCode::CREATED, Json(out)).into_response())
}

async fn questionnaire(p: Principal) -> ApiResult<Response> {
    p.require(Permission::CmdbRead)?;
    let quadrants: Vec<Value> = Quadrant::ALL
        .iter()
        .map(|q| json!({ "quadrant": q, "label": q.label(), "advice": q.advice() }))
        .collect();
    Ok(Json(json!({
        "items": QUESTIONS,
        "scale": "1 (low) to 5 (high); each axis is the mean of its answers, and 3 or more is high",
        "quadrants": quadrants,
    }))
    .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PortfolioQuery {
    pub org: Option<String>,
    pub capability: Option<String>,
    pub quadrant: Option<String>,
}

/// The portfolio's filters from a query (the pages and the API share it).
pub async fn filter(s: &AppState, scope: &Scope, q: &PortfolioQuery) -> Result<Filter, Failure> {
    let mut c = Collector::new();
    let org = match given(&q.org) {
        None => None,
        Some(slug) => c.take(super::cmdb::readable_org(s, scope, slug).await),
    };
    let quadrant = given(&q.quadrant).and_then(|v| c.take(Quadrant::parse(v)));
    c.finish()?;
    Ok(Filter {
        org,
        capability: given(&q.capability).map(str::to_owned),
        quadrant,
    })
}

async fn list_apps(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<PortfolioQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    let f = filter(&s, &scope, &q).await?;
    Ok(Json(json!({ "items": portfolio::list(&s.db, &scope, &f).await? })).into_response())
}

async fn redundancy(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    Ok(Json(json!({ "items": portfolio::redundancies(&s.db, &scope).await? })).into_response())
}

async fn retirements(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    Ok(Json(json!({ "items": portfolio::retirements(&s.db, &scope).await? })).into_response())
}

async fn get_app(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    let out = portfolio::get(&s.db, &scope, ci_id(&id)?).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub capability: Option<String>,
    /// A whole number, as a number or text.
    pub users: Option<Value>,
    /// Dollars, as text: `"12500.00"`.
    pub annual_cost: Option<String>,
    pub contract_end: Option<String>,
    pub support_end: Option<String>,
    /// Question id → 1..5 (see `/api/v1/portfolio/questionnaire`).
    pub answers: Option<Map<String, Value>>,
    pub retire_by: Option<String>,
    pub replacement_id: Option<String>,
    pub plan: Option<String>,
}

fn date(c: &mut Collector, field: &str, raw: &Option<String>) -> Option<Date> {
    let v = given(raw)?;
    c.take(v.parse::<Date>().map_err(|_| {
        FieldError::new(
            field,
            format!("{v:?} is not a date (write it like 2027-06-30)"),
        )
    }))
}

/// A portfolio record from its fields (a PUT: what is not given is empty).
pub fn parse_app(raw: &RawApp) -> Result<AppDraft, Failure> {
    let mut c = Collector::new();
    let users = match &raw.users {
        None | Some(Value::Null) => 0,
        Some(v) => {
            let t = match v {
                Value::String(s) => s.trim().replace(',', ""),
                other => other.to_string(),
            };
            if t.is_empty() {
                0
            } else {
                match t.parse::<i64>() {
                    Ok(n) if (0..=10_000_000).contains(&n) => n,
                    _ => {
                        c.push(FieldError::new(
                            "users",
                            format!("{t:?} is not a whole number of people from 0 to 10,000,000"),
                        ));
                        0
                    }
                }
            }
        }
    };
    let annual_cost_cents = match given(&raw.annual_cost) {
        None => 0,
        Some(v) => c.take(dollars("annual_cost", v, MAX_CENTS)).unwrap_or(0),
    };
    let answers = match &raw.answers {
        None => Default::default(),
        Some(a) => match check_answers(a) {
            Ok(a) => a,
            Err(errs) => {
                for e in errs {
                    c.push(e);
                }
                Default::default()
            }
        },
    };
    let contract_end = date(&mut c, "contract_end", &raw.contract_end);
    let support_end = date(&mut c, "support_end", &raw.support_end);
    let retire_by = date(&mut c, "retire_by", &raw.retire_by);
    let replacement_id = given(&raw.replacement_id).and_then(|v| {
        c.take(
            v.parse::<CiId>()
                .map_err(|_| FieldError::new("replacement_id", "is not an id")),
        )
    });
    let plan = c
        .take(optional_text("plan", raw.plan.as_deref(), 2_000))
        .flatten()
        .unwrap_or_default();
    c.finish()?;
    Ok(AppDraft {
        capability: given(&raw.capability).map(str::to_owned),
        users,
        annual_cost_cents,
        contract_end,
        support_end,
        answers,
        retire_by,
        replacement_id,
        plan,
    })
}

/// Saves a portfolio record (the page and the API share it).
pub async fn save(
    s: &AppState,
    p: &Principal,
    id: CiId,
    version: Option<i64>,
    raw: &RawApp,
) -> Result<portfolio::PortfolioApp, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let read = p.require(Permission::CmdbRead)?;
    let d = parse_app(raw)?;
    Ok(portfolio::save(&s.db, &read, &manage, &p.actor(), id, version, &d).await?)
}

async fn save_app(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawApp>,
) -> ApiResult<Response> {
    let out = save(&s, &p, ci_id(&id)?, if_match(&headers)?, &raw).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}
