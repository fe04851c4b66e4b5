//! The region's organisations, their departments and sites, their people and role grants.

pub mod closures;
pub mod directory;
pub mod invitations;
pub(crate) mod org_cache;
pub mod orgs;
pub mod proposals;
pub mod seats;
pub mod users;

/// Serialises epoch milliseconds as an RFC 3339 instant in UTC (`2026-11-23T14:05:00Z`).
pub fn ser_ts<S: serde::Serializer>(ms: &i64, s: S) -> Result<S::Ok, S::Error> {
    match jiff::Timestamp::from_millisecond(*ms) {
        Ok(t) => s.serialize_str(&t.to_string()),
        Err(_) => s.serialize_i64(*ms),
    }
}

pub fn ser_opt_ts<S: serde::Serializer>(ms: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
    match ms {
        Some(ms) => ser_ts(ms, s),
        None => s.serialize_none(),
    }
}
