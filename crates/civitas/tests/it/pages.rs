//! The HTML pages as a person uses them without JavaScript: sign in, forms with field errors, CSRF, the
//! sign-in throttle.

use crate::helpers::{OWN, PASSWORD, TestApp, send};
use reqwest::Method;

async fn sign_in_form(app: &TestApp) -> (String, String) {
    let res = app.client.get(app.url("/sign-in")).send().await.unwrap();
    let cookie = res.headers().get_all("set-cookie").iter().find_map(|v| {
        let v = v.to_str().ok()?;
        v.strip_prefix("civitas_csrf=")
            .map(|rest| rest.split(';').next().unwrap_or("").to_owned())
    });
    let html = res.text().await.unwrap();
    let field = html
        .split("name=\"_csrf\" value=\"")
        .nth(1)
        .and_then(|r| r.split('"').next())
        .unwrap()
        .to_owned();
    assert_eq!(
        cookie.as_deref(),
        Some(field.as_str()),
        "the sign-in form double-submits its CSRF token"
    );
    (cookie.unwrap(), field)
}

async fn sign_in(app: &TestApp, email: &str, password: &str) -> reqwest::Response {
    let (cookie, csrf) = sign_in_form(app).await;
    app.client
        .post(app.url("/sign-in"))
        .header("cookie", format!("civitas_csrf={cookie}"))
        .form(&[
            ("_csrf", csrf.as_str()),
            ("email", email),
            ("password", password),
        ])
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn signing_in_sets_a_safe_session_cookie_and_lands_on_the_dashboard() {
    let app = TestApp::new().await;
    let res = sign_in(&app, "member-admin@north-reading.example.gov", PASSWORD).await;
    assert_eq!(res.status(), 303);
    let cookie = res
        .headers()
        .get_all("set-cookie")
        .iter()
        .map(|v| v.to_str().unwrap().to_owned())
        .find(|c| c.starts_with("civitas_session="))
        .unwrap();
    assert!(
        cookie.contains("HttpOnly") && cookie.contains("SameSite=Lax"),
        "{cookie}"
    );
    let session = cookie.split(';').next().unwrap().to_owned();
    let res = app
        .client
        .get(app.url("/"))
        .header("cookie", &session)
        .send()
        .await
        .unwrap();
    assert_eq!(res.headers()["location"], format!("/orgs/{OWN}"));
    let html = app
        .client
        .get(app.url(&format!("/orgs/{OWN}")))
        .header("cookie", &session)
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Town of North Reading"));
    assert!(html.contains("Skip to main content"));
}

#[tokio::test]
async fn a_wrong_password_is_refused_and_repeated_failures_are_throttled() {
    let app = TestApp::new().await;
    for _ in 0..5 {
        let res = sign_in(
            &app,
            "member-staff@north-reading.example.gov",
            "not-the-password",
        )
        .await;
        assert_eq!(res.status(), 422);
        assert!(
            res.text()
                .await
                .unwrap()
                .contains("the email or password is not right")
        );
    }
    let res = sign_in(&app, "member-staff@north-reading.example.gov", PASSWORD).await;
    assert_eq!(
        res.status(),
        429,
        "even the right password waits out the throttle"
    );
}

#[tokio::test]
async fn a_form_post_without_the_csrf_token_is_refused() {
    let app = TestApp::new().await;
    let res = app
        .page(
            "member-admin",
            Method::POST,
            &format!("/orgs/{OWN}/departments"),
        )
        .form(&[("name", "Sneaky")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .page(
            "member-admin",
            Method::POST,
            &format!("/orgs/{OWN}/departments"),
        )
        .form(&[("name", "Sneaky"), ("_csrf", "forged")])
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/departments"),
            &[("name", "Honest")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
}

#[tokio::test]
async fn a_form_with_errors_shows_them_beside_the_fields_and_keeps_the_input() {
    let app = TestApp::new().await;
    let res = app
        .form(
            "hub-admin",
            "/orgs",
            &[
                ("name", "Lynnfield"),
                ("slug", "Bad Slug"),
                ("kind", "town"),
                ("population", "lots"),
                ("time_zone", "America/New_York"),
                ("fiscal_year_start_month", "7"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(html.contains("id=\"error-summary\""));
    assert!(html.contains("href=\"#field-population\""));
    assert!(
        html.contains("aria-describedby=\"error-population\"") || html.contains("error-population")
    );
    assert!(
        html.contains("value=\"Lynnfield\""),
        "the person's input is kept"
    );
}

#[tokio::test]
async fn adding_a_member_and_a_person_through_the_forms() {
    let app = TestApp::new().await;
    let res = app
        .form(
            "hub-admin",
            "/orgs",
            &[
                ("name", "Lynnfield"),
                ("kind", "town"),
                ("population", "12,955"),
                ("time_zone", "America/New_York"),
                ("fiscal_year_start_month", "7"),
                ("business_hours_monday", "08:00-16:00"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(res.headers()["location"], "/orgs/lynnfield?notice=created");
    let res = app
        .form(
            "hub-admin",
            "/orgs/lynnfield/users",
            &[
                ("name", "Robin Ames"),
                ("email", "robin@lynnfield.example.gov"),
                ("role", "member-admin"),
                ("password", "a-long-enough-password"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    let html = app
        .page("hub-admin", Method::GET, "/orgs/lynnfield/users")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("robin@lynnfield.example.gov"));
    let html = app
        .page("hub-admin", Method::GET, "/orgs/lynnfield")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("12,955"));
    assert!(html.contains("Mon 08:00-16:00"));
}

#[tokio::test]
async fn empty_lists_say_why_and_what_to_do() {
    let app = TestApp::new().await;
    let html = app
        .page(
            "member-admin",
            Method::GET,
            &format!("/orgs/{OWN}/departments"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("has no departments yet"));
    assert!(html.contains("Add the first one below"));
}

#[tokio::test]
async fn the_password_change_checks_the_current_password() {
    let app = TestApp::new().await;
    let res = app
        .form(
            "member-staff",
            "/account/password",
            &[
                ("current_password", "wrong"),
                ("new_password", "another-long-password"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let res = app
        .form(
            "member-staff",
            "/account/password",
            &[
                ("current_password", PASSWORD),
                ("new_password", "another-long-password"),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 303);
    assert_eq!(
        sign_in(
            &app,
            "member-staff@north-reading.example.gov",
            "another-long-password"
        )
        .await
        .status(),
        303
    );
}

#[tokio::test]
async fn lists_download_as_csv_with_the_filters_on_screen() {
    let app = TestApp::new().await;
    let res = app
        .page("hub-admin", Method::GET, "/orgs?q=stone&format=csv")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 200);
    assert!(
        res.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/csv")
    );
    let body = res.text().await.unwrap();
    let lines: Vec<&str> = body.lines().collect();
    assert_eq!(
        lines[0],
        "slug,name,kind,county,population,time_zone,fiscal_year_start_month,status"
    );
    assert_eq!(lines.len(), 2, "{body}");
    assert!(lines[1].starts_with("stoneham,Town of Stoneham,town"));
    // People and departments download too.
    app.form(
        "member-admin",
        &format!("/orgs/{OWN}/departments"),
        &[("name", "Assessors, Board of")],
    )
    .send()
    .await
    .unwrap();
    let body = app
        .page(
            "member-staff",
            Method::GET,
            &format!("/orgs/{OWN}/departments?format=csv"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(body, "name\n\"Assessors, Board of\"\n");
    let body = app
        .page(
            "member-admin",
            Method::GET,
            &format!("/orgs/{OWN}/users?q=staff&format=csv"),
        )
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        body.lines().collect::<Vec<_>>(),
        [
            "email,name,status",
            "member-staff@north-reading.example.gov,member-staff,active"
        ]
    );
    // A member's auditor downloads only their member's entries.
    let body = app
        .page("member-auditor", Method::GET, "/audit?format=csv")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(body.lines().count() > 1);
    assert!(
        body.lines()
            .skip(1)
            .all(|l| l.split(',').nth(2) == Some(OWN)),
        "{body}"
    );
}

#[tokio::test]
async fn cookies_are_secure_behind_an_https_proxy() {
    let app = TestApp::new().await;
    let res = app
        .client
        .get(app.url("/sign-in"))
        .header("x-forwarded-proto", "https")
        .send()
        .await
        .unwrap();
    let cookie = res.headers()["set-cookie"].to_str().unwrap().to_owned();
    assert!(cookie.contains("; Secure"), "{cookie}");
    let res = app.client.get(app.url("/sign-in")).send().await.unwrap();
    assert!(
        !res.headers()["set-cookie"]
            .to_str()
            .unwrap()
            .contains("Secure"),
        "plain HTTP on 127.0.0.1 for development"
    );
}

#[tokio::test]
async fn in_a_large_region_the_switcher_lists_only_the_persons_organisations() {
    let app = TestApp::new().await;
    let switcher_options = |html: &str| {
        html.split("id=\"switch-org\"").nth(1).map_or(0, |rest| {
            rest.split("</select>")
                .next()
                .unwrap_or("")
                .matches("<option")
                .count()
        })
    };
    // Three organisations: everyone who can see several is offered all of them.
    let html = app
        .page("hub-admin", Method::GET, "/orgs/melrose")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(switcher_options(&html), 3);
    for i in 0..25 {
        let res = app
            .api("hub-admin", Method::POST, "/api/v1/orgs")
            .json(&serde_json::json!({ "name": format!("Extra Town {i}"), "kind": "town" }))
            .send()
            .await
            .unwrap();
        assert_eq!(res.status(), 201);
    }
    // Twenty-eight: the hub administrator is offered the organisations they hold a role in (the hub).
    let html = app
        .page("hub-admin", Method::GET, "/orgs/melrose")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert_eq!(
        switcher_options(&html),
        0,
        "a single organisation needs no switcher"
    );
    assert!(
        html.contains("href=\"/orgs\""),
        "the organisation list stays one click away"
    );
}

#[tokio::test]
async fn an_error_page_keeps_the_persons_frame_and_leads_back_to_the_form() {
    let app = TestApp::new().await;
    // A page that does not exist, signed in: the region's name and the person's navigation, not a bare page.
    let res = app
        .page("member-admin", Method::GET, "/no-such-page")
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 404);
    let html = res.text().await.unwrap();
    assert!(html.contains("Test Region"), "region named: {html}");
    assert!(html.contains("Primary navigation"), "navigation shown");
    assert!(!html.contains("Go back to the form"), "no form was sent");
    // A form refused for its input: the fields named, and a way back to the page that sent it.
    let res = app
        .form("hub-admin", "/billing/invoice-runs", &[("period", "")])
        .header("referer", app.url("/billing/invoices?status=draft"))
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 400);
    let html = res.text().await.unwrap();
    assert!(html.contains("Some fields need attention"));
    assert!(html.contains("Primary navigation"));
    assert!(
        html.contains(r#"href="/billing/invoices?status=draft" data-back"#),
        "back to the sending page: {html}"
    );
    // A referer elsewhere never becomes a link away from the site.
    let res = app
        .form("hub-admin", "/billing/invoice-runs", &[("period", "")])
        .header("referer", "https://evil.example//x")
        .send()
        .await
        .unwrap();
    let html = res.text().await.unwrap();
    assert!(!html.contains("evil.example"));
    // Signed out, the public frame still names the region.
    let html = reqwest::get(app.url("/sign-in/no-such"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains("Test Region"));
}

#[tokio::test]
async fn the_navigation_folds_the_directory_and_administration_into_menus() {
    let app = TestApp::new().await;
    let html = app
        .page("hub-admin", Method::GET, "/audit")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    let primary = html.matches("usa-nav__primary-item").count();
    assert!(
        primary <= 12,
        "{primary} items on the hub administrator's line"
    );
    assert!(html.contains(r#"aria-controls="nav-admin""#));
    // The current page's menu is marked current, and the page inside it too.
    assert!(
        html.contains(
            r#"usa-nav__link usa-current" aria-expanded="false" aria-controls="nav-admin""#
        )
    );
    assert!(html.contains(r#"<a href="/audit" class="usa-current" aria-current="page">"#));
    // Member staff have no administration menu at all.
    let html = app
        .page("member-staff", Method::GET, "/kb")
        .send()
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(html.contains(r#"aria-controls="nav-directory""#));
    assert!(!html.contains("nav-admin"));
}

#[tokio::test]
async fn a_required_field_emptied_on_a_form_is_an_error_not_a_kept_value() {
    let app = TestApp::new().await;
    let (st, a) = send(
        &app,
        "hub-admin",
        Method::POST,
        "/api/v1/agreements",
        serde_json::json!({ "org": OWN, "title": "Shared IT services", "starts_on": "2026-07-01" }),
    )
    .await;
    assert_eq!(st, 201, "{a}");
    let id = a["id"].as_str().unwrap();
    let res = app
        .form(
            "hub-admin",
            &format!("/billing/agreements/{id}"),
            &[("title", ""), ("starts_on", ""), ("version", "1")],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    let html = res.text().await.unwrap();
    assert!(
        html.contains("field-title-error") || html.contains("title"),
        "{html}"
    );
    let (_, now) =
        crate::helpers::get(&app, "hub-admin", &format!("/api/v1/agreements/{id}")).await;
    assert_eq!(now["title"], "Shared IT services");
    // The API too: a required term named blank is refused, not kept.
    let (st, e) = send(
        &app,
        "hub-admin",
        Method::PATCH,
        &format!("/api/v1/agreements/{id}"),
        serde_json::json!({ "title": " " }),
    )
    .await;
    assert_eq!(st, 422, "{e}");
    assert_eq!(crate::helpers::fields(&e), ["title"]);
    // A member's fiscal month emptied on its settings form.
    let res = app
        .form(
            "member-admin",
            &format!("/orgs/{OWN}/settings"),
            &[
                ("name", "Town of North Reading"),
                ("kind", "town"),
                ("time_zone", "America/New_York"),
                ("fiscal_year_start_month", ""),
            ],
        )
        .send()
        .await
        .unwrap();
    assert_eq!(res.status(), 422);
    assert!(
        res.text()
            .await
            .unwrap()
            .contains("a month from 1 (January) to 12")
    );
}
