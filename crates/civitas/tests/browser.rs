//! Browser tests: real flows in headless Chromium (Debian's chromium + chromium-driver) against the demo
//! region, with axe-core (vendored in tests/assets) run on every page visited — no WCAG 2.1 A/AA violation
//! may appear. Screenshots of the main pages go to target/screenshots for the README.

#![allow(
    clippy::unwrap_used,
    reason = "in tests, a failed unwrap is a failed test with its location"
)]

use fantoccini::{Client, ClientBuilder, Locator};
use serde_json::json;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

const AXE: &str = include_str!("assets/axe.min.js");

struct Driver(Child);

impl Drop for Driver {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

async fn start_browser() -> (Driver, Client, tempfile::TempDir) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let port = free_port();
    let driver = Command::new("chromedriver")
        .arg(format!("--port={port}"))
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("chromedriver must be installed (scripts/test installs Debian's chromium-driver)");
    let driver = Driver(driver);
    let profile = tempfile::tempdir().unwrap();
    let caps = json!({
        "goog:chromeOptions": {
            "binary": "/usr/bin/chromium",
            "args": ["--headless", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                     "--disable-component-update", "--disable-sync", "--no-first-run", "--window-size=1280,1000",
                     format!("--user-data-dir={}", profile.path().display())]
        }
    });
    let caps: serde_json::Map<String, serde_json::Value> = caps.as_object().unwrap().clone();
    let mut last = None;
    for _ in 0..50 {
        match ClientBuilder::rustls()
            .unwrap()
            .capabilities(caps.clone())
            .connect(&format!("http://127.0.0.1:{port}"))
            .await
        {
            Ok(c) => return (driver, c, profile),
            Err(e) => last = Some(e),
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    panic!("could not start Chromium through chromedriver: {last:?}");
}

async fn start_civitas() -> (String, tempfile::TempDir) {
    let (base, dir, _) = start_civitas_with_db().await;
    (base, dir)
}

/// Like [`start_civitas`], also handing back the database (to make what a page needs, such as a token).
async fn start_civitas_with_db() -> (String, tempfile::TempDir, store::Db) {
    let dir = tempfile::tempdir().unwrap();
    let url = format!("sqlite://{}/civitas.db", dir.path().display());
    store::audit::install_key(
        domain::audit::AuditKey::parse("civitas-browser-tests-audit-key-0123456789abcdef").unwrap(),
    )
    .unwrap();
    let db = store::Db::connect(&url, &store::DbOptions::default())
        .await
        .unwrap();
    db.migrate().await.unwrap();
    civitas::demo::load(&db).await.unwrap();
    let state = web::AppState::new(
        db.clone(),
        web::WebConfig {
            region_name: civitas::demo::REGION_NAME.into(),
            ..Default::default()
        },
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let _ = axum::serve(
            listener,
            web::app(state).into_make_service_with_connect_info::<std::net::SocketAddr>(),
        )
        .await;
    });
    (format!("http://{addr}"), dir, db)
}

/// Runs axe-core on the current page and fails with the violations, if any.
async fn assert_accessible(c: &Client, page: &str) {
    c.execute(AXE, vec![]).await.unwrap();
    let result = c
        .execute_async(
            "const done = arguments[arguments.length - 1];
             axe.run(document, { runOnly: { type: 'tag', values: ['wcag2a', 'wcag2aa', 'wcag21a', 'wcag21aa'] } })
                .then(r => done({ passes: r.passes.length, violations: r.violations.map(v => v.id + ': ' + v.help + ' [' + v.nodes.map(n => n.target.join(' ')).join(', ') + ']') }))
                .catch(e => done({ passes: 0, violations: ['axe failed: ' + e] }));",
            vec![],
        )
        .await
        .unwrap();
    let violations: Vec<String> = serde_json::from_value(result["violations"].clone()).unwrap();
    assert!(
        result["passes"].as_u64().unwrap_or(0) > 10,
        "axe did not really run on {page}: {result}"
    );
    assert!(
        violations.is_empty(),
        "accessibility violations on {page}:\n{}",
        violations.join("\n")
    );
}

async fn screenshot(c: &Client, name: &str) {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/screenshots");
    std::fs::create_dir_all(&dir).unwrap();
    let png = c.screenshot().await.unwrap();
    std::fs::write(dir.join(format!("{name}.png")), png).unwrap();
}

async fn visit(c: &Client, base: &str, path: &str) {
    c.goto(&format!("{base}{path}")).await.unwrap();
    assert_accessible(c, path).await;
}

async fn fill(c: &Client, id: &str, value: &str) {
    let e = c.find(Locator::Id(id)).await.unwrap();
    e.clear().await.unwrap();
    e.send_keys(value).await.unwrap();
}

/// Submits the page's main form and waits until the browser has loaded the answer.
async fn submit(c: &Client) {
    click_and_load(c, Locator::Css("main form button[type=submit]")).await;
}

/// Clicks something that navigates, then waits for the next document.
///
/// Waiting for an element is not enough: the old page has it too, and reading
/// it while the browser swaps documents fails with a stale element reference.
/// So the old page is marked, and the wait ends when a page without the mark
/// has finished loading.
async fn click_and_load(c: &Client, target: Locator<'_>) {
    c.execute("window.__civitasOldPage = true;", vec![])
        .await
        .unwrap();
    c.find(target).await.unwrap().click().await.unwrap();
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    loop {
        let loaded = c
            .execute(
                "return window.__civitasOldPage === undefined && document.readyState === 'complete';",
                vec![],
            )
            .await
            .map(|v| v.as_bool() == Some(true))
            .unwrap_or(false);
        if loaded {
            return;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the page did not change within 15 s"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

async fn choose(c: &Client, id: &str, value: &str) {
    c.find(Locator::Id(id))
        .await
        .unwrap()
        .select_by_value(value)
        .await
        .unwrap();
}

/// Signs in through the form and waits for the dashboard.
async fn sign_in(c: &Client, base: &str, email: &str) {
    c.goto(&format!("{base}/sign-in")).await.unwrap();
    fill(c, "field-email", email).await;
    fill(c, "field-password", civitas::demo::DEMO_PASSWORD).await;
    submit(c).await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
}

async fn body_text(c: &Client) -> String {
    c.find(Locator::Css("main"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap()
}

#[tokio::test(flavor = "multi_thread")]
async fn a_hub_admin_signs_in_switches_organisation_and_adds_a_member_and_a_person() {
    let (base, _data) = start_civitas().await;
    let (_driver, c, _profile) = start_browser().await;

    visit(&c, &base, "/sign-in").await;
    // Keyboard first: the first Tab reaches the skip link.
    c.find(Locator::Css("body"))
        .await
        .unwrap()
        .send_keys("\u{E004}")
        .await
        .unwrap();
    let focused = c
        .execute("return document.activeElement.textContent.trim()", vec![])
        .await
        .unwrap();
    assert_eq!(focused, "Skip to main content");

    fill(&c, "field-email", "admin@melrose.example.gov").await;
    fill(&c, "field-password", civitas::demo::DEMO_PASSWORD).await;
    submit(&c).await;
    c.wait().for_element(Locator::Css("h1")).await.unwrap();
    assert!(body_text(&c).await.contains("City of Melrose"));
    assert_accessible(&c, "/orgs/melrose").await;
    screenshot(&c, "dashboard").await;

    // Switch organisation with the header's combo box: open the list, pick, switch.
    c.find(Locator::Css(
        ".civitas-switcher .usa-combo-box__toggle-list",
    ))
    .await
    .unwrap()
    .click()
    .await
    .unwrap();
    c.wait()
        .for_element(Locator::Css(
            "li.usa-combo-box__list-option[data-value='north-reading']",
        ))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    click_and_load(&c, Locator::Css(".civitas-switcher button[type=submit]")).await;
    c.wait()
        .for_url(&url::Url::parse(&format!("{base}/orgs/north-reading")).unwrap())
        .await
        .unwrap();
    assert!(body_text(&c).await.contains("Town of North Reading"));
    assert_accessible(&c, "/orgs/north-reading").await;

    // Add a member: first with a mistake, then correctly.
    visit(&c, &base, "/orgs").await;
    screenshot(&c, "organisations").await;
    visit(&c, &base, "/orgs/new").await;
    fill(&c, "field-name", "Lynnfield Public Schools").await;
    choose(&c, "field-kind", "school-district").await;
    fill(&c, "field-population", "many").await;
    submit(&c).await;
    c.wait()
        .for_element(Locator::Id("error-summary"))
        .await
        .unwrap();
    assert!(
        body_text(&c)
            .await
            .contains("population: must be a whole number")
    );
    assert_accessible(&c, "/orgs (with errors)").await;
    fill(&c, "field-population", "2,150").await;
    submit(&c).await;
    c.wait()
        .for_url(
            &url::Url::parse(&format!(
                "{base}/orgs/lynnfield-public-schools?notice=created"
            ))
            .unwrap(),
        )
        .await
        .unwrap();
    assert!(body_text(&c).await.contains("2,150"));

    // Add a person to it.
    visit(&c, &base, "/orgs/lynnfield-public-schools/users/new").await;
    fill(&c, "field-name", "Jordan Pike").await;
    fill(&c, "field-email", "jordan.pike@lynnfield.example.gov").await;
    choose(&c, "field-role", "member-admin").await;
    fill(&c, "field-password", "a-very-long-password").await;
    submit(&c).await;
    c.wait()
        .for_element(Locator::Css("dl.civitas-facts"))
        .await
        .unwrap();
    assert!(
        body_text(&c)
            .await
            .contains("jordan.pike@lynnfield.example.gov")
    );
    assert_accessible(&c, "user page").await;

    for path in [
        "/orgs/north-reading/departments",
        "/orgs/north-reading/sites",
        "/orgs/north-reading/users",
        "/orgs/north-reading/settings",
        "/orgs/north-reading/calendar",
        "/audit",
        "/account",
        "/account/tokens",
    ] {
        visit(&c, &base, path).await;
    }
    screenshot(&c, "tokens").await;
    visit(&c, &base, "/audit").await;
    screenshot(&c, "audit").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn member_staff_see_only_their_own_member() {
    let (base, _data) = start_civitas().await;
    let (_driver, c, _profile) = start_browser().await;
    sign_in(&c, &base, "staff@north-reading.example.gov").await;
    assert!(body_text(&c).await.contains("Town of North Reading"));
    assert_accessible(&c, "staff dashboard").await;
    let nav = c
        .find(Locator::Css("nav.usa-nav"))
        .await
        .unwrap()
        .text()
        .await
        .unwrap();
    assert!(
        !nav.contains("People") && !nav.contains("Audit log") && !nav.contains("Billing"),
        "staff navigation shows only what they can open: {nav}"
    );
    c.goto(&format!("{base}/orgs/stoneham")).await.unwrap();
    assert!(body_text(&c).await.contains("Not found"));
    assert_accessible(&c, "not found page").await;
    c.close().await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn staff_request_a_service_and_the_desk_answers_it() {
    let (base, _data) = start_civitas().await;
    let (_driver, c, _profile) = start_browser().await;
    sign_in(&c, &base, "staff@north-reading.example.gov").await;
    visit(&c, &base, "/catalog").await;
    screenshot(&c, "catalog").await;
    click_and_load(&c, Locator::LinkText("Map request")).await;
    c.wait()
        .for_element(Locator::Id("field-form_purpose"))
        .await
        .unwrap();
    assert_accessible(&c, "request form").await;
    fill(&c, "field-subject", "Zoning map for the hearing").await;
    // Blank details pass the browser's check (spaces) but not the server's: the error summary names them.
    fill(&c, "field-description", "   ").await;
    fill(&c, "field-form_purpose", "Planning board hearing").await;
    fill(&c, "field-form_copies", "2").await;
    submit(&c).await;
    c.wait()
        .for_element(Locator::Id("error-summary"))
        .await
        .unwrap();
    assert!(body_text(&c).await.contains("description: is required"));
    assert_accessible(&c, "request form with errors").await;
    fill(
        &c,
        "field-description",
        "Two copies of the zoning map, please.",
    )
    .await;
    submit(&c).await;
    c.wait().for_element(Locator::Id("history")).await.unwrap();
    assert!(body_text(&c).await.contains("Your ticket is open"));
    assert_accessible(&c, "ticket page (requester)").await;
    let url = c.current_url().await.unwrap();
    let path = url.path().to_owned();

    // The desk: the queue, then the ticket; the keyboard shortcut r goes to the reply box.
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &base, "agent@melrose.example.gov").await;
    visit(&c, &base, "/tickets?assignee=none").await;
    assert!(body_text(&c).await.contains("Zoning map for the hearing"));
    visit(&c, &base, "/tickets").await;
    screenshot(&c, "service-desk").await;
    visit(&c, &base, &path).await;
    c.find(Locator::Css("h1"))
        .await
        .unwrap()
        .click()
        .await
        .unwrap();
    c.active_element()
        .await
        .unwrap()
        .send_keys("r")
        .await
        .unwrap();
    let focused = c.active_element().await.unwrap().attr("id").await.unwrap();
    assert_eq!(
        focused.as_deref(),
        Some("field-body"),
        "r focuses the reply box"
    );
    fill(
        &c,
        "field-body",
        "Printing them now; they will be at the clerk's office by noon.",
    )
    .await;
    click_and_load(&c, Locator::Css("#reply-form button[type=submit]")).await;
    c.wait().for_element(Locator::Id("history")).await.unwrap();
    assert!(body_text(&c).await.contains("Printing them now"));
    assert_accessible(&c, "ticket page (desk)").await;
    screenshot(&c, "ticket").await;
    // The rest of the desk's pages, each checked with axe.
    for path in [
        "/reports",
        "/kb",
        "/timesheet",
        "/mail",
        "/mail?outcome=quarantine",
        "/kb/new",
    ] {
        visit(&c, &base, path).await;
    }
    visit(&c, &base, "/reports").await;
    screenshot(&c, "reports").await;
    // The hub administrator's desk settings.
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &base, "admin@melrose.example.gov").await;
    visit(&c, &base, "/desk/settings").await;
    fill(&c, "field-reopen_days", "400").await;
    submit(&c).await;
    assert!(
        body_text(&c)
            .await
            .contains("reopen_days: must be between 0 and 90")
    );
    assert_accessible(&c, "/desk/settings (with errors)").await;
    visit(&c, &base, "/desk/services/new").await;
    visit(&c, &base, "/desk/templates/opened").await;
    // The request-form builder: a choice question without choices is named at its row.
    visit(&c, &base, "/desk/items/new").await;
    fill(&c, "field-name", "Parcel map printout").await;
    fill(&c, "field-q0_label", "Paper size").await;
    c.execute(
        "document.getElementById('field-q0_kind').value = 'choice';",
        vec![],
    )
    .await
    .unwrap();
    submit(&c).await;
    let text = body_text(&c).await;
    assert!(
        text.contains("q0_choices: a choice field needs at least one choice")
            && text.contains("service_id"),
        "{text}"
    );
    assert_accessible(&c, "/desk/items/new (with errors)").await;
    visit(&c, &base, "/desk/policies/new").await;
    // Billing: the rate cards with today's prices, the members' agreements, a month's usage.
    visit(&c, &base, "/billing").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Email and calendar — per mailbox") && text.contains("Backup — per GB-month"),
        "{text}"
    );
    screenshot(&c, "billing").await;
    click_and_load(&c, Locator::Css("#agreements ~ div table a")).await;
    assert_accessible(&c, "agreement page").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Subscriptions") && text.contains("Agreement recorded"),
        "{text}"
    );
    visit(&c, &base, "/billing/invoices?status=paid").await;
    click_and_load(&c, Locator::Css("main table a")).await;
    assert_accessible(&c, "invoice page").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Invoice INV-") && text.contains("Email and calendar"),
        "{text}"
    );
    screenshot(&c, "invoice").await;
    visit(&c, &base, "/billing/rate-cards/new").await;
    // A rate card's prices over time, and an agreement's amendment form.
    visit(&c, &base, "/billing").await;
    click_and_load(&c, Locator::Css("#rate-cards ~ div table a")).await;
    assert_accessible(&c, "a rate card's page").await;
    assert!(body_text(&c).await.contains("Prices over time"));
    visit(&c, &base, "/billing").await;
    click_and_load(&c, Locator::Css("#agreements ~ div table a")).await;
    click_and_load(&c, Locator::LinkText("Amend the terms")).await;
    assert_accessible(&c, "the amendment form").await;
    visit(&c, &base, "/billing/agreements/new").await;
    choose(&c, "field-org", "saugus").await;
    fill(&c, "field-title", "Library systems agreement").await;
    fill(&c, "field-starts_on", "07/01/2026").await;
    submit(&c).await;
    let text = body_text(&c).await;
    assert!(
        text.contains("approving_body: is required for an active agreement"),
        "{text}"
    );
    assert_accessible(&c, "/billing/agreements/new (with errors)").await;
    visit(&c, &base, "/billing?month=2026-13").await;
    assert!(
        body_text(&c)
            .await
            .contains("month: \"2026-13\" is not a month")
    );
    // The hub's books: cost recovery per service, revenue and forecasts per member, the cost pools.
    visit(&c, &base, "/billing/finance?fy=2026").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Recovery and margin by service")
            && text.contains("Network and internet")
            && text.contains("Chief information security officer"),
        "{text}"
    );
    screenshot(&c, "finance").await;
    // Savings: the region, then one member's printable report.
    visit(&c, &base, "/billing/savings?fy=2026").await;
    assert!(body_text(&c).await.contains("Town of North Reading"));
    click_and_load(&c, Locator::Css("#members ~ div table a")).await;
    assert_accessible(&c, "a member's savings report").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Standalone cost") && text.contains("Demo estimate"),
        "{text}"
    );
    screenshot(&c, "savings").await;
    visit(&c, &base, "/billing/benchmarks").await;
    click_and_load(&c, Locator::Css("main table td a")).await;
    assert_accessible(&c, "the benchmark form").await;
    // The CMDB: the list, an array's impact tree, the per-type record form with an error beside its field.
    visit(&c, &base, "/cmdb?q=array").await;
    click_and_load(&c, Locator::LinkText("Array A")).await;
    assert_accessible(&c, "a configuration item's page").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("If this item stops") && text.contains("Finance and HR (ERP)"),
        "{text}"
    );
    screenshot(&c, "cmdb-item").await;
    visit(&c, &base, "/cmdb/new").await;
    click_and_load(&c, Locator::LinkText("Server")).await;
    assert_accessible(&c, "/cmdb/new?type=server").await;
    // A host the hub already has: the name is taken (the browser itself keeps bad numbers and dates out).
    fill(&c, "field-name", "esx-a-01").await;
    fill(&c, "field-attributes_vcpu", "64").await;
    submit(&c).await;
    let text = body_text(&c).await;
    assert!(
        text.contains("already has an item of this type with this name"),
        "{text}"
    );
    assert_accessible(&c, "/cmdb/new (with errors)").await;
    // The regional cloud: the pools and when each runs out, a pool's page with its growth chart.
    visit(&c, &base, "/cloud").await;
    assert_accessible(&c, "/cloud").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Cluster A")
            && text.contains("Runs out first")
            && text.contains("Allocations by organisation"),
        "{text}"
    );
    click_and_load(&c, Locator::LinkText("Cluster B")).await;
    assert_accessible(&c, "a pool's page").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Hosts and arrays")
            && text.contains("esx-b-01")
            && text.contains("Allocated at the end of each month"),
        "{text}"
    );
    screenshot(&c, "cloud-pool").await;
    visit(&c, &base, "/cloud/new").await;
    assert_accessible(&c, "/cloud/new").await;
    fill(&c, "field-name", "Cluster C").await;
    submit(&c).await;
    let text = body_text(&c).await;
    assert!(text.contains("a pool needs some capacity"), "{text}");
    assert_accessible(&c, "/cloud/new (with errors)").await;
    // The application portfolio: the TIME chart, the redundancy finder, an application's review form.
    visit(&c, &base, "/portfolio").await;
    assert_accessible(&c, "/portfolio").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Applications per quadrant") && text.contains("PermitEyes"),
        "{text}"
    );
    screenshot(&c, "portfolio").await;
    visit(&c, &base, "/portfolio/redundancy").await;
    assert_accessible(&c, "/portfolio/redundancy").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Permitting and licensing") && text.contains("Consolidate onto"),
        "{text}"
    );
    visit(&c, &base, "/portfolio/retirements").await;
    assert_accessible(&c, "/portfolio/retirements").await;
    click_and_load(&c, Locator::LinkText("PermitEyes")).await;
    assert_accessible(&c, "an application's portfolio record").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Technical condition") && text.contains("Retire by"),
        "{text}"
    );
    // Enterprise architecture: the radar and catalog, a standard, compliance, an exception and its form.
    visit(&c, &base, "/architecture").await;
    assert_accessible(&c, "/architecture").await;
    let text = body_text(&c).await;
    assert!(
        text.contains("Technology radar") && text.contains("Share before you buy"),
        "{text}"
    );
    screenshot(&c, "architecture").await;
    click_and_load(&c, Locator::LinkText("SQL Server 2019")).await;
    assert_accessible(&c, "a standard's page").await;
    assert!(body_text(&c).await.contains("records database"));
    visit(&c, &base, "/architecture/compliance").await;
    assert_accessible(&c, "/architecture/compliance").await;
    visit(&c, &base, "/architecture/exceptions").await;
    assert_accessible(&c, "/architecture/exceptions").await;
    click_and_load(
        &c,
        Locator::LinkText("Keep the records database on SQL Server 2019 through the fiscal year"),
    )
    .await;
    assert_accessible(&c, "an exception awaiting review").await;
    assert!(body_text(&c).await.contains("Record the decision"));
    c.close().await.unwrap();
}

