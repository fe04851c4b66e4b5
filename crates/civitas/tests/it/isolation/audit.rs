//! The isolation matrix's cases for the audit log: every route `crates/web/src/audit` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
        c(
            "GET",
            "/api/v1/audit?org={slug}",
            Perm("audit-read"),
            T::Org,
            none,
        ),
        c("GET", "/audit?org={slug}", Perm("audit-read"), T::Org, none),
    ]
}
