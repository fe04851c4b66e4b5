//! Billing pages: the rate cards (every price over time), a member's agreements with their subscriptions and
//! history, and a month's usage totals. Hub administrators see the region; member administrators and
//! auditors their own member.

use super::{Frame, render};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use askama::Template;
use axum::extract::{Form, Path, Query, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::usage::meter_name;
use domain::ids::{AgreementId, OrgId};
use std::collections::BTreeMap;
use store::billing::{agreements, invoices, rates, usage};
use store::page::PageRequest;

use crate::routes::Table;

pub fn routes(t: Table) -> Table {
    t.get(
        "/billing",
        "Billing: rate cards, agreements and a month's usage",
        "billing-read",
        overview,
    )
    .get(
        "/billing/agreements/new",
        "Form: record an agreement with a member",
        "billing-manage",
        new_agreement,
    )
    .post(
        "/billing/agreements",
        "Record an agreement with a member",
        "billing-manage",
        create_agreement,
    )
    .post(
        "/billing/agreements/{id}/subscriptions",
        "Subscribe the member to a rate card",
        "billing-manage",
        subscribe_form,
    )
    .get(
        "/billing/rate-cards/new",
        "Form: price a service with a new rate card",
        "billing-manage",
        new_card,
    )
    .post(
        "/billing/rate-cards",
        "Create a rate card with its first price",
        "billing-manage",
        create_card,
    )
    .get(
        "/billing/agreements/{id}",
        "An agreement: its terms, subscriptions and history",
        "billing-read",
        agreement_page,
    )
    .post(
        "/billing/usage/import",
        "Import usage from a CSV file (or check it first)",
        "billing-manage",
        import_page,
    )
    .get(
        "/billing/invoices",
        "Invoices and credit notes (by period, status and member)",
        "billing-read",
        invoices_page,
    )
    .post(
        "/billing/invoice-runs",
        "Run a period's invoices (drafts)",
        "billing-manage",
        run_form,
    )
    .get(
        "/billing/invoices/{id}",
        "An invoice with its lines (?format=pdf or ?format=csv)",
        "billing-read",
        invoice_page,
    )
    .post(
        "/billing/invoices/{id}/issue",
        "Issue a draft invoice",
        "billing-manage",
        issue_form,
    )
    .post(
        "/billing/invoices/{id}/void",
        "Void an issued invoice with a credit note",
        "billing-manage",
        void_form,
    )
    .post(
        "/billing/invoices/{id}/payments",
        "Record a payment",
        "billing-manage",
        pay_form,
    )
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OverviewQuery {
    /// `YYYY-MM` (default: this month).
    pub month: Option<String>,
    /// Organisation slug.
    pub org: Option<String>,
    pub meter: Option<String>,
    pub notice: Option<String>,
}

pub struct CardRow {
    pub id: String,
    pub name: String,
    pub service: String,
    pub model: String,
    pub price: String,
    pub since: String,
    pub history: usize,
    pub active: bool,
}

pub struct AgreementRow {
    pub id: String,
    pub member: String,
    pub title: String,
    pub status: String,
    pub cadence: String,
    pub term: String,
}

pub struct UsageRow {
    pub member: String,
    pub meter: String,
    pub quantity: String,
    pub records: String,
}

#[derive(Template)]
#[template(path = "billing.html")]
pub struct OverviewPage {
    pub f: Frame,
    pub cards: Vec<CardRow>,
    pub agreements: Vec<AgreementRow>,
    pub more_agreements: bool,
    pub usage: Vec<UsageRow>,
    pub month: String,
    pub org: String,
    pub meter: String,
    pub members: Vec<(String, String)>,
    pub errors: Vec<FieldError>,
    pub can_manage: bool,
    /// Whether the hub's books (finance) are open to this person.
    pub can_finance: bool,
}

/// This month in the region's time zone, `YYYY-MM`.
fn this_month() -> String {
    domain::billing::period::month_key(crate::api::time::today())
}

fn term(from: jiff::civil::Date, until: Option<jiff::civil::Date>) -> String {
    match until {
        Some(u) => format!("{from} to {u}"),
        None => format!("from {from}, open-ended"),
    }
}

async fn overview(
    State(s): State<AppState>,
    p: Principal,
    Query(q): Query<OverviewQuery>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let names: BTreeMap<OrgId, (String, String)> =
        store::tenancy::orgs::names(&s.db, &scope, None, 1000)
            .await?
            .into_iter()
            .map(|o| (o.id, (o.slug, o.name)))
            .collect();
    let name_of = |id: &OrgId| names.get(id).map(|n| n.1.clone()).unwrap_or_default();
    // Filters: a bad one is shown beside the form, and the page still renders.
    let mut errors = Vec::new();
    let month = match q.month.as_deref().map(str::trim).filter(|m| !m.is_empty()) {
        None => this_month(),
        Some(m) => match crate::api::billing::month("month", m) {
            Ok(m) => m,
            Err(e) => {
                errors.push(e);
                this_month()
            }
        },
    };
    let org_slug = q.org.as_deref().map(str::trim).unwrap_or("").to_owned();
    let org = if org_slug.is_empty() {
        None
    } else {
        match names.iter().find(|(_, n)| n.0 == org_slug) {
            Some((id, _)) => Some(*id),
            None => {
                errors.push(FieldError::new("org", "is not an organisation you can see"));
                None
            }
        }
    };
    let meter_raw = q.meter.as_deref().map(str::trim).unwrap_or("").to_owned();
    let meter = if meter_raw.is_empty() {
        None
    } else {
        match meter_name("meter", &meter_raw) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.push(e);
                None
            }
        }
    };
    let today = crate::api::time::today();
    let cards = rates::list(&s.db, false)
        .await?
        .into_iter()
        .map(|c| {
            let prices = c.prices();
            let current = domain::billing::rate_on(&prices, today);
            CardRow {
                price: current.map_or_else(
                    || "not yet in force".to_owned(),
                    |r| domain::billing::price_label(c.model, &c.unit, r),
                ),
                since: current
                    .map(|r| r.effective_from.to_string())
                    .unwrap_or_default(),
                history: c.rates.len(),
                id: c.id.to_string(),
                name: c.name,
                service: c.service_name,
                model: c.model.label().to_owned(),
                active: c.active,
            }
        })
        .collect();
    let filter = agreements::Filter { org, status: None };
    let page = agreements::list(&s.db, &scope, &filter, &PageRequest::first(50)).await?;
    let more_agreements = page.next_cursor.is_some();
    let agreements = page
        .items
        .into_iter()
        .map(|a| AgreementRow {
            id: a.id.to_string(),
            member: name_of(&a.org_id),
            title: a.title,
            status: a.status.label().to_owned(),
            cadence: a.cadence.as_str().to_owned(),
            term: term(a.starts_on, a.ends_on),
        })
        .collect();
    let usage = usage::totals(&s.db, &scope, org, &month, &month)
        .await?
        .into_iter()
        .filter(|t| meter.as_ref().is_none_or(|m| &t.meter == m))
        .map(|t| UsageRow {
            member: name_of(&t.org_id),
            meter: t.meter,
            quantity: t.quantity,
            records: super::fmt_int(t.records),
        })
        .collect();
    let f = Frame::new(&s, &p, "Billing", "billing")
        .await?
        .notice(q.notice.as_deref());
    Ok(render(&OverviewPage {
        f,
        cards,
        agreements,
        more_agreements,
        usage,
        month,
        org: org_slug,
        meter: meter_raw,
        members: names.into_values().collect(),
        errors,
        can_finance: matches!(
            p.scope(Permission::FinanceRead),
            domain::authz::Scope::Region
        ),
        can_manage: !p.scope(Permission::BillingManage).is_empty(),
    }))
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
#[template(path = "agreement.html")]
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

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

async fn agreement_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<NoticeQuery>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
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
            size: crate::api::desk::size_label(d.size_bytes),
            added: super::local_time(d.created_at, &member.time_zone),
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
                at: super::local_time(h.at, &member.time_zone),
                who: h.actor_name,
                summary: h.summary,
            })
            .collect(),
    }))
}

