//! The feature's operations: each checks its input and the caller's permission, calls the store and
//! returns the result. The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::json::given;
use domain::FieldError;
use domain::authz::{Permission, Scope};
use domain::billing::money::MAX_CENTS;
use domain::ids::CiId;
use domain::portfolio::{Quadrant, check_answers};
use domain::validation::{Collector, dollars, optional_text};
use jiff::civil::Date;
use serde::Deserialize;
use serde_json::{Map, Value};
use store::portfolio::{self, AppDraft, Filter};

#[derive(Debug, Default, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct PortfolioQuery {
    pub org: Option<String>,
    pub capability: Option<String>,
    #[schemars(with = "Option<domain::portfolio::Quadrant>")]
    pub quadrant: Option<String>,
}

/// The portfolio's filters from a query (the pages and the API share it).
pub async fn filter(s: &AppState, scope: &Scope, q: &PortfolioQuery) -> Result<Filter, Failure> {
    let mut c = Collector::new();
    let org = match given(&q.org) {
        None => None,
        Some(slug) => c.take(crate::extract::readable_org(s, scope, slug).await),
    };
    let quadrant = given(&q.quadrant).and_then(|v| c.take(Quadrant::parse(v)));
    c.finish()?;
    Ok(Filter {
        org,
        capability: given(&q.capability).map(str::to_owned),
        quadrant,
    })
}

#[derive(Debug, Default, Clone, Deserialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawApp {
    pub capability: Option<String>,
    /// A whole number, as a number or text.
    pub users: Option<Value>,
    /// Dollars, as text: `"12500.00"`.
    pub annual_cost: Option<String>,
    pub contract_end: Option<String>,
    pub support_end: Option<String>,
    /// Question id → 1..5 (see `/api/v1/portfolio/questionnaire`).
    pub answers: Option<Map<String, Value>>,
    pub retire_by: Option<String>,
    pub replacement_id: Option<String>,
    pub plan: Option<String>,
}

pub(crate) fn date(c: &mut Collector, field: &str, raw: &Option<String>) -> Option<Date> {
    let v = given(raw)?;
    c.take(v.parse::<Date>().map_err(|_| {
        FieldError::new(
            field,
            format!("{v:?} is not a date (write it like 2027-06-30)"),
        )
    }))
}

/// A portfolio record from its fields (a PUT: what is not given is empty).
pub fn parse_app(raw: &RawApp) -> Result<AppDraft, Failure> {
    let mut c = Collector::new();
    let users = match &raw.users {
        None | Some(Value::Null) => 0,
        Some(v) => {
            let t = match v {
                Value::String(s) => s.trim().replace(',', ""),
                other => other.to_string(),
            };
            if t.is_empty() {
                0
            } else {
                match t.parse::<i64>() {
                    Ok(n) if (0..=10_000_000).contains(&n) => n,
                    _ => {
                        c.push(FieldError::new(
                            "users",
                            format!("{t:?} is not a whole number of people from 0 to 10,000,000"),
                        ));
                        0
                    }
                }
            }
        }
    };
    let annual_cost_cents = match given(&raw.annual_cost) {
        None => 0,
        Some(v) => c.take(dollars("annual_cost", v, MAX_CENTS)).unwrap_or(0),
    };
    let answers = match &raw.answers {
        None => Default::default(),
        Some(a) => match check_answers(a) {
            Ok(a) => a,
            Err(errs) => {
                for e in errs {
                    c.push(e);
                }
                Default::default()
            }
        },
    };
    let contract_end = date(&mut c, "contract_end", &raw.contract_end);
    let support_end = date(&mut c, "support_end", &raw.support_end);
    let retire_by = date(&mut c, "retire_by", &raw.retire_by);
    let replacement_id = given(&raw.replacement_id).and_then(|v| {
        c.take(
            v.parse::<CiId>()
                .map_err(|_| FieldError::new("replacement_id", "is not an id")),
        )
    });
    let plan = c
        .take(optional_text("plan", raw.plan.as_deref(), 2_000))
        .flatten()
        .unwrap_or_default();
    c.finish()?;
    Ok(AppDraft {
        capability: given(&raw.capability).map(str::to_owned),
        users,
        annual_cost_cents,
        contract_end,
        support_end,
        answers,
        retire_by,
        replacement_id,
        plan,
    })
}

/// Saves a portfolio record (the page and the API share it).
pub async fn save(
    s: &AppState,
    p: &Principal,
    id: CiId,
    version: Option<i64>,
    raw: &RawApp,
) -> Result<portfolio::PortfolioApp, Failure> {
    let manage = p.require(Permission::CmdbManage)?;
    let read = p.require(Permission::CmdbRead)?;
    let d = parse_app(raw)?;
    Ok(portfolio::save(&s.db, &read, &manage, &p.actor(), id, version, &d).await?)
}
