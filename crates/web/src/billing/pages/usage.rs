//! Usage: importing metered usage from a CSV file.

use crate::AppState;
use crate::auth::Principal;
use crate::error::{Failure, PageResult};
use crate::page::{Frame, render};
use crate::routes::{Needs, Table};
use askama::Template;
use axum::extract::State;
use axum::response::Response;
use domain::FieldError;
use domain::authz::Permission;

pub fn routes(t: Table) -> Table {
    t.post(
        "/billing/usage/import",
        "Import usage from a CSV file (or check it first)",
        Needs::Perm(Permission::BillingManage),
        import_page,
    )
}

#[derive(Template)]
#[template(path = "billing/usage_import.html")]
pub struct ImportPage {
    pub f: Frame,
    pub dry_run: bool,
    pub file_name: String,
    pub rows: usize,
    pub accepted: u64,
    pub duplicates: u64,
    pub errors: Vec<FieldError>,
}

/// A CSV uploaded from the billing page (`multipart/form-data`: `file`, and `dry_run` to check only).
async fn import_page(
    State(s): State<AppState>,
    p: Principal,
    mut form: axum::extract::Multipart,
) -> PageResult<Response> {
    let mut file = None;
    let mut dry_run = false;
    loop {
        let field = match form.next_field().await {
            Ok(Some(f)) => f,
            Ok(None) => break,
            Err(e) => {
                return Err(
                    Failure::BadRequest(format!("the upload could not be read: {e}")).into(),
                );
            }
        };
        match field.name() {
            Some("file") => {
                let name = field.file_name().unwrap_or("").to_owned();
                let bytes = field.bytes().await.map_err(|e| {
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
        Err(Failure::Invalid(vec![FieldError::new(
            "file",
            "choose a CSV file to import",
        )]))
    } else {
        match crate::billing::ops::billing::parse_usage_csv(&bytes) {
            Ok(rows) => crate::billing::ops::billing::import_rows(&s, &p, &rows, dry_run)
                .await
                .map(|r| (rows.len(), r)),
            Err(e) => Err(e),
        }
    };
    let mut f = Frame::new(
        &s,
        &p,
        if dry_run {
            "Usage file checked"
        } else {
            "Usage imported"
        },
        "billing",
    )
    .await?;
    f.breadcrumbs = vec![("/billing".into(), "Billing".into())];
    let page = match outcome {
        Ok((rows, r)) => ImportPage {
            f,
            dry_run,
            file_name,
            rows,
            accepted: r.accepted,
            duplicates: r.duplicates,
            errors: Vec::new(),
        },
        Err(Failure::Invalid(errors)) => {
            f.title = "Usage file refused".into();
            let page = ImportPage {
                f,
                dry_run,
                file_name,
                rows: 0,
                accepted: 0,
                duplicates: 0,
                errors,
            };
            return Ok(crate::page::render_status(
                axum::http::StatusCode::UNPROCESSABLE_ENTITY,
                &page,
            ));
        }
        Err(e) => return Err(e.into()),
    };
    Ok(render(&page))
}