// ---------------------------------------------------------------------------------------------------
// Invoices

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoicesQuery {
    pub period: Option<String>,
    pub status: Option<String>,
    pub org: Option<String>,
    pub notice: Option<String>,
    pub cursor: Option<String>,
}

pub struct InvoiceRow {
    pub id: String,
    pub number: String,
    pub member: String,
    pub period: String,
    pub status: String,
    pub total: String,
    pub due: String,
}

#[derive(Template)]
#[template(path = "invoices.html")]
pub struct InvoicesPage {
    pub f: Frame,
    pub rows: Vec<InvoiceRow>,
    pub period: String,
    pub status: String,
    pub can_manage: bool,
    pub next: Option<String>,
    pub statuses: &'static [&'static str],
}

fn status_label(kind: &str, status: &str) -> String {
    match (kind, status) {
        ("credit_note", _) => "Credit note".into(),
        (_, "draft") => "Draft".into(),
        (_, "issued") => "Issued".into(),
        (_, "paid") => "Paid".into(),
        (_, "void") => "Void".into(),
        (_, other) => other.to_owned(),
    }
}

async fn invoices_page(
    State(s): State<AppState>,
    p: Principal,
    Query(q): Query<InvoicesQuery>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let fy = crate::api::billing::fy_start(&s).await?;
    let given = |v: &Option<String>| {
        v.as_deref()
            .map(str::trim)
            .filter(|x| !x.is_empty())
            .map(str::to_owned)
    };
    let mut errors = Vec::new();
    let period = match given(&q.period) {
        None => None,
        Some(v) => match domain::billing::Period::parse("period", &v, fy) {
            Ok(p) => Some(p.label(fy)),
            Err(e) => {
                errors.push(e);
                None
            }
        },
    };
    let status = match given(&q.status) {
        None => None,
        Some(v) if crate::api::billing::INVOICE_STATUSES.contains(&v.as_str()) => Some(v),
        Some(_) => {
            errors.push(FieldError::new(
                "status",
                format!(
                    "must be one of {}",
                    crate::api::billing::INVOICE_STATUSES.join(", ")
                ),
            ));
            None
        }
    };

    let org = match given(&q.org) {
        None => None,
        Some(slug) => match store::tenancy::orgs::id_by_slug(&s.db, &scope, &slug).await {
            Ok(id) => Some(id),
            Err(store::StoreError::NotFound) => {
                errors.push(FieldError::new("org", "is not an organisation you can see"));
                None
            }
            Err(e) => return Err(e.into()),
        },
    };
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors).into());
    }
    let page_req = PageRequest {
        after: q.cursor.as_deref().and_then(crate::extract::decode_cursor),
        limit: 100,
    };
    let page = invoices::list(
        &s.db,
        &scope,
        &invoices::Filter {
            org,
            status: status.clone(),
            period: period.clone(),
        },
        &page_req,
    )
    .await?;
    let names: BTreeMap<OrgId, String> = store::tenancy::orgs::names(&s.db, &scope, None, 1000)
        .await?
        .into_iter()
        .map(|o| (o.id, o.name))
        .collect();
    let rows = page
        .items
        .iter()
        .map(|i| InvoiceRow {
            id: i.id.clone(),
            number: i.number.clone().unwrap_or_else(|| "—".into()),
            member: names.get(&i.org_id).cloned().unwrap_or_default(),
            period: i.period.clone(),
            status: status_label(&i.kind, &i.status),
            total: domain::billing::format_cents(i.total_cents),
            due: i.due_on.map(|d| d.to_string()).unwrap_or_default(),
        })
        .collect();
    let f = Frame::new(&s, &p, "Invoices", "billing")
        .await?
        .notice(q.notice.as_deref());
    let mut f = f;
    f.breadcrumbs = vec![("/billing".into(), "Billing".into())];
    Ok(render(&InvoicesPage {
        f,
        rows,
        period: period.unwrap_or_default(),
        status: status.unwrap_or_default(),
        can_manage: !p.scope(Permission::BillingManage).is_empty(),
        next: page
            .next_cursor
            .as_deref()
            .map(crate::extract::encode_cursor),
        statuses: &crate::api::billing::INVOICE_STATUSES,
    }))
}

