//! The hub's finance: what each service costs it per fiscal year (cost pools), what a member would pay to
//! run a service alone (standalone benchmarks by size band, with their sources), credits granted to members,
//! and the reports over them — recovery and margin per service, revenue by member and service, next year's
//! budget forecast per member, and what sharing saves each member.
//!
//! What was billed is read from issued invoices (issued or paid; a voided invoice and its credit note cancel
//! out and are both left out), attributed to a service through each line's rate card; lines without a rate
//! card are credits.

use crate::row::Cols;
use std::collections::{BTreeMap, BTreeSet, HashMap};

use crate::audit::Actor;
use crate::desk::catalog::{log, to_json};
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms, parse_id};
use domain::billing::agreement::AgreementStatus;
use domain::billing::finance::{
    CostCategory, Saving, SizeBand, Standalone, forecast_year, percent, total_savings,
};
use domain::billing::invoice::{Charge, Member, lines};
use domain::billing::period::{Period, month_key};
use domain::billing::pool::{Participant, pool_lines};
use domain::billing::{Model, prorate};
use domain::ids::{AgreementId, OrgId, RateCardId, ServiceId};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

use crate::billing::rates::{date, decimal, opt_date, service_name};

mod benchmarks;
mod charges;
mod costs;
mod credits;
mod report;
mod savings;
pub use benchmarks::*;
use charges::*;
pub use costs::*;
pub use credits::*;
pub use report::*;
pub use savings::*;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn fy_i16(r: &AnyRow, col: &str) -> Result<i16> {
    i16::try_from(r.try_get::<i64, _>(col)?).map_err(corrupt)
}

/// A fiscal year as a period: its first day to the first day of the next.
pub fn fiscal_year_period(fy: i16, fy_start: u8) -> Option<Period> {
    Some(Period {
        start: Period::fiscal_quarter(fy, 1, fy_start)?.start,
        end: Period::fiscal_quarter(fy, 4, fy_start)?.end,
    })
}
