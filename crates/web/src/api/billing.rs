//! Shared-services economics over the API: rate cards and their prices over time, agreements and their
//! subscriptions, usage metering (batches of records, the records behind a total, monthly totals).

use super::{entity, given, list};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::routes::Table;
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::agreement::{AgreementStatus, Renewal};
use domain::billing::money::check_decimal;
use domain::billing::usage::{RawUsage, check_batch, meter_name};
use domain::billing::{Cadence, Model};
use domain::ids::{AgreementId, RateCardId, SubscriptionId};
use domain::validation::{Collector, long_text, text};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;
use store::billing::agreements::{self, AgreementDraft, SubscriptionDraft};
use store::billing::rates::{self, CardDraft, RateDraft};
use store::billing::usage::{self, Filter};
use store::tenancy::orgs;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/rate-cards",
        "List rate cards with their prices over time",
        "billing-read",
        list_cards,
    )
    .post(
        "/api/v1/rate-cards",
        "Create a rate card with its first price",
        "billing-manage",
        create_card,
    )
    .get(
        "/api/v1/rate-cards/{id}",
        "A rate card with its prices",
        "billing-read",
        get_card,
    )
    .patch(
        "/api/v1/rate-cards/{id}",
        "Rename a rate card or withdraw it (If-Match)",
        "billing-manage",
        update_card,
    )
    .post(
        "/api/v1/rate-cards/{id}/rates",
        "Add a price from a date on (earlier prices stay for earlier periods)",
        "billing-manage",
        add_rate,
    )
    .get(
        "/api/v1/agreements",
        "List agreements (by member and status)",
        "billing-read",
        list_agreements,
    )
    .post(
        "/api/v1/agreements",
        "Record an agreement with a member",
        "billing-manage",
        create_agreement,
    )
    .get(
        "/api/v1/agreements/{id}",
        "An agreement with its subscriptions and history",
        "billing-read",
        get_agreement,
    )
    .patch(
        "/api/v1/agreements/{id}",
        "Amend an agreement's terms (If-Match)",
        "billing-manage",
        update_agreement,
    )
    .post(
        "/api/v1/agreements/{id}/subscriptions",
        "Subscribe the member to a rate card under the agreement",
        "billing-manage",
        subscribe,
    )
    .get(
        "/api/v1/agreements/{id}/documents",
        "An agreement's documents (the signed agreement, the minutes of the vote)",
        "billing-read",
        list_documents,
    )
    .post(
        "/api/v1/agreements/{id}/documents",
        "Attach a document to an agreement (the body is the file; ?filename= names it)",
        "billing-manage",
        upload_document,
    )
    .get(
        "/api/v1/agreements/{id}/documents/{doc}",
        "Download an agreement's document",
        "billing-read",
        download_document,
    )
    .patch(
        "/api/v1/subscriptions/{id}",
        "Change a subscription's quantity or end (If-Match)",
        "billing-manage",
        update_subscription,
    )
    .post(
        "/api/v1/invoice-runs",
        "Run a period (2026-09 for monthly agreements, FY2027-Q1 for quarterly): one draft per agreement, drafts replaced, issued invoices kept",
        "billing-manage",
        run_invoices,
    )
    .get(
        "/api/v1/invoices",
        "List invoices and credit notes (by member, status and period)",
        "billing-read",
        list_invoices,
    )
    .get(
        "/api/v1/invoices/{id}",
        "An invoice with its lines, each traced to its rate, days and usage or time",
        "billing-read",
        get_invoice,
    )
    .get(
        "/api/v1/invoices/{id}/pdf",
        "An invoice as PDF",
        "billing-read",
        invoice_pdf,
    )
    .post(
        "/api/v1/invoices/{id}/issue",
        "Issue a draft: numbered without gaps, due in 30 days, never changed again (If-Match)",
        "billing-manage",
        issue_invoice,
    )
    .post(
        "/api/v1/invoices/{id}/void",
        "Void an issued, unpaid invoice with a credit note for its amount",
        "billing-manage",
        void_invoice,
    )
    .post(
        "/api/v1/invoices/{id}/payments",
        "Record a payment against an issued invoice",
        "billing-manage",
        pay_invoice,
    )
    .post(
        "/api/v1/usage",
        "Record usage: a batch of up to 10,000 records, all or nothing (a record id seen before counts once)",
        "billing-manage",
        ingest,
    )
    .post(
        "/api/v1/usage/import",
        "Import usage from CSV (id,org,meter,quantity,period[,source]); ?dry_run=true checks without storing; a file with a bad row imports nothing",
        "billing-manage",
        import_csv,
    )
    .get(
        "/api/v1/usage",
        "List a month's usage records (optionally one member's, one meter's), in order of arrival",
        "billing-read",
        list_usage,
    )
    .get(
        "/api/v1/usage/totals",
        "Usage totals per member, meter and month",
        "billing-read",
        totals,
    )
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub records: Vec<RawUsage>,
}

