//! The `civitas` command line, run as a real process against the test database.

use crate::helpers::{OWN, TestApp};
use std::io::Write;
use std::process::{Command, Stdio};

fn civitas(app: &TestApp, args: &[&str], stdin: &str) -> (i32, String, String) {
    let mut child = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(args)
        .env("CIVITAS_DATABASE_URL", &app.database_url)
        .env("CIVITAS_AUDIT_KEY", crate::helpers::AUDIT_KEY)
        .env("CIVITAS_LOG", "warn")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run civitas");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(stdin.as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into(),
        String::from_utf8_lossy(&out.stderr).into(),
    )
}

#[tokio::test]
async fn user_add_and_token_create_then_the_token_works() {
    let app = TestApp::new().await;
    let (code, out, err) = civitas(
        &app,
        &[
            "user",
            "add",
            "--org",
            OWN,
            "--email",
            "Kim@North-Reading.example.gov",
            "--name",
            "Kim Lee",
            "--role",
            "member-admin",
        ],
        "a-good-long-password\n",
    );
    assert_eq!(code, 0, "{out}{err}");
    let (code, token, err) = civitas(
        &app,
        &[
            "token",
            "create",
            "--email",
            "kim@north-reading.example.gov",
            "--name",
            "script",
        ],
        "",
    );
    assert_eq!(code, 0, "{err}");
    let res = app
        .client
        .get(app.url("/api/v1/me"))
        .bearer_auth(token.trim())
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
}

#[tokio::test]
async fn bad_arguments_are_named() {
    let app = TestApp::new().await;
    let (code, _, err) = civitas(
        &app,
        &[
            "user", "add", "--org", OWN, "--email", "x@y.gov", "--name", "X", "--role", "mayor",
        ],
        "a-good-long-password\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--role"), "{err}");
    let (code, _, err) = civitas(
        &app,
        &[
            "user",
            "add",
            "--org",
            "atlantis",
            "--email",
            "x@y.gov",
            "--name",
            "X",
            "--role",
            "member-staff",
        ],
        "a-good-long-password\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--org"), "{err}");
    let (code, _, err) = civitas(
        &app,
        &[
            "user",
            "add",
            "--org",
            OWN,
            "--email",
            "x@y.gov",
            "--name",
            "X",
            "--role",
            "member-staff",
        ],
        "short\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("password"), "{err}");
    let (code, _, err) = civitas(
        &app,
        &[
            "user",
            "add",
            "--org",
            OWN,
            "--email",
            "x@y.gov",
            "--name",
            "X",
            "--role",
            "hub-admin",
        ],
        "a-good-long-password\n",
    );
    assert_ne!(code, 0);
    assert!(err.contains("--role") && err.contains("hub"), "{err}");
}

#[tokio::test]
async fn audit_verify_backup_and_restore_from_the_command_line() {
    let app = TestApp::new().await;
    let (code, out, err) = civitas(&app, &["audit", "verify"], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("intact"));
    assert!(out.contains("0 legacy"), "{out}");
    // An outside record of the head, checked later.
    let (code, head, err) = civitas(&app, &["audit", "head"], "");
    assert_eq!(code, 0, "{err}");
    let head = head.trim().to_owned();
    assert!(head.parse::<domain::audit::Checkpoint>().is_ok(), "{head}");
    let (code, out, err) = civitas(&app, &["audit", "verify", "--expect-head", &head], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains(&head), "{out}");
    let (code, _, err) = civitas(&app, &["audit", "verify", "--expect-head", "nonsense"], "");
    assert_ne!(code, 0);
    assert!(err.contains("HASH:COUNT"), "{err}");
    // Without the installation's key, verify says so rather than making one up.
    let out = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["audit", "verify"])
        .env("CIVITAS_DATABASE_URL", &app.database_url)
        .env(
            "CIVITAS_DATA_DIR",
            tempfile::tempdir().unwrap().path().join("none"),
        )
        .env_remove("CIVITAS_AUDIT_KEY")
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    assert!(String::from_utf8_lossy(&out.stderr).contains("audit_key"));
    // A wrong key: nothing verifies.
    let out = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["audit", "verify"])
        .env("CIVITAS_DATABASE_URL", &app.database_url)
        .env("CIVITAS_AUDIT_KEY", "w".repeat(40))
        .output()
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("NOT intact") && err.contains("seal"), "{err}");
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("backup.jsonl");
    let (code, out, err) = civitas(&app, &["backup", file.to_str().unwrap()], "");
    assert_eq!(code, 0, "{err}");
    assert!(out.contains("backed up"));
    let (code, _, err) = civitas(&app, &["restore", file.to_str().unwrap()], "");
    assert_ne!(code, 0, "restoring over a database with data is refused");
    assert!(err.contains("not empty"), "{err}");
}

