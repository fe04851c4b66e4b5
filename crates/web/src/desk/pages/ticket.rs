//! The ticket page and what is done on it: replies, updates, approval, rating, time, watchers, links, merging, attachments.

use super::queue::due_text;
use super::request::money;
use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::{
    RawChanges, RawComment, RawDecision, RawRating, apply_decision, apply_rating, comment,
    parse_changes,
};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::extract::parse_number;
use crate::page::{FormState, Frame, local_time, render_status};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::desk::{Approval, Impact, Priority, Status, Urgency};
use domain::ids::UserId;
use std::collections::{BTreeMap, HashMap};
use store::desk::catalog;
use store::desk::tickets::{self, Event, EventKind, Ticket};

pub fn routes(t: Table) -> Table {
    t.get(
        "/tickets/{number}",
        "A ticket with its history",
        Needs::Perm(Permission::TicketRead),
        show,
    )
    .post(
        "/tickets/{number}/comments",
        "Reply or add an internal note",
        Needs::Perm(Permission::TicketSubmit),
        add_comment,
    )
    .post(
        "/tickets/{number}/update",
        "Work a ticket",
        Needs::Perm(Permission::TicketWork),
        update,
    )
    .post(
        "/tickets/{number}/approval",
        "Approve or reject a request",
        Needs::Perm(Permission::TicketApprove),
        decide,
    )
    .post(
        "/tickets/{number}/rating",
        "Rate a resolved ticket",
        Needs::Perm(Permission::TicketRate),
        rate,
    )
    .post(
        "/tickets/{number}/watchers",
        "Add a watcher",
        Needs::Perm(Permission::TicketSubmit),
        add_watcher,
    )
    .post(
        "/tickets/{number}/links",
        "Link another ticket",
        Needs::Perm(Permission::TicketWork),
        add_link,
    )
    .post(
        "/tickets/{number}/merge",
        "Merge into another ticket",
        Needs::Perm(Permission::TicketWork),
        merge,
    )
    .post(
        "/tickets/{number}/time",
        "Log time on a ticket",
        Needs::Perm(Permission::TimeLog),
        log_time,
    )
    .post(
        "/tickets/{number}/attachments",
        "Attach a file from the ticket page (multipart form)",
        Needs::Perm(Permission::TicketSubmit),
        upload,
    )
    .get(
        "/tickets/{number}/attachments/{id}",
        "Download a ticket's file",
        Needs::Perm(Permission::TicketRead),
        download,
    )
    .post(
        "/tickets/{number}/timer",
        "Start or stop your timer on a ticket",
        Needs::Perm(Permission::TimeLog),
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
            crate::desk::ops::desk::store_upload(&s, &p, number, Some(name), ct.as_deref(), bytes)
                .await
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

pub(super) fn options<T: Copy>(
    all: &[T],
    value: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (value(*v).to_owned(), label(*v).to_owned()))
        .collect()
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
#[template(path = "desk/ticket.html")]
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

impl EventView {
    fn of(e: &Event, names: &BTreeMap<UserId, String>, tz: &str) -> Self {
        EventView {
            at: local_time(e.at, tz),
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
                            change_line(k, v, names)
                        }
                    })
                    .collect(),
                _ => Vec::new(),
            },
        }
    }
}

/// Where a target stands: met ("responded Dec 8, 09:12"), running ("due …") or paused.
fn target_line(met: Option<i64>, due: Option<i64>, verb: &str, tz: &str) -> String {
    match (met, due) {
        (Some(at), _) => format!("{verb} {}", local_time(at, tz)),
        (None, Some(d)) => format!("due {}", local_time(d, tz)),
        (None, None) => "paused".into(),
    }
}

