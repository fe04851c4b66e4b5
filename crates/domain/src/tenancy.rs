//! The region's organisations, their departments and sites, and the people in them.

use crate::validation::FieldError;
use serde::{Deserialize, Serialize};
use std::fmt;

/// An organisation's URL name: lower-case letters, digits and single hyphens, 2–63 characters,
/// starting with a letter (`melrose`, `north-reading`).
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct OrgSlug(String);

/// A slug as the API's document states it (2–63 characters; an organisation's, a service's, a
/// capability's): lower-case words of letters and digits joined by single hyphens, starting with a letter.
pub const SLUG_PATTERN: &str = r"^[a-z][a-z0-9]*(-[a-z0-9]+)*$";

impl OrgSlug {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim();
        let bad = |m: &str| Err(FieldError::new("slug", m));
        if s.len() < 2 || s.len() > 63 {
            return bad("must be 2 to 63 characters");
        }
        if !s
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        {
            return bad("may contain only lower-case letters, digits and hyphens");
        }
        if !s.as_bytes()[0].is_ascii_lowercase() {
            return bad("must start with a letter");
        }
        if s.ends_with('-') || s.contains("--") {
            return bad("must not end with a hyphen or contain two in a row");
        }
        Ok(Self(s.to_owned()))
    }

    /// A slug made from a place name: "North Reading" → `north-reading`.
    pub fn from_name(name: &str) -> Result<Self, FieldError> {
        let mut out = String::new();
        for c in name.trim().chars() {
            if c.is_ascii_alphanumeric() {
                out.push(c.to_ascii_lowercase());
            } else if !out.ends_with('-') && !out.is_empty() {
                out.push('-');
            }
        }
        Self::parse(out.trim_end_matches('-'))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for OrgSlug {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> Deserialize<'de> for OrgSlug {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        Self::parse(&s).map_err(|e| serde::de::Error::custom(e.message))
    }
}

/// What kind of organisation a member is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum OrgKind {
    Hub,
    City,
    Town,
    SchoolDistrict,
    Authority,
}

impl OrgKind {
    pub const MEMBER_KINDS: [OrgKind; 4] = [
        Self::City,
        Self::Town,
        Self::SchoolDistrict,
        Self::Authority,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::Hub => "hub",
            Self::City => "city",
            Self::Town => "town",
            Self::SchoolDistrict => "school-district",
            Self::Authority => "authority",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::Hub => "Hub",
            Self::City => "City",
            Self::Town => "Town",
            Self::SchoolDistrict => "School district",
            Self::Authority => "Regional authority",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        match raw.trim() {
            "hub" => Ok(Self::Hub),
            "city" => Ok(Self::City),
            "town" => Ok(Self::Town),
            "school-district" => Ok(Self::SchoolDistrict),
            "authority" => Ok(Self::Authority),
            _ => Err(FieldError::new(
                "kind",
                "must be one of city, town, school-district, authority",
            )),
        }
    }
}

/// What kind of building a site is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "kebab-case")]
pub enum SiteKind {
    CityHall,
    School,
    PublicSafety,
    PublicWorks,
    Library,
    DataCenter,
    Other,
}

impl SiteKind {
    pub const ALL: [SiteKind; 7] = [
        Self::CityHall,
        Self::School,
        Self::PublicSafety,
        Self::PublicWorks,
        Self::Library,
        Self::DataCenter,
        Self::Other,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Self::CityHall => "city-hall",
            Self::School => "school",
            Self::PublicSafety => "public-safety",
            Self::PublicWorks => "public-works",
            Self::Library => "library",
            Self::DataCenter => "data-center",
            Self::Other => "other",
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Self::CityHall => "City or town hall",
            Self::School => "School",
            Self::PublicSafety => "Police or fire station",
            Self::PublicWorks => "Public works yard",
            Self::Library => "Library",
            Self::DataCenter => "Data center",
            Self::Other => "Other",
        }
    }

    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        Self::ALL.into_iter().find(|k| k.as_str() == raw.trim()).ok_or_else(|| {
            FieldError::new(
                "kind",
                "must be one of city-hall, school, public-safety, public-works, library, data-center, other",
            )
        })
    }
}

/// An email address, trimmed and lower-cased. Checked for shape only: one `@`, a dotted domain, no spaces.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, schemars::JsonSchema)]
#[serde(transparent)]
pub struct Email(String);

