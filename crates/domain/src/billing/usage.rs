//! Usage records as they arrive (API batches, CSV rows): checked field by field into [`NewUsage`].

use jiff::civil::Date;
use rust_decimal::Decimal;
use serde::Deserialize;

use crate::{FieldError, Invalid};

/// Most records in one API batch.
pub const MAX_BATCH: usize = 10_000;

/// Largest quantity of one record: a billion units.
pub const MAX_RECORD_QUANTITY: i64 = 1_000_000_000;

/// A usage record as sent, before it is checked. Quantities may come as JSON numbers or strings; both are
/// read as exact decimals.
#[derive(Debug, Clone, Default, Deserialize, schemars::JsonSchema)]
pub struct RawUsage {
    /// The sender's id for the record: the same id sent twice counts once.
    #[serde(default)]
    #[schemars(
        required,
        with = "String",
        regex(pattern = r"^[^\u0000-\u001f\u007f\s][^\u0000-\u001f\u007f]{0,127}$")
    )]
    pub id: Option<String>,
    /// The member's slug.
    #[serde(default)]
    #[schemars(required, with = "String", length(min = 2, max = 63))]
    pub org: Option<String>,
    #[serde(default)]
    #[schemars(required, with = "String", regex(pattern = r"^[a-z0-9_.-]{1,64}$"))]
    pub meter: Option<String>,
    #[serde(default)]
    #[schemars(required, with = "Quantity")]
    pub quantity: Option<Quantity>,
    /// `2026-09` (the month) or `2026-09-14` (a day).
    #[serde(default)]
    #[schemars(
        required,
        with = "String",
        regex(pattern = r"^2[01][0-9]{2}-(0[1-9]|1[0-2])(-(0[1-9]|1[0-9]|2[0-8]))?$")
    )]
    pub period: Option<String>,
    #[serde(default)]
    pub source: Option<String>,
}

/// A quantity as JSON gives it: a number (read exactly, never through a float) or a string.
#[derive(Debug, Clone)]
pub struct Quantity(pub String);

impl schemars::JsonSchema for Quantity {
    fn schema_name() -> std::borrow::Cow<'static, str> {
        "Quantity".into()
    }

    fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        schemars::json_schema!({
            "description": "A whole number, or a decimal as a string (at most six decimal places) so that it stays exact.",
            "anyOf": [
                { "type": "integer", "minimum": 0, "maximum": MAX_RECORD_QUANTITY },
                { "type": "string", "pattern": r"^[0-9]{1,9}(\.[0-9]{1,6})?$" }
            ]
        })
    }
}

impl<'de> Deserialize<'de> for Quantity {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl serde::de::Visitor<'_> for V {
            type Value = Quantity;
            fn expecting(&self, f: &mut std::fmt::Formatter) -> std::fmt::Result {
                f.write_str("a number or a string holding one")
            }
            fn visit_str<E: serde::de::Error>(self, v: &str) -> Result<Quantity, E> {
                Ok(Quantity(v.to_owned()))
            }
            fn visit_u64<E: serde::de::Error>(self, v: u64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_i64<E: serde::de::Error>(self, v: i64) -> Result<Quantity, E> {
                Ok(Quantity(v.to_string()))
            }
            fn visit_f64<E: serde::de::Error>(self, _: f64) -> Result<Quantity, E> {
                Err(E::custom(
                    "a quantity with decimals must be sent as a string (\"12.5\"), so that it stays exact",
                ))
            }
        }
        d.deserialize_any(V)
    }
}

/// A checked usage record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUsage {
    /// The sender's id for the record: the same id sent twice counts once.
    pub id: String,
    /// The member's slug.
    pub org: String,
    pub meter: String,
    /// The day of use (the first of the month for a monthly record).
    pub used_on: Date,
    /// The quantity in millionths of a unit.
    pub quantity_micros: i64,
    pub source: String,
}

