//! JSON handlers of the feature.

pub(crate) mod account;
pub(crate) mod users;

use crate::routes::Table;

pub(crate) fn routes(t: Table) -> Table {
    let t = account::routes(t);
    users::routes(t)
}
