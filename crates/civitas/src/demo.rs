//! The demo region: Melrose as the hub and twelve neighbouring members, with real names, counties and
//! populations (US Census, Vintage 2021), departments, sites and people in every role. Deterministic: the
//! same names, places and sign-ins every time. Later modules extend it so every screen has data.

use anyhow::{Context, anyhow};
use domain::authz::{Role, Scope};
use domain::calendar::{HolidayRules, WeeklyHours};
use domain::tenancy::drafts::OrgDraft;
use domain::tenancy::drafts::SiteDraft;
use domain::tenancy::{Email, OrgKind, OrgSlug, SiteKind};
use store::Db;
use store::audit::Actor;
use store::tenancy::{directory, orgs, users};

/// Every demo account signs in with this password.
pub const DEMO_PASSWORD: &str = "civitas-demo-2026";
pub const REGION_NAME: &str = "Melrose Regional Shared IT Services";
pub const HUB: &str = "Melrose";
pub const MEMBERS: [&str; 12] = [
    "Malden",
    "Medford",
    "Stoneham",
    "Wakefield",
    "Saugus",
    "Reading",
    "Lynnfield",
    "Winchester",
    "Woburn",
    "Everett",
    "Revere",
    "North Reading",
];

/// One demo sign-in to print.
pub struct SignIn {
    pub role: &'static str,
    pub email: String,
    pub org: String,
}

pub struct Summary {
    pub sign_ins: Vec<SignIn>,
    pub orgs: usize,
    pub users: usize,
    /// Tickets loaded (0 when only the summary is printed).
    pub tickets: usize,
}

struct Place {
    name: String,
    county: String,
    population: i64,
    is_city: bool,
}

/// The municipalities file copied from the shared reference data (see data/README.md).
fn places() -> Vec<Place> {
    include_str!("../data/massachusetts-municipalities.csv")
        .lines()
        .skip(1)
        .filter_map(|l| {
            let cols: Vec<&str> = l.split(',').collect();
            Some(Place {
                name: cols.first()?.to_string(),
                is_city: cols.get(1)?.ends_with(" city"),
                county: cols.get(2)?.to_string(),
                population: cols.get(4)?.parse().ok()?,
            })
        })
        .collect()
}

fn place(all: &[Place], name: &str) -> anyhow::Result<OrgDraft> {
    let p = all
        .iter()
        .find(|p| p.name == name)
        .ok_or_else(|| anyhow!("{name} is not in the municipalities file"))?;
    Ok(OrgDraft {
        slug: OrgSlug::from_name(&p.name).map_err(|e| anyhow!(e.message))?,
        name: if p.is_city {
            format!("City of {}", p.name)
        } else {
            format!("Town of {}", p.name)
        },
        kind: if p.is_city {
            OrgKind::City
        } else {
            OrgKind::Town
        },
        county: Some(p.county.clone()),
        population: Some(p.population),
        time_zone: "America/New_York".into(),
        fiscal_year_start_month: 7,
        business_hours: WeeklyHours::default(),
        holiday_rules: HolidayRules::default(),
    })
}

const DEPARTMENTS: [&str; 8] = [
    "Executive Office",
    "Schools",
    "Police",
    "Fire",
    "Public Works",
    "Library",
    "Finance",
    "Human Resources",
];

fn sites(town: &str, is_city: bool) -> Vec<SiteDraft> {
    let hall = if is_city { "City Hall" } else { "Town Hall" };
    vec![
        SiteDraft {
            name: format!("{town} {hall}"),
            address: format!("1 Main Street, {town}, MA"),
            kind: SiteKind::CityHall,
        },
        SiteDraft {
            name: format!("{town} High School"),
            address: format!("100 School Street, {town}, MA"),
            kind: SiteKind::School,
        },
        SiteDraft {
            name: "Police Headquarters".into(),
            address: format!("25 Washington Street, {town}, MA"),
            kind: SiteKind::PublicSafety,
        },
        SiteDraft {
            name: "DPW Yard".into(),
            address: format!("40 Industrial Way, {town}, MA"),
            kind: SiteKind::PublicWorks,
        },
        SiteDraft {
            name: "Public Library".into(),
            address: format!("5 Library Lane, {town}, MA"),
            kind: SiteKind::Library,
        },
    ]
}

const FIRST: [&str; 12] = [
    "Maria", "James", "Aisha", "Daniel", "Priya", "Kevin", "Sofia", "Brian", "Mei", "Luis",
    "Grace", "Owen",
];
const LAST: [&str; 12] = [
    "Sullivan", "Nguyen", "Okafor", "Murphy", "Patel", "Doherty", "Costa", "Kelly", "Chen",
    "Ramos", "Walsh", "Brennan",
];

