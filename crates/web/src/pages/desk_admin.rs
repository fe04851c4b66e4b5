//! Desk administration for the hub: the region's desk settings (priority matrix, reopen window, attachment
//! limit, escalation team), assignment groups, the services of the catalog and which catalog items are
//! offered. Every change goes through the same checks as the API.

use super::desk::money;
use super::{FormState, Frame, render_status};
use crate::AppState;
use crate::api::desk::{RawService, RawSettings, RawTeam, add_team, apply_settings, parse_service};
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::routes::Table;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::{Impact, Priority, PriorityMatrix, Urgency};
use domain::ids::{CatalogItemId, ServiceId};
use serde::Deserialize;
use std::collections::HashMap;
use store::desk::catalog;

pub fn routes(t: Table) -> Table {
    t.get(
        "/desk/settings",
        "Desk settings, teams, services and catalog items",
        "catalog-manage",
        settings_page,
    )
    .post(
        "/desk/settings",
        "Save the desk's settings",
        "catalog-manage",
        save_settings,
    )
    .post(
        "/desk/teams",
        "Add an assignment group",
        "catalog-manage",
        create_team,
    )
    .get(
        "/desk/services/new",
        "Form to add a service",
        "catalog-manage",
        new_service,
    )
    .post(
        "/desk/services",
        "Add a service",
        "catalog-manage",
        create_service,
    )
    .get(
        "/desk/services/{id}",
        "Form to edit a service",
        "catalog-manage",
        edit_service,
    )
    .post(
        "/desk/services/{id}",
        "Save a service",
        "catalog-manage",
        save_service,
    )
    .get(
        "/desk/templates/{event}",
        "Form to word a notification",
        "catalog-manage",
        edit_template,
    )
    .post(
        "/desk/templates/{event}",
        "Save a notification's wording",
        "catalog-manage",
        save_template,
    )
    .post(
        "/desk/templates/{event}/reset",
        "Restore a notification's built-in wording",
        "catalog-manage",
        reset_template,
    )
    .post(
        "/desk/items/{id}/active",
        "Offer or withdraw a catalog item",
        "catalog-manage",
        set_item_active,
    )
    .get(
        "/desk/items/new",
        "Form to add a catalog item and its request form",
        "catalog-manage",
        new_item,
    )
    .post(
        "/desk/items",
        "Add a catalog item",
        "catalog-manage",
        create_item,
    )
    .get(
        "/desk/items/{id}",
        "Form to edit a catalog item and its request form",
        "catalog-manage",
        edit_item,
    )
    .post(
        "/desk/items/{id}",
        "Save a catalog item",
        "catalog-manage",
        save_item,
    )
    .get(
        "/desk/policies/new",
        "Form to add an SLA policy",
        "catalog-manage",
        new_policy,
    )
    .post(
        "/desk/policies",
        "Add an SLA policy",
        "catalog-manage",
        create_policy,
    )
    .get(
        "/desk/policies/{id}",
        "Form to edit an SLA policy",
        "catalog-manage",
        edit_policy,
    )
    .post(
        "/desk/policies/{id}",
        "Save an SLA policy",
        "catalog-manage",
        save_policy,
    )
}

/// One cell of the priority matrix form: (field name, impact label, urgency label).
type Cell = (String, &'static str, &'static str);

fn matrix_cells() -> Vec<Vec<Cell>> {
    Impact::ALL
        .iter()
        .map(|i| {
            Urgency::ALL
                .iter()
                .map(|u| {
                    (
                        format!("pm_{}_{}", i.as_str(), u.as_str()),
                        i.as_str(),
                        u.as_str(),
                    )
                })
                .collect()
        })
        .collect()
}

fn priorities() -> Vec<(String, String)> {
    Priority::ALL
        .iter()
        .map(|p| (p.as_str().to_owned(), p.label().to_owned()))
        .collect()
}

