//! The hub's finance pages: a fiscal year's costs, recovery and margin per service, revenue and next year's
//! forecast per member (the hub's finance office and auditors); what sharing saves each member (every
//! member administrator sees its own, printable); the standalone benchmarks behind the savings, with their
//! sources.

use crate::AppState;
use crate::auth::Principal;
use crate::billing::ops::finance::{
    RawBenchmark, RawCost, RawCredit, fy_or_current, grant_credit, parse_benchmark, parse_cost,
};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{Frame, render};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::{Permission, Scope};
use domain::billing::finance::{CostCategory, SizeBand};
use domain::billing::format_cents;
use domain::ids::AgreementId;
use rust_decimal::Decimal;
use std::collections::HashMap;
use store::billing::finance;

use crate::routes::{Granted, Needs, Table};

pub fn routes(t: Table) -> Table {
    t.get(
        "/billing/finance",
        "The hub's fiscal year: cost, recovery and margin per service, revenue and forecast per member",
        Needs::Hub(Permission::FinanceRead),
        finance_page,
    )
    .post(
        "/billing/finance/costs",
        "Record a cost of a service for a fiscal year",
        Needs::Hub(Permission::BillingManage),
        add_cost,
    )
    .post(
        "/billing/finance/costs/{id}/delete",
        "Remove a cost entered in error",
        Needs::Hub(Permission::BillingManage),
        delete_cost,
    )
    .get(
        "/billing/savings",
        "What sharing saves each member against running its services alone (printable)",
        Needs::Perm(Permission::BillingRead),
        savings_page,
    )
    .get(
        "/billing/benchmarks",
        "Standalone cost benchmarks by service and size band, with their sources",
        Needs::Perm(Permission::BillingRead),
        benchmarks_page,
    )
    .post(
        "/billing/benchmarks",
        "Record a standalone benchmark",
        Needs::Hub(Permission::BillingManage),
        add_benchmark,
    )
    .get(
        "/billing/benchmarks/{id}",
        "Form: change a standalone benchmark",
        Needs::Hub(Permission::BillingManage),
        benchmark_page,
    )
    .post(
        "/billing/benchmarks/{id}",
        "Change a standalone benchmark",
        Needs::Hub(Permission::BillingManage),
        save_benchmark,
    )
    .post(
        "/billing/agreements/{id}/credits",
        "Grant a credit under an agreement",
        Needs::Perm(Permission::BillingManage),
        credit_form,
    )
}

use crate::page::form_field as field;

