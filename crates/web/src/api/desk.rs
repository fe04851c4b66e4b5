//! The service desk over the API: the catalog (services, catalog items, SLA policies, teams) and tickets
//! (list and queue filters, opening, working, comments and notes, approval, rating).

use super::directory::parse_path_id;
use super::{entity, list};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::catalog::{FormField, validate_form};
use domain::desk::{
    Approval, Coverage, Impact, Priority, SlaTargets, Source, Status, TicketKind, Urgency,
};
use domain::ids::{OrgId, ServiceId, TeamId, UserId};
use domain::tenancy::Email;
use domain::validation::{Collector, long_text, text};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use store::desk::catalog::{self, ItemDraft, ServiceDraft};
use store::desk::tickets::{self, Author, Changes, Filter, NewTicket, Openness, Sort};
use store::tenancy::{orgs, users};

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/services",
        "List the service catalog's services",
        "signed-in",
        list_services,
    )
    .post(
        "/api/v1/services",
        "Add a service to the catalog",
        "catalog-manage",
        create_service,
    )
    .get(
        "/api/v1/services/{id}",
        "Read a service",
        "signed-in",
        read_service,
    )
    .patch(
        "/api/v1/services/{id}",
        "Edit a service",
        "catalog-manage",
        update_service,
    )
    .get(
        "/api/v1/catalog-items",
        "List orderable catalog items (with their request forms)",
        "signed-in",
        list_items,
    )
    .post(
        "/api/v1/catalog-items",
        "Add a catalog item",
        "catalog-manage",
        create_item,
    )
    .get(
        "/api/v1/catalog-items/{id}",
        "Read a catalog item",
        "signed-in",
        read_item,
    )
    .patch(
        "/api/v1/catalog-items/{id}",
        "Edit a catalog item",
        "catalog-manage",
        update_item,
    )
    .get(
        "/api/v1/sla-policies",
        "List SLA policies",
        "signed-in",
        list_policies,
    )
    .post(
        "/api/v1/sla-policies",
        "Add an SLA policy",
        "catalog-manage",
        create_policy,
    )
    .get(
        "/api/v1/sla-policies/{id}",
        "Read an SLA policy",
        "signed-in",
        read_policy,
    )
    .patch(
        "/api/v1/sla-policies/{id}",
        "Edit an SLA policy (tickets already open keep their targets)",
        "catalog-manage",
        update_policy,
    )
    .get(
        "/api/v1/desk/settings",
        "The desk's settings: priority matrix, reopen window, attachment limit, escalation team",
        "signed-in",
        read_settings,
    )
    .put(
        "/api/v1/desk/settings",
        "Change the desk's settings (fields left out stay as they are)",
        "catalog-manage",
        put_settings,
    )
    .get(
        "/api/v1/mail-templates",
        "Every notification's template (the hub's own or the built-in), with the placeholders",
        "catalog-manage",
        list_templates,
    )
    .put(
        "/api/v1/mail-templates/{event}",
        "Write the hub's own wording of a notification",
        "catalog-manage",
        put_template,
    )
    .delete(
        "/api/v1/mail-templates/{event}",
        "Go back to the built-in wording of a notification",
        "catalog-manage",
        reset_template,
    )
    .post(
        "/api/v1/teams",
        "Add an assignment group (members by email: agents of the hub)",
        "catalog-manage",
        create_team,
    )
    .get(
        "/api/v1/teams",
        "List the desk's assignment groups",
        "signed-in",
        list_teams,
    )
    .get(
        "/api/v1/tickets",
        "List tickets (queues, filters, full-text search)",
        "ticket-read",
        list_tickets,
    )
    .post(
        "/api/v1/tickets",
        "Open a ticket",
        "ticket-submit",
        open_ticket,
    )
    .get(
        "/api/v1/tickets/{number}",
        "Read a ticket with its SLA",
        "ticket-read",
        read_ticket,
    )
    .patch(
        "/api/v1/tickets/{number}",
        "Work a ticket: status, assignment, priority, classification",
        "ticket-work",
        update_ticket,
    )
    .get(
        "/api/v1/tickets/{number}/comments",
        "A ticket's history: replies, notes (desk only) and changes",
        "ticket-read",
        list_comments,
    )
    .post(
        "/api/v1/tickets/{number}/comments",
        "Reply to a ticket, or add an internal note (desk only)",
        "ticket-submit",
        add_comment,
    )
    .post(
        "/api/v1/tickets/{number}/approval",
        "Approve or reject a request that costs money",
        "ticket-approve",
        decide,
    )
    .post(
        "/api/v1/tickets/{number}/rating",
        "Rate a resolved ticket (CSAT 1–5)",
        "ticket-rate",
        rate,
    )
    .get(
        "/api/v1/tickets/{number}/attachments",
        "List a ticket's files",
        "ticket-read",
        list_attachments,
    )
    .post(
        "/api/v1/tickets/{number}/attachments",
        "Attach a file (the request body; ?filename=, Content-Type)",
        "ticket-submit",
        upload_attachment,
    )
    .get(
        "/api/v1/tickets/{number}/attachments/{id}",
        "Download a file (always as an attachment)",
        "ticket-read",
        download_attachment,
    )
}

/// Deserialises a present field (even `null`) as `Some`, so that PATCH can tell "unset" from "leave alone".
fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(d: D) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

fn invalid(field: &str, message: &str) -> Failure {
    Failure::Invalid(vec![FieldError::new(field, message)])
}

fn id_field<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, FieldError> {
    raw.trim()
        .parse()
        .map_err(|_| FieldError::new(field, "is not an id"))
}

// ---------------------------------------------------------------------------------------------------
// Catalog

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    pub slug: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
    pub owner_team_id: Option<String>,
    pub support_hours: Option<String>,
    pub sla_policy_id: Option<String>,
    pub active: Option<bool>,
}

