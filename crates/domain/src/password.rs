//! The rule for a new password, after NIST SP 800-63B §5.1.1.2: length rather than composition — at least
//! 12 characters, any characters, spaces included — and a refusal, with the reason, of passwords an
//! attacker tries first: the most common ones (a bundled list of 10,000, see `data/PROVENANCE.md`, compared
//! case-insensitively, also with digits and symbols around them: `Password1234!` is `password`), repeated
//! or sequential characters, whitespace alone, and the person's own email address or name.
//!
//! One rule for every way a password is set: `civitas user add` and `civitas user password`, the account
//! page, accepting an invitation and the API's user creation.

use crate::FieldError;
use std::collections::HashSet;
use std::sync::OnceLock;

pub const MIN_CHARS: usize = 12;
pub const MAX_CHARS: usize = 256;

/// Whose password it is: it must not be their email address or their name.
#[derive(Debug, Clone, Copy, Default)]
pub struct Owner<'a> {
    pub email: &'a str,
    pub name: &'a str,
}

fn common() -> &'static HashSet<String> {
    static SET: OnceLock<HashSet<String>> = OnceLock::new();
    SET.get_or_init(|| {
        include_str!("../data/common-passwords.txt")
            .lines()
            .map(|l| l.trim().to_lowercase())
            .filter(|l| !l.is_empty())
            .collect()
    })
}

/// Letters and digits only, lower-case: `Dana Smith` and `dana.smith` compare equal.
fn folded(s: &str) -> String {
    s.chars()
        .filter(|c| c.is_alphanumeric())
        .flat_map(char::to_lowercase)
        .collect()
}

/// Without the digits and symbols before and after the letters: `!!password1234` → `password`.
fn core(s: &str) -> &str {
    s.trim_matches(|c: char| !c.is_alphabetic())
}

/// Is in the common list as typed, without its separators, or without the digits and symbols around it.
pub fn is_common(raw: &str) -> bool {
    let lower = raw.to_lowercase();
    let f = folded(&lower);
    let set = common();
    [lower.as_str(), f.as_str(), core(&lower), core(&f)]
        .iter()
        .any(|c| !c.is_empty() && set.contains(*c))
}

/// `aaaaaaaaaaaa`, `abcabcabcabc`, `passwordpassword`: a shorter unit repeated, or very few different
/// characters.
fn is_repetitive(chars: &[char]) -> bool {
    let distinct: HashSet<&char> = chars.iter().collect();
    if distinct.len() < 4 {
        return true;
    }
    let n = chars.len();
    (1..=n / 2).any(|p| n.is_multiple_of(p) && (p..n).all(|i| chars[i] == chars[i - p]))
}

/// `abcdefghijkl`, `123456789012`, `zyxwvutsrqpo`: every character one after (or before) the last; digits
/// wrap from 9 to 0.
fn is_sequential(chars: &[char]) -> bool {
    let step = |a: char, b: char| -> Option<i64> {
        if a.is_ascii_digit() && b.is_ascii_digit() {
            let d = (i64::from(b as u8) - i64::from(a as u8)).rem_euclid(10);
            return Some(if d == 9 { -1 } else { d });
        }
        Some(i64::from(u32::from(b)) - i64::from(u32::from(a)))
    };
    let Some(first) = chars.get(..2).and_then(|w| step(w[0], w[1])) else {
        return false;
    };
    (first == 1 || first == -1) && chars.windows(2).all(|w| step(w[0], w[1]) == Some(first))
}

