//! Tickets: opening them (region-wide numbers), reading and listing them within a [`TicketView`], working
//! them (status, assignment, priority), replies and internal notes, and keeping their SLA clocks.
//!
//! Every change happens in one transaction with its history event, its audit entry and the full-text index,
//! so a ticket is never half-written.

use super::catalog::{self, log, to_json};
use super::search;
use crate::audit::Actor;
use crate::direct;
use crate::page::{Page, PageRequest};
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
#[derive(Debug, Clone, Serialize, PartialEq)]
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
#[derive(Debug, Clone, Serialize, PartialEq)]
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

fn opt_id<T: std::str::FromStr>(r: &AnyRow, col: &str) -> Result<Option<T>> {
    r.try_get::<Option<String>, _>(col)?
        .map(|s| parse_id(&s))
        .transpose()
}

fn vocab<T>(
    r: &AnyRow,
    col: &str,
    parse: fn(&str) -> std::result::Result<T, domain::FieldError>,
) -> Result<T> {
    parse(&r.try_get::<String, _>(col)?).map_err(|e| corrupt(e.message))
}

pub(crate) fn ticket(r: &AnyRow) -> Result<Ticket> {
    let due: i64 = r.try_get("sla_due_at")?;
    Ok(Ticket {
        id: parse_id(&r.try_get::<String, _>("id")?)?,
        number: r.try_get("number")?,
        org_id: parse_id(&r.try_get::<String, _>("org_id")?)?,
        kind: vocab(r, "kind", TicketKind::parse)?,
        subject: r.try_get("subject")?,
        description: r.try_get("description")?,
        requester_id: parse_id(&r.try_get::<String, _>("requester_id")?)?,
        department_id: opt_id(r, "department_id")?,
        site_id: opt_id(r, "site_id")?,
        service_id: opt_id(r, "service_id")?,
        catalog_item_id: opt_id(r, "catalog_item_id")?,
        form_answers: match r.try_get::<Option<String>, _>("form_answers")? {
            Some(s) => serde_json::from_str(&s).map_err(corrupt)?,
            None => BTreeMap::new(),
        },
        category: r.try_get("category")?,
        impact: vocab(r, "impact", Impact::parse)?,
        urgency: vocab(r, "urgency", Urgency::parse)?,
        priority: vocab(r, "priority", Priority::parse)?,
        status: vocab(r, "status", Status::parse)?,
        team_id: opt_id(r, "team_id")?,
        assignee_id: opt_id(r, "assignee_id")?,
        source: vocab(r, "source", Source::parse)?,
        approval: vocab(r, "approval", Approval::parse)?,
        cost_cents: r.try_get("cost_cents")?,
        sla: Sla {
            coverage: vocab(r, "coverage", Coverage::parse)?,
            response_target_s: r.try_get("response_target_s")?,
            resolution_target_s: r.try_get("resolution_target_s")?,
            clock: serde_json::from_str(&r.try_get::<String, _>("sla_clock")?).map_err(corrupt)?,
            response_due_at: r.try_get("response_due_at")?,
            resolution_due_at: r.try_get("resolution_due_at")?,
            next_due_at: (due != NO_DUE).then_some(due),
            response_breached: r.try_get::<i64, _>("response_breached")? != 0,
            resolution_breached: r.try_get::<i64, _>("resolution_breached")? != 0,
            at_risk: r.try_get::<i64, _>("at_risk")? != 0,
            check_at: Some(r.try_get::<i64, _>("sla_check_at")?).filter(|c| *c != NO_DUE),
        },
        first_response_at: r.try_get("first_response_at")?,
        resolved_at: r.try_get("resolved_at")?,
        closed_at: r.try_get("closed_at")?,
        merged_into_id: opt_id(r, "merged_into_id")?,
        csat_score: r.try_get("csat_score")?,
        csat_comment: r.try_get("csat_comment")?,
        reopen_count: r.try_get("reopen_count")?,
        public_replies: r.try_get("public_replies")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

// ---------------------------------------------------------------------------------------------------
// Calendars and SLA

/// The calendar a member's tickets are counted in, for a policy's coverage.
pub async fn calendar(db: &Db, org: OrgId, coverage: Coverage) -> Result<BusinessCalendar> {
    // The organisation and its closure days in one query (one row per closure day; one without any).
    let mut q = Sql::new(
        "SELECT o.time_zone, o.business_hours, o.holiday_rules, c.date, c.name FROM orgs o \
         LEFT JOIN org_closures c ON c.org_id = o.id WHERE o.id = $1",
    );
    q.arg(org.to_string());
    let rows = direct::rows(db, q).await?;
    let r = rows.first().ok_or(StoreError::NotFound)?;
    let tz = jiff::tz::TimeZone::get(&direct::text(r, 0)?).map_err(corrupt)?;
    if coverage == Coverage::AlwaysOn {
        return Ok(BusinessCalendar::always(tz));
    }
    let hours: WeeklyHours = serde_json::from_str(&direct::text(r, 1)?).map_err(corrupt)?;
    let rules: HolidayRules = serde_json::from_str(&direct::text(r, 2)?).map_err(corrupt)?;
    let mut closures = Vec::new();
    for r in &rows {
        if let Some(date) = direct::opt_text(r, 3)? {
            closures.push(Closure {
                date: date.parse().map_err(corrupt)?,
                name: direct::text(r, 4)?,
            });
        }
    }
    Ok(BusinessCalendar::business(tz, hours, rules, &closures))
}

/// Recomputes a ticket's due instants, breaches and risk at `now` from its clock and targets.
pub fn refresh_sla(t: &mut Ticket, cal: &BusinessCalendar, now: i64) {
    let start = ts(t.created_at);
    let now_ts = ts(now);
    let sla = &mut t.sla;
    // Response: stops at the first response (or at resolution, whichever comes first).
    let response_end = t.first_response_at.or(t.resolved_at).map(ts);
    let r = sla.clock.standing(
        cal,
        start,
        sla.response_target_s,
        response_end.unwrap_or(now_ts),
    );
    sla.response_due_at = r.due.map(|d| d.as_millisecond());
    sla.response_breached = r.breached();
    // Resolution: stops at resolution.
    let resolution_end = t.resolved_at.map(ts);
    let s = sla.clock.standing(
        cal,
        start,
        sla.resolution_target_s,
        resolution_end.unwrap_or(now_ts),
    );
    sla.resolution_due_at = s.due.map(|d| d.as_millisecond());
    sla.resolution_breached = s.breached();
    let open = !t.status.is_done();
    sla.at_risk = open && ((response_end.is_none() && r.at_risk()) || s.at_risk());
    sla.next_due_at = if !open || s.paused {
        None
    } else if response_end.is_none() {
        sla.response_due_at
    } else {
        sla.resolution_due_at
    };
    // The next instant the sweep has work: a clock crossing 75% of its target, or passing it.
    sla.check_at = None;
    if open && !s.paused {
        let risk = |target: i64| (target * domain::desk::sla::AT_RISK_PERCENT + 99) / 100;
        let mut next: Vec<i64> = Vec::new();
        let mut consider = |target: i64, standing: &domain::desk::SlaStanding| {
            if !standing.breached() {
                if !standing.at_risk() {
                    let at = sla.clock.standing(cal, start, risk(target), now_ts).due;
                    next.extend(at.map(|a| a.as_millisecond()));
                }
                // One second past the due instant is the first moment the target is exceeded.
                next.extend(standing.due.map(|d| d.as_millisecond() + 1000));
            }
        };
        if response_end.is_none() {
            consider(sla.response_target_s, &r);
        }
        consider(sla.resolution_target_s, &s);
        sla.check_at = next.into_iter().filter(|c| *c > now).min();
    }
}

/// Response and resolution targets (seconds) and coverage for a service (or the region's default policy).
async fn targets_for(
    db: &Db,
    service: Option<ServiceId>,
    p: Priority,
) -> Result<(Coverage, i64, i64)> {
    let (coverage, targets) = policy_for(db, service).await?;
    let t = targets.for_priority(p);
    Ok((coverage, t.response_minutes * 60, t.resolution_minutes * 60))
}

/// The SLA policy of a service (or the desk's default, or the standard targets).
async fn policy_for(db: &Db, service: Option<ServiceId>) -> Result<(Coverage, SlaTargets)> {
    let policy_id = match service {
        Some(s) => Some(catalog::get_service(db, s).await?.sla_policy_id),
        None => sqlx::query("SELECT default_sla_policy_id FROM desk_settings WHERE id = 1")
            .fetch_one(&db.read)
            .await?
            .try_get::<Option<String>, _>("default_sla_policy_id")?
            .map(|s| parse_id(&s))
            .transpose()?,
    };
    let (coverage, targets) = match policy_id {
        Some(id) => match catalog::get_policy(db, id).await {
            Ok(p) => (p.coverage, p.targets),
            Err(StoreError::NotFound) => (Coverage::BusinessHours, SlaTargets::standard()),
            Err(e) => return Err(e),
        },
        None => (Coverage::BusinessHours, SlaTargets::standard()),
    };
    Ok((coverage, targets))
}

/// What opening a ticket needs of the desk's settings, in one query: the priority matrix and the SLA policy
/// of the service (or the region's default policy; the standard targets when there is none).
async fn opening_rules(
    db: &Db,
    service: Option<ServiceId>,
) -> Result<(domain::desk::PriorityMatrix, Coverage, SlaTargets)> {
    let mut q = Sql::new(
        "SELECT s.priority_matrix, p.coverage, p.targets FROM desk_settings s \
         LEFT JOIN services v ON v.id = $1 \
         LEFT JOIN sla_policies p ON p.id = COALESCE(v.sla_policy_id, s.default_sla_policy_id) \
         WHERE s.id = 1",
    );
    q.arg(service.map(|s| s.to_string()));
    let rows = direct::rows(db, q).await?;
    let r = rows
        .first()
        .ok_or_else(|| StoreError::Corrupt("the desk settings are missing".into()))?;
    let matrix = serde_json::from_str(&direct::text(r, 0)?).map_err(corrupt)?;
    let policy = match (direct::opt_text(r, 1)?, direct::opt_text(r, 2)?) {
        (Some(c), Some(t)) => (
            Coverage::parse(&c).map_err(|e| corrupt(e.message))?,
            serde_json::from_str(&t).map_err(corrupt)?,
        ),
        _ => (Coverage::BusinessHours, SlaTargets::standard()),
    };
    Ok((matrix, policy.0, policy.1))
}

// ---------------------------------------------------------------------------------------------------
// Opening

/// A ticket to open, already validated by the web layer (or the mail gateway).
#[derive(Debug, Clone)]
pub struct NewTicket {
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
    pub source: Source,
    pub team_id: Option<TeamId>,
    /// When given (imports, demo data), the ticket is opened at this instant instead of now.
    pub opened_at: Option<i64>,
}

/// Opens a ticket in `new.org_id`, which `submit` (the person's `ticket-submit` scope) must contain; the
/// requester must belong to that organisation.
pub async fn open(db: &Db, submit: &crate::Scope, actor: &Actor, new: NewTicket) -> Result<Ticket> {
    if !submit.contains(new.org_id) {
        return Err(StoreError::NotFound);
    }
    for (col, table, field, id) in [
        (
            "department_id",
            "departments",
            "department_id",
            new.department_id.map(|d| d.to_string()),
        ),
        (
            "site_id",
            "sites",
            "site_id",
            new.site_id.map(|d| d.to_string()),
        ),
    ] {
        let _ = col;
        if let Some(id) = id {
            let ok = sqlx::query(&format!(
                "SELECT 1 AS one FROM {table} WHERE id = $1 AND org_id = $2"
            ))
            .bind(id)
            .bind(new.org_id.to_string())
            .fetch_optional(&db.read)
            .await?;
            if ok.is_none() {
                return Err(StoreError::Invalid(domain::Invalid::one(
                    field,
                    "is not one of this organisation's",
                )));
            }
        }
    }
    let mut cost = 0;
    let mut approval = Approval::NotNeeded;
    let mut service_id = new.service_id;
    let mut answers = new.form_answers.clone();
    if let Some(item_id) = new.catalog_item_id {
        let item = catalog::get_item(db, item_id).await.map_err(|e| match e {
            StoreError::NotFound => StoreError::Invalid(domain::Invalid::one(
                "catalog_item_id",
                "is not an item of the catalog",
            )),
            e => e,
        })?;
        if !item.active {
            return Err(StoreError::Invalid(domain::Invalid::one(
                "catalog_item_id",
                "is no longer offered",
            )));
        }
        answers = domain::desk::catalog::check_answers(&item.form, &new.form_answers)?;
        service_id = Some(item.service_id);
        cost = item.cost_cents;
        if item.needs_approval() {
            approval = Approval::Pending;
        }
    }
    if let Some(s) = service_id {
        catalog::get_service(db, s).await.map_err(|e| match e {
            StoreError::NotFound => StoreError::Invalid(domain::Invalid::one(
                "service_id",
                "is not a service of the catalog",
            )),
            e => e,
        })?;
    }
    // The rest of what opening needs, read side by side: who asks, the matrix, the policy, the calendar.
    let (requester, (matrix, coverage, targets), business) = tokio::try_join!(
        async {
            let mut q = Sql::new(
                "SELECT u.org_id, o.is_hub FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = $1 AND u.active = 1",
            );
            q.arg(new.requester_id.to_string());
            direct::rows(db, q).await
        },
        opening_rules(db, service_id),
        calendar(db, new.org_id, Coverage::BusinessHours),
    )?;
    // The requester is a person of the ticket's organisation, or of the hub (the desk's own problems and
    // changes, raised in a member's context).
    let allowed = match requester.first() {
        Some(r) => direct::text(r, 0)? == new.org_id.to_string() || direct::int(r, 1)? != 0,
        None => false,
    };
    if !allowed {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "requester",
            "must be an active person of the ticket's organisation (or of the hub)",
        )));
    }
    let priority = matrix.priority(new.impact, new.urgency);
    let target = targets.for_priority(priority);
    let (response_s, resolution_s) = (target.response_minutes * 60, target.resolution_minutes * 60);
    let cal = match coverage {
        Coverage::AlwaysOn => BusinessCalendar::always(business.tz().clone()),
        Coverage::BusinessHours => business,
    };
    let now = new.opened_at.unwrap_or_else(now_ms);
    let mut t = Ticket {
        id: TicketId::new(),
        number: 0,
        org_id: new.org_id,
        kind: new.kind,
        subject: new.subject,
        description: new.description,
        requester_id: new.requester_id,
        department_id: new.department_id,
        site_id: new.site_id,
        service_id,
        catalog_item_id: new.catalog_item_id,
        form_answers: answers,
        category: new.category,
        impact: new.impact,
        urgency: new.urgency,
        priority,
        status: Status::New,
        team_id: new.team_id,
        assignee_id: None,
        source: new.source,
        approval,
        cost_cents: cost,
        sla: Sla {
            coverage,
            response_target_s: response_s,
            resolution_target_s: resolution_s,
            clock: SlaClock::default(),
            response_due_at: None,
            resolution_due_at: None,
            next_due_at: None,
            response_breached: false,
            resolution_breached: false,
            at_risk: false,
            check_at: None,
        },
        first_response_at: None,
        resolved_at: None,
        closed_at: None,
        merged_into_id: None,
        csat_score: None,
        csat_comment: None,
        reopen_count: 0,
        public_replies: 0,
        created_at: now,
        updated_at: now,
        version: 1,
    };
    if approval == Approval::Pending {
        // Work waits for the member's approval: the clocks do not run until then.
        t.sla.clock.pause(ts(now));
    }
    refresh_sla(&mut t, &cal, now);
    let opening = Opening {
        ticket: t,
        actor: actor.clone(),
    };
    match db.backend() {
        // SQLite has one writer: concurrent openings are written together, in one transaction.
        crate::Backend::Sqlite => db.openings.submit(db, opening).await,
        crate::Backend::Postgres => {
            let mut group = vec![opening];
            write_openings(&db.write, db.backend(), &mut group).await?;
            db.queued.notify_one();
            group
                .pop()
                .map(|o| o.ticket)
                .ok_or_else(|| StoreError::Corrupt("the opened ticket went missing".into()))
        }
    }
}

