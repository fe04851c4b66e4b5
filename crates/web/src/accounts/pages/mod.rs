//! HTML pages of the feature.

pub(crate) mod account;
pub(crate) mod invitations;
pub(crate) mod people;
pub(crate) mod session;

use crate::routes::Table;

pub(crate) fn routes(t: Table) -> Table {
    let t = session::routes(t);
    let t = account::routes(t);
    let t = people::routes(t);
    invitations::routes(t)
}
