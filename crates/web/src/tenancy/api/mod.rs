//! JSON handlers of the feature.

pub(crate) mod calendar;
pub(crate) mod directory;
pub(crate) mod orgs;

use crate::routes::Table;

pub(crate) fn routes(t: Table) -> Table {
    let t = orgs::routes(t);
    let t = directory::routes(t);
    calendar::routes(t)
}
