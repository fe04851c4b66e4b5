//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::extract::PageParams;
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::catalog::{FormField, validate_form};
use domain::desk::{
    Approval, Coverage, Impact, Priority, SlaTargets, Source, Status, TicketKind, TicketSubject,
    Urgency,
};
use domain::ids::{OrgId, ServiceId, TeamId, UserId};
use domain::tenancy::Email;
use domain::validation::{Collector, long_text, text};
use serde::{Deserialize, Deserializer, Serialize};
use std::collections::BTreeMap;
use store::desk::catalog::{self, ItemDraft, ServiceDraft};
use store::desk::tickets::{self, Author, Changes, Filter, NewTicket, Openness, Sort};
use store::tenancy::{orgs, users};

// ---------------------------------------------------------------------------------------------------
// Catalog

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawService {
    #[schemars(
        regex(pattern = domain::tenancy::SLUG_PATTERN),
        length(min = 2, max = 63)
    )]
    pub slug: Option<String>,
    pub name: Option<String>,
    pub category: Option<String>,
    pub description: Option<String>,
    pub owner_team_id: Option<String>,
    pub support_hours: Option<String>,
    pub sla_policy_id: Option<String>,
    pub active: Option<bool>,
}

/// Applies `raw` over `base` (an existing service's draft, or empty for a new one).
pub fn parse_service(
    raw: &RawService,
    base: Option<ServiceDraft>,
) -> Result<ServiceDraft, Failure> {
    let mut c = Collector::new();
    let pick = |v: &Option<String>, old: Option<&str>| {
        v.clone().or(old.map(str::to_owned)).unwrap_or_default()
    };
    let b = base.as_ref();
    let name = c.take(text(
        "name",
        &pick(&raw.name, b.map(|d| d.name.as_str())),
        120,
    ));
    let slug_raw = raw.slug.clone().or(b.map(|d| d.slug.clone())).or_else(|| {
        name.as_ref().map(|n| {
            domain::tenancy::OrgSlug::from_name(n)
                .map(|s| s.to_string())
                .unwrap_or_default()
        })
    });
    let slug = c.take(
        domain::tenancy::OrgSlug::parse(slug_raw.as_deref().unwrap_or(""))
            .map_err(|e| FieldError::new("slug", e.message)),
    );
    let category = c.take(text(
        "category",
        &pick(&raw.category, b.map(|d| d.category.as_str())),
        80,
    ));
    let description = pick(&raw.description, b.map(|d| d.description.as_str()));
    let description = if description.trim().is_empty() {
        Some(String::new())
    } else {
        c.take(long_text("description", &description, 4000))
    };
    let support_hours = c.take(text(
        "support_hours",
        &raw.support_hours
            .clone()
            .or(b.map(|d| d.support_hours.clone()))
            .unwrap_or_else(|| "Business hours".into()),
        80,
    ));
    let policy = raw
        .sla_policy_id
        .clone()
        .or(b.map(|d| d.sla_policy_id.to_string()));
    let policy = match policy {
        Some(p) => c.take(id_field("sla_policy_id", &p)),
        None => {
            c.push(FieldError::new("sla_policy_id", "is required"));
            None
        }
    };
    let team = match &raw.owner_team_id {
        Some(t) if t.trim().is_empty() => None,
        Some(t) => c.take(id_field::<TeamId>("owner_team_id", t)),
        None => b.and_then(|d| d.owner_team_id),
    };
    c.finish()?;
    match (name, slug, category, description, support_hours, policy) {
        (
            Some(name),
            Some(slug),
            Some(category),
            Some(description),
            Some(support_hours),
            Some(sla_policy_id),
        ) => Ok(ServiceDraft {
            slug: slug.to_string(),
            name,
            category,
            description,
            owner_team_id: team,
            support_hours,
            sla_policy_id,
            active: raw.active.or(b.map(|d| d.active)).unwrap_or(true),
        }),
        _ => Err(invalid("service", "is incomplete")),
    }
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawItem {
    pub service_id: Option<String>,
    #[schemars(length(min = 1, max = 120))]
    pub name: Option<String>,
    pub description: Option<String>,
    pub form: Option<Vec<FormField>>,
    #[schemars(range(min = 0))]
    pub cost_cents: Option<i64>,
    pub active: Option<bool>,
}

impl crate::extract::Create for RawItem {
    const REQUIRED: &'static [&'static str] = &["service_id", "name"];
    const FIXED: &'static [&'static str] = &["service_id"];
}

