//! Proposed changes to the hub-owned figures of an organisation (its population): a member proposes, the
//! hub accepts or rejects. Accepting updates the organisation in the same transaction. Every step is an
//! audit entry on the organisation (`org.proposal`, `org.proposal.accept` or `org.proposal.reject`, and the
//! `org.update` an acceptance makes), so the organisation's history shows the proposal and the decision.
//! Rules in `domain::tenancy::proposals`.

use super::orgs::{self, Org};
use crate::audit::{self, Actor, Change};
use crate::row::Cols;
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::ids::OrgId;
use domain::tenancy::proposals::{Decision, DecisionDraft, Field, ProposalDraft, Status};
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Proposal {
    pub id: String,
    pub org_id: OrgId,
    pub org_slug: String,
    pub org_name: String,
    pub field: Field,
    /// The value on record when the change was proposed.
    pub current_value: Option<i64>,
    pub proposed_value: i64,
    pub reason: String,
    pub source: String,
    pub status: Status,
    pub proposed_by: String,
    #[serde(serialize_with = "super::ser_ts")]
    pub proposed_at: i64,
    pub decided_by: Option<String>,
    #[serde(serialize_with = "super::ser_opt_ts")]
    pub decided_at: Option<i64>,
    pub decision_note: String,
    pub version: i64,
}

const SELECT: &str = "SELECT p.id, p.org_id, o.slug AS org_slug, o.name AS org_name, p.field, p.current_value, \
     p.proposed_value, p.reason, p.source, p.status, p.proposed_by_label, p.proposed_at, p.decided_by_label, \
     p.decided_at, p.decision_note, p.version FROM org_proposals p JOIN orgs o ON o.id = p.org_id WHERE 1 = 1";

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

fn proposal(r: &AnyRow) -> Result<Proposal> {
    Ok(Proposal {
        id: r.try_get("id")?,
        org_id: r.id("org_id")?,
        org_slug: r.try_get("org_slug")?,
        org_name: r.try_get("org_name")?,
        field: Field::parse(&r.try_get::<String, _>("field")?).map_err(|e| corrupt(e.message))?,
        current_value: r.try_get("current_value")?,
        proposed_value: r.try_get("proposed_value")?,
        reason: r.try_get("reason")?,
        source: r.try_get("source")?,
        status: Status::parse(&r.try_get::<String, _>("status")?)
            .map_err(|e| corrupt(e.message))?,
        proposed_by: r.try_get("proposed_by_label")?,
        proposed_at: r.try_get("proposed_at")?,
        decided_by: r.try_get("decided_by_label")?,
        decided_at: r.try_get("decided_at")?,
        decision_note: r.try_get("decision_note")?,
        version: r.try_get("version")?,
    })
}

/// Which proposals to list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub org: Option<OrgId>,
    pub status: Option<Status>,
}

/// The proposals of the organisations in scope, newest first (at most 500).
pub async fn list(db: &Db, scope: &Scope, f: &Filter) -> Result<Vec<Proposal>> {
    let mut q = Sql::new(SELECT);
    q.scope("p.org_id", scope);
    if let Some(org) = f.org {
        q.push(" AND p.org_id = ").bind(org.to_string());
    }
    if let Some(s) = f.status {
        q.push(" AND p.status = ").bind(s.as_str());
    }
    q.push(" ORDER BY p.proposed_at DESC, p.id DESC LIMIT 500");
    q.fetch_all(&db.read).await?.iter().map(proposal).collect()
}

