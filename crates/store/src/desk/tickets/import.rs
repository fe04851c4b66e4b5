//! Import: tickets brought over from another system, with their numbers and history.

use super::*;

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
    let mut tx = db.begin_write().await?;
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