async fn ingest(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(batch): ApiJson<Batch>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingManage)?;
    let records = check_batch(&batch.records).map_err(|e| Failure::Invalid(e.0))?;
    let report = usage::ingest(&s.db, &scope, &p.actor(), &records).await?;
    Ok(Json(report).into_response())
}

/// A month as `YYYY-MM`.
pub fn month(field: &str, raw: &str) -> Result<String, FieldError> {
    let raw = raw.trim();
    let ok = raw.len() == 7
        && format!("{raw}-01").parse::<jiff::civil::Date>().is_ok()
        && raw.as_bytes()[4] == b'-';
    if ok {
        Ok(raw.to_owned())
    } else {
        Err(FieldError::new(
            field,
            format!("{raw:?} is not a month (write it like 2026-09)"),
        ))
    }
}

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Organisation slug.
    pub org: Option<String>,
    pub meter: Option<String>,
    /// `YYYY-MM`.
    pub month: Option<String>,
    /// Totals: first and last month, `YYYY-MM`.
    pub from: Option<String>,
    pub to: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl UsageQuery {
    async fn org(
        &self,
        s: &AppState,
        scope: &store::Scope,
        c: &mut Collector,
    ) -> Result<Option<domain::ids::OrgId>, Failure> {
        let Some(slug) = given(&self.org) else {
            return Ok(None);
        };
        match orgs::id_by_slug(&s.db, scope, slug).await {
            Ok(id) => Ok(Some(id)),
            Err(store::StoreError::NotFound) => {
                c.push(FieldError::new("org", "is not an organisation you can see"));
                Ok(None)
            }
            Err(e) => Err(e.into()),
        }
    }
}

