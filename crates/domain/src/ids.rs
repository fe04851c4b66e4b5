//! Typed identifiers. Every id is a UUIDv7 (time-ordered, no coordination between servers), stored as text.

use serde::{Deserialize, Serialize};
use std::fmt;
use std::str::FromStr;
use uuid::Uuid;

macro_rules! typed_id {
    ($($(#[$doc:meta])* $name:ident),* $(,)?) => {$(
        $(#[$doc])*
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
        #[serde(transparent)]
        pub struct $name(pub Uuid);

        impl $name {
            /// A new, time-ordered id.
            pub fn new() -> Self {
                Self(Uuid::now_v7())
            }
        }

        impl Default for $name {
            fn default() -> Self {
                Self::new()
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.fmt(f)
            }
        }

        /// In the API's document: a UUID.
        impl schemars::JsonSchema for $name {
            fn inline_schema() -> bool {
                true
            }

            fn schema_name() -> std::borrow::Cow<'static, str> {
                stringify!($name).into()
            }

            fn json_schema(_: &mut schemars::SchemaGenerator) -> schemars::Schema {
                schemars::json_schema!({ "type": "string", "format": "uuid" })
            }
        }

        impl FromStr for $name {
            type Err = uuid::Error;
            fn from_str(s: &str) -> Result<Self, Self::Err> {
                Uuid::parse_str(s).map(Self)
            }
        }
    )*};
}

typed_id!(
    /// An organisation: the hub or a member.
    OrgId,
    /// A person who can sign in.
    UserId,
    /// A department of an organisation.
    DepartmentId,
    /// A site (building) of an organisation.
    SiteId,
    /// A role grant: one user, one organisation, one role.
    GrantId,
    /// An API token.
    TokenId,
    /// An invitation to join an organisation with a role, sent by email.
    InvitationId,
    /// A service of the hub's catalog.
    ServiceId,
    /// An orderable item of the catalog, with its request form.
    CatalogItemId,
    /// Response and resolution targets per priority.
    SlaPolicyId,
    /// An assignment group of the desk.
    TeamId,
    /// A ticket (people use its region-wide number).
    TicketId,
    /// One entry of a ticket's history: a reply, a note, a change.
    TicketEventId,
    /// A file attached to a ticket.
    AttachmentId,
    /// A priced offering of a service (its prices over time are its rates).
    RateCardId,
    /// One price of a rate card, from a date.
    RateId,
    /// An inter-municipal agreement between the hub and a member.
    AgreementId,
    /// What a member takes under an agreement: a rate card, a quantity, a term.
    SubscriptionId,
    /// A configuration item of the CMDB.
    CiId,
    /// A relationship between two configuration items.
    CiRelationId,
    /// A pool of the regional cloud's capacity (a cluster, its storage and backup).
    PoolId,
);
