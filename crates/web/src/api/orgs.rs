//! Organisations: list, create, read, edit settings, deactivate and reactivate.

use super::entity;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::routes::Table;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use domain::authz::Permission;
use domain::tenancy::OrgKind;
use domain::tenancy::drafts::{OrgDraft, RawOrg};
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
        "Edit an organisation (settings: org-settings-write; name and kind: org-manage)",
        "org-settings-write",
        update,
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
        Ok(OrgDraft::edit(current.draft(), raw)?)
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
