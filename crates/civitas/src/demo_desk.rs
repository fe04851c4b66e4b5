//! The demo's service desk: the starter catalog and a year of tickets for the twelve members, so that every
//! queue, ticket page and report has data. Volume follows the town's size and the season (more in
//! September and January, less in July and December); every kind and priority occurs; some tickets
//! breach, some wait on their requester, most resolved ones are rated. Deterministic for a given load
//! instant (a fixed pseudo-random sequence, counted back from now).

use anyhow::Context;
use domain::authz::Scope;
use domain::desk::{Impact, Source, TicketKind, Urgency};
use domain::ids::{CatalogItemId, OrgId, ServiceId, UserId};
use jiff::civil::Weekday;
use jiff::tz::TimeZone;
use jiff::{Timestamp, ToSpan};
use std::collections::BTreeMap;
use store::Db;
use store::audit::Actor;
use store::desk::starter::Starter;
use store::desk::tickets::{self, Imported, NewTicket};
use store::tenancy::users;

/// A small deterministic generator (SplitMix64): the same sequence on every machine.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }

    /// Uniform in `0..n` (n > 0).
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n.max(1)
    }

    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }

    fn pick<'a, T>(&mut self, items: &'a [T]) -> &'a T {
        let i = usize::try_from(self.below(items.len() as u64)).unwrap_or(0);
        &items[i]
    }
}

/// What people write about, by service slug: (subject, description, kind).
const TOPICS: &[(&str, &str, &str, TicketKind)] = &[
    (
        "network",
        "Wi-Fi drops in the council chamber",
        "The wireless keeps disconnecting during meetings, for everyone in the room.",
        TicketKind::Incident,
    ),
    (
        "network",
        "No internet at the DPW garage",
        "Nothing loads at the garage since this morning; the phones work.",
        TicketKind::Incident,
    ),
    (
        "network",
        "Slow connection at the library branch",
        "Pages take a minute to load on the public computers.",
        TicketKind::Incident,
    ),
    (
        "servers-storage",
        "Shared drive is full",
        "We cannot save to the S: drive: it says there is no space left.",
        TicketKind::Incident,
    ),
    (
        "servers-storage",
        "Need a server for the new permitting system",
        "The vendor asks for a Windows VM with 8 GB of memory.",
        TicketKind::ServiceRequest,
    ),
    (
        "backup",
        "Restore a deleted folder",
        "A folder of assessor records was deleted yesterday by mistake; please restore it.",
        TicketKind::ServiceRequest,
    ),
    (
        "email",
        "Cannot send email to the state",
        "Messages to mass.gov addresses bounce back with an error.",
        TicketKind::Incident,
    ),
    (
        "email",
        "Shared mailbox for the clerk's office",
        "Please create clerk@ as a shared mailbox for three people.",
        TicketKind::ServiceRequest,
    ),
    (
        "email",
        "Calendar invites arrive twice",
        "Every meeting invite shows up two times in Outlook.",
        TicketKind::Incident,
    ),
    (
        "gis",
        "Parcel layer missing from the map viewer",
        "The parcel boundaries no longer show on the public map.",
        TicketKind::Incident,
    ),
    (
        "erp",
        "Payroll report shows wrong totals",
        "The bi-weekly payroll register does not add up for overtime.",
        TicketKind::Incident,
    ),
    (
        "erp",
        "New vendor cannot be added",
        "Purchasing gets an error when creating a vendor record.",
        TicketKind::Incident,
    ),
    (
        "accounts",
        "Locked out of my account",
        "I typed the wrong password and now I am locked out.",
        TicketKind::Incident,
    ),
    (
        "accounts",
        "Access to the building permits folder",
        "I need read access to the building permits folder.",
        TicketKind::ServiceRequest,
    ),
    (
        "devices",
        "Printer jams on every job",
        "The second-floor printer jams on every print.",
        TicketKind::Incident,
    ),
    (
        "devices",
        "Laptop will not start",
        "My laptop shows a black screen after the logo.",
        TicketKind::Incident,
    ),
    (
        "devices",
        "Install Adobe Acrobat",
        "I need Acrobat to sign bid documents.",
        TicketKind::ServiceRequest,
    ),
    (
        "security",
        "Suspicious email with an invoice link",
        "Several of us got an invoice email from an unknown sender with a link.",
        TicketKind::Incident,
    ),
    (
        "security",
        "Security awareness training for new hires",
        "Please enrol our four new hires in the training.",
        TicketKind::ServiceRequest,
    ),
    (
        "public-safety",
        "Dispatch console freezes",
        "The CAD console in dispatch freezes every few minutes.",
        TicketKind::Incident,
    ),
    (
        "public-safety",
        "Cruiser laptop cannot reach records",
        "Mobile data terminals in two cruisers cannot reach the records system.",
        TicketKind::Incident,
    ),
    (
        "network",
        "Recurring outages at the DPW garage",
        "Third outage this month at the garage: find the cause.",
        TicketKind::Problem,
    ),
    (
        "servers-storage",
        "Patch the regional hypervisors",
        "Monthly patching of the virtual machine hosts, Saturday night.",
        TicketKind::Change,
    ),
    (
        "email",
        "Move the school's mailboxes to the new tenant",
        "Planned migration of 120 mailboxes.",
        TicketKind::Change,
    ),
];

