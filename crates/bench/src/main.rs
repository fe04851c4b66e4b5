//! `civitas-bench`: tools for scripts/bench. `hello` serves a bare axum hello-world, measured beside Civitas
//! in the same run as the ceiling; `seed` fills a database with a large synthetic region.

use anyhow::Context;
use axum::{Router, routing::get};
use clap::{Parser, Subcommand};

// The server's allocator, so that the store-alone baselines compare like with like.
#[global_allocator]
static GLOBAL: mimalloc::MiMalloc = mimalloc::MiMalloc;

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
    /// Create a region of MEMBERS members (ten people each), the starter catalog and TICKETS tickets spread
    /// over three years, through the store's import (history, search index and SLA included).
    SeedDesk {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 350)]
        members: usize,
        #[arg(long, default_value_t = 1_000_000)]
        tickets: usize,
    },
    /// Send usage records to a running server's `POST /api/v1/usage`: BATCHES batches of SIZE records for
    /// MEMBERS members, CONCURRENCY at a time; prints records per second and batch latencies as JSON.
    UsageApi {
        #[arg(long)]
        url: String,
        #[arg(long, env = "CIVITAS_BENCH_TOKEN")]
        token: String,
        #[command(flatten)]
        load: usage::Load,
        #[arg(long, default_value_t = 2)]
        concurrency: usize,
    },
    /// The same records through the store directly (no HTTP, no JSON): the baseline for `usage-api`.
    UsageDirect {
        #[arg(long)]
        database_url: String,
        #[command(flatten)]
        load: usage::Load,
    },
    /// Create a region of MEMBERS members, 40 rate cards, an agreement per member subscribing to all 40,
    /// and RECORDS usage records for MONTH spread over the members and the 20 metered cards.
    SeedBilling {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 351)]
        members: usize,
        #[arg(long, default_value_t = 10_000_000)]
        records: usize,
        #[arg(long, default_value = "2026-09")]
        month: String,
    },
    /// Create a region of MEMBERS members and a CMDB of CLUSTERS clusters of 1,000 items each (six layers:
    /// arrays, hosts, VMs, databases, applications, services) with about 2,976 relationships per cluster,
    /// through the store's CSV import and bulk relate.
    SeedCmdb {
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 351)]
        members: usize,
        #[arg(long, default_value_t = 1_000)]
        clusters: usize,
    },
    /// Impact analysis through a running server: N requests `GET /api/v1/cis/{id}/impact?depth=5` for items
    /// of the bottom layer (the deepest walks), one at a time; prints latencies as JSON.
    ImpactApi {
        #[arg(long)]
        url: String,
        #[arg(long, env = "CIVITAS_BENCH_TOKEN")]
        token: String,
        #[arg(long)]
        database_url: String,
        #[arg(long, default_value_t = 500)]
        requests: usize,
    },
    /// CSV import through a running server: ROWS servers for one member in one file to
    /// `POST /api/v1/cis/import`; prints the wall time as JSON.
    CmdbImportApi {
        #[arg(long)]
        url: String,
        #[arg(long, env = "CIVITAS_BENCH_TOKEN")]
        token: String,
        #[arg(long, default_value_t = 100_000)]
        rows: usize,
        #[arg(long, default_value = "member-0001")]
        org: String,
    },
    /// Recompute the SLA of every open ticket (as after a calendar change) and print how long it took.
    SlaRecompute {
        #[arg(long)]
        database_url: String,
    },
}

