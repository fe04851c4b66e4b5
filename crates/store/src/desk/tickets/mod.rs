//! Tickets: opening them (region-wide numbers), reading and listing them within a [`TicketView`], working
//! them (status, assignment, priority), replies and internal notes, and keeping their SLA clocks.
//!
//! Every change happens in one transaction with its history event, its audit entry and the full-text index,
//! so a ticket is never half-written.

mod attachments;
mod calendar;
mod canned;
mod escalation;
mod history;
mod import;
mod labels;
mod open;
mod read;
mod related;
mod work;

pub use attachments::*;
pub use calendar::*;
pub use canned::*;
pub use escalation::*;
pub use history::*;
pub use import::*;
pub use labels::*;
pub use open::*;
pub use read::*;
pub use related::*;
pub use work::*;

use super::catalog::{self, log, to_json};
use super::notify;
use super::search;
use crate::audit::Actor;
use crate::direct;
use crate::page::{Page, PageRequest};
use crate::row::{Cols, Decode};
use crate::sql::{Batch, Sql};
use crate::{Db, Result, StoreError, now_ms, parse_id};
use domain::authz::TicketView;
use domain::calendar::{Closure, HolidayRules, WeeklyHours};
use domain::desk::{
    Approval, BusinessCalendar, Coverage, Impact, Priority, SlaClock, SlaTargets, Source, Status,
    TicketKind, Urgency,
};
use domain::ids::{
    CatalogItemId, DepartmentId, OrgId, ServiceId, SiteId, TeamId, TicketEventId, TicketId, UserId,
};
use jiff::Timestamp;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};
use std::collections::BTreeMap;

/// `sla_due_at` of a ticket with no running deadline: sorts after every real one.
pub const NO_DUE: i64 = 9_999_999_999_999;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn ts(ms: i64) -> Timestamp {
    Timestamp::from_millisecond(ms).unwrap_or(Timestamp::UNIX_EPOCH)
}

/// A ticket as people and the API see it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Ticket {
    pub id: TicketId,
    pub number: i64,
    pub org_id: OrgId,
    pub kind: TicketKind,
    pub subject: String,
    pub description: String,
    pub requester_id: UserId,
    pub department_id: Option<DepartmentId>,
    pub site_id: Option<SiteId>,
    pub service_id: Option<ServiceId>,
    pub catalog_item_id: Option<CatalogItemId>,
    pub form_answers: BTreeMap<String, String>,
    pub category: String,
    pub impact: Impact,
    pub urgency: Urgency,
    pub priority: Priority,
    pub status: Status,
    pub team_id: Option<TeamId>,
    pub assignee_id: Option<UserId>,
    pub source: Source,
    pub approval: Approval,
    pub cost_cents: i64,
    pub sla: Sla,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub first_response_at: Option<i64>,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub resolved_at: Option<i64>,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub closed_at: Option<i64>,
    pub merged_into_id: Option<TicketId>,
    pub csat_score: Option<i64>,
    pub csat_comment: Option<String>,
    pub reopen_count: i64,
    pub public_replies: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

/// The SLA part of a ticket: targets, clock, due instants and what has gone wrong.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Sla {
    pub coverage: Coverage,
    pub response_target_s: i64,
    pub resolution_target_s: i64,
    pub clock: SlaClock,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub response_due_at: Option<i64>,
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub resolution_due_at: Option<i64>,
    /// The next deadline that still runs (for queues); `None` when paused or met.
    #[serde(serialize_with = "crate::tenancy::ser_opt_ts")]
    pub next_due_at: Option<i64>,
    pub response_breached: bool,
    pub resolution_breached: bool,
    pub at_risk: bool,
    /// When the escalation sweep must look at this ticket again: the next instant it becomes at risk or
    /// breaches (`None` when nothing more can happen without a change to the ticket).
    #[serde(skip)]
    pub check_at: Option<i64>,
}

impl Decode for Ticket {
    fn decode(r: &AnyRow) -> Result<Ticket> {
        let due: i64 = r.try_get("sla_due_at")?;
        Ok(Ticket {
            id: r.id("id")?,
            number: r.try_get("number")?,
            org_id: r.id("org_id")?,
            kind: r.vocab("kind", TicketKind::parse)?,
            subject: r.try_get("subject")?,
            description: r.try_get("description")?,
            requester_id: r.id("requester_id")?,
            department_id: r.opt_id("department_id")?,
            site_id: r.opt_id("site_id")?,
            service_id: r.opt_id("service_id")?,
            catalog_item_id: r.opt_id("catalog_item_id")?,
            form_answers: match r.try_get::<Option<String>, _>("form_answers")? {
                Some(s) => serde_json::from_str(&s).map_err(corrupt)?,
                None => BTreeMap::new(),
            },
            category: r.try_get("category")?,
            impact: r.vocab("impact", Impact::parse)?,
            urgency: r.vocab("urgency", Urgency::parse)?,
            priority: r.vocab("priority", Priority::parse)?,
            status: r.vocab("status", Status::parse)?,
            team_id: r.opt_id("team_id")?,
            assignee_id: r.opt_id("assignee_id")?,
            source: r.vocab("source", Source::parse)?,
            approval: r.vocab("approval", Approval::parse)?,
            cost_cents: r.try_get("cost_cents")?,
            sla: Sla {
                coverage: r.vocab("coverage", Coverage::parse)?,
                response_target_s: r.try_get("response_target_s")?,
                resolution_target_s: r.try_get("resolution_target_s")?,
                clock: r.json("sla_clock")?,
                response_due_at: r.try_get("response_due_at")?,
                resolution_due_at: r.try_get("resolution_due_at")?,
                next_due_at: (due != NO_DUE).then_some(due),
                response_breached: r.flag("response_breached")?,
                resolution_breached: r.flag("resolution_breached")?,
                at_risk: r.flag("at_risk")?,
                check_at: Some(r.try_get::<i64, _>("sla_check_at")?).filter(|c| *c != NO_DUE),
            },
            first_response_at: r.try_get("first_response_at")?,
            resolved_at: r.try_get("resolved_at")?,
            closed_at: r.try_get("closed_at")?,
            merged_into_id: r.opt_id("merged_into_id")?,
            csat_score: r.try_get("csat_score")?,
            csat_comment: r.try_get("csat_comment")?,
            reopen_count: r.try_get("reopen_count")?,
            public_replies: r.try_get("public_replies")?,
            created_at: r.try_get("created_at")?,
            updated_at: r.try_get("updated_at")?,
            version: r.try_get("version")?,
        })
    }
}

/// A ticket from its row (see [`Decode`]).
pub(crate) fn ticket(r: &AnyRow) -> Result<Ticket> {
    Ticket::decode(r)
}
