//! Signing in and out, switching organisation, and the front door.

use crate::AppState;
use crate::auth::{PRE_SESSION_CSRF_COOKIE, Principal, SESSION_COOKIE, set_cookie};
use crate::error::{Failure, PageResult};
use crate::page::{FormState, Frame, render_status};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::tenancy::Email;
use serde::Deserialize;

pub fn routes(t: Table) -> Table {
    t.get("/", "Go to your dashboard", Needs::Public, home)
        .get("/sign-in", "Sign-in form", Needs::Public, sign_in_form)
        .post("/sign-in", "Sign in", Needs::Public, sign_in)
        .post("/sign-out", "Sign out", Needs::SignedIn, sign_out)
        .post(
            "/switch-org",
            "Switch the organisation you are looking at",
            Needs::Perm(Permission::OrgRead),
            switch_org,
        )
}

#[derive(Template)]
#[template(path = "accounts/sign_in.html")]
struct SignIn {
    f: Frame,
    form: FormState,
}

async fn home(
    State(s): State<AppState>,
    parts: axum::http::request::Parts,
) -> PageResult<Response> {
    match crate::auth::resolve(&s, &parts).await? {
        Some(p) => {
            let scope = p.scope(Permission::OrgRead);
            let org = match p.current_org() {
                Some(id) => store::tenancy::orgs::get(&s.db, &scope, id).await.ok(),
                None => None,
            };
            Ok(match org {
                Some(o) => Redirect::to(&format!("/orgs/{}", o.slug)).into_response(),
                None => Redirect::to("/account").into_response(),
            })
        }
        None => Ok(Redirect::to("/sign-in").into_response()),
    }
}

/// Cookies are `Secure` when configured so, or when a TLS-terminating proxy says the request came over
/// HTTPS (the header can only add the flag, never remove it).
pub(super) fn secure(s: &AppState, headers: &HeaderMap) -> bool {
    s.config.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.eq_ignore_ascii_case("https"))
}

fn sign_in_page(
    s: &AppState,
    headers: &HeaderMap,
    csrf: String,
    form: FormState,
    status: StatusCode,
) -> Response {
    let cookie = set_cookie(PRE_SESSION_CSRF_COOKIE, &csrf, 3600, secure(s, headers));
    let page = SignIn {
        f: Frame::public(s, "Sign in", csrf),
        form,
    };
    let mut res = render_status(status, &page);
    if let Ok(v) = cookie.parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    res
}

async fn sign_in_form(State(s): State<AppState>, headers: HeaderMap) -> Response {
    sign_in_page(
        &s,
        &headers,
        store::auth::random_secret(),
        FormState::default(),
        StatusCode::OK,
    )
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SignInForm {
    #[serde(default)]
    email: String,
    #[serde(default)]
    password: String,
}

async fn sign_in(
    State(s): State<AppState>,
    parts: axum::http::request::Parts,
    Form(form): Form<SignInForm>,
) -> PageResult<Response> {
    let headers = &parts.headers;
    let fresh = || store::auth::random_secret();
    let keep = FormState::with([("email", form.email.clone())]);
    let Ok(email) = Email::parse(&form.email) else {
        let mut st = keep;
        st.errors.push(domain::FieldError::new(
            "email",
            "enter the email address you sign in with",
        ));
        return Ok(sign_in_page(
            &s,
            headers,
            fresh(),
            st,
            StatusCode::UNPROCESSABLE_ENTITY,
        ));
    };
    // Throttle per account and per client address, separately: guessing one account's password stops at
    // that account, and spraying many accounts from one place stops at that place. The address is the
    // socket's peer; `X-Forwarded-For` counts only from a configured proxy (`trusted_proxies`).
    let account = (
        store::auth::account_key(&email),
        store::auth::MAX_FAILURES_PER_ACCOUNT,
    );
    let address = crate::auth::client_ip(&s, &parts).map(|ip| {
        (
            store::auth::address_key(ip),
            store::auth::MAX_FAILURES_PER_ADDRESS,
        )
    });
    let keys: Vec<(String, i64)> = std::iter::once(account).chain(address).collect();
    let mut wait_ms = 0;
    for (k, max) in &keys {
        if let Some(w) = store::auth::throttled_for(&s.db, k, *max).await? {
            wait_ms = wait_ms.max(w);
        }
    }
    if wait_ms > 0 {
        let retry_after_s = wait_ms / 1000 + 1;
        let mut st = keep;
        st.errors.push(domain::FieldError::new(
            "password",
            format!(
                "too many failed sign-ins for this account or from your network; try again in {} minute(s)",
                (retry_after_s + 59) / 60
            ),
        ));
        let mut res = sign_in_page(&s, headers, fresh(), st, StatusCode::TOO_MANY_REQUESTS);
        res.headers_mut().insert(
            header::RETRY_AFTER,
            header::HeaderValue::from(retry_after_s),
        );
        return Ok(res);
    }
    let user = store::tenancy::users::find_by_email(&s.db, &email).await?;
    let password = form.password.clone();
    let hash = user
        .as_ref()
        .and_then(|u| u.password_hash.clone())
        .unwrap_or_else(|| store::auth::dummy_hash().to_owned());
    let ok = tokio::task::spawn_blocking(move || store::auth::verify_password(&password, &hash))
        .await
        .map_err(Failure::internal)?;
    let user = match user {
        Some(u) if ok && u.active => u,
        _ => {
            for (k, _) in &keys {
                store::auth::record_failure(&s.db, k).await?;
            }
            let mut st = keep;
            st.errors.push(domain::FieldError::new(
                "password",
                "the email or password is not right, or the account is disabled",
            ));
            return Ok(sign_in_page(
                &s,
                headers,
                fresh(),
                st,
                StatusCode::UNPROCESSABLE_ENTITY,
            ));
        }
    };
    store::auth::clear_failures(&s.db, &keys[0].0).await?;
    let (secret, _) =
        store::auth::create_session(&s.db, user.id, Some(user.org_id), s.config.session_ttl_ms)
            .await?;
    let mut res = Redirect::to("/").into_response();
    let cookie = set_cookie(
        SESSION_COOKIE,
        &secret,
        s.config.session_ttl_ms / 1000,
        secure(&s, headers),
    );
    if let Ok(v) = cookie.parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

async fn sign_out(
    State(s): State<AppState>,
    headers: HeaderMap,
    p: Principal,
) -> PageResult<Response> {
    if let Some(sess) = p.session() {
        store::auth::end_session(&s.db, &sess.token_hash).await?;
    }
    let mut res = Redirect::to("/sign-in").into_response();
    if let Ok(v) = set_cookie(SESSION_COOKIE, "", 0, secure(&s, &headers)).parse() {
        res.headers_mut().append(header::SET_COOKIE, v);
    }
    Ok(res)
}

#[derive(Deserialize, schemars::JsonSchema)]
struct SwitchForm {
    #[serde(default)]
    org: String,
}

async fn switch_org(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Form(form): Form<SwitchForm>,
) -> PageResult<Response> {
    let org = store::tenancy::orgs::get_by_slug(&s.db, &scope, &form.org).await?;
    if let Some(sess) = p.session() {
        store::auth::set_session_org(&s.db, &sess.token_hash, org.id).await?;
    }
    Ok(Redirect::to(&format!("/orgs/{}", org.slug)).into_response())
}