impl NewUsage {
    /// `YYYY-MM`: the month the record counts in.
    pub fn month(&self) -> String {
        super::period::month_key(self.used_on)
    }
}

/// A quantity in millionths as a decimal.
pub fn from_micros(micros: i64) -> Decimal {
    Decimal::new(micros, 6).normalize()
}

/// A decimal quantity in millionths (it must have at most six decimal places).
pub fn to_micros(d: Decimal) -> Option<i64> {
    let scaled = d.checked_mul(Decimal::from(1_000_000))?;
    if !scaled.fract().is_zero() {
        return None;
    }
    i64::try_from(scaled).ok()
}

/// A meter's name: lower-case letters, digits, `_`, `.` and `-`, 1–64 characters (`mailboxes`,
/// `storage.gb_month`, `vm`).
pub fn meter_name(field: &str, raw: &str) -> Result<String, FieldError> {
    let m = raw.trim();
    if m.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if m.len() > 64
        || !m
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b"_.-".contains(&b))
    {
        return Err(FieldError::new(
            field,
            format!(
                "{m:?} is not a meter name (lower-case letters, digits, _ . -, at most 64 characters)"
            ),
        ));
    }
    Ok(m.to_owned())
}

/// The day a period names: `2026-09` (the month, counted from its first day) or `2026-09-14`.
pub fn usage_day(field: &str, raw: &str) -> Result<Date, FieldError> {
    let raw = raw.trim();
    let bad = || {
        FieldError::new(
            field,
            format!("{raw:?} is not a period (a month like 2026-09 or a day like 2026-09-14)"),
        )
    };
    let day: Date = match raw.len() {
        7 => format!("{raw}-01").parse().map_err(|_| bad())?,
        10 => raw.parse().map_err(|_| bad())?,
        _ => return Err(bad()),
    };
    if !(2000..=2200).contains(&day.year()) {
        return Err(bad());
    }
    Ok(day)
}

