//! Watchers, links between tickets, and merging.

use super::*;

/// People who follow a ticket: (id, name).
pub async fn watchers(db: &Db, view: &TicketView, number: i64) -> Result<Vec<(UserId, String)>> {
    let t = get(db, view, number).await?;
    sqlx::query("SELECT u.id, u.name FROM ticket_watchers w JOIN users u ON u.id = w.user_id WHERE w.ticket_id = $1 ORDER BY u.name")
        .bind(t.id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.id("id")?, r.try_get("name")?)))
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
    let hub = r.flag("is_hub")?;
    if org != t.org_id.to_string() && !hub {
        return Err(StoreError::Invalid(domain::Invalid::one(
            "email",
            "must be a person of the ticket's organisation or of the hub",
        )));
    }
    let mut tx = db.begin_write().await?;
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
    let mut tx = db.begin_write().await?;
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
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
            let outgoing = r.flag("outgoing")?;
            Ok(Link {
                number: r.try_get("number")?,
                subject: r.try_get("subject")?,
                status: r.vocab("status", Status::parse)?,
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
    let mut tx = db.begin_write().await?;
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
    let mut tx = db.begin_write().await?;
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
