//! The calendar page: an organisation's days off, and its local closure days.

use crate::AppState;
use crate::auth::Principal;
use crate::error::PageResult;
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, PageQuery, render_status};
use crate::routes::{Needs, Table};
use crate::tenancy::ops::calendar::{RangeQuery, RawClosure, add, days_off_in, remove};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::calendar::DayOffSource;
use std::collections::HashMap;

pub fn routes(t: Table) -> Table {
    t.get(
        "/orgs/{slug}/calendar",
        "Days off: holidays and closure days",
        Needs::Perm(Permission::OrgRead),
        page,
    )
    .post(
        "/orgs/{slug}/calendar",
        "Add a closure day",
        Needs::Perm(Permission::OrgSettingsWrite),
        add_day,
    )
    .post(
        "/orgs/{slug}/calendar/{date}/delete",
        "Remove a closure day",
        Needs::Perm(Permission::OrgSettingsWrite),
        remove_day,
    )
}

struct Row {
    date: String,
    label: String,
    name: String,
    kind: &'static str,
    local: bool,
}

#[derive(Template)]
#[template(path = "tenancy/calendar.html")]
struct CalendarPage {
    f: Frame,
    slug: String,
    org_name: String,
    rules: String,
    from: String,
    to: String,
    days: Vec<Row>,
    can_edit: bool,
    form: FormState,
}

async fn render_page(
    s: &AppState,
    p: &Principal,
    slug: &str,
    notice: Option<&str>,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let (org, days, from, to) = days_off_in(s, p, slug, &RangeQuery::default()).await?;
    let rows = days
        .into_iter()
        .map(|d| Row {
            date: d.date.to_string(),
            label: d.date.strftime("%a %b %-d, %Y").to_string(),
            name: d.name,
            kind: match d.source {
                DayOffSource::Federal => "US federal holiday",
                DayOffSource::Massachusetts => "Massachusetts holiday",
                DayOffSource::Local => "Closure day",
            },
            local: d.source == DayOffSource::Local,
        })
        .collect();
    let rules = match (org.holiday_rules.federal, org.holiday_rules.massachusetts) {
        (true, true) => "US federal and Massachusetts",
        (true, false) => "US federal",
        (false, true) => "Massachusetts",
        (false, false) => "none",
    }
    .to_owned();
    let f = Frame::new(s, p, &format!("Calendar of {}", org.name), "settings")
        .await?
        .crumbs(&[(&format!("/orgs/{}", org.slug), &org.name)])
        .notice(notice);
    let can_edit = p.scope(Permission::OrgSettingsWrite).contains(org.id);
    Ok(render_status(
        status,
        &CalendarPage {
            f,
            slug: org.slug.to_string(),
            org_name: org.name,
            rules,
            from: from.to_string(),
            to: to.to_string(),
            days: rows,
            can_edit,
            form,
        },
    ))
}

async fn page(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    render_page(
        &s,
        &p,
        &slug,
        q.notice.as_deref(),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

async fn add_day(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawClosure {
        date: form.get("date").cloned(),
        name: form.get("name").cloned(),
    };
    match add(&s, &p, &slug, &raw).await {
        Ok(_) => Ok(Redirect::to(&format!("/orgs/{slug}/calendar?notice=created")).into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(e)?;
            render_page(&s, &p, &slug, None, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn remove_day(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, date)): Path<(String, String)>,
) -> PageResult<Response> {
    remove(&s, &p, &slug, &date).await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/calendar?notice=removed")).into_response())
}
