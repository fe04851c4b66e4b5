//! Ticket queues and lists, with their filters, and bulk updates.

use super::ticket::options;
use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::TicketQuery;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::extract::encode_cursor;
use crate::page::{Frame, local_time, render};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::desk::{Approval, Priority, Status};
use domain::ids::UserId;
use store::desk::tickets::{self, Changes, Ticket};

pub fn routes(t: Table) -> Table {
    t.get(
        "/tickets",
        "Ticket queues and lists",
        Needs::Perm(Permission::TicketRead),
        list,
    )
    .post(
        "/tickets/bulk",
        "Update several tickets at once",
        Needs::Perm(Permission::TicketWork),
        bulk,
    )
}

/// How a deadline reads on a page.
pub(super) fn due_text(t: &Ticket, tz: &str) -> (String, &'static str) {
    if t.sla.resolution_breached || t.sla.response_breached {
        let when = t
            .sla
            .next_due_at
            .map(|d| format!(" — was due {}", local_time(d, tz)))
            .unwrap_or_default();
        return (format!("Breached{when}"), "breached");
    }
    if t.status.is_done() {
        return ("Met".into(), "met");
    }
    match t.sla.next_due_at {
        None if t.approval == Approval::Pending => ("Awaiting approval".into(), "paused"),
        None => ("Paused".into(), "paused"),
        Some(d) if t.sla.at_risk => (format!("At risk — due {}", local_time(d, tz)), "at-risk"),
        Some(d) => (format!("Due {}", local_time(d, tz)), "on-track"),
    }
}

struct Row {
    number: i64,
    subject: String,
    org: String,
    priority: &'static str,
    priority_code: &'static str,
    status: &'static str,
    assignee: String,
    requester: String,
    due: String,
    due_class: &'static str,
}

struct View {
    key: &'static str,
    label: &'static str,
    href: String,
    current: bool,
}

#[derive(Template)]
#[template(path = "desk/tickets.html")]
struct ListPage {
    f: Frame,
    rows: Vec<Row>,
    views: Vec<View>,
    desk: bool,
    q: TicketQuery,
    statuses: Vec<(String, String)>,
    priorities: Vec<(String, String)>,
    members: Vec<(String, String)>,
    agents: Vec<(String, String)>,
    next: Option<String>,
    can_submit: bool,
    empty_text: String,
    /// `open`, `done` or `any`: which tickets the list shows, as the filter form says it.
    open: String,
}

fn query_string(q: &TicketQuery) -> String {
    serde_urlencoded::to_string(q).unwrap_or_default()
}

/// The "All open" tab: said explicitly, so that it is not taken for a first visit (which shows the first tab).
fn all_open() -> TicketQuery {
    TicketQuery {
        open: Some("open".into()),
        ..Default::default()
    }
}

/// Which tickets a query lists by openness: `open` unless it says otherwise.
fn openness(q: &TicketQuery) -> &str {
    q.open
        .as_deref()
        .filter(|o| !o.is_empty())
        .unwrap_or("open")
}

