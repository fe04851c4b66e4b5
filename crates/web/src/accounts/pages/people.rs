//! People pages: the list, adding a person, a person's page, grants.

use crate::AppState;
use crate::accounts::ops::users::{AddOutcome, RawGrant, add_grant, add_user, settle_invitation};
use crate::auth::Principal;
use crate::error::PageResult;
use crate::extract::PageQueryString;
use crate::extract::parse_path_id;
use crate::extract::{PageParams, encode_cursor};
use crate::page::{FormState, Frame, PageQuery, render, render_status};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::{Permission, Role};
use domain::tenancy::drafts::RawUser;
use std::collections::HashMap;
use store::tenancy::users::{self, GrantRow, User};
use store::tenancy::{invitations, orgs};

pub fn routes(t: Table) -> Table {
    t.get(
        "/orgs/{slug}/users",
        "People list",
        Needs::Perm(Permission::UserRead),
        list,
    )
    .get(
        "/orgs/{slug}/users/new",
        "Form to add a person",
        Needs::Perm(Permission::UserManage),
        new_form,
    )
    .post(
        "/orgs/{slug}/users",
        "Add a person",
        Needs::Perm(Permission::UserManage),
        create,
    )
    .get(
        "/orgs/{slug}/users/{id}",
        "A person's page",
        Needs::Perm(Permission::UserRead),
        detail,
    )
    .post(
        "/orgs/{slug}/users/{id}/disable",
        "Disable an account",
        Needs::Perm(Permission::UserManage),
        disable,
    )
    .post(
        "/orgs/{slug}/users/{id}/enable",
        "Enable an account",
        Needs::Perm(Permission::UserManage),
        enable,
    )
    .post(
        "/orgs/{slug}/users/{id}/tokens/{token}/revoke",
        "Revoke a person's API token",
        Needs::Perm(Permission::UserManage),
        revoke_token,
    )
    .post(
        "/orgs/{slug}/grants",
        "Grant a role",
        Needs::Perm(Permission::UserManage),
        grant,
    )
    .post(
        "/orgs/{slug}/invitations/{id}/resend",
        "Mail an invitation again",
        Needs::Perm(Permission::UserManage),
        resend_invitation,
    )
    .post(
        "/orgs/{slug}/invitations/{id}/revoke",
        "Withdraw an invitation",
        Needs::Perm(Permission::UserManage),
        revoke_invitation,
    )
    .post(
        "/orgs/{slug}/grants/{id}/revoke",
        "Revoke a role",
        Needs::Perm(Permission::UserManage),
        revoke,
    )
}

fn roles_for(is_hub: bool) -> Vec<(String, String)> {
    Role::ALL
        .iter()
        .filter(|r| r.check_grantable(is_hub).is_ok())
        .map(|r| (r.as_str().to_owned(), r.label().to_owned()))
        .collect()
}

#[derive(Template)]
#[template(path = "accounts/users.html")]
struct ListPage {
    f: Frame,
    slug: String,
    org_name: String,
    rows: Vec<User>,
    grants: Vec<GrantRow>,
    roles: Vec<(String, String)>,
    q: String,
    can_manage: bool,
    next: Option<String>,
    csv_href: String,
    /// The organisation's invitations, for its administrators.
    invitations: Vec<InvitationRow>,
}

/// An invitation as the people page lists it.
struct InvitationRow {
    id: String,
    email: String,
    role: &'static str,
    state: &'static str,
    /// Why its mail did not go, or when it went / ends.
    detail: String,
    /// The tag's colour class.
    tone: &'static str,
    can_resend: bool,
    can_revoke: bool,
}

