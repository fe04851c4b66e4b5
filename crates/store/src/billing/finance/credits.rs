//! Credits.

use super::*;

/// An amount the hub owes a member back (a service outage, a billing correction), carried as a negative line
/// by the invoice of the agreement's period that contains `month`.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct Credit {
    pub id: String,
    pub org_id: OrgId,
    pub agreement_id: AgreementId,
    /// `YYYY-MM`.
    pub month: String,
    pub amount_cents: i64,
    pub reason: String,
    #[serde(serialize_with = "crate::tenancy::ser_ts")]
    pub created_at: i64,
}

#[derive(Debug, Clone, PartialEq)]
pub struct CreditDraft {
    pub agreement_id: AgreementId,
    pub month: String,
    pub amount_cents: i64,
    pub reason: String,
}

fn credit(r: &AnyRow) -> Result<Credit> {
    Ok(Credit {
        id: r.try_get("id")?,
        org_id: r.id("org_id")?,
        agreement_id: r.id("agreement_id")?,
        month: r.try_get("month")?,
        amount_cents: r.try_get("amount_cents")?,
        reason: r.try_get("reason")?,
        created_at: r.try_get("created_at")?,
    })
}

/// Credits in scope, of one agreement or all, newest month first.
pub async fn credits(
    db: &Db,
    scope: &Scope,
    agreement: Option<AgreementId>,
) -> Result<Vec<Credit>> {
    let mut q = Sql::new("SELECT * FROM billing_credits WHERE 1 = 1");
    q.scope("org_id", scope);
    if let Some(a) = agreement {
        q.push(" AND agreement_id = ").bind(a.to_string());
    }
    q.push(" ORDER BY month DESC, created_at DESC, id LIMIT 1000");
    q.fetch_all(&db.read).await?.iter().map(credit).collect()
}

/// Grants a credit under an agreement in scope.
pub async fn add_credit(db: &Db, scope: &Scope, actor: &Actor, d: &CreditDraft) -> Result<Credit> {
    let agreement = crate::billing::agreements::get(db, scope, d.agreement_id)
        .await
        .map_err(|e| match e {
            StoreError::NotFound => {
                domain::Invalid::one("agreement_id", "is not an agreement you can see").into()
            }
            e => e,
        })?;
    let c = Credit {
        id: uuid::Uuid::now_v7().to_string(),
        org_id: agreement.org_id,
        agreement_id: d.agreement_id,
        month: d.month.clone(),
        amount_cents: d.amount_cents,
        reason: d.reason.clone(),
        created_at: now_ms(),
    };
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO billing_credits (id, org_id, agreement_id, month, amount_cents, reason, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(&c.id)
        .bind(c.org_id.to_string())
        .bind(c.agreement_id.to_string())
        .bind(&c.month)
        .bind(c.amount_cents)
        .bind(&c.reason)
        .bind(c.created_at)
        .bind(actor.user_id.map(|u| u.to_string()))
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(c.org_id),
        "credit.create",
        ("credit", c.id.clone()),
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

/// Withdraws a credit that no issued invoice carries yet.
pub async fn delete_credit(db: &Db, scope: &Scope, actor: &Actor, id: &str) -> Result<()> {
    let mut q = Sql::new("SELECT * FROM billing_credits WHERE id = ");
    q.bind(id.to_owned());
    q.scope("org_id", scope);
    let c = q
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(credit)
        .transpose()?
        .ok_or(StoreError::NotFound)?;
    let first = format!("{}-01", c.month);
    let carried = sqlx::query("SELECT number FROM invoices WHERE agreement_id = $1 AND kind = 'invoice' AND status IN ('issued', 'paid') AND period_start <= $2 AND period_end > $2")
        .bind(c.agreement_id.to_string())
        .bind(&first)
        .fetch_optional(&db.read)
        .await?;
    if let Some(r) = carried {
        let number: Option<String> = r.try_get("number")?;
        return Err(StoreError::Conflict {
            field: "credit".into(),
            message: format!(
                "invoice {} already carries this credit; void that invoice first",
                number.unwrap_or_default()
            ),
        });
    }
    let mut tx = db.begin_write().await?;
    sqlx::query("DELETE FROM billing_credits WHERE id = $1")
        .bind(id)
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        Some(c.org_id),
        "credit.delete",
        ("credit", id.to_owned()),
        Some(to_json(&c)?),
        None,
    )
    .await?;
    tx.commit().await?;
    Ok(())
}

/// Credits of a run's months, by agreement (for `invoices::run`).
pub(crate) async fn credits_for(
    db: &Db,
    first_month: &str,
    last_month: &str,
) -> Result<HashMap<AgreementId, Vec<Credit>>> {
    let mut out: HashMap<AgreementId, Vec<Credit>> = HashMap::new();
    for r in sqlx::query(
        "SELECT * FROM billing_credits WHERE month >= $1 AND month <= $2 ORDER BY month, created_at, id",
    )
    .bind(first_month)
    .bind(last_month)
    .fetch_all(&db.read)
    .await?
    {
        let c = credit(&r)?;
        out.entry(c.agreement_id).or_default().push(c);
    }
    Ok(out)
}
