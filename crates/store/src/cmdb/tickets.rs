//! Tickets about an item.

use super::*;

/// A ticket as an item's page lists it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct TicketRef {
    pub number: i64,
    pub subject: String,
    pub status: String,
}

/// Links a ticket the view sees to an item of the ticket's organisation or of the hub.
pub async fn link_ticket(
    db: &Db,
    view: &domain::authz::TicketView,
    read: &Scope,
    actor: &Actor,
    number: i64,
    id: CiId,
) -> Result<Ci> {
    let t = crate::desk::tickets::get(db, view, number).await?;
    let c = get(db, read, id).await.map_err(|e| match e {
        StoreError::NotFound => domain::Invalid::one("ci_id", "is not an item you can see").into(),
        e => e,
    })?;
    let hub = crate::tenancy::orgs::hub(db).await?.map(|h| h.id);
    if c.org_id != t.org_id && Some(c.org_id) != hub {
        return Err(domain::Invalid::one(
            "ci_id",
            "belongs to another organisation than the ticket's",
        )
        .into());
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("INSERT INTO ticket_cis (ticket_id, ci_id, created_at) VALUES ($1, $2, $3) ON CONFLICT (ticket_id, ci_id) DO NOTHING")
        .bind(t.id.to_string())
        .bind(id.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 1 {
        event(
            &mut tx,
            actor,
            &c,
            "ci.ticket_link",
            &format!("Linked to ticket {}", t.id),
            None,
            Some(serde_json::json!({ "ticket_id": t.id, "ticket": number })),
        )
        .await?;
        // The ticket's own entry, in its organisation (the item may be the hub's).
        log(
            &mut tx,
            actor,
            Some(t.org_id),
            "ticket.ci_link",
            ("ticket", t.id.to_string()),
            None,
            Some(serde_json::json!({ "number": number, "ci_id": c.id })),
        )
        .await?;
    }
    tx.commit().await?;
    Ok(c)
}

/// Unlinks an item from a ticket the view sees.
pub async fn unlink_ticket(
    db: &Db,
    view: &domain::authz::TicketView,
    read: &Scope,
    actor: &Actor,
    number: i64,
    id: CiId,
) -> Result<()> {
    let t = crate::desk::tickets::get(db, view, number).await?;
    let c = get(db, read, id).await?;
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("DELETE FROM ticket_cis WHERE ticket_id = $1 AND ci_id = $2")
        .bind(t.id.to_string())
        .bind(id.to_string())
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n == 0 {
        return Err(StoreError::NotFound);
    }
    event(
        &mut tx,
        actor,
        &c,
        "ci.ticket_unlink",
        &format!("No longer linked to ticket {}", t.id),
        Some(serde_json::json!({ "ticket_id": t.id, "ticket": number })),
        None,
    )
    .await?;
    log(
        &mut tx,
        actor,
        Some(t.org_id),
        "ticket.ci_unlink",
        ("ticket", t.id.to_string()),
        Some(serde_json::json!({ "number": number, "ci_id": c.id })),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// The items linked to a ticket the view sees (those the reader may see).
pub async fn ticket_items(
    db: &Db,
    view: &domain::authz::TicketView,
    read: &Scope,
    number: i64,
) -> Result<Vec<Ci>> {
    let t = crate::desk::tickets::get(db, view, number).await?;
    let mut q = Sql::new(&format!(
        "{SELECT} JOIN ticket_cis tc ON tc.ci_id = c.id WHERE tc.ticket_id = "
    ));
    q.bind(t.id.to_string());
    visible(&mut q, "c.org_id", read);
    q.push(" ORDER BY c.name");
    q.fetch_all(&db.read).await?.iter().map(ci).collect()
}

/// The open tickets about an item, that the view sees, newest first.
pub async fn open_tickets(
    db: &Db,
    view: &domain::authz::TicketView,
    id: CiId,
) -> Result<Vec<TicketRef>> {
    let mut q = Sql::new(
        "SELECT t.number, t.subject, t.status FROM tickets t JOIN ticket_cis tc ON tc.ticket_id = t.id \
         WHERE t.status NOT IN ('resolved', 'closed') AND tc.ci_id = ",
    );
    q.bind(id.to_string());
    q.ticket_view(view);
    q.push(" ORDER BY t.number DESC LIMIT 100");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(TicketRef {
                number: r.try_get("number")?,
                subject: r.try_get("subject")?,
                status: r.try_get("status")?,
            })
        })
        .collect()
}

/// Sets the status of many items of the manage scope at once (retiring a decommissioned site's devices),
/// all or nothing: an item the scope may not change fails the whole change. Each item's history records it.
pub async fn bulk_status(
    db: &Db,
    read: &Scope,
    manage: &Scope,
    actor: &Actor,
    ids: &[CiId],
    status: CiStatus,
) -> Result<usize> {
    let mut items = Vec::with_capacity(ids.len());
    // Another member's item is "not found", as everywhere; the hub's, seen by a member, "not allowed".
    for id in ids {
        items.push(get_own(db, read, manage, *id).await?);
    }
    let mut tx = db.begin_write().await?;
    let mut changed = 0;
    for before in items.iter().filter(|c| c.status != status) {
        sqlx::query(
            "UPDATE cis SET status = $1, updated_at = $2, version = version + 1 WHERE id = $3",
        )
        .bind(status.as_str())
        .bind(now_ms())
        .bind(before.id.to_string())
        .execute(&mut *tx)
        .await?;
        let after = Ci {
            status,
            version: before.version + 1,
            ..before.clone()
        };
        event(
            &mut tx,
            actor,
            &after,
            "ci.update",
            &format!("{} (bulk change)", changes(before, &after)),
            Some(to_json(before)?),
            Some(to_json(&after)?),
        )
        .await?;
        changed += 1;
    }
    tx.commit().await?;
    Ok(changed)
}
