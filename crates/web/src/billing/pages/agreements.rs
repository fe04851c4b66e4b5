//! Service agreements: one agreement with its subscriptions, amendments, documents and credits; making and amending one.

use super::overview::{options, term};
use crate::AppState;
use crate::auth::Principal;
use crate::billing::ops::billing::{
    Amount, RawAgreement, RawSubscriptionEdit, amend_agreement, change_subscription, store_document,
};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{Frame, form_field as field, render, render_status};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::extract::{Form, Multipart, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::ids::{AgreementId, SubscriptionId};
use std::collections::HashMap;
use store::billing::{agreements, rates};

pub fn routes(t: Table) -> Table {
    t.get(
        "/billing/agreements/new",
        "Form: record an agreement with a member",
        Needs::Perm(Permission::BillingManage),
        new_agreement,
    )
    .post(
        "/billing/agreements",
        "Record an agreement with a member",
        Needs::Perm(Permission::BillingManage),
        create_agreement,
    )
    .post(
        "/billing/agreements/{id}/subscriptions",
        "Subscribe the member to a rate card",
        Needs::Perm(Permission::BillingManage),
        subscribe_form,
    )
    .get(
        "/billing/agreements/{id}",
        "An agreement: its terms, subscriptions and history",
        Needs::Perm(Permission::BillingRead),
        agreement_page,
    )
    .get(
        "/billing/agreements/{id}/edit",
        "Form: amend an agreement's terms",
        Needs::Perm(Permission::BillingManage),
        edit_agreement,
    )
    .post(
        "/billing/agreements/{id}",
        "Amend an agreement's terms",
        Needs::Perm(Permission::BillingManage),
        save_agreement,
    )
    .post(
        "/billing/subscriptions/{id}",
        "Change a subscription's quantity or end",
        Needs::Perm(Permission::BillingManage),
        save_subscription,
    )
    .post(
        "/billing/agreements/{id}/documents",
        "Attach a document to an agreement (multipart form)",
        Needs::Perm(Permission::BillingManage),
        upload_document,
    )
    .get(
        "/billing/agreements/{id}/documents/{doc}",
        "Download an agreement's document",
        Needs::Perm(Permission::BillingRead),
        download_document,
    )
}

pub struct SubscriptionRow {
    pub id: String,
    pub card: String,
    pub card_id: String,
    pub ends_on: String,
    pub quantity: String,
    pub term: String,
}

pub struct AmendmentRow {
    pub at: String,
    pub who: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "billing/agreement.html")]
pub struct AgreementPage {
    pub f: Frame,
    pub member: String,
    pub status: String,
    pub cadence: String,
    pub term: String,
    pub renewal: String,
    pub approving_body: String,
    pub vote_date: String,
    pub notes: String,
    pub subscriptions: Vec<SubscriptionRow>,
    pub amendments: Vec<AmendmentRow>,
    pub can_manage: bool,
    pub id: String,
    /// (id, name) of the rate cards a subscription may take.
    pub cards: Vec<(String, String)>,
    pub starts_on: String,
    pub credits: Vec<CreditRow>,
    pub documents: Vec<DocumentRow>,
}

pub struct DocumentRow {
    pub id: String,
    pub name: String,
    pub size: String,
    pub added: String,
}

pub struct CreditRow {
    pub month: String,
    pub amount: String,
    pub reason: String,
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

async fn agreement_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    let id: AgreementId = id.parse().map_err(|_| Failure::NotFound)?;
    let a = agreements::get(&s.db, &scope, id).await?;
    let subs = agreements::subscriptions(&s.db, &scope, id).await?;
    let history = agreements::amendments(&s.db, &scope, id).await?;
    let member = store::tenancy::orgs::get(&s.db, &scope, a.org_id).await?;
    let credits = store::billing::finance::credits(&s.db, &scope, Some(id))
        .await?
        .into_iter()
        .map(|c| CreditRow {
            month: c.month,
            amount: domain::billing::format_cents(c.amount_cents),
            reason: c.reason,
        })
        .collect();
    let documents = agreements::documents(&s.db, &scope, id)
        .await?
        .into_iter()
        .map(|d| DocumentRow {
            id: d.id,
            name: d.filename,
            size: crate::download::size_label(d.size_bytes),
            added: crate::page::local_time(d.created_at, &member.time_zone),
        })
        .collect();
    let can_manage = !p.scope(Permission::BillingManage).is_empty();
    let cards = if can_manage {
        rates::list(&s.db, true)
            .await?
            .into_iter()
            .map(|c| (c.id.to_string(), c.name))
            .collect()
    } else {
        Vec::new()
    };
    let mut f = Frame::new(&s, &p, &a.title, "billing")
        .await?
        .notice(q.notice.as_deref());
    f.breadcrumbs = vec![("/billing".into(), "Billing".into())];
    Ok(render(&AgreementPage {
        f,
        member: member.name.clone(),
        can_manage,
        id: a.id.to_string(),
        cards,
        starts_on: a.starts_on.to_string(),
        credits,
        documents,
        status: a.status.label().to_owned(),
        cadence: a.cadence.as_str().to_owned(),
        term: term(a.starts_on, a.ends_on),
        renewal: a.renewal.label().to_owned(),
        approving_body: a.approving_body,
        vote_date: a.vote_date.map(|d| d.to_string()).unwrap_or_default(),
        notes: a.notes,
        subscriptions: subs
            .into_iter()
            .map(|s| SubscriptionRow {
                id: s.id.to_string(),
                card_id: s.rate_card_id.to_string(),
                ends_on: s.ends_on.map(|d| d.to_string()).unwrap_or_default(),
                card: s.rate_card_name,
                quantity: s.quantity.to_string(),
                term: term(s.starts_on, s.ends_on),
            })
            .collect(),
        amendments: history
            .into_iter()
            .map(|h| AmendmentRow {
                at: crate::page::local_time(h.at, &member.time_zone),
                who: h.actor_name,
                summary: h.summary,
            })
            .collect(),
    }))
}

