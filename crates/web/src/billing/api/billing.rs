//! Shared-services economics over the API: rate cards and their prices over time, agreements and their
//! subscriptions, usage metering (batches of records, the records behind a total, monthly totals).

use crate::AppState;
use crate::auth::Principal;
use crate::billing::ops::billing::{
    INVOICE_STATUSES, RawAgreement, RawCard, RawPayment, RawRate, RawSubscription,
    RawSubscriptionEdit, RawVoid, add_price, add_subscription, amend_agreement,
    change_subscription, import_rows, month, parse_card, parse_usage_csv, record_agreement,
    record_payment, store_document, void_with_credit,
};
use crate::error::{ApiResult, Failure};
use crate::extract::{ApiAmend, ApiCreate, ApiJson, ApiQuery, PageParams, if_match};
use crate::json::given;
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::agreement::AgreementStatus;
use domain::billing::usage::{RawUsage, check_batch, meter_name};
use domain::ids::{AgreementId, RateCardId, SubscriptionId};
use domain::validation::{Collector, text};
use serde::Deserialize;
use store::billing::agreements::{self};
use store::billing::rates::{self};
use store::billing::usage::{self, Filter};
use store::tenancy::orgs;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/rate-cards",
        "List rate cards with their prices over time",
        Needs::Perm(Permission::BillingRead),
        list_cards,
    )
    .post(
        "/api/v1/rate-cards",
        "Create a rate card with its first price",
        Needs::Perm(Permission::BillingManage),
        create_card,
    )
    .get(
        "/api/v1/rate-cards/{id}",
        "A rate card with its prices",
        Needs::Perm(Permission::BillingRead),
        get_card,
    )
    .patch(
        "/api/v1/rate-cards/{id}",
        "Rename a rate card or withdraw it (If-Match)",
        Needs::Perm(Permission::BillingManage),
        update_card,
    )
    .post(
        "/api/v1/rate-cards/{id}/rates",
        "Add a price from a date on (earlier prices stay for earlier periods)",
        Needs::Perm(Permission::BillingManage),
        add_rate,
    )
    .get(
        "/api/v1/agreements",
        "List agreements (by member and status)",
        Needs::Perm(Permission::BillingRead),
        list_agreements,
    )
    .post(
        "/api/v1/agreements",
        "Record an agreement with a member",
        Needs::Perm(Permission::BillingManage),
        create_agreement,
    )
    .get(
        "/api/v1/agreements/{id}",
        "An agreement with its subscriptions and history",
        Needs::Perm(Permission::BillingRead),
        get_agreement,
    )
    .patch(
        "/api/v1/agreements/{id}",
        "Amend an agreement's terms (If-Match)",
        Needs::Perm(Permission::BillingManage),
        update_agreement,
    )
    .post(
        "/api/v1/agreements/{id}/subscriptions",
        "Subscribe the member to a rate card under the agreement",
        Needs::Perm(Permission::BillingManage),
        subscribe,
    )
    .get(
        "/api/v1/agreements/{id}/documents",
        "An agreement's documents (the signed agreement, the minutes of the vote)",
        Needs::Perm(Permission::BillingRead),
        list_documents,
    )
    .post(
        "/api/v1/agreements/{id}/documents",
        "Attach a document to an agreement (the body is the file; ?filename= names it)",
        Needs::Perm(Permission::BillingManage),
        upload_document,
    )
    .get(
        "/api/v1/agreements/{id}/documents/{doc}",
        "Download an agreement's document",
        Needs::Perm(Permission::BillingRead),
        download_document,
    )
    .patch(
        "/api/v1/subscriptions/{id}",
        "Change a subscription's quantity or end (If-Match)",
        Needs::Perm(Permission::BillingManage),
        update_subscription,
    )
    .post(
        "/api/v1/invoice-runs",
        "Run a period (2026-09 for monthly agreements, FY2027-Q1 for quarterly): one draft per agreement, drafts replaced, issued invoices kept",
        Needs::Perm(Permission::BillingManage),
        run_invoices,
    )
    .get(
        "/api/v1/invoices",
        "List invoices and credit notes (by member, status and period)",
        Needs::Perm(Permission::BillingRead),
        list_invoices,
    )
    .get(
        "/api/v1/invoices/{id}",
        "An invoice with its lines, each traced to its rate, days and usage or time",
        Needs::Perm(Permission::BillingRead),
        get_invoice,
    )
    .get(
        "/api/v1/invoices/{id}/pdf",
        "An invoice as PDF",
        Needs::Perm(Permission::BillingRead),
        invoice_pdf,
    )
    .post(
        "/api/v1/invoices/{id}/issue",
        "Issue a draft: numbered without gaps, due in 30 days, never changed again (If-Match)",
        Needs::Perm(Permission::BillingManage),
        issue_invoice,
    )
    .post(
        "/api/v1/invoices/{id}/void",
        "Void an issued, unpaid invoice with a credit note for its amount",
        Needs::Perm(Permission::BillingManage),
        void_invoice,
    )
    .post(
        "/api/v1/invoices/{id}/payments",
        "Record a payment against an issued invoice",
        Needs::Perm(Permission::BillingManage),
        pay_invoice,
    )
    .post(
        "/api/v1/usage",
        "Record usage: a batch of up to 10,000 records, all or nothing (a record id seen before counts once)",
        Needs::Perm(Permission::BillingManage),
        ingest,
    )
    .post(
        "/api/v1/usage/import",
        "Import usage from CSV (id,org,meter,quantity,period[,source]); ?dry_run=true checks without storing; a file with a bad row imports nothing",
        Needs::Perm(Permission::BillingManage),
        import_csv,
    )
    .get(
        "/api/v1/usage",
        "List a month's usage records (optionally one member's, one meter's), in order of arrival",
        Needs::Perm(Permission::BillingRead),
        list_usage,
    )
    .get(
        "/api/v1/usage/totals",
        "Usage totals per member, meter and month",
        Needs::Perm(Permission::BillingRead),
        totals,
    )
}

