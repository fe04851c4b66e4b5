//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::{ArticleStatus, Visibility};
use domain::validation::{Collector, long_text, text};
use serde::Deserialize;
use store::desk::kb::{self, Draft, Reader};
use store::tenancy::orgs;

/// The desk (anyone with a grant on the hub) reads every article, drafts and internal ones included.
pub fn reader(p: &Principal) -> Reader {
    if p.grants.iter().any(|g| g.on_hub) {
        Reader::Desk
    } else {
        Reader::Member(p.scope(Permission::OrgRead))
    }
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawArticle {
    pub title: Option<String>,
    pub body: Option<String>,
    pub category: Option<String>,
    /// `draft` (default) or `published`.
    #[schemars(with = "Option<domain::desk::ticket::ArticleStatus>")]
    pub status: Option<String>,
    /// `internal` (default), `members` or `member` (with `org`).
    #[schemars(with = "Option<domain::desk::ticket::Visibility>")]
    pub visibility: Option<String>,
    /// Organisation slug, for `member` visibility.
    pub org: Option<String>,
    pub service_id: Option<String>,
}

pub async fn parse_article(
    s: &AppState,
    p: &Principal,
    raw: &RawArticle,
    base: Option<&kb::Article>,
) -> Result<Draft, Failure> {
    let mut c = Collector::new();
    let title = c.take(text(
        "title",
        raw.title
            .as_deref()
            .or(base.map(|b| b.title.as_str()))
            .unwrap_or(""),
        200,
    ));
    let body = c.take(long_text(
        "body",
        raw.body
            .as_deref()
            .or(base.map(|b| b.body.as_str()))
            .unwrap_or(""),
        50_000,
    ));
    let category = match raw
        .category
        .as_deref()
        .or(base.map(|b| b.category.as_str()))
        .map(str::trim)
        .filter(|v| !v.is_empty())
    {
        Some(v) => c.take(text("category", v, 80)),
        None => Some(String::new()),
    };
    let status = match raw.status.as_deref() {
        Some(v) => c.take(ArticleStatus::parse(v)),
        None => Some(base.map_or(ArticleStatus::Draft, |b| b.status)),
    };
    let visibility = match raw.visibility.as_deref() {
        Some(v) => c.take(Visibility::parse(v)),
        None => Some(base.map_or(Visibility::Internal, |b| b.visibility)),
    };
    let mut org_id = base.and_then(|b| b.org_id);
    if let Some(slug) = raw.org.as_deref().map(str::trim).filter(|v| !v.is_empty()) {
        match orgs::get_by_slug(&s.db, &p.scope(Permission::OrgRead), slug).await {
            Ok(o) => org_id = Some(o.id),
            Err(store::StoreError::NotFound) => {
                c.push(FieldError::new("org", "is not an organisation"))
            }
            Err(e) => return Err(e.into()),
        }
    }
    if visibility == Some(Visibility::Member) && org_id.is_none() {
        c.push(FieldError::new(
            "org",
            "is required when the article is for one member",
        ));
    }
    if visibility != Some(Visibility::Member) {
        org_id = None;
    }
    let service_id = match raw.service_id.as_deref().map(str::trim) {
        Some("") => None,
        Some(v) => c.take(
            v.parse()
                .map_err(|_| FieldError::new("service_id", "is not a service")),
        ),
        None => base.and_then(|b| b.service_id),
    };
    c.finish()?;
    match (title, body, category, status, visibility) {
        (Some(title), Some(body), Some(category), Some(status), Some(visibility)) => Ok(Draft {
            title,
            body,
            category,
            status,
            visibility,
            org_id,
            service_id,
        }),
        _ => Err(Failure::Invalid(vec![FieldError::new(
            "article",
            "is incomplete",
        )])),
    }
}

pub async fn apply_link(
    s: &AppState,
    p: &Principal,
    number: i64,
    article: Option<&str>,
) -> Result<(), Failure> {
    p.require(Permission::TicketWork)?;
    let article = article
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .ok_or_else(|| Failure::Invalid(vec![FieldError::new("article", "is required")]))?;
    kb::link_ticket(&s.db, &p.ticket_view()?, &p.actor(), number, article).await?;
    Ok(())
}
