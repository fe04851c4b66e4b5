//! Savings.

use super::*;

/// One service of a member's savings.
#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct ServiceSaving {
    pub service_id: ServiceId,
    pub service_name: String,
    #[serde(flatten)]
    pub saving: Saving,
    pub saved_cents: Option<i64>,
    pub saved_percent: Option<Decimal>,
    /// Where the standalone figure comes from.
    pub source: Option<String>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct MemberSavings {
    pub org_id: OrgId,
    pub name: String,
    pub slug: String,
    pub population: i64,
    pub size_band: SizeBand,
    pub services: Vec<ServiceSaving>,
    /// Totals over the services with a benchmark.
    pub shared_cents: i64,
    pub standalone_cents: i64,
    pub saved_cents: i64,
    pub saved_percent: Option<Decimal>,
}

#[derive(Debug, Clone, Serialize, PartialEq, schemars::JsonSchema)]
pub struct SavingsReport {
    pub fiscal_year: i16,
    #[schemars(with = "domain::schema::Day")]
    pub starts_on: Date,
    #[schemars(with = "domain::schema::Day")]
    pub ends_on: Date,
    pub members: Vec<MemberSavings>,
    pub shared_cents: i64,
    pub standalone_cents: i64,
    pub saved_cents: i64,
    pub saved_percent: Option<Decimal>,
}

/// What sharing saved each member in scope over fiscal year `fy` (so far): for every service it was billed
/// for, the shared cost beside the standalone benchmark of its size band over the same months.
pub async fn savings(db: &Db, scope: &Scope, fy: i16, fy_start: u8) -> Result<SavingsReport> {
    let year = fiscal_year_period(fy, fy_start)
        .ok_or_else(|| domain::FieldError::new("fy", "is not a fiscal year"))?;
    let names = service_names(db).await?;
    let marks: HashMap<(ServiceId, SizeBand), Benchmark> = benchmarks(db)
        .await?
        .into_iter()
        .map(|b| ((b.service_id, b.size_band), b))
        .collect();
    let mut used: HashMap<OrgId, BTreeMap<ServiceId, (i64, BTreeSet<String>)>> = HashMap::new();
    for b in billed(db, scope, year.start, year.end).await? {
        let Some(service) = b.service else { continue };
        let e = used.entry(b.org).or_default().entry(service).or_default();
        e.0 += b.cents;
        e.1.extend(months_of(b.period_start, b.period_end));
    }
    let mut members_out = Vec::new();
    for o in members(db, scope).await? {
        let band = SizeBand::of(o.population);
        let mut services: Vec<ServiceSaving> = used
            .remove(&o.id)
            .unwrap_or_default()
            .into_iter()
            .map(|(service, (cents, months))| {
                let months = i64::try_from(months.len()).unwrap_or(12);
                let mark = marks.get(&(service, band));
                let saving = Saving {
                    months,
                    shared_cents: cents,
                    standalone_cents: mark.map(|m| m.standalone.for_months(months)),
                };
                ServiceSaving {
                    service_id: service,
                    service_name: names.get(&service).cloned().unwrap_or_default(),
                    saved_cents: saving.saved_cents(),
                    saved_percent: saving.saved_percent(),
                    saving,
                    source: mark.map(|m| m.source.clone()),
                }
            })
            .collect();
        services.sort_by(|a, b| a.service_name.cmp(&b.service_name));
        let (shared, standalone) = total_savings(services.iter().map(|s| &s.saving));
        members_out.push(MemberSavings {
            org_id: o.id,
            name: o.name,
            slug: o.slug,
            population: o.population,
            size_band: band,
            services,
            shared_cents: shared,
            standalone_cents: standalone,
            saved_cents: standalone - shared,
            saved_percent: percent(standalone - shared, standalone),
        });
    }
    let shared: i64 = members_out.iter().map(|m| m.shared_cents).sum();
    let standalone: i64 = members_out.iter().map(|m| m.standalone_cents).sum();
    Ok(SavingsReport {
        fiscal_year: fy,
        starts_on: year.start,
        ends_on: year.end,
        members: members_out,
        shared_cents: shared,
        standalone_cents: standalone,
        saved_cents: standalone - shared,
        saved_percent: percent(standalone - shared, standalone),
    })
}
