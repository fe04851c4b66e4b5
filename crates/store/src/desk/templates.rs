//! The wording of each notification: the hub's own when it wrote one, the built-in text otherwise.
//! Templates use the tiny placeholder language of [`domain::desk::template`].

use super::catalog::log;
use super::notify::Event;
use crate::audit::Actor;
use crate::{Db, Result, StoreError, now_ms};
use domain::desk::template;
use domain::validation::Invalid;
use serde::Serialize;
use sqlx::Row;

pub const SUBJECT_MAX: usize = 200;
pub const BODY_MAX: usize = 10_000;

/// One event's template.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MailTemplate {
    pub event: &'static str,
    /// What the event is, as the notification settings name it.
    pub label: &'static str,
    pub subject: String,
    pub body: String,
    /// `false`: the built-in text (saving makes it the hub's own).
    pub customised: bool,
    pub version: i64,
}

const FOOTER: &str = "--\n{region} — IT Service Desk\nReply to this message to add to the ticket; keep [#{number}] in the subject.\nYou can choose which notifications you get on your account page: {account_link}";

const FACTS: &str = "  Ticket:   #{number} {subject}\n  Member:   {org}\n  Status:   {status}\n  Priority: {priority}\n  SLA:      {due}";

/// The built-in subject and body of an event.
pub fn builtin(event: Event) -> (String, String) {
    let (prefix, lead, body, action) = match event {
        Event::Opened => (
            "",
            "We have received your ticket. The service desk will reply by the time shown below.",
            "{body}\n\n",
            "Follow it here:",
        ),
        Event::DeskReply => (
            "",
            "The service desk replied to your ticket:",
            "{body}\n\n",
            "Reply to this message, or open the ticket:",
        ),
        Event::MemberReply => (
            "",
            "The requester replied:",
            "{body}\n\n",
            "Open the ticket:",
        ),
        Event::Resolved => (
            "Resolved: ",
            "Your ticket is resolved. If it is not, reply within a few days and it reopens.",
            "{body}\n\n",
            "Tell us how we did (1–5):",
        ),
        Event::ApprovalNeeded => (
            "Approval needed: ",
            "A request from your organisation costs {cost} and waits for your approval before work starts.",
            "{body}\n\n",
            "Approve or reject it here:",
        ),
        Event::SlaAtRisk => (
            "At risk: ",
            "This ticket has used 75% of its SLA target.",
            "",
            "Open the ticket:",
        ),
        Event::SlaBreached => (
            "Breached: ",
            "This ticket has missed its SLA target.",
            "",
            "Open the ticket:",
        ),
    };
    (
        format!("{prefix}[#{{number}}] {{subject}}"),
        format!("Hello {{name}},\n\n{lead}\n\n{FACTS}\n\n{body}{action}\n{{link}}\n\n{FOOTER}\n"),
    )
}

/// Every event's template, in the order of [`Event::ALL`].
pub async fn list(db: &Db) -> Result<Vec<MailTemplate>> {
    let rows = sqlx::query("SELECT event, subject, body, version FROM mail_templates")
        .fetch_all(&db.read)
        .await?;
    let mut out = Vec::new();
    for e in Event::ALL {
        let own = rows.iter().find(|r| {
            r.try_get::<String, _>("event")
                .is_ok_and(|x| x == e.as_str())
        });
        out.push(match own {
            Some(r) => MailTemplate {
                event: e.as_str(),
                label: e.label(),
                subject: r.try_get("subject")?,
                body: r.try_get("body")?,
                customised: true,
                version: r.try_get("version")?,
            },
            None => {
                let (subject, body) = builtin(e);
                MailTemplate {
                    event: e.as_str(),
                    label: e.label(),
                    subject,
                    body,
                    customised: false,
                    version: 0,
                }
            }
        });
    }
    Ok(out)
}

/// The template in effect for `event`.
pub async fn get(db: &Db, event: Event) -> Result<MailTemplate> {
    list(db)
        .await?
        .into_iter()
        .find(|t| t.event == event.as_str())
        .ok_or(StoreError::NotFound)
}

/// Checks a template: known placeholders only, and `[#{number}]` kept in the subject (replies find their
/// ticket by it).
pub fn check(subject: &str, body: &str) -> std::result::Result<(), Invalid> {
    let mut errors = Vec::new();
    if let Err(e) = template::check("subject", subject, SUBJECT_MAX) {
        errors.push(e);
    } else if !subject.contains("[#{number}]") {
        errors.push(domain::FieldError::new(
            "subject",
            "must keep [#{number}]: replies find their ticket by it",
        ));
    } else if subject.contains('\n') {
        errors.push(domain::FieldError::new("subject", "must be one line"));
    }
    if let Err(e) = template::check("body", body, BODY_MAX) {
        errors.push(e);
    }
    if errors.is_empty() {
        Ok(())
    } else {
        Err(Invalid(errors))
    }
}

/// Saves the hub's wording of an event; `version` (when given) must match the one read (0 for the built-in).
pub async fn save(
    db: &Db,
    actor: &Actor,
    event: Event,
    version: Option<i64>,
    subject: &str,
    body: &str,
) -> Result<MailTemplate> {
    check(subject, body)?;
    let before = get(db, event).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let mut tx = db.begin_write().await?;
    let n = if before.customised {
        sqlx::query("UPDATE mail_templates SET subject = $1, body = $2, updated_at = $3, version = version + 1 WHERE event = $4 AND version = $5")
            .bind(subject)
            .bind(body)
            .bind(now_ms())
            .bind(event.as_str())
            .bind(before.version)
            .execute(&mut *tx)
            .await?
            .rows_affected()
    } else {
        sqlx::query("INSERT INTO mail_templates (event, subject, body, updated_at, version) VALUES ($1, $2, $3, $4, 1) ON CONFLICT (event) DO NOTHING")
            .bind(event.as_str())
            .bind(subject)
            .bind(body)
            .bind(now_ms())
            .execute(&mut *tx)
            .await?
            .rows_affected()
    };
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = MailTemplate {
        subject: subject.to_owned(),
        body: body.to_owned(),
        customised: true,
        version: before.version + 1,
        ..before.clone()
    };
    log(
        &mut tx,
        actor,
        None,
        "mail_template.update",
        ("mail_template", event.as_str().to_owned()),
        Some(serde_json::json!({ "subject": before.subject, "body": before.body })),
        Some(serde_json::json!({ "subject": after.subject, "body": after.body })),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// Goes back to the built-in wording of an event.
pub async fn reset(db: &Db, actor: &Actor, event: Event) -> Result<MailTemplate> {
    let before = get(db, event).await?;
    if before.customised {
        let mut tx = db.begin_write().await?;
        sqlx::query("DELETE FROM mail_templates WHERE event = $1")
            .bind(event.as_str())
            .execute(&mut *tx)
            .await?;
        log(
            &mut tx,
            actor,
            None,
            "mail_template.reset",
            ("mail_template", event.as_str().to_owned()),
            Some(serde_json::json!({ "subject": before.subject, "body": before.body })),
            None,
        )
        .await?;
        tx.commit().await?;
    }
    get(db, event).await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_builtin_template_passes_its_own_checks() {
        for e in Event::ALL {
            let (subject, body) = builtin(e);
            assert!(check(&subject, &body).is_ok(), "{}", e.as_str());
        }
    }
}