pub fn parse_item(raw: &RawItem, base: Option<ItemDraft>) -> Result<ItemDraft, Failure> {
    let mut c = Collector::new();
    let b = base.as_ref();
    let service = match (&raw.service_id, b) {
        (Some(sid), _) => c.take(id_field("service_id", sid)),
        (None, Some(d)) => Some(d.service_id),
        (None, None) => {
            c.push(FieldError::new("service_id", "is required"));
            None
        }
    };
    let name = c.take(text(
        "name",
        raw.name
            .as_deref()
            .or(b.map(|d| d.name.as_str()))
            .unwrap_or(""),
        120,
    ));
    let description = raw
        .description
        .clone()
        .or(b.map(|d| d.description.clone()))
        .unwrap_or_default();
    let description = if description.trim().is_empty() {
        Some(String::new())
    } else {
        c.take(long_text("description", &description, 4000))
    };
    let cost = raw.cost_cents.or(b.map(|d| d.cost_cents)).unwrap_or(0);
    if !(0..=100_000_000).contains(&cost) {
        c.push(FieldError::new(
            "cost_cents",
            "must be between 0 and 100000000 (one million dollars)",
        ));
    }
    let form = raw
        .form
        .clone()
        .or(b.map(|d| d.form.clone()))
        .unwrap_or_default();
    let form_errors = validate_form(&form).err();
    if let Some(e) = form_errors {
        for f in e.0 {
            c.push(f);
        }
    }
    c.finish()?;
    match (service, name, description) {
        (Some(service_id), Some(name), Some(description)) => Ok(ItemDraft {
            service_id,
            name,
            description,
            form,
            cost_cents: cost,
            active: raw.active.or(b.map(|d| d.active)).unwrap_or(true),
        }),
        _ => Err(invalid("item", "is incomplete")),
    }
}

/// An SLA policy as sent; on an edit, fields left out stay as they are.
#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawPolicy {
    pub name: Option<String>,
    pub coverage: Option<String>,
    pub targets: Option<SlaTargets>,
}

/// Applies `raw` over `base` (an existing policy, or the defaults for a new one: business hours and the
/// standard targets).
pub fn parse_policy(
    raw: &RawPolicy,
    base: Option<&catalog::SlaPolicy>,
) -> Result<PolicyDraft, Failure> {
    let mut c = Collector::new();
    let name = c.take(text(
        "name",
        raw.name
            .as_deref()
            .or(base.map(|b| b.name.as_str()))
            .unwrap_or(""),
        80,
    ));
    let coverage = match (&raw.coverage, base) {
        (Some(v), _) => c.take(Coverage::parse(v)),
        (None, Some(b)) => Some(b.coverage),
        (None, None) => Some(Coverage::BusinessHours),
    };
    let targets = raw
        .targets
        .or(base.map(|b| b.targets))
        .unwrap_or_else(SlaTargets::standard);
    c.take(targets.validate());
    c.finish()?;
    match (name, coverage) {
        (Some(name), Some(coverage)) => Ok((name, coverage, targets)),
        _ => Err(invalid("policy", "is incomplete")),
    }
}

/// A change to the desk's settings; fields left out stay as they are.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawSettings {
    /// Rows by impact (high, medium, low), columns by urgency (high, medium, low): `[["p1","p2","p3"],…]`.
    pub priority_matrix: Option<domain::desk::PriorityMatrix>,
    pub reopen_days: Option<i64>,
    pub attachment_max_bytes: Option<i64>,
    /// `null` or "" stops moving breached tickets.
    #[serde(default, deserialize_with = "present")]
    pub escalation_team_id: Option<Option<String>>,
}

