//! The isolation matrix: every route, the permission it needs, exercised as every role against its own
//! member's data and another member's. A route missing from the matrix fails the test, so a new endpoint
//! cannot ship without its tenancy being checked.
//!
//! The expectations are written out here, from the role definitions in docs/ARCHITECTURE.md, and not
//! computed with the authorization module under test.

use crate::helpers::{HUB, OTHER, OWN, TestApp};
use domain::authz::{Role, Scope};
use domain::tenancy::drafts::SiteDraft;
use domain::tenancy::{Email, SiteKind};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use store::audit::Actor;
use store::tenancy::{directory, orgs, users};

#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Public,
    SignedIn,
    Perm(&'static str),
    /// The permission from a grant on the hub (the hub's own settings): a member's grant of it is refused.
    Hub(&'static str),
}

/// What the route's `{id}` (and `{slug}`) stand for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// No organisation in the path: a list over the caller's scope, or a creation.
    None,
    Org,
    Department,
    Site,
    User,
    Grant,
    /// The caller's own token: not tenant data.
    OwnToken,
    /// A local closure day (`{date}`).
    Closure,
    /// A token (`{token}`) of a person (`{id}`) of the target organisation.
    UserToken,
    /// A catalog service or item (`{id}`): the hub's, the same for every member.
    Service,
    Item,
    /// The starter catalog's standard SLA policy (`{id}`): the hub's.
    Policy,
    /// A new ticket (`{number}`) of the target organisation, requested by its member staff (or, in the
    /// other member, by its administrator).
    Ticket,
    /// A resolved ticket requested by the caller when the caller belongs to the target organisation.
    ResolvedTicket,
    /// A request awaiting the member's approval.
    PendingTicket,
    /// A time entry (`{id}`) on a ticket of the target organisation, logged by the caller when the caller
    /// logs time (else by the hub agent).
    TimeEntry,
    /// The caller's timer, running on a ticket of the target organisation (when the caller logs time).
    RunningTimer,
    /// A file (`{id}`) on a ticket (`{number}`) of the target organisation.
    TicketFile,
    /// A message kept in mail triage (`{id}`): the hub's, not a member's.
    MailEntry,
    /// A published knowledge-base article for every member (`{id}`).
    Article,
    /// Two tickets of the target organisation: `{number}` and, in the body, the other.
    TicketPair,
    /// A ticket (`{number}`) the caller watches (`{id}`), when the caller may; else its requester watches.
    Watcher,
    /// A rate card (`{id}`): the hub's, the same for every member.
    RateCard,
    /// An agreement (`{id}`) of the target organisation.
    Agreement,
    /// A subscription (`{id}`) under an agreement of the target organisation.
    Subscription,
    /// A draft invoice (`{id}`) of the target organisation, from a run of a month of its own.
    DraftInvoice,
    /// An issued invoice (`{id}`) of the target organisation.
    IssuedInvoice,
    /// A cost of a service (`{id}`): the hub's own books.
    Cost,
    /// A standalone benchmark (`{id}`): the hub's, the same for every member.
    Benchmark,
    /// A credit (`{id}`) under an agreement of the target organisation.
    Credit,
    /// A document (`{doc}`) of an agreement (`{id}`) of the target organisation.
    Document,
    /// A configuration item (`{id}`) of the target organisation.
    Ci,
    /// A relationship (`{id}`) between two items of the target organisation.
    CiRelation,
    /// The hub's item (`{id}`) linked to a ticket (`{number}`) of the target organisation.
    TicketCi,
    /// A pool of the regional cloud (`{id}`): the hub's.
    Pool,
    /// An application (`{id}`, a CMDB item) of the target organisation.
    App,
    /// A technology standard (`{id}`): the region's.
    Standard,
    /// An exception request (`{id}`) of the target organisation, awaiting review.
    Exception,
    /// A pool (`{id}`) and one of the hub's hosts in it (`{token}`).
    PoolPart,
    /// A pending proposed change (`{id}`) to the target organisation's population.
    Proposal,
    /// A pending invitation (`{id}`) to the target organisation.
    Invitation,
}

impl Target {
    /// Hub-wide data: the same whichever member is the target.
    fn regional(self) -> bool {
        matches!(
            self,
            Self::None
                | Self::Service
                | Self::Item
                | Self::Policy
                | Self::MailEntry
                | Self::Article
                | Self::RateCard
                | Self::Cost
                | Self::Benchmark
                | Self::Pool
                | Self::PoolPart
                | Self::Standard
        )
    }
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    /// A page's file upload: (file name, contents), sent as multipart/form-data after `_csrf`.
    Upload(&'static str, &'static str),
    /// A CSV file as the request body.
    Csv(String),
}

struct Fresh {
    n: usize,
    date: String,
    slug: &'static str,
    email: String,
    service: String,
    /// Another service, for bodies that must not collide with the first's (a benchmark per size band).
    spare_service: String,
    /// The target ticket's number, for forms that name it in the body.
    ticket: String,
    /// The second ticket of a pair.
    other_ticket: i64,
    /// A published article, for bodies that link one.
    article: String,
    /// A configuration item of the hub (which every member sees), for bodies that relate to one.
    hub_ci: String,
    /// A host of the hub in no pool yet, made for the cases that add one to a pool.
    hub_host: String,
    /// A technology standard on hold, for bodies that name one.
    standard: String,
}

struct Case {
    method: &'static str,
    path: &'static str,
    need: Need,
    target: Target,
    body: fn(&Fresh) -> Body,
}

fn none(_: &Fresh) -> Body {
    Body::None
}

