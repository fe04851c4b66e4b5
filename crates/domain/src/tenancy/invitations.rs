//! Invitations: how a member administrator brings in anyone who is not yet one of its people — through
//! "Add a person" as well as a grant by email. The answer must not depend on whether the address has an
//! account elsewhere, so what can be refused is decided here from the input alone, before anything is
//! looked up.

use super::Email;
use super::drafts::RawUser;
use crate::authz::Role;
use crate::validation::{Collector, FieldError, Invalid, text};
use serde::{Deserialize, Serialize};
use std::fmt;

/// An address and a role to invite, from the "Add a person" form or `POST /api/v1/orgs/{slug}/users`.
#[derive(Debug, Clone)]
pub struct Invitee {
    pub email: Email,
    pub role: Role,
}

/// Reads an invitation from a person's fields. The person chooses their own name and password when they
/// accept, so a password is refused (an administrator who set one would expect it to work); a name, if
/// given, is checked like any name and otherwise not kept.
pub fn parse_invitee(raw: &RawUser, on_hub: bool) -> Result<Invitee, Invalid> {
    let mut c = Collector::new();
    let email = c.take(Email::parse(raw.email.as_deref().unwrap_or("")));
    if let Some(name) = raw.name.as_deref().filter(|n| !n.trim().is_empty()) {
        c.take(text("name", name, 120));
    }
    let role = c.take(
        Role::parse(raw.role.as_deref().unwrap_or(""))
            .and_then(|r| r.check_grantable(on_hub).map(|()| r)),
    );
    if raw.password.as_deref().is_some_and(|p| !p.is_empty()) {
        c.push(FieldError::new(
            "password",
            "is chosen by the person when they accept the invitation; leave it out",
        ));
    }
    c.finish()?;
    match (email, role) {
        (Some(email), Some(role)) => Ok(Invitee { email, role }),
        _ => Err(Invalid::one("email", "is required")),
    }
}

vocabulary!(
    /// Where an invitation stands, as its administrator sees it.
    State, "state" {
        /// Created; its mail has not been attempted yet.
        Queued = "queued" / "Waiting to be mailed",
        /// Mailed; waiting for the person.
        Sent = "sent" / "Sent",
        /// The last attempt to mail it did not go (no mail server, or the server refused): resend it.
        NotSent = "not_sent" / "Not sent",
        Accepted = "accepted" / "Accepted",
        Expired = "expired" / "Expired",
        Revoked = "revoked" / "Revoked",
    }
);

/// What decides an invitation's state (all instants in epoch milliseconds).
#[derive(Debug, Clone, Copy, Default)]
pub struct Facts<'a> {
    pub sent_at: Option<i64>,
    pub send_error: Option<&'a str>,
    pub accepted_at: Option<i64>,
    pub revoked_at: Option<i64>,
    pub expires_at: i64,
}

impl State {
    /// The state at `now`: accepted or revoked for good; else expired when past its end; else how its
    /// mail went (a failed last attempt shows even when an earlier mail went out).
    pub fn of(f: &Facts<'_>, now: i64) -> Self {
        if f.accepted_at.is_some() {
            Self::Accepted
        } else if f.revoked_at.is_some() {
            Self::Revoked
        } else if f.expires_at <= now {
            Self::Expired
        } else if f.send_error.is_some() {
            Self::NotSent
        } else if f.sent_at.is_some() {
            Self::Sent
        } else {
            Self::Queued
        }
    }

    /// Whether it can be mailed again (with a fresh link and a new week to accept): anything not accepted
    /// or revoked.
    pub fn can_resend(self) -> bool {
        !matches!(self, Self::Accepted | Self::Revoked)
    }

    /// Whether it can be withdrawn: anything not accepted or already revoked.
    pub fn can_revoke(self) -> bool {
        !matches!(self, Self::Accepted | Self::Revoked)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(email: &str, role: &str, password: Option<&str>) -> RawUser {
        RawUser {
            email: Some(email.into()),
            name: None,
            role: Some(role.into()),
            password: password.map(Into::into),
        }
    }

    #[test]
    fn an_invitee_needs_an_address_and_a_role_of_the_member_and_no_password() {
        let i = parse_invitee(&raw("Kim@Town.gov", "member-staff", None), false).unwrap();
        assert_eq!(i.email.as_str(), "kim@town.gov");
        assert_eq!(i.role, Role::MemberStaff);
        let err = parse_invitee(
            &raw("kim@town.gov", "member-staff", Some("a-long-pass")),
            false,
        )
        .unwrap_err();
        assert_eq!(err.0[0].field, "password");
        let err = parse_invitee(&raw("nope", "hub-admin", None), false).unwrap_err();
        let fields: Vec<_> = err.0.iter().map(|e| e.field.as_str()).collect();
        assert_eq!(fields, ["email", "role"]);
        let mut with_name = raw("kim@town.gov", "member-staff", Some(""));
        with_name.name = Some("Kim \u{202E}Lee".into());
        assert_eq!(
            parse_invitee(&with_name, false).unwrap_err().0[0].field,
            "name"
        );
        with_name.name = Some("Kim Lee".into());
        assert!(parse_invitee(&with_name, false).is_ok());
    }

    #[test]
    fn the_state_follows_acceptance_revocation_expiry_then_the_mail() {
        let base = Facts {
            expires_at: 100,
            ..Default::default()
        };
        assert_eq!(State::of(&base, 50), State::Queued);
        let sent = Facts {
            sent_at: Some(10),
            ..base
        };
        assert_eq!(State::of(&sent, 50), State::Sent);
        let failed = Facts {
            send_error: Some("no mail server"),
            ..sent
        };
        assert_eq!(State::of(&failed, 50), State::NotSent);
        assert!(State::NotSent.can_resend());
        assert_eq!(State::of(&failed, 100), State::Expired);
        assert!(State::Expired.can_resend());
        let revoked = Facts {
            revoked_at: Some(20),
            ..failed
        };
        assert_eq!(State::of(&revoked, 50), State::Revoked);
        assert!(!State::Revoked.can_resend() && !State::Revoked.can_revoke());
        let accepted = Facts {
            accepted_at: Some(30),
            ..base
        };
        assert_eq!(State::of(&accepted, 500), State::Accepted);
        assert!(!State::Accepted.can_resend() && !State::Accepted.can_revoke());
    }
}
