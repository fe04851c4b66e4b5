//! The person's own account: password and API tokens; and the API documentation viewer.

use crate::AppState;
use crate::accounts::ops::account::{RawToken, new_token};
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, PageQuery, local_time, render_status};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::FieldError;
use std::collections::HashMap;
use store::tenancy::users::{self, GrantRow};

pub fn routes(t: Table) -> Table {
    t.get("/account", "Your account", Needs::SignedIn, account)
        .post(
            "/account/notifications",
            "Choose your mail notifications",
            Needs::SignedIn,
            save_notifications,
        )
        .post(
            "/account/password",
            "Change your password",
            Needs::SignedIn,
            change_password,
        )
        .get(
            "/account/tokens",
            "Your API tokens",
            Needs::SignedIn,
            tokens,
        )
        .post(
            "/account/tokens",
            "Create an API token",
            Needs::SignedIn,
            create_token,
        )
        .post(
            "/account/tokens/{id}/revoke",
            "Revoke an API token",
            Needs::SignedIn,
            revoke_token,
        )
        .get(
            "/api/openapi.json",
            "The OpenAPI 3.1 document",
            Needs::Public,
            openapi,
        )
        .get(
            "/api/docs",
            "Interactive API documentation",
            Needs::Public,
            docs,
        )
}

#[derive(Template)]
#[template(path = "accounts/account.html")]
struct AccountPage {
    f: Frame,
    name: String,
    email: String,
    grants: Vec<GrantRow>,
    form: FormState,
    notifications: Vec<crate::accounts::ops::account::NotificationChoice>,
    /// The password form's "Also revoke my API tokens": checked unless the person just unchecked it.
    revoke_tokens_checked: bool,
}

async fn account_page(
    s: &AppState,
    p: &Principal,
    form: FormState,
    notice: Option<&str>,
    status: StatusCode,
) -> PageResult<Response> {
    let grants = users::grants_of(&s.db, p.user.id).await?;
    let notifications = crate::accounts::ops::account::notification_choices(s, p).await?;
    let f = Frame::new(s, p, "Your account", "account")
        .await?
        .notice(notice);
    // A refused change shows the box as it was sent; a fresh form has it checked.
    let revoke_tokens_checked =
        form.errors.is_empty() || form.values.get("revoke_tokens").is_some_and(|v| v == "on");
    Ok(render_status(
        status,
        &AccountPage {
            f,
            name: p.user.name.clone(),
            email: p.user.email.clone(),
            grants,
            form,
            notifications,
            revoke_tokens_checked,
        },
    ))
}

async fn account(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    account_page(
        &s,
        &p,
        FormState::default(),
        q.notice.as_deref(),
        StatusCode::OK,
    )
    .await
}

