//! The patterns of the values the API reads as text (`#[schemars(pattern(crate::schema::MONEY))]` on a
//! request field, or `schema_with` for a value that may also be a number): money, quantities, months,
//! periods and fiscal years are strings in JSON (never floats), and their schema says which strings the
//! parsers in `domain` accept, so that the document tells a client (and a fuzzer) what a valid request
//! looks like. The tests below check each pattern against its parser.

use schemars::{Schema, SchemaGenerator, json_schema};

/// Dollars and cents, more than zero: `"1250"`, `"1250.5"`, `"0.75"` (a whole number of dollars also as a
/// JSON integer).
pub const POSITIVE_MONEY: &str = r"^([1-9][0-9]{0,8}(\.[0-9]{1,2})?|0?\.([1-9][0-9]?|0[1-9]))$";
/// Dollars and cents, zero or more.
pub const MONEY: &str = r"^[0-9]{1,9}(\.[0-9]{1,2})?$";
/// A quantity or a rate, more than zero, up to six decimal places.
pub const POSITIVE_DECIMAL: &str = r"^([1-9][0-9]{0,11}(\.[0-9]{1,6})?|0?\.[0-9]{0,5}[1-9])$";
/// A calendar month, `2026-09`.
pub const MONTH: &str = r"^(19|20)[0-9]{2}-(0[1-9]|1[0-2])$";
/// A month or a fiscal quarter, `2026-09` or `FY2027-Q1`.
pub const PERIOD: &str = r"^(2[01][0-9]{2}-(0[1-9]|1[0-2])|FY2[01][0-9]{2}-Q[1-4])$";
/// A fiscal year, `2027` or `FY2027`.
pub const FISCAL_YEAR: &str = r"^(FY)?20[0-9]{2}$";

/// An optional quantity or rate, more than zero: a decimal as a string, or a whole number.
pub fn positive_decimal(_: &mut SchemaGenerator) -> Schema {
    json_schema!({
        "anyOf": [
            { "type": "string", "pattern": POSITIVE_DECIMAL },
            { "type": "integer", "minimum": 1, "maximum": 999_999_999 },
            { "type": "null" }
        ]
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use domain::billing::money::{MAX_CENTS, decimal};
    use domain::billing::period::{Period, parse_fiscal_year};
    use domain::validation::dollars;
    use proptest::prelude::*;

    /// Whether the document's pattern admits `s`, as a JSON Schema validator reads it.
    fn matches(pattern: &str, s: &str) -> bool {
        jsonschema::is_valid(
            &serde_json::json!({ "pattern": pattern }),
            &serde_json::json!(s),
        )
    }

    /// The strings a pattern admits, generated (proptest's generator takes no anchors).
    fn admitted(pattern: &'static str) -> proptest::string::RegexGeneratorStrategy<String> {
        let bare = pattern.trim_start_matches('^').trim_end_matches('$');
        proptest::string::string_regex(bare).expect("the pattern is a regular expression")
    }

    proptest! {
        /// Whatever the money pattern admits, the parser takes as more than zero.
        #[test]
        fn a_string_the_money_pattern_admits_parses_as_a_positive_amount(s in admitted(POSITIVE_MONEY)) {
            let d = dollars("amount", &s, MAX_CENTS);
            prop_assert!(d.as_ref().is_ok_and(|c| *c > 0), "{s:?} → {d:?}");
        }

        #[test]
        fn a_string_the_decimal_pattern_admits_parses_as_a_positive_quantity(s in admitted(POSITIVE_DECIMAL)) {
            let d = decimal("quantity", &s);
            prop_assert!(d.as_ref().is_ok_and(|d| !d.is_zero()), "{s:?} → {d:?}");
        }

        #[test]
        fn a_string_the_period_pattern_admits_is_a_period(s in admitted(PERIOD)) {
            prop_assert!(Period::parse("period", &s, 7).is_ok(), "{s:?}");
        }

        #[test]
        fn a_string_the_money_pattern_admits_parses_as_an_amount(s in admitted(MONEY)) {
            prop_assert!(dollars("amount", &s, MAX_CENTS).is_ok(), "{s:?}");
        }

        #[test]
        fn a_string_the_fiscal_year_pattern_admits_is_a_fiscal_year(s in admitted(FISCAL_YEAR)) {
            prop_assert!(parse_fiscal_year("fiscal_year", &s).is_ok(), "{s:?}");
        }

        /// A slug the document admits (at the lengths it states) is one the parser takes.
        #[test]
        fn a_string_the_slug_pattern_admits_is_a_slug(
            s in admitted(domain::tenancy::SLUG_PATTERN).prop_filter("2 to 63 characters", |s| (2..=63).contains(&s.len()))
        ) {
            prop_assert!(domain::tenancy::OrgSlug::parse(&s).is_ok(), "{s:?}");
        }

        /// A month is a calendar month: its first day exists.
        #[test]
        fn a_string_the_month_pattern_admits_is_a_month(s in admitted(MONTH)) {
            prop_assert!(format!("{s}-01").parse::<jiff::civil::Date>().is_ok(), "{s:?}");
        }
    }

    #[test]
    fn the_patterns_refuse_what_the_parsers_refuse() {
        for bad in ["0", "0.00", "-1", "1.005", "", "ten"] {
            assert!(!matches(POSITIVE_MONEY, bad), "{bad:?}");
        }
        assert!(matches(MONEY, "0"));
        for bad in ["0000-01", "2026-13", "FY2027-Q5", "2026"] {
            assert!(!matches(PERIOD, bad), "{bad:?}");
        }
        assert!(matches(FISCAL_YEAR, "FY2027") && matches(FISCAL_YEAR, "2027"));
        assert!(!matches(FISCAL_YEAR, "00"));
        assert!(matches(MONTH, "2026-09") && !matches(MONTH, "0000-01"));
    }
}
