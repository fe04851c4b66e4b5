//! Accounts and credentials as an attacker meets them (issue 13): sign-in throttling by account and by
//! client address, forwarded headers only from trusted proxies, password rules, replayed answers only to
//! live credentials, revoking tokens with a password change, `/metrics` access, bidi controls.

use crate::helpers::{OWN, PASSWORD, TestApp, fields, json, send};
use reqwest::Method;
use serde_json::json;

async fn sign_in_form(app: &TestApp) -> (String, String) {
    let res = app.client.get(app.url("/sign-in")).send().await.unwrap();
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            let v = v.to_str().ok()?;
            v.strip_prefix("civitas_csrf=")
                .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
        })
        .unwrap();
    (cookie.clone(), cookie)
}

/// A sign-in through the form, optionally with an `X-Forwarded-For` header.
async fn sign_in(
    app: &TestApp,
    email: &str,
    password: &str,
    forwarded_for: Option<&str>,
) -> reqwest::Response {
    let (cookie, csrf) = sign_in_form(app).await;
    let mut req = app
        .client
        .post(app.url("/sign-in"))
        .header("cookie", format!("civitas_csrf={cookie}"));
    if let Some(f) = forwarded_for {
        req = req.header("x-forwarded-for", f);
    }
    req.form(&[
        ("_csrf", csrf.as_str()),
        ("email", email),
        ("password", password),
    ])
    .send()
    .await
    .unwrap()
}

const STAFF: &str = "member-staff@north-reading.example.gov";
const ADMIN: &str = "member-admin@north-reading.example.gov";

#[tokio::test]
async fn a_locked_account_answers_429_with_retry_after_and_locks_no_other_account() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        assert_eq!(
            sign_in(&app, STAFF, "not-the-password", None)
                .await
                .status(),
            422
        );
    }
    let res = sign_in(&app, STAFF, PASSWORD, None).await;
    assert_eq!(res.status(), 429, "even the right password waits");
    let retry: i64 = res.headers()["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    assert!((800..=901).contains(&retry), "{retry}");
    let html = res.text().await.unwrap();
    assert!(html.contains("too many failed sign-ins"), "{html}");
    assert!(html.contains("name=\"email\""), "the form is shown again");
    // From the same address, another person signs in at once: five failures lock one account only.
    assert_eq!(sign_in(&app, ADMIN, PASSWORD, None).await.status(), 303);
}

#[tokio::test]
async fn a_forged_forwarded_for_does_not_escape_the_address_throttle() {
    let app = TestApp::new().await;
    // Spraying: a different account and a different forged header on every try, from one client.
    for i in 0..20 {
        let res = sign_in(
            &app,
            &format!("nobody{i}@north-reading.example.gov"),
            "guess-guess-guess",
            Some(&format!("198.51.100.{i}")),
        )
        .await;
        assert_eq!(res.status(), 422, "try {i}");
    }
    let res = sign_in(&app, STAFF, PASSWORD, Some("203.0.113.99")).await;
    assert_eq!(
        res.status(),
        429,
        "the header is not believed from a peer that is not a trusted proxy"
    );
    assert!(res.headers().contains_key("retry-after"));
}

#[tokio::test]
async fn behind_a_trusted_proxy_each_client_address_is_throttled_apart() {
    let app = TestApp::with_web(|c| {
        c.trusted_proxies =
            domain::net::Cidr::parse_list("trusted_proxies", "127.0.0.1/32").unwrap();
    })
    .await;
    for i in 0..20 {
        // The client's own (forged) entries come first; the proxy appends the address it saw.
        let res = sign_in(
            &app,
            &format!("nobody{i}@north-reading.example.gov"),
            "guess-guess-guess",
            Some(&format!("10.9.9.{i}, 198.51.100.7")),
        )
        .await;
        assert_eq!(res.status(), 422, "try {i}");
    }
    assert_eq!(
        sign_in(&app, STAFF, PASSWORD, Some("198.51.100.7"))
            .await
            .status(),
        429,
        "the sprayer's address is throttled whatever it writes to the left"
    );
    assert_eq!(
        sign_in(&app, STAFF, PASSWORD, Some("198.51.100.8"))
            .await
            .status(),
        303,
        "another client behind the same proxy is not"
    );
}