#[derive(Debug, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct Batch {
    pub records: Vec<RawUsage>,
}

async fn ingest(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    ApiJson(batch): ApiJson<Batch>,
) -> ApiResult<Answer<impl Body>> {
    let records = check_batch(&batch.records).map_err(|e| Failure::Invalid(e.0))?;
    let report = usage::ingest(&s.db, &scope, &p.actor(), &records).await?;
    Ok(Answer::ok(&report))
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct UsageQuery {
    /// Organisation slug.
    pub org: Option<String>,
    pub meter: Option<String>,
    /// `YYYY-MM`.
    #[schemars(pattern(crate::schema::MONTH))]
    pub month: Option<String>,
    /// Totals: first and last month, `YYYY-MM`.
    #[schemars(pattern(crate::schema::MONTH))]
    pub from: Option<String>,
    #[schemars(pattern(crate::schema::MONTH))]
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
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Answer<impl Body>> {
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
    Ok(Answer::page(
        usage::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

async fn totals(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<UsageQuery>,
) -> ApiResult<Answer<impl Body>> {
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
    Ok(Answer::items(items))
}

// ---------------------------------------------------------------------------------------------------
// Shared parsing

async fn list_cards(State(s): State<AppState>) -> ApiResult<Answer<impl Body>> {
    Ok(Answer::items(rates::list(&s.db, false).await?))
}

async fn create_card(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawCard>,
) -> ApiResult<Answer<impl Body>> {
    let (card, rate) = parse_card(&raw)?;
    let out = rates::create(&s.db, &p.actor(), &card, &rate).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn get_card(
    State(s): State<AppState>,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let id: RateCardId = crate::extract::parse_path_id(&id)?;
    let out = rates::get(&s.db, id).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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
) -> ApiResult<Answer<impl Body>> {
    let id: RateCardId = crate::extract::parse_path_id(&id)?;
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
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn add_rate(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawRate>,
) -> ApiResult<Answer<impl Body>> {
    let id: RateCardId = crate::extract::parse_path_id(&id)?;
    let out = add_price(&s, &p, id, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct AgreementQuery {
    pub org: Option<String>,
    #[schemars(with = "Option<domain::billing::agreement::AgreementStatus>")]
    pub status: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

async fn list_agreements(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<AgreementQuery>,
) -> ApiResult<Answer<impl Body>> {
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
    Ok(Answer::page(
        agreements::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

async fn create_agreement(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawAgreement>,
) -> ApiResult<Answer<impl Body>> {
    let out = record_agreement(&s, &p, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn get_agreement(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let id: AgreementId = crate::extract::parse_path_id(&id)?;
    let a = agreements::get(&s.db, &scope, id).await?;
    let subs = agreements::subscriptions(&s.db, &scope, id).await?;
    let history = agreements::amendments(&s.db, &scope, id).await?;
    let mut body = serde_json::to_value(&a).map_err(|e| Failure::Internal(e.to_string()))?;
    body["subscriptions"] =
        serde_json::to_value(subs).map_err(|e| Failure::Internal(e.to_string()))?;
    body["amendments"] =
        serde_json::to_value(history).map_err(|e| Failure::Internal(e.to_string()))?;
    Ok(Answer::entity(StatusCode::OK, a.version, &body))
}

async fn update_agreement(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiAmend(raw): ApiAmend<RawAgreement>,
) -> ApiResult<Answer<impl Body>> {
    let id: AgreementId = crate::extract::parse_path_id(&id)?;
    let out = amend_agreement(&s, &p, id, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn subscribe(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawSubscription>,
) -> ApiResult<Answer<impl Body>> {
    let id: AgreementId = crate::extract::parse_path_id(&id)?;
    let out = add_subscription(&s, &p, id, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn update_subscription(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    headers: HeaderMap,
    ApiJson(raw): ApiJson<RawSubscriptionEdit>,
) -> ApiResult<Answer<impl Body>> {
    let id: SubscriptionId = crate::extract::parse_path_id(&id)?;
    let out = change_subscription(&s, &p, id, if_match(&headers)?, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn upload_document(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiQuery(q): ApiQuery<crate::extract::FileQuery>,
    headers: HeaderMap,
    body: axum::body::Bytes,
) -> ApiResult<Answer<impl Body>> {
    let id: AgreementId = crate::extract::parse_path_id(&id)?;
    let ct = headers
        .get(axum::http::header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok());
    let doc = store_document(&s, &p, id, q.filename.as_deref(), ct, &body).await?;
    Ok(Answer::new(StatusCode::CREATED, &doc))
}

async fn list_documents(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let id: AgreementId = crate::extract::parse_path_id(&id)?;
    let items = agreements::documents(&s.db, &scope, id).await?;
    Ok(Answer::items(items))
}

async fn download_document(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path((id, doc)): Path<(String, String)>,
) -> ApiResult<Response> {
    let id: AgreementId = crate::extract::parse_path_id(&id)?;
    let (d, bytes) = agreements::document(&s.db, &scope, id, &doc).await?;
    Ok(crate::download::file_response(&d, bytes))
}

// ---------------------------------------------------------------------------------------------------
// Invoices

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRun {
    #[schemars(pattern(crate::schema::PERIOD))]
    pub period: Option<String>,
}

impl crate::extract::Create for RawRun {
    const REQUIRED: &'static [&'static str] = &["period"];
}

async fn run_invoices(
    State(s): State<AppState>,
    p: Principal,
    ApiCreate(raw): ApiCreate<RawRun>,
) -> ApiResult<Answer<impl Body>> {
    let fy = crate::clock::fy_start(&s).await?;
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
    Ok(Answer::new(StatusCode::CREATED, &report))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct InvoiceQuery {
    pub org: Option<String>,
    pub status: Option<String>,
    #[schemars(pattern(crate::schema::PERIOD))]
    pub period: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

async fn list_invoices(
    State(s): State<AppState>,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<InvoiceQuery>,
) -> ApiResult<Answer<impl Body>> {
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
    let fy = crate::clock::fy_start(&s).await?;
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
    Ok(Answer::page(
        store::billing::invoices::list(&s.db, &scope, &f, &page.to_request()?).await?,
    ))
}

async fn get_invoice(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Answer<impl Body>> {
    let (invoice, lines) = store::billing::invoices::get(&s.db, &scope, &id).await?;
    let version = invoice.version;
    Ok(Answer::entity(
        StatusCode::OK,
        version,
        &InvoiceWithLines { invoice, lines },
    ))
}

/// An invoice as its page shows it: the header and its lines.
#[derive(serde::Serialize, schemars::JsonSchema)]
struct InvoiceWithLines {
    #[serde(flatten)]
    invoice: store::billing::invoices::Invoice,
    lines: Vec<store::billing::invoices::Line>,
}

async fn issue_invoice(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Answer<impl Body>> {
    let out = store::billing::invoices::issue(
        &s.db,
        &scope,
        &p.actor(),
        &id,
        if_match(&headers)?,
        &crate::clock::now_local(),
    )
    .await?;
    Ok(Answer::entity(StatusCode::OK, out.version, &out))
}

async fn void_invoice(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawVoid>,
) -> ApiResult<Answer<impl Body>> {
    let credit = void_with_credit(&s, &p, &id, &raw).await?;
    Ok(Answer::entity(StatusCode::OK, credit.version, &credit))
}

async fn pay_invoice(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    ApiJson(raw): ApiJson<RawPayment>,
) -> ApiResult<Answer<impl Body>> {
    let out = record_payment(&s, &p, &id, &raw).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn invoice_pdf(
    State(s): State<AppState>,
    Granted(scope): Granted,
    Path(id): Path<String>,
) -> ApiResult<Response> {
    let (inv, lines) = store::billing::invoices::get(&s.db, &scope, &id).await?;
    let member = orgs::get(&s.db, &scope, inv.org_id).await?;
    let title = crate::billing::ops::billing::invoice_title(&inv);
    Ok(crate::billing::ops::billing::pdf_response(
        &s,
        &inv,
        &lines,
        &member.name,
        &title,
    ))
}

async fn import_csv(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<crate::extract::ImportQuery>,
    crate::extract::CsvFile(body): crate::extract::CsvFile,
) -> ApiResult<Response> {
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
