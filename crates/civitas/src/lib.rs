//! The `civitas` binary's parts: configuration, wiring, the job runner, CLI commands and the demo region.
//! A library so that the integration tests start the real server the same way `civitas serve` does.

pub mod cli;
pub mod config;
pub mod demo;
pub mod demo_architecture;
pub mod demo_billing;
pub mod demo_cmdb;
pub mod demo_desk;
pub mod imap;
pub mod logging;
pub mod mailgate;
pub mod notify;
pub mod runner;
pub mod serve;