/// The pages issue 13 changed, at a laptop's and a phone's width: the sign-in lockout, a refused password
/// change with the token box, and accepting an invitation.
#[tokio::test(flavor = "multi_thread")]
async fn lockout_password_rule_and_invitation_pages_at_two_widths() {
    let (base, _dir, db) = start_civitas_with_db().await;
    let (_driver, c, _profile) = start_browser().await;
    let org = store::tenancy::orgs::get_by_slug(&db, &store::Scope::Region, "north-reading")
        .await
        .unwrap();
    for (width, height) in [(1366, 900), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        // Five wrong passwords lock the account: the sixth try says so, on the form.
        let email = format!("nobody{width}@north-reading.example.gov");
        for _ in 0..6 {
            c.goto(&format!("{base}/sign-in")).await.unwrap();
            fill(&c, "field-email", &email).await;
            fill(&c, "field-password", "not-the-password").await;
            submit(&c).await;
        }
        assert!(body_text(&c).await.contains("too many failed sign-ins"));
        assert_accessible(&c, "sign-in, locked").await;
        screenshot(&c, &format!("sign-in-locked-{width}")).await;

        sign_in(&c, &base, "staff@north-reading.example.gov").await;
        visit(&c, &base, "/account").await;
        assert!(body_text(&c).await.contains("Also revoke my API tokens"));
        fill(&c, "field-current_password", civitas::demo::DEMO_PASSWORD).await;
        fill(&c, "field-new_password", "password1234").await;
        click_and_load(
            &c,
            Locator::Css("form[action='/account/password'] button[type=submit]"),
        )
        .await;
        assert!(body_text(&c).await.contains("too common"));
        assert_accessible(&c, "password change refused").await;
        screenshot(&c, &format!("password-refused-{width}")).await;
        c.delete_all_cookies().await.unwrap();

        let inv = store::tenancy::invitations::create(
            &db,
            &store::Scope::Region,
            &store::audit::Actor::system("browser test"),
            org.id,
            &domain::tenancy::Email::parse(&format!("newcomer{width}@north-reading.example.gov"))
                .unwrap(),
            domain::authz::Role::MemberStaff,
        )
        .await
        .unwrap();
        let token = store::tenancy::invitations::issue_token(&db, inv.id)
            .await
            .unwrap()
            .unwrap()
            .token;
        visit(&c, &base, &format!("/invitations/{token}")).await;
        fill(&c, "field-name", "Nia Newcomer").await;
        fill(&c, "field-password", "aaaaaaaaaaaa").await;
        submit(&c).await;
        assert!(body_text(&c).await.contains("repeated pattern"));
        assert_accessible(&c, "invitation, refused").await;
        screenshot(&c, &format!("invitation-refused-{width}")).await;
        fill(&c, "field-password", "lantern-orchard-quietly").await;
        submit(&c).await;
        c.wait().for_element(Locator::Css("h1")).await.unwrap();
        assert!(body_text(&c).await.contains("North Reading"));
        screenshot(&c, &format!("invitation-accepted-{width}")).await;
        c.delete_all_cookies().await.unwrap();
    }
}