async fn list_usage(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let mut c = Collector::new();
    let org = q.org(&s, &scope, &mut c).await?;
    let meter = given(&q.meter).and_then(|m| c.take(meter_name("meter", m)));
    let month = match given(&q.month) {
        Some(m) => c.take(month("month", m)),
        None => {
            c.push(FieldError::new(
                "month",
                "is required: records are listed by month, like 2026-09",
            ));
            None
        }
    };
    c.finish()?;
    let f = Filter {
        month: month.unwrap_or_default(),
        org,
        meter,
    };
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    Ok(list(
        usage::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

async fn totals(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let mut c = Collector::new();
    let org = q.org(&s, &scope, &mut c).await?;
    let from = match given(&q.from) {
        Some(m) => c.take(month("from", m)),
        None => {
            c.push(FieldError::new(
                "from",
                "is required: the first month, like 2026-07",
            ));
            None
        }
    };
    let to = match given(&q.to) {
        Some(m) => c.take(month("to", m)),
        None => from.clone(),
    };
    if let (Some(a), Some(b)) = (&from, &to)
        && a > b
    {
        c.push(FieldError::new("to", "must not be before from"));
    }
    c.finish()?;
    let (Some(from), Some(to)) = (from, to) else {
        return Err(Failure::Invalid(vec![FieldError::new("from", "is required")]).into());
    };
    let items = usage::totals(&s.db, &scope, org, &from, &to).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Shared parsing

use crate::api::time::date;

fn opt_date(c: &mut Collector, field: &str, raw: &Option<String>) -> Option<Option<Date>> {
    match given(raw) {
        None => Some(None),
        Some(d) => c.take(date(field, d)).map(Some),
    }
}

fn req_date(c: &mut Collector, field: &str, raw: &Option<String>) -> Option<Date> {
    match given(raw) {
        None => {
            c.push(FieldError::new(
                field,
                "is required: a date such as 2026-07-01",
            ));
            None
        }
        Some(d) => c.take(date(field, d)),
    }
}

/// A decimal from JSON: a string (`"12.50"`) or a whole number; never a float.
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum Amount {
    Text(String),
    Whole(i64),
}

fn amount(
    c: &mut Collector,
    field: &str,
    raw: &Option<Amount>,
    required: bool,
) -> Option<Option<Decimal>> {
    match raw {
        None if required => {
            c.push(FieldError::new(field, "is required"));
            None
        }
        None => Some(None),
        Some(Amount::Whole(n)) => c.take(check_decimal(field, Decimal::from(*n))).map(Some),
        Some(Amount::Text(t)) => c.take(domain::billing::money::decimal(field, t)).map(Some),
    }
}

fn required_id<T: std::str::FromStr>(
    c: &mut Collector,
    field: &str,
    raw: &Option<String>,
) -> Option<T> {
    match given(raw) {
        None => {
            c.push(FieldError::new(field, "is required"));
            None
        }
        Some(v) => c.take(
            v.parse()
                .map_err(|_| FieldError::new(field, "is not an id")),
        ),
    }
}

// ---------------------------------------------------------------------------------------------------
// Rate cards

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCard {
    pub service_id: Option<String>,
    pub name: Option<String>,
    pub model: Option<String>,
    pub unit: Option<String>,
    pub meter: Option<String>,
    pub activity: Option<String>,
    /// The first price.
    pub price: Option<Amount>,
    pub overage: Option<Amount>,
    pub effective_from: Option<String>,
    pub note: Option<String>,
}

/// The unit a model charges by when none is given.
fn default_unit(m: Model) -> &'static str {
    match m {
        Model::Fixed => "month",
        Model::PerUnit => "unit",
        Model::PerCapita => "resident",
        Model::TimeAndMaterials | Model::PrepaidHours => "hour",
        Model::CostPool => "share",
    }
}

pub fn parse_card(raw: &RawCard) -> Result<(CardDraft, RateDraft), Failure> {
    let mut c = Collector::new();
    let service_id = required_id(&mut c, "service_id", &raw.service_id);
    let name = c.take(text("name", raw.name.as_deref().unwrap_or(""), 120));
    let model = match given(&raw.model) {
        None => {
            c.push(FieldError::new("model", "is required"));
            None
        }
        Some(m) => c.take(Model::parse("model", m)),
    };
    let unit = match (given(&raw.unit), model) {
        (Some(u), _) => c.take(text("unit", u, 40)),
        (None, Some(m)) => Some(default_unit(m).to_owned()),
        (None, None) => None,
    };
    let meter = match given(&raw.meter) {
        None => Some(String::new()),
        Some(m) => c.take(meter_name("meter", m)),
    };
    if model == Some(Model::PerUnit) && meter.as_deref() == Some("") && unit.is_none() {
        c.push(FieldError::new("unit", "is required for a per-unit card"));
    }
    let activity = match given(&raw.activity) {
        None => Some(String::new()),
        Some(a) => c
            .take(
                domain::desk::Activity::parse(a)
                    .map_err(|e| FieldError::new("activity", e.message)),
            )
            .map(|a| a.as_str().to_owned()),
    };
    let rate = rate_fields(
        &mut c,
        &raw.price,
        &raw.overage,
        &raw.effective_from,
        &raw.note,
    );
    if model == Some(Model::PrepaidHours) && rate.as_ref().is_some_and(|r| r.overage.is_none()) {
        c.push(FieldError::new(
            "overage",
            "is required for a prepaid block: the price of each hour beyond it",
        ));
    }
    c.finish()?;
    match (service_id, name, model, unit, meter, activity, rate) {
        (
            Some(service_id),
            Some(name),
            Some(model),
            Some(unit),
            Some(meter),
            Some(activity),
            Some(rate),
        ) => Ok((
            CardDraft {
                service_id,
                name,
                model,
                unit,
                meter,
                activity,
            },
            rate,
        )),
        _ => Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )])),
    }
}

fn rate_fields(
    c: &mut Collector,
    price: &Option<Amount>,
    overage: &Option<Amount>,
    effective_from: &Option<String>,
    note: &Option<String>,
) -> Option<RateDraft> {
    let price = amount(c, "price", price, true).flatten();
    let overage = amount(c, "overage", overage, false);
    let effective_from = req_date(c, "effective_from", effective_from);
    let note = match given(note) {
        None => Some(String::new()),
        Some(n) => c.take(long_text("note", n, 500)),
    };
    Some(RateDraft {
        effective_from: effective_from?,
        price: price?,
        overage: overage?,
        note: note?,
    })
}

async fn list_cards(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    p.require(Permission::BillingRead)?;
    Ok(Json(serde_json::json!({ "items": rates::list(&s.db, false).await? })).into_response())
}