/// Checks and saves a settings change (the API's PUT and the settings page).
pub async fn apply_settings(
    s: &AppState,
    p: &Principal,
    version: Option<i64>,
    raw: &RawSettings,
) -> Result<catalog::DeskSettings, Failure> {
    p.require(Permission::CatalogManage)?;
    let before = catalog::settings(&s.db).await?;
    let mut c = Collector::new();
    let mut next = before.clone();
    if let Some(m) = raw.priority_matrix {
        c.take(m.validate());
        next.priority_matrix = m;
    }
    if let Some(d) = raw.reopen_days {
        if (0..=90).contains(&d) {
            next.reopen_days = d;
        } else {
            c.push(FieldError::new("reopen_days", "must be between 0 and 90"));
        }
    }
    if let Some(b) = raw.attachment_max_bytes {
        if (1024..=ATTACHMENT_CEILING).contains(&b) {
            next.attachment_max_bytes = b;
        } else {
            c.push(FieldError::new(
                "attachment_max_bytes",
                "must be between 1024 (1 KB) and 26214400 (25 MB)",
            ));
        }
    }
    match raw.escalation_team_id.as_ref() {
        None => {}
        Some(None) => next.escalation_team_id = None,
        Some(Some(t)) if t.trim().is_empty() => next.escalation_team_id = None,
        Some(Some(t)) => match id_field::<TeamId>("escalation_team_id", t) {
            Ok(id) => {
                if catalog::list_teams(&s.db).await?.iter().any(|x| x.id == id) {
                    next.escalation_team_id = Some(id);
                } else {
                    c.push(FieldError::new("escalation_team_id", "is not a team"));
                }
            }
            Err(e) => c.push(e),
        },
    }
    c.finish()?;
    Ok(catalog::update_settings(&s.db, &p.actor(), version, &next).await?)
}

/// A notification's wording.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTemplate {
    pub subject: Option<String>,
    pub body: Option<String>,
}

/// Saves a template (API and page); fields left out keep the wording in effect.
pub async fn save_template(
    s: &AppState,
    p: &Principal,
    event: &str,
    version: Option<i64>,
    raw: &RawTemplate,
) -> Result<store::desk::templates::MailTemplate, Failure> {
    p.require(Permission::CatalogManage)?;
    let event = template_event(event)?;
    let now = store::desk::templates::get(&s.db, event).await?;
    let subject = raw.subject.clone().unwrap_or(now.subject);
    let body = raw.body.clone().unwrap_or(now.body).replace("\r\n", "\n");
    Ok(
        store::desk::templates::save(&s.db, &p.actor(), event, version, subject.trim(), &body)
            .await?,
    )
}

/// A new assignment group.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTeam {
    pub name: Option<String>,
    pub description: Option<String>,
    /// Email addresses of hub agents or admins.
    #[serde(default)]
    pub members: Vec<String>,
}

/// Checks and adds a team (the API and the settings page).
pub async fn add_team(
    s: &AppState,
    p: &Principal,
    raw: &RawTeam,
) -> Result<catalog::Team, Failure> {
    p.require(Permission::CatalogManage)?;
    let mut c = Collector::new();
    let name = c.take(text("name", raw.name.as_deref().unwrap_or(""), 80));
    let description = raw.description.as_deref().unwrap_or("").trim().to_owned();
    if description.chars().count() > 500 {
        c.push(FieldError::new(
            "description",
            "must be at most 500 characters",
        ));
    }
    let agents = tickets::agents(&s.db).await?;
    let mut members = Vec::new();
    for (i, m) in raw.members.iter().enumerate() {
        let field = format!("members[{i}]");
        let Ok(email) = Email::parse(m) else {
            c.push(FieldError::new(&field, "is not an email address"));
            continue;
        };
        match users::find_by_email(&s.db, &email).await? {
            Some(u) if agents.iter().any(|(id, _)| *id == u.id) => members.push(u.id),
            _ => c.push(FieldError::new(&field, "is not an agent of the hub")),
        }
    }
    c.finish()?;
    let Some(name) = name else {
        return Err(invalid("name", "is required"));
    };
    members.sort();
    members.dedup();
    Ok(catalog::create_team(&s.db, &p.actor(), &name, &description, &members).await?)
}

