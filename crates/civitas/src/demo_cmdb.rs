//! The demo region's CMDB: 18 connected sites on the fibre ring, the regional cloud (two clusters of hosts
//! with their storage arrays, at the data centre and the recovery site), the hub's shared applications and
//! business services, and each member's own network devices, virtual machines and applications — with the
//! overlaps a portfolio review would find (three permitting systems, two payroll services, …).
//! Deterministic: the same items every time.

use anyhow::Context;
use domain::cloud::Resources;
use domain::cmdb::{CiStatus, CiType, RelationKind};
use domain::ids::{CiId, OrgId};
use jiff::civil::{Date, date};
use serde_json::{Map, Value, json};
use store::audit::Actor;
use store::cloud::PoolDraft;
use store::cmdb::{self, CiDraft};
use store::{Db, Scope};

struct Loader<'a> {
    db: &'a Db,
    actor: Actor,
    count: usize,
}

impl Loader<'_> {
    async fn item(
        &mut self,
        org: OrgId,
        ci_type: CiType,
        name: &str,
        attributes: Value,
    ) -> anyhow::Result<CiId> {
        let attributes: Map<String, Value> = attributes.as_object().cloned().unwrap_or_default();
        let c = cmdb::create(
            self.db,
            &Scope::Region,
            &self.actor,
            &CiDraft {
                org_id: org,
                department_id: None,
                ci_type,
                name: name.to_owned(),
                status: CiStatus::Active,
                attributes,
            },
        )
        .await
        .with_context(|| format!("demo item {name}"))?;
        self.count += 1;
        Ok(c.id)
    }

    async fn relate(&self, from: CiId, kind: RelationKind, to: CiId) -> anyhow::Result<()> {
        cmdb::relate(
            self.db,
            &Scope::Region,
            &Scope::Region,
            &self.actor,
            from,
            kind,
            to,
        )
        .await
        .context("demo relationship")?;
        Ok(())
    }
}

/// Applications a member runs for itself: (capability, name, vendor). Each member takes some of them, so
/// that the same capability is served by different products across the region.
const MEMBER_APPS: [(&str, &str, &str); 12] = [
    ("permitting", "ViewPoint Cloud", "OpenGov"),
    ("permitting", "PermitEyes", "Full Circle Technologies"),
    ("permitting", "EnerGov", "Tyler Technologies"),
    ("payroll", "Harpers Payroll", "Harpers"),
    ("payroll", "Workforce Now", "ADP"),
    ("crm-311", "SeeClickFix", "CivicPlus"),
    ("records", "Laserfiche", "Laserfiche"),
    ("public-safety", "IMC Records", "Central Square"),
    ("public-safety", "New World CAD", "Tyler Technologies"),
    ("assessing", "Patriot AssessPro", "Patriot Properties"),
    ("library", "Evergreen catalog", "Equinox"),
    ("recreation", "RecDesk", "RecDesk"),
];

/// An application's yearly cost for a town of 0 residents, in dollars; the demo adds 1% per 400 residents.
fn app_cost(name: &str) -> i64 {
    match name {
        "ViewPoint Cloud" => 14_000,
        "PermitEyes" => 9_000,
        "EnerGov" => 22_000,
        "Harpers Payroll" => 11_000,
        "Workforce Now" => 16_000,
        "SeeClickFix" => 6_000,
        "Laserfiche" => 8_500,
        "IMC Records" => 19_000,
        "New World CAD" => 28_000,
        "Patriot AssessPro" => 7_500,
        "Evergreen catalog" => 3_000,
        _ => 2_500,
    }
}

