//! The billing overview: rate cards, agreements and this month's usage at a glance.

use crate::AppState;
use crate::auth::Principal;
use crate::error::PageResult;
use crate::extract::PageQueryString;
use crate::page::{Frame, render};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::usage::meter_name;
use domain::ids::OrgId;
use std::collections::BTreeMap;
use store::billing::{agreements, rates, usage};
use store::page::PageRequest;

pub fn routes(t: Table) -> Table {
    t.get(
        "/billing",
        "Billing: rate cards, agreements and a month's usage",
        Needs::Perm(Permission::BillingRead),
        overview,
    )
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
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
#[template(path = "billing/billing.html")]
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
    domain::billing::period::month_key(crate::clock::today())
}

pub(super) fn term(from: jiff::civil::Date, until: Option<jiff::civil::Date>) -> String {
    match until {
        Some(u) => format!("{from} to {u}"),
        None => format!("from {from}, open-ended"),
    }
}

async fn overview(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    PageQueryString(q): PageQueryString<OverviewQuery>,
) -> PageResult<Response> {
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
        Some(m) => match crate::billing::ops::billing::month("month", m) {
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
    let today = crate::clock::today();
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
            records: crate::page::fmt_int(t.records),
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