async fn create_card(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCard>,
) -> ApiResult<Response> {
    p.require(Permission::BillingManage)?;
    let (card, rate) = parse_card(&raw)?;
    let out = rates::create(&s.db, &p.actor(), &card, &rate).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

async fn get_card(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    p.require(Permission::BillingRead)?;
    let id: RateCardId = crate::api::parse_path_id(&id)?;
    let out = rates::get(&s.db, id).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawCardEdit {
    pub name: Option<String>,
    pub active: Option<bool>,
}

async fn update_card(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawCardEdit>,
) -> ApiResult<Response> {
    p.require(Permission::BillingManage)?;
    let id: RateCardId = crate::api::parse_path_id(&id)?;
    let current = rates::get(&s.db, id).await?;
    let name = match given(&raw.name) {
        None => current.name.clone(),
        Some(n) => text("name", n, 120).map_err(|e| Failure::Invalid(vec![e]))?,
    };
    let out = rates::update(
        &s.db,
        &p.actor(),
        id,
        if_match(&headers)?,
        &name,
        raw.active.unwrap_or(current.active),
    )
    .await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRate {
    pub price: Option<Amount>,
    pub overage: Option<Amount>,
    pub effective_from: Option<String>,
    pub note: Option<String>,
}

async fn add_rate(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawRate>,
) -> ApiResult<Response> {
    let id: RateCardId = crate::api::parse_path_id(&id)?;
    let out = add_price(&s, &p, id, &raw).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

/// Adds a price to a card from a date on: the API's and the card page's one way to do it.
pub async fn add_price(
    s: &AppState,
    p: &Principal,
    id: RateCardId,
    raw: &RawRate,
) -> Result<rates::RateCard, Failure> {
    p.require(Permission::BillingManage)?;
    let mut c = Collector::new();
    let rate = rate_fields(
        &mut c,
        &raw.price,
        &raw.overage,
        &raw.effective_from,
        &raw.note,
    );
    c.finish()?;
    let rate =
        rate.ok_or_else(|| Failure::Invalid(vec![FieldError::new("body", "is incomplete")]))?;
    Ok(rates::add_rate(&s.db, &p.actor(), id, &rate).await?)
}

// ---------------------------------------------------------------------------------------------------
// Agreements

#[derive(Debug, Default, Clone, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawAgreement {
    /// The member's slug (on creation).
    pub org: Option<String>,
    pub title: Option<String>,
    pub status: Option<String>,
    pub cadence: Option<String>,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
    pub renewal: Option<String>,
    pub approving_body: Option<String>,
    pub vote_date: Option<String>,
    pub notes: Option<String>,
}

/// An agreement's terms; on an edit, what is not given keeps its current value.
pub fn parse_agreement(
    raw: &RawAgreement,
    current: Option<&agreements::Agreement>,
) -> Result<AgreementDraft, Failure> {
    let mut c = Collector::new();
    let keep = |v: &Option<String>| given(v).is_none() && current.is_some();
    let title = if keep(&raw.title) {
        current.map(|a| a.title.clone())
    } else {
        c.take(text("title", raw.title.as_deref().unwrap_or(""), 200))
    };
    let status = match given(&raw.status) {
        None => Some(current.map_or(AgreementStatus::Draft, |a| a.status)),
        Some(v) => c.take(AgreementStatus::parse(v)),
    };
    let cadence = match given(&raw.cadence) {
        None => Some(current.map_or(Cadence::Monthly, |a| a.cadence)),
        Some(v) => c.take(Cadence::parse("cadence", v)),
    };
    let starts_on = if keep(&raw.starts_on) {
        current.map(|a| a.starts_on)
    } else {
        req_date(&mut c, "starts_on", &raw.starts_on)
    };
    let ends_on = if raw.ends_on.is_none() && current.is_some() {
        current.map(|a| a.ends_on)
    } else {
        opt_date(&mut c, "ends_on", &raw.ends_on)
    };
    let renewal = match given(&raw.renewal) {
        None => Some(current.map_or(Renewal::None, |a| a.renewal)),
        Some(v) => c.take(Renewal::parse(v)),
    };
    let approving_body = match given(&raw.approving_body) {
        None => Some(current.map_or(String::new(), |a| a.approving_body.clone())),
        Some(v) => c.take(text("approving_body", v, 200)),
    };
    let vote_date = if raw.vote_date.is_none() && current.is_some() {
        current.map(|a| a.vote_date)
    } else {
        opt_date(&mut c, "vote_date", &raw.vote_date)
    };
    let notes = match given(&raw.notes) {
        None => Some(current.map_or(String::new(), |a| a.notes.clone())),
        Some(v) => c.take(long_text("notes", v, 4000)),
    };
    if let (Some(s), Some(Some(e))) = (starts_on, ends_on)
        && e <= s
    {
        c.push(FieldError::new("ends_on", "must be after starts_on"));
    }
    if status == Some(AgreementStatus::Active)
        && matches!(vote_date, Some(None))
        && matches!(approving_body.as_deref(), Some(""))
    {
        c.push(FieldError::new(
            "approving_body",
            "is required for an active agreement: who approved it (select board, town council, school committee)",
        ));
    }
    c.finish()?;
    match (
        title,
        status,
        cadence,
        starts_on,
        ends_on,
        renewal,
        approving_body,
        vote_date,
        notes,
    ) {
        (
            Some(title),
            Some(status),
            Some(cadence),
            Some(starts_on),
            Some(ends_on),
            Some(renewal),
            Some(approving_body),
            Some(vote_date),
            Some(notes),
        ) => Ok(AgreementDraft {
            title,
            status,
            cadence,
            starts_on,
            ends_on,
            renewal,
            approving_body,
            vote_date,
            notes,
        }),
        _ => Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )])),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AgreementQuery {
    pub org: Option<String>,
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

async fn list_agreements(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<AgreementQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let mut c = Collector::new();
    let uq = UsageQuery {
        org: q.org.clone(),
        ..UsageQuery::default()
    };
    let f = agreements::Filter {
        org: uq.org(&s, &scope, &mut c).await?,
        status: given(&q.status).and_then(|v| c.take(AgreementStatus::parse(v))),
    };
    c.finish()?;
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    Ok(list(
        agreements::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

/// Records an agreement from its raw terms (the API's body or the page's form).
pub async fn record_agreement(
    s: &AppState,
    p: &Principal,
    raw: &RawAgreement,
) -> Result<agreements::Agreement, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let d = parse_agreement(raw, None);
    let org = match given(&raw.org) {
        None => Err(FieldError::new("org", "is required: the member's slug")),
        Some(slug) => match orgs::id_by_slug(&s.db, &scope, slug).await {
            Ok(id) => Ok(id),
            Err(store::StoreError::NotFound) => Err(FieldError::new(
                "org",
                "is not an organisation you may bill",
            )),
            Err(e) => return Err(e.into()),
        },
    };
    let (d, org) = match (d, org) {
        (Ok(d), Ok(o)) => (d, o),
        (Err(Failure::Invalid(mut e)), Err(o)) => {
            e.insert(0, o);
            return Err(Failure::Invalid(e));
        }
        (Err(e), _) => return Err(e),
        (_, Err(o)) => return Err(Failure::Invalid(vec![o])),
    };
    Ok(agreements::create(&s.db, &scope, &p.actor(), org, &d).await?)
}

async fn create_agreement(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawAgreement>,
) -> ApiResult<Response> {
    let out = record_agreement(&s, &p, &raw).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

async fn get_agreement(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let id: AgreementId = crate::api::parse_path_id(&id)?;
    let a = agreements::get(&s.db, &scope, id).await?;
    let subs = agreements::subscriptions(&s.db, &scope, id).await?;
    let history = agreements::amendments(&s.db, &scope, id).await?;
    let mut body = serde_json::to_value(&a).map_err(|e| Failure::Internal(e.to_string()))?;
    body["subscriptions"] =
        serde_json::to_value(subs).map_err(|e| Failure::Internal(e.to_string()))?;
    body["amendments"] =
        serde_json::to_value(history).map_err(|e| Failure::Internal(e.to_string()))?;
    Ok(entity(StatusCode::OK, a.version, &body))
}

async fn update_agreement(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawAgreement>,
) -> ApiResult<Response> {
    let id: AgreementId = crate::api::parse_path_id(&id)?;
    let out = amend_agreement(&s, &p, id, if_match(&headers)?, &raw).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

/// Amends an agreement's terms (what is not given stays); `version`, when given, must be the one read.
pub async fn amend_agreement(
    s: &AppState,
    p: &Principal,
    id: AgreementId,
    version: Option<i64>,
    raw: &RawAgreement,
) -> Result<agreements::Agreement, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    if raw.org.is_some() {
        return Err(Failure::Invalid(vec![FieldError::new(
            "org",
            "cannot change: record a new agreement instead",
        )]));
    }
    let current = agreements::get(&s.db, &scope, id).await?;
    let d = parse_agreement(raw, Some(&current))?;
    Ok(agreements::update(&s.db, &scope, &p.actor(), id, version, &d).await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscription {
    pub rate_card_id: Option<String>,
    pub quantity: Option<Amount>,
    pub starts_on: Option<String>,
    pub ends_on: Option<String>,
}

/// Adds a subscription from its raw terms (the API's body or the page's form).
pub async fn add_subscription(
    s: &AppState,
    p: &Principal,
    id: AgreementId,
    raw: &RawSubscription,
) -> Result<agreements::Subscription, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let mut c = Collector::new();
    let rate_card_id = required_id(&mut c, "rate_card_id", &raw.rate_card_id);
    let quantity = match &raw.quantity {
        None => Some(Some(Decimal::ONE)),
        q => amount(&mut c, "quantity", q, false),
    };
    let starts_on = req_date(&mut c, "starts_on", &raw.starts_on);
    let ends_on = opt_date(&mut c, "ends_on", &raw.ends_on);
    c.finish()?;
    let (Some(rate_card_id), Some(Some(quantity)), Some(starts_on), Some(ends_on)) =
        (rate_card_id, quantity, starts_on, ends_on)
    else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )]));
    };
    let d = SubscriptionDraft {
        rate_card_id,
        quantity,
        starts_on,
        ends_on,
    };
    Ok(agreements::subscribe(&s.db, &scope, &p.actor(), id, &d).await?)
}

async fn subscribe(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawSubscription>,
) -> ApiResult<Response> {
    p.require(Permission::BillingManage)?;
    let id: AgreementId = crate::api::parse_path_id(&id)?;
    let out = add_subscription(&s, &p, id, &raw).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawSubscriptionEdit {
    pub quantity: Option<Amount>,
    /// A date, or null to run on with the agreement; absent keeps the current end.
    #[serde(default, deserialize_with = "present")]
    pub ends_on: Option<Option<String>>,
}

/// Tells `"field": null` (present, empty) from a missing field.
fn present<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

async fn update_subscription(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawSubscriptionEdit>,
) -> ApiResult<Response> {
    let id: SubscriptionId = crate::api::parse_path_id(&id)?;
    let out = change_subscription(&s, &p, id, if_match(&headers)?, &raw).await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

/// Changes a subscription's quantity or end; `version`, when given, must be the one read.
pub async fn change_subscription(
    s: &AppState,
    p: &Principal,
    id: SubscriptionId,
    version: Option<i64>,
    raw: &RawSubscriptionEdit,
) -> Result<agreements::Subscription, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let current = agreements::subscription_in(&s.db, &scope, id).await?;
    let mut c = Collector::new();
    let quantity = match &raw.quantity {
        None => Some(Some(current.quantity)),
        q => amount(&mut c, "quantity", q, false),
    };
    let ends_on = match &raw.ends_on {
        None => Some(current.ends_on),
        Some(None) => Some(None),
        Some(v) => opt_date(&mut c, "ends_on", v),
    };
    c.finish()?;
    let (Some(Some(quantity)), Some(ends_on)) = (quantity, ends_on) else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )]));
    };
    Ok(
        agreements::update_subscription(&s.db, &scope, &p.actor(), id, version, quantity, ends_on)
            .await?,
    )
}

