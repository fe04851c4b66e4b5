//! Organisations: list, create, read, edit settings, deactivate and reactivate.

use super::entity;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;
use domain::tenancy::OrgKind;
use domain::tenancy::drafts::{OrgDraft, RawOrg};
use domain::tenancy::proposals::{self, DecisionDraft, ProposalDraft, RawDecision, RawProposal};
use serde::Deserialize;
use store::tenancy::orgs;

use crate::AppState;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/orgs",
        "List the organisations you can see",
        "org-read",
        list_orgs,
    )
    .post(
        "/api/v1/orgs",
        "Create a member organisation",
        "org-manage",
        create,
    )
    .get(
        "/api/v1/orgs/{slug}",
        "Read an organisation and its settings",
        "org-read",
        read,
    )
    .patch(
        "/api/v1/orgs/{slug}",
        "Edit an organisation (settings: org-settings-write; name, kind and the hub-owned population: org-manage — members propose a population change instead)",
        "org-settings-write",
        update,
    )
    .get(
        "/api/v1/orgs/{slug}/proposals",
        "Proposed changes to the organisation's hub-owned figures (its population), newest first",
        "org-read",
        org_proposals,
    )
    .post(
        "/api/v1/orgs/{slug}/proposals",
        "Propose a change to a hub-owned figure ({\"field\": \"population\", \"value\": 15700, \"reason\": …, \"source\": …}); the hub decides",
        "org-settings-write",
        create_proposal,
    )
    .get(
        "/api/v1/proposals",
        "Proposed changes of the organisations you can see (?status=pending)",
        "org-read",
        list_proposals,
    )
    .post(
        "/api/v1/proposals/{id}/decision",
        "Accept or reject a proposed change ({\"decision\": \"accept\"|\"reject\", \"note\": …}); accepting updates the organisation",
        "org-manage",
        decide_proposal,
    )
    .post(
        "/api/v1/orgs/{slug}/deactivate",
        "Deactivate a member",
        "org-manage",
        deactivate,
    )
    .post(
        "/api/v1/orgs/{slug}/reactivate",
        "Reactivate a member",
        "org-manage",
        reactivate,
    )
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct OrgQuery {
    pub q: Option<String>,
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
    p: Principal,
    ApiQuery(q): ApiQuery<OrgQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::OrgRead)?;
    let page = orgs::list_docs(&s.db, &scope, &q.filter()?, &q.page()?).await?;
    Ok(super::list_raw(page))
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawOrg>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::OrgManage)?;
    let draft = OrgDraft::parse(&raw)?;
    let org = orgs::create_member(&s.db, &scope, &p.actor(), &draft).await?;
    Ok(entity(StatusCode::CREATED, org.version, &org))
}

async fn read(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::OrgRead)?;
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    Ok(entity(StatusCode::OK, org.version, &org))
}

/// Applies an edit for a person: settings need `org-settings-write` there; renaming or changing the kind
/// needs `org-manage`.
pub async fn apply_edit(
    s: &AppState,
    p: &Principal,
    slug: &str,
    version: Option<i64>,
    raw: &RawOrg,
) -> Result<orgs::Org, Failure> {
    let scope = p.require(Permission::OrgSettingsWrite)?;
    let manage = p.scope(Permission::OrgManage);
    let org = orgs::update(&s.db, &scope, &p.actor(), slug, version, |current| {
        let touches_identity = raw
            .name
            .as_deref()
            .is_some_and(|n| n.trim() != current.name)
            || raw
                .kind
                .as_deref()
                .is_some_and(|k| k.trim() != current.kind.as_str());
        if touches_identity && !manage.contains(current.id) {
            return Err(store::StoreError::Forbidden);
        }
        let edited = OrgDraft::edit(current.draft(), raw)?;
        // The figures invoices are computed from are the hub's record: a member proposes a change instead.
        if let Some(field) = proposals::hub_owned_change(&current.draft(), &edited)
            && !manage.contains(current.id)
        {
            return Err(
                domain::Invalid(vec![proposals::refusal(field, current.slug.as_str())]).into(),
            );
        }
        Ok(edited)
    })
    .await?;
    Ok(org)
}

async fn update(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawOrg>,
) -> ApiResult<Response> {
    let org = apply_edit(&s, &p, &slug, if_match(&headers)?, &raw).await?;
    Ok(entity(StatusCode::OK, org.version, &org))
}

/// Deactivates or reactivates a member: for the API and the settings page alike.
pub async fn set_org_active(
    s: &AppState,
    p: &Principal,
    slug: &str,
    version: Option<i64>,
    active: bool,
) -> Result<orgs::Org, Failure> {
    let scope = p.require(Permission::OrgManage)?;
    Ok(orgs::set_active(&s.db, &scope, &p.actor(), slug, version, active).await?)
}

async fn deactivate(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let org = set_org_active(&s, &p, &slug, if_match(&headers)?, false).await?;
    Ok(entity(StatusCode::OK, org.version, &org))
}

async fn reactivate(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let org = set_org_active(&s, &p, &slug, if_match(&headers)?, true).await?;
    Ok(entity(StatusCode::OK, org.version, &org))
}

/// Records a member's proposed change: for the API and the settings page alike.
pub async fn propose(
    s: &AppState,
    p: &Principal,
    slug: &str,
    raw: &RawProposal,
) -> Result<store::tenancy::proposals::Proposal, Failure> {
    let scope = p.require(Permission::OrgSettingsWrite)?;
    Ok(
        store::tenancy::proposals::propose(&s.db, &scope, &p.actor(), slug, |org| {
            Ok(ProposalDraft::parse(raw, &org.draft())?)
        })
        .await?,
    )
}

/// The hub's decision on a proposal: for the API and the pages alike.
pub async fn decide(
    s: &AppState,
    p: &Principal,
    id: &str,
    raw: &RawDecision,
) -> Result<store::tenancy::proposals::Proposal, Failure> {
    let scope = p.require(Permission::OrgManage)?;
    let d = DecisionDraft::parse(raw)?;
    Ok(
        store::tenancy::proposals::decide(&s.db, &scope, &p.actor(), id, &d)
            .await?
            .0,
    )
}

async fn org_proposals(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::OrgRead)?;
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
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn create_proposal(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    ApiJson(raw): ApiJson<RawProposal>,
) -> ApiResult<Response> {
    let made = propose(&s, &p, &slug, &raw).await?;
    Ok((StatusCode::CREATED, Json(made)).into_response())
}

#[derive(Debug, Deserialize, Default)]
#[serde(deny_unknown_fields)]
pub struct ProposalQuery {
    pub status: Option<String>,
}

async fn list_proposals(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ProposalQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::OrgRead)?;
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
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn decide_proposal(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawDecision>,
) -> ApiResult<Response> {
    Ok(Json(decide(&s, &p, &id, &raw).await?).into_response())
}