/// A ticket ready to be written: checked, numbered later.
pub(crate) struct Opening {
    ticket: Ticket,
    actor: Actor,
}

/// The statements that claim `n` ticket numbers and `n` places in the audit chain; they return the last
/// number and the chain's head.
fn claim_sql(n: i64) -> [Sql; 2] {
    let mut counter = Sql::new("UPDATE counters SET value = value + ");
    counter
        .bind(n)
        .push(" WHERE name = 'ticket' RETURNING value");
    [counter, crate::audit::claim_sql(n)]
}

/// Numbers the tickets of `group` (after `last_number` was claimed for the last of them) and builds each
/// one's rows — the ticket, its history entry, search index entry, notification jobs and audit entry,
/// chained after `prev` from `last_seq` — and the statement that moves the audit head past them.
fn opening_rows(
    group: &mut [Opening],
    backend: crate::Backend,
    last_number: i64,
    last_seq: i64,
    mut prev: String,
    legacy_seq: i64,
) -> Result<(Vec<Vec<Sql>>, Sql)> {
    let n = i64::try_from(group.len()).unwrap_or(i64::MAX);
    let mut tickets = Vec::with_capacity(group.len());
    for (i, o) in (0_i64..).zip(group.iter_mut()) {
        let t = &mut o.ticket;
        t.number = last_number - n + 1 + i;
        let mut rows = vec![
            insert_sql(t)?,
            event_sql(
                t,
                &o.actor,
                t.created_at,
                EventKind::Created,
                true,
                Some(&t.description),
                None,
            )
            .1,
            search::index_new_sql(backend, t.number, &t.subject, &t.description),
            super::notify::queue_sql(super::notify::Event::Opened, t.number, None, "open"),
        ];
        if t.approval == Approval::Pending {
            rows.push(super::notify::queue_sql(
                super::notify::Event::ApprovalNeeded,
                t.number,
                o.actor.user_id,
                "approval",
            ));
        }
        let change = crate::audit::Change {
            org_id: Some(t.org_id),
            action: "ticket.open",
            entity_kind: "ticket",
            entity_id: t.id.to_string(),
            before: None,
            after: Some(summary(t)),
        };
        let (entry, hash) = crate::audit::entry_sql(last_seq - n + 1 + i, &prev, &o.actor, change)?;
        rows.push(entry);
        prev = hash;
        tickets.push(rows);
    }
    Ok((tickets, crate::audit::head_sql(last_seq, prev, legacy_seq)?))
}

/// Writes `group` — new tickets, each with its history entry, search index entry, notification jobs and
/// audit entry — in one transaction, numbering the tickets in order. Two batches (see `Batch`): the numbers
/// and the audit chain's places for the whole group, then every row. On SQLite that is four hand-offs to the
/// writer thread however many tickets the group holds; one statement at a time took twelve per ticket.
async fn write_openings(
    pool: &sqlx::AnyPool,
    backend: crate::Backend,
    group: &mut [Opening],
) -> Result<()> {
    let n = i64::try_from(group.len()).unwrap_or(i64::MAX);
    let mut tx = pool.begin().await?;
    let mut claim = Batch::new();
    for q in claim_sql(n) {
        claim.push(q);
    }
    let claimed = claim.run(&mut tx, backend).await?;
    let (Some(counter), Some(head)) = (claimed.first(), claimed.get(1)) else {
        return Err(StoreError::Corrupt(
            "the ticket counter or the audit head is missing".into(),
        ));
    };
    let (tickets, head) = opening_rows(
        group,
        backend,
        counter.try_get("value")?,
        head.try_get("seq")?,
        head.try_get("hash")?,
        head.try_get("legacy_seq")?,
    )?;
    // The rows go in chunks of 32, 16, 8, 4, 2 and 1 tickets (13 = 8 + 4 + 1): SQLite keeps each distinct
    // batch prepared on the writer, and six sizes keep that to a few megabytes where one batch for every
    // group size from 1 to 32 held fifteen.
    let mut tickets = tickets.into_iter();
    let mut chunks: Vec<Batch> = chunk_sizes(group.len())
        .map(|size| {
            let mut b = Batch::new();
            for q in tickets.by_ref().take(size).flatten() {
                b.push(q);
            }
            b
        })
        .collect();
    match chunks.last_mut() {
        Some(last) => {
            last.push(head);
        }
        None => chunks.push({
            let mut b = Batch::new();
            b.push(head);
            b
        }),
    }
    for rows in chunks {
        rows.run(&mut tx, backend).await?;
    }
    tx.commit().await?;
    Ok(())
}

/// [`write_openings`] on the direct SQLite writer: the same statements, run synchronously on the calling
/// thread, no hand-off at all. [`direct::Busy`] when another writer holds the database.
fn write_openings_direct(
    conn: &mut rusqlite::Connection,
    group: &mut [Opening],
) -> std::result::Result<Result<()>, direct::Busy> {
    let tx = match direct::begin(conn) {
        Ok(tx) => tx,
        Err(direct::BeginError::Busy(b)) => return Err(b),
        Err(direct::BeginError::Other(e)) => return Ok(Err(e.into())),
    };
    Ok((|| {
        let n = i64::try_from(group.len()).unwrap_or(i64::MAX);
        let [counter, claim] = claim_sql(n);
        let counter = direct::run(&tx, &counter)?;
        let head = direct::run(&tx, &claim)?;
        let (Some(counter), Some(head)) = (counter.first(), head.first()) else {
            return Err(StoreError::Corrupt(
                "the ticket counter or the audit head is missing".into(),
            ));
        };
        let (tickets, head) = opening_rows(
            group,
            crate::Backend::Sqlite,
            direct::int(counter, 0)?,
            direct::int(head, 0)?,
            direct::text(head, 1)?,
            direct::int(head, 2)?,
        )?;
        for q in tickets.iter().flatten().chain(std::iter::once(&head)) {
            direct::run(&tx, q)?;
        }
        tx.commit()?;
        Ok(())
    })())
}

/// `n` as a sum of powers of two, largest first: 13 → 8, 4, 1.
fn chunk_sizes(n: usize) -> impl Iterator<Item = usize> {
    (0..usize::BITS)
        .rev()
        .map(|b| 1usize << b)
        .filter(move |p| n & p != 0)
}

/// The most tickets written in one transaction: enough to absorb a burst, small enough that the batch's
/// statement stays far below SQLite's limit on bound values (each ticket binds about 70).
const MAX_GROUP: usize = 32;

/// SQLite's group writer for new tickets. Each opening joins a queue; whoever finds the direct writer free
/// (see [`crate::direct`]) leads: it takes everything waiting — up to [`MAX_GROUP`] at a time, until the
/// queue is empty — writes it in one transaction per group on its own thread, and answers the others. With
/// one client that is the request itself, with no hand-off to another thread; under load the groups grow
/// and the commits are shared. When the direct writer is unavailable or the database is locked by another
/// writer, the group goes to a task on sqlx (see [`write_openings`]), which waits for the lock without
/// holding a runtime thread. If a group fails, each of its tickets is tried alone, so one bad ticket fails
/// only itself.
#[derive(Default)]
pub(crate) struct Openings {
    waiting: std::sync::Mutex<Vec<Waiting>>,
    sqlx: std::sync::OnceLock<tokio::sync::mpsc::UnboundedSender<Waiting>>,
}

impl std::fmt::Debug for Openings {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Openings")
    }
}

fn writer_stopped<T>(_: T) -> StoreError {
    StoreError::Corrupt("the ticket writer has stopped".into())
}

impl Openings {
    async fn submit(&self, db: &Db, opening: Opening) -> Result<Ticket> {
        let (reply, answer) = tokio::sync::oneshot::channel();
        match &db.direct {
            Some(d) => {
                direct::lock(&self.waiting).push((opening, reply));
                self.lead(db, d, Lead::Request);
            }
            None => self.to_sqlx(db, vec![(opening, reply)]),
        }
        answer.await.map_err(writer_stopped)?
    }

