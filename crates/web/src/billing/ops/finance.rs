//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::json::given;
use domain::FieldError;
use domain::authz::Permission;
use domain::billing::finance::{CostCategory, SizeBand, Standalone};
use domain::billing::money::MAX_CENTS;
use domain::billing::period::parse_fiscal_year;
use domain::ids::{AgreementId, ServiceId};
use domain::validation::{Collector, dollars, long_text, text};
use serde::Deserialize;
use store::billing::finance::{self, BenchmarkDraft, CostDraft, CreditDraft};

/// The fiscal year asked for, or the current one in the hub's calendar.
pub async fn fy_or_current(s: &AppState, raw: &Option<String>) -> Result<(i16, u8), Failure> {
    let start = crate::clock::fy_start(s).await?;
    let fy = match given(raw) {
        Some(r) => parse_fiscal_year("fy", r).map_err(|e| Failure::Invalid(vec![e]))?,
        None => domain::billing::period::fiscal_year(crate::clock::today(), start),
    };
    Ok((fy, start))
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCost {
    pub service_id: Option<String>,
    /// `2027` or `FY2027`.
    #[schemars(pattern(crate::schema::FISCAL_YEAR))]
    pub fiscal_year: Option<String>,
    #[schemars(with = "Option<domain::billing::finance::CostCategory>")]
    pub category: Option<String>,
    pub description: Option<String>,
    /// Dollars, as text: `"48000.00"`.
    #[schemars(pattern(crate::schema::MONEY))]
    pub amount: Option<String>,
}

/// A cost's fields; on an edit, what is not given keeps its current value.
pub fn parse_cost(raw: &RawCost, current: Option<&finance::Cost>) -> Result<CostDraft, Failure> {
    let mut c = Collector::new();
    let service_id: Option<ServiceId> = match (given(&raw.service_id), current) {
        (None, Some(cur)) => Some(cur.service_id),
        (raw_id, _) => required(&mut c, "service_id", &raw_id.map(str::to_owned)).and_then(|v| {
            c.take(
                v.parse()
                    .map_err(|_| FieldError::new("service_id", "is not an id")),
            )
        }),
    };
    let fiscal_year = match (given(&raw.fiscal_year), current) {
        (None, Some(cur)) => Some(cur.fiscal_year),
        (None, None) => {
            c.push(FieldError::new(
                "fiscal_year",
                "is required, like 2027 or FY2027",
            ));
            None
        }
        (Some(v), _) => c.take(parse_fiscal_year("fiscal_year", v)),
    };
    let category = match (given(&raw.category), current) {
        (None, Some(cur)) => Some(cur.category),
        (None, None) => {
            c.push(FieldError::new(
                "category",
                format!(
                    "is required: one of {}",
                    CostCategory::ALL
                        .iter()
                        .map(|c| c.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
        (Some(v), _) => c.take(CostCategory::parse(v)),
    };
    let description = match (&raw.description, current) {
        (None, Some(cur)) => Some(cur.description.clone()),
        (d, _) => c.take(text("description", d.as_deref().unwrap_or(""), 200)),
    };
    let amount = match (given(&raw.amount), current) {
        (None, Some(cur)) => Some(cur.amount_cents),
        (None, None) => {
            c.push(FieldError::new(
                "amount",
                "is required, in dollars (\"48000.00\")",
            ));
            None
        }
        (Some(v), _) => money(&mut c, "amount", v),
    };
    c.finish()?;
    match (service_id, fiscal_year, category, description, amount) {
        (Some(service_id), Some(fiscal_year), Some(category), Some(description), Some(amount)) => {
            Ok(CostDraft {
                service_id,
                fiscal_year,
                category,
                description,
                amount_cents: amount,
            })
        }
        _ => Err(incomplete()),
    }
}

// ---------------------------------------------------------------------------------------------------
// Benchmarks

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBenchmark {
    pub service_id: Option<String>,
    #[schemars(with = "Option<SizeBand>")]
    pub size_band: Option<String>,
    /// Dollars a year, as text.
    #[schemars(pattern(crate::schema::MONEY))]
    pub staff: Option<String>,
    #[schemars(pattern(crate::schema::MONEY))]
    pub licences: Option<String>,
    #[schemars(pattern(crate::schema::MONEY))]
    pub hardware: Option<String>,
    pub source: Option<String>,
    pub note: Option<String>,
}

pub fn parse_benchmark(
    raw: &RawBenchmark,
    current: Option<&finance::Benchmark>,
) -> Result<BenchmarkDraft, Failure> {
    let mut c = Collector::new();
    let service_id: Option<ServiceId> = match (given(&raw.service_id), current) {
        (None, Some(cur)) => Some(cur.service_id),
        (None, None) => {
            c.push(FieldError::new("service_id", "is required"));
            None
        }
        (Some(v), _) => c.take(
            v.parse()
                .map_err(|_| FieldError::new("service_id", "is not an id")),
        ),
    };
    let size_band = match (given(&raw.size_band), current) {
        (None, Some(cur)) => Some(cur.size_band),
        (None, None) => {
            c.push(FieldError::new(
                "size_band",
                format!(
                    "is required: one of {}",
                    SizeBand::ALL
                        .iter()
                        .map(|b| b.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
        (Some(v), _) => c.take(SizeBand::parse(v)),
    };
    let cur = current.map(|b| b.standalone);
    let mut figure = |field: &str, raw: &Option<String>, keep: Option<i64>| match (given(raw), keep)
    {
        (None, Some(k)) => Some(k),
        (None, None) => Some(0),
        (Some(v), _) => money(&mut c, field, v),
    };
    let staff = figure("staff", &raw.staff, cur.map(|s| s.staff_cents));
    let licences = figure("licences", &raw.licences, cur.map(|s| s.licences_cents));
    let hardware = figure("hardware", &raw.hardware, cur.map(|s| s.hardware_cents));
    let source = match (&raw.source, current) {
        (None, Some(cur)) => Some(cur.source.clone()),
        (s, _) => c.take(
            text("source", s.as_deref().unwrap_or(""), 300).map_err(|e| {
                FieldError::new(
                    "source",
                    format!("{}: say where the figures come from", e.message),
                )
            }),
        ),
    };
    let note = match (&raw.note, current) {
        (None, Some(cur)) => Some(cur.note.clone()),
        (None, None) => Some(String::new()),
        (Some(n), _) if n.trim().is_empty() => Some(String::new()),
        (Some(n), _) => c.take(long_text("note", n, 2_000)),
    };
    c.finish()?;
    match (
        service_id, size_band, staff, licences, hardware, source, note,
    ) {
        (
            Some(service_id),
            Some(size_band),
            Some(staff_cents),
            Some(licences_cents),
            Some(hardware_cents),
            Some(source),
            Some(note),
        ) => Ok(BenchmarkDraft {
            service_id,
            size_band,
            standalone: Standalone {
                staff_cents,
                licences_cents,
                hardware_cents,
            },
            source,
            note,
        }),
        _ => Err(incomplete()),
    }
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCredit {
    pub agreement_id: Option<String>,
    /// `YYYY-MM`: the invoice of the period containing it carries the credit.
    #[schemars(pattern(crate::schema::MONTH))]
    pub month: Option<String>,
    /// Dollars, as text.
    #[schemars(pattern(crate::schema::POSITIVE_MONEY))]
    pub amount: Option<String>,
    pub reason: Option<String>,
}

pub async fn grant_credit(
    s: &AppState,
    p: &Principal,
    raw: &RawCredit,
) -> Result<finance::Credit, Failure> {
    let scope = p.require(Permission::BillingManage)?;
    let d = parse_credit(raw)?;
    Ok(finance::add_credit(&s.db, &scope, &p.actor(), &d).await?)
}

pub(crate) fn required<'a>(
    c: &mut Collector,
    field: &str,
    raw: &'a Option<String>,
) -> Option<&'a str> {
    let v = given(raw);
    if v.is_none() {
        c.push(FieldError::new(field, "is required"));
    }
    v
}

pub(crate) fn money(c: &mut Collector, field: &str, raw: &str) -> Option<i64> {
    c.take(dollars(field, raw, MAX_CENTS))
}

pub(crate) fn incomplete() -> Failure {
    Failure::Invalid(vec![FieldError::new("body", "is incomplete")])
}

pub fn parse_credit(raw: &RawCredit) -> Result<CreditDraft, Failure> {
    let mut c = Collector::new();
    let agreement_id: Option<AgreementId> = required(&mut c, "agreement_id", &raw.agreement_id)
        .and_then(|v| {
            c.take(
                v.parse()
                    .map_err(|_| FieldError::new("agreement_id", "is not an id")),
            )
        });
    let month = match given(&raw.month) {
        None => {
            c.push(FieldError::new("month", "is required, like 2026-09"));
            None
        }
        Some(m) => c.take(super::billing::month("month", m)),
    };
    let amount = match given(&raw.amount) {
        None => {
            c.push(FieldError::new(
                "amount",
                "is required, in dollars (\"250.00\")",
            ));
            None
        }
        Some(v) => match money(&mut c, "amount", v) {
            Some(0) => {
                c.push(FieldError::new("amount", "must be more than zero"));
                None
            }
            a => a,
        },
    };
    let reason = c.take(text("reason", raw.reason.as_deref().unwrap_or(""), 200));
    c.finish()?;
    match (agreement_id, month, amount, reason) {
        (Some(agreement_id), Some(month), Some(amount_cents), Some(reason)) => Ok(CreditDraft {
            agreement_id,
            month,
            amount_cents,
            reason,
        }),
        _ => Err(incomplete()),
    }
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawCost {
    const REQUIRED: &'static [&'static str] = &[
        "service_id",
        "fiscal_year",
        "category",
        "description",
        "amount",
    ];
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawBenchmark {
    const REQUIRED: &'static [&'static str] = &["service_id", "size_band", "source"];
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawCredit {
    const REQUIRED: &'static [&'static str] = &["agreement_id", "month", "amount", "reason"];
}
