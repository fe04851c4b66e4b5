//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::json::given;
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::agreement::{AgreementStatus, Renewal};
use domain::billing::money::check_decimal;
use domain::billing::usage::{RawUsage, meter_name};
use domain::billing::{Cadence, Model};
use domain::ids::{AgreementId, RateCardId, SubscriptionId};
use domain::validation::{Collector, long_text, text};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;
use store::billing::agreements::{self, AgreementDraft, SubscriptionDraft};
use store::billing::invoices;
use store::billing::rates::{self, CardDraft, RateDraft};
use store::billing::usage::{self};
use store::tenancy::orgs;
// ---------------------------------------------------------------------------------------------------
// Shared parsing

use crate::extract::date;

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

/// A decimal from JSON: a string (`"12.50"`) or a whole number; never a float.
#[derive(Debug, Clone, Deserialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum Amount {
    Text(String),
    Whole(i64),
}

// ---------------------------------------------------------------------------------------------------
// Rate cards

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCard {
    pub service_id: Option<String>,
    pub name: Option<String>,
    #[schemars(with = "Option<domain::billing::Model>")]
    pub model: Option<String>,
    pub unit: Option<String>,
    pub meter: Option<String>,
    pub activity: Option<String>,
    /// The first price.
    pub price: Option<Amount>,
    pub overage: Option<Amount>,
    #[schemars(extend("format" = "date"))]
    pub effective_from: Option<String>,
    pub note: Option<String>,
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

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRate {
    pub price: Option<Amount>,
    pub overage: Option<Amount>,
    #[schemars(extend("format" = "date"))]
    pub effective_from: Option<String>,
    pub note: Option<String>,
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

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawAgreement {
    /// The member's slug (on creation).
    pub org: Option<String>,
    pub title: Option<String>,
    #[schemars(with = "Option<domain::billing::agreement::AgreementStatus>")]
    pub status: Option<String>,
    #[schemars(with = "Option<domain::billing::period::Cadence>")]
    pub cadence: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub starts_on: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub ends_on: Option<String>,
    #[schemars(with = "Option<domain::billing::agreement::Renewal>")]
    pub renewal: Option<String>,
    pub approving_body: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub vote_date: Option<String>,
    pub notes: Option<String>,
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

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubscription {
    pub rate_card_id: Option<String>,
    #[serde(default)]
    #[schemars(schema_with = "crate::schema::positive_decimal")]
    pub quantity: Option<Amount>,
    #[schemars(extend("format" = "date"))]
    pub starts_on: Option<String>,
    #[schemars(extend("format" = "date"))]
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

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSubscriptionEdit {
    pub quantity: Option<Amount>,
    /// A date, or null to run on with the agreement; absent keeps the current end.
    #[serde(default, deserialize_with = "present")]
    pub ends_on: Option<Option<String>>,
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
                crate::download::size_label(limit)
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

/// An invoice's statuses, as the list filters take them.
pub const INVOICE_STATUSES: [&str; 4] = ["draft", "issued", "paid", "void"];

/// How a payment can arrive.
pub const PAYMENT_METHODS: [&str; 5] = ["check", "ach", "wire", "card", "journal"];

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
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

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPayment {
    /// Dollars, as a string ("1250.00").
    #[schemars(pattern(crate::schema::POSITIVE_MONEY))]
    pub amount: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub received_on: Option<String>,
    /// One of [`PAYMENT_METHODS`].
    #[schemars(extend("enum" = ["check", "ach", "wire", "card", "journal", null]))]
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
        None => Some(crate::clock::today()),
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
        facts.push(("Issued", crate::page::local_time(at, "America/New_York")));
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

pub(crate) fn opt_date(
    c: &mut Collector,
    field: &str,
    raw: &Option<String>,
) -> Option<Option<Date>> {
    match given(raw) {
        None => Some(None),
        Some(d) => c.take(date(field, d)).map(Some),
    }
}

pub(crate) fn req_date(c: &mut Collector, field: &str, raw: &Option<String>) -> Option<Date> {
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

pub(crate) fn amount(
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

pub(crate) fn required_id<T: std::str::FromStr>(
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

/// The unit a model charges by when none is given.
pub(crate) fn default_unit(m: Model) -> &'static str {
    match m {
        Model::Fixed => "month",
        Model::PerUnit => "unit",
        Model::PerCapita => "resident",
        Model::TimeAndMaterials | Model::PrepaidHours => "hour",
        Model::CostPool => "share",
    }
}

pub(crate) fn rate_fields(
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

/// An agreement's terms; on an edit, what is not given keeps its current value.
pub fn parse_agreement(
    raw: &RawAgreement,
    current: Option<&agreements::Agreement>,
) -> Result<AgreementDraft, Failure> {
    let mut c = Collector::new();
    // An amendment keeps a required term it does not name; naming it blank is an error, not a keep.
    let keep = |v: &Option<String>| v.is_none() && current.is_some();
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

/// Tells `"field": null` (present, empty) from a missing field.
pub(crate) fn present<'de, D: serde::Deserializer<'de>>(
    d: D,
) -> Result<Option<Option<String>>, D::Error> {
    Ok(Some(Option::deserialize(d)?))
}

// ---------------------------------------------------------------------------------------------------
// CSV import

/// Most rows in one CSV file.
pub const MAX_CSV_ROWS: usize = 200_000;

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

pub(crate) fn status_label(kind: &str, status: &str) -> String {
    match (kind, status) {
        ("credit_note", _) => "Credit note".into(),
        (_, "draft") => "Draft".into(),
        (_, "issued") => "Issued".into(),
        (_, "paid") => "Paid".into(),
        (_, "void") => "Void".into(),
        (_, other) => other.to_owned(),
    }
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawAgreement {
    const REQUIRED: &'static [&'static str] = &["org", "title", "starts_on"];
    const FIXED: &'static [&'static str] = &["org"];
}
