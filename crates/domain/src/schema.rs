//! How the API's document describes the time values records carry (`#[schemars(with = "…")]` on a field):
//! jiff's types serialise as ISO 8601 text, and these say so.

use schemars::{JsonSchema, Schema, SchemaGenerator, json_schema};
use std::borrow::Cow;

macro_rules! text_schema {
    ($($(#[$doc:meta])* $name:ident => $format:literal),* $(,)?) => {$(
        $(#[$doc])*
        pub struct $name;

        impl JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut SchemaGenerator) -> Schema {
                json_schema!({ "type": "string", "format": $format })
            }
        }
    )*};
}

text_schema!(
    /// A calendar day, `2026-11-23` (`jiff::civil::Date`).
    Day => "date",
    /// An instant, `2026-11-23T14:05:00Z` (`jiff::Timestamp`).
    Instant => "date-time",
    /// A time of day, `08:00:00` (`jiff::civil::Time`).
    ClockTime => "time",
);
