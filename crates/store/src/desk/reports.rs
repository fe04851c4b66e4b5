//! Service desk reports over a period, for the region or the organisations a person may see: volume by
//! month, member and service; backlog by age; mean time to resolve; first-contact resolution; SLA
//! attainment; customer satisfaction. Rows are read once and counted here (the same code on both backends).

use crate::row::Cols;
use crate::sql::Sql;
use crate::{Db, Result, Scope};
use domain::ids::OrgId;
use serde::Serialize;
use sqlx::Row;
use std::collections::BTreeMap;

/// One labelled figure group (a month, a member, a service).
#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Group {
    pub key: String,
    pub opened: i64,
    pub resolved: i64,
    /// Resolved within the resolution target.
    pub resolution_met: i64,
    /// Responded within the response target (of the tickets that got a response or breached it).
    pub response_met: i64,
    pub response_counted: i64,
    /// Sum of hours from opening to resolution (for the mean).
    pub resolve_hours_sum: i64,
    /// Resolved with no reopening and at most one reply from the desk.
    pub first_contact: i64,
    pub csat_sum: i64,
    pub csat_count: i64,
}

impl Group {
    pub fn sla_percent(&self) -> Option<f64> {
        (self.resolved > 0).then(|| percent(self.resolution_met, self.resolved))
    }
    pub fn response_percent(&self) -> Option<f64> {
        (self.response_counted > 0).then(|| percent(self.response_met, self.response_counted))
    }
    pub fn mttr_hours(&self) -> Option<f64> {
        (self.resolved > 0).then(|| round1(self.resolve_hours_sum as f64 / self.resolved as f64))
    }
    pub fn fcr_percent(&self) -> Option<f64> {
        (self.resolved > 0).then(|| percent(self.first_contact, self.resolved))
    }
    pub fn csat(&self) -> Option<f64> {
        (self.csat_count > 0)
            .then(|| (self.csat_sum as f64 / self.csat_count as f64 * 100.0).round() / 100.0)
    }
}

fn percent(a: i64, b: i64) -> f64 {
    round1(a as f64 * 100.0 / b as f64)
}

fn round1(x: f64) -> f64 {
    (x * 10.0).round() / 10.0
}

#[derive(Debug, Clone, Default, Serialize, PartialEq, schemars::JsonSchema)]
pub struct DeskReport {
    pub total: Group,
    pub by_month: Vec<Group>,
    pub by_member: Vec<Group>,
    pub by_service: Vec<Group>,
    /// Open tickets by age: under a day, 1–3 days, 3–7 days, 1–4 weeks, older.
    pub backlog: Vec<(String, i64)>,
}

/// The report for tickets opened in `[from, to)` (epoch ms) in `scope`, optionally one organisation;
/// months are counted in `tz`.
pub async fn desk(
    db: &Db,
    scope: &Scope,
    org: Option<OrgId>,
    from: i64,
    to: i64,
    now: i64,
    tz: &jiff::tz::TimeZone,
) -> Result<DeskReport> {
    let mut q = Sql::new(
        "SELECT t.org_id, o.name AS org_name, t.service_id, s.name AS service_name, t.created_at, t.resolved_at, t.status, \
         t.first_response_at, t.response_breached, t.resolution_breached, t.reopen_count, t.public_replies, t.csat_score \
         FROM tickets t JOIN orgs o ON o.id = t.org_id LEFT JOIN services s ON s.id = t.service_id WHERE t.created_at >= ",
    );
    q.bind(from).push(" AND t.created_at < ").bind(to);
    q.scope("t.org_id", scope);
    if let Some(o) = org {
        q.push(" AND t.org_id = ").bind(o.to_string());
    }
    let rows = q.fetch_all(&db.read).await?;
    let mut total = Group {
        key: "All".into(),
        ..Group::default()
    };
    let mut months: BTreeMap<String, Group> = BTreeMap::new();
    let mut members: BTreeMap<String, Group> = BTreeMap::new();
    let mut services: BTreeMap<String, Group> = BTreeMap::new();
    let mut backlog = [0i64; 5];
    for r in &rows {
        let created: i64 = r.try_get("created_at")?;
        let resolved: Option<i64> = r.try_get("resolved_at")?;
        let status: String = r.try_get("status")?;
        let month = jiff::Timestamp::from_millisecond(created)
            .map(|t| tz.to_datetime(t).strftime("%Y-%m").to_string())
            .unwrap_or_default();
        let member: String = r.try_get("org_name")?;
        let service: String = r
            .try_get::<Option<String>, _>("service_name")?
            .unwrap_or_else(|| "(no service)".into());
        let responded = r.try_get::<Option<i64>, _>("first_response_at")?.is_some();
        let response_breached = r.flag("response_breached")?;
        let resolution_breached = r.flag("resolution_breached")?;
        let reopen: i64 = r.try_get("reopen_count")?;
        let replies: i64 = r.try_get("public_replies")?;
        let csat: Option<i64> = r.try_get("csat_score")?;
        let open = status != "resolved" && status != "closed";
        let add = |g: &mut Group| {
            g.opened += 1;
            if let Some(res) = resolved.filter(|_| !open) {
                g.resolved += 1;
                g.resolve_hours_sum += (res - created).max(0) / 3_600_000;
                if !resolution_breached {
                    g.resolution_met += 1;
                }
                if reopen == 0 && replies <= 1 {
                    g.first_contact += 1;
                }
            }
            if responded || response_breached {
                g.response_counted += 1;
                if !response_breached {
                    g.response_met += 1;
                }
            }
            if let Some(c) = csat {
                g.csat_sum += c;
                g.csat_count += 1;
            }
        };
        add(&mut total);
        add(months.entry(month.clone()).or_insert_with(|| Group {
            key: month,
            ..Group::default()
        }));
        add(members.entry(member.clone()).or_insert_with(|| Group {
            key: member,
            ..Group::default()
        }));
        add(services.entry(service.clone()).or_insert_with(|| Group {
            key: service,
            ..Group::default()
        }));
        if open {
            let age_h = (now - created).max(0) / 3_600_000;
            let i = match age_h {
                0..24 => 0,
                24..72 => 1,
                72..168 => 2,
                168..672 => 3,
                _ => 4,
            };
            backlog[i] += 1;
        }
    }
    let labels = [
        "Under a day",
        "1–3 days",
        "3–7 days",
        "1–4 weeks",
        "Older than 4 weeks",
    ];
    let mut by_member: Vec<Group> = members.into_values().collect();
    by_member.sort_by(|a, b| b.opened.cmp(&a.opened).then(a.key.cmp(&b.key)));
    let mut by_service: Vec<Group> = services.into_values().collect();
    by_service.sort_by(|a, b| b.opened.cmp(&a.opened).then(a.key.cmp(&b.key)));
    Ok(DeskReport {
        total,
        by_month: months.into_values().collect(),
        by_member,
        by_service,
        backlog: labels
            .iter()
            .zip(backlog)
            .map(|(l, n)| ((*l).to_owned(), n))
            .collect(),
    })
}