impl InvitationRow {
    fn of(inv: invitations::Invitation, tz: &str) -> Self {
        use domain::tenancy::invitations::State;
        let at = |ms: i64| crate::page::local_time(ms, tz);
        let detail = match inv.state {
            State::NotSent => inv.send_error.clone().unwrap_or_default(),
            State::Sent => format!(
                "Mailed {}; can be accepted until {}",
                inv.sent_at.map(at).unwrap_or_default(),
                at(inv.expires_at)
            ),
            State::Queued => "Queued for the mail".to_owned(),
            State::Accepted => format!("Accepted {}", inv.accepted_at.map(at).unwrap_or_default()),
            State::Expired => format!("Ended {}; resend it to give a new week", at(inv.expires_at)),
            State::Revoked => format!("Withdrawn {}", inv.revoked_at.map(at).unwrap_or_default()),
        };
        Self {
            id: inv.id.to_string(),
            email: inv.email,
            role: inv.role.label(),
            state: inv.state.label(),
            detail,
            tone: match inv.state {
                State::NotSent | State::Expired => "bg-secondary-dark",
                State::Accepted => "bg-green",
                State::Revoked => "",
                State::Queued | State::Sent => "bg-primary",
            },
            can_resend: inv.state.can_resend(),
            can_revoke: inv.state.can_revoke(),
        }
    }
}

