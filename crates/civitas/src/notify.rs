//! Mail notifications: renders the `desk.notify` jobs the store queues (one per event) into plain-text mail
//! and sends it over SMTP. Without an SMTP server configured, notifications are skipped (and logged).
//!
//! Every message carries `[#number]` in its subject and a `References` header naming the ticket's thread,
//! so replies find their ticket through `civitas mail ingest`; and `Auto-Submitted: auto-generated`
//! (RFC 3834), so well-behaved auto-responders do not answer and loops cannot start.

use crate::config::Config;
use anyhow::Context;
use lettre::message::header::{ContentType, HeaderName, HeaderValue};
use lettre::message::{Mailbox, Message};
use lettre::{AsyncSmtpTransport, AsyncTransport, Tokio1Executor};
use store::Db;
use store::desk::notify::{self, Event};

/// An SMTP connection pool and the addresses mail is written with.
#[derive(Clone)]
pub struct Mailer {
    transport: AsyncSmtpTransport<Tokio1Executor>,
    from: Mailbox,
    public_url: String,
    region: String,
}

impl Mailer {
    /// `None` when no SMTP server is configured.
    pub fn from_config(c: &Config) -> anyhow::Result<Option<Self>> {
        let Some(url) = &c.smtp_url else {
            return Ok(None);
        };
        let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url)
            .context("smtp_url")?
            .timeout(Some(std::time::Duration::from_secs(20)))
            .build();
        Ok(Some(Self {
            transport,
            from: c.mail_from.parse().context("mail_from")?,
            public_url: c.public_url(),
            region: c.region_name.clone(),
        }))
    }

    fn domain(&self) -> &str {
        self.from.email.domain()
    }
}

/// The thread id of a ticket's mail: every notification `References` it, and the mail gateway reads the
/// ticket number back out of it.
pub fn thread_id(number: i64, domain: &str) -> String {
    format!("<civitas.ticket.{number}@{domain}>")
}

/// Runs one `desk.notify` job: who gets what, then one message each.
pub async fn run(
    db: &Db,
    mailer: Option<&Mailer>,
    payload: &serde_json::Value,
) -> anyhow::Result<()> {
    let number = payload
        .get("number")
        .and_then(serde_json::Value::as_i64)
        .context("payload.number")?;
    let event = payload
        .get("event")
        .and_then(|v| v.as_str())
        .and_then(Event::parse)
        .context("payload.event")?;
    let actor = payload
        .get("actor")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok());
    let Some(m) = mailer else {
        tracing::debug!(
            number,
            event = event.as_str(),
            "no smtp_url configured: notification not sent"
        );
        return Ok(());
    };
    let (t, people) = notify::recipients(db, number, event, actor).await?;
    if people.is_empty() {
        return Ok(());
    }
    // The newest public text of the ticket, for replies and resolutions.
    let body = match event {
        Event::DeskReply | Event::MemberReply | Event::Resolved => {
            let view = domain::authz::TicketView {
                all: store::Scope::Region,
                own: store::Scope::Orgs(Default::default()),
                user: domain::ids::UserId::new(),
                internal: false,
            };
            store::desk::tickets::history(db, &view, number)
                .await?
                .into_iter()
                .rev()
                .find_map(|e| {
                    e.body
                        .filter(|_| e.kind == store::desk::tickets::EventKind::Reply)
                })
                .unwrap_or_default()
        }
        Event::Opened | Event::ApprovalNeeded => t.description.clone(),
        Event::SlaAtRisk | Event::SlaBreached => String::new(),
    };
    let org = store::desk::tickets::org_labels(db, &[t.org_id])
        .await?
        .remove(&t.org_id);
    let tz = org
        .as_ref()
        .map_or("America/New_York", |o| o.time_zone.as_str())
        .to_owned();
    let due = t
        .sla
        .next_due_at
        .map(|d| format!("due {}", web::page::local_time(d, &tz)))
        .unwrap_or_default();
    let tpl = store::desk::templates::get(db, event).await?;
    let link = format!("{}/tickets/{number}", m.public_url);
    let account_link = format!("{}/account", m.public_url);
    let org_name = org.as_ref().map(|o| o.name.clone()).unwrap_or_default();
    let cost = money(t.cost_cents);
    for p in people {
        let value = |name: &str| -> String {
            match name {
                "name" => p.name.clone(),
                "number" => number.to_string(),
                "subject" => t.subject.clone(),
                "org" => org_name.clone(),
                "status" => t.status.label().to_owned(),
                "priority" => t.priority.label().to_owned(),
                "due" => due.clone(),
                "cost" => cost.clone(),
                "body" => body.clone(),
                "link" => link.clone(),
                "account_link" => account_link.clone(),
                "region" => m.region.clone(),
                _ => String::new(),
            }
        };
        let text = domain::desk::template::render(&tpl.body, value);
        // One line, whatever the ticket's subject holds.
        let subject =
            domain::desk::template::render(&tpl.subject, value).replace(['\r', '\n'], " ");
        let to: Mailbox =
            match format!("{} <{}>", p.name.replace(['<', '>', '"'], ""), p.email).parse() {
                Ok(mb) => mb,
                Err(e) => {
                    tracing::warn!(email = %p.email, error = %e, "skipping an unusable address");
                    continue;
                }
            };
        let thread = thread_id(number, m.domain());
        let msg = Message::builder()
            .from(m.from.clone())
            .to(to)
            .subject(subject)
            .message_id(Some(format!(
                "<civitas.ticket.{number}.{}@{}>",
                uuid::Uuid::now_v7().simple(),
                m.domain()
            )))
            .in_reply_to(thread.clone())
            .references(thread)
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("Auto-Submitted"),
                "auto-generated".into(),
            ))
            .raw_header(HeaderValue::new(
                HeaderName::new_from_ascii_str("X-Auto-Response-Suppress"),
                "All".into(),
            ))
            .header(ContentType::TEXT_PLAIN)
            .body(text)?;
        m.transport
            .send(msg)
            .await
            .with_context(|| format!("sending to {}", p.email))?;
    }
    Ok(())
}