impl Email {
    pub fn parse(raw: &str) -> Result<Self, FieldError> {
        let s = raw.trim().to_lowercase();
        let bad = || FieldError::new("email", "must be an email address such as name@town.gov");
        if s.len() > 254 || s.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err(bad());
        }
        let (local, domain) = s.split_once('@').ok_or_else(bad)?;
        if local.is_empty()
            || domain.contains('@')
            || !domain.contains('.')
            || domain.starts_with('.')
            || domain.ends_with('.')
            || domain.contains("..")
        {
            return Err(bad());
        }
        Ok(Self(s))
    }

    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

/// A new password: see [`crate::password`] (NIST SP 800-63B: length, not composition; no common
/// password, no pattern, not the person's email or name).
pub fn check_new_password(
    field: &str,
    raw: &str,
    email: &str,
    name: &str,
) -> Result<(), FieldError> {
    crate::password::check_new_password(field, raw, crate::password::Owner { email, name })
}

/// A population figure, as published by the Census Bureau.
pub fn parse_population(raw: Option<i64>) -> Result<Option<i64>, FieldError> {
    match raw {
        Some(p) if !(0..=100_000_000).contains(&p) => Err(FieldError::new(
            "population",
            "must be between 0 and 100,000,000",
        )),
        other => Ok(other),
    }
}

/// The month (1–12) a fiscal year starts; Massachusetts municipalities use July.
pub fn parse_fiscal_year_start(raw: i64) -> Result<u8, FieldError> {
    u8::try_from(raw)
        .ok()
        .filter(|m| (1..=12).contains(m))
        .ok_or_else(|| {
            FieldError::new(
                "fiscal_year_start_month",
                "must be a month number from 1 to 12",
            )
        })
}