async fn run_form(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::BillingManage)?;
    let fy = crate::api::billing::fy_start(&s).await?;
    let raw = form.get("period").map(String::as_str).unwrap_or("");
    let period =
        domain::billing::Period::parse("period", raw, fy).map_err(|e| Failure::Invalid(vec![e]))?;
    let label = period.label(fy);
    invoices::run(&s.db, &p.actor(), &period, &label).await?;
    Ok(Redirect::to(&format!("/billing/invoices?period={label}&notice=run")).into_response())
}

pub struct LineRow {
    pub description: String,
    pub quantity: String,
    pub unit_price: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "invoice.html")]
pub struct InvoicePage {
    pub f: Frame,
    pub id: String,
    pub member: String,
    pub period: String,
    pub status: String,
    pub raw_status: String,
    pub kind: String,
    pub due: String,
    pub total: String,
    pub paid: String,
    pub left: String,
    pub void_reason: String,
    pub lines: Vec<LineRow>,
    pub can_manage: bool,
    pub methods: &'static [&'static str],
}

#[derive(Debug, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    pub format: Option<String>,
    pub notice: Option<String>,
}

async fn invoice_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Query(q): Query<InvoiceQuery>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let (inv, lines) = invoices::get(&s.db, &scope, &id).await?;
    let member = store::tenancy::orgs::get(&s.db, &scope, inv.org_id).await?;
    let title = invoice_title(&inv);
    if q.format.as_deref() == Some("pdf") {
        return Ok(pdf_response(&s, &inv, &lines, &member.name, &title));
    }
    if q.format.as_deref() == Some("csv") {
        let name = inv
            .number
            .clone()
            .unwrap_or_else(|| format!("draft-{}", inv.period));
        return Ok(super::csv_response(
            &format!("{name}.csv"),
            &[
                "invoice",
                "member",
                "period",
                "line",
                "description",
                "quantity",
                "unit_price",
                "amount",
                "trace",
            ],
            lines.iter().map(|l| {
                vec![
                    inv.number.clone().unwrap_or_default(),
                    member.slug.to_string(),
                    inv.period.clone(),
                    l.position.to_string(),
                    l.description.clone(),
                    l.quantity.to_string(),
                    l.unit_price.to_string(),
                    format!(
                        "{}.{:02}",
                        l.amount_cents / 100,
                        (l.amount_cents % 100).abs()
                    ),
                    l.trace.to_string(),
                ]
            }),
        ));
    }
    let mut f = Frame::new(&s, &p, &title, "billing")
        .await?
        .notice(q.notice.as_deref());
    f.breadcrumbs = vec![
        ("/billing".into(), "Billing".into()),
        ("/billing/invoices".into(), "Invoices".into()),
    ];
    Ok(render(&InvoicePage {
        f,
        id: inv.id.clone(),
        member: member.name.clone(),
        period: inv.period.clone(),
        status: status_label(&inv.kind, &inv.status),
        raw_status: inv.status.clone(),
        kind: inv.kind.clone(),
        due: inv.due_on.map(|d| d.to_string()).unwrap_or_default(),
        total: domain::billing::format_cents(inv.total_cents),
        paid: domain::billing::format_cents(inv.paid_cents),
        left: domain::billing::format_cents(inv.total_cents - inv.paid_cents),
        void_reason: inv.void_reason.clone(),
        lines: lines
            .iter()
            .map(|l| LineRow {
                description: l.description.clone(),
                quantity: l.quantity.to_string(),
                unit_price: domain::billing::format_price(l.unit_price),
                amount: domain::billing::format_cents(l.amount_cents),
            })
            .collect(),
        can_manage: !p.scope(Permission::BillingManage).is_empty(),
        methods: &crate::api::billing::PAYMENT_METHODS,
    }))
}