/// Everyone the page names: the requester, the assignee, each entry's author and the people assignments
/// moved between.
fn people_named(t: &Ticket, events: &[Event]) -> Vec<UserId> {
    let mut ids: Vec<UserId> = events.iter().filter_map(|e| e.actor_id).collect();
    ids.push(t.requester_id);
    ids.extend(t.assignee_id);
    for e in events {
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
    ids
}

/// The items the desk may link the ticket to: its member's and the hub's, less those already linked.
async fn ci_choices(
    s: &AppState,
    ci_read: &store::Scope,
    t: &Ticket,
    linked: &[store::cmdb::Ci],
) -> Result<Vec<(String, String)>, crate::error::Failure> {
    let mut choices = Vec::new();
    let hub = store::tenancy::orgs::hub(&s.db).await?.map(|h| h.id);
    for org in [Some(t.org_id), hub].into_iter().flatten() {
        let page = store::cmdb::list(
            &s.db,
            ci_read,
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
    Ok(choices)
}

/// What the desk works a ticket with: agents and teams to assign, canned replies, articles to link.
#[derive(Default)]
struct DeskControls {
    agents: Vec<(String, String)>,
    teams: Vec<(String, String)>,
    canned: Vec<(String, String, String)>,
    article_choices: Vec<(String, String)>,
}

impl DeskControls {
    async fn load(s: &AppState, p: &Principal) -> Result<Self, crate::error::Failure> {
        Ok(Self {
            agents: tickets::agents(&s.db)
                .await?
                .into_iter()
                .map(|(id, n)| (id.to_string(), n))
                .collect(),
            teams: catalog::list_teams(&s.db)
                .await?
                .into_iter()
                .map(|t| (t.id.to_string(), t.name))
                .collect(),
            canned: tickets::canned_replies(&s.db)
                .await?
                .into_iter()
                .map(|c| (c.id, c.title, c.body))
                .collect(),
            article_choices: store::desk::kb::search(
                &s.db,
                &crate::desk::ops::kb::reader(p),
                None,
                None,
                200,
            )
            .await?
            .into_iter()
            .map(|a| (a.id, a.title))
            .collect(),
        })
    }
}

impl TimeView {
    /// The time logged on `t`, for someone who may read it.
    async fn load(
        s: &AppState,
        p: &Principal,
        t: &Ticket,
        tz: &str,
    ) -> Result<Self, crate::error::Failure> {
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
        Ok(TimeView {
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
                .map(|x| local_time(x.started_at, tz))
                .unwrap_or_default(),
            activities: options(
                domain::desk::Activity::ALL,
                domain::desk::Activity::as_str,
                domain::desk::Activity::label,
            ),
            today: crate::clock::today().to_string(),
        })
    }
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
        ci_choices(s, &ci_read, &t, &linked).await?
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
    let names = tickets::people_names(&s.db, &people_named(&t, &events)).await?;
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
        .map(|e| EventView::of(e, &names, &tz))
        .collect();
    let work = if desk {
        DeskControls::load(s, p).await?
    } else {
        DeskControls::default()
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
        Some(TimeView::load(s, p, &t, &tz).await?)
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
    let kb_reader = crate::desk::ops::kb::reader(p);
    let articles = store::desk::kb::for_ticket(&s.db, &kb_reader, t.id).await?;
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
            max_upload: crate::download::size_label(
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
            response_due: target_line(t.first_response_at, t.sla.response_due_at, "responded", &tz),
            resolution_due: target_line(t.resolved_at, t.sla.resolution_due_at, "resolved", &tz),
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
            agents: work.agents,
            teams: work.teams,
            cost: if t.cost_cents > 0 {
                money(t.cost_cents)
            } else {
                String::new()
            },
            time,
            files,
            watchers,
            links,
            canned: work.canned,
            articles,
            article_choices: work.article_choices,
            t,
        },
    ))
}

#[derive(serde::Deserialize, Default, schemars::JsonSchema)]
struct ShowQuery {
    notice: Option<String>,
}

async fn show(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    PageQueryString(q): PageQueryString<ShowQuery>,
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

pub(super) async fn update(
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

async fn log_time(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
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
    let raw = crate::desk::ops::time::RawEntry {
        ticket: Some(number),
        minutes,
        activity: form.get("activity").cloned(),
        billable: Some(form.get("billable").is_some_and(|v| v == "true")),
        date: form.get("date").cloned(),
        note: form.get("note").cloned(),
    };
    let r = async {
        let e = crate::desk::ops::time::parse_entry(&raw, crate::clock::today())?;
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
        store::desk::time::discard_timer(&s.db, p.user.id)
            .await
            .map(|_| ())
            .map_err(Failure::from)
    } else if form.get("action").is_some_and(|a| a == "stop") {
        crate::desk::ops::time::stop(&s, &p, form.get("note").map(String::as_str))
            .await
            .map(|_| ())
    } else {
        let raw = crate::desk::ops::time::RawTimer {
            ticket: Some(number),
            activity: form.get("activity").cloned(),
            billable: Some(true),
            note: None,
        };
        crate::desk::ops::time::start(&s, &p, &raw)
            .await
            .map(|_| ())
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
    Ok(crate::download::file_response(&a, bytes))
}

async fn add_watcher(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = parse_number(&number)?;
    let r = crate::desk::ops::desk::apply_add_watcher(
        &s,
        &p,
        number,
        form.get("email").map(String::as_str),
    )
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
            let raw = crate::desk::ops::desk::RawLink {
                other,
                kind: form.get("kind").cloned(),
            };
            crate::desk::ops::desk::apply_link(&s, &p, number, &raw).await
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
        Ok(into) => crate::desk::ops::desk::apply_merge(&s, &p, number, into)
            .await
            .map(|_| ()),
        Err(e) => Err(e),
    };
    after(&s, &p, number, r, "updated", form).await
}