#[tokio::test]
async fn audit_verify_names_the_head_not_an_entry_when_only_the_heads_seal_is_wrong() {
    let app = TestApp::new().await;
    // The chain is left alone; only the head's seal is replaced (audit_head has no trigger).
    let pool = sqlx::AnyPool::connect(&app.database_url).await.unwrap();
    sqlx::query("UPDATE audit_head SET mac = $1")
        .bind("0".repeat(64))
        .execute(&pool)
        .await
        .unwrap();
    pool.close().await;
    let (code, _, err) = civitas(&app, &["audit", "verify"], "");
    assert_ne!(code, 0);
    assert!(
        err.contains("the seal of the audit head does not match")
            && err.contains("the head was altered")
            && err.contains("the audit key is not this installation's"),
        "{err}"
    );
    assert!(!err.contains("first at entry"), "no entry is wrong: {err}");
    assert!(err.contains("chains correctly"), "{err}");
}

#[test]
fn configuration_errors_name_the_key_and_exit_78() {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("civitas.toml");
    std::fs::write(&file, "bind = \"not an address\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(String::from_utf8_lossy(&out.stderr).contains("bind"));
    std::fs::write(&file, "bnid = \"127.0.0.1:1\"\n").unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["--config", file.to_str().unwrap(), "migrate"])
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(78));
    assert!(
        String::from_utf8_lossy(&out.stderr).contains("bnid"),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .arg("--help")
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    for cmd in [
        "serve", "demo", "migrate", "user", "token", "audit", "backup", "restore",
    ] {
        assert!(help.contains(cmd), "--help documents {cmd}");
    }
}

#[test]
fn serve_demo_prints_the_url_and_sign_ins_and_stops_gracefully() {
    let dir = tempfile::tempdir().unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args(["serve", "--demo", "--bind", "127.0.0.1:0"])
        .env("CIVITAS_DATA_DIR", dir.path())
        .env_remove("CIVITAS_DATABASE_URL")
        .env("CIVITAS_LOG", "warn")
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    let mut seen = String::new();
    let mut url = None;
    for line in lines.by_ref().take(20) {
        let line = line.unwrap();
        if let Some(u) = line.split_whitespace().find(|w| w.starts_with("http://")) {
            url = Some(u.to_owned());
        }
        seen.push_str(&line);
        seen.push('\n');
        if line.contains("auditor@north-reading") {
            break;
        }
    }
    let url = url.unwrap_or_else(|| panic!("no URL printed:\n{seen}"));
    assert!(
        seen.contains("admin@melrose.example.gov") && seen.contains("civitas-demo-2026"),
        "{seen}"
    );
    let rt = tokio::runtime::Runtime::new().unwrap();
    let body = rt.block_on(async {
        reqwest::get(format!("{url}/readyz"))
            .await
            .unwrap()
            .text()
            .await
            .unwrap()
    });
    assert_eq!(body, "ready");
    // SIGTERM: the server finishes and exits cleanly.
    Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "exit status {status:?}");
}
