//! The service desk: catalog, tickets, SLA clocks, full-text search.

pub mod catalog;
pub mod kb;
pub mod mail;
pub mod notify;
pub mod reports;
pub mod search;
pub mod starter;
pub mod templates;
pub mod tickets;
pub mod time;
