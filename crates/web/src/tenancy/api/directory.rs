//! Departments and sites of an organisation.

use crate::AppState;
use crate::auth::Principal;
use crate::error::ApiResult;
use crate::extract::parse_path_id;
use crate::extract::{ApiCreate, ApiJson, ApiQuery, PageParams, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;
use domain::ids::{DepartmentId, SiteId};
use domain::tenancy::drafts::{RawDepartment, RawSite, parse_department, parse_site};
use store::tenancy::{directory, orgs};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/orgs/{slug}/departments",
        "List an organisation's departments",
        Needs::Perm(Permission::DirectoryRead),
        list_departments,
    )
    .post(
        "/api/v1/orgs/{slug}/departments",
        "Add a department",
        Needs::Perm(Permission::DirectoryWrite),
        create_department,
    )
    .get(
        "/api/v1/departments/{id}",
        "Read a department",
        Needs::Perm(Permission::DirectoryRead),
        read_department,
    )
    .patch(
        "/api/v1/departments/{id}",
        "Rename a department",
        Needs::Perm(Permission::DirectoryWrite),
        update_department,
    )
    .delete(
        "/api/v1/departments/{id}",
        "Remove a department",
        Needs::Perm(Permission::DirectoryWrite),
        delete_department,
    )
    .get(
        "/api/v1/orgs/{slug}/sites",
        "List an organisation's sites",
        Needs::Perm(Permission::DirectoryRead),
        list_sites,
    )
    .post(
        "/api/v1/orgs/{slug}/sites",
        "Add a site",
        Needs::Perm(Permission::DirectoryWrite),
        create_site,
    )
    .get(
        "/api/v1/sites/{id}",
        "Read a site",
        Needs::Perm(Permission::DirectoryRead),
        read_site,
    )
    .patch(
        "/api/v1/sites/{id}",
        "Edit a site",
        Needs::Perm(Permission::DirectoryWrite),
        update_site,
    )
    .delete(
        "/api/v1/sites/{id}",
        "Remove a site",
        Needs::Perm(Permission::DirectoryWrite),
        delete_site,
    )
}

async fn list_departments(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    Ok(Answer::page(
        directory::list_departments(&s.db, &scope, org.id, &q.to_request()?).await?,
    ))
}

async fn create_department(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    ApiJson(raw): ApiJson<RawDepartment>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let name = parse_department(&raw)?;
    let d = directory::create_department(&s.db, &scope, &p.actor(), org.id, &name).await?;
    Ok(Answer::entity(StatusCode::CREATED, d.version, &d))
}

async fn read_department(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let d = directory::get_department(&s.db, &scope, parse_path_id::<DepartmentId>(&id)?).await?;
    Ok(Answer::entity(StatusCode::OK, d.version, &d))
}

async fn update_department(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawDepartment>,
) -> ApiResult<Answer<impl Body>> {
    let name = parse_department(&raw)?;
    let d = directory::rename_department(
        &s.db,
        &scope,
        &p.actor(),
        parse_path_id(&id)?,
        if_match(&headers)?,
        &name,
    )
    .await?;
    Ok(Answer::entity(StatusCode::OK, d.version, &d))
}

async fn delete_department(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    directory::delete_department(
        &s.db,
        &scope,
        &p.actor(),
        parse_path_id(&id)?,
        if_match(&headers)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_sites(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    ApiQuery(q): ApiQuery<PageParams>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    Ok(Answer::page(
        directory::list_sites(&s.db, &scope, org.id, &q.to_request()?).await?,
    ))
}

async fn create_site(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(slug): Path<String>,
    ApiCreate(raw): ApiCreate<RawSite>,
) -> ApiResult<Answer<impl Body>> {
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let draft = parse_site(&raw)?;
    let site = directory::create_site(&s.db, &scope, &p.actor(), org.id, &draft).await?;
    Ok(Answer::entity(StatusCode::CREATED, site.version, &site))
}

async fn read_site(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let site = directory::get_site(&s.db, &scope, parse_path_id::<SiteId>(&id)?).await?;
    Ok(Answer::entity(StatusCode::OK, site.version, &site))
}

async fn update_site(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawSite>,
) -> ApiResult<Answer<impl Body>> {
    let id: SiteId = parse_path_id(&id)?;
    // A PATCH may send only some fields: fill the rest from the current site before validating.
    let current = directory::get_site(&s.db, &scope, id).await?;
    let merged = RawSite {
        name: raw.name.or(Some(current.name)),
        address: raw.address.or(Some(current.address)),
        kind: raw.kind.or(Some(current.kind.as_str().to_owned())),
    };
    let draft = parse_site(&merged)?;
    let site =
        directory::update_site(&s.db, &scope, &p.actor(), id, if_match(&headers)?, &draft).await?;
    Ok(Answer::entity(StatusCode::OK, site.version, &site))
}

async fn delete_site(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    directory::delete_site(
        &s.db,
        &scope,
        &p.actor(),
        parse_path_id(&id)?,
        if_match(&headers)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawSite {
    const REQUIRED: &'static [&'static str] = &["name", "address", "kind"];
}
