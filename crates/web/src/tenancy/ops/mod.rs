//! The feature's operations, one module per part: called by its JSON handlers and its pages alike.

pub(crate) mod calendar;
pub(crate) mod orgs;