async fn list(
    State(s): State<AppState>,
    p: Principal,
    Granted(granted): Granted,
    Path(slug): Path<String>,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    let scope = granted;
    let org = orgs::get_by_slug(&s.db, &scope, &slug).await?;
    let page = PageParams {
        limit: Some(50),
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    let r = users::list(
        &s.db,
        &scope,
        org.id,
        &users::Filter {
            q: q.q.clone(),
            active: None,
        },
        &page,
    )
    .await?;
    if q.wants_csv() {
        let filter = users::Filter {
            q: q.q.clone(),
            active: None,
        };
        let mut rows = Vec::new();
        let mut page = store::page::PageRequest::first(200);
        loop {
            let r = users::list(&s.db, &scope, org.id, &filter, &page).await?;
            rows.extend(r.items.into_iter().map(|u| {
                vec![
                    u.email,
                    u.name,
                    if u.active { "active" } else { "disabled" }.to_owned(),
                ]
            }));
            match r.next_cursor {
                Some(c) if rows.len() < crate::page::CSV_MAX_ROWS => page.after = Some(c),
                _ => break,
            }
        }
        return Ok(crate::page::csv_response(
            &format!("{}-people.csv", org.slug),
            &["email", "name", "status"],
            rows,
        ));
    }
    let grants = users::list_grants(
        &s.db,
        &scope,
        org.id,
        &PageParams {
            limit: Some(200),
            cursor: None,
        }
        .to_request()?,
    )
    .await?
    .items;
    let can_manage = p.scope(Permission::UserManage).contains(org.id);
    let invitations = if can_manage {
        invitations::list(&s.db, &scope, org.id, 50)
            .await?
            .into_iter()
            .map(|i| InvitationRow::of(i, &org.time_zone))
            .collect()
    } else {
        Vec::new()
    };
    let qs = q.q.clone().unwrap_or_default();
    let next = r.next_cursor.map(|c| {
        format!(
            "/orgs/{slug}/users?q={}&cursor={}",
            crate::page::urlencode(&qs),
            encode_cursor(&c)
        )
    });
    let f = Frame::new(&s, &p, &format!("People of {}", org.name), "people")
        .await?
        .notice(q.notice.as_deref());
    Ok(render(&ListPage {
        f,
        slug,
        org_name: org.name.clone(),
        rows: r.items,
        grants,
        roles: roles_for(org.is_hub),
        q: qs,
        can_manage,
        next,
        csv_href: format!(
            "/orgs/{}/users?q={}&format=csv",
            org.slug,
            crate::page::urlencode(q.q.as_deref().unwrap_or(""))
        ),
        invitations,
    }))
}

#[derive(Template)]
#[template(path = "accounts/user_new.html")]
struct NewPage {
    f: Frame,
    slug: String,
    org_name: String,
    roles: Vec<(String, String)>,
    form: FormState,
    /// A member administrator adds people by invitation; the hub's administrator creates accounts.
    invites: bool,
}

async fn new_page(
    s: &AppState,
    p: &Principal,
    slug: &str,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let scope = p.require(Permission::UserManage)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let f = Frame::new(s, p, "Add a person", "people")
        .await?
        .crumbs(&[(&format!("/orgs/{slug}/users"), "People")]);
    Ok(render_status(
        status,
        &NewPage {
            f,
            slug: slug.to_owned(),
            org_name: org.name,
            roles: roles_for(org.is_hub),
            form,
            invites: !matches!(scope, domain::authz::Scope::Region),
        },
    ))
}

async fn new_form(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
) -> PageResult<Response> {
    new_page(&s, &p, &slug, FormState::default(), StatusCode::OK).await
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawUser {
        email: form.get("email").cloned(),
        name: form.get("name").cloned(),
        role: form.get("role").cloned(),
        password: form.get("password").cloned(),
    };
    match add_user(&s, &p, &slug, &raw).await {
        Ok(AddOutcome::Created(u)) => Ok(Redirect::to(&format!(
            "/orgs/{slug}/users/{}?notice=created",
            u.id
        ))
        .into_response()),
        Ok(AddOutcome::Invited(_)) => Ok(Redirect::to(&format!(
            "/orgs/{slug}/users?notice=invited#invitations"
        ))
        .into_response()),
        Err(e) => {
            let mut values: HashMap<String, String> = form.into_iter().collect();
            values.remove("password");
            let st = FormState {
                values,
                errors: Vec::new(),
            }
            .fail(e)?;
            new_page(&s, &p, &slug, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

#[derive(Template)]
#[template(path = "accounts/user_detail.html")]
struct DetailPage {
    f: Frame,
    slug: String,
    user: User,
    grants: Vec<GrantRow>,
    can_manage: bool,
    tokens: Vec<store::auth::ApiToken>,
}

async fn detail(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    let user = users::get(&s.db, &scope, parse_path_id(&id)?).await?;
    let grants = users::grants_of(&s.db, user.id)
        .await?
        .into_iter()
        .filter(|g| scope.contains(g.org_id))
        .collect();
    let f = Frame::new(&s, &p, &user.name, "people")
        .await?
        .crumbs(&[(&format!("/orgs/{slug}/users"), "People")])
        .notice(q.notice.as_deref());
    let can_manage = p.scope(Permission::UserManage).contains(user.org_id);
    // Administrators see the person's tokens (never the secrets) so that a leaked one can be revoked.
    let tokens = if can_manage {
        store::auth::list_tokens(&s.db, user.id).await?
    } else {
        Vec::new()
    };
    Ok(render(&DetailPage {
        f,
        slug,
        user,
        grants,
        can_manage,
        tokens,
    }))
}

async fn set_active(
    s: AppState,
    p: Principal,
    slug: String,
    id: String,
    form: HashMap<String, String>,
    active: bool,
) -> PageResult<Response> {
    let version = form.get("version").and_then(|v| v.parse().ok());
    let u = crate::accounts::ops::users::set_user_active(&s, &p, &id, version, active).await?;
    Ok(Redirect::to(&format!(
        "/orgs/{slug}/users/{}?notice={}",
        u.id,
        if active { "enabled" } else { "disabled" }
    ))
    .into_response())
}

async fn disable(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    set_active(s, p, slug, id, form, false).await
}

async fn enable(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    set_active(s, p, slug, id, form, true).await
}

async fn grant(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawGrant {
        user_id: None,
        email: form.get("email").cloned(),
        role: form.get("role").cloned(),
    };
    let notice = match add_grant(&s, &p, &slug, &raw).await? {
        crate::accounts::ops::users::GrantOutcome::Granted(_) => "granted",
        crate::accounts::ops::users::GrantOutcome::Invited(_) => "invited",
    };
    Ok(Redirect::to(&format!("/orgs/{slug}/users?notice={notice}")).into_response())
}

async fn resend_invitation(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult<Response> {
    settle_invitation(&s, &p, &slug, &id, true).await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/users?notice=resent#invitations")).into_response())
}

async fn revoke_invitation(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult<Response> {
    settle_invitation(&s, &p, &slug, &id, false).await?;
    Ok(Redirect::to(&format!(
        "/orgs/{slug}/users?notice=invitation-revoked#invitations"
    ))
    .into_response())
}

async fn revoke(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult<Response> {
    users::revoke(&s.db, &scope, &p.actor(), parse_path_id(&id)?).await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/users?notice=revoked")).into_response())
}

async fn revoke_token(
    State(s): State<AppState>,
    p: Principal,
    Path((slug, id, token)): Path<(String, String, String)>,
) -> PageResult<Response> {
    crate::accounts::ops::users::revoke_token_of(&s, &p, &id, &token).await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/users/{id}?notice=revoked")).into_response())
}
