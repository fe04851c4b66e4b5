//! Inter-municipal agreements and the subscriptions under them. An agreement binds a member to services for
//! a term; every change to it or to its subscriptions is kept as an amendment (who, when, what, before and
//! after) besides the audit log, so that the agreement's page shows its own history.

use crate::audit::Actor;
use crate::desk::catalog::{log, to_json};
use crate::page::{Page, PageRequest};
use crate::row::Cols;
use crate::sql::Sql;
use crate::{Db, Result, Scope, StoreError, now_ms};
use domain::billing::Cadence;
use domain::billing::agreement::{AgreementStatus, Renewal};
use domain::ids::{AgreementId, OrgId, RateCardId, SubscriptionId};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::any::AnyRow;
use sqlx::{Any, Row, Transaction};

use super::rates::{date, decimal, opt_date};

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Agreement {
    pub id: AgreementId,
    pub org_id: OrgId,
    pub title: String,
    pub status: AgreementStatus,
    pub cadence: Cadence,
    #[schemars(with = "domain::schema::Day")]
    pub starts_on: Date,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub ends_on: Option<Date>,
    pub renewal: Renewal,
    pub approving_body: String,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub vote_date: Option<Date>,
    pub notes: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub updated_at: i64,
    pub version: i64,
}

/// An agreement's terms as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct AgreementDraft {
    pub title: String,
    pub status: AgreementStatus,
    pub cadence: Cadence,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
    pub renewal: Renewal,
    pub approving_body: String,
    pub vote_date: Option<Date>,
    pub notes: String,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Subscription {
    pub id: SubscriptionId,
    pub agreement_id: AgreementId,
    pub org_id: OrgId,
    pub rate_card_id: RateCardId,
    pub rate_card_name: String,
    pub quantity: Decimal,
    #[schemars(with = "domain::schema::Day")]
    pub starts_on: Date,
    #[schemars(with = "Option<domain::schema::Day>")]
    pub ends_on: Option<Date>,
    pub version: i64,
}

/// A subscription's terms as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct SubscriptionDraft {
    pub rate_card_id: RateCardId,
    pub quantity: Decimal,
    pub starts_on: Date,
    pub ends_on: Option<Date>,
}

/// One change to an agreement, as its history shows it.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Amendment {
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub at: i64,
    pub actor_name: String,
    pub summary: String,
    pub before: Option<serde_json::Value>,
    pub after: Option<serde_json::Value>,
}

fn agreement(r: &AnyRow) -> Result<Agreement> {
    Ok(Agreement {
        id: r.id("id")?,
        org_id: r.id("org_id")?,
        title: r.try_get("title")?,
        status: AgreementStatus::parse(&r.try_get::<String, _>("status")?)
            .map_err(|e| corrupt(e.message))?,
        cadence: Cadence::parse("cadence", &r.try_get::<String, _>("cadence")?)
            .map_err(|e| corrupt(e.message))?,
        starts_on: date(r, "starts_on")?,
        ends_on: opt_date(r, "ends_on")?,
        renewal: Renewal::parse(&r.try_get::<String, _>("renewal")?)
            .map_err(|e| corrupt(e.message))?,
        approving_body: r.try_get("approving_body")?,
        vote_date: opt_date(r, "vote_date")?,
        notes: r.try_get("notes")?,
        created_at: r.try_get("created_at")?,
        updated_at: r.try_get("updated_at")?,
        version: r.try_get("version")?,
    })
}

fn subscription(r: &AnyRow) -> Result<Subscription> {
    Ok(Subscription {
        id: r.id("id")?,
        agreement_id: r.id("agreement_id")?,
        org_id: r.id("org_id")?,
        rate_card_id: r.id("rate_card_id")?,
        rate_card_name: r.try_get("rate_card_name")?,
        quantity: decimal(r, "quantity")?,
        starts_on: date(r, "starts_on")?,
        ends_on: opt_date(r, "ends_on")?,
        version: r.try_get("version")?,
    })
}

/// Filters of the agreement list.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub org: Option<OrgId>,
    pub status: Option<AgreementStatus>,
}

/// Agreements in scope, newest start first.
pub async fn list(
    db: &Db,
    scope: &Scope,
    f: &Filter,
    page: &PageRequest,
) -> Result<Page<Agreement>> {
    let mut q = Sql::new("SELECT * FROM agreements WHERE 1 = 1");
    q.scope("org_id", scope);
    if let Some(o) = f.org {
        q.push(" AND org_id = ").bind(o.to_string());
    }
    if let Some(s) = f.status {
        q.push(" AND status = ").bind(s.as_str());
    }
    if let Some(after) = &page.after {
        q.before_cursor("starts_on", "id", after)?;
    }
    q.push(" ORDER BY starts_on DESC, id DESC LIMIT ")
        .bind(page.fetch());
    let rows = q
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(agreement)
        .collect::<Result<Vec<_>>>()?;
    Ok(Page::from_rows(rows, page, |a| {
        format!("{}|{}", a.starts_on, a.id)
    }))
}

