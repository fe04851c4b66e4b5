//! The demo region's CMDB: 18 connected sites on the fibre ring, the regional cloud (two clusters of hosts
//! with their storage arrays, at the data centre and the recovery site), the hub's shared applications and
//! business services, and each member's own network devices, virtual machines and applications — with the
//! overlaps a portfolio review would find (three permitting systems, two payroll services, …).
//! Deterministic: the same items every time.

use anyhow::Context;
use domain::cmdb::{CiStatus, CiType, RelationKind};
use domain::ids::{CiId, OrgId};
use serde_json::{Map, Value, json};
use store::audit::Actor;
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

/// Loads the CMDB for the hub and `members` (id, slug, name, population); returns the number of items.
pub async fn load(
    db: &Db,
    hub: (OrgId, &str),
    members: &[(OrgId, String, String, i64)],
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
    for (i, (vm_name, app_name, product, service_name)) in shared.into_iter().enumerate() {
        let vm = l
            .item(
                h,
                CiType::VirtualMachine,
                vm_name,
                json!({ "hostname": format!("{vm_name}.hub.example.gov"), "os": "Windows Server 2022", "vcpu": 8, "ram_gb": 32 }),
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
        if app_name == "Finance and HR" {
            let db_vm = l
                .item(
                    h,
                    CiType::VirtualMachine,
                    "erp-db-01",
                    json!({ "os": "Windows Server 2022", "vcpu": 16, "ram_gb": 128 }),
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
            json!({ "os": "Windows Server 2022", "vcpu": 8, "ram_gb": 64 }),
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
                json!({ "os": "Windows Server 2022", "vcpu": 4, "ram_gb": 16 }),
            )
            .await?;
        l.relate(vm, RelationKind::RunsOn, hosts[(i + 1) % 7])
            .await?;
        let fs = l
            .item(
                *org,
                CiType::VirtualMachine,
                &format!("{slug}-fs-01"),
                json!({ "os": "Windows Server 2022", "vcpu": 2, "ram_gb": 8 }),
            )
            .await?;
        l.relate(fs, RelationKind::RunsOn, hosts[(i + 3) % 7])
            .await?;
        l.relate(fs, RelationKind::BacksUpTo, array_b).await?;
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
        for (_, app_name, vendor) in own_apps {
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
        }
    }
    Ok(l.count)
}
