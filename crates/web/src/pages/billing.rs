//! Billing pages: the rate cards (every price over time), a member's agreements with their subscriptions and
//! history, and a month's usage totals. Hub administrators see the region; member administrators and
//! auditors their own member.

use super::{Frame, render};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use askama::Template;
use axum::extract::{Path, Query, State};
use axum::response::Response;
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::usage::meter_name;
use domain::ids::{AgreementId, OrgId};
use std::collections::BTreeMap;
use store::billing::{agreements, rates, usage};
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
        "/billing/agreements/{id}",
        "An agreement: its terms, subscriptions and history",
        "billing-read",
        agreement_page,
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
}

pub struct CardRow {
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
}

/// This month in the region's time zone, `YYYY-MM`.
fn this_month() -> String {
    let d = crate::api::time::today();
    format!("{:04}-{:02}", d.year(), d.month())
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
            let prices: Vec<_> = c.rates.iter().map(|r| r.rate()).collect();
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
    let f = Frame::new(&s, &p, "Billing", "billing").await?;
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
    }))
}

pub struct SubscriptionRow {
    pub card: String,
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
}

async fn agreement_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let id: AgreementId = id.parse().map_err(|_| Failure::NotFound)?;
    let a = agreements::get(&s.db, &scope, id).await?;
    let subs = agreements::subscriptions(&s.db, &scope, id).await?;
    let history = agreements::amendments(&s.db, &scope, id).await?;
    let member = store::tenancy::orgs::get(&s.db, &scope, a.org_id).await?;
    let mut f = Frame::new(&s, &p, &a.title, "billing").await?;
    f.breadcrumbs = vec![("/billing".into(), "Billing".into())];
    Ok(render(&AgreementPage {
        f,
        member: member.name.clone(),
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
