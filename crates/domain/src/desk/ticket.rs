//! Tickets: kinds, statuses and how they may change, impact × urgency → priority.

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

vocabulary!(
    /// What a ticket is about.
    TicketKind, "kind" {
        Incident = "incident" / "Incident",
        ServiceRequest = "service_request" / "Service request",
        Problem = "problem" / "Problem",
        Change = "change" / "Change",
    }
);

vocabulary!(
    /// Where a ticket is in its life.
    Status, "status" {
        New = "new" / "New",
        Assigned = "assigned" / "Assigned",
        InProgress = "in_progress" / "In progress",
        WaitingOnRequester = "waiting_on_requester" / "Waiting on requester",
        WaitingOnVendor = "waiting_on_vendor" / "Waiting on vendor",
        Resolved = "resolved" / "Resolved",
        Closed = "closed" / "Closed",
    }
);

vocabulary!(
    /// How widely a disruption or need reaches.
    Impact, "impact" {
        High = "high" / "High — many people or a whole service",
        Medium = "medium" / "Medium — a department or a group",
        Low = "low" / "Low — one person",
    }
);

vocabulary!(
    /// How soon it must be dealt with.
    Urgency, "urgency" {
        High = "high" / "High — work has stopped",
        Medium = "medium" / "Medium — work is slowed",
        Low = "low" / "Low — can wait",
    }
);

vocabulary!(
    /// Priority, from impact × urgency through the region's matrix.
    Priority, "priority" {
        P1 = "p1" / "P1 Critical",
        P2 = "p2" / "P2 High",
        P3 = "p3" / "P3 Medium",
        P4 = "p4" / "P4 Low",
    }
);

vocabulary!(
    /// How a ticket came in.
    Source, "source" {
        Portal = "portal" / "Portal",
        Email = "email" / "Email",
        Api = "api" / "API",
        Phone = "phone" / "Phone",
        Alert = "alert" / "Alert",
    }
);

vocabulary!(
    /// Approval of a request that costs money, by a member administrator, before work starts.
    Approval, "approval" {
        NotNeeded = "not_needed" / "Not needed",
        Pending = "pending" / "Awaiting approval",
        Approved = "approved" / "Approved",
        Rejected = "rejected" / "Rejected",
    }
);

vocabulary!(
    /// What time was spent on.
    Activity, "activity" {
        Support = "support" / "Support",
        Remote = "remote" / "Remote work",
        Onsite = "onsite" / "On site",
        Travel = "travel" / "Travel",
        Project = "project" / "Project work",
        Training = "training" / "Training",
        Admin = "admin" / "Administration",
    }
);

vocabulary!(
    /// Who may read a knowledge-base article.
    Visibility, "visibility" {
        Internal = "internal" / "The service desk only",
        Members = "members" / "Every member",
        Member = "member" / "One member",
    }
);

vocabulary!(
    /// Where an article is in its life.
    ArticleStatus, "status" {
        Draft = "draft" / "Draft",
        Published = "published" / "Published",
    }
);

impl Approval {
    /// Whether a ticket in this approval state may move to `to`: a request awaiting its member's approval
    /// may only be closed (withdrawn) until it is decided — no work starts on it.
    pub fn check_move(self, to: Status) -> Result<(), FieldError> {
        if self == Self::Pending && to != Status::Closed {
            return Err(FieldError::new(
                "status",
                "the request awaits the member's approval; work cannot start yet",
            ));
        }
        Ok(())
    }

    /// Whether an approval decision may be taken now: only once, on a request awaiting one.
    pub fn check_decision(self) -> Result<(), FieldError> {
        if self == Self::Pending {
            Ok(())
        } else {
            Err(FieldError::new(
                "approval",
                "this ticket is not awaiting approval",
            ))
        }
    }

    /// The state a decision leads to.
    pub fn decided(approved: bool) -> Self {
        if approved {
            Self::Approved
        } else {
            Self::Rejected
        }
    }
}

impl Status {
    /// Resolved or closed: the resolution clock has stopped.
    pub fn is_done(self) -> bool {
        matches!(self, Self::Resolved | Self::Closed)
    }

