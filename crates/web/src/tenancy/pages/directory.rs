//! Department and site pages: list, add, edit, remove.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::extract::{PageParams, encode_cursor};
use crate::page::{FormState, Frame, PageQuery, render_status};
use crate::routes::{Granted, Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::Permission;
use domain::tenancy::SiteKind;
use domain::tenancy::drafts::{RawDepartment, RawSite, parse_department, parse_site};
use std::collections::HashMap;
use store::tenancy::{directory, orgs};

pub fn routes(t: Table) -> Table {
    t.get(
        "/orgs/{slug}/departments",
        "Departments list",
        Needs::Perm(Permission::DirectoryRead),
        departments,
    )
    .post(
        "/orgs/{slug}/departments",
        "Add a department",
        Needs::Perm(Permission::DirectoryWrite),
        add_department,
    )
    .get(
        "/orgs/{slug}/departments/{id}",
        "Edit a department",
        Needs::Perm(Permission::DirectoryWrite),
        edit_department,
    )
    .post(
        "/orgs/{slug}/departments/{id}",
        "Save a department",
        Needs::Perm(Permission::DirectoryWrite),
        save_department,
    )
    .post(
        "/orgs/{slug}/departments/{id}/delete",
        "Remove a department",
        Needs::Perm(Permission::DirectoryWrite),
        delete_department,
    )
    .get(
        "/orgs/{slug}/sites",
        "Sites list",
        Needs::Perm(Permission::DirectoryRead),
        sites,
    )
    .post(
        "/orgs/{slug}/sites",
        "Add a site",
        Needs::Perm(Permission::DirectoryWrite),
        add_site,
    )
    .get(
        "/orgs/{slug}/sites/{id}",
        "Edit a site",
        Needs::Perm(Permission::DirectoryWrite),
        edit_site,
    )
    .post(
        "/orgs/{slug}/sites/{id}",
        "Save a site",
        Needs::Perm(Permission::DirectoryWrite),
        save_site,
    )
    .post(
        "/orgs/{slug}/sites/{id}/delete",
        "Remove a site",
        Needs::Perm(Permission::DirectoryWrite),
        delete_site,
    )
}

fn site_kinds() -> Vec<(String, String)> {
    SiteKind::ALL
        .iter()
        .map(|k| (k.as_str().to_owned(), k.label().to_owned()))
        .collect()
}

struct Row {
    name: String,
    cells: Vec<String>,
    edit_href: String,
}

#[derive(Template)]
#[template(path = "tenancy/directory.html")]
struct ListPage {
    f: Frame,
    org_name: String,
    noun: &'static str,
    noun_plural: &'static str,
    headers: Vec<&'static str>,
    rows: Vec<Row>,
    can_write: bool,
    is_site: bool,
    site_kinds: Vec<(String, String)>,
    form: FormState,
    action: String,
    next: Option<String>,
    csv_href: String,
}

#[derive(Template)]
#[template(path = "tenancy/directory_edit.html")]
struct EditPage {
    f: Frame,
    form: FormState,
    noun: &'static str,
    is_site: bool,
    site_kinds: Vec<(String, String)>,
    action: String,
    version: i64,
}

/// One page of departments or sites as table rows, and the cursor of the next page.
async fn fetch_rows(
    s: &AppState,
    scope: &store::Scope,
    org: domain::ids::OrgId,
    is_site: bool,
    page: &store::page::PageRequest,
    base: &str,
) -> Result<(Vec<Row>, Option<String>), crate::error::Failure> {
    let scope = scope.clone();
    Ok(if is_site {
        let r = directory::list_sites(&s.db, &scope, org, page).await?;
        (
            r.items
                .into_iter()
                .map(|x| Row {
                    edit_href: format!("{base}/{}", x.id),
                    cells: vec![x.name.clone(), x.address, x.kind.label().to_owned()],
                    name: x.name,
                })
                .collect(),
            r.next_cursor,
        )
    } else {
        let r = directory::list_departments(&s.db, &scope, org, page).await?;
        (
            r.items
                .into_iter()
                .map(|x| Row {
                    edit_href: format!("{base}/{}", x.id),
                    cells: vec![x.name.clone()],
                    name: x.name,
                })
                .collect(),
            r.next_cursor,
        )
    })
}

async fn list_page(
    s: &AppState,
    p: &Principal,
    slug: &str,
    is_site: bool,
    q: &PageQuery,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let scope = p.require(Permission::DirectoryRead)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let notice = q.notice.as_deref();
    let page = PageParams {
        limit: Some(50),
        cursor: q.cursor.clone(),
    }
    .to_request()?;
    let base = format!(
        "/orgs/{slug}/{}",
        if is_site { "sites" } else { "departments" }
    );
    let (rows, next_key) = fetch_rows(s, &scope, org.id, is_site, &page, &base).await?;
    if q.wants_csv() {
        let mut all: Vec<Vec<String>> = rows.into_iter().map(|r| r.cells).collect();
        let mut next = next_key;
        while let Some(after) = next
            .take()
            .filter(|_| all.len() < crate::page::CSV_MAX_ROWS)
        {
            let page = store::page::PageRequest {
                after: Some(after),
                limit: 200,
            };
            let (more, n) = fetch_rows(s, &scope, org.id, is_site, &page, &base).await?;
            all.extend(more.into_iter().map(|r| r.cells));
            next = n;
        }
        let (file, header): (&str, &[&str]) = if is_site {
            ("sites.csv", &["name", "address", "kind"])
        } else {
            ("departments.csv", &["name"])
        };
        return Ok(crate::page::csv_response(
            &format!("{}-{file}", org.slug),
            header,
            all,
        ));
    }
    let title = format!(
        "{} of {}",
        if is_site { "Sites" } else { "Departments" },
        org.name
    );
    let f = Frame::new(s, p, &title, if is_site { "sites" } else { "departments" })
        .await?
        .notice(notice);
    Ok(render_status(
        status,
        &ListPage {
            f,
            org_name: org.name.clone(),
            noun: if is_site { "site" } else { "department" },
            noun_plural: if is_site { "sites" } else { "departments" },
            headers: if is_site {
                vec!["Name", "Address", "Kind"]
            } else {
                vec!["Name"]
            },
            rows,
            can_write: p.scope(Permission::DirectoryWrite).contains(org.id),
            is_site,
            site_kinds: site_kinds(),
            form,
            next: next_key.map(|k| format!("{base}?cursor={}", encode_cursor(&k))),
            csv_href: format!("{base}?format=csv"),
            action: base,
        },
    ))
}

async fn departments(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    list_page(
        &s,
        &p,
        &slug,
        false,
        &q,
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

async fn sites(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    PageQueryString(q): PageQueryString<PageQuery>,
) -> PageResult<Response> {
    list_page(
        &s,
        &p,
        &slug,
        true,
        &q,
        FormState::default(),
        StatusCode::OK,
    )
    .await
}

fn raw_site(form: &HashMap<String, String>) -> RawSite {
    RawSite {
        name: form.get("name").cloned(),
        address: form.get("address").cloned(),
        kind: form.get("kind").cloned(),
    }
}

async fn add(
    s: &AppState,
    p: &Principal,
    slug: &str,
    is_site: bool,
    form: HashMap<String, String>,
) -> PageResult<Response> {
    let scope = p.require(Permission::DirectoryWrite)?;
    let org = orgs::get_by_slug(&s.db, &scope, slug).await?;
    let result: Result<(), Failure> = if is_site {
        match parse_site(&raw_site(&form)) {
            Ok(d) => directory::create_site(&s.db, &scope, &p.actor(), org.id, &d)
                .await
                .map(|_| ())
                .map_err(Failure::from),
            Err(e) => Err(e.into()),
        }
    } else {
        match parse_department(&RawDepartment {
            name: form.get("name").cloned(),
        }) {
            Ok(n) => directory::create_department(&s.db, &scope, &p.actor(), org.id, &n)
                .await
                .map(|_| ())
                .map_err(Failure::from),
            Err(e) => Err(e.into()),
        }
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!(
            "/orgs/{slug}/{}?notice=created",
            if is_site { "sites" } else { "departments" }
        ))
        .into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(e)?;
            list_page(
                s,
                p,
                slug,
                is_site,
                &PageQuery::default(),
                st,
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

async fn add_department(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    add(&s, &p, &slug, false, form).await
}

async fn add_site(
    State(s): State<AppState>,
    p: Principal,
    Path(slug): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    add(&s, &p, &slug, true, form).await
}

fn edit_page(
    f: Frame,
    form: FormState,
    is_site: bool,
    action: String,
    version: i64,
    status: StatusCode,
) -> Response {
    render_status(
        status,
        &EditPage {
            f,
            form,
            noun: if is_site { "site" } else { "department" },
            is_site,
            site_kinds: site_kinds(),
            action,
            version,
        },
    )
}

async fn edit_department(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult<Response> {
    let d = directory::get_department(&s.db, &scope, crate::extract::parse_path_id(&id)?).await?;
    let f = Frame::new(&s, &p, &format!("Edit {}", d.name), "departments")
        .await?
        .crumbs(&[(&format!("/orgs/{slug}/departments"), "Departments")]);
    Ok(edit_page(
        f,
        FormState::with([("name", d.name)]),
        false,
        format!("/orgs/{slug}/departments/{id}"),
        d.version,
        StatusCode::OK,
    ))
}

async fn save_department(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let did = crate::extract::parse_path_id(&id)?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let result = match parse_department(&RawDepartment {
        name: form.get("name").cloned(),
    }) {
        Ok(n) => directory::rename_department(&s.db, &scope, &p.actor(), did, version, &n)
            .await
            .map(|_| ())
            .map_err(Failure::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => {
            Ok(Redirect::to(&format!("/orgs/{slug}/departments?notice=saved")).into_response())
        }
        Err(e) => {
            let st = FormState::refill(form.clone()).fail(e)?;
            let f = Frame::new(&s, &p, "Edit department", "departments").await?;
            Ok(edit_page(
                f,
                st,
                false,
                format!("/orgs/{slug}/departments/{id}"),
                version.unwrap_or(0),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

async fn delete_department(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let version = form.get("version").and_then(|v| v.parse().ok());
    directory::delete_department(
        &s.db,
        &scope,
        &p.actor(),
        crate::extract::parse_path_id(&id)?,
        version,
    )
    .await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/departments?notice=removed")).into_response())
}

async fn edit_site(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
) -> PageResult<Response> {
    let x = directory::get_site(&s.db, &scope, crate::extract::parse_path_id(&id)?).await?;
    let f = Frame::new(&s, &p, &format!("Edit {}", x.name), "sites")
        .await?
        .crumbs(&[(&format!("/orgs/{slug}/sites"), "Sites")]);
    let form = FormState::with([
        ("name", x.name),
        ("address", x.address),
        ("kind", x.kind.as_str().to_owned()),
    ]);
    Ok(edit_page(
        f,
        form,
        true,
        format!("/orgs/{slug}/sites/{id}"),
        x.version,
        StatusCode::OK,
    ))
}

async fn save_site(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let sid = crate::extract::parse_path_id(&id)?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let result = match parse_site(&raw_site(&form)) {
        Ok(d) => directory::update_site(&s.db, &scope, &p.actor(), sid, version, &d)
            .await
            .map(|_| ())
            .map_err(Failure::from),
        Err(e) => Err(e.into()),
    };
    match result {
        Ok(()) => Ok(Redirect::to(&format!("/orgs/{slug}/sites?notice=saved")).into_response()),
        Err(e) => {
            let st = FormState::refill(form.clone()).fail(e)?;
            let f = Frame::new(&s, &p, "Edit site", "sites").await?;
            Ok(edit_page(
                f,
                st,
                true,
                format!("/orgs/{slug}/sites/{id}"),
                version.unwrap_or(0),
                StatusCode::UNPROCESSABLE_ENTITY,
            ))
        }
    }
}

async fn delete_site(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path((slug, id)): Path<(String, String)>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let version = form.get("version").and_then(|v| v.parse().ok());
    directory::delete_site(
        &s.db,
        &scope,
        &p.actor(),
        crate::extract::parse_path_id(&id)?,
        version,
    )
    .await?;
    Ok(Redirect::to(&format!("/orgs/{slug}/sites?notice=removed")).into_response())
}
