//! Mail notifications through a real SMTP server on 127.0.0.1 (Python's aiosmtpd, storing what it
//! receives in a Maildir), sent by the real job runner.

use crate::helpers::{OWN, TestApp, call, get, json, send};
use reqwest::Method;
use serde_json::json;
use std::path::PathBuf;
use std::process::{Child, Command, Stdio};

/// An SMTP server that keeps every message it receives in a Maildir.
pub struct SmtpSink {
    child: Child,
    pub port: u16,
    pub maildir: PathBuf,
    _dir: tempfile::TempDir,
}

impl Drop for SmtpSink {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpSink {
    pub fn start() -> Self {
        let dir = tempfile::tempdir().unwrap();
        let maildir = dir.path().join("Maildir");
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        #[allow(clippy::zombie_processes, reason = "Drop kills and waits for it")]
        let mut child = Command::new("python3")
            .args([
                "-m",
                "aiosmtpd",
                "-n",
                "-l",
                &format!("127.0.0.1:{port}"),
                "-c",
                "aiosmtpd.handlers.Mailbox",
            ])
            .arg(&maildir)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/test installs it with pip)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    child,
                    port,
                    maildir,
                    _dir: dir,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on port {port}: is it installed (pip install aiosmtpd)?");
    }

    /// Every message received so far, as raw RFC 5322 text.
    pub fn messages(&self) -> Vec<String> {
        let mut out = Vec::new();
        for sub in ["new", "cur"] {
            let Ok(entries) = std::fs::read_dir(self.maildir.join(sub)) else {
                continue;
            };
            for e in entries.flatten() {
                out.push(std::fs::read_to_string(e.path()).unwrap());
            }
        }
        out
    }

    /// The messages received, once there are at least `n` (or after five seconds, whatever came).
    pub async fn wait_for(&self, n: usize) -> Vec<String> {
        let mut messages = Vec::new();
        for _ in 0..100 {
            messages = self.messages();
            if messages.len() >= n {
                break;
            }
            tokio::time::sleep(std::time::Duration::from_millis(50)).await;
        }
        messages
    }
}

pub fn mailer(port: u16) -> civitas::notify::Mailer {
    let c = civitas::config::Config {
        smtp_url: Some(format!("smtp://127.0.0.1:{port}")),
        mail_from: "Melrose IT Service Desk <servicedesk@melrose.example.gov>".into(),
        public_url: Some("https://it.melrose.example.gov".into()),
        ..Default::default()
    };
    civitas::notify::Mailer::from_config(&c).unwrap().unwrap()
}

/// Runs due jobs until none is left.
pub async fn drain(runner: &civitas::runner::Runner) {
    for _ in 0..200 {
        if !runner.tick().await.unwrap() {
            return;
        }
    }
    panic!("the job queue did not drain");
}

fn header<'a>(msg: &'a str, name: &str) -> Option<&'a str> {
    msg.lines()
        .take_while(|l| !l.is_empty())
        .find_map(|l| l.strip_prefix(&format!("{name}: ")))
}

