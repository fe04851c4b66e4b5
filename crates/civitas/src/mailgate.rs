//! The mail gateway: one RFC 5322 message in, and it becomes a ticket, a reply on the right ticket, a triage
//! entry (an unknown sender, or a reply nobody may write) or a quarantined message with the reason — or it is
//! ignored when it is an auto-reply or a loop, and recorded as such. Every outcome is recorded in the mail
//! ledger; raw messages are kept for triage and quarantine. `civitas mail ingest` (a mail server's pipe) and
//! the IMAP poller both come here.

use domain::authz::{Permission, Scope, TicketView};
use domain::desk::{Impact, Source, TicketKind, TicketSubject, Urgency};
use domain::tenancy::Email;
use mail_parser::{MessageParser, MimeHeaders};
use store::Db;
use store::audit::Actor;
use store::desk::mail::{self, Outcome};
use store::desk::tickets::{self, Author, NewTicket};
use store::tenancy::users;

/// Messages above this size are quarantined (their first bytes kept) instead of parsed.
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024 * 1024;

/// What became of a message.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Ingested {
    Ticket(i64),
    Reply(i64),
    Triage(String),
    Quarantine(String),
    Ignored(String),
    /// The same Message-ID was taken in before (the mail server retried): nothing new.
    Duplicate,
}

impl std::fmt::Display for Ingested {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Ticket(n) => write!(f, "opened ticket #{n}"),
            Self::Reply(n) => write!(f, "added a reply to ticket #{n}"),
            Self::Triage(r) => write!(f, "kept for triage: {r}"),
            Self::Quarantine(r) => write!(f, "quarantined: {r}"),
            Self::Ignored(r) => write!(f, "ignored: {r}"),
            Self::Duplicate => write!(f, "already taken in (same Message-ID)"),
        }
    }
}

/// Why a message must not be answered or turned into work: auto-replies, bulk mail, bounces, our own mail.
pub fn automatic(
    headers: &dyn Fn(&str) -> Option<String>,
    from: &str,
    own: &str,
) -> Option<String> {
    if let Some(v) = headers("Auto-Submitted") {
        let v = v.trim().to_ascii_lowercase();
        if !v.is_empty() && v != "no" {
            return Some(format!("Auto-Submitted: {v}"));
        }
    }
    if let Some(v) = headers("Precedence") {
        let v = v.trim().to_ascii_lowercase();
        if ["bulk", "junk", "list", "auto_reply"].contains(&v.as_str()) {
            return Some(format!("Precedence: {v}"));
        }
    }
    if headers("X-Auto-Response-Suppress").is_some() {
        return Some("X-Auto-Response-Suppress is set (an automatic message)".into());
    }
    if headers("X-Autoreply").is_some() || headers("X-Autorespond").is_some() {
        return Some("an auto-responder's message".into());
    }
    let local = from.split('@').next().unwrap_or("").to_ascii_lowercase();
    if ["mailer-daemon", "postmaster"].contains(&local.as_str()) {
        return Some(format!("a delivery report from {from}"));
    }
    if !own.is_empty() && from.eq_ignore_ascii_case(own) {
        return Some("a loop: the message comes from the desk's own address".into());
    }
    None
}

/// The ticket a message answers: `civitas.ticket.N@` in In-Reply-To or References, else `[#N]` in the
/// subject.
pub fn ticket_reference(ids: &[String], subject: &str) -> Option<i64> {
    for id in ids {
        if let Some(rest) = id.split("civitas.ticket.").nth(1) {
            let digits: String = rest.chars().take_while(char::is_ascii_digit).collect();
            if let Ok(n) = digits.parse() {
                return Some(n);
            }
        }
    }
    let mut rest = subject;
    while let Some(i) = rest.find("[#") {
        let digits: String = rest[i + 2..]
            .chars()
            .take_while(char::is_ascii_digit)
            .collect();
        if !digits.is_empty() && rest[i + 2 + digits.len()..].starts_with(']') {
            return digits.parse().ok();
        }
        rest = &rest[i + 2..];
    }
    None
}