fn pct(p: Option<Decimal>) -> String {
    p.map_or_else(|| "—".to_owned(), |p| format!("{p}%"))
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct FyQuery {
    pub fy: Option<String>,
    pub org: Option<String>,
    pub notice: Option<String>,
}

// ---------------------------------------------------------------------------------------------------
// Finance

pub struct ServiceRow {
    pub name: String,
    /// By category, in `CostCategory::ALL` order.
    pub costs: Vec<String>,
    pub cost: String,
    pub billed: String,
    pub recovery: String,
    pub margin: String,
    pub loss: bool,
}

pub struct MemberRow {
    pub name: String,
    pub slug: String,
    pub billed: String,
    pub forecast: String,
    pub change: String,
}

pub struct CostRow {
    pub id: String,
    pub service: String,
    pub category: &'static str,
    pub description: String,
    pub amount: String,
}

#[derive(Template)]
#[template(path = "billing/finance.html")]
pub struct FinancePage {
    pub f: Frame,
    pub fy: i16,
    pub span: String,
    pub categories: Vec<(&'static str, &'static str)>,
    pub services: Vec<ServiceRow>,
    pub members: Vec<MemberRow>,
    pub costs: Vec<CostRow>,
    pub cost: String,
    pub billed: String,
    pub credits: String,
    pub recovery: String,
    pub margin: String,
    pub forecast: String,
    pub can_manage: bool,
    pub service_choices: Vec<(String, String)>,
}

async fn finance_page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<FyQuery>,
) -> PageResult<Response> {
    let (fy, start) = fy_or_current(&s, &q.fy).await?;
    let r = finance::report(&s.db, fy, start).await?;
    let costs = finance::costs(&s.db, Some(fy)).await?;
    let can_manage = matches!(p.scope(Permission::BillingManage), Scope::Region);
    let service_choices = if can_manage {
        store::desk::catalog::list_services(&s.db, false)
            .await?
            .into_iter()
            .map(|x| (x.id.to_string(), x.name))
            .collect()
    } else {
        Vec::new()
    };
    let last = r
        .ends_on
        .checked_sub(jiff::Span::new().days(1))
        .unwrap_or(r.ends_on);
    let f = Frame::new(&s, &p, &format!("Finance, FY{fy}"), "billing")
        .await?
        .notice(q.notice.as_deref())
        .crumbs(&[("/billing", "Billing")]);
    Ok(render(&FinancePage {
        f,
        fy,
        span: format!("{} to {last}", r.starts_on),
        categories: CostCategory::ALL
            .iter()
            .map(|c| (c.as_str(), c.label()))
            .collect(),
        services: r
            .services
            .iter()
            .map(|x| ServiceRow {
                name: x.service_name.clone(),
                costs: CostCategory::ALL
                    .iter()
                    .map(|c| format_cents(x.costs.get(c).copied().unwrap_or(0)))
                    .collect(),
                cost: format_cents(x.cost_cents),
                billed: format_cents(x.billed_cents),
                recovery: pct(x.recovery_percent),
                margin: format_cents(x.margin_cents),
                loss: x.margin_cents < 0,
            })
            .collect(),
        members: r
            .members
            .iter()
            .map(|m| MemberRow {
                name: m.name.clone(),
                slug: m.slug.clone(),
                billed: format_cents(m.billed_cents),
                forecast: format_cents(m.forecast_cents),
                change: pct(domain::billing::finance::percent(
                    m.forecast_cents - m.billed_cents,
                    m.billed_cents,
                )),
            })
            .collect(),
        costs: costs
            .into_iter()
            .map(|c| CostRow {
                id: c.id,
                service: c.service_name,
                category: c.category.label(),
                description: c.description,
                amount: format_cents(c.amount_cents),
            })
            .collect(),
        cost: format_cents(r.cost_cents),
        billed: format_cents(r.billed_cents),
        credits: format_cents(r.credits_cents),
        recovery: pct(r.recovery_percent),
        margin: format_cents(r.margin_cents),
        forecast: format_cents(r.forecast_cents),
        can_manage,
        service_choices,
    }))
}

async fn add_cost(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawCost {
        service_id: field(&form, "service_id"),
        fiscal_year: field(&form, "fiscal_year"),
        category: field(&form, "category"),
        description: field(&form, "description"),
        amount: field(&form, "amount"),
    };
    let d = parse_cost(&raw, None)?;
    finance::add_cost(&s.db, &p.actor(), &d).await?;
    Ok(Redirect::to(&format!(
        "/billing/finance?fy={}&notice=created#costs",
        d.fiscal_year
    ))
    .into_response())
}

async fn delete_cost(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let c = finance::cost_entry(&s.db, &id).await?;
    finance::delete_cost(&s.db, &p.actor(), &id, None).await?;
    Ok(Redirect::to(&format!(
        "/billing/finance?fy={}&notice=removed#costs",
        c.fiscal_year
    ))
    .into_response())
}

// ---------------------------------------------------------------------------------------------------
// Savings

pub struct SavingRow {
    pub service: String,
    pub months: i64,
    pub shared: String,
    pub standalone: String,
    pub saved: String,
    pub percent: String,
    pub source: String,
}

pub struct MemberSavingRow {
    pub name: String,
    pub slug: String,
    pub band: &'static str,
    pub shared: String,
    pub standalone: String,
    pub saved: String,
    pub percent: String,
    pub services: Vec<SavingRow>,
}

