//! The demo region's economics: the hub's rate cards, an agreement with every member (voted by its select
//! board or council), subscriptions sized to the member, and metered usage for the fiscal year so far.
//! Deterministic: the same demo every time.

use anyhow::Context;
use domain::billing::Model;
use domain::billing::agreement::{AgreementStatus, Renewal};
use domain::billing::finance::{CostCategory, SizeBand, Standalone};
use domain::billing::usage::NewUsage;
use domain::ids::{OrgId, RateCardId};
use jiff::civil::{Date, date};
use rust_decimal::Decimal;
use store::audit::Actor;
use store::billing::agreements::{self, AgreementDraft, SubscriptionDraft};
use store::billing::rates::{self, CardDraft, RateDraft};
use store::desk::starter::Starter;
use store::{Db, Scope};

/// A rate card of the demo: service slug, name, model, unit, meter, FY2026 price, FY2027 price, overage.
struct Card {
    service: &'static str,
    name: &'static str,
    model: Model,
    unit: &'static str,
    meter: &'static str,
    fy26: &'static str,
    fy27: &'static str,
    overage: Option<&'static str>,
}

const CARDS: [Card; 11] = [
    Card {
        service: "email",
        name: "Email and calendar — per mailbox",
        model: Model::PerUnit,
        unit: "mailbox",
        meter: "",
        fy26: "6.25",
        fy27: "6.50",
        overage: None,
    },
    Card {
        service: "gis",
        name: "GIS — per named user",
        model: Model::PerUnit,
        unit: "seat",
        meter: "",
        fy26: "38.00",
        fy27: "40.00",
        overage: None,
    },
    Card {
        service: "backup",
        name: "Backup — per GB-month",
        model: Model::PerUnit,
        unit: "GB-month",
        meter: "backup.gb_month",
        fy26: "0.045",
        fy27: "0.042",
        overage: None,
    },
    Card {
        service: "erp",
        name: "Financial ERP — per resident per year",
        model: Model::PerCapita,
        unit: "resident",
        meter: "",
        fy26: "1.10",
        fy27: "1.15",
        overage: None,
    },
    Card {
        service: "security",
        name: "CISO as a service — monthly retainer",
        model: Model::Fixed,
        unit: "month",
        meter: "",
        fy26: "1800.00",
        fy27: "1850.00",
        overage: None,
    },
    Card {
        service: "devices",
        name: "Desktop support — prepaid 10-hour block",
        model: Model::PrepaidHours,
        unit: "hour",
        meter: "",
        fy26: "950.00",
        fy27: "980.00",
        overage: Some("105.00"),
    },
    Card {
        service: "accounts",
        name: "Project work — time and materials",
        model: Model::TimeAndMaterials,
        unit: "hour",
        meter: "",
        fy26: "95.00",
        fy27: "98.00",
        overage: None,
    },
    // The fibre ring's yearly cost, shared by weight (each member's thousands of residents).
    Card {
        service: "network",
        name: "Regional fibre network — shared cost pool",
        model: Model::CostPool,
        unit: "share",
        meter: "",
        fy26: "240000.00",
        fy27: "252000.00",
        overage: None,
    },
    // The regional cloud, metered daily from the CMDB's allocations (store::cloud).
    Card {
        service: "servers-storage",
        name: "Virtual servers — per vCPU-month",
        model: Model::PerUnit,
        unit: "vCPU-month",
        meter: "cloud.vcpu_month",
        fy26: "18.00",
        fy27: "18.50",
        overage: None,
    },
    Card {
        service: "servers-storage",
        name: "Virtual server memory — per GB-month",
        model: Model::PerUnit,
        unit: "GB-month",
        meter: "cloud.ram_gb_month",
        fy26: "3.00",
        fy27: "3.10",
        overage: None,
    },
    Card {
        service: "servers-storage",
        name: "Server storage — per GB-month",
        model: Model::PerUnit,
        unit: "GB-month",
        meter: "cloud.storage_gb_month",
        fy26: "0.08",
        fy27: "0.08",
        overage: None,
    },
];

