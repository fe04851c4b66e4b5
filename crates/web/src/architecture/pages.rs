//! Enterprise architecture pages: the standards radar and catalog with the principles, a standard's page,
//! exception requests and their decisions, and the compliance list.

use super::ops::{
    RawDecision, RawException, RawPrinciple, RawStandard, adopt_principle, ask, change_standard,
    decision,
};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, form_field as field, render, render_status};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::architecture::{Area, ExceptionStatus, Ring, Risk, blip};
use domain::authz::Permission;
use std::collections::HashMap;
use store::architecture::{self as arch, Exception, Finding, Principle, Standard};

use crate::routes::{Granted, Needs, Table};

pub fn routes(t: Table) -> Table {
    t.get(
        "/architecture",
        "Enterprise architecture: the standards radar and catalog, and the principles",
        Needs::Perm(Permission::CmdbRead),
        overview_page,
    )
    .post(
        "/architecture/standards",
        "Add a technology standard",
        Needs::Hub(Permission::CmdbManage),
        create_standard,
    )
    .get(
        "/architecture/standards/{id}",
        "A technology standard and the items that use it",
        Needs::Perm(Permission::CmdbRead),
        standard_page,
    )
    .post(
        "/architecture/standards/{id}",
        "Change a technology standard",
        Needs::Hub(Permission::CmdbManage),
        save_standard,
    )
    .post(
        "/architecture/principles",
        "Adopt an architecture principle",
        Needs::Hub(Permission::CmdbManage),
        create_principle,
    )
    .get(
        "/architecture/exceptions",
        "Exception requests, and the form to ask for one",
        Needs::Perm(Permission::CmdbRead),
        exceptions_page,
    )
    .post(
        "/architecture/exceptions",
        "Ask for an exception to a standard",
        Needs::Perm(Permission::CmdbManage),
        create_exception,
    )
    .get(
        "/architecture/exceptions/{id}",
        "An exception request and its decision",
        Needs::Perm(Permission::CmdbRead),
        exception_page,
    )
    .post(
        "/architecture/exceptions/{id}/decision",
        "Decide an exception request",
        Needs::Hub(Permission::CmdbManage),
        decide,
    )
    .post(
        "/architecture/exceptions/{id}/withdraw",
        "Withdraw an exception request",
        Needs::Perm(Permission::CmdbManage),
        withdraw,
    )
    .get(
        "/architecture/compliance",
        "Items that use technologies on hold or to retire",
        Needs::Perm(Permission::CmdbRead),
        compliance_page,
    )
}

fn refill(form: &HashMap<String, String>) -> FormState {
    FormState::refill(
        form.iter()
            .filter(|(k, _)| *k != "_csrf")
            .map(|(k, v)| (k.clone(), v.clone())),
    )
}

fn choices<T: Copy>(
    all: &[T],
    key: fn(T) -> &'static str,
    label: fn(T) -> &'static str,
) -> Vec<(String, String)> {
    all.iter()
        .map(|v| (key(*v).to_owned(), label(*v).to_owned()))
        .collect()
}

/// A blip on the radar.
pub struct Blip {
    pub x: i64,
    pub y: i64,
    pub n: usize,
    pub name: String,
}

