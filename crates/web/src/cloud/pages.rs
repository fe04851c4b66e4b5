//! Regional cloud pages: the pools with their utilisation and the day each runs out, a pool's page (use per
//! dimension, growth chart with its figures as a table, allocations by organisation, hosts and arrays), and
//! the forms to add and change pools and their parts.

use super::ops::{RawPart, RawPool, attach, change_pool, record_pool};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, form_field as field, render, render_status};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::{Permission, Scope};
use domain::cloud::{Dimension, Exhaustion, Resources};
use domain::cmdb::CiType;
use domain::ids::PoolId;
use domain::validation::grouped;
use jiff::civil::Date;
use serde_json::Value;
use std::collections::HashMap;
use store::cloud::{self, PoolUse};
use store::cmdb;
use store::page::PageRequest;

use crate::routes::{Granted, Needs, Table};

pub fn routes(t: Table) -> Table {
    t.get(
        "/cloud",
        "The regional cloud: pools, utilisation, the day each runs out, allocations",
        Needs::Perm(Permission::CmdbRead),
        overview_page,
    )
    .get(
        "/cloud/new",
        "Form: add a pool",
        Needs::Hub(Permission::CmdbManage),
        new_page,
    )
    .post(
        "/cloud",
        "Add a pool",
        Needs::Hub(Permission::CmdbManage),
        create,
    )
    .get(
        "/cloud/{id}",
        "A pool: use per dimension, growth, allocations, hosts and arrays",
        Needs::Perm(Permission::CmdbRead),
        pool_page,
    )
    .get(
        "/cloud/{id}/edit",
        "Form: change a pool",
        Needs::Hub(Permission::CmdbManage),
        edit_page,
    )
    .post(
        "/cloud/{id}",
        "Change a pool",
        Needs::Hub(Permission::CmdbManage),
        save,
    )
    .post(
        "/cloud/{id}/parts",
        "Add a host or array to the pool",
        Needs::Hub(Permission::CmdbManage),
        add_part,
    )
    .post(
        "/cloud/{id}/parts/{ci}/delete",
        "Take a host or array out of the pool",
        Needs::Hub(Permission::CmdbManage),
        remove_part,
    )
}

fn pool_id(raw: &str) -> Result<PoolId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

/// "1,234 of 4,096 (30.1%)", or "—" for a dimension the pool does not offer.
fn of(allocated: i64, capacity: i64) -> String {
    if capacity == 0 {
        return if allocated == 0 {
            "—".into()
        } else {
            format!("{} (no capacity)", grouped(allocated))
        };
    }
    let pct = domain::cloud::utilisation(allocated, capacity)
        .map(|p| format!(" ({p}%)"))
        .unwrap_or_default();
    format!("{} of {}{pct}", grouped(allocated), grouped(capacity))
}

fn runs_out(e: &Exhaustion) -> String {
    match e {
        Exhaustion::Full => "Full now".into(),
        Exhaustion::On { date } => date.strftime("%B %-d, %Y").to_string(),
        Exhaustion::NotForeseen => "Not within ten years".into(),
        Exhaustion::TooLittleHistory => "Too little history (under 14 days)".into(),
    }
}

fn first(u: &PoolUse) -> String {
    match &u.first_to_run_out {
        Some((d, e)) => format!("{}: {}", d.label(), runs_out(e)),
        None => "Not within ten years".into(),
    }
}

// ---------------------------------------------------------------------------------------------------
// The overview

pub struct PoolRow {
    pub id: String,
    pub name: String,
    pub site: String,
    pub cells: Vec<String>,
    pub runs_out: String,
    /// Whether it runs out within a year (or already has): shown as a warning.
    pub soon: bool,
}

pub struct AllocRow {
    pub org: String,
    pub pool: String,
    pub cells: Vec<String>,
    pub items: i64,
}

#[derive(Template)]
#[template(path = "cloud/cloud.html")]
pub struct OverviewPage {
    pub f: Frame,
    pub pools: Vec<PoolRow>,
    pub allocations: Vec<AllocRow>,
    pub region: bool,
    pub can_manage: bool,
    pub dimensions: Vec<&'static str>,
}

fn soon(u: &PoolUse, today: Date) -> bool {
    match u.first_to_run_out {
        Some((_, Exhaustion::Full)) => true,
        Some((_, Exhaustion::On { date })) => (date - today).get_days() <= 365,
        _ => false,
    }
}

fn labels() -> Vec<&'static str> {
    Dimension::ALL.iter().map(|d| d.label()).collect()
}

