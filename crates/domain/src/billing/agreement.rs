//! Inter-municipal agreements: their status and how they renew.

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

vocabulary!(
    /// Where an agreement is in its life. Only active agreements are invoiced.
    AgreementStatus, "status" {
        Draft = "draft" / "Draft",
        Active = "active" / "Active",
        Expired = "expired" / "Expired",
        Terminated = "terminated" / "Terminated",
    }
);

vocabulary!(
    /// What happens at the end of the term.
    Renewal, "renewal" {
        None = "none" / "Ends with its term",
        Annual = "annual" / "Renews each year unless either party gives notice",
        ByVote = "by_vote" / "Renews by a new vote of the member's approving body",
    }
);
