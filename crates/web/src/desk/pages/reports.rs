//! Service desk reports: the page (SVG charts with their data tables, for screen readers), CSV downloads,
//! and the same figures as JSON under the API.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{ApiResult, Failure, PageResult};
use crate::extract::ApiQuery;
use crate::extract::PageQueryString;
use crate::page::{Frame, render};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Json;
use axum::extract::State;
use axum::response::{IntoResponse, Response};
use domain::FieldError;
use domain::authz::Permission;
use jiff::ToSpan;
use jiff::civil::Date;
use store::desk::reports::{self, DeskReport, Group};

pub fn routes(t: Table) -> Table {
    t.get(
        "/reports",
        "Service desk reports (CSV with ?format=csv&table=)",
        Needs::Perm(Permission::ReportRead),
        page,
    )
    .get(
        "/api/v1/reports/desk",
        "Service desk figures: volume, backlog, MTTR, FCR, SLA attainment, CSAT",
        Needs::Perm(Permission::ReportRead),
        api,
    )
}

#[derive(Debug, Default, Clone, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ReportQuery {
    /// First day (default: a year ago).
    #[schemars(extend("format" = "date"))]
    pub from: Option<String>,
    /// Last day (default: today).
    #[schemars(extend("format" = "date"))]
    pub to: Option<String>,
    /// Organisation slug.
    pub org: Option<String>,
    pub format: Option<String>,
    /// For CSV: `month`, `member` or `service`.
    pub table: Option<String>,
}

struct Period {
    from: Date,
    to: Date,
    org: Option<domain::ids::OrgId>,
    org_slug: String,
}

async fn period(
    s: &AppState,
    p: &Principal,
    q: &ReportQuery,
) -> Result<(store::Scope, Period), Failure> {
    let scope = p.require(Permission::ReportRead)?;
    let today = crate::clock::today();
    let date = |field: &str, v: &Option<String>, default: Date| -> Result<Date, Failure> {
        match v.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
            None => Ok(default),
            Some(v) => v.parse().map_err(|_| {
                Failure::Invalid(vec![FieldError::new(
                    field,
                    "must be a date such as 2026-01-31",
                )])
            }),
        }
    };
    let to = date("to", &q.to, today)?;
    let from = date("from", &q.from, to.checked_sub(1.year()).unwrap_or(to))?;
    if from > to {
        return Err(Failure::Invalid(vec![FieldError::new(
            "to",
            "must not be before from",
        )]));
    }
    let mut org = None;
    let mut org_slug = String::new();
    if let Some(slug) = q.org.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        let o = store::tenancy::orgs::get_by_slug(&s.db, &scope, slug)
            .await
            .map_err(|e| match e {
                store::StoreError::NotFound => Failure::Invalid(vec![FieldError::new(
                    "org",
                    "is not an organisation whose reports you can see",
                )]),
                e => e.into(),
            })?;
        org = Some(o.id);
        org_slug = o.slug.to_string();
    }
    Ok((
        scope,
        Period {
            from,
            to,
            org,
            org_slug,
        },
    ))
}

async fn run(s: &AppState, scope: &store::Scope, pd: &Period) -> Result<DeskReport, Failure> {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    let start = tz
        .to_timestamp(pd.from.to_datetime(jiff::civil::Time::midnight()))
        .map(|t| t.as_millisecond())
        .unwrap_or(0);
    let end = pd
        .to
        .tomorrow()
        .ok()
        .and_then(|d| {
            tz.to_timestamp(d.to_datetime(jiff::civil::Time::midnight()))
                .ok()
        })
        .map_or(i64::MAX, |t| t.as_millisecond());
    Ok(reports::desk(&s.db, scope, pd.org, start, end, store::now_ms(), &tz).await?)
}

async fn api(
    State(s): State<AppState>,
    p: Principal,
    ApiQuery(q): ApiQuery<ReportQuery>,
) -> ApiResult<Response> {
    let (scope, pd) = period(&s, &p, &q).await?;
    let r = run(&s, &scope, &pd).await?;
    let group = |g: &Group| {
        serde_json::json!({
            "key": g.key, "opened": g.opened, "resolved": g.resolved,
            "sla_attainment_percent": g.sla_percent(), "response_attainment_percent": g.response_percent(),
            "mttr_hours": g.mttr_hours(), "first_contact_resolution_percent": g.fcr_percent(),
            "csat": g.csat(), "csat_responses": g.csat_count,
        })
    };
    Ok(Json(serde_json::json!({
        "from": pd.from.to_string(), "to": pd.to.to_string(), "org": if pd.org_slug.is_empty() { None } else { Some(pd.org_slug.clone()) },
        "total": group(&r.total),
        "by_month": r.by_month.iter().map(group).collect::<Vec<_>>(),
        "by_member": r.by_member.iter().map(group).collect::<Vec<_>>(),
        "by_service": r.by_service.iter().map(group).collect::<Vec<_>>(),
        "backlog": r.backlog.iter().map(|(k, n)| serde_json::json!({ "age": k, "open": n })).collect::<Vec<_>>(),
    }))
    .into_response())
}

/// A row of a figures table, formatted.
struct Line {
    key: String,
    opened: String,
    resolved: String,
    sla: String,
    response: String,
    mttr: String,
    fcr: String,
    csat: String,
}

