//! A starter catalog for a new region: two SLA policies, the desk's teams, the shared services a hub city
//! offers its neighbours (infrastructure, applications, talent) and a few orderable items. The demo region
//! and the tests use it; a hub edits it from there.

use super::catalog::{self, ItemDraft, ServiceDraft};
use crate::audit::Actor;
use crate::{Db, Result};
use domain::desk::catalog::{FieldKind, FormField};
use domain::desk::{Coverage, SlaTargets, Target};
use domain::ids::{CatalogItemId, ServiceId, SlaPolicyId, TeamId};
use std::collections::BTreeMap;

/// The ids of what [`install`] made, by slug or name.
#[derive(Debug, Clone, Default)]
pub struct Starter {
    pub standard: SlaPolicyId,
    pub always_on: SlaPolicyId,
    pub teams: BTreeMap<&'static str, TeamId>,
    pub services: BTreeMap<&'static str, ServiceId>,
    pub items: BTreeMap<&'static str, CatalogItemId>,
}

fn field(key: &str, label: &str, kind: FieldKind, required: bool, choices: &[&str]) -> FormField {
    FormField {
        key: key.into(),
        label: label.into(),
        kind,
        required,
        choices: choices.iter().map(|c| (*c).to_owned()).collect(),
    }
}

/// Installs the starter catalog and makes the standard policy the region's default.
pub async fn install(db: &Db, actor: &Actor) -> Result<Starter> {
    let mut s = Starter {
        standard: catalog::create_policy(
            db,
            actor,
            "Standard (business hours)",
            Coverage::BusinessHours,
            &SlaTargets::standard(),
        )
        .await?
        .id,
        ..Starter::default()
    };
    let t = |r: i64, s: i64| Target {
        response_minutes: r,
        resolution_minutes: s,
    };
    s.always_on = catalog::create_policy(
        db,
        actor,
        "Public safety (24×7)",
        Coverage::AlwaysOn,
        &SlaTargets([
            t(15, 4 * 60),
            t(30, 8 * 60),
            t(2 * 60, 24 * 60),
            t(8 * 60, 72 * 60),
        ]),
    )
    .await?
    .id;
    sqlx::query("UPDATE desk_settings SET default_sla_policy_id = $1 WHERE id = 1")
        .bind(s.standard.to_string())
        .execute(&db.write)
        .await?;
    for (name, description) in [
        (
            "Service Desk",
            "First line: accounts, devices, how-to, triage",
        ),
        ("Infrastructure", "Network, servers, storage, backup"),
        ("Applications", "Email, GIS, ERP, content management"),
        ("Security", "CISO-as-a-service, incidents, access reviews"),
    ] {
        let team = catalog::create_team(db, actor, name, description, &[]).await?;
        s.teams.insert(name, team.id);
    }
    let services: [(&str, &str, &str, &str, &str, bool); 10] = [
        (
            "network",
            "Network and internet",
            "Infrastructure",
            "Infrastructure",
            "Fibre between sites, Wi-Fi, firewalls and internet access for every member site.",
            false,
        ),
        (
            "servers-storage",
            "Servers and storage",
            "Infrastructure",
            "Infrastructure",
            "Virtual machines and storage in the regional private cloud.",
            false,
        ),
        (
            "backup",
            "Backup and recovery",
            "Infrastructure",
            "Infrastructure",
            "Nightly backups, off-site copies and restores.",
            false,
        ),
        (
            "email",
            "Email and collaboration",
            "Applications",
            "Applications",
            "Mailboxes, calendars, shared drives and video meetings.",
            false,
        ),
        (
            "gis",
            "GIS and mapping",
            "Applications",
            "Applications",
            "Parcel maps, zoning layers and map requests.",
            false,
        ),
        (
            "erp",
            "Finance and HR (ERP)",
            "Applications",
            "Applications",
            "Budget, purchasing, payroll and HR records.",
            false,
        ),
        (
            "accounts",
            "Accounts and access",
            "End-user services",
            "Service Desk",
            "New staff, leavers, passwords, permissions.",
            false,
        ),
        (
            "devices",
            "Computers and devices",
            "End-user services",
            "Service Desk",
            "Laptops, desktops, printers, phones and software.",
            false,
        ),
        (
            "security",
            "Cybersecurity (CISO-as-a-service)",
            "Talent",
            "Security",
            "Security program, awareness training, incident response.",
            false,
        ),
        (
            "public-safety",
            "Public safety systems",
            "Infrastructure",
            "Infrastructure",
            "Police and fire dispatch, records and mobile data: supported around the clock.",
            true,
        ),
    ];
    for (slug, name, category, team, description, always) in services {
        let d = ServiceDraft {
            slug: slug.into(),
            name: name.into(),
            category: category.into(),
            description: description.into(),
            owner_team_id: s.teams.get(team).copied(),
            support_hours: if always {
                "24×7".into()
            } else {
                "Business hours".into()
            },
            sla_policy_id: if always { s.always_on } else { s.standard },
            active: true,
        };
        let svc = catalog::create_service(db, actor, &d).await?;
        s.services.insert(slug, svc.id);
    }
    let items: [(&str, &str, &str, i64, Vec<FormField>); 6] = [
        (
            "accounts",
            "New staff account",
            "Email, sign-in and the usual access for someone starting.",
            0,
            vec![
                field("full_name", "Full name", FieldKind::Text, true, &[]),
                field("start_date", "Start date", FieldKind::Date, true, &[]),
                field("department", "Department", FieldKind::Text, true, &[]),
            ],
        ),
        (
            "accounts",
            "Password reset",
            "A forgotten or expired password.",
            0,
            vec![field(
                "account",
                "Account (email)",
                FieldKind::Text,
                true,
                &[],
            )],
        ),
        (
            "devices",
            "New laptop",
            "A standard or power laptop, imaged and delivered.",
            129_900,
            vec![
                field(
                    "model",
                    "Model",
                    FieldKind::Choice,
                    true,
                    &["Standard", "Power"],
                ),
                field("for_whom", "For whom", FieldKind::Text, true, &[]),
                field("needed_by", "Needed by", FieldKind::Date, false, &[]),
            ],
        ),
        (
            "devices",
            "Software installation",
            "Install licensed software on a town computer.",
            0,
            vec![
                field("software", "Software", FieldKind::Text, true, &[]),
                field(
                    "computer",
                    "Computer name or asset tag",
                    FieldKind::Text,
                    false,
                    &[],
                ),
            ],
        ),
        (
            "gis",
            "Map request",
            "A printed or digital map from the GIS team.",
            0,
            vec![
                field("purpose", "Purpose", FieldKind::Text, true, &[]),
                field("copies", "Printed copies", FieldKind::Number, false, &[]),
            ],
        ),
        (
            "network",
            "New network drop",
            "A new wired network port at a member site.",
            45_000,
            vec![
                field("location", "Room or location", FieldKind::Text, true, &[]),
                field("ports", "Number of ports", FieldKind::Number, true, &[]),
            ],
        ),
    ];
    for (service, name, description, cost, form) in items {
        let Some(service_id) = s.services.get(service).copied() else {
            continue;
        };
        let i = catalog::create_item(
            db,
            actor,
            &ItemDraft {
                service_id,
                name: name.into(),
                description: description.into(),
                form,
                cost_cents: cost,
                active: true,
            },
        )
        .await?;
        s.items.insert(name, i.id);
    }
    for (title, body) in [
        (
            "Password reset done",
            "Your password is reset. Use the temporary password we gave you by phone, and choose a new one at the next sign-in.",
        ),
        (
            "Need more details",
            "Thank you. To help faster, could you tell us the computer name (on the sticker) and what exactly appears on the screen?",
        ),
        (
            "Technician scheduled",
            "A technician will visit your site. We will confirm the time by phone.",
        ),
        (
            "Resolved — reply to reopen",
            "We believe this is fixed. If it is not, just reply to this message within a week and the ticket reopens.",
        ),
    ] {
        super::tickets::add_canned_reply(db, actor, title, body).await?;
    }
    let articles: [(&str, &str, &str); 5] = [
        (
            "Reset your password",
            "Accounts",
            "1. Go to the sign-in page and choose \"Forgot password\".\n2. Enter your town email address.\n3. Follow the link we send you within 15 minutes.\n\nStill locked out? Call the service desk.",
        ),
        (
            "Connect to the town Wi-Fi",
            "Network",
            "Choose the TownHall-Staff network and sign in with your town email and password. Guests use TownHall-Guest; the password is posted at the front desk.",
        ),
        (
            "Clear a paper jam on the office printers",
            "Printing",
            "Open tray 2 and the side door, pull the paper out gently towards you, close both doors. If the printer still shows a jam, turn it off and on again.",
        ),
        (
            "Spot a phishing email",
            "Security",
            "Be wary of urgent requests, invoices you did not expect and links to sign-in pages. Do not click: use \"Report phishing\" in Outlook, or forward the message to the service desk.",
        ),
        (
            "Request a new staff account",
            "Accounts",
            "Use the catalog item \"New staff account\" at least three working days before the start date. Your administrator's approval is not needed.",
        ),
    ];
    for (title, category, body) in articles {
        super::kb::create(
            db,
            actor,
            &super::kb::Draft {
                title: title.into(),
                body: body.into(),
                category: category.into(),
                status: domain::desk::ArticleStatus::Published,
                visibility: domain::desk::Visibility::Members,
                org_id: None,
                service_id: None,
            },
        )
        .await?;
    }
    Ok(s)
}