/// The hub's yearly cost of each service, in dollars before the year's factor (FY2026 × 1.30, FY2027 × 1.35:
/// benefits, overhead and raises): (service, category, what, amount). Illustrative figures for the demo, of the
/// size a city's IT department would carry; billing recovers them with a small margin.
const COSTS: [(&str, CostCategory, &str, i64); 20] = [
    (
        "email",
        CostCategory::Staff,
        "Messaging administrator, 0.75 FTE with benefits",
        85_000,
    ),
    (
        "email",
        CostCategory::Licences,
        "Government cloud mailboxes and archiving",
        96_000,
    ),
    (
        "email",
        CostCategory::Hardware,
        "Mail gateways, depreciation",
        18_000,
    ),
    (
        "gis",
        CostCategory::Staff,
        "GIS analyst, 0.5 FTE with benefits",
        45_000,
    ),
    (
        "gis",
        CostCategory::Licences,
        "GIS enterprise licence",
        24_000,
    ),
    (
        "gis",
        CostCategory::Hardware,
        "GIS server, depreciation",
        4_000,
    ),
    (
        "backup",
        CostCategory::Staff,
        "Storage engineer, 0.25 FTE with benefits",
        30_000,
    ),
    ("backup", CostCategory::Licences, "Backup software", 40_000),
    (
        "backup",
        CostCategory::Hardware,
        "Backup arrays and the off-site copy, depreciation",
        120_000,
    ),
    (
        "backup",
        CostCategory::Network,
        "Replication circuit to the recovery site",
        20_000,
    ),
    (
        "erp",
        CostCategory::Staff,
        "ERP analysts, 1.5 FTE with benefits",
        150_000,
    ),
    ("erp", CostCategory::Licences, "ERP subscription", 110_000),
    (
        "security",
        CostCategory::Staff,
        "Chief information security officer, 1 FTE with benefits",
        165_000,
    ),
    (
        "security",
        CostCategory::Licences,
        "Endpoint protection and vulnerability scanning",
        25_000,
    ),
    (
        "devices",
        CostCategory::Staff,
        "Desktop technicians, 1.5 FTE with benefits",
        120_000,
    ),
    (
        "devices",
        CostCategory::Hardware,
        "Imaging and spare-pool devices, depreciation",
        10_000,
    ),
    (
        "network",
        CostCategory::Network,
        "Fibre ring maintenance and internet transit",
        180_000,
    ),
    (
        "network",
        CostCategory::Hardware,
        "Core switches and firewalls, depreciation",
        50_000,
    ),
    (
        "network",
        CostCategory::Staff,
        "Network engineer, 0.2 FTE with benefits",
        20_000,
    ),
    (
        "accounts",
        CostCategory::Staff,
        "Project staff, the hours billed to members",
        30_000,
    ),
];

/// What a member would spend a year running a service alone, by size band (small, medium, large, very
/// large): staff share, licences, hardware, in dollars.
/// Staff share, licences and hardware a year, in dollars, for each size band (small to very large).
type Bands = [(i64, i64, i64); 4];

const STANDALONE: [(&str, Bands); 7] = [
    (
        "email",
        [
            (9_000, 4_000, 2_000),
            (15_000, 9_000, 4_000),
            (24_000, 18_000, 6_000),
            (36_000, 36_000, 9_000),
        ],
    ),
    (
        "gis",
        [
            (8_000, 4_000, 1_000),
            (12_000, 6_000, 1_500),
            (18_000, 9_000, 2_000),
            (30_000, 14_000, 3_000),
        ],
    ),
    (
        "backup",
        [
            (3_000, 3_000, 8_000),
            (5_000, 5_000, 18_000),
            (10_000, 10_000, 45_000),
            (14_000, 14_000, 70_000),
        ],
    ),
    (
        "erp",
        [
            (12_000, 10_000, 2_000),
            (20_000, 18_000, 3_000),
            (32_000, 28_000, 5_000),
            (48_000, 42_000, 8_000),
        ],
    ),
    (
        "security",
        [
            (24_000, 5_000, 0),
            (36_000, 8_000, 0),
            (48_000, 12_000, 0),
            (70_000, 18_000, 0),
        ],
    ),
    (
        "devices",
        [
            (14_000, 1_000, 1_000),
            (20_000, 1_500, 1_500),
            (30_000, 2_000, 2_000),
            (45_000, 3_000, 3_000),
        ],
    ),
    (
        "network",
        [
            (8_000, 1_000, 6_000),
            (12_000, 1_500, 9_000),
            (18_000, 2_000, 14_000),
            (26_000, 3_000, 20_000),
        ],
    ),
];

/// The demo's benchmarks are estimates, and say so: a hub replaces them with its own survey.
const STANDALONE_SOURCE: &str = "Demo estimate (illustrative): a town running the service alone, from typical staffing and list prices; replace with your region's survey";

