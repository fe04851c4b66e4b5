//! Mail notifications through a real SMTP server on 127.0.0.1 (Python's aiosmtpd, storing what it
//! receives in a Maildir), sent by the real job runner.

use crate::helpers::{OWN, TestApp, json};
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
    let (_, t) = json(
        app.api("member-staff", Method::POST, "/api/v1/tickets")
            .json(&json!({ "subject": "Phones down at the library", "description": "No dial tone since 9." }))
            .send()
            .await
            .unwrap(),
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
    let (status, prefs) = json(
        app.api("member-staff", Method::PUT, "/api/v1/me/notifications")
            .json(&json!({ "off": ["resolved"] }))
            .send()
            .await
            .unwrap(),
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
