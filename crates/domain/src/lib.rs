//! Civitas domain: types and rules with no I/O.
//!
//! Raw input becomes a typed value here (`OrgSlug::parse`, `Email::parse`, …) so that the store and the web
//! layer never handle unchecked strings. Nothing in this crate touches the network, the disk or the clock.

/// A closed vocabulary: an enum with its stored names, labels for people, and a parser that names the
/// field and the choices when the input is none of them. Callers import `fmt`, `FieldError`, `Serialize`
/// and `Deserialize`.
macro_rules! vocabulary {
    ($(#[$m:meta])* $name:ident, $field:literal { $($(#[$vm:meta])* $v:ident = $s:literal / $label:literal),+ $(,)? }) => {
        $(#[$m])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize, schemars::JsonSchema)]
        #[serde(rename_all = "snake_case")]
        pub enum $name { $($(#[$vm])* $v),+ }

        impl $name {
            pub const ALL: &'static [$name] = &[$(Self::$v),+];

            pub fn as_str(self) -> &'static str {
                match self { $(Self::$v => $s),+ }
            }

            pub fn label(self) -> &'static str {
                match self { $(Self::$v => $label),+ }
            }

            pub fn parse(raw: &str) -> Result<Self, FieldError> {
                let raw = raw.trim();
                Self::ALL.iter().copied().find(|v| v.as_str() == raw).ok_or_else(|| {
                    let choices: Vec<&str> = Self::ALL.iter().map(|v| v.as_str()).collect();
                    FieldError::new($field, format!("must be one of {}", choices.join(", ")))
                })
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str(self.as_str())
            }
        }
    };
}

pub mod architecture;
pub mod audit;
pub mod authz;
pub mod billing;
pub mod calendar;
pub mod cloud;
pub mod cmdb;
pub mod desk;
pub mod ids;
pub mod net;
pub mod password;
pub mod portfolio;
pub mod schema;
pub mod tenancy;
pub mod validation;

pub use validation::{FieldError, Invalid};
