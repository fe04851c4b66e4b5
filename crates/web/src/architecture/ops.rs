//! The feature's operations: each checks its input and the caller's permission, calls the store and
//! returns the result. The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::json::given;
use domain::FieldError;
use domain::architecture::{Area, ExceptionStatus, Ring, Risk, check_expiry};
use domain::authz::Permission;
use domain::ids::CiId;
use domain::validation::{Collector, long_text, optional_text, text};
use jiff::civil::Date;
use serde::Deserialize;
use store::architecture::{self as arch, ExceptionDraft, Principle, StandardDraft};

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawStandard {
    pub name: Option<String>,
    #[schemars(with = "Option<domain::architecture::Area>")]
    pub area: Option<String>,
    #[schemars(with = "Option<domain::architecture::Ring>")]
    pub ring: Option<String>,
    pub description: Option<String>,
    /// Terms that find the items using it ("Windows Server 2012"); in a form, one per line.
    pub match_terms: Option<Vec<String>>,
    pub instead: Option<String>,
}

/// A standard's fields; on a change, what is not given keeps its current value.
pub fn parse_standard(
    raw: &RawStandard,
    current: Option<&arch::Standard>,
) -> Result<StandardDraft, Failure> {
    let mut c = Collector::new();
    let name = match (&raw.name, current) {
        (None, Some(cur)) => Some(cur.name.clone()),
        (n, _) => c.take(text("name", n.as_deref().unwrap_or(""), 120)),
    };
    let area = match (given(&raw.area), current) {
        (None, Some(cur)) => Some(cur.area),
        (None, None) => {
            c.push(FieldError::new(
                "area",
                "is required: infrastructure, platforms, applications or security",
            ));
            None
        }
        (Some(v), _) => c.take(Area::parse(v)),
    };
    let ring = match (given(&raw.ring), current) {
        (None, Some(cur)) => Some(cur.ring),
        (None, None) => {
            c.push(FieldError::new(
                "ring",
                "is required: adopt, trial, hold or retire",
            ));
            None
        }
        (Some(v), _) => c.take(Ring::parse(v)),
    };
    let opt =
        |c: &mut Collector, field: &str, raw: &Option<String>, cur: Option<&String>, max: usize| {
            match (raw, cur) {
                (None, Some(cur)) => cur.clone(),
                (v, _) => c
                    .take(optional_text(field, v.as_deref(), max))
                    .flatten()
                    .unwrap_or_default(),
            }
        };
    let description = opt(
        &mut c,
        "description",
        &raw.description,
        current.map(|s| &s.description),
        2_000,
    );
    let instead = opt(
        &mut c,
        "instead",
        &raw.instead,
        current.map(|s| &s.instead),
        200,
    );
    let match_terms = match (&raw.match_terms, current) {
        (None, Some(cur)) => cur.match_terms.clone(),
        (None, None) => Vec::new(),
        (Some(terms), _) => {
            let mut out = Vec::new();
            for (i, t) in terms.iter().enumerate() {
                if t.trim().is_empty() {
                    continue;
                }
                if let Some(t) = c.take(text(&format!("match_terms[{i}]"), t, 120)) {
                    out.push(t);
                }
            }
            if out.len() > 20 {
                c.push(FieldError::new("match_terms", "holds at most 20 terms"));
            }
            out
        }
    };
    c.finish()?;
    Ok(StandardDraft {
        name: name.unwrap_or_default(),
        area,
        ring,
        description,
        match_terms,
        instead,
    })
}

