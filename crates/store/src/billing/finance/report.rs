//! The finance report.

use super::*;

/// One service's year: what it cost the hub, what its invoices recovered.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ServiceYear {
    pub service_id: ServiceId,
    pub service_name: String,
    pub cost_cents: i64,
    /// Cost by category (`staff`, `licences`, …).
    pub costs: BTreeMap<CostCategory, i64>,
    pub billed_cents: i64,
    /// Billed ÷ cost, in percent to one decimal; `null` without a cost.
    pub recovery_percent: Option<Decimal>,
    /// Billed − cost.
    pub margin_cents: i64,
}

/// One member's year: what it was billed, by service, and next year's forecast.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MemberYear {
    pub org_id: OrgId,
    pub name: String,
    pub slug: String,
    /// Billed by service id (credits under `credits`).
    pub billed: BTreeMap<String, i64>,
    pub billed_cents: i64,
    /// Next fiscal year's forecast by service id.
    pub forecast: BTreeMap<String, i64>,
    pub forecast_cents: i64,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct FinanceReport {
    pub fiscal_year: i16,
    #[schemars(with = "domain::schema::Day")]
    pub starts_on: Date,
    #[schemars(with = "domain::schema::Day")]
    pub ends_on: Date,
    pub services: Vec<ServiceYear>,
    pub members: Vec<MemberYear>,
    pub cost_cents: i64,
    pub billed_cents: i64,
    /// Credits granted on the year's invoices (negative).
    pub credits_cents: i64,
    pub recovery_percent: Option<Decimal>,
    pub margin_cents: i64,
    pub forecast_cents: i64,
}

/// The hub's year `fy`: cost, recovery and margin per service, revenue by member and service, and each
/// member's forecast for the year after.
pub async fn report(db: &Db, fy: i16, fy_start: u8) -> Result<FinanceReport> {
    let year = fiscal_year_period(fy, fy_start)
        .ok_or_else(|| domain::FieldError::new("fy", "is not a fiscal year"))?;
    let names = service_names(db).await?;
    let mut services: BTreeMap<ServiceId, ServiceYear> = BTreeMap::new();
    let blank = |id: ServiceId, names: &BTreeMap<ServiceId, String>| ServiceYear {
        service_id: id,
        service_name: names.get(&id).cloned().unwrap_or_default(),
        cost_cents: 0,
        costs: BTreeMap::new(),
        billed_cents: 0,
        recovery_percent: None,
        margin_cents: 0,
    };
    for c in costs(db, Some(fy)).await? {
        let s = services
            .entry(c.service_id)
            .or_insert_with(|| blank(c.service_id, &names));
        s.cost_cents += c.amount_cents;
        *s.costs.entry(c.category).or_default() += c.amount_cents;
    }
    let orgs = members(db, &Scope::Region).await?;
    let mut by_org: BTreeMap<OrgId, MemberYear> = orgs
        .iter()
        .map(|o| {
            (
                o.id,
                MemberYear {
                    org_id: o.id,
                    name: o.name.clone(),
                    slug: o.slug.clone(),
                    billed: BTreeMap::new(),
                    billed_cents: 0,
                    forecast: BTreeMap::new(),
                    forecast_cents: 0,
                },
            )
        })
        .collect();
    let mut credits_cents = 0;
    for b in billed(db, &Scope::Region, year.start, year.end).await? {
        let key = match b.service {
            Some(s) => {
                services
                    .entry(s)
                    .or_insert_with(|| blank(s, &names))
                    .billed_cents += b.cents;
                s.to_string()
            }
            None => {
                credits_cents += b.cents;
                "credits".to_owned()
            }
        };
        if let Some(m) = by_org.get_mut(&b.org) {
            *m.billed.entry(key).or_default() += b.cents;
            m.billed_cents += b.cents;
        }
    }
    for (org, by_service) in forecast(db, &orgs, fy + 1, fy_start).await? {
        if let Some(m) = by_org.get_mut(&org) {
            m.forecast_cents = by_service.values().sum();
            m.forecast = by_service
                .into_iter()
                .map(|(s, c)| (s.to_string(), c))
                .collect();
        }
    }
    let mut services: Vec<ServiceYear> = services.into_values().collect();
    for s in &mut services {
        s.recovery_percent = percent(s.billed_cents, s.cost_cents);
        s.margin_cents = s.billed_cents - s.cost_cents;
    }
    services.sort_by(|a, b| a.service_name.cmp(&b.service_name));
    let cost_cents: i64 = services.iter().map(|s| s.cost_cents).sum();
    let billed_cents: i64 = services.iter().map(|s| s.billed_cents).sum::<i64>() + credits_cents;
    let members: Vec<MemberYear> = orgs.iter().filter_map(|o| by_org.remove(&o.id)).collect();
    Ok(FinanceReport {
        fiscal_year: fy,
        starts_on: year.start,
        ends_on: year.end,
        forecast_cents: members.iter().map(|m| m.forecast_cents).sum(),
        services,
        members,
        cost_cents,
        billed_cents,
        credits_cents,
        recovery_percent: percent(billed_cents, cost_cents),
        margin_cents: billed_cents - cost_cents,
    })
}

struct ForecastSub {
    id: String,
    org: OrgId,
    card: RateCardId,
    quantity: Decimal,
    starts_on: Date,
    ends_on: Option<Date>,
}

