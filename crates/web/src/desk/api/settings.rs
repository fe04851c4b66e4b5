//! Desk settings over JSON: service-level policies, the desk settings, mail templates and teams.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::template_event;
use crate::desk::ops::desk::{
    RawPolicy, RawSettings, RawTeam, RawTemplate, add_team, apply_settings, parse_policy,
    save_template,
};
use crate::error::ApiResult;
use crate::extract::parse_path_id;
use crate::extract::{ApiCreate, ApiJson, Segment, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::authz::Permission;
use store::desk::catalog::{self};
use store::desk::notify::Event;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/sla-policies",
        "List SLA policies",
        Needs::SignedIn,
        list_policies,
    )
    .post(
        "/api/v1/sla-policies",
        "Add an SLA policy",
        Needs::Perm(Permission::CatalogManage),
        create_policy,
    )
    .get(
        "/api/v1/sla-policies/{id}",
        "Read an SLA policy",
        Needs::SignedIn,
        read_policy,
    )
    .patch(
        "/api/v1/sla-policies/{id}",
        "Edit an SLA policy (tickets already open keep their targets)",
        Needs::Perm(Permission::CatalogManage),
        update_policy,
    )
    .get(
        "/api/v1/desk/settings",
        "The desk's settings: priority matrix, reopen window, attachment limit, escalation team",
        Needs::SignedIn,
        read_settings,
    )
    .put(
        "/api/v1/desk/settings",
        "Change the desk's settings (fields left out stay as they are)",
        Needs::Perm(Permission::CatalogManage),
        put_settings,
    )
    .get(
        "/api/v1/mail-templates",
        "Every notification's template (the hub's own or the built-in), with the placeholders",
        Needs::Perm(Permission::CatalogManage),
        list_templates,
    )
    .put(
        "/api/v1/mail-templates/{event}",
        "Write the hub's own wording of a notification",
        Needs::Perm(Permission::CatalogManage),
        put_template,
    )
    .delete(
        "/api/v1/mail-templates/{event}",
        "Go back to the built-in wording of a notification",
        Needs::Perm(Permission::CatalogManage),
        reset_template,
    )
    .post(
        "/api/v1/teams",
        "Add an assignment group (members by email: agents of the hub)",
        Needs::Perm(Permission::CatalogManage),
        create_team,
    )
    .get(
        "/api/v1/teams",
        "List the desk's assignment groups",
        Needs::SignedIn,
        list_teams,
    )
}

async fn list_policies(State(s): State<AppState>, _p: Principal) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::items(catalog::list_policies(&s.db).await?))
}

async fn create_policy(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawPolicy>,
) -> ApiResult<Answer<impl Body>> {
    let (name, coverage, targets) = parse_policy(&raw, None)?;
    let pol = catalog::create_policy(&s.db, &p.actor(), &name, coverage, &targets).await?;
    Ok(Answer::entity(StatusCode::CREATED, pol.version, &pol))
}

async fn read_policy(
    State(s): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let pol = catalog::get_policy(&s.db, parse_path_id(&id)?).await?;
    Ok(Answer::entity(StatusCode::OK, pol.version, &pol))
}

async fn update_policy(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawPolicy>,
) -> ApiResult<Answer<impl Body>> {
    let before = catalog::get_policy(&s.db, parse_path_id(&id)?).await?;
    let (name, coverage, targets) = parse_policy(&raw, Some(&before))?;
    let pol = catalog::update_policy(
        &s.db,
        &p.actor(),
        before.id,
        if_match(&headers)?,
        &name,
        coverage,
        &targets,
    )
    .await?;
    Ok(Answer::entity(StatusCode::OK, pol.version, &pol))
}

async fn read_settings(State(s): State<AppState>, _p: Principal) -> ApiResult<Answer<impl Body>> {
    let st = catalog::settings(&s.db).await?;
    Ok(Answer::entity(StatusCode::OK, st.version, &st))
}

async fn put_settings(
    State(s): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawSettings>,
) -> ApiResult<Answer<impl Body>> {
    let st = apply_settings(&s, &p, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, st.version, &st))
}

async fn list_templates(State(s): State<AppState>) -> ApiResult<Response> {
    let items = store::desk::templates::list(&s.db).await?;
    let placeholders: Vec<_> = domain::desk::template::PLACEHOLDERS
        .iter()
        .map(|(name, meaning)| serde_json::json!({ "name": name, "meaning": meaning }))
        .collect();
    Ok(Json(serde_json::json!({ "items": items, "placeholders": placeholders })).into_response())
}

async fn put_template(
    State(s): State<AppState>,
    p: Principal,
    Path(Segment(event, _)): Path<Segment<Event>>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawTemplate>,
) -> ApiResult<Answer<impl Body>> {
    let t = save_template(&s, &p, &event, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, t.version, &t))
}

async fn reset_template(
    State(s): State<AppState>,
    p: Principal,
    Path(Segment(event, _)): Path<Segment<Event>>,
) -> ApiResult<Answer<impl Body>> {
    let t = store::desk::templates::reset(&s.db, &p.actor(), template_event(&event)?).await?;
    Ok(Answer::ok(&t))
}

async fn create_team(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawTeam>,
) -> ApiResult<Answer<impl Body>> {
    let t = add_team(&s, &p, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, t.version, &t))
}

async fn list_teams(State(s): State<AppState>, _p: Principal) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::items(catalog::list_teams(&s.db).await?))
}
