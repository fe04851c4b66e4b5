//! Desk settings: hours, priorities and targets, attachment limits, teams, and the mail templates.

use super::request::money;
use crate::AppState;
use crate::auth::Principal;
use crate::desk::ops::desk::{RawSettings, RawTeam, add_team, apply_settings};
use crate::error::{Failure, PageResult};
use crate::extract::PageQueryString;
use crate::page::{FormState, Frame, render_status};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::{Impact, Priority, PriorityMatrix, Urgency};
use serde::Deserialize;
use std::collections::HashMap;
use store::desk::catalog;

pub fn routes(t: Table) -> Table {
    t.get(
        "/desk/settings",
        "Desk settings, teams, services and catalog items",
        Needs::Perm(Permission::CatalogManage),
        settings_page,
    )
    .post(
        "/desk/settings",
        "Save the desk's settings",
        Needs::Perm(Permission::CatalogManage),
        save_settings,
    )
    .post(
        "/desk/teams",
        "Add an assignment group",
        Needs::Perm(Permission::CatalogManage),
        create_team,
    )
    .get(
        "/desk/templates/{event}",
        "Form to word a notification",
        Needs::Perm(Permission::CatalogManage),
        edit_template,
    )
    .post(
        "/desk/templates/{event}",
        "Save a notification's wording",
        Needs::Perm(Permission::CatalogManage),
        save_template,
    )
    .post(
        "/desk/templates/{event}/reset",
        "Restore a notification's built-in wording",
        Needs::Perm(Permission::CatalogManage),
        reset_template,
    )
}

/// One cell of the priority matrix form: (field name, impact label, urgency label).
type Cell = (String, &'static str, &'static str);

fn matrix_cells() -> Vec<Vec<Cell>> {
    Impact::ALL
        .iter()
        .map(|i| {
            Urgency::ALL
                .iter()
                .map(|u| {
                    (
                        format!("pm_{}_{}", i.as_str(), u.as_str()),
                        i.as_str(),
                        u.as_str(),
                    )
                })
                .collect()
        })
        .collect()
}

fn priorities() -> Vec<(String, String)> {
    Priority::ALL
        .iter()
        .map(|p| (p.as_str().to_owned(), p.label().to_owned()))
        .collect()
}

#[derive(Template)]
#[template(path = "desk/desk_settings.html")]
struct SettingsPage {
    f: Frame,
    form: FormState,
    team_form: FormState,
    version: i64,
    cells: Vec<Vec<Cell>>,
    priorities: Vec<(String, String)>,
    urgencies: Vec<&'static str>,
    teams: Vec<(String, String)>,
    /// (name, description, member names)
    team_rows: Vec<(String, String, String)>,
    /// (id, name, category, policy, team, active)
    services: Vec<(String, String, String, String, String, bool)>,
    /// (id, name, service, cost, active, version)
    items: Vec<(String, String, String, String, bool, i64)>,
    /// (id, name, coverage, targets)
    policies: Vec<(String, String, String, String)>,
    /// (event, what it is, subject, the hub's own wording)
    templates: Vec<(String, String, String, bool)>,
}

fn settings_form(st: &catalog::DeskSettings) -> FormState {
    let mut values = HashMap::new();
    for i in Impact::ALL {
        for u in Urgency::ALL {
            values.insert(
                format!("pm_{}_{}", i.as_str(), u.as_str()),
                st.priority_matrix.priority(*i, *u).as_str().to_owned(),
            );
        }
    }
    values.insert("reopen_days".into(), st.reopen_days.to_string());
    values.insert(
        "attachment_max_mb".into(),
        crate::download::megabytes(st.attachment_max_bytes),
    );
    values.insert(
        "escalation_team_id".into(),
        st.escalation_team_id
            .map(|t| t.to_string())
            .unwrap_or_default(),
    );
    FormState {
        values,
        errors: Vec::new(),
    }
}

/// Minutes as people say them: "30 min", "4 h", "4 h 30 min".
fn duration(minutes: i64) -> String {
    match (minutes / 60, minutes % 60) {
        (0, m) => format!("{m} min"),
        (h, 0) => format!("{h} h"),
        (h, m) => format!("{h} h {m} min"),
    }
}

/// "2.5" megabytes → bytes, exactly (tenths of a megabyte at most).
fn parse_mb(raw: &str) -> Result<i64, FieldError> {
    let bad = || {
        FieldError::new(
            "attachment_max_mb",
            "must be a number of megabytes such as 10 or 2.5",
        )
    };
    let raw = raw.trim();
    let (whole, frac) = raw.split_once('.').unwrap_or((raw, ""));
    if whole.is_empty()
        || frac.len() > 1
        || !whole.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
    {
        return Err(bad());
    }
    let whole: i64 = whole.parse().map_err(|_| bad())?;
    let tenth: i64 = if frac.is_empty() {
        0
    } else {
        frac.parse().map_err(|_| bad())?
    };
    if whole > 1000 {
        return Err(bad());
    }
    Ok((whole * 10 + tenth) * 1024 * 1024 / 10)
}

