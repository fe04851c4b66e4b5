//! History: the events of a ticket, named for pages, and the audit entries of ticket changes.

use super::*;

/// What one history entry records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
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
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
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
pub(super) async fn event(
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
pub(super) fn event_sql(
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
                id: r.id("id")?,
                at: r.try_get("at")?,
                actor_id: r.opt_id("actor_id")?,
                actor_name: r.try_get("actor_name")?,
                kind: EventKind::parse(&r.try_get::<String, _>("kind")?)?,
                public: r.flag("public")?,
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
pub(super) const LINK_PAIRS: [&str; 2] = ["link", "linked_from"];
/// Keys of a change that hold a ticket (a merge, seen from either side).
pub(super) const TICKET_REFS: [&str; 2] = ["merged_into", "merged_from"];

/// Names the other tickets that changes refer to — kept by id (by number in rows written before) — as
/// the view sees them: a ticket the reader may see by its number, any other by the words of
/// `domain::authz::hidden` (a link made by the desk may point at another member's ticket).
pub(super) async fn name_tickets(db: &Db, view: &TicketView, events: &mut [Event]) -> Result<()> {
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
pub(super) async fn audit(
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
pub(super) const CHANGE_ACTIONS: [(&str, &[&str]); 4] = [
    ("ticket.status", &["status"]),
    ("ticket.assign", &["assignee_id", "team_id"]),
    ("ticket.priority", &["impact", "urgency", "priority"]),
    ("ticket.classify", &["kind", "category", "service_id"]),
];

/// One audit entry per kind of change in `diff` (`{"field": [before, after], …}`).
pub(super) async fn audit_changes(
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