#[tokio::test]
async fn the_password_change_refuses_weak_passwords_and_says_why() {
    let app = TestApp::new().await;
    for (new, why) in [
        ("aaaaaaaaaaaa", "repeated pattern"),
        ("password1234", "too common"),
        ("            ", "only spaces"),
        (
            "member-staff@north-reading.example.gov",
            "your email address",
        ),
        ("short", "at least 12 characters"),
    ] {
        let res = app
            .form(
                "member-staff",
                "/account/password",
                &[("current_password", PASSWORD), ("new_password", new)],
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 422, "{new:?}");
        let html = res.text().await.unwrap();
        assert!(html.contains(why), "{new:?}: {html}");
    }
    // The same rule on the API's user creation (the hub's administrator creates accounts; a member's
    // invites, and the person chooses the password when accepting, under the same rule).
    let (status, body) = send(
        &app,
        "hub-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/users"),
        json!({ "email": "kim@north-reading.example.gov", "name": "Kim Lee", "role": "member-staff", "password": "Password1234!" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["password"]);
    assert!(body.to_string().contains("too common"), "{body}");
}

async fn token_works(app: &TestApp, token: &str) -> bool {
    app.client
        .get(app.url("/api/v1/me"))
        .bearer_auth(token)
        .send()
        .await
        .unwrap()
        .status()
        == 200
}

#[tokio::test]
async fn a_password_change_revokes_api_tokens_when_asked() {
    let app = TestApp::new().await;
    // The form offers the choice, checked.
    let html = app
        .page("member-staff", Method::GET, "/account")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Also revoke my API tokens"));
    assert!(
        html.contains("name=\"revoke_tokens\" value=\"on\" checked"),
        "{html}"
    );
    // Unchecked: the tokens keep working.
    let res = app
        .form(
            "member-admin",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another-long-passphrase"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert!(token_works(&app, &app.who("member-admin").token).await);
    // Checked: every token of the person stops at once.
    let res = app
        .form(
            "member-staff",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another-long-passphrase"),
                ("revoke_tokens", "on"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        res.headers()["location"],
        "/account?notice=password-and-tokens"
    );
    assert!(!token_works(&app, &app.who("member-staff").token).await);
    assert!(token_works(&app, &app.who("colleague").token).await);
}

#[tokio::test]
async fn a_revoked_token_gets_no_replayed_answer() {
    let app = TestApp::new().await;
    let (status, created) = send(
        &app,
        "member-admin",
        Method::POST,
        "/api/v1/tokens",
        json!({ "name": "script" }),
    )
    .await;
    assert_eq!(status, 201);
    let token = created["token"].as_str().unwrap().to_owned();
    let path = format!("/api/v1/orgs/{OWN}/departments");
    let post = || {
        app.client
            .post(app.url(&path))
            .bearer_auth(&token)
            .header("idempotency-key", "k-revoked")
            .json(&json!({ "name": "Assessors" }))
            .send()
    };
    assert_eq!(post().await.unwrap().status(), 201);
    let replay = post().await.unwrap();
    assert_eq!(replay.status(), 201);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let (status, _) = send(
        &app,
        "member-admin",
        Method::DELETE,
        &format!("/api/v1/tokens/{}", created["id"].as_str().unwrap()),
        json!({}),
    )
    .await;
    assert_eq!(status, 204);
    let after = post().await.unwrap();
    assert_eq!(
        after.status(),
        401,
        "authenticated before anything is replayed"
    );
    assert!(!after.headers().contains_key("idempotent-replayed"));
    // The same key through the person's other credential is that credential's own: it runs, and is refused
    // as a duplicate name rather than answered with the first token's response.
    let other = app
        .api("member-admin", Method::POST, &path)
        .header("idempotency-key", "k-revoked")
        .json(&json!({ "name": "Assessors" }))
        .send()
        .await
        .unwrap();
    assert!(!other.headers().contains_key("idempotent-replayed"));
}

#[tokio::test]
async fn metrics_can_require_a_token() {
    let app =
        TestApp::with_web(|c| c.metrics_token = Some("metrics-secret-0123456789".into())).await;
    let get = |auth: Option<&'static str>| {
        let mut r = app.client.get(app.url("/metrics"));
        if let Some(a) = auth {
            r = r.header("authorization", a);
        }
        r.send()
    };
    assert_eq!(get(None).await.unwrap().status(), 401);
    assert_eq!(get(Some("Bearer wrong")).await.unwrap().status(), 401);
    let ok = get(Some("Bearer metrics-secret-0123456789")).await.unwrap();
    assert_eq!(ok.status(), 200);
    assert!(ok.text().await.unwrap().contains("civitas_http_request"));
}

#[tokio::test]
async fn metrics_can_have_a_listener_of_their_own() {
    let app = TestApp::with_web(|c| c.metrics_on_main = false).await;
    let main = app.client.get(app.url("/metrics")).send().await.unwrap();
    assert_eq!(main.status(), 404, "not on the public listener");
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let state = web::AppState::new(
        app.db.clone(),
        web::WebConfig {
            metrics_on_main: false,
            ..Default::default()
        },
    );
    tokio::spawn(crate::helpers::serve(listener, web::metrics_app(state)));
    let res = app
        .client
        .get(format!("http://{addr}/metrics"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(res.text().await.unwrap().contains("civitas_http_request"));
}

#[tokio::test]
async fn bidi_controls_are_refused_in_single_line_fields_naming_the_field() {
    let app = TestApp::new().await;
    let (status, body) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "Invoice \u{202E}fdp.exe", "description": "Please pay \u{202E}this", "impact": "low" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["subject"], "the description may carry them");
    let (status, body) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/users"),
        json!({ "email": "kim@north-reading.example.gov", "name": "Kim \u{2067}Lee", "role": "member-staff" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["name"]);
    let (status, body) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/departments"),
        json!({ "name": "Assessors\u{200F}" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["name"]);
    let (status, _) = send(
        &app,
        "member-staff",
        Method::POST,
        "/api/v1/tickets",
        json!({ "subject": "מדפסת תקועה — printer jam", "description": "x", "impact": "low" }),
    )
    .await;
    assert_eq!(status, 201, "right-to-left writing itself is fine");
}

#[tokio::test]
async fn the_cli_applies_the_same_password_rule() {
    let app = TestApp::new().await;
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_civitas"))
        .args([
            "user",
            "add",
            "--org",
            OWN,
            "--email",
            "kim@north-reading.example.gov",
            "--name",
            "Kim Lee",
            "--role",
            "member-staff",
        ])
        .env("CIVITAS_DATABASE_URL", &app.database_url)
        .env("CIVITAS_LOG", "warn")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .and_then(|mut c| {
            use std::io::Write;
            c.stdin.take().unwrap().write_all(b"kim.lee.kim.lee\n")?;
            c.wait_with_output()
        })
        .unwrap();
    assert_ne!(out.status.code(), Some(0));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("password") && err.contains("your name"),
        "{err}"
    );
}

async fn grant(app: &TestApp, who: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    send(
        app,
        who,
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/grants"),
        body,
    )
    .await
}

fn keys(v: &serde_json::Value) -> Vec<String> {
    let mut k: Vec<String> = v
        .as_object()
        .map(|o| o.keys().cloned().collect())
        .unwrap_or_default();
    k.sort();
    k
}

#[tokio::test]
async fn a_member_admin_invites_rather_than_pulls_in_and_learns_nothing_about_other_members() {
    let app = TestApp::new().await;
    let elsewhere = grant(
        &app,
        "member-admin",
        json!({ "email": "other-admin@stoneham.example.gov", "role": "member-staff" }),
    )
    .await;
    let unknown = grant(
        &app,
        "member-admin",
        json!({ "email": "no-such-person@wakefield.example.gov", "role": "member-staff" }),
    )
    .await;
    assert_eq!(elsewhere.0, 202, "{}", elsewhere.1);
    assert_eq!(unknown.0, 202, "{}", unknown.1);
    assert_eq!(keys(&elsewhere.1), ["invitation"]);
    assert_eq!(
        keys(&elsewhere.1["invitation"]),
        keys(&unknown.1["invitation"]),
        "the same answer whether or not the address has an account"
    );
    for field in ["user_id", "user_name", "name"] {
        assert!(elsewhere.1["invitation"].get(field).is_none(), "{field}");
    }
    // Nobody was pulled in: the other member's administrator has no role here.
    let other = app.who("other-admin").user_id;
    let grants = store::tenancy::users::grants_of(&app.db, other)
        .await
        .unwrap();
    assert!(
        grants.iter().all(|g| g.org_id != app.orgs[OWN]),
        "{grants:?}"
    );
    // By id, another member's person and an unknown id are refused alike.
    let by_id = grant(
        &app,
        "member-admin",
        json!({ "user_id": other.to_string(), "role": "member-staff" }),
    )
    .await;
    let by_unknown_id = grant(
        &app,
        "member-admin",
        json!({ "user_id": domain::ids::UserId::new().to_string(), "role": "member-staff" }),
    )
    .await;
    assert_eq!(by_id.0, 422);
    assert_eq!(by_id.1["errors"], by_unknown_id.1["errors"]);
    // The member's own people still get a role at once.
    let (status, g) = grant(
        &app,
        "member-admin",
        json!({ "email": "colleague@north-reading.example.gov", "role": "auditor" }),
    )
    .await;
    assert_eq!(status, 201, "{g}");
    // The invitations are listed for the member's administrator, and the hub keeps its region-wide reach.
    let (status, list) = crate::helpers::get(
        &app,
        "member-admin",
        &format!("/api/v1/orgs/{OWN}/invitations"),
    )
    .await;
    assert_eq!(status, 200);
    assert_eq!(list["items"].as_array().unwrap().len(), 2);
    let (status, g) = grant(
        &app,
        "hub-admin",
        json!({ "email": "other-admin@stoneham.example.gov", "role": "member-staff" }),
    )
    .await;
    assert_eq!(status, 201, "{g}");
}

/// The token the `account.invite` job makes for its mail.
async fn invitation_token(app: &TestApp, answer: &serde_json::Value) -> String {
    let id = answer["invitation"]["id"]
        .as_str()
        .unwrap()
        .parse()
        .unwrap();
    store::tenancy::invitations::issue_token(&app.db, id)
        .await
        .unwrap()
        .unwrap()
        .token
}

/// Opens the invitation page; returns its HTML and the CSRF cookie it set.
async fn open_invitation(app: &TestApp, token: &str) -> (u16, String, String) {
    let res = app
        .client
        .get(app.url(&format!("/invitations/{token}")))
        .send()
        .await
        .unwrap();
    let status = res.status().as_u16();
    let csrf = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .find_map(|v| {
            v.to_str()
                .ok()?
                .strip_prefix("civitas_csrf=")
                .map(|r| r.split(';').next().unwrap_or("").to_owned())
        })
        .unwrap_or_default();
    (status, res.text().await.unwrap(), csrf)
}

async fn accept(
    app: &TestApp,
    token: &str,
    csrf: &str,
    fields: &[(&str, &str)],
) -> reqwest::Response {
    let mut all = vec![("_csrf", csrf)];
    all.extend_from_slice(fields);
    app.client
        .post(app.url(&format!("/invitations/{token}")))
        .header("cookie", format!("civitas_csrf={csrf}"))
        .form(&all)
        .send()
        .await
        .unwrap()
}

fn session_cookie(res: &reqwest::Response) -> String {
    res.headers()
        .get_all("set-cookie")
        .iter()
        .filter_map(|v| v.to_str().ok())
        .find(|c| c.starts_with("civitas_session="))
        .unwrap()
        .split(';')
        .next()
        .unwrap()
        .to_owned()
}

#[tokio::test]
async fn a_new_person_accepts_an_invitation_with_a_password_that_passes_the_rule() {
    let app = TestApp::new().await;
    let (_, answer) = grant(
        &app,
        "member-admin",
        json!({ "email": "Newcomer@North-Reading.example.gov", "role": "member-staff" }),
    )
    .await;
    let token = invitation_token(&app, &answer).await;
    let (status, html, csrf) = open_invitation(&app, &token).await;
    assert_eq!(status, 200);
    assert!(html.contains("Join Town of North Reading"), "{html}");
    assert!(html.contains("Choose a password"));
    let res = accept(
        &app,
        &token,
        &csrf,
        &[("name", "Nia Newcomer"), ("password", "Password1234!")],
    )
    .await;
    assert_eq!(res.status(), 422);
    assert!(res.text().await.unwrap().contains("too common"));
    let res = accept(
        &app,
        &token,
        &csrf,
        &[
            ("name", "Nia Newcomer"),
            ("password", "lantern-orchard-quietly"),
        ],
    )
    .await;
    assert_eq!(res.status(), 303);
    let cookie = session_cookie(&res);
    let (status, me) = json(
        app.client
            .get(app.url("/api/v1/me"))
            .header("cookie", &cookie)
            .send()
            .await
            .unwrap(),
    )
    .await;
    assert_eq!(status, 200, "{me}");
    assert_eq!(me["user"]["email"], "newcomer@north-reading.example.gov");
    assert_eq!(me["user"]["org_id"], app.orgs[OWN].to_string());
    assert_eq!(me["grants"][0]["role"], "member-staff");
    // The link works once.
    assert_eq!(open_invitation(&app, &token).await.0, 404);
}

#[tokio::test]
async fn a_person_of_another_member_accepts_by_signing_in() {
    let app = TestApp::new().await;
    let (_, answer) = grant(
        &app,
        "member-admin",
        json!({ "email": "other-admin@stoneham.example.gov", "role": "member-staff" }),
    )
    .await;
    let token = invitation_token(&app, &answer).await;
    let (status, html, csrf) = open_invitation(&app, &token).await;
    assert_eq!(status, 200);
    assert!(html.contains("already have an account"), "{html}");
    let res = accept(&app, &token, &csrf, &[("password", "not-the-password")]).await;
    assert_eq!(res.status(), 422);
    let other = app.who("other-admin").user_id;
    let before = store::tenancy::users::grants_of(&app.db, other)
        .await
        .unwrap();
    assert!(before.iter().all(|g| g.org_id != app.orgs[OWN]));
    let res = accept(&app, &token, &csrf, &[("password", PASSWORD)]).await;
    assert_eq!(res.status(), 303);
    let after = store::tenancy::users::grants_of(&app.db, other)
        .await
        .unwrap();
    assert!(
        after
            .iter()
            .any(|g| g.org_id == app.orgs[OWN] && g.role == domain::authz::Role::MemberStaff),
        "{after:?}"
    );
}

#[tokio::test]
async fn the_invitation_is_mailed_by_the_job_runner_with_a_working_link() {
    let app = TestApp::new().await;
    let (_, answer) = grant(
        &app,
        "member-admin",
        json!({ "email": "newcomer@north-reading.example.gov", "role": "member-staff" }),
    )
    .await;
    let id = answer["invitation"]["id"].as_str().unwrap().to_owned();
    // The invitation's job is queued with it, carrying no secret.
    let queued = store::jobs::list(&app.db, None, 100).await.unwrap();
    let job = queued
        .iter()
        .find(|j| j.kind == "account.invite")
        .expect("an account.invite job");
    assert_eq!(job.payload, json!({ "invitation": id }));
    let smtp = crate::mail::SmtpSink::start();
    let runner = civitas::runner::Runner::new(app.db.clone())
        .with_mailer(Some(crate::mail::mailer(smtp.port)));
    crate::mail::drain(&runner).await;
    let messages = smtp.wait_for(1).await;
    assert_eq!(messages.len(), 1);
    // Long lines travel quoted-printable: undo its soft line breaks.
    let text = messages[0].replace("=\r\n", "").replace("=\n", "");
    assert!(
        text.contains("To: newcomer@north-reading.example.gov"),
        "{text}"
    );
    assert!(text.contains("Town of North Reading"), "{text}");
    let token = text
        .split("https://it.melrose.example.gov/invitations/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the link")
        .to_owned();
    assert_eq!(open_invitation(&app, &token).await.0, 200);
}

/// An answer with what legitimately differs between two invitations (ids, addresses, instants) blanked.
fn shape(v: &serde_json::Value) -> serde_json::Value {
    let mut v = v.clone();
    if let Some(inv) = v.get_mut("invitation").and_then(|i| i.as_object_mut()) {
        for k in ["id", "email", "created_at", "expires_at"] {
            if inv.contains_key(k) {
                inv.insert(k.into(), json!("…"));
            }
        }
    }
    v
}

async fn add_person(app: &TestApp, who: &str, body: serde_json::Value) -> (u16, serde_json::Value) {
    send(
        app,
        who,
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/users"),
        body,
    )
    .await
}

#[tokio::test]
async fn a_member_admin_adding_a_person_invites_and_learns_nothing_about_other_members() {
    let app = TestApp::new().await;
    let other = app.who("other-admin").user_id;
    let other_user = store::tenancy::users::get(&app.db, &store::Scope::Region, other)
        .await
        .unwrap();
    let elsewhere = add_person(
        &app,
        "member-admin",
        json!({ "email": other_user.email, "name": "Kim Lee", "role": "member-staff" }),
    )
    .await;
    let unknown = add_person(
        &app,
        "member-admin",
        json!({ "email": "kim.lee@wakefield.example.gov", "name": "Kim Lee", "role": "member-staff" }),
    )
    .await;
    assert_eq!(elsewhere.0, 202, "{}", elsewhere.1);
    assert_eq!(unknown.0, 202, "{}", unknown.1);
    assert_eq!(keys(&elsewhere.1), ["invitation"]);
    assert_eq!(
        shape(&elsewhere.1),
        shape(&unknown.1),
        "the same answer, apart from the id, the address and the instants"
    );
    assert_eq!(elsewhere.1["invitation"]["state"], "queued");
    // (The test people are named after their addresses: look past the address the admin typed.)
    let text = elsewhere.1.to_string().replace(&other_user.email, "");
    assert!(!text.contains(&other_user.name), "{text}");
    assert!(!text.contains(&other.to_string()), "{text}");
    // Nothing is created or joined before acceptance.
    let nobody = domain::tenancy::Email::parse("kim.lee@wakefield.example.gov").unwrap();
    assert!(
        store::tenancy::users::find_by_email(&app.db, &nobody)
            .await
            .unwrap()
            .is_none()
    );
    let grants = store::tenancy::users::grants_of(&app.db, other)
        .await
        .unwrap();
    assert!(
        grants.iter().all(|g| g.org_id != app.orgs[OWN]),
        "{grants:?}"
    );
    let (_, people) = crate::helpers::get(
        &app,
        "member-admin",
        &format!("/api/v1/orgs/{OWN}/users?limit=200"),
    )
    .await;
    let listed = people.to_string();
    assert!(
        !listed.contains("kim.lee@") && !listed.contains(&other_user.email),
        "{listed}"
    );
    // Through the page too: the same redirect either way, and no form error.
    let mut locations = Vec::new();
    for email in [other_user.email.as_str(), "lee.kim@wakefield.example.gov"] {
        let res = app
            .form(
                "member-admin",
                &format!("/orgs/{OWN}/users"),
                &[("email", email), ("role", "member-staff")],
            )
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 303, "{email}");
        locations.push(res.headers()["location"].to_str().unwrap().to_owned());
    }
    assert_eq!(locations[0], locations[1]);
    assert_eq!(
        locations[0],
        format!("/orgs/{OWN}/users?notice=invited#invitations")
    );
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/users"),
            &[("email", STAFF), ("role", "member-staff")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("already one of this organisation"), "{html}");
    // What can be refused is decided from the input alone: a password is the person's to choose.
    let (status, body) = add_person(
        &app,
        "member-admin",
        json!({ "email": other_user.email, "role": "member-staff", "password": "lantern-orchard-quietly" }),
    )
    .await;
    assert_eq!(status, 422, "{body}");
    assert_eq!(fields(&body), ["password"]);
    // The organisation's own people, whom its administrator sees anyway, are a conflict on the address.
    let (status, body) = add_person(
        &app,
        "member-admin",
        json!({ "email": STAFF, "role": "member-staff" }),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(fields(&body), ["email"]);
    // The hub's administrator, who reaches the whole region, still creates accounts directly.
    let (status, body) = add_person(
        &app,
        "hub-admin",
        json!({ "email": "jo.park@north-reading.example.gov", "name": "Jo Park", "role": "member-staff" }),
    )
    .await;
    assert_eq!(status, 201, "{body}");
    assert_eq!(body["name"], "Jo Park");
    let (status, body) = add_person(
        &app,
        "hub-admin",
        json!({ "email": other_user.email, "name": "Twin", "role": "member-staff" }),
    )
    .await;
    assert_eq!(status, 409, "{body}");
    assert_eq!(fields(&body), ["email"]);
}

#[tokio::test]
async fn the_add_a_person_form_says_a_member_admin_invites() {
    let app = TestApp::new().await;
    let html = app
        .page(
            "member-admin",
            Method::GET,
            &format!("/orgs/{OWN}/users/new"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("We will email an invitation"), "{html}");
    assert!(html.contains("Send invitation"));
    assert!(!html.contains("name=\"password\""), "{html}");
    let html = app
        .page("hub-admin", Method::GET, &format!("/orgs/{OWN}/users/new"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("name=\"password\"") && html.contains("Add person"));
}

/// The invitation's state and why it was not sent, as the API lists it.
async fn invitation_state(app: &TestApp, id: &str) -> (String, serde_json::Value) {
    let (status, list) = crate::helpers::get(
        app,
        "member-admin",
        &format!("/api/v1/orgs/{OWN}/invitations"),
    )
    .await;
    assert_eq!(status, 200, "{list}");
    let inv = list["items"]
        .as_array()
        .unwrap()
        .iter()
        .find(|i| i["id"] == id)
        .cloned()
        .expect("the invitation is listed");
    (inv["state"].as_str().unwrap().to_owned(), inv)
}

#[tokio::test]
async fn an_invitation_not_mailed_for_want_of_a_mail_server_shows_and_can_be_resent() {
    let app = TestApp::new().await;
    let (status, answer) = add_person(
        &app,
        "member-admin",
        json!({ "email": "newcomer@north-reading.example.gov", "role": "member-staff" }),
    )
    .await;
    assert_eq!(status, 202, "{answer}");
    let id = answer["invitation"]["id"].as_str().unwrap().to_owned();
    // A runner without a mail server: the job is done, but the invitation says it did not go.
    let runner = civitas::runner::Runner::new(app.db.clone());
    crate::mail::drain(&runner).await;
    let (state, inv) = invitation_state(&app, &id).await;
    assert_eq!(state, "not_sent", "{inv}");
    assert!(
        inv["send_error"]
            .as_str()
            .unwrap()
            .contains("No mail server"),
        "{inv}"
    );
    assert!(inv["sent_at"].is_null());
    // The people page shows it, with a way to send it again.
    let html = app
        .page("member-admin", Method::GET, &format!("/orgs/{OWN}/users"))
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        html.contains("Not sent") && html.contains("No mail server"),
        "{html}"
    );
    assert!(html.contains(&format!("/orgs/{OWN}/invitations/{id}/resend")));
    assert!(html.contains(&format!("/orgs/{OWN}/invitations/{id}/revoke")));
    // Once mail works, the administrator resends it: queued again, then mailed with a working link.
    let (status, again) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/invitations/{id}/resend"),
        json!({}),
    )
    .await;
    assert_eq!(status, 202, "{again}");
    assert_eq!(again["invitation"]["state"], "queued");
    let smtp = crate::mail::SmtpSink::start();
    let runner = civitas::runner::Runner::new(app.db.clone())
        .with_mailer(Some(crate::mail::mailer(smtp.port)));
    crate::mail::drain(&runner).await;
    let messages = smtp.wait_for(1).await;
    assert_eq!(messages.len(), 1);
    let (state, inv) = invitation_state(&app, &id).await;
    assert_eq!(state, "sent", "{inv}");
    assert!(
        inv["send_error"].is_null() && !inv["sent_at"].is_null(),
        "{inv}"
    );
    let text = messages[0].replace("=\r\n", "").replace("=\n", "");
    let token = text
        .split("https://it.melrose.example.gov/invitations/")
        .nth(1)
        .and_then(|rest| rest.split_whitespace().next())
        .expect("the link")
        .to_owned();
    assert_eq!(open_invitation(&app, &token).await.0, 200);
    // Both steps are in the audit log.
    let (_, audit) =
        crate::helpers::get(&app, "member-admin", "/api/v1/audit?action=invitation.").await;
    let actions: Vec<&str> = audit["items"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["entity_id"] == id)
        .map(|e| e["action"].as_str().unwrap())
        .collect();
    assert!(
        actions.contains(&"invitation.create") && actions.contains(&"invitation.resend"),
        "{actions:?}"
    );
    // Revoked, the link stops working, and it can be neither resent nor revoked again.
    let (status, gone) = send(
        &app,
        "member-admin",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/invitations/{id}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(status, 200, "{gone}");
    assert_eq!(gone["invitation"]["state"], "revoked");
    assert_eq!(open_invitation(&app, &token).await.0, 404);
    for action in ["resend", "revoke"] {
        let (status, body) = send(
            &app,
            "member-admin",
            Method::POST,
            &format!("/api/v1/orgs/{OWN}/invitations/{id}/{action}"),
            json!({}),
        )
        .await;
        assert_eq!(status, 409, "{action}: {body}");
        assert_eq!(fields(&body), ["invitation"]);
    }
    let (_, audit) = crate::helpers::get(
        &app,
        "member-admin",
        "/api/v1/audit?action=invitation.revoke",
    )
    .await;
    assert!(audit.to_string().contains(&id), "{audit}");
}

#[tokio::test]
async fn another_members_admin_cannot_resend_or_revoke_an_invitation() {
    let app = TestApp::new().await;
    let (_, answer) = add_person(
        &app,
        "member-admin",
        json!({ "email": "newcomer@north-reading.example.gov", "role": "member-staff" }),
    )
    .await;
    let id = answer["invitation"]["id"].as_str().unwrap().to_owned();
    for action in ["resend", "revoke"] {
        // Named under the invitation's organisation (out of reach) and under the admin's own (not there).
        for slug in [OWN, crate::helpers::OTHER] {
            let (status, body) = send(
                &app,
                "other-admin",
                Method::POST,
                &format!("/api/v1/orgs/{slug}/invitations/{id}/{action}"),
                json!({}),
            )
            .await;
            assert_eq!(status, 404, "{action} under {slug}: {body}");
            let res = app
                .form(
                    "other-admin",
                    &format!("/orgs/{slug}/invitations/{id}/{action}"),
                    &[],
                )
                .send()
                .await
                .unwrap();
            assert_eq!(res.status(), 404, "page {action} under {slug}");
        }
    }
    // Member staff may not manage people at all.
    let (status, _) = send(
        &app,
        "member-staff",
        Method::POST,
        &format!("/api/v1/orgs/{OWN}/invitations/{id}/revoke"),
        json!({}),
    )
    .await;
    assert_eq!(status, 403);
    let (state, _) = invitation_state(&app, &id).await;
    assert_eq!(state, "queued", "untouched");
    // Through the page, the member's own administrator resends and revokes.
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/invitations/{id}/resend"),
            &[],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/invitations/{id}/revoke"),
            &[],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let (state, _) = invitation_state(&app, &id).await;
    assert_eq!(state, "revoked");
}

#[tokio::test]
async fn an_invitation_the_mail_server_did_not_take_shows_why_and_is_retried() {
    let app = TestApp::new().await;
    let (_, answer) = add_person(
        &app,
        "member-admin",
        json!({ "email": "newcomer@north-reading.example.gov", "role": "member-staff" }),
    )
    .await;
    let id = answer["invitation"]["id"].as_str().unwrap().to_owned();
    // A mail server that is not there: nothing listens on this port.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let runner =
        civitas::runner::Runner::new(app.db.clone()).with_mailer(Some(crate::mail::mailer(port)));
    crate::mail::drain(&runner).await;
    let (state, inv) = invitation_state(&app, &id).await;
    assert_eq!(state, "not_sent", "{inv}");
    assert!(
        inv["send_error"]
            .as_str()
            .unwrap()
            .starts_with("The mail server did not take it"),
        "{inv}"
    );
    // The job is not done: it waits to be tried again.
    let jobs = store::jobs::list(&app.db, None, 100).await.unwrap();
    let job = jobs
        .iter()
        .find(|j| j.kind == "account.invite")
        .expect("the job");
    assert_ne!(job.status, "done", "{job:?}");
}