/// One agreement in scope ("not found" outside it).
pub async fn get(db: &Db, scope: &Scope, id: AgreementId) -> Result<Agreement> {
    let mut q = Sql::new("SELECT * FROM agreements WHERE id = ");
    q.bind(id.to_string());
    q.scope("org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(agreement)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// The subscriptions of an agreement, by start.
pub async fn subscriptions(db: &Db, scope: &Scope, id: AgreementId) -> Result<Vec<Subscription>> {
    get(db, scope, id).await?;
    sqlx::query("SELECT s.*, c.name AS rate_card_name FROM subscriptions s JOIN rate_cards c ON c.id = s.rate_card_id WHERE s.agreement_id = $1 ORDER BY s.starts_on, s.id")
        .bind(id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(subscription)
        .collect()
}

/// The agreement's history, oldest first.
pub async fn amendments(db: &Db, scope: &Scope, id: AgreementId) -> Result<Vec<Amendment>> {
    get(db, scope, id).await?;
    sqlx::query("SELECT * FROM agreement_amendments WHERE agreement_id = $1 ORDER BY at, id")
        .bind(id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(|r| {
            let json = |c: &str| -> Result<Option<serde_json::Value>> {
                r.try_get::<Option<String>, _>(c)?
                    .map(|t| serde_json::from_str(&t).map_err(corrupt))
                    .transpose()
            };
            Ok(Amendment {
                at: r.try_get("at")?,
                actor_name: r.try_get("actor_name")?,
                summary: r.try_get("summary")?,
                before: json("before")?,
                after: json("after")?,
            })
        })
        .collect()
}

#[allow(
    clippy::too_many_arguments,
    reason = "one amendment, written in one place"
)]
async fn amend(
    tx: &mut Transaction<'_, Any>,
    actor: &Actor,
    agreement: AgreementId,
    org: OrgId,
    action: &str,
    summary: &str,
    before: Option<serde_json::Value>,
    after: Option<serde_json::Value>,
) -> Result<()> {
    let text = |v: &Option<serde_json::Value>| v.as_ref().map(serde_json::Value::to_string);
    sqlx::query("INSERT INTO agreement_amendments (id, agreement_id, at, actor_id, actor_name, summary, before, after) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(uuid::Uuid::now_v7().to_string())
        .bind(agreement.to_string())
        .bind(now_ms())
        .bind(actor.user_id.map(|u| u.to_string()))
        .bind(actor.label.clone())
        .bind(summary)
        .bind(text(&before))
        .bind(text(&after))
        .execute(&mut **tx)
        .await?;
    log(
        tx,
        actor,
        Some(org),
        action,
        ("agreement", agreement.to_string()),
        before,
        after,
    )
    .await
}

/// Records a new agreement for a member in scope.
pub async fn create(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    org: OrgId,
    d: &AgreementDraft,
) -> Result<Agreement> {
    if !scope.contains(org) {
        return Err(StoreError::NotFound);
    }
    let now = now_ms();
    let a = Agreement {
        id: AgreementId::new(),
        org_id: org,
        title: d.title.clone(),
        status: d.status,
        cadence: d.cadence,
        starts_on: d.starts_on,
        ends_on: d.ends_on,
        renewal: d.renewal,
        approving_body: d.approving_body.clone(),
        vote_date: d.vote_date,
        notes: d.notes.clone(),
        created_at: now,
        updated_at: now,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO agreements (id, org_id, title, status, cadence, starts_on, ends_on, renewal, approving_body, vote_date, notes, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $12, 1)")
        .bind(a.id.to_string())
        .bind(org.to_string())
        .bind(&a.title)
        .bind(a.status.as_str())
        .bind(a.cadence.as_str())
        .bind(a.starts_on.to_string())
        .bind(a.ends_on.map(|d| d.to_string()))
        .bind(a.renewal.as_str())
        .bind(&a.approving_body)
        .bind(a.vote_date.map(|d| d.to_string()))
        .bind(&a.notes)
        .bind(now)
        .execute(&mut *tx)
        .await?;
    amend(
        &mut tx,
        actor,
        a.id,
        org,
        "agreement.create",
        "Agreement recorded",
        None,
        Some(to_json(&a)?),
    )
    .await?;
    tx.commit().await?;
    Ok(a)
}

/// Changes an agreement's terms (an amendment), if `version` still holds.
pub async fn update(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: AgreementId,
    version: Option<i64>,
    d: &AgreementDraft,
) -> Result<Agreement> {
    let before = get(db, scope, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let after = Agreement {
        title: d.title.clone(),
        status: d.status,
        cadence: d.cadence,
        starts_on: d.starts_on,
        ends_on: d.ends_on,
        renewal: d.renewal,
        approving_body: d.approving_body.clone(),
        vote_date: d.vote_date,
        notes: d.notes.clone(),
        updated_at: now_ms(),
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE agreements SET title = $1, status = $2, cadence = $3, starts_on = $4, ends_on = $5, renewal = $6, approving_body = $7, vote_date = $8, notes = $9, updated_at = $10, version = $11 WHERE id = $12 AND version = $13")
        .bind(&after.title)
        .bind(after.status.as_str())
        .bind(after.cadence.as_str())
        .bind(after.starts_on.to_string())
        .bind(after.ends_on.map(|d| d.to_string()))
        .bind(after.renewal.as_str())
        .bind(&after.approving_body)
        .bind(after.vote_date.map(|d| d.to_string()))
        .bind(&after.notes)
        .bind(after.updated_at)
        .bind(after.version)
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let summary = changed_fields(&to_json(&before)?, &to_json(&after)?);
    amend(
        &mut tx,
        actor,
        id,
        before.org_id,
        "agreement.update",
        &summary,
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

/// "Changed status, ends on" — the fields that differ, for the history.
fn changed_fields(before: &serde_json::Value, after: &serde_json::Value) -> String {
    let skip = ["updated_at", "version"];
    let mut changed: Vec<String> = after
        .as_object()
        .into_iter()
        .flatten()
        .filter(|(k, v)| !skip.contains(&k.as_str()) && before.get(k.as_str()) != Some(v))
        .map(|(k, _)| k.replace('_', " "))
        .collect();
    if changed.is_empty() {
        return "No change".into();
    }
    changed.sort();
    format!("Changed {}", changed.join(", "))
}

/// Adds a subscription to an agreement in scope.
pub async fn subscribe(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    agreement_id: AgreementId,
    d: &SubscriptionDraft,
) -> Result<Subscription> {
    let a = get(db, scope, agreement_id).await?;
    let card = match super::rates::get(db, d.rate_card_id).await {
        Ok(c) => c,
        Err(StoreError::NotFound) => {
            return Err(domain::Invalid::one("rate_card_id", "is not a rate card").into());
        }
        Err(e) => return Err(e),
    };
    if !card.active {
        return Err(
            domain::Invalid::one("rate_card_id", "is withdrawn: no new subscriptions").into(),
        );
    }
    check_term(&a, d.starts_on, d.ends_on)?;
    let now = now_ms();
    let s = Subscription {
        id: SubscriptionId::new(),
        agreement_id,
        org_id: a.org_id,
        rate_card_id: card.id,
        rate_card_name: card.name.clone(),
        quantity: d.quantity,
        starts_on: d.starts_on,
        ends_on: d.ends_on,
        version: 1,
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO subscriptions (id, agreement_id, org_id, rate_card_id, quantity, starts_on, ends_on, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $8, 1)")
        .bind(s.id.to_string())
        .bind(agreement_id.to_string())
        .bind(a.org_id.to_string())
        .bind(card.id.to_string())
        .bind(s.quantity.to_string())
        .bind(s.starts_on.to_string())
        .bind(s.ends_on.map(|d| d.to_string()))
        .bind(now)
        .execute(&mut *tx)
        .await?;
    let summary = format!(
        "Subscribed to {} ({} from {})",
        card.name, s.quantity, s.starts_on
    );
    amend(
        &mut tx,
        actor,
        agreement_id,
        a.org_id,
        "subscription.create",
        &summary,
        None,
        Some(to_json(&s)?),
    )
    .await?;
    tx.commit().await?;
    Ok(s)
}

/// A subscription runs within its agreement's term.
fn check_term(a: &Agreement, starts: Date, ends: Option<Date>) -> Result<()> {
    if starts < a.starts_on {
        return Err(domain::Invalid::one(
            "starts_on",
            format!("must not be before the agreement starts ({})", a.starts_on),
        )
        .into());
    }
    if let Some(e) = ends
        && e <= starts
    {
        return Err(domain::Invalid::one("ends_on", "must be after starts_on").into());
    }
    if let (Some(agreement_end), Some(e)) = (a.ends_on, ends)
        && e > agreement_end
    {
        return Err(domain::Invalid::one(
            "ends_on",
            format!("must not be after the agreement ends ({agreement_end})"),
        )
        .into());
    }
    Ok(())
}

/// One subscription in scope ("not found" outside it).
pub async fn subscription_in(db: &Db, scope: &Scope, id: SubscriptionId) -> Result<Subscription> {
    let mut q = Sql::new(
        "SELECT s.*, c.name AS rate_card_name FROM subscriptions s JOIN rate_cards c ON c.id = s.rate_card_id WHERE s.id = ",
    );
    q.bind(id.to_string());
    q.scope("s.org_id", scope);
    q.fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(subscription)
        .transpose()?
        .ok_or(StoreError::NotFound)
}

/// Changes a subscription's quantity or end (an amendment of its agreement).
pub async fn update_subscription(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: SubscriptionId,
    version: Option<i64>,
    quantity: Decimal,
    ends_on: Option<Date>,
) -> Result<Subscription> {
    let before = self::subscription_in(db, scope, id).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let a = get(db, scope, before.agreement_id).await?;
    check_term(&a, before.starts_on, ends_on)?;
    let after = Subscription {
        quantity,
        ends_on,
        version: before.version + 1,
        ..before.clone()
    };
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE subscriptions SET quantity = $1, ends_on = $2, version = $3, updated_at = $4 WHERE id = $5 AND version = $6")
        .bind(quantity.to_string())
        .bind(ends_on.map(|d| d.to_string()))
        .bind(after.version)
        .bind(now_ms())
        .bind(id.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let summary = format!(
        "{}: {}",
        before.rate_card_name,
        changed_fields(&to_json(&before)?, &to_json(&after)?).to_lowercase()
    );
    amend(
        &mut tx,
        actor,
        a.id,
        a.org_id,
        "subscription.update",
        &summary,
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}

// ---------------------------------------------------------------------------------------------------------
// Documents

/// Keeps a document on an agreement in scope (the signed agreement, the minutes of the vote); the agreement's
/// history records it.
pub async fn attach_document(
    db: &Db,
    scope: &Scope,
    actor: &Actor,
    id: AgreementId,
    file: crate::desk::tickets::NewFile<'_>,
) -> Result<crate::desk::tickets::Attachment> {
    use sha2::Digest;
    let a = get(db, scope, id).await?;
    let name: String = file
        .name
        .chars()
        .filter(|c| !c.is_control() && !matches!(c, '/' | '\\' | '"'))
        .take(200)
        .collect();
    let doc = crate::desk::tickets::Attachment {
        id: uuid::Uuid::now_v7().to_string(),
        filename: if name.trim().is_empty() {
            "document".into()
        } else {
            name
        },
        content_type: file.content_type.chars().take(100).collect(),
        size_bytes: i64::try_from(file.bytes.len()).map_err(corrupt)?,
        sha256: hex::encode(sha2::Sha256::digest(file.bytes)),
        created_at: now_ms(),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO agreement_documents (id, agreement_id, org_id, file_name, content_type, size_bytes, sha256, data, uploaded_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)")
        .bind(&doc.id)
        .bind(id.to_string())
        .bind(a.org_id.to_string())
        .bind(&doc.filename)
        .bind(&doc.content_type)
        .bind(doc.size_bytes)
        .bind(&doc.sha256)
        .bind(file.bytes.to_vec())
        .bind(actor.user_id.map(|u| u.to_string()))
        .bind(doc.created_at)
        .execute(&mut *tx)
        .await?;
    amend(
        &mut tx,
        actor,
        id,
        a.org_id,
        "agreement.document_add",
        &format!("Document attached: {}", doc.filename),
        None,
        Some(to_json(&doc)?),
    )
    .await?;
    tx.commit().await?;
    Ok(doc)
}

fn document_row(r: &AnyRow) -> Result<crate::desk::tickets::Attachment> {
    Ok(crate::desk::tickets::Attachment {
        id: r.try_get("id")?,
        filename: r.try_get("file_name")?,
        content_type: r.try_get("content_type")?,
        size_bytes: r.try_get("size_bytes")?,
        sha256: r.try_get("sha256")?,
        created_at: r.try_get("created_at")?,
    })
}

/// The documents of an agreement in scope, oldest first.
pub async fn documents(
    db: &Db,
    scope: &Scope,
    id: AgreementId,
) -> Result<Vec<crate::desk::tickets::Attachment>> {
    get(db, scope, id).await?;
    sqlx::query("SELECT id, file_name, content_type, size_bytes, sha256, created_at FROM agreement_documents WHERE agreement_id = $1 ORDER BY created_at, id")
        .bind(id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(document_row)
        .collect()
}

/// One document of an agreement in scope, with its bytes.
pub async fn document(
    db: &Db,
    scope: &Scope,
    id: AgreementId,
    doc: &str,
) -> Result<(crate::desk::tickets::Attachment, Vec<u8>)> {
    get(db, scope, id).await?;
    let r = sqlx::query("SELECT id, file_name, content_type, size_bytes, sha256, created_at, data FROM agreement_documents WHERE agreement_id = $1 AND id = $2")
        .bind(id.to_string())
        .bind(doc)
        .fetch_optional(&db.read)
        .await?
        .ok_or(StoreError::NotFound)?;
    Ok((document_row(&r)?, r.try_get("data")?))
}
