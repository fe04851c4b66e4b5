//! The audit log: who did what, when, to which record, by organisation.

pub(crate) mod api;
pub(crate) mod ops;
pub(crate) mod pages;

use crate::routes::Table;

/// The feature's part of the route table: its JSON API, then its pages.
pub(crate) fn routes(t: Table) -> Table {
    pages::routes(api::routes(t))
}
