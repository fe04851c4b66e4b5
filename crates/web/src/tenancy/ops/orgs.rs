//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use domain::authz::Permission;
use domain::tenancy::drafts::{OrgDraft, RawOrg};
use domain::tenancy::proposals::{self, DecisionDraft, ProposalDraft, RawDecision, RawProposal};
use store::tenancy::orgs;

/// Applies an edit for a person: settings need `org-settings-write` there; renaming or changing the kind
/// needs `org-manage`.
pub async fn apply_edit(
    s: &AppState,
    p: &Principal,
    slug: &str,
    version: Option<i64>,
    raw: &RawOrg,
) -> Result<orgs::Org, Failure> {
    let scope = p.require(Permission::OrgSettingsWrite)?;
    let manage = p.scope(Permission::OrgManage);
    let org = orgs::update(&s.db, &scope, &p.actor(), slug, version, |current| {
        // Who a member is (its name and kind) is the hub's record: a member's administrator is told which
        // field, and keeps the rest of the form.
        if !manage.contains(current.id) {
            let renamed = raw
                .name
                .as_deref()
                .is_some_and(|n| n.trim() != current.name);
            let rekinded = raw
                .kind
                .as_deref()
                .is_some_and(|k| k.trim() != current.kind.as_str());
            let refusals: Vec<_> = [("name", renamed), ("kind", rekinded)]
                .into_iter()
                .filter(|(_, changed)| *changed)
                .map(|(field, _)| {
                    domain::FieldError::new(
                        field,
                        "is set by the hub; ask the hub's administrators to change it",
                    )
                })
                .collect();
            if !refusals.is_empty() {
                return Err(domain::Invalid(refusals).into());
            }
        }
        let edited = OrgDraft::edit(current.draft(), raw)?;
        // The figures invoices are computed from are the hub's record: a member proposes a change instead.
        if let Some(field) = proposals::hub_owned_change(&current.draft(), &edited)
            && !manage.contains(current.id)
        {
            return Err(
                domain::Invalid(vec![proposals::refusal(field, current.slug.as_str())]).into(),
            );
        }
        Ok(edited)
    })
    .await?;
    Ok(org)
}

/// Deactivates or reactivates a member: for the API and the settings page alike.
pub async fn set_org_active(
    s: &AppState,
    p: &Principal,
    slug: &str,
    version: Option<i64>,
    active: bool,
) -> Result<orgs::Org, Failure> {
    let scope = p.require(Permission::OrgManage)?;
    Ok(orgs::set_active(&s.db, &scope, &p.actor(), slug, version, active).await?)
}

/// Records a member's proposed change: for the API and the settings page alike.
pub async fn propose(
    s: &AppState,
    p: &Principal,
    slug: &str,
    raw: &RawProposal,
) -> Result<store::tenancy::proposals::Proposal, Failure> {
    let scope = p.require(Permission::OrgSettingsWrite)?;
    Ok(
        store::tenancy::proposals::propose(&s.db, &scope, &p.actor(), slug, |org| {
            Ok(ProposalDraft::parse(raw, &org.draft())?)
        })
        .await?,
    )
}

/// The hub's decision on a proposal: for the API and the pages alike.
pub async fn decide(
    s: &AppState,
    p: &Principal,
    id: &str,
    raw: &RawDecision,
) -> Result<store::tenancy::proposals::Proposal, Failure> {
    let scope = p.require(Permission::OrgManage)?;
    let d = DecisionDraft::parse(raw)?;
    Ok(
        store::tenancy::proposals::decide(&s.db, &scope, &p.actor(), id, &d)
            .await?
            .0,
    )
}
