//! The service catalog's request forms: fields an item asks for, and checking a requester's answers.

use crate::validation::{Collector, FieldError, Invalid, text};
use serde::{Deserialize, Serialize};
use std::collections::BTreeMap;

/// The kind of answer a form field takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum FieldKind {
    Text,
    Choice,
    Number,
    Date,
}

/// One question of a catalog item's request form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, schemars::JsonSchema)]
pub struct FormField {
    /// Machine name: lower-case letters, digits and underscores (`start_date`).
    pub key: String,
    pub label: String,
    pub kind: FieldKind,
    #[serde(default)]
    pub required: bool,
    /// The allowed answers of a choice field.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub choices: Vec<String>,
}

/// A field's machine name made from its label: "Start date" → `start_date`, "2nd phone" → `q_2nd_phone`.
pub fn key_from_label(label: &str) -> String {
    let mut key = String::new();
    for ch in label.trim().chars().flat_map(char::to_lowercase) {
        if ch.is_ascii_lowercase() || ch.is_ascii_digit() {
            key.push(ch);
        } else if !key.is_empty() && !key.ends_with('_') {
            key.push('_');
        }
    }
    let mut key = key.trim_end_matches('_').to_owned();
    if key.starts_with(|c: char| c.is_ascii_digit()) {
        key.insert_str(0, "q_");
    }
    key.truncate(40);
    key.trim_end_matches('_').to_owned()
}

/// Checks a form definition: keys well formed and unique, labels present, choice fields with choices.
pub fn validate_form(fields: &[FormField]) -> Result<(), Invalid> {
    let mut c = Collector::new();
    if fields.len() > 30 {
        c.push(FieldError::new("form", "at most 30 fields"));
    }
    let mut seen = std::collections::BTreeSet::new();
    for (i, f) in fields.iter().enumerate() {
        let at = format!("form[{i}]");
        let key_ok = !f.key.is_empty()
            && f.key.len() <= 40
            && f.key.starts_with(|ch: char| ch.is_ascii_lowercase())
            && f.key
                .chars()
                .all(|ch| ch.is_ascii_lowercase() || ch.is_ascii_digit() || ch == '_');
        if !key_ok {
            c.push(FieldError::new(
                format!("{at}.key"),
                "must be 1–40 lower-case letters, digits or underscores, starting with a letter",
            ));
        } else if !seen.insert(f.key.as_str()) {
            c.push(FieldError::new(format!("{at}.key"), "is used twice"));
        }
        c.take(text(&format!("{at}.label"), &f.label, 120));
        if f.kind == FieldKind::Choice && f.choices.iter().all(|s| s.trim().is_empty()) {
            c.push(FieldError::new(
                format!("{at}.choices"),
                "a choice field needs at least one choice",
            ));
        }
    }
    c.finish()
}

/// Checks the answers to a form: every required field answered, each answer of the right kind, no answer
/// to a question the form does not ask. Errors name `form.<key>`.
pub fn check_answers(
    fields: &[FormField],
    answers: &BTreeMap<String, String>,
) -> Result<BTreeMap<String, String>, Invalid> {
    let mut c = Collector::new();
    let mut out = BTreeMap::new();
    for f in fields {
        let name = format!("form.{}", f.key);
        let raw = answers.get(&f.key).map(|s| s.trim()).unwrap_or("");
        if raw.is_empty() {
            if f.required {
                c.push(FieldError::new(name, format!("{} is required", f.label)));
            }
            continue;
        }
        let ok = match f.kind {
            FieldKind::Text => text(&name, raw, 2000).map(|_| ()),
            FieldKind::Choice => {
                if f.choices.iter().any(|ch| ch == raw) {
                    Ok(())
                } else {
                    Err(FieldError::new(
                        &name,
                        format!("must be one of: {}", f.choices.join(", ")),
                    ))
                }
            }
            FieldKind::Number => raw
                .parse::<i64>()
                .map(|_| ())
                .map_err(|_| FieldError::new(&name, "must be a whole number")),
            FieldKind::Date => raw
                .parse::<jiff::civil::Date>()
                .map(|_| ())
                .map_err(|_| FieldError::new(&name, "must be a date such as 2026-12-24")),
        };
        if c.take(ok).is_some() {
            out.insert(f.key.clone(), raw.to_owned());
        }
    }
    for k in answers.keys() {
        if !fields.iter().any(|f| &f.key == k) && !answers[k].trim().is_empty() {
            c.push(FieldError::new(
                format!("form.{k}"),
                "is not a question of this form",
            ));
        }
    }
    c.finish()?;
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_are_made_from_labels() {
        assert_eq!(key_from_label("Start date"), "start_date");
        assert_eq!(key_from_label("  Laptop -- model? "), "laptop_model");
        assert_eq!(key_from_label("2nd phone"), "q_2nd_phone");
        assert_eq!(key_from_label("Équipe"), "quipe");
        assert_eq!(key_from_label("???"), "");
        assert!(key_from_label(&"word ".repeat(20)).len() <= 40);
    }

    fn laptop() -> Vec<FormField> {
        vec![
            FormField {
                key: "model".into(),
                label: "Model".into(),
                kind: FieldKind::Choice,
                required: true,
                choices: vec!["Standard".into(), "Power".into()],
            },
            FormField {
                key: "needed_by".into(),
                label: "Needed by".into(),
                kind: FieldKind::Date,
                required: false,
                choices: vec![],
            },
        ]
    }

    #[test]
    fn answers_are_checked_against_the_form() {
        let f = laptop();
        assert!(validate_form(&f).is_ok());
        let ok = check_answers(&f, &BTreeMap::from([("model".into(), "Power".into())])).unwrap();
        assert_eq!(ok.len(), 1);
        let err = check_answers(
            &f,
            &BTreeMap::from([
                ("needed_by".into(), "soon".into()),
                ("colour".into(), "red".into()),
            ]),
        )
        .unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["form.model", "form.needed_by", "form.colour"]);
    }

    #[test]
    fn form_definitions_are_validated() {
        let mut f = laptop();
        f[1].key = "model".into();
        f[0].choices.clear();
        let err = validate_form(&f).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["form[0].choices", "form[1].key"]);
    }
}
