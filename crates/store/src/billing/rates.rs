//! Rate cards: the hub's priced offerings, each with its prices over time. A new price applies from its
//! date; earlier prices stay, so that any past period is priced as it was. Every member reads the rate
//! cards (the prices are public within the region); only `billing-manage` changes them.

use crate::audit::Actor;
use crate::desk::catalog::{log, to_json};
use crate::row::Cols;
use crate::{Db, Result, StoreError, now_ms};
use domain::billing::{Model, Rate};
use domain::ids::{RateCardId, RateId, ServiceId};
use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Serialize;
use sqlx::Row;
use sqlx::any::AnyRow;

fn corrupt(e: impl std::fmt::Display) -> StoreError {
    StoreError::Corrupt(e.to_string())
}

pub(crate) fn decimal(r: &AnyRow, col: &str) -> Result<Decimal> {
    r.try_get::<String, _>(col)?.parse().map_err(corrupt)
}

pub(crate) fn date(r: &AnyRow, col: &str) -> Result<Date> {
    r.try_get::<String, _>(col)?.parse().map_err(corrupt)
}

pub(crate) fn opt_date(r: &AnyRow, col: &str) -> Result<Option<Date>> {
    r.try_get::<Option<String>, _>(col)?
        .map(|d| d.parse().map_err(corrupt))
        .transpose()
}

/// One price of a card.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RateRow {
    pub id: RateId,
    #[schemars(with = "domain::schema::Day")]
    pub effective_from: Date,
    /// Dollars per unit, exact (a decimal string in JSON).
    pub price: Decimal,
    pub overage: Option<Decimal>,
    pub note: String,
}

impl RateRow {
    pub fn rate(&self) -> Rate {
        Rate {
            effective_from: self.effective_from,
            price: self.price,
            overage: self.overage,
        }
    }
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct RateCard {
    pub id: RateCardId,
    pub service_id: ServiceId,
    pub service_name: String,
    pub name: String,
    pub model: Model,
    pub unit: String,
    pub meter: String,
    pub activity: String,
    pub active: bool,
    /// Every price, oldest first.
    pub rates: Vec<RateRow>,
    pub version: i64,
}

impl RateCard {
    /// Its prices as the billing arithmetic takes them, oldest first.
    pub fn prices(&self) -> Vec<Rate> {
        self.rates.iter().map(RateRow::rate).collect()
    }
}

/// A card as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct CardDraft {
    pub service_id: ServiceId,
    pub name: String,
    pub model: Model,
    pub unit: String,
    pub meter: String,
    pub activity: String,
}

/// A price as checked by the web layer.
#[derive(Debug, Clone, PartialEq)]
pub struct RateDraft {
    pub effective_from: Date,
    pub price: Decimal,
    pub overage: Option<Decimal>,
    pub note: String,
}

fn rate_row(r: &AnyRow) -> Result<RateRow> {
    Ok(RateRow {
        id: r.id("id")?,
        effective_from: date(r, "effective_from")?,
        price: decimal(r, "price")?,
        overage: r
            .try_get::<Option<String>, _>("overage")?
            .map(|o| o.parse().map_err(corrupt))
            .transpose()?,
        note: r.try_get("note")?,
    })
}

fn card(r: &AnyRow) -> Result<RateCard> {
    Ok(RateCard {
        id: r.id("id")?,
        service_id: r.id("service_id")?,
        service_name: r.try_get("service_name")?,
        name: r.try_get("name")?,
        model: Model::parse("model", &r.try_get::<String, _>("model")?)
            .map_err(|e| corrupt(e.message))?,
        unit: r.try_get("unit")?,
        meter: r.try_get("meter")?,
        activity: r.try_get("activity")?,
        active: r.flag("active")?,
        rates: Vec::new(),
        version: r.try_get("version")?,
    })
}

const SELECT: &str =
    "SELECT c.*, s.name AS service_name FROM rate_cards c JOIN services s ON s.id = c.service_id";

/// Every card with its prices, by service and name.
pub async fn list(db: &Db, active_only: bool) -> Result<Vec<RateCard>> {
    let sql = if active_only {
        format!("{SELECT} WHERE c.active = 1 ORDER BY s.name, c.name")
    } else {
        format!("{SELECT} ORDER BY s.name, c.name")
    };
    let mut cards = sqlx::query(&sql)
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(card)
        .collect::<Result<Vec<_>>>()?;
    let rates = sqlx::query("SELECT * FROM rates ORDER BY rate_card_id, effective_from")
        .fetch_all(&db.read)
        .await?;
    let mut by_card: std::collections::HashMap<RateCardId, Vec<RateRow>> = Default::default();
    for r in &rates {
        let card_id: RateCardId = r.id("rate_card_id")?;
        by_card.entry(card_id).or_default().push(rate_row(r)?);
    }
    for c in &mut cards {
        c.rates = by_card.remove(&c.id).unwrap_or_default();
    }
    Ok(cards)
}

pub async fn get(db: &Db, id: RateCardId) -> Result<RateCard> {
    let mut c = sqlx::query(&format!("{SELECT} WHERE c.id = $1"))
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
        .as_ref()
        .map(card)
        .transpose()?
        .ok_or(StoreError::NotFound)?;
    c.rates = sqlx::query("SELECT * FROM rates WHERE rate_card_id = $1 ORDER BY effective_from")
        .bind(id.to_string())
        .fetch_all(&db.read)
        .await?
        .iter()
        .map(rate_row)
        .collect::<Result<_>>()?;
    Ok(c)
}