/// Applies `raw` over `base` (an existing service's draft, or empty for a new one).
pub fn parse_service(
    raw: &RawService,
    base: Option<ServiceDraft>,
) -> Result<ServiceDraft, Failure> {
    let mut c = Collector::new();
    let pick = |v: &Option<String>, old: Option<&str>| {
        v.clone().or(old.map(str::to_owned)).unwrap_or_default()
    };
    let b = base.as_ref();
    let name = c.take(text(
        "name",
        &pick(&raw.name, b.map(|d| d.name.as_str())),
        120,
    ));
    let slug_raw = raw.slug.clone().or(b.map(|d| d.slug.clone())).or_else(|| {
        name.as_ref().map(|n| {
            domain::tenancy::OrgSlug::from_name(n)
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
    });
    let slug = c.take(
        domain::tenancy::OrgSlug::parse(slug_raw.as_deref().unwrap_or(""))
            .map_err(|e| FieldError::new("slug", e.message)),
    );
    let category = c.take(text(
        "category",
        &pick(&raw.category, b.map(|d| d.category.as_str())),
        80,
    ));
    let description = pick(&raw.description, b.map(|d| d.description.as_str()));
    let description = if description.trim().is_empty() {
        Some(String::new())
    } else {
        c.take(long_text("description", &description, 4000))
    };
    let support_hours = c.take(text(
        "support_hours",
        &raw.support_hours
            .clone()
            .or(b.map(|d| d.support_hours.clone()))
            .unwrap_or_else(|| "Business hours".into()),
        80,
    ));
    let policy = raw
        .sla_policy_id
        .clone()
        .or(b.map(|d| d.sla_policy_id.to_string()));
    let policy = match policy {
        Some(p) => c.take(id_field("sla_policy_id", &p)),
        None => {
            c.push(FieldError::new("sla_policy_id", "is required"));
            None
        }
    };
    let team = match &raw.owner_team_id {
        Some(t) if t.trim().is_empty() => None,
        Some(t) => c.take(id_field::<TeamId>("owner_team_id", t)),
        None => b.and_then(|d| d.owner_team_id),
    };
    c.finish()?;
    match (name, slug, category, description, support_hours, policy) {
        (
            Some(name),
            Some(slug),
            Some(category),
            Some(description),
            Some(support_hours),
            Some(sla_policy_id),
        ) => Ok(ServiceDraft {
            slug: slug.to_string(),
            name,
            category,
            description,
            owner_team_id: team,
            support_hours,
            sla_policy_id,
            active: raw.active.or(b.map(|d| d.active)).unwrap_or(true),
        }),
        _ => Err(invalid("service", "is incomplete")),
    }
}

async fn list_services(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    let all = !p.scope(Permission::CatalogManage).is_empty();
    let items = catalog::list_services(&s.db, !all).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn create_service(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawService>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
    let d = parse_service(&raw, None)?;
    let svc = catalog::create_service(&s.db, &p.actor(), &d).await?;
    Ok(entity(StatusCode::CREATED, svc.version, &svc))
}

async fn read_service(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let svc = catalog::get_service(&s.db, parse_path_id(&id)?).await?;
    if !svc.active && p.scope(Permission::CatalogManage).is_empty() {
        return Err(Failure::NotFound.into());
    }
    Ok(entity(StatusCode::OK, svc.version, &svc))
}

async fn update_service(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawService>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
    let id: ServiceId = parse_path_id(&id)?;
    let before = catalog::get_service(&s.db, id).await?;
    let d = parse_service(&raw, Some(before.draft()))?;
    let svc = catalog::update_service(&s.db, &p.actor(), id, if_match(&headers)?, &d).await?;
    Ok(entity(StatusCode::OK, svc.version, &svc))
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    pub service_id: Option<String>,
    pub name: Option<String>,
    pub description: Option<String>,
    pub form: Option<Vec<FormField>>,
    pub cost_cents: Option<i64>,
    pub active: Option<bool>,
}

pub fn parse_item(raw: &RawItem, base: Option<ItemDraft>) -> Result<ItemDraft, Failure> {
    let mut c = Collector::new();
    let b = base.as_ref();
    let service = match (&raw.service_id, b) {
        (Some(sid), _) => c.take(id_field("service_id", sid)),
        (None, Some(d)) => Some(d.service_id),
        (None, None) => {
            c.push(FieldError::new("service_id", "is required"));
            None
        }
    };
    let name = c.take(text(
        "name",
        raw.name
            .as_deref()
            .or(b.map(|d| d.name.as_str()))
            .unwrap_or(""),
        120,
    ));
    let description = raw
        .description
        .clone()
        .or(b.map(|d| d.description.clone()))
        .unwrap_or_default();
    let description = if description.trim().is_empty() {
        Some(String::new())
    } else {
        c.take(long_text("description", &description, 4000))
    };
    let cost = raw.cost_cents.or(b.map(|d| d.cost_cents)).unwrap_or(0);
    if !(0..=100_000_000).contains(&cost) {
        c.push(FieldError::new(
            "cost_cents",
            "must be between 0 and 100000000 (one million dollars)",
        ));
    }
    let form = raw
        .form
        .clone()
        .or(b.map(|d| d.form.clone()))
        .unwrap_or_default();
    let form_errors = validate_form(&form).err();
    if let Some(e) = form_errors {
        for f in e.0 {
            c.push(f);
        }
    }
    c.finish()?;
    match (service, name, description) {
        (Some(service_id), Some(name), Some(description)) => Ok(ItemDraft {
            service_id,
            name,
            description,
            form,
            cost_cents: cost,
            active: raw.active.or(b.map(|d| d.active)).unwrap_or(true),
        }),
        _ => Err(invalid("item", "is incomplete")),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct ItemQuery {
    service: Option<String>,
}

async fn list_items(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ItemQuery>,
) -> ApiResult<Response> {
    let all = !p.scope(Permission::CatalogManage).is_empty();
    let service = match q.service.as_deref() {
        Some(sid) => {
            Some(id_field::<ServiceId>("service", sid).map_err(|e| Failure::Invalid(vec![e]))?)
        }
        None => None,
    };
    let items = catalog::list_items(&s.db, service, !all).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn create_item(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawItem>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
    let d = parse_item(&raw, None)?;
    let i = catalog::create_item(&s.db, &p.actor(), &d).await?;
    Ok(entity(StatusCode::CREATED, i.version, &i))
}

async fn read_item(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let i = catalog::get_item(&s.db, parse_path_id(&id)?).await?;
    if !i.active && p.scope(Permission::CatalogManage).is_empty() {
        return Err(Failure::NotFound.into());
    }
    Ok(entity(StatusCode::OK, i.version, &i))
}

async fn update_item(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawItem>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
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
    Ok(entity(StatusCode::OK, i.version, &i))
}

async fn list_policies(State(s): State<AppState>, _p: Principal) -> ApiResult<Response> {
    Ok(Json(serde_json::json!({ "items": catalog::list_policies(&s.db).await? })).into_response())
}

/// An SLA policy as sent; on an edit, fields left out stay as they are.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: Option<String>,
    pub coverage: Option<String>,
    pub targets: Option<SlaTargets>,
}

/// A checked policy: name, clock and targets.
pub type PolicyDraft = (String, Coverage, SlaTargets);

/// Applies `raw` over `base` (an existing policy, or the defaults for a new one: business hours and the
/// standard targets).
pub fn parse_policy(
    raw: &RawPolicy,
    base: Option<&catalog::SlaPolicy>,
) -> Result<PolicyDraft, Failure> {
    let mut c = Collector::new();
    let name = c.take(text(
        "name",
        raw.name
            .as_deref()
            .or(base.map(|b| b.name.as_str()))
            .unwrap_or(""),
        80,
    ));
    let coverage = match (&raw.coverage, base) {
        (Some(v), _) => c.take(Coverage::parse(v)),
        (None, Some(b)) => Some(b.coverage),
        (None, None) => Some(Coverage::BusinessHours),
    };
    let targets = raw
        .targets
        .or(base.map(|b| b.targets))
        .unwrap_or_else(SlaTargets::standard);
    c.take(targets.validate());
    c.finish()?;
    match (name, coverage) {
        (Some(name), Some(coverage)) => Ok((name, coverage, targets)),
        _ => Err(invalid("policy", "is incomplete")),
    }
}

async fn create_policy(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawPolicy>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
    let (name, coverage, targets) = parse_policy(&raw, None)?;
    let pol = catalog::create_policy(&s.db, &p.actor(), &name, coverage, &targets).await?;
    Ok(entity(StatusCode::CREATED, pol.version, &pol))
}

async fn read_policy(
    State(s): State<AppState>,
    _p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let pol = catalog::get_policy(&s.db, parse_path_id(&id)?).await?;
    Ok(entity(StatusCode::OK, pol.version, &pol))
}

async fn update_policy(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawPolicy>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
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
    Ok(entity(StatusCode::OK, pol.version, &pol))
}

/// A change to the desk's settings; fields left out stay as they are.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Rows by impact (high, medium, low), columns by urgency (high, medium, low): `[["p1","p2","p3"],…]`.
    pub priority_matrix: Option<domain::desk::PriorityMatrix>,
    pub reopen_days: Option<i64>,
    pub attachment_max_bytes: Option<i64>,
    /// `null` or "" stops moving breached tickets.
    #[serde(default, deserialize_with = "present")]
    pub escalation_team_id: Option<Option<String>>,
}

/// The largest attachment the settings may allow: the request body limit, less room for the rest.
pub const ATTACHMENT_CEILING: i64 = 25 * 1024 * 1024;

/// Checks and saves a settings change (the API's PUT and the settings page).
pub async fn apply_settings(
    s: &AppState,
    p: &Principal,
    version: Option<i64>,
    raw: &RawSettings,
) -> Result<catalog::DeskSettings, Failure> {
    p.require(Permission::CatalogManage)?;
    let before = catalog::settings(&s.db).await?;
    let mut c = Collector::new();
    let mut next = before.clone();
    if let Some(m) = raw.priority_matrix {
        c.take(m.validate());
        next.priority_matrix = m;
    }
    if let Some(d) = raw.reopen_days {
        if (0..=90).contains(&d) {
            next.reopen_days = d;
        } else {
            c.push(FieldError::new("reopen_days", "must be between 0 and 90"));
        }
    }
    if let Some(b) = raw.attachment_max_bytes {
        if (1024..=ATTACHMENT_CEILING).contains(&b) {
            next.attachment_max_bytes = b;
        } else {
            c.push(FieldError::new(
                "attachment_max_bytes",
                "must be between 1024 (1 KB) and 26214400 (25 MB)",
            ));
        }
    }
    match raw.escalation_team_id.as_ref() {
        None => {}
        Some(None) => next.escalation_team_id = None,
        Some(Some(t)) if t.trim().is_empty() => next.escalation_team_id = None,
        Some(Some(t)) => match id_field::<TeamId>("escalation_team_id", t) {
            Ok(id) => {
                if catalog::list_teams(&s.db).await?.iter().any(|x| x.id == id) {
                    next.escalation_team_id = Some(id);
                } else {
                    c.push(FieldError::new("escalation_team_id", "is not a team"));
                }
            }
            Err(e) => c.push(e),
        },
    }
    c.finish()?;
    Ok(catalog::update_settings(&s.db, &p.actor(), version, &next).await?)
}

async fn read_settings(State(s): State<AppState>, _p: Principal) -> ApiResult<Response> {
    let st = catalog::settings(&s.db).await?;
    Ok(entity(StatusCode::OK, st.version, &st))
}

async fn put_settings(
    State(s): State<AppState>,
    p: Principal,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawSettings>,
) -> ApiResult<Response> {
    let st = apply_settings(&s, &p, if_match(&headers)?, &raw).await?;
    Ok(entity(StatusCode::OK, st.version, &st))
}

fn template_event(raw: &str) -> Result<store::desk::notify::Event, Failure> {
    store::desk::notify::Event::parse(raw).ok_or(Failure::NotFound)
}

async fn list_templates(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
    let items = store::desk::templates::list(&s.db).await?;
    let placeholders: Vec<_> = domain::desk::template::PLACEHOLDERS
        .iter()
        .map(|(name, meaning)| serde_json::json!({ "name": name, "meaning": meaning }))
        .collect();
    Ok(Json(serde_json::json!({ "items": items, "placeholders": placeholders })).into_response())
}

/// A notification's wording.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    pub subject: Option<String>,
    pub body: Option<String>,
}

/// Saves a template (API and page); fields left out keep the wording in effect.
pub async fn save_template(
    s: &AppState,
    p: &Principal,
    event: &str,
    version: Option<i64>,
    raw: &RawTemplate,
) -> Result<store::desk::templates::MailTemplate, Failure> {
    p.require(Permission::CatalogManage)?;
    let event = template_event(event)?;
    let now = store::desk::templates::get(&s.db, event).await?;
    let subject = raw.subject.clone().unwrap_or(now.subject);
    let body = raw.body.clone().unwrap_or(now.body).replace("\r\n", "\n");
    Ok(
        store::desk::templates::save(&s.db, &p.actor(), event, version, subject.trim(), &body)
            .await?,
    )
}

async fn put_template(
    State(s): State<AppState>,
    p: Principal,
    Path(event): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawTemplate>,
) -> ApiResult<Response> {
    let t = save_template(&s, &p, &event, if_match(&headers)?, &raw).await?;
    Ok(entity(StatusCode::OK, t.version, &t))
}

async fn reset_template(
    State(s): State<AppState>,
    p: Principal,
    Path(event): Path<String>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
    let t = store::desk::templates::reset(&s.db, &p.actor(), template_event(&event)?).await?;
    Ok(Json(t).into_response())
}

/// A new assignment group.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Email addresses of hub agents or admins.
    #[serde(default)]
    pub members: Vec<String>,
}

/// Checks and adds a team (the API and the settings page).
pub async fn add_team(
    s: &AppState,
    p: &Principal,
    raw: &RawTeam,
) -> Result<catalog::Team, Failure> {
    p.require(Permission::CatalogManage)?;
    let mut c = Collector::new();
    let name = c.take(text("name", raw.name.as_deref().unwrap_or(""), 80));
    let description = raw.description.as_deref().unwrap_or("").trim().to_owned();
    if description.chars().count() > 500 {
        c.push(FieldError::new(
            "description",
            "must be at most 500 characters",
        ));
    }
    let agents = tickets::agents(&s.db).await?;
    let mut members = Vec::new();
    for (i, m) in raw.members.iter().enumerate() {
        let field = format!("members[{i}]");
        let Ok(email) = Email::parse(m) else {
            c.push(FieldError::new(&field, "is not an email address"));
            continue;
        };
        match users::find_by_email(&s.db, &email).await? {
            Some(u) if agents.iter().any(|(id, _)| *id == u.id) => members.push(u.id),
            _ => c.push(FieldError::new(&field, "is not an agent of the hub")),
        }
    }
    c.finish()?;
    let Some(name) = name else {
        return Err(invalid("name", "is required"));
    };
    members.sort();
    members.dedup();
    Ok(catalog::create_team(&s.db, &p.actor(), &name, &description, &members).await?)
}

async fn create_team(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawTeam>,
) -> ApiResult<Response> {
    let t = add_team(&s, &p, &raw).await?;
    Ok(entity(StatusCode::CREATED, t.version, &t))
}

async fn list_teams(State(s): State<AppState>, _p: Principal) -> ApiResult<Response> {
    Ok(Json(serde_json::json!({ "items": catalog::list_teams(&s.db).await? })).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Tickets

/// Query of the ticket list: every filter of the agent workspace and the portal.
#[derive(Debug, Default, Clone, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// Organisation slug.
    pub org: Option<String>,
    /// `open` (default), `done` or `any`.
    pub open: Option<String>,
    pub status: Option<String>,
    pub priority: Option<String>,
    pub kind: Option<String>,
    pub service: Option<String>,
    pub team: Option<String>,
    /// `me`, `none` or a person's id.
    pub assignee: Option<String>,
    /// `me` or a person's id.
    pub requester: Option<String>,
    /// `true`: at risk or breached only.
    pub at_risk: Option<String>,
    pub approval: Option<String>,
    /// Full-text search over subject, description and replies.
    pub q: Option<String>,
    /// `due` (next SLA deadline first, default) or `newest`.
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

impl TicketQuery {
    pub async fn to_filter(&self, s: &AppState, p: &Principal) -> Result<Filter, Failure> {
        let mut c = Collector::new();
        let mut f = Filter::default();
        if let Some(slug) = nonempty(&self.org) {
            match orgs::get_by_slug(&s.db, &p.scope(Permission::OrgRead), slug).await {
                Ok(o) => f.org = Some(o.id),
                Err(store::StoreError::NotFound) => {
                    c.push(FieldError::new("org", "is not an organisation you can see"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        f.openness = match nonempty(&self.open) {
            None | Some("open") => Openness::Open,
            Some("done") => Openness::Done,
            Some("any") => Openness::Any,
            Some(_) => {
                c.push(FieldError::new("open", "must be open, done or any"));
                Openness::Open
            }
        };
        f.status = nonempty(&self.status).and_then(|v| c.take(Status::parse(v)));
        if f.status.is_some() {
            f.openness = Openness::Any;
        }
        f.priority = nonempty(&self.priority).and_then(|v| c.take(Priority::parse(v)));
        f.kind = nonempty(&self.kind).and_then(|v| c.take(TicketKind::parse(v)));
        f.approval = nonempty(&self.approval).and_then(|v| c.take(Approval::parse(v)));
        f.service = nonempty(&self.service).and_then(|v| c.take(id_field("service", v)));
        f.team = nonempty(&self.team).and_then(|v| c.take(id_field("team", v)));
        f.assignee = match nonempty(&self.assignee) {
            None => None,
            Some("me") => Some(Some(p.user.id)),
            Some("none") => Some(None),
            Some(v) => c.take(id_field::<UserId>("assignee", v)).map(Some),
        };
        f.requester = match nonempty(&self.requester) {
            None => None,
            Some("me") => Some(p.user.id),
            Some(v) => c.take(id_field::<UserId>("requester", v)),
        };
        f.at_risk = match nonempty(&self.at_risk) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                c.push(FieldError::new("at_risk", "must be true or false"));
                false
            }
        };
        f.text = match nonempty(&self.q) {
            Some(q) if q.chars().count() > 200 => {
                c.push(FieldError::new("q", "must be at most 200 characters"));
                None
            }
            other => other.map(str::to_owned),
        };
        f.sort = match nonempty(&self.sort) {
            // A search lists the newest matches first unless asked otherwise.
            None if f.text.is_some() => Sort::Newest,
            None | Some("due") => Sort::Due,
            Some("newest") => Sort::Newest,
            Some(_) => {
                c.push(FieldError::new("sort", "must be due or newest"));
                Sort::Due
            }
        };
        c.finish()?;
        Ok(f)
    }

    pub fn page(&self) -> PageParams {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

async fn list_tickets(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<TicketQuery>,
) -> ApiResult<Response> {
    let view = p.ticket_view()?;
    let f = q.to_filter(&s, &p).await?;
    let page = q.page().to_request()?;
    Ok(list(tickets::list(&s.db, &view, &f, &page).await?))
}

/// A ticket to open, as the API and the portal form send it.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawTicket {
    /// Organisation slug; defaults to the requester's.
    pub org: Option<String>,
    /// Desk only: open on behalf of this person (by email).
    pub requester_email: Option<String>,
    pub kind: Option<String>,
    pub subject: Option<String>,
    pub description: Option<String>,
    pub impact: Option<String>,
    pub urgency: Option<String>,
    pub service_id: Option<String>,
    pub catalog_item_id: Option<String>,
    pub department_id: Option<String>,
    pub site_id: Option<String>,
    pub category: Option<String>,
    /// Desk only: how the ticket came in (`phone`, `email`, …); `portal` or `api` otherwise.
    pub source: Option<String>,
    /// Answers to the catalog item's form, by field key.
    #[serde(default)]
    pub form: BTreeMap<String, String>,
}

/// Checks a ticket to open and resolves its organisation and requester; `default_source` is `api` or
/// `portal`.
pub async fn parse_ticket(
    s: &AppState,
    p: &Principal,
    raw: &RawTicket,
    default_source: Source,
) -> Result<NewTicket, Failure> {
    let desk = !p.scope(Permission::TicketWork).is_empty();
    let submit = p.require(Permission::TicketSubmit)?;
    let mut c = Collector::new();
    let subject = c.take(text("subject", raw.subject.as_deref().unwrap_or(""), 200));
    let description = c.take(long_text(
        "description",
        raw.description.as_deref().unwrap_or(""),
        20_000,
    ));
    let item = nonempty(&raw.catalog_item_id).and_then(|v| c.take(id_field("catalog_item_id", v)));
    let kind = match nonempty(&raw.kind) {
        Some(k) => c.take(TicketKind::parse(k)),
        None if item.is_some() => Some(TicketKind::ServiceRequest),
        None => Some(TicketKind::Incident),
    };
    if !desk && matches!(kind, Some(TicketKind::Problem | TicketKind::Change)) {
        c.push(FieldError::new(
            "kind",
            "members open incidents and service requests; the desk opens problems and changes",
        ));
    }
    let impact = c.take(Impact::parse(nonempty(&raw.impact).unwrap_or("low")));
    let urgency = c.take(Urgency::parse(nonempty(&raw.urgency).unwrap_or("medium")));
    let service = nonempty(&raw.service_id).and_then(|v| c.take(id_field("service_id", v)));
    let department =
        nonempty(&raw.department_id).and_then(|v| c.take(id_field("department_id", v)));
    let site = nonempty(&raw.site_id).and_then(|v| c.take(id_field("site_id", v)));
    let category = match nonempty(&raw.category) {
        Some(cat) => c.take(text("category", cat, 80)),
        None => Some(String::new()),
    };
    let source = match nonempty(&raw.source) {
        None => Some(default_source),
        Some(v) if desk => c.take(Source::parse(v)),
        Some(_) => {
            c.push(FieldError::new(
                "source",
                "only the service desk sets the source",
            ));
            None
        }
    };
    // Who asks: yourself, or (desk only) someone else.
    let requester = match nonempty(&raw.requester_email) {
        None => Some(p.user.clone()),
        Some(_) if !desk => {
            c.push(FieldError::new(
                "requester_email",
                "only the service desk opens tickets on behalf of others",
            ));
            None
        }
        Some(e) => match c
            .take(Email::parse(e).map_err(|e| FieldError::new("requester_email", e.message)))
        {
            Some(email) => match users::find_by_email(&s.db, &email).await? {
                Some(u) if u.active => Some(u),
                _ => {
                    c.push(FieldError::new(
                        "requester_email",
                        "is not an active person of the region",
                    ));
                    None
                }
            },
            None => None,
        },
    };
    let org: Option<OrgId> = match (nonempty(&raw.org), &requester) {
        (Some(slug), _) => match orgs::id_by_slug(&s.db, &submit, slug).await {
            Ok(id) => Some(id),
            Err(store::StoreError::NotFound) => {
                c.push(FieldError::new(
                    "org",
                    "is not an organisation you can open tickets for",
                ));
                None
            }
            Err(e) => return Err(e.into()),
        },
        (None, Some(u)) => Some(u.org_id),
        (None, None) => None,
    };
    c.finish()?;
    match (
        subject,
        description,
        kind,
        impact,
        urgency,
        category,
        source,
        requester,
        org,
    ) {
        (
            Some(subject),
            Some(description),
            Some(kind),
            Some(impact),
            Some(urgency),
            Some(category),
            Some(source),
            Some(requester),
            Some(org_id),
        ) => {
            if !submit.contains(org_id) {
                return Err(invalid(
                    "org",
                    "is not an organisation you can open tickets for",
                ));
            }
            Ok(NewTicket {
                org_id,
                kind,
                subject,
                description,
                requester_id: requester.id,
                department_id: department,
                site_id: site,
                service_id: service,
                catalog_item_id: item,
                form_answers: raw.form.clone(),
                category,
                impact,
                urgency,
                source,
                team_id: None,
                opened_at: None,
            })
        }
        _ => Err(invalid("ticket", "is incomplete")),
    }
}

async fn open_ticket(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawTicket>,
) -> ApiResult<Response> {
    let new = parse_ticket(&s, &p, &raw, Source::Api).await?;
    let t = tickets::open(
        &s.db,
        &p.require(Permission::TicketSubmit)?,
        &p.actor(),
        new,
    )
    .await?;
    let mut r = entity(StatusCode::CREATED, t.version, &t);
    if let Ok(v) = axum::http::HeaderValue::from_str(&format!("/api/v1/tickets/{}", t.number)) {
        r.headers_mut().insert(axum::http::header::LOCATION, v);
    }
    Ok(r)
}

pub fn parse_number(raw: &str) -> Result<i64, Failure> {
    raw.trim()
        .parse::<i64>()
        .ok()
        .filter(|n| *n > 0)
        .ok_or(Failure::NotFound)
}

async fn read_ticket(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Response> {
    let t = tickets::get(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(entity(StatusCode::OK, t.version, &t))
}

/// An agent's changes to a ticket; absent fields are left alone, `null` clears the assignee, team or service.
#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawChanges {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub impact: Option<String>,
    pub urgency: Option<String>,
    pub category: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub service_id: Option<Option<String>>,
}

pub fn parse_changes(raw: &RawChanges) -> Result<Changes, Failure> {
    let mut c = Collector::new();
    // Present-but-empty means "clear", like null.
    let opt = |v: &Option<Option<String>>| -> Option<Option<String>> {
        v.as_ref().map(|inner| {
            inner
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    };
    let assignee = opt(&raw.assignee_id);
    let team = opt(&raw.team_id);
    let service = opt(&raw.service_id);
    let ch = Changes {
        status: nonempty(&raw.status).and_then(|v| c.take(Status::parse(v))),
        kind: nonempty(&raw.kind).and_then(|v| c.take(TicketKind::parse(v))),
        impact: nonempty(&raw.impact).and_then(|v| c.take(Impact::parse(v))),
        urgency: nonempty(&raw.urgency).and_then(|v| c.take(Urgency::parse(v))),
        category: match raw.category.as_deref() {
            None => None,
            Some(v) if v.trim().is_empty() => Some(String::new()),
            Some(v) => c.take(text("category", v, 80)),
        },
        assignee: match assignee {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => c.take(id_field::<UserId>("assignee_id", &v)).map(Some),
        },
        team: match team {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => c.take(id_field::<TeamId>("team_id", &v)).map(Some),
        },
        service: match service {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => c.take(id_field::<ServiceId>("service_id", &v)).map(Some),
        },
    };
    c.finish()?;
    Ok(ch)
}

async fn update_ticket(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawChanges>,
) -> ApiResult<Response> {
    let work = p.require(Permission::TicketWork)?;
    let changes = parse_changes(&raw)?;
    if changes.is_empty() {
        return Err(invalid("body", "names nothing to change").into());
    }
    let t = tickets::update(
        &s.db,
        &p.ticket_view()?,
        &work,
        &p.actor(),
        parse_number(&number)?,
        if_match(&headers)?,
        &changes,
    )
    .await?;
    Ok(entity(StatusCode::OK, t.version, &t))
}

async fn list_comments(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Response> {
    let events = tickets::history(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(Json(serde_json::json!({ "items": events })).into_response())
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawComment {
    pub body: Option<String>,
    /// Desk only: an internal note the requester does not see.
    #[serde(default)]
    pub internal: bool,
}

/// Adds a reply or note for `p`, checking who may write what; returns the ticket after it.
pub async fn comment(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawComment,
) -> Result<tickets::Ticket, Failure> {
    let view = p.ticket_view()?;
    p.require(Permission::TicketSubmit)?;
    let body = long_text("body", raw.body.as_deref().unwrap_or(""), 20_000)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let t = tickets::get(&s.db, &view, number).await?;
    let author = if p.scope(Permission::TicketWork).contains(t.org_id) {
        Author::Desk
    } else {
        Author::Member
    };
    if raw.internal && author != Author::Desk {
        return Err(invalid(
            "internal",
            "only the service desk writes internal notes",
        ));
    }
    let (t, _) = tickets::comment(
        &s.db,
        &view,
        &p.actor(),
        author,
        number,
        &body,
        !raw.internal,
    )
    .await?;
    Ok(t)
}

async fn add_comment(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawComment>,
) -> ApiResult<Response> {
    let t = comment(&s, &p, parse_number(&number)?, &raw).await?;
    Ok(entity(StatusCode::CREATED, t.version, &t))
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawDecision {
    /// `approve` or `reject`.
    pub decision: Option<String>,
    pub reason: Option<String>,
}

pub async fn apply_decision(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawDecision,
) -> Result<tickets::Ticket, Failure> {
    let approve = p.require(Permission::TicketApprove)?;
    let approved = match nonempty(&raw.decision) {
        Some("approve") => true,
        Some("reject") => false,
        _ => return Err(invalid("decision", "must be approve or reject")),
    };
    let reason = match nonempty(&raw.reason) {
        Some(r) => Some(long_text("reason", r, 2000).map_err(|e| Failure::Invalid(vec![e]))?),
        None if !approved => return Err(invalid("reason", "say why the request is rejected")),
        None => None,
    };
    Ok(tickets::decide(
        &s.db,
        &p.ticket_view()?,
        &approve,
        &p.actor(),
        number,
        approved,
        reason.as_deref(),
    )
    .await?)
}

async fn decide(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawDecision>,
) -> ApiResult<Response> {
    let t = apply_decision(&s, &p, parse_number(&number)?, &raw).await?;
    Ok(entity(StatusCode::OK, t.version, &t))
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRating {
    pub score: Option<i64>,
    pub comment: Option<String>,
}

pub async fn apply_rating(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawRating,
) -> Result<tickets::Ticket, Failure> {
    let scope = p.require(Permission::TicketRate)?;
    let view = p.ticket_view()?;
    let t = tickets::get(&s.db, &view, number).await?;
    if !scope.contains(t.org_id) {
        return Err(Failure::Forbidden);
    }
    let score = raw
        .score
        .ok_or_else(|| invalid("score", "is required: a whole number from 1 to 5"))?;
    let comment = match nonempty(&raw.comment) {
        Some(c) => Some(long_text("comment", c, 2000).map_err(|e| Failure::Invalid(vec![e]))?),
        None => None,
    };
    Ok(tickets::rate(&s.db, &view, &p.actor(), number, score, comment.as_deref()).await?)
}

async fn rate(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawRating>,
) -> ApiResult<Response> {
    let t = apply_rating(&s, &p, parse_number(&number)?, &raw).await?;
    Ok(entity(StatusCode::OK, t.version, &t))
}

async fn list_attachments(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Response> {
    let items = tickets::attachments(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct UploadQuery {
    filename: Option<String>,
}

async fn upload_attachment(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiQuery(q): ApiQuery<UploadQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    p.require(Permission::TicketSubmit)?;
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let a = store_upload(
        &s,
        &p,
        parse_number(&number)?,
        q.filename.as_deref(),
        ct,
        &body,
    )
    .await?;
    Ok((StatusCode::CREATED, Json(a)).into_response())
}

/// Bytes in megabytes to a tenth, as a form shows them: "10", "2.5".
pub fn megabytes(bytes: i64) -> String {
    let tenths = bytes * 10 / 1_048_576;
    if tenths % 10 == 0 {
        (tenths / 10).to_string()
    } else {
        format!("{}.{}", tenths / 10, tenths % 10)
    }
}

/// A size limit as people read it: "10 MB", "2.5 MB", "512 KB".
pub fn size_label(bytes: i64) -> String {
    if bytes >= 1_048_576 {
        format!("{} MB", megabytes(bytes))
    } else {
        format!("{} KB", bytes / 1024)
    }
}

/// Checks and keeps an uploaded file (API and pages).
pub async fn store_upload(
    s: &AppState,
    p: &Principal,
    number: i64,
    filename: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<tickets::Attachment, Failure> {
    p.require(Permission::TicketSubmit)?;
    let settings = catalog::settings(&s.db).await?;
    let name = filename
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| invalid("filename", "is required"))?;
    if bytes.is_empty() {
        return Err(invalid("file", "is empty"));
    }
    if i64::try_from(bytes.len()).unwrap_or(i64::MAX) > settings.attachment_max_bytes {
        return Err(invalid(
            "file",
            &format!(
                "is larger than the limit of {}",
                size_label(settings.attachment_max_bytes)
            ),
        ));
    }
    let ct = content_type.unwrap_or("application/octet-stream");
    Ok(tickets::attach(
        &s.db,
        &p.ticket_view()?,
        &p.actor(),
        number,
        None,
        tickets::NewFile {
            name,
            content_type: ct,
            bytes,
        },
    )
    .await?)
}

/// A file served so that no browser renders it: `application/octet-stream`, `attachment`, a sandbox CSP.
pub fn file_response(a: &tickets::Attachment, bytes: Vec<u8>) -> Response {
    let ascii: String = a
        .filename
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || ".-_ ".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    let encoded: String = a
        .filename
        .bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b".-_".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect();
    let disposition = format!("attachment; filename=\"{ascii}\"; filename*=UTF-8''{encoded}");
    let mut r = bytes.into_response();
    let h = r.headers_mut();
    h.insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/octet-stream"),
    );
    if let Ok(v) = axum::http::HeaderValue::from_str(&disposition) {
        h.insert(axum::http::header::CONTENT_DISPOSITION, v);
    }
    h.insert(
        axum::http::header::CONTENT_SECURITY_POLICY,
        axum::http::HeaderValue::from_static("sandbox; default-src 'none'"),
    );
    h.insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("private, no-store"),
    );
    r
}

async fn download_attachment(
    State(s): State<AppState>,
    p: Principal,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    let (a, bytes) =
        tickets::attachment(&s.db, &p.ticket_view()?, parse_number(&number)?, &id).await?;
    Ok(file_response(&a, bytes))
}

// ---------------------------------------------------------------------------------------------------
// Watchers, links, merge, canned replies

pub fn more_routes(t: Table) -> Table {
    t.get(
        "/api/v1/tickets/{number}/watchers",
        "A ticket's watchers",
        "ticket-read",
        list_watchers,
    )
    .post(
        "/api/v1/tickets/{number}/watchers",
        "Add a watcher (by email)",
        "ticket-submit",
        add_watcher,
    )
    .delete(
        "/api/v1/tickets/{number}/watchers/{id}",
        "Remove a watcher",
        "ticket-submit",
        remove_watcher,
    )
    .get(
        "/api/v1/tickets/{number}/links",
        "A ticket's links (related, problem ↔ incidents, duplicates)",
        "ticket-read",
        list_links,
    )
    .post(
        "/api/v1/tickets/{number}/links",
        "Link two tickets",
        "ticket-work",
        add_link,
    )
    .post(
        "/api/v1/tickets/{number}/merge",
        "Merge this duplicate into another ticket",
        "ticket-work",
        merge,
    )
    .get(
        "/api/v1/canned-replies",
        "The desk's canned replies",
        "ticket-work",
        list_canned,
    )
    .post(
        "/api/v1/canned-replies",
        "Add a canned reply",
        "catalog-manage",
        add_canned,
    )
}

async fn list_watchers(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Response> {
    let w = tickets::watchers(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    let items: Vec<_> = w
        .into_iter()
        .map(|(id, name)| serde_json::json!({ "user_id": id, "name": name }))
        .collect();
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawWatcher {
    pub email: Option<String>,
}

/// Adds a watcher by email: the desk anyone of the ticket's organisation or the hub; members people of
/// their own organisation only.
pub async fn apply_add_watcher(
    s: &AppState,
    p: &Principal,
    number: i64,
    email: Option<&str>,
) -> Result<(), Failure> {
    p.require(Permission::TicketSubmit)?;
    let view = p.ticket_view()?;
    let t = tickets::get(&s.db, &view, number).await?;
    let email = Email::parse(email.unwrap_or(""))
        .map_err(|e| Failure::Invalid(vec![FieldError::new("email", e.message)]))?;
    let u = users::find_by_email(&s.db, &email)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| invalid("email", "is not an active person of the region"))?;
    if !p.scope(Permission::TicketWork).contains(t.org_id) && u.org_id != p.user.org_id {
        return Err(invalid(
            "email",
            "you can add people of your own organisation",
        ));
    }
    tickets::add_watcher(&s.db, &view, &p.actor(), number, u.id).await?;
    Ok(())
}

async fn add_watcher(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawWatcher>,
) -> ApiResult<Response> {
    let number = parse_number(&number)?;
    apply_add_watcher(&s, &p, number, raw.email.as_deref()).await?;
    list_watchers(State(s), p, Path(number.to_string())).await
}

async fn remove_watcher(
    State(s): State<AppState>,
    p: Principal,
    Path((number, id)): Path<(String, String)>,
) -> ApiResult<Response> {
    p.require(Permission::TicketSubmit)?;
    let user: UserId = parse_path_id(&id)?;
    let view = p.ticket_view()?;
    let n = parse_number(&number)?;
    let t = tickets::get(&s.db, &view, n).await?;
    if user != p.user.id
        && !p.scope(Permission::TicketWork).contains(t.org_id)
        && t.requester_id != p.user.id
    {
        return Err(Failure::Forbidden.into());
    }
    tickets::remove_watcher(&s.db, &view, &p.actor(), n, user).await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn list_links(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
) -> ApiResult<Response> {
    let items = tickets::links(&s.db, &p.ticket_view()?, parse_number(&number)?).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub other: Option<i64>,
    /// `related` (default) or `caused_by` (the other ticket is the problem behind this one).
    pub kind: Option<String>,
}

pub async fn apply_link(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawLink,
) -> Result<(), Failure> {
    let work = p.require(Permission::TicketWork)?;
    let other = raw
        .other
        .ok_or_else(|| invalid("other", "is required: a ticket number"))?;
    let kind = match raw.kind.as_deref().unwrap_or("related") {
        "related" => tickets::LinkKind::Related,
        "caused_by" => tickets::LinkKind::CausedBy,
        _ => {
            return Err(invalid(
                "kind",
                "must be related or caused_by (merge duplicates with /merge)",
            ));
        }
    };
    tickets::link(
        &s.db,
        &p.ticket_view()?,
        &work,
        &p.actor(),
        number,
        other,
        kind,
    )
    .await?;
    Ok(())
}

async fn add_link(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawLink>,
) -> ApiResult<Response> {
    let number = parse_number(&number)?;
    apply_link(&s, &p, number, &raw).await?;
    let items = tickets::links(&s.db, &p.ticket_view()?, number).await?;
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "items": items })),
    )
        .into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawMerge {
    pub into: Option<i64>,
}

pub async fn apply_merge(
    s: &AppState,
    p: &Principal,
    number: i64,
    into: Option<i64>,
) -> Result<tickets::Ticket, Failure> {
    let work = p.require(Permission::TicketWork)?;
    let into = into.ok_or_else(|| invalid("into", "is required: the ticket to keep"))?;
    Ok(tickets::merge(&s.db, &p.ticket_view()?, &work, &p.actor(), number, into).await?)
}

async fn merge(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    ApiJson(raw): ApiJson<RawMerge>,
) -> ApiResult<Response> {
    let t = apply_merge(&s, &p, parse_number(&number)?, raw.into).await?;
    Ok(entity(StatusCode::OK, t.version, &t))
}

async fn list_canned(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    p.require(Permission::TicketWork)?;
    Ok(Json(serde_json::json!({ "items": tickets::canned_replies(&s.db).await? })).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawCanned {
    title: Option<String>,
    body: Option<String>,
}

async fn add_canned(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCanned>,
) -> ApiResult<Response> {
    p.require(Permission::CatalogManage)?;
    let mut c = Collector::new();
    let title = c.take(text("title", raw.title.as_deref().unwrap_or(""), 120));
    let body = c.take(long_text("body", raw.body.as_deref().unwrap_or(""), 10_000));
    c.finish()?;
    let (Some(title), Some(body)) = (title, body) else {
        return Err(invalid("canned_reply", "is incomplete").into());
    };
    let r = tickets::add_canned_reply(&s.db, &p.actor(), &title, &body).await?;
    Ok((StatusCode::CREATED, Json(r)).into_response())
}