/// The invoice as a PDF download.
pub(crate) fn pdf_response(
    s: &AppState,
    inv: &invoices::Invoice,
    lines: &[invoices::Line],
    member: &str,
    title: &str,
) -> Response {
    let mut facts = vec![
        ("Member", member.to_owned()),
        ("Period", inv.period.clone()),
    ];
    if let Some(at) = inv.issued_at {
        facts.push(("Issued", super::local_time(at, "America/New_York")));
    }
    if let Some(due) = inv.due_on {
        facts.push(("Due", due.to_string()));
    }
    facts.push(("Status", status_label(&inv.kind, &inv.status)));
    let doc = crate::pdf::InvoiceDoc {
        region: &s.config.region_name,
        title,
        facts,
        lines: lines
            .iter()
            .map(|l| {
                (
                    l.description.clone(),
                    l.quantity.to_string(),
                    domain::billing::format_price(l.unit_price),
                    domain::billing::format_cents(l.amount_cents),
                )
            })
            .collect(),
        total: domain::billing::format_cents(inv.total_cents),
        footer: "Amounts in US dollars. Each line is traced to its rate, days and usage in Civitas.",
    };
    let name = inv
        .number
        .clone()
        .unwrap_or_else(|| format!("draft-{}", inv.period));
    (
        [
            (
                axum::http::header::CONTENT_TYPE,
                "application/pdf".to_owned(),
            ),
            (
                axum::http::header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}.pdf\""),
            ),
        ],
        crate::pdf::invoice(&doc),
    )
        .into_response()
}

