//! The service desk's rules: ticket vocabularies, the priority matrix, SLA policies and the business-time
//! clock they are counted in.

pub mod catalog;
pub mod sla;
pub mod template;
pub mod ticket;

pub use sla::{BusinessCalendar, Pause, SlaClock, SlaStanding, Target};
pub use ticket::{
    Activity, Approval, ArticleStatus, Impact, Priority, PriorityMatrix, Source, Status,
    TicketKind, TicketSubject, Urgency, Visibility,
};

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};

/// Whether a policy's clock runs in the member's business hours or around the clock.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum Coverage {
    BusinessHours,
    AlwaysOn,
}

impl Coverage {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "business_hours" => Ok(Self::BusinessHours),
            "always_on" => Ok(Self::AlwaysOn),
            _ => Err(FieldError::new(
                "coverage",
                "must be business_hours or always_on",
            )),
        }
    }

    pub fn as_str(self) -> &'static str {
        match self {
            Self::BusinessHours => "business_hours",
            Self::AlwaysOn => "always_on",
        }
    }
}

/// The service level a ticket is held to: its service's policy, else the region's default policy, and when
/// neither is set (or the policy is gone) the hub's standard targets counted in business hours. `found` is
/// the first policy of that chain the store found.
pub fn applying_policy(found: Option<(Coverage, SlaTargets)>) -> (Coverage, SlaTargets) {
    found.unwrap_or((Coverage::BusinessHours, SlaTargets::standard()))
}

/// Response and resolution targets per priority (P1 first).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct SlaTargets(pub [Target; 4]);

impl SlaTargets {
    pub fn for_priority(&self, p: Priority) -> Target {
        self.0[p.rank()]
    }

    /// The hub's standard service level: P1 30 min / 4 h, P2 1 h / 1 day, P3 4 h / 3 days, P4 1 day / 5 days
    /// (days of 9 business hours).
    pub fn standard() -> Self {
        Self([
            Target {
                response_minutes: 30,
                resolution_minutes: 4 * 60,
            },
            Target {
                response_minutes: 60,
                resolution_minutes: 9 * 60,
            },
            Target {
                response_minutes: 4 * 60,
                resolution_minutes: 27 * 60,
            },
            Target {
                response_minutes: 9 * 60,
                resolution_minutes: 45 * 60,
            },
        ])
    }

    /// Every target positive; response no longer than resolution; a higher priority never slower.
    pub fn validate(&self) -> Result<(), FieldError> {
        for (i, t) in self.0.iter().enumerate() {
            let p = i + 1;
            if t.response_minutes <= 0 || t.resolution_minutes <= 0 {
                return Err(FieldError::new(
                    format!("targets.p{p}"),
                    "targets must be positive numbers of minutes",
                ));
            }
            if t.response_minutes > t.resolution_minutes {
                return Err(FieldError::new(
                    format!("targets.p{p}.response_minutes"),
                    "the response target cannot be longer than the resolution target",
                ));
            }
            if t.resolution_minutes > 366 * 24 * 60 {
                return Err(FieldError::new(
                    format!("targets.p{p}.resolution_minutes"),
                    "must be at most a year",
                ));
            }
            if i > 0 {
                let prev = self.0[i - 1];
                if prev.response_minutes > t.response_minutes
                    || prev.resolution_minutes > t.resolution_minutes
                {
                    return Err(FieldError::new(
                        format!("targets.p{p}"),
                        format!("P{p} cannot have shorter targets than P{}", p - 1),
                    ));
                }
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn standard_targets_are_valid_and_ordered() {
        assert!(SlaTargets::standard().validate().is_ok());
        let mut t = SlaTargets::standard();
        t.0[0].resolution_minutes = 10;
        assert_eq!(
            t.validate().unwrap_err().field,
            "targets.p1.response_minutes"
        );
        let mut t = SlaTargets::standard();
        t.0[3].resolution_minutes = 20 * 60;
        assert_eq!(t.validate().unwrap_err().field, "targets.p4");
    }

    #[test]
    fn a_ticket_without_a_policy_is_held_to_the_standard_targets_in_business_hours() {
        assert_eq!(
            applying_policy(None),
            (Coverage::BusinessHours, SlaTargets::standard())
        );
        let mut own = SlaTargets::standard();
        own.0[0].response_minutes = 15;
        assert_eq!(
            applying_policy(Some((Coverage::AlwaysOn, own))),
            (Coverage::AlwaysOn, own),
            "a policy found is the one applied"
        );
    }
}