async fn render_settings(
    s: &AppState,
    p: &Principal,
    form: FormState,
    team_form: FormState,
    status: StatusCode,
    notice: Option<&str>,
) -> PageResult<Response> {
    p.require(Permission::CatalogManage)?;
    let st = catalog::settings(&s.db).await?;
    let teams = catalog::list_teams(&s.db).await?;
    let agents = store::desk::tickets::agents(&s.db).await?;
    let services = catalog::list_services(&s.db, false).await?;
    let items = catalog::list_items(&s.db, None, false).await?;
    let policies = catalog::list_policies(&s.db).await?;
    let templates = store::desk::templates::list(&s.db).await?;
    let team_name = |id: Option<domain::ids::TeamId>| {
        id.and_then(|id| teams.iter().find(|t| t.id == id))
            .map(|t| t.name.clone())
            .unwrap_or_else(|| "—".into())
    };
    let f = Frame::new(s, p, "Desk settings", "desk-settings")
        .await?
        .notice(notice);
    let page = SettingsPage {
        templates: templates
            .into_iter()
            .map(|t| {
                (
                    t.event.to_owned(),
                    t.label.to_owned(),
                    t.subject,
                    t.customised,
                )
            })
            .collect(),
        f,
        form,
        team_form,
        version: st.version,
        cells: matrix_cells(),
        priorities: priorities(),
        urgencies: Urgency::ALL.iter().map(|u| u.as_str()).collect(),
        teams: teams
            .iter()
            .map(|t| (t.id.to_string(), t.name.clone()))
            .collect(),
        team_rows: teams
            .iter()
            .map(|t| {
                let names: Vec<String> = t
                    .members
                    .iter()
                    .filter_map(|m| agents.iter().find(|(id, _)| id == m).map(|a| a.1.clone()))
                    .collect();
                (
                    t.name.clone(),
                    t.description.clone(),
                    if names.is_empty() {
                        "No one yet".into()
                    } else {
                        names.join(", ")
                    },
                )
            })
            .collect(),
        services: services
            .iter()
            .map(|svc| {
                (
                    svc.id.to_string(),
                    svc.name.clone(),
                    svc.category.clone(),
                    policies
                        .iter()
                        .find(|x| x.id == svc.sla_policy_id)
                        .map(|x| x.name.clone())
                        .unwrap_or_default(),
                    team_name(svc.owner_team_id),
                    svc.active,
                )
            })
            .collect(),
        items: items
            .iter()
            .map(|i| {
                (
                    i.id.to_string(),
                    i.name.clone(),
                    services
                        .iter()
                        .find(|svc| svc.id == i.service_id)
                        .map(|svc| svc.name.clone())
                        .unwrap_or_default(),
                    if i.cost_cents > 0 {
                        money(i.cost_cents)
                    } else {
                        "Free".into()
                    },
                    i.active,
                    i.version,
                )
            })
            .collect(),
        policies: policies
            .iter()
            .map(|x| {
                let targets: Vec<String> = Priority::ALL
                    .iter()
                    .map(|pr| {
                        let t = x.targets.for_priority(*pr);
                        format!(
                            "{}: respond {}, resolve {}",
                            pr.as_str().to_ascii_uppercase(),
                            duration(t.response_minutes),
                            duration(t.resolution_minutes)
                        )
                    })
                    .collect();
                (
                    x.id.to_string(),
                    x.name.clone(),
                    match x.coverage {
                        domain::desk::Coverage::BusinessHours => "Business hours of the member",
                        domain::desk::Coverage::AlwaysOn => "Around the clock",
                    }
                    .to_owned(),
                    targets.join("; "),
                )
            })
            .collect(),
    };
    Ok(render_status(status, &page))
}

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
struct Notice {
    notice: Option<String>,
}

async fn settings_page(
    State(s): State<AppState>,
    p: Principal,
    PageQueryString(q): PageQueryString<Notice>,
) -> PageResult<Response> {
    let st = catalog::settings(&s.db).await?;
    render_settings(
        &s,
        &p,
        settings_form(&st),
        FormState::with([]),
        StatusCode::OK,
        q.notice.as_deref(),
    )
    .await
}

