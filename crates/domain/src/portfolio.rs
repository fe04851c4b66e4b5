//! The application portfolio: what each application is for (a business capability from a shared
//! taxonomy), what it costs, and how it scores on a short questionnaire — business value and technical
//! condition, each the mean of three answers from 1 to 5 — which places it in a TIME quadrant (tolerate,
//! invest, migrate, eliminate). The redundancy finder groups applications by capability across departments
//! and members and names a consolidation target.

use std::collections::BTreeMap;
use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::validation::FieldError;

/// The two axes of the questionnaire.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Axis {
    BusinessValue,
    TechnicalCondition,
}

/// One question: answered 1 (`low`) to 5 (`high`).
#[derive(Debug, Clone, Copy, Serialize, schemars::JsonSchema)]
pub struct Question {
    pub id: &'static str,
    pub axis: Axis,
    pub text: &'static str,
    pub low: &'static str,
    pub high: &'static str,
}

pub const QUESTIONS: &[Question] = &[
    Question {
        id: "reach",
        axis: Axis::BusinessValue,
        text: "How many staff and residents depend on it?",
        low: "A handful",
        high: "Most staff or the public",
    },
    Question {
        id: "mandate",
        axis: Axis::BusinessValue,
        text: "How closely is it tied to a legal duty or a core service?",
        low: "Convenience only",
        high: "Required by law or core to the service",
    },
    Question {
        id: "fit",
        axis: Axis::BusinessValue,
        text: "How well does it support the way the work is done today?",
        low: "Worked around daily",
        high: "Fits the process well",
    },
    Question {
        id: "support",
        axis: Axis::TechnicalCondition,
        text: "Is the version in use supported by its vendor, with security updates?",
        low: "Out of support",
        high: "Current and supported",
    },
    Question {
        id: "reliability",
        axis: Axis::TechnicalCondition,
        text: "How reliable has it been over the last year?",
        low: "Frequent outages",
        high: "No notable outages",
    },
    Question {
        id: "integration",
        axis: Axis::TechnicalCondition,
        text: "How well does it fit the region's standards (sign-on, backups, integration)?",
        low: "Stands apart",
        high: "Fits the standards",
    },
];

vocabulary!(
    /// Gartner's TIME model: where an application stands and what to do with it.
    Quadrant, "quadrant" {
        /// Sound but of little value: keep it running, spend nothing more.
        Tolerate = "tolerate" / "Tolerate",
        /// Valuable and sound: keep investing.
        Invest = "invest" / "Invest",
        /// Valuable but in poor condition: move to a better platform.
        Migrate = "migrate" / "Migrate",
        /// Of little value and in poor condition: retire it.
        Eliminate = "eliminate" / "Eliminate",
    }
);

impl Quadrant {
    pub fn advice(self) -> &'static str {
        match self {
            Self::Tolerate => "Keep it running; spend no more than needed.",
            Self::Invest => "Keep investing; a candidate to share with other members.",
            Self::Migrate => "Valuable but in poor shape: plan a move to a better platform.",
            Self::Eliminate => "Plan its retirement.",
        }
    }
}

/// The midpoint of the 1–5 scale: a score at or above it is "high".
pub const THRESHOLD: Decimal = Decimal::from_parts(3, 0, 0, false, 0);