#[tokio::test]
async fn the_desk_mails_requesters_and_agents_and_honours_opt_outs() {
    let app = TestApp::new().await;
    let smtp = SmtpSink::start();
    let runner = civitas::runner::Runner::new(app.db.clone()).with_mailer(Some(mailer(smtp.port)));
    let (_, t) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Phones down at the library", "description": "No dial tone since 9." }),
    )
    .await;
    let n = t["number"].as_i64().unwrap();
    drain(&runner).await;
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1, "one acknowledgement: {msgs:?}");
    let ack = &msgs[0];
    assert!(
        header(ack, "Subject")
            .unwrap()
            .contains(&format!("[#{n}] Phones down at the library"))
    );
    assert!(
        header(ack, "To")
            .unwrap()
            .contains(&format!("member-staff@{OWN}.example.gov"))
    );
    assert_eq!(header(ack, "Auto-Submitted"), Some("auto-generated"));
    assert_eq!(
        header(ack, "References"),
        Some(format!("<civitas.ticket.{n}@melrose.example.gov>").as_str())
    );
    assert!(ack.contains(&format!("https://it.melrose.example.gov/tickets/{n}")));

    // The agent takes it and replies: the requester hears; the agent, who wrote it, does not.
    let agent = app.who("hub-agent").user_id.to_string();
    app.api("hub-agent", Method::PATCH, &format!("/api/v1/tickets/{n}"))
        .json(&json!({ "assignee_id": agent }))
        .send()
        .await
        .unwrap();
    app.api(
        "hub-agent",
        Method::POST,
        &format!("/api/v1/tickets/{n}/comments"),
    )
    .json(&json!({ "body": "A technician is on the way." }))
    .send()
    .await
    .unwrap();
    // An internal note mails nobody.
    app.api(
        "hub-agent",
        Method::POST,
        &format!("/api/v1/tickets/{n}/comments"),
    )
    .json(&json!({ "body": "Check the PBX first", "internal": true }))
    .send()
    .await
    .unwrap();
    drain(&runner).await;
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 2, "{msgs:#?}");
    assert!(
        msgs.iter()
            .any(|m| m.contains("A technician is on the way.")
                && header(m, "To").unwrap().contains("member-staff@"))
    );
    assert!(
        !msgs.iter().any(|m| m.contains("PBX")),
        "internal notes are never mailed"
    );

    // The requester replies: the assignee hears.
    app.api(
        "member-staff",
        Method::POST,
        &format!("/api/v1/tickets/{n}/comments"),
    )
    .json(&json!({ "body": "It is back now, thanks." }))
    .send()
    .await
    .unwrap();
    drain(&runner).await;
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 3);
    assert!(
        msgs.iter().any(
            |m| header(m, "To").unwrap().contains("hub-agent@") && m.contains("It is back now")
        )
    );

    // The requester turns off resolution mail: resolving sends nothing more.
    let (status, prefs) = send(
        &app,
        "member-staff",
        Method::PUT,
        "/api/v1/me/notifications",
        json!({ "off": ["resolved"] }),
    )
    .await;
    assert_eq!(status, 200, "{prefs}");
    app.api("hub-agent", Method::PATCH, &format!("/api/v1/tickets/{n}"))
        .json(&json!({ "status": "resolved" }))
        .send()
        .await
        .unwrap();
    drain(&runner).await;
    assert_eq!(smtp.messages().len(), 3, "opted out of resolution mail");
}

