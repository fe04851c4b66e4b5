//! Typed row decoding. A record type read from the database implements [`Decode`] once — one function
//! from a row to the value — and every query that reads it calls that, instead of repeating its column
//! mappings. The column readers of [`Cols`] keep the portable types of both backends through sqlx's `Any`
//! driver (docs/ARCHITECTURE.md, "Storage"): ids as text, booleans as 0/1 integers, instants as epoch
//! milliseconds, vocabularies as their text, JSON as text. A value that does not parse is
//! [`StoreError::Corrupt`], naming what was wrong.

use crate::{Result, StoreError, parse_id};
use sqlx::Row;
use sqlx::any::AnyRow;

/// A record type read from one row.
pub(crate) trait Decode: Sized {
    fn decode(r: &AnyRow) -> Result<Self>;
}

/// The typed column readers shared by every [`Decode`].
pub(crate) trait Cols {
    /// An id stored as text.
    fn id<T: std::str::FromStr>(&self, col: &str) -> Result<T>;
    /// An optional id stored as text or NULL.
    fn opt_id<T: std::str::FromStr>(&self, col: &str) -> Result<Option<T>>;
    /// A vocabulary value stored as its text, parsed by the domain's `parse`.
    fn vocab<T>(
        &self,
        col: &str,
        parse: fn(&str) -> std::result::Result<T, domain::FieldError>,
    ) -> Result<T>;
    /// A boolean stored as a 0/1 integer (the `Any` driver cannot decode SQLite's `BOOLEAN`).
    fn flag(&self, col: &str) -> Result<bool>;
    /// A JSON document stored as text.
    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T>;
}

impl Cols for AnyRow {
    fn id<T: std::str::FromStr>(&self, col: &str) -> Result<T> {
        parse_id(&self.try_get::<String, _>(col)?)
    }

    fn opt_id<T: std::str::FromStr>(&self, col: &str) -> Result<Option<T>> {
        self.try_get::<Option<String>, _>(col)?
            .map(|s| parse_id(&s))
            .transpose()
    }

    fn vocab<T>(
        &self,
        col: &str,
        parse: fn(&str) -> std::result::Result<T, domain::FieldError>,
    ) -> Result<T> {
        parse(&self.try_get::<String, _>(col)?).map_err(|e| StoreError::Corrupt(e.message))
    }

    fn flag(&self, col: &str) -> Result<bool> {
        Ok(self.try_get::<i64, _>(col)? != 0)
    }

    fn json<T: serde::de::DeserializeOwned>(&self, col: &str) -> Result<T> {
        serde_json::from_str(&self.try_get::<String, _>(col)?)
            .map_err(|e| StoreError::Corrupt(e.to_string()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::desk::Coverage;
    use domain::ids::OrgId;

    #[derive(Debug, PartialEq)]
    struct Probe {
        id: OrgId,
        parent: Option<OrgId>,
        coverage: Coverage,
        on: bool,
        list: Vec<i64>,
    }

    impl Decode for Probe {
        fn decode(r: &AnyRow) -> Result<Self> {
            Ok(Probe {
                id: r.id("id")?,
                parent: r.opt_id("parent")?,
                coverage: r.vocab("coverage", Coverage::parse)?,
                on: r.flag("on_")?,
                list: r.json("list")?,
            })
        }
    }

    #[tokio::test]
    async fn a_record_decodes_from_portable_columns_and_a_bad_value_is_corrupt() {
        let dir = tempfile::tempdir().unwrap();
        let url = format!("sqlite://{}", dir.path().join("r.db").display());
        let db = crate::Db::connect(&url, &crate::DbOptions::default())
            .await
            .unwrap();
        let id = OrgId::new();
        let row = sqlx::query(
            "SELECT $1 AS id, NULL AS parent, 'always_on' AS coverage, 1 AS on_, '[1,2]' AS list",
        )
        .bind(id.to_string())
        .fetch_one(&db.read)
        .await
        .unwrap();
        let probe = Probe::decode(&row).unwrap();
        assert_eq!(
            probe,
            Probe {
                id,
                parent: None,
                coverage: Coverage::AlwaysOn,
                on: true,
                list: vec![1, 2],
            }
        );
        let bad = sqlx::query(
            "SELECT 'not-an-id' AS id, NULL AS parent, 'never' AS coverage, 0 AS on_, '[' AS list",
        )
        .fetch_one(&db.read)
        .await
        .unwrap();
        assert!(
            matches!(bad.id::<OrgId>("id"), Err(StoreError::Corrupt(m)) if m.contains("not-an-id"))
        );
        assert!(matches!(
            bad.vocab("coverage", Coverage::parse),
            Err(StoreError::Corrupt(m)) if m.contains("business_hours")
        ));
        assert!(!bad.flag("on_").unwrap());
        assert!(matches!(
            bad.json::<Vec<i64>>("list"),
            Err(StoreError::Corrupt(_))
        ));
    }
}