/// The sign-ins `civitas serve --demo` prints (the demo's people are fixed).
pub fn summary() -> Summary {
    let sign_ins = vec![
        SignIn {
            role: "hub-admin",
            email: "admin@melrose.example.gov".into(),
            org: "melrose".into(),
        },
        SignIn {
            role: "hub-agent",
            email: "agent@melrose.example.gov".into(),
            org: "melrose".into(),
        },
        SignIn {
            role: "auditor (region)",
            email: "auditor@melrose.example.gov".into(),
            org: "melrose".into(),
        },
        SignIn {
            role: "member-admin",
            email: "admin@north-reading.example.gov".into(),
            org: "north-reading".into(),
        },
        SignIn {
            role: "member-staff",
            email: "staff@north-reading.example.gov".into(),
            org: "north-reading".into(),
        },
        SignIn {
            role: "auditor (member)",
            email: "auditor@north-reading.example.gov".into(),
            org: "north-reading".into(),
        },
        SignIn {
            role: "member-admin of two members",
            email: "it.director@stoneham.example.gov".into(),
            org: "stoneham, wakefield".into(),
        },
    ];
    Summary {
        sign_ins,
        orgs: 1 + MEMBERS.len(),
        users: 3 + EXTRA_AGENTS.len() + MEMBERS.len() * 5,
        tickets: 0,
    }
}

pub fn print_sign_ins(s: &Summary, url: Option<&str>) {
    println!();
    match url {
        Some(u) => println!("Civitas is serving the demo region at {u}"),
        None => println!("The demo region is loaded."),
    }
    let tickets = if s.tickets > 0 {
        format!(", {} tickets", crate_fmt(s.tickets))
    } else {
        String::new()
    };
    println!(
        "{} organisations, {} people{tickets}. Sign in with any of these (password: {DEMO_PASSWORD}):",
        s.orgs, s.users
    );
    for si in &s.sign_ins {
        println!("  {:<30} {:<36} {}", si.role, si.email, si.org);
    }
    println!();
}

