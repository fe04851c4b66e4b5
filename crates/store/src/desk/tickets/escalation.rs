//! SLA escalation: the sweep that marks tickets at risk or breached, and closing resolved tickets.

use super::*;

/// What one sweep found.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
        let mut tx = db.begin_write().await?;
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
                notify::queue(
                    &mut tx,
                    notify::Event::SlaBreached,
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
                notify::queue(
                    &mut tx,
                    notify::Event::SlaAtRisk,
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
        let mut tx = db.begin_write().await?;
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
