//! `civitas-bench`: tools for scripts/bench. `hello` serves a bare axum hello-world, measured beside Civitas
//! in the same run as the ceiling; `seed` fills a database with a large synthetic region.

use anyhow::Context;
use axum::{Router, routing::get};
use clap::{Parser, Subcommand};

#[derive(Parser)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Serve "hello, world" on BIND.
    Hello {
        #[arg(long, default_value = "127.0.0.1:8090")]
        bind: String,
    },
    /// Create a region of ORGS organisations and USERS people (plus one hub admin) in DATABASE_URL.
    Seed {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 400)]
        orgs: usize,
        #[arg(long, default_value_t = 50_000)]
        users: usize,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    match Cli::parse().command {
        Command::Hello { bind } => {
            // `/blob/N`: N bytes of JSON-ish text, to separate response size from work in a comparison.
            let app = Router::new()
                .route("/", get(|| async { "hello, world" }))
                .route(
                    "/blob/{n}",
                    get(
                        |axum::extract::Path(n): axum::extract::Path<usize>| async move {
                            "x".repeat(n.min(10_000_000))
                        },
                    ),
                );
            let listener = tokio::net::TcpListener::bind(&bind).await?;
            axum::serve(listener, app).await?;
            Ok(())
        }
        Command::Seed {
            database_url,
            orgs,
            users,
        } => seed::run(&database_url, orgs, users)
            .await
            .context("seeding"),
    }
}

mod seed {
    //! Synthetic tenancy data through the store, so that it is exactly what the product writes (audit included).

    use domain::authz::{Role, Scope};
    use domain::calendar::{HolidayRules, WeeklyHours};
    use domain::tenancy::drafts::OrgDraft;
    use domain::tenancy::{Email, OrgKind, OrgSlug};
    use store::audit::Actor;
    use store::tenancy::{orgs, users};

    fn draft(i: usize, kind: OrgKind) -> anyhow::Result<OrgDraft> {
        Ok(OrgDraft {
            slug: OrgSlug::parse(&format!("member-{i:04}"))
                .map_err(|e| anyhow::anyhow!(e.message))?,
            name: format!("Member {i:04}"),
            kind,
            county: Some("Middlesex County".into()),
            population: Some(10_000 + i as i64 * 37),
            time_zone: "America/New_York".into(),
            fiscal_year_start_month: 7,
            business_hours: WeeklyHours::default(),
            holiday_rules: HolidayRules::default(),
        })
    }

    pub async fn run(url: &str, n_orgs: usize, n_users: usize) -> anyhow::Result<()> {
        let db = store::Db::connect(url, &store::DbOptions::default()).await?;
        db.migrate().await?;
        let actor = Actor::system("bench-seed");
        let hash = store::auth::hash_password("bench-password-123")?;
        let mut hub_draft = draft(0, OrgKind::Hub)?;
        hub_draft.slug = OrgSlug::parse("hub").map_err(|e| anyhow::anyhow!(e.message))?;
        hub_draft.name = "Bench Hub".into();
        let hub = orgs::create_region(&db, &actor, "Bench Region", &hub_draft).await?;
        let admin =
            Email::parse("admin@hub.bench.example").map_err(|e| anyhow::anyhow!(e.message))?;
        users::create(
            &db,
            &Scope::Region,
            &actor,
            hub.id,
            users::NewUser {
                email: &admin,
                name: "Bench Admin",
                role: Role::HubAdmin,
                password_hash: Some(hash.clone()),
            },
        )
        .await?;
        let mut members = Vec::with_capacity(n_orgs);
        for i in 1..n_orgs {
            members.push(
                orgs::create_member(&db, &Scope::Region, &actor, &draft(i, OrgKind::Town)?)
                    .await?
                    .id,
            );
        }
        for u in 0..n_users {
            let org = members[u % members.len()];
            let email = Email::parse(&format!("person{u:06}@bench.example"))
                .map_err(|e| anyhow::anyhow!(e.message))?;
            let role = if u % 10 == 0 {
                Role::MemberAdmin
            } else {
                Role::MemberStaff
            };
            users::create(
                &db,
                &Scope::Region,
                &actor,
                org,
                users::NewUser {
                    email: &email,
                    name: "Bench Person",
                    role,
                    password_hash: Some(hash.clone()),
                },
            )
            .await?;
        }
        println!("seeded {n_orgs} organisations and {} people", n_users + 1);
        Ok(())
    }
}