/// An invoice's title: its number, or what it is while a draft.
pub(crate) fn invoice_title(inv: &invoices::Invoice) -> String {
    match &inv.number {
        Some(n) if inv.kind == "credit_note" => format!("Credit note {n}"),
        Some(n) => format!("Invoice {n}"),
        None => format!("Draft invoice, {}", inv.period),
    }
}

async fn issue_form(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingManage)?;
    invoices::issue(
        &s.db,
        &scope,
        &p.actor(),
        &id,
        None,
        &crate::api::time::now_local(),
    )
    .await?;
    Ok(Redirect::to(&format!("/billing/invoices/{id}?notice=issued")).into_response())
}

async fn void_form(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = crate::api::billing::RawVoid {
        reason: field(&form, "reason"),
    };
    let credit = crate::api::billing::void_with_credit(&s, &p, &id, &raw).await?;
    Ok(Redirect::to(&format!("/billing/invoices/{}?notice=voided", credit.id)).into_response())
}

async fn pay_form(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = crate::api::billing::RawPayment {
        amount: field(&form, "amount"),
        received_on: field(&form, "received_on"),
        method: field(&form, "method"),
        reference: field(&form, "reference"),
    };
    crate::api::billing::record_payment(&s, &p, &id, &raw).await?;
    Ok(Redirect::to(&format!("/billing/invoices/{id}?notice=paid")).into_response())
}

#[derive(Template)]
#[template(path = "usage_import.html")]
pub struct ImportPage {
    pub f: Frame,
    pub dry_run: bool,
    pub file_name: String,
    pub rows: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub errors: Vec<FieldError>,
}

