//! The feature's operations: each checks its input and the caller's permission, calls the store and
//! returns the result. The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::json::given;
use axum::response::Response;
use domain::FieldError;
use domain::authz::{Permission, Scope};
use domain::cmdb::{CiStatus, CiType, RelationKind, check_attributes};
use domain::ids::{CiId, OrgId};
use domain::validation::{Collector, text};
use serde::Deserialize;
use serde_json::{Map, Value};
use store::cmdb::{self, CiDraft, Filter};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct CiQuery {
    pub org: Option<String>,
    #[serde(rename = "type")]
    #[schemars(with = "Option<domain::cmdb::CiType>")]
    pub ci_type: Option<String>,
    #[schemars(with = "Option<domain::cmdb::CiStatus>")]
    pub status: Option<String>,
    pub q: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
}

/// The list's filters, checked (the API's query and the page's).
pub async fn filter(s: &AppState, scope: &Scope, q: &CiQuery) -> Result<Filter, Failure> {
    let mut c = Collector::new();
    let org = match given(&q.org) {
        None => None,
        Some(slug) => c.take(crate::extract::readable_org(s, scope, slug).await),
    };
    let f = Filter {
        org,
        ci_type: given(&q.ci_type)
            .and_then(|v| c.take(CiType::parse(v).map_err(|e| FieldError::new("type", e.message)))),
        status: given(&q.status).and_then(|v| c.take(CiStatus::parse(v))),
        q: given(&q.q).map(str::to_owned),
    };
    c.finish()?;
    Ok(f)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawCi {
    /// The owner's slug; on creation it defaults to the person's own organisation.
    pub org: Option<String>,
    pub department_id: Option<String>,
    #[serde(rename = "type")]
    #[schemars(with = "Option<domain::cmdb::CiType>")]
    pub ci_type: Option<String>,
    pub name: Option<String>,
    #[schemars(with = "Option<domain::cmdb::CiStatus>")]
    pub status: Option<String>,
    /// The type's attributes (see `/api/v1/ci-types`); on a change, the given ones replace the item's.
    pub attributes: Option<Map<String, Value>>,
}

/// An item's fields; on a change, what is not given keeps its current value.
pub async fn parse_ci(
    s: &AppState,
    manage: &Scope,
    home: OrgId,
    raw: &RawCi,
    current: Option<&cmdb::Ci>,
) -> Result<CiDraft, Failure> {
    let mut c = Collector::new();
    let org_id = match (given(&raw.org), current, manage) {
        (Some(slug), _, _) => match store::tenancy::orgs::id_by_slug(&s.db, manage, slug).await {
            Ok(id) => Some(id),
            Err(_) => {
                c.push(FieldError::new(
                    "org",
                    "is not an organisation you can record items for",
                ));
                None
            }
        },
        (None, Some(cur), _) => Some(cur.org_id),
        // The person's own organisation, when they record items for it.
        (None, None, _) if manage.contains(home) => Some(home),
        (None, None, Scope::Orgs(o)) if o.len() == 1 => o.iter().next().copied(),
        (None, None, _) => {
            c.push(FieldError::new("org", "is required: the owner's slug"));
            None
        }
    };
    let ci_type = match (given(&raw.ci_type), current) {
        (None, Some(cur)) => Some(cur.ci_type),
        (None, None) => {
            c.push(FieldError::new(
                "type",
                format!(
                    "is required: one of {}",
                    CiType::ALL
                        .iter()
                        .map(|t| t.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
        (Some(v), _) => c.take(CiType::parse(v).map_err(|e| FieldError::new("type", e.message))),
    };
    let name = match (&raw.name, current) {
        (None, Some(cur)) => Some(cur.name.clone()),
        (n, _) => c.take(text("name", n.as_deref().unwrap_or(""), 200)),
    };
    let status = match (given(&raw.status), current) {
        (None, Some(cur)) => Some(cur.status),
        (None, None) => Some(CiStatus::Active),
        (Some(v), _) => c.take(CiStatus::parse(v)),
    };
    let department_id = match (&raw.department_id, current) {
        (None, Some(cur)) => Some(cur.department_id),
        (None, None) => Some(None),
        (Some(d), _) if d.trim().is_empty() => Some(None),
        (Some(d), _) => c
            .take(
                d.trim()
                    .parse()
                    .map_err(|_| FieldError::new("department_id", "is not an id")),
            )
            .map(Some),
    };
    let attributes = match (&raw.attributes, current, ci_type) {
        (None, Some(cur), _) => Some(cur.attributes.clone()),
        (None, None, _) => Some(Map::new()),
        (Some(a), _, Some(t)) => match check_attributes(t, a) {
            Ok(a) => Some(a),
            Err(errs) => {
                for e in errs {
                    c.push(e);
                }
                None
            }
        },
        (Some(_), _, None) => None,
    };
    c.finish()?;
    match (org_id, ci_type, name, status, department_id, attributes) {
        (
            Some(org_id),
            Some(ci_type),
            Some(name),
            Some(status),
            Some(department_id),
            Some(attributes),
        ) => Ok(CiDraft {
            org_id,
            department_id,
            ci_type,
            name,
            status,
            attributes,
        }),
        _ => Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )])),
    }
}

/// Records an item (the API's body or the page's form).
pub async fn record_ci(s: &AppState, p: &Principal, raw: &RawCi) -> Result<cmdb::Ci, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let d = parse_ci(s, &manage, p.user.org_id, raw, None).await?;
    Ok(cmdb::create(&s.db, &manage, &p.actor(), &d).await?)
}

/// Changes an item (the API's body or the page's form); `version`, when given, must be the one read.
pub async fn change_ci(
    s: &AppState,
    p: &Principal,
    id: CiId,
    version: Option<i64>,
    raw: &RawCi,
) -> Result<cmdb::Ci, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let read = p.require(Permission::CmdbRead)?;
    let current = cmdb::get(&s.db, &read, id).await?;
    if !manage.contains(current.org_id) {
        return Err(Failure::Forbidden);
    }
    let d = parse_ci(s, &manage, p.user.org_id, raw, Some(&current)).await?;
    Ok(cmdb::update(&s.db, &read, &manage, &p.actor(), id, version, &d).await?)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRelation {
    #[schemars(with = "Option<domain::cmdb::RelationKind>")]
    pub kind: Option<String>,
    pub to_ci: Option<String>,
}

/// Relates an item to another (the API's body or the page's form).
pub async fn add_relation(
    s: &AppState,
    p: &Principal,
    from: CiId,
    raw: &RawRelation,
) -> Result<cmdb::Relation, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let read = p.require(Permission::CmdbRead)?;
    let mut c = Collector::new();
    let kind = match given(&raw.kind) {
        None => {
            c.push(FieldError::new(
                "kind",
                format!(
                    "is required: one of {}",
                    RelationKind::ALL
                        .iter()
                        .map(|k| k.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                ),
            ));
            None
        }
        Some(v) => c.take(RelationKind::parse(v)),
    };
    let to: Option<CiId> = match given(&raw.to_ci) {
        None => {
            c.push(FieldError::new("to_ci", "is required: the other item's id"));
            None
        }
        Some(v) => c.take(
            v.parse()
                .map_err(|_| FieldError::new("to_ci", "is not an id")),
        ),
    };
    c.finish()?;
    let (Some(kind), Some(to)) = (kind, to) else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )]));
    };
    Ok(cmdb::relate(&s.db, &read, &manage, &p.actor(), from, kind, to).await?)
}

