//! Who may do what, where. The one place that turns a person's role grants and a permission into the
//! [`Scope`] of organisations they may act on. Store functions filter by that scope; nothing else decides.

use crate::ids::OrgId;
use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::collections::BTreeSet;
use std::fmt;

/// A role, granted to a person in one organisation.
#[derive(
    Debug,
    Clone,
    Copy,
    PartialEq,
    Eq,
    Hash,
    PartialOrd,
    Ord,
    Serialize,
    Deserialize,
    schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Role {
    /// Runs the hub: the whole region, every setting.
    HubAdmin,
    /// Works the hub's service desk: reads the whole region.
    HubAgent,
    /// Administers one member: its settings, departments, sites, people.
    MemberAdmin,
    /// Works at a member; requests and follows IT services.
    MemberStaff,
    /// Reads everything in the organisation granted (the whole region when granted on the hub), changes nothing.
    Auditor,
}

impl Role {
    pub const ALL: [Role; 5] = [
        Self::HubAdmin,
        Self::HubAgent,
        Self::MemberAdmin,
        Self::MemberStaff,
        Self::Auditor,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::HubAdmin => "hub-admin",
            Self::HubAgent => "hub-agent",
            Self::MemberAdmin => "member-admin",
            Self::MemberStaff => "member-staff",
            Self::Auditor => "auditor",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::HubAdmin => "Hub administrator",
            Self::HubAgent => "Hub agent",
            Self::MemberAdmin => "Member administrator",
            Self::MemberStaff => "Member staff",
            Self::Auditor => "Auditor",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL
            .into_iter()
            .find(|r| r.as_str() == raw.trim())
            .ok_or_else(|| {
                FieldError::new(
                    "role",
                    "must be one of hub-admin, hub-agent, member-admin, member-staff, auditor",
                )
            })
    }

    /// Hub roles exist only in the hub organisation, member roles only in members; auditors in either.
    pub fn check_grantable(self, on_hub: bool) -> Result<(), FieldError> {
        match (self, on_hub) {
            (Self::HubAdmin | Self::HubAgent, false) => Err(FieldError::new(
                "role",
                "hub roles can be granted only in the hub organisation",
            )),
            (Self::MemberAdmin | Self::MemberStaff, true) => Err(FieldError::new(
                "role",
                "member roles can be granted only in a member organisation",
            )),
            _ => Ok(()),
        }
    }
}

impl fmt::Display for Role {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// An action on a kind of data. Routes name the permission they need; the isolation matrix lists them.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema,
)]
#[serde(rename_all = "kebab-case")]
pub enum Permission {
    /// See an organisation and its settings.
    OrgRead,
    /// Create members, edit any member, deactivate and reactivate them.
    OrgManage,
    /// Edit an organisation's own settings (time zone, calendar, fiscal year, population).
    OrgSettingsWrite,
    /// See departments and sites.
    DirectoryRead,
    /// Add, edit and remove departments and sites.
    DirectoryWrite,
    /// See the people of an organisation and their grants.
    UserRead,
    /// Add people, disable them, grant and revoke roles.
    UserManage,
    /// Browse the audit log.
    AuditRead,
    /// See tickets. Member staff see only the tickets they requested or watch (see [`TicketView`]).
    TicketRead,
    /// Open tickets and reply to the tickets one sees.
    TicketSubmit,
    /// Work tickets as the service desk: assign, change status and fields, internal notes, bulk updates.
    TicketWork,
    /// Approve or reject requests that cost money before work starts: the member's own decision.
    TicketApprove,
    /// Rate a resolved ticket one requested (customer satisfaction).
    TicketRate,
    /// Edit the service catalog, SLA policies and the desk's settings.
    CatalogManage,
    /// Log one's own time on tickets, run a timer.
    TimeLog,
    /// See time logged on an organisation's tickets (members see what they will be billed for).
    TimeRead,
    /// Write and publish knowledge-base articles.
    KbWrite,
    /// See service reports (desk performance, SLA attainment, satisfaction) for an organisation.
    ReportRead,
    /// See an organisation's agreements, subscriptions, usage and invoices, and the hub's rate cards.
    BillingRead,
    /// Price services, record agreements and usage, run, issue and void invoices, record payments: the
    /// hub's finance office.
    BillingManage,
    /// See the hub's own books: what each service costs it, how much the invoices recover, margins and
    /// next year's forecasts. Reaches the region only from a grant on the hub (the hub's finance office and
    /// its auditors); members see their own invoices and savings through `billing-read`.
    FinanceRead,
    /// See configuration items: a member's own and the hub's regional infrastructure they run on.
    CmdbRead,
    /// Record and change configuration items and their relationships (a member its own; the hub all).
    CmdbManage,
}

