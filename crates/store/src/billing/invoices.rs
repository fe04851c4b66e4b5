//! Invoice runs and invoices. A run computes one draft per active agreement of the period's cadence from its
//! subscriptions, rates, usage totals, time entries, the member's population and the hub's record of its
//! active accounts (`domain::billing::invoice`, `domain::billing::seats`);
//! running a period again replaces its drafts with the same result and never touches an issued invoice.
//! Issuing numbers an invoice from a counter in the same transaction, so numbers have no gaps; an issued
//! invoice is never changed — voiding it issues a credit note.

use crate::row::Cols;
use std::collections::{BTreeMap, HashMap};

use crate::audit::Actor;
use crate::desk::catalog::log;
use crate::page::{Page, PageRequest};
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::billing::agreement::AgreementStatus;
use domain::billing::invoice::{Charge, InvoiceLine, Member, Trace, lines};
use domain::billing::pool::{Participant, pool_lines};
use domain::billing::{Cadence, Model, Period};
use domain::ids::{AgreementId, OrgId, RateCardId};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use super::rates::{date, decimal};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Invoice {
    pub id: String,
    pub org_id: OrgId,
    pub agreement_id: AgreementId,
    /// `invoice` or `credit_note`.
    pub kind: String,
    /// `draft`, `issued`, `paid` or `void`.
    pub status: String,
    #[schemars(with = "domain::schema::Day")]
    pub period_start: Date,
    #[schemars(with = "domain::schema::Day")]
    pub period_end: Date,
    pub period: String,
    pub number: Option<String>,
    pub credits_invoice_id: Option<String>,
    pub total_cents: i64,
    pub paid_cents: i64,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub issued_at: Option<i64>,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub due_on: Option<Date>,
    pub void_reason: String,
    pub version: i64,
}