fn form(pairs: &[(&str, &str)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn org_settings_form(_: &Fresh) -> Body {
    form(&[
        ("name", "Town Name"),
        ("kind", "town"),
        ("time_zone", "America/New_York"),
        ("fiscal_year_start_month", "7"),
        ("business_hours_monday", "08:00-17:00"),
        ("observe_federal_holidays", "true"),
    ])
}

fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    let c = |method, path, need, target, body: fn(&Fresh) -> Body| Case {
        method,
        path,
        need,
        target,
        body,
    };
    vec![
        // JSON API
        c("GET", "/api/v1/me", SignedIn, T::None, none),
        c("GET", "/api/v1/tokens", SignedIn, T::None, none),
        c("POST", "/api/v1/tokens", SignedIn, T::None, |_| {
            Body::Json(json!({ "name": "matrix" }))
        }),
        c("DELETE", "/api/v1/tokens/{id}", SignedIn, T::OwnToken, none),
        c("GET", "/api/v1/orgs", Perm("org-read"), T::None, none),
        c("POST", "/api/v1/orgs", Perm("org-manage"), T::None, |f| {
            Body::Json(json!({ "name": format!("Matrix Town {}", f.n), "kind": "town" }))
        }),
        c("GET", "/api/v1/orgs/{slug}", Perm("org-read"), T::Org, none),
        c(
            "PATCH",
            "/api/v1/orgs/{slug}",
            Perm("org-settings-write"),
            T::Org,
            // The population is the hub's record (a member proposes); settings are the member's.
            |_| Body::Json(json!({ "county": "Middlesex County" })),
        ),
        c(
            "GET",
            "/api/v1/orgs/{slug}/proposals",
            Perm("org-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/proposals",
            Perm("org-settings-write"),
            T::Org,
            |f| Body::Json(json!({ "value": 20_000 + f.n, "reason": "Census" })),
        ),
        c("GET", "/api/v1/proposals", Perm("org-read"), T::None, none),
        c(
            "POST",
            "/api/v1/proposals/{id}/decision",
            Perm("org-manage"),
            T::Proposal,
            |_| Body::Json(json!({ "decision": "reject", "note": "Not yet published" })),
        ),
        c(
            "POST",
            "/orgs/{slug}/proposals",
            Perm("org-settings-write"),
            T::Org,
            |f| {
                Body::Form(vec![
                    ("value".into(), (20_000 + f.n).to_string()),
                    ("reason".into(), "Census".into()),
                ])
            },
        ),
        c(
            "POST",
            "/orgs/proposals/{id}/decision",
            Perm("org-manage"),
            T::Proposal,
            |_| form(&[("decision", "reject"), ("note", "Not yet published")]),
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/deactivate",
            Perm("org-manage"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/reactivate",
            Perm("org-manage"),
            T::Org,
            none,
        ),
        c(
            "GET",
            "/api/v1/users/{id}/tokens",
            Perm("user-manage"),
            T::User,
            none,
        ),
        c(
            "DELETE",
            "/api/v1/users/{id}/tokens/{token}",
            Perm("user-manage"),
            T::UserToken,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/users/{id}/tokens/{token}/revoke",
            Perm("user-manage"),
            T::UserToken,
            none,
        ),
        c(
            "GET",
            "/api/v1/orgs/{slug}/days-off",
            Perm("org-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/closures",
            Perm("org-settings-write"),
            T::Org,
            |f| Body::Json(json!({ "date": f.date, "name": "Snow day" })),
        ),
        c(
            "DELETE",
            "/api/v1/orgs/{slug}/closures/{date}",
            Perm("org-settings-write"),
            T::Closure,
            none,
        ),
        c(
            "GET",
            "/orgs/{slug}/calendar",
            Perm("org-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/calendar",
            Perm("org-settings-write"),
            T::Org,
            |f| {
                Body::Form(vec![
                    ("date".into(), f.date.clone()),
                    ("name".into(), "Snow day".into()),
                ])
            },
        ),
        c(
            "POST",
            "/orgs/{slug}/calendar/{date}/delete",
            Perm("org-settings-write"),
            T::Closure,
            none,
        ),
        c(
            "GET",
            "/api/v1/orgs/{slug}/departments",
            Perm("directory-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/departments",
            Perm("directory-write"),
            T::Org,
            |f| Body::Json(json!({ "name": format!("Matrix dept {}", f.n) })),
        ),
        c(
            "GET",
            "/api/v1/departments/{id}",
            Perm("directory-read"),
            T::Department,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/departments/{id}",
            Perm("directory-write"),
            T::Department,
            |f| Body::Json(json!({ "name": format!("Renamed {}", f.n) })),
        ),
        c(
            "DELETE",
            "/api/v1/departments/{id}",
            Perm("directory-write"),
            T::Department,
            none,
        ),
        c(
            "GET",
            "/api/v1/orgs/{slug}/sites",
            Perm("directory-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/sites",
            Perm("directory-write"),
            T::Org,
            |f| {
                Body::Json(
                    json!({ "name": format!("Matrix site {}", f.n), "address": "1 Elm St", "kind": "school" }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/sites/{id}",
            Perm("directory-read"),
            T::Site,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/sites/{id}",
            Perm("directory-write"),
            T::Site,
            |_| Body::Json(json!({ "kind": "library" })),
        ),
        c(
            "DELETE",
            "/api/v1/sites/{id}",
            Perm("directory-write"),
            T::Site,
            none,
        ),
        c(
            "GET",
            "/api/v1/orgs/{slug}/users",
            Perm("user-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/users",
            Perm("user-manage"),
            T::Org,
            |f| {
                Body::Json(
                    json!({ "email": format!("new{}@{}.example.gov", f.n, f.slug), "name": "New Person", "role": "member-staff" }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/users/{id}",
            Perm("user-read"),
            T::User,
            none,
        ),
        c(
            "POST",
            "/api/v1/users/{id}/disable",
            Perm("user-manage"),
            T::User,
            none,
        ),
        c(
            "POST",
            "/api/v1/users/{id}/enable",
            Perm("user-manage"),
            T::User,
            none,
        ),
        c(
            "GET",
            "/api/v1/orgs/{slug}/grants",
            Perm("user-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/grants",
            Perm("user-manage"),
            T::Org,
            |f| Body::Json(json!({ "email": f.email, "role": "auditor" })),
        ),
        c(
            "GET",
            "/api/v1/orgs/{slug}/invitations",
            Perm("user-manage"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/invitations/{id}/resend",
            Perm("user-manage"),
            T::Invitation,
            none,
        ),
        c(
            "POST",
            "/api/v1/orgs/{slug}/invitations/{id}/revoke",
            Perm("user-manage"),
            T::Invitation,
            none,
        ),
        c("GET", "/invitations/{token}", Public, T::None, none),
        c("POST", "/invitations/{token}", Public, T::None, |_| {
            form(&[("name", "Nobody"), ("password", "wrong-password-1")])
        }),
        c(
            "DELETE",
            "/api/v1/grants/{id}",
            Perm("user-manage"),
            T::Grant,
            none,
        ),
        c(
            "GET",
            "/api/v1/audit?org={slug}",
            Perm("audit-read"),
            T::Org,
            none,
        ),
        // Pages
        c("GET", "/api/v1/me/notifications", SignedIn, T::None, none),
        c("PUT", "/api/v1/me/notifications", SignedIn, T::None, |_| {
            Body::Json(json!({ "off": ["sla_at_risk"] }))
        }),
        // Service desk
        c("GET", "/reports", Perm("report-read"), T::None, none),
        c(
            "GET",
            "/api/v1/reports/desk",
            Perm("report-read"),
            T::None,
            none,
        ),
        c("GET", "/api/v1/articles", SignedIn, T::None, none),
        c("POST", "/api/v1/articles", Perm("kb-write"), T::None, |f| {
            Body::Json(
                json!({ "title": format!("Matrix article {}", f.n), "body": "Steps", "status": "published", "visibility": "members" }),
            )
        }),
        c("GET", "/api/v1/articles/{id}", SignedIn, T::Article, none),
        c(
            "PATCH",
            "/api/v1/articles/{id}",
            Perm("kb-write"),
            T::Article,
            |_| Body::Json(json!({ "category": "Printing" })),
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/articles",
            Perm("ticket-work"),
            T::Ticket,
            |f| Body::Json(json!({ "article": f.article })),
        ),
        c("GET", "/kb", SignedIn, T::None, none),
        c("GET", "/kb/new", Perm("kb-write"), T::None, none),
        c("POST", "/kb", Perm("kb-write"), T::None, |f| {
            Body::Form(vec![
                ("title".into(), format!("Form article {}", f.n)),
                ("body".into(), "Text".into()),
                ("status".into(), "draft".into()),
                ("visibility".into(), "internal".into()),
            ])
        }),
        c(
            "GET",
            "/kb/suggest?subject=printer+jams",
            SignedIn,
            T::None,
            none,
        ),
        c("GET", "/kb/{id}", SignedIn, T::Article, none),
        c("GET", "/kb/{id}/edit", Perm("kb-write"), T::Article, none),
        c("POST", "/kb/{id}", Perm("kb-write"), T::Article, |_| {
            form(&[
                ("title", "Printer jams"),
                ("body", "Open tray 2."),
                ("status", "published"),
                ("visibility", "members"),
            ])
        }),
        c(
            "POST",
            "/tickets/{number}/articles",
            Perm("ticket-work"),
            T::Ticket,
            |f| Body::Form(vec![("article".into(), f.article.clone())]),
        ),
        c(
            "GET",
            "/api/v1/tickets/{number}/watchers",
            Perm("ticket-read"),
            T::Ticket,
            none,
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/watchers",
            Perm("ticket-submit"),
            T::Ticket,
            |f| {
                let who = if f.slug == OWN {
                    "colleague"
                } else {
                    "other-admin"
                };
                Body::Json(json!({ "email": format!("{who}@{}.example.gov", f.slug) }))
            },
        ),
        c(
            "DELETE",
            "/api/v1/tickets/{number}/watchers/{id}",
            Perm("ticket-submit"),
            T::Watcher,
            none,
        ),
        c(
            "GET",
            "/api/v1/tickets/{number}/links",
            Perm("ticket-read"),
            T::Ticket,
            none,
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/links",
            Perm("ticket-work"),
            T::TicketPair,
            |f| Body::Json(json!({ "other": f.other_ticket, "kind": "related" })),
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/merge",
            Perm("ticket-work"),
            T::TicketPair,
            |f| Body::Json(json!({ "into": f.other_ticket })),
        ),
        c(
            "GET",
            "/api/v1/canned-replies",
            Perm("ticket-work"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/canned-replies",
            Perm("catalog-manage"),
            T::None,
            |f| Body::Json(json!({ "title": format!("Matrix reply {}", f.n), "body": "Hello" })),
        ),
        c(
            "POST",
            "/tickets/{number}/watchers",
            Perm("ticket-submit"),
            T::Ticket,
            |f| {
                let who = if f.slug == OWN {
                    "colleague"
                } else {
                    "other-admin"
                };
                Body::Form(vec![(
                    "email".into(),
                    format!("{who}@{}.example.gov", f.slug),
                )])
            },
        ),
        c(
            "POST",
            "/tickets/{number}/links",
            Perm("ticket-work"),
            T::TicketPair,
            |f| {
                Body::Form(vec![
                    ("other".into(), f.other_ticket.to_string()),
                    ("kind".into(), "related".into()),
                ])
            },
        ),
        c(
            "POST",
            "/tickets/{number}/merge",
            Perm("ticket-work"),
            T::TicketPair,
            |f| Body::Form(vec![("into".into(), f.other_ticket.to_string())]),
        ),
        c("GET", "/api/v1/services", SignedIn, T::None, none),
        c(
            "POST",
            "/api/v1/services",
            Perm("catalog-manage"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "name": format!("Matrix service {}", f.n), "category": "Test", "sla_policy_id": f.service_policy() }),
                )
            },
        ),
        c("GET", "/api/v1/services/{id}", SignedIn, T::Service, none),
        c(
            "PATCH",
            "/api/v1/services/{id}",
            Perm("catalog-manage"),
            T::Service,
            |_| Body::Json(json!({ "description": "Edited by the matrix" })),
        ),
        c("GET", "/api/v1/catalog-items", SignedIn, T::None, none),
        c(
            "POST",
            "/api/v1/catalog-items",
            Perm("catalog-manage"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "service_id": f.service, "name": format!("Matrix item {}", f.n) }),
                )
            },
        ),
        c("GET", "/api/v1/catalog-items/{id}", SignedIn, T::Item, none),
        c(
            "PATCH",
            "/api/v1/catalog-items/{id}",
            Perm("catalog-manage"),
            T::Item,
            |_| Body::Json(json!({ "description": "Edited by the matrix" })),
        ),
        c("GET", "/api/v1/sla-policies", SignedIn, T::None, none),
        c(
            "POST",
            "/api/v1/sla-policies",
            Perm("catalog-manage"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "name": format!("Matrix policy {}", f.n), "coverage": "always_on" }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/sla-policies/{id}",
            SignedIn,
            T::Policy,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/sla-policies/{id}",
            Perm("catalog-manage"),
            T::Policy,
            |_| Body::Json(json!({ "coverage": "business_hours" })),
        ),
        c("GET", "/api/v1/teams", SignedIn, T::None, none),
        c(
            "POST",
            "/api/v1/teams",
            Perm("catalog-manage"),
            T::None,
            |f| Body::Json(json!({ "name": format!("Matrix team {}", f.n) })),
        ),
        c("GET", "/api/v1/desk/settings", SignedIn, T::None, none),
        c(
            "GET",
            "/api/v1/mail-templates",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "PUT",
            "/api/v1/mail-templates/{event}",
            Perm("catalog-manage"),
            T::None,
            |_| Body::Json(json!({ "subject": "Resolved [#{number}] {subject}" })),
        ),
        c(
            "DELETE",
            "/api/v1/mail-templates/{event}",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/desk/templates/{event}",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/desk/templates/{event}",
            Perm("catalog-manage"),
            T::None,
            |_| {
                Body::Form(vec![
                    ("subject".into(), "Resolved [#{number}] {subject}".into()),
                    ("body".into(), "Hello {name}".into()),
                ])
            },
        ),
        c(
            "POST",
            "/desk/templates/{event}/reset",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "PUT",
            "/api/v1/desk/settings",
            Perm("catalog-manage"),
            T::None,
            |_| Body::Json(json!({ "reopen_days": 5 })),
        ),
        c(
            "GET",
            "/desk/settings",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/desk/settings",
            Perm("catalog-manage"),
            T::None,
            |_| {
                let mut pairs = vec![
                    ("reopen_days".to_owned(), "5".to_owned()),
                    ("attachment_max_mb".to_owned(), "10".to_owned()),
                ];
                for (i, row) in [["p1", "p2", "p3"], ["p2", "p3", "p4"], ["p3", "p4", "p4"]]
                    .iter()
                    .enumerate()
                {
                    for (j, pr) in row.iter().enumerate() {
                        let level = ["high", "medium", "low"];
                        pairs.push((format!("pm_{}_{}", level[i], level[j]), (*pr).to_owned()));
                    }
                }
                Body::Form(pairs)
            },
        ),
        c(
            "POST",
            "/desk/teams",
            Perm("catalog-manage"),
            T::None,
            |f| {
                Body::Form(vec![(
                    "team_name".into(),
                    format!("Matrix page team {}", f.n),
                )])
            },
        ),
        c(
            "GET",
            "/desk/services/new",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/desk/services",
            Perm("catalog-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("name".into(), format!("Matrix page service {}", f.n)),
                    ("category".into(), "Infrastructure".into()),
                    ("support_hours".into(), "Business hours".into()),
                    ("sla_policy_id".into(), f.service_policy()),
                    ("active".into(), "true".into()),
                ])
            },
        ),
        c(
            "GET",
            "/desk/services/{id}",
            Perm("catalog-manage"),
            T::Service,
            none,
        ),
        c(
            "POST",
            "/desk/services/{id}",
            Perm("catalog-manage"),
            T::Service,
            |_| {
                Body::Form(vec![
                    ("description".into(), "Edited by the matrix".into()),
                    ("active".into(), "true".into()),
                ])
            },
        ),
        c(
            "POST",
            "/desk/items/{id}/active",
            Perm("catalog-manage"),
            T::Item,
            |_| form(&[("active", "true")]),
        ),
        c(
            "GET",
            "/desk/items/new",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/desk/items",
            Perm("catalog-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("service_id".into(), f.service.clone()),
                    ("name".into(), format!("Matrix page item {}", f.n)),
                    ("active".into(), "true".into()),
                    ("rows".into(), "1".into()),
                    ("q0_label".into(), "Start date".into()),
                    ("q0_kind".into(), "date".into()),
                ])
            },
        ),
        c(
            "GET",
            "/desk/items/{id}",
            Perm("catalog-manage"),
            T::Item,
            none,
        ),
        c(
            "POST",
            "/desk/items/{id}",
            Perm("catalog-manage"),
            T::Item,
            |_| {
                Body::Form(vec![
                    ("description".into(), "Edited by the matrix".into()),
                    ("active".into(), "true".into()),
                ])
            },
        ),
        c(
            "GET",
            "/desk/policies/new",
            Perm("catalog-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/desk/policies",
            Perm("catalog-manage"),
            T::None,
            |f| policy_form(format!("Matrix page policy {}", f.n)),
        ),
        c(
            "GET",
            "/desk/policies/{id}",
            Perm("catalog-manage"),
            T::Policy,
            none,
        ),
        c(
            "POST",
            "/desk/policies/{id}",
            Perm("catalog-manage"),
            T::Policy,
            |_| policy_form("Standard (business hours)".into()),
        ),
        c(
            "GET",
            "/api/v1/tickets/{number}/attachments",
            Perm("ticket-read"),
            T::Ticket,
            none,
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/attachments?filename=note.txt",
            Perm("ticket-submit"),
            T::Ticket,
            |_| Body::Json(json!({ "a": "file" })),
        ),
        c(
            "GET",
            "/api/v1/tickets/{number}/attachments/{id}",
            Perm("ticket-read"),
            T::TicketFile,
            none,
        ),
        c(
            "POST",
            "/tickets/{number}/attachments",
            Perm("ticket-submit"),
            T::Ticket,
            |_| Body::Upload("matrix.txt", "attached by the matrix"),
        ),
        c(
            "GET",
            "/tickets/{number}/attachments/{id}",
            Perm("ticket-read"),
            T::TicketFile,
            none,
        ),
        c(
            "GET",
            "/api/v1/time-entries",
            Perm("time-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/time-entries",
            Perm("time-log"),
            T::Ticket,
            |f| {
                Body::Json(
                    json!({ "ticket": f.ticket.parse::<i64>().unwrap(), "minutes": 25, "activity": "remote" }),
                )
            },
        ),
        c(
            "DELETE",
            "/api/v1/time-entries/{id}",
            Perm("time-log"),
            T::TimeEntry,
            none,
        ),
        c("GET", "/api/v1/timer", Perm("time-log"), T::None, none),
        c(
            "POST",
            "/api/v1/timer/start",
            Perm("time-log"),
            T::Ticket,
            |f| Body::Json(json!({ "ticket": f.ticket.parse::<i64>().unwrap() })),
        ),
        c(
            "POST",
            "/api/v1/timer/stop",
            Perm("time-log"),
            T::RunningTimer,
            |_| Body::Json(json!({ "note": "matrix" })),
        ),
        c("GET", "/api/v1/tickets", Perm("ticket-read"), T::None, none),
        c(
            "POST",
            "/api/v1/tickets",
            Perm("ticket-submit"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "subject": format!("Matrix ticket {}", f.n), "description": "Opened by the matrix" }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/tickets/{number}",
            Perm("ticket-read"),
            T::Ticket,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/tickets/{number}",
            Perm("ticket-work"),
            T::Ticket,
            |_| Body::Json(json!({ "urgency": "high" })),
        ),
        c(
            "GET",
            "/api/v1/tickets/{number}/comments",
            Perm("ticket-read"),
            T::Ticket,
            none,
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/comments",
            Perm("ticket-submit"),
            T::Ticket,
            |_| Body::Json(json!({ "body": "A reply from the matrix" })),
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/approval",
            Perm("ticket-approve"),
            T::PendingTicket,
            |_| Body::Json(json!({ "decision": "approve" })),
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/rating",
            Perm("ticket-rate"),
            T::ResolvedTicket,
            |_| Body::Json(json!({ "score": 4 })),
        ),
        // Pages
        c("GET", "/tickets", Perm("ticket-read"), T::None, none),
        c("GET", "/tickets/new", Perm("ticket-submit"), T::None, none),
        c("POST", "/tickets", Perm("ticket-submit"), T::None, |f| {
            Body::Form(vec![
                ("subject".into(), format!("Form ticket {}", f.n)),
                ("description".into(), "Opened from the matrix".into()),
                ("kind".into(), "incident".into()),
                ("impact".into(), "low".into()),
                ("urgency".into(), "low".into()),
            ])
        }),
        c(
            "POST",
            "/tickets/bulk",
            Perm("ticket-work"),
            T::Ticket,
            |f| {
                Body::Form(vec![
                    ("ticket".into(), f.ticket.clone()),
                    ("status".into(), "in_progress".into()),
                ])
            },
        ),
        c(
            "GET",
            "/tickets/{number}",
            Perm("ticket-read"),
            T::Ticket,
            none,
        ),
        c(
            "POST",
            "/tickets/{number}/comments",
            Perm("ticket-submit"),
            T::Ticket,
            |_| form(&[("body", "A reply from the matrix form")]),
        ),
        c(
            "POST",
            "/tickets/{number}/update",
            Perm("ticket-work"),
            T::Ticket,
            |_| {
                form(&[
                    ("status", "in_progress"),
                    ("impact", "low"),
                    ("urgency", "high"),
                ])
            },
        ),
        c(
            "POST",
            "/tickets/{number}/approval",
            Perm("ticket-approve"),
            T::PendingTicket,
            |_| form(&[("decision", "approve")]),
        ),
        c(
            "POST",
            "/tickets/{number}/rating",
            Perm("ticket-rate"),
            T::ResolvedTicket,
            |_| form(&[("score", "5")]),
        ),
        c("GET", "/catalog", SignedIn, T::None, none),
        c(
            "POST",
            "/tickets/{number}/time",
            Perm("time-log"),
            T::Ticket,
            |_| {
                form(&[
                    ("minutes", "15"),
                    ("activity", "support"),
                    ("billable", "true"),
                ])
            },
        ),
        c(
            "POST",
            "/tickets/{number}/timer",
            Perm("time-log"),
            T::Ticket,
            |_| form(&[("action", "start")]),
        ),
        c("GET", "/timesheet", Perm("time-read"), T::None, none),
        c("GET", "/mail", Perm("ticket-work"), T::None, none),
        c(
            "GET",
            "/mail/{id}/raw",
            Perm("ticket-work"),
            T::MailEntry,
            none,
        ),
        c(
            "POST",
            "/mail/{id}/resolve",
            Perm("ticket-work"),
            T::MailEntry,
            |_| form(&[("outcome", "triage")]),
        ),
        c("GET", "/api/v1/mail", Perm("ticket-work"), T::None, none),
        c(
            "GET",
            "/api/v1/mail/{id}/raw",
            Perm("ticket-work"),
            T::MailEntry,
            none,
        ),
        c(
            "POST",
            "/api/v1/mail/{id}/resolve",
            Perm("ticket-work"),
            T::MailEntry,
            |_| Body::Json(json!({})),
        ),
        c("POST", "/account/notifications", SignedIn, T::None, |_| {
            form(&[("on", "opened"), ("on", "resolved")])
        }),
        c("GET", "/", Public, T::None, none),
        c("GET", "/sign-in", Public, T::None, none),
        c("POST", "/sign-in", Public, T::None, |_| {
            form(&[
                ("email", "nobody@nowhere.example.gov"),
                ("password", "wrong-password-1"),
            ])
        }),
        c("POST", "/sign-out", SignedIn, T::None, none),
        c("POST", "/switch-org", Perm("org-read"), T::Org, |f| {
            Body::Form(vec![("org".into(), f.slug.into())])
        }),
        c("GET", "/orgs", Perm("org-read"), T::None, none),
        c("GET", "/orgs/new", Perm("org-manage"), T::None, none),
        c("POST", "/orgs", Perm("org-manage"), T::None, |f| {
            Body::Form(vec![
                ("name".into(), format!("Form Town {}", f.n)),
                ("kind".into(), "town".into()),
                ("time_zone".into(), "America/New_York".into()),
                ("fiscal_year_start_month".into(), "7".into()),
            ])
        }),
        c("GET", "/orgs/{slug}", Perm("org-read"), T::Org, none),
        c(
            "GET",
            "/orgs/{slug}/settings",
            Perm("org-settings-write"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/settings",
            Perm("org-settings-write"),
            T::Org,
            org_settings_form,
        ),
        c(
            "POST",
            "/orgs/{slug}/deactivate",
            Perm("org-manage"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/reactivate",
            Perm("org-manage"),
            T::Org,
            none,
        ),
        c(
            "GET",
            "/orgs/{slug}/departments",
            Perm("directory-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/departments",
            Perm("directory-write"),
            T::Org,
            |f| Body::Form(vec![("name".into(), format!("Form dept {}", f.n))]),
        ),
        c(
            "GET",
            "/orgs/{slug}/departments/{id}",
            Perm("directory-write"),
            T::Department,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/departments/{id}",
            Perm("directory-write"),
            T::Department,
            |f| Body::Form(vec![("name".into(), format!("Form renamed {}", f.n))]),
        ),
        c(
            "POST",
            "/orgs/{slug}/departments/{id}/delete",
            Perm("directory-write"),
            T::Department,
            none,
        ),
        c(
            "GET",
            "/orgs/{slug}/sites",
            Perm("directory-read"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/sites",
            Perm("directory-write"),
            T::Org,
            |f| {
                Body::Form(vec![
                    ("name".into(), format!("Form site {}", f.n)),
                    ("address".into(), "2 Oak St".into()),
                    ("kind".into(), "library".into()),
                ])
            },
        ),
        c(
            "GET",
            "/orgs/{slug}/sites/{id}",
            Perm("directory-write"),
            T::Site,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/sites/{id}",
            Perm("directory-write"),
            T::Site,
            |f| {
                Body::Form(vec![
                    ("name".into(), format!("Edited site {}", f.n)),
                    ("address".into(), "3 Pine St".into()),
                    ("kind".into(), "other".into()),
                ])
            },
        ),
        c(
            "POST",
            "/orgs/{slug}/sites/{id}/delete",
            Perm("directory-write"),
            T::Site,
            none,
        ),
        c("GET", "/orgs/{slug}/users", Perm("user-read"), T::Org, none),
        c(
            "GET",
            "/orgs/{slug}/users/new",
            Perm("user-manage"),
            T::Org,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/users",
            Perm("user-manage"),
            T::Org,
            |f| {
                Body::Form(vec![
                    ("name".into(), "Form Person".into()),
                    (
                        "email".into(),
                        format!("form{}@{}.example.gov", f.n, f.slug),
                    ),
                    ("role".into(), "member-staff".into()),
                ])
            },
        ),
        c(
            "GET",
            "/orgs/{slug}/users/{id}",
            Perm("user-read"),
            T::User,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/users/{id}/disable",
            Perm("user-manage"),
            T::User,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/users/{id}/enable",
            Perm("user-manage"),
            T::User,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/grants",
            Perm("user-manage"),
            T::Org,
            |f| {
                Body::Form(vec![
                    ("email".into(), f.email.clone()),
                    ("role".into(), "auditor".into()),
                ])
            },
        ),
        c(
            "POST",
            "/orgs/{slug}/invitations/{id}/resend",
            Perm("user-manage"),
            T::Invitation,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/invitations/{id}/revoke",
            Perm("user-manage"),
            T::Invitation,
            none,
        ),
        c(
            "POST",
            "/orgs/{slug}/grants/{id}/revoke",
            Perm("user-manage"),
            T::Grant,
            none,
        ),
        c("GET", "/audit?org={slug}", Perm("audit-read"), T::Org, none),
        c("GET", "/account", SignedIn, T::None, none),
        c("POST", "/account/password", SignedIn, T::None, |_| {
            form(&[
                ("current_password", "not-my-password"),
                ("new_password", "short"),
            ])
        }),
        c("GET", "/account/tokens", SignedIn, T::None, none),
        c("POST", "/account/tokens", SignedIn, T::None, |_| {
            form(&[("name", "matrix token")])
        }),
        c(
            "POST",
            "/account/tokens/{id}/revoke",
            SignedIn,
            T::OwnToken,
            none,
        ),
        // Shared-services economics
        c(
            "POST",
            "/api/v1/usage/import?dry_run=true",
            Perm("billing-manage"),
            T::Org,
            |f| {
                Body::Csv(format!(
                    "id,org,meter,quantity,period\nimport-{},{},vm,2,2026-09\n",
                    f.n, f.slug
                ))
            },
        ),
        c(
            "GET",
            "/api/v1/rate-cards",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/rate-cards",
            Perm("billing-manage"),
            T::None,
            |f| {
                Body::Json(json!({
                    "service_id": f.service, "name": format!("GIS seat {}", f.n), "model": "per_unit",
                    "unit": "seat", "price": "40.00", "effective_from": "2026-07-01"
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/rate-cards/{id}",
            Perm("billing-read"),
            T::RateCard,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/rate-cards/{id}",
            Perm("billing-manage"),
            T::RateCard,
            |_| Body::Json(json!({ "active": true })),
        ),
        c(
            "POST",
            "/api/v1/rate-cards/{id}/rates",
            Perm("billing-manage"),
            T::RateCard,
            |f| Body::Json(json!({ "price": "7.00", "effective_from": f.date })),
        ),
        c(
            "GET",
            "/api/v1/agreements",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/agreements",
            Perm("billing-manage"),
            T::Org,
            |f| {
                Body::Json(json!({
                    "org": f.slug, "title": "Shared IT services", "starts_on": "2026-07-01",
                    "cadence": "quarterly", "approving_body": "Select Board"
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/agreements/{id}",
            Perm("billing-read"),
            T::Agreement,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/agreements/{id}",
            Perm("billing-manage"),
            T::Agreement,
            |_| Body::Json(json!({ "notes": "Amended by the matrix" })),
        ),
        c(
            "POST",
            "/api/v1/agreements/{id}/subscriptions",
            Perm("billing-manage"),
            T::Agreement,
            |_| {
                Body::Json(json!({
                    "rate_card_id": RATE_CARD.get().map(|c| c.to_string()).unwrap_or_default(),
                    "quantity": 12, "starts_on": "2026-08-01"
                }))
            },
        ),
        c(
            "PATCH",
            "/api/v1/subscriptions/{id}",
            Perm("billing-manage"),
            T::Subscription,
            |_| Body::Json(json!({ "quantity": "14" })),
        ),
        c(
            "POST",
            "/api/v1/usage",
            Perm("billing-manage"),
            T::Org,
            |f| {
                Body::Json(json!({ "records": [
                { "id": format!("matrix-{}", f.n), "org": f.slug, "meter": "mailboxes", "quantity": 3, "period": "2026-09" }
            ] }))
            },
        ),
        c(
            "GET",
            "/api/v1/usage?month=2026-09",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/usage/totals?from=2026-07&to=2026-09",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/invoice-runs",
            Perm("billing-manage"),
            T::None,
            |f| Body::Json(json!({ "period": format!("2039-{:02}", f.n % 12 + 1) })),
        ),
        c(
            "GET",
            "/api/v1/invoices",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/invoices/{id}",
            Perm("billing-read"),
            T::DraftInvoice,
            none,
        ),
        c(
            "GET",
            "/api/v1/invoices/{id}/pdf",
            Perm("billing-read"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/api/v1/invoices/{id}/issue",
            Perm("billing-manage"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/api/v1/invoices/{id}/void",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| Body::Json(json!({ "reason": "Matrix" })),
        ),
        c(
            "POST",
            "/api/v1/invoices/{id}/payments",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| Body::Json(json!({ "amount": "1.00", "method": "ach" })),
        ),
        c("GET", "/billing", Perm("billing-read"), T::None, none),
        c(
            "GET",
            "/billing/agreements/new",
            Perm("billing-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/agreements",
            Perm("billing-manage"),
            T::Org,
            |f| {
                form(&[
                    ("org", f.slug),
                    ("title", "Shared services"),
                    ("status", "active"),
                    ("cadence", "monthly"),
                    ("starts_on", "2026-07-01"),
                    ("renewal", "annual"),
                    ("approving_body", "Select Board"),
                ])
            },
        ),
        c(
            "POST",
            "/billing/agreements/{id}/subscriptions",
            Perm("billing-manage"),
            T::Agreement,
            |_| {
                Body::Form(vec![
                    (
                        "rate_card_id".into(),
                        RATE_CARD.get().map(|c| c.to_string()).unwrap_or_default(),
                    ),
                    ("quantity".into(), "4".into()),
                    ("starts_on".into(), "2026-08-01".into()),
                ])
            },
        ),
        c(
            "GET",
            "/billing/rate-cards/new",
            Perm("billing-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/rate-cards",
            Perm("billing-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("service_id".into(), f.service.clone()),
                    ("name".into(), format!("Page card {}", f.n)),
                    ("model".into(), "fixed".into()),
                    ("price".into(), "100".into()),
                    ("effective_from".into(), "2026-07-01".into()),
                ])
            },
        ),
        c(
            "GET",
            "/billing/invoices",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/usage/import",
            Perm("billing-manage"),
            T::None,
            |_| {
                Body::Upload(
                    "usage.csv",
                    "id,org,meter,quantity,period\nmatrix-upload,north-reading,vm,1,2026-09\n",
                )
            },
        ),
        c(
            "POST",
            "/billing/invoice-runs",
            Perm("billing-manage"),
            T::None,
            |f| form(&[("period", &format!("2038-{:02}", f.n % 12 + 1))]),
        ),
        c(
            "GET",
            "/billing/invoices/{id}",
            Perm("billing-read"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/billing/invoices/{id}/issue",
            Perm("billing-manage"),
            T::DraftInvoice,
            none,
        ),
        c(
            "POST",
            "/billing/invoices/{id}/void",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| form(&[("reason", "Matrix")]),
        ),
        c(
            "POST",
            "/billing/invoices/{id}/payments",
            Perm("billing-manage"),
            T::IssuedInvoice,
            |_| form(&[("amount", "1.00")]),
        ),
        c(
            "GET",
            "/billing/agreements/{id}",
            Perm("billing-read"),
            T::Agreement,
            none,
        ),
        // The hub's finance: cost pools, benchmarks, credits, reports
        c(
            "GET",
            "/api/v1/costs?fy=2027",
            Perm("finance-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/costs",
            Perm("billing-manage"),
            T::None,
            |f| {
                Body::Json(json!({
                    "service_id": f.service, "fiscal_year": "2027", "category": "staff",
                    "description": format!("Analyst {}", f.n), "amount": "48000.00"
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/costs/{id}",
            Perm("finance-read"),
            T::Cost,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/costs/{id}",
            Perm("billing-manage"),
            T::Cost,
            |_| Body::Json(json!({ "amount": "50000" })),
        ),
        c(
            "DELETE",
            "/api/v1/costs/{id}",
            Perm("billing-manage"),
            T::Cost,
            none,
        ),
        c(
            "GET",
            "/api/v1/finance?fy=2027",
            Perm("finance-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/benchmarks",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/benchmarks",
            Perm("billing-manage"),
            T::None,
            |f| {
                // A fresh service per request: a service has one benchmark per size band.
                let band = ["small", "medium", "large", "very_large"][f.n % 4];
                Body::Json(json!({
                    "service_id": f.service, "size_band": band,
                    "staff": "1", "source": format!("Matrix {}", f.n)
                }))
            },
        ),
        c(
            "GET",
            "/api/v1/benchmarks/{id}",
            Perm("billing-read"),
            T::Benchmark,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/benchmarks/{id}",
            Perm("billing-manage"),
            T::Benchmark,
            |_| Body::Json(json!({ "staff": "60000" })),
        ),
        c(
            "GET",
            "/api/v1/savings?fy=2027",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/credits",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/credits",
            Perm("billing-manage"),
            T::Agreement,
            |f| {
                Body::Json(json!({
                    "agreement_id": f.ticket, "month": "2026-09", "amount": "25.00", "reason": "Outage"
                }))
            },
        ),
        c(
            "DELETE",
            "/api/v1/credits/{id}",
            Perm("billing-manage"),
            T::Credit,
            none,
        ),
        c(
            "GET",
            "/billing/finance?fy=2027",
            Perm("finance-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/finance/costs",
            Perm("billing-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("service_id".into(), f.service.clone()),
                    ("fiscal_year".into(), "2027".into()),
                    ("category".into(), "licences".into()),
                    ("description".into(), format!("Licence {}", f.n)),
                    ("amount".into(), "1200".into()),
                ])
            },
        ),
        c(
            "POST",
            "/billing/finance/costs/{id}/delete",
            Perm("billing-manage"),
            T::Cost,
            none,
        ),
        c(
            "GET",
            "/billing/savings?fy=2027",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/billing/benchmarks",
            Perm("billing-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/billing/benchmarks",
            Perm("billing-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("service_id".into(), f.spare_service.clone()),
                    (
                        "size_band".into(),
                        ["small", "medium", "large", "very_large"][f.n % 4].into(),
                    ),
                    ("staff".into(), "100".into()),
                    ("source".into(), format!("Matrix {}", f.n)),
                ])
            },
        ),
        c(
            "GET",
            "/billing/benchmarks/{id}",
            Perm("billing-manage"),
            T::Benchmark,
            none,
        ),
        c(
            "POST",
            "/billing/benchmarks/{id}",
            Perm("billing-manage"),
            T::Benchmark,
            |_| form(&[("staff", "70000"), ("source", "Matrix survey")]),
        ),
        c(
            "POST",
            "/billing/agreements/{id}/credits",
            Perm("billing-manage"),
            T::Agreement,
            |_| form(&[("month", "2026-10"), ("amount", "10"), ("reason", "Matrix")]),
        ),
        // Agreement documents, amendments, subscription changes, prices
        c(
            "GET",
            "/api/v1/agreements/{id}/documents",
            Perm("billing-read"),
            T::Agreement,
            none,
        ),
        c(
            "POST",
            "/api/v1/agreements/{id}/documents?filename=agreement.txt",
            Perm("billing-manage"),
            T::Agreement,
            |_| Body::Csv("Signed by both parties".into()),
        ),
        c(
            "GET",
            "/api/v1/agreements/{id}/documents/{doc}",
            Perm("billing-read"),
            T::Document,
            none,
        ),
        c(
            "GET",
            "/billing/agreements/{id}/edit",
            Perm("billing-manage"),
            T::Agreement,
            none,
        ),
        c(
            "POST",
            "/billing/agreements/{id}",
            Perm("billing-manage"),
            T::Agreement,
            |_| {
                form(&[
                    ("title", "Amended"),
                    ("status", "active"),
                    ("cadence", "monthly"),
                    ("starts_on", "2026-07-01"),
                    ("renewal", "annual"),
                    ("approving_body", "Select Board"),
                ])
            },
        ),
        c(
            "POST",
            "/billing/subscriptions/{id}",
            Perm("billing-manage"),
            T::Subscription,
            |_| form(&[("quantity", "7")]),
        ),
        c(
            "GET",
            "/billing/rate-cards/{id}",
            Perm("billing-read"),
            T::RateCard,
            none,
        ),
        c(
            "POST",
            "/billing/rate-cards/{id}/rates",
            Perm("billing-manage"),
            T::RateCard,
            |f| form(&[("effective_from", f.date.as_str()), ("price", "7.00")]),
        ),
        c(
            "POST",
            "/billing/agreements/{id}/documents",
            Perm("billing-manage"),
            T::Agreement,
            |_| Body::Upload("minutes.txt", "Voted 5-0"),
        ),
        c(
            "GET",
            "/billing/agreements/{id}/documents/{doc}",
            Perm("billing-read"),
            T::Document,
            none,
        ),
        // The CMDB
        c(
            "GET",
            "/api/v1/tickets/{number}/cis",
            Perm("ticket-read"),
            T::Ticket,
            none,
        ),
        c(
            "POST",
            "/api/v1/tickets/{number}/cis",
            Perm("ticket-work"),
            T::Ticket,
            |f| Body::Json(json!({ "ci_id": f.hub_ci })),
        ),
        c(
            "DELETE",
            "/api/v1/tickets/{number}/cis/{id}",
            Perm("ticket-work"),
            T::TicketCi,
            none,
        ),
        c(
            "POST",
            "/tickets/{number}/cis",
            Perm("ticket-work"),
            T::Ticket,
            |f| form(&[("ci_id", f.hub_ci.as_str())]),
        ),
        c("GET", "/api/v1/ci-types", Perm("cmdb-read"), T::None, none),
        c("GET", "/api/v1/cis", Perm("cmdb-read"), T::None, none),
        c("POST", "/api/v1/cis", Perm("cmdb-manage"), T::None, |f| {
            Body::Json(json!({ "type": "server", "name": format!("Matrix {}", f.n),
                               "attributes": { "vcpu": 8 } }))
        }),
        c(
            "POST",
            "/api/v1/cis/import?dry_run=true",
            Perm("cmdb-manage"),
            T::None,
            |f| Body::Csv(format!("type,name,vcpu\nserver,Matrix import {},4\n", f.n)),
        ),
        c(
            "GET",
            "/api/v1/cis/export",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/cis/bulk",
            Perm("cmdb-manage"),
            T::Ci,
            |f| Body::Json(json!({ "ids": [f.ticket], "status": "maintenance" })),
        ),
        c("POST", "/cmdb/bulk", Perm("cmdb-manage"), T::Ci, |f| {
            Body::Form(vec![
                ("ids".into(), f.ticket.clone()),
                ("status".into(), "planned".into()),
            ])
        }),
        c(
            "GET",
            "/cmdb/export?type=server",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c("POST", "/cmdb/import", Perm("cmdb-manage"), T::None, |_| {
            Body::Upload("items.csv", "type,name\nserver,Matrix upload\n")
        }),
        c("GET", "/api/v1/cis/{id}", Perm("cmdb-read"), T::Ci, none),
        c(
            "PATCH",
            "/api/v1/cis/{id}",
            Perm("cmdb-manage"),
            T::Ci,
            |_| Body::Json(json!({ "status": "maintenance" })),
        ),
        c(
            "GET",
            "/api/v1/cis/{id}/relations",
            Perm("cmdb-read"),
            T::Ci,
            none,
        ),
        c(
            "POST",
            "/api/v1/cis/{id}/relations",
            Perm("cmdb-manage"),
            T::Ci,
            |f| Body::Json(json!({ "kind": "depends_on", "to_ci": f.hub_ci })),
        ),
        c(
            "DELETE",
            "/api/v1/ci-relations/{id}",
            Perm("cmdb-manage"),
            T::CiRelation,
            none,
        ),
        c(
            "GET",
            "/api/v1/cis/{id}/impact?depth=3",
            Perm("cmdb-read"),
            T::Ci,
            none,
        ),
        c(
            "GET",
            "/api/v1/cis/{id}/history",
            Perm("cmdb-read"),
            T::Ci,
            none,
        ),
        c("GET", "/cmdb", Perm("cmdb-read"), T::None, none),
        c(
            "GET",
            "/cmdb/new?type=server",
            Perm("cmdb-manage"),
            T::None,
            none,
        ),
        c("POST", "/cmdb", Perm("cmdb-manage"), T::None, |f| {
            Body::Form(vec![
                ("type".into(), "server".into()),
                ("name".into(), format!("Matrix page {}", f.n)),
                ("status".into(), "active".into()),
                ("attr_vcpu".into(), "4".into()),
            ])
        }),
        c("GET", "/cmdb/{id}", Perm("cmdb-read"), T::Ci, none),
        c("GET", "/cmdb/{id}/edit", Perm("cmdb-manage"), T::Ci, none),
        c("POST", "/cmdb/{id}", Perm("cmdb-manage"), T::Ci, |f| {
            Body::Form(vec![
                ("type".into(), "server".into()),
                ("name".into(), format!("Renamed {}", f.n)),
                ("status".into(), "active".into()),
            ])
        }),
        c(
            "POST",
            "/cmdb/{id}/relations",
            Perm("cmdb-manage"),
            T::Ci,
            |f| {
                Body::Form(vec![
                    ("kind".into(), "runs_on".into()),
                    ("to_ci".into(), f.hub_ci.clone()),
                ])
            },
        ),
        c(
            "POST",
            "/cmdb/relations/{id}/delete",
            Perm("cmdb-manage"),
            T::CiRelation,
            none,
        ),
        // The regional cloud
        c(
            "GET",
            "/api/v1/cloud/pools",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/cloud/pools",
            Hub("cmdb-manage"),
            T::None,
            |f| Body::Json(json!({ "name": format!("Matrix cluster {}", f.n), "vcpu": 256 })),
        ),
        c(
            "GET",
            "/api/v1/cloud/pools/{id}",
            Perm("cmdb-read"),
            T::Pool,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/cloud/pools/{id}",
            Hub("cmdb-manage"),
            T::Pool,
            |_| Body::Json(json!({ "ram_gb": 2048 })),
        ),
        c(
            "POST",
            "/api/v1/cloud/pools/{id}/parts",
            Hub("cmdb-manage"),
            T::Pool,
            |f| Body::Json(json!({ "ci_id": f.hub_host })),
        ),
        c(
            "DELETE",
            "/api/v1/cloud/pools/{id}/parts/{ci}",
            Hub("cmdb-manage"),
            T::PoolPart,
            none,
        ),
        c(
            "GET",
            "/api/v1/cloud/allocations",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/cloud/snapshot",
            Hub("cmdb-manage"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/cloud/meter",
            Hub("billing-manage"),
            T::None,
            |_| Body::Json(json!({})),
        ),
        c("GET", "/cloud", Perm("cmdb-read"), T::None, none),
        c("GET", "/cloud/new", Hub("cmdb-manage"), T::None, none),
        c("POST", "/cloud", Hub("cmdb-manage"), T::None, |f| {
            Body::Form(vec![
                ("name".into(), format!("Matrix page cluster {}", f.n)),
                ("vcpu".into(), "128".into()),
            ])
        }),
        c("GET", "/cloud/{id}", Perm("cmdb-read"), T::Pool, none),
        c("GET", "/cloud/{id}/edit", Hub("cmdb-manage"), T::Pool, none),
        c("POST", "/cloud/{id}", Hub("cmdb-manage"), T::Pool, |f| {
            Body::Form(vec![
                ("name".into(), format!("Renamed pool {}", f.n)),
                ("vcpu".into(), "96".into()),
            ])
        }),
        c(
            "POST",
            "/cloud/{id}/parts",
            Hub("cmdb-manage"),
            T::Pool,
            |f| Body::Form(vec![("ci_id".into(), f.hub_host.clone())]),
        ),
        c(
            "POST",
            "/cloud/{id}/parts/{ci}/delete",
            Hub("cmdb-manage"),
            T::PoolPart,
            none,
        ),
        // The application portfolio
        c(
            "GET",
            "/api/v1/capabilities",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/capabilities",
            Hub("cmdb-manage"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "slug": format!("matrix-{}", f.n), "name": format!("Matrix capability {}", f.n) }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/portfolio/questionnaire",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c("GET", "/api/v1/portfolio", Perm("cmdb-read"), T::None, none),
        c(
            "GET",
            "/api/v1/portfolio/redundancy",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/portfolio/retirements",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/api/v1/portfolio/{id}",
            Perm("cmdb-read"),
            T::App,
            none,
        ),
        c(
            "PUT",
            "/api/v1/portfolio/{id}",
            Perm("cmdb-manage"),
            T::App,
            |_| {
                Body::Json(
                    json!({ "capability": "payroll", "users": 12, "answers": { "reach": 4 } }),
                )
            },
        ),
        c("GET", "/portfolio", Perm("cmdb-read"), T::None, none),
        c(
            "GET",
            "/portfolio/redundancy",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "GET",
            "/portfolio/retirements",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c("GET", "/portfolio/{id}", Perm("cmdb-read"), T::App, none),
        c(
            "POST",
            "/portfolio/{id}",
            Perm("cmdb-manage"),
            T::App,
            |_| {
                form(&[
                    ("capability", "records"),
                    ("users", "30"),
                    ("answer_fit", "3"),
                ])
            },
        ),
        // Enterprise architecture
        c("GET", "/api/v1/standards", Perm("cmdb-read"), T::None, none),
        c(
            "POST",
            "/api/v1/standards",
            Hub("cmdb-manage"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "name": format!("Matrix tech {}", f.n), "area": "platforms", "ring": "trial" }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/standards/{id}",
            Perm("cmdb-read"),
            T::Standard,
            none,
        ),
        c(
            "PATCH",
            "/api/v1/standards/{id}",
            Hub("cmdb-manage"),
            T::Standard,
            |_| Body::Json(json!({ "instead": "Matrix OS 2" })),
        ),
        c(
            "GET",
            "/api/v1/principles",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/principles",
            Hub("cmdb-manage"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "title": format!("Principle {}", f.n), "statement": "Share first." }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/exceptions",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/api/v1/exceptions",
            Perm("cmdb-manage"),
            T::None,
            |f| {
                Body::Json(
                    json!({ "standard_id": f.standard, "title": "Keep it", "reason": "Vendor", "risk": "low" }),
                )
            },
        ),
        c(
            "GET",
            "/api/v1/exceptions/{id}",
            Perm("cmdb-read"),
            T::Exception,
            none,
        ),
        c(
            "POST",
            "/api/v1/exceptions/{id}/decision",
            Hub("cmdb-manage"),
            T::Exception,
            |_| Body::Json(json!({ "status": "rejected", "note": "Upgrade instead" })),
        ),
        c(
            "POST",
            "/api/v1/exceptions/{id}/withdraw",
            Perm("cmdb-manage"),
            T::Exception,
            none,
        ),
        c(
            "GET",
            "/api/v1/compliance",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c("GET", "/architecture", Perm("cmdb-read"), T::None, none),
        c(
            "POST",
            "/architecture/standards",
            Hub("cmdb-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("name".into(), format!("Matrix page tech {}", f.n)),
                    ("area".into(), "security".into()),
                    ("ring".into(), "adopt".into()),
                ])
            },
        ),
        c(
            "GET",
            "/architecture/standards/{id}",
            Perm("cmdb-read"),
            T::Standard,
            none,
        ),
        c(
            "POST",
            "/architecture/standards/{id}",
            Hub("cmdb-manage"),
            T::Standard,
            |_| {
                form(&[
                    ("version", ""),
                    ("name", "Matrix OS 1"),
                    ("area", "infrastructure"),
                    ("ring", "hold"),
                    ("match_terms", "Matrix OS 1"),
                ])
            },
        ),
        c(
            "POST",
            "/architecture/principles",
            Hub("cmdb-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("title".into(), format!("Page principle {}", f.n)),
                    ("statement".into(), "Share first.".into()),
                ])
            },
        ),
        c(
            "GET",
            "/architecture/exceptions",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c(
            "POST",
            "/architecture/exceptions",
            Perm("cmdb-manage"),
            T::None,
            |f| {
                Body::Form(vec![
                    ("standard_id".into(), f.standard.clone()),
                    ("title".into(), "Keep it".into()),
                    ("reason".into(), "Vendor".into()),
                    ("risk".into(), "medium".into()),
                ])
            },
        ),
        c(
            "GET",
            "/architecture/exceptions/{id}",
            Perm("cmdb-read"),
            T::Exception,
            none,
        ),
        c(
            "POST",
            "/architecture/exceptions/{id}/decision",
            Hub("cmdb-manage"),
            T::Exception,
            |_| form(&[("status", "rejected"), ("note", "Upgrade instead")]),
        ),
        c(
            "POST",
            "/architecture/exceptions/{id}/withdraw",
            Perm("cmdb-manage"),
            T::Exception,
            none,
        ),
        c(
            "GET",
            "/architecture/compliance",
            Perm("cmdb-read"),
            T::None,
            none,
        ),
        c("GET", "/api/openapi.json", Public, T::None, none),
        c("GET", "/api/docs", Public, T::None, none),
    ]
}

/// The specification: which permissions each role carries, and whether it reaches the whole region.
fn allows(role: &str, perm: &str) -> bool {
    let read = ["org-read", "directory-read", "user-read", "ticket-read"];
    match role {
        // Approving a member's spending and rating the service are the member's own acts.
        "hub-admin" => !["ticket-approve", "ticket-rate"].contains(&perm),
        "hub-agent" => {
            read.contains(&perm)
                || [
                    "ticket-submit",
                    "ticket-work",
                    "time-log",
                    "time-read",
                    "kb-write",
                    "report-read",
                    "cmdb-read",
                    "cmdb-manage",
                ]
                .contains(&perm)
        }
        "hub-auditor" | "member-auditor" => {
            read.contains(&perm)
                || ["audit-read", "time-read", "report-read", "billing-read", "cmdb-read"].contains(&perm)
                // The hub's own books are the hub's: its auditors see them, a member's do not.
                || (perm == "finance-read" && role == "hub-auditor")
        }
        "member-admin" => ![
            "org-manage",
            "ticket-work",
            "catalog-manage",
            "time-log",
            "kb-write",
            "billing-manage",
            "finance-read",
        ]
        .contains(&perm),
        "member-staff" => [
            "org-read",
            "directory-read",
            "ticket-read",
            "ticket-submit",
            "ticket-rate",
        ]
        .contains(&perm),
        _ => false,
    }
}

fn reaches_region(role: &str) -> bool {
    role.starts_with("hub-")
}

const ROLES: [&str; 6] = [
    "hub-admin",
    "hub-agent",
    "hub-auditor",
    "member-admin",
    "member-staff",
    "member-auditor",
];

fn key(m: &str, p: &str) -> String {
    format!("{m} {}", p.split('?').next().unwrap_or(p))
}

#[tokio::test]
async fn every_route_is_in_the_matrix() {
    let matrix: std::collections::BTreeMap<String, Need> = cases()
        .into_iter()
        .map(|c| (key(c.method, c.path), c.need))
        .collect();
    let registered = web::registered_routes();
    for r in &registered {
        let k = key(r.method, r.path);
        let need = matrix.get(&k).unwrap_or_else(|| {
            panic!("{k} is not in the isolation matrix (tests/it/isolation.rs)")
        });
        let documented = match need {
            Need::Public => "public",
            Need::SignedIn => "signed-in",
            Need::Perm(p) | Need::Hub(p) => p,
        };
        assert_eq!(
            r.needs, documented,
            "{k}: the route table says it needs {}, the matrix {documented}",
            r.needs
        );
    }
    assert_eq!(
        matrix.len(),
        registered.len(),
        "the matrix lists routes that do not exist"
    );
}

/// The policy form's fields: a name and the standard targets.
fn policy_form(name: String) -> Body {
    let mut fields = vec![
        ("name".to_owned(), name),
        ("coverage".to_owned(), "business_hours".to_owned()),
    ];
    for (i, t) in domain::desk::SlaTargets::standard().0.iter().enumerate() {
        let p = i + 1;
        fields.push((
            format!("targets_p{p}_response_minutes"),
            t.response_minutes.to_string(),
        ));
        fields.push((
            format!("targets_p{p}_resolution_minutes"),
            t.resolution_minutes.to_string(),
        ));
    }
    Body::Form(fields)
}

impl Fresh {
    fn service_policy(&self) -> String {
        POLICY.get().cloned().unwrap_or_default()
    }
}

/// A published article for every member, made once per run.
static ARTICLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The starter catalog's standard policy id, for bodies that need one.
static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Makes the ticket a case targets, as the system; returns its number.
async fn target_ticket(
    app: &TestApp,
    kind: Target,
    target: &str,
    caller: domain::ids::UserId,
    n: usize,
) -> i64 {
    use store::desk::tickets::{self, Changes, NewTicket};
    let sys = Actor::system("matrix");
    let org = app.orgs[target];
    let default_requester = if target == OWN {
        app.who("member-staff").user_id
    } else {
        app.who("other-admin").user_id
    };
    let caller_in_org = users::get(&app.db, &Scope::Region, caller)
        .await
        .is_ok_and(|u| u.org_id == org);
    let requester = if kind == Target::ResolvedTicket && caller_in_org {
        caller
    } else {
        default_requester
    };
    let pending = kind == Target::PendingTicket;
    let new = NewTicket {
        org_id: org,
        kind: domain::desk::TicketKind::Incident,
        subject: format!("Target ticket {n}"),
        description: "Made for the isolation matrix".into(),
        requester_id: requester,
        department_id: None,
        site_id: None,
        service_id: None,
        catalog_item_id: pending.then(|| app.desk.items["New laptop"]),
        form_answers: if pending {
            [
                ("model".to_owned(), "Standard".to_owned()),
                ("for_whom".to_owned(), "Matrix".to_owned()),
            ]
            .into()
        } else {
            Default::default()
        },
        category: String::new(),
        impact: domain::desk::Impact::Low,
        urgency: domain::desk::Urgency::Low,
        source: domain::desk::Source::Api,
        team_id: None,
        opened_at: None,
    };
    let t = tickets::open(&app.db, &Scope::Region, &sys, new)
        .await
        .unwrap();
    if kind == Target::ResolvedTicket {
        let view = domain::authz::TicketView {
            all: Scope::Region,
            own: Scope::Orgs(Default::default()),
            user: caller,
            internal: true,
        };
        let c = Changes {
            status: Some(domain::desk::Status::Resolved),
            ..Changes::default()
        };
        tickets::update(&app.db, &view, &Scope::Region, &sys, t.number, None, &c)
            .await
            .unwrap();
    }
    t.number
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The rate card the matrix uses, made once per run.
static RATE_CARD: tokio::sync::OnceCell<domain::ids::RateCardId> =
    tokio::sync::OnceCell::const_new();

async fn rate_card(app: &TestApp) -> domain::ids::RateCardId {
    *RATE_CARD
        .get_or_init(|| async {
            store::billing::rates::create(
                &app.db,
                &Actor::system("matrix"),
                &store::billing::rates::CardDraft {
                    service_id: app.desk.services["email"],
                    name: "Email — per mailbox (matrix)".into(),
                    model: domain::billing::Model::PerUnit,
                    unit: "mailbox".into(),
                    meter: String::new(),
                    activity: String::new(),
                },
                &store::billing::rates::RateDraft {
                    effective_from: jiff::civil::date(2026, 7, 1),
                    price: "6.50".parse().unwrap(),
                    overage: None,
                    note: String::new(),
                },
            )
            .await
            .unwrap()
            .id
        })
        .await
}

/// A server of `org`, recorded as the system.
async fn matrix_ci(app: &TestApp, org: domain::ids::OrgId, name: &str) -> String {
    matrix_item(app, org, domain::cmdb::CiType::Server, name).await
}

/// An item of `org` of a type, recorded as the system.
async fn matrix_item(
    app: &TestApp,
    org: domain::ids::OrgId,
    ci_type: domain::cmdb::CiType,
    name: &str,
) -> String {
    store::cmdb::create(
        &app.db,
        &Scope::Region,
        &Actor::system("matrix"),
        &store::cmdb::CiDraft {
            org_id: org,
            department_id: None,
            ci_type,
            name: name.to_owned(),
            status: domain::cmdb::CiStatus::Active,
            attributes: Default::default(),
        },
    )
    .await
    .unwrap()
    .id
    .to_string()
}

static HUB_CI: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// The hub's storage array, made once per run: every member sees it and may relate its items to it.
async fn hub_ci(app: &TestApp) -> String {
    HUB_CI
        .get_or_init(|| matrix_ci(app, app.orgs[HUB], "Regional storage array"))
        .await
        .clone()
}

static STANDARD: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// A standard on hold, made once per run.
async fn standard(app: &TestApp) -> String {
    STANDARD
        .get_or_init(|| async {
            store::architecture::create_standard(
                &app.db,
                &Actor::system("matrix"),
                &store::architecture::StandardDraft {
                    name: "Matrix OS 1".into(),
                    area: Some(domain::architecture::Area::Infrastructure),
                    ring: Some(domain::architecture::Ring::Hold),
                    description: String::new(),
                    match_terms: vec!["Matrix OS 1".into()],
                    instead: String::new(),
                },
            )
            .await
            .unwrap()
            .id
        })
        .await
        .clone()
}

static BENCHMARK: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// The benchmark that cases on one change, made once per run.
async fn benchmark(app: &TestApp) -> String {
    BENCHMARK
        .get_or_init(|| async {
            store::billing::finance::add_benchmark(
                &app.db,
                &Actor::system("matrix"),
                &store::billing::finance::BenchmarkDraft {
                    service_id: app.desk.services["email"],
                    size_band: domain::billing::finance::SizeBand::Small,
                    standalone: domain::billing::finance::Standalone {
                        staff_cents: 2_000_000,
                        licences_cents: 300_000,
                        hardware_cents: 100_000,
                    },
                    source: "Matrix survey".into(),
                    note: String::new(),
                },
            )
            .await
            .unwrap()
            .id
        })
        .await
        .clone()
}

/// An invoice of `org` for a month of its own (2040 onwards, by `n`), issued when asked.
async fn invoice(app: &TestApp, org: domain::ids::OrgId, n: usize, issued: bool) -> String {
    let sys = Actor::system("matrix");
    let a = agreement(app, org).await;
    store::billing::agreements::subscribe(
        &app.db,
        &Scope::Region,
        &sys,
        a,
        &store::billing::agreements::SubscriptionDraft {
            rate_card_id: rate_card(app).await,
            quantity: 3.into(),
            starts_on: jiff::civil::date(2026, 7, 1),
            ends_on: None,
        },
    )
    .await
    .unwrap();
    let n = i16::try_from(n % 1200).unwrap();
    let period =
        domain::billing::Period::month(2040 + n / 12, i8::try_from(n % 12 + 1).unwrap()).unwrap();
    let label = period.label(7);
    store::billing::invoices::run(&app.db, &sys, &period, &label)
        .await
        .unwrap();
    let page = store::billing::invoices::list(
        &app.db,
        &Scope::Region,
        &store::billing::invoices::Filter {
            org: Some(org),
            status: None,
            period: Some(label),
        },
        &store::page::PageRequest::first(200),
    )
    .await
    .unwrap();
    let id = page
        .items
        .iter()
        .find(|i| i.agreement_id == a)
        .unwrap()
        .id
        .clone();
    if issued {
        store::billing::invoices::issue(
            &app.db,
            &Scope::Region,
            &sys,
            &id,
            None,
            &jiff::civil::date(2040, 1, 1)
                .at(9, 0, 0, 0)
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .unwrap(),
        )
        .await
        .unwrap();
    }
    id
}

/// A fresh agreement of `org`, made as the system.
async fn agreement(app: &TestApp, org: domain::ids::OrgId) -> domain::ids::AgreementId {
    use domain::billing::agreement::{AgreementStatus, Renewal};
    store::billing::agreements::create(
        &app.db,
        &Scope::Region,
        &Actor::system("matrix"),
        org,
        &store::billing::agreements::AgreementDraft {
            title: "Shared services".into(),
            status: AgreementStatus::Active,
            cadence: domain::billing::Cadence::Monthly,
            starts_on: jiff::civil::date(2026, 7, 1),
            ends_on: None,
            renewal: Renewal::Annual,
            approving_body: "Select Board".into(),
            vote_date: None,
            notes: String::new(),
        },
    )
    .await
    .unwrap()
    .id
}

/// A distinct date per request, so that closure days never collide.
fn fresh_date(n: usize) -> jiff::civil::Date {
    jiff::civil::date(2030, 1, 1)
        .checked_add(jiff::Span::new().days(i64::try_from(n).unwrap()))
        .unwrap()
}

/// A person with no role beyond member staff, made as the system, to act on.
async fn fresh_user(
    app: &TestApp,
    sys: &Actor,
    org: domain::ids::OrgId,
    email: &str,
) -> users::User {
    let email = Email::parse(email).unwrap();
    let new = users::NewUser {
        email: &email,
        name: "Fresh",
        role: Role::MemberStaff,
        password_hash: None,
    };
    users::create(&app.db, &Scope::Region, sys, org, new)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_role_sees_only_what_it_may() {
    let mut app = TestApp::new().await;
    let _ = POLICY.set(app.desk.standard.to_string());
    let article = store::desk::kb::create(
        &app.db,
        &Actor::system("matrix"),
        &store::desk::kb::Draft {
            title: "Printer jams".into(),
            body: "Open tray 2 and remove the paper.".into(),
            category: "Printing".into(),
            status: domain::desk::ArticleStatus::Published,
            visibility: domain::desk::Visibility::Members,
            org_id: None,
            service_id: None,
        },
    )
    .await
    .unwrap();
    let _ = ARTICLE.set(article.id);
    let sys = Actor::system("matrix");
    let mut failures = Vec::new();
    for case in cases() {
        for role in ROLES {
            for target in [OWN, OTHER] {
                if case.target.regional() && target == OTHER {
                    continue;
                }
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let org = app.orgs[target];
                let who = app.who(role).clone();
                // Fresh records in the target organisation, so that writes never depend on each other.
                let fresh_email = format!("fresh{n}@{target}.example.gov");
                let mut id = String::new();
                let mut token = String::new();
                match case.target {
                    Target::Department => {
                        id = directory::create_department(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            org,
                            &format!("Target {n}"),
                        )
                        .await
                        .unwrap()
                        .id
                        .to_string()
                    }
                    Target::Site => {
                        let d = SiteDraft {
                            name: format!("Target {n}"),
                            address: "9 Main St".into(),
                            kind: SiteKind::Other,
                        };
                        id = directory::create_site(&app.db, &Scope::Region, &sys, org, &d)
                            .await
                            .unwrap()
                            .id
                            .to_string();
                    }
                    Target::User | Target::Grant | Target::Org => {
                        let u = fresh_user(&app, &sys, org, &fresh_email).await;
                        id = u.id.to_string();
                        if case.target == Target::Grant {
                            id = users::grant(
                                &app.db,
                                &Scope::Region,
                                &sys,
                                org,
                                u.id,
                                Role::Auditor,
                            )
                            .await
                            .unwrap()
                            .id
                            .to_string();
                        }
                    }
                    Target::UserToken => {
                        let u = fresh_user(&app, &sys, org, &fresh_email).await;
                        token = store::auth::create_token(&app.db, &sys, u.id, org, "target")
                            .await
                            .unwrap()
                            .1
                            .id
                            .to_string();
                        id = u.id.to_string();
                    }
                    Target::Closure => {
                        let c = domain::calendar::Closure {
                            date: fresh_date(n),
                            name: "Target closure".into(),
                        };
                        store::tenancy::closures::add(&app.db, &Scope::Region, &sys, org, &c)
                            .await
                            .unwrap();
                        id = c.date.to_string();
                    }
                    Target::OwnToken => {
                        id = store::auth::create_token(&app.db, &sys, who.user_id, org, "target")
                            .await
                            .unwrap()
                            .1
                            .id
                            .to_string()
                    }
                    Target::Service => id = app.desk.services["email"].to_string(),
                    Target::Item => id = app.desk.items["Map request"].to_string(),
                    Target::Policy => id = POLICY.get().cloned().unwrap_or_default(),
                    Target::RateCard => id = rate_card(&app).await.to_string(),
                    Target::Cost => {
                        id = store::billing::finance::add_cost(
                            &app.db,
                            &sys,
                            &store::billing::finance::CostDraft {
                                service_id: app.desk.services["gis"],
                                fiscal_year: 2027,
                                category: domain::billing::finance::CostCategory::Network,
                                description: format!("Fibre {n}"),
                                amount_cents: 120_000,
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Benchmark => id = benchmark(&app).await,
                    Target::Standard => id = standard(&app).await,
                    Target::Exception => {
                        id = store::architecture::request_exception(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            who.user_id,
                            &store::architecture::ExceptionDraft {
                                org_id: org,
                                standard_id: standard(&app).await,
                                ci_id: None,
                                title: format!("Exception {n}"),
                                reason: "Matrix".into(),
                                risk: domain::architecture::Risk::Low,
                                mitigation: String::new(),
                                requested_until: None,
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Pool | Target::PoolPart => {
                        let pool = store::cloud::create_pool(
                            &app.db,
                            &sys,
                            &store::cloud::PoolDraft {
                                name: format!("Matrix pool {n}"),
                                site_id: None,
                                capacity: domain::cloud::Resources {
                                    vcpu: 64,
                                    ..Default::default()
                                },
                                notes: String::new(),
                            },
                        )
                        .await
                        .unwrap();
                        id = pool.id.to_string();
                        if case.target == Target::PoolPart {
                            let host =
                                matrix_ci(&app, app.orgs[HUB], &format!("Pool host {n}")).await;
                            store::cloud::add_part(&app.db, &sys, pool.id, host.parse().unwrap())
                                .await
                                .unwrap();
                            token = host;
                        }
                    }
                    Target::Invitation => {
                        id = store::tenancy::invitations::create(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            org,
                            &Email::parse(&fresh_email).unwrap(),
                            Role::MemberStaff,
                        )
                        .await
                        .unwrap()
                        .id
                        .to_string();
                    }
                    Target::Proposal => {
                        id = store::tenancy::proposals::propose(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            target,
                            |_| {
                                Ok(domain::tenancy::proposals::ProposalDraft {
                                    field: domain::tenancy::proposals::Field::Population,
                                    value: i64::try_from(30_000 + n).unwrap(),
                                    reason: "Census".into(),
                                    source: String::new(),
                                })
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Ci => id = matrix_ci(&app, org, &format!("Target {n}")).await,
                    Target::App => {
                        id = matrix_item(
                            &app,
                            org,
                            domain::cmdb::CiType::Application,
                            &format!("Application {n}"),
                        )
                        .await
                    }
                    Target::CiRelation => {
                        let a = matrix_ci(&app, org, &format!("Target {n}")).await;
                        let b = matrix_ci(&app, org, &format!("Target {n} host")).await;
                        id = store::cmdb::relate(
                            &app.db,
                            &Scope::Region,
                            &Scope::Region,
                            &sys,
                            a.parse().unwrap(),
                            domain::cmdb::RelationKind::RunsOn,
                            b.parse().unwrap(),
                        )
                        .await
                        .unwrap()
                        .id;
                    }
                    Target::Document => {
                        let a = agreement(&app, org).await;
                        id = a.to_string();
                        token = store::billing::agreements::attach_document(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            a,
                            store::desk::tickets::NewFile {
                                name: "minutes.txt",
                                content_type: "text/plain",
                                bytes: b"Voted 5-0",
                            },
                        )
                        .await
                        .unwrap()
                        .id;
                    }
                    Target::Credit => {
                        let a = agreement(&app, org).await;
                        id = store::billing::finance::add_credit(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            &store::billing::finance::CreditDraft {
                                agreement_id: a,
                                month: "2026-09".into(),
                                amount_cents: 1_000,
                                reason: "Target credit".into(),
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Agreement => id = agreement(&app, org).await.to_string(),
                    Target::DraftInvoice | Target::IssuedInvoice => {
                        id = invoice(&app, org, n, case.target == Target::IssuedInvoice).await;
                    }
                    Target::Subscription => {
                        let a = agreement(&app, org).await;
                        id = store::billing::agreements::subscribe(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            a,
                            &store::billing::agreements::SubscriptionDraft {
                                rate_card_id: rate_card(&app).await,
                                quantity: 5.into(),
                                starts_on: jiff::civil::date(2026, 7, 1),
                                ends_on: None,
                            },
                        )
                        .await
                        .unwrap()
                        .id
                        .to_string();
                    }
                    Target::Ticket | Target::ResolvedTicket | Target::PendingTicket => {
                        id = target_ticket(&app, case.target, target, who.user_id, n)
                            .await
                            .to_string();
                    }
                    Target::Article => {
                        id = ARTICLE.get().cloned().unwrap_or_default();
                    }
                    Target::TicketPair => {
                        id = target_ticket(&app, Target::Ticket, target, who.user_id, n)
                            .await
                            .to_string();
                        token =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n + 500_000)
                                .await
                                .to_string();
                    }
                    Target::Watcher => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let caller_org = users::get(&app.db, &Scope::Region, who.user_id)
                            .await
                            .unwrap()
                            .org_id;
                        let watcher = if caller_org == org || caller_org == app.orgs[HUB] {
                            who.user_id
                        } else {
                            app.who("other-admin").user_id
                        };
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: watcher,
                            internal: true,
                        };
                        store::desk::tickets::add_watcher(&app.db, &view, &sys, number, watcher)
                            .await
                            .unwrap();
                        id = watcher.to_string();
                        token = number.to_string();
                    }
                    Target::MailEntry => {
                        let mid = format!("<matrix-{n}@example.com>");
                        store::desk::mail::record(
                            &app.db,
                            Some(&mid),
                            "x@example.com",
                            "Help",
                            store::desk::mail::Outcome::Triage,
                            "unknown sender",
                            None,
                            Some(b"Subject: Help\r\n\r\nbody"),
                        )
                        .await
                        .unwrap();
                        id = store::desk::mail::list(
                            &app.db,
                            store::desk::mail::Outcome::Triage,
                            false,
                            &store::page::PageRequest::first(1),
                        )
                        .await
                        .unwrap()
                        .items[0]
                            .id
                            .clone();
                    }
                    Target::TicketCi => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: who.user_id,
                            internal: true,
                        };
                        id = hub_ci(&app).await;
                        store::cmdb::link_ticket(
                            &app.db,
                            &view,
                            &Scope::Region,
                            &sys,
                            number,
                            id.parse().unwrap(),
                        )
                        .await
                        .unwrap();
                        token = number.to_string();
                    }
                    Target::TicketFile => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: who.user_id,
                            internal: true,
                        };
                        id = store::desk::tickets::attach(
                            &app.db,
                            &view,
                            &sys,
                            number,
                            None,
                            store::desk::tickets::NewFile {
                                name: "a.txt",
                                content_type: "text/plain",
                                bytes: b"hello",
                            },
                        )
                        .await
                        .unwrap()
                        .id;
                        token = number.to_string();
                    }
                    Target::TimeEntry | Target::RunningTimer => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let logs = ["hub-admin", "hub-agent"].contains(&role);
                        let owner = if logs {
                            who.user_id
                        } else {
                            app.who("hub-agent").user_id
                        };
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: owner,
                            internal: true,
                        };
                        if case.target == Target::TimeEntry {
                            let e = store::desk::time::NewEntry {
                                ticket_number: number,
                                work_date: jiff::civil::date(2026, 11, 2),
                                minutes: 30,
                                activity: domain::desk::Activity::Support,
                                billable: true,
                                note: String::new(),
                            };
                            id = store::desk::time::log_time(
                                &app.db,
                                &view,
                                &Scope::Region,
                                &sys,
                                owner,
                                &e,
                            )
                            .await
                            .unwrap()
                            .id;
                        } else if logs {
                            store::desk::time::discard_timer(&app.db, owner)
                                .await
                                .unwrap();
                            store::desk::time::start(
                                &app.db,
                                &view,
                                &Scope::Region,
                                owner,
                                number,
                                domain::desk::Activity::Support,
                                true,
                            )
                            .await
                            .unwrap();
                        }
                    }
                    Target::None => {}
                }
                if case.path.contains("timer") && case.target != Target::RunningTimer {
                    // One timer per person: each timer case starts from none.
                    store::desk::time::discard_timer(&app.db, who.user_id)
                        .await
                        .unwrap();
                }
                let path = case
                    .path
                    .replace("{slug}", target)
                    .replace("{id}", &id)
                    .replace("{date}", &id)
                    .replace("{token}", &token)
                    .replace("{doc}", &token)
                    .replace("{ci}", &token)
                    // Notification templates are the region's, named by event.
                    .replace("{event}", "resolved")
                    .replace(
                        "{number}",
                        if matches!(
                            case.target,
                            Target::TicketFile | Target::Watcher | Target::TicketCi
                        ) {
                            &token
                        } else {
                            &id
                        },
                    );
                let fresh = Fresh {
                    n,
                    date: fresh_date(n + 100_000).to_string(),
                    slug: target,
                    email: fresh_email.clone(),
                    service: app.desk.services["gis"].to_string(),
                    spare_service: app.desk.services["devices"].to_string(),
                    ticket: id.clone(),
                    other_ticket: token.parse().unwrap_or(0),
                    article: ARTICLE.get().cloned().unwrap_or_default(),
                    hub_ci: hub_ci(&app).await,
                    standard: standard(&app).await,
                    hub_host: if case.path.ends_with("/parts") {
                        matrix_ci(&app, app.orgs[HUB], &format!("Matrix host {n}")).await
                    } else {
                        String::new()
                    },
                };
                let method = Method::from_bytes(case.method.as_bytes()).unwrap();
                let is_api = path.starts_with("/api/v1/");
                let mut req = if is_api {
                    app.api(role, method, &path)
                } else {
                    app.page(role, method, &path)
                };
                req = match ((case.body)(&fresh), is_api) {
                    (Body::Json(v), _) => req.json(&v),
                    (Body::Csv(text), _) => req.header("content-type", "text/csv").body(text),
                    (Body::Form(mut pairs), false) => {
                        pairs.push(("_csrf".into(), who.csrf.clone()));
                        req.form(&pairs)
                    }
                    (Body::None, false) if case.method == "POST" => {
                        req.form(&[("_csrf", who.csrf.clone())])
                    }
                    (Body::Form(pairs), true) => req.form(&pairs),
                    (Body::Upload(name, text), _) => req.multipart(
                        reqwest::multipart::Form::new()
                            .text("_csrf", who.csrf.clone())
                            .part(
                                "file",
                                reqwest::multipart::Part::text(text)
                                    .file_name(name)
                                    .mime_str("text/plain")
                                    .unwrap(),
                            ),
                    ),
                    (Body::None, _) => req,
                };
                let status = req.send().await.unwrap().status().as_u16();
                let expected = match case.need {
                    Need::Public => "not 5xx",
                    Need::SignedIn => "allowed",
                    Need::Perm(p) if !allows(role, p) => "403",
                    Need::Perm(_)
                        if case.target == Target::None || target == OWN || reaches_region(role) =>
                    {
                        "allowed"
                    }
                    Need::Perm(_) => "404",
                    Need::Hub(p) if !allows(role, p) || !reaches_region(role) => "403",
                    Need::Hub(_) => "allowed",
                };
                let ok = match expected {
                    "not 5xx" => status < 500,
                    "allowed" if case.need == Need::SignedIn => {
                        status < 500 && ![401, 403, 404].contains(&status)
                    }
                    "allowed" => (200..400).contains(&status),
                    "403" => status == 403,
                    _ => status == 404,
                };
                if !ok {
                    failures.push(format!(
                        "{} {path} as {role} on {target}: got {status}, expected {expected}",
                        case.method
                    ));
                }
                // Undo what would change later cases: reactivate members, restore a signed-out session.
                if case.path.ends_with("/deactivate") {
                    for slug in [OWN, OTHER, HUB] {
                        let _ =
                            orgs::set_active(&app.db, &Scope::Region, &sys, slug, None, true).await;
                    }
                }
                if case.path == "/sign-out" {
                    let (secret, s) =
                        store::auth::create_session(&app.db, who.user_id, None, 3_600_000)
                            .await
                            .unwrap();
                    let p = app.people.get_mut(role).unwrap();
                    p.session = secret;
                    p.csrf = s.csrf_token;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} isolation failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
