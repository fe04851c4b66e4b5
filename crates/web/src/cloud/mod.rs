//! The regional cloud: resource pools, allocations and their use by members.

pub(crate) mod api;
pub(crate) mod ops;
pub(crate) mod pages;

use crate::routes::Table;

/// The feature's part of the route table: its JSON API, then its pages.
pub(crate) fn routes(t: Table) -> Table {
    pages::routes(api::routes(t))
}