    /// Waiting on the requester: the SLA clocks pause.
    pub fn pauses_sla(self) -> bool {
        self == Self::WaitingOnRequester
    }

    /// Whether an agent may move a ticket from `self` to `to`. Closed is final; everything else may move
    /// anywhere except back to "new" (a ticket that has been touched is not new again).
    pub fn can_become(self, to: Status) -> bool {
        self != to && self != Self::Closed && to != Self::New
    }

    /// The error for a refused move, naming the field.
    pub fn check_move(self, to: Status) -> Result<(), FieldError> {
        if self.can_become(to) {
            Ok(())
        } else if self == Self::Closed {
            Err(FieldError::new(
                "status",
                "the ticket is closed; open a new ticket and link it",
            ))
        } else if self == to {
            Err(FieldError::new(
                "status",
                format!("the ticket is already {}", self.label().to_lowercase()),
            ))
        } else {
            Err(FieldError::new(
                "status",
                "a ticket cannot go back to new; use assigned or in progress",
            ))
        }
    }
}

impl Priority {
    pub fn rank(self) -> usize {
        match self {
            Self::P1 => 0,
            Self::P2 => 1,
            Self::P3 => 2,
            Self::P4 => 3,
        }
    }
}

fn level(i: Impact) -> usize {
    match i {
        Impact::High => 0,
        Impact::Medium => 1,
        Impact::Low => 2,
    }
}

fn ulevel(u: Urgency) -> usize {
    match u {
        Urgency::High => 0,
        Urgency::Medium => 1,
        Urgency::Low => 2,
    }
}

/// Impact (rows: high, medium, low) × urgency (columns: high, medium, low) → priority. The region sets it;
/// the default is the usual ITIL matrix.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct PriorityMatrix(pub [[Priority; 3]; 3]);

impl Default for PriorityMatrix {
    fn default() -> Self {
        use Priority::*;
        Self([[P1, P2, P3], [P2, P3, P4], [P3, P4, P4]])
    }
}

impl PriorityMatrix {
    pub fn priority(&self, impact: Impact, urgency: Urgency) -> Priority {
        self.0[level(impact)][ulevel(urgency)]
    }

    /// A matrix must not rank a lower impact or urgency above a higher one.
    pub fn validate(&self) -> Result<(), FieldError> {
        for r in 0..3 {
            for c in 0..3 {
                let p = self.0[r][c].rank();
                let worse_row = r + 1 < 3 && self.0[r + 1][c].rank() < p;
                let worse_col = c + 1 < 3 && self.0[r][c + 1].rank() < p;
                if worse_row || worse_col {
                    return Err(FieldError::new(
                        "priority_matrix",
                        "a lower impact or urgency cannot have a higher priority",
                    ));
                }
            }
        }
        Ok(())
    }
}

/// A ticket's subject: at most [`TicketSubject::MAX_CHARS`] characters, trimmed, never empty, without
/// control or bidirectional control characters. The one rule for the API, the pages and the mail gateway.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct TicketSubject(String);

impl TicketSubject {
    pub const MAX_CHARS: usize = 200;

    /// A subject typed into a form or sent to the API: refused with an error naming `subject`.
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        crate::validation::text("subject", raw, Self::MAX_CHARS).map(Self)
    }

    /// A mail's subject, which cannot be refused as a form's can: control and bidirectional control
    /// characters (a right-to-left override making `invoice\u{202E}fdp.exe` read as `invoiceexe.pdf`) are
    /// removed, the rest trimmed and cut to [`Self::MAX_CHARS`]. Empty when nothing is left.
    pub fn clean(raw: &str) -> String {
        let kept: String = raw
            .chars()
            .filter(|c| !c.is_control() && !crate::validation::is_bidi_control(*c))
            .collect();
        let clipped: String = kept.trim().chars().take(Self::MAX_CHARS).collect();
        clipped.trim_end().to_owned()
    }

    /// A ticket's subject from a mail's (see [`Self::clean`]): "(no subject)" when nothing is left.
    pub fn from_mail(raw: &str) -> Self {
        let s = Self::clean(raw);
        if s.is_empty() {
            Self("(no subject)".into())
        } else {
            Self(s)
        }
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }

    pub fn into_inner(self) -> String {
        self.0
    }
}

