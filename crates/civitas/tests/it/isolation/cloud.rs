//! The isolation matrix's cases for the regional cloud: every route `crates/web/src/cloud` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
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
    ]
}
