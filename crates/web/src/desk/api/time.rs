//! Time tracking over the API: entries, and a person's timer.

use crate::AppState;
use crate::auth::Principal;
use crate::clock::today;
use crate::desk::ops::time::{RawEntry, RawTimer, parse_entry, start, stop};
use crate::error::{ApiResult, Failure};
use crate::extract::date;
use crate::extract::{ApiJson, ApiQuery, PageParams, if_match};
use crate::json::{Answer, Body};
use crate::routes::{Granted, Needs, Table};
use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::{Permission, Role};
use domain::ids::UserId;
use domain::validation::Collector;
use serde::Deserialize;
use store::desk::time::{self, Filter};
use store::tenancy::orgs;

pub fn routes(t: Table) -> Table {
    t.get(
        "/api/v1/time-entries",
        "List time entries (yours, a person's, a member's, a ticket's)",
        Needs::Perm(Permission::TimeRead),
        list_entries,
    )
    .post(
        "/api/v1/time-entries",
        "Log time on a ticket",
        Needs::Perm(Permission::TimeLog),
        create_entry,
    )
    .delete(
        "/api/v1/time-entries/{id}",
        "Remove a time entry (your own)",
        Needs::Perm(Permission::TimeLog),
        delete_entry,
    )
    .get(
        "/api/v1/timer",
        "Your running timer, if any",
        Needs::Perm(Permission::TimeLog),
        get_timer,
    )
    .post(
        "/api/v1/timer/start",
        "Start a timer on a ticket",
        Needs::Perm(Permission::TimeLog),
        start_timer,
    )
    .post(
        "/api/v1/timer/stop",
        "Stop your timer and log its time",
        Needs::Perm(Permission::TimeLog),
        stop_timer,
    )
}

#[derive(Debug, Default, Clone, Deserialize, serde::Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TimeQuery {
    /// `me` or a person's id.
    pub user: Option<String>,
    /// Organisation slug.
    pub org: Option<String>,
    pub ticket: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub from: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub to: Option<String>,
    pub billable: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

impl TimeQuery {
    pub async fn to_filter(&self, s: &AppState, p: &Principal) -> Result<Filter, Failure> {
        let mut c = Collector::new();
        let ne = |v: &Option<String>| {
            v.as_deref()
                .map(str::trim)
                .filter(|x| !x.is_empty())
                .map(str::to_owned)
        };
        let mut f = Filter {
            user: match ne(&self.user).as_deref() {
                None => None,
                Some("me") => Some(p.user.id),
                Some(v) => c.take(
                    v.parse::<UserId>()
                        .map_err(|_| FieldError::new("user", "is not a person's id")),
                ),
            },
            ticket_number: match ne(&self.ticket) {
                None => None,
                Some(v) => c.take(
                    v.parse::<i64>()
                        .map_err(|_| FieldError::new("ticket", "is not a ticket number")),
                ),
            },
            from: ne(&self.from).and_then(|v| c.take(date("from", &v))),
            to: ne(&self.to).and_then(|v| c.take(date("to", &v))),
            billable: match ne(&self.billable).as_deref() {
                None => None,
                Some("true") => Some(true),
                Some("false") => Some(false),
                Some(_) => {
                    c.push(FieldError::new("billable", "must be true or false"));
                    None
                }
            },
            org: None,
        };
        if let Some(slug) = ne(&self.org) {
            match orgs::get_by_slug(&s.db, &p.scope(Permission::OrgRead), &slug).await {
                Ok(o) => f.org = Some(o.id),
                Err(store::StoreError::NotFound) => {
                    c.push(FieldError::new("org", "is not an organisation you can see"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        if let (Some(a), Some(b)) = (f.from, f.to)
            && a > b
        {
            c.push(FieldError::new("to", "must not be before from"));
        }
        c.finish()?;
        Ok(f)
    }

    pub fn page(&self) -> PageParams {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

async fn list_entries(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    ApiQuery(q): ApiQuery<TimeQuery>,
) -> ApiResult<Answer<impl Body>> {
    let f = q.to_filter(&s, &p).await?;
    Ok(Answer::page(
        time::list(&s.db, &scope, &f, &q.page().to_request()?).await?,
    ))
}

async fn create_entry(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    ApiJson(raw): ApiJson<RawEntry>,
) -> ApiResult<Answer<impl Body>> {
    let e = parse_entry(&raw, today())?;
    let out = time::log_time(&s.db, &p.ticket_view()?, &scope, &p.actor(), p.user.id, &e).await?;
    Ok(Answer::entity(StatusCode::CREATED, out.version, &out))
}

async fn delete_entry(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    headers: HeaderMap,
) -> ApiResult<Response> {
    time::delete(
        &s.db,
        &scope,
        &p.actor(),
        &id,
        p.has_role(Role::HubAdmin),
        if_match(&headers)?,
    )
    .await?;
    Ok(StatusCode::NO_CONTENT.into_response())
}

async fn get_timer(State(s): State<AppState>, p: Principal) -> ApiResult<Response> {
    Ok(Json(serde_json::json!({ "timer": time::timer(&s.db, p.user.id).await? })).into_response())
}

async fn start_timer(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawTimer>,
) -> ApiResult<Response> {
    let t = start(&s, &p, &raw).await?;
    Ok((StatusCode::CREATED, Json(serde_json::json!({ "timer": t }))).into_response())
}

async fn stop_timer(
    State(s): State<AppState>,
    p: Principal,
    ApiJson(raw): ApiJson<RawTimer>,
) -> ApiResult<Answer<impl Body>> {
    let e = stop(&s, &p, raw.note.as_deref()).await?;
    Ok(Answer::entity(StatusCode::CREATED, e.version, &e))
}