/// The API viewer at /api/docs (the vendored Swagger UI with Civitas's colour overrides) passes axe at a
/// laptop's and a phone's width, closed and with operations opened for "Try it out", and loads nothing from
/// another origin (it works with no internet).
#[tokio::test(flavor = "multi_thread")]
async fn the_api_viewer_passes_axe_at_two_widths() {
    let (base, _dir) = start_civitas().await;
    let (_driver, c, _profile) = start_browser().await;
    for (width, height) in [(1366, 900), (390, 844)] {
        c.set_window_size(width, height).await.unwrap();
        c.goto(&format!("{base}/api/docs")).await.unwrap();
        c.wait()
            .for_element(Locator::Css(".opblock-summary-control"))
            .await
            .unwrap();
        c.wait()
            .for_element(Locator::Css("select#servers[aria-label]"))
            .await
            .unwrap();
        assert_accessible(&c, &format!("/api/docs at {width} px")).await;
        screenshot(&c, &format!("api-docs-{width}")).await;
        // Open the first operations of each method and press "Try it out" on them.
        c.execute(
            "for (const m of ['get', 'post', 'patch', 'delete']) {
               const b = document.querySelector('.opblock-' + m + ' .opblock-summary-control'); if (b) b.click();
             }",
            vec![],
        )
        .await
        .unwrap();
        c.wait()
            .for_element(Locator::Css(".try-out__btn"))
            .await
            .unwrap();
        c.execute(
            "for (const b of document.querySelectorAll('.try-out__btn')) b.click();",
            vec![],
        )
        .await
        .unwrap();
        c.wait()
            .for_element(Locator::Css(".btn.execute"))
            .await
            .unwrap();
        assert_accessible(&c, &format!("/api/docs, operations open, at {width} px")).await;
        let foreign = c
            .execute(
                "return performance.getEntriesByType('resource').map(e => e.name)
                   .filter(u => !u.startsWith(location.origin + '/'));",
                vec![],
            )
            .await
            .unwrap();
        assert_eq!(foreign, json!([]), "the API viewer loads from elsewhere");
    }
    c.close().await.unwrap();
}

