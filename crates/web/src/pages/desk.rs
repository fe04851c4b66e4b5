//! Service desk pages: the ticket queues (agent workspace and the member's "my tickets"), a ticket with its
//! history and actions, opening a ticket from the catalog, and the catalog itself.

use super::{FormState, Frame, local_time, render, render_status};
use crate::AppState;
use crate::api::desk::{
    RawChanges, RawComment, RawDecision, RawRating, RawTicket, TicketQuery, apply_decision,
    apply_rating, comment, parse_changes, parse_number, parse_ticket,
};
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::encode_cursor;
use crate::routes::Table;
use askama::Template;
use axum::Form;
use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::desk::catalog::{FieldKind, FormField};
use domain::desk::{Approval, Impact, Priority, Source, Status, TicketKind, Urgency};
use domain::ids::{CatalogItemId, UserId};
use std::collections::{BTreeMap, HashMap};
use store::desk::catalog;
use store::desk::tickets::{self, Changes, Event, EventKind, Ticket};

pub fn routes(t: Table) -> Table {
    t.get("/tickets", "Ticket queues and lists", "ticket-read", list)
        .get(
            "/tickets/new",
            "Open a ticket (form)",
            "ticket-submit",
            new_form,
        )
        .post("/tickets", "Open a ticket", "ticket-submit", create)
        .post(
            "/tickets/bulk",
            "Update several tickets at once",
            "ticket-work",
            bulk,
        )
        .get(
            "/tickets/{number}",
            "A ticket with its history",
            "ticket-read",
            show,
        )
        .post(
            "/tickets/{number}/comments",
            "Reply or add an internal note",
            "ticket-submit",
            add_comment,
        )
        .post(
            "/tickets/{number}/update",
            "Work a ticket",
            "ticket-work",
            update,
        )
        .post(
            "/tickets/{number}/approval",
            "Approve or reject a request",
            "ticket-approve",
            decide,
        )
        .post(
            "/tickets/{number}/rating",
            "Rate a resolved ticket",
            "ticket-rate",
            rate,
        )
        .get("/catalog", "The service catalog", "signed-in", catalog_page)
        .post(
            "/tickets/{number}/watchers",
            "Add a watcher",
            "ticket-submit",
            add_watcher,
        )
        .post(
            "/tickets/{number}/links",
            "Link another ticket",
            "ticket-work",
            add_link,
        )
        .post(
            "/tickets/{number}/merge",
            "Merge into another ticket",
            "ticket-work",
            merge,
        )
        .post(
            "/tickets/{number}/time",
            "Log time on a ticket",
            "time-log",
            log_time,
        )
        .post(
            "/tickets/{number}/attachments",
            "Attach a file from the ticket page (multipart form)",
            "ticket-submit",
            upload,
        )
        .get(
            "/tickets/{number}/attachments/{id}",
            "Download a ticket's file",
            "ticket-read",
            download,
        )
        .post(
            "/tickets/{number}/timer",
            "Start or stop your timer on a ticket",
            "time-log",
            toggle_timer,
        )
}

/// A file attached through the ticket page's form (`multipart/form-data`, field `file`).
async fn upload(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    mut form: axum::extract::Multipart,
) -> PageResult<Response> {
    p.require(Permission::TicketSubmit)?;
    let number = parse_number(&number)?;
    let mut file = None;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(
                    Failure::BadRequest(format!("the upload could not be read: {e}")).into(),
                );
            }
        };
        if field.name() == Some("file") {
            let name = field.file_name().unwrap_or("").to_owned();
            let ct = field.content_type().map(str::to_owned);
            let bytes = field
                .bytes()
                .await
                .map_err(|e| Failure::BadRequest(format!("the upload could not be read: {e}")))?;
            file = Some((name, ct, bytes));
        }
    }
    let result = match &file {
        Some((name, ct, bytes)) if !name.is_empty() => {
            crate::api::desk::store_upload(&s, &p, number, Some(name), ct.as_deref(), bytes).await
        }
        _ => Err(Failure::Invalid(vec![domain::FieldError::new(
            "file",
            "choose a file to attach",
        )])),
    };
    match result {
        Ok(_) => {
            Ok(Redirect::to(&format!("/tickets/{number}?notice=attached#files")).into_response())
        }
        Err(e) => {
            // The form has one field: every complaint is about the file.
            let e = e.map_fields(|x| domain::FieldError::new("file", x.message));
            let st = FormState::with([]).fail(e)?;
            ticket_page(&s, &p, number, st, StatusCode::UNPROCESSABLE_ENTITY, None).await
        }
    }
}