#[derive(Template)]
#[template(path = "billing/agreement_form.html")]
pub struct AgreementForm {
    pub f: Frame,
    pub form: crate::page::FormState,
    pub members: Vec<(String, String)>,
    pub statuses: Vec<(String, String)>,
    pub cadences: Vec<(String, String)>,
    pub renewals: Vec<(String, String)>,
    pub action: String,
    pub cancel: String,
    /// Amending an existing agreement (its member cannot change).
    pub editing: bool,
}

pub(crate) async fn agreement_form(
    s: &AppState,
    p: &Principal,
    form: crate::page::FormState,
) -> Result<AgreementForm, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let hub = store::tenancy::orgs::hub(&s.db).await?.map(|h| h.id);
    let members = store::tenancy::orgs::names(&s.db, &scope, None, 1000)
        .await?
        .into_iter()
        .filter(|o| Some(o.id) != hub)
        .map(|o| (o.slug, o.name))
        .collect();
    let mut f = Frame::new(s, p, "Record an agreement", "billing").await?;
    f.breadcrumbs = vec![("/billing".into(), "Billing".into())];
    use domain::billing::agreement::{AgreementStatus, Renewal};
    Ok(AgreementForm {
        f,
        form,
        members,
        statuses: options(
            AgreementStatus::ALL,
            AgreementStatus::as_str,
            AgreementStatus::label,
        ),
        cadences: vec![
            ("monthly".into(), "Monthly".into()),
            ("quarterly".into(), "Quarterly (fiscal quarters)".into()),
        ],
        renewals: options(Renewal::ALL, Renewal::as_str, Renewal::label),
        action: "/billing/agreements".into(),
        cancel: "/billing#agreements".into(),
        editing: false,
    })
}

async fn new_agreement(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    let form = crate::page::FormState::with([
        ("status", "active".to_owned()),
        ("cadence", "monthly".to_owned()),
        ("renewal", "annual".to_owned()),
    ]);
    Ok(render(&agreement_form(&s, &p, form).await?))
}

async fn create_agreement(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = crate::billing::ops::billing::RawAgreement {
        org: field(&form, "org"),
        title: field(&form, "title"),
        status: field(&form, "status"),
        cadence: field(&form, "cadence"),
        starts_on: field(&form, "starts_on"),
        ends_on: field(&form, "ends_on"),
        renewal: field(&form, "renewal"),
        approving_body: field(&form, "approving_body"),
        vote_date: field(&form, "vote_date"),
        notes: field(&form, "notes"),
    };
    match crate::billing::ops::billing::record_agreement(&s, &p, &raw).await {
        Ok(a) => Ok(
            Redirect::to(&format!("/billing/agreements/{}?notice=created", a.id)).into_response(),
        ),
        Err(e) => {
            let st = crate::page::FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf"))
                .fail(e)?;
            let page = agreement_form(&s, &p, st).await?;
            Ok(crate::page::render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ))
        }
    }
}

async fn subscribe_form(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = crate::billing::ops::billing::RawSubscription {
        rate_card_id: field(&form, "rate_card_id"),
        quantity: field(&form, "quantity").map(crate::billing::ops::billing::Amount::Text),
        starts_on: field(&form, "starts_on"),
        ends_on: field(&form, "ends_on"),
    };
    let id: AgreementId = id.parse().map_err(|_| Failure::NotFound)?;
    crate::billing::ops::billing::add_subscription(&s, &p, id, &raw).await?;
    Ok(Redirect::to(&format!(
        "/billing/agreements/{id}?notice=created#subscriptions"
    ))
    .into_response())
}

fn agreement_id(raw: &str) -> Result<AgreementId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

async fn amend_page(
    s: &AppState,
    p: &Principal,
    a: &agreements::Agreement,
    form: crate::page::FormState,
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
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let a = agreements::get(&s.db, &scope, agreement_id(&id)?).await?;
    let form = crate::page::FormState::with([
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
    Granted(scope): Granted,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id = agreement_id(&id)?;
    let current = agreements::get(&s.db, &scope, id).await?;
    // A form sends every field: an emptied optional field clears it (the API's absent field keeps it).
    let raw = RawAgreement {
        org: None,
        // Required terms emptied on the form are refused, not kept.
        title: Some(field(&form, "title").unwrap_or_default()),
        status: field(&form, "status"),
        cadence: field(&form, "cadence"),
        starts_on: Some(field(&form, "starts_on").unwrap_or_default()),
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
            let st = crate::page::FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf"))
                .fail(e)?;
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
    Granted(scope): Granted,
    Path((id, doc)): Path<(String, String)>,
) -> PageResult<Response> {
    let (d, bytes) = agreements::document(&s.db, &scope, agreement_id(&id)?, &doc).await?;
    Ok(crate::download::file_response(&d, bytes))
}