fn cells(r: &Resources) -> Vec<String> {
    Dimension::ALL.iter().map(|d| grouped(r.get(*d))).collect()
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

async fn overview_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    let today = crate::clock::today();
    let overview = cloud::overview(&s.db, &scope, today).await?;
    let mut f = Frame::new(&s, &p, "Regional cloud", "cmdb")
        .await?
        .notice(q.notice.as_deref());
    f.breadcrumbs = vec![("/cmdb".into(), "Configuration items".into())];
    let mut allocations = Vec::new();
    for u in &overview {
        for a in &u.allocations {
            allocations.push(AllocRow {
                org: a.org_name.clone(),
                pool: u.pool.name.clone(),
                cells: cells(&a.allocated),
                items: a.items,
            });
        }
    }
    allocations.sort_by(|a, b| a.org.cmp(&b.org).then(a.pool.cmp(&b.pool)));
    Ok(render(&OverviewPage {
        f,
        pools: overview
            .iter()
            .map(|u| PoolRow {
                id: u.pool.id.to_string(),
                name: u.pool.name.clone(),
                site: u.pool.site_name.clone().unwrap_or_default(),
                cells: u
                    .dimensions
                    .iter()
                    .map(|d| of(d.allocated, d.capacity))
                    .collect(),
                runs_out: first(u),
                soon: soon(u, today),
            })
            .collect(),
        allocations,
        region: matches!(scope, Scope::Region),
        can_manage: p.require_region(Permission::CmdbManage).is_ok(),
        dimensions: labels(),
    }))
}

// ---------------------------------------------------------------------------------------------------
// A pool's page

pub struct DimRow {
    pub label: &'static str,
    pub capacity: String,
    pub allocated: String,
    pub percent: String,
    /// 0..=100, the width of the bar.
    pub bar: u32,
    pub per_day: String,
    pub runs_out: String,
}

/// One line of the growth chart: a dimension's utilisation over the days of the history.
pub struct Line {
    pub label: &'static str,
    pub points: String,
    pub dash: &'static str,
    pub colour: &'static str,
}

pub struct HistoryRow {
    pub month: String,
    pub cells: Vec<String>,
}