fn pct(v: Option<f64>) -> String {
    v.map(|x| format!("{x:.1}%")).unwrap_or_else(|| "—".into())
}

fn line(g: &Group) -> Line {
    Line {
        key: g.key.clone(),
        opened: crate::page::fmt_int(g.opened),
        resolved: crate::page::fmt_int(g.resolved),
        sla: pct(g.sla_percent()),
        response: pct(g.response_percent()),
        mttr: g
            .mttr_hours()
            .map(|h| format!("{h:.1} h"))
            .unwrap_or_else(|| "—".into()),
        fcr: pct(g.fcr_percent()),
        csat: g
            .csat()
            .map(|c| format!("{c:.2} ({})", g.csat_count))
            .unwrap_or_else(|| "—".into()),
    }
}

/// A bar chart as SVG: one bar per value, labelled below; decorative for screen readers (the table beside
/// it carries the figures).
pub struct Bars {
    pub title: String,
    pub bars: Vec<(String, i64, String)>,
}

impl Bars {
    fn max(&self) -> i64 {
        self.bars.iter().map(|b| b.1).max().unwrap_or(0).max(1)
    }

    /// Bar height in the 0..=150 drawing box.
    pub fn height(&self, v: &i64) -> i64 {
        v * 150 / self.max()
    }

    pub fn width(&self) -> usize {
        self.bars.len().max(1) * 48 + 20
    }
}

#[derive(Template)]
#[template(path = "desk/reports.html")]
struct ReportPage {
    f: Frame,
    from: String,
    to: String,
    org: String,
    members: Vec<(String, String)>,
    total: Line,
    months: Vec<Line>,
    members_table: Vec<Line>,
    services: Vec<Line>,
    backlog: Vec<(String, i64)>,
    volume: Bars,
    sla: Bars,
    backlog_chart: Bars,
    csv: String,
}

async fn page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<ReportQuery>,
) -> PageResult<Response> {
    let (scope, pd) = period(&s, &p, &q).await?;
    let r = run(&s, &scope, &pd).await?;
    if q.format.as_deref() == Some("csv") {
        let (name, rows) = match q.table.as_deref().unwrap_or("month") {
            "month" => ("by-month", &r.by_month),
            "member" => ("by-member", &r.by_member),
            "service" => ("by-service", &r.by_service),
            _ => {
                return Err(Failure::Invalid(vec![FieldError::new(
                    "table",
                    "must be month, member or service",
                )])
                .into());
            }
        };
        let opt = |v: Option<f64>| v.map(|x| format!("{x:.1}")).unwrap_or_default();
        return Ok(crate::page::csv_response(
            &format!("desk-report-{name}-{}-{}.csv", pd.from, pd.to),
            &[
                "key",
                "opened",
                "resolved",
                "sla_attainment_percent",
                "response_attainment_percent",
                "mttr_hours",
                "fcr_percent",
                "csat",
                "csat_responses",
            ],
            rows.iter().map(|g| {
                vec![
                    g.key.clone(),
                    g.opened.to_string(),
                    g.resolved.to_string(),
                    opt(g.sla_percent()),
                    opt(g.response_percent()),
                    opt(g.mttr_hours()),
                    opt(g.fcr_percent()),
                    g.csat().map(|c| format!("{c:.2}")).unwrap_or_default(),
                    g.csat_count.to_string(),
                ]
            }),
        ));
    }
    let members = store::tenancy::orgs::names(&s.db, &scope, None, 400)
        .await?
        .into_iter()
        .map(|o| (o.slug, o.name))
        .collect();
    let volume = Bars {
        title: "Tickets opened per month".into(),
        bars: r
            .by_month
            .iter()
            .map(|g| {
                (
                    g.key.get(5..).unwrap_or("").to_owned(),
                    g.opened,
                    crate::page::fmt_int(g.opened),
                )
            })
            .collect(),
    };
    let sla = Bars {
        title: "Resolution SLA met per month (%)".into(),
        bars: r
            .by_month
            .iter()
            .map(|g| {
                let v = g.sla_percent().unwrap_or(0.0);
                (
                    g.key.get(5..).unwrap_or("").to_owned(),
                    v.round() as i64,
                    format!("{v:.0}%"),
                )
            })
            .collect(),
    };
    let backlog_chart = Bars {
        title: "Open tickets by age".into(),
        bars: r
            .backlog
            .iter()
            .map(|(k, n)| {
                (
                    k.split(' ').next().unwrap_or("").to_owned(),
                    *n,
                    n.to_string(),
                )
            })
            .collect(),
    };
    let query = format!("from={}&to={}&org={}", pd.from, pd.to, pd.org_slug);
    let f = Frame::new(&s, &p, "Service desk reports", "reports").await?;
    Ok(render(&ReportPage {
        f,
        from: pd.from.to_string(),
        to: pd.to.to_string(),
        org: pd.org_slug.clone(),
        members,
        total: line(&r.total),
        months: r.by_month.iter().map(line).collect(),
        members_table: r.by_member.iter().map(line).collect(),
        services: r.by_service.iter().map(line).collect(),
        backlog: r.backlog.clone(),
        volume,
        sla,
        backlog_chart,
        csv: format!("/reports?{query}&format=csv"),
    }))
}
