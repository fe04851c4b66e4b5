//! Asking for a service: the catalog and the form that opens a ticket.

use super::ticket::options;
use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::{RawTicket, parse_ticket};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, render, render_status};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::desk::catalog::{FieldKind, FormField};
use domain::desk::{Impact, Source, TicketKind, Urgency};
use domain::ids::CatalogItemId;
use std::collections::HashMap;
use store::desk::catalog;
use store::desk::tickets::{self};

pub fn routes(t: Table) -> Table {
    t.get(
        "/tickets/new",
        "Open a ticket (form)",
        Needs::Perm(Permission::TicketSubmit),
        new_form,
    )
    .post(
        "/tickets",
        "Open a ticket",
        Needs::Perm(Permission::TicketSubmit),
        create,
    )
    .get(
        "/catalog",
        "The service catalog",
        Needs::SignedIn,
        catalog_page,
    )
}

// ---------------------------------------------------------------------------------------------------
// Opening

struct ItemView {
    id: String,
    name: String,
    description: String,
    cost: String,
    fields: Vec<FieldView>,
}

struct FieldView {
    name: String,
    label: String,
    input: &'static str,
    required: bool,
    choices: Vec<(String, String)>,
}

fn field_view(f: &FormField) -> FieldView {
    FieldView {
        name: format!("form_{}", f.key),
        label: f.label.clone(),
        input: match f.kind {
            FieldKind::Text => "text",
            FieldKind::Choice => "choice",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
        },
        required: f.required,
        choices: f.choices.iter().map(|c| (c.clone(), c.clone())).collect(),
    }
}

/// "$1,299.00" from cents.
pub fn money(cents: i64) -> String {
    format!("${}.{:02}", crate::page::fmt_int(cents / 100), cents % 100)
}

#[derive(Template)]
#[template(path = "desk/ticket_new.html")]
struct NewPage {
    f: Frame,
    form: FormState,
    item: Option<ItemView>,
    kinds: Vec<(String, String)>,
    impacts: Vec<(String, String)>,
    urgencies: Vec<(String, String)>,
    services: Vec<(String, String)>,
}

#[derive(serde::Deserialize, Default, schemars::JsonSchema)]
struct NewQuery {
    item: Option<String>,
}

async fn new_page(
    s: &AppState,
    p: &Principal,
    item: Option<CatalogItemId>,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    p.require(Permission::TicketSubmit)?;
    let item = match item {
        Some(id) => {
            let i = catalog::get_item(&s.db, id).await?;
            if !i.active {
                return Err(Failure::NotFound.into());
            }
            Some(ItemView {
                id: i.id.to_string(),
                name: i.name.clone(),
                description: i.description.clone(),
                cost: if i.cost_cents > 0 {
                    money(i.cost_cents)
                } else {
                    String::new()
                },
                fields: i.form.iter().map(field_view).collect(),
            })
        }
        None => None,
    };
    let services = catalog::list_services(&s.db, true)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    let title = item.as_ref().map_or_else(
        || "Report a problem or ask for help".to_owned(),
        |i| format!("Request: {}", i.name),
    );
    let f = Frame::new(s, p, &title, "new-ticket")
        .await?
        .crumbs(&[("/catalog", "Service catalog")]);
    Ok(render_status(
        status,
        &NewPage {
            f,
            form,
            item,
            kinds: options(
                if p.is_desk() {
                    TicketKind::ALL
                } else {
                    &[TicketKind::Incident, TicketKind::ServiceRequest]
                },
                TicketKind::as_str,
                TicketKind::label,
            ),
            impacts: options(Impact::ALL, Impact::as_str, Impact::label),
            urgencies: options(Urgency::ALL, Urgency::as_str, Urgency::label),
            services,
        },
    ))
}

fn parse_item_id(raw: Option<&str>) -> Result<Option<CatalogItemId>, Failure> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Failure::NotFound),
    }
}

async fn new_form(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<NewQuery>,
) -> PageResult<Response> {
    let item = parse_item_id(q.item.as_deref())?;
    let form = FormState::with([
        ("kind", "incident".to_owned()),
        ("impact", "low".to_owned()),
        ("urgency", "medium".to_owned()),
    ]);
    new_page(&s, &p, item, form, StatusCode::OK).await
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Granted(granted): Granted,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let item = parse_item_id(form.get("catalog_item_id").map(String::as_str))?;
    let raw = RawTicket {
        kind: form.get("kind").cloned(),
        subject: form.get("subject").cloned(),
        description: form.get("description").cloned(),
        impact: form.get("impact").cloned(),
        urgency: form.get("urgency").cloned(),
        service_id: form.get("service_id").cloned(),
        catalog_item_id: item.map(|i| i.to_string()),
        form: form
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("form_").map(|k| (k.to_owned(), v.clone())))
            .collect(),
        ..RawTicket::default()
    };
    let submit = granted;
    let result = match parse_ticket(&s, &p, &raw, Source::Portal).await {
        Ok(new) => tickets::open(&s.db, &submit, &p.actor(), new)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => Ok(Redirect::to(&format!("/tickets/{}?notice=opened", t.number)).into_response()),
        Err(e) => {
            let state = FormState::refill(form.clone()).fail(e)?;
            new_page(&s, &p, item, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Catalog

struct ServiceView {
    name: String,
    category: String,
    description: String,
    support_hours: String,
    items: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "desk/catalog.html")]
struct CatalogPage {
    f: Frame,
    services: Vec<ServiceView>,
    can_submit: bool,
}

async fn catalog_page(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    let services = catalog::list_services(&s.db, true).await?;
    let items = catalog::list_items(&s.db, None, true).await?;
    let views = services
        .into_iter()
        .map(|svc| ServiceView {
            items: items
                .iter()
                .filter(|i| i.service_id == svc.id)
                .map(|i| {
                    (
                        i.id.to_string(),
                        i.name.clone(),
                        i.description.clone(),
                        if i.cost_cents > 0 {
                            money(i.cost_cents)
                        } else {
                            String::new()
                        },
                    )
                })
                .collect(),
            name: svc.name,
            category: svc.category,
            description: svc.description,
            support_hours: svc.support_hours,
        })
        .collect();
    let f = Frame::new(&s, &p, "Service catalog", "catalog").await?;
    Ok(render(&CatalogPage {
        f,
        services: views,
        can_submit: !p.scope(Permission::TicketSubmit).is_empty(),
    }))
}