/// The form lists every event as a checkbox; the unchecked ones are turned off.
async fn save_notifications(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult<Response> {
    let on: Vec<&str> = form
        .iter()
        .filter(|(k, _)| k == "on")
        .map(|(_, v)| v.as_str())
        .collect();
    let off: Vec<String> = store::desk::notify::Event::ALL
        .into_iter()
        .map(|e| e.as_str())
        .filter(|e| !on.contains(e))
        .map(str::to_owned)
        .collect();
    crate::accounts::ops::account::save_notifications(&s, &p, &off).await?;
    Ok(axum::response::Redirect::to("/account?notice=saved#notifications").into_response())
}

async fn change_password(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let current = form.get("current_password").cloned().unwrap_or_default();
    let new = form.get("new_password").cloned().unwrap_or_default();
    // An unchecked box sends nothing: absent means keep the tokens.
    let revoke_tokens = form.get("revoke_tokens").is_some_and(|v| v == "on");
    let hash = p
        .user
        .password_hash
        .clone()
        .unwrap_or_else(|| store::auth::dummy_hash().to_owned());
    let ok = tokio::task::spawn_blocking(move || store::auth::verify_password(&current, &hash))
        .await
        .map_err(Failure::internal)?;
    let mut errors = Vec::new();
    if !ok {
        errors.push(FieldError::new(
            "current_password",
            "is not your current password",
        ));
    }
    if let Err(e) =
        domain::tenancy::check_new_password("new_password", &new, &p.user.email, &p.user.name)
    {
        errors.push(e);
    }
    if !errors.is_empty() {
        return account_page(
            &s,
            &p,
            FormState {
                values: HashMap::from([(
                    "revoke_tokens".to_owned(),
                    if revoke_tokens { "on" } else { "" }.to_owned(),
                )]),
                errors,
            },
            None,
            StatusCode::UNPROCESSABLE_ENTITY,
        )
        .await;
    }
    let hash = crate::accounts::ops::users::hash_blocking(new).await?;
    store::tenancy::users::set_password(
        &s.db,
        &p.actor(),
        p.user.id,
        &hash,
        p.session().map(|x| x.token_hash.as_str()),
        revoke_tokens,
    )
    .await?;
    Ok(Redirect::to(if revoke_tokens {
        "/account?notice=password-and-tokens"
    } else {
        "/account?notice=password"
    })
    .into_response())
}

struct TokenRow {
    id: String,
    name: String,
    prefix: String,
    created: String,
    last_used: String,
    revoked: bool,
}

#[derive(Template)]
#[template(path = "accounts/tokens.html")]
struct TokensPage {
    f: Frame,
    tokens: Vec<TokenRow>,
    created: Option<String>,
    form: FormState,
}

async fn tokens_page(
    s: &AppState,
    p: &Principal,
    created: Option<String>,
    form: FormState,
    notice: Option<&str>,
    status: StatusCode,
) -> PageResult<Response> {
    let tz = "America/New_York";
    let tokens = store::auth::list_tokens(&s.db, p.user.id)
        .await?
        .into_iter()
        .map(|t| TokenRow {
            id: t.id.to_string(),
            name: t.name,
            prefix: t.prefix,
            created: local_time(t.created_at, tz),
            last_used: t
                .last_used_at
                .map_or_else(|| "Never".into(), |x| local_time(x, tz)),
            revoked: t.revoked_at.is_some(),
        })
        .collect();
    let f = Frame::new(s, p, "API tokens", "account")
        .await?
        .crumbs(&[("/account", "Your account")])
        .notice(notice);
    let mut res = render_status(
        status,
        &TokensPage {
            f,
            tokens,
            created,
            form,
        },
    );
    // A page that shows a secret must not be cached anywhere.
    res.headers_mut().insert(
        axum::http::header::CACHE_CONTROL,
        axum::http::HeaderValue::from_static("no-store"),
    );
    Ok(res)
}

async fn tokens(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    tokens_page(
        &s,
        &p,
        None,
        FormState::default(),
        q.notice.as_deref(),
        StatusCode::OK,
    )
    .await
}

async fn create_token(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    match new_token(
        &s,
        &p,
        &RawToken {
            name: form.get("name").cloned(),
        },
    )
    .await
    {
        Ok(t) => {
            tokens_page(
                &s,
                &p,
                Some(t.token),
                FormState::default(),
                None,
                StatusCode::CREATED,
            )
            .await
        }
        Err(e) => {
            let st = FormState::refill(form).fail(e)?;
            tokens_page(&s, &p, None, st, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn revoke_token(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    store::auth::revoke_token(
        &s.db,
        &p.actor(),
        p.user.id,
        crate::extract::parse_path_id(&id)?,
    )
    .await?;
    Ok(Redirect::to("/account/tokens?notice=revoked").into_response())
}

/// The document, built once: the route table and the schemas do not change while the server runs.
async fn openapi() -> Response {
    static DOCUMENT: std::sync::OnceLock<axum::body::Bytes> = std::sync::OnceLock::new();
    let body = DOCUMENT.get_or_init(|| {
        let doc = crate::openapi::document(&crate::routes::registered_routes());
        serde_json::to_vec(&doc).map_or_else(|_| axum::body::Bytes::new(), Into::into)
    });
    (
        [(axum::http::header::CONTENT_TYPE, "application/json")],
        body.clone(),
    )
        .into_response()
}

async fn docs() -> Response {
    Html(include_str!("../../../templates/api_docs.html")).into_response()
}
