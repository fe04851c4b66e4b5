//! Civitas domain: types and rules with no I/O.
//!
//! Raw input becomes a typed value here (`OrgSlug::parse`, `Email::parse`, …) so that the store and the web
//! layer never handle unchecked strings. Nothing in this crate touches the network, the disk or the clock.

pub mod audit;
pub mod authz;
pub mod billing;
pub mod calendar;
pub mod desk;
pub mod ids;
pub mod tenancy;
pub mod validation;

pub use validation::{FieldError, Invalid};