/// Both widths the pages are checked at: a laptop and a phone.
async fn screenshots_at_both_widths(c: &Client, name: &str) {
    for (width, label) in [(1366, "1366"), (390, "390")] {
        c.set_window_size(width, 1000).await.unwrap();
        assert_accessible(c, &format!("{name} at {label} px")).await;
        c.execute(
            "const s = document.getElementById('proposals') || document.getElementById('invitations'); if (s) { s.scrollIntoView(); }",
            vec![],
        )
        .await
        .unwrap();
        screenshot(c, &format!("{name}-{label}")).await;
    }
    c.set_window_size(1366, 1000).await.unwrap();
}

#[tokio::test(flavor = "multi_thread")]
async fn a_member_proposes_its_population_and_the_hub_accepts_it() {
    let (base, _data) = start_civitas().await;
    let (_driver, c, _profile) = start_browser().await;

    // The member's administrator reads the hub's figure and proposes a change.
    sign_in(&c, &base, "admin@north-reading.example.gov").await;
    visit(&c, &base, "/orgs/north-reading/settings").await;
    assert!(
        c.find(Locator::Id("field-population")).await.is_err(),
        "a member has no field to set its population"
    );
    assert!(body_text(&c).await.contains("15,343"));
    screenshots_at_both_widths(&c, "proposal-member").await;
    fill(&c, "field-value", "15,900").await;
    fill(&c, "field-reason", "The Town Clerk's 2026 census").await;
    fill(&c, "field-source", "Town of North Reading annual census").await;
    click_and_load(
        &c,
        Locator::Css("form[action='/orgs/north-reading/proposals'] button[type=submit]"),
    )
    .await;
    let text = body_text(&c).await;
    assert!(text.contains("Your proposal is sent to the hub"), "{text}");
    assert!(
        text.to_lowercase().contains("awaiting the hub's decision"),
        "{text}"
    );
    assert_accessible(&c, "settings with a pending proposal").await;
    screenshots_at_both_widths(&c, "proposal-pending").await;

    // The hub's administrator sees it on the hub's settings page and accepts it.
    c.delete_all_cookies().await.unwrap();
    sign_in(&c, &base, "admin@melrose.example.gov").await;
    visit(&c, &base, "/orgs/melrose/settings").await;
    let text = body_text(&c).await;
    assert!(text.contains("Proposed changes from members"), "{text}");
    assert!(text.contains("Town of North Reading"), "{text}");
    screenshots_at_both_widths(&c, "proposal-hub").await;
    click_and_load(&c, Locator::Css("button[name=decision][value=accept]")).await;
    let text = body_text(&c).await;
    assert!(text.contains("Your decision is recorded."), "{text}");
    assert!(text.contains("No proposals await a decision."), "{text}");
    visit(&c, &base, "/orgs/north-reading/settings").await;
    let population = c
        .find(Locator::Id("field-population"))
        .await
        .unwrap()
        .prop("value")
        .await
        .unwrap();
    assert_eq!(population.as_deref(), Some("15900"));
}