/// Checks a new password; the error says why it was refused.
pub fn check_new_password(field: &str, raw: &str, owner: Owner<'_>) -> Result<(), FieldError> {
    let chars: Vec<char> = raw.chars().collect();
    if chars.len() < MIN_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at least {MIN_CHARS} characters"),
        ));
    }
    if chars.len() > MAX_CHARS {
        return Err(FieldError::new(
            field,
            format!("must be at most {MAX_CHARS} characters"),
        ));
    }
    if raw.trim().is_empty() {
        return Err(FieldError::new(field, "must not be only spaces"));
    }
    let pw = folded(raw);
    let email = owner.email.trim().to_lowercase();
    let local = email.split('@').next().unwrap_or("");
    for (own, what) in [
        (folded(&email), "your email address"),
        (folded(local), "your email address"),
        (folded(owner.name), "your name"),
    ] {
        if !own.is_empty() && (pw == own || (own.chars().count() >= 4 && pw.contains(&own))) {
            return Err(FieldError::new(
                field,
                format!("must not contain {what}; choose a phrase only you would think of"),
            ));
        }
    }
    let lower: Vec<char> = raw.to_lowercase().chars().collect();
    if is_repetitive(&lower) {
        return Err(FieldError::new(
            field,
            "must not be a repeated pattern such as aaaaaaaaaaaa or abcabcabcabc",
        ));
    }
    if is_sequential(&lower) {
        return Err(FieldError::new(
            field,
            "must not be a sequence such as abcdefghijkl or 123456789012",
        ));
    }
    if is_common(raw) {
        return Err(FieldError::new(
            field,
            "is too common: it is on a list of the passwords people use most, which attackers try first; \
             choose a longer phrase of unrelated words",
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(pw: &str) -> Result<(), String> {
        check_new_password(
            "password",
            pw,
            Owner {
                email: "dsmith@north-reading.example.gov",
                name: "Dana Smith",
            },
        )
        .map_err(|e| e.message)
    }

    #[test]
    fn the_issues_examples_are_refused_with_the_reason() {
        let why = |pw: &str| check(pw).unwrap_err();
        assert!(why("short").contains("at least 12"));
        assert!(why("aaaaaaaaaaaa").contains("repeated"));
        assert!(why("password1234").contains("too common"));
        assert!(why("            ").contains("only spaces"));
        assert!(why("dsmith@north-reading.example.gov").contains("email"));
        assert!(why("DSmith-at-town-1975").contains("email"));
        assert!(why("DanaSmith2026!").contains("name"));
        assert!(why("dana smith 1975").contains("name"));
    }

    #[test]
    fn common_passwords_are_refused_whatever_their_case_and_decoration() {
        for pw in [
            "PASSWORD1234",
            "Password1234!",
            "!!!football!!!",
            "qwertyuiop123",
            "iloveyou1234",
            "pass word 1234",
            "1234567890123",
        ] {
            assert!(check(pw).is_err(), "{pw} must be refused");
        }
        assert!(is_common("Dragon"));
        assert!(!is_common("correct-horse-battery"));
    }

    #[test]
    fn patterns_are_refused() {
        for pw in [
            "abcabcabcabc",
            "passwordpassword",
            "abcdefghijklm",
            "123456789012",
            "zyxwvutsrqpo",
            "ababababababab",
            "aaaaaaaaaaab",
        ] {
            assert!(check(pw).is_err(), "{pw} must be refused");
        }
    }

    #[test]
    fn long_unrelated_phrases_pass_and_spaces_count() {
        for pw in [
            "correct-horse-battery",
            "civitas-demo-2026",
            "tuna melt on a rainy tuesday",
            "  Kettle Lighthouse 77  ",
            "ключ от сарая у соседа",
        ] {
            assert_eq!(check(pw), Ok(()), "{pw} must be accepted");
        }
        assert!(
            check(&"x1".repeat(129))
                .unwrap_err()
                .contains("at most 256")
        );
    }

    #[test]
    fn a_short_name_is_refused_only_as_the_whole_password() {
        let owner = Owner {
            email: "al@x.gov",
            name: "Al",
        };
        assert!(check_new_password("p", "always a fine tuesday", owner).is_ok());
    }

    #[test]
    fn the_bundled_list_is_the_ten_thousand() {
        assert!(common().len() > 9_000, "{}", common().len());
        assert!(common().contains("password") && common().contains("123456"));
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn any_string_is_accepted_or_refused_with_a_reason(s in "\\PC{0,40}", name in "\\PC{0,20}") {
            match check_new_password("password", &s, Owner { email: "a@b.gov", name: &name }) {
                Ok(()) => prop_assert!(s.chars().count() >= MIN_CHARS),
                Err(e) => {
                    prop_assert_eq!(e.field, "password");
                    prop_assert!(!e.message.is_empty());
                }
            }
        }
    }
}
