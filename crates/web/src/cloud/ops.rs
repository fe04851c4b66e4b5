//! The feature's operations: each checks its input and the caller's permission, calls the store and
//! returns the result. The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::json::given;
use domain::FieldError;
use domain::authz::Permission;
use domain::cloud::{MAX_CAPACITY, Resources};
use domain::ids::{CiId, PoolId};
use domain::validation::{Collector, optional_text, text};
use serde::Deserialize;
use serde_json::Value;
use store::cloud::{self, PoolDraft};

pub(crate) fn pool_id(raw: &str) -> Result<PoolId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPool {
    #[schemars(length(min = 1, max = 120))]
    pub name: Option<String>,
    /// The hub's site (a CMDB item of type site) the pool stands at; `""` for none.
    pub site_id: Option<String>,
    /// Whole numbers, as numbers or text.
    #[schemars(with = "Option<u32>", range(max = MAX_CAPACITY))]
    pub vcpu: Option<Value>,
    #[schemars(with = "Option<u32>", range(max = MAX_CAPACITY))]
    pub ram_gb: Option<Value>,
    #[schemars(with = "Option<u32>", range(max = MAX_CAPACITY))]
    pub storage_gb: Option<Value>,
    #[schemars(with = "Option<u32>", range(max = MAX_CAPACITY))]
    pub backup_gb: Option<Value>,
    pub notes: Option<String>,
}

/// A capacity: a whole number from 0 to [`MAX_CAPACITY`], given as a number or as text.
pub(crate) fn capacity(
    c: &mut Collector,
    field: &str,
    raw: &Option<Value>,
    current: Option<i64>,
) -> i64 {
    let text = match raw {
        None | Some(Value::Null) => None,
        Some(Value::Number(n)) => Some(n.to_string()),
        Some(Value::String(s)) => Some(s.trim().replace(',', "")),
        Some(_) => {
            c.push(FieldError::new(field, "must be a whole number"));
            return 0;
        }
    };
    match (text.as_deref().filter(|t| !t.is_empty()), current) {
        (None, Some(cur)) => cur,
        (None, None) => 0,
        (Some(t), _) => match t.parse::<i64>() {
            Ok(n) if (0..=MAX_CAPACITY).contains(&n) => n,
            _ => {
                c.push(FieldError::new(
                    field,
                    format!(
                        "{t:?} is not a whole number from 0 to {}",
                        domain::validation::grouped(MAX_CAPACITY)
                    ),
                ));
                0
            }
        },
    }
}

/// A pool's fields; on a change, what is not given keeps its current value.
pub fn parse_pool(raw: &RawPool, current: Option<&cloud::Pool>) -> Result<PoolDraft, Failure> {
    let mut c = Collector::new();
    let name = match (&raw.name, current) {
        (None, Some(cur)) => Some(cur.name.clone()),
        (n, _) => c.take(text("name", n.as_deref().unwrap_or(""), 120)),
    };
    let site_id = match (&raw.site_id, current) {
        (None, Some(cur)) => cur.site_id,
        (s, _) => match given(s) {
            None => None,
            Some(v) => c.take(
                v.parse::<CiId>()
                    .map_err(|_| FieldError::new("site_id", "is not an id")),
            ),
        },
    };
    let cur = current.map(|p| p.capacity);
    let capacity = Resources {
        vcpu: capacity(&mut c, "vcpu", &raw.vcpu, cur.map(|r| r.vcpu)),
        ram_gb: capacity(&mut c, "ram_gb", &raw.ram_gb, cur.map(|r| r.ram_gb)),
        storage_gb: capacity(
            &mut c,
            "storage_gb",
            &raw.storage_gb,
            cur.map(|r| r.storage_gb),
        ),
        backup_gb: capacity(
            &mut c,
            "backup_gb",
            &raw.backup_gb,
            cur.map(|r| r.backup_gb),
        ),
    };
    if capacity.is_zero() && c.is_empty() {
        c.push(FieldError::new(
            "vcpu",
            "a pool needs some capacity: give vCPU, memory, storage or backup",
        ));
    }
    let notes = match (&raw.notes, current) {
        (None, Some(cur)) => Some(cur.notes.clone()),
        (n, _) => c
            .take(optional_text("notes", n.as_deref(), 2_000))
            .map(Option::unwrap_or_default),
    };
    c.finish()?;
    match (name, notes) {
        (Some(name), Some(notes)) => Ok(PoolDraft {
            name,
            site_id,
            capacity,
            notes,
        }),
        _ => Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )])),
    }
}

/// Adds a pool for the hub (the web form and the API share it).
pub async fn record_pool(
    s: &AppState,
    p: &Principal,
    raw: &RawPool,
) -> Result<cloud::Pool, Failure> {
    p.require_region(Permission::CmdbManage)?;
    let d = parse_pool(raw, None)?;
    Ok(cloud::create_pool(&s.db, &p.actor(), &d).await?)
}

/// Changes a pool (the web form and the API share it).
pub async fn change_pool(
    s: &AppState,
    p: &Principal,
    id: PoolId,
    version: Option<i64>,
    raw: &RawPool,
) -> Result<cloud::Pool, Failure> {
    p.require_region(Permission::CmdbManage)?;
    let current = cloud::pool(&s.db, id).await?;
    let d = parse_pool(raw, Some(&current))?;
    Ok(cloud::update_pool(&s.db, &p.actor(), id, version, &d).await?)
}

/// Adds a host or array to a pool (the web form and the API share it).
pub async fn attach(
    s: &AppState,
    p: &Principal,
    id: PoolId,
    raw: &RawPart,
) -> Result<cloud::Part, Failure> {
    p.require_region(Permission::CmdbManage)?;
    let ci = match given(&raw.ci_id) {
        None => {
            return Err(Failure::Invalid(vec![FieldError::new(
                "ci_id",
                "is required",
            )]));
        }
        Some(v) => v
            .parse::<CiId>()
            .map_err(|_| Failure::Invalid(vec![FieldError::new("ci_id", "is not an id")]))?,
    };
    Ok(cloud::add_part(&s.db, &p.actor(), id, ci).await?)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPart {
    pub ci_id: Option<String>,
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawPool {
    const REQUIRED: &'static [&'static str] = &["name"];
}
