//! Shared-services economics: rate cards, agreements and subscriptions, usage metering (and, built on them,
//! invoice runs, credits and the hub's finance: cost pools, recovery, forecasts, savings). The hub prices and bills; each member reads its own agreements, usage and invoices. The
//! arithmetic lives in `domain::billing`; this layer gathers its inputs and keeps its results.

pub mod agreements;
pub mod finance;
pub mod invoices;
pub mod rates;
pub mod usage;