/// The service's name, or a field error when there is no such service.
pub(crate) async fn service_name(db: &Db, id: ServiceId) -> Result<String> {
    match sqlx::query("SELECT name FROM services WHERE id = $1")
        .bind(id.to_string())
        .fetch_optional(&db.read)
        .await?
    {
        Some(r) => Ok(r.try_get("name")?),
        None => Err(domain::Invalid::one("service_id", "is not a service of the catalog").into()),
    }
}

/// Creates a card with its first price.
pub async fn create(db: &Db, actor: &Actor, d: &CardDraft, first: &RateDraft) -> Result<RateCard> {
    let service_name = service_name(db, d.service_id).await?;
    let now = now_ms();
    let id = RateCardId::new();
    let mut tx = db.begin_write().await?;
    sqlx::query("INSERT INTO rate_cards (id, service_id, name, model, unit, meter, activity, active, created_at, updated_at, version) VALUES ($1, $2, $3, $4, $5, $6, $7, 1, $8, $8, 1)")
        .bind(id.to_string())
        .bind(d.service_id.to_string())
        .bind(&d.name)
        .bind(d.model.as_str())
        .bind(&d.unit)
        .bind(&d.meter)
        .bind(&d.activity)
        .bind(now)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "another rate card has this name"))?;
    let rate_id = insert_rate(&mut tx, id, actor, first, now).await?;
    let c = RateCard {
        id,
        service_id: d.service_id,
        service_name,
        name: d.name.clone(),
        model: d.model,
        unit: d.unit.clone(),
        meter: d.meter.clone(),
        activity: d.activity.clone(),
        active: true,
        rates: vec![RateRow {
            id: rate_id,
            effective_from: first.effective_from,
            price: first.price,
            overage: first.overage,
            note: first.note.clone(),
        }],
        version: 1,
    };
    log(
        &mut tx,
        actor,
        None,
        "rate_card.create",
        ("rate_card", id.to_string()),
        None,
        Some(to_json(&c)?),
    )
    .await?;
    tx.commit().await?;
    Ok(c)
}

async fn insert_rate(
    tx: &mut sqlx::Transaction<'_, sqlx::Any>,
    card: RateCardId,
    actor: &Actor,
    r: &RateDraft,
    now: i64,
) -> Result<RateId> {
    let id = RateId::new();
    sqlx::query("INSERT INTO rates (id, rate_card_id, effective_from, price, overage, note, created_at, created_by) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)")
        .bind(id.to_string())
        .bind(card.to_string())
        .bind(r.effective_from.to_string())
        .bind(r.price.to_string())
        .bind(r.overage.map(|o| o.to_string()))
        .bind(&r.note)
        .bind(now)
        .bind(actor.user_id.map(|u| u.to_string()))
        .execute(&mut **tx)
        .await
        .map_err(|e| {
            StoreError::on_unique(
                e,
                "effective_from",
                "effective_from",
                "the card already has a price from this date",
            )
        })?;
    Ok(id)
}

/// Adds a price from a date on; the earlier prices stay for the periods before it.
pub async fn add_rate(db: &Db, actor: &Actor, card: RateCardId, r: &RateDraft) -> Result<RateCard> {
    get(db, card).await?; // 404 for an unknown card
    let mut tx = db.begin_write().await?;
    insert_rate(&mut tx, card, actor, r, now_ms()).await?;
    sqlx::query("UPDATE rate_cards SET version = version + 1, updated_at = $2 WHERE id = $1")
        .bind(card.to_string())
        .bind(now_ms())
        .execute(&mut *tx)
        .await?;
    log(
        &mut tx,
        actor,
        None,
        "rate_card.rate_add",
        ("rate_card", card.to_string()),
        None,
        Some(serde_json::json!({
            "effective_from": r.effective_from, "price": r.price, "overage": r.overage, "note": r.note,
        })),
    )
    .await?;
    tx.commit().await?;
    get(db, card).await
}

/// Renames a card or withdraws it (no new subscriptions; existing ones keep being charged).
pub async fn update(
    db: &Db,
    actor: &Actor,
    card: RateCardId,
    version: Option<i64>,
    name: &str,
    active: bool,
) -> Result<RateCard> {
    let before = get(db, card).await?;
    if version.is_some_and(|v| v != before.version) {
        return Err(StoreError::Stale);
    }
    let mut tx = db.begin_write().await?;
    let n = sqlx::query("UPDATE rate_cards SET name = $1, active = $2, version = version + 1, updated_at = $3 WHERE id = $4 AND version = $5")
        .bind(name)
        .bind(i64::from(active))
        .bind(now_ms())
        .bind(card.to_string())
        .bind(before.version)
        .execute(&mut *tx)
        .await
        .map_err(|e| StoreError::on_unique(e, "name", "name", "another rate card has this name"))?
        .rows_affected();
    if n != 1 {
        return Err(StoreError::Stale);
    }
    let after = RateCard {
        name: name.to_owned(),
        active,
        version: before.version + 1,
        ..before.clone()
    };
    log(
        &mut tx,
        actor,
        None,
        "rate_card.update",
        ("rate_card", card.to_string()),
        Some(to_json(&before)?),
        Some(to_json(&after)?),
    )
    .await?;
    tx.commit().await?;
    Ok(after)
}
