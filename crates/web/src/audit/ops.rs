//! The feature's operations: each checks its input and the caller's permission, calls the store and
//! returns the result. The JSON handlers and the pages both call them.

use crate::AppState;
use crate::auth::Principal;
use crate::error::Failure;
use crate::extract::PageParams;
use serde::Deserialize;
use store::audit;
use store::tenancy::orgs;

#[derive(Debug, Deserialize, Default, Clone, schemars::JsonSchema)]
pub struct AuditQuery {
    /// An organisation's slug.
    pub org: Option<String>,
    pub action: Option<String>,
    pub actor: Option<String>,
    pub entity_id: Option<String>,
    pub limit: Option<u32>,
    pub cursor: Option<String>,
    /// `csv` on the page: download every matching entry.
    pub format: Option<String>,
}

impl AuditQuery {
    /// The store's filter for `p`, whose `scope` reads the log.
    pub async fn filter(
        &self,
        s: &AppState,
        p: &Principal,
        scope: &store::Scope,
    ) -> Result<audit::Filter, Failure> {
        let org = match self.org.as_deref().filter(|o| !o.is_empty()) {
            Some(slug) => Some(orgs::get_by_slug(&s.db, scope, slug).await?.id),
            None => None,
        };
        Ok(audit::Filter {
            org,
            action: self.action.clone(),
            actor: self.actor.clone(),
            entity_id: self.entity_id.clone(),
            // Entries about internal notes only for those who read internal notes.
            internal_notes: p.ticket_view().is_ok_and(|v| v.internal),
        })
    }

    /// The audit log's cursor is its sequence number, not an encoded key.
    pub fn page(&self) -> Result<store::page::PageRequest, Failure> {
        PageParams {
            limit: self.limit,
            cursor: self.cursor.clone(),
        }
        .to_request()
    }
}
