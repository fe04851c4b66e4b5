//! The figures of an organisation that its invoices are computed from are the hub's record: a member reads
//! them and proposes a change (with its reason and source), and the hub accepts or rejects it. Today that is
//! the population (per-capita charges, the savings size band).

use super::drafts::OrgDraft;
use crate::validation::{Collector, FieldError, Invalid, optional_text, text};
use serde::{Deserialize, Serialize};
use std::fmt;

vocabulary!(
    /// A hub-owned field of an organisation.
    Field, "field" {
        /// Residents: per-capita fees and the savings size band.
        Population = "population" / "Population",
    }
);

vocabulary!(
    /// Where a proposal stands.
    Status, "status" {
        Pending = "pending" / "Awaiting the hub's decision",
        Accepted = "accepted" / "Accepted",
        Rejected = "rejected" / "Rejected",
    }
);

vocabulary!(
    /// The hub's answer to a proposal.
    Decision, "decision" {
        Accept = "accept" / "Accept",
        Reject = "reject" / "Reject",
    }
);

impl Field {
    /// The field's value in an organisation's settings.
    pub fn value_in(self, d: &OrgDraft) -> Option<i64> {
        match self {
            Self::Population => d.population,
        }
    }
}

/// The first hub-owned field an edit changes, if any.
pub fn hub_owned_change(before: &OrgDraft, after: &OrgDraft) -> Option<Field> {
    Field::ALL
        .iter()
        .copied()
        .find(|f| f.value_in(before) != f.value_in(after))
}

/// The refusal a member's edit of a hub-owned field gets: it names the field and the way to change it.
pub fn refusal(field: Field, slug: &str) -> FieldError {
    FieldError::new(
        field.as_str(),
        format!(
            "is the hub's record that invoices are computed from; a member proposes a change instead \
             (POST /api/v1/orgs/{slug}/proposals, or \"Propose a change\" on the settings page) and the \
             hub accepts or rejects it"
        ),
    )
}

/// A whole number given as a JSON number or as text (forms send text; `15,343` is accepted).
#[derive(Debug, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(untagged)]
pub enum RawNumber {
    Int(i64),
    Text(String),
}

/// A proposal as typed into the form or the API.
#[derive(Debug, Default, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawProposal {
    /// Default `population`.
    #[schemars(with = "Option<crate::tenancy::proposals::Field>")]
    pub field: Option<String>,
    pub value: Option<RawNumber>,
    pub reason: Option<String>,
    /// Where the figure comes from (a census release, a town report).
    pub source: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ProposalDraft {
    pub field: Field,
    pub value: i64,
    pub reason: String,
    pub source: String,
}

impl ProposalDraft {
    /// A proposal against the organisation's current settings: the value must be valid for the field and
    /// differ from the current one.
    pub fn parse(raw: &RawProposal, current: &OrgDraft) -> Result<Self, Invalid> {
        let mut c = Collector::new();
        let field = match raw
            .field
            .as_deref()
            .map(str::trim)
            .filter(|f| !f.is_empty())
        {
            None => Some(Field::Population),
            Some(f) => c.take(Field::parse(f)),
        };
        let value = match &raw.value {
            None => {
                c.push(FieldError::new("value", "is required: the new figure"));
                None
            }
            Some(RawNumber::Int(i)) => Some(*i),
            Some(RawNumber::Text(t)) => {
                let t = t.trim().replace(',', "");
                if t.is_empty() {
                    c.push(FieldError::new("value", "is required: the new figure"));
                    None
                } else if let Ok(i) = t.parse::<i64>() {
                    Some(i)
                } else {
                    c.push(FieldError::new("value", "must be a whole number"));
                    None
                }
            }
        };
        let value = value.and_then(|v| {
            c.take(
                super::parse_population(Some(v)).map_err(|e| FieldError::new("value", e.message)),
            )
            .flatten()
        });
        if let (Some(f), Some(v)) = (field, value)
            && f.value_in(current) == Some(v)
        {
            c.push(FieldError::new(
                "value",
                format!("is already the {} on record", f.label().to_lowercase()),
            ));
        }
        let reason = c.take(text("reason", raw.reason.as_deref().unwrap_or(""), 2000));
        let source = c.take(optional_text("source", raw.source.as_deref(), 300));
        c.finish()?;
        Ok(Self {
            field: field.unwrap_or(Field::Population),
            value: value.unwrap_or_default(),
            reason: reason.unwrap_or_default(),
            source: source.flatten().unwrap_or_default(),
        })
    }
}