fn options<T: Copy>(
    all: &[T],
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (value(*v).to_owned(), label(*v).to_owned()))
        .collect()
}

/// How a deadline reads on a page.
fn due_text(t: &Ticket, tz: &str) -> (String, &'static str) {
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
#[template(path = "tickets.html")]
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
}

fn query_string(q: &TicketQuery) -> String {
    serde_urlencoded::to_string(q).unwrap_or_default()
}

async fn list(
    State(s): State<AppState>,
    p: Principal,
    Query(mut q): Query<TicketQuery>,
) -> PageResult<Response> {
    let view = p.ticket_view()?;
    let desk = p.is_desk();
    let member_admin = !view.all.is_empty();
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
        add("open", "All open", TicketQuery::default());
    } else {
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
        if member_admin {
            add("open", "All open", TicketQuery::default());
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
    .await?;
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
        q,
    }))
}

// ---------------------------------------------------------------------------------------------------
// Opening

struct ItemView {
    id: String,
    name: String,
    description: String,
    cost: String,
    fields: Vec<FieldView>,
}

struct FieldView {
    name: String,
    label: String,
    input: &'static str,
    required: bool,
    choices: Vec<(String, String)>,
}

fn field_view(f: &FormField) -> FieldView {
    FieldView {
        name: format!("form_{}", f.key),
        label: f.label.clone(),
        input: match f.kind {
            FieldKind::Text => "text",
            FieldKind::Choice => "choice",
            FieldKind::Number => "number",
            FieldKind::Date => "date",
        },
        required: f.required,
        choices: f.choices.iter().map(|c| (c.clone(), c.clone())).collect(),
    }
}

/// "$1,299.00" from cents.
pub fn money(cents: i64) -> String {
    format!("${}.{:02}", super::fmt_int(cents / 100), cents % 100)
}

#[derive(Template)]
#[template(path = "ticket_new.html")]
struct NewPage {
    f: Frame,
    form: FormState,
    item: Option<ItemView>,
    kinds: Vec<(String, String)>,
    impacts: Vec<(String, String)>,
    urgencies: Vec<(String, String)>,
    services: Vec<(String, String)>,
}

#[derive(serde::Deserialize, Default)]
struct NewQuery {
    item: Option<String>,
}

async fn new_page(
    s: &AppState,
    p: &Principal,
    item: Option<CatalogItemId>,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    p.require(Permission::TicketSubmit)?;
    let item = match item {
        Some(id) => {
            let i = catalog::get_item(&s.db, id).await?;
            if !i.active {
                return Err(Failure::NotFound.into());
            }
            Some(ItemView {
                id: i.id.to_string(),
                name: i.name.clone(),
                description: i.description.clone(),
                cost: if i.cost_cents > 0 {
                    money(i.cost_cents)
                } else {
                    String::new()
                },
                fields: i.form.iter().map(field_view).collect(),
            })
        }
        None => None,
    };
    let services = catalog::list_services(&s.db, true)
        .await?
        .into_iter()
        .map(|s| (s.id.to_string(), s.name))
        .collect();
    let title = item.as_ref().map_or_else(
        || "Report a problem or ask for help".to_owned(),
        |i| format!("Request: {}", i.name),
    );
    let f = Frame::new(s, p, &title, "new-ticket")
        .await?
        .crumbs(&[("/catalog", "Service catalog")]);
    Ok(render_status(
        status,
        &NewPage {
            f,
            form,
            item,
            kinds: options(
                if p.is_desk() {
                    TicketKind::ALL
                } else {
                    &[TicketKind::Incident, TicketKind::ServiceRequest]
                },
                TicketKind::as_str,
                TicketKind::label,
            ),
            impacts: options(Impact::ALL, Impact::as_str, Impact::label),
            urgencies: options(Urgency::ALL, Urgency::as_str, Urgency::label),
            services,
        },
    ))
}