#[derive(Template)]
#[template(path = "billing/savings.html")]
pub struct SavingsPage {
    pub f: Frame,
    pub fy: i16,
    pub span: String,
    pub org: String,
    pub members: Vec<MemberSavingRow>,
    pub shared: String,
    pub standalone: String,
    pub saved: String,
    pub percent: String,
    /// Show every service of every member (one member, or a printed report).
    pub detailed: bool,
}

async fn savings_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    PageQueryString(q): PageQueryString<FyQuery>,
) -> PageResult<Response> {
    let (fy, start) = fy_or_current(&s, &q.fy).await?;
    let org = q
        .org
        .as_deref()
        .map(str::trim)
        .filter(|o| !o.is_empty())
        .map(str::to_owned);
    let scope = match &org {
        None => scope,
        Some(slug) => {
            Scope::Orgs([store::tenancy::orgs::id_by_slug(&s.db, &scope, slug).await?].into())
        }
    };
    let r = finance::savings(&s.db, &scope, fy, start).await?;
    let last = r
        .ends_on
        .checked_sub(jiff::Span::new().days(1))
        .unwrap_or(r.ends_on);
    let title = match (&org, r.members.first()) {
        (Some(_), Some(m)) => format!("Savings of {}, FY{fy}", m.name),
        _ => format!("Savings from shared services, FY{fy}"),
    };
    let f = Frame::new(&s, &p, &title, "billing")
        .await?
        .crumbs(&[("/billing", "Billing")]);
    let detailed = r.members.len() == 1;
    Ok(render(&SavingsPage {
        f,
        fy,
        span: format!("{} to {last}", r.starts_on),
        org: org.unwrap_or_default(),
        members: r
            .members
            .iter()
            .map(|m| MemberSavingRow {
                name: m.name.clone(),
                slug: m.slug.clone(),
                band: m.size_band.label(),
                shared: format_cents(m.shared_cents),
                standalone: format_cents(m.standalone_cents),
                saved: format_cents(m.saved_cents),
                percent: pct(m.saved_percent),
                services: m
                    .services
                    .iter()
                    .map(|x| SavingRow {
                        service: x.service_name.clone(),
                        months: x.saving.months,
                        shared: format_cents(x.saving.shared_cents),
                        standalone: x
                            .saving
                            .standalone_cents
                            .map_or_else(|| "No benchmark".to_owned(), format_cents),
                        saved: x.saved_cents.map_or_else(String::new, format_cents),
                        percent: pct(x.saved_percent),
                        source: x.source.clone().unwrap_or_default(),
                    })
                    .collect(),
            })
            .collect(),
        shared: format_cents(r.shared_cents),
        standalone: format_cents(r.standalone_cents),
        saved: format_cents(r.saved_cents),
        percent: pct(r.saved_percent),
        detailed,
    }))
}

// ---------------------------------------------------------------------------------------------------
// Benchmarks

pub struct BenchmarkRow {
    pub id: String,
    pub service: String,
    pub band: &'static str,
    pub staff: String,
    pub licences: String,
    pub hardware: String,
    pub annual: String,
    pub source: String,
    pub note: String,
}

#[derive(Template)]
#[template(path = "billing/benchmarks.html")]
pub struct BenchmarksPage {
    pub f: Frame,
    pub rows: Vec<BenchmarkRow>,
    pub can_manage: bool,
    pub service_choices: Vec<(String, String)>,
    pub bands: Vec<(&'static str, &'static str)>,
}

fn bands() -> Vec<(&'static str, &'static str)> {
    SizeBand::ALL
        .iter()
        .map(|b| (b.as_str(), b.label()))
        .collect()
}

