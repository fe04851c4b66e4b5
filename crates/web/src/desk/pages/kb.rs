//! Knowledge-base pages: search and browse, read, write (the desk), and the suggestions the portal shows
//! while a requester types a subject.

use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::kb::{RawArticle, parse_article, reader};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, local_time, render, render_status};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{Html, IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::desk::{ArticleStatus, Visibility};
use std::collections::HashMap;
use store::desk::kb::{self, Reader};

pub fn routes(t: Table) -> Table {
    t.get("/kb", "Knowledge base", Needs::SignedIn, index)
        .get(
            "/kb/new",
            "Write an article (form)",
            Needs::Perm(Permission::KbWrite),
            new_form,
        )
        .post(
            "/kb",
            "Write an article",
            Needs::Perm(Permission::KbWrite),
            create,
        )
        .get(
            "/kb/suggest",
            "Articles that match a subject (HTML fragment for the portal)",
            Needs::SignedIn,
            suggest,
        )
        .get("/kb/{id}", "Read an article", Needs::SignedIn, show)
        .get(
            "/kb/{id}/edit",
            "Edit an article (form)",
            Needs::Perm(Permission::KbWrite),
            edit_form,
        )
        .post(
            "/kb/{id}",
            "Save an article",
            Needs::Perm(Permission::KbWrite),
            save,
        )
        .post(
            "/tickets/{number}/articles",
            "Link an article to a ticket",
            Needs::Perm(Permission::TicketWork),
            link,
        )
}

struct Item {
    id: String,
    title: String,
    category: String,
    status: &'static str,
    draft: bool,
    updated: String,
}

#[derive(Template)]
#[template(path = "desk/kb.html")]
struct IndexPage {
    f: Frame,
    items: Vec<Item>,
    q: String,
    category: String,
    categories: Vec<String>,
    can_write: bool,
}

#[derive(serde::Deserialize, Default, schemars::JsonSchema)]
struct IndexQuery {
    q: Option<String>,
    category: Option<String>,
    notice: Option<String>,
}

fn item(a: kb::Article) -> Item {
    Item {
        draft: a.status == ArticleStatus::Draft,
        status: a.status.label(),
        updated: local_time(a.updated_at, "America/New_York"),
        id: a.id,
        title: a.title,
        category: a.category,
    }
}

async fn index(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<IndexQuery>,
) -> PageResult<Response> {
    let r = reader(&p);
    let text = q.q.clone().unwrap_or_default();
    if text.chars().count() > 200 {
        return Err(Failure::Invalid(vec![domain::FieldError::new(
            "q",
            "must be at most 200 characters",
        )])
        .into());
    }
    let items = kb::search(&s.db, &r, Some(&text), q.category.as_deref(), 100)
        .await?
        .into_iter()
        .map(item)
        .collect();
    let f = Frame::new(&s, &p, "Knowledge base", "kb")
        .await?
        .notice(q.notice.as_deref());
    Ok(render(&IndexPage {
        f,
        items,
        q: text,
        category: q.category.unwrap_or_default(),
        categories: kb::categories(&s.db, &r).await?,
        can_write: !p.scope(Permission::KbWrite).is_empty(),
    }))
}

#[derive(Template)]
#[template(path = "desk/kb_article.html")]
struct ArticlePage {
    f: Frame,
    a: kb::Article,
    updated: String,
    can_write: bool,
}

async fn show(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<IndexQuery>,
) -> PageResult<Response> {
    let a = kb::get(&s.db, &reader(&p), &id).await?;
    let f = Frame::new(&s, &p, &a.title, "kb")
        .await?
        .crumbs(&[("/kb", "Knowledge base")])
        .notice(q.notice.as_deref());
    Ok(render(&ArticlePage {
        f,
        updated: local_time(a.updated_at, "America/New_York"),
        can_write: !p.scope(Permission::KbWrite).is_empty(),
        a,
    }))
}

#[derive(Template)]
#[template(path = "desk/kb_form.html")]
struct FormPage {
    f: Frame,
    form: FormState,
    action: String,
    statuses: Vec<(String, String)>,
    visibilities: Vec<(String, String)>,
    members: Vec<(String, String)>,
}

async fn form_page(
    s: &AppState,
    p: &Principal,
    title: &str,
    action: String,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    p.require(Permission::KbWrite)?;
    let members = store::tenancy::orgs::names(&s.db, &p.scope(Permission::OrgRead), None, 400)
        .await?
        .into_iter()
        .map(|o| (o.slug, o.name))
        .collect();
    let f = Frame::new(s, p, title, "kb")
        .await?
        .crumbs(&[("/kb", "Knowledge base")]);
    Ok(render_status(
        status,
        &FormPage {
            f,
            form,
            action,
            statuses: ArticleStatus::ALL
                .iter()
                .map(|v| (v.as_str().to_owned(), v.label().to_owned()))
                .collect(),
            visibilities: Visibility::ALL
                .iter()
                .map(|v| (v.as_str().to_owned(), v.label().to_owned()))
                .collect(),
            members,
        },
    ))
}

async fn new_form(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    let form = FormState::with([
        ("status", "draft".to_owned()),
        ("visibility", "members".to_owned()),
    ]);
    form_page(
        &s,
        &p,
        "Write an article",
        "/kb".into(),
        form,
        StatusCode::OK,
    )
    .await
}

fn raw(form: &HashMap<String, String>) -> RawArticle {
    RawArticle {
        title: form.get("title").cloned(),
        body: form.get("body").cloned(),
        category: form.get("category").cloned(),
        status: form.get("status").cloned(),
        visibility: form.get("visibility").cloned(),
        org: form.get("org").cloned(),
        service_id: None,
    }
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let r = match parse_article(&s, &p, &raw(&form), None).await {
        Ok(d) => kb::create(&s.db, &p.actor(), &d)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match r {
        Ok(a) => Ok(Redirect::to(&format!("/kb/{}?notice=created", a.id)).into_response()),
        Err(e) => {
            let state = FormState::refill(form).fail(e)?;
            form_page(
                &s,
                &p,
                "Write an article",
                "/kb".into(),
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn edit_form(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let a = kb::get(&s.db, &Reader::Desk, &id).await?;
    let org = match a.org_id {
        Some(o) => store::tenancy::orgs::get(&s.db, &store::Scope::Region, o)
            .await
            .map(|o| o.slug.to_string())
            .unwrap_or_default(),
        None => String::new(),
    };
    let form = FormState::with([
        ("title", a.title.clone()),
        ("body", a.body.clone()),
        ("category", a.category.clone()),
        ("status", a.status.as_str().to_owned()),
        ("visibility", a.visibility.as_str().to_owned()),
        ("org", org),
        ("version", a.version.to_string()),
    ]);
    form_page(
        &s,
        &p,
        &format!("Edit: {}", a.title),
        format!("/kb/{id}"),
        form,
        StatusCode::OK,
    )
    .await
}

async fn save(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let before = kb::get(&s.db, &Reader::Desk, &id).await?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let r = match parse_article(&s, &p, &raw(&form), Some(&before)).await {
        Ok(d) => kb::update(&s.db, &p.actor(), &id, version, &d)
            .await
            .map_err(Failure::from),
        Err(e) => Err(e),
    };
    match r {
        Ok(a) => Ok(Redirect::to(&format!("/kb/{}?notice=saved", a.id)).into_response()),
        Err(e) => {
            let state = FormState::refill(form).fail(e)?;
            form_page(
                &s,
                &p,
                &format!("Edit: {}", before.title),
                format!("/kb/{id}"),
                state,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

#[derive(serde::Deserialize, Default, schemars::JsonSchema)]
struct SuggestQuery {
    subject: Option<String>,
}

#[derive(Template)]
#[template(path = "desk/kb_suggest.html")]
struct Suggest {
    items: Vec<(String, String)>,
}

/// A fragment for the portal: up to five published articles matching the words typed so far.
async fn suggest(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<SuggestQuery>,
) -> PageResult<Response> {
    let text: String = q.subject.unwrap_or_default().chars().take(200).collect();
    let words: Vec<&str> = text
        .split_whitespace()
        .filter(|w| w.chars().count() >= 3)
        .collect();
    let items = if words.is_empty() {
        Vec::new()
    } else {
        let r = match reader(&p) {
            // Requesters and the desk alike get published articles here.
            Reader::Desk => Reader::Member(store::Scope::Region),
            other => other,
        };
        kb::search(&s.db, &r, Some(&words.join(" ")), None, 5)
            .await?
            .into_iter()
            .map(|a| (a.id, a.title))
            .collect()
    };
    let html = Suggest { items }
        .render()
        .map_err(|e| Failure::internal(e.to_string()))?;
    Ok(Html(html).into_response())
}

async fn link(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = crate::extract::parse_number(&number)?;
    crate::desk::ops::kb::apply_link(&s, &p, number, form.get("article").map(String::as_str))
        .await?;
    Ok(Redirect::to(&format!("/tickets/{number}?notice=updated")).into_response())
}
