//! Opening tickets: region-wide numbers, the first history event, the audit entry and the search index.

use super::*;

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
        crate::Backend::Sqlite => db.openings.submit(db, opening).await?,
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
    pub(crate) ticket: Ticket,
    pub(crate) actor: Actor,
}

/// The statements that claim `n` ticket numbers and `n` places in the audit chain; they return the last
/// number and the chain's head.
pub(super) fn claim_sql(n: i64) -> [Sql; 2] {
    let mut counter = Sql::new("UPDATE counters SET value = value + ");
    counter
        .bind(n)
        .push(" WHERE name = 'ticket' RETURNING value");
    [counter, crate::audit::claim_sql(n)]
}

/// Numbers the tickets of `group` (after `last_number` was claimed for the last of them) and builds each
/// one's rows — the ticket, its history entry, search index entry, notification jobs and audit entry,
/// chained after `prev` from `last_seq` — and the statement that moves the audit head past them.
pub(super) fn opening_rows(
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
            notify::queue_sql(notify::Event::Opened, t.number, None, "open"),
        ];
        if t.approval == Approval::Pending {
            rows.push(notify::queue_sql(
                notify::Event::ApprovalNeeded,
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
pub(crate) async fn write_openings(
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
    let mut chunks: Vec<Batch> = direct::chunk_sizes(group.len())
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
pub(crate) fn write_openings_direct(
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

/// What the audit log keeps of a ticket (not its text, which the ticket's history holds).
pub(super) fn summary(t: &Ticket) -> serde_json::Value {
    serde_json::json!({
        "number": t.number, "kind": t.kind, "status": t.status, "priority": t.priority,
        "impact": t.impact, "urgency": t.urgency, "assignee_id": t.assignee_id, "team_id": t.team_id,
        "service_id": t.service_id, "approval": t.approval, "version": t.version,
    })
}

pub(super) async fn insert(tx: &mut Transaction<'_, Any>, t: &Ticket) -> Result<()> {
    insert_sql(t)?.execute(&mut **tx).await?;
    Ok(())
}

/// The statement [`insert`] runs, for batches.
pub(super) fn insert_sql(t: &Ticket) -> Result<Sql> {
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
pub(super) async fn save(tx: &mut Transaction<'_, Any>, t: &Ticket) -> Result<()> {
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