// ---------------------------------------------------------------------------------------------------
// Tickets

/// Query of the ticket list: every filter of the agent workspace and the portal.
#[derive(Debug, Default, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct TicketQuery {
    /// Organisation slug.
    pub org: Option<String>,
    /// `open` (default), `done` or `any`.
    #[schemars(extend("enum" = ["open", "done", "any"]))]
    pub open: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::Status>")]
    pub status: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::Priority>")]
    pub priority: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::TicketKind>")]
    pub kind: Option<String>,
    pub service: Option<String>,
    pub team: Option<String>,
    /// `me`, `none` or a person's id.
    pub assignee: Option<String>,
    /// `me` or a person's id.
    pub requester: Option<String>,
    /// `true`: at risk or breached only.
    pub at_risk: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::Approval>")]
    pub approval: Option<String>,
    /// Full-text search over subject, description and replies.
    pub q: Option<String>,
    /// `due` (next SLA deadline first, default) or `newest`.
    #[schemars(extend("enum" = ["due", "newest"]))]
    pub sort: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// The queue page's message after a bulk update: not a filter, never in a link, and the API ignores it.
    #[serde(skip_serializing)]
    #[schemars(skip)]
    pub notice: Option<String>,
}

impl TicketQuery {
    pub async fn to_filter(&self, s: &AppState, p: &Principal) -> Result<Filter, Failure> {
        let mut c = Collector::new();
        let mut f = Filter::default();
        if let Some(slug) = nonempty(&self.org) {
            match orgs::get_by_slug(&s.db, &p.scope(Permission::OrgRead), slug).await {
                Ok(o) => f.org = Some(o.id),
                Err(store::StoreError::NotFound) => {
                    c.push(FieldError::new("org", "is not an organisation you can see"))
                }
                Err(e) => return Err(e.into()),
            }
        }
        f.openness = match nonempty(&self.open) {
            None | Some("open") => Openness::Open,
            Some("done") => Openness::Done,
            Some("any") => Openness::Any,
            Some(_) => {
                c.push(FieldError::new("open", "must be open, done or any"));
                Openness::Open
            }
        };
        f.status = nonempty(&self.status).and_then(|v| c.take(Status::parse(v)));
        if f.status.is_some() {
            f.openness = Openness::Any;
        }
        f.priority = nonempty(&self.priority).and_then(|v| c.take(Priority::parse(v)));
        f.kind = nonempty(&self.kind).and_then(|v| c.take(TicketKind::parse(v)));
        f.approval = nonempty(&self.approval).and_then(|v| c.take(Approval::parse(v)));
        f.service = nonempty(&self.service).and_then(|v| c.take(id_field("service", v)));
        f.team = nonempty(&self.team).and_then(|v| c.take(id_field("team", v)));
        f.assignee = match nonempty(&self.assignee) {
            None => None,
            Some("me") => Some(Some(p.user.id)),
            Some("none") => Some(None),
            Some(v) => c.take(id_field::<UserId>("assignee", v)).map(Some),
        };
        f.requester = match nonempty(&self.requester) {
            None => None,
            Some("me") => Some(p.user.id),
            Some(v) => c.take(id_field::<UserId>("requester", v)),
        };
        f.at_risk = match nonempty(&self.at_risk) {
            None | Some("false") => false,
            Some("true") => true,
            Some(_) => {
                c.push(FieldError::new("at_risk", "must be true or false"));
                false
            }
        };
        f.text = match nonempty(&self.q) {
            Some(q) if q.chars().count() > 200 => {
                c.push(FieldError::new("q", "must be at most 200 characters"));
                None
            }
            other => other.map(str::to_owned),
        };
        f.sort = match nonempty(&self.sort) {
            // A search lists the newest matches first unless asked otherwise.
            None if f.text.is_some() => Sort::Newest,
            None | Some("due") => Sort::Due,
            Some("newest") => Sort::Newest,
            Some(_) => {
                c.push(FieldError::new("sort", "must be due or newest"));
                Sort::Due
            }
        };
        c.finish()?;
        Ok(f)
    }