#[derive(Template)]
#[template(path = "desk_settings.html")]
struct SettingsPage {
    f: Frame,
    form: FormState,
    team_form: FormState,
    version: i64,
    cells: Vec<Vec<Cell>>,
    priorities: Vec<(String, String)>,
    urgencies: Vec<&'static str>,
    teams: Vec<(String, String)>,
    /// (name, description, member names)
    team_rows: Vec<(String, String, String)>,
    /// (id, name, category, policy, team, active)
    services: Vec<(String, String, String, String, String, bool)>,
    /// (id, name, service, cost, active, version)
    items: Vec<(String, String, String, String, bool, i64)>,
    /// (id, name, coverage, targets)
    policies: Vec<(String, String, String, String)>,
    /// (event, what it is, subject, the hub's own wording)
    templates: Vec<(String, String, String, bool)>,
}

fn settings_form(st: &catalog::DeskSettings) -> FormState {
    let mut values = HashMap::new();
    for i in Impact::ALL {
        for u in Urgency::ALL {
            values.insert(
                format!("pm_{}_{}", i.as_str(), u.as_str()),
                st.priority_matrix.priority(*i, *u).as_str().to_owned(),
            );
        }
    }
    values.insert("reopen_days".into(), st.reopen_days.to_string());
    values.insert(
        "attachment_max_mb".into(),
        crate::api::desk::megabytes(st.attachment_max_bytes),
    );
    values.insert(
        "escalation_team_id".into(),
        st.escalation_team_id
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    FormState {
        values,
        errors: Vec::new(),
    }
}

/// Minutes as people say them: "30 min", "4 h", "4 h 30 min".
fn duration(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// "2.5" megabytes → bytes, exactly (tenths of a megabyte at most).
fn parse_mb(raw: &str) -> Result<i64, FieldError> {
    let bad = || {
        FieldError::new(
            "attachment_max_mb",
            "must be a number of megabytes such as 10 or 2.5",
        )
    };
    let raw = raw.trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || frac.len() > 1
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let tenth: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    if whole > 1000 {
        return Err(bad());
    }
    Ok((whole * 10 + tenth) * 1024 * 1024 / 10)
}

async fn render_settings(
    s: &AppState,
    p: &Principal,
    form: FormState,
    team_form: FormState,
    status: StatusCode,
    notice: Option<&str>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let st = catalog::settings(&s.db).await?;
    let teams = catalog::list_teams(&s.db).await?;
    let agents = store::desk::tickets::agents(&s.db).await?;
    let services = catalog::list_services(&s.db, false).await?;
    let items = catalog::list_items(&s.db, None, false).await?;
    let policies = catalog::list_policies(&s.db).await?;
    let templates = store::desk::templates::list(&s.db).await?;
    let team_name = |id: Option<domain::ids::TeamId>| {
        id.and_then(|id| teams.iter().find(|t| t.id == id))
            .map(|t| t.name.clone())
            .unwrap_or_else(|| "—".into())
    };
    let f = Frame::new(s, p, "Desk settings", "desk-settings")
        .await?
        .notice(notice);
    let page = SettingsPage {
        templates: templates
            .into_iter()
            .map(|t| {
                (
                    t.event.to_owned(),
                    t.label.to_owned(),
                    t.subject,
                    t.customised,
                )
            })
            .collect(),
        f,
        form,
        team_form,
        version: st.version,
        cells: matrix_cells(),
        priorities: priorities(),
        urgencies: Urgency::ALL.iter().map(|u| u.as_str()).collect(),
        teams: teams
            .iter()
            .map(|t| (t.id.to_string(), t.name.clone()))
            .collect(),
        team_rows: teams
            .iter()
            .map(|t| {
                let names: Vec<String> = t
                    .members
                    .iter()
                    .filter_map(|m| agents.iter().find(|(id, _)| id == m).map(|a| a.1.clone()))
                    .collect();
                (
                    t.name.clone(),
                    t.description.clone(),
                    if names.is_empty() {
                        "No one yet".into()
                    } else {
                        names.join(", ")
                    },
                )
            })
            .collect(),
        services: services
            .iter()
            .map(|svc| {
                (
                    svc.id.to_string(),
                    svc.name.clone(),
                    svc.category.clone(),
                    policies
                        .iter()
                        .find(|x| x.id == svc.sla_policy_id)
                        .map(|x| x.name.clone())
                        .unwrap_or_default(),
                    team_name(svc.owner_team_id),
                    svc.active,
                )
            })
            .collect(),
        items: items
            .iter()
            .map(|i| {
                (
                    i.id.to_string(),
                    i.name.clone(),
                    services
                        .iter()
                        .find(|svc| svc.id == i.service_id)
                        .map(|svc| svc.name.clone())
                        .unwrap_or_default(),
                    if i.cost_cents > 0 {
                        money(i.cost_cents)
                    } else {
                        "Free".into()
                    },
                    i.active,
                    i.version,
                )
            })
            .collect(),
        policies: policies
            .iter()
            .map(|x| {
                let targets: Vec<String> = Priority::ALL
                    .iter()
                    .map(|pr| {
                        let t = x.targets.for_priority(*pr);
                        format!(
                            "{}: respond {}, resolve {}",
                            pr.as_str().to_ascii_uppercase(),
                            duration(t.response_minutes),
                            duration(t.resolution_minutes)
                        )
                    })
                    .collect();
                (
                    x.id.to_string(),
                    x.name.clone(),
                    match x.coverage {
                        domain::desk::Coverage::BusinessHours => "Business hours of the member",
                        domain::desk::Coverage::AlwaysOn => "Around the clock",
                    }
                    .to_owned(),
                    targets.join("; "),
                )
            })
            .collect(),
    };
    Ok(render_status(status, &page))
}

#[derive(Debug, Default, Deserialize)]
struct Notice {
    notice: Option<String>,
}

async fn settings_page(
    State(s): State<AppState>,
    p: Principal,
    Query(q): Query<Notice>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let st = catalog::settings(&s.db).await?;
    render_settings(
        &s,
        &p,
        settings_form(&st),
        FormState::with([]),
        StatusCode::OK,
        q.notice.as_deref(),
    )
    .await
}

async fn save_settings(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let mut errors = Vec::new();
    let mut matrix = PriorityMatrix::default();
    for (r, i) in Impact::ALL.iter().enumerate() {
        for (c, u) in Urgency::ALL.iter().enumerate() {
            let name = format!("pm_{}_{}", i.as_str(), u.as_str());
            match Priority::parse(form.get(&name).map_or("", String::as_str)) {
                Ok(pr) => matrix.0[r][c] = pr,
                Err(_) => errors.push(FieldError::new(&name, "choose a priority")),
            }
        }
    }
    let reopen_days = match form.get("reopen_days").map(|v| v.trim().parse::<i64>()) {
        Some(Ok(d)) => Some(d),
        _ => {
            errors.push(FieldError::new(
                "reopen_days",
                "must be a whole number of days",
            ));
            None
        }
    };
    let attachment = match parse_mb(form.get("attachment_max_mb").map_or("", String::as_str)) {
        Ok(b) => Some(b),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let result = if errors.is_empty() {
        let raw = RawSettings {
            priority_matrix: Some(matrix),
            reopen_days,
            attachment_max_bytes: attachment,
            escalation_team_id: Some(form.get("escalation_team_id").cloned()),
        };
        let version = form.get("version").and_then(|v| v.parse().ok());
        apply_settings(&s, &p, version, &raw).await.map(|_| ())
    } else {
        Err(Failure::Invalid(errors))
    };
    match result {
        Ok(()) => Ok(Redirect::to("/desk/settings?notice=saved").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(rename(e))?;
            render_settings(
                &s,
                &p,
                st,
                FormState::with([]),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
    }
}

/// The API's field names, as the form names them.
fn rename(f: Failure) -> Failure {
    f.map_fields(|e| match e.field.as_str() {
        "attachment_max_bytes" => FieldError::new("attachment_max_mb", e.message),
        "priority_matrix" => FieldError::new("pm_high_high", e.message),
        _ => e,
    })
}

async fn create_team(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawTeam {
        name: form.get("team_name").cloned(),
        description: form.get("team_description").cloned(),
        members: form
            .get("team_members")
            .map(|m| {
                m.split([',', ';', '\n'])
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    match add_team(&s, &p, &raw).await {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=created#teams").into_response()),
        Err(e) => {
            // The form's fields are prefixed (it shares the page with the settings form).
            let e = e.map_fields(|x| {
                let field = if x.field.starts_with("members") {
                    "team_members".to_owned()
                } else {
                    format!("team_{}", x.field)
                };
                FieldError::new(field, x.message)
            });
            let team_form = FormState::refill(form).fail(e)?;
            let st = catalog::settings(&s.db).await?;
            render_settings(
                &s,
                &p,
                settings_form(&st),
                team_form,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "service_form.html")]
struct ServicePage {
    f: Frame,
    form: FormState,
    action: String,
    submit: &'static str,
    version: i64,
    creating: bool,
    teams: Vec<(String, String)>,
    policies: Vec<(String, String)>,
}

async fn service_page(
    s: &AppState,
    p: &Principal,
    form: FormState,
    editing: Option<&catalog::Service>,
    status: StatusCode,
) -> PageResult<Response> {
    let title = match editing {
        Some(svc) => format!("Edit {}", svc.name),
        None => "Add a service".to_owned(),
    };
    let f = Frame::new(s, p, &title, "desk-settings")
        .await?
        .crumbs(&[("/desk/settings", "Desk settings")]);
    Ok(render_status(
        status,
        &ServicePage {
            f,
            form,
            action: editing.map_or_else(
                || "/desk/services".to_owned(),
                |svc| format!("/desk/services/{}", svc.id),
            ),
            submit: if editing.is_some() {
                "Save service"
            } else {
                "Add service"
            },
            version: editing.map_or(0, |svc| svc.version),
            creating: editing.is_none(),
            teams: catalog::list_teams(&s.db)
                .await?
                .into_iter()
                .map(|t| (t.id.to_string(), t.name))
                .collect(),
            policies: catalog::list_policies(&s.db)
                .await?
                .into_iter()
                .map(|x| (x.id.to_string(), x.name))
                .collect(),
        },
    ))
}

fn service_values(svc: &catalog::Service) -> FormState {
    FormState::with([
        ("name", svc.name.clone()),
        ("slug", svc.slug.clone()),
        ("category", svc.category.clone()),
        ("description", svc.description.clone()),
        ("support_hours", svc.support_hours.clone()),
        ("sla_policy_id", svc.sla_policy_id.to_string()),
        (
            "owner_team_id",
            svc.owner_team_id.map(|t| t.to_string()).unwrap_or_default(),
        ),
        ("active", svc.active.to_string()),
    ])
}

fn raw_service(form: &HashMap<String, String>, creating: bool) -> RawService {
    let get = |k: &str| form.get(k).cloned();
    RawService {
        slug: get("slug").filter(|v| !(creating && v.trim().is_empty())),
        name: get("name"),
        category: get("category"),
        description: get("description"),
        owner_team_id: Some(get("owner_team_id").unwrap_or_default()),
        support_hours: get("support_hours"),
        sla_policy_id: get("sla_policy_id").filter(|v| !v.trim().is_empty()),
        active: Some(form.get("active").is_some_and(|v| v == "true")),
    }
}

async fn new_service(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let form = FormState::with([
        ("support_hours", "Business hours".to_owned()),
        ("active", "true".to_owned()),
    ]);
    service_page(&s, &p, form, None, StatusCode::OK).await
}

async fn create_service(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let raw = raw_service(&form, true);
    let result = match parse_service(&raw, None) {
        Ok(d) => catalog::create_service(&s.db, &p.actor(), &d)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=created#services").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(e)?;
            service_page(&s, &p, st, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

fn service_id(raw: &str) -> Result<ServiceId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

async fn edit_service(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let svc = catalog::get_service(&s.db, service_id(&id)?).await?;
    service_page(&s, &p, service_values(&svc), Some(&svc), StatusCode::OK).await
}

async fn save_service(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let svc = catalog::get_service(&s.db, service_id(&id)?).await?;
    let raw = raw_service(&form, false);
    let version = form.get("version").and_then(|v| v.parse().ok());
    let result = match parse_service(&raw, Some(svc.draft())) {
        Ok(d) => catalog::update_service(&s.db, &p.actor(), svc.id, version, &d)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=saved#services").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(e)?;
            service_page(&s, &p, st, Some(&svc), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn set_item_active(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let id: CatalogItemId = id.parse().map_err(|_| Failure::NotFound)?;
    let item = catalog::get_item(&s.db, id).await?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let mut d = item.draft();
    d.active = form.get("active").is_some_and(|v| v == "true");
    catalog::update_item(&s.db, &p.actor(), id, version, &d).await?;
    Ok(Redirect::to(&format!(
        "/desk/settings?notice={}#items",
        if d.active { "offered" } else { "withdrawn" }
    ))
    .into_response())
}

#[derive(Template)]
#[template(path = "mail_template.html")]
struct TemplatePage {
    f: Frame,
    form: FormState,
    event: String,
    version: i64,
    customised: bool,
    placeholders: Vec<(&'static str, &'static str)>,
}

async fn template_page(
    s: &AppState,
    p: &Principal,
    t: &store::desk::templates::MailTemplate,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let f = Frame::new(s, p, &format!("Notification: {}", t.label), "desk-settings")
        .await?
        .crumbs(&[("/desk/settings", "Desk settings")]);
    Ok(render_status(
        status,
        &TemplatePage {
            f,
            form,
            event: t.event.to_owned(),
            version: t.version,
            customised: t.customised,
            placeholders: domain::desk::template::PLACEHOLDERS.to_vec(),
        },
    ))
}

fn event(raw: &str) -> Result<store::desk::notify::Event, Failure> {
    store::desk::notify::Event::parse(raw).ok_or(Failure::NotFound)
}

async fn edit_template(
    State(s): State<AppState>,
    p: Principal,
    Path(ev): Path<String>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let t = store::desk::templates::get(&s.db, event(&ev)?).await?;
    let form = FormState::with([("subject", t.subject.clone()), ("body", t.body.clone())]);
    template_page(&s, &p, &t, form, StatusCode::OK).await
}

async fn save_template(
    State(s): State<AppState>,
    p: Principal,
    Path(ev): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let raw = crate::api::desk::RawTemplate {
        subject: Some(form.get("subject").cloned().unwrap_or_default()),
        body: Some(form.get("body").cloned().unwrap_or_default()),
    };
    let version = form.get("version").and_then(|v| v.parse().ok());
    match crate::api::desk::save_template(&s, &p, &ev, version, &raw).await {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=saved#templates").into_response()),
        Err(e) => {
            let t = store::desk::templates::get(&s.db, event(&ev)?).await?;
            let st = FormState::refill(form).fail(e)?;
            template_page(&s, &p, &t, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn reset_template(
    State(s): State<AppState>,
    p: Principal,
    Path(ev): Path<String>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    store::desk::templates::reset(&s.db, &p.actor(), event(&ev)?).await?;
    Ok(Redirect::to("/desk/settings?notice=restored#templates").into_response())
}

// ---------------------------------------------------------------------------------------------------
// Catalog items and their request forms

/// The form names of one question of the request-form builder.
struct ItemRow {
    label: String,
    key: String,
    kind: String,
    required: String,
    choices: String,
}

impl ItemRow {
    fn new(i: usize) -> Self {
        Self {
            label: format!("q{i}_label"),
            key: format!("q{i}_key"),
            kind: format!("q{i}_kind"),
            required: format!("q{i}_required"),
            choices: format!("q{i}_choices"),
        }
    }
}

/// Room for three more questions than the form has, up to the limit of 30.
fn item_rows(questions: usize) -> Vec<ItemRow> {
    (0..(questions + 3).min(30)).map(ItemRow::new).collect()
}

#[derive(Template)]
#[template(path = "item_form.html")]
struct ItemPage {
    f: Frame,
    form: FormState,
    action: String,
    submit: &'static str,
    version: i64,
    creating: bool,
    service_name: String,
    services: Vec<(String, String)>,
    kinds: Vec<(String, String)>,
    rows: Vec<ItemRow>,
}

const KINDS: [(domain::desk::catalog::FieldKind, &str, &str); 4] = [
    (domain::desk::catalog::FieldKind::Text, "text", "Text"),
    (
        domain::desk::catalog::FieldKind::Choice,
        "choice",
        "A choice from a list",
    ),
    (
        domain::desk::catalog::FieldKind::Number,
        "number",
        "A number",
    ),
    (domain::desk::catalog::FieldKind::Date, "date", "A date"),
];

async fn item_page(
    s: &AppState,
    p: &Principal,
    form: FormState,
    editing: Option<&catalog::CatalogItem>,
    status: StatusCode,
) -> PageResult<Response> {
    let title = match editing {
        Some(i) => format!("Edit {}", i.name),
        None => "Add a catalog item".to_owned(),
    };
    let f = Frame::new(s, p, &title, "desk-settings")
        .await?
        .crumbs(&[("/desk/settings", "Desk settings")]);
    let services = catalog::list_services(&s.db, false).await?;
    let questions = form
        .values
        .get("rows")
        .and_then(|r| r.parse::<usize>().ok())
        .map_or_else(
            || editing.map_or(0, |i| i.form.len()),
            |r| r.saturating_sub(3),
        );
    Ok(render_status(
        status,
        &ItemPage {
            f,
            action: editing.map_or_else(
                || "/desk/items".to_owned(),
                |i| format!("/desk/items/{}", i.id),
            ),
            submit: if editing.is_some() {
                "Save item"
            } else {
                "Add item"
            },
            version: editing.map_or(0, |i| i.version),
            creating: editing.is_none(),
            service_name: editing
                .and_then(|i| services.iter().find(|svc| svc.id == i.service_id))
                .map(|svc| svc.name.clone())
                .unwrap_or_default(),
            services: services
                .iter()
                .map(|svc| (svc.id.to_string(), svc.name.clone()))
                .collect(),
            kinds: KINDS
                .iter()
                .map(|(_, v, l)| ((*v).to_owned(), (*l).to_owned()))
                .collect(),
            rows: item_rows(questions),
            form,
        },
    ))
}

fn item_values(i: &catalog::CatalogItem) -> FormState {
    let mut st = FormState::with([
        ("service_id", i.service_id.to_string()),
        ("name", i.name.clone()),
        ("description", i.description.clone()),
        (
            "cost",
            if i.cost_cents > 0 {
                format!("{}.{:02}", i.cost_cents / 100, i.cost_cents % 100)
            } else {
                String::new()
            },
        ),
        ("active", i.active.to_string()),
    ]);
    for (n, q) in i.form.iter().enumerate() {
        let r = ItemRow::new(n);
        let kind = KINDS
            .iter()
            .find(|(k, _, _)| *k == q.kind)
            .map_or("text", |(_, v, _)| v);
        st.values.insert(r.label, q.label.clone());
        st.values.insert(r.key, q.key.clone());
        st.values.insert(r.kind, kind.to_owned());
        st.values.insert(r.required, q.required.to_string());
        st.values.insert(r.choices, q.choices.join("\n"));
    }
    st
}

/// The item as the form sent it, and for each question the builder row it came from (rows left without a
/// label are not questions).
fn raw_item(
    form: &HashMap<String, String>,
    creating: bool,
) -> Result<(crate::api::desk::RawItem, Vec<usize>), Failure> {
    use domain::desk::catalog::{FieldKind, FormField, key_from_label};
    let get = |k: &str| form.get(k).map_or("", String::as_str);
    let cost = domain::validation::dollars("cost", get("cost"), 100_000_000)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    // Without the builder's rows (a form that only edits the item), the questions stay as they are.
    let builder = form.contains_key("rows");
    let rows = get("rows").parse::<usize>().unwrap_or(0).min(30);
    let mut fields = Vec::new();
    let mut from_row = Vec::new();
    for n in 0..rows {
        let r = ItemRow::new(n);
        let label = get(&r.label).trim();
        if label.is_empty() {
            continue;
        }
        let key = match get(&r.key).trim() {
            "" => key_from_label(label),
            k => k.to_owned(),
        };
        let kind = KINDS
            .iter()
            .find(|(_, v, _)| *v == get(&r.kind))
            .map_or(FieldKind::Text, |(k, _, _)| *k);
        fields.push(FormField {
            key,
            label: label.to_owned(),
            kind,
            required: get(&r.required) == "true",
            choices: if kind == FieldKind::Choice {
                get(&r.choices)
                    .lines()
                    .map(str::trim)
                    .filter(|c| !c.is_empty())
                    .map(str::to_owned)
                    .collect()
            } else {
                Vec::new()
            },
        });
        from_row.push(n);
    }
    Ok((
        crate::api::desk::RawItem {
            service_id: form
                .get("service_id")
                .filter(|v| creating && !v.trim().is_empty())
                .cloned(),
            name: form.get("name").cloned(),
            description: form.get("description").cloned(),
            form: builder.then_some(fields),
            cost_cents: Some(cost),
            active: Some(get("active") == "true"),
        },
        from_row,
    ))
}

/// The API's field names (`form[2].key`, `cost_cents`) as the builder names them (`q4_key`, `cost`).
fn item_fields(f: Failure, from_row: &[usize]) -> Failure {
    f.map_fields(|e| {
        if e.field == "cost_cents" {
            return FieldError::new("cost", e.message);
        }
        if e.field == "form" {
            return FieldError::new("q0_label", e.message);
        }
        let parsed = e.field.strip_prefix("form[").and_then(|rest| {
            let (i, part) = rest.split_once("].")?;
            let row = *from_row.get(i.parse::<usize>().ok()?)?;
            Some(format!("q{row}_{part}"))
        });
        match parsed {
            Some(field) => FieldError::new(field, e.message),
            None => e,
        }
    })
}

async fn new_item(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let form = FormState::with([("active", "true".to_owned())]);
    item_page(&s, &p, form, None, StatusCode::OK).await
}

async fn create_item(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let mut rows = Vec::new();
    let result = match raw_item(&form, true) {
        Ok((raw, from_row)) => {
            rows = from_row;
            match crate::api::desk::parse_item(&raw, None) {
                Ok(d) => catalog::create_item(&s.db, &p.actor(), &d)
                    .await
                    .map_err(Failure::from),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=created#items").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(item_fields(e, &rows))?;
            item_page(&s, &p, st, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

fn item_id(raw: &str) -> Result<CatalogItemId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

async fn edit_item(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let item = catalog::get_item(&s.db, item_id(&id)?).await?;
    item_page(&s, &p, item_values(&item), Some(&item), StatusCode::OK).await
}

async fn save_item(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let item = catalog::get_item(&s.db, item_id(&id)?).await?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let mut rows = Vec::new();
    let result = match raw_item(&form, false) {
        Ok((raw, from_row)) => {
            rows = from_row;
            match crate::api::desk::parse_item(&raw, Some(item.draft())) {
                Ok(d) => catalog::update_item(&s.db, &p.actor(), item.id, version, &d)
                    .await
                    .map_err(Failure::from),
                Err(e) => Err(e),
            }
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=saved#items").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(item_fields(e, &rows))?;
            item_page(&s, &p, st, Some(&item), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// SLA policies

/// The form names of one priority's targets.
struct TargetRow {
    label: String,
    response: String,
    resolution: String,
}

#[derive(Template)]
#[template(path = "policy_form.html")]
struct PolicyPage {
    f: Frame,
    form: FormState,
    action: String,
    submit: &'static str,
    version: i64,
    creating: bool,
    coverages: Vec<(String, String)>,
    targets: Vec<TargetRow>,
}

fn target_rows() -> Vec<TargetRow> {
    Priority::ALL
        .iter()
        .enumerate()
        .map(|(i, pr)| TargetRow {
            label: pr.label().to_owned(),
            response: format!("targets_p{}_response_minutes", i + 1),
            resolution: format!("targets_p{}_resolution_minutes", i + 1),
        })
        .collect()
}

async fn policy_page(
    s: &AppState,
    p: &Principal,
    form: FormState,
    editing: Option<&catalog::SlaPolicy>,
    status: StatusCode,
) -> PageResult<Response> {
    let title = match editing {
        Some(x) => format!("Edit {}", x.name),
        None => "Add an SLA policy".to_owned(),
    };
    let f = Frame::new(s, p, &title, "desk-settings")
        .await?
        .crumbs(&[("/desk/settings", "Desk settings")]);
    Ok(render_status(
        status,
        &PolicyPage {
            f,
            form,
            action: editing.map_or_else(
                || "/desk/policies".to_owned(),
                |x| format!("/desk/policies/{}", x.id),
            ),
            submit: if editing.is_some() {
                "Save policy"
            } else {
                "Add policy"
            },
            version: editing.map_or(0, |x| x.version),
            creating: editing.is_none(),
            coverages: vec![
                (
                    "business_hours".to_owned(),
                    "Business hours of the member".to_owned(),
                ),
                ("always_on".to_owned(), "Around the clock".to_owned()),
            ],
            targets: target_rows(),
        },
    ))
}

fn policy_values(
    name: &str,
    coverage: domain::desk::Coverage,
    t: &domain::desk::SlaTargets,
) -> FormState {
    let mut st = FormState::with([
        ("name", name.to_owned()),
        ("coverage", coverage.as_str().to_owned()),
    ]);
    for (i, row) in target_rows().into_iter().enumerate() {
        st.values
            .insert(row.response, t.0[i].response_minutes.to_string());
        st.values
            .insert(row.resolution, t.0[i].resolution_minutes.to_string());
    }
    st
}

/// The policy the form describes; a target that is not a whole number is named.
fn raw_policy(form: &HashMap<String, String>) -> Result<crate::api::desk::RawPolicy, Failure> {
    let mut targets = domain::desk::SlaTargets::standard();
    let mut errors = Vec::new();
    for (i, row) in target_rows().into_iter().enumerate() {
        for (name, slot) in [
            (row.response, &mut targets.0[i].response_minutes),
            (row.resolution, &mut targets.0[i].resolution_minutes),
        ] {
            match form.get(&name).map(|v| v.trim().parse::<i64>()) {
                Some(Ok(m)) => *slot = m,
                _ => errors.push(FieldError::new(name, "must be a whole number of minutes")),
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    Ok(crate::api::desk::RawPolicy {
        name: form.get("name").cloned(),
        coverage: form.get("coverage").cloned(),
        targets: Some(targets),
    })
}

/// `targets.p2` (the priority as a whole) is shown at its response target.
fn policy_fields(f: Failure) -> Failure {
    f.map_fields(|e| {
        if e.field.starts_with("targets.p") && e.field.matches('.').count() == 1 {
            FieldError::new(format!("{}.response_minutes", e.field), e.message)
        } else {
            e
        }
    })
}

async fn new_policy(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let form = policy_values(
        "",
        domain::desk::Coverage::BusinessHours,
        &domain::desk::SlaTargets::standard(),
    );
    policy_page(&s, &p, form, None, StatusCode::OK).await
}

async fn create_policy(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let result = match raw_policy(&form).and_then(|raw| crate::api::desk::parse_policy(&raw, None))
    {
        Ok((name, coverage, targets)) => {
            catalog::create_policy(&s.db, &p.actor(), &name, coverage, &targets)
                .await
                .map_err(Failure::from)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=created#policies").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(policy_fields(e))?;
            policy_page(&s, &p, st, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn edit_policy(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let id = id.parse().map_err(|_| Failure::NotFound)?;
    let x = catalog::get_policy(&s.db, id).await?;
    let form = policy_values(&x.name, x.coverage, &x.targets);
    policy_page(&s, &p, form, Some(&x), StatusCode::OK).await
}

async fn save_policy(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let id = id.parse().map_err(|_| Failure::NotFound)?;
    let x = catalog::get_policy(&s.db, id).await?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let result =
        match raw_policy(&form).and_then(|raw| crate::api::desk::parse_policy(&raw, Some(&x))) {
            Ok((name, coverage, targets)) => {
                catalog::update_policy(&s.db, &p.actor(), x.id, version, &name, coverage, &targets)
                    .await
                    .map_err(Failure::from)
            }
            Err(e) => Err(e),
        };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=saved#policies").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(policy_fields(e))?;
            policy_page(&s, &p, st, Some(&x), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megabytes_are_read_exactly() {
        assert_eq!(parse_mb("10").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_mb(" 2.5 ").unwrap(), 2_621_440);
        assert_eq!(crate::api::desk::megabytes(2_621_440), "2.5");
        assert_eq!(crate::api::desk::megabytes(10 * 1024 * 1024), "10");
        for bad in ["", "ten", "1.25", "-1", "1e3", "99999"] {
            assert!(parse_mb(bad).is_err(), "{bad}");
        }
    }
}
