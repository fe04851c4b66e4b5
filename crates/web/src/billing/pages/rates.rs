//! Rate cards: one card with its prices, making a card and adding a price.

use super::agreements::NoticeQuery;
use super::overview::options;
use crate::AppState;
use crate::auth::Principal;
use crate::billing::ops::billing::{Amount, RawRate, add_price};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{Frame, form_field as field, render};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::ids::RateCardId;
use std::collections::HashMap;
use store::billing::rates;

pub fn routes(t: Table) -> Table {
    t.get(
        "/billing/rate-cards/new",
        "Form: price a service with a new rate card",
        Needs::Perm(Permission::BillingManage),
        new_card,
    )
    .post(
        "/billing/rate-cards",
        "Create a rate card with its first price",
        Needs::Perm(Permission::BillingManage),
        create_card,
    )
    .get(
        "/billing/rate-cards/{id}",
        "A rate card with every price over time",
        Needs::Perm(Permission::BillingRead),
        card_page,
    )
    .post(
        "/billing/rate-cards/{id}/rates",
        "Add a price to a rate card from a date on",
        Needs::Perm(Permission::BillingManage),
        add_rate,
    )
}

#[derive(Template)]
#[template(path = "billing/rate_card_form.html")]
pub struct CardForm {
    pub f: Frame,
    pub form: crate::page::FormState,
    pub services: Vec<(String, String)>,
    pub models: Vec<(String, String)>,
    pub activities: Vec<(String, String)>,
}

async fn card_form(
    s: &AppState,
    p: &Principal,
    form: crate::page::FormState,
) -> Result<CardForm, Failure> {
    p.require(Permission::BillingManage)?;
    let services = store::desk::catalog::list_services(&s.db, true)
        .await?
        .into_iter()
        .map(|x| (x.id.to_string(), x.name))
        .collect();
    let mut f = Frame::new(s, p, "New rate card", "billing").await?;
    f.breadcrumbs = vec![("/billing".into(), "Billing".into())];
    Ok(CardForm {
        f,
        form,
        services,
        models: domain::billing::Model::ALL
            .iter()
            .map(|m| (m.as_str().to_owned(), m.label().to_owned()))
            .collect(),
        activities: options(
            domain::desk::Activity::ALL,
            domain::desk::Activity::as_str,
            domain::desk::Activity::label,
        ),
    })
}

async fn new_card(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    let today = crate::clock::today();
    let form = crate::page::FormState::with([("effective_from", today.to_string())]);
    Ok(render(&card_form(&s, &p, form).await?))
}

async fn create_card(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let amount = |name: &str| field(&form, name).map(crate::billing::ops::billing::Amount::Text);
    let raw = crate::billing::ops::billing::RawCard {
        service_id: field(&form, "service_id"),
        name: field(&form, "name"),
        model: field(&form, "model"),
        unit: field(&form, "unit"),
        meter: field(&form, "meter"),
        activity: field(&form, "activity"),
        price: amount("price"),
        overage: amount("overage"),
        effective_from: field(&form, "effective_from"),
        note: field(&form, "note"),
    };
    let result = match crate::billing::ops::billing::parse_card(&raw) {
        Ok((card, rate)) => rates::create(&s.db, &p.actor(), &card, &rate)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/billing?notice=created#rate-cards").into_response()),
        Err(e) => {
            let st = crate::page::FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf"))
                .fail(e)?;
            let page = card_form(&s, &p, st).await?;
            Ok(crate::page::render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ))
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Rate cards

pub struct PriceRow {
    pub from: String,
    pub price: String,
    pub note: String,
    pub current: bool,
}

#[derive(Template)]
#[template(path = "billing/rate_card.html")]
pub struct CardPage {
    pub f: Frame,
    pub id: String,
    pub service: String,
    pub model: &'static str,
    pub unit: String,
    pub meter: String,
    pub active: bool,
    pub prices: Vec<PriceRow>,
    pub can_manage: bool,
    pub needs_overage: bool,
}

async fn card_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    let id: RateCardId = id.parse().map_err(|_| Failure::NotFound)?;
    let c = rates::get(&s.db, id).await?;
    let today = crate::clock::today();
    let current = domain::billing::rate_on(&c.prices(), today).map(|r| r.effective_from);
    let prices = c
        .rates
        .iter()
        .rev()
        .map(|r| PriceRow {
            from: r.effective_from.to_string(),
            price: domain::billing::price_label(c.model, &c.unit, &r.rate()),
            note: r.note.clone(),
            current: Some(r.effective_from) == current,
        })
        .collect();
    let f = Frame::new(&s, &p, &c.name, "billing")
        .await?
        .notice(q.notice.as_deref())
        .crumbs(&[("/billing", "Billing")]);
    Ok(render(&CardPage {
        f,
        id: c.id.to_string(),
        service: c.service_name,
        model: c.model.label(),
        unit: c.unit,
        meter: c.meter,
        active: c.active,
        prices,
        can_manage: !p.scope(Permission::BillingManage).is_empty(),
        needs_overage: c.model == domain::billing::Model::PrepaidHours,
    }))
}

async fn add_rate(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id: RateCardId = id.parse().map_err(|_| Failure::NotFound)?;
    let raw = RawRate {
        price: field(&form, "price").map(Amount::Text),
        overage: field(&form, "overage").map(Amount::Text),
        effective_from: field(&form, "effective_from"),
        note: field(&form, "note"),
    };
    add_price(&s, &p, id, &raw).await?;
    Ok(Redirect::to(&format!("/billing/rate-cards/{id}?notice=created#prices")).into_response())
}