/// What an invitation shows when no mail server is configured on the server that ran its job.
pub const NO_MAILER: &str = "No mail server is configured (smtp_url): resend it once mail works.";

/// Mails an invitation (an `account.invite` job): a fresh token is made now, so the only copy of it is in
/// this message. The invitation records how it went: sent, or why not — without SMTP nothing is made or
/// sent and the job is done, as for every other mail, but the invitation shows "not sent" so its
/// administrator can resend it; a refusal by the mail server is recorded too, and the job retries.
pub async fn invitation(
    db: &Db,
    mailer: Option<&Mailer>,
    payload: &serde_json::Value,
) -> anyhow::Result<()> {
    use store::tenancy::invitations;
    let id: domain::ids::InvitationId = payload
        .get("invitation")
        .and_then(|v| v.as_str())
        .and_then(|s| s.parse().ok())
        .context("payload.invitation")?;
    let Some(m) = mailer else {
        tracing::warn!(invitation = %id, "no smtp_url configured: invitation not mailed");
        invitations::mark_unsent(db, id, NO_MAILER).await?;
        return Ok(());
    };
    let Some(issued) = invitations::issue_token(db, id).await? else {
        return Ok(());
    };
    let msg = invitation_message(m, &issued)?;
    if let Err(e) = m.transport.send(msg).await {
        invitations::mark_unsent(db, id, &format!("The mail server did not take it: {e}")).await?;
        return Err(anyhow::Error::new(e).context(format!(
            "sending the invitation to {}",
            issued.invitation.email
        )));
    }
    invitations::mark_sent(db, id).await?;
    Ok(())
}

/// The invitation's mail: who invites, to what role, the link and until when it works.
pub fn invitation_message(
    m: &Mailer,
    issued: &store::tenancy::invitations::Issued,
) -> anyhow::Result<Message> {
    let inv = &issued.invitation;
    let to: Mailbox = inv.email.parse().context("the invitation's address")?;
    let ends = web::page::local_time(inv.expires_at, "America/New_York");
    let text = format!(
        "You are invited to join {org} in {region} as {role}.\n\n\
         To accept, open this link (it works once, until {ends}):\n\n{url}/invitations/{token}\n\n\
         If you already have an account with this address, you sign in with your password there; if not, you \
         choose a name and a password.\n\n\
         If you did not expect this, ignore this message: nothing happens unless you accept.\n",
        org = issued.org_name,
        region = m.region,
        role = inv.role.label(),
        url = m.public_url,
        token = issued.token,
    );
    Ok(Message::builder()
        .from(m.from.clone())
        .to(to)
        .subject(
            format!("Invitation to join {} in {}", issued.org_name, m.region)
                .replace(['\r', '\n'], " "),
        )
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(text)?)
}

/// Reminds the requester of an architecture exception that it ends soon (already recorded as sent by
/// `store::architecture::due_reminders`; without SMTP or an address, the record in the audit log stands).
pub async fn exception_reminder(
    mailer: Option<&Mailer>,
    r: &store::architecture::Reminder,
) -> anyhow::Result<()> {
    let (Some(m), Some(email)) = (mailer, r.email.as_deref()) else {
        tracing::debug!(exception = %r.exception.id, "no smtp_url or address: reminder recorded, not mailed");
        return Ok(());
    };
    let x = &r.exception;
    let ends = x.expires_on.map(|d| d.to_string()).unwrap_or_default();
    let to: Mailbox = match email.parse() {
        Ok(mb) => mb,
        Err(e) => {
            tracing::warn!(%email, error = %e, "skipping an unusable address");
            return Ok(());
        }
    };
    let text = format!(
        "The exception \"{}\" for {} to the standard {} ends on {ends}, in {} days.\n\n\
         Move the item to the standard before then, or ask for a new exception with the reason it is still \
         needed:\n{}/architecture/exceptions/{}\n\n{}\n",
        x.title, x.org_name, x.standard_name, r.days, m.public_url, x.id, m.region
    );
    let msg = Message::builder()
        .from(m.from.clone())
        .to(to)
        .subject(format!("Exception ends {ends}: {}", x.title).replace(['\r', '\n'], " "))
        .raw_header(HeaderValue::new(
            HeaderName::new_from_ascii_str("Auto-Submitted"),
            "auto-generated".into(),
        ))
        .header(ContentType::TEXT_PLAIN)
        .body(text)?;
    m.transport
        .send(msg)
        .await
        .with_context(|| format!("sending to {email}"))?;
    Ok(())
}

fn money(cents: i64) -> String {
    format!("${}.{:02}", web::page::fmt_int(cents / 100), cents % 100)
}
