//! CMDB pages: the list of configuration items with filters, an item's page (attributes, relationships,
//! impact analysis as a tree, history), and the forms to record and change items and relate them. The
//! record form is per type (`/cmdb/new?type=server`), so each type's attributes are plain fields and the
//! pages need no script.

use super::ops::{CiQuery, RawCi, RawRelation, add_relation, change_ci, depth, filter, record_ci};
use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, render, render_status};
use askama::Template;
use axum::extract::{Form, Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::authz::{Permission, Scope};
use domain::cmdb::{CiStatus, CiType, RelationKind};
use domain::ids::CiId;
use serde_json::{Map, Value};
use std::collections::HashMap;
use store::cmdb;
use store::page::PageRequest;

use crate::routes::{Granted, Needs, Table};

pub fn routes(t: Table) -> Table {
    t.get(
        "/cmdb",
        "Configuration items (by member, type, status, name)",
        Needs::Perm(Permission::CmdbRead),
        list_page,
    )
    .get(
        "/cmdb/new",
        "Form: record a configuration item (?type=server)",
        Needs::Perm(Permission::CmdbManage),
        new_page,
    )
    .post(
        "/cmdb",
        "Record a configuration item",
        Needs::Perm(Permission::CmdbManage),
        create,
    )
    .post(
        "/cmdb/import",
        "Import items from a CSV file (or check it first)",
        Needs::Perm(Permission::CmdbManage),
        import_page,
    )
    .get(
        "/cmdb/export",
        "Items as CSV in the import's columns (?type=)",
        Needs::Perm(Permission::CmdbRead),
        export_page,
    )
    .get(
        "/cmdb/{id}",
        "A configuration item: attributes, relationships, impact, history",
        Needs::Perm(Permission::CmdbRead),
        item_page,
    )
    .get(
        "/cmdb/{id}/edit",
        "Form: change a configuration item",
        Needs::Perm(Permission::CmdbManage),
        edit_page,
    )
    .post(
        "/cmdb/{id}",
        "Change a configuration item",
        Needs::Perm(Permission::CmdbManage),
        save,
    )
    .post(
        "/cmdb/{id}/relations",
        "Relate the item to another",
        Needs::Perm(Permission::CmdbManage),
        relate,
    )
    .post(
        "/cmdb/bulk",
        "Set the status of the chosen items",
        Needs::Perm(Permission::CmdbManage),
        bulk,
    )
    .post(
        "/tickets/{number}/cis",
        "Link a configuration item to a ticket",
        Needs::Perm(Permission::TicketWork),
        link_ticket,
    )
    .post(
        "/cmdb/relations/{id}/delete",
        "Remove a relationship",
        Needs::Perm(Permission::CmdbManage),
        unrelate,
    )
}

use crate::page::form_field as field;

fn ci_id(raw: &str) -> Result<CiId, Failure> {
    raw.parse().map_err(|_| Failure::NotFound)
}

fn types() -> Vec<(String, String)> {
    CiType::ALL
        .iter()
        .map(|t| (t.as_str().to_owned(), t.label().to_owned()))
        .collect()
}

fn statuses() -> Vec<(String, String)> {
    CiStatus::ALL
        .iter()
        .map(|t| (t.as_str().to_owned(), t.label().to_owned()))
        .collect()
}

/// An attribute value as a form shows it.
fn shown(v: &Value) -> String {
    match v {
        Value::String(s) => s.clone(),
        v => v.to_string(),
    }
}

// ---------------------------------------------------------------------------------------------------
// The list

pub struct Row {
    pub id: String,
    pub name: String,
    pub ci_type: &'static str,
    pub status: &'static str,
    pub owner: String,
    pub department: String,
}

#[derive(Template)]
#[template(path = "cmdb/cmdb.html")]
pub struct ListPage {
    pub f: Frame,
    pub rows: Vec<Row>,
    pub q: String,
    pub ci_type: String,
    pub status: String,
    pub org: String,
    pub types: Vec<(String, String)>,
    pub statuses: Vec<(String, String)>,
    pub next: Option<String>,
    pub can_manage: bool,
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ListQuery {
    pub org: Option<String>,
    #[serde(rename = "type")]
    pub ci_type: Option<String>,
    pub status: Option<String>,
    pub q: Option<String>,
    pub cursor: Option<String>,
    pub notice: Option<String>,
}

async fn list_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    PageQueryString(q): PageQueryString<ListQuery>,
) -> PageResult<Response> {
    let cq = CiQuery {
        org: q.org.clone(),
        ci_type: q.ci_type.clone(),
        status: q.status.clone(),
        q: q.q.clone(),
        limit: None,
        cursor: None,
    };
    let f = filter(&s, &scope, &cq).await?;
    let page = cmdb::list(
        &s.db,
        &scope,
        &f,
        &PageRequest {
            after: q.cursor.as_deref().and_then(crate::extract::decode_cursor),
            limit: 100,
        },
    )
    .await?;
    let frame = Frame::new(&s, &p, "Configuration items", "cmdb")
        .await?
        .notice(q.notice.as_deref());
    let text = |v: &Option<String>| v.clone().unwrap_or_default();
    Ok(render(&ListPage {
        f: frame,
        rows: page
            .items
            .into_iter()
            .map(|c| Row {
                id: c.id.to_string(),
                name: c.name,
                ci_type: c.ci_type.label(),
                status: c.status.label(),
                owner: c.org_name,
                department: c.department_name.unwrap_or_default(),
            })
            .collect(),
        q: text(&q.q),
        ci_type: text(&q.ci_type),
        status: text(&q.status),
        org: text(&q.org),
        types: types(),
        statuses: statuses(),
        next: page.next_cursor.map(|c| crate::extract::encode_cursor(&c)),
        can_manage: !p.scope(Permission::CmdbManage).is_empty(),
    }))
}

// ---------------------------------------------------------------------------------------------------
// Record and change

pub struct AttrField {
    pub name: &'static str,
    pub label: &'static str,
    pub kind: &'static str,
}

#[derive(Template)]
#[template(path = "cmdb/ci_form.html")]
pub struct CiForm {
    pub f: Frame,
    pub form: FormState,
    pub action: String,
    pub ci_type: String,
    pub type_label: &'static str,
    pub types: Vec<(String, String)>,
    pub statuses: Vec<(String, String)>,
    pub orgs: Vec<(String, String)>,
    pub attributes: Vec<AttrField>,
    pub editing: bool,
}

fn attr_fields(t: CiType) -> Vec<AttrField> {
    t.attributes()
        .iter()
        .map(|a| AttrField {
            name: a.name,
            label: a.label,
            kind: match a.kind {
                domain::cmdb::AttrKind::Date => "date",
                domain::cmdb::AttrKind::Count => "number",
                domain::cmdb::AttrKind::Text => "text",
            },
        })
        .collect()
}

async fn form_page(
    s: &AppState,
    p: &Principal,
    t: Option<CiType>,
    form: FormState,
    editing: Option<&cmdb::Ci>,
    status: StatusCode,
) -> PageResult<Response> {
    let manage = p.require(Permission::CmdbManage)?;
    let orgs = store::tenancy::orgs::names(&s.db, &manage, None, 1000)
        .await?
        .into_iter()
        .map(|o| (o.slug, o.name))
        .collect();
    let title = match (editing, t) {
        (Some(c), _) => format!("Change {}", c.name),
        (None, Some(t)) => format!("Record a {}", t.label().to_lowercase()),
        (None, None) => "Record a configuration item".to_owned(),
    };
    let mut f = Frame::new(s, p, &title, "cmdb").await?;
    f.breadcrumbs = vec![("/cmdb".into(), "Configuration items".into())];
    if let Some(c) = editing {
        f.breadcrumbs
            .push((format!("/cmdb/{}", c.id), c.name.clone()));
    }
    Ok(render_status(
        status,
        &CiForm {
            f,
            form,
            action: editing.map_or_else(|| "/cmdb".to_owned(), |c| format!("/cmdb/{}", c.id)),
            ci_type: t.map(|t| t.as_str().to_owned()).unwrap_or_default(),
            type_label: t.map_or("", |t| t.label()),
            types: types(),
            statuses: statuses(),
            orgs,
            attributes: t.map(attr_fields).unwrap_or_default(),
            editing: editing.is_some(),
        },
    ))
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuery {
    #[serde(rename = "type")]
    pub ci_type: Option<String>,
}

async fn new_page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<NewQuery>,
) -> PageResult<Response> {
    let t = match q
        .ci_type
        .as_deref()
        .map(str::trim)
        .filter(|t| !t.is_empty())
    {
        None => None,
        Some(v) => Some(
            CiType::parse(v)
                .map_err(|e| Failure::Invalid(vec![domain::FieldError::new("type", e.message)]))?,
        ),
    };
    let mut form = FormState::with([("status", "active".to_owned())]);
    // The organisation the person is working in, when they may record items for it.
    if let Some(org) = p.current_org()
        && p.scope(Permission::CmdbManage).contains(org)
        && let Ok(o) = store::tenancy::orgs::get(&s.db, &Scope::Region, org).await
    {
        form.values.insert("org".into(), o.slug.to_string());
    }
    form_page(&s, &p, t, form, None, StatusCode::OK).await
}

/// The item's fields from a form: `attr_<name>` fields are the type's attributes.
fn raw_from_form(form: &HashMap<String, String>, editing: bool) -> RawCi {
    let mut attributes = Map::new();
    for (k, v) in form {
        if let Some(name) = k.strip_prefix("attr_") {
            attributes.insert(name.to_owned(), Value::String(v.trim().to_owned()));
        }
    }
    RawCi {
        org: field(form, "org"),
        department_id: if editing {
            Some(field(form, "department_id").unwrap_or_default())
        } else {
            field(form, "department_id")
        },
        ci_type: field(form, "type"),
        name: Some(field(form, "name").unwrap_or_default()),
        status: field(form, "status"),
        attributes: Some(attributes),
    }
}

fn refill(form: HashMap<String, String>) -> FormState {
    FormState::refill(form.into_iter().filter(|(k, _)| k != "_csrf"))
}

async fn create(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = raw_from_form(&form, false);
    match record_ci(&s, &p, &raw).await {
        Ok(c) => Ok(Redirect::to(&format!("/cmdb/{}?notice=created", c.id)).into_response()),
        Err(e) => {
            let t = raw.ci_type.as_deref().and_then(|v| CiType::parse(v).ok());
            let st = refill(form).fail(e)?;
            form_page(&s, &p, t, st, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn edit_page(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let read = p.require(Permission::CmdbRead)?;
    let c = cmdb::get(&s.db, &read, ci_id(&id)?).await?;
    if !p.scope(Permission::CmdbManage).contains(c.org_id) {
        return Err(Failure::Forbidden.into());
    }
    let slug = store::tenancy::orgs::get(&s.db, &Scope::Region, c.org_id)
        .await?
        .slug;
    let mut values: Vec<(String, String)> = vec![
        ("org".into(), slug.to_string()),
        ("type".into(), c.ci_type.as_str().into()),
        ("name".into(), c.name.clone()),
        ("status".into(), c.status.as_str().into()),
        (
            "department_id".into(),
            c.department_id.map(|d| d.to_string()).unwrap_or_default(),
        ),
        ("version".into(), c.version.to_string()),
    ];
    for (k, v) in &c.attributes {
        values.push((format!("attr_{k}"), shown(v)));
    }
    form_page(
        &s,
        &p,
        Some(c.ci_type),
        FormState::refill(values),
        Some(&c),
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
    let id = ci_id(&id)?;
    let read = p.require(Permission::CmdbRead)?;
    let current = cmdb::get(&s.db, &read, id).await?;
    let raw = raw_from_form(&form, true);
    let version = field(&form, "version").and_then(|v| v.parse().ok());
    match change_ci(&s, &p, id, version, &raw).await {
        Ok(c) => Ok(Redirect::to(&format!("/cmdb/{}?notice=saved", c.id)).into_response()),
        Err(e) => {
            let st = refill(form).fail(e)?;
            form_page(
                &s,
                &p,
                Some(current.ci_type),
                st,
                Some(&current),
                StatusCode::UNPROCESSABLE_ENTITY,
            )
            .await
        }
    }
}

// ---------------------------------------------------------------------------------------------------
// An item's page

pub struct RelationRow {
    pub id: String,
    /// "runs on", or "… runs on this" for the other way.
    pub text: String,
    pub other_id: String,
    pub other: String,
    pub outgoing: bool,
}

pub struct ImpactRow {
    pub id: String,
    pub name: String,
    pub ci_type: &'static str,
    pub owner: String,
    pub how: String,
    /// Indentation of the tree, in steps from the item.
    pub depth: u32,
}

pub struct EventRow {
    pub at: String,
    pub who: String,
    pub summary: String,
}

#[derive(Template)]
#[template(path = "cmdb/ci.html")]
pub struct ItemPage {
    pub f: Frame,
    pub id: String,
    pub ci_type: &'static str,
    pub status: &'static str,
    pub owner: String,
    pub department: String,
    pub attributes: Vec<(&'static str, String)>,
    pub relations: Vec<RelationRow>,
    pub impact: Vec<ImpactRow>,
    pub services: Vec<String>,
    pub applications: Vec<String>,
    pub members: Vec<String>,
    pub depth: u32,
    pub history: Vec<EventRow>,
    pub can_manage: bool,
    pub kinds: Vec<(String, String)>,
    /// Items it may be related to (id, "name (type, owner)"), for the relate form.
    pub candidates: Vec<(String, String)>,
    /// Open tickets about it that the person sees.
    pub tickets: Vec<cmdb::TicketRef>,
}

#[derive(Debug, Default, serde::Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct ItemQuery {
    pub depth: Option<String>,
    pub notice: Option<String>,
}

async fn item_page(
    State(s): State<AppState>,
    p: Principal,
    Granted(scope): Granted,
    Path(id): Path<String>,
    PageQueryString(q): PageQueryString<ItemQuery>,
) -> PageResult<Response> {
    let id = ci_id(&id)?;
    let c = cmdb::get(&s.db, &scope, id).await?;
    let depth = depth(&q.depth)?;
    let impact = cmdb::impact_of(&s.db, &scope, id, depth).await?;
    let relations = cmdb::relations(&s.db, &scope, id).await?;
    let view = p.ticket_view().ok();
    let history = cmdb::history(&s.db, &scope, view.as_ref(), id).await?;
    let tickets = match &view {
        Some(view) => cmdb::open_tickets(&s.db, view, id).await?,
        None => Vec::new(),
    };
    let can_manage = p.scope(Permission::CmdbManage).contains(c.org_id);
    let candidates = if can_manage {
        cmdb::list(
            &s.db,
            &scope,
            &cmdb::Filter::default(),
            &PageRequest::first(200),
        )
        .await?
        .items
        .into_iter()
        .filter(|x| x.id != c.id)
        .map(|x| {
            (
                x.id.to_string(),
                format!("{} ({}, {})", x.name, x.ci_type.label(), x.org_name),
            )
        })
        .collect()
    } else {
        Vec::new()
    };
    let tz = store::tenancy::orgs::get(&s.db, &Scope::Region, c.org_id)
        .await?
        .time_zone;
    let names: HashMap<String, String> = impact
        .affected
        .iter()
        .map(|a| (a.id.to_string(), a.name.clone()))
        .chain(std::iter::once((c.id.to_string(), c.name.clone())))
        .collect();
    let f = Frame::new(&s, &p, &c.name, "cmdb")
        .await?
        .notice(q.notice.as_deref())
        .crumbs(&[("/cmdb", "Configuration items")]);
    let attributes = c
        .ci_type
        .attributes()
        .iter()
        .filter_map(|a| c.attributes.get(a.name).map(|v| (a.label, shown(v))))
        .collect();
    Ok(render(&ItemPage {
        f,
        id: c.id.to_string(),
        ci_type: c.ci_type.label(),
        status: c.status.label(),
        owner: c.org_name.clone(),
        department: c.department_name.clone().unwrap_or_default(),
        attributes,
        relations: relations
            .into_iter()
            .map(|r| {
                let outgoing = r.from_ci == c.id;
                RelationRow {
                    id: r.id,
                    text: if outgoing {
                        r.kind.label().to_owned()
                    } else {
                        format!("{} this item", r.kind.label())
                    },
                    other_id: if outgoing { r.to_ci } else { r.from_ci }.to_string(),
                    other: if outgoing { r.to_name } else { r.from_name },
                    outgoing,
                }
            })
            .collect(),
        impact: impact
            .affected
            .iter()
            .map(|a| ImpactRow {
                id: a.id.to_string(),
                name: a.name.clone(),
                ci_type: a.ci_type.label(),
                owner: a.org_name.clone(),
                how: format!(
                    "{} {}",
                    a.kind.label(),
                    names.get(&a.via.to_string()).cloned().unwrap_or_default()
                ),
                depth: a.depth,
            })
            .collect(),
        services: impact.services,
        applications: impact.applications,
        members: impact.members,
        depth,
        history: history
            .into_iter()
            .map(|e| EventRow {
                at: crate::page::local_time(e.at, &tz),
                who: e.actor_name,
                summary: e.summary,
            })
            .collect(),
        can_manage,
        kinds: RelationKind::ALL
            .iter()
            .map(|k| (k.as_str().to_owned(), k.label().to_owned()))
            .collect(),
        candidates,
        tickets,
    }))
}

async fn relate(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id = ci_id(&id)?;
    let raw = RawRelation {
        kind: field(&form, "kind"),
        to_ci: field(&form, "to_ci"),
    };
    add_relation(&s, &p, id, &raw).await?;
    Ok(Redirect::to(&format!("/cmdb/{id}?notice=created#relations")).into_response())
}

async fn unrelate(
    State(s): State<AppState>,
    p: Principal,
    Granted(manage): Granted,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let read = p.require(Permission::CmdbRead)?;
    cmdb::unrelate(&s.db, &read, &manage, &p.actor(), &id).await?;
    let back = field(&form, "back")
        .and_then(|b| b.parse::<CiId>().ok())
        .map_or_else(
            || "/cmdb".to_owned(),
            |b| format!("/cmdb/{b}?notice=removed#relations"),
        );
    Ok(Redirect::to(&back).into_response())
}

// ---------------------------------------------------------------------------------------------------
// CSV

#[derive(Template)]
#[template(path = "cmdb/ci_import.html")]
pub struct ImportPage {
    pub f: Frame,
    pub file_name: String,
    pub errors: Vec<domain::FieldError>,
    pub report: cmdb::ImportReport,
}

async fn import_page(
    State(s): State<AppState>,
    p: Principal,
    mut form: axum::extract::Multipart,
) -> PageResult<Response> {
    let mut file = None;
    let mut dry_run = false;
    loop {
        let part = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(
                    Failure::BadRequest(format!("the upload could not be read: {e}")).into(),
                );
            }
        };
        match part.name() {
            Some("file") => {
                let name = part.file_name().unwrap_or("").to_owned();
                let bytes = part.bytes().await.map_err(|e| {
                    Failure::BadRequest(format!("the upload could not be read: {e}"))
                })?;
                file = Some((name, bytes));
            }
            Some("dry_run") => dry_run = true,
            _ => {}
        }
    }
    let (file_name, bytes) = file.unwrap_or_default();
    let outcome = if file_name.is_empty() {
        Err(Failure::Invalid(vec![domain::FieldError::new(
            "file",
            "choose a CSV file to import",
        )]))
    } else {
        super::ops::import_file(&s, &p, &bytes, dry_run).await
    };
    let title = if dry_run {
        "Items file checked"
    } else {
        "Items imported"
    };
    let f = Frame::new(&s, &p, title, "cmdb")
        .await?
        .crumbs(&[("/cmdb", "Configuration items")]);
    match outcome {
        Ok(report) => Ok(render(&ImportPage {
            f,
            file_name,
            errors: Vec::new(),
            report,
        })),
        Err(e) => {
            let errors = e.field_errors();
            if errors.is_empty() {
                return Err(e.into());
            }
            Ok(render_status(
                StatusCode::UNPROCESSABLE_ENTITY,
                &ImportPage {
                    f,
                    file_name,
                    errors,
                    report: cmdb::ImportReport::default(),
                },
            ))
        }
    }
}

async fn export_page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<super::ops::ExportQuery>,
) -> PageResult<Response> {
    Ok(super::ops::export_file(&s, &p, &q).await?)
}

async fn link_ticket(
    State(s): State<AppState>,
    p: Principal,
    Path(number): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let number = crate::extract::parse_number(&number)?;
    let raw = super::ops::RawLink {
        ci_id: field(&form, "ci_id"),
    };
    super::ops::link(&s, &p, number, &raw).await?;
    Ok(Redirect::to(&format!("/tickets/{number}?notice=saved#cis")).into_response())
}

async fn bulk(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<Vec<(String, String)>>,
) -> PageResult<Response> {
    let raw = super::ops::RawBulk {
        ids: Some(
            form.iter()
                .filter(|(k, _)| k == "ids")
                .map(|(_, v)| v.clone())
                .collect(),
        ),
        status: form
            .iter()
            .find(|(k, _)| k == "status")
            .map(|(_, v)| v.clone()),
    };
    super::ops::bulk_change(&s, &p, &raw).await?;
    Ok(Redirect::to("/cmdb?notice=saved").into_response())
}
