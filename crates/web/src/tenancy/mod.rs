//! Organisations, their directory (departments and sites) and their calendar of closures.

pub(crate) mod api;
pub(crate) mod ops;
pub(crate) mod pages;

use crate::routes::Table;

/// The feature's part of the route table: its JSON API, then its pages.
pub(crate) fn routes(t: Table) -> Table {
    pages::routes(api::routes(t))
}
