//! The isolation matrix's cases for the service desk: tickets, catalog, settings, time, mail, knowledge base, reports: every route `crates/web/src/desk` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
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
    ]
}
