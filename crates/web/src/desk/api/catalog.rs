//! The service catalog over JSON: services and their request items.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::{RawItem, RawService, parse_item, parse_service};
use crate::desk::ops::desk::{id_field, invalid};
use crate::error::{ApiResult, Failure};
use crate::extract::parse_path_id;
use crate::extract::{ApiAmend, ApiCreate, ApiJson, ApiQuery, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Needs, Table};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use domain::authz::Permission;
use domain::ids::ServiceId;
use serde::Deserialize;
use store::desk::catalog::{self};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/services",
        "List the service catalog's services",
        Needs::SignedIn,
        list_services,
    )
    .post(
        "/api/v1/services",
        "Add a service to the catalog",
        Needs::Perm(Permission::CatalogManage),
        create_service,
    )
    .get(
        "/api/v1/services/{id}",
        "Read a service",
        Needs::SignedIn,
        read_service,
    )
    .patch(
        "/api/v1/services/{id}",
        "Edit a service",
        Needs::Perm(Permission::CatalogManage),
        update_service,
    )
    .get(
        "/api/v1/catalog-items",
        "List orderable catalog items (with their request forms)",
        Needs::SignedIn,
        list_items,
    )
    .post(
        "/api/v1/catalog-items",
        "Add a catalog item",
        Needs::Perm(Permission::CatalogManage),
        create_item,
    )
    .get(
        "/api/v1/catalog-items/{id}",
        "Read a catalog item",
        Needs::SignedIn,
        read_item,
    )
    .patch(
        "/api/v1/catalog-items/{id}",
        "Edit a catalog item",
        Needs::Perm(Permission::CatalogManage),
        update_item,
    )
}

async fn list_services(State(s): State<AppState>, p: Principal) -> ApiResult<Answer<impl Body>> {
    let all = !p.scope(Permission::CatalogManage).is_empty();
    let items = catalog::list_services(&s.db, !all).await?;
    Ok(Answer::items(items))
}

async fn create_service(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawService>,
) -> ApiResult<Answer<impl Body>> {
    let d = parse_service(&raw, None)?;
    let svc = catalog::create_service(&s.db, &p.actor(), &d).await?;
    Ok(Answer::entity(StatusCode::CREATED, svc.version, &svc))
}

async fn read_service(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let svc = catalog::get_service(&s.db, parse_path_id(&id)?).await?;
    if !svc.active && p.scope(Permission::CatalogManage).is_empty() {
        return Err(Failure::NotFound.into());
    }
    Ok(Answer::entity(StatusCode::OK, svc.version, &svc))
}

async fn update_service(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawService>,
) -> ApiResult<Answer<impl Body>> {
    let id: ServiceId = parse_path_id(&id)?;
    let before = catalog::get_service(&s.db, id).await?;
    let d = parse_service(&raw, Some(before.draft()))?;
    let svc = catalog::update_service(&s.db, &p.actor(), id, if_match(&headers)?, &d).await?;
    Ok(Answer::entity(StatusCode::OK, svc.version, &svc))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
struct ItemQuery {
    /// A service's id: only its items.
    #[schemars(extend("format" = "uuid"))]
    service: Option<String>,
}

async fn list_items(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> ApiResult<Answer<impl Body>> {
    let all = !p.scope(Permission::CatalogManage).is_empty();
    let service = match q.service.as_deref() {
        Some(sid) => {
            Some(id_field::<ServiceId>("service", sid).map_err(|e| Failure::Invalid(vec![e]))?)
        }
        None => None,
    };
    let items = catalog::list_items(&s.db, service, !all).await?;
    Ok(Answer::items(items))
}

async fn create_item(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawItem>,
) -> ApiResult<Answer<impl Body>> {
    let d = parse_item(&raw, None)?;
    let i = catalog::create_item(&s.db, &p.actor(), &d).await?;
    Ok(Answer::entity(StatusCode::CREATED, i.version, &i))
}

async fn read_item(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let i = catalog::get_item(&s.db, parse_path_id(&id)?).await?;
    if !i.active && p.scope(Permission::CatalogManage).is_empty() {
        return Err(Failure::NotFound.into());
    }
    Ok(Answer::entity(StatusCode::OK, i.version, &i))
}

async fn update_item(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiAmend(raw): ApiAmend<RawItem>,
) -> ApiResult<Answer<impl Body>> {
    let id = parse_path_id(&id)?;
    let before = catalog::get_item(&s.db, id).await?;
    if raw.service_id.is_some() {
        return Err(invalid(
            "service_id",
            "an item cannot move to another service; add a new item there",
        )
        .into());
    }
    let d = parse_item(&raw, Some(before.draft()))?;
    let i = catalog::update_item(&s.db, &p.actor(), id, if_match(&headers)?, &d).await?;
    Ok(Answer::entity(StatusCode::OK, i.version, &i))
}
