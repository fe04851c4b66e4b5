//! Organisations: list, create, read, edit settings, deactivate and reactivate.

use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiAmend, ApiCreate, ApiJson, ApiQuery, PageParams, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use crate::tenancy::ops::orgs::{apply_edit, decide, propose, set_org_active};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::authz::Permission;
use domain::tenancy::OrgKind;
use domain::tenancy::drafts::{OrgDraft, RawOrg};
use domain::tenancy::proposals::{self, RawDecision, RawProposal};
use serde::Deserialize;
use store::tenancy::orgs;

use crate::AppState;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/orgs",
        "List the organisations you can see",
        Needs::Perm(Permission::OrgRead),
        list_orgs,
    )
    .post(
        "/api/v1/orgs",
        "Create a member organisation",
        Needs::Perm(Permission::OrgManage),
        create,
    )
    .get(
        "/api/v1/orgs/{slug}",
        "Read an organisation and its settings",
        Needs::Perm(Permission::OrgRead),
        read,
    )
    .patch(
        "/api/v1/orgs/{slug}",
        "Edit an organisation (settings: org-settings-write; name, kind and the hub-owned population: org-manage — members propose a population change instead)",
        Needs::Perm(Permission::OrgSettingsWrite),
        update,
    )
    .get(
        "/api/v1/orgs/{slug}/proposals",
        "Proposed changes to the organisation's hub-owned figures (its population), newest first",
        Needs::Perm(Permission::OrgRead),
        org_proposals,
    )
    .post(
        "/api/v1/orgs/{slug}/proposals",
        "Propose a change to a hub-owned figure ({\"field\": \"population\", \"value\": 15700, \"reason\": …, \"source\": …}); the hub decides",
        Needs::Perm(Permission::OrgSettingsWrite),
        create_proposal,
    )
    .get(
        "/api/v1/proposals",
        "Proposed changes of the organisations you can see (?status=pending)",
        Needs::Perm(Permission::OrgRead),
        list_proposals,
    )
    .post(
        "/api/v1/proposals/{id}/decision",
        "Accept or reject a proposed change ({\"decision\": \"accept\"|\"reject\", \"note\": …}); accepting updates the organisation",
        Needs::Perm(Permission::OrgManage),
        decide_proposal,
    )
    .post(
        "/api/v1/orgs/{slug}/deactivate",
        "Deactivate a member",
        Needs::Perm(Permission::OrgManage),
        deactivate,
    )
    .post(
        "/api/v1/orgs/{slug}/reactivate",
        "Reactivate a member",
        Needs::Perm(Permission::OrgManage),
        reactivate,
    )
}

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    pub q: Option<String>,
    #[schemars(with = "Option<domain::tenancy::OrgKind>")]
    pub kind: Option<String>,
    pub active: Option<bool>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl OrgQuery {
    pub fn filter(&self) -> Result<orgs::Filter, Failure> {
        let kind = match self.kind.as_deref().filter(|k| !k.is_empty()) {
            Some(k) => Some(OrgKind::parse(k).map_err(|e| Failure::Invalid(vec![e]))?),
            None => None,
        };
        Ok(orgs::Filter {
            q: self.q.clone(),
            kind,
            active: self.active,
        })
    }

    pub fn page(&self) -> Result<store::page::PageRequest, Failure> {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .to_request()
    }
}

async fn list_orgs(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<OrgQuery>,
) -> ApiResult<Response> {
    let page = orgs::list_docs(&s.db, &scope, &q.filter()?, &q.page()?).await?;
    Ok(crate::json::list_raw(page))
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    ApiCreate(raw): ApiCreate<RawOrg>,
) -> ApiResult<Answer<impl Body>> {
    let draft = OrgDraft::parse(&raw)?;
    let org = orgs::create_member(&s.db, &scope, &p.actor(), &draft).await?;
    Ok(Answer::entity(StatusCode::CREATED, org.version, &org))
}

async fn read(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(slug): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    Ok(Answer::entity(StatusCode::OK, org.version, &org))
}

async fn update(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
    ApiAmend(raw): ApiAmend<RawOrg>,
) -> ApiResult<Answer<impl Body>> {
    let org = apply_edit(&s, &p, &slug, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, org.version, &org))
}

async fn deactivate(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Answer<impl Body>> {
    let org = set_org_active(&s, &p, &slug, if_match(&headers)?, false).await?;
    Ok(Answer::entity(StatusCode::OK, org.version, &org))
}

async fn reactivate(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Answer<impl Body>> {
    let org = set_org_active(&s, &p, &slug, if_match(&headers)?, true).await?;
    Ok(Answer::entity(StatusCode::OK, org.version, &org))
}

async fn org_proposals(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(slug): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let items = store::tenancy::proposals::list(
        &s.db,
        &scope,
        &store::tenancy::proposals::Filter {
            org: Some(org.id),
            status: None,
        },
    )
    .await?;
    Ok(Answer::items(items))
}

async fn create_proposal(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiJson(raw): ApiJson<RawProposal>,
) -> ApiResult<Answer<impl Body>> {
    let made = propose(&s, &p, &slug, &raw).await?;
    Ok(Answer::new(StatusCode::CREATED, &made))
}

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    #[schemars(with = "Option<domain::tenancy::proposals::Status>")]
    pub status: Option<String>,
}

async fn list_proposals(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<ProposalQuery>,
) -> ApiResult<Answer<impl Body>> {
    let status = match q.status.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        Some(v) => Some(proposals::Status::parse(v).map_err(|e| Failure::Invalid(vec![e]))?),
        None => None,
    };
    let items = store::tenancy::proposals::list(
        &s.db,
        &scope,
        &store::tenancy::proposals::Filter { org: None, status },
    )
    .await?;
    Ok(Answer::items(items))
}

async fn decide_proposal(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawDecision>,
) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::ok(&decide(&s, &p, &id, &raw).await?))
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawOrg {
    const REQUIRED: &'static [&'static str] = &["name", "kind"];
    const FIXED: &'static [&'static str] = &["slug"];
}