impl fmt::Display for TicketSubject {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl AsRef<str> for TicketSubject {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn a_subject_names_the_field_when_refused() {
        assert_eq!(TicketSubject::parse("  ").unwrap_err().field, "subject");
        let long = "x".repeat(TicketSubject::MAX_CHARS + 1);
        assert_eq!(TicketSubject::parse(&long).unwrap_err().field, "subject");
        assert_eq!(
            TicketSubject::parse("invoice\u{202E}fdp.exe")
                .unwrap_err()
                .field,
            "subject"
        );
        assert_eq!(
            TicketSubject::parse("  Printer jams  ").unwrap().as_str(),
            "Printer jams"
        );
    }

    #[test]
    fn a_mail_subject_is_cleaned_not_refused() {
        assert_eq!(
            TicketSubject::from_mail(" Invoice \u{202E}fdp.exe\u{2069} ").as_str(),
            "Invoice fdp.exe"
        );
        assert_eq!(
            TicketSubject::from_mail("מדפסת תקועה").as_str(),
            "מדפסת תקועה"
        );
        assert_eq!(
            TicketSubject::from_mail(" \u{202E} ").as_str(),
            "(no subject)"
        );
    }

    proptest! {
        /// Whatever a mail's subject holds, the subject made of it is one a form would accept.
        #[test]
        fn every_mail_subject_is_a_valid_subject(raw in any::<String>()) {
            let s = TicketSubject::from_mail(&raw);
            prop_assert_eq!(TicketSubject::parse(s.as_str()), Ok(s.clone()));
        }

        /// A form's subject is refused or kept as typed, trimmed: never changed otherwise.
        #[test]
        fn a_form_subject_is_kept_as_typed_or_refused(raw in any::<String>()) {
            if let Ok(s) = TicketSubject::parse(&raw) {
                prop_assert_eq!(s.as_str(), raw.trim());
            }
        }
    }

    #[test]
    fn default_matrix_is_itil_and_monotone() {
        let m = PriorityMatrix::default();
        assert_eq!(m.priority(Impact::High, Urgency::High), Priority::P1);
        assert_eq!(m.priority(Impact::Medium, Urgency::High), Priority::P2);
        assert_eq!(m.priority(Impact::Low, Urgency::Low), Priority::P4);
        assert!(m.validate().is_ok());
        let mut bad = m;
        bad.0[2][2] = Priority::P1;
        assert_eq!(bad.validate().unwrap_err().field, "priority_matrix");
    }

    #[test]
    fn vocabularies_parse_their_own_spelling_and_name_the_field() {
        for k in TicketKind::ALL {
            assert_eq!(TicketKind::parse(k.as_str()), Ok(*k));
        }
        let e = Status::parse("open").unwrap_err();
        assert_eq!(e.field, "status");
        assert!(e.message.contains("waiting_on_requester"));
    }

    #[test]
    fn closed_is_final_and_nothing_returns_to_new() {
        for s in Status::ALL {
            assert!(!Status::Closed.can_become(*s));
            assert!(!s.can_become(Status::New));
        }
        assert!(Status::Resolved.can_become(Status::InProgress));
        // Awaiting approval, a request may only be withdrawn; decided, it moves as any ticket.
        for s in Status::ALL {
            assert_eq!(
                Approval::Pending.check_move(*s).is_ok(),
                *s == Status::Closed,
                "{s}"
            );
            assert!(Approval::Approved.check_move(*s).is_ok());
        }
        assert!(Approval::Pending.check_decision().is_ok());
        for a in [Approval::NotNeeded, Approval::Approved, Approval::Rejected] {
            assert_eq!(a.check_decision().unwrap_err().field, "approval");
        }
        assert!(Status::New.can_become(Status::Resolved));
        assert_eq!(
            Status::Closed
                .check_move(Status::InProgress)
                .unwrap_err()
                .field,
            "status"
        );
    }
}
