//! Notification templates: plain text with `{placeholders}`, written by the hub for each event.
//!
//! The language is deliberately tiny, so that a template can never run code or reach data it was not
//! given: `{name}` is replaced by its value, `{{` and `}}` are literal braces, and a line whose placeholders
//! all come out empty is left out (so "  SLA: {due}" disappears when there is no deadline). Unknown
//! placeholders and unbalanced braces are refused when the template is saved.

use crate::validation::FieldError;

/// Every placeholder a template may use, with what it stands for.
pub const PLACEHOLDERS: &[(&str, &str)] = &[
    ("name", "the recipient's name"),
    ("number", "the ticket's number"),
    ("subject", "the ticket's subject"),
    ("org", "the member the ticket belongs to"),
    ("status", "the ticket's status"),
    ("priority", "the ticket's priority"),
    ("due", "the next SLA deadline, in the member's time zone"),
    ("cost", "what a request costs the member"),
    (
        "body",
        "the newest reply, or the description of a new ticket",
    ),
    ("link", "the ticket's page"),
    (
        "account_link",
        "the recipient's account page (to change notifications)",
    ),
    ("region", "the region's name"),
];

enum Piece<'a> {
    Text(&'a str),
    Brace(char),
    Slot(&'a str),
}

/// Splits a template into text and placeholders; the error names the problem.
fn pieces(template: &str) -> Result<Vec<Piece<'_>>, String> {
    let mut out = Vec::new();
    let mut rest = template;
    while let Some(i) = rest.find(['{', '}']) {
        if i > 0 {
            out.push(Piece::Text(&rest[..i]));
        }
        let tail = &rest[i..];
        if let Some(after) = tail.strip_prefix("{{") {
            out.push(Piece::Brace('{'));
            rest = after;
        } else if let Some(after) = tail.strip_prefix("}}") {
            out.push(Piece::Brace('}'));
            rest = after;
        } else if tail.starts_with('}') {
            return Err("has a } without its {; write }} for a brace".into());
        } else {
            let Some(end) = tail.find('}') else {
                return Err("has a { without its }; write {{ for a brace".into());
            };
            let name = tail[1..end].trim();
            if !PLACEHOLDERS.iter().any(|(p, _)| *p == name) {
                return Err(format!(
                    "uses {{{name}}}, which is not a placeholder (use one of: {})",
                    PLACEHOLDERS
                        .iter()
                        .map(|(p, _)| format!("{{{p}}}"))
                        .collect::<Vec<_>>()
                        .join(", ")
                ));
            }
            out.push(Piece::Slot(name));
            rest = &tail[end + 1..];
        }
    }
    if !rest.is_empty() {
        out.push(Piece::Text(rest));
    }
    Ok(out)
}

/// Checks a template before it is saved.
pub fn check(field: &str, template: &str, max_chars: usize) -> Result<(), FieldError> {
    if template.trim().is_empty() {
        return Err(FieldError::new(field, "is required"));
    }
    if template.chars().count() > max_chars {
        return Err(FieldError::new(
            field,
            format!("must be at most {max_chars} characters"),
        ));
    }
    pieces(template)
        .map(|_| ())
        .map_err(|m| FieldError::new(field, m))
}

/// Fills a template in. Lines whose placeholders all come out empty are left out; a template that does not
/// pass [`check`] is returned as it is (it cannot be saved, so this only guards against old data).
pub fn render(template: &str, value: impl Fn(&str) -> String) -> String {
    let mut lines: Vec<String> = Vec::new();
    for line in template.split('\n') {
        let Ok(parts) = pieces(line) else {
            lines.push(line.to_owned());
            continue;
        };
        let mut text = String::new();
        let (mut slots, mut filled) = (0, 0);
        for p in parts {
            match p {
                Piece::Text(t) => text.push_str(t),
                Piece::Brace(c) => text.push(c),
                Piece::Slot(name) => {
                    slots += 1;
                    let v = value(name);
                    if !v.is_empty() {
                        filled += 1;
                    }
                    text.push_str(&v);
                }
            }
        }
        if slots == 0 || filled > 0 {
            lines.push(text);
        }
    }
    lines.join("\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn values(name: &str) -> String {
        match name {
            "number" => "42".into(),
            "subject" => "Printer jams".into(),
            "name" => "Ada".into(),
            _ => String::new(),
        }
    }

    #[test]
    fn placeholders_are_filled_and_empty_lines_left_out() {
        let t = "Hello {name},\n\n  Ticket: #{number} {subject}\n  SLA:    {due}\n{{literal}}\nBye";
        assert_eq!(
            render(t, values),
            "Hello Ada,\n\n  Ticket: #42 Printer jams\n{literal}\nBye"
        );
    }

    #[test]
    fn mistakes_are_named_when_saving() {
        assert!(check("body", "Hi {name}", 100).is_ok());
        let e = check("body", "Hi {nmae}", 100).unwrap_err();
        assert!(
            e.message.contains("{nmae}") && e.message.contains("{name}"),
            "{}",
            e.message
        );
        assert!(
            check("body", "Hi {name", 100)
                .unwrap_err()
                .message
                .contains("without its }")
        );
        assert!(
            check("body", "Hi name}", 100)
                .unwrap_err()
                .message
                .contains("without its {")
        );
        assert_eq!(check("body", "  ", 100).unwrap_err().message, "is required");
        assert!(check("body", &"x".repeat(101), 100).is_err());
    }

    #[test]
    fn a_value_cannot_inject_placeholders() {
        // A subject that looks like a placeholder is text, not a second round of substitution.
        let t = "Re: {subject}";
        assert_eq!(
            render(t, |n| if n == "subject" {
                "{link}".into()
            } else {
                "x".into()
            }),
            "Re: {link}"
        );
    }
}