/// The fiscal year the demo's agreements start in (FY2026 began 1 July 2025).
const FY_START: Date = date(2025, 7, 1);

fn dec(s: &str) -> anyhow::Result<Decimal> {
    s.parse().with_context(|| format!("demo decimal {s}"))
}

/// Loads rate cards, agreements and usage for `members` (id, slug, population); returns how many usage
/// records were stored.
pub async fn load(
    db: &Db,
    starter: &Starter,
    members: &[(OrgId, String, i64)],
    today: Date,
) -> anyhow::Result<usize> {
    let actor = Actor::system("demo");
    let mut cards: Vec<RateCardId> = Vec::new();
    for c in &CARDS {
        let service = *starter
            .services
            .get(c.service)
            .with_context(|| format!("demo service {}", c.service))?;
        let card = rates::create(
            db,
            &actor,
            &CardDraft {
                service_id: service,
                name: c.name.into(),
                model: c.model,
                unit: c.unit.into(),
                meter: c.meter.into(),
                activity: String::new(),
            },
            &RateDraft {
                effective_from: FY_START,
                price: dec(c.fy26)?,
                overage: c.overage.map(dec).transpose()?,
                note: "FY2026 rate, adopted by the regional IT board".into(),
            },
        )
        .await?;
        rates::add_rate(
            db,
            &actor,
            card.id,
            &RateDraft {
                effective_from: date(2026, 7, 1),
                price: dec(c.fy27)?,
                overage: c.overage.map(dec).transpose()?,
                note: "FY2027 rate: 3% staff cost increase".into(),
            },
        )
        .await?;
        cards.push(card.id);
    }
    let mut records = Vec::new();
    for (i, (org, slug, population)) in members.iter().enumerate() {
        let agreement = agreements::create(
            db,
            &Scope::Region,
            &actor,
            *org,
            &AgreementDraft {
                title: "Shared IT services agreement".into(),
                status: AgreementStatus::Active,
                cadence: if i % 3 == 0 {
                    domain::billing::Cadence::Quarterly
                } else {
                    domain::billing::Cadence::Monthly
                },
                starts_on: FY_START,
                ends_on: Some(date(2028, 7, 1)),
                renewal: Renewal::ByVote,
                approving_body: if population > &40_000 {
                    "City Council".into()
                } else {
                    "Select Board".into()
                },
                vote_date: Some(date(2025, 5, 12 + i8::try_from(i % 10).unwrap_or(0))),
                notes: "Intermunicipal agreement under M.G.L. c. 40, § 4A.".into(),
            },
        )
        .await?;
        // Sizes follow the population: a mailbox per 90 residents, a GIS seat per 5,000.
        let mailboxes = (population / 90).max(25);
        let seats = (population / 5_000).max(2);
        let subs: Vec<(usize, i64)> = vec![
            (0, mailboxes),
            (1, seats),
            (2, 1),
            (3, 1),
            (5, 10),
            (7, (population / 1_000).max(1)),
            (8, 1),
            (9, 1),
            (10, 1),
        ]
        .into_iter()
        .chain((i % 2 == 0).then_some((4, 1)))
        .chain((i % 4 == 1).then_some((6, 1)))
        .collect();
        for (card, quantity) in subs {
            agreements::subscribe(
                db,
                &Scope::Region,
                &actor,
                agreement.id,
                &SubscriptionDraft {
                    rate_card_id: cards[card],
                    quantity: Decimal::from(quantity),
                    starts_on: if card == 4 && i % 4 == 0 {
                        date(2025, 9, 15)
                    } else {
                        FY_START
                    },
                    ends_on: None,
                },
            )
            .await?;
        }
        // Backup usage: one record per month so far, growing with the member's size and over time.
        let mut month = FY_START;
        let mut k = 0i64;
        while month <= today {
            let gb = population * 2 + k * population / 40;
            records.push(NewUsage {
                id: format!("demo-backup-{slug}-{}", &month.to_string()[..7]),
                org: slug.clone(),
                meter: "backup.gb_month".into(),
                used_on: month,
                quantity_micros: gb * 1_000_000,
                source: "Veeam".into(),
            });
            month = month
                .checked_add(jiff::Span::new().months(1))
                .context("demo month")?;
            k += 1;
        }
    }
    let n = records.len();
    store::billing::usage::ingest(db, &Scope::Region, &actor, &records).await?;
    finance(db, starter, &actor).await?;
    // An SLA credit for an email outage two months ago, to the second member.
    if let Some((org, _, _)) = members.get(1) {
        let month = today
            .checked_sub(jiff::Span::new().months(2))
            .context("demo credit month")?;
        let agreement = agreements::list(
            db,
            &Scope::Orgs([*org].into()),
            &agreements::Filter::default(),
            &store::page::PageRequest::first(1),
        )
        .await?;
        if let Some(a) = agreement.items.first() {
            store::billing::finance::add_credit(
                db,
                &Scope::Region,
                &actor,
                &store::billing::finance::CreditDraft {
                    agreement_id: a.id,
                    month: domain::billing::period::month_key(month),
                    amount_cents: 25_000,
                    reason: "SLA credit: email outage of four hours".into(),
                },
            )
            .await?;
        }
    }
    invoice_history(db, &actor, today).await?;
    Ok(n)
}

