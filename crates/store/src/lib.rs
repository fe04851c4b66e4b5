//! Civitas persistence: one module per area, the same SQL on SQLite and PostgreSQL.
//!
//! Route chosen (see docs/ARCHITECTURE.md): sqlx's `Any` driver with portable column types — ids as TEXT,
//! instants as epoch milliseconds, JSON as TEXT — and `$N` placeholders, which both backends accept. Every
//! function on tenant data takes the [`Scope`] it filters by; another organisation's row is `NotFound`.
//!
//! Errors in this layer are [`StoreError`]: `NotFound`, `Conflict` (a unique value already taken, named by
//! field), `Stale` (an `If-Match` version that no longer holds), `Forbidden` (an operation the scope can
//! never allow), `Invalid` (domain validation), and `Db` for everything the caller cannot act on.

pub mod architecture;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod billing;
pub mod cloud;
pub mod cmdb;
mod db;
pub mod desk;
pub(crate) mod direct;
pub mod idempotency;
pub mod jobs;
pub mod page;
pub mod portfolio;
pub(crate) mod refs;
pub(crate) mod row;
pub(crate) mod sql;
pub mod tenancy;

pub use db::{Backend, Db, DbOptions, now_ms};
pub use domain::authz::Scope;

use domain::Invalid;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("not found")]
    NotFound,
    #[error("{field}: {message}")]
    Conflict { field: String, message: String },
    #[error("the record has changed since it was read")]
    Stale,
    #[error("not allowed")]
    Forbidden,
    #[error(transparent)]
    Invalid(#[from] Invalid),
    #[error("database: {0}")]
    Db(#[from] sqlx::Error),
    #[error("stored data is unreadable: {0}")]
    Corrupt(String),
}

impl From<domain::FieldError> for StoreError {
    fn from(e: domain::FieldError) -> Self {
        Self::Invalid(e.into())
    }
}

pub type Result<T, E = StoreError> = std::result::Result<T, E>;

impl StoreError {
    /// Maps a unique-constraint violation on `column` to a field error; anything else passes through.
    pub(crate) fn on_unique(e: sqlx::Error, column: &str, field: &str, message: &str) -> Self {
        if let sqlx::Error::Database(d) = &e
            && d.is_unique_violation()
            && (d.message().contains(column) || d.constraint().is_some_and(|c| c.contains(column)))
        {
            return Self::Conflict {
                field: field.to_owned(),
                message: message.to_owned(),
            };
        }
        Self::Db(e)
    }

    /// Maps a foreign-key violation (a record still referred to) to a conflict on `field`; anything else
    /// passes through.
    pub(crate) fn on_in_use(e: sqlx::Error, field: &str, message: &str) -> Self {
        if let sqlx::Error::Database(d) = &e
            && d.is_foreign_key_violation()
        {
            return Self::Conflict {
                field: field.to_owned(),
                message: message.to_owned(),
            };
        }
        Self::Db(e)
    }
}

/// Reads a typed id out of a text column.
pub(crate) fn parse_id<T: std::str::FromStr>(raw: &str) -> Result<T> {
    raw.parse()
        .map_err(|_| StoreError::Corrupt(format!("bad id {raw:?}")))
}
