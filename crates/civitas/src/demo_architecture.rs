//! The demo region's enterprise architecture: a standards catalog that finds real items of the demo CMDB
//! (the members' SQL Server 2019 databases on hold, the IMC Records system to retire, the hub's Exchange
//! servers on hold for Microsoft 365), the region's principles, and exception requests — one approved and
//! ending soon, one awaiting review.

use anyhow::Context;
use domain::architecture::{Area, ExceptionStatus, Ring, Risk};
use domain::ids::OrgId;
use domain::tenancy::Email;
use jiff::civil::Date;
use store::Db;
use store::architecture::{self as arch, ExceptionDraft, Principle, StandardDraft};
use store::audit::Actor;

/// A standard of the demo: (name, area, ring, match terms, use instead, description).
type Demo = (
    &'static str,
    Area,
    Ring,
    &'static [&'static str],
    &'static str,
    &'static str,
);

const STANDARDS: [Demo; 10] = [
    (
        "Windows Server 2022",
        Area::Infrastructure,
        Ring::Adopt,
        &["Windows Server 2022"],
        "",
        "The server operating system for new virtual machines in the regional cloud.",
    ),
    (
        "Windows Server 2012",
        Area::Infrastructure,
        Ring::Retire,
        &["Windows Server 2012"],
        "Windows Server 2022",
        "Out of extended support since October 2023.",
    ),
    (
        "Aruba CX switching",
        Area::Infrastructure,
        Ring::Adopt,
        &["Aruba 6300M"],
        "",
        "Access and distribution switches at member sites.",
    ),
    (
        "SQL Server 2022",
        Area::Platforms,
        Ring::Adopt,
        &["SQL Server 2022"],
        "",
        "The database engine for new applications.",
    ),
    (
        "SQL Server 2019",
        Area::Platforms,
        Ring::Hold,
        &["SQL Server 2019"],
        "SQL Server 2022",
        "Mainstream support ended February 2025; no new databases.",
    ),
    (
        "ArcGIS Enterprise",
        Area::Platforms,
        Ring::Adopt,
        &["ArcGIS Enterprise"],
        "",
        "The region's GIS platform, run by the hub.",
    ),
    (
        "Exchange Server",
        Area::Applications,
        Ring::Hold,
        &["Exchange Server"],
        "Microsoft 365 (GCC)",
        "On-premises mail stays while the move to Microsoft 365 is planned.",
    ),
    (
        "IMC Records",
        Area::Applications,
        Ring::Retire,
        &["IMC Records"],
        "Regional CAD/RMS (in procurement)",
        "Vendor support ended June 2026.",
    ),
    (
        "FortiGate firewalls",
        Area::Security,
        Ring::Adopt,
        &["FortiGate"],
        "",
        "Perimeter firewalls at every member site, managed by the hub.",
    ),
    (
        "Passkeys for staff sign-in",
        Area::Security,
        Ring::Trial,
        &[],
        "",
        "Phishing-resistant sign-in, tried with the hub's staff first.",
    ),
];

const PRINCIPLES: [(&str, &str, &str, &str); 4] = [
    (
        "Share before you buy",
        "Use a regional shared service where one exists before buying or building alone.",
        "Shared services cost members about 40% less than running them alone.",
        "Requests for new systems name the shared service considered and why it does not fit.",
    ),
    (
        "Secure by default",
        "Every system follows the region's security baseline (NIST CSF) from its first day.",
        "One weak member exposes the shared network.",
        "Multi-factor sign-on, supported versions, backups and logging are conditions of going live.",
    ),
    (
        "Data is a public asset",
        "Data is owned by the member, described, kept for its retention period and shared where the law allows.",
        "Residents and councils rely on accurate, findable records.",
        "New systems export their data in open formats.",
    ),
    (
        "Standards before exceptions",
        "Technologies follow the standards catalog; any exception is asked for, time-limited and reviewed.",
        "Every exception is a cost carried by the whole region.",
        "Exceptions end within two years and are reviewed before renewal.",
    ),
];

fn date(y: i16, m: i8, d: i8) -> Date {
    jiff::civil::date(y, m, d)
}

/// Loads the catalog, the principles and two exception requests for `members` (id, slug, name, population).
pub async fn load(
    db: &Db,
    members: &[(OrgId, String, String, i64)],
    today: Date,
) -> anyhow::Result<()> {
    let actor = Actor::system("demo");
    let mut ids = std::collections::HashMap::new();
    for (name, area, ring, terms, instead, description) in STANDARDS {
        let s = arch::create_standard(
            db,
            &actor,
            &StandardDraft {
                name: name.into(),
                area: Some(area),
                ring: Some(ring),
                description: description.into(),
                match_terms: terms.iter().map(|t| (*t).to_owned()).collect(),
                instead: instead.into(),
            },
        )
        .await
        .with_context(|| format!("demo standard {name}"))?;
        ids.insert(name, s.id);
    }
    for (title, statement, rationale, implications) in PRINCIPLES {
        arch::add_principle(
            db,
            &actor,
            &Principle {
                id: String::new(),
                title: title.into(),
                statement: statement.into(),
                rationale: rationale.into(),
                implications: implications.into(),
                version: 0,
            },
        )
        .await?;
    }
    // The first two members ask; the first's is approved and ends within the month.
    for (k, (org, slug, _, _)) in members.iter().take(2).enumerate() {
        let email = Email::parse(&format!("admin@{slug}.example.gov"))
            .map_err(|e| anyhow::anyhow!("demo email: {}", e.message))?;
        let Some(admin) = store::tenancy::users::find_by_email(db, &email).await? else {
            continue;
        };
        let (standard, title, reason, risk, mitigation) = if k == 0 {
            (
                "IMC Records",
                "Keep IMC Records until the regional CAD/RMS goes live",
                "Police records cannot move until the regional system is procured and the data converted.",
                Risk::High,
                "Isolated network segment, no internet access, nightly backups to the recovery site.",
            )
        } else {
            (
                "SQL Server 2019",
                "Keep the records database on SQL Server 2019 through the fiscal year",
                "The records vendor certifies SQL Server 2022 with its next release.",
                Risk::Low,
                "Monthly patches; upgrade scheduled with the vendor's release.",
            )
        };
        let x = arch::request_exception(
            db,
            &store::Scope::Region,
            &actor,
            admin.id,
            &ExceptionDraft {
                org_id: *org,
                standard_id: ids[standard].clone(),
                ci_id: None,
                title: title.into(),
                reason: reason.into(),
                risk,
                mitigation: mitigation.into(),
                requested_until: Some(date(2027, 6, 30)),
            },
        )
        .await?;
        if k == 0 {
            let ends = today
                .checked_add(jiff::Span::new().days(25))
                .context("demo expiry")?;
            arch::decide(
                db,
                &Actor::system("demo board"),
                &x.id,
                None,
                ExceptionStatus::Approved,
                Some(ends),
                "Approved by the regional IT board for a short term; procurement to report monthly.",
            )
            .await?;
        }
    }
    Ok(())
}
