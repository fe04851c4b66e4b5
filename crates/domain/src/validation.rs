//! Field-level validation errors, shared by every parser in the domain.

use serde::Serialize;

/// One problem with one input field, phrased for the person who typed it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, schemars::JsonSchema)]
pub struct FieldError {
    /// The field's name as the API and the form call it (`slug`, `email`, `business_hours.monday`).
    pub field: String,
    /// What is wrong and, where possible, what would be right.
    pub message: String,
}

impl FieldError {
    pub fn new(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            field: field.into(),
            message: message.into(),
        }
    }
}

/// One or more field errors: the input was refused and nothing was changed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid input: {}", .0.iter().map(|e| format!("{}: {}", e.field, e.message)).collect::<Vec<_>>().join("; "))]
pub struct Invalid(pub Vec<FieldError>);

impl Invalid {
    pub fn one(field: impl Into<String>, message: impl Into<String>) -> Self {
        Self(vec![FieldError::new(field, message)])
    }
}

impl From<FieldError> for Invalid {
    fn from(e: FieldError) -> Self {
        Self(vec![e])
    }
}

/// Collects errors from several fields so that a form reports all of them at once.
#[derive(Debug, Default)]
pub struct Collector(Vec<FieldError>);

impl Collector {
    pub fn new() -> Self {
        Self::default()
    }

    /// Keeps the value when it parsed, or records its error and returns `None`.
    pub fn take<T>(&mut self, r: Result<T, FieldError>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.0.push(e);
                None
            }
        }
    }

    pub fn push(&mut self, e: FieldError) {
        self.0.push(e);
    }

    /// Whether nothing was recorded so far.
    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// `Ok(())` when nothing was recorded.
    pub fn finish(self) -> Result<(), Invalid> {
        if self.0.is_empty() {
            Ok(())
        } else {
            Err(Invalid(self.0))
        }
    }
}

/// The invisible characters that reorder how text is displayed: embeddings and overrides (U+202A–U+202E),
/// isolates (U+2066–U+2069) and the directional marks (U+200E, U+200F, U+061C). In a one-line value —
/// a ticket's subject, a person's or an organisation's name — they serve only to make text read differently
/// from what it is (`invoice\u{202E}fdp.exe`), so single-line fields refuse them.
pub fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
}

/// A trimmed, non-empty, single-line piece of text of at most `max` characters, without control or
/// bidirectional control characters. Every one-line field goes through here.
pub fn text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let t = checked(field, raw, max)?;
    if t.chars().any(is_bidi_control) {
        return Err(FieldError::new(
            field,
            "must not contain bidirectional control characters (such as a right-to-left override), which \
             make text display differently from what it is",
        ));
    }
    Ok(t)
}

fn checked(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    let t = raw.trim();
    if t.is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if t.chars().count() > max {
        return Err(FieldError::new(
            field,
            format!("must be at most {max} characters"),
        ));
    }
    if t.chars().any(|c| c.is_control() && c != '\n' && c != '\t') {
        return Err(FieldError::new(
            field,
            "must not contain control characters",
        ));
    }
    Ok(t.to_owned())
}

/// Like [`text`] for multi-line input (a ticket's description, a reply): line endings become `\n` first.
/// Directional marks are allowed here, where right-to-left writing needs them between paragraphs.
pub fn long_text(field: &str, raw: &str, max: usize) -> Result<String, FieldError> {
    checked(field, &raw.replace("\r\n", "\n").replace('\r', "\n"), max)
}

/// Like [`text`], but an empty value is `None`.
pub fn optional_text(
    field: &str,
    raw: Option<&str>,
    max: usize,
) -> Result<Option<String>, FieldError> {
    match raw.map(str::trim) {
        None | Some("") => Ok(None),
        Some(t) => text(field, t, max).map(Some),
    }
}

/// A whole number with thousands separators: `1234567` → `1,234,567`.
pub fn grouped(n: i64) -> String {
    let digits = n.to_string();
    let mut out = String::new();
    for (i, ch) in digits.chars().enumerate() {
        if i > 0 && (digits.len() - i).is_multiple_of(3) && ch.is_ascii_digit() {
            out.push(',');
        }
        out.push(ch);
    }
    out
}