// ---------------------------------------------------------------------------------------------------
// Agreement documents

/// Keeps a document on an agreement (the API's raw body or the agreement page's upload), within the desk's
/// attachment size limit.
pub async fn store_document(
    s: &AppState,
    p: &Principal,
    id: AgreementId,
    filename: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<store::desk::tickets::Attachment, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let limit = store::desk::catalog::settings(&s.db)
        .await?
        .attachment_max_bytes;
    let mut c = Collector::new();
    let name = filename.map(str::trim).filter(|f| !f.is_empty());
    if name.is_none() {
        c.push(FieldError::new("filename", "is required"));
    }
    if bytes.is_empty() {
        c.push(FieldError::new("file", "is empty"));
    } else if i64::try_from(bytes.len()).unwrap_or(i64::MAX) > limit {
        c.push(FieldError::new(
            "file",
            format!(
                "is larger than the limit of {}",
                crate::api::desk::size_label(limit)
            ),
        ));
    }
    c.finish()?;
    Ok(agreements::attach_document(
        &s.db,
        &scope,
        &p.actor(),
        id,
        store::desk::tickets::NewFile {
            name: name.unwrap_or("document"),
            content_type: content_type.unwrap_or("application/octet-stream"),
            bytes,
        },
    )
    .await?)
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DocumentQuery {
    pub filename: Option<String>,
}

async fn upload_document(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<DocumentQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    let id: AgreementId = crate::api::parse_path_id(&id)?;
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let doc = store_document(&s, &p, id, q.filename.as_deref(), ct, &body).await?;
    Ok((StatusCode::CREATED, Json(doc)).into_response())
}

async fn list_documents(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let id: AgreementId = crate::api::parse_path_id(&id)?;
    let items = agreements::documents(&s.db, &scope, id).await?;
    Ok(Json(serde_json::json!({ "items": items })).into_response())
}

async fn download_document(
    State(s): State<AppState>,
    p: Principal,
    Path((id, doc)): Path<(String, String)>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let id: AgreementId = crate::api::parse_path_id(&id)?;
    let (d, bytes) = agreements::document(&s.db, &scope, id, &doc).await?;
    Ok(crate::api::desk::file_response(&d, bytes))
}

// ---------------------------------------------------------------------------------------------------
// Invoices

/// The hub's fiscal-year start month (periods are the hub's: it invoices).
pub(crate) async fn fy_start(s: &AppState) -> Result<u8, Failure> {
    Ok(orgs::hub(&s.db)
        .await?
        .map_or(7, |h| h.fiscal_year_start_month))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    pub period: Option<String>,
}

async fn run_invoices(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawRun>,
) -> ApiResult<Response> {
    p.require(Permission::BillingManage)?;
    let fy = fy_start(&s).await?;
    let Some(raw_period) = given(&raw.period) else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "period",
            "is required: a month like 2026-09 or a fiscal quarter like FY2027-Q1",
        )])
        .into());
    };
    let period = domain::billing::Period::parse("period", raw_period, fy)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let label = period.label(fy);
    let report = store::billing::invoices::run(&s.db, &p.actor(), &period, &label).await?;
    Ok((StatusCode::CREATED, Json(report)).into_response())
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    pub org: Option<String>,
    pub status: Option<String>,
    pub period: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// An invoice's statuses, as the list filters take them.
