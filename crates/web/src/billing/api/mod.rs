//! JSON handlers of the feature.

pub(crate) mod billing;
pub(crate) mod finance;

use crate::routes::Table;

pub(crate) fn routes(t: Table) -> Table {
    let t = billing::routes(t);
    finance::routes(t)
}
