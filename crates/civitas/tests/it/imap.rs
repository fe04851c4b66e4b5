//! The IMAP poller against a real Dovecot on 127.0.0.1: messages are put in the mailbox with IMAP APPEND,
//! then `civitas mail poll` (and the server's job runner) take them in.

use crate::helpers::{OWN, TestApp, get};
use crate::mail::{drain, message};
use futures_util::StreamExt;
use std::process::{Child, Command, Stdio};

const PASSWORD: &str = "correct horse battery";

/// A Dovecot serving one user (`desk`) over plain IMAP on 127.0.0.1, from a throwaway directory.
struct Dovecot {
    child: Child,
    port: u16,
    _dir: tempfile::TempDir,
}

impl Drop for Dovecot {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn whoami(flag: &str) -> String {
    let out = Command::new("id").arg(flag).output().unwrap();
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

impl Dovecot {
    fn start() -> Self {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        // As root, Dovecot drops privileges to its own users and refuses to store mail as root; as anyone
        // else it runs as that person.
        let (internal, login, mail_user, mail_group) = if whoami("-u") == "0" {
            (
                "dovecot".into(),
                "dovenull".into(),
                "mail".into(),
                "mail".into(),
            )
        } else {
            let me = whoami("-un");
            (me.clone(), me.clone(), me, whoami("-gn"))
        };
        std::fs::set_permissions(d, std::fs::Permissions::from_mode(0o755)).unwrap();
        let mail = d.join("mail");
        std::fs::create_dir(&mail).unwrap();
        std::fs::set_permissions(&mail, std::fs::Permissions::from_mode(0o777)).unwrap();
        std::fs::write(d.join("users"), format!("desk:{{PLAIN}}{PASSWORD}\n")).unwrap();
        let d = d.display();
        let conf = format!(
            "base_dir = {d}/run\nstate_dir = {d}/state\nlog_path = {d}/dovecot.log\nprotocols = imap\n\
             listen = 127.0.0.1\nssl = no\ndisable_plaintext_auth = no\nauth_mechanisms = plain login\n\
             mail_location = maildir:{d}/mail/%u\nfirst_valid_uid = 1\nfirst_valid_gid = 1\n\
             default_internal_user = {internal}\ndefault_login_user = {login}\n\
             passdb {{\n  driver = passwd-file\n  args = scheme=PLAIN username_format=%u {d}/users\n}}\n\
             userdb {{\n  driver = static\n  args = uid={mail_user} gid={mail_group} home={d}/mail/%u\n}}\n\
             service imap-login {{\n  inet_listener imap {{\n    address = 127.0.0.1\n    port = {port}\n  }}\n\
             inet_listener imaps {{\n    port = 0\n  }}\n}}\n\
             service stats {{\n  unix_listener stats-reader {{\n    mode = 0666\n  }}\n\
             unix_listener stats-writer {{\n    mode = 0666\n  }}\n}}\n"
        );
        let conf_path = dir.path().join("dovecot.conf");
        std::fs::write(&conf_path, conf).unwrap();
        #[allow(clippy::zombie_processes, reason = "Drop kills and waits for it")]
        let mut child = Command::new("/usr/sbin/dovecot")
            .arg("-F")
            .arg("-c")
            .arg(&conf_path)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("/usr/sbin/dovecot (scripts/test installs Debian's dovecot-imapd)");
        for _ in 0..100 {
            if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
                return Self {
                    child,
                    port,
                    _dir: dir,
                };
            }
            std::thread::sleep(std::time::Duration::from_millis(50));
        }
        let _ = child.kill();
        let out = child.wait_with_output().unwrap();
        panic!(
            "dovecot did not start on port {port}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    fn url(&self, password: &str) -> String {
        format!(
            "imap://desk:{}@127.0.0.1:{}/INBOX",
            password.replace(' ', "%20"),
            self.port
        )
    }

    async fn session(&self) -> async_imap::Session<tokio::net::TcpStream> {
        let tcp = tokio::net::TcpStream::connect(("127.0.0.1", self.port))
            .await
            .unwrap();
        let mut client = async_imap::Client::new(tcp);
        client.read_response().await.unwrap().unwrap();
        client
            .login("desk", PASSWORD)
            .await
            .map_err(|e| e.0)
            .unwrap()
    }

    /// Delivers a message, optionally already read.
    async fn append(&self, raw: &str, seen: bool) {
        let mut s = self.session().await;
        s.append("INBOX", seen.then_some("(\\Seen)"), None, raw.as_bytes())
            .await
            .unwrap();
        s.logout().await.unwrap();
    }

