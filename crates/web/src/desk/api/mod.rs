//! JSON handlers of the feature.

pub(crate) mod catalog;
pub(crate) mod kb;
pub(crate) mod mail;
pub(crate) mod settings;
pub(crate) mod tickets;
pub(crate) mod time;

use crate::routes::Table;

pub(crate) fn routes(t: Table) -> Table {
    let t = tickets::routes(t);
    let t = catalog::routes(t);
    let t = settings::routes(t);
    let t = time::routes(t);
    let t = mail::routes(t);
    kb::routes(t)
}