    pub fn page(&self) -> PageParams {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
    }
}

/// A ticket to open, as the API and the portal form send it.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawTicket {
    /// Organisation slug; defaults to the requester's.
    pub org: Option<String>,
    /// Desk only: open on behalf of this person (by email).
    pub requester_email: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::TicketKind>")]
    pub kind: Option<String>,
    pub subject: Option<String>,
    pub description: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::Impact>")]
    pub impact: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::Urgency>")]
    pub urgency: Option<String>,
    pub service_id: Option<String>,
    pub catalog_item_id: Option<String>,
    pub department_id: Option<String>,
    pub site_id: Option<String>,
    pub category: Option<String>,
    /// Desk only: how the ticket came in (`phone`, `email`, …); `portal` or `api` otherwise.
    #[schemars(with = "Option<domain::desk::ticket::Source>")]
    pub source: Option<String>,
    /// Answers to the catalog item's form, by field key.
    #[serde(default)]
    pub form: BTreeMap<String, String>,
}

/// Checks a ticket to open and resolves its organisation and requester; `default_source` is `api` or
/// `portal`.
pub async fn parse_ticket(
    s: &AppState,
    p: &Principal,
    raw: &RawTicket,
    default_source: Source,
) -> Result<NewTicket, Failure> {
    let desk = !p.scope(Permission::TicketWork).is_empty();
    let submit = p.require(Permission::TicketSubmit)?;
    let mut c = Collector::new();
    let subject = c
        .take(TicketSubject::parse(raw.subject.as_deref().unwrap_or("")))
        .map(TicketSubject::into_inner);
    let description = c.take(long_text(
        "description",
        raw.description.as_deref().unwrap_or(""),
        20_000,
    ));
    let item = nonempty(&raw.catalog_item_id).and_then(|v| c.take(id_field("catalog_item_id", v)));
    let kind = match nonempty(&raw.kind) {
        Some(k) => c.take(TicketKind::parse(k)),
        None if item.is_some() => Some(TicketKind::ServiceRequest),
        None => Some(TicketKind::Incident),
    };
    if !desk && matches!(kind, Some(TicketKind::Problem | TicketKind::Change)) {
        c.push(FieldError::new(
            "kind",
            "members open incidents and service requests; the desk opens problems and changes",
        ));
    }
    let impact = c.take(Impact::parse(nonempty(&raw.impact).unwrap_or("low")));
    let urgency = c.take(Urgency::parse(nonempty(&raw.urgency).unwrap_or("medium")));
    let service = nonempty(&raw.service_id).and_then(|v| c.take(id_field("service_id", v)));
    let department =
        nonempty(&raw.department_id).and_then(|v| c.take(id_field("department_id", v)));
    let site = nonempty(&raw.site_id).and_then(|v| c.take(id_field("site_id", v)));
    let category = match nonempty(&raw.category) {
        Some(cat) => c.take(text("category", cat, 80)),
        None => Some(String::new()),
    };
    let source = match nonempty(&raw.source) {
        None => Some(default_source),
        Some(v) if desk => c.take(Source::parse(v)),
        Some(_) => {
            c.push(FieldError::new(
                "source",
                "only the service desk sets the source",
            ));
            None
        }
    };
    // Who asks: yourself, or (desk only) someone else.
    let requester = match nonempty(&raw.requester_email) {
        None => Some(p.user.clone()),
        Some(_) if !desk => {
            c.push(FieldError::new(
                "requester_email",
                "only the service desk opens tickets on behalf of others",
            ));
            None
        }
        Some(e) => match c
            .take(Email::parse(e).map_err(|e| FieldError::new("requester_email", e.message)))
        {
            Some(email) => match users::find_by_email(&s.db, &email).await? {
                Some(u) if u.active => Some(u),
                _ => {
                    c.push(FieldError::new(
                        "requester_email",
                        "is not an active person of the region",
                    ));
                    None
                }
            },
            None => None,
        },
    };
    let org: Option<OrgId> = match (nonempty(&raw.org), &requester) {
        (Some(slug), _) => match orgs::id_by_slug(&s.db, &submit, slug).await {
            Ok(id) => Some(id),
            Err(store::StoreError::NotFound) => {
                c.push(FieldError::new(
                    "org",
                    "is not an organisation you can open tickets for",
                ));
                None
            }
            Err(e) => return Err(e.into()),
        },
        (None, Some(u)) => Some(u.org_id),
        (None, None) => None,
    };
    c.finish()?;
    match (
        subject,
        description,
        kind,
        impact,
        urgency,
        category,
        source,
        requester,
        org,
    ) {
        (
            Some(subject),
            Some(description),
            Some(kind),
            Some(impact),
            Some(urgency),
            Some(category),
            Some(source),
            Some(requester),
            Some(org_id),
        ) => {
            if !submit.contains(org_id) {
                return Err(invalid(
                    "org",
                    "is not an organisation you can open tickets for",
                ));
            }
            Ok(NewTicket {
                org_id,
                kind,
                subject,
                description,
                requester_id: requester.id,
                department_id: department,
                site_id: site,
                service_id: service,
                catalog_item_id: item,
                form_answers: raw.form.clone(),
                category,
                impact,
                urgency,
                source,
                team_id: None,
                opened_at: None,
            })
        }
        _ => Err(invalid("ticket", "is incomplete")),
    }
}