/// The new text of a reply: everything above the quoted message ("On … wrote:", "-----Original
/// Message-----", "From: …" after a blank line, or lines quoted with `>`).
pub fn reply_text(body: &str) -> String {
    let mut out = Vec::new();
    let lines: Vec<&str> = body.lines().collect();
    for (i, line) in lines.iter().enumerate() {
        let t = line.trim();
        let quote_intro = (t.starts_with("On ") && t.ends_with("wrote:"))
            || t.starts_with("-----Original Message-----")
            || (t.starts_with("From:")
                && i > 0
                && lines[i - 1].trim().is_empty()
                && !out.is_empty());
        if quote_intro
            || (t.starts_with('>')
                && lines[i..]
                    .iter()
                    .all(|l| l.trim().is_empty() || l.trim_start().starts_with('>')))
        {
            break;
        }
        out.push(*line);
    }
    let text = out.join("\n").trim().to_owned();
    if text.is_empty() {
        body.trim().to_owned()
    } else {
        text
    }
}

fn clip(s: &str, max: usize) -> String {
    let s: String = s
        .chars()
        .filter(|c| !c.is_control() || *c == '\n' || *c == '\t')
        .collect();
    let s = s.trim();
    if s.chars().count() <= max {
        s.to_owned()
    } else {
        s.chars().take(max).collect()
    }
}