/// A portfolio record of the demo.
struct Assessment {
    capability: &'static str,
    users: i64,
    cost_cents: i64,
    support_end: Date,
    /// reach, mandate, fit; support, reliability, integration.
    answers: [u8; 6],
    retire: Option<(Date, Option<CiId>, &'static str)>,
}

async fn assess(db: &Db, app: CiId, a: Assessment) -> anyhow::Result<()> {
    let ids = [
        "reach",
        "mandate",
        "fit",
        "support",
        "reliability",
        "integration",
    ];
    store::portfolio::save(
        db,
        &Scope::Region,
        &Scope::Region,
        &Actor::system("demo"),
        app,
        None,
        &store::portfolio::AppDraft {
            capability: Some(a.capability.to_owned()),
            users: a.users,
            annual_cost_cents: a.cost_cents,
            contract_end: Some(date(2027, 6, 30)),
            support_end: Some(a.support_end),
            answers: ids
                .iter()
                .zip(a.answers)
                .map(|(k, v)| ((*k).to_owned(), v.clamp(1, 5)))
                .collect(),
            retire_by: a.retire.map(|r| r.0),
            replacement_id: a.retire.and_then(|r| r.1),
            plan: a.retire.map(|r| r.2.to_owned()).unwrap_or_default(),
        },
    )
    .await
    .context("demo portfolio record")?;
    Ok(())
}

/// Loads the CMDB for the hub and `members` (id, slug, name, population); returns the number of items.
pub async fn load(
    db: &Db,
    hub: (OrgId, &str),
    members: &[(OrgId, String, String, i64)],
    today: Date,
) -> anyhow::Result<usize> {
    let mut l = Loader {
        db,
        actor: Actor::system("demo"),
        count: 0,
    };
    let (h, hub_name) = hub;
    // Sites: the data centre, the recovery site, every member's town or city hall, and the high schools of
    // the four largest members — 18 in all, each on the fibre ring.
    let dc = l
        .item(
            h,
            CiType::Site,
            &format!("{hub_name} data centre"),
            json!({ "address": "562 Main Street", "kind": "Data centre" }),
        )
        .await?;
    let dr = l
        .item(
            h,
            CiType::Site,
            "Regional recovery site",
            json!({ "address": "Public works yard", "kind": "Disaster recovery site" }),
        )
        .await?;
    let ring_dr = l
        .item(
            h,
            CiType::NetworkLink,
            "Fibre ring: data centre to recovery site",
            json!({ "bandwidth_mbps": 10000, "provider": "Regional fibre consortium" }),
        )
        .await?;
    l.relate(ring_dr, RelationKind::ConnectedTo, dc).await?;
    l.relate(dr, RelationKind::ConnectedTo, ring_dr).await?;

    // The regional cloud: four hosts and an array at the data centre, three hosts and an array at the
    // recovery site.
    let mut hosts = Vec::new();
    let mut arrays = Vec::new();
    for (cluster, site, n) in [("a", dc, 4), ("b", dr, 3)] {
        let array = l
            .item(
                h,
                CiType::StorageVolume,
                &format!("Array {}", cluster.to_uppercase()),
                json!({ "size_gb": if cluster == "a" { 400_000 } else { 250_000 }, "tier": "flash" }),
            )
            .await?;
        l.relate(array, RelationKind::LocatedAt, site).await?;
        arrays.push(array);
        for i in 1..=n {
            let host = l
                .item(
                    h,
                    CiType::Server,
                    &format!("esx-{cluster}-{i:02}"),
                    json!({ "hostname": format!("esx-{cluster}-{i:02}.hub.example.gov"), "model": "PowerEdge R760",
                            "vcpu": 64, "ram_gb": 1024, "warranty_end": "2029-06-30" }),
                )
                .await?;
            l.relate(host, RelationKind::LocatedAt, site).await?;
            l.relate(host, RelationKind::DependsOn, array).await?;
            hosts.push(host);
        }
    }
    let array_b = arrays[1];
    // The hub's shared services: VM, application, business service.
    let shared = [
        (
            "mail-01",
            "Email",
            "Exchange Server",
            "Email and collaboration",
        ),
        ("gis-01", "GIS", "ArcGIS Enterprise", "GIS and mapping"),
        (
            "erp-app-01",
            "Finance and HR",
            "Munis",
            "Finance and HR (ERP)",
        ),
        (
            "docs-01",
            "Document management",
            "Laserfiche",
            "Records and documents",
        ),
    ];
    let mut erp_app = None;
    for (i, (vm_name, app_name, product, service_name)) in shared.into_iter().enumerate() {
        let vm = l
            .item(
                h,
                CiType::VirtualMachine,
                vm_name,
                json!({ "hostname": format!("{vm_name}.hub.example.gov"), "os": "Windows Server 2022", "vcpu": 8, "ram_gb": 32, "disk_gb": 500 }),
            )
            .await?;
        l.relate(vm, RelationKind::RunsOn, hosts[i % 4]).await?;
        let app = l
            .item(
                h,
                CiType::Application,
                app_name,
                json!({ "vendor": product, "version": "2025" }),
            )
            .await?;
        l.relate(app, RelationKind::RunsOn, vm).await?;
        // The hub's shared applications: well used, well kept — the consolidation targets.
        let (capability, users, dollars) = match app_name {
            "Email" => ("email", 1_400, 180_000),
            "GIS" => ("gis", 160, 95_000),
            "Finance and HR" => ("finance", 420, 260_000),
            _ => ("records", 600, 70_000),
        };
        assess(
            db,
            app,
            Assessment {
                capability,
                users,
                cost_cents: dollars * 100,
                support_end: date(2030, 6, 30),
                answers: [5, 5, 4, 5, 4, 5],
                retire: None,
            },
        )
        .await?;
        if app_name == "Finance and HR" {
            erp_app = Some(app);
        }
        if app_name == "Finance and HR" {
            let db_vm = l
                .item(
                    h,
                    CiType::VirtualMachine,
                    "erp-db-01",
                    json!({ "os": "Windows Server 2022", "vcpu": 16, "ram_gb": 128, "disk_gb": 2000 }),
                )
                .await?;
            l.relate(db_vm, RelationKind::RunsOn, hosts[1]).await?;
            let database = l
                .item(
                    h,
                    CiType::Database,
                    "Munis database",
                    json!({ "engine": "SQL Server", "version": "2022", "size_gb": 900 }),
                )
                .await?;
            l.relate(database, RelationKind::RunsOn, db_vm).await?;
            l.relate(app, RelationKind::DependsOn, database).await?;
        }
        let service = l
            .item(
                h,
                CiType::BusinessService,
                service_name,
                json!({ "owner": "Regional IT" }),
            )
            .await?;
        l.relate(service, RelationKind::DependsOn, app).await?;
    }
    let backup = l
        .item(
            h,
            CiType::VirtualMachine,
            "backup-01",
            json!({ "os": "Windows Server 2022", "vcpu": 8, "ram_gb": 64, "disk_gb": 200 }),
        )
        .await?;
    l.relate(backup, RelationKind::RunsOn, hosts[2]).await?;
    l.relate(backup, RelationKind::BacksUpTo, array_b).await?;

    // Members: their sites on the ring, a firewall and a switch at the hall, a VM or two in the regional
    // cloud, and their own applications.
    let mut largest: Vec<&(OrgId, String, String, i64)> = members.iter().collect();
    largest.sort_by_key(|m| std::cmp::Reverse(m.3));
    let schools: Vec<OrgId> = largest.iter().take(4).map(|m| m.0).collect();
    for (i, (org, slug, name, population)) in members.iter().enumerate() {
        let town = name
            .trim_start_matches("Town of ")
            .trim_start_matches("City of ");
        let hall_kind = if name.starts_with("City") {
            "City Hall"
        } else {
            "Town Hall"
        };
        let hall = l
            .item(
                *org,
                CiType::Site,
                &format!("{town} {hall_kind}"),
                json!({ "kind": hall_kind }),
            )
            .await?;
        let mut sites = vec![hall];
        if schools.contains(org) {
            sites.push(
                l.item(
                    *org,
                    CiType::Site,
                    &format!("{town} High School"),
                    json!({ "kind": "School" }),
                )
                .await?,
            );
        }
        for site in &sites {
            let link = l
                .item(
                    h,
                    CiType::NetworkLink,
                    &format!(
                        "Fibre ring: {town} {}",
                        if *site == hall { "hall" } else { "school" }
                    ),
                    json!({ "bandwidth_mbps": if *population > 40_000 { 10000 } else { 1000 },
                            "provider": "Regional fibre consortium" }),
                )
                .await?;
            l.relate(link, RelationKind::ConnectedTo, dc).await?;
            l.relate(*site, RelationKind::ConnectedTo, link).await?;
            let switch = l
                .item(
                    *org,
                    CiType::NetworkDevice,
                    &format!(
                        "{slug}-sw-{:02}",
                        sites.iter().position(|x| x == site).unwrap_or(0) + 1
                    ),
                    json!({ "model": "Aruba 6300M" }),
                )
                .await?;
            l.relate(switch, RelationKind::LocatedAt, *site).await?;
            l.relate(switch, RelationKind::ConnectedTo, link).await?;
        }
        let firewall = l
            .item(
                *org,
                CiType::NetworkDevice,
                &format!("{slug}-fw-01"),
                json!({ "model": "FortiGate 100F", "management_ip": format!("10.{}.0.1", 20 + i) }),
            )
            .await?;
        l.relate(firewall, RelationKind::LocatedAt, hall).await?;
        let vm = l
            .item(
                *org,
                CiType::VirtualMachine,
                &format!("{slug}-app-01"),
                json!({ "os": "Windows Server 2022", "vcpu": 4, "ram_gb": 16, "disk_gb": 300 }),
            )
            .await?;
        l.relate(vm, RelationKind::RunsOn, hosts[(i + 1) % 7])
            .await?;
        let fs = l
            .item(
                *org,
                CiType::VirtualMachine,
                &format!("{slug}-fs-01"),
                json!({ "os": "Windows Server 2022", "vcpu": 2, "ram_gb": 8, "disk_gb": 1000 + 250 * i }),
            )
            .await?;
        l.relate(fs, RelationKind::RunsOn, hosts[(i + 3) % 7])
            .await?;
        l.relate(fs, RelationKind::BacksUpTo, array_b).await?;
        let volume = l
            .item(
                *org,
                CiType::StorageVolume,
                &format!("{slug}-data-01"),
                json!({ "size_gb": 500 + 100 * i, "tier": "hybrid" }),
            )
            .await?;
        l.relate(volume, RelationKind::RunsOn, arrays[i % 2])
            .await?;
        let records_db = l
            .item(
                *org,
                CiType::Database,
                &format!("{town} records database"),
                json!({ "engine": "SQL Server", "version": "2019", "size_gb": 40 + 5 * i }),
            )
            .await?;
        l.relate(records_db, RelationKind::RunsOn, vm).await?;
        // Every member uses the shared email and ERP; each runs some applications of its own.
        let own_apps: Vec<&(&str, &str, &str)> = MEMBER_APPS
            .iter()
            .enumerate()
            .filter(|(k, a)| {
                // One permitting product, one payroll product and one public-safety product each, in turn;
                // the rest by the member's place in the list.
                match a.0 {
                    "permitting" => *k == i % 3,
                    "payroll" => *k == 3 + i % 2,
                    "public-safety" => *k == 7 + i % 2,
                    _ => (i + k) % 3 != 0,
                }
            })
            .map(|(_, a)| a)
            .collect();
        for (k, (capability, app_name, vendor)) in own_apps.into_iter().enumerate() {
            let app = l
                .item(
                    *org,
                    CiType::Application,
                    app_name,
                    json!({ "vendor": vendor }),
                )
                .await?;
            // Hosted in the member's VM (records, public safety) or used over the network as a cloud service.
            if matches!(
                *app_name,
                "Laserfiche" | "IMC Records" | "Patriot AssessPro"
            ) {
                l.relate(app, RelationKind::RunsOn, vm).await?;
            } else {
                l.relate(app, RelationKind::DependsOn, firewall).await?;
            }
            let vary =
                |m: usize, base: usize| u8::try_from(1 + (base + i + k * m) % 5).unwrap_or(3);
            let critical = matches!(*capability, "public-safety" | "payroll" | "permitting");
            let (support, support_end) = match *app_name {
                "IMC Records" => (1, date(2026, 6, 30)),
                "PermitEyes" => (2, date(2027, 3, 31)),
                _ => (vary(1, 2).max(3), date(2029, 6, 30)),
            };
            let retire = match *app_name {
                "PermitEyes" => Some((
                    date(2027, 6, 30),
                    None,
                    "Join the region's ViewPoint Cloud tenant when the contract ends",
                )),
                "Harpers Payroll" => Some((
                    date(2027, 12, 31),
                    erp_app,
                    "Payroll moves to the shared ERP at the start of the calendar year",
                )),
                _ => None,
            };
            let users = (*population / 300).max(8);
            assess(
                db,
                app,
                Assessment {
                    capability,
                    users,
                    cost_cents: app_cost(app_name) * (100 + *population / 400),
                    support_end,
                    answers: [
                        vary(2, 1).max(2),
                        if critical { 5 } else { vary(3, 0) },
                        vary(1, 3),
                        support,
                        vary(3, 1),
                        vary(2, 4),
                    ],
                    retire,
                },
            )
            .await?;
        }
    }
    cloud(db, &hosts, &arrays, (dc, dr), today).await?;
    Ok(l.count)
}

/// The regional cloud's two pools (cluster A at the data centre, cluster B with the backup target at the
/// recovery site), a history of allocations since the start of FY2026 growing to today's (from about 60%
/// of it), and the chargeback meters of every day so far.
async fn cloud(
    db: &Db,
    hosts: &[CiId],
    arrays: &[CiId],
    (dc, dr): (CiId, CiId),
    today: Date,
) -> anyhow::Result<()> {
    let actor = Actor::system("demo");
    let specs = [
        (
            "Cluster A",
            dc,
            Resources {
                vcpu: 120,
                ram_gb: 1_536,
                storage_gb: 40_000,
                backup_gb: 0,
            },
            "Four hosts with the flash array A; 2:1 vCPU overcommit.",
            &hosts[..4],
            arrays[0],
        ),
        (
            "Cluster B",
            dr,
            Resources {
                vcpu: 128,
                ram_gb: 1_024,
                storage_gb: 30_000,
                backup_gb: 36_000,
            },
            "Three hosts at the recovery site; array B also holds the region's backups.",
            &hosts[4..],
            arrays[1],
        ),
    ];
    for (name, site, capacity, notes, pool_hosts, array) in specs {
        let pool = store::cloud::create_pool(
            db,
            &actor,
            &PoolDraft {
                name: name.into(),
                site_id: Some(site),
                capacity,
                notes: notes.into(),
            },
        )
        .await?;
        for h in pool_hosts.iter().chain([&array]) {
            store::cloud::add_part(db, &actor, pool.id, *h).await?;
        }
    }
    // Today's allocations, and the days before them rising linearly from 60%.
    let now = store::cloud::allocations(db).await?;
    let start = date(2025, 7, 1);
    let span = (today - start).get_days().max(1);
    let mut rows = Vec::new();
    let mut day = start;
    while day < today {
        let elapsed = i64::from((day - start).get_days());
        let scale = |v: i64| v * (60 * i64::from(span) + 40 * elapsed) / (100 * i64::from(span));
        for a in &now {
            let r = &a.allocated;
            rows.push((
                a.pool_id,
                a.org_id,
                day,
                Resources {
                    vcpu: scale(r.vcpu),
                    ram_gb: scale(r.ram_gb),
                    storage_gb: scale(r.storage_gb),
                    backup_gb: scale(r.backup_gb),
                },
            ));
        }
        day = day.tomorrow().context("demo day")?;
    }
    store::cloud::record_history(db, &rows).await?;
    store::cloud::snapshot(db, today).await?;
    // Meter every past day as the daily job would, but in batches of the API's size: one transaction per
    // day cost 525 of them (a third of the demo's load time, more on PostgreSQL).
    let mut records = Vec::new();
    let mut day = start;
    while day < today {
        let totals = store::cloud::day_totals(db, day).await?;
        records.extend(store::cloud::meter_records(day, &totals));
        day = day.tomorrow().context("demo day")?;
    }
    let meter = Actor::system("cloud-meter");
    for batch in records.chunks(10_000) {
        store::billing::usage::ingest(db, &Scope::Region, &meter, batch).await?;
    }
    Ok(())
}
