//! Invoices: the list, running a period, one invoice, issuing, voiding and recording payments.

use crate::AppState;
use crate::auth::Principal;
use crate::billing::ops::billing::{invoice_title, pdf_response, status_label};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::form_field as field;
use crate::page::{Frame, render};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::ids::OrgId;
use std::collections::BTreeMap;
use store::billing::invoices;
use store::page::PageRequest;

pub fn routes(t: Table) -> Table {
    t.get(
        "/billing/invoices",
        "Invoices and credit notes (by period, status and member)",
        Needs::Perm(Permission::BillingRead),
        invoices_page,
    )
    .post(
        "/billing/invoice-runs",
        "Run a period's invoices (drafts)",
        Needs::Perm(Permission::BillingManage),
        run_form,
    )
    .get(
        "/billing/invoices/{id}",
        "An invoice with its lines (?format=pdf or ?format=csv)",
        Needs::Perm(Permission::BillingRead),
        invoice_page,
    )
    .post(
        "/billing/invoices/{id}/issue",
        "Issue a draft invoice",
        Needs::Perm(Permission::BillingManage),
        issue_form,
    )
    .post(
        "/billing/invoices/{id}/void",
        "Void an issued invoice with a credit note",
        Needs::Perm(Permission::BillingManage),
        void_form,
    )
    .post(
        "/billing/invoices/{id}/payments",
        "Record a payment",
        Needs::Perm(Permission::BillingManage),
        pay_form,
    )
}

// ---------------------------------------------------------------------------------------------------
// Invoices

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
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
#[template(path = "billing/invoices.html")]
pub struct InvoicesPage {
    pub f: Frame,
    pub rows: Vec<InvoiceRow>,
    pub period: String,
    pub status: String,
    pub can_manage: bool,
    pub next: Option<String>,
    pub statuses: &'static [&'static str],
}

async fn invoices_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    PageQueryString(q): PageQueryString<InvoicesQuery>,
) -> PageResult<Response> {
    let fy = crate::clock::fy_start(&s).await?;
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
        Some(v) if crate::billing::ops::billing::INVOICE_STATUSES.contains(&v.as_str()) => Some(v),
        Some(_) => {
            errors.push(FieldError::new(
                "status",
                format!(
                    "must be one of {}",
                    crate::billing::ops::billing::INVOICE_STATUSES.join(", ")
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
        statuses: &crate::billing::ops::billing::INVOICE_STATUSES,
    }))
}

async fn run_form(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let fy = crate::clock::fy_start(&s).await?;
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
#[template(path = "billing/invoice.html")]
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
    /// Voiding needs an invoice with no payment recorded (a paid one is corrected with a credit).
    pub can_void: bool,
    pub methods: &'static [&'static str],
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    pub format: Option<String>,
    pub notice: Option<String>,
}

async fn invoice_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<InvoiceQuery>,
) -> PageResult<Response> {
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
        return Ok(crate::page::csv_response(
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
        can_void: !inv.has_payments(),
        methods: &crate::billing::ops::billing::PAYMENT_METHODS,
    }))
}

async fn issue_form(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> PageResult<Response> {
    invoices::issue(
        &s.db,
        &scope,
        &p.actor(),
        &id,
        None,
        &crate::clock::now_local(),
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
    let raw = crate::billing::ops::billing::RawVoid {
        reason: field(&form, "reason"),
    };
    let credit = crate::billing::ops::billing::void_with_credit(&s, &p, &id, &raw).await?;
    Ok(Redirect::to(&format!("/billing/invoices/{}?notice=voided", credit.id)).into_response())
}

async fn pay_form(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<std::collections::HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = crate::billing::ops::billing::RawPayment {
        amount: field(&form, "amount"),
        received_on: field(&form, "received_on"),
        method: field(&form, "method"),
        reference: field(&form, "reference"),
    };
    crate::billing::ops::billing::record_payment(&s, &p, &id, &raw).await?;
    Ok(Redirect::to(&format!("/billing/invoices/{id}?notice=paid")).into_response())
}