/// Checks answers: known question ids only, whole numbers 1–5 (as numbers or text); empty ones dropped.
/// Errors name the answer (`answers.reach`).
pub fn check_answers(raw: &Map<String, Value>) -> Result<BTreeMap<String, u8>, Vec<FieldError>> {
    let mut out = BTreeMap::new();
    let mut errors = Vec::new();
    for (id, v) in raw {
        let field = format!("answers.{id}");
        if !QUESTIONS.iter().any(|q| q.id == id) {
            let ids: Vec<&str> = QUESTIONS.iter().map(|q| q.id).collect();
            errors.push(FieldError::new(
                &field,
                format!("is not a question (they are {})", ids.join(", ")),
            ));
            continue;
        }
        let text = match v {
            Value::Null => continue,
            Value::Number(n) => n.to_string(),
            Value::String(s) => s.trim().to_owned(),
            _ => String::from("?"),
        };
        if text.is_empty() {
            continue;
        }
        match text.parse::<u8>() {
            Ok(n @ 1..=5) => {
                out.insert(id.clone(), n);
            }
            _ => errors.push(FieldError::new(
                &field,
                format!("{text:?} is not an answer from 1 to 5"),
            )),
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(errors)
    }
}

/// The mean of an axis's answers, to a tenth; none when none of its questions is answered.
pub fn score(answers: &BTreeMap<String, u8>, axis: Axis) -> Option<Decimal> {
    let given: Vec<u8> = QUESTIONS
        .iter()
        .filter(|q| q.axis == axis)
        .filter_map(|q| answers.get(q.id).copied())
        .collect();
    if given.is_empty() {
        return None;
    }
    let sum: u32 = given.iter().map(|a| u32::from(*a)).sum();
    let mean = Decimal::from(sum) / Decimal::from(given.len() as u32);
    Some(
        mean.round_dp_with_strategy(1, RoundingStrategy::MidpointAwayFromZero)
            .normalize(),
    )
}

/// The quadrant of a value and a condition score (both known).
pub fn quadrant(value: Option<Decimal>, condition: Option<Decimal>) -> Option<Quadrant> {
    let (v, c) = (value?, condition?);
    Some(match (v >= THRESHOLD, c >= THRESHOLD) {
        (true, true) => Quadrant::Invest,
        (true, false) => Quadrant::Migrate,
        (false, true) => Quadrant::Tolerate,
        (false, false) => Quadrant::Eliminate,
    })
}

/// What the redundancy finder knows of one application.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AppFacts<K> {
    pub id: K,
    /// The product (the item's name), compared without case.
    pub product: String,
    /// Who runs it: (organisation, department).
    pub owner: String,
    /// The hub's own shared application.
    pub shared: bool,
    pub users: i64,
    pub annual_cost_cents: i64,
    pub condition: Option<Decimal>,
}

/// One capability served by several applications.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Redundancy<K> {
    /// The product to consolidate onto.
    pub target: String,
    /// The applications already on it.
    pub on_target: Vec<K>,
    /// The others: consolidation candidates.
    pub candidates: Vec<K>,
    pub combined_cost_cents: i64,
    pub candidates_cost_cents: i64,
    pub products: usize,
}

