//! Labels for pages: names of people, organisations and agents.

use super::*;

/// Names of people shown on tickets (requesters, assignees, authors), by id. Only ids the caller already
/// holds from tickets it may see are looked up.
pub async fn people_names(db: &Db, ids: &[UserId]) -> Result<BTreeMap<UserId, String>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::new("SELECT id, name FROM users WHERE id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.to_string());
    }
    q.push(")");
    for r in q.fetch_all(&db.read).await? {
        out.insert(r.id("id")?, r.try_get("name")?);
    }
    Ok(out)
}

/// An organisation as ticket pages label it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct OrgLabel {
    pub slug: String,
    pub name: String,
    pub time_zone: String,
}

/// Labels of the organisations of tickets the caller may see, by id.
pub async fn org_labels(db: &Db, ids: &[OrgId]) -> Result<BTreeMap<OrgId, OrgLabel>> {
    let mut out = BTreeMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let mut q = Sql::new("SELECT id, slug, name, time_zone FROM orgs WHERE id IN (");
    for (i, id) in ids.iter().enumerate() {
        if i > 0 {
            q.push(", ");
        }
        q.bind(id.to_string());
    }
    q.push(")");
    for r in q.fetch_all(&db.read).await? {
        out.insert(
            r.id("id")?,
            OrgLabel {
                slug: r.try_get("slug")?,
                name: r.try_get("name")?,
                time_zone: r.try_get("time_zone")?,
            },
        );
    }
    Ok(out)
}

/// The hub's agents (hub admins and agents), for assignment pickers: (id, name), by name.
pub async fn agents(db: &Db) -> Result<Vec<(UserId, String)>> {
    sqlx::query("SELECT DISTINCT u.id, u.name FROM users u JOIN grants g ON g.user_id = u.id JOIN orgs o ON o.id = g.org_id WHERE o.is_hub = 1 AND u.active = 1 AND g.role IN ('hub-admin', 'hub-agent') ORDER BY u.name")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.id("id")?, r.try_get("name")?)))
        .collect()
}
