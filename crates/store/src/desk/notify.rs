//! Who hears about what: the desk's notification events, their recipients, and people's opt-outs. The
//! mail itself is written and sent by the job runner (`desk.notify` jobs, queued in the same transaction
//! as the change that caused them).

use super::tickets::{self, Ticket};
use crate::row::Cols;
use crate::{Db, Result};
use domain::authz::{Scope, TicketView};
use domain::ids::UserId;
use serde::Serialize;
use sqlx::{Any, Row, Transaction};

/// A notification event.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Event {
    /// To the requester: we have your ticket.
    Opened,
    /// To the requester and watchers: the desk replied.
    DeskReply,
    /// To the assignee: the requester (or a member) replied.
    MemberReply,
    /// To the requester: resolved, with a link to rate it.
    Resolved,
    /// To the member's administrators: a request that costs money awaits approval.
    ApprovalNeeded,
    /// To the assignee (or every agent when unassigned): 75% of a target used.
    SlaAtRisk,
    /// To the assignee (or every agent when unassigned): a target was missed.
    SlaBreached,
}

impl Event {
    pub const ALL: [Event; 7] = [
        Self::Opened,
        Self::DeskReply,
        Self::MemberReply,
        Self::Resolved,
        Self::ApprovalNeeded,
        Self::SlaAtRisk,
        Self::SlaBreached,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Opened => "opened",
            Self::DeskReply => "desk_reply",
            Self::MemberReply => "member_reply",
            Self::Resolved => "resolved",
            Self::ApprovalNeeded => "approval_needed",
            Self::SlaAtRisk => "sla_at_risk",
            Self::SlaBreached => "sla_breached",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Opened => "A ticket I opened is received",
            Self::DeskReply => "The service desk replies to my ticket",
            Self::MemberReply => "A requester replies to a ticket assigned to me",
            Self::Resolved => "My ticket is resolved",
            Self::ApprovalNeeded => "A request from my organisation awaits my approval",
            Self::SlaAtRisk => "A ticket of mine is at risk of missing its SLA",
            Self::SlaBreached => "A ticket of mine missed its SLA",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|e| e.as_str() == s)
    }
}

/// Queues a notification in the transaction of the change that causes it.
pub(crate) async fn queue(
    tx: &mut Transaction<'_, Any>,
    event: Event,
    number: i64,
    actor: Option<UserId>,
    reference: &str,
) -> Result<()> {
    queue_sql(event, number, actor, reference)
        .execute(&mut **tx)
        .await?;
    Ok(())
}

/// The statement [`queue`] runs, for batches.
pub(crate) fn queue_sql(
    event: Event,
    number: i64,
    actor: Option<UserId>,
    reference: &str,
) -> crate::sql::Sql {
    crate::jobs::enqueue_sql(
        "desk.notify",
        &serde_json::json!({ "number": number, "event": event.as_str(), "actor": actor.map(|a| a.to_string()), "ref": reference }),
        crate::now_ms(),
        Some(&format!(
            "desk.notify:{}:{number}:{reference}",
            event.as_str()
        )),
    )
}

/// Someone to write to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Recipient {
    pub id: UserId,
    pub name: String,
    pub email: String,
}

async fn people(db: &Db, sql: &str, bind: Option<&str>) -> Result<Vec<Recipient>> {
    let mut q = sqlx::query(sql);
    if let Some(b) = bind {
        q = q.bind(b);
    }
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Recipient {
                id: r.id("id")?,
                name: r.try_get("name")?,
                email: r.try_get("email")?,
            })
        })
        .collect()
}

/// The ticket and who should hear about `event` on it: active people, not the one who caused it, not
/// those who opted out; each once.
pub async fn recipients(
    db: &Db,
    number: i64,
    event: Event,
    actor: Option<UserId>,
) -> Result<(Ticket, Vec<Recipient>)> {
    let system = TicketView {
        all: Scope::Region,
        own: Scope::Orgs(Default::default()),
        user: UserId::new(),
        internal: true,
    };
    let t = tickets::get(db, &system, number).await?;
    let user = "SELECT id, name, email FROM users WHERE active = 1 AND id = $1";
    let mut list = match event {
        Event::Opened | Event::Resolved => people(db, user, Some(&t.requester_id.to_string())).await?,
        Event::DeskReply => {
            let mut v = people(db, user, Some(&t.requester_id.to_string())).await?;
            v.extend(
                people(
                    db,
                    "SELECT u.id, u.name, u.email FROM users u JOIN ticket_watchers w ON w.user_id = u.id WHERE u.active = 1 AND w.ticket_id = $1",
                    Some(&t.id.to_string()),
                )
                .await?,
            );
            v
        }
        Event::MemberReply | Event::SlaAtRisk | Event::SlaBreached => match t.assignee_id {
            Some(a) => people(db, user, Some(&a.to_string())).await?,
            None if event == Event::MemberReply => Vec::new(),
            None => {
                people(
                    db,
                    "SELECT DISTINCT u.id, u.name, u.email FROM users u JOIN grants g ON g.user_id = u.id JOIN orgs o ON o.id = g.org_id WHERE u.active = 1 AND o.is_hub = 1 AND g.role IN ('hub-admin', 'hub-agent')",
                    None,
                )
                .await?
            }
        },
        Event::ApprovalNeeded => {
            people(
                db,
                "SELECT DISTINCT u.id, u.name, u.email FROM users u JOIN grants g ON g.user_id = u.id WHERE u.active = 1 AND g.role = 'member-admin' AND g.org_id = $1",
                Some(&t.org_id.to_string()),
            )
            .await?
        }
    };
    let optouts: Vec<String> =
        sqlx::query("SELECT user_id FROM notification_optouts WHERE event = $1")
            .bind(event.as_str())
            .fetch_all(&db.read)
            .await?
            .iter()
            .map(|r| r.try_get("user_id"))
            .collect::<std::result::Result<_, _>>()?;
    list.retain(|r| Some(r.id) != actor && !optouts.contains(&r.id.to_string()));
    list.sort_by(|a, b| a.email.cmp(&b.email));
    list.dedup_by(|a, b| a.email == b.email);
    Ok((t, list))
}

/// The events a person has turned off.
pub async fn optouts(db: &Db, user: UserId) -> Result<Vec<Event>> {
    Ok(
        sqlx::query("SELECT event FROM notification_optouts WHERE user_id = $1")
            .bind(user.to_string())
            .fetch_all(&db.read)
            .await?
            .iter()
            .filter_map(|r| {
                r.try_get::<String, _>("event")
                    .ok()
                    .and_then(|e| Event::parse(&e))
            })
            .collect(),
    )
}

/// Sets which events a person hears about: everything not in `off` is on.
pub async fn set_optouts(
    db: &Db,
    actor: &crate::audit::Actor,
    user: UserId,
    off: &[Event],
) -> Result<()> {
    let before = optouts(db, user).await?;
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM notification_optouts WHERE user_id = $1")
        .bind(user.to_string())
        .execute(&mut *tx)
        .await?;
    for e in off {
        sqlx::query("INSERT INTO notification_optouts (user_id, event) VALUES ($1, $2) ON CONFLICT DO NOTHING")
            .bind(user.to_string())
            .bind(e.as_str())
            .execute(&mut *tx)
            .await?;
    }
    super::catalog::log(
        &mut tx,
        actor,
        None,
        "notifications.update",
        ("user", user.to_string()),
        Some(serde_json::json!({ "off": before })),
        Some(serde_json::json!({ "off": off })),
    )
    .await?;
    tx.commit().await?;
    Ok(())
}