impl Permission {
    pub const ALL: [Permission; 23] = [
        Self::OrgRead,
        Self::OrgManage,
        Self::OrgSettingsWrite,
        Self::DirectoryRead,
        Self::DirectoryWrite,
        Self::UserRead,
        Self::UserManage,
        Self::AuditRead,
        Self::TicketRead,
        Self::TicketSubmit,
        Self::TicketWork,
        Self::TicketApprove,
        Self::TicketRate,
        Self::CatalogManage,
        Self::TimeLog,
        Self::TimeRead,
        Self::KbWrite,
        Self::ReportRead,
        Self::BillingRead,
        Self::BillingManage,
        Self::FinanceRead,
        Self::CmdbRead,
        Self::CmdbManage,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::OrgRead => "org-read",
            Self::OrgManage => "org-manage",
            Self::OrgSettingsWrite => "org-settings-write",
            Self::DirectoryRead => "directory-read",
            Self::DirectoryWrite => "directory-write",
            Self::UserRead => "user-read",
            Self::UserManage => "user-manage",
            Self::AuditRead => "audit-read",
            Self::TicketRead => "ticket-read",
            Self::TicketSubmit => "ticket-submit",
            Self::TicketWork => "ticket-work",
            Self::TicketApprove => "ticket-approve",
            Self::TicketRate => "ticket-rate",
            Self::CatalogManage => "catalog-manage",
            Self::TimeLog => "time-log",
            Self::TimeRead => "time-read",
            Self::KbWrite => "kb-write",
            Self::ReportRead => "report-read",
            Self::BillingRead => "billing-read",
            Self::BillingManage => "billing-manage",
            Self::FinanceRead => "finance-read",
            Self::CmdbRead => "cmdb-read",
            Self::CmdbManage => "cmdb-manage",
        }
    }
}

/// Whether a role carries a permission at all (where it applies is [`Grant::reach`]'s business).
pub fn role_allows(role: Role, perm: Permission) -> bool {
    role.grants().contains(&perm)
}

impl Role {
    /// Every permission the role carries, listed positively: a new permission reaches no role until it is
    /// written here.
    pub fn grants(self) -> &'static [Permission] {
        use Permission as P;
        match self {
            // Everything but spending a member's money and rating the service: the member's own acts.
            Self::HubAdmin => &[
                P::OrgRead,
                P::OrgManage,
                P::OrgSettingsWrite,
                P::DirectoryRead,
                P::DirectoryWrite,
                P::UserRead,
                P::UserManage,
                P::AuditRead,
                P::TicketRead,
                P::TicketSubmit,
                P::TicketWork,
                P::CatalogManage,
                P::TimeLog,
                P::TimeRead,
                P::KbWrite,
                P::ReportRead,
                P::BillingRead,
                P::BillingManage,
                P::FinanceRead,
                P::CmdbRead,
                P::CmdbManage,
            ],
            Self::HubAgent => &[
                P::OrgRead,
                P::DirectoryRead,
                P::UserRead,
                P::TicketRead,
                P::TicketSubmit,
                P::TicketWork,
                P::TimeLog,
                P::TimeRead,
                P::KbWrite,
                P::ReportRead,
                P::CmdbRead,
                P::CmdbManage,
            ],
            Self::Auditor => &[
                P::OrgRead,
                P::DirectoryRead,
                P::UserRead,
                P::AuditRead,
                P::TicketRead,
                P::TimeRead,
                P::ReportRead,
                P::BillingRead,
                P::FinanceRead,
                P::CmdbRead,
            ],
            // Runs its own organisation: not the hub's desk, catalog, books or prices.
            Self::MemberAdmin => &[
                P::OrgRead,
                P::OrgSettingsWrite,
                P::DirectoryRead,
                P::DirectoryWrite,
                P::UserRead,
                P::UserManage,
                P::AuditRead,
                P::TicketRead,
                P::TicketSubmit,
                P::TicketApprove,
                P::TicketRate,
                P::TimeRead,
                P::ReportRead,
                P::BillingRead,
                P::CmdbRead,
                P::CmdbManage,
            ],
            Self::MemberStaff => &[
                P::OrgRead,
                P::DirectoryRead,
                P::TicketRead,
                P::TicketSubmit,
                P::TicketRate,
            ],
        }
    }
}

