//! The service catalog as the desk keeps it: services and their request items with their forms.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::{RawService, parse_service};
use crate::error::{Failure, PageResult};
use crate::page::{FormState, Frame, render_status};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::ids::{CatalogItemId, ServiceId};
use std::collections::HashMap;
use store::desk::catalog;

pub fn routes(t: Table) -> Table {
    t.get(
        "/desk/services/new",
        "Form to add a service",
        Needs::Perm(Permission::CatalogManage),
        new_service,
    )
    .post(
        "/desk/services",
        "Add a service",
        Needs::Perm(Permission::CatalogManage),
        create_service,
    )
    .get(
        "/desk/services/{id}",
        "Form to edit a service",
        Needs::Perm(Permission::CatalogManage),
        edit_service,
    )
    .post(
        "/desk/services/{id}",
        "Save a service",
        Needs::Perm(Permission::CatalogManage),
        save_service,
    )
    .post(
        "/desk/items/{id}/active",
        "Offer or withdraw a catalog item",
        Needs::Perm(Permission::CatalogManage),
        set_item_active,
    )
    .get(
        "/desk/items/new",
        "Form to add a catalog item and its request form",
        Needs::Perm(Permission::CatalogManage),
        new_item,
    )
    .post(
        "/desk/items",
        "Add a catalog item",
        Needs::Perm(Permission::CatalogManage),
        create_item,
    )
    .get(
        "/desk/items/{id}",
        "Form to edit a catalog item and its request form",
        Needs::Perm(Permission::CatalogManage),
        edit_item,
    )
    .post(
        "/desk/items/{id}",
        "Save a catalog item",
        Needs::Perm(Permission::CatalogManage),
        save_item,
    )
}

#[derive(Template)]
#[template(path = "desk/service_form.html")]
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
    let svc = catalog::get_service(&s.db, service_id(&id)?).await?;
    service_page(&s, &p, service_values(&svc), Some(&svc), StatusCode::OK).await
}

async fn save_service(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
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
#[template(path = "desk/item_form.html")]
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
) -> Result<(crate::desk::ops::desk::RawItem, Vec<usize>), Failure> {
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
        crate::desk::ops::desk::RawItem {
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
    let form = FormState::with([("active", "true".to_owned())]);
    item_page(&s, &p, form, None, StatusCode::OK).await
}

async fn create_item(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let mut rows = Vec::new();
    let result = match raw_item(&form, true) {
        Ok((raw, from_row)) => {
            rows = from_row;
            match crate::desk::ops::desk::parse_item(&raw, None) {
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
    let item = catalog::get_item(&s.db, item_id(&id)?).await?;
    item_page(&s, &p, item_values(&item), Some(&item), StatusCode::OK).await
}

async fn save_item(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let item = catalog::get_item(&s.db, item_id(&id)?).await?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let mut rows = Vec::new();
    let result = match raw_item(&form, false) {
        Ok((raw, from_row)) => {
            rows = from_row;
            match crate::desk::ops::desk::parse_item(&raw, Some(item.draft())) {
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