    /// Writes what is waiting, group after group until nothing waits, if the writer is free; otherwise its
    /// holder will. Chores left for the writer (job claims) run before each group. A request that leads is
    /// answered only when it stops leading: under a stream of openings it writes for at most [`LEAD_FOR`]
    /// and then hands the lead to a blocking thread, which writes on until nothing waits. (Handing over
    /// after the first group cost 10–15% of the throughput at 32 clients: a hand-off per group.)
    pub(crate) fn lead(&self, db: &Db, d: &std::sync::Arc<direct::Direct>, who: Lead) {
        let mut checkpoint = None;
        let started = std::time::Instant::now();
        let mut hand_over = false;
        'lead: while let Some(mut conn) = d.try_writer() {
            loop {
                d.run_chores(&mut conn);
                let group: Vec<Waiting> = {
                    let mut w = direct::lock(&self.waiting);
                    let n = w.len().min(MAX_GROUP);
                    w.drain(..n).collect()
                };
                if group.is_empty() {
                    break;
                }
                let n = group.len();
                match write_group_direct(&mut conn, group) {
                    Ok(()) => {
                        // Each opening queued its notification: wake the job runner.
                        db.queued.notify_one();
                        checkpoint = checkpoint.max(d.wrote(n));
                    }
                    Err(busy) => self.to_sqlx(db, busy),
                }
                if who == Lead::Request
                    && started.elapsed() >= LEAD_FOR
                    && !direct::lock(&self.waiting).is_empty()
                {
                    hand_over = true;
                    break 'lead;
                }
            }
            drop(conn);
            // An opening queued after the last look but before the writer was let go found it taken and
            // left its ticket to us: look once more.
            if direct::lock(&self.waiting).is_empty() && !d.has_chores() {
                break;
            }
        }
        let Ok(rt) = tokio::runtime::Handle::try_current() else {
            if hand_over {
                self.lead(db, d, Lead::Blocking);
            }
            return;
        };
        if hand_over {
            let (db, d) = (db.clone(), d.clone());
            rt.spawn_blocking(move || db.openings.lead(&db, &d, Lead::Blocking));
        }
        if let Some(kind) = checkpoint {
            // Off this request's path; what queues meanwhile is written as soon as the checkpoint ends.
            let (db, d) = (db.clone(), d.clone());
            rt.spawn_blocking(move || {
                d.checkpoint(kind);
                db.openings.lead(&db, &d, Lead::Blocking);
            });
        }
    }

    fn to_sqlx(&self, db: &Db, group: Vec<Waiting>) {
        let queue = self.sqlx.get_or_init(|| {
            let (send, recv) = tokio::sync::mpsc::unbounded_channel();
            tokio::spawn(group_writer(
                db.write.clone(),
                db.backend(),
                db.queued.clone(),
                recv,
            ));
            send
        });
        for w in group {
            // The writer task lives as long as the runtime; if it is gone the reply is dropped and the
            // request answers that the writer stopped.
            let _ = queue.send(w);
        }
    }
}

/// Writes `group` on the direct writer and answers each opening; hands the whole group back when the
/// database is locked by another writer.
fn write_group_direct(
    conn: &mut rusqlite::Connection,
    waiting: Vec<Waiting>,
) -> std::result::Result<(), Vec<Waiting>> {
    let (mut group, replies): (Vec<Opening>, Vec<_>) = waiting.into_iter().unzip();
    tracing::debug!(tickets = group.len(), "opening tickets together");
    match write_openings_direct(conn, &mut group) {
        Err(direct::Busy) => Err(group.into_iter().zip(replies).collect()),
        Ok(Ok(())) => {
            answer(group, replies);
            Ok(())
        }
        Ok(Err(e)) if group.len() == 1 => {
            if let Some(reply) = replies.into_iter().next() {
                let _ = reply.send(Err(e));
            }
            Ok(())
        }
        // One bad ticket fails only itself: each is tried alone.
        Ok(Err(_)) => {
            let busy: Vec<Waiting> = group
                .into_iter()
                .zip(replies)
                .filter_map(|w| write_group_direct(conn, vec![w]).err())
                .flatten()
                .collect();
            if busy.is_empty() { Ok(()) } else { Err(busy) }
        }
    }
}

/// Answers each opening of a written group with its ticket.
fn answer(group: Vec<Opening>, replies: Vec<tokio::sync::oneshot::Sender<Result<Ticket>>>) {
    for (o, reply) in group.into_iter().zip(replies) {
        let _ = reply.send(Ok(o.ticket));
    }
}

type Waiting = (Opening, tokio::sync::oneshot::Sender<Result<Ticket>>);

/// Who leads the ticket writer (see [`Openings::lead`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Lead {
    /// A request opening a ticket, on a runtime thread: it hands over after [`LEAD_FOR`].
    Request,
    /// A blocking thread: it writes until nothing waits.
    Blocking,
}

/// How long a request leads the ticket writer at most before handing the lead to a blocking thread (see
/// [`Openings::lead`]): a few groups' time. (Measured at 8 clients: p99 of a sustained minute 63–95 ms with
/// the hand-over, 119–126 ms without.)
const LEAD_FOR: std::time::Duration = std::time::Duration::from_millis(2);

async fn group_writer(
    pool: sqlx::AnyPool,
    backend: crate::Backend,
    queued: std::sync::Arc<tokio::sync::Notify>,
    mut queue: tokio::sync::mpsc::UnboundedReceiver<Waiting>,
) {
    while let Some(first) = queue.recv().await {
        let mut waiting = vec![first];
        while waiting.len() < MAX_GROUP {
            match queue.try_recv() {
                Ok(w) => waiting.push(w),
                Err(_) => break,
            }
        }
        let (mut group, replies): (Vec<Opening>, Vec<_>) = waiting.into_iter().unzip();
        tracing::debug!(tickets = group.len(), "opening tickets together");
        match write_openings(&pool, backend, &mut group).await {
            Ok(()) => {
                queued.notify_one();
                answer(group, replies);
            }
            Err(e) if group.len() == 1 => {
                if let Some(reply) = replies.into_iter().next() {
                    let _ = reply.send(Err(e));
                }
            }
            Err(_) => {
                for (o, reply) in group.into_iter().zip(replies) {
                    let mut alone = [o];
                    let result = write_openings(&pool, backend, &mut alone).await;
                    let [o] = alone;
                    let _ = reply.send(result.map(|()| o.ticket));
                }
            }
        }
    }
}

/// What the audit log keeps of a ticket (not its text, which the ticket's history holds).
fn summary(t: &Ticket) -> serde_json::Value {
    serde_json::json!({
        "number": t.number, "kind": t.kind, "status": t.status, "priority": t.priority,
        "impact": t.impact, "urgency": t.urgency, "assignee_id": t.assignee_id, "team_id": t.team_id,
        "service_id": t.service_id, "approval": t.approval, "version": t.version,
    })
}

async fn insert(tx: &mut Transaction<'_, Any>, t: &Ticket) -> Result<()> {
    insert_sql(t)?.execute(&mut **tx).await?;
    Ok(())
}

/// The statement [`insert`] runs, for batches.
fn insert_sql(t: &Ticket) -> Result<Sql> {
    let mut q = Sql::new(
        "INSERT INTO tickets (id, number, org_id, kind, subject, description, requester_id, department_id, site_id, \
         service_id, catalog_item_id, form_answers, category, impact, urgency, priority, status, is_open, team_id, \
         assignee_id, source, approval, cost_cents, coverage, response_target_s, resolution_target_s, sla_clock, \
         response_due_at, resolution_due_at, sla_due_at, response_breached, resolution_breached, at_risk, \
         created_at, updated_at, version, sla_check_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, \
         $14, $15, $16, $17, 1, $18, NULL, $19, $20, $21, $22, $23, $24, $25, $26, $27, $28, $29, $30, $31, $32, $32, 1, $33)",
    );
    q.arg(t.id.to_string())
        .arg(t.number)
        .arg(t.org_id.to_string())
        .arg(t.kind.as_str())
        .arg(&t.subject)
        .arg(&t.description)
        .arg(t.requester_id.to_string())
        .arg(t.department_id.map(|x| x.to_string()))
        .arg(t.site_id.map(|x| x.to_string()))
        .arg(t.service_id.map(|x| x.to_string()))
        .arg(t.catalog_item_id.map(|x| x.to_string()))
        .arg(if t.form_answers.is_empty() {
            None
        } else {
            Some(serde_json::to_string(&t.form_answers).map_err(corrupt)?)
        })
        .arg(&t.category)
        .arg(t.impact.as_str())
        .arg(t.urgency.as_str())
        .arg(t.priority.as_str())
        .arg(t.status.as_str())
        .arg(t.team_id.map(|x| x.to_string()))
        .arg(t.source.as_str())
        .arg(t.approval.as_str())
        .arg(t.cost_cents)
        .arg(t.sla.coverage.as_str())
        .arg(t.sla.response_target_s)
        .arg(t.sla.resolution_target_s)
        .arg(serde_json::to_string(&t.sla.clock).map_err(corrupt)?)
        .arg(t.sla.response_due_at)
        .arg(t.sla.resolution_due_at)
        .arg(t.sla.next_due_at.unwrap_or(NO_DUE))
        .arg(i64::from(t.sla.response_breached))
        .arg(i64::from(t.sla.resolution_breached))
        .arg(i64::from(t.sla.at_risk))
        .arg(t.created_at)
        .arg(t.sla.check_at.unwrap_or(NO_DUE));
    Ok(q)
}

/// Writes back everything that working a ticket can change, if the row is still at `t.version - 1`.
async fn save(tx: &mut Transaction<'_, Any>, t: &Ticket) -> Result<()> {
    let n = sqlx::query(
        "UPDATE tickets SET kind = $1, category = $2, impact = $3, urgency = $4, priority = $5, status = $6, \
         is_open = $7, team_id = $8, assignee_id = $9, approval = $10, service_id = $11, coverage = $12, \
         response_target_s = $13, resolution_target_s = $14, sla_clock = $15, response_due_at = $16, \
         resolution_due_at = $17, sla_due_at = $18, response_breached = $19, resolution_breached = $20, \
         at_risk = $21, first_response_at = $22, resolved_at = $23, closed_at = $24, merged_into_id = $25, \
         csat_score = $26, csat_comment = $27, reopen_count = $28, public_replies = $29, updated_at = $30, \
         version = $31, sla_check_at = $34 WHERE id = $32 AND version = $33",
    )
    .bind(t.kind.as_str())
    .bind(&t.category)
    .bind(t.impact.as_str())
    .bind(t.urgency.as_str())
    .bind(t.priority.as_str())
    .bind(t.status.as_str())
    .bind(i64::from(!t.status.is_done()))
    .bind(t.team_id.map(|x| x.to_string()))
    .bind(t.assignee_id.map(|x| x.to_string()))
    .bind(t.approval.as_str())
    .bind(t.service_id.map(|x| x.to_string()))
    .bind(t.sla.coverage.as_str())
    .bind(t.sla.response_target_s)
    .bind(t.sla.resolution_target_s)
    .bind(serde_json::to_string(&t.sla.clock).map_err(corrupt)?)
    .bind(t.sla.response_due_at)
    .bind(t.sla.resolution_due_at)
    .bind(t.sla.next_due_at.unwrap_or(NO_DUE))
    .bind(i64::from(t.sla.response_breached))
    .bind(i64::from(t.sla.resolution_breached))
    .bind(i64::from(t.sla.at_risk))
    .bind(t.first_response_at)
    .bind(t.resolved_at)
    .bind(t.closed_at)
    .bind(t.merged_into_id.map(|x| x.to_string()))
    .bind(t.csat_score)
    .bind(t.csat_comment.clone())
    .bind(t.reopen_count)
    .bind(t.public_replies)
    .bind(t.updated_at)
    .bind(t.version)
    .bind(t.id.to_string())
    .bind(t.version - 1)
    .bind(t.sla.check_at.unwrap_or(NO_DUE))
    .execute(&mut **tx)
    .await?
    .rows_affected();
    if n == 1 {
        Ok(())
    } else {
        Err(StoreError::Stale)
    }
}

// ---------------------------------------------------------------------------------------------------
// History

/// What one history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum EventKind {
    Created,
    Reply,
    Note,
    Change,
    Approval,
    Rating,
}

impl EventKind {
    fn as_str(self) -> &'static str {
        match self {
            Self::Created => "created",
            Self::Reply => "reply",
            Self::Note => "note",
            Self::Change => "change",
            Self::Approval => "approval",
            Self::Rating => "rating",
        }
    }

    fn parse(s: &str) -> Result<Self> {
        Ok(match s {
            "created" => Self::Created,
            "reply" => Self::Reply,
            "note" => Self::Note,
            "change" => Self::Change,
            "approval" => Self::Approval,
            "rating" => Self::Rating,
            other => return Err(corrupt(format!("event kind {other:?}"))),
        })
    }
}