/// A member administrator adds people by invitation (issue 13): the form says so, an address with an
/// account elsewhere and an unknown one land on the same page, an invitation that no mail server sent shows
/// as not sent, and it is resent or revoked from the people page — at a laptop's and a phone's width.
#[tokio::test(flavor = "multi_thread")]
async fn a_member_admin_invites_people_and_resends_or_revokes_invitations() {
    let (base, _dir, db) = start_civitas_with_db().await;
    let (_driver, c, _profile) = start_browser().await;
    sign_in(&c, &base, "admin@north-reading.example.gov").await;
    visit(&c, &base, "/orgs/north-reading/users/new").await;
    let form = body_text(&c).await;
    assert!(form.contains("We will email an invitation"), "{form}");
    assert!(c.find(Locator::Id("field-password")).await.is_err());
    screenshots_at_both_widths(&c, "person-invite-form").await;
    let mut pages = Vec::new();
    for email in [
        "admin@stoneham.example.gov",
        "someone.new@north-reading.example.gov",
    ] {
        visit(&c, &base, "/orgs/north-reading/users/new").await;
        fill(&c, "field-email", email).await;
        choose(&c, "field-role", "member-staff").await;
        submit(&c).await;
        c.wait()
            .for_element(Locator::Id("invitations"))
            .await
            .unwrap();
        let url = c.current_url().await.unwrap();
        assert!(
            url.as_str()
                .ends_with("/orgs/north-reading/users?notice=invited#invitations"),
            "{url}"
        );
        let text = body_text(&c).await;
        assert!(
            text.contains("The invitation is made and its mail queued"),
            "{text}"
        );
        pages.push(url.to_string());
    }
    assert_eq!(pages[0], pages[1], "the same answer for both addresses");
    // No mail server here: the invitations' jobs record that they did not go.
    let org = store::tenancy::orgs::get_by_slug(&db, &store::Scope::Region, "north-reading")
        .await
        .unwrap();
    let invitations = store::tenancy::invitations::list(&db, &store::Scope::Region, org.id, 10)
        .await
        .unwrap();
    for inv in &invitations {
        civitas::notify::invitation(&db, None, &json!({ "invitation": inv.id.to_string() }))
            .await
            .unwrap();
    }
    visit(&c, &base, "/orgs/north-reading/users#invitations").await;
    // (Tags are shown in capitals.)
    let text = body_text(&c).await.to_lowercase();
    assert!(
        text.contains("not sent") && text.contains("no mail server is configured"),
        "{text}"
    );
    screenshots_at_both_widths(&c, "people-invitations-not-sent").await;
    // Resend the first, revoke the second.
    let first = invitations[0].id;
    let second = invitations[1].id;
    click_and_load(
        &c,
        Locator::Css(&format!(
            "form[action='/orgs/north-reading/invitations/{first}/resend'] button"
        )),
    )
    .await;
    assert!(body_text(&c).await.contains("queued to be mailed again"));
    click_and_load(
        &c,
        Locator::Css(&format!(
            "form[action='/orgs/north-reading/invitations/{second}/revoke'] button"
        )),
    )
    .await;
    let text = body_text(&c).await.to_lowercase();
    assert!(text.contains("the invitation is withdrawn"), "{text}");
    assert!(
        text.contains("waiting to be mailed") && text.contains("revoked"),
        "{text}"
    );
    screenshots_at_both_widths(&c, "people-invitations-resent-revoked").await;
    c.close().await.unwrap();
}