#[derive(Template)]
#[template(path = "cloud/pool.html")]
pub struct PoolPage {
    pub f: Frame,
    pub id: String,
    pub site: String,
    pub notes: String,
    pub dims: Vec<DimRow>,
    pub runs_out: String,
    pub lines: Vec<Line>,
    pub chart_summary: String,
    pub history: Vec<HistoryRow>,
    pub allocations: Vec<AllocRow>,
    pub region: bool,
    pub parts: Vec<(String, String, &'static str)>,
    pub candidates: Vec<(String, String)>,
    pub can_manage: bool,
    pub dimensions: Vec<&'static str>,
    pub form: FormState,
}

/// The chart's drawing box: 600 × 200, utilisation 0–100% (higher values drawn at the top edge).
const CHART_W: i64 = 600;
const CHART_H: i64 = 200;

fn chart(
    history: &[(Date, Resources)],
    capacity: &Resources,
    since: Date,
    today: Date,
) -> Vec<Line> {
    let span = (today - since).get_days().max(1);
    let style = [
        ("", "#1a4480"),
        ("6 3", "#936f38"),
        ("2 2", "#008817"),
        ("8 3 2 3", "#5c1111"),
    ];
    Dimension::ALL
        .iter()
        .zip(style)
        .filter(|(d, _)| capacity.get(**d) > 0)
        .map(|(d, (dash, colour))| {
            let cap = capacity.get(*d);
            let points: Vec<String> = history
                .iter()
                .map(|(day, r)| {
                    let x = i64::from((*day - since).get_days()) * CHART_W / i64::from(span);
                    let pct = (r.get(*d).saturating_mul(100) / cap).clamp(0, 100);
                    let y = CHART_H - pct * CHART_H / 100;
                    format!("{x},{y}")
                })
                .collect();
            Line {
                label: d.label(),
                points: points.join(" "),
                dash,
                colour,
            }
        })
        .collect()
}

/// The history as a table: each month's last recorded day.
fn monthly(history: &[(Date, Resources)]) -> Vec<HistoryRow> {
    let mut by_month: Vec<(String, Resources)> = Vec::new();
    for (day, r) in history {
        let month = day.strftime("%Y-%m").to_string();
        match by_month.last_mut() {
            Some(last) if last.0 == month => last.1 = *r,
            _ => by_month.push((month, *r)),
        }
    }
    by_month
        .into_iter()
        .map(|(month, r)| HistoryRow {
            month,
            cells: cells(&r),
        })
        .collect()
}

async fn pool_page_with(
    s: &AppState,
    p: &Principal,
    id: PoolId,
    notice: Option<&str>,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    let today = crate::clock::today();
    let u = cloud::pool_overview(&s.db, &scope, id, today).await?;
    let since = today
        .checked_sub(jiff::Span::new().days(cloud::TREND_DAYS))
        .map_err(|e| Failure::Internal(e.to_string()))?;
    let history = cloud::history(&s.db, id, since, today).await?;
    let parts = cloud::parts(&s.db, id).await?;
    let can_manage = p.require_region(Permission::CmdbManage).is_ok();
    let mut candidates = Vec::new();
    if can_manage {
        // The hub's hosts and arrays that are in no pool yet.
        let mut in_pools = std::collections::BTreeSet::new();
        for other in cloud::pools(&s.db).await? {
            for part in cloud::parts(&s.db, other.id).await? {
                in_pools.insert(part.ci_id);
            }
        }
        let hub = store::tenancy::orgs::hub(&s.db).await?;
        for ty in domain::cloud::POOL_PART_TYPES {
            let page = cmdb::list(
                &s.db,
                &Scope::Region,
                &cmdb::Filter {
                    org: hub.as_ref().map(|h| h.id),
                    ci_type: Some(*ty),
                    status: None,
                    q: None,
                },
                &PageRequest {
                    after: None,
                    limit: 500,
                },
            )
            .await?;
            for c in page.items {
                if !in_pools.contains(&c.id) {
                    candidates.push((c.id.to_string(), format!("{} ({})", c.name, ty.label())));
                }
            }
        }
    }
    let mut f = Frame::new(s, p, &u.pool.name, "cmdb").await?.notice(notice);
    f.breadcrumbs = vec![
        ("/cmdb".into(), "Configuration items".into()),
        ("/cloud".into(), "Regional cloud".into()),
    ];
    let lines = chart(&history, &u.pool.capacity, since, today);
    let chart_summary = if history.is_empty() {
        "No daily record yet.".to_owned()
    } else {
        format!(
            "Utilisation of each kind of capacity over the last {} days, from {} to {}; the figures are in the table below.",
            cloud::TREND_DAYS,
            since,
            today
        )
    };
    let region = matches!(scope, Scope::Region);
    Ok(render_status(
        status,
        &PoolPage {
            id: u.pool.id.to_string(),
            site: u.pool.site_name.clone().unwrap_or_default(),
            notes: u.pool.notes.clone(),
            dims: u
                .dimensions
                .iter()
                .map(|d| DimRow {
                    label: d.label,
                    capacity: grouped(d.capacity),
                    allocated: grouped(d.allocated),
                    percent: d
                        .utilisation_percent
                        .map(|p| format!("{p}%"))
                        .unwrap_or_else(|| "—".into()),
                    bar: d
                        .utilisation_percent
                        .and_then(|p| rust_decimal::prelude::ToPrimitive::to_u32(&p.round()))
                        .unwrap_or(0)
                        .min(100),
                    per_day: d
                        .trend
                        .map(|t| format!("{:+}", t.per_day.normalize()))
                        .unwrap_or_else(|| "—".into()),
                    runs_out: if d.capacity == 0 {
                        "—".into()
                    } else {
                        runs_out(&d.runs_out)
                    },
                })
                .collect(),
            runs_out: first(&u),
            lines,
            chart_summary,
            history: monthly(&history),
            allocations: u
                .allocations
                .iter()
                .map(|a| AllocRow {
                    org: a.org_name.clone(),
                    pool: u.pool.name.clone(),
                    cells: cells(&a.allocated),
                    items: a.items,
                })
                .collect(),
            region,
            parts: parts
                .into_iter()
                .map(|x| (x.ci_id.to_string(), x.name, x.ci_type.label()))
                .collect(),
            candidates,
            can_manage,
            dimensions: labels(),
            form,
            f,
        },
    ))
}

async fn pool_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    pool_page_with(
        &s,
        &p,
        pool_id(&id)?,
        q.notice.as_deref(),
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

// ---------------------------------------------------------------------------------------------------
// Forms

#[derive(Template)]
#[template(path = "cloud/pool_form.html")]
pub struct PoolForm {
    pub f: Frame,
    pub form: FormState,
    pub action: String,
    pub sites: Vec<(String, String)>,
    pub editing: bool,
}

async fn form_page(
    s: &AppState,
    p: &Principal,
    form: FormState,
    editing: Option<&cloud::Pool>,
    status: StatusCode,
) -> PageResult<Response> {
    p.require_region(Permission::CmdbManage)?;
    let hub = store::tenancy::orgs::hub(&s.db).await?;
    let sites = cmdb::list(
        &s.db,
        &Scope::Region,
        &cmdb::Filter {
            org: hub.as_ref().map(|h| h.id),
            ci_type: Some(CiType::Site),
            status: None,
            q: None,
        },
        &PageRequest {
            after: None,
            limit: 500,
        },
    )
    .await?
    .items
    .into_iter()
    .map(|c| (c.id.to_string(), c.name))
    .collect();
    let title = editing.map_or_else(|| "Add a pool".to_owned(), |p| format!("Change {}", p.name));
    let mut f = Frame::new(s, p, &title, "cmdb").await?;
    f.breadcrumbs = vec![("/cloud".into(), "Regional cloud".into())];
    if let Some(pool) = editing {
        f.breadcrumbs
            .push((format!("/cloud/{}", pool.id), pool.name.clone()));
    }
    Ok(render_status(
        status,
        &PoolForm {
            f,
            form,
            action: editing.map_or_else(|| "/cloud".to_owned(), |p| format!("/cloud/{}", p.id)),
            sites,
            editing: editing.is_some(),
        },
    ))
}

fn raw_from_form(form: &HashMap<String, String>) -> RawPool {
    let num = |name: &str| Some(Value::String(field(form, name).unwrap_or_default()));
    RawPool {
        name: Some(field(form, "name").unwrap_or_default()),
        site_id: Some(field(form, "site_id").unwrap_or_default()),
        vcpu: num("vcpu"),
        ram_gb: num("ram_gb"),
        storage_gb: num("storage_gb"),
        backup_gb: num("backup_gb"),
        notes: Some(field(form, "notes").unwrap_or_default()),
    }
}

fn refill(form: HashMap<String, String>) -> FormState {
    FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf"))
}

async fn new_page(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    form_page(&s, &p, FormState::default(), None, StatusCode::OK).await
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    match record_pool(&s, &p, &raw_from_form(&form)).await {
        Ok(pool) => Ok(Redirect::to(&format!("/cloud/{}?notice=created", pool.id)).into_response()),
        Err(e) => {
            let st = refill(form).fail(e)?;
            form_page(&s, &p, st, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn edit_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let pool = cloud::pool(&s.db, pool_id(&id)?).await?;
    let values: Vec<(String, String)> = vec![
        ("name".into(), pool.name.clone()),
        (
            "site_id".into(),
            pool.site_id.map(|s| s.to_string()).unwrap_or_default(),
        ),
        ("vcpu".into(), pool.capacity.vcpu.to_string()),
        ("ram_gb".into(), pool.capacity.ram_gb.to_string()),
        ("storage_gb".into(), pool.capacity.storage_gb.to_string()),
        ("backup_gb".into(), pool.capacity.backup_gb.to_string()),
        ("notes".into(), pool.notes.clone()),
        ("version".into(), pool.version.to_string()),
    ];
    form_page(
        &s,
        &p,
        FormState::refill(values),
        Some(&pool),
        StatusCode::OK,
    )
    .await
}

async fn save(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id = pool_id(&id)?;
    let current = cloud::pool(&s.db, id).await?;
    let version = field(&form, "version").and_then(|v| v.parse().ok());
    match change_pool(&s, &p, id, version, &raw_from_form(&form)).await {
        Ok(pool) => Ok(Redirect::to(&format!("/cloud/{}?notice=saved", pool.id)).into_response()),
        Err(e) => {
            let st = refill(form).fail(e)?;
            form_page(&s, &p, st, Some(&current), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn add_part(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id = pool_id(&id)?;
    let raw = RawPart {
        ci_id: field(&form, "ci_id"),
    };
    match attach(&s, &p, id, &raw).await {
        Ok(_) => Ok(Redirect::to(&format!("/cloud/{id}?notice=saved")).into_response()),
        Err(e) => {
            let st = refill(form).fail(e)?;
            pool_page_with(&s, &p, id, None, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn remove_part(
    State(s): State<AppState>,
    p: Principal,
    Path((id, ci)): Path<(String, String)>,
) -> PageResult<Response> {
    let id = pool_id(&id)?;
    let ci = ci.parse().map_err(|_| Failure::NotFound)?;
    cloud::remove_part(&s.db, &p.actor(), id, ci).await?;
    Ok(Redirect::to(&format!("/cloud/{id}?notice=removed")).into_response())
}