/// One role in one organisation, as loaded for a signed-in person.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct Grant {
    pub org_id: OrgId,
    pub role: Role,
    /// Whether `org_id` is the hub: a grant there reaches the whole region.
    pub on_hub: bool,
}

impl Grant {
    /// The organisations this grant reaches for a permission: none, its own organisation, or the region.
    fn reach(&self, perm: Permission) -> Reach {
        if !role_allows(self.role, perm) {
            return Reach::None;
        }
        if self.on_hub {
            Reach::Region
        } else {
            Reach::Org(self.org_id)
        }
    }
}

enum Reach {
    None,
    Org(OrgId),
    Region,
}

/// The organisations a principal may act on for one permission. Store functions take it and filter by it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Scope {
    /// Every organisation in the region.
    Region,
    /// Just these (possibly none).
    Orgs(BTreeSet<OrgId>),
}

impl Scope {
    /// The scope that the union of `grants` gives for `perm`.
    pub fn for_grants(grants: &[Grant], perm: Permission) -> Self {
        let mut orgs = BTreeSet::new();
        for g in grants {
            match g.reach(perm) {
                Reach::Region => return Self::Region,
                Reach::Org(o) => {
                    orgs.insert(o);
                }
                Reach::None => {}
            }
        }
        Self::Orgs(orgs)
    }

    /// A scope of one organisation: for system jobs and for tests.
    pub fn org(org: OrgId) -> Self {
        Self::Orgs(BTreeSet::from([org]))
    }

    pub fn is_empty(&self) -> bool {
        matches!(self, Self::Orgs(o) if o.is_empty())
    }

    pub fn contains(&self, org: OrgId) -> bool {
        match self {
            Self::Region => true,
            Self::Orgs(o) => o.contains(&org),
        }
    }
}

/// Which tickets a person sees: every ticket of the organisations in `all`; in those only in `own` (where
/// they are member staff), the tickets they requested or watch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TicketView {
    pub all: Scope,
    pub own: Scope,
    pub user: crate::ids::UserId,
    /// Whether internal notes are visible: only to people with a grant on the hub (the desk, its
    /// administrators and auditors), never to members.
    pub internal: bool,
}

impl TicketView {
    pub fn for_grants(grants: &[Grant], user: crate::ids::UserId) -> Self {
        let full: Vec<Grant> = grants
            .iter()
            .filter(|g| g.role != Role::MemberStaff)
            .cloned()
            .collect();
        Self {
            all: Scope::for_grants(&full, Permission::TicketRead),
            own: Scope::for_grants(grants, Permission::TicketRead),
            user,
            internal: grants.iter().any(|g| g.on_hub),
        }
    }

    pub fn is_empty(&self) -> bool {
        self.all.is_empty() && self.own.is_empty()
    }
}

/// What a reader is shown in place of a record its scope cannot read, wherever history, the audit log or a
/// page would otherwise name it (a relationship to another member's item, a link to its ticket, an internal
/// article). Names, titles and numbers of such records are never shown; these words are.
pub mod hidden {
    /// A configuration item of an organisation the reader cannot read.
    pub const ITEM: &str = "an item of another organisation";
    /// A ticket of an organisation the reader cannot read.
    pub const TICKET: &str = "a ticket of another organisation";
    /// A ticket of the reader's own organisation that they do not see (member staff see their own).
    pub const OWN_ORG_TICKET: &str = "a ticket you cannot see";
    /// A knowledge-base article the reader cannot read (internal, a draft, or another member's).
    pub const ARTICLE: &str = "an article you cannot see";
}

