//! The test application: a fresh database with a small region, a server on a random port, and a signed-in
//! person (token and session) for every role.

use domain::authz::{Role, Scope};
use domain::calendar::{HolidayRules, WeeklyHours};
use domain::ids::{OrgId, UserId};
use domain::tenancy::drafts::OrgDraft;
use domain::tenancy::{Email, OrgKind, OrgSlug};
use reqwest::{Client, RequestBuilder};
use std::collections::HashMap;
use std::sync::OnceLock;
use store::Db;
use store::audit::Actor;
use store::tenancy::{orgs, users};

pub const PASSWORD: &str = "correct-horse-battery";

/// The audit key of every test database (and of the `civitas` processes the tests run on them).
pub const AUDIT_KEY: &str = "civitas-integration-tests-audit-key-0123456789abcdef";

/// Installs [`AUDIT_KEY`] in this process, as `civitas` does at start-up from its configuration.
pub fn install_audit_key() {
    store::audit::install_key(domain::audit::AuditKey::parse(AUDIT_KEY).expect("key"))
        .expect("key");
}

/// The member every member-role person belongs to, and the one they must never see.
pub const OWN: &str = "north-reading";
pub const OTHER: &str = "stoneham";
pub const HUB: &str = "melrose";

/// The people of the fixture, by a name that says their role and where it is granted.
pub const PEOPLE: [(&str, &str, Role); 8] = [
    ("hub-admin", HUB, Role::HubAdmin),
    ("hub-agent", HUB, Role::HubAgent),
    ("hub-auditor", HUB, Role::Auditor),
    ("member-admin", OWN, Role::MemberAdmin),
    ("member-staff", OWN, Role::MemberStaff),
    ("member-auditor", OWN, Role::Auditor),
    ("other-admin", OTHER, Role::MemberAdmin),
    // A second member staff of the same member: sees only their own tickets.
    ("colleague", OWN, Role::MemberStaff),
];

#[derive(Clone, Debug)]
pub struct Who {
    pub user_id: UserId,
    pub token: String,
    pub session: String,
    pub csrf: String,
}

pub struct TestApp {
    pub base: String,
    pub db: Db,
    pub client: Client,
    pub people: HashMap<&'static str, Who>,
    pub orgs: HashMap<&'static str, OrgId>,
    pub database_url: String,
    /// The starter service catalog (policies, teams, services, items).
    pub desk: store::desk::starter::Starter,
    _dir: tempfile::TempDir,
}

fn password_hash() -> &'static str {
    static H: OnceLock<String> = OnceLock::new();
    H.get_or_init(|| store::auth::hash_password(PASSWORD).expect("hash"))
}

fn draft(slug: &str, name: &str, kind: OrgKind) -> OrgDraft {
    OrgDraft {
        slug: OrgSlug::parse(slug).expect("slug"),
        name: name.into(),
        kind,
        county: Some("Middlesex County".into()),
        population: Some(15_343),
        time_zone: "America/New_York".into(),
        fiscal_year_start_month: 7,
        business_hours: WeeklyHours::default(),
        holiday_rules: HolidayRules::default(),
    }
}

/// A fresh, empty, migrated database: SQLite in a temporary directory, or a new PostgreSQL database.
pub async fn fresh_database(dir: &tempfile::TempDir) -> (Db, String) {
    install_audit_key();
    let url = match std::env::var("CIVITAS_TEST_DATABASE_URL")
        .ok()
        .filter(|u| !u.is_empty())
    {
        Some(admin) => {
            use sqlx::Connection;
            let name = format!("t_{}", uuid::Uuid::now_v7().simple());
            let mut conn = sqlx::PgConnection::connect(&admin)
                .await
                .expect("connect to the test PostgreSQL server");
            sqlx::Executor::execute(&mut conn, format!("CREATE DATABASE {name}").as_str())
                .await
                .expect("create database");
            let base = admin
                .rsplit_once('/')
                .map_or(admin.as_str(), |(b, _)| b)
                .to_owned();
            format!("{base}/{name}")
        }
        None => format!("sqlite://{}/civitas.db", dir.path().display()),
    };
    let db = Db::connect(
        &url,
        &store::DbOptions {
            max_connections: 8,
            ..Default::default()
        },
    )
    .await
    .expect("connect");
    db.migrate().await.expect("migrate");
    (db, url)
}

impl TestApp {
    /// The hub (melrose), two members (north-reading, stoneham) and a person in every role.
    pub async fn new() -> Self {
        Self::with_web(|_| {}).await
    }