impl Invoice {
    /// Whether voiding may be offered: a paid invoice is corrected with a credit instead (see [`void`]).
    pub fn has_payments(&self) -> bool {
        self.paid_cents > 0
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Line {
    pub position: i64,
    pub description: String,
    pub quantity: Decimal,
    pub unit_price: Decimal,
    pub amount_cents: i64,
    pub rate_card_id: Option<String>,
    pub subscription_id: Option<String>,
    pub trace: serde_json::Value,
}

fn invoice(r: &AnyRow) -> Result<Invoice> {
    Ok(Invoice {
        id: r.try_get("id")?,
        org_id: r.id("org_id")?,
        agreement_id: r.id("agreement_id")?,
        kind: r.try_get("kind")?,
        status: r.try_get("status")?,
        period_start: date(r, "period_start")?,
        period_end: date(r, "period_end")?,
        period: r.try_get("period_label")?,
        number: r.try_get("number")?,
        credits_invoice_id: r.try_get("credits_invoice_id")?,
        total_cents: r.try_get("total_cents")?,
        paid_cents: r.try_get("paid_cents")?,
        issued_at: r.try_get("issued_at")?,
        due_on: super::rates::opt_date(r, "due_on")?,
        void_reason: r.try_get("void_reason")?,
        version: r.try_get("version")?,
    })
}

/// What a run did.
#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RunReport {
    pub period: String,
    /// Drafts written (new or replaced).
    pub drafts: u64,
    /// Their lines.
    pub lines: u64,
    /// Agreements whose invoice for the period is already issued: left as they are.
    pub already_issued: u64,
    pub total_cents: i64,
    /// Subscriptions that could not be charged, with the reason.
    pub problems: Vec<String>,
}

struct Sub {
    id: String,
    agreement: AgreementId,
    card: RateCardId,
    quantity: Decimal,
    starts_on: Date,
    ends_on: Option<Date>,
}

/// Runs `period` (a month for monthly agreements, a fiscal quarter for quarterly ones) for the region.
pub async fn run(db: &Db, actor: &Actor, period: &Period, label: &str) -> Result<RunReport> {
    let fy_start = fy_start(db).await?;
    let cadence = if period.months().len() == 1 {
        Cadence::Monthly
    } else {
        Cadence::Quarterly
    };
    // Active agreements of this cadence whose term overlaps the period.
    let agreements: Vec<(AgreementId, OrgId)> = sqlx::query(
        "SELECT id, org_id FROM agreements WHERE status = $1 AND cadence = $2 AND starts_on < $3 \
         AND (ends_on IS NULL OR ends_on > $4) ORDER BY org_id, id",
    )
    .bind(AgreementStatus::Active.as_str())
    .bind(cadence.as_str())
    .bind(period.end.to_string())
    .bind(period.start.to_string())
    .fetch_all(&db.read)
    .await?
    .iter()
    .map(|r| Ok((r.id("id")?, r.id("org_id")?)))
    .collect::<Result<_>>()?;
    let mut report = RunReport {
        period: label.to_owned(),
        ..RunReport::default()
    };
    if agreements.is_empty() {
        return Ok(report);
    }
    // Everything the lines need, in a handful of queries.
    let cards: HashMap<RateCardId, super::rates::RateCard> = super::rates::list(db, false)
        .await?
        .into_iter()
        .map(|c| (c.id, c))
        .collect();
    let mut subs: BTreeMap<AgreementId, Vec<Sub>> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT s.id, s.agreement_id, s.rate_card_id, s.quantity, s.starts_on, s.ends_on FROM subscriptions s \
         JOIN agreements a ON a.id = s.agreement_id WHERE a.status = $1 AND a.cadence = $2 \
         AND s.starts_on < $3 AND (s.ends_on IS NULL OR s.ends_on > $4) ORDER BY s.agreement_id, s.starts_on, s.id",
    )
    .bind(AgreementStatus::Active.as_str())
    .bind(cadence.as_str())
    .bind(period.end.to_string())
    .bind(period.start.to_string())
    .fetch_all(&db.read)
    .await?
    {
        let agreement: AgreementId = r.id("agreement_id")?;
        subs.entry(agreement).or_default().push(Sub {
            id: r.try_get("id")?,
            agreement,
            card: r.id("rate_card_id")?,
            quantity: decimal(&r, "quantity")?,
            starts_on: date(&r, "starts_on")?,
            ends_on: super::rates::opt_date(&r, "ends_on")?,
        });
    }
    let months: Vec<String> = period
        .months()
        .iter()
        .map(|m| domain::billing::period::month_key(m.start))
        .collect();
    let mut members: HashMap<OrgId, Member> = HashMap::new();
    for r in sqlx::query("SELECT id, population FROM orgs")
        .fetch_all(&db.read)
        .await?
    {
        let id: OrgId = r.id("id")?;
        let population: Option<i64> = r.try_get("population")?;
        members.insert(
            id,
            Member {
                population: population.unwrap_or(0),
                ..Member::default()
            },
        );
    }
    for r in sqlx::query("SELECT org_id, COUNT(*) AS n FROM users WHERE active = 1 GROUP BY org_id")
        .fetch_all(&db.read)
        .await?
    {
        let org: OrgId = r.id("org_id")?;
        if let Some(m) = members.get_mut(&org) {
            m.active_users = r.try_get("n")?;
        }
    }
    // The hub's daily record of active accounts over the period: seats bill its peak, not the count now.
    for (org, days) in crate::tenancy::seats::between(db, period.start, period.end).await? {
        if let Some(m) = members.get_mut(&org) {
            m.seat_days = days;
        }
    }
    let (first, last) = (
        months.first().cloned().unwrap_or_default(),
        months.last().cloned().unwrap_or_default(),
    );
    for t in super::usage::totals_raw(db, &first, &last).await? {
        if let Some(m) = members.get_mut(&t.0) {
            m.usage.insert((t.1, t.2), (t.3, t.4));
        }
    }
    // Billable minutes from the start of the fiscal year (prepaid blocks carry hours within it).
    let fy = domain::billing::period::fiscal_year(period.start, fy_start);
    let fy_first = Period::fiscal_quarter(fy, 1, fy_start)
        .map(|q| q.start)
        .unwrap_or(period.start);
    for r in sqlx::query(
        "SELECT org_id, substr(work_date, 1, 7) AS month, activity, CAST(SUM(minutes) AS BIGINT) AS minutes FROM time_entries \
         WHERE billable = 1 AND work_date >= $1 AND work_date < $2 GROUP BY org_id, substr(work_date, 1, 7), activity",
    )
    .bind(fy_first.to_string())
    .bind(period.end.to_string())
    .fetch_all(&db.read)
    .await?
    {
        let org: OrgId = r.id("org_id")?;
        if let Some(m) = members.get_mut(&org) {
            m.minutes.insert(
                (r.try_get("month")?, r.try_get("activity")?),
                r.try_get::<i64, _>("minutes")?,
            );
        }
    }
    // Cost-pool shares, card by card: every participant of the pool counts, whatever its cadence.
    let mut pooled: HashMap<String, Vec<InvoiceLine>> = HashMap::new();
    let mut participants: BTreeMap<RateCardId, Vec<Participant<String>>> = BTreeMap::new();
    for r in sqlx::query(
        "SELECT s.id, s.rate_card_id, s.quantity, s.starts_on, s.ends_on FROM subscriptions s \
         JOIN agreements a ON a.id = s.agreement_id JOIN rate_cards c ON c.id = s.rate_card_id \
         WHERE a.status = $1 AND c.model = $2 AND s.starts_on < $3 AND (s.ends_on IS NULL OR s.ends_on > $4) \
         ORDER BY s.id",
    )
    .bind(AgreementStatus::Active.as_str())
    .bind(Model::CostPool.as_str())
    .bind(period.end.to_string())
    .bind(period.start.to_string())
    .fetch_all(&db.read)
    .await?
    {
        participants
            .entry(r.id("rate_card_id")?)
            .or_default()
            .push(Participant {
                key: r.try_get("id")?,
                weight: decimal(&r, "quantity")?,
                starts_on: date(&r, "starts_on")?,
                ends_on: super::rates::opt_date(&r, "ends_on")?,
            });
    }
    for (card, ps) in &participants {
        let Some(c) = cards.get(card) else { continue };
        let rates = c.prices();
        match pool_lines(&c.name, &rates, ps, period, fy_start) {
            Ok(shares) => pooled.extend(shares),
            Err(e) => report
                .problems
                .push(format!("rate card {} ({}): {}", c.id, c.name, e.message)),
        }
    }
    let credits = super::finance::credits_for(db, &first, &last).await?;
    // Invoices already issued for the period are left alone.
    let mut issued: std::collections::HashSet<AgreementId> = Default::default();
    for r in sqlx::query("SELECT agreement_id FROM invoices WHERE kind = 'invoice' AND status <> 'draft' AND status <> 'void' AND period_start = $1 AND period_end = $2")
        .bind(period.start.to_string())
        .bind(period.end.to_string())
        .fetch_all(&db.read)
        .await?
    {
        issued.insert(r.id("agreement_id")?);
    }
    // The drafts, computed before anything is written.
    let now = now_ms();
    let mut invoice_rows = Vec::new();
    let mut line_rows = Vec::new();
    for (agreement, org) in &agreements {
        if issued.contains(agreement) {
            report.already_issued += 1;
            continue;
        }
        let member = members.get(org).cloned().unwrap_or_default();
        let id = uuid::Uuid::now_v7().to_string();
        let mut total = 0i64;
        let mut position = 0i64;
        for s in subs.get(agreement).map(Vec::as_slice).unwrap_or(&[]) {
            let Some(card) = cards.get(&s.card) else {
                continue;
            };
            let rates = card.prices();
            let charge = Charge {
                name: &card.name,
                model: card.model,
                unit: &card.unit,
                meter: &card.meter,
                activity: &card.activity,
                quantity: s.quantity,
                starts_on: s.starts_on,
                ends_on: s.ends_on,
                rates: &rates,
            };
            let charged = if card.model == Model::CostPool {
                Ok(pooled.remove(&s.id).unwrap_or_default())
            } else {
                lines(&charge, &member, period, fy_start)
            };
            match charged {
                Ok(ls) => {
                    for l in ls {
                        position += 1;
                        total = total.checked_add(l.amount_cents).ok_or_else(|| {
                            StoreError::from(domain::FieldError::new("total", "is too large"))
                        })?;
                        line_rows.push(line_json(&id, position, Some(&s.id), Some(card.id), &l)?);
                    }
                }
                Err(e) => report.problems.push(format!(
                    "subscription {} ({}): {}",
                    s.id, s.agreement, e.message
                )),
            }
        }
        for c in credits.get(agreement).map(Vec::as_slice).unwrap_or(&[]) {
            position += 1;
            let l = InvoiceLine {
                description: format!("Credit, {}: {}", c.month, c.reason),
                quantity: Decimal::ONE,
                unit_price: -Decimal::new(c.amount_cents, 2),
                amount_cents: -c.amount_cents,
                trace: Trace {
                    month: Some(c.month.clone()),
                    credit: Some(c.id.clone()),
                    ..Trace::default()
                },
            };
            total -= c.amount_cents;
            line_rows.push(line_json(&id, position, None, None, &l)?);
        }
        report.drafts += 1;
        report.lines += u64::try_from(position).unwrap_or(0);
        report.total_cents += total;
        invoice_rows.push(serde_json::json!([
            id,
            org.to_string(),
            agreement.to_string(),
            period.start.to_string(),
            period.end.to_string(),
            label,
            total,
            now
        ]));
    }
    let mut tx = db.begin_write().await?;
    // Drafts of the period are replaced (their lines first).
    sqlx::query("DELETE FROM invoice_lines WHERE invoice_id IN (SELECT id FROM invoices WHERE status = 'draft' AND period_start = $1 AND period_end = $2)")
        .bind(period.start.to_string())
        .bind(period.end.to_string())
        .execute(&mut *tx)
        .await?;
    sqlx::query(
        "DELETE FROM invoices WHERE status = 'draft' AND period_start = $1 AND period_end = $2",
    )
    .bind(period.start.to_string())
    .bind(period.end.to_string())
    .execute(&mut *tx)
    .await?;
    for chunk in invoice_rows.chunks(2_000) {
        let doc = serde_json::to_string(chunk).map_err(corrupt)?;
        sqlx::query(insert_invoices_sql(db.backend()))
            .bind(doc)
            .execute(&mut *tx)
            .await?;
    }
    for chunk in line_rows.chunks(5_000) {
        let doc = serde_json::to_string(chunk).map_err(corrupt)?;
        sqlx::query(insert_lines_sql(db.backend()))
            .bind(doc)
            .execute(&mut *tx)
            .await?;
    }
    log(
        &mut tx,
        actor,
        None,
        "invoice_run",
        ("invoice_run", label.to_owned()),
        None,
        Some(serde_json::to_value(&report).map_err(corrupt)?),
    )
    .await?;
    tx.commit().await?;
    Ok(report)
}

