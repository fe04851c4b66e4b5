//! Reading: one ticket and filtered, sorted lists within a `TicketView`.

use super::*;

pub async fn get(db: &Db, view: &TicketView, number: i64) -> Result<Ticket> {
    let mut q = Sql::new("SELECT t.* FROM tickets t WHERE t.number = ");
    q.bind(number);
    q.ticket_view(view);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(ticket)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// How a list of tickets is ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    /// Next SLA deadline first (queues).
    #[default]
    Due,
    /// Newest first.
    Newest,
}

/// Which open/closed tickets a list shows.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Openness {
    #[default]
    Open,
    Done,
    Any,
}

/// Filters of a ticket list; all optional.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub org: Option<OrgId>,
    pub openness: Openness,
    pub status: Option<Status>,
    pub priority: Option<Priority>,
    pub kind: Option<TicketKind>,
    pub service: Option<ServiceId>,
    pub team: Option<TeamId>,
    /// `Some(None)`: unassigned.
    pub assignee: Option<Option<UserId>>,
    pub requester: Option<UserId>,
    /// Only tickets at risk or breached.
    pub at_risk: bool,
    pub approval: Option<Approval>,
    /// Full-text query over subject, description and replies.
    pub text: Option<String>,
    pub sort: Sort,
}

/// A page of tickets the view sees, filtered and sorted; the cursor is `due:number` or `number`.
pub async fn list(
    db: &Db,
    view: &TicketView,
    f: &Filter,
    page: &PageRequest,
) -> Result<Page<Ticket>> {
    let mut q = Sql::new("SELECT t.* FROM tickets t");
    if let Some(text) = f.text.as_deref() {
        search::join(&mut q, db.backend(), text);
    } else {
        q.push(" WHERE 1 = 1");
    }
    q.ticket_view(view);
    // A status decides openness by itself. For one member, openness is said through the statuses, so
    // that the index on (org_id, status, sla_due_at) serves the member's queue without reading other
    // members' tickets (there is no index on (org_id, is_open): issue 13); across the region, `is_open`
    // lets the index on (is_open, sla_due_at) serve it.
    let openness = match f.status {
        Some(s) if f.openness != Openness::Any && s.is_done() != (f.openness == Openness::Done) => {
            // A status that contradicts the openness asked for: nothing matches.
            q.push(" AND 1 = 0");
            Openness::Any
        }
        Some(_) if f.org.is_some() => Openness::Any,
        Some(s) if s.is_done() => Openness::Done,
        Some(_) => Openness::Open,
        None => f.openness,
    };
    match (openness, f.org.is_some()) {
        (Openness::Any, _) => {}
        (Openness::Open, false) => {
            q.push(" AND t.is_open = 1");
        }
        (Openness::Done, false) => {
            q.push(" AND t.is_open = 0");
        }
        (wanted, true) => {
            let done = wanted == Openness::Done;
            q.push(" AND t.status IN (");
            let statuses = Status::ALL.iter().filter(|s| s.is_done() == done);
            for (i, s) in statuses.enumerate() {
                if i > 0 {
                    q.push(", ");
                }
                q.bind(s.as_str());
            }
            q.push(")");
        }
    }
    if let Some(o) = f.org {
        q.push(" AND t.org_id = ").bind(o.to_string());
    }
    if let Some(s) = f.status {
        q.push(" AND t.status = ").bind(s.as_str());
    }
    if let Some(p) = f.priority {
        q.push(" AND t.priority = ").bind(p.as_str());
    }
    if let Some(k) = f.kind {
        q.push(" AND t.kind = ").bind(k.as_str());
    }
    if let Some(s) = f.service {
        q.push(" AND t.service_id = ").bind(s.to_string());
    }
    if let Some(t) = f.team {
        q.push(" AND t.team_id = ").bind(t.to_string());
    }
    match f.assignee {
        Some(Some(u)) => {
            q.push(" AND t.assignee_id = ").bind(u.to_string());
        }
        Some(None) => {
            q.push(" AND t.assignee_id IS NULL");
        }
        None => {}
    }
    if let Some(r) = f.requester {
        q.push(" AND t.requester_id = ").bind(r.to_string());
    }
    if f.at_risk {
        q.push(" AND (t.at_risk = 1 OR t.response_breached = 1 OR t.resolution_breached = 1)");
    }
    if let Some(a) = f.approval {
        q.push(" AND t.approval = ").bind(a.as_str());
    }
    let bad_cursor = || {
        StoreError::Invalid(domain::Invalid::one(
            "cursor",
            "is not a cursor of this list",
        ))
    };
    match f.sort {
        Sort::Due => {
            if let Some(after) = &page.after {
                let (d, n) = after.split_once(':').ok_or_else(bad_cursor)?;
                let d: i64 = d.parse().map_err(|_| bad_cursor())?;
                let n: i64 = n.parse().map_err(|_| bad_cursor())?;
                q.push(" AND (t.sla_due_at > ")
                    .bind(d)
                    .push(" OR (t.sla_due_at = ")
                    .bind(d)
                    .push(" AND t.number > ")
                    .bind(n)
                    .push("))");
            }
            q.push(" ORDER BY t.sla_due_at, t.number");
        }
        Sort::Newest => {
            // With words to match, walk the search index newest first (its key is the ticket number), so
            // that the first page needs only the first matches, not all of them.
            let key = match (&f.text, db.backend()) {
                (Some(_), crate::Backend::Sqlite) => "f.rowid",
                (Some(_), crate::Backend::Postgres) => "f.number",
                (None, _) => "t.number",
            };
            if let Some(after) = &page.after {
                let n: i64 = after.parse().map_err(|_| bad_cursor())?;
                q.push(" AND ").push(key).push(" < ").bind(n);
            }
            q.push(" ORDER BY ").push(key).push(" DESC");
        }
    }
    q.push(" LIMIT ").bind(page.fetch());
    let items = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(ticket)
        .collect::<Result<Vec<_>>>()?;
    let sort = f.sort;
    Ok(Page::from_rows(items, page, move |t| match sort {
        Sort::Due => format!("{}:{}", t.sla.next_due_at.unwrap_or(NO_DUE), t.number),
        Sort::Newest => t.number.to_string(),
    }))
}
