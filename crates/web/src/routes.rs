//! The route table: every route of the API and the pages is registered here with its method, its summary
//! and what a caller needs to reach it. The table checks that need before the handler runs, and the
//! OpenAPI document and the isolation test matrix are built from the same list, so a route cannot exist
//! without being guarded, documented and tested for tenancy.

use crate::auth::Principal;
use crate::error::{ApiError, Failure, PageError};
use crate::openapi::{Documented, Signature};
use crate::state::AppState;
use axum::Router;
use axum::extract::{FromRequestParts, Request};
use axum::handler::Handler;
use axum::http::request::Parts;
use axum::response::{IntoResponse, Response};
use axum::routing::{delete, get, patch, post, put};
use domain::authz::{Permission, Scope};
use std::fmt;
use std::future::Future;
use std::marker::PhantomData;
use std::pin::Pin;

/// What a caller needs to reach a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Needs {
    /// Anyone, signed in or not.
    Public,
    /// Any signed-in person.
    SignedIn,
    /// The permission in some organisation; the handler gets the [`Scope`] it reaches as [`Granted`].
    Perm(Permission),
    /// The permission from a grant on the hub (the hub's own records): a member's grant of it is refused.
    Hub(Permission),
}

impl fmt::Display for Needs {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Public => f.write_str("public"),
            Self::SignedIn => f.write_str("signed-in"),
            Self::Perm(p) => f.write_str(p.as_str()),
            Self::Hub(p) => write!(f, "{} (a grant on the hub)", p.as_str()),
        }
    }
}

/// The organisations the caller reaches with the permission its route needs, as the table found it before
/// the handler ran (the region for [`Needs::Hub`]).
#[derive(Debug, Clone)]
pub struct Granted(pub Scope);

impl FromRequestParts<AppState> for Granted {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, _: &AppState) -> Result<Self, Response> {
        parts.extensions.get::<Granted>().cloned().ok_or_else(|| {
            refuse(
                parts.uri.path(),
                Failure::Internal("the route table granted this route no permission".into()),
            )
        })
    }
}

/// A failure as the caller's side expects it: problem JSON under `/api/`, an error page elsewhere.
fn refuse(path: &str, f: Failure) -> Response {
    if path.starts_with("/api/") {
        ApiError(f).into_response()
    } else {
        PageError(f).into_response()
    }
}

/// A handler behind the check of what its route needs.
struct Guard<H, T> {
    needs: Needs,
    handler: H,
    _args: PhantomData<fn() -> T>,
}

impl<H: Clone, T> Clone for Guard<H, T> {
    fn clone(&self) -> Self {
        Self {
            needs: self.needs,
            handler: self.handler.clone(),
            _args: PhantomData,
        }
    }
}

impl<H, T> Handler<(), AppState> for Guard<H, T>
where
    H: Handler<T, AppState>,
    T: 'static,
{
    type Future = Pin<Box<dyn Future<Output = Response> + Send>>;

    fn call(self, req: Request, state: AppState) -> Self::Future {
        Box::pin(async move {
            let (mut parts, body) = req.into_parts();
            let principal = match Principal::from_request_parts(&mut parts, &state).await {
                Ok(p) => p,
                Err(rejection) => return rejection.into_response(),
            };
            let granted = match self.needs {
                Needs::Public | Needs::SignedIn => Ok(None),
                Needs::Perm(perm) => principal.require(perm).map(Some),
                Needs::Hub(perm) => principal.require_region(perm).map(|()| Some(Scope::Region)),
            };
            match granted {
                Ok(Some(scope)) => {
                    parts.extensions.insert(Granted(scope));
                }
                Ok(None) => {}
                Err(f) => return refuse(parts.uri.path(), f),
            }
            self.handler
                .call(Request::from_parts(parts, body), state)
                .await
        })
    }
}

/// What the table knows about one route.
#[derive(Debug, Clone)]
pub struct RouteInfo {
    /// The feature that registers it: its folder in `crates/web/src`.
    pub feature: &'static str,
    pub method: &'static str,
    pub path: &'static str,
    pub summary: &'static str,
    pub needs: Needs,
    /// The schemas of its body and query, read from the handler's signature.
    pub signature: fn(&mut schemars::SchemaGenerator) -> Signature,
}

pub struct Table {
    router: Router<AppState>,
    list: Vec<RouteInfo>,
    /// The feature whose routes are being added.
    feature: &'static str,
}

macro_rules! method {
    ($name:ident, $m:literal, $routing:ident) => {
        pub fn $name<H, T>(
            mut self,
            path: &'static str,
            summary: &'static str,
            needs: Needs,
            handler: H,
        ) -> Self
        where
            H: Handler<T, AppState> + Documented<T>,
            T: 'static,
        {
            let route = match needs {
                Needs::Public => $routing(handler),
                _ => $routing(Guard {
                    needs,
                    handler,
                    _args: PhantomData,
                }),
            };
            self.router = self.router.route(path, route);
            self.list.push(RouteInfo {
                feature: self.feature,
                method: $m,
                path,
                summary,
                needs,
                signature: <H as Documented<T>>::signature,
            });
            self
        }
    };
}
impl Table {
    fn new() -> Self {
        Self {
            router: Router::new(),
            list: Vec::new(),
            feature: "",
        }
    }

    /// Adds `feature`'s part of the table.
    fn feature(mut self, feature: &'static str, routes: fn(Table) -> Table) -> Self {
        self.feature = feature;
        routes(self)
    }

    method!(get, "GET", get);
    method!(post, "POST", post);
    method!(patch, "PATCH", patch);
    method!(delete, "DELETE", delete);
    method!(put, "PUT", put);

    pub fn into_router(self) -> Router<AppState> {
        self.router
    }
}

/// The whole table: every feature adds its part (its JSON API, then its pages).
pub fn table() -> Table {
    Table::new()
        .feature("accounts", crate::accounts::routes)
        .feature("tenancy", crate::tenancy::routes)
        .feature("desk", crate::desk::routes)
        .feature("billing", crate::billing::routes)
        .feature("cmdb", crate::cmdb::routes)
        .feature("cloud", crate::cloud::routes)
        .feature("portfolio", crate::portfolio::routes)
        .feature("architecture", crate::architecture::routes)
        .feature("audit", crate::audit::routes)
}

/// Every registered route: for the OpenAPI document and the isolation matrix.
pub fn registered_routes() -> Vec<RouteInfo> {
    table().list
}