fn line_json(
    invoice: &str,
    position: i64,
    subscription: Option<&str>,
    card: Option<RateCardId>,
    l: &InvoiceLine,
) -> Result<serde_json::Value> {
    Ok(serde_json::json!([
        uuid::Uuid::now_v7().to_string(),
        invoice,
        position,
        subscription,
        card.map(|c| c.to_string()),
        l.description,
        l.quantity.to_string(),
        l.unit_price.to_string(),
        l.amount_cents,
        serde_json::to_string(&l.trace).map_err(corrupt)?,
    ]))
}

fn insert_invoices_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => {
            "INSERT INTO invoices (id, org_id, agreement_id, kind, status, period_start, period_end, period_label, total_cents, created_at, updated_at, version) \
             SELECT value ->> 0, value ->> 1, value ->> 2, 'invoice', 'draft', value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 7, 1 \
             FROM json_each($1)"
        }
        crate::Backend::Postgres => {
            "INSERT INTO invoices (id, org_id, agreement_id, kind, status, period_start, period_end, period_label, total_cents, created_at, updated_at, version) \
             SELECT r ->> 0, r ->> 1, r ->> 2, 'invoice', 'draft', r ->> 3, r ->> 4, r ->> 5, (r ->> 6)::bigint, (r ->> 7)::bigint, (r ->> 7)::bigint, 1 \
             FROM jsonb_array_elements($1::jsonb) AS r"
        }
    }
}

