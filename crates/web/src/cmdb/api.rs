//! The CMDB over the API: configuration items, their relationships, history and impact analysis.

use super::ops::{
    CiQuery, ExportQuery, RawBulk, RawCi, RawLink, RawRelation, add_relation, bulk_change,
    change_ci, depth, export_file, filter, import_file, link, record_ci,
};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiCreate, ApiJson, ApiQuery, PageParams, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;
use domain::cmdb::CiType;
use domain::ids::CiId;
use serde::Deserialize;
use serde_json::Value;
use store::cmdb::{self};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/ci-types",
        "The types of configuration items and the attributes each may carry",
        Needs::Perm(Permission::CmdbRead),
        types,
    )
    .get(
        "/api/v1/cis",
        "List configuration items (by member, type, status, part of the name)",
        Needs::Perm(Permission::CmdbRead),
        list_cis,
    )
    .post(
        "/api/v1/cis",
        "Record a configuration item",
        Needs::Perm(Permission::CmdbManage),
        create_ci,
    )
    .post(
        "/api/v1/cis/import",
        "Import items from CSV (org,type,name[,status][,attribute columns]); ?dry_run=true checks without storing; a file with a bad row imports nothing; items found by owner, type and name are updated",
        Needs::Perm(Permission::CmdbManage),
        import_csv,
    )
    .get(
        "/api/v1/cis/export",
        "Items as CSV in the import's columns (?type=): those you may change, or all you see if you only read",
        Needs::Perm(Permission::CmdbRead),
        export_csv,
    )
    .post(
        "/api/v1/cis/bulk",
        "Set the status of many items at once ({\"ids\": [...], \"status\": \"retired\"}), all or nothing",
        Needs::Perm(Permission::CmdbManage),
        bulk,
    )
    .get(
        "/api/v1/cis/{id}",
        "A configuration item",
        Needs::Perm(Permission::CmdbRead),
        get_ci,
    )
    .patch(
        "/api/v1/cis/{id}",
        "Change a configuration item (If-Match)",
        Needs::Perm(Permission::CmdbManage),
        update_ci,
    )
    .get(
        "/api/v1/cis/{id}/relations",
        "An item's relationships, both ways",
        Needs::Perm(Permission::CmdbRead),
        list_relations,
    )
    .post(
        "/api/v1/cis/{id}/relations",
        "Relate the item to another (runs_on, depends_on, located_at, connected_to, backs_up_to)",
        Needs::Perm(Permission::CmdbManage),
        relate,
    )
    .delete(
        "/api/v1/ci-relations/{id}",
        "Remove a relationship",
        Needs::Perm(Permission::CmdbManage),
        unrelate,
    )
    .get(
        "/api/v1/cis/{id}/impact",
        "Impact analysis: everything that stops working when this item does (?depth=1..10, default 5)",
        Needs::Perm(Permission::CmdbRead),
        impact,
    )
    .get(
        "/api/v1/tickets/{number}/cis",
        "The configuration items a ticket is about",
        Needs::Perm(Permission::TicketRead),
        ticket_items,
    )
    .post(
        "/api/v1/tickets/{number}/cis",
        "Link a configuration item of the ticket's organisation (or the hub's) to a ticket",
        Needs::Perm(Permission::TicketWork),
        link_ticket,
    )
    .delete(
        "/api/v1/tickets/{number}/cis/{id}",
        "Unlink a configuration item from a ticket",
        Needs::Perm(Permission::TicketWork),
        unlink_ticket,
    )
    .get(
        "/api/v1/cis/{id}/history",
        "An item's history, newest first",
        Needs::Perm(Permission::CmdbRead),
        history,
    )
}

fn path_id(raw: &str) -> Result<CiId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

async fn types() -> ApiResult<Response> {
    let items: Vec<Value> = CiType::ALL
        .iter()
        .map(|t| {
            serde_json::json!({
                "type": t.as_str(),
                "label": t.label(),
                "attributes": t.attributes().iter().map(|a| serde_json::json!({
                    "name": a.name,
                    "label": a.label,
                    "kind": match a.kind {
                        domain::cmdb::AttrKind::Text => "text",
                        domain::cmdb::AttrKind::Count => "count",
                        domain::cmdb::AttrKind::Date => "date",
                    },
                })).collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn list_cis(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<CiQuery>,
) -> ApiResult<Answer<impl Body>> {
    let f = filter(&s, &scope, &q).await?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    Ok(Answer::page(
        cmdb::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

async fn create_ci(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawCi>,
) -> ApiResult<Answer<impl Body>> {
    let out = record_ci(&s, &p, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn get_ci(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let out = cmdb::get(&s.db, &scope, path_id(&id)?).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn update_ci(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawCi>,
) -> ApiResult<Answer<impl Body>> {
    let out = change_ci(&s, &p, path_id(&id)?, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn list_relations(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let items = cmdb::relations(&s.db, &scope, path_id(&id)?).await?;
    Ok(Answer::items(items))
}

async fn relate(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawRelation>,
) -> ApiResult<Answer<impl Body>> {
    let out = add_relation(&s, &p, path_id(&id)?, &raw).await?;
    Ok(Answer::new(StatusCode::CREATED, &out))
}

async fn unrelate(
    State(s): State<AppState>,
    p: Principal,
    Granted(manage): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let read = p.require(Permission::CmdbRead)?;
    cmdb::unrelate(&s.db, &read, &manage, &p.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ImpactQuery {
    pub depth: Option<String>,
}

async fn impact(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<ImpactQuery>,
) -> ApiResult<Answer<impl Body>> {
    let out = cmdb::impact_of(&s.db, &scope, path_id(&id)?, depth(&q.depth)?).await?;
    Ok(Answer::ok(&out))
}

async fn history(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let view = p.ticket_view().ok();
    let items = cmdb::history(&s.db, &scope, view.as_ref(), path_id(&id)?).await?;
    Ok(Answer::items(items))
}

async fn import_csv(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<crate::extract::ImportQuery>,
    crate::extract::CsvFile(body): crate::extract::CsvFile,
) -> ApiResult<Answer<impl Body>> {
    let report = import_file(&s, &p, &body, q.dry_run.unwrap_or(false)).await?;
    Ok(Answer::ok(&report))
}

async fn export_csv(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ExportQuery>,
) -> ApiResult<Response> {
    Ok(export_file(&s, &p, &q).await?)
}

// ---------------------------------------------------------------------------------------------------
// Tickets about an item

async fn ticket_items(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let view = p.ticket_view()?;
    let number = crate::extract::parse_number(&number)?;
    let items = cmdb::ticket_items(&s.db, &view, &p.scope(Permission::CmdbRead), number).await?;
    Ok(Answer::items(items))
}

async fn link_ticket(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawLink>,
) -> ApiResult<Answer<impl Body>> {
    let number = crate::extract::parse_number(&number)?;
    let out = link(&s, &p, number, &raw).await?;
    Ok(Answer::new(StatusCode::CREATED, &out))
}

async fn unlink_ticket(
    State(s): State<AppState>,
    p: Principal,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let view = p.ticket_view()?;
    let number = crate::extract::parse_number(&number)?;
    cmdb::unlink_ticket(
        &s.db,
        &view,
        &p.scope(Permission::CmdbRead),
        &p.actor(),
        number,
        path_id(&id)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn bulk(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawBulk>,
) -> ApiResult<Response> {
    let changed = bulk_change(&s, &p, &raw).await?;
    Ok(Json(serde_json::json!({ "changed": changed })).into_response())
}
