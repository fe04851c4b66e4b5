//! The isolation matrix's cases for the configuration management database: every route `crates/web/src/cmdb` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
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
    ]
}