/// A CSV uploaded from the billing page (`multipart/form-data`: `file`, and `dry_run` to check only).
async fn import_page(
    State(s): State<AppState>,
    p: Principal,
    mut form: axum::extract::Multipart,
) -> PageResult<Response> {
    p.require(Permission::BillingManage)?;
    let mut file = None;
    let mut dry_run = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(
                    Failure::BadRequest(format!("the upload could not be read: {e}")).into(),
                );
            }
        };
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_owned();
                let bytes = field.bytes().await.map_err(|e| {
                    Failure::BadRequest(format!("the upload could not be read: {e}"))
                })?;
                file = Some((name, bytes));
            }
            Some("dry_run") => dry_run = true,
            _ => {}
        }
    }
    let (file_name, bytes) = file.unwrap_or_default();
    let outcome = if file_name.is_empty() {
        Err(Failure::Invalid(vec![FieldError::new(
            "file",
            "choose a CSV file to import",
        )]))
    } else {
        match crate::api::billing::parse_usage_csv(&bytes) {
            Ok(rows) => crate::api::billing::import_rows(&s, &p, &rows, dry_run)
                .await
                .map(|r| (rows.len(), r)),
            Err(e) => Err(e),
        }
    };
    let mut f = Frame::new(
        &s,
        &p,
        if dry_run {
            "Usage file checked"
        } else {
            "Usage imported"
        },
        "billing",
    )
    .await?;
    f.breadcrumbs = vec![("/billing".into(), "Billing".into())];
    let page = match outcome {
        Ok((rows, r)) => ImportPage {
            f,
            dry_run,
            file_name,
            rows,
            accepted: r.accepted,
            duplicates: r.duplicates,
            errors: Vec::new(),
        },
        Err(Failure::Invalid(errors)) => {
            f.title = "Usage file refused".into();
            let page = ImportPage {
                f,
                dry_run,
                file_name,
                rows: 0,
                accepted: 0,
                duplicates: 0,
                errors,
            };
            return Ok(super::render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(render(&page))
}

// ---------------------------------------------------------------------------------------------------
// Forms: agreements, subscriptions, rate cards

pub(crate) fn options<T: Copy>(
    all: &[T],
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (value(*v).to_owned(), label(*v).to_owned()))
        .collect()
}

#[derive(Template)]
#[template(path = "agreement_form.html")]
pub struct AgreementForm {
    pub f: Frame,
    pub form: super::FormState,
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
    form: super::FormState,
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
    let form = super::FormState::with([
        ("status", "active".to_owned()),
        ("cadence", "monthly".to_owned()),
        ("renewal", "annual".to_owned()),
    ]);
    Ok(render(&agreement_form(&s, &p, form).await?))
}

use super::form_field as field;

async fn create_agreement(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = crate::api::billing::RawAgreement {
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
    match crate::api::billing::record_agreement(&s, &p, &raw).await {
        Ok(a) => Ok(
            Redirect::to(&format!("/billing/agreements/{}?notice=created", a.id)).into_response(),
        ),
        Err(e) => {
            let st =
                super::FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf")).fail(e)?;
            let page = agreement_form(&s, &p, st).await?;
            Ok(super::render_status(
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
    let raw = crate::api::billing::RawSubscription {
        rate_card_id: field(&form, "rate_card_id"),
        quantity: field(&form, "quantity").map(crate::api::billing::Amount::Text),
        starts_on: field(&form, "starts_on"),
        ends_on: field(&form, "ends_on"),
    };
    let id: AgreementId = id.parse().map_err(|_| Failure::NotFound)?;
    crate::api::billing::add_subscription(&s, &p, id, &raw).await?;
    Ok(Redirect::to(&format!(
        "/billing/agreements/{id}?notice=created#subscriptions"
    ))
    .into_response())
}

#[derive(Template)]
#[template(path = "rate_card_form.html")]
pub struct CardForm {
    pub f: Frame,
    pub form: super::FormState,
    pub services: Vec<(String, String)>,
    pub models: Vec<(String, String)>,
    pub activities: Vec<(String, String)>,
}

async fn card_form(
    s: &AppState,
    p: &Principal,
    form: super::FormState,
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
    let today = crate::api::time::today();
    let form = super::FormState::with([("effective_from", today.to_string())]);
    Ok(render(&card_form(&s, &p, form).await?))
}

async fn create_card(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    p.require(Permission::BillingManage)?;
    let amount = |name: &str| field(&form, name).map(crate::api::billing::Amount::Text);
    let raw = crate::api::billing::RawCard {
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
    let result = match crate::api::billing::parse_card(&raw) {
        Ok((card, rate)) => rates::create(&s.db, &p.actor(), &card, &rate)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/billing?notice=created#rate-cards").into_response()),
        Err(e) => {
            let st =
                super::FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf")).fail(e)?;
            let page = card_form(&s, &p, st).await?;
            Ok(super::render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ))
        }
    }
}