/// One entry of a ticket's history.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Event {
    pub id: TicketEventId,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub at: i64,
    pub actor_id: Option<UserId>,
    pub actor_name: String,
    pub kind: EventKind,
    /// Whether the requester sees it (internal notes do not).
    pub public: bool,
    pub body: Option<String>,
    /// For changes: `{"field": [before, after], …}`.
    pub data: Option<serde_json::Value>,
}

#[allow(
    clippy::too_many_arguments,
    reason = "one row of history, written in one place"
)]
async fn event(
    tx: &mut Transaction<'_, Any>,
    t: &Ticket,
    actor: &Actor,
    at: i64,
    kind: EventKind,
    public: bool,
    body: Option<&str>,
    data: Option<serde_json::Value>,
) -> Result<TicketEventId> {
    let (id, q) = event_sql(t, actor, at, kind, public, body, data);
    q.execute(&mut **tx).await?;
    Ok(id)
}

/// The statement [`event`] runs, for batches, with the new event's id.
#[allow(clippy::too_many_arguments)]
fn event_sql(
    t: &Ticket,
    actor: &Actor,
    at: i64,
    kind: EventKind,
    public: bool,
    body: Option<&str>,
    data: Option<serde_json::Value>,
) -> (TicketEventId, Sql) {
    let id = TicketEventId::new();
    let mut q = Sql::new(
        "INSERT INTO ticket_events (id, ticket_id, org_id, at, actor_id, actor_name, kind, public, body, data) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)",
    );
    q.arg(id.to_string())
        .arg(t.id.to_string())
        .arg(t.org_id.to_string())
        .arg(at)
        .arg(actor.user_id.map(|u| u.to_string()))
        .arg(&actor.label)
        .arg(kind.as_str())
        .arg(i64::from(public))
        .arg(body.map(str::to_owned))
        .arg(data.map(|d| d.to_string()));
    (id, q)
}

/// A ticket's history, oldest first; internal notes only when the view may see them.
pub async fn history(db: &Db, view: &TicketView, number: i64) -> Result<Vec<Event>> {
    let t = get(db, view, number).await?;
    let mut q = Sql::new("SELECT * FROM ticket_events WHERE ticket_id = ");
    q.bind(t.id.to_string());
    if !view.internal {
        q.push(" AND public = 1");
    }
    q.push(" ORDER BY at, id");
    let mut events = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Event {
                id: parse_id(&r.try_get::<String, _>("id")?)?,
                at: r.try_get("at")?,
                actor_id: opt_id(r, "actor_id")?,
                actor_name: r.try_get("actor_name")?,
                kind: EventKind::parse(&r.try_get::<String, _>("kind")?)?,
                public: r.try_get::<i64, _>("public")? != 0,
                body: r.try_get("body")?,
                data: r
                    .try_get::<Option<String>, _>("data")?
                    .map(|s| serde_json::from_str(&s).map_err(corrupt))
                    .transpose()?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    name_tickets(db, view, &mut events).await?;
    Ok(events)
}

/// Keys of a change that hold `[kind, ticket]` (a link, seen from either side).
const LINK_PAIRS: [&str; 2] = ["link", "linked_from"];
/// Keys of a change that hold a ticket (a merge, seen from either side).
const TICKET_REFS: [&str; 2] = ["merged_into", "merged_from"];

/// Names the other tickets that changes refer to — kept by id (by number in rows written before) — as
/// the view sees them: a ticket the reader may see by its number, any other by the words of
/// `domain::authz::hidden` (a link made by the desk may point at another member's ticket).
async fn name_tickets(db: &Db, view: &TicketView, events: &mut [Event]) -> Result<()> {
    use crate::refs::TicketKey;
    fn refs(m: &mut serde_json::Map<String, serde_json::Value>) -> Vec<&mut serde_json::Value> {
        let mut out = Vec::new();
        for (k, v) in m.iter_mut() {
            if LINK_PAIRS.contains(&k.as_str()) {
                if let serde_json::Value::Array(pair) = v
                    && let [_, other] = pair.as_mut_slice()
                {
                    out.push(other);
                }
            } else if TICKET_REFS.contains(&k.as_str()) {
                out.push(v);
            }
        }
        out
    }
    let mut keys = Vec::new();
    for e in events.iter_mut() {
        if let Some(serde_json::Value::Object(m)) = &mut e.data {
            keys.extend(refs(m).into_iter().filter_map(|v| TicketKey::from_json(v)));
        }
    }
    if keys.is_empty() {
        return Ok(());
    }
    keys.sort();
    keys.dedup();
    let seen = crate::refs::tickets(db, Some(view), &keys).await?;
    for e in events.iter_mut() {
        if let Some(serde_json::Value::Object(m)) = &mut e.data {
            for v in refs(m) {
                if let Some(k) = TicketKey::from_json(v) {
                    *v = seen.get(&k).map_or_else(
                        || serde_json::json!(domain::authz::hidden::TICKET),
                        crate::refs::SeenTicket::json,
                    );
                }
            }
        }
    }
    Ok(())
}

/// Appends the audit entry of one change to ticket `t`.
async fn audit(
    tx: &mut Transaction<'_, Any>,
    actor: &Actor,
    t: &Ticket,
    action: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    log(
        tx,
        actor,
        Some(t.org_id),
        action,
        ("ticket", t.id.to_string()),
        before,
        after,
    )
    .await
}

/// The audit actions of an agent's changes, each with the fields it covers: one entry per kind of
/// change, so a status change and a reassignment made together are two entries.
const CHANGE_ACTIONS: [(&str, &[&str]); 4] = [
    ("ticket.status", &["status"]),
    ("ticket.assign", &["assignee_id", "team_id"]),
    ("ticket.priority", &["impact", "urgency", "priority"]),
    ("ticket.classify", &["kind", "category", "service_id"]),
];

/// One audit entry per kind of change in `diff` (`{"field": [before, after], …}`).
async fn audit_changes(
    tx: &mut Transaction<'_, Any>,
    actor: &Actor,
    t: &Ticket,
    diff: &serde_json::Map<String, serde_json::Value>,
) -> Result<()> {
    for (action, fields) in CHANGE_ACTIONS {
        let mut before = serde_json::Map::new();
        let mut after = serde_json::Map::new();
        for f in fields {
            if let Some(serde_json::Value::Array(pair)) = diff.get(*f)
                && let [a, b] = pair.as_slice()
            {
                before.insert((*f).to_owned(), a.clone());
                after.insert((*f).to_owned(), b.clone());
            }
        }
        if after.is_empty() {
            continue;
        }
        for m in [&mut before, &mut after] {
            m.insert("number".into(), serde_json::json!(t.number));
        }
        after.insert("version".into(), serde_json::json!(t.version));
        audit(
            tx,
            actor,
            t,
            action,
            Some(serde_json::Value::Object(before)),
            Some(serde_json::Value::Object(after)),
        )
        .await?;
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------------
// Reading

pub async fn get(db: &Db, view: &TicketView, number: i64) -> Result<Ticket> {
    let mut q = Sql::new("SELECT t.* FROM tickets t WHERE t.number = ");
    q.bind(number);
    q.ticket_view(view);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(ticket)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// How a list of tickets is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Next SLA deadline first (queues).
    #[default]
    Due,
    /// Newest first.
    Newest,
}

/// Which open/closed tickets a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Openness {
    #[default]
    Open,
    Done,
    Any,
}

/// Filters of a ticket list; all optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub org: Option<OrgId>,
    pub openness: Openness,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub kind: Option<TicketKind>,
    pub service: Option<ServiceId>,
    pub team: Option<TeamId>,
    /// `Some(None)`: unassigned.
    pub assignee: Option<Option<UserId>>,
    pub requester: Option<UserId>,
    /// Only tickets at risk or breached.
    pub at_risk: bool,
    pub approval: Option<Approval>,
    /// Full-text query over subject, description and replies.
    pub text: Option<String>,
    pub sort: Sort,
}

/// A page of tickets the view sees, filtered and sorted; the cursor is `due:number` or `number`.
pub async fn list(
    db: &Db,
    view: &TicketView,
    f: &Filter,
    page: &PageRequest,
) -> Result<Page<Ticket>> {
    let mut q = Sql::new("SELECT t.* FROM tickets t");
    if let Some(text) = f.text.as_deref() {
        search::join(&mut q, db.backend(), text);
    } else {
        q.push(" WHERE 1 = 1");
    }
    q.ticket_view(view);
    // A status decides openness by itself. For one member, leaving `is_open` out lets the planner take
    // the index on (org_id, status, sla_due_at), which serves the filtered queue without reading other
    // tickets; across the region, saying it lets the index on (is_open, sla_due_at) serve it.
    let openness = match f.status {
        Some(s) if f.openness != Openness::Any && s.is_done() != (f.openness == Openness::Done) => {
            // A status that contradicts the openness asked for: nothing matches.
            q.push(" AND 1 = 0");
            Openness::Any
        }
        Some(_) if f.org.is_some() => Openness::Any,
        Some(s) if s.is_done() => Openness::Done,
        Some(_) => Openness::Open,
        None => f.openness,
    };
    match openness {
        Openness::Open => {
            q.push(" AND t.is_open = 1");
        }
        Openness::Done => {
            q.push(" AND t.is_open = 0");
        }
        Openness::Any => {}
    }
    if let Some(o) = f.org {
        q.push(" AND t.org_id = ").bind(o.to_string());
    }
    if let Some(s) = f.status {
        q.push(" AND t.status = ").bind(s.as_str());
    }
    if let Some(p) = f.priority {
        q.push(" AND t.priority = ").bind(p.as_str());
    }
    if let Some(k) = f.kind {
        q.push(" AND t.kind = ").bind(k.as_str());
    }
    if let Some(s) = f.service {
        q.push(" AND t.service_id = ").bind(s.to_string());
    }
    if let Some(t) = f.team {
        q.push(" AND t.team_id = ").bind(t.to_string());
    }
    match f.assignee {
        Some(Some(u)) => {
            q.push(" AND t.assignee_id = ").bind(u.to_string());
        }
        Some(None) => {
            q.push(" AND t.assignee_id IS NULL");
        }
        None => {}
    }
    if let Some(r) = f.requester {
        q.push(" AND t.requester_id = ").bind(r.to_string());
    }
    if f.at_risk {
        q.push(" AND (t.at_risk = 1 OR t.response_breached = 1 OR t.resolution_breached = 1)");
    }
    if let Some(a) = f.approval {
        q.push(" AND t.approval = ").bind(a.as_str());
    }
    let bad_cursor = || {
        StoreError::Invalid(domain::Invalid::one(
            "cursor",
            "is not a cursor of this list",
        ))
    };
    match f.sort {
        Sort::Due => {
            if let Some(after) = &page.after {
                let (d, n) = after.split_once(':').ok_or_else(bad_cursor)?;
                let d: i64 = d.parse().map_err(|_| bad_cursor())?;
                let n: i64 = n.parse().map_err(|_| bad_cursor())?;
                q.push(" AND (t.sla_due_at > ")
                    .bind(d)
                    .push(" OR (t.sla_due_at = ")
                    .bind(d)
                    .push(" AND t.number > ")
                    .bind(n)
                    .push("))");
            }
            q.push(" ORDER BY t.sla_due_at, t.number");
        }
        Sort::Newest => {
            // With words to match, walk the search index newest first (its key is the ticket number), so
            // that the first page needs only the first matches, not all of them.
            let key = match (&f.text, db.backend()) {
                (Some(_), crate::Backend::Sqlite) => "f.rowid",
                (Some(_), crate::Backend::Postgres) => "f.number",
                (None, _) => "t.number",
            };
            if let Some(after) = &page.after {
                let n: i64 = after.parse().map_err(|_| bad_cursor())?;
                q.push(" AND ").push(key).push(" < ").bind(n);
            }
            q.push(" ORDER BY ").push(key).push(" DESC");
        }
    }
    q.push(" LIMIT ").bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(ticket)
        .collect::<Result<Vec<_>>>()?;
    let sort = f.sort;
    Ok(Page::from_rows(items, page, move |t| match sort {
        Sort::Due => format!("{}:{}", t.sla.next_due_at.unwrap_or(NO_DUE), t.number),
        Sort::Newest => t.number.to_string(),
    }))
}

// ---------------------------------------------------------------------------------------------------
// Working

/// What an agent changes on a ticket; `None` leaves a field alone.
#[derive(Debug, Clone, Default)]
pub struct Changes {
    pub status: Option<Status>,
    pub kind: Option<TicketKind>,
    pub impact: Option<Impact>,
    pub urgency: Option<Urgency>,
    pub category: Option<String>,
    /// `Some(None)` unassigns.
    pub assignee: Option<Option<UserId>>,
    pub team: Option<Option<TeamId>>,
    pub service: Option<Option<ServiceId>>,
}

impl Changes {
    pub fn is_empty(&self) -> bool {
        self.status.is_none()
            && self.kind.is_none()
            && self.impact.is_none()
            && self.urgency.is_none()
            && self.category.is_none()
            && self.assignee.is_none()
            && self.team.is_none()
            && self.service.is_none()
    }
}

/// Moves a ticket's status, keeping its clocks: pauses while waiting on the requester, stops at
/// resolution, runs again on reopening.
fn set_status(t: &mut Ticket, to: Status, now: i64) {
    let from = t.status;
    if from == to {
        return;
    }
    let at = ts(now);
    if to.pauses_sla() {
        t.sla.clock.pause(at);
    } else if from.pauses_sla() {
        t.sla.clock.resume(at);
    }
    match to {
        Status::Resolved => {
            t.resolved_at = Some(now);
        }
        Status::Closed => {
            t.resolved_at.get_or_insert(now);
            t.closed_at = Some(now);
        }
        _ if from.is_done() => {
            t.resolved_at = None;
            t.closed_at = None;
            t.reopen_count += 1;
        }
        _ => {}
    }
    t.status = to;
}

async fn check_user(db: &Db, id: UserId, field: &str, hub_only: bool) -> Result<()> {
    let mut q = Sql::new("SELECT 1 AS one FROM users u WHERE u.active = 1 AND u.id = ");
    q.bind(id.to_string());
    if hub_only {
        q.push(" AND EXISTS (SELECT 1 FROM grants g JOIN orgs o ON o.id = g.org_id WHERE g.user_id = u.id AND o.is_hub = 1 AND g.role IN ('hub-admin', 'hub-agent'))");
    }
    if q.fetch_optional(&db.read).await?.is_none() {
        return Err(StoreError::Invalid(domain::Invalid::one(
            field,
            "is not an active agent of the hub",
        )));
    }
    Ok(())
}

/// Applies an agent's changes (the `work` scope must contain the ticket's organisation), recording each
/// changed field in the history and the audit log.
pub async fn update(
    db: &Db,
    view: &TicketView,
    work: &crate::Scope,
    actor: &Actor,
    number: i64,
    version: Option<i64>,
    c: &Changes,
) -> Result<Ticket> {
    let mut t = get(db, view, number).await?;
    if !work.contains(t.org_id) {
        return Err(StoreError::Forbidden);
    }
    if version.is_some_and(|v| v != t.version) {
        return Err(StoreError::Stale);
    }
    if let Some(Some(u)) = c.assignee {
        check_user(db, u, "assignee_id", true).await?;
    }
    if let Some(Some(team)) = c.team {
        let ok = sqlx::query("SELECT 1 AS one FROM teams WHERE id = $1")
            .bind(team.to_string())
            .fetch_optional(&db.read)
            .await?;
        if ok.is_none() {
            return Err(StoreError::Invalid(domain::Invalid::one(
                "team_id",
                "is not a team",
            )));
        }
    }
    let before = t.clone();
    let now = now_ms();
    let mut diff = serde_json::Map::new();
    let mut note = |k: &str, a: serde_json::Value, b: serde_json::Value| {
        if a != b {
            diff.insert(k.to_owned(), serde_json::json!([a, b]));
        }
    };
    if let Some(s) = c.status {
        t.status.check_move(s)?;
        if t.approval == Approval::Pending && !matches!(s, Status::Closed) {
            return Err(StoreError::Invalid(domain::Invalid::one(
                "status",
                "the request awaits the member's approval; work cannot start yet",
            )));
        }
    }
    if let Some(k) = c.kind {
        note("kind", to_json(&t.kind)?, to_json(&k)?);
        t.kind = k;
    }
    if let Some(cat) = &c.category {
        note("category", to_json(&t.category)?, to_json(cat)?);
        t.category.clone_from(cat);
    }
    if let Some(a) = c.assignee {
        note("assignee_id", to_json(&t.assignee_id)?, to_json(&a)?);
        t.assignee_id = a;
        if a.is_some() && t.status == Status::New && c.status.is_none() {
            set_status(&mut t, Status::Assigned, now);
        }
    }
    if let Some(team) = c.team {
        note("team_id", to_json(&t.team_id)?, to_json(&team)?);
        t.team_id = team;
    }
    if let Some(s) = c.service {
        note("service_id", to_json(&t.service_id)?, to_json(&s)?);
        t.service_id = s;
    }
    let impact = c.impact.unwrap_or(t.impact);
    let urgency = c.urgency.unwrap_or(t.urgency);
    let settings = catalog::settings(db).await?;
    let priority = settings.priority_matrix.priority(impact, urgency);
    note("impact", to_json(&t.impact)?, to_json(&impact)?);
    note("urgency", to_json(&t.urgency)?, to_json(&urgency)?);
    note("priority", to_json(&t.priority)?, to_json(&priority)?);
    (t.impact, t.urgency) = (impact, urgency);
    if priority != t.priority || c.service.is_some() {
        t.priority = priority;
        let (coverage, r, s) = targets_for(db, t.service_id, priority).await?;
        t.sla.coverage = coverage;
        t.sla.response_target_s = r;
        t.sla.resolution_target_s = s;
    }
    if let Some(s) = c.status {
        set_status(&mut t, s, now);
    }
    if before.status != t.status {
        note("status", to_json(&before.status)?, to_json(&t.status)?);
    }
    if diff.is_empty() {
        return Ok(before);
    }
    let cal = calendar(db, t.org_id, t.sla.coverage).await?;
    refresh_sla(&mut t, &cal, now);
    t.updated_at = now;
    t.version += 1;
    let mut tx = db.write.begin().await?;
    save(&mut tx, &t).await?;
    audit_changes(&mut tx, actor, &t, &diff).await?;
    let data = serde_json::Value::Object(diff);
    let change = event(
        &mut tx,
        &t,
        actor,
        now,
        EventKind::Change,
        true,
        None,
        Some(data),
    )
    .await?;
    if t.status == Status::Resolved && before.status != Status::Resolved {
        super::notify::queue(
            &mut tx,
            super::notify::Event::Resolved,
            t.number,
            actor.user_id,
            &change.to_string(),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(t)
}

/// Who writes a comment, which decides what it does to the ticket.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Author {
    /// The desk (a hub agent or administrator): a public reply is the first response.
    Desk,
    /// The requester's side (requester, watchers, member administrators).
    Member,
}

/// Adds a public reply or (desk only) an internal note. A member's reply brings a ticket waiting on its
/// requester back to work, and reopens a resolved one within the reopen window; a closed ticket takes no
/// more replies.
pub async fn comment(
    db: &Db,
    view: &TicketView,
    actor: &Actor,
    author: Author,
    number: i64,
    body: &str,
    public: bool,
) -> Result<(Ticket, TicketEventId)> {
    let mut t = get(db, view, number).await?;
    if !public && author != Author::Desk {
        return Err(StoreError::Forbidden);
    }
    if t.status == Status::Closed {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "body",
            "the ticket is closed; open a new ticket instead",
        )));
    }
    let now = now_ms();
    let before = t.status;
    if public {
        t.public_replies += 1;
        match author {
            Author::Desk => {
                if t.first_response_at.is_none() {
                    t.first_response_at = Some(now);
                }
            }
            Author::Member => {
                let settings = catalog::settings(db).await?;
                match t.status {
                    Status::WaitingOnRequester => set_status(&mut t, Status::InProgress, now),
                    Status::Resolved
                        if t.resolved_at
                            .is_some_and(|r| now - r <= settings.reopen_days * 86_400_000) =>
                    {
                        let to = if t.assignee_id.is_some() {
                            Status::InProgress
                        } else {
                            Status::Assigned
                        };
                        set_status(&mut t, to, now);
                    }
                    _ => {}
                }
            }
        }
    }
    let cal = calendar(db, t.org_id, t.sla.coverage).await?;
    refresh_sla(&mut t, &cal, now);
    t.updated_at = now;
    t.version += 1;
    let mut tx = db.write.begin().await?;
    save(&mut tx, &t).await?;
    let kind = if public {
        EventKind::Reply
    } else {
        EventKind::Note
    };
    let data = (before != t.status).then(|| serde_json::json!({ "status": [before, t.status] }));
    let id = event(&mut tx, &t, actor, now, kind, public, Some(body), data).await?;
    // The audit log keeps that a reply or a note was written, not its text (the history holds it).
    audit(
        &mut tx,
        actor,
        &t,
        if public {
            "ticket.reply"
        } else {
            "ticket.note"
        },
        None,
        Some(serde_json::json!({ "number": t.number, "event_id": id })),
    )
    .await?;
    if before != t.status {
        audit(
            &mut tx,
            actor,
            &t,
            "ticket.status",
            Some(serde_json::json!({ "number": t.number, "status": before })),
            Some(
                serde_json::json!({ "number": t.number, "status": t.status, "version": t.version }),
            ),
        )
        .await?;
    }
    if public {
        search::index_reply(&mut tx, db.backend(), t.number, body).await?;
        let e = match author {
            Author::Desk => super::notify::Event::DeskReply,
            Author::Member => super::notify::Event::MemberReply,
        };
        super::notify::queue(&mut tx, e, t.number, actor.user_id, &id.to_string()).await?;
    }
    tx.commit().await?;
    Ok((t, id))
}

