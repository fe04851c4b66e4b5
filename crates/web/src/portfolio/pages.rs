//! Application portfolio pages: the portfolio with its TIME chart, an application's record with the
//! questionnaire, the redundancy finder and the retirement plans.

use super::ops::{PortfolioQuery, RawApp, filter, save};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, form_field as field, render, render_status};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::billing::money::format_cents;
use domain::ids::CiId;
use domain::portfolio::{QUESTIONS, Quadrant};
use domain::validation::grouped;
use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;
use serde_json::{Map, Value};
use std::collections::HashMap;
use store::portfolio::{self, PortfolioApp};

use crate::routes::{Granted, Needs, Table};

pub fn routes(t: Table) -> Table {
    t.get(
        "/portfolio",
        "The application portfolio: TIME chart and list (by member, capability, quadrant)",
        Needs::Perm(Permission::CmdbRead),
        list_page,
    )
    .get(
        "/portfolio/redundancy",
        "Capabilities served by several applications, and what to consolidate onto",
        Needs::Perm(Permission::CmdbRead),
        redundancy_page,
    )
    .get(
        "/portfolio/retirements",
        "Retirement plans, soonest first",
        Needs::Perm(Permission::CmdbRead),
        retirements_page,
    )
    .get(
        "/portfolio/{id}",
        "An application's portfolio record and questionnaire",
        Needs::Perm(Permission::CmdbRead),
        app_page,
    )
    .post(
        "/portfolio/{id}",
        "Save an application's portfolio record",
        Needs::Perm(Permission::CmdbManage),
        save_page,
    )
}

fn ci_id(raw: &str) -> Result<CiId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

fn money(cents: i64) -> String {
    format_cents(cents)
}

fn score(d: Option<Decimal>) -> String {
    d.map_or_else(|| "—".into(), |d| d.to_string())
}

pub struct AppRow {
    pub id: String,
    pub name: String,
    pub owner: String,
    pub capability: String,
    pub vendor: String,
    pub users: String,
    pub cost: String,
    pub value: String,
    pub condition: String,
    pub quadrant: String,
    pub support_end: String,
    pub retire_by: String,
    /// Support has ended, or the retirement date has passed.
    pub overdue: bool,
}

fn row(a: &PortfolioApp, today: jiff::civil::Date) -> AppRow {
    let owner = match &a.department_name {
        Some(d) => format!("{} — {d}", a.org_name),
        None if a.shared => format!("{} (shared)", a.org_name),
        None => a.org_name.clone(),
    };
    AppRow {
        id: a.ci_id.to_string(),
        name: a.name.clone(),
        owner,
        capability: a.capability_name.clone().unwrap_or_default(),
        vendor: a.vendor.clone().unwrap_or_default(),
        users: if a.assessed {
            grouped(a.users)
        } else {
            String::new()
        },
        cost: if a.assessed {
            money(a.annual_cost_cents)
        } else {
            String::new()
        },
        value: score(a.business_value),
        condition: score(a.technical_condition),
        quadrant: a
            .quadrant
            .map_or_else(|| "Not assessed".to_owned(), |q| q.label().to_owned()),
        support_end: a.support_end.map(|d| d.to_string()).unwrap_or_default(),
        retire_by: a.retire_by.map(|d| d.to_string()).unwrap_or_default(),
        overdue: a.support_end.is_some_and(|d| d < today) || a.retire_by.is_some_and(|d| d < today),
    }
}

/// A point of the TIME chart: an application at (technical condition, business value).
pub struct Point {
    pub x: i64,
    pub y: i64,
    pub name: String,
}

/// The chart's drawing box: 400 × 400 for scores 1–5 on both axes.
fn point(value: Decimal, condition: Decimal) -> (i64, i64) {
    let scale = |s: Decimal| {
        ((s - Decimal::ONE) * Decimal::from(100))
            .to_i64()
            .unwrap_or(0)
            .clamp(0, 400)
    };
    (scale(condition), 400 - scale(value))
}