/// One proposal of an organisation in scope.
pub async fn get(db: &Db, scope: &Scope, id: &str) -> Result<Proposal> {
    let mut q = Sql::new(SELECT);
    q.push(" AND p.id = ").bind(id.to_owned());
    q.scope("p.org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(proposal)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

fn to_json(p: &Proposal) -> Result<serde_json::Value> {
    serde_json::to_value(p).map_err(corrupt)
}

/// Records a proposal for the organisation `slug` (in scope); `check` turns the raw input into a draft
/// against the organisation's current settings.
pub async fn propose(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    slug: &str,
    check: impl FnOnce(&Org) -> Result<ProposalDraft>,
) -> Result<Proposal> {
    let org = orgs::get_by_slug(db, scope, slug).await?;
    let d = check(&org)?;
    let p = Proposal {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: org.id,
        org_slug: org.slug.to_string(),
        org_name: org.name.clone(),
        field: d.field,
        current_value: d.field.value_in(&org.draft()),
        proposed_value: d.value,
        reason: d.reason,
        source: d.source,
        status: Status::Pending,
        proposed_by: actor.label.clone(),
        proposed_at: now_ms(),
        decided_by: None,
        decided_at: None,
        decision_note: String::new(),
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query(
        "INSERT INTO org_proposals (id, org_id, field, current_value, proposed_value, reason, source, status, \
         proposed_by, proposed_by_label, proposed_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, 1)",
    )
    .bind(&p.id)
    .bind(p.org_id.to_string())
    .bind(p.field.as_str())
    .bind(p.current_value)
    .bind(p.proposed_value)
    .bind(&p.reason)
    .bind(&p.source)
    .bind(p.status.as_str())
    .bind(actor.user_id.map(|u| u.to_string()))
    .bind(&p.proposed_by)
    .bind(p.proposed_at)
    .execute(&mut *tx)
    .await?;
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(p.org_id),
            action: "org.proposal",
            entity_kind: "org",
            entity_id: p.org_id.to_string(),
            before: None,
            after: Some(to_json(&p)?),
        },
    )
    .await?;
    tx.commit().await?;
    Ok(p)
}

/// The hub's decision on a pending proposal of an organisation in `scope` (the scope of `org-manage`).
/// Accepting sets the organisation's figure in the same transaction. A decided proposal is not decided
/// again (409).
pub async fn decide(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: &str,
    d: &DecisionDraft,
) -> Result<(Proposal, Option<Org>)> {
    let mut tx = db.begin_write().await?;
    let mut q = Sql::new(SELECT);
    q.push(" AND p.id = ").bind(id.to_owned());
    q.scope("p.org_id", scope);
    let before = q
        .fetch_optional(&mut *tx)
        .await?
        .as_ref()
        .map(proposal)
        .transpose()?
        .ok_or(StoreError::NotFound)?;
    if before.status != Status::Pending {
        return Err(StoreError::Conflict {
            field: "decision".into(),
            message: format!(
                "this proposal was already decided ({})",
                before.status.as_str()
            ),
        });
    }
    let now = now_ms();
    let after = Proposal {
        status: match d.decision {
            Decision::Accept => Status::Accepted,
            Decision::Reject => Status::Rejected,
        },
        decided_by: Some(actor.label.clone()),
        decided_at: Some(now),
        decision_note: d.note.clone(),
        version: before.version + 1,
        ..before.clone()
    };
    let n = sqlx::query(
        "UPDATE org_proposals SET status = $1, decided_by_label = $2, decided_at = $3, decision_note = $4, \
         version = $5 WHERE id = $6 AND version = $7",
    )
    .bind(after.status.as_str())
    .bind(after.decided_by.clone())
    .bind(now)
    .bind(&after.decision_note)
    .bind(after.version)
    .bind(&after.id)
    .bind(before.version)
    .execute(&mut *tx)
    .await?
    .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    audit::append(
        &mut tx,
        actor,
        Change {
            org_id: Some(after.org_id),
            action: match d.decision {
                Decision::Accept => "org.proposal.accept",
                Decision::Reject => "org.proposal.reject",
            },
            entity_kind: "org",
            entity_id: after.org_id.to_string(),
            before: Some(to_json(&before)?),
            after: Some(to_json(&after)?),
        },
    )
    .await?;
    let org = match d.decision {
        Decision::Accept => Some(
            orgs::set_hub_owned_in(
                &mut tx,
                actor,
                &after.org_slug,
                after.field,
                after.proposed_value,
            )
            .await?,
        ),
        Decision::Reject => None,
    };
    tx.commit().await?;
    if org.is_some() {
        db.orgs.invalidate();
    }
    Ok((after, org))
}