/// Changes a standard (the page and the API share it).
pub async fn change_standard(
    s: &AppState,
    p: &Principal,
    id: &str,
    version: Option<i64>,
    raw: &RawStandard,
) -> Result<arch::Standard, Failure> {
    p.require_region(Permission::CmdbManage)?;
    let current = arch::get_standard(&s.db, id).await?;
    let d = parse_standard(raw, Some(&current))?;
    Ok(arch::update_standard(&s.db, &p.actor(), id, version, &d).await?)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPrinciple {
    pub title: Option<String>,
    pub statement: Option<String>,
    pub rationale: Option<String>,
    pub implications: Option<String>,
}

/// Adopts a principle (the page and the API share it).
pub async fn adopt_principle(
    s: &AppState,
    p: &Principal,
    raw: &RawPrinciple,
) -> Result<Principle, Failure> {
    p.require_region(Permission::CmdbManage)?;
    let mut c = Collector::new();
    let title = c.take(text("title", raw.title.as_deref().unwrap_or(""), 120));
    let statement = c.take(long_text(
        "statement",
        raw.statement.as_deref().unwrap_or(""),
        1_000,
    ));
    let rationale = c
        .take(optional_text("rationale", raw.rationale.as_deref(), 2_000))
        .flatten();
    let implications = c
        .take(optional_text(
            "implications",
            raw.implications.as_deref(),
            2_000,
        ))
        .flatten();
    c.finish()?;
    Ok(arch::add_principle(
        &s.db,
        &p.actor(),
        &Principle {
            id: String::new(),
            title: title.unwrap_or_default(),
            statement: statement.unwrap_or_default(),
            rationale: rationale.unwrap_or_default(),
            implications: implications.unwrap_or_default(),
            version: 0,
        },
    )
    .await?)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawException {
    /// The asking organisation's slug; defaults to the person's own.
    pub org: Option<String>,
    pub standard_id: Option<String>,
    pub ci_id: Option<String>,
    pub title: Option<String>,
    pub reason: Option<String>,
    #[schemars(with = "Option<domain::architecture::Risk>")]
    pub risk: Option<String>,
    pub mitigation: Option<String>,
    pub requested_until: Option<String>,
}

pub(crate) fn date(c: &mut Collector, field: &str, raw: &Option<String>) -> Option<Date> {
    let v = given(raw)?;
    c.take(v.parse::<Date>().map_err(|_| {
        FieldError::new(
            field,
            format!("{v:?} is not a date (write it like 2027-06-30)"),
        )
    }))
}

/// Asks for an exception (the page and the API share it).
pub async fn ask(
    s: &AppState,
    p: &Principal,
    raw: &RawException,
) -> Result<arch::Exception, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let mut c = Collector::new();
    let org = match given(&raw.org) {
        Some(slug) => c.take(
            store::tenancy::orgs::id_by_slug(&s.db, &manage, slug)
                .await
                .map_err(|_| {
                    FieldError::new("org", format!("no organisation {slug:?} you may ask for"))
                }),
        ),
        None => p.current_org().filter(|o| manage.contains(*o)).or_else(|| {
            c.push(FieldError::new(
                "org",
                "is required: the asking organisation's slug",
            ));
            None
        }),
    };
    let standard_id = given(&raw.standard_id).map(str::to_owned).or_else(|| {
        c.push(FieldError::new("standard_id", "is required"));
        None
    });
    let ci_id = given(&raw.ci_id).and_then(|v| {
        c.take(
            v.parse::<CiId>()
                .map_err(|_| FieldError::new("ci_id", "is not an id")),
        )
    });
    let title = c.take(text("title", raw.title.as_deref().unwrap_or(""), 200));
    let reason = c.take(long_text(
        "reason",
        raw.reason.as_deref().unwrap_or(""),
        4_000,
    ));
    let risk = match given(&raw.risk) {
        None => {
            c.push(FieldError::new("risk", "is required: low, medium or high"));
            None
        }
        Some(v) => c.take(Risk::parse(v)),
    };
    let mitigation = c
        .take(optional_text(
            "mitigation",
            raw.mitigation.as_deref(),
            4_000,
        ))
        .flatten()
        .unwrap_or_default();
    let requested_until = date(&mut c, "requested_until", &raw.requested_until);
    c.finish()?;
    let (Some(org_id), Some(standard_id), Some(title), Some(reason), Some(risk)) =
        (org, standard_id, title, reason, risk)
    else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "body",
            "is incomplete",
        )]));
    };
    Ok(arch::request_exception(
        &s.db,
        &manage,
        &p.actor(),
        p.user.id,
        &ExceptionDraft {
            org_id,
            standard_id,
            ci_id,
            title,
            reason,
            risk,
            mitigation,
            requested_until,
        },
    )
    .await?)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDecision {
    /// approved or rejected.
    #[schemars(required, extend("enum" = ["approved", "rejected"]))]
    pub status: Option<String>,
    #[schemars(extend("format" = "date"))]
    pub expires_on: Option<String>,
    pub note: Option<String>,
}

/// Decides a request (the page and the API share it): the hub's to do.
pub async fn decision(
    s: &AppState,
    p: &Principal,
    id: &str,
    version: Option<i64>,
    raw: &RawDecision,
) -> Result<arch::Exception, Failure> {
    p.require_region(Permission::CmdbManage)?;
    let mut c = Collector::new();
    let status = match given(&raw.status) {
        Some("approved") => Some(ExceptionStatus::Approved),
        Some("rejected") => Some(ExceptionStatus::Rejected),
        _ => {
            c.push(FieldError::new("status", "must be approved or rejected"));
            None
        }
    };
    let today = crate::clock::today();
    let expires_on = match (status, date(&mut c, "expires_on", &raw.expires_on)) {
        (Some(ExceptionStatus::Approved), None) if given(&raw.expires_on).is_none() => {
            c.push(FieldError::new(
                "expires_on",
                "is required to approve: every exception ends",
            ));
            None
        }
        (Some(ExceptionStatus::Approved), Some(d)) => c.take(check_expiry(d, today)),
        _ => None,
    };
    let note = c
        .take(optional_text("note", raw.note.as_deref(), 2_000))
        .flatten()
        .unwrap_or_default();
    if status == Some(ExceptionStatus::Rejected) && note.is_empty() {
        c.push(FieldError::new(
            "note",
            "is required to reject: say why, so the member can act on it",
        ));
    }
    c.finish()?;
    let Some(status) = status else {
        return Err(Failure::Invalid(vec![FieldError::new(
            "status",
            "is required",
        )]));
    };
    // Check the request exists before deciding.
    arch::get_exception(&s.db, &store::Scope::Region, id).await?;
    Ok(arch::decide(&s.db, &p.actor(), id, version, status, expires_on, &note).await?)
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawStandard {
    const REQUIRED: &'static [&'static str] = &["name", "area", "ring"];
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawException {
    const REQUIRED: &'static [&'static str] = &["standard_id", "title", "reason", "risk"];
}
