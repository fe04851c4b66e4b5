//! Accepting an invitation: the link mailed to the person (`/invitations/{token}`). Someone who already has
//! an account with the address signs in with their password; anyone else chooses a name and a password,
//! checked by the same rule as everywhere else. Either way they are signed in, in the inviting
//! organisation, with the invited role. The page speaks only to whoever holds the token, that is the
//! address's owner; the administrator who invited never learns which case it was.

use crate::AppState;
use crate::auth::{PRE_SESSION_CSRF_COOKIE, SESSION_COOKIE, set_cookie};
use crate::error::{Failure, PageResult};
use crate::page::{FormState, Frame, local_time, render_status};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::request::Parts;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use std::collections::HashMap;
use store::tenancy::invitations::{self, Pending};

pub fn routes(t: Table) -> Table {
    t.get(
        "/invitations/{token}",
        "An invitation to join an organisation (the link mailed to the person)",
        Needs::Public,
        show,
    )
    .post(
        "/invitations/{token}",
        "Accept an invitation: sign in, or choose a name and password",
        Needs::Public,
        accept,
    )
}

#[derive(Template)]
#[template(path = "accounts/invitation.html")]
struct InvitationPage {
    f: Frame,
    org_name: String,
    role: &'static str,
    email: String,
    expires: String,
    existing: bool,
    token: String,
    form: FormState,
}

/// The form's CSRF token: the session's when someone is signed in in this browser, else a double-submit
/// cookie's, as on the sign-in page.
async fn page(
    s: &AppState,
    parts: &Parts,
    token: &str,
    pending: &Pending,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let session_csrf = crate::auth::resolve(s, parts)
        .await?
        .and_then(|p| p.session().map(|x| x.csrf_token.clone()));
    let csrf = session_csrf
        .clone()
        .unwrap_or_else(store::auth::random_secret);
    let inv = &pending.invitation;
    let body = InvitationPage {
        f: Frame::public(s, &format!("Join {}", pending.org_name), csrf.clone()),
        org_name: pending.org_name.clone(),
        role: inv.role.label(),
        email: inv.email.clone(),
        expires: local_time(inv.expires_at, "America/New_York"),
        existing: pending.existing.is_some(),
        token: token.to_owned(),
        form,
    };
    let mut res = render_status(status, &body);
    if session_csrf.is_none() {
        let cookie = set_cookie(
            PRE_SESSION_CSRF_COOKIE,
            &csrf,
            3600,
            super::session::secure(s, &parts.headers),
        );
        if let Ok(v) = cookie.parse() {
            res.headers_mut().append(header::SET_COOKIE, v);
        }
    }
    // The link is a secret: keep the page out of caches and the token out of referrers.
    res.headers_mut().insert(
        header::CACHE_CONTROL,
        header::HeaderValue::from_static("no-store"),
    );
    res.headers_mut().insert(
        header::REFERRER_POLICY,
        header::HeaderValue::from_static("no-referrer"),
    );
    Ok(res)
}

async fn show(
    State(s): State<AppState>,
    Path(token): Path<String>,
    parts: Parts,
) -> PageResult<Response> {
    let pending = invitations::find_pending(&s.db, &token).await?;
    page(
        &s,
        &parts,
        &token,
        &pending,
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

async fn accept(
    State(s): State<AppState>,
    Path(token): Path<String>,
    parts: Parts,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let pending = invitations::find_pending(&s.db, &token).await?;
    let password = form.get("password").cloned().unwrap_or_default();
    let refuse = |errors: Vec<FieldError>, status| {
        let mut st = FormState::with([("name", form.get("name").cloned().unwrap_or_default())]);
        st.errors = errors;
        (st, status)
    };
    let user = match &pending.existing {
        Some(u) => {
            // The sign-in throttle guards this password check too.
            let email =
                domain::tenancy::Email::parse(&u.email).map_err(|e| Failure::Invalid(vec![e]))?;
            let key = store::auth::account_key(&email);
            if let Some(wait_ms) =
                store::auth::throttled_for(&s.db, &key, store::auth::MAX_FAILURES_PER_ACCOUNT)
                    .await?
            {
                return Err(Failure::TooManyRequests {
                    retry_after_s: wait_ms / 1000 + 1,
                }
                .into());
            }
            let hash = u
                .password_hash
                .clone()
                .unwrap_or_else(|| store::auth::dummy_hash().to_owned());
            let given = password.clone();
            let ok =
                tokio::task::spawn_blocking(move || store::auth::verify_password(&given, &hash))
                    .await
                    .map_err(Failure::internal)?;
            if !ok || !u.active {
                store::auth::record_failure(&s.db, &key).await?;
                let (st, status) = refuse(
                    vec![FieldError::new(
                        "password",
                        "is not right, or the account is disabled",
                    )],
                    StatusCode::UNPROCESSABLE_ENTITY,
                );
                return page(&s, &parts, &token, &pending, st, status).await;
            }
            store::auth::clear_failures(&s.db, &key).await?;
            invitations::accept_existing(&s.db, &token, u).await?;
            u.clone()
        }
        None => {
            let email = &pending.invitation.email;
            let mut errors = Vec::new();
            let name = match domain::validation::text(
                "name",
                form.get("name").map_or("", String::as_str),
                120,
            ) {
                Ok(n) => Some(n),
                Err(e) => {
                    errors.push(e);
                    None
                }
            };
            if let Err(e) = domain::tenancy::check_new_password(
                "password",
                &password,
                email,
                name.as_deref().unwrap_or(""),
            ) {
                errors.push(e);
            }
            let Some(name) = name.filter(|_| errors.is_empty()) else {
                let (st, status) = refuse(errors, StatusCode::UNPROCESSABLE_ENTITY);
                return page(&s, &parts, &token, &pending, st, status).await;
            };
            let hash = crate::accounts::ops::users::hash_blocking(password).await?;
            invitations::accept_new(&s.db, &token, &name, hash).await?
        }
    };
    let (secret, _) = store::auth::create_session(
        &s.db,
        user.id,
        Some(pending.invitation.org_id),
        s.config.session_ttl_ms,
    )
    .await?;
    let mut res = Redirect::to("/").into_response();
    let cookie = set_cookie(
        SESSION_COOKIE,
        &secret,
        s.config.session_ttl_ms / 1000,
        super::session::secure(&s, &parts.headers),
    );
    if let Ok(v) = cookie.parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}
