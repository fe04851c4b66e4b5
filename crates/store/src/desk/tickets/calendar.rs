//! Calendars and SLA: the business calendar of an organisation and the SLA targets and clocks of its tickets.

use super::*;

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
pub(super) async fn targets_for(
    db: &Db,
    service: Option<ServiceId>,
    p: Priority,
) -> Result<(Coverage, i64, i64)> {
    let (coverage, targets) = policy_for(db, service).await?;
    let t = targets.for_priority(p);
    Ok((coverage, t.response_minutes * 60, t.resolution_minutes * 60))
}

/// The SLA policy of a service (or the desk's default, or the standard targets).
pub(super) async fn policy_for(
    db: &Db,
    service: Option<ServiceId>,
) -> Result<(Coverage, SlaTargets)> {
    let policy_id = match service {
        Some(s) => Some(catalog::get_service(db, s).await?.sla_policy_id),
        None => sqlx::query("SELECT default_sla_policy_id FROM desk_settings WHERE id = 1")
            .fetch_one(&db.read)
            .await?
            .try_get::<Option<String>, _>("default_sla_policy_id")?
            .map(|s| parse_id(&s))
            .transpose()?,
    };
    let found = match policy_id {
        Some(id) => match catalog::get_policy(db, id).await {
            Ok(p) => Some((p.coverage, p.targets)),
            Err(StoreError::NotFound) => None,
            Err(e) => return Err(e),
        },
        None => None,
    };
    Ok(domain::desk::applying_policy(found))
}

/// What opening a ticket needs of the desk's settings, in one query: the priority matrix and the SLA policy
/// of the service (or the region's default policy; the standard targets when there is none).
pub(super) async fn opening_rules(
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
    let found = match (direct::opt_text(r, 1)?, direct::opt_text(r, 2)?) {
        (Some(c), Some(t)) => Some((
            Coverage::parse(&c).map_err(|e| corrupt(e.message))?,
            serde_json::from_str(&t).map_err(corrupt)?,
        )),
        _ => None,
    };
    let (coverage, targets) = domain::desk::applying_policy(found);
    Ok((matrix, coverage, targets))
}