fn ingest_with(url: &str, raw: &[u8]) -> (i32, String, String) {
    use std::io::Write;
    let mut child = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["mail", "ingest"])
        .env("CIVITAS_DATABASE_URL", url)
        .env("CIVITAS_AUDIT_KEY", crate::helpers::AUDIT_KEY)
        .env(
            "CIVITAS_MAIL_FROM",
            "Melrose IT Service Desk <servicedesk@melrose.example.gov>",
        )
        .env("CIVITAS_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run civitas mail ingest");
    child.stdin.take().unwrap().write_all(raw).unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).trim().to_owned(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

fn ingest(app: &TestApp, raw: &str) -> (i32, String) {
    let (code, out, err) = ingest_with(&app.database_url, raw.as_bytes());
    assert_eq!(code, 0, "{out}{err}");
    (code, out)
}

pub(crate) fn message(from: &str, subject: &str, extra: &str, body: &str) -> String {
    format!(
        "From: {from}\r\nTo: servicedesk@melrose.example.gov\r\nSubject: {subject}\r\nMessage-ID: <{}@mail.example.gov>\r\nDate: Mon, 23 Nov 2026 09:00:00 -0500\r\nMIME-Version: 1.0\r\n{extra}Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n",
        uuid::Uuid::now_v7().simple()
    )
}

#[tokio::test]
async fn mail_becomes_tickets_and_replies_and_nothing_is_lost() {
    let app = TestApp::new().await;
    let staff = format!("member-staff@{OWN}.example.gov");
    // A new message from a person of the region opens a ticket for their member.
    let (_, out) = ingest(
        &app,
        &message(
            &staff,
            "Scanner jams",
            "",
            "The scanner in the clerk's office jams.",
        ),
    );
    let n: i64 = out
        .trim_start_matches("opened ticket #")
        .parse()
        .unwrap_or_else(|_| panic!("{out}"));
    let (_, t) = get(&app, "member-staff", &format!("/api/v1/tickets/{n}")).await;
    assert_eq!(
        (t["source"].as_str(), t["subject"].as_str()),
        (Some("email"), Some("Scanner jams"))
    );
    // A reply with [#n] in the subject, quoting the desk's mail, adds only the new text.
    let (_, out) = ingest(
        &app,
        &message(
            &staff,
            &format!("Re: [#{n}] Scanner jams"),
            "",
            "It happens on every page.\r\n\r\nOn Mon, Nov 23, 2026, Desk wrote:\r\n> Which page?\r\n",
        ),
    );
    assert_eq!(out, format!("added a reply to ticket #{n}"));
    // A reply that names the thread in References finds the ticket too.
    let (_, out) = ingest(
        &app,
        &message(
            &staff,
            "Re: the scanner",
            &format!("References: <civitas.ticket.{n}@melrose.example.gov>\r\n"),
            "Fixed itself.",
        ),
    );
    assert_eq!(out, format!("added a reply to ticket #{n}"));
    let (_, history) = get(&app, "hub-agent", &format!("/api/v1/tickets/{n}/comments")).await;
    let bodies: Vec<&str> = history["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|e| e["body"].as_str())
        .collect();
    assert!(bodies.contains(&"It happens on every page."), "{bodies:?}");
    assert!(
        !bodies.iter().any(|b| b.contains("Which page?")),
        "quoted text is cut"
    );
    // The same message again (a mail server's retry) changes nothing.
    let again = message(&staff, "Printer", "", "Out of toner");
    let (_, first) = ingest(&app, &again);
    let (_, second) = ingest(&app, &again);
    assert!(first.starts_with("opened ticket #"));
    assert_eq!(second, "already taken in (same Message-ID)");
    // Auto-replies and loops are ignored; unknown senders go to triage; a colleague cannot reply to a
    // ticket that is not theirs (triage, not a silent drop).
    let (_, out) = ingest(
        &app,
        &message(
            &staff,
            &format!("Out of office: [#{n}]"),
            "Auto-Submitted: auto-replied\r\n",
            "I am away.",
        ),
    );
    assert!(out.starts_with("ignored: Auto-Submitted"), "{out}");
    let (_, out) = ingest(
        &app,
        &message("servicedesk@melrose.example.gov", "Loop", "", "x"),
    );
    assert!(out.starts_with("ignored: a loop"), "{out}");
    let (_, out) = ingest(
        &app,
        &message("stranger@gmail.example.com", "Help", "", "Who do I call?"),
    );
    assert!(
        out.starts_with("kept for triage: stranger@gmail.example.com is not a person"),
        "{out}"
    );
    let colleague = format!("colleague@{OWN}.example.gov");
    let (_, out) = ingest(
        &app,
        &message(
            &colleague,
            &format!("Re: [#{n}] Scanner jams"),
            "",
            "Me too",
        ),
    );
    assert!(
        out.starts_with("opened ticket #"),
        "a colleague who cannot see #{n} gets a ticket of their own: {out}"
    );
    // The desk's triage list shows the stranger, with the raw message kept.
    let triage = store::desk::mail::list(
        &app.db,
        store::desk::mail::Outcome::Triage,
        false,
        &store::page::PageRequest::first(10),
    )
    .await
    .unwrap();
    assert_eq!(triage.items.len(), 1);
    let raw = store::desk::mail::raw(&app.db, &triage.items[0].id)
        .await
        .unwrap();
    assert!(String::from_utf8_lossy(&raw).contains("Who do I call?"));
}

#[tokio::test]
async fn attachments_are_kept_and_served_with_safe_headers() {
    let app = TestApp::new().await;
    let staff = format!("member-staff@{OWN}.example.gov");
    let raw = format!(
        "From: {staff}\r\nSubject: Error screenshot\r\nMessage-ID: <att-1@mail.example.gov>\r\nMIME-Version: 1.0\r\nContent-Type: multipart/mixed; boundary=XX\r\n\r\n--XX\r\nContent-Type: text/plain\r\n\r\nSee the attached page.\r\n--XX\r\nContent-Type: text/html; name=\"page.html\"\r\nContent-Disposition: attachment; filename=\"page.html\"\r\n\r\n<script>alert(1)</script>\r\n--XX--\r\n"
    );
    let (_, out) = ingest(&app, &raw);
    let n: i64 = out.trim_start_matches("opened ticket #").parse().unwrap();
    let (_, list) = get(
        &app,
        "member-staff",
        &format!("/api/v1/tickets/{n}/attachments"),
    )
    .await;
    let a = &list["items"][0];
    assert_eq!(a["filename"], "page.html");
    let id = a["id"].as_str().unwrap();
    let res = app
        .api(
            "member-staff",
            Method::GET,
            &format!("/api/v1/tickets/{n}/attachments/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let h = res.headers().clone();
    assert_eq!(
        h["content-type"], "application/octet-stream",
        "never rendered as HTML"
    );
    assert!(
        h["content-disposition"]
            .to_str()
            .unwrap()
            .starts_with("attachment;")
    );
    assert_eq!(h["x-content-type-options"], "nosniff");
    assert!(res.text().await.unwrap().contains("<script>"));
    // Someone who cannot see the ticket cannot see its files.
    let other = app
        .api(
            "other-admin",
            Method::GET,
            &format!("/api/v1/tickets/{n}/attachments/{id}"),
        )
        .send()
        .await
        .unwrap();
    assert_eq!(other.status(), 404);
}

#[tokio::test]
async fn every_sample_message_is_stored_somewhere_and_nothing_crashes() {
    let app = TestApp::new().await;
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/mail");
    let mut files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "eml"))
        .collect();
    files.sort();
    assert!(files.len() >= 50);
    let mut outcomes = std::collections::BTreeMap::new();
    for f in &files {
        let raw = std::fs::read(f).unwrap();
        let (code, out, err) = ingest_with(&app.database_url, &raw);
        assert_eq!(code, 0, "{}: {out}{err}", f.display());
        let kind = out.split([':', ' ']).next().unwrap_or("").to_owned();
        *outcomes.entry(kind).or_insert(0) += 1;
    }
    // Every message is accounted for in the ledger (duplicates of an earlier Message-ID excepted).
    let mut ledger = 0;
    for o in [
        store::desk::mail::Outcome::Triage,
        store::desk::mail::Outcome::Quarantine,
        store::desk::mail::Outcome::Ignored,
    ] {
        ledger += store::desk::mail::list(&app.db, o, true, &store::page::PageRequest::first(200))
            .await
            .unwrap()
            .items
            .len();
    }
    let duplicates = outcomes.get("already").copied().unwrap_or(0);
    assert_eq!(ledger + duplicates, files.len(), "{outcomes:?}");
    assert!(
        outcomes.get("kept").copied().unwrap_or(0) > 0
            && outcomes.get("quarantined").copied().unwrap_or(0) > 0,
        "{outcomes:?}"
    );
}

#[tokio::test]
async fn ingest_asks_for_a_retry_when_it_cannot_store() {
    // Nothing listens on port 1: the database is unreachable, so the message must not be acknowledged.
    let (code, _, err) = ingest_with(
        "postgres://civitas@127.0.0.1:1/none",
        message("a@b.gov", "x", "", "y").as_bytes(),
    );
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("retry"));
}

/// An SMTP server on 127.0.0.1 that pipes every message into `civitas mail ingest`, as a mail server's pipe
/// transport does (tests/fixtures/smtp/pipe_handler.py): 250 once stored, 451 when ingest exits 75.
struct SmtpPipe {
    child: Child,
    port: u16,
}

impl Drop for SmtpPipe {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SmtpPipe {
    fn start(database_url: &str) -> Self {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let handlers = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures/smtp");
        #[allow(clippy::zombie_processes, reason = "Drop kills and waits for it")]
        let mut child = Command::new("python3")
            .args(["-m", "aiosmtpd", "-n", "-l", &format!("127.0.0.1:{port}")])
            .args(["-c", "pipe_handler.Pipe", "--"])
            .arg(env!("CARGO_BIN_EXE_civitas"))
            .args(["mail", "ingest"])
            .env("PYTHONPATH", handlers)
            .env("CIVITAS_DATABASE_URL", database_url)
            .env("CIVITAS_AUDIT_KEY", crate::helpers::AUDIT_KEY)
            .env(
                "CIVITAS_MAIL_FROM",
                "Melrose IT Service Desk <servicedesk@melrose.example.gov>",
            )
            .env("CIVITAS_LOG", "warn")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 -m aiosmtpd (scripts/test installs it with pip)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self { child, port };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let _ = child.wait();
        panic!("aiosmtpd did not start on port {port}");
    }

    async fn send(&self, from: &str, raw: &str) -> Result<String, lettre::transport::smtp::Error> {
        use lettre::AsyncTransport;
        let smtp =
            lettre::AsyncSmtpTransport::<lettre::Tokio1Executor>::builder_dangerous("127.0.0.1")
                .port(self.port)
                .build();
        let envelope = lettre::address::Envelope::new(
            Some(from.parse().unwrap()),
            vec!["servicedesk@melrose.example.gov".parse().unwrap()],
        )
        .unwrap();
        smtp.send_raw(&envelope, raw.as_bytes())
            .await
            .map(|r| r.message().collect::<Vec<_>>().join(" "))
    }
}

#[tokio::test]
async fn mail_delivered_over_smtp_through_a_pipe_becomes_a_ticket_or_is_retried() {
    let app = TestApp::new().await;
    let staff = format!("member-staff@{OWN}.example.gov");
    let smtp = SmtpPipe::start(&app.database_url);
    let answer = smtp
        .send(
            &staff,
            &message(
                &staff,
                "Projector in room 2 flickers",
                "",
                "Since this morning.",
            ),
        )
        .await
        .expect("the message is accepted once stored");
    let number: i64 = answer
        .split("opened ticket #")
        .nth(1)
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("{answer}"));
    let (s, t) = get(&app, "member-staff", &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(
        (s, t["subject"].as_str()),
        (200, Some("Projector in room 2 flickers"))
    );

    // The database is down: the SMTP server answers 451, so the sending server keeps the message and
    // tries again later — it is never accepted and lost.
    let down = SmtpPipe::start("postgres://civitas@127.0.0.1:1/none");
    let err = down
        .send(&staff, &message(&staff, "Lost?", "", "Must not be lost."))
        .await
        .expect_err("not accepted while it cannot be stored");
    assert!(err.is_transient(), "a temporary failure (4xx): {err}");
}

#[tokio::test]
async fn the_hub_words_each_notification_itself() {
    let app = TestApp::new().await;
    let smtp = SmtpSink::start();
    let runner = civitas::runner::Runner::new(app.db.clone()).with_mailer(Some(mailer(smtp.port)));
    let put = |body: serde_json::Value| {
        app.api("hub-admin", Method::PUT, "/api/v1/mail-templates/opened")
            .json(&body)
            .send()
    };
    // Mistakes are named: an unknown placeholder, and a subject without the ticket's tag.
    let (s, e) = json(
        put(json!({ "subject": "Got it: {subject}", "body": "Hi {nmae}" }))
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(s, 422, "{e}");
    let fields: Vec<_> = e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| (x["field"].as_str().unwrap(), x["message"].as_str().unwrap()))
        .collect();
    assert_eq!(fields[0].0, "subject");
    assert!(fields[0].1.contains("[#{number}]"));
    assert_eq!(fields[1].0, "body");
    assert!(fields[1].1.contains("{nmae}"));
    // Only the catalog's managers word notifications.
    let (s, _) = send(
        &app,
        "hub-agent",
        Method::PUT,
        "/api/v1/mail-templates/opened",
        json!({ "subject": "[#{number}] x", "body": "y" }),
    )
    .await;
    assert_eq!(s, 403);
    let (s, t) = json(
        put(json!({
            "subject": "Got it [#{number}]: {subject}",
            "body": "Dear {name},\n\nThe Melrose desk has ticket #{number} ({priority}).\nDeadline: {due}\nCost: {cost}\n{link}\n"
        }))
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 200, "{t}");
    assert_eq!(t["customised"], true);

    let (_, ticket) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Badge reader", "description": "Door 3." }),
    )
    .await;
    let n = ticket["number"].as_i64().unwrap();
    drain(&runner).await;
    let msgs = smtp.messages();
    assert_eq!(msgs.len(), 1);
    assert_eq!(
        header(&msgs[0], "Subject"),
        Some(format!("Got it [#{n}]: Badge reader").as_str())
    );
    assert!(
        msgs[0].contains(&format!("The Melrose desk has ticket #{n} (P")),
        "{}",
        msgs[0]
    );
    assert!(msgs[0].contains("Deadline: due "), "{}", msgs[0]);
    assert!(msgs[0].contains("Cost: $0.00"), "{}", msgs[0]);

    // Back to the built-in wording.
    let (s, t) = call(
        &app,
        "hub-admin",
        Method::DELETE,
        "/api/v1/mail-templates/opened",
    )
    .await;
    assert_eq!((s, t["customised"].as_bool()), (200, Some(false)));
    let (_, list) = get(&app, "hub-admin", "/api/v1/mail-templates").await;
    assert_eq!(list["items"].as_array().map(Vec::len), Some(7));
    assert!(list["placeholders"].to_string().contains("account_link"));

    // The page: errors beside the field, then saved; unknown events are not found.
    let (s, page) = crate::desk::html(
        app.form(
            "hub-admin",
            "/desk/templates/resolved",
            &[("subject", "Done [#{number}]"), ("body", "Bye {nobody}")],
        )
        .send()
        .await
        .unwrap(),
    )
    .await;
    assert_eq!(s, 422);
    assert!(page.contains("body: uses {nobody}"), "{page}");
    let res = app
        .form(
            "hub-admin",
            "/desk/templates/resolved",
            &[("subject", "Done [#{number}]"), ("body", "Bye {name}")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 303);
    let res = app
        .page("hub-admin", Method::GET, "/desk/templates/no_such_event")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status().as_u16(), 404);
}

#[tokio::test]
async fn the_mail_page_shows_the_notice_its_actions_redirect_with() {
    let app = TestApp::new().await;
    // Where "Mark handled" sends the desk back to.
    let res = app
        .page(
            "hub-agent",
            Method::GET,
            "/mail?outcome=triage&notice=saved",
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    let body = res.text().await.unwrap();
    assert!(body.contains("Your changes are saved."), "{body}");
    // The page still refuses what it does not know, naming it.
    let res = app
        .page("hub-agent", Method::GET, "/mail?outcome=triage&colour=red")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let body = res.text().await.unwrap();
    assert!(
        body.contains("colour") && body.contains("<html"),
        "an error page naming it: {body}"
    );
}
