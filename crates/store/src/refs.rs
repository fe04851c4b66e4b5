//! Names of related records, resolved when they are read and within the reader's scope. History rows and
//! audit entries keep the other side of a link (a relationship's other item, a linked ticket, an article)
//! by id; what the reader may not read is shown with the fixed words of `domain::authz::hidden`, never by
//! its name, title or number.

use crate::row::Cols;
use crate::sql::Sql;
use crate::{Db, Result, Scope};
use domain::authz::{TicketView, hidden};
use sqlx::Row;
use std::collections::BTreeMap;

/// Configuration items by id: `Some(name)` when the scope may read the item, `None` otherwise.
pub(crate) async fn cis(
    db: &Db,
    scope: &Scope,
    ids: &[String],
) -> Result<BTreeMap<String, Option<String>>> {
    let mut out: BTreeMap<String, Option<String>> = ids.iter().map(|i| (i.clone(), None)).collect();
    if out.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::new("SELECT c.id, c.name FROM cis c WHERE c.id IN (");
    in_list(&mut q, out.keys().cloned());
    q.push(")");
    crate::cmdb::visible(&mut q, "c.org_id", scope);
    for r in q.fetch_all(&db.read).await? {
        out.insert(r.try_get("id")?, Some(r.try_get("name")?));
    }
    Ok(out)
}

/// The label of an item resolved by [`cis`].
pub(crate) fn ci_label(names: &BTreeMap<String, Option<String>>, id: &str) -> String {
    names
        .get(id)
        .cloned()
        .flatten()
        .unwrap_or_else(|| hidden::ITEM.to_owned())
}

/// How a ticket is referred to: by its id (new records) or its number (records written before ids).
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum TicketKey {
    Id(String),
    Number(i64),
}

impl TicketKey {
    /// A stored reference: a number, or a string holding a ticket id.
    pub(crate) fn from_json(v: &serde_json::Value) -> Option<Self> {
        match v {
            serde_json::Value::Number(n) => n.as_i64().map(Self::Number),
            serde_json::Value::String(s) if s.parse::<domain::ids::TicketId>().is_ok() => {
                Some(Self::Id(s.clone()))
            }
            _ => None,
        }
    }
}

/// A referenced ticket as the reader may see it.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum SeenTicket {
    Visible {
        number: i64,
        subject: String,
    },
    /// Not visible; the words that stand for it.
    Hidden(&'static str),
}

impl SeenTicket {
    /// The ticket's number as JSON when visible, else the words that stand for it.
    pub(crate) fn json(&self) -> serde_json::Value {
        match self {
            Self::Visible { number, .. } => serde_json::json!(number),
            Self::Hidden(w) => serde_json::json!(w),
        }
    }
}

/// Tickets by id or number, as `view` sees them (no view: none is visible). A ticket of an organisation
/// where the reader sees some tickets is "a ticket you cannot see"; one elsewhere, or gone, "a ticket of
/// another organisation".
pub(crate) async fn tickets(
    db: &Db,
    view: Option<&TicketView>,
    keys: &[TicketKey],
) -> Result<BTreeMap<TicketKey, SeenTicket>> {
    let mut out: BTreeMap<TicketKey, SeenTicket> = keys
        .iter()
        .map(|k| (k.clone(), SeenTicket::Hidden(hidden::TICKET)))
        .collect();
    if out.is_empty() {
        return Ok(out);
    }
    let ids: Vec<String> = out
        .keys()
        .filter_map(|k| match k {
            TicketKey::Id(i) => Some(i.clone()),
            TicketKey::Number(_) => None,
        })
        .collect();
    let numbers: Vec<i64> = out
        .keys()
        .filter_map(|k| match k {
            TicketKey::Number(n) => Some(*n),
            TicketKey::Id(_) => None,
        })
        .collect();
    let select = |filtered: bool| {
        let mut q =
            Sql::new("SELECT t.id, t.number, t.subject, t.org_id FROM tickets t WHERE (1 = 0");
        if !ids.is_empty() {
            q.push(" OR t.id IN (");
            in_list(&mut q, ids.iter().cloned());
            q.push(")");
        }
        if !numbers.is_empty() {
            q.push(" OR t.number IN (");
            for (i, n) in numbers.iter().enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(*n);
            }
            q.push(")");
        }
        q.push(")");
        if filtered && let Some(v) = view {
            q.ticket_view(v);
        }
        q
    };
    // Every referenced ticket: which organisation it belongs to decides the words for a hidden one.
    for r in select(false).fetch_all(&db.read).await? {
        let org: domain::ids::OrgId = r.id("org_id")?;
        let words = match view {
            Some(v) if v.all.contains(org) || v.own.contains(org) => hidden::OWN_ORG_TICKET,
            _ => hidden::TICKET,
        };
        for k in keys_of(&r)? {
            if let Some(slot) = out.get_mut(&k) {
                *slot = SeenTicket::Hidden(words);
            }
        }
    }
    if view.is_some() {
        for r in select(true).fetch_all(&db.read).await? {
            let seen = SeenTicket::Visible {
                number: r.try_get("number")?,
                subject: r.try_get("subject")?,
            };
            for k in keys_of(&r)? {
                if let Some(slot) = out.get_mut(&k) {
                    *slot = seen.clone();
                }
            }
        }
    }
    Ok(out)
}

fn keys_of(r: &sqlx::any::AnyRow) -> Result<[TicketKey; 2]> {
    Ok([
        TicketKey::Id(r.try_get("id")?),
        TicketKey::Number(r.try_get("number")?),
    ])
}

/// Binds each value, comma-separated (the caller writes the parentheses).
pub(crate) fn in_list(q: &mut Sql, values: impl Iterator<Item = String>) {
    for (i, v) in values.enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(v);
    }
}
