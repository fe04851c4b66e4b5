//! History and tickets.

use super::*;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct CiEvent {
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub at: i64,
    pub actor_name: String,
    pub summary: String,
}

/// An item's history, newest first. A relationship or a ticket link is described when read, from the ids
/// it keeps: the other item or ticket is named only when the reader may read it (items by `scope`, tickets
/// by `view`), and otherwise by the words of `domain::authz::hidden` — so another member's item names, and
/// its ticket numbers and subjects, never reach a reader through an item they share (a hub item, or their
/// own item the hub related to another member's). Rows written before ids were kept (with the names in
/// their summary) are described the same way from the ids and numbers they also hold.
pub async fn history(
    db: &Db,
    scope: &Scope,
    view: Option<&domain::authz::TicketView>,
    id: CiId,
) -> Result<Vec<CiEvent>> {
    get(db, scope, id).await?;
    let rows = sqlx::query("SELECT at, actor_name, summary, before, after FROM ci_events WHERE ci_id = $1 ORDER BY at DESC, id DESC LIMIT 500")
        .bind(id.to_string())
        .fetch_all(&db.read)
        .await?;
    let mut events = Vec::with_capacity(rows.len());
    let mut ci_ids = BTreeSet::new();
    let mut ticket_keys = BTreeSet::new();
    for r in &rows {
        let json = |col: &str| -> Result<Option<Value>> {
            r.try_get::<Option<String>, _>(col)?
                .map(|s| serde_json::from_str(&s).map_err(corrupt))
                .transpose()
        };
        let (before, after) = (json("before")?, json("after")?);
        let removed = after.is_none();
        let reference = match after.or(before) {
            Some(Value::Object(m)) => Ref::of(&m),
            _ => None,
        };
        match &reference {
            Some(Ref::Relation { from, to, .. }) => {
                ci_ids.insert(from.clone());
                ci_ids.insert(to.clone());
            }
            Some(Ref::Ticket(k)) => {
                ticket_keys.insert(k.clone());
            }
            None => {}
        }
        events.push((
            CiEvent {
                at: r.try_get("at")?,
                actor_name: r.try_get("actor_name")?,
                summary: r.try_get("summary")?,
            },
            reference,
            removed,
        ));
    }
    let names = crate::refs::cis(db, scope, &ci_ids.into_iter().collect::<Vec<_>>()).await?;
    let seen = crate::refs::tickets(db, view, &ticket_keys.into_iter().collect::<Vec<_>>()).await?;
    Ok(events
        .into_iter()
        .map(|(mut e, reference, removed)| {
            match reference {
                Some(Ref::Relation { from, to, kind }) => {
                    e.summary = relation_summary(
                        &crate::refs::ci_label(&names, &from),
                        kind,
                        &crate::refs::ci_label(&names, &to),
                        removed,
                    );
                }
                Some(Ref::Ticket(k)) => {
                    let what = match seen.get(&k) {
                        Some(crate::refs::SeenTicket::Visible { number, subject }) => {
                            format!("ticket #{number}: {subject}")
                        }
                        Some(crate::refs::SeenTicket::Hidden(w)) => (*w).to_owned(),
                        None => domain::authz::hidden::TICKET.to_owned(),
                    };
                    e.summary = if removed {
                        format!("No longer linked to {what}")
                    } else {
                        format!("Linked to {what}")
                    };
                }
                None => {}
            }
            e
        })
        .collect())
}

/// What a history row refers to besides its own item.
enum Ref {
    Relation {
        from: String,
        to: String,
        kind: RelationKind,
    },
    Ticket(crate::refs::TicketKey),
}

impl Ref {
    fn of(m: &Map<String, Value>) -> Option<Self> {
        if let (Some(Value::String(from)), Some(Value::String(to)), Some(Value::String(kind))) =
            (m.get("from_ci"), m.get("to_ci"), m.get("kind"))
        {
            return Some(Self::Relation {
                from: from.clone(),
                to: to.clone(),
                kind: RelationKind::parse(kind).ok()?,
            });
        }
        if m.keys().all(|k| k == "ticket_id" || k == "ticket")
            && let Some(v) = m.get("ticket_id").or_else(|| m.get("ticket"))
        {
            return crate::refs::TicketKey::from_json(v).map(Self::Ticket);
        }
        None
    }
}
