//! HTML pages of the feature.

pub(crate) mod agreements;
pub(crate) mod finance;
pub(crate) mod invoices;
pub(crate) mod overview;
pub(crate) mod rates;
pub(crate) mod usage;

use crate::routes::Table;

pub(crate) fn routes(t: Table) -> Table {
    let t = overview::routes(t);
    let t = agreements::routes(t);
    let t = rates::routes(t);
    let t = usage::routes(t);
    let t = invoices::routes(t);
    finance::routes(t)
}