/// The depth of an impact walk: 1 to 10, 5 when not given.
pub fn depth(raw: &Option<String>) -> Result<u32, Failure> {
    match given(raw) {
        None => Ok(5),
        Some(v) => v
            .parse::<u32>()
            .ok()
            .filter(|d| (1..=10).contains(d))
            .ok_or_else(|| {
                Failure::Invalid(vec![FieldError::new(
                    "depth",
                    "must be a whole number from 1 to 10",
                )])
            }),
    }
}

// ---------------------------------------------------------------------------------------------------
// CSV import and export

/// Most rows in one import.
pub const MAX_IMPORT_ROWS: usize = 200_000;

/// Reads an items CSV: columns `type`, `name`, optionally `org` (default: the person's own organisation)
/// and `status` (default active); every other
/// column is an attribute, filled only for the types that have it. Problems are named by line and column
/// (`row 7.attributes.vcpu`); a file with any problem imports nothing.
pub async fn parse_csv(
    s: &AppState,
    manage: &Scope,
    home: OrgId,
    file: &[u8],
) -> Result<Vec<cmdb::ImportRow>, Failure> {
    let bad = |m: String| Failure::Invalid(vec![FieldError::new("file", m)]);
    let mut reader = csv::ReaderBuilder::new()
        .flexible(false)
        .trim(csv::Trim::All)
        .from_reader(file);
    let headers = reader
        .headers()
        .map_err(|e| bad(format!("is not CSV: {e}")))?
        .clone();
    let col = |name: &str| headers.iter().position(|h| h.eq_ignore_ascii_case(name));
    let (Some(type_col), Some(name_col)) = (col("type"), col("name")) else {
        return Err(bad(
            "needs the columns type and name (org, status and the types' attributes are optional)"
                .into(),
        ));
    };
    // Without an org column every row is the person's own organisation's.
    let org_col = col("org");
    if org_col.is_none() && !manage.contains(home) {
        return Err(bad("needs an org column: the owner of each row".into()));
    }
    let status_col = col("status");
    let attr_cols: Vec<(usize, String)> = headers
        .iter()
        .enumerate()
        .filter(|(i, _)| ![org_col, Some(type_col), Some(name_col), status_col].contains(&Some(*i)))
        .map(|(i, h)| (i, h.to_owned()))
        .collect();
    // Organisations by slug, resolved once.
    let mut orgs: std::collections::HashMap<String, Option<OrgId>> = Default::default();
    let mut out = Vec::new();
    let mut errors: Vec<FieldError> = Vec::new();
    for (i, row) in reader.records().enumerate() {
        let line = i + 2;
        if i >= MAX_IMPORT_ROWS {
            return Err(bad(format!(
                "has more than {MAX_IMPORT_ROWS} rows; split it"
            )));
        }
        if errors.len() >= 200 {
            break;
        }
        let row = match row {
            Ok(r) => r,
            Err(e) => {
                errors.push(FieldError::new(
                    format!("row {line}"),
                    format!("cannot be read: {e}"),
                ));
                continue;
            }
        };
        let cell = |c: usize| row.get(c).unwrap_or("").to_owned();
        let field = |f: &str| format!("row {line}.{f}");
        let slug = org_col.map(cell).unwrap_or_default();
        if !orgs.contains_key(&slug) {
            let id = match org_col {
                None => Some(home),
                Some(_) => store::tenancy::orgs::id_by_slug(&s.db, manage, &slug)
                    .await
                    .ok(),
            };
            orgs.insert(slug.clone(), id);
        }
        let org_id = orgs.get(&slug).copied().flatten();
        if org_id.is_none() {
            errors.push(FieldError::new(
                field("org"),
                format!("{slug:?} is not an organisation you can record items for"),
            ));
        }
        let ci_type = CiType::parse(&cell(type_col))
            .map_err(|e| errors.push(FieldError::new(field("type"), e.message)))
            .ok();
        let name = text("name", &cell(name_col), 200)
            .map_err(|e| errors.push(FieldError::new(field("name"), e.message)))
            .ok();
        let status = match status_col.map(cell).filter(|v| !v.is_empty()) {
            None => Some(CiStatus::Active),
            Some(v) => CiStatus::parse(&v)
                .map_err(|e| errors.push(FieldError::new(field("status"), e.message)))
                .ok(),
        };
        let mut given = Map::new();
        for (c, name) in &attr_cols {
            let v = cell(*c);
            if !v.is_empty() {
                given.insert(name.clone(), Value::String(v));
            }
        }
        let attributes = ci_type.and_then(|t| match check_attributes(t, &given) {
            Ok(a) => Some(a),
            Err(es) => {
                for e in es {
                    errors.push(FieldError::new(field(&e.field), e.message));
                }
                None
            }
        });
        if let (Some(org_id), Some(ci_type), Some(name), Some(status), Some(attributes)) =
            (org_id, ci_type, name, status, attributes)
        {
            out.push(cmdb::ImportRow {
                line,
                org_id,
                ci_type,
                name,
                status,
                attributes,
            });
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    if out.is_empty() {
        return Err(bad("has no rows".into()));
    }
    Ok(out)
}

/// Imports (or, dry, checks) an items CSV: the API's body or the page's upload.
pub async fn import_file(
    s: &AppState,
    p: &Principal,
    text: &[u8],
    dry_run: bool,
) -> Result<cmdb::ImportReport, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let rows = parse_csv(s, &manage, p.user.org_id, text).await?;
    Ok(cmdb::import(&s.db, &manage, &p.actor(), &rows, dry_run).await?)
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ExportQuery {
    #[serde(rename = "type")]
    #[schemars(with = "Option<domain::cmdb::CiType>")]
    pub ci_type: Option<String>,
}

/// The items as CSV (of one type, when asked), in the import's columns: for people who record items, the
/// ones they may change, so that the file can be edited and imported back; for readers, all they see.
pub async fn export_file(
    s: &AppState,
    p: &Principal,
    q: &ExportQuery,
) -> Result<Response, Failure> {
    let scope = p.require(Permission::CmdbRead)?;
    let ci_type = given(&q.ci_type)
        .map(|v| {
            CiType::parse(v).map_err(|e| Failure::Invalid(vec![FieldError::new("type", e.message)]))
        })
        .transpose()?;
    // Whoever records items gets the ones they can import back (a member's, without the hub's); a reader
    // gets everything they see.
    let manage = p.scope(Permission::CmdbManage);
    let items = if manage.is_empty() {
        cmdb::export(&s.db, &scope, ci_type, false).await?
    } else {
        cmdb::export(&s.db, &manage, ci_type, true).await?
    };
    // The attribute columns of the types present, in the types' own order.
    let mut attrs: Vec<&'static str> = Vec::new();
    for t in CiType::ALL {
        if items.iter().any(|(_, c)| c.ci_type == *t) {
            for a in t.attributes() {
                if !attrs.contains(&a.name) {
                    attrs.push(a.name);
                }
            }
        }
    }
    let mut header = vec!["org", "type", "name", "status"];
    header.extend(attrs.iter().copied());
    let rows = items.into_iter().map(|(slug, c)| {
        let mut row = vec![
            slug,
            c.ci_type.as_str().to_owned(),
            c.name.clone(),
            c.status.as_str().to_owned(),
        ];
        for a in &attrs {
            row.push(match c.attributes.get(*a) {
                None => String::new(),
                Some(Value::String(v)) => v.clone(),
                Some(v) => v.to_string(),
            });
        }
        row
    });
    Ok(crate::page::csv_response(
        "configuration-items.csv",
        &header,
        rows,
    ))
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    pub ci_id: Option<String>,
}

/// Links an item to a ticket (the API's body or the ticket page's form).
pub async fn link(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawLink,
) -> Result<cmdb::Ci, Failure> {
    p.require(Permission::TicketWork)?;
    let view = p.ticket_view()?;
    let id: CiId = match given(&raw.ci_id) {
        None => {
            return Err(Failure::Invalid(vec![FieldError::new(
                "ci_id",
                "is required: the item's id",
            )]));
        }
        Some(v) => v
            .parse()
            .map_err(|_| Failure::Invalid(vec![FieldError::new("ci_id", "is not an id")]))?,
    };
    let read = p.scope(Permission::CmdbRead);
    Ok(cmdb::link_ticket(&s.db, &view, &read, &p.actor(), number, id).await?)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawBulk {
    /// The items' ids.
    #[schemars(required, with = "Vec<domain::ids::CiId>", length(min = 1, max = 1000))]
    pub ids: Option<Vec<String>>,
    #[schemars(with = "Option<domain::cmdb::CiStatus>")]
    pub status: Option<String>,
}

/// Sets many items' status (the API's body or the list page's form); returns how many changed.
pub async fn bulk_change(s: &AppState, p: &Principal, raw: &RawBulk) -> Result<usize, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let read = p.require(Permission::CmdbRead)?;
    let mut c = Collector::new();
    let ids: Vec<CiId> = match &raw.ids {
        None => {
            c.push(FieldError::new("ids", "is required: the items to change"));
            Vec::new()
        }
        Some(v) if v.is_empty() => {
            c.push(FieldError::new("ids", "choose at least one item"));
            Vec::new()
        }
        Some(v) if v.len() > 1_000 => {
            c.push(FieldError::new(
                "ids",
                "is more than 1,000 items; change them in parts",
            ));
            Vec::new()
        }
        Some(v) => v
            .iter()
            .enumerate()
            .filter_map(|(i, id)| {
                c.take(
                    id.trim()
                        .parse()
                        .map_err(|_| FieldError::new(format!("ids[{i}]"), "is not an id")),
                )
            })
            .collect(),
    };
    let status = match given(&raw.status) {
        None => {
            c.push(FieldError::new("status", "is required"));
            None
        }
        Some(v) => c.take(CiStatus::parse(v)),
    };
    c.finish()?;
    let Some(status) = status else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "status",
            "is required",
        )]));
    };
    Ok(cmdb::bulk_status(&s.db, &read, &manage, &p.actor(), &ids, status).await?)
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawCi {
    const REQUIRED: &'static [&'static str] = &["type", "name"];
}