/// A member administrator approves or rejects a request that costs money. Approval starts the clocks;
/// rejection closes the request.
pub async fn decide(
    db: &Db,
    view: &TicketView,
    approve: &crate::Scope,
    actor: &Actor,
    number: i64,
    approved: bool,
    reason: Option<&str>,
) -> Result<Ticket> {
    let mut t = get(db, view, number).await?;
    if !approve.contains(t.org_id) {
        return Err(StoreError::Forbidden);
    }
    if t.approval != Approval::Pending {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "approval",
            "this ticket is not awaiting approval",
        )));
    }
    let before = t.clone();
    let now = now_ms();
    if approved {
        t.approval = Approval::Approved;
        t.sla.clock.resume(ts(now));
    } else {
        t.approval = Approval::Rejected;
        set_status(&mut t, Status::Closed, now);
    }
    let cal = calendar(db, t.org_id, t.sla.coverage).await?;
    refresh_sla(&mut t, &cal, now);
    t.updated_at = now;
    t.version += 1;
    let mut tx = db.write.begin().await?;
    save(&mut tx, &t).await?;
    let data = serde_json::json!({ "approval": [before.approval, t.approval] });
    event(
        &mut tx,
        &t,
        actor,
        now,
        EventKind::Approval,
        true,
        reason,
        Some(data),
    )
    .await?;
    log(
        &mut tx,
        actor,
        Some(t.org_id),
        "ticket.approval",
        ("ticket", t.id.to_string()),
        Some(summary(&before)),
        Some(summary(&t)),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// The requester rates a resolved or closed ticket (1–5, with an optional comment); a new rating replaces
/// the old one.
pub async fn rate(
    db: &Db,
    view: &TicketView,
    actor: &Actor,
    number: i64,
    score: i64,
    comment: Option<&str>,
) -> Result<Ticket> {
    let mut t = get(db, view, number).await?;
    if actor.user_id != Some(t.requester_id) {
        return Err(StoreError::Forbidden);
    }
    if !t.status.is_done() {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "score",
            "a ticket can be rated once it is resolved",
        )));
    }
    if !(1..=5).contains(&score) {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "score",
            "must be a whole number from 1 to 5",
        )));
    }
    let now = now_ms();
    t.csat_score = Some(score);
    t.csat_comment = comment.map(str::to_owned);
    t.updated_at = now;
    t.version += 1;
    let mut tx = db.write.begin().await?;
    save(&mut tx, &t).await?;
    event(
        &mut tx,
        &t,
        actor,
        now,
        EventKind::Rating,
        true,
        comment,
        Some(serde_json::json!({ "score": score })),
    )
    .await?;
    audit(
        &mut tx,
        actor,
        &t,
        "ticket.rate",
        None,
        Some(serde_json::json!({ "number": t.number, "score": score })),
    )
    .await?;
    tx.commit().await?;
    Ok(t)
}