#[tokio::main]
async fn main() -> anyhow::Result<()> {
    // Seeds append to the audit log: with the server's key when given (CIVITAS_AUDIT_KEY), else a fixed
    // one — benchmark databases are throwaway and never verified.
    let key = std::env::var("CIVITAS_AUDIT_KEY")
        .ok()
        .filter(|k| !k.is_empty())
        .unwrap_or_else(|| "civitas-bench-audit-key-not-for-real-use-0123456789".into());
    store::audit::install_key(
        domain::audit::AuditKey::parse(&key)
            .map_err(|e| anyhow::anyhow!("CIVITAS_AUDIT_KEY: {e}"))?,
    )?;
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
        Command::SeedDesk {
            database_url,
            members,
            tickets,
        } => desk::seed(&database_url, members, tickets)
            .await
            .context("seeding the desk"),
        Command::UsageApi {
            url,
            token,
            load,
            concurrency,
        } => usage::api(&url, &token, &load, concurrency).await,
        Command::UsageDirect { database_url, load } => usage::direct(&database_url, &load).await,
        Command::SeedBilling {
            database_url,
            members,
            records,
            month,
        } => usage::seed(&database_url, members, records, &month).await,
        Command::SeedCmdb {
            database_url,
            members,
            clusters,
        } => cmdb::seed(&database_url, members, clusters).await,
        Command::ImpactApi {
            url,
            token,
            database_url,
            requests,
        } => cmdb::impact_api(&url, &token, &database_url, requests).await,
        Command::CmdbImportApi {
            url,
            token,
            rows,
            org,
        } => cmdb::import_api(&url, &token, rows, &org).await,
        Command::SlaRecompute { database_url } => {
            let db = store::Db::connect(&database_url, &store::DbOptions::default()).await?;
            let t0 = std::time::Instant::now();
            let n = store::desk::tickets::recompute_open(&db, None).await?;
            println!(
                "{{\"open_tickets\": {n}, \"seconds\": {:.3}}}",
                t0.elapsed().as_secs_f64()
            );
            Ok(())
        }
    }
}

mod desk {
    //! A large synthetic service desk: the tickets a region of hundreds of members accumulates in years.

    use domain::desk::{Activity, Impact, Source, TicketKind, Urgency};
    use sqlx::Row;
    use store::audit::Actor;
    use store::desk::tickets::{Imported, NewTicket, import};

    const TOPICS: [&str; 16] = [
        "printer jams",
        "email bounces",
        "VPN drops",
        "password expired",
        "laptop will not start",
        "shared drive full",
        "map viewer slow",
        "payroll report wrong",
        "Wi-Fi drops",
        "phone no dial tone",
        "scanner offline",
        "software install",
        "account locked",
        "monitor flickers",
        "calendar sync fails",
        "phishing email",
    ];
    const PLACES: [&str; 8] = [
        "town hall",
        "library",
        "police station",
        "fire station",
        "DPW garage",
        "high school",
        "senior center",
        "assessor's office",
    ];

