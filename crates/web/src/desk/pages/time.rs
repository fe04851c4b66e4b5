//! The weekly timesheet: one person's (or a member's) time by ticket and day, with a CSV export.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{Frame, render};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::FieldError;
use domain::authz::Permission;
use domain::ids::UserId;
use jiff::ToSpan;
use jiff::civil::Date;
use std::collections::BTreeMap;
use store::desk::tickets;
use store::desk::time::{self, Filter};

pub fn routes(t: Table) -> Table {
    t.get(
        "/timesheet",
        "Weekly timesheet (CSV with ?format=csv)",
        Needs::Perm(Permission::TimeRead),
        timesheet,
    )
}

#[derive(serde::Deserialize, Default, schemars::JsonSchema)]
struct Q {
    /// Any date in the week.
    week: Option<String>,
    /// `me`, `all` or a person's id.
    user: Option<String>,
    format: Option<String>,
}

struct Line {
    number: i64,
    subject: String,
    days: Vec<String>,
    total: String,
}

#[derive(Template)]
#[template(path = "desk/timesheet.html")]
struct Page {
    f: Frame,
    heading: String,
    days: Vec<String>,
    lines: Vec<Line>,
    day_totals: Vec<String>,
    total: String,
    prev: String,
    next: String,
    csv: String,
    who: String,
    people: Vec<(String, String)>,
    week: String,
}

async fn timesheet(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    PageQueryString(q): PageQueryString<Q>,
) -> PageResult<Response> {
    let day: Date = match q.week.as_deref().map(str::trim).filter(|w| !w.is_empty()) {
        Some(w) => w.parse().map_err(|_| {
            Failure::Invalid(vec![FieldError::new(
                "week",
                "must be a date such as 2026-11-23",
            )])
        })?,
        None => crate::clock::today(),
    };
    let monday = day
        .checked_sub(i64::from(day.weekday().to_monday_zero_offset()).days())
        .map_err(|_| Failure::Invalid(vec![FieldError::new("week", "is out of range")]))?;
    let sunday = monday
        .checked_add(6.days())
        .map_err(|_| Failure::Invalid(vec![FieldError::new("week", "is out of range")]))?;
    let logs_time = !p.scope(Permission::TimeLog).is_empty();
    let who = q
        .user
        .clone()
        .unwrap_or_else(|| if logs_time { "me".into() } else { "all".into() });
    let user: Option<UserId> = match who.as_str() {
        "all" => None,
        "me" => Some(p.user.id),
        v => Some(
            v.parse()
                .map_err(|_| Failure::Invalid(vec![FieldError::new("user", "is not a person")]))?,
        ),
    };
    let f = Filter {
        user,
        from: Some(monday),
        to: Some(sunday),
        ..Default::default()
    };
    let mut entries = Vec::new();
    let mut page = store::page::PageRequest::first(200);
    loop {
        let r = time::list(&s.db, &scope, &f, &page).await?;
        entries.extend(r.items);
        match r.next_cursor {
            Some(c) if entries.len() < crate::page::CSV_MAX_ROWS => page.after = Some(c),
            _ => break,
        }
    }
    let mut ids: Vec<UserId> = entries.iter().map(|e| e.user_id).collect();
    ids.extend(tickets::agents(&s.db).await?.into_iter().map(|a| a.0));
    ids.sort();
    ids.dedup();
    let names = tickets::people_names(&s.db, &ids).await?;
    if q.format.as_deref() == Some("csv") {
        let orgs = {
            let mut o: Vec<_> = entries.iter().map(|e| e.org_id).collect();
            o.sort();
            o.dedup();
            tickets::org_labels(&s.db, &o).await?
        };
        return Ok(crate::page::csv_response(
            &format!("timesheet-{monday}.csv"),
            &[
                "date", "person", "member", "ticket", "subject", "minutes", "activity", "billable",
                "note",
            ],
            entries.iter().map(|e| {
                vec![
                    e.work_date.to_string(),
                    names.get(&e.user_id).cloned().unwrap_or_default(),
                    orgs.get(&e.org_id)
                        .map(|o| o.name.clone())
                        .unwrap_or_default(),
                    e.ticket_number.to_string(),
                    e.ticket_subject.clone(),
                    e.minutes.to_string(),
                    e.activity.as_str().to_owned(),
                    e.billable.to_string(),
                    e.note.clone(),
                ]
            }),
        ));
    }
    let mut grid: BTreeMap<i64, (String, [i64; 7])> = BTreeMap::new();
    let mut per_day = [0i64; 7];
    for e in &entries {
        let i = usize::try_from(e.work_date.weekday().to_monday_zero_offset())
            .unwrap_or(0)
            .min(6);
        let line = grid
            .entry(e.ticket_number)
            .or_insert_with(|| (e.ticket_subject.clone(), [0; 7]));
        line.1[i] += e.minutes;
        per_day[i] += e.minutes;
    }
    let cell = |m: i64| {
        if m == 0 {
            String::new()
        } else {
            super::ticket::hours(m)
        }
    };
    let lines = grid
        .into_iter()
        .map(|(number, (subject, d))| Line {
            number,
            subject,
            days: d.iter().map(|m| cell(*m)).collect(),
            total: super::ticket::hours(d.iter().sum()),
        })
        .collect();
    let days = (0..7)
        .filter_map(|i| monday.checked_add(i.days()).ok())
        .map(|d| d.strftime("%a %b %-d").to_string())
        .collect();
    let who_label = match user {
        None => "everyone".to_owned(),
        Some(u) if u == p.user.id => "you".to_owned(),
        Some(u) => names
            .get(&u)
            .cloned()
            .unwrap_or_else(|| "this person".into()),
    };
    let link = |d: Date| format!("/timesheet?week={d}&user={who}");
    let people = if logs_time {
        let mut v = vec![
            ("me".to_owned(), "Me".to_owned()),
            ("all".to_owned(), "Everyone".to_owned()),
        ];
        v.extend(
            tickets::agents(&s.db)
                .await?
                .into_iter()
                .map(|(id, n)| (id.to_string(), n)),
        );
        v
    } else {
        Vec::new()
    };
    let f = Frame::new(&s, &p, "Timesheet", "timesheet").await?;
    Ok(render(&Page {
        f,
        heading: format!("Week of {} — {who_label}", monday.strftime("%B %-d, %Y")),
        days,
        lines,
        day_totals: per_day.iter().map(|m| cell(*m)).collect(),
        total: super::ticket::hours(per_day.iter().sum()),
        prev: link(monday.checked_sub(7.days()).unwrap_or(monday)),
        next: link(monday.checked_add(7.days()).unwrap_or(monday)),
        csv: format!("/timesheet?week={monday}&user={who}&format=csv"),
        who,
        people,
        week: monday.to_string(),
    }))
}
