//! The isolation matrix's cases for sign-in, sessions, tokens, people and invitations: every route `crates/web/src/accounts` registers.

use super::*;

pub(super) fn cases() -> Vec<Case> {
    use Need::*;
    use Target as T;
    vec![
        c("GET", "/api/v1/me", SignedIn, T::None, none),
        c("GET", "/api/v1/tokens", SignedIn, T::None, none),
        c("POST", "/api/v1/tokens", SignedIn, T::None, |_| {
            Body::Json(json!({ "name": "matrix" }))
        }),
        c("DELETE", "/api/v1/tokens/{id}", SignedIn, T::OwnToken, none),
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
        c("GET", "/api/v1/me/notifications", SignedIn, T::None, none),
        c("PUT", "/api/v1/me/notifications", SignedIn, T::None, |_| {
            Body::Json(json!({ "off": ["sla_at_risk"] }))
        }),
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
        c("GET", "/api/openapi.json", Public, T::None, none),
        c("GET", "/api/docs", Public, T::None, none),
    ]
}