/// Loads the demo region into an empty database.
pub async fn load(db: &Db) -> anyhow::Result<Summary> {
    if orgs::count(db).await? > 0 {
        anyhow::bail!(
            "the database already has organisations; the demo loads only into an empty database"
        );
    }
    let actor = Actor::system("demo");
    let all = places();
    // Every demo account has the same password: hash it once (argon2 is deliberately slow).
    let hash = store::auth::hash_password(DEMO_PASSWORD)?;
    let region = Scope::Region;
    let hub = orgs::create_region(db, &actor, REGION_NAME, &place(&all, HUB)?)
        .await
        .context("creating the hub")?;
    let add = |org, email: String, name: String, role| {
        let hash = hash.clone();
        let actor = actor.clone();
        async move {
            let email = Email::parse(&email).map_err(|e| anyhow!(e.message))?;
            users::create(
                db,
                &Scope::Region,
                &actor,
                org,
                users::NewUser {
                    email: &email,
                    name: &name,
                    role,
                    password_hash: Some(hash),
                },
            )
            .await
            .map_err(anyhow::Error::from)
        }
    };
    add(
        hub.id,
        "admin@melrose.example.gov".into(),
        "Dana Whitfield".into(),
        Role::HubAdmin,
    )
    .await?;
    add(
        hub.id,
        "agent@melrose.example.gov".into(),
        "Marcus Bell".into(),
        Role::HubAgent,
    )
    .await?;
    add(
        hub.id,
        "auditor@melrose.example.gov".into(),
        "Regional Auditor".into(),
        Role::Auditor,
    )
    .await?;
    let mut agents = Vec::new();
    for (local, name) in EXTRA_AGENTS {
        let u = add(
            hub.id,
            format!("{local}@melrose.example.gov"),
            name.into(),
            Role::HubAgent,
        )
        .await?;
        agents.push((u.id, u.name));
    }
    if let Some(marcus) = users::find_by_email(
        db,
        &Email::parse("agent@melrose.example.gov").map_err(|e| anyhow!(e.message))?,
    )
    .await?
    {
        agents.push((marcus.id, marcus.name));
    }
    directory::create_department(db, &region, &actor, hub.id, "Information Technology").await?;
    for d in DEPARTMENTS {
        directory::create_department(db, &region, &actor, hub.id, d).await?;
    }
    for s in sites(HUB, true) {
        directory::create_site(db, &region, &actor, hub.id, &s).await?;
    }
    directory::create_site(
        db,
        &region,
        &actor,
        hub.id,
        &SiteDraft {
            name: "Regional Data Center".into(),
            address: "562 Main Street, Melrose, MA".into(),
            kind: SiteKind::DataCenter,
        },
    )
    .await?;
    let mut stoneham_director = None;
    let mut members = Vec::new();
    let mut billed = Vec::new();
    let mut configured = Vec::new();
    for (i, name) in MEMBERS.iter().enumerate() {
        let draft = place(&all, name)?;
        let is_city = draft.kind == OrgKind::City;
        let org = orgs::create_member(db, &region, &actor, &draft)
            .await
            .with_context(|| format!("creating {name}"))?;
        members.push((org.id, org.population.unwrap_or(10_000)));
        billed.push((
            org.id,
            org.slug.to_string(),
            org.population.unwrap_or(10_000),
        ));
        configured.push((
            org.id,
            org.slug.to_string(),
            org.name.clone(),
            org.population.unwrap_or(10_000),
        ));
        for d in DEPARTMENTS {
            directory::create_department(db, &region, &actor, org.id, d).await?;
        }
        for s in sites(name, is_city) {
            directory::create_site(db, &region, &actor, org.id, &s).await?;
        }
        let slug = org.slug.to_string();
        let person = |k: usize| {
            format!(
                "{} {}",
                FIRST[(i + k) % FIRST.len()],
                LAST[(i * 5 + k) % LAST.len()]
            )
        };
        add(
            org.id,
            format!("admin@{slug}.example.gov"),
            person(0),
            Role::MemberAdmin,
        )
        .await?;
        add(
            org.id,
            format!("staff@{slug}.example.gov"),
            person(1),
            Role::MemberStaff,
        )
        .await?;
        add(
            org.id,
            format!("auditor@{slug}.example.gov"),
            person(2),
            Role::Auditor,
        )
        .await?;
        add(
            org.id,
            format!("clerk@{slug}.example.gov"),
            person(3),
            Role::MemberStaff,
        )
        .await?;
        let extra = if slug == "stoneham" {
            "it.director".to_owned()
        } else {
            "librarian".to_owned()
        };
        let u = add(
            org.id,
            format!("{extra}@{slug}.example.gov"),
            person(4),
            if slug == "stoneham" {
                Role::MemberAdmin
            } else {
                Role::MemberStaff
            },
        )
        .await?;
        if slug == "stoneham" {
            stoneham_director = Some(u.id);
        }
        if slug == "wakefield"
            && let Some(director) = stoneham_director
        {
            // A shared IT director: administers Stoneham and Wakefield.
            users::grant(db, &region, &actor, org.id, director, Role::MemberAdmin).await?;
        }
    }
    let starter = store::desk::starter::install(db, &actor)
        .await
        .context("installing the service catalog")?;
    let tickets = crate::demo_desk::load(db, &starter, &members, &agents)
        .await
        .context("loading a year of tickets")?;
    // The CMDB first: the regional cloud's meters are usage the invoices charge.
    crate::demo_cmdb::load(db, (hub.id, "Melrose"), &configured, crate_today())
        .await
        .context("loading the CMDB")?;
    crate::demo_architecture::load(db, &configured, crate_today())
        .await
        .context("loading the architecture standards")?;
    crate::demo_billing::load(db, &starter, &billed, crate_today())
        .await
        .context("loading agreements, rate cards and usage")?;
    Ok(Summary {
        tickets,
        ..summary()
    })
}

/// Today in the region's time zone.
fn crate_today() -> jiff::civil::Date {
    let tz = jiff::tz::TimeZone::get("America/New_York").unwrap_or(jiff::tz::TimeZone::UTC);
    tz.to_datetime(jiff::Timestamp::now()).date()
}

/// The hub's desk beyond the two sign-in accounts, so that work spreads over a team.
const EXTRA_AGENTS: [(&str, &str); 3] = [
    ("tasha.green", "Tasha Green"),
    ("ravi.menon", "Ravi Menon"),
    ("colleen.obrien", "Colleen O'Brien"),
];

fn crate_fmt(n: usize) -> String {
    let s = n.to_string();
    let mut out = String::new();
    for (i, c) in s.chars().enumerate() {
        if i > 0 && (s.len() - i).is_multiple_of(3) {
            out.push(',');
        }
        out.push(c);
    }
    out
}