/// An IANA time zone name that this machine's time zone database knows.
pub fn parse_time_zone(raw: &str) -> Result<String, FieldError> {
    let s = raw.trim();
    jiff::tz::TimeZone::get(s)
        .map(|_| s.to_owned())
        .map_err(|_| {
            FieldError::new(
                "time_zone",
                "must be an IANA time zone such as America/New_York",
            )
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn slugs_are_lower_case_with_single_hyphens() {
        assert!(OrgSlug::parse("north-reading").is_ok());
        assert!(OrgSlug::parse("melrose").is_ok());
        for bad in ["", "a", "North", "1town", "town-", "a--b", "a_b", "a b"] {
            assert!(OrgSlug::parse(bad).is_err(), "{bad} should be refused");
        }
        assert_eq!(
            OrgSlug::from_name("North Reading").map(|s| s.0),
            Ok("north-reading".into())
        );
        assert_eq!(
            OrgSlug::from_name("Manchester-by-the-Sea").map(|s| s.0),
            Ok("manchester-by-the-sea".into())
        );
    }

    #[test]
    fn emails_are_normalised() {
        assert_eq!(
            Email::parse(" Ann@Melrose.Gov ").map(|e| e.0),
            Ok("ann@melrose.gov".into())
        );
        for bad in [
            "ann",
            "ann@",
            "@x.gov",
            "a@b",
            "a b@c.gov",
            "a@b..gov",
            "a@@b.gov",
        ] {
            assert!(Email::parse(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn kinds_round_trip() {
        for k in SiteKind::ALL {
            assert_eq!(SiteKind::parse(k.as_str()), Ok(k));
        }
        for k in OrgKind::MEMBER_KINDS {
            assert_eq!(OrgKind::parse(k.as_str()), Ok(k));
        }
    }

    #[test]
    fn settings_are_bounded() {
        assert_eq!(parse_fiscal_year_start(7), Ok(7));
        assert!(parse_fiscal_year_start(13).is_err());
        assert!(parse_fiscal_year_start(0).is_err());
        assert!(parse_population(Some(-1)).is_err());
        assert!(parse_time_zone("America/New_York").is_ok());
        assert!(parse_time_zone("Mars/Olympus").is_err());
        assert!(check_new_password("password", "short", "a@b.gov", "A").is_err());
    }
}

pub mod invitations;
pub mod proposals;

pub mod drafts {
    //! Validated inputs for creating and editing the directory. Each `parse` reads the raw form or JSON
    //! fields (all optional strings, so that a missing field is a field error and not a decoding error) and
    //! reports every problem at once.

    use super::*;
    use crate::calendar::{HolidayRules, WeeklyHours};
    use crate::validation::{Collector, Invalid, optional_text, text};

    /// A member organisation as typed into the form or the API.
    #[derive(Debug, Default, Clone, Deserialize, Serialize, schemars::JsonSchema)]
    pub struct RawOrg {
        /// Part of every address of the organisation; derived from the name when not given.
        #[schemars(
            regex(pattern = SLUG_PATTERN),
            length(min = 2, max = 63)
        )]
        pub slug: Option<String>,
        #[schemars(length(min = 1, max = 120))]
        pub name: Option<String>,
        #[schemars(with = "Option<OrgKind>")]
        pub kind: Option<String>,
        #[schemars(length(max = 80))]
        pub county: Option<String>,
        #[serde(default, deserialize_with = "lenient_i64")]
        #[schemars(with = "Option<u32>", range(max = 100_000_000))]
        pub population: Option<i64>,
        /// An IANA time zone (America/New_York when not given).
        #[serde(default)]
        #[schemars(schema_with = "time_zone_schema")]
        pub time_zone: Option<String>,
        #[serde(default, deserialize_with = "lenient_i64")]
        #[schemars(with = "Option<u8>", range(min = 1, max = 12))]
        pub fiscal_year_start_month: Option<i64>,
        /// Monday first: `"08:00-17:00"` or empty for closed.
        #[schemars(
            length(equal = 7),
            inner(regex(
                pattern = r"^(([01][0-9]|2[0-3]):[0-5][0-9]-([01][0-9]|2[0-3]):[0-5][0-9])?$"
            ))
        )]
        pub business_hours: Option<Vec<String>>,
        pub observe_federal_holidays: Option<bool>,
        pub observe_massachusetts_holidays: Option<bool>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct OrgDraft {
        pub slug: OrgSlug,
        pub name: String,
        pub kind: OrgKind,
        pub county: Option<String>,
        pub population: Option<i64>,
        pub time_zone: String,
        pub fiscal_year_start_month: u8,
        pub business_hours: WeeklyHours,
        pub holiday_rules: HolidayRules,
    }

    impl OrgDraft {
        /// A new member: slug, name and kind required; the rest defaults (America/New_York, July, 8–5).
        pub fn parse(raw: &RawOrg) -> Result<Self, Invalid> {
            let mut c = Collector::new();
            let name = c.take(text("name", raw.name.as_deref().unwrap_or(""), 120));
            let slug = match raw.slug.as_deref().map(str::trim) {
                Some(s) if !s.is_empty() => c.take(OrgSlug::parse(s)),
                _ => name.as_deref().and_then(|n| c.take(OrgSlug::from_name(n))),
            };
            let kind = c.take(OrgKind::parse(raw.kind.as_deref().unwrap_or("")).and_then(|k| {
                if k == OrgKind::Hub {
                    Err(FieldError::new("kind", "a region has one hub; members are city, town, school-district or authority"))
                } else {
                    Ok(k)
                }
            }));
            let base = Self {
                slug: slug.unwrap_or_else(|| OrgSlug("placeholder".into())),
                name: name.unwrap_or_default(),
                kind: kind.unwrap_or(OrgKind::Town),
                county: None,
                population: None,
                time_zone: "America/New_York".into(),
                fiscal_year_start_month: 7,
                business_hours: WeeklyHours::default(),
                holiday_rules: HolidayRules::default(),
            };
            let updated = base.apply_settings(raw, &mut c);
            c.finish().map(|()| updated)
        }

        /// Applies the optional settings fields present in `raw` on top of `self` (used by edits too).
        pub fn apply_settings(mut self, raw: &RawOrg, c: &mut Collector) -> Self {
            if let Some(county) = &raw.county {
                self.county = c.take(optional_text("county", Some(county), 80)).flatten();
            }
            if raw.population.is_some() {
                self.population = c.take(parse_population(raw.population)).flatten();
            }
            if let Some(tz) = &raw.time_zone
                && let Some(tz) = c.take(parse_time_zone(tz))
            {
                self.time_zone = tz;
            }
            if let Some(m) = raw.fiscal_year_start_month
                && let Some(m) = c.take(parse_fiscal_year_start(m))
            {
                self.fiscal_year_start_month = m;
            }
            if let Some(days) = &raw.business_hours {
                if days.len() == 7 {
                    for (i, d) in days.iter().enumerate() {
                        if let Some(h) = c.take(WeeklyHours::parse_day(i, d)) {
                            self.business_hours.days[i] = h;
                        }
                    }
                } else {
                    c.push(FieldError::new(
                        "business_hours",
                        "must list 7 days, Monday first",
                    ));
                }
            }
            if let Some(f) = raw.observe_federal_holidays {
                self.holiday_rules.federal = f;
            }
            if let Some(m) = raw.observe_massachusetts_holidays {
                self.holiday_rules.massachusetts = m;
            }
            self
        }

        /// An edit: every field optional; absent fields keep their current value. The slug never changes
        /// (it is in every URL); the hub's kind stays `hub`.
        pub fn edit(current: Self, raw: &RawOrg) -> Result<Self, Invalid> {
            let mut c = Collector::new();
            let mut next = current;
            if let Some(n) = &raw.name
                && let Some(n) = c.take(text("name", n, 120))
            {
                next.name = n;
            }
            if let Some(s) = &raw.slug
                && s.trim() != next.slug.as_str()
            {
                c.push(FieldError::new(
                    "slug",
                    "cannot be changed: it is part of every address of the organisation",
                ));
            }
            if let Some(k) = &raw.kind {
                match OrgKind::parse(k) {
                    Ok(k) if (k == OrgKind::Hub) == (next.kind == OrgKind::Hub) => next.kind = k,
                    Ok(_) => c.push(FieldError::new(
                        "kind",
                        "the hub stays the hub; members cannot become the hub",
                    )),
                    Err(e) => c.push(e),
                }
            }
            let next = next.apply_settings(raw, &mut c);
            c.finish().map(|()| next)
        }
    }

    /// Accepts a number, a numeric string or an empty string (as `None`): HTML forms send strings.
    fn lenient_i64<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        #[derive(Deserialize)]
        #[serde(untagged)]
        enum N {
            I(i64),
            S(String),
        }
        match Option::<N>::deserialize(d)? {
            None => Ok(None),
            Some(N::I(i)) => Ok(Some(i)),
            Some(N::S(s)) if s.trim().is_empty() => Ok(None),
            Some(N::S(s)) => s
                .trim()
                .replace(',', "")
                .parse()
                .map(Some)
                .map_err(|_| serde::de::Error::custom("must be a whole number")),
        }
    }

    /// The time zones the server knows, the values `time_zone` takes.
    fn time_zone_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
        let mut names: Vec<serde_json::Value> = jiff::tz::db()
            .available()
            .map(|n| serde_json::Value::String(n.as_str().to_owned()))
            .collect();
        names.sort_by(|a, b| a.as_str().cmp(&b.as_str()));
        names.push(serde_json::Value::Null);
        schemars::json_schema!({ "type": ["string", "null"], "enum": names })
    }

    #[derive(Debug, Default, Clone, Deserialize, Serialize, schemars::JsonSchema)]
    pub struct RawDepartment {
        #[schemars(length(min = 1, max = 120))]
        pub name: Option<String>,
    }

    pub fn parse_department(raw: &RawDepartment) -> Result<String, Invalid> {
        text("name", raw.name.as_deref().unwrap_or(""), 120).map_err(Invalid::from)
    }

    #[derive(Debug, Default, Clone, Deserialize, Serialize, schemars::JsonSchema)]
    pub struct RawSite {
        #[schemars(length(min = 1, max = 120))]
        pub name: Option<String>,
        #[schemars(length(min = 1, max = 200))]
        pub address: Option<String>,
        #[schemars(with = "Option<SiteKind>")]
        pub kind: Option<String>,
    }

    #[derive(Debug, Clone, PartialEq, Eq)]
    pub struct SiteDraft {
        pub name: String,
        pub address: String,
        pub kind: SiteKind,
    }

    pub fn parse_site(raw: &RawSite) -> Result<SiteDraft, Invalid> {
        let mut c = Collector::new();
        let name = c.take(text("name", raw.name.as_deref().unwrap_or(""), 120));
        let address = c.take(text("address", raw.address.as_deref().unwrap_or(""), 200));
        let kind = c.take(SiteKind::parse(raw.kind.as_deref().unwrap_or("")));
        c.finish()?;
        match (name, address, kind) {
            (Some(name), Some(address), Some(kind)) => Ok(SiteDraft {
                name,
                address,
                kind,
            }),
            _ => Err(Invalid::one("name", "is required")),
        }
    }

    #[derive(Debug, Default, Clone, Deserialize, Serialize, schemars::JsonSchema)]
    pub struct RawUser {
        #[schemars(email)]
        pub email: Option<String>,
        #[schemars(length(min = 1, max = 120))]
        pub name: Option<String>,
        #[schemars(with = "Option<crate::authz::Role>")]
        pub role: Option<String>,
        /// None: the person cannot sign in until a password is set.
        #[schemars(length(min = crate::password::MIN_CHARS, max = crate::password::MAX_CHARS))]
        pub password: Option<String>,
    }

    #[derive(Debug, Clone)]
    pub struct UserDraft {
        pub email: Email,
        pub name: String,
        pub role: crate::authz::Role,
        /// `None`: the person cannot sign in until a password is set.
        pub password: Option<String>,
    }

    pub fn parse_user(raw: &RawUser, on_hub: bool) -> Result<UserDraft, Invalid> {
        let mut c = Collector::new();
        let email = c.take(Email::parse(raw.email.as_deref().unwrap_or("")));
        let name = c.take(text("name", raw.name.as_deref().unwrap_or(""), 120));
        let role = c.take(
            crate::authz::Role::parse(raw.role.as_deref().unwrap_or(""))
                .and_then(|r| r.check_grantable(on_hub).map(|()| r)),
        );
        let password = match raw.password.as_deref() {
            None | Some("") => None,
            Some(p) => c.take(
                check_new_password(
                    "password",
                    p,
                    raw.email.as_deref().unwrap_or(""),
                    raw.name.as_deref().unwrap_or(""),
                )
                .map(|()| p.to_owned()),
            ),
        };
        c.finish()?;
        match (email, name, role) {
            (Some(email), Some(name), Some(role)) => Ok(UserDraft {
                email,
                name,
                role,
                password,
            }),
            _ => Err(Invalid::one("email", "is required")),
        }
    }

    #[cfg(test)]
    mod tests {
        use super::*;

        #[test]
        fn a_new_member_needs_name_and_kind_and_gets_defaults() {
            let raw = RawOrg {
                name: Some("North Reading".into()),
                kind: Some("town".into()),
                ..Default::default()
            };
            let d = OrgDraft::parse(&raw).unwrap();
            assert_eq!(d.slug.as_str(), "north-reading");
            assert_eq!(d.time_zone, "America/New_York");
            assert_eq!(d.fiscal_year_start_month, 7);
            let err = OrgDraft::parse(&RawOrg::default()).unwrap_err();
            let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
            assert_eq!(fields, ["name", "kind"]);
        }

        #[test]
        fn edits_keep_the_slug_and_report_bad_settings() {
            let raw = RawOrg {
                name: Some("Reading".into()),
                kind: Some("town".into()),
                ..Default::default()
            };
            let d = OrgDraft::parse(&raw).unwrap();
            let bad = RawOrg {
                slug: Some("other".into()),
                time_zone: Some("Nowhere".into()),
                ..Default::default()
            };
            let err = OrgDraft::edit(d.clone(), &bad).unwrap_err();
            assert_eq!(err.0.len(), 2);
            let ok = RawOrg {
                population: Some(25_000),
                ..Default::default()
            };
            assert_eq!(OrgDraft::edit(d, &ok).unwrap().population, Some(25_000));
        }

        #[test]
        fn users_need_a_role_that_fits_the_org() {
            let raw = RawUser {
                email: Some("a@b.gov".into()),
                name: Some("A".into()),
                role: Some("hub-admin".into()),
                password: None,
            };
            assert!(parse_user(&raw, false).is_err());
            assert!(parse_user(&raw, true).is_ok());
        }
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use crate::calendar::WeeklyHours;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_name_gives_a_valid_slug_or_a_field_error(name in "\\PC{0,80}") {
            match OrgSlug::from_name(&name) {
                Ok(slug) => prop_assert_eq!(OrgSlug::parse(slug.as_str()), Ok(slug.clone())),
                Err(e) => prop_assert_eq!(e.field, "slug"),
            }
        }

        #[test]
        fn email_parsing_is_idempotent(raw in "[A-Za-z0-9._%+-]{1,20}@[A-Za-z0-9-]{1,20}\\.[A-Za-z]{2,6}") {
            let once = Email::parse(&raw).unwrap();
            prop_assert_eq!(Email::parse(once.as_str()), Ok(once.clone()));
        }

        #[test]
        fn business_hours_round_trip(day in 0usize..7, open in 0u32..(23 * 60), len in 1u32..(12 * 60)) {
            let close = (open + len).min(23 * 60 + 59);
            prop_assume!(close > open);
            let text = format!("{:02}:{:02}-{:02}:{:02}", open / 60, open % 60, close / 60, close % 60);
            let parsed = WeeklyHours::parse_day(day, &text).unwrap();
            let mut w = WeeklyHours::default();
            w.days[day] = parsed;
            prop_assert_eq!(w.format_day(day), text);
        }

        #[test]
        fn day_parsing_never_panics(day in 0usize..9, raw in "\\PC{0,20}") {
            let _ = WeeklyHours::parse_day(day, &raw);
        }
    }
}
