//! The application portfolio over the API: the capability taxonomy, the questionnaire, each application's
//! portfolio record and TIME quadrant, the redundancy finder and the retirement plans.

use super::ops::{PortfolioQuery, RawApp, filter, save};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::ids::CiId;
use domain::portfolio::{QUESTIONS, Quadrant};
use domain::validation::{Collector, optional_text, text};
use serde::Deserialize;
use serde_json::{Value, json};
use store::portfolio::{self, Capability};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/capabilities",
        "The shared taxonomy of business capabilities (permitting, payroll, GIS, …)",
        Needs::Perm(Permission::CmdbRead),
        list_capabilities,
    )
    .post(
        "/api/v1/capabilities",
        "Add a capability to the taxonomy ({\"slug\", \"name\", \"description\"})",
        Needs::Hub(Permission::CmdbManage),
        create_capability,
    )
    .get(
        "/api/v1/portfolio/questionnaire",
        "The questions that score an application's business value and technical condition (answers 1 to 5)",
        Needs::Perm(Permission::CmdbRead),
        questionnaire,
    )
    .get(
        "/api/v1/portfolio",
        "The applications you may see with their portfolio records (?org=, ?capability=, ?quadrant=tolerate|invest|migrate|eliminate)",
        Needs::Perm(Permission::CmdbRead),
        list_apps,
    )
    .get(
        "/api/v1/portfolio/redundancy",
        "Capabilities served by several applications across departments and members: combined cost, the product to consolidate onto, the candidates",
        Needs::Perm(Permission::CmdbRead),
        redundancy,
    )
    .get(
        "/api/v1/portfolio/retirements",
        "Applications with a retirement plan, soonest first",
        Needs::Perm(Permission::CmdbRead),
        retirements,
    )
    .get(
        "/api/v1/portfolio/{id}",
        "An application's portfolio record (id: the application's CMDB item)",
        Needs::Perm(Permission::CmdbRead),
        get_app,
    )
    .put(
        "/api/v1/portfolio/{id}",
        "Set an application's portfolio record: capability, users, annual cost, contract and support end, answers, retirement plan (If-Match)",
        Needs::Perm(Permission::CmdbManage),
        save_app,
    )
}

fn ci_id(raw: &str) -> Result<CiId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

async fn list_capabilities(State(s): State<AppState>) -> ApiResult<Response> {
    Ok(Json(json!({ "items": portfolio::capabilities(&s.db).await? })).into_response())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCapability {
    #[schemars(
        regex(pattern = domain::tenancy::SLUG_PATTERN),
        length(min = 2, max = 63)
    )]
    pub slug: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
}

async fn create_capability(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCapability>,
) -> ApiResult<Response> {
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

async fn questionnaire() -> ApiResult<Response> {
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

async fn list_apps(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<PortfolioQuery>,
) -> ApiResult<Response> {
    let f = filter(&s, &scope, &q).await?;
    Ok(Json(json!({ "items": portfolio::list(&s.db, &scope, &f).await? })).into_response())
}

async fn redundancy(State(s): State<AppState>, Granted(scope): Granted) -> ApiResult<Response> {
    Ok(Json(json!({ "items": portfolio::redundancies(&s.db, &scope).await? })).into_response())
}

async fn retirements(State(s): State<AppState>, Granted(scope): Granted) -> ApiResult<Response> {
    Ok(Json(json!({ "items": portfolio::retirements(&s.db, &scope).await? })).into_response())
}

async fn get_app(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let out = portfolio::get(&s.db, &scope, ci_id(&id)?).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn save_app(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawApp>,
) -> ApiResult<Answer<impl Body>> {
    let out = save(&s, &p, ci_id(&id)?, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}