/// Each member's budget for fiscal year `fy`, by service: subscriptions priced by their cards at the rates
/// in force then (fixed fees, seats and units, per-capita charges, prepaid blocks, cost-pool shares with
/// today's participants), and what usage and hours cost in the twelve months before it, carried forward by
/// their trend ([`forecast_year`]).
async fn forecast(
    db: &Db,
    orgs: &[Org],
    fy: i16,
    fy_start: u8,
) -> Result<BTreeMap<OrgId, BTreeMap<ServiceId, i64>>> {
    let Some(next) = fiscal_year_period(fy, fy_start) else {
        return Ok(BTreeMap::new());
    };
    let cards: HashMap<RateCardId, crate::billing::rates::RateCard> =
        crate::billing::rates::list(db, false)
            .await?
            .into_iter()
            .map(|c| (c.id, c))
            .collect();
    let subs: Vec<ForecastSub> = sqlx::query(
        "SELECT s.id, s.org_id, s.rate_card_id, s.quantity, s.starts_on, s.ends_on FROM subscriptions s \
         JOIN agreements a ON a.id = s.agreement_id WHERE a.status = $1 \
         AND s.starts_on < $2 AND (s.ends_on IS NULL OR s.ends_on > $3) ORDER BY s.org_id, s.id",
    )
    .bind(AgreementStatus::Active.as_str())
    .bind(next.end.to_string())
    .bind(next.start.to_string())
    .fetch_all(&db.read)
    .await?
    .iter()
    .map(|r| {
        Ok(ForecastSub {
            id: r.try_get("id")?,
            org: r.id("org_id")?,
            card: r.id("rate_card_id")?,
            quantity: decimal(r, "quantity")?,
            starts_on: date(r, "starts_on")?,
            ends_on: opt_date(r, "ends_on")?,
        })
    })
    .collect::<Result<_>>()?;
    // The twelve months before the year, per subscription and month.
    let history_from = Period::fiscal_quarter(fy - 1, 1, fy_start)
        .map(|q| q.start)
        .unwrap_or(next.start);
    let mut history: HashMap<String, BTreeMap<String, i64>> = HashMap::new();
    for b in billed(db, &Scope::Region, history_from, next.start).await? {
        let Some(sub) = b.subscription else { continue };
        let months = months_of(b.period_start, b.period_end);
        let n = i64::try_from(months.len()).unwrap_or(1);
        for (i, m) in months.into_iter().enumerate() {
            let i = i64::try_from(i).unwrap_or(0);
            *history
                .entry(sub.clone())
                .or_default()
                .entry(m)
                .or_default() += prorate(b.cents, n, i, i + 1);
        }
    }
    let people: HashMap<OrgId, &Org> = orgs.iter().map(|o| (o.id, o)).collect();
    // Cost-pool shares, card by card, with every participant of the card.
    let mut pooled: HashMap<String, i64> = HashMap::new();
    let mut by_card: BTreeMap<RateCardId, Vec<Participant<String>>> = BTreeMap::new();
    for s in &subs {
        if cards
            .get(&s.card)
            .is_some_and(|c| c.model == Model::CostPool)
        {
            by_card.entry(s.card).or_default().push(Participant {
                key: s.id.clone(),
                weight: s.quantity,
                starts_on: s.starts_on,
                ends_on: s.ends_on,
            });
        }
    }
    for (card, participants) in &by_card {
        let Some(c) = cards.get(card) else { continue };
        let rates = c.prices();
        if let Ok(shares) = pool_lines(&c.name, &rates, participants, &next, fy_start) {
            for (sub, ls) in shares {
                pooled.insert(sub, ls.iter().map(|l| l.amount_cents).sum());
            }
        }
    }
    let mut out: BTreeMap<OrgId, BTreeMap<ServiceId, i64>> = BTreeMap::new();
    for s in &subs {
        let (Some(card), Some(org)) = (cards.get(&s.card), people.get(&s.org)) else {
            continue;
        };
        let trend = || {
            history
                .get(&s.id)
                .map(|m| forecast_year(&m.values().copied().collect::<Vec<_>>()))
                .unwrap_or(0)
        };
        let cents = match card.model {
            Model::CostPool => pooled.get(&s.id).copied().unwrap_or(0),
            Model::TimeAndMaterials => trend(),
            Model::PerUnit
                if !card.meter.is_empty()
                    && card.meter != domain::billing::invoice::SEATS_METER =>
            {
                trend()
            }
            _ => {
                let rates = card.prices();
                let charge = Charge {
                    name: &card.name,
                    model: card.model,
                    unit: &card.unit,
                    meter: &card.meter,
                    activity: &card.activity,
                    quantity: s.quantity,
                    starts_on: s.starts_on,
                    ends_on: s.ends_on,
                    rates: &rates,
                };
                let member = Member {
                    population: org.population,
                    active_users: org.active_users,
                    ..Member::default()
                };
                lines(&charge, &member, &next, fy_start)
                    .map(|ls| ls.iter().map(|l| l.amount_cents).sum())
                    .unwrap_or(0)
            }
        };
        *out.entry(s.org)
            .or_default()
            .entry(card.service_id)
            .or_default() += cents;
    }
    Ok(out)
}