/// The consolidation view of one capability's applications, when there are two or more of them (different
/// products, or the same product run separately by several owners). The target is the hub's shared product
/// if the capability has one; else a product in sound technical condition (an installation scoring 3 or
/// more) before one that is not, then the most installations, the most users, the best condition, the name.
pub fn redundancy<K: Clone>(apps: &[AppFacts<K>]) -> Option<Redundancy<K>> {
    if apps.len() < 2 {
        return None;
    }
    // product → (shared, installations, users, best condition)
    let mut products: BTreeMap<String, (bool, usize, i64, Option<Decimal>)> = BTreeMap::new();
    for a in apps {
        let e = products
            .entry(a.product.to_lowercase())
            .or_insert((false, 0, 0, None));
        e.0 |= a.shared;
        e.1 += 1;
        e.2 = e.2.saturating_add(a.users);
        e.3 = e.3.max(a.condition);
    }
    let target = products
        .iter()
        .max_by(|(na, a), (nb, b)| {
            let sound = |c: Option<Decimal>| c.is_some_and(|c| c >= THRESHOLD);
            (a.0, sound(a.3), a.1, a.2, a.3)
                .cmp(&(b.0, sound(b.3), b.1, b.2, b.3))
                .then_with(|| nb.cmp(na))
        })
        .map(|(name, _)| name.clone())?;
    let mut out = Redundancy {
        target: apps
            .iter()
            .find(|a| a.product.to_lowercase() == target)
            .map(|a| a.product.clone())
            .unwrap_or(target.clone()),
        on_target: Vec::new(),
        candidates: Vec::new(),
        combined_cost_cents: 0,
        candidates_cost_cents: 0,
        products: products.len(),
    };
    // A shared target keeps its instance; of separate installations of the target product the largest is
    // kept and the rest join it.
    let keep = apps
        .iter()
        .enumerate()
        .filter(|(_, a)| a.product.to_lowercase() == target)
        .max_by_key(|(i, a)| (a.shared, a.users, std::cmp::Reverse(*i)))
        .map(|(i, _)| i);
    for (i, a) in apps.iter().enumerate() {
        out.combined_cost_cents = out.combined_cost_cents.saturating_add(a.annual_cost_cents);
        if Some(i) == keep {
            out.on_target.push(a.id.clone());
        } else {
            out.candidates.push(a.id.clone());
            out.candidates_cost_cents = out
                .candidates_cost_cents
                .saturating_add(a.annual_cost_cents);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use serde_json::json;

    fn answers(v: Value) -> BTreeMap<String, u8> {
        check_answers(v.as_object().unwrap()).unwrap()
    }

    #[test]
    fn answers_are_checked_and_scored_into_a_quadrant() {
        let a = answers(
            json!({ "reach": 5, "mandate": "4", "fit": 4, "support": 2, "reliability": 1 }),
        );
        let v = score(&a, Axis::BusinessValue);
        let c = score(&a, Axis::TechnicalCondition);
        assert_eq!(v, Some(Decimal::new(43, 1)));
        assert_eq!(c, Some(Decimal::new(15, 1)));
        assert_eq!(quadrant(v, c), Some(Quadrant::Migrate));
        assert_eq!(quadrant(v, None), None);
        let errs = check_answers(
            json!({ "reach": 6, "colour": 1, "fit": "x" })
                .as_object()
                .unwrap(),
        )
        .unwrap_err();
        let fields: Vec<&str> = errs.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["answers.colour", "answers.fit", "answers.reach"]);
        // Exactly the midpoint counts as high.
        assert_eq!(
            quadrant(Some(THRESHOLD), Some(Decimal::new(29, 1))),
            Some(Quadrant::Migrate)
        );
    }

    fn app(id: u32, product: &str, shared: bool, users: i64, cost: i64) -> AppFacts<u32> {
        AppFacts {
            id,
            product: product.into(),
            owner: format!("org {id}"),
            shared,
            users,
            annual_cost_cents: cost,
            condition: None,
        }
    }

    #[test]
    fn the_shared_product_or_the_most_installed_one_is_the_target() {
        let apps = [
            app(1, "PermitEyes", false, 20, 1_000),
            app(2, "ViewPoint Cloud", false, 30, 2_000),
            app(3, "viewpoint cloud", false, 10, 3_000),
        ];
        let r = redundancy(&apps).unwrap();
        assert_eq!(r.target, "ViewPoint Cloud");
        assert_eq!(r.on_target, [2]);
        assert_eq!(r.candidates, [1, 3]);
        assert_eq!(r.combined_cost_cents, 6_000);
        assert_eq!(r.candidates_cost_cents, 4_000);
        assert_eq!(r.products, 2);
        let mut with_hub = apps.to_vec();
        with_hub.push(app(4, "EnerGov", true, 0, 0));
        assert_eq!(redundancy(&with_hub).unwrap().target, "EnerGov");
        // A product in poor condition is not a target while a sound one exists, however widely installed.
        let mut poor = apps.to_vec();
        for a in &mut poor {
            a.condition = Some(Decimal::new(21, 1));
        }
        poor[0].condition = Some(Decimal::new(35, 1));
        assert_eq!(redundancy(&poor).unwrap().target, "PermitEyes");
        assert!(redundancy(&apps[..1]).is_none());
    }

    proptest! {
        #[test]
        fn every_application_is_kept_or_a_candidate_and_costs_add_up(
            apps in proptest::collection::vec((0usize..4, any::<bool>(), 0i64..1000, 0i64..10_000_000), 2..30),
        ) {
            let names = ["A", "B", "c", "a"];
            let facts: Vec<AppFacts<usize>> = apps
                .iter()
                .enumerate()
                .map(|(i, (p, shared, users, cost))| AppFacts {
                    id: i,
                    product: names[*p].into(),
                    owner: format!("org {i}"),
                    shared: *shared,
                    users: *users,
                    annual_cost_cents: *cost,
                    condition: None,
                })
                .collect();
            let r = redundancy(&facts).unwrap();
            prop_assert_eq!(r.on_target.len(), 1);
            prop_assert_eq!(r.on_target.len() + r.candidates.len(), facts.len());
            let total: i64 = facts.iter().map(|a| a.annual_cost_cents).sum();
            prop_assert_eq!(r.combined_cost_cents, total);
            let kept = facts[r.on_target[0]].annual_cost_cents;
            prop_assert_eq!(r.candidates_cost_cents, total - kept);
            prop_assert_eq!(facts[r.on_target[0]].product.to_lowercase(), r.target.to_lowercase());
        }
    }
}