#[derive(Template)]
#[template(path = "portfolio/portfolio.html")]
pub struct ListPage {
    pub f: Frame,
    pub rows: Vec<AppRow>,
    pub points: Vec<Point>,
    pub counts: Vec<(&'static str, usize)>,
    pub capabilities: Vec<(String, String)>,
    pub quadrants: Vec<(String, String)>,
    pub capability: String,
    pub quadrant: String,
    pub org: String,
    pub total_cost: String,
    /// Whether the person may record an application (a configuration item).
    pub can_record: bool,
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub org: Option<String>,
    pub capability: Option<String>,
    pub quadrant: Option<String>,
    pub notice: Option<String>,
}

async fn list_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    PageQueryString(q): PageQueryString<ListQuery>,
) -> PageResult<Response> {
    let pq = PortfolioQuery {
        org: q.org.clone(),
        capability: q.capability.clone(),
        quadrant: q.quadrant.clone(),
    };
    let f = filter(&s, &scope, &pq).await?;
    let apps = portfolio::list(&s.db, &scope, &f).await?;
    let today = crate::clock::today();
    let points = apps
        .iter()
        .filter_map(|a| {
            let (x, y) = point(a.business_value?, a.technical_condition?);
            Some(Point {
                x,
                y,
                name: format!("{} ({})", a.name, a.org_name),
            })
        })
        .collect();
    let counts = Quadrant::ALL
        .iter()
        .map(|k| {
            (
                k.label(),
                apps.iter().filter(|a| a.quadrant == Some(*k)).count(),
            )
        })
        .collect();
    let total: i64 = apps.iter().map(|a| a.annual_cost_cents).sum();
    let frame = Frame::new(&s, &p, "Application portfolio", "cmdb")
        .await?
        .notice(q.notice.as_deref());
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    Ok(render(&ListPage {
        can_record: !p.scope(Permission::CmdbManage).is_empty(),
        f: frame,
        rows: apps.iter().map(|a| row(a, today)).collect(),
        points,
        counts,
        capabilities: portfolio::capabilities(&s.db)
            .await?
            .into_iter()
            .map(|c| (c.slug, c.name))
            .collect(),
        quadrants: Quadrant::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), k.label().to_owned()))
            .collect(),
        capability: text(&q.capability),
        quadrant: text(&q.quadrant),
        org: text(&q.org),
        total_cost: money(total),
    }))
}

// ---------------------------------------------------------------------------------------------------
// An application

pub struct QuestionField {
    pub id: &'static str,
    pub text: &'static str,
    pub low: &'static str,
    pub high: &'static str,
    pub axis: &'static str,
}

#[derive(Template)]
#[template(path = "portfolio/portfolio_app.html")]
pub struct AppPage {
    pub f: Frame,
    pub id: String,
    pub row: AppRow,
    pub advice: String,
    pub replacement: String,
    pub replacement_id: String,
    pub plan: String,
    pub can_manage: bool,
    pub form: FormState,
    pub capabilities: Vec<(String, String)>,
    pub questions: Vec<QuestionField>,
    /// Other applications it may be replaced by (id, "name (owner)").
    pub replacements: Vec<(String, String)>,
}