/// An amount of dollars as people type it (`1299`, `$1,299.50`, `0.5`) in exact cents, from zero to `max_cents`.
/// Empty is zero. Never through floating point.
pub fn dollars(field: &str, raw: &str, max_cents: i64) -> Result<i64, FieldError> {
    let bad = || {
        FieldError::new(
            field,
            "must be an amount of dollars such as 1299 or 1,299.50",
        )
    };
    let t = raw.trim();
    if t.is_empty() {
        return Ok(0);
    }
    let t = t.strip_prefix('$').unwrap_or(t).trim();
    let (whole, frac) = t.split_once('.').unwrap_or((t, ""));
    // Thousands separators only in their places: 1,299 and 12,345,678, not 12,34.
    let groups: Vec<&str> = whole.split(',').collect();
    let grouped_ok = groups.len() == 1
        || (!groups[0].is_empty()
            && groups[0].len() <= 3
            && groups[1..].iter().all(|g| g.len() == 3));
    let digits: String = groups.concat();
    if !grouped_ok
        || (digits.is_empty() && frac.is_empty())
        || frac.len() > 2
        || !digits.bytes().all(|b| b.is_ascii_digit())
        || !frac.bytes().all(|b| b.is_ascii_digit())
        || digits.len() > 12
    {
        return Err(bad());
    }
    let whole: i64 = if digits.is_empty() {
        0
    } else {
        digits.parse().map_err(|_| bad())?
    };
    let cents: i64 = match frac.len() {
        0 => 0,
        1 => frac.parse::<i64>().map_err(|_| bad())? * 10,
        _ => frac.parse().map_err(|_| bad())?,
    };
    let total = whole
        .checked_mul(100)
        .and_then(|w| w.checked_add(cents))
        .ok_or_else(bad)?;
    if total > max_cents {
        return Err(FieldError::new(
            field,
            format!(
                "must be at most ${}.{:02}",
                grouped(max_cents / 100),
                max_cents % 100
            ),
        ));
    }
    Ok(total)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dollars_are_exact_cents() {
        let d = |s: &str| dollars("cost", s, 100_000_000);
        assert_eq!(d(""), Ok(0));
        assert_eq!(d("1299"), Ok(129_900));
        assert_eq!(d("$1,299.50"), Ok(129_950));
        assert_eq!(d(" 0.5 "), Ok(50));
        assert_eq!(d(".05"), Ok(5));
        assert_eq!(
            dollars("cost", "12,345,678.09", i64::MAX),
            Ok(1_234_567_809)
        );
        assert_eq!(d("0.07"), Ok(7), "no floating point drift");
        for bad in [
            "12,34", "1.234", "-5", "ten", "1e3", "$", ".", "1,2345", ",123",
        ] {
            assert!(d(bad).is_err(), "{bad} must be refused");
        }
        assert_eq!(
            d("1000000.01").unwrap_err().message,
            "must be at most $1,000,000.00"
        );
    }

    #[test]
    fn text_is_trimmed_and_bounded() {
        assert_eq!(text("name", "  Malden ", 10).as_deref(), Ok("Malden"));
        assert_eq!(text("name", "   ", 10).unwrap_err().message, "is required");
        assert!(text("name", "abcdefghijk", 10).is_err());
        assert!(text("name", "a\u{0}b", 10).is_err());
        assert_eq!(optional_text("x", Some("  "), 5), Ok(None));
    }

    #[test]
    fn single_line_text_refuses_bidi_controls_and_names_the_field() {
        for c in [
            '\u{202A}', '\u{202B}', '\u{202C}', '\u{202D}', '\u{202E}', '\u{2066}', '\u{2067}',
            '\u{2068}', '\u{2069}', '\u{200E}', '\u{200F}', '\u{061C}',
        ] {
            let e = text("subject", &format!("invoice{c}fdp.exe"), 200).unwrap_err();
            assert_eq!(e.field, "subject");
            assert!(e.message.contains("right-to-left"), "{}", e.message);
            assert!(optional_text("name", Some(&format!("a{c}b")), 20).is_err());
        }
        assert_eq!(
            text("name", "שלום Malden", 40).as_deref(),
            Ok("שלום Malden")
        );
        assert!(long_text("description", "line one\u{200F}\nline two", 100).is_ok());
    }

    #[test]
    fn collector_reports_every_field() {
        let mut c = Collector::new();
        let a = c.take(text("a", "", 5));
        let b = c.take(text("b", "ok", 5));
        assert!(a.is_none());
        assert_eq!(b.as_deref(), Some("ok"));
        let err = c.finish().unwrap_err();
        assert_eq!(err.0.len(), 1);
        assert_eq!(err.0[0].field, "a");
    }
}
