//! The isolation matrix's cases for the application portfolio: every route `crates/web/src/portfolio` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
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
    ]
}