    /// Like [`TestApp::new`], with the web configuration changed by `f` (trusted proxies, metrics token).
    pub async fn with_web(f: impl FnOnce(&mut web::WebConfig)) -> Self {
        let dir = tempfile::tempdir().expect("tempdir");
        let (db, database_url) = fresh_database(&dir).await;
        let actor = Actor::system("test");
        let hub = orgs::create_region(
            &db,
            &actor,
            "Test Region",
            &draft(HUB, "City of Melrose", OrgKind::Hub),
        )
        .await
        .expect("region");
        let own = orgs::create_member(
            &db,
            &Scope::Region,
            &actor,
            &draft(OWN, "Town of North Reading", OrgKind::Town),
        )
        .await
        .expect("own");
        let other = orgs::create_member(
            &db,
            &Scope::Region,
            &actor,
            &draft(OTHER, "Town of Stoneham", OrgKind::Town),
        )
        .await
        .expect("other");
        let desk = store::desk::starter::install(&db, &actor)
            .await
            .expect("starter catalog");
        let org_ids = HashMap::from([(HUB, hub.id), (OWN, own.id), (OTHER, other.id)]);
        let mut people = HashMap::new();
        for (who, org, role) in PEOPLE {
            let email = Email::parse(&format!("{who}@{org}.example.gov")).expect("email");
            let u = users::create(
                &db,
                &Scope::Region,
                &actor,
                org_ids[org],
                users::NewUser {
                    email: &email,
                    name: who,
                    role,
                    password_hash: Some(password_hash().to_owned()),
                },
            )
            .await
            .expect("user");
            let (token, _) = store::auth::create_token(&db, &actor, u.id, u.org_id, "tests")
                .await
                .expect("token");
            let (session, s) = store::auth::create_session(&db, u.id, Some(u.org_id), 3_600_000)
                .await
                .expect("session");
            people.insert(
                who,
                Who {
                    user_id: u.id,
                    token,
                    session,
                    csrf: s.csrf_token,
                },
            );
        }
        let mut config = web::WebConfig {
            region_name: "Test Region".into(),
            ..Default::default()
        };
        f(&mut config);
        let state = web::AppState::new(db.clone(), config);
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(listener, web::app(state)));
        let client = Client::builder()
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .expect("client");
        Self {
            base: format!("http://{addr}"),
            db,
            client,
            people,
            orgs: org_ids,
            database_url,
            desk,
            _dir: dir,
        }
    }

    /// Another server process's worth of state on the same database: its own pools, its own caches. Returns
    /// its base URL. This is how a hub runs several servers behind a load balancer.
    pub async fn second_server(&self) -> String {
        let db = Db::connect(
            &self.database_url,
            &store::DbOptions {
                max_connections: 4,
                ..Default::default()
            },
        )
        .await
        .expect("connect");
        let state = web::AppState::new(
            db,
            web::WebConfig {
                region_name: "Test Region".into(),
                ..Default::default()
            },
        );
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let addr = listener.local_addr().expect("addr");
        tokio::spawn(serve(listener, web::app(state)));
        format!("http://{addr}")
    }

    pub fn who(&self, name: &str) -> &Who {
        &self.people[name]
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// An API request as `who`, with their bearer token.
    pub fn api(&self, who: &str, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client
            .request(method, self.url(path))
            .bearer_auth(&self.who(who).token)
    }

    /// A page request as `who`, with their session cookie.
    pub fn page(&self, who: &str, method: reqwest::Method, path: &str) -> RequestBuilder {
        self.client.request(method, self.url(path)).header(
            "cookie",
            format!("civitas_session={}", self.who(who).session),
        )
    }

    /// A form POST as `who` with the session's CSRF token added.
    pub fn form(&self, who: &str, path: &str, fields: &[(&str, &str)]) -> RequestBuilder {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", &self.who(who).csrf)];
        all.extend_from_slice(fields);
        self.page(who, reqwest::Method::POST, path).form(&all)
    }
}

/// Serves `app` as `civitas serve` does: with each connection's peer address.
pub async fn serve(listener: tokio::net::TcpListener, app: axum::Router) {
    let _ = axum::serve(
        listener,
        app.into_make_service_with_connect_info::<std::net::SocketAddr>(),
    )
    .await;
}

pub async fn json(res: reqwest::Response) -> (u16, serde_json::Value) {
    let status = res.status().as_u16();
    let text = res.text().await.unwrap_or_default();
    (
        status,
        serde_json::from_str(&text).unwrap_or(serde_json::Value::String(text)),
    )
}

/// A JSON API request as `who`: its status and body.
pub async fn send(
    app: &TestApp,
    who: &str,
    method: reqwest::Method,
    path: &str,
    body: serde_json::Value,
) -> (u16, serde_json::Value) {
    json(app.api(who, method, path).json(&body).send().await.unwrap()).await
}

/// A JSON API request without a body as `who`: its status and body.
pub async fn call(
    app: &TestApp,
    who: &str,
    method: reqwest::Method,
    path: &str,
) -> (u16, serde_json::Value) {
    json(app.api(who, method, path).send().await.unwrap()).await
}

/// A JSON API GET as `who`: its status and body.
pub async fn get(app: &TestApp, who: &str, path: &str) -> (u16, serde_json::Value) {
    call(app, who, reqwest::Method::GET, path).await
}

/// The fields a problem+json error names, in order.
pub fn fields(e: &serde_json::Value) -> Vec<String> {
    e["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x["field"].as_str().unwrap().to_owned())
        .collect()
}

/// Today in the region's time zone (America/New_York).
pub fn today() -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap();
    tz.to_datetime(jiff::Timestamp::now()).date()
}