#[derive(Template)]
#[template(path = "architecture/architecture.html")]
pub struct OverviewPage {
    pub f: Frame,
    pub standards: Vec<(usize, Standard)>,
    pub blips: Vec<Blip>,
    pub principles: Vec<Principle>,
    pub can_manage: bool,
    pub form: FormState,
    pub areas: Vec<(String, String)>,
    pub rings: Vec<(String, String)>,
    pub ring_labels: Vec<&'static str>,
    pub area_labels: Vec<&'static str>,
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

async fn overview_with(
    s: &AppState,
    p: &Principal,
    notice: Option<&str>,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    p.require(Permission::CmdbRead)?;
    let standards = arch::standards(&s.db).await?;
    let mut blips = Vec::new();
    for area in Area::ALL {
        for ring in Ring::ALL {
            let here: Vec<&Standard> = standards
                .iter()
                .filter(|s| s.area == *area && s.ring == *ring)
                .collect();
            for (i, st) in here.iter().enumerate() {
                let (x, y) = blip(*area, *ring, i, here.len());
                let n = standards.iter().position(|o| o.id == st.id).unwrap_or(0) + 1;
                blips.push(Blip {
                    x,
                    y,
                    n,
                    name: st.name.clone(),
                });
            }
        }
    }
    let f = Frame::new(s, p, "Enterprise architecture", "cmdb")
        .await?
        .notice(notice);
    Ok(render_status(
        status,
        &OverviewPage {
            f,
            standards: standards
                .into_iter()
                .enumerate()
                .map(|(i, s)| (i + 1, s))
                .collect(),
            blips,
            principles: arch::principles(&s.db).await?,
            can_manage: p.require_region(Permission::CmdbManage).is_ok(),
            form,
            areas: choices(Area::ALL, Area::as_str, Area::label),
            rings: choices(Ring::ALL, Ring::as_str, Ring::label),
            ring_labels: Ring::ALL.iter().map(|r| r.label()).collect(),
            area_labels: Area::ALL.iter().map(|a| a.label()).collect(),
        },
    ))
}

async fn overview_page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    overview_with(
        &s,
        &p,
        q.notice.as_deref(),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

fn raw_standard(form: &HashMap<String, String>) -> RawStandard {
    RawStandard {
        name: Some(field(form, "name").unwrap_or_default()),
        area: field(form, "area"),
        ring: field(form, "ring"),
        description: Some(field(form, "description").unwrap_or_default()),
        match_terms: Some(
            field(form, "match_terms")
                .unwrap_or_default()
                .lines()
                .map(str::to_owned)
                .collect(),
        ),
        instead: Some(field(form, "instead").unwrap_or_default()),
    }
}

async fn create_standard(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let result = match super::ops::parse_standard(&raw_standard(&form), None) {
        Ok(d) => arch::create_standard(&s.db, &p.actor(), &d)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match result {
        Ok(st) => Ok(
            Redirect::to(&format!("/architecture/standards/{}?notice=created", st.id))
                .into_response(),
        ),
        Err(e) => {
            let st = refill(&form).fail(e)?;
            overview_with(&s, &p, None, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn create_principle(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawPrinciple {
        title: field(&form, "title"),
        statement: field(&form, "statement"),
        rationale: field(&form, "rationale"),
        implications: field(&form, "implications"),
    };
    match adopt_principle(&s, &p, &raw).await {
        Ok(_) => Ok(Redirect::to("/architecture?notice=created#principles").into_response()),
        Err(e) => {
            let st = refill(&form).fail(e)?;
            overview_with(&s, &p, None, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// A standard

#[derive(Template)]
#[template(path = "architecture/standard.html")]
pub struct StandardPage {
    pub f: Frame,
    pub s: Standard,
    pub findings: Vec<Finding>,
    pub can_manage: bool,
    pub form: FormState,
    pub areas: Vec<(String, String)>,
    pub rings: Vec<(String, String)>,
}

fn standard_values(s: &Standard) -> FormState {
    FormState::refill([
        ("name".to_owned(), s.name.clone()),
        ("area".to_owned(), s.area.as_str().to_owned()),
        ("ring".to_owned(), s.ring.as_str().to_owned()),
        ("description".to_owned(), s.description.clone()),
        ("match_terms".to_owned(), s.match_terms.join("\n")),
        ("instead".to_owned(), s.instead.clone()),
        ("version".to_owned(), s.version.to_string()),
    ])
}

async fn standard_with(
    s: &AppState,
    p: &Principal,
    id: &str,
    notice: Option<&str>,
    form: Option<FormState>,
    status: StatusCode,
) -> PageResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    let st = arch::get_standard(&s.db, id).await?;
    let findings = arch::compliance(&s.db, &scope, crate::clock::today())
        .await?
        .into_iter()
        .filter(|f| f.standard_id == st.id)
        .collect();
    let mut f = Frame::new(s, p, &st.name, "cmdb").await?.notice(notice);
    f.breadcrumbs = vec![("/architecture".into(), "Enterprise architecture".into())];
    Ok(render_status(
        status,
        &StandardPage {
            f,
            form: form.unwrap_or_else(|| standard_values(&st)),
            s: st,
            findings,
            can_manage: p.require_region(Permission::CmdbManage).is_ok(),
            areas: choices(Area::ALL, Area::as_str, Area::label),
            rings: choices(Ring::ALL, Ring::as_str, Ring::label),
        },
    ))
}

async fn standard_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    standard_with(&s, &p, &id, q.notice.as_deref(), None, StatusCode::OK).await
}

async fn save_standard(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let version = field(&form, "version").and_then(|v| v.parse().ok());
    match change_standard(&s, &p, &id, version, &raw_standard(&form)).await {
        Ok(st) => Ok(
            Redirect::to(&format!("/architecture/standards/{}?notice=saved", st.id))
                .into_response(),
        ),
        Err(e) => {
            let st = refill(&form).fail(e)?;
            standard_with(
                &s,
                &p,
                &id,
                None,
                Some(st),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Exceptions

#[derive(Template)]
#[template(path = "architecture/exceptions.html")]
pub struct ExceptionsPage {
    pub f: Frame,
    pub items: Vec<Exception>,
    pub can_ask: bool,
    pub form: FormState,
    pub standards: Vec<(String, String)>,
    pub orgs: Vec<(String, String)>,
    pub risks: Vec<(String, String)>,
}

async fn exceptions_with(
    s: &AppState,
    p: &Principal,
    notice: Option<&str>,
    form: Option<FormState>,
    status: StatusCode,
) -> PageResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    let manage = p.scope(Permission::CmdbManage);
    let orgs: Vec<(String, String)> = if manage.is_empty() {
        Vec::new()
    } else {
        store::tenancy::orgs::names(&s.db, &manage, None, 1000)
            .await?
            .into_iter()
            .map(|o| (o.slug.to_string(), o.name))
            .collect()
    };
    let mut form = form.unwrap_or_default();
    if form.value("org").is_empty()
        && let Some(org) = p.current_org().filter(|o| manage.contains(*o))
        && let Ok(o) = store::tenancy::orgs::get(&s.db, &store::Scope::Region, org).await
    {
        form.values.insert("org".into(), o.slug.to_string());
    }
    let f = Frame::new(s, p, "Architecture exceptions", "cmdb")
        .await?
        .notice(notice);
    Ok(render_status(
        status,
        &ExceptionsPage {
            f,
            items: arch::exceptions(&s.db, &scope).await?,
            can_ask: !manage.is_empty(),
            form,
            standards: arch::standards(&s.db)
                .await?
                .into_iter()
                .map(|s| (s.id, format!("{} ({})", s.name, s.ring.label())))
                .collect(),
            orgs,
            risks: choices(Risk::ALL, Risk::as_str, Risk::label),
        },
    ))
}

async fn exceptions_page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    exceptions_with(&s, &p, q.notice.as_deref(), None, StatusCode::OK).await
}

async fn create_exception(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawException {
        org: field(&form, "org"),
        standard_id: field(&form, "standard_id"),
        ci_id: field(&form, "ci_id"),
        title: field(&form, "title"),
        reason: field(&form, "reason"),
        risk: field(&form, "risk"),
        mitigation: field(&form, "mitigation"),
        requested_until: field(&form, "requested_until"),
    };
    match ask(&s, &p, &raw).await {
        Ok(x) => Ok(
            Redirect::to(&format!("/architecture/exceptions/{}?notice=created", x.id))
                .into_response(),
        ),
        Err(e) => {
            let st = refill(&form).fail(e)?;
            exceptions_with(&s, &p, None, Some(st), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Template)]
#[template(path = "architecture/exception.html")]
pub struct ExceptionPage {
    pub f: Frame,
    pub x: Exception,
    pub can_decide: bool,
    pub can_withdraw: bool,
    pub form: FormState,
}

async fn exception_with(
    s: &AppState,
    p: &Principal,
    id: &str,
    notice: Option<&str>,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    let x = arch::get_exception(&s.db, &scope, id).await?;
    let mut f = Frame::new(s, p, &x.title, "cmdb").await?.notice(notice);
    f.breadcrumbs = vec![(
        "/architecture/exceptions".into(),
        "Architecture exceptions".into(),
    )];
    Ok(render_status(
        status,
        &ExceptionPage {
            can_decide: x.status == ExceptionStatus::Requested
                && p.require_region(Permission::CmdbManage).is_ok(),
            can_withdraw: matches!(
                x.status,
                ExceptionStatus::Requested | ExceptionStatus::Approved
            ) && p.scope(Permission::CmdbManage).contains(x.org_id),
            x,
            form,
            f,
        },
    ))
}

async fn exception_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    exception_with(
        &s,
        &p,
        &id,
        q.notice.as_deref(),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

async fn decide(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawDecision {
        status: field(&form, "status"),
        expires_on: field(&form, "expires_on"),
        note: field(&form, "note"),
    };
    let version = field(&form, "version").and_then(|v| v.parse().ok());
    match decision(&s, &p, &id, version, &raw).await {
        Ok(_) => Ok(
            Redirect::to(&format!("/architecture/exceptions/{id}?notice=decided")).into_response(),
        ),
        Err(e) => {
            let st = refill(&form).fail(e)?;
            exception_with(&s, &p, &id, None, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn withdraw(
    State(s): State<AppState>,
    p: Principal,
    Granted(manage): Granted,
    Path(id): Path<String>,
) -> PageResult<Response> {
    arch::withdraw(&s.db, &manage, &p.actor(), &id).await?;
    Ok(Redirect::to(&format!("/architecture/exceptions/{id}?notice=saved")).into_response())
}

// ---------------------------------------------------------------------------------------------------
// Compliance

#[derive(Template)]
#[template(path = "architecture/compliance.html")]
pub struct CompliancePage {
    pub f: Frame,
    pub findings: Vec<Finding>,
    pub open: usize,
}

async fn compliance_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
) -> PageResult<Response> {
    let findings = arch::compliance(&s.db, &scope, crate::clock::today()).await?;
    let open = findings.iter().filter(|f| f.exception_id.is_none()).count();
    let mut f = Frame::new(&s, &p, "Standards compliance", "cmdb").await?;
    f.breadcrumbs = vec![("/architecture".into(), "Enterprise architecture".into())];
    Ok(render(&CompliancePage { f, findings, open }))
}
