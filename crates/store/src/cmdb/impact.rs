//! Impact analysis.

use super::*;

/// One affected item, as impact analysis reports it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Affected {
    pub id: CiId,
    pub name: String,
    pub ci_type: CiType,
    pub org_id: OrgId,
    pub org_name: String,
    pub depth: u32,
    /// The item it depends on, one step closer to the failing one.
    pub via: CiId,
    pub kind: RelationKind,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Impact {
    pub ci: Ci,
    pub depth: u32,
    /// Every affected item the scope may read, nearest first (a tree through `via`).
    pub affected: Vec<Affected>,
    /// The affected business services and applications, and members, by name.
    pub services: Vec<String>,
    pub applications: Vec<String>,
    pub members: Vec<String>,
}

/// What stops working when `id` does: every item that runs on, depends on, is located at or is connected
/// to it, directly or through others, up to `depth` steps. The walk follows every relationship (an outage
/// does not stop at a tenancy boundary); the answer names only what the scope may read.
pub async fn impact_of(db: &Db, scope: &Scope, id: CiId, depth: u32) -> Result<Impact> {
    let root = get(db, scope, id).await?;
    let (reached, info) = walk(db, id, depth).await?;
    // What the scope may read: its own organisations' items and the hub's.
    let hub = crate::tenancy::orgs::hub(db).await?.map(|h| h.id);
    let org_names: BTreeMap<String, String> = sqlx::query("SELECT id, name FROM orgs")
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| Ok((r.try_get("id")?, r.try_get("name")?)))
        .collect::<Result<_>>()?;
    let mut affected = Vec::with_capacity(reached.len());
    for r in reached {
        let Some((name, ci_type, org)) = info.get(&r.id) else {
            continue;
        };
        let org_id: OrgId = parse_id(org)?;
        if !(scope.contains(org_id) || Some(org_id) == hub) {
            continue;
        }
        affected.push(Affected {
            id: parse_id(&r.id)?,
            name: name.clone(),
            ci_type: *ci_type,
            org_id,
            org_name: org_names.get(org).cloned().unwrap_or_default(),
            depth: r.depth,
            via: parse_id(&r.via)?,
            kind: r.kind,
        });
    }
    let named = |t: CiType| -> Vec<String> {
        affected
            .iter()
            .filter(|a| a.ci_type == t)
            .map(|a| a.name.clone())
            .collect::<BTreeSet<_>>()
            .into_iter()
            .collect()
    };
    let services = named(CiType::BusinessService);
    let applications = named(CiType::Application);
    let members: Vec<String> = std::iter::once(root.org_name.clone())
        .chain(affected.iter().map(|a| a.org_name.clone()))
        .collect::<BTreeSet<_>>()
        .into_iter()
        .collect();
    Ok(Impact {
        ci: root,
        depth,
        affected,
        services,
        applications,
        members,
    })
}

/// Name, type and owner of an item reached by the walk.
type Info = (String, CiType, String);

/// The walk itself: one indexed query per level (`to_ci IN frontier`, the frontier in chunks), which
/// returns each dependent once — with one of the items it depends on (`via`, the least id: deterministic)
/// and its own name, type and owner — so that rows stay one per item reached. Relationships that carry no
/// outage (backups) are left out by the query.
async fn walk(
    db: &Db,
    root: CiId,
    depth: u32,
) -> Result<(Vec<Reached<String>>, BTreeMap<String, Info>)> {
    let mut levels: Vec<Vec<Edge<String>>> = Vec::new();
    let mut info: BTreeMap<String, Info> = BTreeMap::new();
    let mut frontier = vec![root.to_string()];
    let mut seen: BTreeSet<String> = [root.to_string()].into();
    for _ in 0..depth {
        if frontier.is_empty() {
            break;
        }
        let mut edges = Vec::new();
        // The frontier goes as one JSON array and the level comes back as one JSON document: hundreds of
        // bound values made SQLite's parameter lookup, and a row per dependent sqlx's per-row hand-off, the
        // bulk of the work.
        let sql = match db.backend() {
            crate::Backend::Sqlite => {
                "SELECT json_group_array(json_array(from_ci, via, name, ci_type, org_id)) AS doc FROM ( \
                 SELECT r.from_ci, MIN(r.to_ci || ' ' || r.kind) AS via, c.name, c.ci_type, c.org_id \
                 FROM ci_relations r JOIN cis c ON c.id = r.from_ci \
                 WHERE r.kind <> 'backs_up_to' AND r.to_ci IN (SELECT value FROM json_each($1)) \
                 GROUP BY r.from_ci, c.name, c.ci_type, c.org_id)"
            }
            crate::Backend::Postgres => {
                "SELECT COALESCE(json_agg(json_build_array(from_ci, via, name, ci_type, org_id)), '[]'::json)::text AS doc FROM ( \
                 SELECT r.from_ci, MIN(r.to_ci || ' ' || r.kind) AS via, c.name, c.ci_type, c.org_id \
                 FROM ci_relations r JOIN cis c ON c.id = r.from_ci \
                 WHERE r.kind <> 'backs_up_to' AND r.to_ci IN (SELECT jsonb_array_elements_text($1::jsonb)) \
                 GROUP BY r.from_ci, c.name, c.ci_type, c.org_id) AS level"
            }
        };
        for chunk in frontier.chunks(5_000) {
            let doc = serde_json::to_string(chunk).map_err(corrupt)?;
            let row = sqlx::query(sql).bind(doc).fetch_one(&db.read).await?;
            let rows: Vec<(String, String, String, String, String)> = row.json("doc")?;
            for (from, via, name, ci_type, org_id) in rows {
                let (to, kind) = via.split_once(' ').ok_or_else(|| corrupt("relationship"))?;
                let kind = RelationKind::parse(kind).map_err(|e| corrupt(e.message))?;
                info.entry(from.clone()).or_insert((
                    name,
                    CiType::parse(&ci_type).map_err(|e| corrupt(e.message))?,
                    org_id,
                ));
                edges.push(Edge {
                    from,
                    to: to.to_owned(),
                    kind,
                });
            }
        }
        // The same dependent may come through two chunks: keep its first edge.
        edges.sort_by(|a, b| (&a.from, &a.to).cmp(&(&b.from, &b.to)));
        edges.dedup_by(|a, b| a.from == b.from);
        frontier = edges
            .iter()
            .filter(|e| seen.insert(e.from.clone()))
            .map(|e| e.from.clone())
            .collect();
        levels.push(edges);
    }
    let mut level = 0;
    let reached = impact(&root.to_string(), depth, |_| {
        let edges = levels.get(level).cloned().unwrap_or_default();
        level += 1;
        edges
    });
    Ok((reached, info))
}
