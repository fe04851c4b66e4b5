//! What was billed.

use super::*;

/// Billed cents of one member for one service (`None`: credits) over the months of one invoice period.
pub(super) struct Billed {
    pub(super) org: OrgId,
    pub(super) service: Option<ServiceId>,
    pub(super) subscription: Option<String>,
    pub(super) period_start: Date,
    pub(super) period_end: Date,
    pub(super) cents: i64,
}

/// Billed amounts from issued and paid invoices whose period starts in `from..to`, per member, service,
/// subscription and invoice period.
pub(super) async fn billed(db: &Db, scope: &Scope, from: Date, to: Date) -> Result<Vec<Billed>> {
    let mut q = Sql::new(
        "SELECT i.org_id, c.service_id, l.subscription_id, i.period_start, i.period_end, \
         CAST(SUM(l.amount_cents) AS BIGINT) AS cents \
         FROM invoice_lines l JOIN invoices i ON i.id = l.invoice_id \
         LEFT JOIN rate_cards c ON c.id = l.rate_card_id \
         WHERE i.kind = 'invoice' AND i.status IN ('issued', 'paid') AND i.period_start >= ",
    );
    q.bind(from.to_string())
        .push(" AND i.period_start < ")
        .bind(to.to_string());
    q.scope("i.org_id", scope);
    q.push(" GROUP BY i.org_id, c.service_id, l.subscription_id, i.period_start, i.period_end");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Billed {
                org: r.id("org_id")?,
                service: r
                    .try_get::<Option<String>, _>("service_id")?
                    .map(|s| parse_id(&s))
                    .transpose()?,
                subscription: r.try_get("subscription_id")?,
                period_start: date(r, "period_start")?,
                period_end: date(r, "period_end")?,
                cents: r.try_get("cents")?,
            })
        })
        .collect()
}

pub(super) fn months_of(start: Date, end: Date) -> Vec<String> {
    Period { start, end }
        .months()
        .iter()
        .map(|m| month_key(m.start))
        .collect()
}

/// Members of the region in scope, by name.
pub(super) struct Org {
    pub(super) id: OrgId,
    pub(super) name: String,
    pub(super) slug: String,
    pub(super) population: i64,
    pub(super) active_users: i64,
}

pub(super) async fn members(db: &Db, scope: &Scope) -> Result<Vec<Org>> {
    let mut q = Sql::new(
        "SELECT o.id, o.name, o.slug, o.population, \
         (SELECT COUNT(*) FROM users u WHERE u.org_id = o.id AND u.active = 1) AS active_users \
         FROM orgs o WHERE o.is_hub = 0",
    );
    q.scope("o.id", scope);
    q.push(" ORDER BY o.name");
    q.fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            Ok(Org {
                id: r.id("id")?,
                name: r.try_get("name")?,
                slug: r.try_get("slug")?,
                population: r.try_get::<Option<i64>, _>("population")?.unwrap_or(0),
                active_users: r.try_get("active_users")?,
            })
        })
        .collect()
}

pub(super) async fn service_names(db: &Db) -> Result<BTreeMap<ServiceId, String>> {
    sqlx::query("SELECT id, name FROM services")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.id("id")?, r.try_get("name")?)))
        .collect()
}