const REPLIES: &[&str] = &[
    "Thanks for reporting this. I am looking into it now.",
    "I can see the problem on our side and am working on it.",
    "Could you tell me the computer name or asset tag?",
    "We have scheduled a technician to come to your site.",
];

const FIXES: &[&str] = &[
    "Fixed: the settings were reset and it works again. Please let us know if it comes back.",
    "Done. You should have access now.",
    "Resolved: we replaced the faulty part.",
    "Restored from last night's backup.",
    "The vendor applied a patch; the issue is resolved.",
];

const COMMENTS: &[&str] = &[
    "Quick and friendly, thank you!",
    "Fixed on the first call.",
    "Took a while, but solved.",
    "Still a bit slow, but better.",
];

/// Relative volume per month (January first): school starts in September; summers are quiet.
const SEASON: [u64; 12] = [12, 10, 10, 9, 9, 8, 6, 7, 13, 11, 10, 7];

/// A working-day instant in `tz`, `days_ago` days before `now`, at a random time of the working day.
fn work_instant(rng: &mut Rng, tz: &TimeZone, now: Timestamp, days_ago: i64) -> Option<Timestamp> {
    let day = tz
        .to_datetime(now)
        .date()
        .checked_sub(days_ago.days())
        .ok()?;
    let day = match day.weekday() {
        Weekday::Saturday => day.checked_sub(1.day()).ok()?,
        Weekday::Sunday => day.checked_sub(2.days()).ok()?,
        _ => day,
    };
    let minutes = if rng.chance(8) {
        17 * 60 + rng.below(240)
    } else {
        8 * 60 + rng.below(9 * 60)
    };
    let hour = i8::try_from(minutes / 60).ok()?;
    let minute = i8::try_from(minutes % 60).ok()?;
    let t = tz.to_timestamp(day.at(hour, minute, 0, 0)).ok()?;
    (t < now).then_some(t)
}

const HOUR: i64 = 3_600_000;