    async fn unread(&self) -> usize {
        let mut s = self.session().await;
        s.select("INBOX").await.unwrap();
        let n = s.uid_search("UNSEEN").await.unwrap().len();
        s.logout().await.unwrap();
        n
    }

    async fn total(&self) -> usize {
        let mut s = self.session().await;
        s.select("INBOX").await.unwrap();
        let n = s
            .fetch("1:*", "FLAGS")
            .await
            .unwrap()
            .collect::<Vec<_>>()
            .await
            .len();
        s.logout().await.unwrap();
        n
    }
}

fn poll(app: &TestApp, imap_url: &str) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["mail", "poll"])
        .env("CIVITAS_DATABASE_URL", &app.database_url)
        .env("CIVITAS_AUDIT_KEY", crate::helpers::AUDIT_KEY)
        .env("CIVITAS_IMAP_URL", imap_url)
        .env(
            "CIVITAS_MAIL_FROM",
            "Melrose IT Service Desk <servicedesk@melrose.example.gov>",
        )
        .env("CIVITAS_LOG", "warn")
        .output()
        .expect("run civitas mail poll");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn the_poller_takes_unread_mail_from_a_real_imap_server() {
    let app = TestApp::new().await;
    let imap = Dovecot::start();
    let staff = format!("member-staff@{OWN}.example.gov");
    imap.append(
        &message(
            &staff,
            "Badge printer offline",
            "",
            "The badge printer at the police station is offline.",
        ),
        false,
    )
    .await;
    imap.append(
        &message(
            &staff,
            "Out of office",
            "Auto-Submitted: auto-replied\r\n",
            "I am away until Monday.",
        ),
        false,
    )
    .await;
    imap.append(
        &message(
            "stranger@example.com",
            "Question",
            "",
            "Who do I ask about permits?",
        ),
        false,
    )
    .await;
    // Read by someone already: left alone.
    imap.append(
        &message(&staff, "Already handled by phone", "", "Never mind."),
        true,
    )
    .await;
    assert_eq!(imap.unread().await, 3);

    // A wrong password: nothing taken, exit 75 so that a cron job or supervisor tries again.
    let (code, _, err) = poll(&app, &imap.url("wrong"));
    assert_eq!(code, 75, "{err}");
    assert!(err.contains("signing in"), "{err}");
    assert_eq!(imap.unread().await, 3);

    let (code, out, err) = poll(&app, &imap.url(PASSWORD));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("3 message(s) taken"), "{out}");
    assert!(out.contains("ignored"), "the auto-reply: {out}");
    assert!(out.contains("kept for triage"), "the unknown sender: {out}");
    let number: i64 = out
        .lines()
        .find_map(|l| l.split("opened ticket #").nth(1))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or_else(|| panic!("no ticket opened: {out}"));
    let (s, t) = get(&app, "member-staff", &format!("/api/v1/tickets/{number}")).await;
    assert_eq!(s, 200);
    assert_eq!(
        (t["subject"].as_str(), t["source"].as_str()),
        (Some("Badge printer offline"), Some("email"))
    );
    // Taken messages are marked read, not deleted; the read one was never taken.
    assert_eq!(imap.unread().await, 0);
    assert_eq!(imap.total().await, 4);
    let (_, list) = get(&app, "member-staff", "/api/v1/tickets?open=any&sort=newest").await;
    let subjects: Vec<_> = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["subject"].as_str())
        .collect();
    assert!(
        !subjects.contains(&"Already handled by phone"),
        "{subjects:?}"
    );

    // Polling again finds nothing new.
    let (code, out, _) = poll(&app, &imap.url(PASSWORD));
    assert_eq!(
        (code, out.contains("0 message(s) taken")),
        (0, true),
        "{out}"
    );

    // In the server, the job runner polls every minute: a reply arrives and lands on the ticket.
    imap.append(
        &message(
            &staff,
            &format!("Re: [#{number}] Badge printer offline"),
            "",
            "It is back on now, thanks.",
        ),
        false,
    )
    .await;
    let mailbox = civitas::imap::Mailbox::parse(&imap.url(PASSWORD)).unwrap();
    let runner = civitas::runner::Runner::new(app.db.clone())
        .with_imap(Some(mailbox), "servicedesk@melrose.example.gov".into());
    runner.schedule().await.unwrap();
    drain(&runner).await;
    assert_eq!(imap.unread().await, 0);
    let (_, history) = get(
        &app,
        "member-staff",
        &format!("/api/v1/tickets/{number}/comments"),
    )
    .await;
    assert!(
        history.to_string().contains("It is back on now"),
        "{history}"
    );
}