pub const INVOICE_STATUSES: [&str; 4] = ["draft", "issued", "paid", "void"];

/// How a payment can arrive.
pub const PAYMENT_METHODS: [&str; 5] = ["check", "ach", "wire", "card", "journal"];

async fn list_invoices(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let mut c = Collector::new();
    let uq = UsageQuery {
        org: q.org.clone(),
        ..UsageQuery::default()
    };
    let org = uq.org(&s, &scope, &mut c).await?;
    let status = match given(&q.status) {
        None => None,
        Some(v) if INVOICE_STATUSES.contains(&v) => Some(v.to_owned()),
        Some(_) => {
            c.push(FieldError::new(
                "status",
                "must be one of draft, issued, paid, void",
            ));
            None
        }
    };
    let fy = fy_start(&s).await?;
    let period = given(&q.period).and_then(|v| {
        c.take(domain::billing::Period::parse("period", v, fy))
            .map(|p| p.label(fy))
    });
    c.finish()?;
    let f = store::billing::invoices::Filter {
        org,
        status,
        period,
    };
    let page = PageParams {
        limit: q.limit,
        cursor: q.cursor.clone(),
    };
    Ok(list(
        store::billing::invoices::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

async fn get_invoice(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let (inv, lines) = store::billing::invoices::get(&s.db, &scope, &id).await?;
    let mut body = serde_json::to_value(&inv).map_err(|e| Failure::Internal(e.to_string()))?;
    body["lines"] = serde_json::to_value(lines).map_err(|e| Failure::Internal(e.to_string()))?;
    Ok(entity(StatusCode::OK, inv.version, &body))
}

async fn issue_invoice(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingManage)?;
    let out = store::billing::invoices::issue(
        &s.db,
        &scope,
        &p.actor(),
        &id,
        if_match(&headers)?,
        &crate::api::time::now_local(),
    )
    .await?;
    Ok(entity(StatusCode::OK, out.version, &out))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawVoid {
    pub reason: Option<String>,
}

/// Voids an invoice with a credit note (the API's body or the page's form); returns the credit note.
pub async fn void_with_credit(
    s: &AppState,
    p: &Principal,
    id: &str,
    raw: &RawVoid,
) -> Result<store::billing::invoices::Invoice, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let reason = text("reason", raw.reason.as_deref().unwrap_or(""), 500)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    Ok(store::billing::invoices::void(&s.db, &scope, &p.actor(), id, &reason).await?)
}

async fn void_invoice(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawVoid>,
) -> ApiResult<Response> {
    let credit = void_with_credit(&s, &p, &id, &raw).await?;
    Ok(entity(StatusCode::OK, credit.version, &credit))
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RawPayment {
    /// Dollars, as a string ("1250.00").
    pub amount: Option<String>,
    pub received_on: Option<String>,
    pub method: Option<String>,
    pub reference: Option<String>,
}

/// Records a payment (the API's body or the page's form).
pub async fn record_payment(
    s: &AppState,
    p: &Principal,
    id: &str,
    raw: &RawPayment,
) -> Result<store::billing::invoices::Invoice, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let mut c = Collector::new();
    let amount = match given(&raw.amount) {
        None => {
            c.push(FieldError::new(
                "amount",
                "is required, in dollars (\"1250.00\")",
            ));
            None
        }
        Some(a) => c.take(domain::validation::dollars(
            "amount",
            a,
            domain::billing::money::MAX_CENTS,
        )),
    };
    let received_on = match given(&raw.received_on) {
        None => Some(crate::api::time::today()),
        Some(d) => c.take(date("received_on", d)),
    };
    let method = match given(&raw.method) {
        None => Some("check".to_owned()),
        Some(m) if PAYMENT_METHODS.contains(&m) => Some(m.to_owned()),
        Some(_) => {
            c.push(FieldError::new(
                "method",
                format!("must be one of {}", PAYMENT_METHODS.join(", ")),
            ));
            None
        }
    };
    let reference = match given(&raw.reference) {
        None => Some(String::new()),
        Some(r) => c.take(text("reference", r, 100)),
    };
    c.finish()?;
    let (Some(amount), Some(received_on), Some(method), Some(reference)) =
        (amount, received_on, method, reference)
    else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )]));
    };
    Ok(store::billing::invoices::pay(
        &s.db,
        &scope,
        &p.actor(),
        id,
        amount,
        received_on,
        &method,
        &reference,
    )
    .await?)
}