fn insert_lines_sql(backend: crate::Backend) -> &'static str {
    match backend {
        crate::Backend::Sqlite => {
            "INSERT INTO invoice_lines (id, invoice_id, position, subscription_id, rate_card_id, description, quantity, unit_price, amount_cents, trace) \
             SELECT value ->> 0, value ->> 1, value ->> 2, value ->> 3, value ->> 4, value ->> 5, value ->> 6, value ->> 7, value ->> 8, value ->> 9 \
             FROM json_each($1)"
        }
        crate::Backend::Postgres => {
            "INSERT INTO invoice_lines (id, invoice_id, position, subscription_id, rate_card_id, description, quantity, unit_price, amount_cents, trace) \
             SELECT r ->> 0, r ->> 1, (r ->> 2)::bigint, r ->> 3, r ->> 4, r ->> 5, r ->> 6, r ->> 7, (r ->> 8)::bigint, r ->> 9 \
             FROM jsonb_array_elements($1::jsonb) AS r"
        }
    }
}

/// The hub's fiscal-year start month (July unless it says otherwise).
async fn fy_start(db: &Db) -> Result<u8> {
    let r = sqlx::query("SELECT fiscal_year_start_month FROM orgs WHERE is_hub = 1")
        .fetch_optional(&db.read)
        .await?;
    Ok(match r {
        Some(r) => u8::try_from(r.try_get::<i64, _>("fiscal_year_start_month")?).unwrap_or(7),
        None => 7,
    })
}