async fn benchmarks_page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<FyQuery>,
) -> PageResult<Response> {
    let can_manage = matches!(p.scope(Permission::BillingManage), Scope::Region);
    let service_choices = if can_manage {
        store::desk::catalog::list_services(&s.db, false)
            .await?
            .into_iter()
            .map(|x| (x.id.to_string(), x.name))
            .collect()
    } else {
        Vec::new()
    };
    let rows = finance::benchmarks(&s.db)
        .await?
        .into_iter()
        .map(|b| BenchmarkRow {
            id: b.id,
            service: b.service_name,
            band: b.size_band.label(),
            staff: format_cents(b.standalone.staff_cents),
            licences: format_cents(b.standalone.licences_cents),
            hardware: format_cents(b.standalone.hardware_cents),
            annual: format_cents(b.annual_cents),
            source: b.source,
            note: b.note,
        })
        .collect();
    let f = Frame::new(&s, &p, "Standalone cost benchmarks", "billing")
        .await?
        .notice(q.notice.as_deref())
        .crumbs(&[("/billing", "Billing")]);
    Ok(render(&BenchmarksPage {
        f,
        rows,
        can_manage,
        service_choices,
        bands: bands(),
    }))
}

fn raw_benchmark(form: &HashMap<String, String>) -> RawBenchmark {
    RawBenchmark {
        service_id: field(form, "service_id"),
        size_band: field(form, "size_band"),
        staff: field(form, "staff"),
        licences: field(form, "licences"),
        hardware: field(form, "hardware"),
        source: Some(field(form, "source").unwrap_or_default()),
        note: Some(field(form, "note").unwrap_or_default()),
    }
}

async fn add_benchmark(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let d = parse_benchmark(&raw_benchmark(&form), None)?;
    finance::add_benchmark(&s.db, &p.actor(), &d).await?;
    Ok(Redirect::to("/billing/benchmarks?notice=created").into_response())
}

#[derive(Template)]
#[template(path = "billing/benchmark_form.html")]
pub struct BenchmarkForm {
    pub f: Frame,
    pub id: String,
    pub staff: String,
    pub licences: String,
    pub hardware: String,
    pub source: String,
    pub note: String,
    pub version: i64,
}

/// Dollars as a form shows them for editing: `48000.00`.
fn dollars_field(cents: i64) -> String {
    format!("{}.{:02}", cents / 100, cents % 100)
}

async fn benchmark_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let b = finance::benchmark_entry(&s.db, &id).await?;
    let f = Frame::new(
        &s,
        &p,
        &format!("{}: {}", b.service_name, b.size_band.label()),
        "billing",
    )
    .await?
    .crumbs(&[
        ("/billing", "Billing"),
        ("/billing/benchmarks", "Standalone cost benchmarks"),
    ]);
    Ok(render(&BenchmarkForm {
        f,
        id: b.id,
        staff: dollars_field(b.standalone.staff_cents),
        licences: dollars_field(b.standalone.licences_cents),
        hardware: dollars_field(b.standalone.hardware_cents),
        source: b.source,
        note: b.note,
        version: b.version,
    }))
}

async fn save_benchmark(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let current = finance::benchmark_entry(&s.db, &id).await?;
    let d = parse_benchmark(&raw_benchmark(&form), Some(&current))?;
    let version = field(&form, "version").and_then(|v| v.parse().ok());
    finance::update_benchmark(&s.db, &p.actor(), &id, version, &d).await?;
    Ok(Redirect::to("/billing/benchmarks?notice=saved").into_response())
}

// ---------------------------------------------------------------------------------------------------
// Credits

async fn credit_form(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let agreement: AgreementId = id.parse().map_err(|_| Failure::NotFound)?;
    // The agreement must be one the person can see: another member's is "not found", not a field error.
    store::billing::agreements::get(&s.db, &scope, agreement).await?;
    let raw = RawCredit {
        agreement_id: Some(agreement.to_string()),
        month: field(&form, "month"),
        amount: field(&form, "amount"),
        reason: field(&form, "reason"),
    };
    grant_credit(&s, &p, &raw).await?;
    Ok(Redirect::to(&format!(
        "/billing/agreements/{agreement}?notice=created#credits"
    ))
    .into_response())
}