async fn save_settings(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let mut errors = Vec::new();
    let mut matrix = PriorityMatrix::default();
    for (r, i) in Impact::ALL.iter().enumerate() {
        for (c, u) in Urgency::ALL.iter().enumerate() {
            let name = format!("pm_{}_{}", i.as_str(), u.as_str());
            match Priority::parse(form.get(&name).map_or("", String::as_str)) {
                Ok(pr) => matrix.0[r][c] = pr,
                Err(_) => errors.push(FieldError::new(&name, "choose a priority")),
            }
        }
    }
    let reopen_days = match form.get("reopen_days").map(|v| v.trim().parse::<i64>()) {
        Some(Ok(d)) => Some(d),
        _ => {
            errors.push(FieldError::new(
                "reopen_days",
                "must be a whole number of days",
            ));
            None
        }
    };
    let attachment = match parse_mb(form.get("attachment_max_mb").map_or("", String::as_str)) {
        Ok(b) => Some(b),
        Err(e) => {
            errors.push(e);
            None
        }
    };
    let result = if errors.is_empty() {
        let raw = RawSettings {
            priority_matrix: Some(matrix),
            reopen_days,
            attachment_max_bytes: attachment,
            escalation_team_id: Some(form.get("escalation_team_id").cloned()),
        };
        let version = form.get("version").and_then(|v| v.parse().ok());
        apply_settings(&s, &p, version, &raw).await.map(|_| ())
    } else {
        Err(Failure::Invalid(errors))
    };
    match result {
        Ok(()) => Ok(Redirect::to("/desk/settings?notice=saved").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(rename(e))?;
            render_settings(
                &s,
                &p,
                st,
                FormState::with([]),
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
    }
}

/// The API's field names, as the form names them.
fn rename(f: Failure) -> Failure {
    f.map_fields(|e| match e.field.as_str() {
        "attachment_max_bytes" => FieldError::new("attachment_max_mb", e.message),
        "priority_matrix" => FieldError::new("pm_high_high", e.message),
        _ => e,
    })
}

async fn create_team(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = RawTeam {
        name: form.get("team_name").cloned(),
        description: form.get("team_description").cloned(),
        members: form
            .get("team_members")
            .map(|m| {
                m.split([',', ';', '\n'])
                    .map(str::trim)
                    .filter(|x| !x.is_empty())
                    .map(str::to_owned)
                    .collect()
            })
            .unwrap_or_default(),
    };
    match add_team(&s, &p, &raw).await {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=created#teams").into_response()),
        Err(e) => {
            // The form's fields are prefixed (it shares the page with the settings form).
            let e = e.map_fields(|x| {
                let field = if x.field.starts_with("members") {
                    "team_members".to_owned()
                } else {
                    format!("team_{}", x.field)
                };
                FieldError::new(field, x.message)
            });
            let team_form = FormState::refill(form).fail(e)?;
            let st = catalog::settings(&s.db).await?;
            render_settings(
                &s,
                &p,
                settings_form(&st),
                team_form,
                StatusCode::UNPROCESSABLE_ENTITY,
                None,
            )
            .await
        }
    }
}

#[derive(Template)]
#[template(path = "desk/mail_template.html")]
struct TemplatePage {
    f: Frame,
    form: FormState,
    event: String,
    version: i64,
    customised: bool,
    placeholders: Vec<(&'static str, &'static str)>,
}

async fn template_page(
    s: &AppState,
    p: &Principal,
    t: &store::desk::templates::MailTemplate,
    form: FormState,
    status: StatusCode,
) -> PageResult<Response> {
    let f = Frame::new(s, p, &format!("Notification: {}", t.label), "desk-settings")
        .await?
        .crumbs(&[("/desk/settings", "Desk settings")]);
    Ok(render_status(
        status,
        &TemplatePage {
            f,
            form,
            event: t.event.to_owned(),
            version: t.version,
            customised: t.customised,
            placeholders: domain::desk::template::PLACEHOLDERS.to_vec(),
        },
    ))
}

fn event(raw: &str) -> Result<store::desk::notify::Event, Failure> {
    store::desk::notify::Event::parse(raw).ok_or(Failure::NotFound)
}

async fn edit_template(
    State(s): State<AppState>,
    p: Principal,
    Path(ev): Path<String>,
) -> PageResult<Response> {
    let t = store::desk::templates::get(&s.db, event(&ev)?).await?;
    let form = FormState::with([("subject", t.subject.clone()), ("body", t.body.clone())]);
    template_page(&s, &p, &t, form, StatusCode::OK).await
}

async fn save_template(
    State(s): State<AppState>,
    p: Principal,
    Path(ev): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let raw = crate::desk::ops::desk::RawTemplate {
        subject: Some(form.get("subject").cloned().unwrap_or_default()),
        body: Some(form.get("body").cloned().unwrap_or_default()),
    };
    let version = form.get("version").and_then(|v| v.parse().ok());
    match crate::desk::ops::desk::save_template(&s, &p, &ev, version, &raw).await {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=saved#templates").into_response()),
        Err(e) => {
            let t = store::desk::templates::get(&s.db, event(&ev)?).await?;
            let st = FormState::refill(form).fail(e)?;
            template_page(&s, &p, &t, st, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn reset_template(
    State(s): State<AppState>,
    p: Principal,
    Path(ev): Path<String>,
) -> PageResult<Response> {
    store::desk::templates::reset(&s.db, &p.actor(), event(&ev)?).await?;
    Ok(Redirect::to("/desk/settings?notice=restored#templates").into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn megabytes_are_read_exactly() {
        assert_eq!(parse_mb("10").unwrap(), 10 * 1024 * 1024);
        assert_eq!(parse_mb(" 2.5 ").unwrap(), 2_621_440);
        assert_eq!(crate::download::megabytes(2_621_440), "2.5");
        assert_eq!(crate::download::megabytes(10 * 1024 * 1024), "10");
        for bad in ["", "ten", "1.25", "-1", "1e3", "99999"] {
            assert!(parse_mb(bad).is_err(), "{bad}");
        }
    }
}
