//! The feature's operations, one module per part: called by its JSON handlers and its pages alike.

pub(crate) mod desk;
pub(crate) mod kb;
pub(crate) mod mail;
pub(crate) mod time;
