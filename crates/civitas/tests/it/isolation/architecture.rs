//! The isolation matrix's cases for enterprise architecture: every route `crates/web/src/architecture` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
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
    ]
}