/// Recomputes the SLA of every open ticket of one organisation (after its calendar changed) or of the
/// region, in batches; returns how many tickets were looked at.
pub async fn recompute_open(db: &Db, org: Option<OrgId>) -> Result<u64> {
    let now = now_ms();
    let mut cals: BTreeMap<(OrgId, &'static str), BusinessCalendar> = BTreeMap::new();
    let mut after = 0i64;
    let mut seen = 0u64;
    loop {
        let mut q = Sql::new("SELECT t.* FROM tickets t WHERE t.is_open = 1 AND t.number > ");
        q.bind(after);
        if let Some(o) = org {
            q.push(" AND t.org_id = ").bind(o.to_string());
        }
        q.push(" ORDER BY t.number LIMIT 500");
        let batch = q
            .fetch_all(&db.read)
            .await?
            .iter()
            .map(ticket)
            .collect::<Result<Vec<_>>>()?;
        let Some(last) = batch.last() else { break };
        after = last.number;
        let mut tx = db.write.begin().await?;
        for mut t in batch {
            seen += 1;
            let key = (t.org_id, t.sla.coverage.as_str());
            let cal = match cals.entry(key) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(calendar(db, t.org_id, t.sla.coverage).await?)
                }
            };
            let old = t.sla.clone();
            refresh_sla(&mut t, cal, now);
            if t.sla != old {
                sqlx::query("UPDATE tickets SET response_due_at = $1, resolution_due_at = $2, sla_due_at = $3, response_breached = $4, resolution_breached = $5, at_risk = $6, sla_check_at = $8 WHERE id = $7")
                    .bind(t.sla.response_due_at)
                    .bind(t.sla.resolution_due_at)
                    .bind(t.sla.next_due_at.unwrap_or(NO_DUE))
                    .bind(i64::from(t.sla.response_breached))
                    .bind(i64::from(t.sla.resolution_breached))
                    .bind(i64::from(t.sla.at_risk))
                    .bind(t.id.to_string())
                    .bind(t.sla.check_at.unwrap_or(NO_DUE))
                    .execute(&mut *tx)
                    .await?;
            }
        }
        tx.commit().await?;
    }
    Ok(seen)
}

// ---------------------------------------------------------------------------------------------------
// Labels for pages

/// Names of people shown on tickets (requesters, assignees, authors), by id. Only ids the caller already
/// holds from tickets it may see are looked up.
pub async fn people_names(db: &Db, ids: &[UserId]) -> Result<BTreeMap<UserId, String>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::new("SELECT id, name FROM users WHERE id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.to_string());
    }
    q.push(")");
    for r in q.fetch_all(&db.read).await? {
        out.insert(
            parse_id(&r.try_get::<String, _>("id")?)?,
            r.try_get("name")?,
        );
    }
    Ok(out)
}

/// An organisation as ticket pages label it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLabel {
    pub slug: String,
    pub name: String,
    pub time_zone: String,
}

/// Labels of the organisations of tickets the caller may see, by id.
pub async fn org_labels(db: &Db, ids: &[OrgId]) -> Result<BTreeMap<OrgId, OrgLabel>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::new("SELECT id, slug, name, time_zone FROM orgs WHERE id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.to_string());
    }
    q.push(")");
    for r in q.fetch_all(&db.read).await? {
        out.insert(
            parse_id(&r.try_get::<String, _>("id")?)?,
            OrgLabel {
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                time_zone: r.try_get("time_zone")?,
            },
        );
    }
    Ok(out)
}

/// The hub's agents (hub admins and agents), for assignment pickers: (id, name), by name.
pub async fn agents(db: &Db) -> Result<Vec<(UserId, String)>> {
    sqlx::query("SELECT DISTINCT u.id, u.name FROM users u JOIN grants g ON g.user_id = u.id JOIN orgs o ON o.id = g.org_id WHERE o.is_hub = 1 AND u.active = 1 AND g.role IN ('hub-admin', 'hub-agent') ORDER BY u.name")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((parse_id(&r.try_get::<String, _>("id")?)?, r.try_get("name")?)))
        .collect()
}

// ---------------------------------------------------------------------------------------------------
// Import

/// A ticket with its whole past, for imports from another desk (and the demo's year of tickets): every
/// instant is given, and the SLA is computed from them as if the ticket had been worked here.
#[derive(Debug, Clone)]
pub struct Imported {
    pub ticket: NewTicket,
    pub assignee: Option<(UserId, String)>,
    /// The desk's first public reply.
    pub first_response: Option<(i64, String)>,
    /// Periods waiting on the requester.
    pub waits: Vec<(i64, i64)>,
    /// Waiting on the requester since this instant (still open).
    pub waiting_since: Option<i64>,
    /// A requester's reply, if any (its instant and text).
    pub requester_reply: Option<(i64, String)>,
    pub resolved: Option<(i64, String)>,
    pub closed_at: Option<i64>,
    pub csat: Option<(i64, Option<String>)>,
    /// Time the assignee logged: (instant, minutes, activity, billable).
    pub time: Vec<(i64, i64, domain::desk::Activity, bool)>,
    /// When the last thing happened (for tickets still open, the SLA is computed at this instant).
    pub now: i64,
}

/// Writes imported tickets in one transaction per call, with their history, search index and one audit
/// entry for the batch; returns their numbers. Organisations, people, services and items must exist; the
/// caller (an import or the demo) has checked them.
pub async fn import(db: &Db, actor: &Actor, batch: Vec<Imported>) -> Result<Vec<i64>> {
    if batch.is_empty() {
        return Ok(Vec::new());
    }
    let settings = catalog::settings(db).await?;
    let mut cals: BTreeMap<(OrgId, &'static str), BusinessCalendar> = BTreeMap::new();
    let mut targets: BTreeMap<(Option<ServiceId>, Priority), (Coverage, i64, i64)> =
        BTreeMap::new();
    let mut items: BTreeMap<CatalogItemId, catalog::CatalogItem> = BTreeMap::new();
    let mut prepared = Vec::with_capacity(batch.len());
    for imp in batch {
        let new = &imp.ticket;
        let priority = settings.priority_matrix.priority(new.impact, new.urgency);
        let mut service_id = new.service_id;
        let mut cost = 0;
        let mut approval = Approval::NotNeeded;
        if let Some(iid) = new.catalog_item_id {
            let item = match items.entry(iid) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(catalog::get_item(db, iid).await?)
                }
            };
            service_id = Some(item.service_id);
            cost = item.cost_cents;
            if item.needs_approval() {
                approval = Approval::Approved;
            }
        }
        let (coverage, response_s, resolution_s) = match targets.entry((service_id, priority)) {
            std::collections::btree_map::Entry::Occupied(e) => *e.get(),
            std::collections::btree_map::Entry::Vacant(v) => {
                *v.insert(targets_for(db, service_id, priority).await?)
            }
        };
        let cal = match cals.entry((new.org_id, coverage.as_str())) {
            std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
            std::collections::btree_map::Entry::Vacant(v) => {
                v.insert(calendar(db, new.org_id, coverage).await?)
            }
        };
        let opened = new.opened_at.unwrap_or(imp.now);
        let mut clock = SlaClock::default();
        for (a, b) in &imp.waits {
            clock.pause(ts(*a));
            clock.resume(ts(*b));
        }
        if let Some(w) = imp.waiting_since {
            clock.pause(ts(w));
        }
        let status = match (&imp.resolved, imp.closed_at) {
            (_, Some(_)) => Status::Closed,
            (Some(_), None) => Status::Resolved,
            (None, None) if imp.waiting_since.is_some() => Status::WaitingOnRequester,
            (None, None) if imp.assignee.is_some() => Status::InProgress,
            (None, None) => Status::New,
        };
        let mut t = Ticket {
            id: TicketId::new(),
            number: 0,
            org_id: new.org_id,
            kind: new.kind,
            subject: new.subject.clone(),
            description: new.description.clone(),
            requester_id: new.requester_id,
            department_id: new.department_id,
            site_id: new.site_id,
            service_id,
            catalog_item_id: new.catalog_item_id,
            form_answers: new.form_answers.clone(),
            category: new.category.clone(),
            impact: new.impact,
            urgency: new.urgency,
            priority,
            status,
            team_id: new.team_id,
            assignee_id: imp.assignee.as_ref().map(|a| a.0),
            source: new.source,
            approval,
            cost_cents: cost,
            sla: Sla {
                coverage,
                response_target_s: response_s,
                resolution_target_s: resolution_s,
                clock,
                response_due_at: None,
                resolution_due_at: None,
                next_due_at: None,
                response_breached: false,
                resolution_breached: false,
                at_risk: false,
                check_at: None,
            },
            first_response_at: imp.first_response.as_ref().map(|r| r.0),
            resolved_at: imp.resolved.as_ref().map(|r| r.0),
            closed_at: imp.closed_at,
            merged_into_id: None,
            csat_score: imp.csat.as_ref().map(|c| c.0),
            csat_comment: imp.csat.as_ref().and_then(|c| c.1.clone()),
            reopen_count: 0,
            public_replies: i64::from(imp.first_response.is_some())
                + i64::from(imp.requester_reply.is_some()),
            created_at: opened,
            updated_at: imp.now,
            version: 1,
        };
        refresh_sla(&mut t, cal, imp.now);
        let tz = cal.time_zone().clone();
        prepared.push((t, imp, tz));
    }
    let mut tx = db.write.begin().await?;
    let n = i64::try_from(prepared.len()).map_err(corrupt)?;
    let last: i64 =
        sqlx::query("UPDATE counters SET value = value + $1 WHERE name = 'ticket' RETURNING value")
            .bind(n)
            .fetch_one(&mut *tx)
            .await?
            .try_get("value")?;
    let mut numbers = Vec::with_capacity(prepared.len());
    for (i, (mut t, imp, tz)) in prepared.into_iter().enumerate() {
        t.number = last - n + 1 + i64::try_from(i).map_err(corrupt)?;
        insert(&mut tx, &t).await?;
        // `insert` writes a new ticket's columns; the rest of its past goes on with one update.
        t.version = 2;
        save(&mut tx, &t).await?;
        let requester = Actor {
            user_id: Some(t.requester_id),
            label: "requester".into(),
        };
        event(
            &mut tx,
            &t,
            &requester,
            t.created_at,
            EventKind::Created,
            true,
            Some(&t.description),
            None,
        )
        .await?;
        let mut body = t.description.clone();
        if let Some((id, name)) = &imp.assignee {
            let desk = Actor {
                user_id: Some(*id),
                label: name.clone(),
            };
            let at = imp.first_response.as_ref().map_or(t.created_at, |r| r.0);
            let data =
                serde_json::json!({ "assignee_id": [null, id], "status": ["new", "assigned"] });
            event(
                &mut tx,
                &t,
                &desk,
                at,
                EventKind::Change,
                true,
                None,
                Some(data),
            )
            .await?;
            if let Some((rat, text)) = &imp.first_response {
                event(
                    &mut tx,
                    &t,
                    &desk,
                    *rat,
                    EventKind::Reply,
                    true,
                    Some(text),
                    None,
                )
                .await?;
                body.push('\n');
                body.push_str(text);
            }
            if let Some((rat, text)) = &imp.resolved {
                let data = serde_json::json!({ "status": ["in_progress", "resolved"] });
                event(
                    &mut tx,
                    &t,
                    &desk,
                    *rat,
                    EventKind::Reply,
                    true,
                    Some(text),
                    Some(data),
                )
                .await?;
                body.push('\n');
                body.push_str(text);
            }
        }
        if let Some((rat, text)) = &imp.requester_reply {
            event(
                &mut tx,
                &t,
                &requester,
                *rat,
                EventKind::Reply,
                true,
                Some(text),
                None,
            )
            .await?;
            body.push('\n');
            body.push_str(text);
        }
        if let (Some(score), Some(at)) = (t.csat_score, t.resolved_at) {
            event(
                &mut tx,
                &t,
                &requester,
                at + 3_600_000,
                EventKind::Rating,
                true,
                t.csat_comment.as_deref(),
                Some(serde_json::json!({ "score": score })),
            )
            .await?;
        }
        search::index_new(&mut tx, db.backend(), t.number, &t.subject, &body).await?;
        if let Some((user, _)) = &imp.assignee {
            for (at, minutes, activity, billable) in &imp.time {
                let date = tz.to_datetime(ts(*at)).date();
                sqlx::query("INSERT INTO time_entries (id, org_id, user_id, ticket_id, work_date, minutes, activity, billable, note, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, '', $9, $9, 1)")
                    .bind(uuid::Uuid::now_v7().to_string())
                    .bind(t.org_id.to_string())
                    .bind(user.to_string())
                    .bind(t.id.to_string())
                    .bind(date.to_string())
                    .bind(*minutes)
                    .bind(activity.as_str())
                    .bind(i64::from(*billable))
                    .bind(*at)
                    .execute(&mut *tx)
                    .await?;
            }
        }
        numbers.push(t.number);
    }
    let (first, last_n) = (numbers.first().copied(), numbers.last().copied());
    log(
        &mut tx,
        actor,
        None,
        "ticket.import",
        (
            "ticket_batch",
            format!("{}-{}", first.unwrap_or(0), last_n.unwrap_or(0)),
        ),
        None,
        Some(serde_json::json!({ "count": numbers.len(), "first": first, "last": last_n })),
    )
    .await?;
    tx.commit().await?;
    Ok(numbers)
}