/// The hub's decision as typed.
#[derive(Debug, Default, Clone, Deserialize, Serialize, schemars::JsonSchema)]
#[serde(deny_unknown_fields)]
pub struct RawDecision {
    #[schemars(required, with = "crate::tenancy::proposals::Decision")]
    pub decision: Option<String>,
    pub note: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DecisionDraft {
    pub decision: Decision,
    pub note: String,
}

impl DecisionDraft {
    /// A rejection says why (the member reads it); an acceptance may.
    pub fn parse(raw: &RawDecision) -> Result<Self, Invalid> {
        let mut c = Collector::new();
        let decision = match raw.decision.as_deref().map(str::trim) {
            None | Some("") => {
                c.push(FieldError::new("decision", "is required: accept or reject"));
                None
            }
            Some(d) => c.take(Decision::parse(d)),
        };
        let note = c
            .take(optional_text("note", raw.note.as_deref(), 2000))
            .flatten();
        if decision == Some(Decision::Reject) && note.is_none() {
            c.push(FieldError::new(
                "note",
                "is required when rejecting: tell the member why",
            ));
        }
        c.finish()?;
        Ok(Self {
            decision: decision.unwrap_or(Decision::Reject),
            note: note.unwrap_or_default(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::calendar::{HolidayRules, WeeklyHours};
    use crate::tenancy::{OrgKind, OrgSlug};

    fn org(population: Option<i64>) -> OrgDraft {
        OrgDraft {
            slug: OrgSlug::parse("north-reading").unwrap(),
            name: "Town of North Reading".into(),
            kind: OrgKind::Town,
            county: None,
            population,
            time_zone: "America/New_York".into(),
            fiscal_year_start_month: 7,
            business_hours: WeeklyHours::default(),
            holiday_rules: HolidayRules::default(),
        }
    }

    fn raw(value: RawNumber, reason: &str) -> RawProposal {
        RawProposal {
            field: None,
            value: Some(value),
            reason: Some(reason.into()),
            source: Some("US Census, Vintage 2024".into()),
        }
    }

    #[test]
    fn only_a_change_of_a_hub_owned_field_is_one() {
        let before = org(Some(15_343));
        assert_eq!(hub_owned_change(&before, &before.clone()), None);
        let mut renamed = before.clone();
        renamed.county = Some("Essex County".into());
        assert_eq!(hub_owned_change(&before, &renamed), None);
        assert_eq!(
            hub_owned_change(&before, &org(Some(1))),
            Some(Field::Population)
        );
        assert_eq!(
            hub_owned_change(&before, &org(None)),
            Some(Field::Population)
        );
        let e = refusal(Field::Population, "north-reading");
        assert_eq!(e.field, "population");
        assert!(e.message.contains("/api/v1/orgs/north-reading/proposals"));
    }

    #[test]
    fn proposals_are_checked_whole() {
        let current = org(Some(15_343));
        let p = ProposalDraft::parse(&raw(RawNumber::Text("15,700".into()), "Census"), &current)
            .unwrap();
        assert_eq!(p.value, 15_700);
        assert_eq!(p.field, Field::Population);
        assert_eq!(p.source, "US Census, Vintage 2024");
        let fields = |r: &RawProposal| -> Vec<String> {
            ProposalDraft::parse(r, &current)
                .unwrap_err()
                .0
                .into_iter()
                .map(|e| e.field)
                .collect()
        };
        assert_eq!(fields(&raw(RawNumber::Int(15_343), "same")), ["value"]);
        assert_eq!(fields(&raw(RawNumber::Int(-4), "x")), ["value"]);
        assert_eq!(
            fields(&raw(RawNumber::Text("lots".into()), "")),
            ["value", "reason"]
        );
        assert_eq!(
            fields(&RawProposal {
                field: Some("name".into()),
                ..RawProposal::default()
            }),
            ["field", "value", "reason"]
        );
    }

    #[test]
    fn a_rejection_says_why() {
        let d = |decision: &str, note: &str| {
            DecisionDraft::parse(&RawDecision {
                decision: Some(decision.into()),
                note: Some(note.into()),
            })
        };
        assert_eq!(d("accept", "").unwrap().decision, Decision::Accept);
        assert_eq!(d("reject", "").unwrap_err().0[0].field, "note");
        assert_eq!(
            d("reject", "Not yet published").unwrap().note,
            "Not yet published"
        );
        assert_eq!(d("maybe", "").unwrap_err().0[0].field, "decision");
    }
}