    pub async fn seed(url: &str, members: usize, tickets: usize) -> anyhow::Result<()> {
        super::seed::run(url, members + 1, members * 10).await?;
        let db = store::Db::connect(url, &store::DbOptions::default()).await?;
        let actor = Actor::system("bench-seed");
        let starter = store::desk::starter::install(&db, &actor).await?;
        let rows = sqlx::query("SELECT u.id, u.org_id FROM users u JOIN orgs o ON o.id = u.org_id WHERE o.is_hub = 0 ORDER BY u.org_id, u.id")
            .fetch_all(db.read_pool())
            .await?;
        let mut people: Vec<(domain::ids::OrgId, domain::ids::UserId)> =
            Vec::with_capacity(rows.len());
        for r in rows {
            people.push((
                r.try_get::<String, _>("org_id")?.parse()?,
                r.try_get::<String, _>("id")?.parse()?,
            ));
        }
        let agent: domain::ids::UserId =
            sqlx::query("SELECT id FROM users WHERE email = 'admin@hub.bench.example'")
                .fetch_one(db.read_pool())
                .await?
                .try_get::<String, _>("id")?
                .parse()?;
        let services: Vec<_> = starter.services.values().copied().collect();
        let now = store::now_ms();
        let span = 3 * 365 * 86_400_000i64;
        let hour = 3_600_000i64;
        let mut rng = 0x2545_F491_4F6C_DD1Du64;
        let mut next = move || {
            rng ^= rng << 13;
            rng ^= rng >> 7;
            rng ^= rng << 17;
            rng
        };
        let t0 = std::time::Instant::now();
        let mut done = 0;
        while done < tickets {
            let n = (tickets - done).min(2_000);
            let mut batch = Vec::with_capacity(n);
            for i in 0..n {
                let k = done + i;
                // Oldest first, so that numbers grow with time.
                let opened =
                    now - span + (span / tickets as i64) * k as i64 + (next() % 3_600_000) as i64;
                let (org, requester) = people[(next() % people.len() as u64) as usize];
                let topic = TOPICS[(next() % TOPICS.len() as u64) as usize];
                let place = PLACES[(next() % PLACES.len() as u64) as usize];
                let age = now - opened;
                // Tickets of the last ten days are still open (about 1% of a three-year history).
                let open = age < 10 * 24 * hour;
                let resolved_at = opened + (1 + (next() % 40) as i64) * hour;
                let done_ticket = !open && resolved_at < now;
                batch.push(Imported {
                    ticket: NewTicket {
                        org_id: org,
                        kind: if k % 10 == 0 {
                            TicketKind::ServiceRequest
                        } else {
                            TicketKind::Incident
                        },
                        subject: format!(
                            "{} at the {place}",
                            topic[..1].to_uppercase() + &topic[1..]
                        ),
                        description: format!(
                            "Reported from the {place}: {topic}. Ticket {k} of the benchmark."
                        ),
                        requester_id: requester,
                        department_id: None,
                        site_id: None,
                        service_id: Some(services[(next() % services.len() as u64) as usize]),
                        catalog_item_id: None,
                        form_answers: Default::default(),
                        category: String::new(),
                        impact: [Impact::Low, Impact::Low, Impact::Medium, Impact::High]
                            [(next() % 4) as usize],
                        urgency: [
                            Urgency::Low,
                            Urgency::Medium,
                            Urgency::Medium,
                            Urgency::High,
                        ][(next() % 4) as usize],
                        source: Source::Email,
                        team_id: None,
                        opened_at: Some(opened),
                    },
                    assignee: (!open || next() % 2 == 0).then(|| (agent, "Bench Admin".to_owned())),
                    first_response: (!open || next() % 2 == 0)
                        .then(|| (opened + 20 * 60_000, "Looking into it.".to_owned())),
                    waits: Vec::new(),
                    waiting_since: None,
                    requester_reply: None,
                    resolved: done_ticket.then(|| (resolved_at, "Fixed.".to_owned())),
                    closed_at: done_ticket
                        .then_some(resolved_at + 7 * 24 * hour)
                        .filter(|c| *c < now),
                    csat: (done_ticket && k % 3 == 0).then_some((4, None)),
                    time: if done_ticket {
                        vec![(resolved_at, 30, Activity::Remote, true)]
                    } else {
                        Vec::new()
                    },
                    now: if done_ticket {
                        resolved_at + 7 * 24 * hour
                    } else {
                        now
                    },
                });
            }
            import(&db, &actor, batch).await?;
            done += n;
            if done % 50_000 == 0 || done == tickets {
                println!("{done} tickets ({:.0} s)", t0.elapsed().as_secs_f64());
            }
        }
        Ok(())
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

mod usage {
    //! Usage metering load: batches of records as a metering integration (vCenter, the mail system, backup
    //! software) would send them.

    use std::time::Instant;

    #[derive(clap::Args, Clone)]
    pub struct Load {
        /// Members the records are spread over (`member-0001` …).
        #[arg(long, default_value_t = 351)]
        members: usize,
        #[arg(long, default_value_t = 100)]
        batches: usize,
        #[arg(long, default_value_t = 5_000)]
        size: usize,
        /// Record ids start with this, so that runs do not collide.
        #[arg(long, default_value = "bench")]
        prefix: String,
        /// The month the records count in (`YYYY-MM`).
        #[arg(long, default_value = "2026-09")]
        month: String,
    }

    const METERS: [&str; 4] = ["storage.gb_month", "vm", "mailboxes", "backup.gb_month"];

    fn records(load: &Load, batch: usize) -> Vec<serde_json::Value> {
        (0..load.size)
            .map(|i| {
                let k = batch * load.size + i;
                serde_json::json!({
                    "id": format!("{}-{batch}-{i}", load.prefix),
                    "org": format!("member-{:04}", k % load.members + 1),
                    "meter": METERS[k % METERS.len()],
                    "quantity": format!("{}.{}", 1 + k % 97, k % 10),
                    "period": load.month,
                    "source": "bench",
                })
            })
            .collect()
    }

    fn report(load: &Load, wall: f64, mut latencies: Vec<f64>) {
        latencies.sort_by(f64::total_cmp);
        let at = |q: f64| {
            latencies
                .get(((latencies.len() as f64 - 1.0) * q).round() as usize)
                .copied()
                .unwrap_or(0.0)
        };
        let n = load.batches * load.size;
        println!(
            "{{\"records\": {n}, \"batch_size\": {}, \"seconds\": {wall:.3}, \"records_per_s\": {:.0}, \"batch_p50_ms\": {:.1}, \"batch_p99_ms\": {:.1}}}",
            load.size,
            n as f64 / wall,
            at(0.5),
            at(0.99)
        );
    }

    pub async fn api(
        url: &str,
        token: &str,
        load: &Load,
        concurrency: usize,
    ) -> anyhow::Result<()> {
        // Bodies are made before the clock starts: the load generator's JSON is not the server's work.
        let bodies: Vec<Vec<u8>> = (0..load.batches)
            .map(|b| serde_json::to_vec(&serde_json::json!({ "records": records(load, b) })))
            .collect::<Result<_, _>>()?;
        let client = reqwest::Client::new();
        let endpoint = format!("{}/api/v1/usage", url.trim_end_matches('/'));
        let queue = std::sync::Arc::new(std::sync::Mutex::new(bodies));
        let t0 = Instant::now();
        let mut tasks = Vec::new();
        for _ in 0..concurrency.max(1) {
            let (client, endpoint, queue, token) = (
                client.clone(),
                endpoint.clone(),
                queue.clone(),
                token.to_owned(),
            );
            tasks.push(tokio::spawn(async move {
                let mut lat = Vec::new();
                while let Some(body) = queue.lock().ok().and_then(|mut q| q.pop()) {
                    let t = Instant::now();
                    let res = client
                        .post(&endpoint)
                        .bearer_auth(&token)
                        .header("content-type", "application/json")
                        .body(body)
                        .send()
                        .await?;
                    let status = res.status();
                    let text = res.text().await?;
                    if !status.is_success() {
                        anyhow::bail!("{status}: {text}");
                    }
                    lat.push(t.elapsed().as_secs_f64() * 1000.0);
                }
                Ok(lat)
            }));
        }
        let mut latencies = Vec::new();
        for t in tasks {
            latencies.extend(t.await??);
        }
        report(load, t0.elapsed().as_secs_f64(), latencies);
        Ok(())
    }

    /// The invoice-run benchmark's region: 40 rate cards (20 metered, 10 per unit, 4 fixed, 3 per capita, 3
    /// time and materials), every member subscribed to all of them, and `records` usage records.
    pub async fn seed(
        url: &str,
        members: usize,
        records: usize,
        month: &str,
    ) -> anyhow::Result<()> {
        use domain::billing::Model;
        use domain::billing::agreement::{AgreementStatus, Renewal};
        use store::billing::{agreements, rates};
        super::seed::run(url, members + 1, members).await?;
        let db = store::Db::connect(url, &store::DbOptions::default()).await?;
        let actor = store::audit::Actor::system("bench-seed");
        let starter = store::desk::starter::install(&db, &actor).await?;
        let services: Vec<_> = starter.services.values().copied().collect();
        let mut cards = Vec::new();
        for i in 0..40 {
            let (model, meter, unit) = match i {
                0..20 => (Model::PerUnit, format!("meter.{i:02}"), "GB-month"),
                20..28 => (Model::PerUnit, String::new(), "seat"),
                28..30 => (Model::CostPool, String::new(), "share"),
                30..34 => (Model::Fixed, String::new(), "month"),
                34..37 => (Model::PerCapita, String::new(), "resident"),
                _ => (Model::TimeAndMaterials, String::new(), "hour"),
            };
            let card = rates::create(
                &db,
                &actor,
                &rates::CardDraft {
                    service_id: services[i % services.len()],
                    name: format!("Card {i:02}"),
                    model,
                    unit: unit.into(),
                    meter: meter.clone(),
                    activity: String::new(),
                },
                &rates::RateDraft {
                    effective_from: jiff::civil::date(2025, 7, 1),
                    // A cost pool's price is its year: a shared system's $250,000 and up.
                    price: if model == Model::CostPool {
                        rust_decimal::Decimal::new(250_000 + i as i64 * 1_000, 0)
                    } else {
                        rust_decimal::Decimal::new(1_000 + i as i64 * 37, 3)
                    },
                    overage: None,
                    note: String::new(),
                },
            )
            .await?;
            // Half the cards change price mid-month, so that the run cuts months (a pool's year does not).
            if i % 2 == 0 && model != Model::CostPool {
                rates::add_rate(
                    &db,
                    &actor,
                    card.id,
                    &rates::RateDraft {
                        effective_from: format!("{month}-16").parse()?,
                        price: rust_decimal::Decimal::new(1_100 + i as i64 * 37, 3),
                        overage: None,
                        note: String::new(),
                    },
                )
                .await?;
            }
            cards.push((card.id, meter));
        }
        let page = store::tenancy::orgs::list(
            &db,
            &store::Scope::Region,
            &Default::default(),
            &store::page::PageRequest::first(200),
        )
        .await?;
        let mut orgs = page.items;
        let mut cursor = page.next_cursor;
        while let Some(c) = cursor {
            let next = store::tenancy::orgs::list(
                &db,
                &store::Scope::Region,
                &Default::default(),
                &store::page::PageRequest {
                    after: Some(c),
                    limit: 200,
                },
            )
            .await?;
            orgs.extend(next.items);
            cursor = next.next_cursor;
        }
        let members: Vec<_> = orgs.into_iter().filter(|o| !o.is_hub).collect();
        for (k, o) in members.iter().enumerate() {
            let a = agreements::create(
                &db,
                &store::Scope::Region,
                &actor,
                o.id,
                &agreements::AgreementDraft {
                    title: "Shared services".into(),
                    status: AgreementStatus::Active,
                    cadence: domain::billing::Cadence::Monthly,
                    starts_on: jiff::civil::date(2025, 7, 1),
                    ends_on: None,
                    renewal: Renewal::Annual,
                    approving_body: "Select Board".into(),
                    vote_date: None,
                    notes: String::new(),
                },
            )
            .await?;
            for (j, (card, _)) in cards.iter().enumerate() {
                // A few subscriptions start mid-month, so that the run prorates.
                let starts = if (k + j) % 17 == 0 {
                    format!("{month}-11").parse()?
                } else {
                    jiff::civil::date(2025, 7, 1)
                };
                agreements::subscribe(
                    &db,
                    &store::Scope::Region,
                    &actor,
                    a.id,
                    &agreements::SubscriptionDraft {
                        rate_card_id: *card,
                        quantity: rust_decimal::Decimal::from(1 + (k + j) as i64 % 50),
                        starts_on: starts,
                        ends_on: None,
                    },
                )
                .await?;
            }
        }
        let t0 = Instant::now();
        let size = 10_000;
        let mut done = 0;
        let day: jiff::civil::Date = format!("{month}-01").parse()?;
        while done < records {
            let n = (records - done).min(size);
            let batch: Vec<domain::billing::usage::NewUsage> = (done..done + n)
                .map(|r| domain::billing::usage::NewUsage {
                    id: format!("seed-{r:09}"),
                    org: members[r % members.len()].slug.to_string(),
                    meter: format!("meter.{:02}", (r / members.len()) % 20),
                    used_on: day,
                    quantity_micros: 1_000_000 + (r as i64 % 997) * 1_000,
                    source: "bench".into(),
                })
                .collect();
            store::billing::usage::ingest(&db, &store::Scope::Region, &actor, &batch).await?;
            done += n;
            if done % 1_000_000 == 0 || done == records {
                println!("{done} usage records ({:.0} s)", t0.elapsed().as_secs_f64());
            }
        }
        Ok(())
    }

    pub async fn direct(url: &str, load: &Load) -> anyhow::Result<()> {
        let db = store::Db::connect(url, &store::DbOptions::default()).await?;
        let actor = store::audit::Actor::system("bench");
        let batches: Vec<Vec<domain::billing::usage::NewUsage>> = (0..load.batches)
            .map(|b| {
                let raw: Vec<domain::billing::usage::RawUsage> =
                    serde_json::from_value(serde_json::Value::Array(records(load, b)))?;
                domain::billing::usage::check_batch(&raw).map_err(|e| anyhow::anyhow!("{e}"))
            })
            .collect::<anyhow::Result<_>>()?;
        let t0 = Instant::now();
        let mut latencies = Vec::new();
        for b in &batches {
            let t = Instant::now();
            store::billing::usage::ingest(&db, &store::Scope::Region, &actor, b).await?;
            latencies.push(t.elapsed().as_secs_f64() * 1000.0);
        }
        report(load, t0.elapsed().as_secs_f64(), latencies);
        Ok(())
    }
}

mod cmdb {
    //! The CMDB benchmarks' data and clients.

    use domain::authz::Scope;
    use domain::cmdb::{CiStatus, CiType, RelationKind};
    use domain::ids::{CiId, OrgId};
    use sqlx::Row;
    use std::collections::HashMap;
    use store::audit::Actor;

    /// Items per layer of a cluster, bottom first, and how the layer above relates to it.
    const LAYERS: [(CiType, usize, RelationKind); 6] = [
        (CiType::StorageVolume, 2, RelationKind::DependsOn),
        (CiType::Server, 18, RelationKind::DependsOn),
        (CiType::VirtualMachine, 80, RelationKind::RunsOn),
        (CiType::Database, 200, RelationKind::RunsOn),
        (CiType::Application, 300, RelationKind::DependsOn),
        (CiType::BusinessService, 400, RelationKind::DependsOn),
    ];

    /// A deterministic xorshift, so that the same seed gives the same graph.
    struct Rng(u64);
    impl Rng {
        fn next(&mut self, n: usize) -> usize {
            self.0 ^= self.0 << 13;
            self.0 ^= self.0 >> 7;
            self.0 ^= self.0 << 17;
            (self.0 % n as u64) as usize
        }
    }

    fn name(cluster: usize, layer: usize, i: usize) -> String {
        format!("c{cluster:04}-l{layer}-{i:03}")
    }

    pub async fn seed(url: &str, members: usize, clusters: usize) -> anyhow::Result<()> {
        super::seed::run(url, members + 1, members).await?;
        let db = store::Db::connect(url, &store::DbOptions::default()).await?;
        let actor = Actor::system("bench-seed");
        let orgs: Vec<OrgId> = store::tenancy::orgs::names(&db, &Scope::Region, None, 10_000)
            .await?
            .into_iter()
            .map(|o| o.id)
            .collect();
        let t0 = std::time::Instant::now();
        // Items, 100 clusters per import.
        for first in (0..clusters).step_by(100) {
            let mut rows = Vec::new();
            for c in first..(first + 100).min(clusters) {
                let org = orgs[c % orgs.len()];
                for (layer, (ty, n, _)) in LAYERS.iter().enumerate() {
                    for i in 0..*n {
                        rows.push(store::cmdb::ImportRow {
                            line: rows.len() + 2,
                            org_id: org,
                            ci_type: *ty,
                            name: name(c, layer, i),
                            status: CiStatus::Active,
                            attributes: Default::default(),
                        });
                    }
                }
            }
            store::cmdb::import(&db, &Scope::Region, &actor, &rows, false).await?;
        }
        let mut ids: HashMap<String, CiId> = HashMap::new();
        for r in sqlx::query("SELECT id, name FROM cis")
            .fetch_all(db.read_pool())
            .await?
        {
            ids.insert(r.try_get("name")?, r.try_get::<String, _>("id")?.parse()?);
        }
        // Relationships: every item above the bottom layer to three items (two for hosts) of the layer below.
        let mut rng = Rng(0x9E37_79B9_7F4A_7C15);
        let mut edges = Vec::new();
        let mut total = 0;
        for c in 0..clusters {
            for layer in 1..LAYERS.len() {
                let (_, n, kind) = LAYERS[layer];
                let below = LAYERS[layer - 1].1;
                for i in 0..n {
                    let mut targets: Vec<usize> = Vec::new();
                    while targets.len() < below.min(3) {
                        let t = rng.next(below);
                        if !targets.contains(&t) {
                            targets.push(t);
                        }
                    }
                    for t in targets {
                        edges.push((ids[&name(c, layer, i)], kind, ids[&name(c, layer - 1, t)]));
                    }
                }
            }
            if edges.len() >= 200_000 || c + 1 == clusters {
                total += store::cmdb::relate_many(&db, &actor, &edges).await?;
                edges.clear();
            }
        }
        println!(
            "{{\"items\": {}, \"relationships\": {total}, \"seconds\": {:.1}}}",
            ids.len(),
            t0.elapsed().as_secs_f64()
        );
        Ok(())
    }

    fn percentile(sorted: &[f64], p: f64) -> f64 {
        let i = ((sorted.len() as f64 - 1.0) * p).round() as usize;
        sorted[i.min(sorted.len() - 1)]
    }

    pub async fn impact_api(
        url: &str,
        token: &str,
        database_url: &str,
        requests: usize,
    ) -> anyhow::Result<()> {
        let db = store::Db::connect(database_url, &store::DbOptions::default()).await?;
        let roots: Vec<String> =
            sqlx::query("SELECT id FROM cis WHERE name LIKE '%-l0-%' ORDER BY name")
                .fetch_all(db.read_pool())
                .await?
                .iter()
                .map(|r| r.try_get("id"))
                .collect::<Result<_, _>>()?;
        anyhow::ensure!(!roots.is_empty(), "no bottom-layer items: seed first");
        let client = reqwest::Client::new();
        let mut rng = Rng(42);
        let mut ms = Vec::new();
        let mut affected = Vec::new();
        for k in 0..requests + 20 {
            let id = &roots[rng.next(roots.len())];
            let t = std::time::Instant::now();
            let res = client
                .get(format!("{url}/api/v1/cis/{id}/impact?depth=5"))
                .bearer_auth(token)
                .send()
                .await?;
            anyhow::ensure!(res.status().is_success(), "impact: {}", res.status());
            let body: serde_json::Value = res.json().await?;
            let took = t.elapsed().as_secs_f64() * 1000.0;
            // The first twenty warm the caches and are not counted.
            if k >= 20 {
                ms.push(took);
                affected.push(body["affected"].as_array().map_or(0, Vec::len));
            }
        }
        ms.sort_by(f64::total_cmp);
        affected.sort_unstable();
        println!(
            "{{\"requests\": {requests}, \"p50_ms\": {:.2}, \"p99_ms\": {:.2}, \"max_ms\": {:.2}, \"affected_median\": {}, \"affected_max\": {}}}",
            percentile(&ms, 0.5),
            percentile(&ms, 0.99),
            ms.last().copied().unwrap_or(0.0),
            affected[affected.len() / 2],
            affected.last().copied().unwrap_or(0)
        );
        Ok(())
    }

    pub async fn import_api(url: &str, token: &str, rows: usize, org: &str) -> anyhow::Result<()> {
        let mut csv = String::from("org,type,name,status,hostname,os,vcpu,ram_gb\n");
        for i in 0..rows {
            csv.push_str(&format!(
                "{org},virtual_machine,import-vm-{i:06},active,import-vm-{i:06}.example.gov,Windows Server 2022,{},{}\n",
                2 + i % 8,
                8 + i % 56
            ));
        }
        let t = std::time::Instant::now();
        let res = reqwest::Client::new()
            .post(format!("{url}/api/v1/cis/import"))
            .bearer_auth(token)
            .header("content-type", "text/csv")
            .body(csv)
            .send()
            .await?;
        let status = res.status();
        let body = res.text().await?;
        anyhow::ensure!(status.is_success(), "import: {status} {body}");
        println!(
            "{{\"rows\": {rows}, \"seconds\": {:.3}, \"report\": {body}}}",
            t.elapsed().as_secs_f64()
        );
        Ok(())
    }
}