impl RawUsage {
    /// Checks one record; errors are named `{prefix}.{field}` (`records[3].quantity`, `row 4: quantity`).
    pub fn check(&self, prefix: &str) -> Result<NewUsage, Vec<FieldError>> {
        let mut errors = Vec::new();
        let name = |f: &str| format!("{prefix}{f}");
        let text = |f: &str, v: &Option<String>, max: usize, errors: &mut Vec<FieldError>| {
            let v = v.as_deref().unwrap_or("").trim();
            if v.is_empty() {
                errors.push(FieldError::new(name(f), "is required"));
                None
            } else if v.chars().count() > max || v.chars().any(char::is_control) {
                errors.push(FieldError::new(
                    name(f),
                    format!("must be at most {max} printable characters"),
                ));
                None
            } else {
                Some(v.to_owned())
            }
        };
        let id = text("id", &self.id, 128, &mut errors);
        let org = text("org", &self.org, 64, &mut errors);
        let meter = match meter_name(&name("meter"), self.meter.as_deref().unwrap_or("")) {
            Ok(m) => Some(m),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let quantity = match &self.quantity {
            None => {
                errors.push(FieldError::new(name("quantity"), "is required"));
                None
            }
            Some(q) => match super::money::decimal(&name("quantity"), &q.0) {
                Err(e) => {
                    errors.push(e);
                    None
                }
                Ok(d) if d > Decimal::from(MAX_RECORD_QUANTITY) => {
                    errors.push(FieldError::new(
                        name("quantity"),
                        "is over a billion units for one record",
                    ));
                    None
                }
                Ok(d) => to_micros(d),
            },
        };
        let used_on = match usage_day(&name("period"), self.period.as_deref().unwrap_or("")) {
            Ok(d) => Some(d),
            Err(e) => {
                errors.push(e);
                None
            }
        };
        let source = match self.source.as_deref().map(str::trim) {
            None | Some("") => Some("api".to_owned()),
            Some(s) if s.chars().count() <= 100 && !s.chars().any(char::is_control) => {
                Some(s.to_owned())
            }
            Some(_) => {
                errors.push(FieldError::new(
                    name("source"),
                    "must be at most 100 printable characters",
                ));
                None
            }
        };
        match (id, org, meter, quantity, used_on, source) {
            (
                Some(id),
                Some(org),
                Some(meter),
                Some(quantity_micros),
                Some(used_on),
                Some(source),
            ) if errors.is_empty() => Ok(NewUsage {
                id,
                org,
                meter,
                used_on,
                quantity_micros,
                source,
            }),
            _ => Err(errors),
        }
    }
}

/// Checks a whole batch: every record's errors, named by position, or every record checked.
pub fn check_batch(raw: &[RawUsage]) -> Result<Vec<NewUsage>, Invalid> {
    if raw.is_empty() {
        return Err(Invalid::one("records", "must hold at least one record"));
    }
    if raw.len() > MAX_BATCH {
        return Err(Invalid::one(
            "records",
            format!(
                "holds {} records; send at most {MAX_BATCH} per batch",
                raw.len()
            ),
        ));
    }
    let mut out = Vec::with_capacity(raw.len());
    let mut errors = Vec::new();
    for (i, r) in raw.iter().enumerate() {
        match r.check(&format!("records[{i}].")) {
            Ok(u) => out.push(u),
            Err(mut e) => {
                // A batch with thousands of bad records reports the first hundred problems.
                if errors.len() < 100 {
                    errors.append(&mut e);
                }
            }
        }
    }
    if errors.is_empty() {
        Ok(out)
    } else {
        Err(Invalid(errors))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(json: &str) -> RawUsage {
        serde_json::from_str(json).unwrap()
    }

    #[test]
    fn a_good_record_is_read_exactly() {
        let u = raw(r#"{"id":"vc-1","org":"malden","meter":"storage.gb_month","quantity":"1234.567891","period":"2026-09"}"#)
            .check("records[0].")
            .unwrap();
        assert_eq!(u.quantity_micros, 1_234_567_891);
        assert_eq!(u.month(), "2026-09");
        assert_eq!(u.source, "api");
        assert_eq!(from_micros(u.quantity_micros).to_string(), "1234.567891");
        let whole = raw(r#"{"id":"a","org":"malden","meter":"vm","quantity":3,"period":"2026-09-14","source":"vcenter"}"#)
            .check("")
            .unwrap();
        assert_eq!(
            (whole.quantity_micros, whole.used_on.day()),
            (3_000_000, 14)
        );
    }

    #[test]
    fn every_bad_field_is_named_with_its_record() {
        let e =
            raw(r#"{"id":"","org":"malden","meter":"GB Month","quantity":"-1","period":"Sept"}"#)
                .check("records[7].")
                .unwrap_err();
        let fields: Vec<&str> = e.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(
            fields,
            [
                "records[7].id",
                "records[7].meter",
                "records[7].quantity",
                "records[7].period"
            ]
        );
        let e = raw(
            r#"{"id":"x","org":"malden","meter":"vm","quantity":"0.0000001","period":"2026-09"}"#,
        )
        .check("")
        .unwrap_err();
        assert!(e[0].message.contains("decimal places"));
    }

    #[test]
    fn a_float_quantity_is_refused_rather_than_rounded() {
        let e = serde_json::from_str::<RawUsage>(r#"{"quantity": 0.1}"#).unwrap_err();
        assert!(e.to_string().contains("as a string"), "{e}");
    }

    #[test]
    fn batches_are_checked_whole() {
        assert!(check_batch(&[]).is_err());
        let good = raw(r#"{"id":"a","org":"m","meter":"vm","quantity":1,"period":"2026-09"}"#);
        let bad = raw(r#"{"id":"b","org":"m","meter":"vm","period":"2026-09"}"#);
        let e = check_batch(&[good.clone(), bad]).unwrap_err();
        assert_eq!(e.0[0].field, "records[1].quantity");
        assert_eq!(check_batch(&[good]).unwrap().len(), 1);
    }
}