/// An agent's changes to a ticket; absent fields are left alone, `null` clears the assignee, team or service.
#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawChanges {
    #[schemars(with = "Option<domain::desk::ticket::Status>")]
    pub status: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::TicketKind>")]
    pub kind: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::Impact>")]
    pub impact: Option<String>,
    #[schemars(with = "Option<domain::desk::ticket::Urgency>")]
    pub urgency: Option<String>,
    pub category: Option<String>,
    #[serde(default, deserialize_with = "present")]
    pub assignee_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub team_id: Option<Option<String>>,
    #[serde(default, deserialize_with = "present")]
    pub service_id: Option<Option<String>>,
}

pub fn parse_changes(raw: &RawChanges) -> Result<Changes, Failure> {
    let mut c = Collector::new();
    // Present-but-empty means "clear", like null.
    let opt = |v: &Option<Option<String>>| -> Option<Option<String>> {
        v.as_ref().map(|inner| {
            inner
                .as_deref()
                .map(str::trim)
                .filter(|s| !s.is_empty())
                .map(str::to_owned)
        })
    };
    let assignee = opt(&raw.assignee_id);
    let team = opt(&raw.team_id);
    let service = opt(&raw.service_id);
    let ch = Changes {
        status: nonempty(&raw.status).and_then(|v| c.take(Status::parse(v))),
        kind: nonempty(&raw.kind).and_then(|v| c.take(TicketKind::parse(v))),
        impact: nonempty(&raw.impact).and_then(|v| c.take(Impact::parse(v))),
        urgency: nonempty(&raw.urgency).and_then(|v| c.take(Urgency::parse(v))),
        category: match raw.category.as_deref() {
            None => None,
            Some(v) if v.trim().is_empty() => Some(String::new()),
            Some(v) => c.take(text("category", v, 80)),
        },
        assignee: match assignee {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => c.take(id_field::<UserId>("assignee_id", &v)).map(Some),
        },
        team: match team {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => c.take(id_field::<TeamId>("team_id", &v)).map(Some),
        },
        service: match service {
            None => None,
            Some(None) => Some(None),
            Some(Some(v)) => c.take(id_field::<ServiceId>("service_id", &v)).map(Some),
        },
    };
    c.finish()?;
    Ok(ch)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawComment {
    pub body: Option<String>,
    /// Desk only: an internal note the requester does not see.
    #[serde(default)]
    pub internal: bool,
}

/// Adds a reply or note for `p`, checking who may write what; returns the ticket after it.
pub async fn comment(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawComment,
) -> Result<tickets::Ticket, Failure> {
    let view = p.ticket_view()?;
    p.require(Permission::TicketSubmit)?;
    let body = long_text("body", raw.body.as_deref().unwrap_or(""), 20_000)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let t = tickets::get(&s.db, &view, number).await?;
    let author = if p.scope(Permission::TicketWork).contains(t.org_id) {
        Author::Desk
    } else {
        Author::Member
    };
    if raw.internal && author != Author::Desk {
        return Err(invalid(
            "internal",
            "only the service desk writes internal notes",
        ));
    }
    let (t, _) = tickets::comment(
        &s.db,
        &view,
        &p.actor(),
        author,
        number,
        &body,
        !raw.internal,
    )
    .await?;
    Ok(t)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDecision {
    /// `approve` or `reject`.
    #[schemars(required, extend("enum" = ["approve", "reject"]))]
    pub decision: Option<String>,
    pub reason: Option<String>,
}

pub async fn apply_decision(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawDecision,
) -> Result<tickets::Ticket, Failure> {
    let approve = p.require(Permission::TicketApprove)?;
    let approved = match nonempty(&raw.decision) {
        Some("approve") => true,
        Some("reject") => false,
        _ => return Err(invalid("decision", "must be approve or reject")),
    };
    let reason = match nonempty(&raw.reason) {
        Some(r) => Some(long_text("reason", r, 2000).map_err(|e| Failure::Invalid(vec![e]))?),
        None if !approved => return Err(invalid("reason", "say why the request is rejected")),
        None => None,
    };
    Ok(tickets::decide(
        &s.db,
        &p.ticket_view()?,
        &approve,
        &p.actor(),
        number,
        approved,
        reason.as_deref(),
    )
    .await?)
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawRating {
    pub score: Option<i64>,
    pub comment: Option<String>,
}

pub async fn apply_rating(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawRating,
) -> Result<tickets::Ticket, Failure> {
    let scope = p.require(Permission::TicketRate)?;
    let view = p.ticket_view()?;
    let t = tickets::get(&s.db, &view, number).await?;
    if !scope.contains(t.org_id) {
        return Err(Failure::Forbidden);
    }
    let score = raw
        .score
        .ok_or_else(|| invalid("score", "is required: a whole number from 1 to 5"))?;
    let comment = match nonempty(&raw.comment) {
        Some(c) => Some(long_text("comment", c, 2000).map_err(|e| Failure::Invalid(vec![e]))?),
        None => None,
    };
    Ok(tickets::rate(&s.db, &view, &p.actor(), number, score, comment.as_deref()).await?)
}

/// Checks and keeps an uploaded file (API and pages).
pub async fn store_upload(
    s: &AppState,
    p: &Principal,
    number: i64,
    filename: Option<&str>,
    content_type: Option<&str>,
    bytes: &[u8],
) -> Result<tickets::Attachment, Failure> {
    p.require(Permission::TicketSubmit)?;
    let settings = catalog::settings(&s.db).await?;
    let name = filename
        .map(str::trim)
        .filter(|f| !f.is_empty())
        .ok_or_else(|| invalid("filename", "is required"))?;
    if bytes.is_empty() {
        return Err(invalid("file", "is empty"));
    }
    if i64::try_from(bytes.len()).unwrap_or(i64::MAX) > settings.attachment_max_bytes {
        return Err(invalid(
            "file",
            &format!(
                "is larger than the limit of {}",
                crate::download::size_label(settings.attachment_max_bytes)
            ),
        ));
    }
    let ct = content_type.unwrap_or("application/octet-stream");
    Ok(tickets::attach(
        &s.db,
        &p.ticket_view()?,
        &p.actor(),
        number,
        None,
        tickets::NewFile {
            name,
            content_type: ct,
            bytes,
        },
    )
    .await?)
}

/// Adds a watcher by email: the desk anyone of the ticket's organisation or the hub; members people of
/// their own organisation only.
pub async fn apply_add_watcher(
    s: &AppState,
    p: &Principal,
    number: i64,
    email: Option<&str>,
) -> Result<(), Failure> {
    p.require(Permission::TicketSubmit)?;
    let view = p.ticket_view()?;
    let t = tickets::get(&s.db, &view, number).await?;
    let email = Email::parse(email.unwrap_or(""))
        .map_err(|e| Failure::Invalid(vec![FieldError::new("email", e.message)]))?;
    let u = users::find_by_email(&s.db, &email)
        .await?
        .filter(|u| u.active)
        .ok_or_else(|| invalid("email", "is not an active person of the region"))?;
    if !p.scope(Permission::TicketWork).contains(t.org_id) && u.org_id != p.user.org_id {
        return Err(invalid(
            "email",
            "you can add people of your own organisation",
        ));
    }
    tickets::add_watcher(&s.db, &view, &p.actor(), number, u.id).await?;
    Ok(())
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawLink {
    /// The other ticket's number.
    #[schemars(required, with = "u64", range(min = 1))]
    pub other: Option<i64>,
    /// `related` (default) or `caused_by` (the other ticket is the problem behind this one).
    #[schemars(extend("enum" = ["related", "caused_by", null]))]
    pub kind: Option<String>,
}

pub async fn apply_link(
    s: &AppState,
    p: &Principal,
    number: i64,
    raw: &RawLink,
) -> Result<(), Failure> {
    let work = p.require(Permission::TicketWork)?;
    let other = raw
        .other
        .ok_or_else(|| invalid("other", "is required: a ticket number"))?;
    let kind = match raw.kind.as_deref().unwrap_or("related") {
        "related" => tickets::LinkKind::Related,
        "caused_by" => tickets::LinkKind::CausedBy,
        _ => {
            return Err(invalid(
                "kind",
                "must be related or caused_by (merge duplicates with /merge)",
            ));
        }
    };
    tickets::link(
        &s.db,
        &p.ticket_view()?,
        &work,
        &p.actor(),
        number,
        other,
        kind,
    )
    .await?;
    Ok(())
}

pub async fn apply_merge(
    s: &AppState,
    p: &Principal,
    number: i64,
    into: Option<i64>,
) -> Result<tickets::Ticket, Failure> {
    let work = p.require(Permission::TicketWork)?;
    let into = into.ok_or_else(|| invalid("into", "is required: the ticket to keep"))?;
    Ok(tickets::merge(&s.db, &p.ticket_view()?, &work, &p.actor(), number, into).await?)
}

/// Deserialises a present field (even `null`) as `Some`, so that PATCH can tell "unset" from "leave alone".
pub(crate) fn present<'de, D: Deserializer<'de>, T: Deserialize<'de>>(
    d: D,
) -> Result<Option<T>, D::Error> {
    T::deserialize(d).map(Some)
}

pub(crate) fn invalid(field: &str, message: &str) -> Failure {
    Failure::Invalid(vec![FieldError::new(field, message)])
}

pub(crate) fn id_field<T: std::str::FromStr>(field: &str, raw: &str) -> Result<T, FieldError> {
    raw.trim()
        .parse()
        .map_err(|_| FieldError::new(field, "is not an id"))
}

/// A checked policy: name, clock and targets.
pub type PolicyDraft = (String, Coverage, SlaTargets);

/// The largest attachment the settings may allow: the request body limit, less room for the rest.
pub const ATTACHMENT_CEILING: i64 = 25 * 1024 * 1024;

pub(crate) fn template_event(raw: &str) -> Result<store::desk::notify::Event, Failure> {
    store::desk::notify::Event::parse(raw).ok_or(Failure::NotFound)
}

/// The events a mail template is written for, as the API's document lists them.
impl crate::extract::Vocabulary for store::desk::notify::Event {
    fn values() -> Vec<&'static str> {
        Self::ALL.iter().map(|e| e.as_str()).collect()
    }
}

pub(crate) fn nonempty(v: &Option<String>) -> Option<&str> {
    v.as_deref().map(str::trim).filter(|s| !s.is_empty())
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawService {
    const REQUIRED: &'static [&'static str] = &["name", "slug", "category", "sla_policy_id"];
}

/// What creating one must give (checked by `api::every_creation_documents_the_fields_it_requires`).
impl crate::extract::Create for RawPolicy {
    const REQUIRED: &'static [&'static str] = &["name"];
}
