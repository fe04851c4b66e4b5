//! Service-level policies: their targets by priority, and which tickets they apply to.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::page::{FormState, Frame, render_status};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::Form;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Redirect, Response};
use domain::FieldError;
use domain::authz::Permission;
use domain::desk::Priority;
use std::collections::HashMap;
use store::desk::catalog;

pub fn routes(t: Table) -> Table {
    t.get(
        "/desk/policies/new",
        "Form to add an SLA policy",
        Needs::Perm(Permission::CatalogManage),
        new_policy,
    )
    .post(
        "/desk/policies",
        "Add an SLA policy",
        Needs::Perm(Permission::CatalogManage),
        create_policy,
    )
    .get(
        "/desk/policies/{id}",
        "Form to edit an SLA policy",
        Needs::Perm(Permission::CatalogManage),
        edit_policy,
    )
    .post(
        "/desk/policies/{id}",
        "Save an SLA policy",
        Needs::Perm(Permission::CatalogManage),
        save_policy,
    )
}

// ---------------------------------------------------------------------------------------------------
// SLA policies

/// The form names of one priority's targets.
struct TargetRow {
    label: String,
    response: String,
    resolution: String,
}

#[derive(Template)]
#[template(path = "desk/policy_form.html")]
struct PolicyPage {
    f: Frame,
    form: FormState,
    action: String,
    submit: &'static str,
    version: i64,
    creating: bool,
    coverages: Vec<(String, String)>,
    targets: Vec<TargetRow>,
}

fn target_rows() -> Vec<TargetRow> {
    Priority::ALL
        .iter()
        .enumerate()
        .map(|(i, pr)| TargetRow {
            label: pr.label().to_owned(),
            response: format!("targets_p{}_response_minutes", i + 1),
            resolution: format!("targets_p{}_resolution_minutes", i + 1),
        })
        .collect()
}

async fn policy_page(
    s: &AppState,
    p: &Principal,
    form: FormState,
    editing: Option<&catalog::SlaPolicy>,
    status: StatusCode,
) -> PageResult<Response> {
    let title = match editing {
        Some(x) => format!("Edit {}", x.name),
        None => "Add an SLA policy".to_owned(),
    };
    let f = Frame::new(s, p, &title, "desk-settings")
        .await?
        .crumbs(&[("/desk/settings", "Desk settings")]);
    Ok(render_status(
        status,
        &PolicyPage {
            f,
            form,
            action: editing.map_or_else(
                || "/desk/policies".to_owned(),
                |x| format!("/desk/policies/{}", x.id),
            ),
            submit: if editing.is_some() {
                "Save policy"
            } else {
                "Add policy"
            },
            version: editing.map_or(0, |x| x.version),
            creating: editing.is_none(),
            coverages: vec![
                (
                    "business_hours".to_owned(),
                    "Business hours of the member".to_owned(),
                ),
                ("always_on".to_owned(), "Around the clock".to_owned()),
            ],
            targets: target_rows(),
        },
    ))
}

fn policy_values(
    name: &str,
    coverage: domain::desk::Coverage,
    t: &domain::desk::SlaTargets,
) -> FormState {
    let mut st = FormState::with([
        ("name", name.to_owned()),
        ("coverage", coverage.as_str().to_owned()),
    ]);
    for (i, row) in target_rows().into_iter().enumerate() {
        st.values
            .insert(row.response, t.0[i].response_minutes.to_string());
        st.values
            .insert(row.resolution, t.0[i].resolution_minutes.to_string());
    }
    st
}

/// The policy the form describes; a target that is not a whole number is named.
fn raw_policy(
    form: &HashMap<String, String>,
) -> Result<crate::desk::ops::desk::RawPolicy, Failure> {
    let mut targets = domain::desk::SlaTargets::standard();
    let mut errors = Vec::new();
    for (i, row) in target_rows().into_iter().enumerate() {
        for (name, slot) in [
            (row.response, &mut targets.0[i].response_minutes),
            (row.resolution, &mut targets.0[i].resolution_minutes),
        ] {
            match form.get(&name).map(|v| v.trim().parse::<i64>()) {
                Some(Ok(m)) => *slot = m,
                _ => errors.push(FieldError::new(name, "must be a whole number of minutes")),
            }
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    Ok(crate::desk::ops::desk::RawPolicy {
        name: form.get("name").cloned(),
        coverage: form.get("coverage").cloned(),
        targets: Some(targets),
    })
}

/// `targets.p2` (the priority as a whole) is shown at its response target.
fn policy_fields(f: Failure) -> Failure {
    f.map_fields(|e| {
        if e.field.starts_with("targets.p") && e.field.matches('.').count() == 1 {
            FieldError::new(format!("{}.response_minutes", e.field), e.message)
        } else {
            e
        }
    })
}

async fn new_policy(State(s): State<AppState>, p: Principal) -> PageResult<Response> {
    let form = policy_values(
        "",
        domain::desk::Coverage::BusinessHours,
        &domain::desk::SlaTargets::standard(),
    );
    policy_page(&s, &p, form, None, StatusCode::OK).await
}

async fn create_policy(
    State(s): State<AppState>,
    p: Principal,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let result =
        match raw_policy(&form).and_then(|raw| crate::desk::ops::desk::parse_policy(&raw, None)) {
            Ok((name, coverage, targets)) => {
                catalog::create_policy(&s.db, &p.actor(), &name, coverage, &targets)
                    .await
                    .map_err(Failure::from)
            }
            Err(e) => Err(e),
        };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=created#policies").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(policy_fields(e))?;
            policy_page(&s, &p, st, None, StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}

async fn edit_policy(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
) -> PageResult<Response> {
    let id = id.parse().map_err(|_| Failure::NotFound)?;
    let x = catalog::get_policy(&s.db, id).await?;
    let form = policy_values(&x.name, x.coverage, &x.targets);
    policy_page(&s, &p, form, Some(&x), StatusCode::OK).await
}

async fn save_policy(
    State(s): State<AppState>,
    p: Principal,
    Path(id): Path<String>,
    Form(form): Form<HashMap<String, String>>,
) -> PageResult<Response> {
    let id = id.parse().map_err(|_| Failure::NotFound)?;
    let x = catalog::get_policy(&s.db, id).await?;
    let version = form.get("version").and_then(|v| v.parse().ok());
    let result = match raw_policy(&form)
        .and_then(|raw| crate::desk::ops::desk::parse_policy(&raw, Some(&x)))
    {
        Ok((name, coverage, targets)) => {
            catalog::update_policy(&s.db, &p.actor(), x.id, version, &name, coverage, &targets)
                .await
                .map_err(Failure::from)
        }
        Err(e) => Err(e),
    };
    match result {
        Ok(_) => Ok(Redirect::to("/desk/settings?notice=saved#policies").into_response()),
        Err(e) => {
            let st = FormState::refill(form).fail(policy_fields(e))?;
            policy_page(&s, &p, st, Some(&x), StatusCode::UNPROCESSABLE_ENTITY).await
        }
    }
}