/// Loads a year of tickets; returns how many.
pub async fn load(
    db: &Db,
    starter: &Starter,
    members: &[(OrgId, i64)],
    agents: &[(UserId, String)],
) -> anyhow::Result<usize> {
    let tz = TimeZone::get("America/New_York").context("time zone")?;
    let now = Timestamp::now();
    let now_ms = now.as_millisecond();
    let mut rng = Rng(0x00C1_71A5_2026);
    let mut requesters: BTreeMap<OrgId, Vec<UserId>> = BTreeMap::new();
    for (org, _) in members {
        let page = users::list(
            db,
            &Scope::Region,
            *org,
            &users::Filter::default(),
            &store::page::PageRequest::first(50),
        )
        .await?;
        requesters.insert(
            *org,
            page.items
                .iter()
                .filter(|u| !u.email.starts_with("auditor@"))
                .map(|u| u.id)
                .collect(),
        );
    }
    let total_pop: i64 = members.iter().map(|m| m.1).sum::<i64>().max(1);
    let items: BTreeMap<&str, CatalogItemId> =
        starter.items.iter().map(|(k, v)| (*k, *v)).collect();
    let services: BTreeMap<&str, ServiceId> =
        starter.services.iter().map(|(k, v)| (*k, *v)).collect();
    let mut batch = Vec::new();
    let mut count = 0;
    // About 2,400 tickets a year for the region, spread over the past 365 days.
    for days_ago in (0..365i64).rev() {
        let date = tz.to_datetime(now).date().checked_sub(days_ago.days())?;
        if matches!(date.weekday(), Weekday::Saturday | Weekday::Sunday) {
            continue;
        }
        let month = usize::try_from(date.month() - 1).unwrap_or(0);
        let per_day = SEASON[month]; // ~9–10 tickets a working day at the peak, ~6 in July.
        for _ in 0..per_day {
            // The member, weighted by population.
            let mut pick =
                i64::try_from(rng.below(u64::try_from(total_pop).unwrap_or(1))).unwrap_or(0);
            let mut org = members[0].0;
            for (o, pop) in members {
                if pick < *pop {
                    org = *o;
                    break;
                }
                pick -= pop;
            }
            let Some(people) = requesters.get(&org).filter(|p| !p.is_empty()) else {
                continue;
            };
            let requester = *rng.pick(people);
            let Some(opened) = work_instant(&mut rng, &tz, now, days_ago) else {
                continue;
            };
            let opened_ms = opened.as_millisecond();
            let (service, subject, description, kind) = *rng.pick(TOPICS);
            let mut item = None;
            let mut answers = BTreeMap::new();
            if kind == TicketKind::ServiceRequest && rng.chance(40) {
                let (name, a): (&str, Vec<(&str, &str)>) = match rng.below(4) {
                    0 => (
                        "Password reset",
                        vec![("account", "clerk@town.example.gov")],
                    ),
                    1 => ("Software installation", vec![("software", "Adobe Acrobat")]),
                    2 => (
                        "Map request",
                        vec![("purpose", "Planning board hearing"), ("copies", "3")],
                    ),
                    _ => (
                        "New laptop",
                        vec![("model", "Standard"), ("for_whom", "New hire")],
                    ),
                };
                item = items.get(name).copied();
                answers = a
                    .into_iter()
                    .map(|(k, v)| (k.to_owned(), v.to_owned()))
                    .collect();
            }
            let impact = *rng.pick(&[
                Impact::Low,
                Impact::Low,
                Impact::Low,
                Impact::Medium,
                Impact::Medium,
                Impact::High,
            ]);
            let urgency = *rng.pick(&[
                Urgency::Low,
                Urgency::Medium,
                Urgency::Medium,
                Urgency::High,
            ]);
            let age_h = (now_ms - opened_ms) / HOUR;
            let agent = rng.pick(agents).clone();
            // How the ticket went: most answered within the target, a few late; resolved after hours to days.
            let late = rng.chance(5);
            // The last two weeks are still being worked: a real backlog for the queues.
            let recent = days_ago <= 7;
            let stays_open = recent && rng.chance(45);
            // Faster for higher priorities, as a desk works: (response minutes, resolution hours) ranges.
            let priority = domain::desk::PriorityMatrix::default().priority(impact, urgency);
            let (resp_max, res_min, res_span) = match priority {
                domain::desk::Priority::P1 => (20, 1, 4),
                domain::desk::Priority::P2 => (45, 2, 8),
                domain::desk::Priority::P3 => (150, 3, 22),
                domain::desk::Priority::P4 => (300, 6, 36),
            };
            let respond_after = if late {
                (2 + i64::try_from(rng.below(30)).unwrap_or(0)) * HOUR
            } else {
                i64::try_from(3 + rng.below(resp_max)).unwrap_or(30) * 60_000
            };
            let resolve_after = if rng.chance(6) {
                (res_min * 4 + i64::try_from(rng.below(120)).unwrap_or(0)) * HOUR
            } else {
                (res_min + i64::try_from(rng.below(res_span)).unwrap_or(0)) * HOUR
            };
            let assigned =
                if recent { rng.chance(75) } else { true } && (age_h >= 1 || rng.chance(50));
            let first_response = (assigned && opened_ms + respond_after < now_ms)
                .then(|| (opened_ms + respond_after, (*rng.pick(REPLIES)).to_owned()));
            let waits = if first_response.is_some() && rng.chance(15) {
                let a = opened_ms + respond_after + HOUR;
                let b = a + (12 + i64::try_from(rng.below(60)).unwrap_or(0)) * HOUR;
                if b < now_ms { vec![(a, b)] } else { Vec::new() }
            } else {
                Vec::new()
            };
            let wait_ms: i64 = waits.iter().map(|(a, b)| b - a).sum();
            let resolved_at = opened_ms + respond_after + resolve_after + wait_ms;
            let resolved = (first_response.is_some() && !stays_open && resolved_at < now_ms - HOUR)
                .then(|| (resolved_at, (*rng.pick(FIXES)).to_owned()));
            let closed_at = resolved
                .as_ref()
                .map(|r| r.0 + 7 * 24 * HOUR)
                .filter(|c| *c < now_ms);
            let csat = resolved.as_ref().filter(|_| rng.chance(45)).map(|_| {
                let score = *rng.pick(&[5, 5, 5, 4, 4, 4, 3, 2]);
                (
                    score,
                    rng.chance(40).then(|| (*rng.pick(COMMENTS)).to_owned()),
                )
            });
            let waiting_since = (stays_open && first_response.is_some() && rng.chance(25))
                .then(|| first_response.as_ref().map_or(opened_ms, |r| r.0) + HOUR)
                .filter(|w| *w < now_ms);
            let requester_reply = waits
                .first()
                .map(|(_, b)| (*b, "Here is the information you asked for.".to_owned()));
            let last = [
                Some(opened_ms),
                first_response.as_ref().map(|r| r.0),
                resolved.as_ref().map(|r| r.0),
                closed_at,
            ]
            .into_iter()
            .flatten()
            .max()
            .unwrap_or(opened_ms);
            let time = match &resolved {
                Some((at, _)) => {
                    let minutes = i64::try_from(10 + 5 * rng.below(24)).unwrap_or(30);
                    let activity = *rng.pick(&[
                        domain::desk::Activity::Remote,
                        domain::desk::Activity::Remote,
                        domain::desk::Activity::Support,
                        domain::desk::Activity::Onsite,
                    ]);
                    let mut v = vec![(*at, minutes, activity, !rng.chance(10))];
                    if activity == domain::desk::Activity::Onsite {
                        v.push((*at, 20, domain::desk::Activity::Travel, true));
                    }
                    v
                }
                None => Vec::new(),
            };
            batch.push(Imported {
                ticket: NewTicket {
                    org_id: org,
                    kind,
                    subject: subject.to_owned(),
                    description: description.to_owned(),
                    requester_id: requester,
                    department_id: None,
                    site_id: None,
                    service_id: services.get(service).copied(),
                    catalog_item_id: item,
                    form_answers: answers,
                    category: String::new(),
                    impact,
                    urgency,
                    source: *rng.pick(&[
                        Source::Portal,
                        Source::Portal,
                        Source::Email,
                        Source::Phone,
                    ]),
                    team_id: None,
                    opened_at: Some(opened_ms),
                },
                assignee: assigned.then(|| agent.clone()),
                first_response,
                waits,
                waiting_since,
                requester_reply,
                resolved,
                closed_at,
                csat,
                time,
                now: if closed_at.is_some() { last } else { now_ms },
            });
            if batch.len() >= 500 {
                count += tickets::import(db, &Actor::system("demo"), std::mem::take(&mut batch))
                    .await?
                    .len();
            }
        }
    }
    count += tickets::import(db, &Actor::system("demo"), batch)
        .await?
        .len();
    Ok(count)
}
