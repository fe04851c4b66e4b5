//! Billing forms beyond creation: amend an agreement's terms, change a subscription's quantity or end, add a
//! price to a rate card (the card's page shows every price over time), and an agreement's documents. Each
//! calls the same function as its API route.

use super::billing::agreement_form;
use super::{Frame, render, render_status};
use crate::AppState;
use crate::api::billing::{
    Amount, RawAgreement, RawRate, RawSubscriptionEdit, add_price, amend_agreement,
    change_subscription, store_document,
};
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use askama::Template;
use axum::extract::{Form, Multipart, Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::ids::{AgreementId, RateCardId, SubscriptionId};
use std::collections::HashMap;
use store::billing::{agreements, rates};

use crate::routes::Table;

pub fn routes(t: Table) -> Table {
    t.get(
        "/billing/agreements/{id}/edit",
        "Form: amend an agreement's terms",
        "billing-manage",
        edit_agreement,
    )
    .post(
        "/billing/agreements/{id}",
        "Amend an agreement's terms",
        "billing-manage",
        save_agreement,
    )
    .post(
        "/billing/subscriptions/{id}",
        "Change a subscription's quantity or end",
        "billing-manage",
        save_subscription,
    )
    .get(
        "/billing/rate-cards/{id}",
        "A rate card with every price over time",
        "billing-read",
        card_page,
    )
    .post(
        "/billing/rate-cards/{id}/rates",
        "Add a price to a rate card from a date on",
        "billing-manage",
        add_rate,
    )
    .post(
        "/billing/agreements/{id}/documents",
        "Attach a document to an agreement (multipart form)",
        "billing-manage",
        upload_document,
    )
    .get(
        "/billing/agreements/{id}/documents/{doc}",
        "Download an agreement's document",
        "billing-read",
        download_document,
    )
}

use super::form_field as field;

fn agreement_id(raw: &str) -> Result<AgreementId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

async fn amend_page(
    s: &AppState,
    p: &Principal,
    a: &agreements::Agreement,
    form: super::FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let mut page = agreement_form(s, p, form).await?;
    page.f.title = format!("Amend: {}", a.title);
    page.f
        .breadcrumbs
        .push((format!("/billing/agreements/{}", a.id), a.title.clone()));
    page.action = format!("/billing/agreements/{}", a.id);
    page.cancel = format!("/billing/agreements/{}", a.id);
    page.editing = true;
    Ok(render_status(status, &page))
}

async fn edit_agreement(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingManage)?;
    let a = agreements::get(&s.db, &scope, agreement_id(&id)?).await?;
    let form = super::FormState::with([
        ("title", a.title.clone()),
        ("status", a.status.as_str().to_owned()),
        ("cadence", a.cadence.as_str().to_owned()),
        ("starts_on", a.starts_on.to_string()),
        (
            "ends_on",
            a.ends_on.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("renewal", a.renewal.as_str().to_owned()),
        ("approving_body", a.approving_body.clone()),
        (
            "vote_date",
            a.vote_date.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("notes", a.notes.clone()),
        ("version", a.version.to_string()),
    ]);
    amend_page(&s, &p, &a, form, StatusCode::OK).await
}

async fn save_agreement(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingManage)?;
    let id = agreement_id(&id)?;
    let current = agreements::get(&s.db, &scope, id).await?;
    // A form sends every field: an emptied optional field clears it (the API's absent field keeps it).
    let raw = RawAgreement {
        org: None,
        title: field(&form, "title"),
        status: field(&form, "status"),
        cadence: field(&form, "cadence"),
        starts_on: field(&form, "starts_on"),
        ends_on: Some(field(&form, "ends_on").unwrap_or_default()),
        renewal: field(&form, "renewal"),
        approving_body: Some(field(&form, "approving_body").unwrap_or_default()),
        vote_date: Some(field(&form, "vote_date").unwrap_or_default()),
        notes: Some(field(&form, "notes").unwrap_or_default()),
    };
    let version = field(&form, "version").and_then(|v| v.parse().ok());
    match amend_agreement(&s, &p, id, version, &raw).await {
        Ok(a) => {
            Ok(Redirect::to(&format!("/billing/agreements/{}?notice=saved", a.id)).into_response())
        }
        Err(e) => {
            let st =
                super::FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf")).fail(e)?;
            amend_page(&s, &p, &current, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn save_subscription(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id: SubscriptionId = id.parse().map_err(|_| Failure::NotFound)?;
    let raw = RawSubscriptionEdit {
        quantity: field(&form, "quantity").map(Amount::Text),
        // An empty end runs the subscription on with its agreement.
        ends_on: Some(field(&form, "ends_on")),
    };
    let sub = change_subscription(&s, &p, id, None, &raw).await?;
    Ok(Redirect::to(&format!(
        "/billing/agreements/{}?notice=saved#subscriptions",
        sub.agreement_id
    ))
    .into_response())
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
#[template(path = "rate_card.html")]
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

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

async fn card_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult<Response> {
    p.require(Permission::BillingRead)?;
    let id: RateCardId = id.parse().map_err(|_| Failure::NotFound)?;
    let c = rates::get(&s.db, id).await?;
    let today = crate::api::time::today();
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

// ---------------------------------------------------------------------------------------------------
// Documents

async fn upload_document(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    mut form: Multipart,
) -> PageResult<Response> {
    let id = agreement_id(&id)?;
    let mut file = None;
    loop {
        let part = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(
                    Failure::BadRequest(format!("the upload could not be read: {e}")).into(),
                );
            }
        };
        if part.name() == Some("file") {
            let name = part.file_name().unwrap_or("").to_owned();
            let ct = part.content_type().map(str::to_owned);
            let bytes = part
                .bytes()
                .await
                .map_err(|e| Failure::BadRequest(format!("the upload could not be read: {e}")))?;
            file = Some((name, ct, bytes));
        }
    }
    let Some((name, ct, bytes)) = file.filter(|(n, _, _)| !n.is_empty()) else {
        return Err(Failure::Invalid(vec![domain::FieldError::new(
            "file",
            "choose a file to attach",
        )])
        .into());
    };
    store_document(&s, &p, id, Some(&name), ct.as_deref(), &bytes).await?;
    Ok(Redirect::to(&format!(
        "/billing/agreements/{id}?notice=attached#documents"
    ))
    .into_response())
}

async fn download_document(
    State(s): State<AppState>,
    p: Principal,
    Path((id, doc)): Path<(String, String)>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let (d, bytes) = agreements::document(&s.db, &scope, agreement_id(&id)?, &doc).await?;
    Ok(crate::api::desk::file_response(&d, bytes))
}