impl fmt::Display for Scope {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Region => f.write_str("region"),
            Self::Orgs(o) => write!(f, "{} org(s)", o.len()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn grant(role: Role, on_hub: bool) -> (Grant, OrgId) {
        let org = OrgId::new();
        (
            Grant {
                org_id: org,
                role,
                on_hub,
            },
            org,
        )
    }

    /// The grant table, role by role: a permission added or moved changes this on purpose.
    #[test]
    fn each_role_carries_exactly_the_permissions_listed_for_it() {
        let table: Vec<String> = Role::ALL
            .into_iter()
            .map(|r| {
                let perms: Vec<_> = r.grants().iter().map(|p| p.as_str()).collect();
                format!("{}: {}", r.as_str(), perms.join(" "))
            })
            .collect();
        assert_eq!(
            table,
            [
                "hub-admin: org-read org-manage org-settings-write directory-read directory-write user-read \
                 user-manage audit-read ticket-read ticket-submit ticket-work catalog-manage time-log time-read \
                 kb-write report-read billing-read billing-manage finance-read cmdb-read cmdb-manage",
                "hub-agent: org-read directory-read user-read ticket-read ticket-submit ticket-work time-log \
                 time-read kb-write report-read cmdb-read cmdb-manage",
                "member-admin: org-read org-settings-write directory-read directory-write user-read user-manage \
                 audit-read ticket-read ticket-submit ticket-approve ticket-rate time-read report-read \
                 billing-read cmdb-read cmdb-manage",
                "member-staff: org-read directory-read ticket-read ticket-submit ticket-rate",
                "auditor: org-read directory-read user-read audit-read ticket-read time-read report-read \
                 billing-read finance-read cmdb-read",
            ]
        );
        for r in Role::ALL {
            let g = r.grants();
            assert!(
                g.iter().enumerate().all(|(i, p)| !g[..i].contains(p)),
                "{r} lists a permission twice"
            );
        }
    }

    #[test]
    fn hub_admin_reaches_the_region_for_everything_but_member_decisions() {
        let (g, _) = grant(Role::HubAdmin, true);
        for p in Permission::ALL {
            if matches!(p, Permission::TicketApprove | Permission::TicketRate) {
                assert!(Scope::for_grants(std::slice::from_ref(&g), p).is_empty());
                continue;
            }
            assert_eq!(
                Scope::for_grants(std::slice::from_ref(&g), p),
                Scope::Region
            );
        }
    }

    #[test]
    fn member_admin_reaches_only_its_member_and_never_manages_orgs() {
        let (g, org) = grant(Role::MemberAdmin, false);
        assert_eq!(
            Scope::for_grants(std::slice::from_ref(&g), Permission::UserManage),
            Scope::org(org)
        );
        assert!(Scope::for_grants(&[g], Permission::OrgManage).is_empty());
    }

    #[test]
    fn staff_reads_only_and_auditors_never_write() {
        let (s, org) = grant(Role::MemberStaff, false);
        assert_eq!(
            Scope::for_grants(std::slice::from_ref(&s), Permission::DirectoryRead),
            Scope::org(org)
        );
        assert!(Scope::for_grants(&[s], Permission::UserRead).is_empty());
        let (a, _) = grant(Role::Auditor, true);
        assert_eq!(
            Scope::for_grants(std::slice::from_ref(&a), Permission::AuditRead),
            Scope::Region
        );
        for p in [
            Permission::OrgManage,
            Permission::OrgSettingsWrite,
            Permission::DirectoryWrite,
            Permission::UserManage,
        ] {
            assert!(
                Scope::for_grants(std::slice::from_ref(&a), p).is_empty(),
                "auditor must not have {p:?}"
            );
        }
    }

    #[test]
    fn grants_in_several_members_add_up() {
        let (a, o1) = grant(Role::MemberAdmin, false);
        let (b, o2) = grant(Role::MemberStaff, false);
        let s = Scope::for_grants(&[a, b], Permission::OrgRead);
        assert!(s.contains(o1) && s.contains(o2));
        assert!(!s.contains(OrgId::new()));
    }

    #[test]
    fn hub_roles_only_on_the_hub() {
        assert!(Role::HubAdmin.check_grantable(false).is_err());
        assert!(Role::MemberStaff.check_grantable(true).is_err());
        assert!(Role::Auditor.check_grantable(true).is_ok());
        assert!(Role::Auditor.check_grantable(false).is_ok());
    }
}