async fn pay_invoice(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawPayment>,
) -> ApiResult<Response> {
    let out = record_payment(&s, &p, &id, &raw).await?;
    Ok(entity(StatusCode::CREATED, out.version, &out))
}

async fn invoice_pdf(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let scope = p.require(Permission::BillingRead)?;
    let (inv, lines) = store::billing::invoices::get(&s.db, &scope, &id).await?;
    let member = orgs::get(&s.db, &scope, inv.org_id).await?;
    let title = crate::pages::billing::invoice_title(&inv);
    Ok(crate::pages::billing::pdf_response(
        &s,
        &inv,
        &lines,
        &member.name,
        &title,
    ))
}

// ---------------------------------------------------------------------------------------------------
// CSV import

/// Most rows in one CSV file.
pub const MAX_CSV_ROWS: usize = 200_000;

/// Reads a usage CSV: a header naming `id`, `org`, `meter`, `quantity`, `period` and optionally `source`,
/// in any order; every problem named by row (`row 4.quantity`, the header being row 1).
pub fn parse_usage_csv(text: &[u8]) -> Result<Vec<domain::billing::usage::NewUsage>, Failure> {
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(text);
    let bad = |m: String| Failure::Invalid(vec![FieldError::new("file", m)]);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("is not CSV: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let mut missing = Vec::new();
    let mut cols = Vec::new();
    for name in ["id", "org", "meter", "quantity", "period"] {
        match col(name) {
            Some(i) => cols.push(i),
            None => missing.push(name),
        }
    }
    if !missing.is_empty() {
        return Err(bad(format!(
            "has no column {} (the header must name id, org, meter, quantity and period; source is optional)",
            missing.join(", ")
        )));
    }
    let source = col("source");
    let mut out = Vec::new();
    let mut errors = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let n = i + 2;
        if i >= MAX_CSV_ROWS {
            return Err(bad(format!("has more than {MAX_CSV_ROWS} rows; split it")));
        }
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new(
                    format!("row {n}"),
                    format!("cannot be read: {e}"),
                ));
                continue;
            }
        };
        let get = |c: usize| row.get(c).map(str::to_owned);
        let raw = RawUsage {
            id: get(cols[0]),
            org: get(cols[1]),
            meter: get(cols[2]),
            quantity: get(cols[3]).map(domain::billing::usage::Quantity),
            period: get(cols[4]),
            source: source.and_then(get).or_else(|| Some("csv".into())),
        };
        match raw.check(&format!("row {n}.")) {
            Ok(u) => out.push(u),
            Err(mut e) => {
                if errors.len() < 200 {
                    errors.append(&mut e);
                }
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    if out.is_empty() {
        return Err(bad("has no rows".into()));
    }
    Ok(out)
}

/// `records[7].org` (as the store names a record) → `row 9.org` (as a CSV's author counts).
pub fn rows_not_records(f: Failure) -> Failure {
    match f {
        Failure::Invalid(errors) => Failure::Invalid(
            errors
                .into_iter()
                .map(|mut e| {
                    if let Some(rest) = e.field.strip_prefix("records[")
                        && let Some((i, field)) = rest.split_once("].")
                        && let Ok(i) = i.parse::<usize>()
                    {
                        e.field = format!("row {}.{field}", i + 2);
                    }
                    e
                })
                .collect(),
        ),
        other => other,
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImportQuery {
    pub dry_run: Option<bool>,
}

/// Imports (or, dry, checks) usage rows; the report says how many were or would be stored.
pub async fn import_rows(
    s: &AppState,
    p: &Principal,
    rows: &[domain::billing::usage::NewUsage],
    dry: bool,
) -> Result<usage::IngestReport, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let result = if dry {
        usage::dry_run(&s.db, &scope, &p.actor(), rows).await
    } else {
        usage::ingest(&s.db, &scope, &p.actor(), rows).await
    };
    result.map_err(|e| rows_not_records(Failure::from(e)))
}

async fn import_csv(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ImportQuery>,
    body: axum::body::Bytes,
) -> ApiResult<Response> {
    p.require(Permission::BillingManage)?;
    let rows = parse_usage_csv(&body)?;
    let dry = q.dry_run.unwrap_or(false);
    let report = import_rows(&s, &p, &rows, dry).await?;
    Ok(Json(serde_json::json!({
        "dry_run": dry,
        "rows": rows.len(),
        "accepted": report.accepted,
        "duplicates": report.duplicates,
    }))
    .into_response())
}
