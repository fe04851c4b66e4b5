//! Operations: each checks its input and the caller's permission, calls the store and returns the result.
//! The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use domain::validation::text;
use serde::{Deserialize, Serialize};
use store::auth::ApiToken;

#[derive(Serialize, schemars::JsonSchema)]
pub struct NotificationChoice {
    pub event: &'static str,
    pub label: &'static str,
    pub on: bool,
}

/// Every notification event with whether this person gets it.
pub async fn notification_choices(
    s: &AppState,
    p: &Principal,
) -> Result<Vec<NotificationChoice>, Failure> {
    let off = store::desk::notify::optouts(&s.db, p.user.id).await?;
    Ok(store::desk::notify::Event::ALL
        .into_iter()
        .map(|e| NotificationChoice {
            event: e.as_str(),
            label: e.label(),
            on: !off.contains(&e),
        })
        .collect())
}

/// Saves a person's notification choices; unknown event names are a field error.
pub async fn save_notifications(
    s: &AppState,
    p: &Principal,
    off: &[String],
) -> Result<(), Failure> {
    let mut events = Vec::new();
    let mut errors = Vec::new();
    for (i, name) in off.iter().enumerate() {
        match store::desk::notify::Event::parse(name.trim()) {
            Some(e) => events.push(e),
            None => errors.push(domain::FieldError::new(
                format!("off[{i}]"),
                format!("{name:?} is not a notification event"),
            )),
        }
    }
    if !errors.is_empty() {
        return Err(Failure::Invalid(errors));
    }
    store::desk::notify::set_optouts(&s.db, &p.actor(), p.user.id, &events).await?;
    Ok(())
}

#[derive(Debug, Deserialize, Default, schemars::JsonSchema)]
pub struct RawToken {
    pub name: Option<String>,
}

#[derive(Serialize, schemars::JsonSchema)]
pub struct CreatedToken {
    /// The token itself: shown this once and never again.
    pub token: String,
    #[serde(flatten)]
    pub record: ApiToken,
}

/// Creates a token for the signed-in person.
pub async fn new_token(
    s: &AppState,
    p: &Principal,
    raw: &RawToken,
) -> Result<CreatedToken, Failure> {
    let name = text("name", raw.name.as_deref().unwrap_or(""), 80)
        .map_err(|e| Failure::Invalid(vec![e]))?;
    let (token, record) =
        store::auth::create_token(&s.db, &p.actor(), p.user.id, p.user.org_id, &name).await?;
    Ok(CreatedToken { token, record })
}
