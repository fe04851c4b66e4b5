//! Integration tests: the real server over real HTTP, on a fresh database per test. The backend is SQLite
//! unless CIVITAS_TEST_DATABASE_URL names a PostgreSQL server (scripts/test runs the suite on both).

#![allow(
    clippy::unwrap_used,
    reason = "in tests, a failed unwrap is a failed test with its location"
)]
mod accounts;
mod api;
mod architecture;
mod billing;
mod cli;
mod cloud;
mod cmdb;
mod csv_exports;
mod demo;
mod desk;
mod finance;
mod fuzz;
mod helpers;
mod imap;
mod isolation;
mod isolation_names;
mod mail;
mod pages;
mod portfolio;
mod proposals;
mod seats;
mod storage;