/// Filters of the invoice list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub org: Option<OrgId>,
    pub status: Option<String>,
    pub period: Option<String>,
}

/// Invoices in scope, newest period first.
pub async fn list(db: &Db, scope: &Scope, f: &Filter, page: &PageRequest) -> Result<Page<Invoice>> {
    let mut q = Sql::new("SELECT * FROM invoices WHERE 1 = 1");
    q.scope("org_id", scope);
    if let Some(o) = f.org {
        q.push(" AND org_id = ").bind(o.to_string());
    }
    if let Some(s) = &f.status {
        q.push(" AND status = ").bind(s.clone());
    }
    if let Some(p) = &f.period {
        q.push(" AND period_label = ").bind(p.clone());
    }
    if let Some(after) = &page.after {
        q.before_cursor("period_start", "id", after)?;
    }
    q.push(" ORDER BY period_start DESC, id DESC LIMIT ")
        .bind(page.fetch());
    let rows = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(invoice)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, page, |i| {
        format!("{}|{}", i.period_start, i.id)
    }))
}

/// One invoice in scope, without its lines.
async fn header(db: &Db, scope: &Scope, id: &str) -> Result<Invoice> {
    let mut q = Sql::new("SELECT * FROM invoices WHERE id = ");
    q.bind(id.to_owned());
    q.scope("org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(invoice)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// One invoice in scope with its lines.
pub async fn get(db: &Db, scope: &Scope, id: &str) -> Result<(Invoice, Vec<Line>)> {
    let inv = header(db, scope, id).await?;
    let lines = sqlx::query("SELECT * FROM invoice_lines WHERE invoice_id = $1 ORDER BY position")
        .bind(id)
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Line {
                position: r.try_get("position")?,
                description: r.try_get("description")?,
                quantity: decimal(r, "quantity")?,
                unit_price: decimal(r, "unit_price")?,
                amount_cents: r.try_get("amount_cents")?,
                rate_card_id: r.try_get("rate_card_id")?,
                subscription_id: r.try_get("subscription_id")?,
                trace: r.json("trace")?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok((inv, lines))
}

/// The next number from the gapless counter, in the caller's transaction.
async fn next_number(tx: &mut sqlx::Transaction<'_, sqlx::Any>) -> Result<String> {
    let n: i64 =
        sqlx::query("UPDATE counters SET value = value + 1 WHERE name = 'invoice' RETURNING value")
            .fetch_one(&mut **tx)
            .await?
            .try_get("value")?;
    Ok(format!("INV-{n:06}"))
}

/// Issues a draft: numbered, dated, due in 30 days; never changed afterwards.
pub async fn issue(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: &str,
    version: Option<i64>,
    when: &jiff::ZonedDateTime,
) -> Result<Invoice> {
    let before = header(db, scope, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    if before.status != "draft" {
        return Err(domain::Invalid::one(
            "status",
            format!("is {}: only a draft can be issued", before.status),
        )
        .into());
    }
    if before.total_cents < 0 {
        return Err(domain::Invalid::one(
            "total",
            "is negative: the credits are more than the charges; move a credit to a later month and run the period again",
        )
        .into());
    }
    let mut tx = db.begin_write().await?;
    let number = next_number(&mut tx).await?;
    let due = when
        .date()
        .checked_add(jiff::Span::new().days(30))
        .map_err(corrupt)?;
    let now = when.timestamp().as_millisecond();
    let n = sqlx::query("UPDATE invoices SET status = 'issued', number = $1, issued_at = $2, due_on = $3, updated_at = $2, version = version + 1 WHERE id = $4 AND version = $5 AND status = 'draft'")
        .bind(&number)
        .bind(now)
        .bind(due.to_string())
        .bind(id)
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = Invoice {
        status: "issued".into(),
        number: Some(number),
        issued_at: Some(now),
        due_on: Some(due),
        version: before.version + 1,
        ..before.clone()
    };
    log(
        &mut tx,
        actor,
        Some(before.org_id),
        "invoice.issue",
        ("invoice", id.to_owned()),
        Some(serde_json::to_value(&before).map_err(corrupt)?),
        Some(serde_json::to_value(&after).map_err(corrupt)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Voids an issued, unpaid invoice by issuing a credit note for its whole amount; returns the credit note.
pub async fn void(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: &str,
    reason: &str,
) -> Result<Invoice> {
    let (inv, lines) = get(db, scope, id).await?;
    if inv.kind != "invoice" || inv.status != "issued" {
        return Err(domain::Invalid::one(
            "status",
            format!(
                "is {} {}: only an issued, unpaid invoice can be voided",
                inv.status,
                inv.kind.replace('_', " ")
            ),
        )
        .into());
    }
    if inv.has_payments() {
        return Err(domain::Invalid::one(
            "status",
            "has payments recorded: correct it with a credit on the agreement instead",
        )
        .into());
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE invoices SET status = 'void', void_reason = $1, updated_at = $2, version = version + 1 WHERE id = $3 AND status = 'issued' AND version = $4")
        .bind(reason)
        .bind(now_ms())
        .bind(id)
        .bind(inv.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let number = next_number(&mut tx).await?;
    let now = now_ms();
    let credit_id = uuid::Uuid::now_v7().to_string();
    sqlx::query("INSERT INTO invoices (id, org_id, agreement_id, kind, status, period_start, period_end, period_label, number, credits_invoice_id, total_cents, paid_cents, issued_at, due_on, void_reason, created_at, updated_at, version) VALUES ($1, $2, $3, 'credit_note', 'issued', $4, $5, $6, $7, $8, $9, 0, $10, NULL, $11, $10, $10, 1)")
        .bind(&credit_id)
        .bind(inv.org_id.to_string())
        .bind(inv.agreement_id.to_string())
        .bind(inv.period_start.to_string())
        .bind(inv.period_end.to_string())
        .bind(&inv.period)
        .bind(&number)
        .bind(id)
        .bind(-inv.total_cents)
        .bind(now)
        .bind(reason)
        .execute(&mut *tx)
        .await?;
    let rows: Vec<serde_json::Value> = lines
        .iter()
        .map(|l| {
            line_json(
                &credit_id,
                l.position,
                l.subscription_id.as_deref(),
                l.rate_card_id.as_deref().and_then(|c| c.parse().ok()),
                &InvoiceLine {
                    description: format!("Credit: {}", l.description),
                    quantity: l.quantity,
                    unit_price: l.unit_price,
                    amount_cents: -l.amount_cents,
                    trace: serde_json::from_value::<Trace>(l.trace.clone()).unwrap_or_default(),
                },
            )
        })
        .collect::<Result<_>>()?;
    if !rows.is_empty() {
        sqlx::query(insert_lines_sql(db.backend()))
            .bind(serde_json::to_string(&rows).map_err(corrupt)?)
            .execute(&mut *tx)
            .await?;
    }
    log(
        &mut tx,
        actor,
        Some(inv.org_id),
        "invoice.void",
        ("invoice", id.to_owned()),
        None,
        Some(serde_json::json!({ "reason": reason, "credit_note": number })),
    )
    .await?;
    tx.commit().await?;
    header(db, scope, &credit_id).await
}

/// Records a payment against an issued invoice; the invoice is paid once the payments reach its total.
#[allow(
    clippy::too_many_arguments,
    reason = "one payment, written in one place"
)]
pub async fn pay(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: &str,
    amount_cents: i64,
    received_on: Date,
    method: &str,
    reference: &str,
) -> Result<Invoice> {
    let inv = header(db, scope, id).await?;
    if inv.kind != "invoice" || inv.status != "issued" {
        return Err(domain::Invalid::one(
            "status",
            format!(
                "is {}: payments are recorded against issued invoices",
                inv.status
            ),
        )
        .into());
    }
    let left = inv.total_cents - inv.paid_cents;
    if amount_cents <= 0 || amount_cents > left {
        return Err(domain::Invalid::one(
            "amount",
            format!(
                "must be more than $0.00 and at most the {} still due",
                domain::billing::format_cents(left)
            ),
        )
        .into());
    }
    let paid = inv.paid_cents + amount_cents;
    let status = if paid >= inv.total_cents {
        "paid"
    } else {
        "issued"
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE invoices SET paid_cents = $1, status = $2, updated_at = $3, version = version + 1 WHERE id = $4 AND version = $5")
        .bind(paid)
        .bind(status)
        .bind(now_ms())
        .bind(id)
        .bind(inv.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    sqlx::query("INSERT INTO payments (id, invoice_id, org_id, amount_cents, received_on, method, reference, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(id)
        .bind(inv.org_id.to_string())
        .bind(amount_cents)
        .bind(received_on.to_string())
        .bind(method)
        .bind(reference)
        .bind(now_ms())
        .bind(actor.user_id.map(|u| u.to_string()))
        .execute(&mut *tx)
        .await?;
    log(&mut tx, actor, Some(inv.org_id), "invoice.payment", ("invoice", id.to_owned()), None, Some(serde_json::json!({ "amount_cents": amount_cents, "received_on": received_on, "method": method, "reference": reference }))).await?;
    tx.commit().await?;
    Ok(Invoice {
        paid_cents: paid,
        status: status.into(),
        version: inv.version + 1,
        ..inv
    })
}
