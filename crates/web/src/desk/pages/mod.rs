//! HTML pages of the feature.

pub(crate) mod catalog;
pub(crate) mod kb;
pub(crate) mod mail;
pub(crate) mod policies;
pub(crate) mod queue;
pub(crate) mod reports;
pub(crate) mod request;
pub(crate) mod settings;
pub(crate) mod ticket;
pub(crate) mod time;

use crate::routes::Table;

pub(crate) fn routes(t: Table) -> Table {
    let t = queue::routes(t);
    let t = request::routes(t);
    let t = ticket::routes(t);
    let t = settings::routes(t);
    let t = catalog::routes(t);
    let t = policies::routes(t);
    let t = time::routes(t);
    let t = mail::routes(t);
    let t = kb::routes(t);
    reports::routes(t)
}
