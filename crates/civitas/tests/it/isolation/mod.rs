//! The isolation matrix: every route, the permission it needs, exercised as every role against its own
//! member's data and another member's. A route missing from the matrix fails the test, so a new endpoint
//! cannot ship without its tenancy being checked.
//!
//! The expectations are written out here, from the role definitions in docs/ARCHITECTURE.md, and not
//! computed with the authorization module under test.

use crate::helpers::{HUB, OTHER, OWN, TestApp};
use domain::authz::{Role, Scope};
use domain::tenancy::drafts::SiteDraft;
use domain::tenancy::{Email, SiteKind};
use reqwest::Method;
use serde_json::{Value, json};
use std::sync::atomic::{AtomicUsize, Ordering};
use store::audit::Actor;
use store::tenancy::{directory, orgs, users};

mod accounts;
mod architecture;
mod audit;
mod billing;
mod cloud;
mod cmdb;
mod desk;
mod portfolio;
mod tenancy;

#[derive(Clone, Copy, Debug, PartialEq)]
enum Need {
    Public,
    SignedIn,
    Perm(&'static str),
    /// The permission from a grant on the hub (the hub's own settings): a member's grant of it is refused.
    Hub(&'static str),
}

/// What the route's `{id}` (and `{slug}`) stand for.
#[derive(Clone, Copy, Debug, PartialEq)]
enum Target {
    /// No organisation in the path: a list over the caller's scope, or a creation.
    None,
    Org,
    Department,
    Site,
    User,
    Grant,
    /// The caller's own token: not tenant data.
    OwnToken,
    /// A local closure day (`{date}`).
    Closure,
    /// A token (`{token}`) of a person (`{id}`) of the target organisation.
    UserToken,
    /// A catalog service or item (`{id}`): the hub's, the same for every member.
    Service,
    Item,
    /// The starter catalog's standard SLA policy (`{id}`): the hub's.
    Policy,
    /// A new ticket (`{number}`) of the target organisation, requested by its member staff (or, in the
    /// other member, by its administrator).
    Ticket,
    /// A resolved ticket requested by the caller when the caller belongs to the target organisation.
    ResolvedTicket,
    /// A request awaiting the member's approval.
    PendingTicket,
    /// A time entry (`{id}`) on a ticket of the target organisation, logged by the caller when the caller
    /// logs time (else by the hub agent).
    TimeEntry,
    /// The caller's timer, running on a ticket of the target organisation (when the caller logs time).
    RunningTimer,
    /// A file (`{id}`) on a ticket (`{number}`) of the target organisation.
    TicketFile,
    /// A message kept in mail triage (`{id}`): the hub's, not a member's.
    MailEntry,
    /// A published knowledge-base article for every member (`{id}`).
    Article,
    /// Two tickets of the target organisation: `{number}` and, in the body, the other.
    TicketPair,
    /// A ticket (`{number}`) the caller watches (`{id}`), when the caller may; else its requester watches.
    Watcher,
    /// A rate card (`{id}`): the hub's, the same for every member.
    RateCard,
    /// An agreement (`{id}`) of the target organisation.
    Agreement,
    /// A subscription (`{id}`) under an agreement of the target organisation.
    Subscription,
    /// A draft invoice (`{id}`) of the target organisation, from a run of a month of its own.
    DraftInvoice,
    /// An issued invoice (`{id}`) of the target organisation.
    IssuedInvoice,
    /// A cost of a service (`{id}`): the hub's own books.
    Cost,
    /// A standalone benchmark (`{id}`): the hub's, the same for every member.
    Benchmark,
    /// A credit (`{id}`) under an agreement of the target organisation.
    Credit,
    /// A document (`{doc}`) of an agreement (`{id}`) of the target organisation.
    Document,
    /// A configuration item (`{id}`) of the target organisation.
    Ci,
    /// A relationship (`{id}`) between two items of the target organisation.
    CiRelation,
    /// The hub's item (`{id}`) linked to a ticket (`{number}`) of the target organisation.
    TicketCi,
    /// A pool of the regional cloud (`{id}`): the hub's.
    Pool,
    /// An application (`{id}`, a CMDB item) of the target organisation.
    App,
    /// A technology standard (`{id}`): the region's.
    Standard,
    /// An exception request (`{id}`) of the target organisation, awaiting review.
    Exception,
    /// A pool (`{id}`) and one of the hub's hosts in it (`{token}`).
    PoolPart,
    /// A pending proposed change (`{id}`) to the target organisation's population.
    Proposal,
    /// A pending invitation (`{id}`) to the target organisation.
    Invitation,
}

impl Target {
    /// Hub-wide data: the same whichever member is the target.
    fn regional(self) -> bool {
        matches!(
            self,
            Self::None
                | Self::Service
                | Self::Item
                | Self::Policy
                | Self::MailEntry
                | Self::Article
                | Self::RateCard
                | Self::Cost
                | Self::Benchmark
                | Self::Pool
                | Self::PoolPart
                | Self::Standard
        )
    }
}

enum Body {
    None,
    Json(Value),
    Form(Vec<(String, String)>),
    /// A page's file upload: (file name, contents), sent as multipart/form-data after `_csrf`.
    Upload(&'static str, &'static str),
    /// A CSV file as the request body.
    Csv(String),
}

struct Fresh {
    n: usize,
    date: String,
    slug: &'static str,
    email: String,
    service: String,
    /// Another service, for bodies that must not collide with the first's (a benchmark per size band).
    spare_service: String,
    /// The target ticket's number, for forms that name it in the body.
    ticket: String,
    /// The second ticket of a pair.
    other_ticket: i64,
    /// A published article, for bodies that link one.
    article: String,
    /// A configuration item of the hub (which every member sees), for bodies that relate to one.
    hub_ci: String,
    /// A host of the hub in no pool yet, made for the cases that add one to a pool.
    hub_host: String,
    /// A technology standard on hold, for bodies that name one.
    standard: String,
}

struct Case {
    method: &'static str,
    path: &'static str,
    need: Need,
    target: Target,
    body: fn(&Fresh) -> Body,
}

fn none(_: &Fresh) -> Body {
    Body::None
}

fn form(pairs: &[(&str, &str)]) -> Body {
    Body::Form(
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect(),
    )
}

fn org_settings_form(_: &Fresh) -> Body {
    form(&[
        ("name", "Town Name"),
        ("kind", "town"),
        ("time_zone", "America/New_York"),
        ("fiscal_year_start_month", "7"),
        ("business_hours_monday", "08:00-17:00"),
        ("observe_federal_holidays", "true"),
    ])
}

/// A case of the matrix.
fn c(
    method: &'static str,
    path: &'static str,
    need: Need,
    target: Target,
    body: fn(&Fresh) -> Body,
) -> Case {
    Case {
        method,
        path,
        need,
        target,
        body,
    }
}

/// Every feature's cases, named by the feature whose folder of `crates/web/src` registers the routes.
fn by_feature() -> Vec<(&'static str, Vec<Case>)> {
    vec![
        ("accounts", accounts::cases()),
        ("tenancy", tenancy::cases()),
        ("audit", audit::cases()),
        ("desk", desk::cases()),
        ("billing", billing::cases()),
        ("cmdb", cmdb::cases()),
        ("cloud", cloud::cases()),
        ("portfolio", portfolio::cases()),
        ("architecture", architecture::cases()),
    ]
}

fn cases() -> Vec<Case> {
    by_feature().into_iter().flat_map(|(_, c)| c).collect()
}

/// The specification: which permissions each role carries, and whether it reaches the whole region.
fn allows(role: &str, perm: &str) -> bool {
    let read = ["org-read", "directory-read", "user-read", "ticket-read"];
    match role {
        // Approving a member's spending and rating the service are the member's own acts.
        "hub-admin" => !["ticket-approve", "ticket-rate"].contains(&perm),
        "hub-agent" => {
            read.contains(&perm)
                || [
                    "ticket-submit",
                    "ticket-work",
                    "time-log",
                    "time-read",
                    "kb-write",
                    "report-read",
                    "cmdb-read",
                    "cmdb-manage",
                ]
                .contains(&perm)
        }
        "hub-auditor" | "member-auditor" => {
            read.contains(&perm)
                || ["audit-read", "time-read", "report-read", "billing-read", "cmdb-read"].contains(&perm)
                // The hub's own books are the hub's: its auditors see them, a member's do not.
                || (perm == "finance-read" && role == "hub-auditor")
        }
        "member-admin" => ![
            "org-manage",
            "ticket-work",
            "catalog-manage",
            "time-log",
            "kb-write",
            "billing-manage",
            "finance-read",
        ]
        .contains(&perm),
        "member-staff" => [
            "org-read",
            "directory-read",
            "ticket-read",
            "ticket-submit",
            "ticket-rate",
        ]
        .contains(&perm),
        _ => false,
    }
}

fn reaches_region(role: &str) -> bool {
    role.starts_with("hub-")
}

const ROLES: [&str; 6] = [
    "hub-admin",
    "hub-agent",
    "hub-auditor",
    "member-admin",
    "member-staff",
    "member-auditor",
];

fn key(m: &str, p: &str) -> String {
    format!("{m} {}", p.split('?').next().unwrap_or(p))
}

#[tokio::test]
async fn every_route_is_in_the_matrix() {
    let mut matrix = std::collections::BTreeMap::new();
    for (feature, cases) in by_feature() {
        for c in cases {
            matrix.insert(key(c.method, c.path), (feature, c.need));
        }
    }
    let registered = web::registered_routes();
    for r in &registered {
        let k = key(r.method, r.path);
        let (feature, need) = matrix.get(&k).unwrap_or_else(|| {
            panic!(
                "{k} is not in the isolation matrix (tests/it/isolation/{}.rs)",
                r.feature
            )
        });
        assert_eq!(
            *feature, r.feature,
            "{k} is registered by {} but listed in tests/it/isolation/{feature}.rs",
            r.feature
        );
        let expected = match need {
            Need::Public => "public".to_owned(),
            Need::SignedIn => "signed-in".to_owned(),
            Need::Perm(p) => (*p).to_owned(),
            Need::Hub(p) => format!("{p} (a grant on the hub)"),
        };
        assert_eq!(
            r.needs.to_string(),
            expected,
            "{k}: the route table says it needs {}, the matrix {expected}",
            r.needs
        );
    }
    assert_eq!(
        matrix.len(),
        registered.len(),
        "the matrix lists routes that do not exist"
    );
}

/// The policy form's fields: a name and the standard targets.
fn policy_form(name: String) -> Body {
    let mut fields = vec![
        ("name".to_owned(), name),
        ("coverage".to_owned(), "business_hours".to_owned()),
    ];
    for (i, t) in domain::desk::SlaTargets::standard().0.iter().enumerate() {
        let p = i + 1;
        fields.push((
            format!("targets_p{p}_response_minutes"),
            t.response_minutes.to_string(),
        ));
        fields.push((
            format!("targets_p{p}_resolution_minutes"),
            t.resolution_minutes.to_string(),
        ));
    }
    Body::Form(fields)
}

impl Fresh {
    fn service_policy(&self) -> String {
        POLICY.get().cloned().unwrap_or_default()
    }
}

/// A published article for every member, made once per run.
static ARTICLE: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// The starter catalog's standard policy id, for bodies that need one.
static POLICY: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Makes the ticket a case targets, as the system; returns its number.
async fn target_ticket(
    app: &TestApp,
    kind: Target,
    target: &str,
    caller: domain::ids::UserId,
    n: usize,
) -> i64 {
    use store::desk::tickets::{self, Changes, NewTicket};
    let sys = Actor::system("matrix");
    let org = app.orgs[target];
    let default_requester = if target == OWN {
        app.who("member-staff").user_id
    } else {
        app.who("other-admin").user_id
    };
    let caller_in_org = users::get(&app.db, &Scope::Region, caller)
        .await
        .is_ok_and(|u| u.org_id == org);
    let requester = if kind == Target::ResolvedTicket && caller_in_org {
        caller
    } else {
        default_requester
    };
    let pending = kind == Target::PendingTicket;
    let new = NewTicket {
        org_id: org,
        kind: domain::desk::TicketKind::Incident,
        subject: format!("Target ticket {n}"),
        description: "Made for the isolation matrix".into(),
        requester_id: requester,
        department_id: None,
        site_id: None,
        service_id: None,
        catalog_item_id: pending.then(|| app.desk.items["New laptop"]),
        form_answers: if pending {
            [
                ("model".to_owned(), "Standard".to_owned()),
                ("for_whom".to_owned(), "Matrix".to_owned()),
            ]
            .into()
        } else {
            Default::default()
        },
        category: String::new(),
        impact: domain::desk::Impact::Low,
        urgency: domain::desk::Urgency::Low,
        source: domain::desk::Source::Api,
        team_id: None,
        opened_at: None,
    };
    let t = tickets::open(&app.db, &Scope::Region, &sys, new)
        .await
        .unwrap();
    if kind == Target::ResolvedTicket {
        let view = domain::authz::TicketView {
            all: Scope::Region,
            own: Scope::Orgs(Default::default()),
            user: caller,
            internal: true,
        };
        let c = Changes {
            status: Some(domain::desk::Status::Resolved),
            ..Changes::default()
        };
        tickets::update(&app.db, &view, &Scope::Region, &sys, t.number, None, &c)
            .await
            .unwrap();
    }
    t.number
}

static COUNTER: AtomicUsize = AtomicUsize::new(0);

/// The rate card the matrix uses, made once per run.
static RATE_CARD: tokio::sync::OnceCell<domain::ids::RateCardId> =
    tokio::sync::OnceCell::const_new();

async fn rate_card(app: &TestApp) -> domain::ids::RateCardId {
    *RATE_CARD
        .get_or_init(|| async {
            store::billing::rates::create(
                &app.db,
                &Actor::system("matrix"),
                &store::billing::rates::CardDraft {
                    service_id: app.desk.services["email"],
                    name: "Email — per mailbox (matrix)".into(),
                    model: domain::billing::Model::PerUnit,
                    unit: "mailbox".into(),
                    meter: String::new(),
                    activity: String::new(),
                },
                &store::billing::rates::RateDraft {
                    effective_from: jiff::civil::date(2026, 7, 1),
                    price: "6.50".parse().unwrap(),
                    overage: None,
                    note: String::new(),
                },
            )
            .await
            .unwrap()
            .id
        })
        .await
}

/// A server of `org`, recorded as the system.
async fn matrix_ci(app: &TestApp, org: domain::ids::OrgId, name: &str) -> String {
    matrix_item(app, org, domain::cmdb::CiType::Server, name).await
}

/// An item of `org` of a type, recorded as the system.
async fn matrix_item(
    app: &TestApp,
    org: domain::ids::OrgId,
    ci_type: domain::cmdb::CiType,
    name: &str,
) -> String {
    store::cmdb::create(
        &app.db,
        &Scope::Region,
        &Actor::system("matrix"),
        &store::cmdb::CiDraft {
            org_id: org,
            department_id: None,
            ci_type,
            name: name.to_owned(),
            status: domain::cmdb::CiStatus::Active,
            attributes: Default::default(),
        },
    )
    .await
    .unwrap()
    .id
    .to_string()
}

static HUB_CI: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// The hub's storage array, made once per run: every member sees it and may relate its items to it.
async fn hub_ci(app: &TestApp) -> String {
    HUB_CI
        .get_or_init(|| matrix_ci(app, app.orgs[HUB], "Regional storage array"))
        .await
        .clone()
}

static STANDARD: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// A standard on hold, made once per run.
async fn standard(app: &TestApp) -> String {
    STANDARD
        .get_or_init(|| async {
            store::architecture::create_standard(
                &app.db,
                &Actor::system("matrix"),
                &store::architecture::StandardDraft {
                    name: "Matrix OS 1".into(),
                    area: Some(domain::architecture::Area::Infrastructure),
                    ring: Some(domain::architecture::Ring::Hold),
                    description: String::new(),
                    match_terms: vec!["Matrix OS 1".into()],
                    instead: String::new(),
                },
            )
            .await
            .unwrap()
            .id
        })
        .await
        .clone()
}

static BENCHMARK: tokio::sync::OnceCell<String> = tokio::sync::OnceCell::const_new();

/// The benchmark that cases on one change, made once per run.
async fn benchmark(app: &TestApp) -> String {
    BENCHMARK
        .get_or_init(|| async {
            store::billing::finance::add_benchmark(
                &app.db,
                &Actor::system("matrix"),
                &store::billing::finance::BenchmarkDraft {
                    service_id: app.desk.services["email"],
                    size_band: domain::billing::finance::SizeBand::Small,
                    standalone: domain::billing::finance::Standalone {
                        staff_cents: 2_000_000,
                        licences_cents: 300_000,
                        hardware_cents: 100_000,
                    },
                    source: "Matrix survey".into(),
                    note: String::new(),
                },
            )
            .await
            .unwrap()
            .id
        })
        .await
        .clone()
}

/// An invoice of `org` for a month of its own (2040 onwards, by `n`), issued when asked.
async fn invoice(app: &TestApp, org: domain::ids::OrgId, n: usize, issued: bool) -> String {
    let sys = Actor::system("matrix");
    let a = agreement(app, org).await;
    store::billing::agreements::subscribe(
        &app.db,
        &Scope::Region,
        &sys,
        a,
        &store::billing::agreements::SubscriptionDraft {
            rate_card_id: rate_card(app).await,
            quantity: 3.into(),
            starts_on: jiff::civil::date(2026, 7, 1),
            ends_on: None,
        },
    )
    .await
    .unwrap();
    let n = i16::try_from(n % 1200).unwrap();
    let period =
        domain::billing::Period::month(2040 + n / 12, i8::try_from(n % 12 + 1).unwrap()).unwrap();
    let label = period.label(7);
    store::billing::invoices::run(&app.db, &sys, &period, &label)
        .await
        .unwrap();
    let page = store::billing::invoices::list(
        &app.db,
        &Scope::Region,
        &store::billing::invoices::Filter {
            org: Some(org),
            status: None,
            period: Some(label),
        },
        &store::page::PageRequest::first(200),
    )
    .await
    .unwrap();
    let id = page
        .items
        .iter()
        .find(|i| i.agreement_id == a)
        .unwrap()
        .id
        .clone();
    if issued {
        store::billing::invoices::issue(
            &app.db,
            &Scope::Region,
            &sys,
            &id,
            None,
            &jiff::civil::date(2040, 1, 1)
                .at(9, 0, 0, 0)
                .to_zoned_datetime(jiff::tz::TimeZone::UTC)
                .unwrap(),
        )
        .await
        .unwrap();
    }
    id
}

/// A fresh agreement of `org`, made as the system.
async fn agreement(app: &TestApp, org: domain::ids::OrgId) -> domain::ids::AgreementId {
    use domain::billing::agreement::{AgreementStatus, Renewal};
    store::billing::agreements::create(
        &app.db,
        &Scope::Region,
        &Actor::system("matrix"),
        org,
        &store::billing::agreements::AgreementDraft {
            title: "Shared services".into(),
            status: AgreementStatus::Active,
            cadence: domain::billing::Cadence::Monthly,
            starts_on: jiff::civil::date(2026, 7, 1),
            ends_on: None,
            renewal: Renewal::Annual,
            approving_body: "Select Board".into(),
            vote_date: None,
            notes: String::new(),
        },
    )
    .await
    .unwrap()
    .id
}

/// A distinct date per request, so that closure days never collide.
fn fresh_date(n: usize) -> jiff::civil::Date {
    jiff::civil::date(2030, 1, 1)
        .checked_add(jiff::Span::new().days(i64::try_from(n).unwrap()))
        .unwrap()
}

/// A person with no role beyond member staff, made as the system, to act on.
async fn fresh_user(
    app: &TestApp,
    sys: &Actor,
    org: domain::ids::OrgId,
    email: &str,
) -> users::User {
    let email = Email::parse(email).unwrap();
    let new = users::NewUser {
        email: &email,
        name: "Fresh",
        role: Role::MemberStaff,
        password_hash: None,
    };
    users::create(&app.db, &Scope::Region, sys, org, new)
        .await
        .unwrap()
}

#[tokio::test]
async fn every_role_sees_only_what_it_may() {
    let mut app = TestApp::new().await;
    let _ = POLICY.set(app.desk.standard.to_string());
    let article = store::desk::kb::create(
        &app.db,
        &Actor::system("matrix"),
        &store::desk::kb::Draft {
            title: "Printer jams".into(),
            body: "Open tray 2 and remove the paper.".into(),
            category: "Printing".into(),
            status: domain::desk::ArticleStatus::Published,
            visibility: domain::desk::Visibility::Members,
            org_id: None,
            service_id: None,
        },
    )
    .await
    .unwrap();
    let _ = ARTICLE.set(article.id);
    let sys = Actor::system("matrix");
    let mut failures = Vec::new();
    for case in cases() {
        for role in ROLES {
            for target in [OWN, OTHER] {
                if case.target.regional() && target == OTHER {
                    continue;
                }
                let n = COUNTER.fetch_add(1, Ordering::Relaxed);
                let org = app.orgs[target];
                let who = app.who(role).clone();
                // Fresh records in the target organisation, so that writes never depend on each other.
                let fresh_email = format!("fresh{n}@{target}.example.gov");
                let mut id = String::new();
                let mut token = String::new();
                match case.target {
                    Target::Department => {
                        id = directory::create_department(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            org,
                            &format!("Target {n}"),
                        )
                        .await
                        .unwrap()
                        .id
                        .to_string()
                    }
                    Target::Site => {
                        let d = SiteDraft {
                            name: format!("Target {n}"),
                            address: "9 Main St".into(),
                            kind: SiteKind::Other,
                        };
                        id = directory::create_site(&app.db, &Scope::Region, &sys, org, &d)
                            .await
                            .unwrap()
                            .id
                            .to_string();
                    }
                    Target::User | Target::Grant | Target::Org => {
                        let u = fresh_user(&app, &sys, org, &fresh_email).await;
                        id = u.id.to_string();
                        if case.target == Target::Grant {
                            id = users::grant(
                                &app.db,
                                &Scope::Region,
                                &sys,
                                org,
                                u.id,
                                Role::Auditor,
                            )
                            .await
                            .unwrap()
                            .id
                            .to_string();
                        }
                    }
                    Target::UserToken => {
                        let u = fresh_user(&app, &sys, org, &fresh_email).await;
                        token = store::auth::create_token(&app.db, &sys, u.id, org, "target")
                            .await
                            .unwrap()
                            .1
                            .id
                            .to_string();
                        id = u.id.to_string();
                    }
                    Target::Closure => {
                        let c = domain::calendar::Closure {
                            date: fresh_date(n),
                            name: "Target closure".into(),
                        };
                        store::tenancy::closures::add(&app.db, &Scope::Region, &sys, org, &c)
                            .await
                            .unwrap();
                        id = c.date.to_string();
                    }
                    Target::OwnToken => {
                        id = store::auth::create_token(&app.db, &sys, who.user_id, org, "target")
                            .await
                            .unwrap()
                            .1
                            .id
                            .to_string()
                    }
                    Target::Service => id = app.desk.services["email"].to_string(),
                    Target::Item => id = app.desk.items["Map request"].to_string(),
                    Target::Policy => id = POLICY.get().cloned().unwrap_or_default(),
                    Target::RateCard => id = rate_card(&app).await.to_string(),
                    Target::Cost => {
                        id = store::billing::finance::add_cost(
                            &app.db,
                            &sys,
                            &store::billing::finance::CostDraft {
                                service_id: app.desk.services["gis"],
                                fiscal_year: 2027,
                                category: domain::billing::finance::CostCategory::Network,
                                description: format!("Fibre {n}"),
                                amount_cents: 120_000,
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Benchmark => id = benchmark(&app).await,
                    Target::Standard => id = standard(&app).await,
                    Target::Exception => {
                        id = store::architecture::request_exception(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            who.user_id,
                            &store::architecture::ExceptionDraft {
                                org_id: org,
                                standard_id: standard(&app).await,
                                ci_id: None,
                                title: format!("Exception {n}"),
                                reason: "Matrix".into(),
                                risk: domain::architecture::Risk::Low,
                                mitigation: String::new(),
                                requested_until: None,
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Pool | Target::PoolPart => {
                        let pool = store::cloud::create_pool(
                            &app.db,
                            &sys,
                            &store::cloud::PoolDraft {
                                name: format!("Matrix pool {n}"),
                                site_id: None,
                                capacity: domain::cloud::Resources {
                                    vcpu: 64,
                                    ..Default::default()
                                },
                                notes: String::new(),
                            },
                        )
                        .await
                        .unwrap();
                        id = pool.id.to_string();
                        if case.target == Target::PoolPart {
                            let host =
                                matrix_ci(&app, app.orgs[HUB], &format!("Pool host {n}")).await;
                            store::cloud::add_part(&app.db, &sys, pool.id, host.parse().unwrap())
                                .await
                                .unwrap();
                            token = host;
                        }
                    }
                    Target::Invitation => {
                        id = store::tenancy::invitations::create(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            org,
                            &Email::parse(&fresh_email).unwrap(),
                            Role::MemberStaff,
                        )
                        .await
                        .unwrap()
                        .id
                        .to_string();
                    }
                    Target::Proposal => {
                        id = store::tenancy::proposals::propose(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            target,
                            |_| {
                                Ok(domain::tenancy::proposals::ProposalDraft {
                                    field: domain::tenancy::proposals::Field::Population,
                                    value: i64::try_from(30_000 + n).unwrap(),
                                    reason: "Census".into(),
                                    source: String::new(),
                                })
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Ci => id = matrix_ci(&app, org, &format!("Target {n}")).await,
                    Target::App => {
                        id = matrix_item(
                            &app,
                            org,
                            domain::cmdb::CiType::Application,
                            &format!("Application {n}"),
                        )
                        .await
                    }
                    Target::CiRelation => {
                        let a = matrix_ci(&app, org, &format!("Target {n}")).await;
                        let b = matrix_ci(&app, org, &format!("Target {n} host")).await;
                        id = store::cmdb::relate(
                            &app.db,
                            &Scope::Region,
                            &Scope::Region,
                            &sys,
                            a.parse().unwrap(),
                            domain::cmdb::RelationKind::RunsOn,
                            b.parse().unwrap(),
                        )
                        .await
                        .unwrap()
                        .id;
                    }
                    Target::Document => {
                        let a = agreement(&app, org).await;
                        id = a.to_string();
                        token = store::billing::agreements::attach_document(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            a,
                            store::desk::tickets::NewFile {
                                name: "minutes.txt",
                                content_type: "text/plain",
                                bytes: b"Voted 5-0",
                            },
                        )
                        .await
                        .unwrap()
                        .id;
                    }
                    Target::Credit => {
                        let a = agreement(&app, org).await;
                        id = store::billing::finance::add_credit(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            &store::billing::finance::CreditDraft {
                                agreement_id: a,
                                month: "2026-09".into(),
                                amount_cents: 1_000,
                                reason: "Target credit".into(),
                            },
                        )
                        .await
                        .unwrap()
                        .id
                    }
                    Target::Agreement => id = agreement(&app, org).await.to_string(),
                    Target::DraftInvoice | Target::IssuedInvoice => {
                        id = invoice(&app, org, n, case.target == Target::IssuedInvoice).await;
                    }
                    Target::Subscription => {
                        let a = agreement(&app, org).await;
                        id = store::billing::agreements::subscribe(
                            &app.db,
                            &Scope::Region,
                            &sys,
                            a,
                            &store::billing::agreements::SubscriptionDraft {
                                rate_card_id: rate_card(&app).await,
                                quantity: 5.into(),
                                starts_on: jiff::civil::date(2026, 7, 1),
                                ends_on: None,
                            },
                        )
                        .await
                        .unwrap()
                        .id
                        .to_string();
                    }
                    Target::Ticket | Target::ResolvedTicket | Target::PendingTicket => {
                        id = target_ticket(&app, case.target, target, who.user_id, n)
                            .await
                            .to_string();
                    }
                    Target::Article => {
                        id = ARTICLE.get().cloned().unwrap_or_default();
                    }
                    Target::TicketPair => {
                        id = target_ticket(&app, Target::Ticket, target, who.user_id, n)
                            .await
                            .to_string();
                        token =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n + 500_000)
                                .await
                                .to_string();
                    }
                    Target::Watcher => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let caller_org = users::get(&app.db, &Scope::Region, who.user_id)
                            .await
                            .unwrap()
                            .org_id;
                        let watcher = if caller_org == org || caller_org == app.orgs[HUB] {
                            who.user_id
                        } else {
                            app.who("other-admin").user_id
                        };
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: watcher,
                            internal: true,
                        };
                        store::desk::tickets::add_watcher(&app.db, &view, &sys, number, watcher)
                            .await
                            .unwrap();
                        id = watcher.to_string();
                        token = number.to_string();
                    }
                    Target::MailEntry => {
                        let mid = format!("<matrix-{n}@example.com>");
                        store::desk::mail::record(
                            &app.db,
                            Some(&mid),
                            "x@example.com",
                            "Help",
                            store::desk::mail::Outcome::Triage,
                            "unknown sender",
                            None,
                            Some(b"Subject: Help\r\n\r\nbody"),
                        )
                        .await
                        .unwrap();
                        id = store::desk::mail::list(
                            &app.db,
                            store::desk::mail::Outcome::Triage,
                            false,
                            &store::page::PageRequest::first(1),
                        )
                        .await
                        .unwrap()
                        .items[0]
                            .id
                            .clone();
                    }
                    Target::TicketCi => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: who.user_id,
                            internal: true,
                        };
                        id = hub_ci(&app).await;
                        store::cmdb::link_ticket(
                            &app.db,
                            &view,
                            &Scope::Region,
                            &sys,
                            number,
                            id.parse().unwrap(),
                        )
                        .await
                        .unwrap();
                        token = number.to_string();
                    }
                    Target::TicketFile => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: who.user_id,
                            internal: true,
                        };
                        id = store::desk::tickets::attach(
                            &app.db,
                            &view,
                            &sys,
                            number,
                            None,
                            store::desk::tickets::NewFile {
                                name: "a.txt",
                                content_type: "text/plain",
                                bytes: b"hello",
                            },
                        )
                        .await
                        .unwrap()
                        .id;
                        token = number.to_string();
                    }
                    Target::TimeEntry | Target::RunningTimer => {
                        let number =
                            target_ticket(&app, Target::Ticket, target, who.user_id, n).await;
                        let logs = ["hub-admin", "hub-agent"].contains(&role);
                        let owner = if logs {
                            who.user_id
                        } else {
                            app.who("hub-agent").user_id
                        };
                        let view = domain::authz::TicketView {
                            all: Scope::Region,
                            own: Scope::Orgs(Default::default()),
                            user: owner,
                            internal: true,
                        };
                        if case.target == Target::TimeEntry {
                            let e = store::desk::time::NewEntry {
                                ticket_number: number,
                                work_date: jiff::civil::date(2026, 11, 2),
                                minutes: 30,
                                activity: domain::desk::Activity::Support,
                                billable: true,
                                note: String::new(),
                            };
                            id = store::desk::time::log_time(
                                &app.db,
                                &view,
                                &Scope::Region,
                                &sys,
                                owner,
                                &e,
                            )
                            .await
                            .unwrap()
                            .id;
                        } else if logs {
                            store::desk::time::discard_timer(&app.db, owner)
                                .await
                                .unwrap();
                            store::desk::time::start(
                                &app.db,
                                &view,
                                &Scope::Region,
                                owner,
                                number,
                                domain::desk::Activity::Support,
                                true,
                            )
                            .await
                            .unwrap();
                        }
                    }
                    Target::None => {}
                }
                if case.path.contains("timer") && case.target != Target::RunningTimer {
                    // One timer per person: each timer case starts from none.
                    store::desk::time::discard_timer(&app.db, who.user_id)
                        .await
                        .unwrap();
                }
                let path = case
                    .path
                    .replace("{slug}", target)
                    .replace("{id}", &id)
                    .replace("{date}", &id)
                    .replace("{token}", &token)
                    .replace("{doc}", &token)
                    .replace("{ci}", &token)
                    // Notification templates are the region's, named by event.
                    .replace("{event}", "resolved")
                    .replace(
                        "{number}",
                        if matches!(
                            case.target,
                            Target::TicketFile | Target::Watcher | Target::TicketCi
                        ) {
                            &token
                        } else {
                            &id
                        },
                    );
                let fresh = Fresh {
                    n,
                    date: fresh_date(n + 100_000).to_string(),
                    slug: target,
                    email: fresh_email.clone(),
                    service: app.desk.services["gis"].to_string(),
                    spare_service: app.desk.services["devices"].to_string(),
                    ticket: id.clone(),
                    other_ticket: token.parse().unwrap_or(0),
                    article: ARTICLE.get().cloned().unwrap_or_default(),
                    hub_ci: hub_ci(&app).await,
                    standard: standard(&app).await,
                    hub_host: if case.path.ends_with("/parts") {
                        matrix_ci(&app, app.orgs[HUB], &format!("Matrix host {n}")).await
                    } else {
                        String::new()
                    },
                };
                let method = Method::from_bytes(case.method.as_bytes()).unwrap();
                let is_api = path.starts_with("/api/v1/");
                let mut req = if is_api {
                    app.api(role, method, &path)
                } else {
                    app.page(role, method, &path)
                };
                req = match ((case.body)(&fresh), is_api) {
                    (Body::Json(v), _) => req.json(&v),
                    (Body::Csv(text), _) => req.header("content-type", "text/csv").body(text),
                    (Body::Form(mut pairs), false) => {
                        pairs.push(("_csrf".into(), who.csrf.clone()));
                        req.form(&pairs)
                    }
                    (Body::None, false) if case.method == "POST" => {
                        req.form(&[("_csrf", who.csrf.clone())])
                    }
                    (Body::Form(pairs), true) => req.form(&pairs),
                    (Body::Upload(name, text), _) => req.multipart(
                        reqwest::multipart::Form::new()
                            .text("_csrf", who.csrf.clone())
                            .part(
                                "file",
                                reqwest::multipart::Part::text(text)
                                    .file_name(name)
                                    .mime_str("text/plain")
                                    .unwrap(),
                            ),
                    ),
                    (Body::None, _) => req,
                };
                let status = req.send().await.unwrap().status().as_u16();
                let expected = match case.need {
                    Need::Public => "not 5xx",
                    Need::SignedIn => "allowed",
                    Need::Perm(p) if !allows(role, p) => "403",
                    Need::Perm(_)
                        if case.target == Target::None || target == OWN || reaches_region(role) =>
                    {
                        "allowed"
                    }
                    Need::Perm(_) => "404",
                    Need::Hub(p) if !allows(role, p) || !reaches_region(role) => "403",
                    Need::Hub(_) => "allowed",
                };
                let ok = match expected {
                    "not 5xx" => status < 500,
                    "allowed" if case.need == Need::SignedIn => {
                        status < 500 && ![401, 403, 404].contains(&status)
                    }
                    "allowed" => (200..400).contains(&status),
                    "403" => status == 403,
                    _ => status == 404,
                };
                if !ok {
                    failures.push(format!(
                        "{} {path} as {role} on {target}: got {status}, expected {expected}",
                        case.method
                    ));
                }
                // Undo what would change later cases: reactivate members, restore a signed-out session.
                if case.path.ends_with("/deactivate") {
                    for slug in [OWN, OTHER, HUB] {
                        let _ =
                            orgs::set_active(&app.db, &Scope::Region, &sys, slug, None, true).await;
                    }
                }
                if case.path == "/sign-out" {
                    let (secret, s) =
                        store::auth::create_session(&app.db, who.user_id, None, 3_600_000)
                            .await
                            .unwrap();
                    let p = app.people.get_mut(role).unwrap();
                    p.session = secret;
                    p.csrf = s.csrf_token;
                }
            }
        }
    }
    assert!(
        failures.is_empty(),
        "{} isolation failures:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