// ---------------------------------------------------------------------------------------------------
// SLA escalation

/// What one sweep found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct Sweep {
    pub checked: usize,
    /// Tickets that crossed 75% of a target.
    pub at_risk: Vec<i64>,
    /// Tickets that passed a target.
    pub breached: Vec<i64>,
    /// Breached tickets moved to the escalation team.
    pub escalated: Vec<i64>,
}

/// Looks at every open ticket whose next SLA instant has come (`sla_check_at <= now`): records at-risk
/// warnings and breaches in its history (internal), moves breached tickets to the escalation team when one
/// is set, and returns what happened so that the caller can notify. Safe to run on several servers: each
/// change is a compare-and-set on the row.
pub async fn sla_sweep(db: &Db, now: i64) -> Result<Sweep> {
    let settings = catalog::settings(db).await?;
    let mut out = Sweep::default();
    let mut cals: BTreeMap<(OrgId, &'static str), BusinessCalendar> = BTreeMap::new();
    let system = Actor::system("sla");
    loop {
        let mut q =
            Sql::new("SELECT t.* FROM tickets t WHERE t.is_open = 1 AND t.sla_check_at <= ");
        q.bind(now)
            .push(" ORDER BY t.sla_check_at, t.number LIMIT 500");
        let batch = q
            .fetch_all(&db.read)
            .await?
            .iter()
            .map(ticket)
            .collect::<Result<Vec<_>>>()?;
        if batch.is_empty() {
            break;
        }
        let mut tx = db.write.begin().await?;
        for mut t in batch {
            out.checked += 1;
            let cal = match cals.entry((t.org_id, t.sla.coverage.as_str())) {
                std::collections::btree_map::Entry::Occupied(e) => e.into_mut(),
                std::collections::btree_map::Entry::Vacant(v) => {
                    v.insert(calendar(db, t.org_id, t.sla.coverage).await?)
                }
            };
            let before = t.sla.clone();
            let old_check = before.check_at.unwrap_or(NO_DUE);
            refresh_sla(&mut t, cal, now);
            // Never leave a row due again at the same instant (no busy loop).
            if t.sla.check_at.is_some_and(|c| c <= now) {
                t.sla.check_at = None;
            }
            let newly_risk = t.sla.at_risk && !before.at_risk;
            let newly_breach = (t.sla.response_breached && !before.response_breached)
                || (t.sla.resolution_breached && !before.resolution_breached);
            let escalate = newly_breach
                && settings.escalation_team_id.is_some()
                && t.team_id != settings.escalation_team_id;
            let n = sqlx::query("UPDATE tickets SET response_due_at = $1, resolution_due_at = $2, sla_due_at = $3, response_breached = $4, resolution_breached = $5, at_risk = $6, sla_check_at = $7, team_id = $8 WHERE id = $9 AND sla_check_at = $10 AND version = $11")
                .bind(t.sla.response_due_at)
                .bind(t.sla.resolution_due_at)
                .bind(t.sla.next_due_at.unwrap_or(NO_DUE))
                .bind(i64::from(t.sla.response_breached))
                .bind(i64::from(t.sla.resolution_breached))
                .bind(i64::from(t.sla.at_risk))
                .bind(t.sla.check_at.unwrap_or(NO_DUE))
                .bind(if escalate { settings.escalation_team_id } else { t.team_id }.map(|x| x.to_string()))
                .bind(t.id.to_string())
                .bind(old_check)
                .bind(t.version)
                .execute(&mut *tx)
                .await?
                .rows_affected();
            if n != 1 {
                continue; // Changed meanwhile (by a person or another server): the next sweep sees it.
            }
            if newly_breach {
                let which = if t.sla.response_breached && !before.response_breached {
                    "response"
                } else {
                    "resolution"
                };
                let mut data = serde_json::json!({ "sla": [if before.at_risk { "at_risk" } else { "on_track" }, format!("{which}_breached")] });
                if escalate {
                    data["team_id"] = serde_json::json!([t.team_id, settings.escalation_team_id]);
                    audit(
                        &mut tx,
                        &system,
                        &t,
                        "ticket.assign",
                        Some(serde_json::json!({ "number": t.number, "team_id": t.team_id })),
                        Some(serde_json::json!({ "number": t.number, "team_id": settings.escalation_team_id })),
                    )
                    .await?;
                    out.escalated.push(t.number);
                }
                let id = event(
                    &mut tx,
                    &t,
                    &system,
                    now,
                    EventKind::Change,
                    false,
                    None,
                    Some(data),
                )
                .await?;
                super::notify::queue(
                    &mut tx,
                    super::notify::Event::SlaBreached,
                    t.number,
                    None,
                    &id.to_string(),
                )
                .await?;
                out.breached.push(t.number);
            } else if newly_risk {
                let id = event(
                    &mut tx,
                    &t,
                    &system,
                    now,
                    EventKind::Change,
                    false,
                    None,
                    Some(serde_json::json!({ "sla": ["on_track", "at_risk"] })),
                )
                .await?;
                super::notify::queue(
                    &mut tx,
                    super::notify::Event::SlaAtRisk,
                    t.number,
                    None,
                    &id.to_string(),
                )
                .await?;
                out.at_risk.push(t.number);
            }
        }
        tx.commit().await?;
    }
    Ok(out)
}

/// Closes resolved tickets whose reopen window (`reopen_days` of the desk settings) has passed; returns
/// how many.
pub async fn autoclose(db: &Db, now: i64) -> Result<u64> {
    let settings = catalog::settings(db).await?;
    let cutoff = now - settings.reopen_days * 86_400_000;
    let system = Actor::system("autoclose");
    let mut closed = 0;
    loop {
        let rows = sqlx::query("SELECT t.* FROM tickets t WHERE t.status = 'resolved' AND t.resolved_at < $1 ORDER BY t.resolved_at LIMIT 500")
            .bind(cutoff)
            .fetch_all(&db.read)
            .await?;
        if rows.is_empty() {
            break;
        }
        let mut tx = db.write.begin().await?;
        let mut progressed = false;
        for r in &rows {
            let mut t = ticket(r)?;
            set_status(&mut t, Status::Closed, now);
            t.sla.check_at = None;
            t.updated_at = now;
            t.version += 1;
            match save(&mut tx, &t).await {
                Ok(()) => {
                    progressed = true;
                    closed += 1;
                    let data = serde_json::json!({ "status": ["resolved", "closed"] });
                    event(
                        &mut tx,
                        &t,
                        &system,
                        now,
                        EventKind::Change,
                        true,
                        None,
                        Some(data),
                    )
                    .await?;
                    audit(
                        &mut tx,
                        &system,
                        &t,
                        "ticket.status",
                        Some(serde_json::json!({ "number": t.number, "status": Status::Resolved })),
                        Some(serde_json::json!({ "number": t.number, "status": t.status, "version": t.version })),
                    )
                    .await?;
                }
                Err(StoreError::Stale) => {}
                Err(e) => return Err(e),
            }
        }
        tx.commit().await?;
        if !progressed {
            break;
        }
    }
    Ok(closed)
}

// ---------------------------------------------------------------------------------------------------
// Attachments

/// A file on a ticket (its bytes are served separately).
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Attachment {
    pub id: String,
    pub filename: String,
    pub content_type: String,
    pub size_bytes: i64,
    pub sha256: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
}

/// A file to keep: its name as given, its declared type and its bytes.
#[derive(Debug, Clone, Copy)]
pub struct NewFile<'a> {
    pub name: &'a str,
    pub content_type: &'a str,
    pub bytes: &'a [u8],
}

/// Keeps a file on a ticket the caller may see; `event` ties it to the reply it came with.
pub async fn attach(
    db: &Db,
    view: &TicketView,
    actor: &Actor,
    number: i64,
    event: Option<TicketEventId>,
    file: NewFile<'_>,
) -> Result<Attachment> {
    use sha2::Digest;
    let (filename, content_type, bytes) = (file.name, file.content_type, file.bytes);
    let t = get(db, view, number).await?;
    let name: String = filename
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .take(200)
        .collect();
    let a = Attachment {
        id: uuid::Uuid::now_v7().to_string(),
        filename: if name.trim().is_empty() {
            "attachment".into()
        } else {
            name
        },
        content_type: content_type.chars().take(100).collect(),
        size_bytes: i64::try_from(bytes.len()).map_err(corrupt)?,
        sha256: hex::encode(sha2::Sha256::digest(bytes)),
        created_at: now_ms(),
    };
    let mut tx = db.write.begin().await?;
    sqlx::query("INSERT INTO attachments (id, ticket_id, org_id, event_id, filename, content_type, size_bytes, sha256, data, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)")
        .bind(&a.id)
        .bind(t.id.to_string())
        .bind(t.org_id.to_string())
        .bind(event.map(|e| e.to_string()))
        .bind(&a.filename)
        .bind(&a.content_type)
        .bind(a.size_bytes)
        .bind(&a.sha256)
        .bind(bytes.to_vec())
        .bind(actor.user_id.map(|u| u.to_string()))
        .bind(a.created_at)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(t.org_id),
        "attachment.create",
        ("attachment", a.id.clone()),
        None,
        Some(to_json(&a)?),
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// The files of a ticket the caller may see.
pub async fn attachments(db: &Db, view: &TicketView, number: i64) -> Result<Vec<Attachment>> {
    let t = get(db, view, number).await?;
    sqlx::query("SELECT id, filename, content_type, size_bytes, sha256, created_at FROM attachments WHERE ticket_id = $1 ORDER BY created_at, id")
        .bind(t.id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Attachment {
                id: r.try_get("id")?,
                filename: r.try_get("filename")?,
                content_type: r.try_get("content_type")?,
                size_bytes: r.try_get("size_bytes")?,
                sha256: r.try_get("sha256")?,
                created_at: r.try_get("created_at")?,
            })
        })
        .collect()
}

