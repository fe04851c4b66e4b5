//! The isolation matrix's cases for organisations, directory and calendars: every route `crates/web/src/tenancy` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
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
    ]
}