fn values(a: &PortfolioApp) -> Vec<(String, String)> {
    let mut v = vec![
        (
            "capability".into(),
            a.capability.clone().unwrap_or_default(),
        ),
        (
            "users".into(),
            if a.assessed {
                a.users.to_string()
            } else {
                String::new()
            },
        ),
        (
            "annual_cost".into(),
            if a.assessed {
                Decimal::new(a.annual_cost_cents, 2).to_string()
            } else {
                String::new()
            },
        ),
        (
            "contract_end".into(),
            a.contract_end.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "support_end".into(),
            a.support_end.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "retire_by".into(),
            a.retire_by.map(|d| d.to_string()).unwrap_or_default(),
        ),
        (
            "replacement_id".into(),
            a.replacement_id.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("plan".into(), a.plan.clone()),
        ("version".into(), a.version.to_string()),
    ];
    for (k, n) in &a.answers {
        v.push((format!("answer_{k}"), n.to_string()));
    }
    v
}

async fn app_page_with(
    s: &AppState,
    p: &Principal,
    id: CiId,
    notice: Option<&str>,
    form: Option<FormState>,
    status: StatusCode,
) -> PageResult<Response> {
    let scope = p.require(Permission::CmdbRead)?;
    let a = portfolio::get(&s.db, &scope, id).await?;
    let can_manage = p.scope(Permission::CmdbManage).contains(a.org_id);
    let replacements = if can_manage {
        portfolio::list(&s.db, &scope, &Default::default())
            .await?
            .into_iter()
            .filter(|o| o.ci_id != id)
            .map(|o| (o.ci_id.to_string(), format!("{} ({})", o.name, o.org_name)))
            .collect()
    } else {
        Vec::new()
    };
    let mut f = Frame::new(s, p, &a.name, "cmdb").await?.notice(notice);
    f.breadcrumbs = vec![("/portfolio".into(), "Application portfolio".into())];
    let today = crate::clock::today();
    Ok(render_status(
        status,
        &AppPage {
            id: a.ci_id.to_string(),
            row: row(&a, today),
            advice: a
                .quadrant
                .map(|q| q.advice().to_owned())
                .unwrap_or_default(),
            replacement: a.replacement_name.clone().unwrap_or_default(),
            replacement_id: a.replacement_id.map(|r| r.to_string()).unwrap_or_default(),
            plan: a.plan.clone(),
            can_manage,
            form: form.unwrap_or_else(|| FormState::refill(values(&a))),
            capabilities: portfolio::capabilities(&s.db)
                .await?
                .into_iter()
                .map(|c| (c.slug, c.name))
                .collect(),
            questions: QUESTIONS
                .iter()
                .map(|q| QuestionField {
                    id: q.id,
                    text: q.text,
                    low: q.low,
                    high: q.high,
                    axis: match q.axis {
                        domain::portfolio::Axis::BusinessValue => "Business value",
                        domain::portfolio::Axis::TechnicalCondition => "Technical condition",
                    },
                })
                .collect(),
            replacements,
            f,
        },
    ))
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NoticeQuery {
    pub notice: Option<String>,
}

async fn app_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<NoticeQuery>,
) -> PageResult<Response> {
    app_page_with(
        &s,
        &p,
        ci_id(&id)?,
        q.notice.as_deref(),
        None,
        StatusCode::OK,
    )
    .await
}

async fn save_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id = ci_id(&id)?;
    let mut answers = Map::new();
    for (k, v) in &form {
        if let Some(q) = k.strip_prefix("answer_") {
            answers.insert(q.to_owned(), Value::String(v.clone()));
        }
    }
    let raw = RawApp {
        capability: field(&form, "capability"),
        users: field(&form, "users").map(Value::String),
        annual_cost: field(&form, "annual_cost"),
        contract_end: field(&form, "contract_end"),
        support_end: field(&form, "support_end"),
        answers: Some(answers),
        retire_by: field(&form, "retire_by"),
        replacement_id: field(&form, "replacement_id"),
        plan: field(&form, "plan"),
    };
    let version = field(&form, "version").and_then(|v| v.parse().ok());
    match save(&s, &p, id, version, &raw).await {
        Ok(_) => Ok(Redirect::to(&format!("/portfolio/{id}?notice=saved")).into_response()),
        Err(e) => {
            let st = FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf")).fail(
                e.map_fields(|mut fe| {
                    // answers.reach → the radio group's id, answer_reach
                    if let Some(q) = fe.field.strip_prefix("answers.") {
                        fe.field = format!("answer_{q}");
                    }
                    fe
                }),
            )?;
            app_page_with(&s, &p, id, None, Some(st), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// Redundancy and retirements

pub struct Group {
    pub capability: String,
    pub target: String,
    pub products: usize,
    pub combined: String,
    pub candidates_cost: String,
    pub kept: AppRow,
    pub candidates: Vec<AppRow>,
}

#[derive(Template)]
#[template(path = "portfolio/portfolio_redundancy.html")]
pub struct RedundancyPage {
    pub f: Frame,
    pub groups: Vec<Group>,
    pub total: String,
}

async fn redundancy_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
) -> PageResult<Response> {
    let today = crate::clock::today();
    let found = portfolio::redundancies(&s.db, &scope).await?;
    let total: i64 = found.iter().map(|r| r.candidates_cost_cents).sum();
    let mut f = Frame::new(&s, &p, "Redundant applications", "cmdb").await?;
    f.breadcrumbs = vec![("/portfolio".into(), "Application portfolio".into())];
    Ok(render(&RedundancyPage {
        f,
        groups: found
            .iter()
            .map(|r| Group {
                capability: r.capability_name.clone(),
                target: r.target.clone(),
                products: r.products,
                combined: money(r.combined_cost_cents),
                candidates_cost: money(r.candidates_cost_cents),
                kept: row(&r.kept, today),
                candidates: r.candidates.iter().map(|a| row(a, today)).collect(),
            })
            .collect(),
        total: money(total),
    }))
}

#[derive(Template)]
#[template(path = "portfolio/portfolio_retirements.html")]
pub struct RetirementsPage {
    pub f: Frame,
    pub rows: Vec<(AppRow, String, String)>,
}

async fn retirements_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
) -> PageResult<Response> {
    let today = crate::clock::today();
    let plans = portfolio::retirements(&s.db, &scope).await?;
    let mut f = Frame::new(&s, &p, "Retirement plans", "cmdb").await?;
    f.breadcrumbs = vec![("/portfolio".into(), "Application portfolio".into())];
    Ok(render(&RetirementsPage {
        f,
        rows: plans
            .iter()
            .map(|a| {
                (
                    row(a, today),
                    a.replacement_name.clone().unwrap_or_default(),
                    a.plan.clone(),
                )
            })
            .collect(),
    }))
}