/// One file's description and bytes, if it belongs to a ticket the caller may see.
pub async fn attachment(
    db: &Db,
    view: &TicketView,
    number: i64,
    id: &str,
) -> Result<(Attachment, Vec<u8>)> {
    let t = get(db, view, number).await?;
    let r = sqlx::query("SELECT id, filename, content_type, size_bytes, sha256, created_at, data FROM attachments WHERE ticket_id = $1 AND id = $2")
        .bind(t.id.to_string())
        .bind(id)
        .fetch_optional(&db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((
        Attachment {
            id: r.try_get("id")?,
            filename: r.try_get("filename")?,
            content_type: r.try_get("content_type")?,
            size_bytes: r.try_get("size_bytes")?,
            sha256: r.try_get("sha256")?,
            created_at: r.try_get("created_at")?,
        },
        r.try_get("data")?,
    ))
}

// ---------------------------------------------------------------------------------------------------
// Watchers, links, merging

/// People who follow a ticket: (id, name).
pub async fn watchers(db: &Db, view: &TicketView, number: i64) -> Result<Vec<(UserId, String)>> {
    let t = get(db, view, number).await?;
    sqlx::query("SELECT u.id, u.name FROM ticket_watchers w JOIN users u ON u.id = w.user_id WHERE w.ticket_id = $1 ORDER BY u.name")
        .bind(t.id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((parse_id(&r.try_get::<String, _>("id")?)?, r.try_get("name")?)))
        .collect()
}

/// Adds a watcher: a person of the ticket's organisation or of the hub. `desk` may add anyone of those;
/// others only people of their own organisation.
pub async fn add_watcher(
    db: &Db,
    view: &TicketView,
    actor: &Actor,
    number: i64,
    user: UserId,
) -> Result<()> {
    let t = get(db, view, number).await?;
    let r = sqlx::query("SELECT u.org_id, o.is_hub FROM users u JOIN orgs o ON o.id = u.org_id WHERE u.id = $1 AND u.active = 1")
        .bind(user.to_string())
        .fetch_optional(&db.read)
        .await?
        .ok_or_else(|| StoreError::Invalid(domain::Invalid::one("email", "is not an active person of the region")))?;
    let org: String = r.try_get("org_id")?;
    let hub = r.try_get::<i64, _>("is_hub")? != 0;
    if org != t.org_id.to_string() && !hub {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "email",
            "must be a person of the ticket's organisation or of the hub",
        )));
    }
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "INSERT INTO ticket_watchers (ticket_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING",
    )
    .bind(t.id.to_string())
    .bind(user.to_string())
    .execute(&mut *tx)
    .await?;
    event(
        &mut tx,
        &t,
        actor,
        now_ms(),
        EventKind::Change,
        true,
        None,
        Some(serde_json::json!({ "watcher_added": user })),
    )
    .await?;
    audit(
        &mut tx,
        actor,
        &t,
        "ticket.watcher_add",
        None,
        Some(serde_json::json!({ "number": t.number, "user_id": user })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

pub async fn remove_watcher(
    db: &Db,
    view: &TicketView,
    actor: &Actor,
    number: i64,
    user: UserId,
) -> Result<()> {
    let t = get(db, view, number).await?;
    let mut tx = db.write.begin().await?;
    let n = sqlx::query("DELETE FROM ticket_watchers WHERE ticket_id = $1 AND user_id = $2")
        .bind(t.id.to_string())
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    event(
        &mut tx,
        &t,
        actor,
        now_ms(),
        EventKind::Change,
        true,
        None,
        Some(serde_json::json!({ "watcher_removed": user })),
    )
    .await?;
    audit(
        &mut tx,
        actor,
        &t,
        "ticket.watcher_remove",
        Some(serde_json::json!({ "number": t.number, "user_id": user })),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// How two tickets relate.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum LinkKind {
    /// Loosely related.
    Related,
    /// This incident is caused by the other ticket (a problem).
    CausedBy,
    /// This ticket was merged into the other.
    DuplicateOf,
}

impl LinkKind {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Related => "related",
            Self::CausedBy => "caused_by",
            Self::DuplicateOf => "duplicate_of",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        [Self::Related, Self::CausedBy, Self::DuplicateOf]
            .into_iter()
            .find(|k| k.as_str() == s)
    }
}

/// A link as seen from one ticket.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct Link {
    pub number: i64,
    pub subject: String,
    pub status: Status,
    /// From this ticket's side: `related`, `caused_by` (this → a problem), `causes` (a problem → this
    /// incident), `duplicate_of`, `duplicates`.
    pub relation: &'static str,
}

/// The links of a ticket, both ways, limited to tickets the view may see.
pub async fn links(db: &Db, view: &TicketView, number: i64) -> Result<Vec<Link>> {
    let t = get(db, view, number).await?;
    let mut q = Sql::new("SELECT t.number, t.subject, t.status, l.kind, CASE WHEN l.ticket_id = ");
    q.bind(t.id.to_string())
        .push(" THEN 1 ELSE 0 END AS outgoing FROM ticket_links l JOIN tickets t ON t.id = CASE WHEN l.ticket_id = ")
        .bind(t.id.to_string())
        .push(" THEN l.other_id ELSE l.ticket_id END WHERE (l.ticket_id = ")
        .bind(t.id.to_string())
        .push(" OR l.other_id = ")
        .bind(t.id.to_string())
        .push(")");
    q.ticket_view(view);
    q.push(" ORDER BY t.number");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            let kind: String = r.try_get("kind")?;
            let outgoing = r.try_get::<i64, _>("outgoing")? != 0;
            Ok(Link {
                number: r.try_get("number")?,
                subject: r.try_get("subject")?,
                status: vocab(r, "status", Status::parse)?,
                relation: match (LinkKind::parse(&kind), outgoing) {
                    (Some(LinkKind::CausedBy), true) => "caused_by",
                    (Some(LinkKind::CausedBy), false) => "causes",
                    (Some(LinkKind::DuplicateOf), true) => "duplicate_of",
                    (Some(LinkKind::DuplicateOf), false) => "duplicates",
                    _ => "related",
                },
            })
        })
        .collect()
}

/// Links two tickets the desk can see (`caused_by` needs the other to be a problem).
pub async fn link(
    db: &Db,
    view: &TicketView,
    work: &crate::Scope,
    actor: &Actor,
    number: i64,
    other: i64,
    kind: LinkKind,
) -> Result<()> {
    let a = get(db, view, number).await?;
    let b = get(db, view, other).await.map_err(|e| match e {
        StoreError::NotFound => {
            StoreError::Invalid(domain::Invalid::one("other", "is not a ticket you can see"))
        }
        e => e,
    })?;
    if !work.contains(a.org_id) || !work.contains(b.org_id) {
        return Err(StoreError::Forbidden);
    }
    if a.id == b.id {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "other",
            "a ticket cannot be linked to itself",
        )));
    }
    if kind == LinkKind::CausedBy && b.kind != TicketKind::Problem {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "other",
            "must be a problem ticket to be the cause",
        )));
    }
    let now = now_ms();
    let mut tx = db.write.begin().await?;
    sqlx::query(
        "INSERT INTO ticket_links (ticket_id, other_id, kind, created_at) VALUES ($1, $2, $3, $4)",
    )
    .bind(a.id.to_string())
    .bind(b.id.to_string())
    .bind(kind.as_str())
    .bind(now)
    .execute(&mut *tx)
    .await
    .map_err(|e| {
        StoreError::on_unique(
            e,
            "ticket_links",
            "other",
            "these tickets are already linked",
        )
    })?;
    event(
        &mut tx,
        &a,
        actor,
        now,
        EventKind::Change,
        true,
        None,
        Some(serde_json::json!({ "link": [kind.as_str(), b.id] })),
    )
    .await?;
    event(
        &mut tx,
        &b,
        actor,
        now,
        EventKind::Change,
        true,
        None,
        Some(serde_json::json!({ "linked_from": [kind.as_str(), a.id] })),
    )
    .await?;
    // One entry on each side, in each ticket's organisation; the other side is kept by id only, since
    // the desk may link tickets of two members.
    let inverse = match kind {
        LinkKind::Related => "related",
        LinkKind::CausedBy => "causes",
        LinkKind::DuplicateOf => "duplicates",
    };
    for (t, other, relation) in [(&a, &b, kind.as_str()), (&b, &a, inverse)] {
        audit(
            &mut tx,
            actor,
            t,
            "ticket.link",
            None,
            Some(serde_json::json!({ "number": t.number, "relation": relation, "other_ticket_id": other.id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(())
}

/// Merges a duplicate into another ticket: the duplicate closes with a link and a note, its requester and
/// watchers follow the surviving ticket.
pub async fn merge(
    db: &Db,
    view: &TicketView,
    work: &crate::Scope,
    actor: &Actor,
    number: i64,
    into: i64,
) -> Result<Ticket> {
    let mut dup = get(db, view, number).await?;
    let target = get(db, view, into).await.map_err(|e| match e {
        StoreError::NotFound => {
            StoreError::Invalid(domain::Invalid::one("into", "is not a ticket you can see"))
        }
        e => e,
    })?;
    if !work.contains(dup.org_id) || !work.contains(target.org_id) {
        return Err(StoreError::Forbidden);
    }
    if dup.id == target.id {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "into",
            "a ticket cannot be merged into itself",
        )));
    }
    if dup.org_id != target.org_id {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "into",
            "must be a ticket of the same organisation",
        )));
    }
    if target.status == Status::Closed || dup.status == Status::Closed {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "into",
            "closed tickets cannot be merged",
        )));
    }
    let now = now_ms();
    dup.merged_into_id = Some(target.id);
    set_status(&mut dup, Status::Closed, now);
    dup.sla.check_at = None;
    dup.sla.next_due_at = None;
    dup.updated_at = now;
    dup.version += 1;
    let mut tx = db.write.begin().await?;
    save(&mut tx, &dup).await?;
    sqlx::query("INSERT INTO ticket_links (ticket_id, other_id, kind, created_at) VALUES ($1, $2, 'duplicate_of', $3) ON CONFLICT DO NOTHING")
        .bind(dup.id.to_string())
        .bind(target.id.to_string())
        .bind(now)
        .execute(&mut *tx)
        .await?;
    for u in std::iter::once(dup.requester_id.to_string()).chain(
        sqlx::query("SELECT user_id FROM ticket_watchers WHERE ticket_id = $1")
            .bind(dup.id.to_string())
            .fetch_all(&mut *tx)
            .await?
            .iter()
            .filter_map(|r| r.try_get::<String, _>("user_id").ok()),
    ) {
        if u != target.requester_id.to_string() {
            sqlx::query("INSERT INTO ticket_watchers (ticket_id, user_id) VALUES ($1, $2) ON CONFLICT DO NOTHING")
                .bind(target.id.to_string())
                .bind(u)
                .execute(&mut *tx)
                .await?;
        }
    }
    let note = format!("Merged into #{}: {}", target.number, target.subject);
    event(
        &mut tx,
        &dup,
        actor,
        now,
        EventKind::Reply,
        true,
        Some(&note),
        Some(serde_json::json!({ "status": ["open", "closed"], "merged_into": target.id })),
    )
    .await?;
    event(
        &mut tx,
        &target,
        actor,
        now,
        EventKind::Change,
        true,
        None,
        Some(serde_json::json!({ "merged_from": dup.id })),
    )
    .await?;
    log(
        &mut tx,
        actor,
        Some(dup.org_id),
        "ticket.merge",
        ("ticket", dup.id.to_string()),
        None,
        Some(serde_json::json!({ "into": target.number })),
    )
    .await?;
    tx.commit().await?;
    Ok(dup)
}

// ---------------------------------------------------------------------------------------------------
// Canned replies

#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct CannedReply {
    pub id: String,
    pub title: String,
    pub body: String,
}

pub async fn canned_replies(db: &Db) -> Result<Vec<CannedReply>> {
    sqlx::query("SELECT id, title, body FROM canned_replies ORDER BY title")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(CannedReply {
                id: r.try_get("id")?,
                title: r.try_get("title")?,
                body: r.try_get("body")?,
            })
        })
        .collect()
}

pub async fn add_canned_reply(
    db: &Db,
    actor: &Actor,
    title: &str,
    body: &str,
) -> Result<CannedReply> {
    let c = CannedReply {
        id: uuid::Uuid::now_v7().to_string(),
        title: title.to_owned(),
        body: body.to_owned(),
    };
    let mut tx = db.write.begin().await?;
    sqlx::query("INSERT INTO canned_replies (id, title, body, created_at) VALUES ($1, $2, $3, $4)")
        .bind(&c.id)
        .bind(&c.title)
        .bind(&c.body)
        .bind(now_ms())
        .execute(&mut *tx)
        .await
        .map_err(|e| {
            StoreError::on_unique(
                e,
                "title",
                "title",
                "is already the title of a canned reply",
            )
        })?;
    log(
        &mut tx,
        actor,
        None,
        "canned_reply.create",
        ("canned_reply", c.id.clone()),
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

#[cfg(test)]
mod tests {
    use super::chunk_sizes;

    #[test]
    fn a_group_is_written_in_power_of_two_chunks_that_add_up_to_it() {
        assert_eq!(chunk_sizes(13).collect::<Vec<_>>(), [8, 4, 1]);
        assert_eq!(chunk_sizes(32).collect::<Vec<_>>(), [32]);
        assert_eq!(chunk_sizes(1).collect::<Vec<_>>(), [1]);
        for n in 1..=64 {
            let sizes: Vec<_> = chunk_sizes(n).collect();
            assert_eq!(sizes.iter().sum::<usize>(), n);
            assert!(sizes.iter().all(|s| s.is_power_of_two()));
            assert!(sizes.windows(2).all(|w| w[0] > w[1]));
        }
    }
}