/// The hub's costs for FY2026 and FY2027 and the standalone benchmarks behind the savings reports.
async fn finance(db: &Db, starter: &Starter, actor: &Actor) -> anyhow::Result<()> {
    use store::billing::finance::{BenchmarkDraft, CostDraft, add_benchmark, add_cost};
    let service = |slug: &str| {
        starter
            .services
            .get(slug)
            .copied()
            .with_context(|| format!("demo service {slug}"))
    };
    for (fiscal_year, percent) in [(2026i16, 130i64), (2027, 135)] {
        for (slug, category, what, dollars) in COSTS {
            add_cost(
                db,
                actor,
                &CostDraft {
                    service_id: service(slug)?,
                    fiscal_year,
                    category,
                    description: what.into(),
                    amount_cents: dollars * percent,
                },
            )
            .await?;
        }
    }
    for (slug, bands) in STANDALONE {
        for (band, (staff, licences, hardware)) in SizeBand::ALL.iter().zip(bands) {
            add_benchmark(
                db,
                actor,
                &BenchmarkDraft {
                    service_id: service(slug)?,
                    size_band: *band,
                    standalone: Standalone {
                        staff_cents: staff * 100,
                        licences_cents: licences * 100,
                        hardware_cents: hardware * 100,
                    },
                    source: STANDALONE_SOURCE.into(),
                    note: String::new(),
                },
            )
            .await?;
        }
    }
    Ok(())
}

/// Every month and fiscal quarter that has ended is invoiced and issued (most paid; the last one not yet);
/// the current month's drafts wait for review.
async fn invoice_history(db: &Db, actor: &Actor, today: Date) -> anyhow::Result<()> {
    use domain::billing::{Cadence, Period};
    use store::billing::invoices;
    let mut month = Period::month(FY_START.year(), FY_START.month()).context("demo period")?;
    let mut periods = Vec::new();
    while month.start <= today {
        periods.push(month);
        if month.start.month() % 3 == 0 {
            // A fiscal quarter ends with this month (September, December, March, June).
            periods
                .push(Period::containing(month.start, Cadence::Quarterly, 7).context("quarter")?);
        }
        month = Period::month(month.end.year(), month.end.month()).context("demo period")?;
    }
    for period in periods {
        let label = period.label(7);
        invoices::run(db, actor, &period, &label).await?;
        if period.end > today {
            continue; // still running: drafts only
        }
        let drafts = invoices::list(
            db,
            &Scope::Region,
            &invoices::Filter {
                org: None,
                status: Some("draft".into()),
                period: Some(label.clone()),
            },
            &store::page::PageRequest::first(200),
        )
        .await?;
        let recent = period.end.checked_add(jiff::Span::new().days(45))? > today;
        // Issued on the period's first working morning after it ends, as a finance office would.
        let issued_on = period
            .end
            .at(9, 30, 0, 0)
            .in_tz("America/New_York")
            .context("demo issue time")?;
        // ... but never later than now (a month that ended last night is issued this minute).
        let now = jiff::Timestamp::now().to_zoned_datetime(issued_on.time_zone().clone());
        let issued_on = if issued_on.timestamp() > now.timestamp() {
            now
        } else {
            issued_on
        };
        for inv in drafts.items {
            let issued =
                invoices::issue(db, &Scope::Region, actor, &inv.id, None, &issued_on).await?;
            if !recent && issued.total_cents > 0 {
                invoices::pay(
                    db,
                    &Scope::Region,
                    actor,
                    &issued.id,
                    issued.total_cents,
                    period.end.checked_add(jiff::Span::new().days(21))?,
                    "ach",
                    "Treasurer's transfer",
                )
                .await?;
            }
        }
    }
    Ok(())
}