fn parse_item_id(raw: Option<&str>) -> Result<Option<CatalogItemId>, Failure> {
    match raw.map(str::trim).filter(|v| !v.is_empty()) {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| Failure::NotFound),
    }
}

async fn new_form(
    State(s): State<AppState>,
    p: Principal,
    Query(q): Query<NewQuery>,
) -> PageResult<Response> {
    let item = parse_item_id(q.item.as_deref())?;
    let form = FormState::with([
        ("kind", "incident".to_owned()),
        ("impact", "low".to_owned()),
        ("urgency", "medium".to_owned()),
    ]);
    new_page(&s, &p, item, form, StatusCode::OK).await
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let item = parse_item_id(form.get("catalog_item_id").map(String::as_str))?;
    let raw = RawTicket {
        kind: form.get("kind").cloned(),
        subject: form.get("subject").cloned(),
        description: form.get("description").cloned(),
        impact: form.get("impact").cloned(),
        urgency: form.get("urgency").cloned(),
        service_id: form.get("service_id").cloned(),
        catalog_item_id: item.map(|i| i.to_string()),
        form: form
            .iter()
            .filter_map(|(k, v)| k.strip_prefix("form_").map(|k| (k.to_owned(), v.clone())))
            .collect(),
        ..RawTicket::default()
    };
    let submit = p.require(Permission::TicketSubmit)?;
    let result = match parse_ticket(&s, &p, &raw, Source::Portal).await {
        Ok(new) => tickets::open(&s.db, &submit, &p.actor(), new)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(t) => Ok(Redirect::to(&format!("/tickets/{}?notice=opened", t.number)).into_response()),
        Err(e) => {
            let state = FormState::refill(form.clone()).fail(e)?;
            new_page(&s, &p, item, state, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// One ticket

struct EventView {
    at: String,
    who: String,
    kind: &'static str,
    internal: bool,
    body: String,
    changes: Vec<String>,
}

#[derive(Template)]
#[template(path = "ticket.html")]
struct TicketPage {
    f: Frame,
    t: Ticket,
    org_name: String,
    requester: String,
    assignee: String,
    service: String,
    item: String,
    answers: Vec<(String, String)>,
    response_due: String,
    resolution_due: String,
    due: String,
    due_class: &'static str,
    events: Vec<EventView>,
    desk: bool,
    can_reply: bool,
    /// The attachment limit, as people read it ("10 MB").
    max_upload: String,
    can_approve: bool,
    can_rate: bool,
    form: FormState,
    statuses: Vec<(String, String)>,
    impacts: Vec<(String, String)>,
    urgencies: Vec<(String, String)>,
    agents: Vec<(String, String)>,
    teams: Vec<(String, String)>,
    cost: String,
    /// Time logged on the ticket (for people who may read it).
    time: Option<TimeView>,
    /// (id, name, size) of the ticket's files.
    files: Vec<(String, String, String)>,
    /// Configuration items the ticket is about: (id, "name (type)"); and, for the desk, those it may be
    /// linked to.
    cis: Vec<(String, String)>,
    ci_choices: Vec<(String, String)>,
    watchers: Vec<String>,
    links: Vec<tickets::Link>,
    /// (id, title, body) for the desk's reply box.
    canned: Vec<(String, String, String)>,
    /// Knowledge-base articles linked to the ticket, and (for the desk) the ones that could be.
    articles: Vec<(String, String)>,
    article_choices: Vec<(String, String)>,
}

struct TimeView {
    entries: Vec<(String, String, String, &'static str, bool, String)>,
    total: String,
    can_log: bool,
    /// The person's running timer: on this ticket (true) or another (false).
    timer_here: Option<bool>,
    timer_started: String,
    activities: Vec<(String, String)>,
    today: String,
}

/// "1 h 05 min".
pub fn hours(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m:02} min"),
    }
}

fn change_line(field: &str, pair: &serde_json::Value, names: &BTreeMap<UserId, String>) -> String {
    let show = |v: &serde_json::Value| -> String {
        match v {
            serde_json::Value::Null => "none".into(),
            serde_json::Value::String(s) => {
                if let Ok(u) = s.parse::<UserId>()
                    && let Some(n) = names.get(&u)
                {
                    return n.clone();
                }
                Status::parse(s)
                    .map(|x| x.label().to_owned())
                    .or_else(|_| Priority::parse(s).map(|x| x.label().to_owned()))
                    .unwrap_or_else(|_| s.replace('_', " "))
            }
            other => other.to_string(),
        }
    };
    let label = field.replace("_id", "").replace('_', " ");
    match pair.as_array().map(Vec::as_slice) {
        Some([a, b]) => format!("{label}: {} → {}", show(a), show(b)),
        _ => format!("{label}: {pair}"),
    }
}

async fn ticket_page(
    s: &AppState,
    p: &Principal,
    number: i64,
    form: FormState,
    status: StatusCode,
    notice: Option<&str>,
) -> PageResult<Response> {
    let view = p.ticket_view()?;
    let t = tickets::get(&s.db, &view, number).await?;
    let events: Vec<Event> = tickets::history(&s.db, &view, number).await?;
    let ci_read = p.scope(Permission::CmdbRead);
    let linked = store::cmdb::ticket_items(&s.db, &view, &ci_read, number).await?;
    let ci_choices = if p.is_desk() {
        let mut choices = Vec::new();
        let hub = store::tenancy::orgs::hub(&s.db).await?.map(|h| h.id);
        for org in [Some(t.org_id), hub].into_iter().flatten() {
            let page = store::cmdb::list(
                &s.db,
                &ci_read,
                &store::cmdb::Filter {
                    org: Some(org),
                    ..Default::default()
                },
                &store::page::PageRequest::first(200),
            )
            .await?;
            choices.extend(
                page.items
                    .into_iter()
                    .filter(|c| !linked.iter().any(|l| l.id == c.id))
                    .map(|c| {
                        (
                            c.id.to_string(),
                            format!("{} ({}, {})", c.name, c.ci_type.label(), c.org_name),
                        )
                    }),
            );
        }
        choices
    } else {
        Vec::new()
    };
    let cis: Vec<(String, String)> = linked
        .into_iter()
        .map(|c| {
            (
                c.id.to_string(),
                format!("{} ({})", c.name, c.ci_type.label()),
            )
        })
        .collect();
    let mut ids: Vec<UserId> = events.iter().filter_map(|e| e.actor_id).collect();
    ids.push(t.requester_id);
    ids.extend(t.assignee_id);
    for e in &events {
        if let Some(serde_json::Value::Object(m)) = &e.data
            && let Some(serde_json::Value::Array(pair)) = m.get("assignee_id")
        {
            ids.extend(
                pair.iter()
                    .filter_map(|v| v.as_str()?.parse::<UserId>().ok()),
            );
        }
    }
    ids.sort();
    ids.dedup();
    let names = tickets::people_names(&s.db, &ids).await?;
    let org = tickets::org_labels(&s.db, &[t.org_id])
        .await?
        .remove(&t.org_id);
    let tz = org
        .as_ref()
        .map_or("America/New_York".to_owned(), |o| o.time_zone.clone());
    let service = match t.service_id {
        Some(sid) => catalog::get_service(&s.db, sid)
            .await
            .map(|x| x.name)
            .unwrap_or_default(),
        None => String::new(),
    };
    let item = match t.catalog_item_id {
        Some(iid) => catalog::get_item(&s.db, iid).await.ok(),
        None => None,
    };
    let answers = item
        .as_ref()
        .map(|i| {
            i.form
                .iter()
                .filter_map(|f| {
                    t.form_answers
                        .get(&f.key)
                        .map(|a| (f.label.clone(), a.clone()))
                })
                .collect()
        })
        .unwrap_or_default();
    let desk = p.scope(Permission::TicketWork).contains(t.org_id);
    let (due, due_class) = due_text(&t, &tz);
    let event_views = events
        .iter()
        .map(|e| EventView {
            at: local_time(e.at, &tz),
            who: e
                .actor_id
                .and_then(|a| names.get(&a).cloned())
                .unwrap_or_else(|| e.actor_name.clone()),
            kind: match e.kind {
                EventKind::Created => "opened the ticket",
                EventKind::Reply => "replied",
                EventKind::Note => "added an internal note",
                EventKind::Change => "changed",
                EventKind::Approval => "decided on approval",
                EventKind::Rating => "rated the service",
            },
            internal: !e.public,
            body: e.body.clone().unwrap_or_default(),
            changes: match &e.data {
                Some(serde_json::Value::Object(m)) => m
                    .iter()
                    .map(|(k, v)| {
                        if e.kind == EventKind::Rating {
                            format!("{k}: {v} of 5")
                        } else {
                            change_line(k, v, &names)
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            },
        })
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
    let teams = if desk {
        catalog::list_teams(&s.db)
            .await?
            .into_iter()
            .map(|t| (t.id.to_string(), t.name))
            .collect()
    } else {
        Vec::new()
    };
    let mut form = form;
    for (k, v) in [
        ("status", t.status.as_str().to_owned()),
        ("impact", t.impact.as_str().to_owned()),
        ("urgency", t.urgency.as_str().to_owned()),
        (
            "assignee_id",
            t.assignee_id.map(|a| a.to_string()).unwrap_or_default(),
        ),
        (
            "team_id",
            t.team_id.map(|a| a.to_string()).unwrap_or_default(),
        ),
    ] {
        form.values.entry(k.to_owned()).or_insert(v);
    }
    let time = if p.scope(Permission::TimeRead).contains(t.org_id) {
        let page = store::page::PageRequest::first(200);
        let f = store::desk::time::Filter {
            ticket_number: Some(t.number),
            ..Default::default()
        };
        let entries = store::desk::time::list(&s.db, &p.scope(Permission::TimeRead), &f, &page)
            .await?
            .items;
        let mut who: Vec<UserId> = entries.iter().map(|e| e.user_id).collect();
        who.sort();
        who.dedup();
        let who = tickets::people_names(&s.db, &who).await?;
        let timer = store::desk::time::timer(&s.db, p.user.id).await?;
        Some(TimeView {
            total: hours(entries.iter().map(|e| e.minutes).sum()),
            entries: entries
                .iter()
                .map(|e| {
                    (
                        e.work_date.to_string(),
                        who.get(&e.user_id).cloned().unwrap_or_default(),
                        hours(e.minutes),
                        e.activity.label(),
                        e.billable,
                        e.note.clone(),
                    )
                })
                .collect(),
            can_log: p.scope(Permission::TimeLog).contains(t.org_id),
            timer_here: timer.as_ref().map(|x| x.ticket_number == t.number),
            timer_started: timer
                .map(|x| local_time(x.started_at, &tz))
                .unwrap_or_default(),
            activities: options(
                domain::desk::Activity::ALL,
                domain::desk::Activity::as_str,
                domain::desk::Activity::label,
            ),
            today: crate::api::time::today().to_string(),
        })
    } else {
        None
    };
    let files = tickets::attachments(&s.db, &view, number)
        .await?
        .into_iter()
        .map(|a| {
            (
                a.id,
                a.filename,
                format!("{} KB", (a.size_bytes + 1023) / 1024),
            )
        })
        .collect();
    let watchers = tickets::watchers(&s.db, &view, number)
        .await?
        .into_iter()
        .map(|w| w.1)
        .collect();
    let links = tickets::links(&s.db, &view, number).await?;
    let canned = if desk {
        tickets::canned_replies(&s.db)
            .await?
            .into_iter()
            .map(|c| (c.id, c.title, c.body))
            .collect()
    } else {
        Vec::new()
    };
    let kb_reader = crate::api::kb::reader(p);
    let articles = store::desk::kb::for_ticket(&s.db, &kb_reader, t.id).await?;
    let article_choices = if desk {
        store::desk::kb::search(&s.db, &kb_reader, None, None, 200)
            .await?
            .into_iter()
            .map(|a| (a.id, a.title))
            .collect()
    } else {
        Vec::new()
    };
    let title = format!("#{} {}", t.number, t.subject);
    let f = Frame::new(s, p, &title, "tickets")
        .await?
        .crumbs(&[(
            "/tickets",
            if p.is_desk() {
                "Service desk"
            } else {
                "Tickets"
            },
        )])
        .notice(notice);
    let can_reply = !p.scope(Permission::TicketSubmit).is_empty() && t.status != Status::Closed;
    let can_approve =
        t.approval == Approval::Pending && p.scope(Permission::TicketApprove).contains(t.org_id);
    let can_rate = t.status.is_done()
        && t.requester_id == p.user.id
        && p.scope(Permission::TicketRate).contains(t.org_id);
    Ok(render_status(
        status,
        &TicketPage {
            cis,
            ci_choices,
            f,
            max_upload: crate::api::desk::size_label(
                store::desk::catalog::settings(&s.db)
                    .await?
                    .attachment_max_bytes,
            ),
            org_name: org.map(|o| o.name).unwrap_or_default(),
            requester: names.get(&t.requester_id).cloned().unwrap_or_default(),
            assignee: t
                .assignee_id
                .and_then(|a| names.get(&a).cloned())
                .unwrap_or_else(|| "Nobody yet".into()),
            service,
            item: item.map(|i| i.name).unwrap_or_default(),
            answers,
            response_due: t.first_response_at.map_or_else(
                || {
                    t.sla
                        .response_due_at
                        .map(|d| format!("due {}", local_time(d, &tz)))
                        .unwrap_or_else(|| "paused".into())
                },
                |r| format!("responded {}", local_time(r, &tz)),
            ),
            resolution_due: t.resolved_at.map_or_else(
                || {
                    t.sla
                        .resolution_due_at
                        .map(|d| format!("due {}", local_time(d, &tz)))
                        .unwrap_or_else(|| "paused".into())
                },
                |r| format!("resolved {}", local_time(r, &tz)),
            ),
            due,
            due_class,
            events: event_views,
            desk,
            can_reply,
            can_approve,
            can_rate,
            form,
            statuses: options(Status::ALL, Status::as_str, Status::label),
            impacts: options(Impact::ALL, Impact::as_str, Impact::label),
            urgencies: options(Urgency::ALL, Urgency::as_str, Urgency::label),
            agents,
            teams,
            cost: if t.cost_cents > 0 {
                money(t.cost_cents)
            } else {
                String::new()
            },
            time,
            files,
            watchers,
            links,
            canned,
            articles,
            article_choices,
            t,
        },
    ))
}

#[derive(serde::Deserialize, Default)]
struct ShowQuery {
    notice: Option<String>,
}

async fn show(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Query(q): Query<ShowQuery>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    ticket_page(
        &s,
        &p,
        number,
        FormState::default(),
        StatusCode::OK,
        q.notice.as_deref(),
    )
    .await
}

async fn after(
    s: &AppState,
    p: &Principal,
    number: i64,
    result: Result<(), Failure>,
    notice: &str,
    form: HashMap<String, String>,
) -> PageResult<Response> {
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/tickets/{number}?notice={notice}#history")).into_response())
        }
        Err(e) => {
            let state = FormState::refill(form).fail(e)?;
            ticket_page(s, p, number, state, StatusCode::UNPROCESSABLE_ENTITY, None).await
        }
    }
}

async fn add_comment(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let internal = form.get("visibility").is_some_and(|v| v == "internal");
    let mut body = form.get("body").cloned();
    // Without JavaScript, a chosen canned reply stands in for an empty message box.
    if body.as_deref().is_none_or(|b| b.trim().is_empty())
        && let Some(id) = form.get("canned").filter(|c| !c.is_empty())
        && p.is_desk()
    {
        body = tickets::canned_replies(&s.db)
            .await?
            .into_iter()
            .find(|c| &c.id == id)
            .map(|c| c.body);
    }
    let raw = RawComment { body, internal };
    let r = comment(&s, &p, number, &raw).await.map(|_| ());
    after(
        &s,
        &p,
        number,
        r,
        if internal { "noted" } else { "replied" },
        form,
    )
    .await
}

async fn update(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let work = p.require(Permission::TicketWork)?;
    let view = p.ticket_view()?;
    let current = tickets::get(&s.db, &view, number).await?;
    let field = |k: &str| form.get(k).cloned();
    let raw = RawChanges {
        status: field("status").filter(|v| v != current.status.as_str()),
        impact: field("impact"),
        urgency: field("urgency"),
        assignee_id: Some(field("assignee_id").filter(|v| !v.is_empty())),
        team_id: Some(field("team_id").filter(|v| !v.is_empty())),
        ..RawChanges::default()
    };
    let r = match parse_changes(&raw) {
        Ok(c) => {
            let version = form.get("version").and_then(|v| v.parse().ok());
            tickets::update(&s.db, &view, &work, &p.actor(), number, version, &c)
                .await
                .map(|_| ())
                .map_err(Failure::from)
        }
        Err(e) => Err(e),
    };
    after(&s, &p, number, r, "updated", form).await
}

async fn decide(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let raw = RawDecision {
        decision: form.get("decision").cloned(),
        reason: form.get("reason").cloned(),
    };
    let r = apply_decision(&s, &p, number, &raw).await.map(|_| ());
    after(&s, &p, number, r, "decided", form).await
}

async fn rate(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let score = match form
        .get("score")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(v) => Some(v.parse::<i64>().map_err(|_| {
            Failure::Invalid(vec![domain::FieldError::new(
                "score",
                "choose a score from 1 to 5",
            )])
        })?),
    };
    let raw = RawRating {
        score,
        comment: form.get("comment").cloned(),
    };
    let r = apply_rating(&s, &p, number, &raw).await.map(|_| ());
    after(&s, &p, number, r, "rated", form).await
}

/// Bulk update from the queue: the checked tickets get the chosen assignee and/or status.
async fn bulk(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult<Response> {
    let work = p.require(Permission::TicketWork)?;
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
    Ok(Redirect::to(&back).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Catalog

struct ServiceView {
    name: String,
    category: String,
    description: String,
    support_hours: String,
    items: Vec<(String, String, String, String)>,
}

#[derive(Template)]
#[template(path = "catalog.html")]
struct CatalogPage {
    f: Frame,
    services: Vec<ServiceView>,
    can_submit: bool,
}

async fn catalog_page(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    let services = catalog::list_services(&s.db, true).await?;
    let items = catalog::list_items(&s.db, None, true).await?;
    let views = services
        .into_iter()
        .map(|svc| ServiceView {
            items: items
                .iter()
                .filter(|i| i.service_id == svc.id)
                .map(|i| {
                    (
                        i.id.to_string(),
                        i.name.clone(),
                        i.description.clone(),
                        if i.cost_cents > 0 {
                            money(i.cost_cents)
                        } else {
                            String::new()
                        },
                    )
                })
                .collect(),
            name: svc.name,
            category: svc.category,
            description: svc.description,
            support_hours: svc.support_hours,
        })
        .collect();
    let f = Frame::new(&s, &p, "Service catalog", "catalog").await?;
    Ok(render(&CatalogPage {
        f,
        services: views,
        can_submit: !p.scope(Permission::TicketSubmit).is_empty(),
    }))
}

async fn log_time(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let minutes = match form
        .get("minutes")
        .map(|v| v.trim())
        .filter(|v| !v.is_empty())
    {
        None => None,
        Some(v) => match v.parse::<i64>() {
            Ok(m) => Some(m),
            Err(_) => {
                let state = FormState::refill(form.clone()).fail(Failure::Invalid(vec![
                    domain::FieldError::new("minutes", "must be a whole number of minutes"),
                ]))?;
                return ticket_page(
                    &s,
                    &p,
                    number,
                    state,
                    StatusCode::UNPROCESSABLE_ENTITY,
                    None,
                )
                .await;
            }
        },
    };
    let raw = crate::api::time::RawEntry {
        ticket: Some(number),
        minutes,
        activity: form.get("activity").cloned(),
        billable: Some(form.get("billable").is_some_and(|v| v == "true")),
        date: form.get("date").cloned(),
        note: form.get("note").cloned(),
    };
    let r = async {
        let scope = p.require(Permission::TimeLog)?;
        let e = crate::api::time::parse_entry(&raw, crate::api::time::today())?;
        store::desk::time::log_time(&s.db, &p.ticket_view()?, &scope, &p.actor(), p.user.id, &e)
            .await?;
        Ok::<(), Failure>(())
    }
    .await;
    after(&s, &p, number, r, "time", form).await
}

async fn toggle_timer(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let r = if form.get("action").is_some_and(|a| a == "discard") {
        p.require(Permission::TimeLog)?;
        store::desk::time::discard_timer(&s.db, p.user.id)
            .await
            .map(|_| ())
            .map_err(Failure::from)
    } else if form.get("action").is_some_and(|a| a == "stop") {
        crate::api::time::stop(&s, &p, form.get("note").map(String::as_str))
            .await
            .map(|_| ())
    } else {
        let raw = crate::api::time::RawTimer {
            ticket: Some(number),
            activity: form.get("activity").cloned(),
            billable: Some(true),
            note: None,
        };
        crate::api::time::start(&s, &p, &raw).await.map(|_| ())
    };
    after(&s, &p, number, r, "timer", form).await
}

async fn download(
    State(s): State<AppState>,
    p: Principal,
    Path((number, id)): Path<(String, String)>,
) -> PageResult<Response> {
    let (a, bytes) =
        tickets::attachment(&s.db, &p.ticket_view()?, parse_number(&number)?, &id).await?;
    Ok(crate::api::desk::file_response(&a, bytes))
}

async fn add_watcher(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let r =
        crate::api::desk::apply_add_watcher(&s, &p, number, form.get("email").map(String::as_str))
            .await;
    after(&s, &p, number, r, "updated", form).await
}

fn form_number(form: &HashMap<String, String>, field: &str) -> Result<Option<i64>, Failure> {
    match form
        .get(field)
        .map(|v| v.trim().trim_start_matches('#'))
        .filter(|v| !v.is_empty())
    {
        None => Ok(None),
        Some(v) => v.parse().map(Some).map_err(|_| {
            Failure::Invalid(vec![domain::FieldError::new(
                field,
                "must be a ticket number",
            )])
        }),
    }
}

async fn add_link(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let r = match form_number(&form, "other") {
        Ok(other) => {
            let raw = crate::api::desk::RawLink {
                other,
                kind: form.get("kind").cloned(),
            };
            crate::api::desk::apply_link(&s, &p, number, &raw).await
        }
        Err(e) => Err(e),
    };
    after(&s, &p, number, r, "updated", form).await
}

async fn merge(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let r = match form_number(&form, "into") {
        Ok(into) => crate::api::desk::apply_merge(&s, &p, number, into)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after(&s, &p, number, r, "updated", form).await
}