async fn list(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(mut q): PageQueryString<TicketQuery>,
) -> PageResult<Response> {
    let view = p.ticket_view()?;
    let desk = p.is_desk();
    let member_admin = !view.all.is_empty();
    let notice = q.notice.take();
    // Saved views: a named set of filters.
    let preset = q.q.is_none()
        && q.status.is_none()
        && q.assignee.is_none()
        && q.requester.is_none()
        && q.at_risk.is_none()
        && q.approval.is_none();
    let mut views = Vec::new();
    let mut add = |key: &'static str, label: &'static str, query: TicketQuery| {
        views.push((key, label, query));
    };
    if desk {
        add(
            "mine",
            "Assigned to me",
            TicketQuery {
                assignee: Some("me".into()),
                ..Default::default()
            },
        );
        add(
            "unassigned",
            "Unassigned",
            TicketQuery {
                assignee: Some("none".into()),
                ..Default::default()
            },
        );
        add(
            "breaching",
            "Breaching soon",
            TicketQuery {
                at_risk: Some("true".into()),
                ..Default::default()
            },
        );
        add("open", "All open", all_open());
    } else {
        // Someone who cannot open tickets (an auditor) has no requests of their own to list.
        if !p.scope(Permission::TicketSubmit).is_empty() {
            add(
                "requested",
                "My requests",
                TicketQuery {
                    requester: Some("me".into()),
                    open: Some("any".into()),
                    sort: Some("newest".into()),
                    ..Default::default()
                },
            );
        }
        if member_admin {
            add("open", "All open", all_open());
            if !p.scope(Permission::TicketApprove).is_empty() {
                add(
                    "approval",
                    "Awaiting my approval",
                    TicketQuery {
                        approval: Some("pending".into()),
                        ..Default::default()
                    },
                );
            }
        }
    }
    if preset
        && q.org.is_none()
        && q.open.is_none()
        && q.sort.is_none()
        && q.cursor.is_none()
        && let Some((_, _, first)) = views.first()
    {
        q = first.clone();
    }
    let views: Vec<View> = views
        .into_iter()
        .map(|(key, label, vq)| {
            let current = vq.assignee == q.assignee
                && openness(&vq) == openness(&q)
                && vq.requester == q.requester
                && vq.at_risk == q.at_risk
                && vq.approval == q.approval
                && q.q.is_none()
                && q.status.is_none();
            View {
                key,
                label,
                href: format!("/tickets?{}", query_string(&vq)),
                current,
            }
        })
        .collect();
    let filter = match q.to_filter(&s, &p).await {
        Ok(f) => f,
        Err(e) => return Err(e.into()),
    };
    let page = q.page().to_request()?;
    let result = tickets::list(&s.db, &view, &filter, &page).await?;
    let mut people: Vec<UserId> = result
        .items
        .iter()
        .flat_map(|t| [Some(t.requester_id), t.assignee_id])
        .flatten()
        .collect();
    people.sort();
    people.dedup();
    let names = tickets::people_names(&s.db, &people).await?;
    let mut org_ids: Vec<_> = result.items.iter().map(|t| t.org_id).collect();
    org_ids.sort();
    org_ids.dedup();
    let orgs = tickets::org_labels(&s.db, &org_ids).await?;
    let rows = result
        .items
        .iter()
        .map(|t| {
            let org = orgs.get(&t.org_id);
            let tz = org.map_or("America/New_York", |o| o.time_zone.as_str());
            let (due, due_class) = due_text(t, tz);
            Row {
                number: t.number,
                subject: t.subject.clone(),
                org: org.map(|o| o.name.clone()).unwrap_or_default(),
                priority: t.priority.label(),
                priority_code: t.priority.as_str(),
                status: t.status.label(),
                assignee: t
                    .assignee_id
                    .and_then(|a| names.get(&a).cloned())
                    .unwrap_or_else(|| "—".into()),
                requester: names.get(&t.requester_id).cloned().unwrap_or_default(),
                due,
                due_class,
            }
        })
        .collect();
    let next = result.next_cursor.map(|c| {
        let mut nq = q.clone();
        nq.cursor = Some(encode_cursor(&c));
        format!("/tickets?{}", query_string(&nq))
    });
    let members = store::tenancy::orgs::names(&s.db, &p.scope(Permission::OrgRead), None, 400)
        .await?
        .into_iter()
        .map(|o| (o.slug, o.name))
        .collect();
    let agents = if desk {
        tickets::agents(&s.db)
            .await?
            .into_iter()
            .map(|(id, n)| (id.to_string(), n))
            .collect()
    } else {
        Vec::new()
    };
    let f = Frame::new(
        &s,
        &p,
        if desk { "Service desk" } else { "Tickets" },
        "tickets",
    )
    .await?
    .notice(notice.as_deref());
    let empty_text = if q.q.is_some() {
        "No ticket matches these words. Try fewer or different words.".to_owned()
    } else if desk {
        "Nothing in this view. Well done.".to_owned()
    } else {
        "No tickets here yet.".to_owned()
    };
    Ok(render(&ListPage {
        f,
        rows,
        views,
        desk,
        statuses: options(Status::ALL, Status::as_str, Status::label),
        priorities: options(Priority::ALL, Priority::as_str, Priority::label),
        members,
        agents,
        next,
        can_submit: !p.scope(Permission::TicketSubmit).is_empty(),
        empty_text,
        // A status decides openness by itself (see `TicketQuery::to_filter`).
        open: if q.status.as_deref().is_some_and(|s| !s.is_empty()) {
            "any".to_owned()
        } else {
            openness(&q).to_owned()
        },
        q,
    }))
}

/// Bulk update from the queue: the checked tickets get the chosen assignee and/or status.
async fn bulk(
    State(s): State<AppState>,
    p: Principal,
    Granted(work): Granted,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult<Response> {
    let view = p.ticket_view()?;
    let numbers: Vec<i64> = form
        .iter()
        .filter(|(k, _)| k == "ticket")
        .filter_map(|(_, v)| v.parse().ok())
        .collect();
    let get = |k: &str| {
        form.iter()
            .find(|(key, _)| key == k)
            .map(|(_, v)| v.clone())
            .filter(|v| !v.is_empty())
    };
    if numbers.is_empty() {
        return Err(Failure::Invalid(vec![domain::FieldError::new(
            "ticket",
            "choose at least one ticket",
        )])
        .into());
    }
    let assignee = match get("assignee_id").as_deref() {
        None => None,
        Some("me") => Some(Some(p.user.id)),
        Some("none") => Some(None),
        Some(v) => Some(Some(v.parse::<UserId>().map_err(|_| {
            Failure::Invalid(vec![domain::FieldError::new(
                "assignee_id",
                "is not a person",
            )])
        })?)),
    };
    let status = match get("status") {
        Some(v) => Some(Status::parse(&v).map_err(|e| Failure::Invalid(vec![e]))?),
        None => None,
    };
    let c = Changes {
        status,
        assignee,
        ..Changes::default()
    };
    if c.is_empty() {
        return Err(Failure::Invalid(vec![domain::FieldError::new(
            "status",
            "choose an assignee or a status to apply",
        )])
        .into());
    }
    let mut failed = Vec::new();
    for n in &numbers {
        if let Err(e) = tickets::update(&s.db, &view, &work, &p.actor(), *n, None, &c).await {
            failed.push(format!("#{n}: {}", Failure::from(e).detail()));
        }
    }
    if !failed.is_empty() {
        return Err(Failure::Invalid(
            failed
                .into_iter()
                .map(|m| domain::FieldError::new("ticket", m))
                .collect(),
        )
        .into());
    }
    let back = get("back")
        .filter(|b| b.starts_with("/tickets"))
        .unwrap_or_else(|| "/tickets".into());
    // The queue says so (a code of `page::notice_text`, never the caller's text), in place of the notice of
    // an earlier update the page still showed.
    let (path, query) = back.split_once('?').unwrap_or((back.as_str(), ""));
    let mut pairs: Vec<&str> = query
        .split('&')
        .filter(|kv| !kv.is_empty() && !kv.starts_with("notice="))
        .collect();
    pairs.push("notice=tickets-updated");
    Ok(Redirect::to(&format!("{path}?{}", pairs.join("&"))).into_response())
}
