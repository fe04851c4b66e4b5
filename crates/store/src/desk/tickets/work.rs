//! Working tickets: status, assignment and priority, replies and notes, approvals and ratings.

use super::*;

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
pub(super) fn set_status(t: &mut Ticket, to: Status, now: i64) {
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

pub(super) async fn check_user(db: &Db, id: UserId, field: &str, hub_only: bool) -> Result<()> {
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
        t.approval.check_move(s)?;
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
    let mut tx = db.begin_write().await?;
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
        notify::queue(
            &mut tx,
            notify::Event::Resolved,
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
    let mut tx = db.begin_write().await?;
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
            Author::Desk => notify::Event::DeskReply,
            Author::Member => notify::Event::MemberReply,
        };
        notify::queue(&mut tx, e, t.number, actor.user_id, &id.to_string()).await?;
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
    t.approval.check_decision()?;
    let before = t.clone();
    let now = now_ms();
    t.approval = Approval::decided(approved);
    if approved {
        t.sla.clock.resume(ts(now));
    } else {
        set_status(&mut t, Status::Closed, now);
    }
    let cal = calendar(db, t.org_id, t.sla.coverage).await?;
    refresh_sla(&mut t, &cal, now);
    t.updated_at = now;
    t.version += 1;
    let mut tx = db.begin_write().await?;
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
    let mut tx = db.begin_write().await?;
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
        let mut tx = db.begin_write().await?;
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