/// Takes in one message. `Err` only when it could not be stored (the database is unreachable): the caller
/// then asks the mail server to retry.
pub async fn ingest(db: &Db, raw: &[u8], own_address: &str) -> anyhow::Result<Ingested> {
    let record = |outcome: Outcome,
                  reason: String,
                  mid: Option<String>,
                  from: String,
                  subject: String,
                  number: Option<i64>,
                  keep_raw: bool| {
        let raw = keep_raw.then(|| raw[..raw.len().min(MAX_MESSAGE_BYTES)].to_vec());
        async move {
            mail::record(
                db,
                mid.as_deref(),
                &from,
                &subject,
                outcome,
                &reason,
                number,
                raw.as_deref(),
            )
            .await?;
            Ok::<_, anyhow::Error>(reason)
        }
    };
    if raw.len() > MAX_MESSAGE_BYTES {
        let r = record(
            Outcome::Quarantine,
            format!(
                "larger than {} MiB; the first {} MiB are kept",
                MAX_MESSAGE_BYTES >> 20,
                MAX_MESSAGE_BYTES >> 20
            ),
            None,
            String::new(),
            String::new(),
            None,
            true,
        )
        .await?;
        return Ok(Ingested::Quarantine(r));
    }
    let Some(msg) = MessageParser::default().parse(raw) else {
        let r = record(
            Outcome::Quarantine,
            "not a readable RFC 5322 message: no header could be parsed".into(),
            None,
            String::new(),
            String::new(),
            None,
            true,
        )
        .await?;
        return Ok(Ingested::Quarantine(r));
    };
    let mid = msg
        .message_id()
        .map(|m| clip(m, 900))
        .filter(|m| !m.is_empty());
    if let Some(m) = &mid
        && mail::seen(db, m).await?.is_some()
    {
        return Ok(Ingested::Duplicate);
    }
    let subject = TicketSubject::clean(msg.subject().unwrap_or(""));
    let from = msg
        .from()
        .and_then(|a| a.first())
        .and_then(|a| a.address())
        .map(|a| a.trim().to_ascii_lowercase())
        .unwrap_or_default();
    if from.is_empty() {
        let r = record(
            Outcome::Quarantine,
            "no sender: the From header is missing or unreadable".into(),
            mid,
            from,
            subject,
            None,
            true,
        )
        .await?;
        return Ok(Ingested::Quarantine(r));
    }
    let header = |name: &str| msg.header_raw(name).map(str::to_owned);
    if let Some(why) = automatic(&header, &from, own_address) {
        let r = record(Outcome::Ignored, why, mid, from, subject, None, false).await?;
        return Ok(Ingested::Ignored(r));
    }
    let mut ids: Vec<String> = Vec::new();
    for v in [msg.in_reply_to(), msg.references()] {
        if let Some(list) = v.as_text_list() {
            ids.extend(list.iter().map(|s| s.to_string()));
        } else if let Some(t) = v.as_text() {
            ids.push(t.to_owned());
        }
    }
    let number = ticket_reference(&ids, &subject);
    let body = msg.body_text(0).map(|b| b.into_owned()).unwrap_or_default();
    let sender = match Email::parse(&from) {
        Ok(e) => users::find_by_email(db, &e).await?.filter(|u| u.active),
        Err(_) => None,
    };
    let Some(user) = sender else {
        let why = match number {
            Some(n) => format!("a reply to #{n} from {from}, who is not a person of the region"),
            None => format!("{from} is not a person of the region"),
        };
        let r = record(Outcome::Triage, why, mid, from, subject, number, true).await?;
        return Ok(Ingested::Triage(r));
    };
    let grants = users::grants_for_auth(db, user.id).await?;
    let view = TicketView::for_grants(&grants, user.id);
    let actor = Actor::user(user.id, &user.email);
    let attachments: Vec<(String, String, Vec<u8>)> = msg
        .attachments()
        .map(|p| {
            let ct = p
                .content_type()
                .map(|c| format!("{}/{}", c.ctype(), c.subtype().unwrap_or("octet-stream")))
                .unwrap_or_else(|| "application/octet-stream".into());
            (
                p.attachment_name().unwrap_or("attachment").to_owned(),
                ct,
                p.contents().to_vec(),
            )
        })
        .collect();
    // A reply to a ticket the sender may write on.
    if let Some(n) = number
        && let Ok(t) = tickets::get(db, &view, n).await
        && t.status != domain::desk::Status::Closed
        && !Scope::for_grants(&grants, Permission::TicketSubmit).is_empty()
    {
        let author = if Scope::for_grants(&grants, Permission::TicketWork).contains(t.org_id) {
            Author::Desk
        } else {
            Author::Member
        };
        let text = clip(&reply_text(&body), 20_000);
        let text = if text.is_empty() {
            "(no text)".to_owned()
        } else {
            text
        };
        let (_, event) = tickets::comment(db, &view, &actor, author, n, &text, true).await?;
        for (name, ct, bytes) in &attachments {
            tickets::attach(
                db,
                &view,
                &actor,
                n,
                Some(event),
                tickets::NewFile {
                    name,
                    content_type: ct,
                    bytes,
                },
            )
            .await?;
        }
        record(
            Outcome::Reply,
            String::new(),
            mid,
            from,
            subject,
            Some(n),
            false,
        )
        .await?;
        return Ok(Ingested::Reply(n));
    }
    // A new ticket, opened for the sender's organisation.
    let submit = Scope::for_grants(&grants, Permission::TicketSubmit);
    if !submit.contains(user.org_id) {
        let why = match number {
            Some(n) => format!("a reply to #{n} from {from}, who may not write on it"),
            None => {
                format!("{from} may not open tickets (no requester role in their organisation)")
            }
        };
        let r = record(Outcome::Triage, why, mid, from, subject, number, true).await?;
        return Ok(Ingested::Triage(r));
    }
    let mut description = clip(&body, 20_000);
    if let Some(n) = number {
        description = format!(
            "Follow-up to ticket #{n}, which is closed or not visible to the sender.\n\n{description}"
        );
    }
    let new = NewTicket {
        org_id: user.org_id,
        kind: TicketKind::Incident,
        subject: TicketSubject::from_mail(&subject).into_inner(),
        description: if description.is_empty() {
            "(no text)".into()
        } else {
            description
        },
        requester_id: user.id,
        department_id: None,
        site_id: None,
        service_id: None,
        catalog_item_id: None,
        form_answers: Default::default(),
        category: String::new(),
        impact: Impact::Low,
        urgency: Urgency::Medium,
        source: Source::Email,
        team_id: None,
        opened_at: None,
    };
    let t = tickets::open(db, &submit, &actor, new).await?;
    for (name, ct, bytes) in &attachments {
        tickets::attach(
            db,
            &view,
            &actor,
            t.number,
            None,
            tickets::NewFile {
                name,
                content_type: ct,
                bytes,
            },
        )
        .await?;
    }
    record(
        Outcome::Ticket,
        String::new(),
        mid,
        from,
        subject,
        Some(t.number),
        false,
    )
    .await?;
    Ok(Ingested::Ticket(t.number))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references_and_subjects_name_the_ticket() {
        assert_eq!(
            ticket_reference(&["<civitas.ticket.42.abc@melrose.example.gov>".into()], ""),
            Some(42)
        );
        assert_eq!(ticket_reference(&[], "Re: [#1234] Printer"), Some(1234));
        assert_eq!(
            ticket_reference(&[], "Re: [#] nothing [#x] and [#77]"),
            Some(77)
        );
        assert_eq!(
            ticket_reference(&["<abc@example.com>".into()], "Hello"),
            None
        );
    }

    #[test]
    fn auto_replies_bulk_mail_bounces_and_loops_are_recognised() {
        let h = |pairs: &'static [(&'static str, &'static str)]| {
            move |name: &str| {
                pairs
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(name))
                    .map(|(_, v)| (*v).to_owned())
            }
        };
        assert!(automatic(&h(&[("Auto-Submitted", "auto-replied")]), "a@b.gov", "").is_some());
        assert!(automatic(&h(&[("Auto-Submitted", "no")]), "a@b.gov", "").is_none());
        assert!(automatic(&h(&[("Precedence", "bulk")]), "a@b.gov", "").is_some());
        assert!(automatic(&h(&[("X-Auto-Response-Suppress", "All")]), "a@b.gov", "").is_some());
        assert!(automatic(&h(&[]), "MAILER-DAEMON@b.gov", "").is_some());
        assert!(automatic(&h(&[]), "desk@hub.gov", "desk@hub.gov").is_some());
        assert!(automatic(&h(&[]), "clerk@town.gov", "desk@hub.gov").is_none());
    }

    #[test]
    fn quoted_text_is_cut_from_replies() {
        let body = "It works now, thanks!\n\nOn Mon, Nov 23, 2026 at 9:00 AM Desk <desk@hub.gov> wrote:\n> Please restart.\n";
        assert_eq!(reply_text(body), "It works now, thanks!");
        let body = "Still broken.\n\n-----Original Message-----\nFrom: Desk\n";
        assert_eq!(reply_text(body), "Still broken.");
        assert_eq!(reply_text("> only a quote"), "> only a quote");
    }

    mod properties {
        use super::super::*;
        use proptest::prelude::*;

        proptest! {
            #![proptest_config(ProptestConfig::with_cases(256))]

            /// The pure parts of the gateway take any text: no panic, and a number found is in the text.
            #[test]
            fn references_and_reply_text_take_any_text(
                ids in proptest::collection::vec(any::<String>(), 0..3),
                subject in any::<String>(),
                body in any::<String>(),
            ) {
                if let Some(n) = ticket_reference(&ids, &subject) {
                    let n = n.to_string();
                    prop_assert!(subject.contains(&n) || ids.iter().any(|i| i.contains(&n)));
                }
                let text = reply_text(&body);
                prop_assert!(text.len() <= body.len());
            }

            #[test]
            fn subjects_with_a_ticket_number_anywhere_are_found(
                before in "[^\\[]{0,20}", n in 1_i64..10_000_000, after in any::<String>(),
            ) {
                prop_assert_eq!(ticket_reference(&[], &format!("{before}[#{n}]{after}")), Some(n));
            }

            #[test]
            fn automatic_mail_is_judged_from_any_headers(
                values in proptest::collection::vec(proptest::option::of(any::<String>()), 5),
                from in any::<String>(),
            ) {
                let names = ["Auto-Submitted", "Precedence", "X-Auto-Response-Suppress", "X-Autoreply", "X-Autorespond"];
                let headers = |name: &str| {
                    names.iter().position(|n| *n == name).and_then(|i| values[i].clone())
                };
                let _ = automatic(&headers, &from, "desk@example.gov");
            }

            /// The MIME parser under `civitas mail ingest` reads any bytes without panicking.
            #[test]
            fn the_message_parser_takes_any_bytes(raw in proptest::collection::vec(any::<u8>(), 0..2048)) {
                if let Some(m) = MessageParser::default().parse(&raw) {
                    let _ = (m.subject(), m.message_id(), m.from(), m.body_text(0), m.in_reply_to());
                }
            }
        }
    }
}
